/* terragrad/calibrate.h — per-basin calibration of process models: the SCE-UA global
 * optimiser (generic, gradient-free) and HBV calibration by SCE-UA or by Adam on
 * gradients from the hand-written backward; `terragrad calibrate`.
 * Included by <terragrad.h>. Algorithms, options and defaults: docs/calibration.md.
 *
 * ============================================================== overview
 * SCE-UA (Duan, Sorooshian & Gupta 1992, 1994) minimises any function of n bounded
 * variables. The callback returns 0 (ok), > 0 (this point is infeasible: treated as
 * +inf) or < 0 (fatal: the search stops with TG_EEXTERNAL); a NaN value counts as +inf.
 *
 *     static int rosen(void *ud, const double *x, double *f)
 *     { *f = 100 * pow(x[1] - x[0] * x[0], 2) + pow(1 - x[0], 2); return 0; }
 *     ...
 *     double lo[2] = {-2, -2}, hi[2] = {2, 2}, x[2], fx;
 *     tg_sceua_options o;  tg_sceua_options_init(&o);  o.seed = 7;
 *     tg_sceua_stats st;
 *     if (tg_sceua_minimize(rosen, NULL, 2, lo, hi, &o, x, &fx, &st)) error...
 *
 * The batch form hands the callback several points at once (all complexes evolve in
 * lockstep): the HBV objective runs them as parallel lanes of one vectorised model run.
 * Both forms give the same result for the same seed: every complex draws from its own
 * random stream, and complexes are independent between shuffles.
 *
 * HBV calibration fits the 13 HBV parameters of one component (M = 1) within
 * tg_hbv_param_range, and optionally the gamma routing (a in [0.1, 3], theta in [0.5, 7]
 * days), to observed flow after a warm-up; tg_hbv_calibrate_basins does it for many
 * basins in parallel (OpenMP over basins, per-basin seeds: results do not depend on the
 * thread count).
 */
#ifndef TERRAGRAD_CALIBRATE_H
#define TERRAGRAD_CALIBRATE_H

#include <stdint.h>

#include "terragrad/core.h"
#include "terragrad/data.h"
#include "terragrad/eval.h"
#include "terragrad/models.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== SCE-UA */
/* One point x (n) -> *f. 0 ok, > 0 infeasible (+inf), < 0 fatal. */
typedef int (*tg_sceua_fn)(void *ud, const double *x, double *f);
/* k points x (k, n) -> f (k). Same return convention (> 0: all k infeasible). */
typedef int (*tg_sceua_batch_fn)(void *ud, int k, const double *x, double *f);

typedef struct tg_sceua_options {
    int ngs;          /* complexes p >= 1; 0 = 2 */
    int npg;          /* points per complex m >= 2; 0 = 2n + 1 */
    int nps;          /* points per simplex q in [2, m]; 0 = n + 1 */
    int nspl;         /* evolution steps of each complex between shuffles; 0 = m */
    int mings;        /* complex reduction: drop one complex per loop down to mings; 0 = ngs */
    long max_evals;   /* budget of function evaluations (never exceeded); 0 = 10000 */
    int kstop;        /* loops over which the best value must improve; 0 = 10 */
    double pcento;    /* stop when the best value changed by less than this fraction
                         over kstop loops; 0 = 1e-3, < 0 = criterion off */
    double peps;      /* stop when the population's normalised geometric range
                         exp(mean_i log((max_i - min_i) / (hi_i - lo_i))) < peps;
                         0 = 1e-3, < 0 = criterion off */
    uint64_t seed;    /* tg_rng seed */
    const double *x0; /* (n) or NULL: a start point included in the initial population */
} tg_sceua_options;

enum { TG_SCEUA_STOP_EVALS = 1, TG_SCEUA_STOP_PARAMS, TG_SCEUA_STOP_OBJECTIVE };
typedef struct tg_sceua_stats {
    long evals;      /* function evaluations */
    int loops;       /* shuffling loops */
    int stop;        /* TG_SCEUA_STOP_* */
    double gnrng;    /* final normalised geometric range of the population */
    double change;   /* final relative change of the best value over kstop loops (NaN if
                        fewer loops) */
    int ngs;         /* complexes at the end (after reduction) */
} tg_sceua_stats;

TG_API void tg_sceua_options_init(tg_sceua_options *o);   /* all zero = defaults */
TG_API const char *tg_sceua_stop_name(int stop);           /* "max_evals", ... */
/* Minimises f over lo <= x <= hi (lo[i] == hi[i] fixes x[i]). Writes the best point
 * x_best (n), its value *f_best and stats (may be NULL). Returns 0, TG_EINVAL (bad
 * sizes/bounds/options, message names the field), TG_ENOMEM, TG_EEXTERNAL. */
TG_API int tg_sceua_minimize(tg_sceua_fn f, void *ud, int n, const double *lo, const double *hi,
                             const tg_sceua_options *opt, double *x_best, double *f_best,
                             tg_sceua_stats *stats);
TG_API int tg_sceua_minimize_batch(tg_sceua_batch_fn f, void *ud, int n, const double *lo,
                                   const double *hi, const tg_sceua_options *opt, double *x_best,
                                   double *f_best, tg_sceua_stats *stats);

/* ===================================================================== HBV calibration */
enum { TG_CALIB_NSE = 0,  /* minimise 1 - NSE */
       TG_CALIB_KGE,      /* minimise 1 - KGE (Gupta et al. 2009) */
       TG_CALIB_RMSE };   /* minimise RMSE (mm/d) */
enum { TG_CALIB_SCEUA = 0, TG_CALIB_ADAM };
#define TG_CALIB_NVAR (TG_HBV_NPARAM + 2)   /* 13 HBV + routing a, theta */
TG_API extern const double tg_route_range[2][2];   /* a [0.1, 3], theta [0.5, 7] */

typedef struct tg_calib_options {
    int method;        /* TG_CALIB_SCEUA (default) or TG_CALIB_ADAM */
    int objective;     /* TG_CALIB_NSE (default), KGE, RMSE (Adam: NSE or RMSE) */
    int routing;       /* 1: also calibrate the gamma unit hydrograph (a, theta) */
    int warmup;        /* W days that initialise the stores; default 365 */
    long max_evals;    /* SCE-UA: objective evaluations; Adam: gradient evaluations over all
                          restarts. 0 = 5000 (SCE-UA) / 2000 (Adam) */
    uint64_t seed;     /* base seed; each basin mixes in its id */
    tg_sceua_options sce;  /* ngs, npg, ...; max_evals and seed are taken from above.
                              tg_calib_options_init sets ngs = 4 */
    int restarts;      /* Adam: independent starts run side by side as lanes of one model
                          run (the first from the middle of the ranges, the rest random);
                          0 = 8 */
    double lr;         /* Adam learning rate on the logit scale; 0 = 0.2 */
    const double *lo, *hi; /* (13, or 15 with routing) narrower bounds in physical units, or
                              NULL for tg_hbv_param_range / tg_route_range; lo == hi fixes
                              a parameter */
} tg_calib_options;
TG_API void tg_calib_options_init(tg_calib_options *o);
TG_API const char *tg_calib_objective_name(int objective);   /* "nse", "kge", "rmse" */
TG_API int tg_calib_objective_parse(const char *s, int *objective);
TG_API const char *tg_calib_method_name(int method);         /* "sceua", "adam" */
TG_API int tg_calib_method_parse(const char *s, int *method);

/* The minimised objective of sim against obs on n days (NaN obs skipped, double sums):
 * 1 - NSE, 1 - KGE or RMSE; +inf when undefined (no observed day, constant obs, NaN sim). */
TG_API double tg_calib_objective_value(int objective, const tg_real *obs /* (n) */,
                                       const tg_real *sim /* (n) */, int n);

typedef struct tg_calib_fit {
    double params[TG_HBV_NPARAM];  /* physical units, order of enum tg_hbv_param */
    double a, theta;               /* routing (NaN when not calibrated) */
    double objective;              /* best value of the minimised objective */
    long evals;                    /* objective (SCE-UA) or gradient (Adam) evaluations */
    int stop;                      /* SCE-UA: TG_SCEUA_STOP_*; Adam: 0 */
} tg_calib_fit;

/* One basin: forcing (T, 3) P, T, PET (no NaN); obs (T) observed Q, NaN = missing; the
 * first opt->warmup days initialise the stores, the objective is scored on days [W, T).
 * Routing (if any) runs over the days after the warm-up with zero runoff before them,
 * exactly as `terragrad simulate`. seed: the stream of this basin. */
TG_API int tg_hbv_calibrate(tg_calib_fit *fit, const tg_real *forcing, const tg_real *obs, int T,
                            const tg_calib_options *opt, uint64_t seed);
/* Routed (or unrouted: a = NaN) simulated Q (T - W) of one component with params (NPARAM). */
TG_API int tg_hbv_calib_simulate(tg_real *q, const tg_real *forcing, int T, int W,
                                 const double *params, double a, double theta);

/* ===================================================================== many basins */
typedef struct tg_calib_result {
    char basin[TG_ID_MAX];
    int status;                 /* 0 ok; else a TG_E* code and `error` says why */
    char error[256];
    tg_calib_fit fit;
    tg_metrics train, test;     /* on the scored days of each period (test: n = 0 if none) */
    int train_first, test_first;/* first scored day (day numbers) */
    int train_last, test_last;
    double seconds;             /* wall time of this basin */
} tg_calib_result;

/* Called after each basin (inside a critical section: keep it short). */
typedef void (*tg_calib_progress_fn)(void *ud, int done, int total, const tg_calib_result *r);

/* Calibrates every basin on [train_first, train_last] and scores it there and on
 * [test_first, test_last] (day numbers, inclusive; test_first > test_last = no test).
 * Warm-up of each period: the W days before its start when the record has them, else
 * the first W days of the period (then scoring starts W days later). Periods are clipped
 * to each basin's record. Basins need P, T, PET and Q. A basin that cannot be calibrated
 * (too short, gaps in forcing, no observed flow) gets status != 0 and the others go on;
 * the call returns 0 unless memory runs out. Seeds: opt->seed mixed with the basin id. */
TG_API int tg_hbv_calibrate_basins(tg_calib_result *res /* (B) */, const tg_basin *basins, int B,
                                   int train_first, int train_last, int test_first, int test_last,
                                   const tg_calib_options *opt, tg_calib_progress_fn progress,
                                   void *ud);

#ifdef __cplusplus
}
#endif
#endif
