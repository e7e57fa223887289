/* calib_basins.c — calibrate HBV on many basins: one independent calibration per basin,
 * parallel over basins with OpenMP (dynamic schedule: basins differ in cost only through
 * early stopping). Each basin's seed comes from the base seed and its id, so results do
 * not depend on the thread count or on the order of the basin list. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate/calib_internal.h"

/* FNV-1a of the id, then splitmix-style mixing with the base seed. */
static uint64_t basin_seed(uint64_t seed, const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *c = (const unsigned char *)id; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (h | 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A model run over one period: days [s0, s0 + T) of the basin (indices into its arrays),
 * the first W of them warm-up. */
typedef struct window {
    int s0, T, W;
    int first, last;   /* scored day numbers */
    tg_real *forcing;  /* (T, 3) */
    tg_real *obs;      /* (T) */
} window;

/* Places the period [first, last] (clipped to the record) with its warm-up: the W days
 * before `first` if the record has them, else the first W days of the period. Returns 0
 * and T = 0 when the period does not overlap the record. */
static int window_make(window *w, const tg_basin *b, int first, int last, int W, const char *what)
{
    memset(w, 0, sizeof *w);
    int rec_last = b->start + b->T - 1;
    if (first < b->start)
        first = b->start;
    if (last > rec_last)
        last = rec_last;
    if (first > last)
        return 0;
    int s = first - W >= b->start ? first - W : first;
    w->s0 = s - b->start;
    w->T = last - s + 1;
    w->W = W;
    w->first = s + W;
    w->last = last;
    if (w->T <= W + 1)
        return tg_error_set(TG_EINVAL, "%s period %d days: too short for a %d-day warm-up", what, w->T, W);
    w->forcing = tg_mem_alloc((size_t)w->T * 3 * sizeof(tg_real));
    w->obs = tg_mem_alloc((size_t)w->T * sizeof(tg_real));
    if (!w->forcing || !w->obs)
        return tg_error_set(TG_ENOMEM, "out of memory for %d days", w->T);
    const int vars[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    for (int t = 0; t < w->T; t++) {
        for (int k = 0; k < 3; k++) {
            tg_real v = b->var[vars[k]][w->s0 + t];
            if (!isfinite(v)) {
                char date[11];
                return tg_error_set(TG_EINVAL, "%s period: %s missing on %s (HBV needs complete forcing)", what,
                                    tg_var_name(vars[k]), tg_date_format(b->start + w->s0 + t, date));
            }
            w->forcing[(size_t)t * 3 + (size_t)k] = v;
        }
        w->obs[t] = b->var[TG_VAR_Q][w->s0 + t];
    }
    return 0;
}

static void window_free(window *w)
{
    tg_mem_free(w->forcing);
    tg_mem_free(w->obs);
}

/* Metrics of the fitted model on a window's scored days (n = 0 when the window is empty). */
static int window_score(const window *w, const tg_calib_fit *fit, tg_metrics *m)
{
    tg_metrics_set_nan(m);
    if (w->T == 0)
        return 0;
    int n = w->T - w->W;
    tg_real *q = tg_mem_alloc((size_t)n * sizeof(tg_real));
    double *o = tg_mem_alloc((size_t)n * 2 * sizeof(double));
    if (!q || !o) {
        tg_mem_free(q);
        tg_mem_free(o);
        return tg_error_set(TG_ENOMEM, "out of memory for %d days", n);
    }
    int rc = tg_hbv_calib_simulate(q, w->forcing, w->T, w->W, fit->params, fit->a, fit->theta);
    if (!rc) {
        for (int t = 0; t < n; t++) {
            o[t] = (double)w->obs[w->W + t];
            o[n + t] = (double)q[t];
        }
        if (tg_metrics_compute(o, o + n, n, m) == TG_ENOMEM)
            rc = TG_ENOMEM;
        tg_error_clear(); /* metric-level problems (constant obs) leave NaN metrics */
    }
    tg_mem_free(q);
    tg_mem_free(o);
    return rc;
}

static double now_seconds(void) { return omp_get_wtime(); }

static void calibrate_one(tg_calib_result *r, const tg_basin *b, int train_first, int train_last, int test_first,
                          int test_last, const tg_calib_options *o)
{
    double t0 = now_seconds();
    memset(r, 0, sizeof *r);
    snprintf(r->basin, sizeof r->basin, "%s", b->id);
    r->fit.a = r->fit.theta = (double)NAN;
    tg_metrics_set_nan(&r->train);
    tg_metrics_set_nan(&r->test);
    window tr = {0}, te = {0};
    int rc = tg_basin_require(b, TG_VAR_BIT(TG_VAR_P) | TG_VAR_BIT(TG_VAR_TEMP) | TG_VAR_BIT(TG_VAR_PET) |
                                     TG_VAR_BIT(TG_VAR_Q), "calibration");
    if (!rc)
        rc = window_make(&tr, b, train_first, train_last, o->warmup, "training");
    if (!rc && tr.T == 0)
        rc = tg_error_set(TG_EINVAL, "the training period is outside the record");
    if (!rc && test_first <= test_last)
        rc = window_make(&te, b, test_first, test_last, o->warmup, "test");
    if (!rc)
        rc = tg_hbv_calibrate(&r->fit, tr.forcing, tr.obs, tr.T, o, basin_seed(o->seed, b->id));
    if (!rc)
        rc = window_score(&tr, &r->fit, &r->train);
    if (!rc)
        rc = window_score(&te, &r->fit, &r->test);
    r->train_first = tr.first;
    r->train_last = tr.last;
    r->test_first = te.first;
    r->test_last = te.last;
    if (rc) {
        r->status = rc;
        snprintf(r->error, sizeof r->error, "%s", tg_error_message());
        tg_error_clear();
    }
    window_free(&tr);
    window_free(&te);
    r->seconds = now_seconds() - t0;
}

int tg_hbv_calibrate_basins(tg_calib_result *res, const tg_basin *basins, int B, int train_first, int train_last,
                            int test_first, int test_last, const tg_calib_options *opt, tg_calib_progress_fn progress,
                            void *ud)
{
    tg_calib_options o;
    if (opt)
        o = *opt;
    else
        tg_calib_options_init(&o);
    if (B < 0)
        return tg_error_set(TG_EINVAL, "calibrate: B = %d basins", B);
    if (train_first > train_last)
        return tg_error_set(TG_EINVAL, "calibrate: training period ends before it starts");
    int rc = tg__calib_options_check(&o);
    if (rc)
        return rc;
    int done = 0, nomem = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
        calibrate_one(&res[b], &basins[b], train_first, train_last, test_first, test_last, &o);
#pragma omp critical(tg_calib_progress)
        {
            done++;
            nomem |= res[b].status == TG_ENOMEM;
            if (progress)
                progress(ud, done, B, &res[b]);
        }
    }
    if (nomem)
        return tg_error_set(TG_ENOMEM, "calibrate: out of memory");
    return 0;
}
