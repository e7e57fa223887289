/* bench_implicit.c — memory and time of gradients through implicit solvers.
 *
 *  A. Richards (Celia case, 400 cells): peak memory of the adjoint backward with the
 *     Newton cap at 3 vs 30 — it must not depend on the iteration count.
 *  B. Richards, growing number of steps: peak memory linear in T when every state is
 *     stored, ~√T with checkpointing (k = ⌈√T⌉), and the recomputation's time cost.
 *  C. Plain AD through every Newton iteration (core ops, taped) vs the adjoint op, on a
 *     nonlinear reservoir dx/dt = −k x² + u for many basins: time, memory, and how far
 *     the two gradients are apart.
 * Memory is the step arena's high-water mark (tensors, tape, stored states, gradients)
 * plus, for the raw trajectory API, its own state bytes. Output: markdown tables.
 * usage: bench_implicit [--quick] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "terragrad.h"

/* ------------------------------------------------------------ Richards set-up */
typedef struct {
    tg_richards m;
    tg_implicit_fns f;
    tg_real *dts, *u, *psi0;
    tg_real p[7];
    int T, N;
} column;

static void column_init(column *c, int N, int T)
{
    const tg_real p[7] = {1.611e6, 3.96, 0.00944, 0.075, 0.287, 1.175e6, 4.74};
    memcpy(c->p, p, sizeof p);
    c->N = N, c->T = T;
    c->dts = malloc((size_t)T * sizeof *c->dts);
    c->u = malloc((size_t)T * 2 * sizeof *c->u);
    c->psi0 = malloc((size_t)N * sizeof *c->psi0);
    for (int t = 0; t < T; t++) {
        c->dts[t] = 1;
        c->u[2 * t] = TG_R(-20.7), c->u[2 * t + 1] = TG_R(-61.5);
    }
    for (int i = 0; i < N; i++)
        c->psi0[i] = TG_R(-61.5);
    tg_richards m = {&tg_soil_haverkamp, N, 40, TG_BC_DIRICHLET, TG_BC_DIRICHLET, T, c->dts};
    c->m = m;
    tg_richards_fns(&c->m, &c->f);
}

static void column_free(column *c)
{
    free(c->dts), free(c->u), free(c->psi0);
}

typedef struct {
    double t_fwd, t_bwd;
    size_t arena_peak;
    long iters;
    int max_iters;
    long failed;
    double grad_ks;
} run_stats;

/* The whole run as one tape node; loss = Σ ψ_T² / N. */
static int column_tape(column *c, const tg_newton_opts *o, int ckpt, run_stats *s)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_newton_report rep;
    tg_newton_report_init(&rep);
    double t0 = bench_wall();
    tg_tensor *p = tg_leaf(ctx, TG_SHAPE(1, 7), c->p);
    tg_tensor *x0 = tg_leaf(ctx, TG_SHAPE(1, c->N), c->psi0);
    tg_tensor *u = tg_leaf(ctx, TG_SHAPE(c->T, 1, 2), c->u);
    int last = c->T;
    tg_tensor *y = tg_implicit_run(ctx, &c->f, &c->m, c->T, x0, p, u, 1, &last, o, ckpt, &rep);
    tg_tensor *loss = tg_mean(ctx, tg_mul(ctx, y, y));
    double t1 = bench_wall();
    int rc = loss ? tg_backward(ctx, loss) : tg_ctx_status(ctx);
    double t2 = bench_wall();
    if (rc)
        fprintf(stderr, "bench: %s\n", tg_error_message());
    s->t_fwd = t1 - t0, s->t_bwd = t2 - t1;
    s->arena_peak = tg_ctx_arena_peak(ctx);
    s->iters = rep.iters, s->max_iters = rep.max_iters, s->failed = rep.failed;
    s->grad_ks = rc ? nan("") : (double)p->grad[2];
    tg_ctx_free(&ctx);
    return rc;
}

static void bench_newton_cap(void)
{
    printf("\n## A. Peak memory of backward vs the Newton iteration cap (Richards, Celia case)\n\n");
    printf("400 cells, 360 steps of 1 s, whole run = one tape node, every state stored. With "
           "the cap at 3 some steps stop before convergence (allowed here, counted as "
           "failed lane-steps).\n\n");
    printf("| Newton cap | iterations (total) | max per step | unconverged steps | forward s | "
           "backward s | arena peak (bytes) | dL/dKs |\n|---|---|---|---|---|---|---|---|\n");
    int caps[2] = {3, 30};
    for (int k = 0; k < 2; k++) {
        column c;
        column_init(&c, 400, 360);
        tg_newton_opts o = tg_newton_defaults();
        o.max_iter = caps[k];
        o.allow_unconverged = 1;
        run_stats s;
        column_tape(&c, &o, 1, &s);
        printf("| %d | %ld | %d | %ld | %.3f | %.3f | %zu | %.6g |\n", caps[k], s.iters,
               s.max_iters, s.failed, s.t_fwd, s.t_bwd, s.arena_peak, s.grad_ks);
        column_free(&c);
    }
}

static void bench_steps(int quick)
{
    printf("\n## B. Peak memory vs number of steps, with and without checkpointing\n\n");
    printf("Richards, 400 cells, Δt = 1 s, T steps. State bytes = what the trajectory holds "
           "at its peak (stored states + the recompute buffer); arena peak = everything of the "
           "step (tape run).\n\n");
    printf("| T | checkpoint every | state bytes (raw API) | arena peak (tape) | forward s | "
           "backward s |\n|---|---|---|---|---|---|\n");
    int Ts[5] = {90, 180, 360, 720, 1440};
    int nT = quick ? 3 : 5;
    for (int i = 0; i < nT; i++) {
        int ks[3] = {1, 10, -1};
        for (int j = 0; j < 3; j++) {
            column c;
            column_init(&c, 400, Ts[i]);
            /* raw API: state bytes */
            tg_implicit_traj *tr = NULL;
            tg_real *g = calloc(7, sizeof *g);
            tg_implicit_traj_forward(&c.f, &c.m, 1, c.T, c.psi0, c.p, c.u, NULL, ks[j], NULL,
                                     NULL, &tr, NULL);
            tg_implicit_traj_backward(tr, NULL, NULL, NULL, g, NULL); /* zero seed: sizes only */
            size_t sb = tg_implicit_traj_peak_bytes(tr);
            tg_implicit_traj_free(&tr);
            free(g);
            run_stats s;
            column_tape(&c, NULL, ks[j], &s);
            int kk = ks[j] == -1 ? (int)ceil(sqrt((double)Ts[i])) : ks[j];
            printf("| %d | %d%s | %zu | %zu | %.3f | %.3f |\n", Ts[i], kk,
                   ks[j] == -1 ? " (√T)" : "", sb, s.arena_peak, s.t_fwd, s.t_bwd);
            column_free(&c);
        }
    }
}

/* ------------------------------------------------------------ C: plain AD vs adjoint */
/* F = x⁺ − x + Δt (k x⁺² − u), per basin. */
#define RDT 1.0
static int res_cb(void *ud, const tg_implicit_args *a, tg_real *F)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        F[b] = a->xn[b] - a->x[b] + TG_R(RDT) * (a->theta[b] * a->xn[b] * a->xn[b] - a->u[b]);
    return 0;
}
static int jac_cb(void *ud, const tg_implicit_args *a, tg_real *J)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        J[b] = 1 + 2 * TG_R(RDT) * a->theta[b] * a->xn[b];
    return 0;
}
static int adj_cb(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *xb,
                  tg_real *thb, tg_real *ub)
{
    (void)ud;
    for (int b = 0; b < a->B; b++) {
        if (xb)
            xb[b] -= mu[b];
        if (thb)
            thb[b] += TG_R(RDT) * a->xn[b] * a->xn[b] * mu[b];
        if (ub)
            ub[b] -= TG_R(RDT) * mu[b];
    }
    return 0;
}

typedef struct {
    int B, T;
    tg_real *k, *x0, *u;
} reservoir;

/* must outlive the tape: the node keeps a pointer to it */
static const tg_implicit_fns reservoir_fns = {"reservoir", 1, 1, 1, TG_JAC_DENSE,
                                              res_cb,      jac_cb, adj_cb};

/* loss = mean over t, b of x_t. mode 0: adjoint op (cap 30); mode > 0: plain AD with that
 * many Newton iterations taped per step. */
static void reservoir_run(const reservoir *r, int mode, run_stats *s, tg_real *gk)
{
    tg_ctx *ctx = tg_ctx_create();
    double t0 = bench_wall();
    tg_tensor *k = tg_leaf(ctx, TG_SHAPE(r->B, 1), r->k);
    tg_tensor *x0 = tg_leaf(ctx, TG_SHAPE(r->B, 1), r->x0);
    tg_tensor *u = tg_from(ctx, TG_SHAPE(r->T, r->B, 1), r->u);
    tg_tensor *loss;
    tg_newton_report rep;
    tg_newton_report_init(&rep);
    if (mode == 0) {
        int *steps = malloc((size_t)r->T * sizeof *steps);
        for (int t = 0; t < r->T; t++)
            steps[t] = t + 1;
        tg_tensor *y = tg_implicit_run(ctx, &reservoir_fns, NULL, r->T, x0, k, u, r->T, steps, NULL, 1,
                                       &rep);
        loss = tg_mean(ctx, y);
        free(steps);
    } else {
        tg_tensor *x = x0, *acc = NULL;
        for (int t = 0; t < r->T; t++) {
            tg_tensor *ut = tg_select(ctx, u, 0, t), *xn = x;
            for (int it = 0; it < mode; it++) {
                tg_tensor *kx = tg_mul(ctx, k, xn);
                tg_tensor *F = tg_add(ctx, tg_sub(ctx, xn, x),
                                      tg_muls(ctx, tg_sub(ctx, tg_mul(ctx, kx, xn), ut), TG_R(RDT)));
                tg_tensor *J = tg_adds(ctx, tg_muls(ctx, kx, TG_R(2 * RDT)), 1);
                xn = tg_sub(ctx, xn, tg_div(ctx, F, J));
            }
            x = xn;
            tg_tensor *sx = tg_sum(ctx, x);
            acc = acc ? tg_add(ctx, acc, sx) : sx;
        }
        loss = tg_muls(ctx, acc, TG_R(1.0) / (tg_real)(r->T * r->B));
        rep.iters = (long)mode * r->T * r->B;
    }
    double t1 = bench_wall();
    if (!loss || tg_backward(ctx, loss))
        fprintf(stderr, "bench reservoir: %s\n", tg_error_message());
    double t2 = bench_wall();
    s->t_fwd = t1 - t0, s->t_bwd = t2 - t1;
    s->arena_peak = tg_ctx_arena_peak(ctx);
    s->iters = rep.iters;
    s->max_iters = mode == 0 ? rep.max_iters : mode;
    s->grad_ks = (double)tg_ctx_tape_length(ctx);
    memcpy(gk, k->grad, (size_t)r->B * sizeof *gk);
    tg_ctx_free(&ctx);
}

static void bench_plain_ad(int quick)
{
    reservoir r;
    r.B = quick ? 100 : 300;
    r.T = 365;
    r.k = malloc((size_t)r.B * sizeof *r.k);
    r.x0 = malloc((size_t)r.B * sizeof *r.x0);
    r.u = malloc((size_t)r.T * r.B * sizeof *r.u);
    tg_rng g;
    tg_rng_seed(&g, 7);
    for (int b = 0; b < r.B; b++) {
        r.k[b] = (tg_real)(0.05 + 0.5 * tg_rng_uniform(&g));
        r.x0[b] = (tg_real)(2.0 * tg_rng_uniform(&g));
    }
    for (int i = 0; i < r.T * r.B; i++) {
        double v = tg_rng_uniform(&g);
        r.u[i] = (tg_real)(v > 0.7 ? 5.0 * (v - 0.7) : 0.0); /* intermittent "rain" */
    }
    printf("\n## C. Plain AD through every Newton iteration vs the adjoint op\n\n");
    printf("Nonlinear reservoir dx/dt = −k x² + u, backward Euler, Δt = 1, %d basins × %d "
           "steps; loss = mean of all states; gradient w.r.t. k per basin. Plain AD: the "
           "Newton update x ← x − F/J written with core ops and taped for a fixed number of "
           "iterations per step (J differentiated too). Adjoint: one tg_implicit_run node, "
           "Newton to convergence (cap 30).\n\n", r.B, r.T);
    printf("| method | Newton iterations per step | tape nodes | forward s | backward s | arena "
           "peak (bytes) | max rel. diff of dL/dk vs adjoint (floor 1e-6 max) |\n|---|---|---|---|---|---|---|\n");
    tg_real *ga = malloc((size_t)r.B * sizeof *ga), *gp = malloc((size_t)r.B * sizeof *gp);
    run_stats s;
    reservoir_run(&r, 0, &s, ga);
    printf("| adjoint (tg_implicit_run) | %.2f avg, %d max | %.0f | %.4f | %.4f | %zu | — |\n",
           (double)s.iters / ((double)r.T * r.B), s.max_iters, s.grad_ks, s.t_fwd, s.t_bwd,
           s.arena_peak);
    int its[3] = {3, 5, 30};
    for (int j = 0; j < (quick ? 2 : 3); j++) {
        reservoir_run(&r, its[j], &s, gp);
        double worst = 0, gmax = 0;
        for (int b = 0; b < r.B; b++)
            gmax = fmax(gmax, fabs((double)ga[b]));
        for (int b = 0; b < r.B; b++)
            worst = fmax(worst, tg_rel_err((double)gp[b], (double)ga[b], 1e-6 * gmax));
        printf("| plain AD, taped | %d (fixed) | %.0f | %.4f | %.4f | %zu | %.2e |\n", its[j],
               s.grad_ks, s.t_fwd, s.t_bwd, s.arena_peak, worst);
    }
    free(ga), free(gp), free(r.k), free(r.x0), free(r.u);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    printf("# bench_implicit (%s build)\n", TG_REAL_NAME);
    bench_newton_cap();
    bench_steps(quick);
    bench_plain_ad(quick);
    return 0;
}
