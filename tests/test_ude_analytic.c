/* test_ude_analytic.c — accuracy against a known solution: the linear reservoir
 *   dS/dt = p_d − k S   (p piecewise constant per day),
 *   S_{d+1} = p_d/k + (S_d − p_d/k) e^{−k},
 *   dS_{d+1}/dk = −p_d/k² (1 − e^{−k}) + e^{−k} dS_d/dk − (S_d − p_d/k) e^{−k}.
 * Adaptive DOPRI5 / BS32 error follows the tolerance; RK4 converges with order 4 and
 * backward Euler with order 1 in the step; the adjoint dS_T/dk, dS_T/dS0 and dS_T/dp_d
 * match the analytic derivatives to within the discretisation error. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "terragrad/ude.h"

enum { T = 15 };
static const double K = 0.7, S0V = 3.0;
static double PD[T];

static int lin_rhs(void *ud, const tg_ude_args *a, tg_real *dS)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        if (!a->active || a->active[b])
            dS[b] = a->u[b] - a->theta[b] * a->S[b];
    return 0;
}
static int lin_jvp(void *ud, const tg_ude_args *a, const tg_real *v, tg_real *Jv)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        Jv[b] = -a->theta[b] * v[b];
    return 0;
}
static int lin_vjp(void *ud, const tg_ude_args *a, const tg_real *w, tg_real *S_bar, tg_real *theta_bar,
                   tg_real *u_bar)
{
    (void)ud;
    for (int b = 0; b < a->B; b++) {
        if (S_bar)
            S_bar[b] += -a->theta[b] * w[b];
        if (theta_bar)
            theta_bar[b] += -a->S[b] * w[b];
        if (u_bar)
            u_bar[b] += w[b];
    }
    return 0;
}
static const tg_ude_fns lin = {"linear_reservoir", 1, 1, 1, lin_rhs, lin_jvp, lin_vjp};

typedef struct {
    double err;          /* max |S_d − exact| over days */
    double gk, gs, gp0;  /* adjoint dS_T/dk, dS_T/dS0, dS_T/dp_0 */
    long steps;
} run;

static run solve(const tg_ude_opts *o)
{
    run r = {NAN, NAN, NAN, NAN, 0};
    tg_ude_mlp m;
    tg_ude_mlp_setup(&m, 1, 1, 1, 0, -1, 0); /* no network */
    tg_real s0 = (tg_real)S0V, k = (tg_real)K, p[T], seed[T] = {0};
    for (int d = 0; d < T; d++)
        p[d] = (tg_real)PD[d];
    seed[T - 1] = 1;
    tg_ude_stats st;
    memset(&st, 0, sizeof st);
    tg_ude_stats_init(&st);
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *S = tg_leaf(ctx, TG_SHAPE(1, 1), &s0), *th = tg_leaf(ctx, TG_SHAPE(1, 1), &k),
              *u = tg_leaf(ctx, TG_SHAPE(T, 1, 1), p);
    tg_tensor *y = tg_ude_solve(ctx, &lin, NULL, &m, T, S, th, u, NULL, o, &st);
    if (y && !tg_backward_seed(ctx, y, seed)) {
        double s = S0V, e = exp(-K);
        r.err = 0;
        for (int d = 0; d < T; d++) {
            s = PD[d] / K + (s - PD[d] / K) * e;
            r.err = fmax(r.err, fabs((double)y->data[d] - s));
        }
        r.gk = (double)th->grad[0], r.gs = (double)S->grad[0], r.gp0 = (double)u->grad[0];
        r.steps = st.accepted;
    } else
        fprintf(stderr, "solve: %s\n", tg_error_message());
    tg_ctx_free(&ctx);
    return r;
}

int main(void)
{
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    for (int d = 0; d < T; d++)
        PD[d] = 5.0 * tg_rng_uniform(&rng);
    /* analytic derivatives of S_T */
    double s = S0V, ds = 0, e = exp(-K);
    for (int d = 0; d < T; d++) {
        ds = -PD[d] / (K * K) * (1 - e) + e * ds - (s - PD[d] / K) * e;
        s = PD[d] / K + (s - PD[d] / K) * e;
    }
    const double gk = ds, gs = pow(e, T), gp0 = (1 - e) / K * pow(e, T - 1);
    printf("exact S_T = %.10f, dS_T/dk = %.10f, dS_T/dS0 = %.3e, dS_T/dp_0 = %.3e\n", s, gk, gs, gp0);

    /* adaptive: error tracks the tolerance */
    const int adapt[2] = {TG_UDE_DOPRI5, TG_UDE_BS32};
    const char *an[2] = {"DOPRI5", "BS32"};
#ifdef TG_DOUBLE
    const double tols[3] = {1e-4, 1e-6, 1e-8};
    const int ntol = 3;
#else
    const double tols[3] = {1e-3, 1e-4, 0};
    const int ntol = 2;
#endif
    /* dS_T/dS0 = e^{-kT} ~ 3e-5 and dS_T/dp_0 ~ 4e-5 are tiny, so they are compared
     * relatively (an absolute tolerance of 200 x rtol, as before, accepted 0 or the wrong
     * sign). Step control bounds the error of S ~ 5, not of these derivatives: their
     * relative error is a product of per-step errors, measured 1.3-23 x rtol for DOPRI5 and
     * 116-205 x rtol for BS32 (rtol 1e-3 .. 1e-8, float and double). The factors below keep a
     * margin of ~2.5 and stay below 1/rtol, so a zero or a sign flip always fails. */
    const double RTOL_ADJ[2] = {50, 500};
    for (int a = 0; a < 2; a++) {
        double prev = INFINITY;
        for (int i = 0; i < ntol; i++) {
            tg_ude_opts o = tg_ude_defaults(adapt[a]);
            o.rtol = tols[i], o.atol = tols[i] * 1e-2;
            run r = solve(&o);
            double ge = fabs(r.gk - gk) / fabs(gk);
            printf("%-6s rtol %.0e: %5ld steps, max state error %.2e, dS_T/dk rel error %.2e\n", an[a], tols[i],
                   r.steps, r.err, ge);
            /* S ~ 5: a global error of a few tolerances × scale */
            CHECK(r.err < 20 * tols[i] * 5, "%s rtol %g: error %.3e", an[a], tols[i], r.err);
            CHECK(r.err < prev, "%s: error should fall with the tolerance", an[a]);
            CHECK(ge < 200 * tols[i], "%s rtol %g: dS_T/dk rel error %.3e", an[a], tols[i], ge);
            CHECK_CLOSE(r.gs, gs, RTOL_ADJ[a] * tols[i], 0);
            CHECK_CLOSE(r.gp0, gp0, RTOL_ADJ[a] * tols[i], 0);
            prev = r.err;
        }
    }

    /* fixed steps: observed orders */
    const int fixed[2] = {TG_UDE_RK4, TG_UDE_BEULER};
    const char *fn[2] = {"RK4", "BEULER"};
    const int sub[2][3] = {{2, 4, 8}, {20, 40, 80}};
    const double order[2] = {4, 1};
    for (int a = 0; a < 2; a++) {
        double errs[3];
        run r = {0};
        for (int i = 0; i < 3; i++) {
            tg_ude_opts o = tg_ude_defaults(fixed[a]);
            o.substeps = sub[a][i];
            r = solve(&o);
            errs[i] = r.err;
            printf("%-6s %2d steps/day: max state error %.3e, dS_T/dk %.8f\n", fn[a], sub[a][i], r.err, r.gk);
        }
        double p1 = log2(errs[0] / errs[1]), p2 = log2(errs[1] / errs[2]);
        printf("%-6s observed order %.2f, %.2f (expected %.0f)\n", fn[a], p1, p2, order[a]);
#ifdef TG_DOUBLE
        CHECK(fabs(p2 - order[a]) < 0.2, "%s: observed order %.3f", fn[a], p2);
#else
        CHECK(fabs(p1 - order[a]) < 0.5, "%s: observed order %.3f", fn[a], p1);
#endif
        /* gradient of the finest run: first-order accurate for BE, fourth for RK4 */
        double tolg = a == 0 ? 1e-4 : 2e-2;
        CHECK(fabs(r.gk - gk) < tolg * fabs(gk), "%s: dS_T/dk %.8f vs %.8f", fn[a], r.gk, gk);
    }
    return tg_test_summary();
}
