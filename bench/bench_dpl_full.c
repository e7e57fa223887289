/* bench_dpl_full.c — one full dPL / δHBV training step, the workload of the PyTorch peer's
 * `dpl_bench.py --variant full` (../shared/peer), through terragrad's tape:
 *
 *   x (Ttot, B, 3 forcings + n_attr attributes)
 *     -> Linear(n_in, H) + ReLU -> LSTM(H, H)        (tg_lstm with its input layer: 1 node)
 *     -> dropout 0.5 -> Linear(H, 13 M + 2) -> sigmoid
 *     -> static HBV parameters (last time step) + 2 routing parameters
 *     -> HBV (warm-up without gradient, then T days; 1 fused node, only Q computed)
 *     -> gamma-UH routing (1 node) -> masked RMSE -> backward -> Adam(lr 1e-3)
 *
 * Sizes as the peer's defaults: B = 100, T = 365 + 365 warm-up, M = 16, H = 256,
 * 3 + 35 inputs, 210 outputs. No gradient clipping (the peer has none).
 *
 * --head all  (default) dropout, Linear and sigmoid on every one of the Ttot steps, as the
 *             peer's `model(x_nn)` does, then the last step is taken: the same work.
 * --head last only the last step goes through dropout/Linear/sigmoid: the same loss and
 *             gradient (the other steps' outputs are never used) for less work.
 * --dynamic   δHBV default instead: BETA and BETAET per day from the head outputs of the
 *             T days after the warm-up (no peer counterpart; implies --head all).
 * Inputs: forcing and observed Q of the first B Caravan basins (1991-01-01 on), forcing
 * z-scored, attributes N(0, 1) (the peer uses synthetic data of the same sizes; the work
 * does not depend on the values).
 * Timing: median over --steps after 1 untimed step. Prints one JSON line (peer's keys), plus
 * the work accounting of tg_gemm_stats: GEMM FLOPs per step, seconds inside the matrix
 * products (thread-seconds: with 1 thread, wall time), their rate, and the fraction of the
 * step spent outside them (meaningful with 1 thread).
 *   bench_dpl_full --threads 1 --steps 3 [--data DIR] [--clock wall|cpu] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "bench_util.h"
#include "terragrad.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;

typedef struct opts {
    int threads, steps, B, T, W, M, H, n_attr, head_all, dynamic;
    double lr, dropout;
    uint64_t seed;
    const char *data;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    const char *env = getenv("TG_SHARED_DATA"), *head = "all", *clock = NULL;
    *o = (opts){1, 3, 100, 365, 365, 16, 256, 35, 1, 0, 1e-3, 0.5, 0, env ? env : "/work/shared/data"};
    const bench_opt table[] = {
        {"--threads", BENCH_INT, &o->threads}, {"--steps", BENCH_INT, &o->steps},   {"--batch", BENCH_INT, &o->B},
        {"--T", BENCH_INT, &o->T},             {"--warmup", BENCH_INT, &o->W},      {"--nmul", BENCH_INT, &o->M},
        {"--hidden", BENCH_INT, &o->H},        {"--n-attr", BENCH_INT, &o->n_attr}, {"--lr", BENCH_DOUBLE, &o->lr},
        {"--seed", BENCH_U64, &o->seed},       {"--data", BENCH_STR, &o->data},     {"--head", BENCH_STR, &head},
        {"--dynamic", BENCH_FLAG, &o->dynamic}, {"--clock", BENCH_STR, &clock},
    };
    const char *usage = "bench_dpl_full [--threads N] [--steps N] [--batch B] [--T T] [--warmup W] [--nmul M]\n"
                        "               [--hidden H] [--n-attr A] [--lr LR] [--head all|last] [--dynamic]\n"
                        "               [--data DIR] [--seed S] [--clock wall|cpu]\n";
    if (bench_parse_args("bench_dpl_full", usage, argc, argv, table, (int)(sizeof table / sizeof table[0])))
        return 1;
    if (bench_clock_named(clock, &bench_clock) || (strcmp(head, "all") && strcmp(head, "last")))
        return fprintf(stderr, "bench_dpl_full: --clock takes wall or cpu, --head all or last\n"), 1;
    o->head_all = o->dynamic || !strcmp(head, "all");
    if (o->steps < 1 || o->B < 1 || o->T < 1 || o->W < 0 || o->M < 1 || o->H < 1 || o->n_attr < 0)
        return fprintf(stderr, "bench_dpl_full: bad sizes\n"), 1;
    return 0;
}

/* Forcing (Ttot, B, 3) and observed Q (T, B; NaN = missing) of the first B Caravan basins,
 * from 1991-01-01 (row 3650); basins are reused cyclically if B exceeds the list. */
static int load(const opts *o, tg_real *forcing, tg_real *obs)
{
    const int Ttot = o->T + o->W;
    char path[4096], line[256], id[64];
    snprintf(path, sizeof path, "%s/caravan_camels_us/basins.csv", o->data);
    FILE *lst = fopen(path, "r");
    if (!lst)
        return fprintf(stderr, "bench_dpl_full: cannot open %s\n", path), -1;
    char (*ids)[64] = calloc((size_t)o->B, sizeof *ids);
    int n_ids = 0;
    if (!fgets(line, sizeof line, lst))
        n_ids = -1;
    while (n_ids >= 0 && n_ids < o->B && fgets(line, sizeof line, lst))
        if (sscanf(line, "%63[^,\n]", ids[n_ids]) == 1)
            n_ids++;
    fclose(lst);
    if (n_ids <= 0) {
        free(ids);
        return fprintf(stderr, "bench_dpl_full: no basins in %s\n", path), -1;
    }
    for (int b = 0; b < o->B; b++) {
        strcpy(id, ids[b % n_ids]);
        snprintf(path, sizeof path, "%s/caravan_camels_us/timeseries/%s.csv", o->data, id);
        FILE *f = fopen(path, "r");
        if (!f) {
            free(ids);
            return fprintf(stderr, "bench_dpl_full: cannot open %s\n", path), -1;
        }
        int t = 0;
        for (int row = 0; t < Ttot && fgets(line, sizeof line, f); row++) {
            if (row < 3650)
                continue;
            char *p = line, *end;
            for (int k = 0; k < 3; k++) {
                forcing[((size_t)t * o->B + (size_t)b) * 3 + (size_t)k] = (tg_real)strtod(p, &end);
                p = end + 1;
            }
            double q = strtod(p, &end);
            if (t >= o->W)
                obs[(size_t)(t - o->W) * o->B + (size_t)b] = end == p ? (tg_real)NAN : (tg_real)q;
            t++;
        }
        fclose(f);
        if (t < Ttot) {
            free(ids);
            return fprintf(stderr, "bench_dpl_full: %s: only %d days from 1991-01-01\n", path, t), -1;
        }
    }
    free(ids);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o))
        return 2;
    omp_set_num_threads(o.threads);
    openblas_set_num_threads(o.threads);
    const int B = o.B, T = o.T, W = o.W, Ttot = T + W, M = o.M, H = o.H, NP = TG_HBV_NPARAM;
    const int n_in = 3 + o.n_attr, n_out = NP * M + 2;
    tg_real *forcing = malloc(sizeof(tg_real) * (size_t)Ttot * B * 3);
    tg_real *obs = malloc(sizeof(tg_real) * (size_t)T * B);
    tg_real *obs0 = malloc(sizeof(tg_real) * (size_t)T * B), *mask = malloc(sizeof(tg_real) * (size_t)T * B);
    tg_real *xnn = malloc(sizeof(tg_real) * (size_t)Ttot * B * (size_t)n_in);
    if (!forcing || !obs || !obs0 || !mask || !xnn || load(&o, forcing, obs))
        return 1;
    int nobs = 0;
    for (size_t i = 0; i < (size_t)T * B; i++) {
        int ok = !isnan((double)obs[i]);
        mask[i] = ok ? TG_R(1.0) : TG_R(0.0);
        obs0[i] = ok ? obs[i] : TG_R(0.0);
        nobs += ok;
    }
    /* network input: z-scored forcing (over all days and basins) + attributes N(0,1) */
    tg_rng rng;
    tg_rng_seed(&rng, o.seed);
    double mu[3] = {0}, sd[3] = {0};
    const size_t TB = (size_t)Ttot * B;
    for (size_t i = 0; i < TB; i++)
        for (int k = 0; k < 3; k++)
            mu[k] += (double)forcing[i * 3 + (size_t)k] / (double)TB;
    for (size_t i = 0; i < TB; i++)
        for (int k = 0; k < 3; k++) {
            double d = (double)forcing[i * 3 + (size_t)k] - mu[k];
            sd[k] += d * d / (double)TB;
        }
    tg_real *attr = malloc(sizeof(tg_real) * (size_t)B * (size_t)(o.n_attr > 0 ? o.n_attr : 1));
    for (size_t i = 0; i < (size_t)B * (size_t)o.n_attr; i++)
        attr[i] = (tg_real)tg_rng_normal(&rng);
    for (size_t i = 0; i < TB; i++) {
        tg_real *row = xnn + i * (size_t)n_in;
        for (int k = 0; k < 3; k++)
            row[k] = (tg_real)(((double)forcing[i * 3 + (size_t)k] - mu[k]) / (sqrt(sd[k]) + 1e-6));
        memcpy(row + 3, attr + (i % (size_t)B) * (size_t)o.n_attr, sizeof(tg_real) * (size_t)o.n_attr);
    }

    tg_params *ps = tg_params_create();
    tg_lstm_layer lstm;
    tg_linear_layer head;
    if (tg_lstm_layer_init(&lstm, ps, "lstm", n_in, H, H) || tg_linear_layer_init(&head, ps, "head", H, n_out, 1) ||
        tg_lstm_reset(&lstm, ps, TG_INIT_TORCH, &rng) || tg_linear_reset(&head, ps, TG_INIT_TORCH, &rng)) {
        fprintf(stderr, "bench_dpl_full: %s\n", tg_error_message());
        return 1;
    }
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = o.lr}, ps);
    tg_ctx *ctx = tg_ctx_create();
    tg_hbv_config hc;
    tg_hbv_config_init(&hc, Ttot, W, B, M);
    hc.basin_outputs = 1u << TG_HBV_Q; /* training needs only Q */
    hc.dynamic = o.dynamic ? TG_HBV_DYNAMIC_DEFAULT : 0u;
    const int ndyn = tg_hbv_ndynamic(&hc);

    const int S = o.steps;
    double *t_lstm = calloc((size_t)S, sizeof(double)), *t_fwd = calloc((size_t)S, sizeof(double));
    double *t_bwd = calloc((size_t)S, sizeof(double)), *t_opt = calloc((size_t)S, sizeof(double));
    double *t_it = calloc((size_t)S, sizeof(double)), *t_gemm = calloc((size_t)S, sizeof(double));
    double *out_gemm = calloc((size_t)S, sizeof(double)), gemm_flop = 0.0;
    double loss_first = 0, loss_last = 0;
    for (int it = 0; it <= S; it++) {
        tg_gemm_stats_enable(1); /* time and FLOPs inside the matrix products of this step */
        double t0 = bench_seconds(bench_clock);
        tg_tensor *x = tg_from(ctx, TG_SHAPE(Ttot, B, n_in), xnn);
        tg_tensor *h = tg_lstm(ctx, ps, &lstm, x, NULL, NULL, NULL); /* (Ttot, B, H) */
        tg_tensor *u_all = NULL, *u_last;
        if (o.head_all) {
            u_all = tg_sigmoid(ctx, tg_linear(ctx, ps, &head, tg_dropout(ctx, h, o.dropout, 1, &rng)));
            u_last = tg_select(ctx, u_all, 0, Ttot - 1); /* (B, n_out) */
        } else {
            tg_tensor *hl = tg_select(ctx, h, 0, Ttot - 1);
            u_last = tg_sigmoid(ctx, tg_linear(ctx, ps, &head, tg_dropout(ctx, hl, o.dropout, 1, &rng)));
        }
        double t1 = bench_seconds(bench_clock);
        tg_tensor *us = tg_reshape(ctx, tg_slice(ctx, u_last, 1, 0, NP * M), TG_SHAPE(B, NP, M));
        tg_tensor *par_static = tg_hbv_scale_op(ctx, tg_transpose(ctx, us, 0, 1), TG_HBV_ALL_PARAMS);
        tg_tensor *par_dyn = NULL;
        if (ndyn) {
            tg_tensor *ud = tg_reshape(ctx, tg_slice(ctx, tg_slice(ctx, u_all, 0, W, T), 2, 0, NP * M),
                                       TG_SHAPE(T, B, NP, M));
            tg_tensor *rows[TG_HBV_NPARAM];
            int nd = 0;
            for (int p = 0; p < NP; p++)
                if (hc.dynamic & (1u << p))
                    rows[nd++] = tg_select(ctx, ud, 2, p);
            par_dyn = tg_hbv_scale_op(ctx, tg_stack(ctx, rows, nd, 1), hc.dynamic);
        }
        tg_tensor *ob = NULL, *a = NULL, *th = NULL;
        if (tg_hbv_op(ctx, &hc, tg_from(ctx, TG_SHAPE(Ttot, B, 3), forcing), par_static, par_dyn, NULL, &ob, NULL,
                      NULL) ||
            tg_routing_params_op(ctx, tg_slice(ctx, u_last, 1, NP * M, 2), &a, &th)) {
            fprintf(stderr, "bench_dpl_full: %s\n", tg_error_message());
            return 1;
        }
        tg_tensor *qr = tg_routing_op(ctx, tg_select(ctx, ob, 1, TG_HBV_Q), a, th); /* (T, B) */
        tg_tensor *d = tg_mul(ctx, tg_sub(ctx, qr, tg_from(ctx, TG_SHAPE(T, B), obs0)),
                              tg_from(ctx, TG_SHAPE(T, B), mask));
        tg_tensor *loss = tg_sqrt(ctx, tg_muls(ctx, tg_sum(ctx, tg_mul(ctx, d, d)), TG_R(1.0) / (tg_real)nobs));
        if (!loss) {
            fprintf(stderr, "bench_dpl_full: forward failed: %s\n", tg_error_message());
            return 1;
        }
        double t2 = bench_seconds(bench_clock);
        if (tg_backward(ctx, loss)) {
            fprintf(stderr, "bench_dpl_full: backward failed: %s\n", tg_error_message());
            return 1;
        }
        double t3 = bench_seconds(bench_clock);
        tg_optim_step(opt, ps); /* also zeroes the gradients */
        double lv = (double)loss->data[0];
        tg_ctx_reset(ctx);
        double t4 = bench_seconds(bench_clock);
        if (it == 0)
            loss_first = lv;
        loss_last = lv;
        if (it == 0)
            continue;
        t_lstm[it - 1] = t1 - t0, t_fwd[it - 1] = t2 - t0, t_bwd[it - 1] = t3 - t2;
        t_opt[it - 1] = t4 - t3, t_it[it - 1] = t4 - t0;
        tg_gemm_stats_get(&t_gemm[it - 1], &gemm_flop, NULL);
        out_gemm[it - 1] = 1.0 - t_gemm[it - 1] / t_it[it - 1];
    }
    tg_gemm_stats_enable(0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"bench\": \"dpl\", \"impl\": \"terragrad\", \"variant\": \"full\", \"precision\": \"%s\", "
           "\"threads\": %d, \"B\": %d, \"T\": %d, \"warmup\": %d, \"nmul\": %d, \"n_params\": %d, \"hidden\": %d, "
           "\"n_in\": %d, \"n_out\": %d, \"head\": \"%s\", \"dynamic\": %d, \"n_trainable\": %zu, "
           "\"steps_timed\": %d, \"loss_first_last\": [%.6g, %.6g], "
           "\"fwd_s_median\": %.6f, \"bwd_s_median\": %.6f, \"opt_s_median\": %.6f, \"iter_s_median\": %.6f, "
           "\"iter_s_min\": %.6f, \"lstm_fwd_s_median\": %.6f, \"hbv_route_loss_fwd_s_median\": %.6f, "
           "\"peak_rss_mb\": %.1f, \"arena_peak_mb\": %.1f, \"openblas_core\": \"%s\", "
           "\"OPENBLAS_CORETYPE\": \"%s\", \"clock\": \"%s\", \"gemm_gflop_step\": %.2f, \"gemm_s_median\": %.6f, "
           "\"gemm_gflops\": %.1f, \"outside_gemm_fraction_median\": %.4f}\n",
           TG_REAL_NAME, o.threads, B, T, W, M, NP, H, n_in, n_out, o.head_all ? "all" : "last", ndyn, ps->size, S,
           loss_first, loss_last, bench_median(t_fwd, S), bench_median(t_bwd, S), bench_median(t_opt, S), bench_median(t_it, S),
           bench_minimum(t_it, S), bench_median(t_lstm, S), bench_median(t_fwd, S) - bench_median(t_lstm, S), (double)ru.ru_maxrss / 1024.0,
           (double)tg_ctx_arena_peak(ctx) / 1048576.0, openblas_get_corename(),
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "",
           bench_clock == CLOCK_MONOTONIC ? "wall" : "cpu", gemm_flop / 1e9, bench_median(t_gemm, S),
           gemm_flop / 1e9 / bench_median(t_gemm, S), bench_median(out_gemm, S));
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    tg_params_free(&ps);
    free(forcing), free(obs), free(obs0), free(mask), free(xnn), free(attr);
    free(t_lstm), free(t_fwd), free(t_bwd), free(t_opt), free(t_it), free(t_gemm), free(out_gemm);
    return 0;
}
