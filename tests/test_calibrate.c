/* test_calibrate.c — HBV calibration on a synthetic twin: flow generated with known
 * parameters on real Caravan forcing (basin 01022500, 1990-1992: one warm-up year, two
 * scored years). SCE-UA and Adam must reproduce that flow (NSE > 0.99) and SCE-UA must
 * recover the well-identified parameters; the objective agrees with tg_metrics; the
 * multi-basin driver gives the same result on 1 and 2 threads and reports bad basins. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad/calibrate.h"
#include "testutil.h"

/* The "true" parameters: a mid-range, snow-affected catchment. */
static const double truth[TG_HBV_NPARAM] = {
    2.5,   /* BETA */
    250,   /* FC */
    0.3,   /* K0 */
    0.08,  /* K1 */
    0.02,  /* K2 */
    0.6,   /* LP */
    2.0,   /* PERC */
    20,    /* UZL */
    0.0,   /* TT */
    3.0,   /* CFMAX */
    0.05,  /* CFR */
    0.1,   /* CWH */
    1.5,   /* BETAET */
};
static const double true_a = 1.5, true_theta = 2.0;

typedef struct {
    int T, W;
    tg_real *forcing, *obs;
} twin;

static int twin_make(twin *tw, tg_basin *b)
{
    int first = tg_date_from_ymd(1990, 1, 1) - b->start;
    tw->W = 365;
    tw->T = tg_date_from_ymd(1992, 12, 31) - tg_date_from_ymd(1990, 1, 1) + 1;
    tw->forcing = malloc((size_t)tw->T * 3 * sizeof(tg_real));
    tw->obs = malloc((size_t)tw->T * sizeof(tg_real));
    for (int t = 0; t < tw->T; t++) {
        tw->forcing[3 * t + 0] = b->var[TG_VAR_P][first + t];
        tw->forcing[3 * t + 1] = b->var[TG_VAR_TEMP][first + t];
        tw->forcing[3 * t + 2] = b->var[TG_VAR_PET][first + t];
        tw->obs[t] = (tg_real)NAN;
    }
    return tg_hbv_calib_simulate(tw->obs + tw->W, tw->forcing, tw->T, tw->W, truth, true_a, true_theta);
}

static double nse_of(const twin *tw, const tg_calib_fit *f)
{
    int n = tw->T - tw->W;
    tg_real *q = malloc((size_t)n * sizeof(tg_real));
    tg_hbv_calib_simulate(q, tw->forcing, tw->T, tw->W, f->params, f->a, f->theta);
    double v = 1 - tg_calib_objective_value(TG_CALIB_NSE, tw->obs + tw->W, q, n);
    free(q);
    return v;
}

static void print_fit(const tg_calib_fit *fit)
{
    for (int i = 0; i < TG_HBV_NPARAM; i++)
        printf("  %-7s true %8.4f  fit %8.4f\n", tg_hbv_param_names[i], truth[i], fit->params[i]);
    printf("  a       true %8.4f  fit %8.4f\n  theta   true %8.4f  fit %8.4f\n", true_a, fit->a, true_theta,
           fit->theta);
}

/* All 15 parameters free. Two years of flow do not pin down the upper zone (K0, K1, UZL
 * and PERC trade off against each other) nor the snow parameters, so only the flow, the
 * recession of the lower zone (K2) and the soil-box size (FC) are checked; the tolerances
 * cover the spread over six seeds (K2 within 5 %, FC within 18 %). */
static void test_sceua_twin(const twin *tw)
{
    tg_calib_options o;
    tg_calib_options_init(&o);
    o.routing = 1;
    o.max_evals = 8000;
    o.warmup = tw->W;
    tg_calib_fit fit;
    double t0 = omp_get_wtime();
    int rc = tg_hbv_calibrate(&fit, tw->forcing, tw->obs, tw->T, &o, 42);
    CHECK(rc == 0, "rc %d: %s", rc, tg_error_message());
    double nse = nse_of(tw, &fit);
    printf("sce-ua twin, 15 free: NSE %.5f, %ld evals, stop %s, %.2f s\n", nse, fit.evals,
           tg_sceua_stop_name(fit.stop), omp_get_wtime() - t0);
    print_fit(&fit);
    CHECK(nse > 0.99, "synthetic NSE %.4f", nse);
    CHECK_CLOSE(fit.objective, 1 - nse, 1e-12, 0);
    CHECK(fit.evals <= 8000, "%ld evals over the budget", fit.evals);
    CHECK(fabs(fit.params[TG_HBV_K2] - truth[TG_HBV_K2]) <= 0.10 * truth[TG_HBV_K2], "K2 %g", fit.params[TG_HBV_K2]);
    CHECK(fabs(fit.params[TG_HBV_FC] - truth[TG_HBV_FC]) <= 0.25 * truth[TG_HBV_FC], "FC %g", fit.params[TG_HBV_FC]);
    for (int i = 0; i < TG_HBV_NPARAM; i++)
        CHECK(fit.params[i] >= tg_hbv_param_range[i][0] && fit.params[i] <= tg_hbv_param_range[i][1],
              "%s out of range", tg_hbv_param_names[i]);
}

/* Bounds with the poorly identified parameters fixed at their true values (lo == hi). */
static const int fixed[7] = {TG_HBV_K0, TG_HBV_PERC, TG_HBV_UZL, TG_HBV_TT, TG_HBV_CFMAX, TG_HBV_CFR, TG_HBV_CWH};
static void fixed_bounds(double *lo, double *hi)
{
    for (int i = 0; i < TG_HBV_NPARAM; i++) {
        lo[i] = tg_hbv_param_range[i][0];
        hi[i] = tg_hbv_param_range[i][1];
    }
    for (int j = 0; j < 7; j++)
        lo[fixed[j]] = hi[fixed[j]] = truth[fixed[j]];
    for (int i = 0; i < 2; i++) {
        lo[TG_HBV_NPARAM + i] = tg_route_range[i][0];
        hi[TG_HBV_NPARAM + i] = tg_route_range[i][1];
    }
}

/* The other 8 free: now the optimum is sharp and SCE-UA must find it. */
static void test_sceua_twin_fixed(const twin *tw)
{
    double lo[TG_CALIB_NVAR], hi[TG_CALIB_NVAR];
    fixed_bounds(lo, hi);
    tg_calib_options o;
    tg_calib_options_init(&o);
    o.routing = 1;
    o.max_evals = 10000;
    o.warmup = tw->W;
    o.lo = lo;
    o.hi = hi;
    tg_calib_fit fit;
    double t0 = omp_get_wtime();
    int rc = tg_hbv_calibrate(&fit, tw->forcing, tw->obs, tw->T, &o, 7);
    CHECK(rc == 0, "rc %d: %s", rc, tg_error_message());
    double nse = nse_of(tw, &fit);
    printf("sce-ua twin, 8 free: NSE %.6f, %ld evals, stop %s, %.2f s\n", nse, fit.evals,
           tg_sceua_stop_name(fit.stop), omp_get_wtime() - t0);
    print_fit(&fit);
    CHECK(nse > 0.9999, "synthetic NSE %.6f", nse);
    const int ident[] = {TG_HBV_BETA, TG_HBV_FC, TG_HBV_K1, TG_HBV_K2, TG_HBV_LP, TG_HBV_BETAET};
    for (int j = 0; j < 6; j++) {
        int p = ident[j];
        CHECK(fabs(fit.params[p] - truth[p]) <= 0.01 * truth[p], "%s: fit %g, true %g", tg_hbv_param_names[p],
              fit.params[p], truth[p]);
    }
    CHECK(fabs(fit.a - true_a) <= 0.01 * true_a && fabs(fit.theta - true_theta) <= 0.01 * true_theta,
          "routing a %g theta %g", fit.a, fit.theta);
    for (int j = 0; j < 7; j++)
        CHECK(fit.params[fixed[j]] == truth[fixed[j]], "fixed %s moved", tg_hbv_param_names[fixed[j]]);
    /* bounds outside the physical range are refused */
    lo[TG_HBV_FC] = 10;
    CHECK(tg_hbv_calibrate(&fit, tw->forcing, tw->obs, tw->T, &o, 7) == TG_EINVAL, "FC bound below 50 accepted");
}

/* Adam: with 8 free parameters the flow must be matched and FC, K1, K2 found (Adam at a
 * constant rate jitters around the optimum instead of settling: 5-15 %; BETA and BETAET
 * are left loose by it); with all 15 free the fit must still be close. A sign error or a
 * wrong chain rule fails both. */
static void test_adam_twin(const twin *tw)
{
    double lo[TG_CALIB_NVAR], hi[TG_CALIB_NVAR];
    fixed_bounds(lo, hi);
    tg_calib_options o;
    tg_calib_options_init(&o);
    o.method = TG_CALIB_ADAM;
    o.routing = 1;
    o.max_evals = 2400;
    o.warmup = tw->W;
    o.lo = lo;
    o.hi = hi;
    tg_calib_fit fit;
    double t0 = omp_get_wtime();
    int rc = tg_hbv_calibrate(&fit, tw->forcing, tw->obs, tw->T, &o, 42);
    CHECK(rc == 0, "rc %d: %s", rc, tg_error_message());
    double nse = nse_of(tw, &fit);
    printf("adam twin, 8 free: NSE %.5f, %ld gradient evaluations, %.2f s\n", nse, fit.evals, omp_get_wtime() - t0);
    print_fit(&fit);
    CHECK(nse > 0.999, "synthetic NSE %.5f", nse);
    CHECK(fit.evals == 2400, "%ld gradient evaluations", fit.evals);
    CHECK_CLOSE(fit.objective, 1 - nse, 1e-12, 0);
    const int ident[] = {TG_HBV_FC, TG_HBV_K1, TG_HBV_K2};
    const double tol[] = {0.05, 0.15, 0.05};
    for (int j = 0; j < 3; j++) {
        int p = ident[j];
        CHECK(fabs(fit.params[p] - truth[p]) <= tol[j] * truth[p], "%s: fit %g, true %g", tg_hbv_param_names[p],
              fit.params[p], truth[p]);
    }
    o.lo = o.hi = NULL;
    rc = tg_hbv_calibrate(&fit, tw->forcing, tw->obs, tw->T, &o, 42);
    nse = nse_of(tw, &fit);
    printf("adam twin, 15 free: NSE %.5f\n", nse);
    CHECK(rc == 0 && nse > 0.99, "synthetic NSE %.4f", nse);
    /* KGE is not a loss tg_hbv_sensitivity offers, but the calibration gradient has it */
    o.objective = TG_CALIB_KGE;
    o.max_evals = 800;
    o.lo = lo;
    o.hi = hi;
    rc = tg_hbv_calibrate(&fit, tw->forcing, tw->obs, tw->T, &o, 43);
    CHECK(rc == 0, "rc %d: %s", rc, tg_error_message());
    CHECK(fit.objective < 0.05, "adam 1-KGE %.4f", fit.objective);
    printf("adam twin, 8 free, KGE objective: KGE %.4f\n", 1 - fit.objective);
}

/* The objective against the metrics module on real flow and a perturbed copy. */
static void test_objective_matches_metrics(const tg_basin *b)
{
    int n = 3000;
    tg_real *o = malloc((size_t)n * sizeof(tg_real)), *s = malloc((size_t)n * sizeof(tg_real));
    double *od = malloc((size_t)n * sizeof(double)), *sd = malloc((size_t)n * sizeof(double));
    for (int t = 0; t < n; t++) {
        o[t] = b->var[TG_VAR_Q][t];
        s[t] = (tg_real)(0.8 * (double)b->var[TG_VAR_Q][t + 2] + 0.3); /* lagged, biased */
        od[t] = (double)o[t];
        sd[t] = (double)s[t];
    }
    o[10] = (tg_real)NAN; /* a missing day is skipped by both */
    od[10] = NAN;
    tg_metrics m;
    tg_metrics_compute(od, sd, n, &m);
    CHECK_CLOSE(tg_calib_objective_value(TG_CALIB_NSE, o, s, n), 1 - m.nse, 1e-12, 0);
    CHECK_CLOSE(tg_calib_objective_value(TG_CALIB_KGE, o, s, n), 1 - m.kge, 1e-12, 0);
    CHECK_CLOSE(tg_calib_objective_value(TG_CALIB_RMSE, o, s, n), m.rmse, 1e-12, 0);
    for (int t = 0; t < n; t++)
        o[t] = (tg_real)NAN;
    CHECK(isinf(tg_calib_objective_value(TG_CALIB_NSE, o, s, n)), "no observations must give +inf");
    free(o);
    free(s);
    free(od);
    free(sd);
}

/* Two basins (and a broken third) through the parallel driver on 1 and 2 threads. */
static void test_basins_threads(tg_basin *bs)
{
    tg_calib_options o;
    tg_calib_options_init(&o);
    o.routing = 1;
    o.max_evals = 600;
    o.seed = 5;
    int tr0 = tg_date_from_ymd(1989, 1, 1), tr1 = tg_date_from_ymd(1991, 12, 31);
    int te0 = tg_date_from_ymd(1992, 1, 1), te1 = tg_date_from_ymd(1993, 12, 31);
    tg_calib_result r1[3], r2[3];
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc1 = tg_hbv_calibrate_basins(r1, bs, 3, tr0, tr1, te0, te1, &o, NULL, NULL);
    omp_set_num_threads(2);
    int rc2 = tg_hbv_calibrate_basins(r2, bs, 3, tr0, tr1, te0, te1, &o, NULL, NULL);
    omp_set_num_threads(nt);
    CHECK(rc1 == 0 && rc2 == 0, "rc %d %d", rc1, rc2);
    for (int b = 0; b < 2; b++) {
        CHECK(r1[b].status == 0, "basin %s: %s", r1[b].basin, r1[b].error);
        CHECK(!memcmp(r1[b].fit.params, r2[b].fit.params, sizeof r1[b].fit.params) &&
                  r1[b].fit.objective == r2[b].fit.objective && r1[b].test.nse == r2[b].test.nse,
              "basin %s differs between 1 and 2 threads", r1[b].basin);
        /* train metrics = the calibrated objective; warm-up from 1988 (the record has it) */
        CHECK_CLOSE(r1[b].train.nse, 1 - r1[b].fit.objective, 1e-12, 0);
        CHECK(r1[b].train_first == tr0 && r1[b].test_first == te0, "scoring starts %d %d", r1[b].train_first,
              r1[b].test_first);
        int valid = 0;
        for (int d = tr0; d <= tr1; d++)
            valid += !isnan(bs[b].var[TG_VAR_Q][d - bs[b].start]);
        CHECK(r1[b].train.n == valid, "train metrics on %d days, %d observed", r1[b].train.n, valid);
        CHECK(isfinite(r1[b].test.nse) && isfinite(r1[b].test.kge), "test metrics missing");
        printf("basin %s: train NSE %.3f, test NSE %.3f\n", r1[b].basin, r1[b].train.nse, r1[b].test.nse);
    }
    /* the broken basin: a gap in its forcing during training */
    CHECK(r1[2].status == TG_EINVAL, "basin with a forcing gap: status %d", r1[2].status);
    CHECK(strstr(r1[2].error, "missing on 1990-06-01") != NULL, "message: %s", r1[2].error);

    /* the record starts 1981-01-01: a training period from then warms up inside itself */
    tg_calib_result r;
    tg_hbv_calibrate_basins(&r, bs, 1, tg_date_from_ymd(1981, 1, 1), tg_date_from_ymd(1982, 12, 31), 1, 0, &o, NULL,
                            NULL);
    CHECK(r.status == 0 && r.train_first == tg_date_from_ymd(1982, 1, 1), "train_first %d", r.train_first);
    CHECK(r.test.n == 0 && isnan(r.test.nse), "no test period requested");
}

int main(void)
{
    const char *root = tg_test_data("caravan_camels_us");
    tg_basin bs[3];
    if (tg_caravan_read(root, "01022500", &bs[0]) || tg_caravan_read(root, "01031500", &bs[1]) ||
        tg_caravan_read(root, "01047000", &bs[2])) {
        fprintf(stderr, "%s\n", tg_error_message());
        return 1;
    }
    bs[2].var[TG_VAR_TEMP][tg_date_from_ymd(1990, 6, 1) - bs[2].start] = (tg_real)NAN;
    twin tw;
    CHECK(twin_make(&tw, &bs[0]) == 0, "%s", tg_error_message());
    test_sceua_twin(&tw);
    test_sceua_twin_fixed(&tw);
    test_adam_twin(&tw);
    test_objective_matches_metrics(&bs[1]);
    test_basins_threads(bs);
    free(tw.forcing);
    free(tw.obs);
    for (int b = 0; b < 3; b++)
        tg_basin_free(&bs[b]);
    return tg_test_summary();
}
