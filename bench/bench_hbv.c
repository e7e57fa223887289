/* bench_hbv.c — one HBV "training step" as in the PyTorch peer's dpl_bench.py
 * (--variant hbv / hbv_fwd): B = 100 basins, 365 warm-up + 365 days, M = 16 components,
 * 13 static parameters from u in [0,1], gamma-UH routing, masked RMSE, backward to u and
 * the routing parameters. Two paths:
 *   tape   — what dPL training runs: tg_hbv_scale_op -> tg_hbv_op -> tg_routing_op ->
 *            core loss ops -> tg_backward (one arena, reset each step);
 *   kernel — the raw array functions, no tape.
 * Variants: forward only (no gradient recorded, like torch.no_grad), forward + backward
 * without and with gradient through the warm-up. 1 and 2 OpenMP threads, median of N runs
 * after one untimed run. Forcing: 100 Caravan basins (real data; the peer uses synthetic
 * forcing of the same size — the HBV cost does not depend on the values).
 *
 *   usage: bench_hbv [runs=7] [data_dir=$TG_SHARED_DATA or ../shared/data]  (float build) */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "terragrad.h"

enum { B = 100, W = 365, TW = 365, T = W + TW, M = 16, L = B * M, NP = TG_HBV_NPARAM };

/* Forcing (T, B, 3) and observed Q (TW, B; NaN = missing) from the first B Caravan basins. */
static int load(const char *data, tg_real *forcing, tg_real *obs)
{
    char path[2048], line[256], id[64];
    snprintf(path, sizeof path, "%s/caravan_camels_us/basins.csv", data);
    FILE *lst = fopen(path, "r");
    if (!lst) { fprintf(stderr, "cannot open %s\n", path); return -1; }
    if (!fgets(line, sizeof line, lst)) { fclose(lst); return -1; }
    for (int b = 0; b < B; b++) {
        if (!fgets(line, sizeof line, lst) || sscanf(line, "%63[^,]", id) != 1) { fclose(lst); return -1; }
        snprintf(path, sizeof path, "%s/caravan_camels_us/timeseries/%s.csv", data, id);
        FILE *f = fopen(path, "r");
        if (!f) { fprintf(stderr, "cannot open %s\n", path); fclose(lst); return -1; }
        for (int row = 0, t = 0; t < T && fgets(line, sizeof line, f); row++) {
            if (row < 365 * 10) continue;                           /* start 1991-01-01 */
            char *p = line, *end;
            for (int k = 0; k < 3; k++) { forcing[((size_t)t * B + (size_t)b) * 3 + (size_t)k] = (tg_real)strtod(p, &end); p = end + 1; }
            double q = strtod(p, &end);
            if (t >= W) obs[(t - W) * B + b] = end == p ? (tg_real)NAN : (tg_real)q;
            t++;
        }
        fclose(f);
    }
    fclose(lst);
    return 0;
}

typedef struct bench {
    tg_real forcing[T * B * 3], obs[TW * B], mask[TW * B], obs0[TW * B];
    tg_real u[NP * L], ur[B * 2];
    int nobs;
} bench;

/* ---------------------------------------------------------------- tape path */
static double tape_step(bench *S, tg_ctx *ctx, int grad, int warmup_grad, double *t_fwd, double *t_bwd)
{
    double t0 = bench_wall();
    tg_ctx_set_grad(ctx, grad);
    tg_tensor *u = tg_leaf(ctx, TG_SHAPE(NP, B, M), S->u), *ur = tg_leaf(ctx, TG_SHAPE(B, 2), S->ur);
    tg_tensor *forcing = tg_from(ctx, TG_SHAPE(T, B, 3), S->forcing);
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    c.warmup_grad = warmup_grad;
    c.basin_outputs = 1u << TG_HBV_Q;   /* training needs only Q */
    tg_tensor *ob = NULL, *a = NULL, *th = NULL;
    tg_tensor *ps = tg_hbv_scale_op(ctx, u, TG_HBV_ALL_PARAMS);
    if (tg_hbv_op(ctx, &c, forcing, ps, NULL, NULL, &ob, NULL, NULL)) { fprintf(stderr, "%s\n", tg_error_message()); exit(1); }
    tg_routing_params_op(ctx, ur, &a, &th);
    tg_tensor *qr = tg_routing_op(ctx, tg_select(ctx, ob, 1, TG_HBV_Q), a, th);
    /* masked RMSE: missing days have obs0 = 0 and mask = 0 */
    tg_tensor *d = tg_mul(ctx, tg_sub(ctx, qr, tg_from(ctx, TG_SHAPE(TW, B), S->obs0)), tg_from(ctx, TG_SHAPE(TW, B), S->mask));
    tg_tensor *loss = tg_sqrt(ctx, tg_muls(ctx, tg_sum(ctx, tg_mul(ctx, d, d)), TG_R(1.0) / (tg_real)S->nobs));
    double t1 = bench_wall();
    if (!loss) { fprintf(stderr, "%s\n", tg_error_message()); exit(1); }
    if (grad && tg_backward(ctx, loss)) { fprintf(stderr, "%s\n", tg_error_message()); exit(1); }
    double t2 = bench_wall();
    double lv = (double)loss->data[0];
    tg_ctx_reset(ctx);
    *t_fwd = t1 - t0;
    *t_bwd = t2 - t1;
    return lv;
}

/* ---------------------------------------------------------------- kernel path */
typedef struct kbuf {
    tg_real ps[NP * L], gps[NP * L], gu[NP * L], a[B], th[B], w[B * TG_UH_LEN], gw[B * TG_UH_LEN];
    tg_real ga[B], gth[B], gur[B * 2], qr[TW * B], gqr[TW * B];
    tg_real *ob, *gob, *hist;
} kbuf;

static double kernel_step(bench *S, kbuf *K, int grad, int warmup_grad, double *t_fwd, double *t_bwd)
{
    double t0 = bench_wall();
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    c.warmup_grad = warmup_grad;
    c.basin_outputs = 1u << TG_HBV_Q;
    tg_hbv_scale_forward(K->ps, S->u, 1, TG_HBV_ALL_PARAMS, L);
    tg_hbv_forward(K->ob, NULL, NULL, grad ? K->hist : NULL, S->forcing, K->ps, NULL, NULL, &c);
    tg_routing_scale_forward(K->a, K->th, S->ur, B);
    tg_uh_gamma_forward(K->w, K->a, K->th, B);
    tg_uh_conv_forward(K->qr, B, K->ob + TG_HBV_Q * B, TG_HBV_NOUT * B, K->w, TW, B);
    double ss = 0;
    for (int i = 0; i < TW * B; i++) {
        double d = ((double)K->qr[i] - (double)S->obs0[i]) * (double)S->mask[i];
        ss += d * d;
    }
    double loss = sqrt(ss / S->nobs);
    double t1 = bench_wall();
    if (grad) {
        for (int i = 0; i < TW * B; i++)
            K->gqr[i] = (tg_real)(((double)K->qr[i] - (double)S->obs0[i]) * (double)S->mask[i] / (S->nobs * loss));
        memset(K->gob, 0, (size_t)TW * TG_HBV_NOUT * B * sizeof(tg_real));
        memset(K->gw, 0, sizeof K->gw); memset(K->ga, 0, sizeof K->ga); memset(K->gth, 0, sizeof K->gth);
        memset(K->gur, 0, sizeof K->gur); memset(K->gps, 0, sizeof K->gps); memset(K->gu, 0, sizeof K->gu);
        tg_uh_conv_backward(K->gob + TG_HBV_Q * B, TG_HBV_NOUT * B, K->gw, K->gqr, B, K->ob + TG_HBV_Q * B, TG_HBV_NOUT * B, K->w, TW, B);
        tg_uh_gamma_backward(K->ga, K->gth, K->gw, K->w, K->a, K->th, B);
        tg_routing_scale_backward(K->gur, K->ga, K->gth, B);
        tg_hbv_backward(K->gps, NULL, NULL, NULL, K->gob, NULL, NULL, K->hist, S->forcing, K->ps, NULL, &c);
        tg_hbv_scale_backward(K->gu, K->gps, 1, TG_HBV_ALL_PARAMS, L);
    }
    double t2 = bench_wall();
    *t_fwd = t1 - t0;
    *t_bwd = t2 - t1;
    return loss;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    const char *data = argc > 2 ? argv[2] : getenv("TG_SHARED_DATA") ? getenv("TG_SHARED_DATA") : "../shared/data";
    if (runs < 1) runs = 1;
    static bench S;
    if (load(data, S.forcing, S.obs)) return 1;
    S.nobs = 0;
    for (int i = 0; i < TW * B; i++) {
        int ok = !isnan((double)S.obs[i]);
        S.mask[i] = ok ? TG_R(1.0) : TG_R(0.0);
        S.obs0[i] = ok ? S.obs[i] : TG_R(0.0);
        S.nobs += ok;
    }
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (int i = 0; i < NP * L; i++) S.u[i] = (tg_real)tg_rng_uniform(&r);
    for (int i = 0; i < B * 2; i++) S.ur[i] = (tg_real)tg_rng_uniform(&r);
    static kbuf K;
    tg_hbv_config cw;
    tg_hbv_config_init(&cw, T, W, B, M);
    cw.warmup_grad = 1;
    K.ob = malloc((size_t)TW * TG_HBV_NOUT * B * sizeof(tg_real));
    K.gob = malloc((size_t)TW * TG_HBV_NOUT * B * sizeof(tg_real));
    K.hist = malloc(tg_hbv_hist_size(&cw) * sizeof(tg_real));
    tg_ctx *ctx = tg_ctx_create();
    if (!K.ob || !K.gob || !K.hist || !ctx) return 1;

    printf("bench_hbv (%s): B=%d, T=%d+%d warm-up, M=%d, %d params, routing + masked RMSE; median of %d runs\n",
           TG_REAL_NAME, B, TW, W, M, NP, runs);
    printf("%-7s %-20s %7s %9s %9s %9s %9s %9s %9s\n", "path", "variant", "threads", "fwd_s", "bwd_s", "iter_s",
           "iter_min", "cpu_s", "loss");
    const char *vname[3] = {"hbv_fwd (no grad)", "hbv (fwd+bwd)", "hbv --warmup-grad"};
    for (int path = 0; path < 2; path++)
        for (int v = 0; v < 3; v++)
            for (int th = 1; th <= 2; th++) {
                omp_set_num_threads(th);
                double *tf = malloc(sizeof(double) * (size_t)runs), *tb = malloc(sizeof(double) * (size_t)runs);
                double *ti = malloc(sizeof(double) * (size_t)runs), *tc = malloc(sizeof(double) * (size_t)runs), lv = 0;
                for (int it = -1; it < runs; it++) {
                    /* CPU time of the process: with a busy machine, wall time measures the scheduler as
                     * much as the code; 1-thread CPU time is the steadier figure (at 2 threads it sums both) */
                    double a, b, c0 = bench_cpu();
                    lv = path == 0 ? tape_step(&S, ctx, v > 0, v == 2, &a, &b) : kernel_step(&S, &K, v > 0, v == 2, &a, &b);
                    if (it < 0) continue;
                    tf[it] = a; tb[it] = b; ti[it] = a + b; tc[it] = bench_cpu() - c0;
                }
                double fm = bench_median(tf, runs), bm = bench_median(tb, runs), im = bench_median(ti, runs);
                printf("%-7s %-20s %7d %9.5f %9.5f %9.5f %9.5f %9.5f %9.5f\n", path == 0 ? "tape" : "kernel", vname[v], th,
                       fm, bm, im, bench_minimum(ti, runs), bench_median(tc, runs), lv);
                fflush(stdout);
                free(tf); free(tb); free(ti); free(tc);
            }
    printf("arena peak: %.1f MB\n", (double)tg_ctx_arena_peak(ctx) / 1048576.0);
    tg_ctx_free(&ctx);
    free(K.ob); free(K.gob); free(K.hist);
    return 0;
}
