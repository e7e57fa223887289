/* test_loss.c — the masked streamflow losses of training (src/train/loss.c):
 *   1. MSE and NSE* on a 3-day x 2-window batch with a missing day, against hand values;
 *   2. the KGE loss against 1 - KGE from the metrics code (tg_metrics_compute), window by
 *      window, with a missing day and a window too short to have a KGE (weight 0);
 *   3. its gradient with respect to the simulated flow against central finite differences
 *      (double build; float only checks that it is finite). */
#include <math.h>
#include <stdlib.h>

#include "testutil.h"
#include "train/train_internal.h"

enum { LP = 3, NB = 2 };

/* MSE and NSE* by hand. q = [[1, 2], [2, 4], [3, 6]], obs = [[1, 1], [NaN, 4], [4, 5]]:
 * 5 observed (window 0: days 0 and 2; window 1: all three). */
static void test_mse_nse(void)
{
    const tg_real q[LP * NB] = {1, 2, 2, 4, 3, 6};
    const tg_real obs[LP * NB] = {1, 1, (tg_real)NAN, 4, 4, 5};
    const double bstd[NB] = {0.9, 1.9}; /* + 0.1 -> weights 1 and 1/4 */
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *qt = tg_from(ctx, TG_SHAPE(LP, NB), q), *S[2];
    size_t count = tg_loss_count(obs, LP * NB);
    CHECK(count == 5, "count %zu", count);
    CHECK(tg_loss_parts(ctx, TG_LOSS_MSE, qt, obs, bstd, count, S) == 0 && S[0] && !S[1], "mse: %s",
          tg_error_message());
    /* squared errors: (0,0) 0, (0,1) 1, (1,1) 0, (2,0) 1, (2,1) 1 -> 3 / 5 */
    CHECK_CLOSE(S[0]->data[0], 3.0 / 5, 4 * TG_TEST_EPS, 0);
    CHECK(tg_loss_parts(ctx, TG_LOSS_NSE, qt, obs, bstd, count, S) == 0, "nse: %s", tg_error_message());
    /* window 0 errors 0, 1 with weight 1; window 1 errors 1, 0, 1 with weight 1/4 */
    CHECK_CLOSE(S[0]->data[0], (1.0 + 2.0 / 4) / 5, 4 * TG_TEST_EPS, 0);
    double c[2];
    /* rtol 1e-11: RMSE is sqrt(S + 1e-12), a relative shift of 2e-12 at S = 0.25 */
    CHECK_CLOSE(tg_loss_combine(TG_LOSS_RMSE, (double[]){0.25, 0}, 0, c), 0.5, 1e-11, 0);
    CHECK_CLOSE(c[0], 1.0, 1e-11, 0); /* d sqrt(S) / dS = 1 / (2 sqrt(S)) */
    CHECK(tg_loss_parse("kge") == TG_LOSS_KGE && tg_loss_parse("kgee") < 0, "parse");
    tg_ctx_free(&ctx);
}

enum { KL = 40, KB = 3 };

/* A batch of three 40-day windows: window 0 complete, window 1 with a missing day, window
 * 2 with a single observed day (no KGE). */
static void make_kge_case(tg_real *q, tg_real *obs)
{
    for (int t = 0; t < KL; t++)
        for (int b = 0; b < KB; b++) {
            double o = 2 + sin(0.3 * t + b) + 0.5 * cos(0.11 * t * (b + 1));
            obs[t * KB + b] = (tg_real)o;
            q[t * KB + b] = (tg_real)(0.8 * o + 0.3 + 0.2 * sin(0.7 * t + 2 * b));
        }
    obs[5 * KB + 1] = (tg_real)NAN;
    for (int t = 0; t < KL; t++)
        if (t != 7)
            obs[t * KB + 2] = (tg_real)NAN;
}

static double kge_loss_value(const tg_real *q, const tg_real *obs, size_t count)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_ctx_set_grad(ctx, 0);
    tg_tensor *S[2];
    double v = NAN;
    if (tg_loss_parts(ctx, TG_LOSS_KGE, tg_from(ctx, TG_SHAPE(KL, KB), q), obs, NULL, count, S) == 0)
        v = (double)S[0]->data[0];
    tg_ctx_free(&ctx);
    return v;
}

static void test_kge_value(void)
{
    tg_real q[KL * KB], obs[KL * KB];
    make_kge_case(q, obs);
    size_t count = tg_loss_count(obs, KL * KB);
    double want = 0;
    for (int b = 0; b < 2; b++) { /* window 2 has one observed day: weight 0 */
        double o[KL], s[KL];
        int n = 0;
        for (int t = 0; t < KL; t++) {
            o[t] = (double)obs[t * KB + b];
            s[t] = (double)q[t * KB + b];
            n += !isnan(o[t]);
        }
        tg_metrics m;
        CHECK(tg_metrics_compute(o, s, KL, &m) == 0, "metrics: %s", tg_error_message());
        want += (double)n / (double)count * (1 - m.kge);
    }
    double got = kge_loss_value(q, obs, count);
    CHECK_CLOSE(got, want, 1e-5, 0);
    CHECK(want > 0.05, "test case too easy: %g", want);
}

static void test_kge_grad(void)
{
    tg_real q[KL * KB], obs[KL * KB];
    make_kge_case(q, obs);
    size_t count = tg_loss_count(obs, KL * KB);
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *qt = tg_leaf(ctx, TG_SHAPE(KL, KB), q), *S[2];
    CHECK(tg_loss_parts(ctx, TG_LOSS_KGE, qt, obs, NULL, count, S) == 0, "kge: %s", tg_error_message());
    CHECK(tg_backward(ctx, S[0]) == 0, "backward: %s", tg_error_message());
    double err = 0, gmax = 0;
    int finite = 1;
    for (int i = 0; i < KL * KB; i++) {
        finite &= isfinite((double)qt->grad[i]);
        gmax = fmax(gmax, fabs((double)qt->grad[i]));
#ifdef TG_DOUBLE
        const double h = 1e-6;
        tg_real save = q[i];
        q[i] = save + h;
        double up = kge_loss_value(q, obs, count);
        q[i] = save - h;
        double dn = kge_loss_value(q, obs, count);
        q[i] = save;
        err = fmax(err, fabs((up - dn) / (2 * h) - (double)qt->grad[i]));
#endif
    }
    CHECK(finite && gmax > 1e-3, "gradient finite and non-zero (max |g| %g)", gmax);
    CHECK(err < 1e-7 * fmax(1, gmax), "kge loss gradient vs central differences: max abs error %g", err);
    /* window 2 has no KGE: no gradient reaches it */
    double g2 = 0;
    for (int t = 0; t < KL; t++)
        g2 = fmax(g2, fabs((double)qt->grad[t * KB + 2]));
    CHECK(g2 == 0, "gradient into a window without KGE: %g", g2);
    tg_ctx_free(&ctx);
}

int main(void)
{
    test_mse_nse();
    test_kge_value();
    test_kge_grad();
    return tg_test_summary();
}
