/* test_calibrate_grad.c — the exact gradients the Adam calibration follows:
 *  - the objective's derivative with respect to simulated flow (1-NSE, RMSE, 1-KGE)
 *    against central differences on synthetic series;
 *  - the batched loss + gradient of several candidate parameter sets (lanes) against
 *    tg_hbv_sensitivity with the gradient through the warm-up (the parameters also run
 *    the warm-up) for NSE and RMSE, with and without routing, and against central
 *    differences for KGE;
 *  - lanes are independent: a candidate's loss and gradient do not depend on its
 *    neighbours or on the lane it occupies. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate/calib_internal.h"
#include "testutil.h"

#ifdef TG_DOUBLE
#define TOL_SENS 1e-9
#else
#define TOL_SENS 2e-3
#endif

#define NDAY 1000
#define WARM 300

static void test_objective_derivative(void)
{
    tg_rng r;
    tg_rng_seed(&r, 3);
    const int n = 200;
    tg_real o[200], s[200], g[200];
    for (int t = 0; t < n; t++) {
        o[t] = (tg_real)(1.0 + 3.0 * tg_rng_uniform(&r));
        s[t] = (tg_real)((double)o[t] * 0.7 + 0.5 + 0.6 * tg_rng_uniform(&r));
    }
    o[5] = o[17] = (tg_real)NAN;
    for (int obj = TG_CALIB_NSE; obj <= TG_CALIB_RMSE; obj++) {
        double L = tg__calib_objective_grad_strided(obj, o, s, n, 1, g, 1);
        CHECK_CLOSE(L, tg_calib_objective_value(obj, o, s, n), 1e-12, 0);
        CHECK(g[5] == 0 && g[17] == 0, "gradient on a missing day");
        double maxerr = 0;
        for (int t = 0; t < n; t += 7) {
            tg_real keep = s[t];
            double h = 1e-3;
            s[t] = (tg_real)((double)keep + h);
            double lp = tg_calib_objective_value(obj, o, s, n);
            s[t] = (tg_real)((double)keep - h);
            double lm = tg_calib_objective_value(obj, o, s, n);
            s[t] = keep;
            double fd = (lp - lm) / ((double)(tg_real)((double)keep + h) - (double)(tg_real)((double)keep - h));
            double err = fabs(fd - (double)g[t]) / fmax(fabs(fd), 1e-3);
            maxerr = fmax(maxerr, err);
        }
#ifdef TG_DOUBLE
        CHECK(maxerr < 1e-5, "%s: derivative vs central differences, max rel err %g", tg_calib_objective_name(obj),
              maxerr);
#else
        CHECK(maxerr < 5e-2, "%s: derivative vs central differences, max rel err %g", tg_calib_objective_name(obj),
              maxerr);
#endif
    }
}

/* Candidate k: mid-range parameters shifted a little per candidate. */
static void candidate(double *x, int k, int nvar)
{
    for (int i = 0; i < TG_HBV_NPARAM; i++) {
        double lo = tg_hbv_param_range[i][0], hi = tg_hbv_param_range[i][1];
        x[i] = lo + (hi - lo) * (0.3 + 0.13 * k + 0.02 * i);
    }
    if (nvar > TG_HBV_NPARAM) {
        x[TG_HBV_NPARAM] = 1.2 + 0.4 * k;
        x[TG_HBV_NPARAM + 1] = 1.5 + 0.7 * k;
    }
}

static void test_against_sensitivity(const tg_real *forcing, const tg_real *obs)
{
    for (int routing = 0; routing <= 1; routing++)
        for (int obj = TG_CALIB_NSE; obj <= TG_CALIB_RMSE; obj += 2) {
            calib_problem p;
            int rc = tg__calib_problem_init(&p, forcing, obs, NDAY, WARM, obj, routing);
            CHECK(rc == 0, "%s", tg_error_message());
            enum { K = 3 };
            double x[K * TG_CALIB_NVAR], loss[K], gx[K * TG_CALIB_NVAR];
            for (int k = 0; k < K; k++)
                candidate(x + k * p.nvar, k, p.nvar);
            rc = tg__calib_loss_grad(&p, K, x, loss, gx);
            CHECK(rc == 0, "%s", tg_error_message());
            for (int k = 0; k < K; k++) {
                const double *xk = x + k * p.nvar;
                double ls, gs[TG_HBV_NPARAM], gr[2];
                int T = NDAY;
                double *a = routing ? (double *)&xk[TG_HBV_NPARAM] : NULL;
                double *th = routing ? (double *)&xk[TG_HBV_NPARAM + 1] : NULL;
                rc = tg_hbv_sensitivity(&ls, gs, gr, 1, &forcing, &obs, &T, WARM, xk, 1, a, th,
                                        obj == TG_CALIB_NSE ? TG_SENS_NSE : TG_SENS_RMSE, 1);
                CHECK(rc == 0, "%s", tg_error_message());
                CHECK_CLOSE(loss[k], ls, 1e-12, 0);
                double maxerr = 0;
                for (int i = 0; i < p.nvar; i++) {
                    double ref = i < TG_HBV_NPARAM ? gs[i] : gr[i - TG_HBV_NPARAM];
                    double scale = fmax(fabs(ref), 1e-6 * fmax(1, fabs(ls)));
                    maxerr = fmax(maxerr, fabs(gx[k * p.nvar + i] - ref) / scale);
                }
                CHECK(maxerr < TOL_SENS * 10, "%s routing %d candidate %d: gradient vs tg_hbv_sensitivity, rel err %g",
                      tg_calib_objective_name(obj), routing, k, maxerr);
            }
            /* lane independence: candidate 2 alone (lane 0) = candidate 2 in lane 2 */
            double l1, g1[TG_CALIB_NVAR];
            rc = tg__calib_loss_grad(&p, 1, x + 2 * p.nvar, &l1, g1);
            CHECK(rc == 0 && l1 == loss[2] && !memcmp(g1, gx + 2 * p.nvar, (size_t)p.nvar * sizeof(double)),
                  "candidate 2 differs in lane 0 and lane 2");
            /* the objective-only batch agrees with the gradient pass */
            double f[K];
            tg__calib_eval_batch(&p, K, x, f);
            for (int k = 0; k < K; k++)
                CHECK(f[k] == loss[k], "eval batch %.17g vs loss %.17g", f[k], loss[k]);
            tg__calib_problem_free(&p);
        }
}

static void test_kge_fd(const tg_real *forcing, const tg_real *obs)
{
    calib_problem p;
    tg__calib_problem_init(&p, forcing, obs, NDAY, WARM, TG_CALIB_KGE, 1);
    double x[TG_CALIB_NVAR], loss, gx[TG_CALIB_NVAR];
    candidate(x, 1, p.nvar);
    CHECK(tg__calib_loss_grad(&p, 1, x, &loss, gx) == 0, "%s", tg_error_message());
#ifdef TG_DOUBLE
    double maxerr = 0;
    int worst = -1;
    for (int i = 0; i < p.nvar; i++) {
        double keep = x[i], h = 1e-6 * (p.hi[i] - p.lo[i]), lp, lm;
        x[i] = keep + h;
        tg__calib_eval_batch(&p, 1, x, &lp);
        x[i] = keep - h;
        tg__calib_eval_batch(&p, 1, x, &lm);
        x[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double err = fabs(fd - gx[i]) / fmax(fabs(fd), 1e-4 / (p.hi[i] - p.lo[i]));
        if (err > maxerr) {
            maxerr = err;
            worst = i;
        }
    }
    CHECK(maxerr < 1e-5, "KGE gradient vs central differences: max rel err %g at variable %d", maxerr, worst);
    printf("KGE loss %.6f, gradient vs central differences: max rel err %.2g\n", loss, maxerr);
#endif
    /* both builds: a small step against the gradient (scaled to the ranges) lowers the loss
     * by about what the gradient predicts */
    double step[TG_CALIB_NVAR], pred = 0, l2;
    for (int i = 0; i < p.nvar; i++) {
        double span = p.hi[i] - p.lo[i];
        step[i] = -1e-3 * span * span * gx[i];
        pred += gx[i] * step[i];
        step[i] += x[i];
    }
    tg__calib_eval_batch(&p, 1, step, &l2);
    CHECK(l2 < loss && fabs((l2 - loss) - pred) < 0.2 * fabs(pred), "descent step: change %g, predicted %g", l2 - loss,
          pred);
    tg__calib_problem_free(&p);
}

int main(void)
{
    test_objective_derivative();
    tg_basin b;
    if (tg_caravan_read(tg_test_data("caravan_camels_us"), "01031500", &b)) {
        fprintf(stderr, "%s\n", tg_error_message());
        return 1;
    }
    tg_real *forcing = malloc((size_t)NDAY * 3 * sizeof(tg_real));
    int s0 = tg_date_from_ymd(1985, 1, 1) - b.start;
    for (int t = 0; t < NDAY; t++) {
        forcing[3 * t + 0] = b.var[TG_VAR_P][s0 + t];
        forcing[3 * t + 1] = b.var[TG_VAR_TEMP][s0 + t];
        forcing[3 * t + 2] = b.var[TG_VAR_PET][s0 + t];
    }
    const tg_real *obs = b.var[TG_VAR_Q] + s0;
    test_against_sensitivity(forcing, obs);
    test_kge_fd(forcing, obs);
    free(forcing);
    tg_basin_free(&b);
    return tg_test_summary();
}
