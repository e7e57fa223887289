/* HBV with known parameters: simulate outputs are consistent (Q = Q0+Q1+Q2 unrouted,
 * routing conserves volume), and sensitivities of pooled losses match finite differences
 * (double build), for static parameters and the routing parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define M 2
#define NDAY 900
#define W 200

static tg_real *forcing_of(const tg_basin *b)
{
    tg_real *f = malloc((size_t)NDAY * 3 * sizeof(tg_real));
    for (int t = 0; t < NDAY; t++) {
        f[t * 3 + 0] = b->var[TG_VAR_P][t];
        f[t * 3 + 1] = b->var[TG_VAR_TEMP][t];
        f[t * 3 + 2] = b->var[TG_VAR_PET][t];
    }
    return f;
}

#ifdef TG_DOUBLE
static double loss_at(int B, tg_real *const *forc, tg_real *const *obs, const int *T, const double *par,
                      const double *a, const double *th, int kind)
{
    double loss, gp[2 * 13 * M], gr[4];
    if (tg_hbv_sensitivity(&loss, gp, gr, B, (const tg_real *const *)forc, (const tg_real *const *)obs, T, W, par, M,
                           a, th, kind, 1))
        return NAN;
    return loss;
}
#endif

int main(void)
{
    const char *ids[2] = {"01022500", "01031500"};
    tg_basin bas[2];
    tg_real *forc[2], *obs[2];
    int T[2] = {NDAY, NDAY};
    for (int b = 0; b < 2; b++) {
        int rc = tg_caravan_read(tg_test_data("caravan_camels_us"), ids[b], &bas[b]);
        CHECK(rc == 0, "%s", tg_error_message());
        if (rc)
            return tg_test_summary();
        forc[b] = forcing_of(&bas[b]);
        obs[b] = bas[b].var[TG_VAR_Q];
    }
    /* mid-range parameters, components slightly different */
    double par[2 * 13 * M];
    for (int b = 0; b < 2; b++)
        for (int p = 0; p < 13; p++)
            for (int m = 0; m < M; m++) {
                double lo = tg_hbv_param_range[p][0], hi = tg_hbv_param_range[p][1];
                par[(b * 13 + p) * M + m] = lo + (hi - lo) * (0.35 + 0.1 * m + 0.05 * b);
            }
    double a[2] = {1.7, 2.4}, th[2] = {1.3, 2.0};

    /* simulate: consistency of the outputs */
    tg_real *out = malloc((size_t)(NDAY - W) * TG_SIM_NOUT * sizeof(tg_real));
    CHECK(tg_hbv_simulate_basin(out, forc[0], NDAY, W, par, M, a[0], th[0]) == 0, "%s", tg_error_message());
    double sq = 0, su = 0, maxdiff = 0;
    for (int t = 0; t < NDAY - W; t++) {
        tg_real *o = out + (size_t)t * TG_SIM_NOUT;
        maxdiff = fmax(maxdiff, fabs((double)(o[TG_SIM_Q0] + o[TG_SIM_Q1] + o[TG_SIM_Q2] - o[TG_SIM_Q])));
        sq += (double)o[TG_SIM_Q];
        su += (double)o[TG_SIM_Q_UNROUTED];
        CHECK(o[TG_SIM_SM] >= 0 && o[TG_SIM_SUZ] >= 0 && o[TG_SIM_SLZ] >= 0 && o[TG_SIM_SWE] >= 0, "negative store");
    }
    CHECK(maxdiff < 1e-9, "routed Q0+Q1+Q2 != routed Q (max diff %g)", maxdiff);
    /* routing delays but conserves: the missing volume is at most the last 15 days' runoff */
    CHECK(sq <= su + 1e-9 && sq > 0.97 * su, "routed volume %g vs unrouted %g", sq, su);
    free(out);

    /* sensitivities vs central differences, each loss (double build: float differences
     * of a loss pooled over thousands of days are noise) */
#ifdef TG_DOUBLE
    for (int kind = 0; kind < 3; kind++) {
        double loss, gp[2 * 13 * M], gr[4];
        /* the same parameters also run the warm-up: the total derivative that finite
         * differences see needs the gradient through the warm-up (--warmup-grad) */
        int rc = tg_hbv_sensitivity(&loss, gp, gr, 2, (const tg_real *const *)forc, (const tg_real *const *)obs, T, W,
                                    par, M, a, th, kind, 1);
        CHECK(rc == 0 && isfinite(loss), "sensitivity: %s", tg_error_message());
        int probe[] = {TG_HBV_FC, TG_HBV_K1, TG_HBV_K2, TG_HBV_BETA, TG_HBV_LP, TG_HBV_BETAET, TG_HBV_CFMAX};
        for (size_t j = 0; j < sizeof probe / sizeof probe[0]; j++) {
            int b = (int)(j % 2), m = (int)(j % M);
            size_t i = (size_t)(b * 13 + probe[j]) * M + (size_t)m;
            double keep = par[i], h = 1e-6 * fmax(1.0, fabs(keep));
            par[i] = keep + h;
            double lp = loss_at(2, forc, obs, T, par, a, th, kind);
            par[i] = keep - h;
            double lm = loss_at(2, forc, obs, T, par, a, th, kind);
            par[i] = keep;
            double fd = (lp - lm) / (2 * h);
            CHECK(tg_rel_err(fd, gp[i], 1e-8) < 1e-5, "loss %d d/d%s[b%d,m%d]: fd %.8g vs %.8g", kind,
                  tg_hbv_param_names[probe[j]], b, m, fd, gp[i]);
        }
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 2; k++) {
                double *v = k ? &th[b] : &a[b], keep = *v, h = 1e-6;
                *v = keep + h;
                double lp = loss_at(2, forc, obs, T, par, a, th, kind);
                *v = keep - h;
                double lm = loss_at(2, forc, obs, T, par, a, th, kind);
                *v = keep;
                double fd = (lp - lm) / (2 * h);
                CHECK(tg_rel_err(fd, gr[2 * b + k], 1e-8) < 1e-5, "loss %d d/d%s[b%d]: fd %.8g vs %.8g", kind,
                      k ? "theta" : "a", b, fd, gr[2 * b + k]);
            }
    }
#else
    {
        double loss, gp[2 * 13 * M], gr[4];
        CHECK(tg_hbv_sensitivity(&loss, gp, gr, 2, (const tg_real *const *)forc, (const tg_real *const *)obs, T, W, par,
                                 M, a, th, TG_SENS_RMSE, 0) == 0 && isfinite(loss) && loss > 0,
              "sensitivity: %s", tg_error_message());
    }
#endif
    /* errors */
    tg_hbv_param_table pt;
    CHECK(tg_hbv_params_read("/nonexistent/params.csv", &pt) == TG_EIO, "missing params file");
    for (int b = 0; b < 2; b++) {
        free(forc[b]);
        tg_basin_free(&bas[b]);
    }
    return tg_test_summary();
}
