/* test_implicit_tape.c — the implicit-step op and an implicit run as tape nodes:
 *  - backward Euler on dx/dt = −k x chained with tg_implicit_step: x_N, dx_N/dk and
 *    dx_N/dx0 in closed form, one tape node per step;
 *  - a Richards run as ONE node (tg_implicit_run) under a loss built from library ops:
 *    gradients equal the raw trajectory adjoint's (verified against FD elsewhere), with and
 *    without checkpointing, plus central differences through the tape for a few inputs;
 *  - checkpointing lowers the arena peak; no-grad mode records nothing and stores nothing;
 *  - bad shapes and a failing Newton solve surface as a sticky status with a message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifdef TG_DOUBLE
#define TOL 1e-11
#define FDTOL 1e-6
#else
#define TOL 1e-4
#define FDTOL 0.25
#endif

/* ------------------------------------------------------------ toy */
static int decay_res(void *ud, const tg_implicit_args *a, tg_real *F)
{
    tg_real dt = *(tg_real *)ud;
    for (int b = 0; b < a->B; b++)
        F[b] = a->xn[b] - a->x[b] + dt * a->theta[b] * a->xn[b];
    return 0;
}
static int decay_jac(void *ud, const tg_implicit_args *a, tg_real *J)
{
    tg_real dt = *(tg_real *)ud;
    for (int b = 0; b < a->B; b++)
        J[b] = 1 + dt * a->theta[b];
    return 0;
}
static int decay_adj(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *xb,
                     tg_real *thb, tg_real *ub)
{
    tg_real dt = *(tg_real *)ud;
    (void)ub;
    for (int b = 0; b < a->B; b++) {
        if (xb)
            xb[b] -= mu[b];
        if (thb)
            thb[b] += dt * a->xn[b] * mu[b];
    }
    return 0;
}

static void test_decay_chain(void)
{
    enum { B = 3, N = 15 };
    tg_real dt = TG_R(0.4);
    tg_implicit_fns f = {"decay", 1, 1, 0, TG_JAC_DENSE, decay_res, decay_jac, decay_adj};
    tg_ctx *ctx = tg_ctx_create();
    tg_real kv[B] = {0.2, 1.0, 3.0}, xv[B] = {1.0, -2.0, 0.5};
    tg_tensor *k = tg_leaf(ctx, TG_SHAPE(B, 1), kv), *x0 = tg_leaf(ctx, TG_SHAPE(B, 1), xv);
    tg_tensor *x = x0;
    for (int t = 0; t < N; t++)
        x = tg_implicit_step(ctx, &f, &dt, t, x, k, NULL, NULL, NULL);
    tg_tensor *loss = tg_sum(ctx, x);
    CHECK(loss && tg_backward(ctx, loss) == 0, "decay chain: %s", tg_error_message());
    CHECK(tg_ctx_tape_length(ctx) == N + 1, "one node per step: %zu", tg_ctx_tape_length(ctx));
    for (int b = 0; b < B && loss; b++) {
        double r = 1 + (double)kv[b] * (double)dt;
        CHECK_CLOSE(x->data[b], (double)xv[b] / pow(r, N), TOL, 0);
        CHECK_CLOSE(x0->grad[b], pow(r, -N), TOL, 0);
        CHECK_CLOSE(k->grad[b], -N * (double)dt * (double)xv[b] * pow(r, -N - 1), TOL, 0);
    }
    tg_ctx_free(&ctx);
}

/* ------------------------------------------------------------ Richards run */
enum { RB = 2, RN = 10, RT = 40, NOUT = 3 };
static const int out_steps[NOUT] = {10, 25, 40};

typedef struct {
    tg_richards m;
    tg_implicit_fns f;
    tg_real dts[RT];
    tg_real p[RB * 5], x0[RB * RN], u[RT * RB * 2], w[NOUT * RB * RN];
} rich;

static void rich_init(rich *r)
{
    for (int t = 0; t < RT; t++)
        r->dts[t] = 900;
    tg_richards m = {&tg_soil_vgm, RN, 50, TG_BC_FLUX, TG_BC_FREE_DRAINAGE, RT, r->dts};
    r->m = m;
    tg_richards_fns(&r->m, &r->f);
    tg_real p[RB * 5] = {0.036, 1.56, 2.89e-4, 0.078, 0.43, 0.02, 1.41, 1.2e-4, 0.09, 0.46};
    memcpy(r->p, p, sizeof p);
    for (int b = 0; b < RB; b++)
        for (int i = 0; i < RN; i++)
            r->x0[b * RN + i] = TG_R(-150.0) + TG_R(4.0) * (tg_real)i - TG_R(20.0) * (tg_real)b;
    for (int t = 0; t < RT; t++)
        for (int b = 0; b < RB; b++) {
            r->u[(t * RB + b) * 2] = t < 15 ? TG_R(6e-5) : TG_R(5e-6);
            r->u[(t * RB + b) * 2 + 1] = 0;
        }
    for (int i = 0; i < NOUT * RB * RN; i++)
        r->w[i] = TG_R(0.01) * (tg_real)((i * 7) % 11 - 5);
}

/* loss = Σ w ⊙ ψ(out_steps) through one tape node; grads into g (p, x0, u) if given */
static double rich_tape(rich *r, int ckpt, tg_real *g, size_t *arena_peak)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *p = tg_leaf(ctx, TG_SHAPE(RB, 5), r->p);
    tg_tensor *x0 = tg_leaf(ctx, TG_SHAPE(RB, RN), r->x0);
    tg_tensor *u = tg_leaf(ctx, TG_SHAPE(RT, RB, 2), r->u);
    tg_tensor *w = tg_from(ctx, TG_SHAPE(NOUT, RB, RN), r->w);
    if (!g)
        tg_ctx_set_grad(ctx, 0);
    tg_tensor *y = tg_implicit_run(ctx, &r->f, &r->m, RT, x0, p, u, NOUT, out_steps, NULL, ckpt,
                                   NULL);
    tg_tensor *loss = tg_sum(ctx, tg_mul(ctx, w, y));
    double L = loss ? (double)loss->data[0] : nan("");
    if (g && loss) {
        CHECK(tg_backward(ctx, loss) == 0, "richards tape backward: %s", tg_error_message());
        memcpy(g, p->grad, RB * 5 * sizeof *g);
        memcpy(g + RB * 5, x0->grad, RB * RN * sizeof *g);
        memcpy(g + RB * 5 + RB * RN, u->grad, RT * RB * 2 * sizeof *g);
    }
    if (!g)
        CHECK(tg_ctx_tape_length(ctx) == 0, "no-grad mode recorded %zu nodes",
              tg_ctx_tape_length(ctx));
    if (arena_peak)
        *arena_peak = tg_ctx_arena_peak(ctx);
    tg_ctx_free(&ctx);
    return L;
}

static const rich *grad_rich;
static int w_grad(void *ud, int t, const tg_real *x, tg_real *xb, tg_real *thb)
{
    (void)ud, (void)x, (void)thb;
    for (int k = 0; k < NOUT; k++)
        if (out_steps[k] == t)
            for (int i = 0; i < RB * RN; i++)
                xb[i] += grad_rich->w[k * RB * RN + i];
    return 0;
}

static void test_richards_run(void)
{
    static rich r;
    rich_init(&r);
    enum { NG = RB * 5 + RB * RN + RT * RB * 2 };
    static tg_real g[NG], g2[NG], gr[NG];
    size_t peak_all, peak_ck, peak_nograd;
    double L = rich_tape(&r, 1, g, &peak_all);
    double L2 = rich_tape(&r, -1, g2, &peak_ck);
    double L3 = rich_tape(&r, 1, NULL, &peak_nograd);
    CHECK(isfinite(L) && L == L2 && L == L3, "losses %g %g %g", L, L2, L3);
    double d = 0;
    for (int i = 0; i < NG; i++)
        d = fmax(d, fabs((double)(g[i] - g2[i])));
    CHECK(d == 0, "checkpointed tape gradient differs by %g", d);
    /* stored states: 41 x (2 x 10) reals; with k = 7: 7 checkpoints + an 8-state segment */
    CHECK(peak_ck + 20 * RB * RN * sizeof(tg_real) < peak_all, "arena peak %zu (ckpt) vs %zu",
          peak_ck, peak_all);
    CHECK(peak_nograd < peak_ck, "no-grad run stores no states: %zu vs %zu", peak_nograd, peak_ck);
    printf("arena peak: every state %zu B, checkpoints every 7 steps %zu B, no grad %zu B\n",
           peak_all, peak_ck, peak_nograd);

    /* the raw trajectory adjoint with the same seed */
    memset(gr, 0, sizeof gr);
    tg_implicit_traj *tr = NULL;
    int rc = tg_implicit_traj_forward(&r.f, &r.m, RB, RT, r.x0, r.p, r.u, NULL, 1, NULL, NULL, &tr,
                                      NULL);
    grad_rich = &r;
    rc |= tg_implicit_traj_backward(tr, w_grad, NULL, gr + RB * 5, gr, gr + RB * 5 + RB * RN);
    tg_implicit_traj_free(&tr);
    CHECK(rc == 0, "raw run: %s", tg_error_message());
    double worst = 0;
    for (int i = 0; i < NG; i++)
        worst = fmax(worst, tg_rel_err((double)g[i], (double)gr[i], 1e-12));
    CHECK(worst < TOL, "tape vs raw adjoint: %g", worst);

    /* central differences through the tape: Ks and n of column 1, a head, a flux */
    tg_real *vars[4] = {&r.p[5 + 2], &r.p[5 + 1], &r.x0[3], &r.u[(4 * RB + 1) * 2]};
    int gidx[4] = {5 + 2, 5 + 1, RB * 5 + 3, RB * 5 + RB * RN + (4 * RB + 1) * 2};
    for (int v = 0; v < 4; v++) {
        tg_real keep = *vars[v];
#ifdef TG_DOUBLE
        double h = 1e-4 * fabs((double)keep);
#else
        double h = 1e-2 * fabs((double)keep);
#endif
        double l[4], k4[4] = {-2, -1, 1, 2};
        for (int j = 0; j < 4; j++) {
            *vars[v] = (tg_real)((double)keep + k4[j] * h);
            l[j] = rich_tape(&r, 1, NULL, NULL);
        }
        *vars[v] = keep;
        double fd = (l[0] - 8 * l[1] + 8 * l[2] - l[3]) / (12 * h);
        CHECK(tg_rel_err((double)g[gidx[v]], fd, 1e-12) < FDTOL, "tape FD %d: %.10g vs %.10g", v,
              (double)g[gidx[v]], fd);
    }
}

/* ------------------------------------------------------------ errors */
static void test_errors(void)
{
    static rich r;
    rich_init(&r);
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *p = tg_leaf(ctx, TG_SHAPE(RB, 4), r.p); /* wrong: P = 5 */
    tg_tensor *x0 = tg_leaf(ctx, TG_SHAPE(RB, RN), r.x0);
    tg_tensor *u = tg_from(ctx, TG_SHAPE(RT, RB, 2), r.u);
    tg_tensor *y = tg_implicit_run(ctx, &r.f, &r.m, RT, x0, p, u, NOUT, out_steps, NULL, 1, NULL);
    CHECK(!y && tg_ctx_status(ctx) == TG_ESHAPE && strstr(tg_error_message(), "theta"),
          "shape error: status %d, %s", tg_ctx_status(ctx), tg_error_message());
    tg_ctx_free(&ctx);

    /* Newton capped at one iteration: the forward fails, the message names lane and step */
    ctx = tg_ctx_create();
    p = tg_leaf(ctx, TG_SHAPE(RB, 5), r.p);
    x0 = tg_leaf(ctx, TG_SHAPE(RB, RN), r.x0);
    u = tg_from(ctx, TG_SHAPE(RT, RB, 2), r.u);
    tg_newton_opts o = tg_newton_defaults();
    o.max_iter = 1;
    y = tg_implicit_run(ctx, &r.f, &r.m, RT, x0, p, u, NOUT, out_steps, &o, 1, NULL);
    CHECK(!y && tg_ctx_status(ctx) != 0 && strstr(tg_error_message(), "did not converge") &&
              strstr(tg_error_message(), "lane 0") && strstr(tg_error_message(), "step 0"),
          "Newton failure: status %d, %s", tg_ctx_status(ctx), tg_error_message());
    tg_ctx_free(&ctx);
}

int main(void)
{
    test_decay_chain();
    test_richards_run();
    test_errors();
    return tg_test_summary();
}
