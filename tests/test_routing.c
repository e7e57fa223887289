/* test_routing.c — gamma unit hydrograph and causal convolution: analytic ordinates,
 * mass conservation, impulse response, strided columns, and gradients w.r.t. runoff and
 * the routing parameters (u, and through them a and θ) against finite differences. */
#include "test_hbv_common.h"

#ifdef TG_DOUBLE
#define TOL 1e-12
#define GTOL 1e-6
#else
#define TOL 2e-6
#define GTOL 2e-2
#endif

static void test_ordinates(void)
{
    /* a = 1, θ = 1: w_k ∝ exp(-(k + 1/2)), a geometric series:
     * w_k = e^-k (1 - e^-1) / (1 - e^-15); w_0 = 0.632120861..., w_3 = 0.031471... */
    tg_real a = TG_R(1.0), th = TG_R(1.0), w[TG_UH_LEN];
    tg_uh_gamma_forward(w, &a, &th, 1);
    double norm = (1 - exp(-1.0)) / (1 - exp(-15.0));
    CHECK_CLOSE(w[0], norm, TOL, 0);
    CHECK_CLOSE(w[3], exp(-3.0) * norm, TOL, 0);
    CHECK_CLOSE(w[14], exp(-14.0) * norm, TOL, 0);
    /* a = 3, θ = 2: mode of t^2 e^(-t/2) at t = 4: the largest ordinate is k = 3 or 4 */
    a = TG_R(3.0);
    th = TG_R(2.0);
    tg_uh_gamma_forward(w, &a, &th, 1);
    int kmax = 0;
    for (int k = 1; k < TG_UH_LEN; k++)
        if (w[k] > w[kmax]) kmax = k;
    CHECK(kmax == 3 || kmax == 4, "mode at k = %d", kmax);
    /* ratio of two ordinates is the unnormalised ratio: (4.5/3.5)^2 e^(-1/2) */
    CHECK_CLOSE(w[4] / w[3], pow(4.5 / 3.5, 2.0) * exp(-0.5), TOL, 0);
    /* every (a, θ) in the ranges: positive and summing to 1 */
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_real u[2 * 50], aa[50], tt[50], ww[50 * TG_UH_LEN];
    for (int i = 0; i < 100; i++) u[i] = (tg_real)tg_rng_uniform(&r);
    u[0] = TG_R(0.0); u[1] = TG_R(0.0); u[2] = TG_R(1.0); u[3] = TG_R(1.0);   /* range corners */
    tg_routing_scale_forward(aa, tt, u, 50);
    CHECK_CLOSE(aa[0], 0.1, TOL, 0);
    CHECK_CLOSE(tt[1], 7.0, TOL, 0);
    tg_uh_gamma_forward(ww, aa, tt, 50);
    double worst = 0;
    int neg = 0;
    for (int b = 0; b < 50; b++) {
        double s = 0;
        for (int k = 0; k < TG_UH_LEN; k++) { s += (double)ww[b * TG_UH_LEN + k]; neg += ww[b * TG_UH_LEN + k] < TG_R(0.0); }
        worst = fmax(worst, fabs(s - 1));
    }
    CHECK(worst < 10 * TOL && neg == 0, "ordinates: |sum - 1| = %g, %d negative", worst, neg);
}

static void test_convolution(void)
{
    enum { T = 60, B = 3 };
    tg_real a[B] = {TG_R(0.5), TG_R(1.7), TG_R(2.9)}, th[B] = {TG_R(0.7), TG_R(2.5), TG_R(6.0)};
    tg_real w[B * TG_UH_LEN], q[T * B], y[T * B];
    tg_uh_gamma_forward(w, a, th, B);
    /* impulse of 2 mm on day 5 in basin 1: y[5 + k] = 2 w_k */
    memset(q, 0, sizeof q);
    q[5 * B + 1] = TG_R(2.0);
    tg_uh_conv_forward(y, B, q, B, w, T, B);
    for (int k = 0; k < TG_UH_LEN; k++) CHECK_CLOSE(y[(5 + k) * B + 1], 2 * w[B * 0 + TG_UH_LEN + k], TOL, 0);
    CHECK(y[4 * B + 1] == TG_R(0.0) && y[5 * B] == TG_R(0.0), "causality / basin independence");
    /* mass: a pulse train that ends 15 days before T is fully routed within T */
    tg_rng r;
    tg_rng_seed(&r, 2);
    for (int i = 0; i < T * B; i++) q[i] = i < (T - TG_UH_LEN) * B ? (tg_real)(10 * tg_rng_uniform(&r)) : TG_R(0.0);
    tg_uh_conv_forward(y, B, q, B, w, T, B);
    for (int b = 0; b < B; b++) {
        double sq = 0, sy = 0;
        for (int t = 0; t < T; t++) { sq += (double)q[t * B + b]; sy += (double)y[t * B + b]; }
        CHECK_CLOSE(sy, sq, 10 * TOL, 0);
    }
    /* a column of a wider (T, 4, B) array routes like the contiguous copy */
    tg_real wide[T * 4 * B], y2[T * 4 * B];
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            for (int c = 0; c < 4; c++) wide[(t * 4 + c) * B + b] = TG_R(-1.0);
            wide[(t * 4 + 2) * B + b] = q[t * B + b];
        }
    tg_uh_conv_forward(y2 + 1 * B, 4 * B, wide + 2 * B, 4 * B, w, T, B);
    int same = 1;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) same &= y2[(t * 4 + 1) * B + b] == y[t * B + b];
    CHECK(same, "strided routing differs from contiguous");
}

/* loss(u, q) = Σ c[t,b] y[t,b], y = conv(q, w(a(u), θ(u))) */
enum { GT = 40, GB = 3 };
static double route_loss(const tg_real *u, const tg_real *q, const tg_real *c)
{
    tg_real a[GB], th[GB], w[GB * TG_UH_LEN], y[GT * GB];
    tg_routing_scale_forward(a, th, u, GB);
    tg_uh_gamma_forward(w, a, th, GB);
    tg_uh_conv_forward(y, GB, q, GB, w, GT, GB);
    double s = 0;
    for (int i = 0; i < GT * GB; i++) s += (double)c[i] * (double)y[i];
    return s;
}

static void test_gradients(void)
{
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_real u[2 * GB], q[GT * GB], c[GT * GB];
    for (int i = 0; i < 2 * GB; i++) u[i] = (tg_real)(0.1 + 0.8 * tg_rng_uniform(&r));
    for (int i = 0; i < GT * GB; i++) { q[i] = (tg_real)(5 * tg_rng_uniform(&r)); c[i] = (tg_real)(2 * tg_rng_uniform(&r) - 1); }
    /* analytic: c -> (g_q, g_w) -> (g_a, g_θ) -> g_u */
    tg_real a[GB], th[GB], w[GB * TG_UH_LEN], gw[GB * TG_UH_LEN], gq[GT * GB], ga[GB], gth[GB], gu[2 * GB];
    memset(gw, 0, sizeof gw); memset(gq, 0, sizeof gq); memset(ga, 0, sizeof ga);
    memset(gth, 0, sizeof gth); memset(gu, 0, sizeof gu);
    tg_routing_scale_forward(a, th, u, GB);
    tg_uh_gamma_forward(w, a, th, GB);
    tg_uh_conv_backward(gq, GB, gw, c, GB, q, GB, w, GT, GB);
    tg_uh_gamma_backward(ga, gth, gw, w, a, th, GB);
    tg_routing_scale_backward(gu, ga, gth, GB);
#ifdef TG_DOUBLE
    const double h = 1e-6;
#else
    const double h = 1e-2;
#endif
    double worst = 0;
    for (int i = 0; i < 2 * GB; i++) {
        tg_real u0 = u[i];
        u[i] = (tg_real)((double)u0 + h); double lp = route_loss(u, q, c);
        u[i] = (tg_real)((double)u0 - h); double lm = route_loss(u, q, c);
        u[i] = u0;
        double fd = (lp - lm) / (2 * h);
        worst = fmax(worst, fabs(fd - (double)gu[i]) / fmax(fabs(fd), 1e-3));
    }
    printf("routing: worst rel err d/du %.2e\n", worst);
    CHECK(worst < GTOL, "routing parameter gradient rel err %g", worst);
    worst = 0;
    for (int i = 0; i < GT * GB; i += 7) {
        tg_real q0 = q[i];
        q[i] = (tg_real)((double)q0 + h); double lp = route_loss(u, q, c);
        q[i] = (tg_real)((double)q0 - h); double lm = route_loss(u, q, c);
        q[i] = q0;
        double fd = (lp - lm) / (2 * h);
        worst = fmax(worst, fabs(fd - (double)gq[i]) / fmax(fabs(fd), 1e-3));
    }
    printf("routing: worst rel err d/dq %.2e\n", worst);
    CHECK(worst < GTOL, "routing runoff gradient rel err %g", worst);
    /* NULL outputs are allowed */
    tg_uh_conv_backward(NULL, GB, gw, c, GB, q, GB, w, GT, GB);
    tg_uh_conv_backward(gq, GB, NULL, c, GB, q, GB, w, GT, GB);
}

int main(void)
{
    test_ordinates();
    test_convolution();
    test_gradients();
    return tg_test_summary();
}
