/* terragrad/eval.h — hydrological skill metrics of simulated against observed streamflow.
 * Included by <terragrad.h>. Formulas, conventions and references: docs/metrics.md.
 *
 * Inputs are plain arrays of double, obs and sim, of length n (one value per day, in time
 * order, no gaps implied by the index). A day whose obs OR sim is not finite (NaN = missing)
 * is skipped pairwise; days with valid obs but a missing sim are counted in n_sim_missing so a
 * caller can flag model failures. Metrics that are undefined for the data (zero variance,
 * zero sums, too few days for a 2 % flow class, no peaks) come out NaN, never a crash.
 *
 *     tg_metrics m;
 *     int st = tg_metrics_compute(obs, sim, T, &m);    // st != 0: see tg_error_message()
 *     for (int k = 0; k < TG_METRIC_COUNT; k++)
 *         printf("%s=%g\n", tg_metric_names[k], tg_metric_get(&m, k));
 */
#ifndef TERRAGRAD_EVAL_H
#define TERRAGRAD_EVAL_H

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flow classes and peak search, as in neuralhydrology (Kratzert et al. 2019, 2021). */
#define TG_METRIC_HIGH_FRAC 0.02   /* FHV, RMSE_high: top 2 % of flows */
#define TG_METRIC_LOW_FRAC 0.3     /* FLV_*, RMSE_low: lowest 30 % of flows */
#define TG_METRIC_FLV_EPS 1e-6     /* FLV_log, FMS: flows <= 0 are set to this before the log */
#define TG_METRIC_FMS_LOWER 0.2    /* FMS: mid segment of the FDC from 20 % exceedance ... */
#define TG_METRIC_FMS_UPPER 0.7    /* ... to 70 % exceedance (Yilmaz et al. 2008) */
#define TG_PEAK_WINDOW 3           /* peak timing: sim peak searched within +-3 days */
#define TG_PEAK_DISTANCE 100       /* observed peaks at least 100 days apart */

/* Column order of CSV output; tg_metric_names[k] is the header of column k. */
enum {
    TG_M_NSE, TG_M_KGE, TG_M_KGE_PRIME, TG_M_R, TG_M_ALPHA, TG_M_BETA, TG_M_GAMMA,
    TG_M_RMSE, TG_M_BIAS, TG_M_PBIAS, TG_M_FHV, TG_M_FLV_PBIAS, TG_M_FLV_LOG,
    TG_M_RMSE_LOW, TG_M_RMSE_HIGH, TG_M_PEAK_TIMING,
    TG_M_BETA_NSE, TG_M_FMS, /* appended: existing column indices are unchanged */
    TG_METRIC_COUNT
};
TG_API extern const char *const tg_metric_names[TG_METRIC_COUNT];
/* printf format of metric values in tables: they are doubles whatever tg_real is, and a table
 * must round-trip them exactly (strtod of the text gives the same double). */
#define TG_METRIC_FMT "%.17g"

typedef struct tg_metrics {
    double nse;         /* Nash-Sutcliffe efficiency */
    double kge;         /* Kling-Gupta efficiency, Gupta et al. 2009 (r, alpha, beta) */
    double kge_prime;   /* KGE', Kling et al. 2012 (r, gamma, beta) */
    double r;           /* Pearson correlation */
    double alpha;       /* sd(sim) / sd(obs) */
    double beta;        /* mean(sim) / mean(obs); column "beta_ratio" */
    double gamma;       /* CV(sim) / CV(obs) */
    double rmse;        /* root mean squared error (flow units) */
    double bias;        /* mean(sim) - mean(obs) (flow units) */
    double pbias;       /* 100 * (sum sim - sum obs) / sum obs */
    double fhv;         /* % bias of the top 2 % of flows (FDC, sorted separately) */
    double flv_pbias;   /* % bias of the lowest 30 % of flows (FDC, sorted separately) */
    double flv_log;     /* Yilmaz et al. 2008 log-space low-flow volume bias, % */
    double rmse_low;    /* RMSE on the days of the lowest 30 % of obs */
    double rmse_high;   /* RMSE on the days of the top 2 % of obs */
    double peak_timing; /* mean |lag| (days) of sim peaks around observed peaks */
    int n;              /* days used (obs and sim both finite) */
    int n_sim_missing;  /* days with finite obs but non-finite sim (skipped) */
    int n_peaks;        /* observed peaks that entered peak_timing */
    /* appended after the counts so the layout of the fields above is unchanged */
    double beta_nse;    /* (mean(sim) - mean(obs)) / sd(obs), neuralhydrology's Beta-NSE */
    double fms;         /* % bias of the FDC mid-segment slope in log space (Yilmaz 2008) */
} tg_metrics;

/* Fills *m from obs, sim (n days). Returns 0, or TG_EINVAL with *m filled as far as defined:
 * n == 0 or no valid pair (all metrics NaN); constant obs (NSE, r, alpha, gamma, KGE, KGE',
 * peak_timing NaN; RMSE, bias, ... still computed); n < 0. TG_ENOMEM if scratch fails. */
TG_API int tg_metrics_compute(const double *obs /* (n) */, const double *sim /* (n) */, int n,
                              tg_metrics *m);
/* Nash-Sutcliffe efficiency 1 - sum (sim - obs)^2 / sum (obs - mean obs)^2 of n days, the
 * one NSE of the library (tg_metrics_compute's nse, surrogate validation and fidelity).
 * Missing data: a day whose obs OR sim is not finite is skipped (pairwise), as in
 * tg_metrics_compute; NaN when no day is left or obs is constant over the days left.
 * Strides (>= 1) step through interleaved arrays: day t is obs[t * obs_stride]. */
TG_API double tg_nse(const double *obs, const double *sim, int n, size_t obs_stride, size_t sim_stride);
/* Median of the finite values of x (n); NaN if none (or scratch fails). */
TG_API double tg_median_finite(const double *x, int n);
TG_API double tg_metric_get(const tg_metrics *m, int k); /* k in [0, TG_METRIC_COUNT) */
TG_API void tg_metric_set(tg_metrics *m, int k, double value);
TG_API void tg_metrics_set_nan(tg_metrics *m);           /* all metrics NaN, counts 0 */

/* Peaks of x (n), as scipy.signal.find_peaks(x, distance, prominence): local maxima (a flat
 * top counts once, at its middle), thinned to >= distance apart keeping the higher (the
 * earlier on ties), then kept if prominence >= min_prominence. Writes ascending indices to
 * peaks (room for n/2 + 1) and returns their count, or -1 (TG_ENOMEM/TG_EINVAL set). */
TG_API int tg_find_peaks(const double *x /* (n) */, int n, int distance, double min_prominence,
                         int *peaks);
/* Mean absolute peak timing error (days) with an explicit window and peak distance; the
 * prominence threshold is the (population) standard deviation of the valid obs. *timing gets
 * NaN when no observed peak qualifies; *npeaks (may be NULL) gets how many did. Returns 0,
 * TG_EINVAL (window or distance < 1, n < 0) or TG_ENOMEM. */
TG_API int tg_peak_timing(const double *obs /* (n) */, const double *sim /* (n) */, int n,
                          int window, int distance, double *timing, int *npeaks);

/* Extremes beyond the training record (extremes.c, docs/metrics.md "Extremes"). */
typedef struct tg_extremes_options {
    int distance;       /* observed peaks at least this many days apart (7) */
    int peak_window;    /* the simulated peak: max of sim within +-peak_window days (1) */
    int event_before, event_after; /* event volume over [peak - before, peak + after] days (3, 7) */
    double low_frac;    /* dry years: the lowest fraction of the year's observed days (0.3) */
    int min_year_days;  /* a year with fewer observed days has no annual mean (330) */
} tg_extremes_options;
TG_API void tg_extremes_defaults(tg_extremes_options *o);
enum { TG_EXTREME_PEAK = 0, TG_EXTREME_DRY_YEAR = 1 };
typedef struct tg_extreme {
    int kind;           /* TG_EXTREME_PEAK or TG_EXTREME_DRY_YEAR */
    int day;            /* peak: index of the observed peak in obs; dry year: the calendar year */
    int record;         /* 1: beyond the training record; 0: the driest year, not a record */
    double obs, sim;    /* peak: observed and simulated peak; dry year: their annual means */
    double peak_error;  /* (sim peak - obs peak) / obs peak */
    double timing;      /* days from the observed to the simulated peak (negative: early) */
    double volume_error;/* (sum sim - sum obs) / sum obs over the event window */
    double low_flow_error; /* dry year: (mean sim - mean obs) / mean obs on the days of the year's
                            * lowest low_frac observed flows */
} tg_extreme;
/* Floods (independent observed peaks above the maximum of obs_train) and dry years
 * (calendar years whose mean observed flow is below the lowest of obs_train's years, or the
 * driest year with record = 0 if none is) of obs/sim (n days from day number first);
 * obs_train (n_train days from day number train_first). NaN = missing. Writes up to max to
 * out (peaks in time order, then years) and returns how many there are, or -1 (TG_EINVAL,
 * TG_ENOMEM set). opt NULL: tg_extremes_defaults. */
TG_API int tg_extremes_find(const double *obs_train, int n_train, int train_first, const double *obs,
                            const double *sim, int n, int first, const tg_extremes_options *opt, tg_extreme *out,
                            int max);

/* Median and mean of each metric over B basins, using only basins with m[b].n >= min_n and a
 * finite value of that metric. count[k] (may be NULL; TG_METRIC_COUNT entries) gets how many
 * basins entered metric k; a metric with none is NaN. In the outputs, n = number of basins
 * with m[b].n >= min_n, n_sim_missing and n_peaks are sums over them. Returns 0 or TG_ENOMEM. */
TG_API int tg_metrics_summary(const tg_metrics *m /* (B) */, int B, int min_n,
                              tg_metrics *median, tg_metrics *mean, int *count);

#ifdef __cplusplus
}
#endif
#endif
