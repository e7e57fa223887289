/* test_loss_nsekge.c — loss.type nse_kge (src/train/loss_nsekge.c):
 *   1. sim == obs on a series whose windows all share the period's moments: the alpha and
 *      beta terms are zero; sim = 1.2 obs: both are (1.2 - 1)^2;
 *   2. whole-period statistics by hand: two windows of one basin with different means; the
 *      beta term is (mu_s / mu_o - 1)^2 of the whole period (small loss.ema: the plain mean
 *      of the windows) and, for ema 0.5, of the hand-computed bias-corrected average; the
 *      per-window beta would give another value (checked, so the test tells them apart);
 *   3. the gradient of the whole loss (NSE* + log RMSE + alpha/beta terms with their
 *      shifts frozen) w.r.t. the simulated flow against central differences (double build;
 *      float checks the value matches the update's and the gradient is finite). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/train_internal.h"

/* One basin of T days from day 0 with flow q. */
static void make_basin(tg_basin *b, const char *id, int T, const double *q)
{
    CHECK(tg_basin_init(b, id, 0, T) == 0, "basin_init");
    tg_real *Q = tg_basin_add_var(b, TG_VAR_Q);
    for (int t = 0; t < T; t++)
        Q[t] = (tg_real)q[t];
}

/* Moments of windows (columns of a (Lp, nb) batch) and the update, as the trainer does. */
static void visit(tg_nsekge_state *s, const tg_real *q, const tg_real *obs, int Lp, int nb, const int *bi,
                  double *delta, double *vb, double *va)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *m1, *m2;
    double vals[3 * 8];
    CHECK(nb <= 8 && tg_nsekge_moments(ctx, tg_from(ctx, TG_SHAPE(Lp, nb), q), obs, &m1, &m2, vals) == 0,
          "moments: %s", tg_error_message());
    tg_nsekge_update(s, bi, vals, nb, delta, vb, va);
    tg_ctx_free(&ctx);
}

/* 1. A 10-day periodic flow and 20-day windows: every window has the period's mean and
 *    mean square, so any running average of them is the whole-period value. */
static void test_zero_when_equal(void)
{
    enum { T = 200, W = 20 };
    double q[T];
    for (int t = 0; t < T; t++)
        q[t] = 2 + sin(2 * M_PI * t / 10.0);
    tg_basin b;
    make_basin(&b, "p", T, q);
    tg_nsekge_state s;
    CHECK(tg_nsekge_state_init(&s, &b, 1, 0, T - 1, 0.3) == 0, "init: %s", tg_error_message());
    CHECK_CLOSE(s.mu_o[0], 2, 1e-12, 1e-12); /* sum of a full sine period is 0 up to rounding */
    CHECK_CLOSE(s.sd_o[0], sqrt(0.5), 1e-6, 0);
    for (int scale = 0; scale < 2; scale++) {
        const double c = scale ? 1.2 : 1.0;
        double vb = -1, va = -1, delta[2];
        for (int k = 0; k < T / W; k++) { /* every window of the period once, in order */
            tg_real sim[W], obs[W];
            for (int t = 0; t < W; t++) {
                obs[t] = (tg_real)q[k * W + t];
                sim[t] = (tg_real)(c * q[k * W + t]);
            }
            visit(&s, sim, obs, W, 1, (int[]){0}, delta, &vb, &va);
        }
        /* alpha = sqrt(sigma^2 + 1e-6) / sigma: (alpha - 1)^2 ~ (1e-6 / (2 * 0.5))^2 = 1e-12 at c = 1;
         * float: moments of 20 values near 2..3 carry ~1e-6 relative error -> 1e-12 (atol 1e-10) */
        const double want = (c - 1) * (c - 1);
        CHECK_CLOSE(vb, want, 1e-4, 1e-10);
        CHECK_CLOSE(va, want, 1e-4, 1e-10);
        if (scale == 0)
            CHECK(vb < 1e-10 && va < 1e-10, "sim == obs: beta term %g, alpha term %g", vb, va);
        /* the second pass starts from fresh estimates */
        memset(s.m1, 0, sizeof(double)), memset(s.m2, 0, sizeof(double)), s.visits[0] = 0;
    }
    tg_nsekge_state_free(&s);
    tg_basin_free(&b);
}

/* 2. Period = window A (obs 1,3,1,3: mean 2) then window B (obs 3,5,3,5: mean 4): mu_o = 3.
 *    Sim 1.5 obs in A (mean 3), = obs in B (mean 4): whole-period mu_s = 3.5, beta term
 *    (3.5 / 3 - 1)^2 = 1/36; per window it would be ((1.5 - 1)^2 + 0) / 2 = 0.125. */
static void test_whole_period_beta(void)
{
    const double q[8] = {1, 3, 1, 3, 3, 5, 3, 5};
    tg_basin b;
    make_basin(&b, "h", 8, q);
    const tg_real obsA[4] = {1, 3, 1, 3}, simA[4] = {1.5, 4.5, 1.5, 4.5};
    const tg_real obsB[4] = {3, 5, 3, 5};
    const double ema[2] = {1e-7, 0.5};
    /* ema 0.5, A then B: raw average 0.5 * (0.5 * 3) + 0.5 * 4 = 2.75, bias correction
     * 1 - 0.5^2 = 0.75 -> 11/3. ema -> 0: the plain mean (3 + 4) / 2. */
    const double mu_s[2] = {3.5, 11.0 / 3};
    for (int e = 0; e < 2; e++) {
        tg_nsekge_state s;
        CHECK(tg_nsekge_state_init(&s, &b, 1, 0, 7, ema[e]) == 0, "init: %s", tg_error_message());
        CHECK_CLOSE(s.mu_o[0], 3, 1e-15, 0);
        double delta[2], vb, va;
        visit(&s, simA, obsA, 4, 1, (int[]){0}, delta, &vb, &va);
        /* after one visit the estimate is that window's (bias correction of the first visit) */
        CHECK_CLOSE(vb, 0, 0, 1e-12);
        visit(&s, obsB, obsB, 4, 1, (int[]){0}, delta, &vb, &va);
        const double want = (mu_s[e] / 3 - 1) * (mu_s[e] / 3 - 1);
        /* ema 1e-7: the weights differ from 1/2 by ~1e-7 relative */
        CHECK_CLOSE(vb, want, e == 0 ? 1e-6 : 1e-12, 0);
        CHECK(fabs(vb - 0.125) > 0.05, "beta term %g equals the per-window value", vb);
        /* delta shifts window B's mean to the estimate */
        CHECK_CLOSE(4 + delta[0], mu_s[e], e == 0 ? 1e-6 : 1e-12, 0);
        tg_nsekge_state_free(&s);
    }
    tg_basin_free(&b);
}

/* 3. Gradient: a batch of 3 windows x 12 days, windows 0 and 2 of basin 0 (seen before),
 *    window 1 of basin 1; a missing day in window 1. */
enum { GL = 12, GB = 3 };
typedef struct {
    const tg_real *obs;
    const double *bstd, *delta;
    const int *bi;
    const tg_nsekge_state *s;
    tg_nsekge_weights w;
    size_t count;
} gcase;

static tg_tensor *loss_of(tg_ctx *ctx, tg_tensor *qt, const gcase *g)
{
    tg_tensor *S[2], *m1, *m2;
    double vals[3 * GB], c[2];
    if (tg_nsekge_parts(ctx, qt, g->obs, g->bstd, g->count, g->w.log_eps, S) ||
        tg_nsekge_moments(ctx, qt, g->obs, &m1, &m2, vals))
        return NULL;
    double Sv[2] = {(double)S[0]->data[0], (double)S[1]->data[0]};
    tg_nsekge_combine(Sv, &g->w, c);
    /* the trainer's linearisation c . S has the gradient of f(S) at this S */
    tg_tensor *lin = tg_add(ctx, tg_muls(ctx, S[0], (tg_real)c[0]), tg_muls(ctx, S[1], (tg_real)c[1]));
    return tg_add(ctx, lin, tg_nsekge_terms(ctx, m1, m2, g->delta, g->bi, g->s, GB, g->w.beta, g->w.alpha));
}

#ifdef TG_DOUBLE
/* The loss value f(S) + terms for q (no tape). */
static double value_of(const tg_real *q, const gcase *g)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_ctx_set_grad(ctx, 0);
    tg_tensor *qt = tg_from(ctx, TG_SHAPE(GL, GB), q), *S[2], *m1, *m2;
    double vals[3 * GB], c[2], v = NAN;
    if (!tg_nsekge_parts(ctx, qt, g->obs, g->bstd, g->count, g->w.log_eps, S) &&
        !tg_nsekge_moments(ctx, qt, g->obs, &m1, &m2, vals)) {
        double Sv[2] = {(double)S[0]->data[0], (double)S[1]->data[0]};
        tg_tensor *t = tg_nsekge_terms(ctx, m1, m2, g->delta, g->bi, g->s, GB, g->w.beta, g->w.alpha);
        v = tg_nsekge_combine(Sv, &g->w, c) + (double)t->data[0];
    }
    tg_ctx_free(&ctx);
    return v;
}
#endif

static void test_gradient(void)
{
    double q0[200], q1[200];
    for (int t = 0; t < 200; t++) {
        q0[t] = 1.5 + sin(0.2 * t) + 0.3 * cos(0.05 * t);
        q1[t] = 0.5 + 0.4 * fabs(sin(0.13 * t));
    }
    tg_basin b[2];
    make_basin(&b[0], "a", 200, q0);
    make_basin(&b[1], "b", 200, q1);
    tg_nsekge_state s;
    CHECK(tg_nsekge_state_init(&s, b, 2, 0, 199, 0.2) == 0, "init: %s", tg_error_message());
    /* earlier visits of basin 0: a window simulated 20 % high */
    {
        tg_real sim[GL], obs[GL];
        double d[2], vb, va;
        for (int t = 0; t < GL; t++) {
            obs[t] = (tg_real)q0[100 + t];
            sim[t] = (tg_real)(1.2 * q0[100 + t]);
        }
        visit(&s, sim, obs, GL, 1, (int[]){0}, d, &vb, &va);
    }
    tg_real q[GL * GB], obs[GL * GB];
    const int bi[GB] = {0, 1, 0}, off[GB] = {10, 40, 150};
    for (int t = 0; t < GL; t++)
        for (int k = 0; k < GB; k++) {
            const double o = bi[k] ? q1[off[k] + t] : q0[off[k] + t];
            obs[t * GB + k] = (tg_real)o;
            q[t * GB + k] = (tg_real)(0.9 * o + 0.2 + 0.15 * sin(0.9 * t + k)); /* positive: log defined */
        }
    obs[4 * GB + 1] = (tg_real)NAN;
    double delta[2 * GB], vb, va;
    visit(&s, q, obs, GL, GB, bi, delta, &vb, &va);
    const double bstd[GB] = {s.sd_o[0], s.sd_o[1], s.sd_o[0]};
    gcase g = {obs, bstd, delta, bi, &s, {1, 0.7, 0.4, 0.3, 0.2, 0.01}, tg_loss_count(obs, GL * GB)};
    CHECK(vb > 1e-3 && va > 1e-3, "test case too easy: beta term %g, alpha term %g", vb, va);

    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *qt = tg_leaf(ctx, TG_SHAPE(GL, GB), q);
    tg_tensor *L = loss_of(ctx, qt, &g);
    CHECK(L && tg_backward(ctx, L) == 0, "loss/backward: %s", tg_error_message());
    /* the value of the tape terms is what the update reported for the batch */
    {
        tg_ctx *c2 = tg_ctx_create();
        tg_tensor *m1, *m2;
        double vals[3 * GB];
        tg_nsekge_moments(c2, tg_from(c2, TG_SHAPE(GL, GB), q), obs, &m1, &m2, vals);
        tg_tensor *t = tg_nsekge_terms(c2, m1, m2, delta, bi, &s, GB, g.w.beta, g.w.alpha);
        CHECK_CLOSE((double)t->data[0], g.w.beta * vb + g.w.alpha * va, 64 * TG_TEST_EPS, 0);
        tg_ctx_free(&c2);
    }
    double err = 0, gmax = 0;
    int finite = 1;
    for (int i = 0; i < GL * GB; i++) {
        finite &= isfinite((double)qt->grad[i]);
        gmax = fmax(gmax, fabs((double)qt->grad[i]));
#ifdef TG_DOUBLE
        const double h = 1e-6;
        const tg_real save = q[i];
        q[i] = save + h;
        const double up = value_of(q, &g);
        q[i] = save - h;
        const double dn = value_of(q, &g);
        q[i] = save;
        /* central differences: truncation ~h^2 |f'''| ~ 1e-12, rounding ~1e-16 / 1e-6 */
        err = fmax(err, fabs((up - dn) / (2 * h) - (double)qt->grad[i]));
#endif
    }
    CHECK(finite && gmax > 1e-3, "gradient finite and non-zero (max |g| %g)", gmax);
    CHECK(err <= 1e-7 * gmax, "nse_kge gradient vs central differences: max abs error %g (max |g| %g)", err, gmax);
    tg_ctx_free(&ctx);
    tg_nsekge_state_free(&s);
    tg_basin_free(&b[0]);
    tg_basin_free(&b[1]);
}

int main(void)
{
    test_zero_when_equal();
    test_whole_period_beta();
    test_gradient();
    return tg_test_summary();
}
