/* test_surrogate_bucket.h — an independent C re-implementation of the legacy Fortran bucket
 * model (fortran/bucket_model.f90), written from its documented equations, for the
 * black-box and surrogate tests: if either implementation drifts, the comparison fails.
 * Also reports ET and the storages so a test can check the water balance. */
#ifndef TG_TEST_SURROGATE_BUCKET_H
#define TG_TEST_SURROGATE_BUCKET_H

#include <math.h>

enum { BK_TT, BK_DDF, BK_FC, BK_BETA, BK_CET, BK_K1, BK_K2, BK_NP };
static const char *const bk_names[BK_NP] = {"TT", "DDF", "FC", "BETA", "CET", "K1", "K2"};
static const double bk_lo[BK_NP] = {-2, 1, 50, 1, 0.05, 0.05, 0.01};
static const double bk_hi[BK_NP] = {2, 6, 500, 6, 0.8, 0.5, 0.15};

/* Runs T days; out (T, nout <= 4): Q, SM, SWE, GW. et_sum (may be NULL) gets total ET.
 * Returns the Fortran model's error codes (1 sizes, 2 parameters, 3 forcing). */
static inline int bk_run(int T, int nf, const double *forcing, int np, const double *p, int nout, double *out,
                  double *et_sum)
{
    if (T < 1 || nf != 3 || np != BK_NP || nout < 1 || nout > 4) return 1;
    const double tt = p[BK_TT], ddf = p[BK_DDF], fc = p[BK_FC], beta = p[BK_BETA], cet = p[BK_CET], uzl = 20,
                 k1 = p[BK_K1], k2 = p[BK_K2];
    for (int k = 0; k < np; k++)
        if (!isfinite(p[k])) return 2;
    if (ddf < 0 || fc <= 0 || beta <= 0 || cet < 0 || k1 < 0 || k2 < 0 || k1 + k2 > 1) return 2;
    double snow = 0, sm = 0.5 * fc, gw = 10, ets = 0;
    for (int t = 0; t < T; t++) {
        double P = forcing[t * 3], Ta = forcing[t * 3 + 1], pet = forcing[t * 3 + 2];
        if (!isfinite(P) || !isfinite(Ta) || !isfinite(pet)) return 3;
        P = fmax(P, 0);
        pet = fmax(pet, 0);
        double snowfall = Ta < tt ? P : 0, rain = Ta < tt ? 0 : P;
        snow += snowfall;
        double melt = fmin(snow, ddf * fmax(Ta - tt, 0));
        snow -= melt;
        double w = rain + melt, rch = w * pow(sm / fc, beta);
        sm = sm + w - rch;
        if (sm > fc) {
            rch += sm - fc;
            sm = fc;
        }
        double et = fmin(cet * pet * fmin(1.0, sm / (0.7 * fc)), sm);
        sm -= et;
        ets += et;
        gw += rch;
        double q = k1 * fmax(gw - uzl, 0) + k2 * gw;
        gw -= q;
        double st[4] = {q, sm, snow, gw};
        for (int k = 0; k < nout; k++) out[t * nout + k] = st[k];
    }
    if (et_sum) *et_sum = ets;
    return 0;
}

/* The black-box function-kind signature. */
static inline int bk_fn(void *ud, int T, int nf, const double *forcing, int np, const double *params, int nout, double *out)
{
    (void)ud;
    return bk_run(T, nf, forcing, np, params, nout, out, NULL);
}

#endif
