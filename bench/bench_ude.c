/* bench_ude.c — cost of a UDE solve and its discrete adjoint: a bucket
 *   dS/dt = P − PET·S/(S+30) − NN(S)   (NN: 1 → 16 tanh → 1, softplus sink)
 * over B lanes and T days, for each integrator and checkpointing setting: forward time,
 * forward + backward time, lane-steps, and bytes kept for the backward.
 * Times are process CPU time (single-threaded code; robust on a shared machine).
 * Usage: bench_ude [B] [T] [reps]   (defaults 64 365 3). Run with OMP_NUM_THREADS=1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "terragrad.h"

static int rhs(void *ud, const tg_ude_args *a, tg_real *dS)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        if (!a->active || a->active[b])
            dS[b] = a->u[2 * b] - a->u[2 * b + 1] * a->S[b] / (a->S[b] + 30);
    return 0;
}
static int jvp(void *ud, const tg_ude_args *a, const tg_real *v, tg_real *Jv)
{
    (void)ud;
    for (int b = 0; b < a->B; b++) {
        tg_real d = a->S[b] + 30;
        Jv[b] = -a->u[2 * b + 1] * 30 / (d * d) * v[b];
    }
    return 0;
}
static int vjp(void *ud, const tg_ude_args *a, const tg_real *w, tg_real *S_bar, tg_real *theta_bar, tg_real *u_bar)
{
    (void)ud, (void)theta_bar;
    for (int b = 0; b < a->B; b++) {
        tg_real d = a->S[b] + 30;
        if (S_bar)
            S_bar[b] += -a->u[2 * b + 1] * 30 / (d * d) * w[b];
        if (u_bar)
            u_bar[2 * b] += w[b], u_bar[2 * b + 1] += -a->S[b] / d * w[b];
    }
    return 0;
}
static const tg_ude_fns bucket = {"bucket", 1, 0, 2, rhs, jvp, vjp};

int main(int argc, char **argv)
{
    const int B = argc > 1 ? atoi(argv[1]) : 64, T = argc > 2 ? atoi(argv[2]) : 365,
              reps = argc > 3 ? atoi(argv[3]) : 3;
    tg_real *u = malloc((size_t)T * B * 2 * sizeof *u), *s0 = malloc((size_t)B * sizeof *s0);
    tg_rng r;
    tg_rng_seed(&r, 1);
    for (int b = 0; b < B; b++) {
        s0[b] = (tg_real)(20 + 100 * tg_rng_uniform(&r));
        double wet = 0.5 + 2 * tg_rng_uniform(&r);
        for (int t = 0; t < T; t++) {
            u[(t * B + b) * 2] = (tg_real)(tg_rng_uniform(&r) < 0.4 ? -7.5 * wet * log(1 - tg_rng_uniform(&r)) : 0);
            u[(t * B + b) * 2 + 1] = (tg_real)(2 + sin(2 * M_PI * t / 365.0));
        }
    }
    tg_ude_mlp m;
    tg_ude_mlp_setup(&m, 1, 2, 0, 0, 1, 16);
    m.in_shift[0] = 100, m.in_scale[0] = TG_R(1.0 / 80);
    m.out_act = TG_UDE_OUT_SOFTPLUS, m.out_scale[0] = -5;
    const int nw = (int)tg_ude_mlp_nweights(&m);
    tg_real *W = malloc((size_t)nw * sizeof *W);
    tg_ude_mlp_init(&m, W, &r);
    struct { const char *name; int method, substeps, ckpt; } cases[] = {
        {"RK4 1/day, ckpt 0", TG_UDE_RK4, 1, 0},
        {"DOPRI5 rtol 1e-6, ckpt 0", TG_UDE_DOPRI5, 1, 0},
        {"DOPRI5 rtol 1e-6, ckpt 30", TG_UDE_DOPRI5, 1, 30},
        {"BS32 rtol 1e-6, ckpt 0", TG_UDE_BS32, 1, 0},
        {"BEULER 4/day, ckpt 0", TG_UDE_BEULER, 4, 0},
        {"BEULER 4/day, ckpt 30", TG_UDE_BEULER, 4, 30},
    };
    printf("UDE bucket, B = %d lanes, T = %d days, %s, best of %d\n", B, T, TG_REAL_NAME, reps);
    printf("%-28s %10s %12s %14s %14s\n", "case", "forward", "fwd+bwd", "lane-steps", "stored bytes");
    tg_ctx *ctx = tg_ctx_create();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tg_ude_opts o = tg_ude_defaults(cases[c].method);
        o.rtol = 1e-6, o.atol = 1e-6;
        o.substeps = cases[c].substeps, o.ckpt_every = cases[c].ckpt;
        double tf = 1e30, tb = 1e30;
        tg_ude_stats st;
        for (int k = 0; k < reps; k++) {
            tg_ctx_reset(ctx);
            tg_ctx_set_grad(ctx, 0);
            double t0 = bench_cpu();
            tg_tensor *y = tg_ude_solve(ctx, &bucket, NULL, &m, T, tg_from(ctx, TG_SHAPE(B, 1), s0), NULL,
                                        tg_from(ctx, TG_SHAPE(T, B, 2), u), tg_from(ctx, TG_SHAPE(nw), W), &o, NULL);
            tf = fmin(tf, bench_cpu() - t0);
            if (!y) {
                fprintf(stderr, "%s\n", tg_error_message());
                return 1;
            }
            tg_ctx_reset(ctx);
            tg_ctx_set_grad(ctx, 1);
            memset(&st, 0, sizeof st);
            tg_ude_stats_init(&st);
            t0 = bench_cpu();
            y = tg_ude_solve(ctx, &bucket, NULL, &m, T, tg_from(ctx, TG_SHAPE(B, 1), s0), NULL,
                             tg_from(ctx, TG_SHAPE(T, B, 2), u), tg_leaf(ctx, TG_SHAPE(nw), W), &o, &st);
            if (!y || tg_backward(ctx, tg_mean(ctx, y))) {
                fprintf(stderr, "%s\n", tg_error_message());
                return 1;
            }
            tb = fmin(tb, bench_cpu() - t0);
        }
        printf("%-28s %8.1f ms %9.1f ms %14ld %14zu\n", cases[c].name, 1e3 * tf, 1e3 * tb, st.accepted, st.stored_bytes);
    }
    tg_ctx_free(&ctx);
    free(u), free(s0), free(W);
    return 0;
}
