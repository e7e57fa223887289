/* terragrad/surrogate.h — models terragrad cannot differentiate (legacy Fortran, closed
 * executables) behind a black-box interface, neural surrogates that emulate them, and
 * parameter learning through a frozen surrogate. Included by <terragrad.h>.
 * Formats, sampling design and results: docs/surrogate.md, docs/results_surrogate.md.
 *
 * ============================================================== overview
 * 1. A black box runs a model with a parameter vector (np) and daily forcing (T, nf) and
 *    returns outputs (T, nout), all in double. Three kinds:
 *      - a C function (tg_blackbox_function),
 *      - a shared library exporting the C ABI below (tg_blackbox_library; dlopen),
 *      - an executable that reads an input file and writes an output file
 *        (tg_blackbox_exec; fork/exec in a fresh temp dir, with a timeout).
 *    A run that fails — non-zero return or exit status, crash (signal), timeout,
 *    missing/malformed output, NaN/inf outputs — returns TG_EEXTERNAL with a message
 *    naming the model, the parameter set and the reason. A batch never stops on a
 *    failed sample: it records the reason per sample (TG_BB_*) and goes on.
 * 2. tg_surr_generate draws Latin-hypercube parameter sets, pairs each with a random
 *    (basin, window) of real forcing, runs the black box in parallel and keeps
 *    everything in a tg_surr_data (stored as NetCDF: sample x time x feature).
 * 3. tg_surrogate: an LSTM + linear head mapping [normalised forcing, normalised
 *    parameters] at each day to the emulated output (Q). Trained with Adam on a
 *    tg_surr_data, validated by per-sample NSE against the real model, saved/loaded as
 *    a frozen module (all weights frozen; gradients still flow to its inputs).
 * 4. tg_surr_learn: basin attributes -> MLP -> sigmoid -> parameter ranges (or per-basin
 *    free parameters) -> frozen surrogate -> Q, trained against observed flow; the learned
 *    parameters are then run through the REAL black box (tg_blackbox_eval_basins).
 *
 *     tg_blackbox_options o = {.name = "bucket", .np = 7, .nf = 3, .nout = 4};
 *     tg_blackbox *bb = tg_blackbox_library("build/fortran/libtg_bucket.so", &o);
 *     double out[365 * 4];
 *     if (tg_blackbox_run(bb, 365, forcing, params, out, NULL))
 *         fprintf(stderr, "%s\n", tg_error_message());   // model, params, reason
 *
 * ============================================================== shared-library ABI
 *     int tg_model_run(int T, int nf, const double *forcing,   // (T, nf) row-major
 *                      int np, const double *params,           // (np)
 *                      int nout, double *out);                 // (T, nout) row-major
 * returns 0 on success, non-zero (the model's error code) on failure. It must keep no
 * state between calls; batches call it from several threads at once unless
 * tg_blackbox_options.serial is set. A Fortran model exports it with
 * `bind(C, name="tg_model_run")` and `value` integer arguments (fortran/bucket_capi.f90).
 *
 * ============================================================== executable protocol
 * terragrad makes a temp dir, writes `input.txt` there, runs `EXE input.txt output.txt`
 * with that dir as working directory (stdout/stderr to stdout.txt/stderr.txt), waits at
 * most `timeout` seconds (then kills the process group), reads `output.txt`, and removes
 * the dir. Text, whitespace-separated, numbers with 17 significant digits:
 *     input.txt:   tg_blackbox_input 1        output.txt:  tg_blackbox_output 1
 *                  T nf np nout                            T nout
 *                  p_1 ... p_np                            T lines of nout values
 *                  T lines of nf values
 * Exit status 0 = success; anything else is a failure reported with the last line of
 * stderr.txt.
 */
#ifndef TERRAGRAD_SURROGATE_H
#define TERRAGRAD_SURROGATE_H

#include <stdint.h>

#include "terragrad/core.h"
#include "terragrad/data.h"
#include "terragrad/eval.h"
#include "terragrad/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== black box */
#define TG_BB_RUN_SYMBOL "tg_model_run"
#define TG_BB_MSG_MAX 512          /* per-sample failure message, incl. NUL */
#define TG_BB_MAX_DIM 64           /* np, nf, nout each at most this */

/* The shared-library ABI (see the overview). */
typedef int (*tg_model_run_fn)(int T, int nf, const double *forcing, int np, const double *params,
                               int nout, double *out);
/* The function kind: the same plus user data. Return 0 ok, non-zero = failed run. */
typedef int (*tg_blackbox_fn)(void *ud, int T, int nf, const double *forcing /* (T, nf) */, int np,
                              const double *params /* (np) */, int nout, double *out /* (T, nout) */);

typedef enum tg_bb_kind { TG_BB_FUNCTION = 0, TG_BB_LIBRARY, TG_BB_EXEC } tg_bb_kind;

/* Why a run failed (0 = it did not). */
enum {
    TG_BB_OK = 0,
    TG_BB_RETURN,      /* function / library returned non-zero */
    TG_BB_EXIT,        /* executable exited with a non-zero status */
    TG_BB_SIGNAL,      /* executable killed by a signal (a crash) */
    TG_BB_TIMEOUT,     /* executable ran longer than the timeout (killed) */
    TG_BB_MALFORMED,   /* output file missing, truncated or not numbers */
    TG_BB_NONFINITE,   /* an output value is NaN or infinite */
    TG_BB_SYSTEM,      /* could not run it: temp dir, fork, input file */
    TG_BB_NREASON
};
TG_API const char *tg_bb_reason_name(int reason);   /* "ok", "return", "exit", "signal", ... */

typedef struct tg_blackbox_options {
    const char *name;      /* shown in every message (default: the file name / "function") */
    int np, nf, nout;      /* sizes, checked on every run (1..TG_BB_MAX_DIM) */
    const char *const *param_names; /* (np) or NULL: used in messages */
    double timeout;        /* exec: seconds per run; 0 = 60 */
    int workers;           /* parallel runs in a batch (threads for function/library,
                              processes for exec); 0 = number of online CPUs */
    int serial;            /* 1: the function/library is not reentrant: one run at a time */
    const char *symbol;    /* library: run symbol; NULL = TG_BB_RUN_SYMBOL */
    const char *workdir;   /* exec: parent of the temp dirs; NULL = $TMPDIR or /tmp */
    int keep_failed;       /* exec: keep the temp dir of a failed run (its path is in the
                              message) for inspection */
} tg_blackbox_options;

typedef struct tg_blackbox tg_blackbox;
/* Constructors copy everything they need from opt. NULL on error (message says why:
 * missing file, no such symbol, not executable, bad sizes). */
TG_API tg_blackbox *tg_blackbox_function(tg_blackbox_fn fn, void *ud, const tg_blackbox_options *opt);
TG_API tg_blackbox *tg_blackbox_library(const char *path, const tg_blackbox_options *opt);
TG_API tg_blackbox *tg_blackbox_exec(const char *path, const tg_blackbox_options *opt);
TG_API void tg_blackbox_free(tg_blackbox **bb);    /* dlcloses; sets *bb = NULL */
TG_API const char *tg_blackbox_name(const tg_blackbox *bb);
/* The resolved absolute path of a library or executable ("" for a C function); with
 * the kind (tg_blackbox_kind). Callers print them before the first run: a config
 * that names a black box chooses a program terragrad runs. */
TG_API const char *tg_blackbox_path(const tg_blackbox *bb);
TG_API tg_bb_kind tg_blackbox_kind(const tg_blackbox *bb);
TG_API void tg_blackbox_dims(const tg_blackbox *bb, int *np, int *nf, int *nout);
/* A black-box path from a config: `given`, or for "auto" the Fortran bucket model built
 * next to the running binary (<bindir>/fortran/libtg_bucket.so for kind "library",
 * <bindir>/fortran/bucket_model otherwise) into buf (size). key names the config key in
 * messages. Returns 0 or TG_EINVAL / TG_EIO. */
TG_API int tg_blackbox_resolve_path(const char *key, const char *kind, const char *given, char *buf,
                                    size_t size);

/* One run. Returns 0, TG_EINVAL (bad arguments) or TG_EEXTERNAL (the model failed;
 * *reason, if given, gets the TG_BB_* code; out is then all NaN). Thread-safe for the
 * function/library kinds unless serial; the exec kind is always safe (own temp dir). */
TG_API int tg_blackbox_run(tg_blackbox *bb, int T, const double *forcing /* (T, nf) */,
                           const double *params /* (np) */, double *out /* (T, nout) */, int *reason);

/* N runs in parallel (OpenMP threads, or up to `workers` child processes for exec).
 * Sample i uses forcing + i * forcing_stride (forcing_stride = T * nf for per-sample
 * forcing (N, T, nf), 0 for one forcing shared by all) and params + i * np. Failed samples
 * get NaN outputs, reason[i] != 0 and (if message != NULL) message[i]; the batch goes on.
 * Returns 0 even when samples failed (*n_failed says how many; the thread's error message
 * then holds the first failure), TG_EINVAL / TG_ENOMEM for the batch as a whole. Results
 * do not depend on the number of workers. */
TG_API int tg_blackbox_run_batch(tg_blackbox *bb, int N, int T, const double *forcing,
                                 size_t forcing_stride, const double *params /* (N, np) */,
                                 double *out /* (N, T, nout) */, int *reason /* (N) or NULL */,
                                 char (*message)[TG_BB_MSG_MAX] /* (N) or NULL */, int *n_failed);

/* ===================================================================== sampling */
/* Latin hypercube in [0, 1)^P: for every column, the N strata [k/N, (k+1)/N) are each hit
 * exactly once (a seeded random permutation per column, a uniform point in each stratum). */
TG_API int tg_lhs(tg_rng *rng, int N, int P, double *u /* (N, P) */);
/* x = lo + u (hi - lo), column-wise. */
TG_API void tg_lhs_scale(const double *u /* (N, P) */, int N, int P, const double *lo,
                         const double *hi, double *x /* (N, P) */);

/* ===================================================================== training sets */
typedef struct tg_surr_design {
    int n_samples;             /* N parameter sets (one window each) */
    int window;                /* T days per sample */
    int first, last;           /* windows lie in days first..last (day numbers, inclusive);
                                  first > last = each basin's whole record */
    uint64_t seed;             /* LHS and window draws */
    const double *lo, *hi;     /* (np) parameter ranges */
    const char *const *param_names;  /* (np) or NULL ("p0", "p1", ...) */
    const int *forcing_vars;   /* (nf) TG_VAR_* fed to the model; NULL = P, T, PET */
} tg_surr_design;

typedef struct tg_surr_data {
    int N, T, nf, np, nout;
    double *params;            /* (N, np) physical units */
    double *forcing;           /* (N, T, nf) */
    double *out;               /* (N, T, nout); NaN for failed samples */
    int *status;               /* (N) TG_BB_* (0 = ok) */
    int *start;                /* (N) day number of each window's first day */
    char (*basin)[TG_ID_MAX];  /* (N) basin of each window */
    double *lo, *hi;           /* (np) the sampled ranges */
    char (*param_name)[TG_NAME_MAX];   /* (np) */
    char (*forcing_name)[TG_NAME_MAX]; /* (nf) */
    char model[128];           /* black-box name */
    uint64_t seed;
    int n_failed;
    double seconds;            /* wall time of the black-box runs */
} tg_surr_data;

/* Draws the design over `basins` (uniformly random basin, uniformly random window inside
 * [first, last] with no missing forcing), runs the black box in one batch and fills *out
 * (library-allocated: tg_surr_data_free). Failed samples stay in the set, marked. */
TG_API int tg_surr_generate(tg_blackbox *bb, const tg_basin *basins, int B, const tg_surr_design *d,
                            tg_surr_data *out);
/* NetCDF: dims sample, time, forcing, param, output, id_len; variables params(sample,
 * param), forcing(sample, time, forcing), output(sample, time, output), status(sample),
 * start(sample), basin_id(sample, id_len), param_lower/param_upper(param); names as
 * attributes. Written to a temp file and renamed. */
TG_API int tg_surr_data_write(const char *path, const tg_surr_data *d);
TG_API int tg_surr_data_read(const char *path, tg_surr_data *d);
TG_API void tg_surr_data_free(tg_surr_data *d);

/* ===================================================================== surrogate */
typedef struct tg_surrogate_config {
    int hidden;                /* LSTM width H; 0 = 64 */
    int target;                /* emulated model output (column of tg_surr_data.out); 0 = Q */
    int epochs;                /* 0 = 30 */
    int batch;                 /* samples per minibatch; 0 = 64 */
    double lr;                 /* Adam; 0 = 3e-3, cosine-decayed to lr / 20 */
    double clip;               /* gradient norm clip; 0 = 1, < 0 = off */
    uint64_t seed;             /* initialisation and minibatch order */
    int no_params;             /* ablation: the network does not see the parameters */
    int exp_output;            /* 1: output = y_scale * exp(head) (positive, easy to span orders
                                  of magnitude); 0 (default): output = y_scale * head */
    int mse;                   /* 1: plain MSE on the scaled output; 0 (default): each sample's
                                  squared errors divided by its own variance (+ 0.01), i.e. the
                                  per-sample NSE the surrogate is judged by */
    int valid_every;           /* score the validation set every k epochs and after the last;
                                  0 = 1 */
    /* Called after every epoch (may be NULL): mean training loss and, if a validation set
     * was given and scored this epoch, the median per-sample NSE on it (else NaN). */
    void (*progress)(void *ud, int epoch, double loss, double valid_median_nse, double seconds);
    void *progress_ud;
} tg_surrogate_config;

typedef struct tg_surrogate tg_surrogate;
/* A new surrogate for data shaped like `train` (sizes, parameter ranges, forcing and
 * output normalisation taken from it), weights initialised from cfg->seed. */
TG_API tg_surrogate *tg_surrogate_create(const tg_surr_data *train, const tg_surrogate_config *cfg);
TG_API void tg_surrogate_free(tg_surrogate **s);
/* Trains on the ok samples of train (Adam; loss over the whole window, see cfg->mse);
 * valid (may be NULL) is scored after each epoch. */
TG_API int tg_surrogate_fit(tg_surrogate *s, const tg_surr_data *train, const tg_surr_data *valid,
                            const tg_surrogate_config *cfg);
/* NSE of surrogate against model output for each sample of d (NaN for failed samples or
 * constant output); *median (may be NULL) over the finite ones. nse may be NULL. */
TG_API int tg_surrogate_evaluate(const tg_surrogate *s, const tg_surr_data *d, double *nse /* (N) */,
                                 double *median);
/* Host-side prediction (no tape): forcing (T, B, nf) physical, params (B, np) physical ->
 * y (T, B) emulated output in model units. */
TG_API int tg_surrogate_predict(const tg_surrogate *s, int T, int B, const double *forcing,
                                const double *params, double *y);
/* On the tape: forcing (T, B, nf) physical units (no gradient needed), u (B, np) parameters
 * scaled to [0, 1] over the ranges (gradient flows to u) -> (T, B) output in model units.
 * The weights are frozen after tg_surrogate_load / tg_surrogate_freeze. */
TG_API tg_tensor *tg_surrogate_forward(tg_ctx *ctx, const tg_surrogate *s, tg_tensor *forcing,
                                       tg_tensor *u);
TG_API void tg_surrogate_freeze(tg_surrogate *s, int frozen);
/* path: checkpoint (tg_checkpoint_save) of the weights; path + ".meta": text with the
 * architecture, ranges and normalisation. load returns a FROZEN surrogate. */
TG_API int tg_surrogate_save(const tg_surrogate *s, const char *path);
TG_API tg_surrogate *tg_surrogate_load(const char *path);
/* Sizes and ranges: np, nf, window length the surrogate was trained on, hidden width. */
TG_API void tg_surrogate_dims(const tg_surrogate *s, int *np, int *nf, int *window, int *hidden);
TG_API const double *tg_surrogate_lower(const tg_surrogate *s);   /* (np) */
TG_API const double *tg_surrogate_upper(const tg_surrogate *s);   /* (np) */
TG_API const char *tg_surrogate_param_name(const tg_surrogate *s, int k);
TG_API tg_params *tg_surrogate_params(tg_surrogate *s);

/* ===================================================================== learning through it */
enum { TG_LEARN_MLP = 0,       /* attributes -> MLP -> sigmoid -> ranges (regionalised) */
       TG_LEARN_PER_BASIN };   /* one free logit vector per basin -> sigmoid -> ranges */
typedef struct tg_surr_learn_config {
    int mode;                  /* TG_LEARN_MLP or TG_LEARN_PER_BASIN */
    int hidden;                /* MLP width; 0 = 64 */
    int layers;                /* MLP hidden layers; 0 = 2 */
    int epochs;                /* 0 = 20 */
    int iterations;            /* minibatches per epoch; 0 = 50 */
    int batch;                 /* (basin, window) pairs per minibatch; 0 = 32 */
    double lr;                 /* Adam; 0 = 1e-2 (MLP) / 5e-2 (per basin) */
    int warmup;                /* days at the start of each window without loss; 0 = T / 3 */
    uint64_t seed;
    void (*progress)(void *ud, int epoch, double loss, double seconds);
    void *progress_ud;
} tg_surr_learn_config;

/* Trains the parameter network through the frozen surrogate on windows (of the
 * surrogate's length) inside days first..last, loss = mean over windows of the NSE*-style
 * normalised squared error sum (sim - obs)^2 / (sd_b + 0.1)^2 (sd_b: basin's std of Q in
 * the period), missing obs skipped. attr (B, A) standardised attributes (MLP mode; may be
 * NULL with A = 0 in per-basin mode). Writes the learned parameters (B, np) in physical
 * units. */
TG_API int tg_surr_learn(const tg_surrogate *s, const tg_basin *basins, int B, const tg_real *attr,
                         int A, int first, int last, const tg_surr_learn_config *cfg,
                         double *params /* (B, np) */);
/* Standardises each column of x (B, A) in place to mean 0, sd 1 over the finite values;
 * NaN -> 0 (the mean). Constant columns become 0. */
TG_API void tg_surr_standardise(tg_real *x, int B, int A);

/* Runs the REAL black box for every basin over days run_first..score_last with params
 * (B, np) and scores Q (output 0) against observed Q on score_first..score_last. m[b].n = 0
 * and status[b] = TG_BB_* for a basin whose run failed. Parallel over basins. */
TG_API int tg_blackbox_eval_basins(tg_blackbox *bb, const tg_basin *basins, int B,
                                   const double *params /* (B, np) */, int run_first, int score_first,
                                   int score_last, tg_metrics *m /* (B) */, int *status /* (B) or NULL */,
                                   double *q_sim /* (B, score_last - score_first + 1) or NULL */);

/* Per-basin SCE-UA calibration of the black box (minimising 1 - NSE of output 0 against
 * observed Q on score_first..score_last, the model started at run_first) within lo..hi.
 * Uses tg_sceua_minimize (calibrate.h); max_evals per basin. OpenMP over basins for the
 * function/library kinds. params (B, np) gets the best point; obj (B) 1 - NSE; evals (B) or
 * NULL the model runs used. */
TG_API int tg_blackbox_calibrate_basins(tg_blackbox *bb, const tg_basin *basins, int B, const double *lo,
                                        const double *hi, int run_first, int score_first, int score_last,
                                        long max_evals, uint64_t seed, double *params /* (B, np) */,
                                        double *obj /* (B) */, long *evals /* (B) or NULL */);

/* A `terragrad train` run with model.type: surrogate (src/train/model_surrogate.c): reloads
 * the run in run_dir, writes the learned parameters per basin
 * (<run>/surrogate_params_<period>.csv) and the surrogate's metrics on the period, and —
 * when the config names the real model (surrogate.blackbox) — runs the parameters through
 * it and writes its metrics next to the surrogate's (<run>/surrogate_metrics_<period>.csv).
 * period: train, valid or test. `terragrad surrogate eval RUN_DIR` calls it. */
TG_API int tg_surrogate_train_eval(const char *run_dir, const char *period);

#ifdef __cplusplus
}
#endif
#endif
