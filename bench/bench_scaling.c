/* bench_scaling.c — training throughput and peak memory of the δHBV pipeline and of a
 * plain LSTM vs number of basins, window length, gradient checkpointing, OpenMP threads
 * and MPI ranks. Results and exact commands: bench/RESULTS_scaling.md.
 *
 * One training step = forward + backward (+ one allreduce of the flat gradient buffer when
 * there are several ranks) on a batch of synthetic basins; the optimizer update is left
 * out (it is O(parameters), not O(basin-days)). Data for each batch are generated from
 * the basin index before the clock starts, so N = 10,000 basins stream through in batches
 * and memory stays that of one batch.
 *   dhbv: x (T, b, F) -> LSTM(H) -> linear head (13 M) -> sigmoid -> HBV parameters (static
 *         from the last day, BETA and BETAET dynamic) -> fused HBV op (M components) ->
 *         MSE of Q against a synthetic observation. As src/train/model_dhbv.c without the
 *         routing; no warm-up (every day is differentiated: the memory worst case).
 *   dhbv-lean: the same model and the same numbers, but the head computes only the outputs
 *         that are used: the 13 M static columns on the last day, the 2 M dynamic columns on
 *         every day (model_dhbv computes all 13 M + 2 on every day).
 *   lstm: x -> LSTM(H) -> linear head (1) -> MSE.
 *
 * Usage:
 *   bench_scaling [--model dhbv|dhbv-lean|lstm] [--basins N] [--batch b] [--window T] [--ckpt k]
 *                 [--threads n] [--hidden H (32)] [--reps r]  one configuration, one CSV line
 *                                                             (under mpirun: sharded over ranks)
 *   bench_scaling --sweep basins|window|lean|threads|all [--quick]  every configuration of the
 *                 sweep in its own child process (so peak RSS is per configuration)
 * CSV columns: see HEADER. Times are medians over the timed steps: wall clock and process
 * CPU time (all threads); on a shared machine CPU time is the steadier measure. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "terragrad.h"

#define HEADER                                                                                                        \
    "model,ranks,threads,basins,batch,window,ckpt,segment,hidden,steps,wall_step_s,cpu_step_s,epoch_wall_s,"         \
    "epoch_cpu_s,bd_per_s_wall,bd_per_s_cpu,arena_peak_mb,rss_peak_mb,arena_bytes_per_bd"

enum { F_IN = 8, M_HBV = 16 };

typedef struct bcfg {
    const char *model;
    int basins, batch, T, ckpt, threads, hidden, reps;
} bcfg;

/* Synthetic inputs of basins [b0, b0 + nb): deterministic per basin index. */
static void make_batch(tg_real *x, tg_real *forcing, tg_real *obs, int T, int b0, int nb)
{
    for (int b = 0; b < nb; b++) {
        tg_rng r;
        tg_rng_seed(&r, 1000003u * (uint64_t)(b0 + b) + 7u);
        const double tshift = 10.0 * tg_rng_uniform(&r) - 3.0;
        for (int t = 0; t < T; t++) {
            const double season = sin(6.2831853 * t / 365.25);
            const double P = tg_rng_uniform(&r) < 0.35 ? 25.0 * tg_rng_uniform(&r) : 0.0;
            const double Ta = tshift + 10.0 * season + 2.0 * tg_rng_normal(&r), PET = fmax(0.0, 2.0 + 1.8 * season);
            tg_real *f = forcing + ((size_t)t * nb + b) * 3;
            f[0] = (tg_real)P, f[1] = (tg_real)Ta, f[2] = (tg_real)PET;
            tg_real *xi = x + ((size_t)t * nb + b) * F_IN;
            xi[0] = (tg_real)(log(P + 0.1) / 2.0), xi[1] = (tg_real)(Ta / 10.0), xi[2] = (tg_real)(PET - 2.0);
            for (int k = 3; k < F_IN; k++)
                xi[k] = (tg_real)(0.1 * (b0 + b) / (double)(b0 + nb) + 0.2 * k);   /* static attributes */
            obs[(size_t)t * nb + b] = (tg_real)(0.3 * P + 0.5);
        }
    }
}

typedef struct model {
    tg_params *ps;
    tg_lstm_layer lstm;
    tg_linear_layer head;
    int dhbv, lean, K;
} model;

static int model_init(model *m, const bcfg *c)
{
    tg_rng r;
    tg_rng_seed(&r, 42);
    m->lean = !strcmp(c->model, "dhbv-lean");
    m->dhbv = m->lean || !strcmp(c->model, "dhbv");
    m->K = m->dhbv ? TG_HBV_NPARAM * M_HBV : 1;
    m->ps = tg_params_create();
    int rc = m->ps ? tg_lstm_layer_init(&m->lstm, m->ps, "lstm", F_IN, c->hidden, 0) : TG_ENOMEM;
    if (!rc) rc = tg_linear_layer_init(&m->head, m->ps, "head", c->hidden, m->K, 1);
    if (!rc) rc = tg_lstm_reset(&m->lstm, m->ps, TG_INIT_TORCH, &r);
    if (!rc) rc = tg_linear_reset(&m->head, m->ps, TG_INIT_TORCH, &r);
    if (!rc) rc = tg_lstm_set_forget_bias(&m->lstm, m->ps, 3.0);
    m->lstm.checkpoint = c->ckpt;
    return rc;
}

/* Forward + backward of one batch of nb basins. */
static int train_step(const model *m, tg_ctx *ctx, const bcfg *c, const tg_real *x, const tg_real *forcing,
                      const tg_real *obs, int nb)
{
    const int T = c->T, M = M_HBV, NP = TG_HBV_NPARAM;
    tg_tensor *h = tg_lstm(ctx, m->ps, &m->lstm, tg_from(ctx, TG_SHAPE(T, nb, F_IN), x), NULL, NULL, NULL);
    tg_tensor *y = m->lean ? NULL : tg_linear(ctx, m->ps, &m->head, h), *q = NULL;
    if (m->lean) {
        /* The same model computing only the head outputs that are used: all 13 M static
         * columns on the last day, the 2 M dynamic columns (BETA, BETAET) on every day. */
        const int H = c->hidden;
        tg_tensor *w = tg_param(ctx, m->ps, m->head.w), *bias = tg_param(ctx, m->ps, m->head.b);
        tg_tensor *ys = tg_add(ctx, tg_matmul(ctx, tg_select(ctx, h, 0, T - 1), tg_transpose(ctx, w, 0, 1)), bias);
        tg_tensor *us = tg_reshape(ctx, tg_sigmoid(ctx, ys), TG_SHAPE(nb, NP, M));
        tg_tensor *ps = tg_hbv_scale_op(ctx, tg_transpose(ctx, us, 0, 1), TG_HBV_ALL_PARAMS);
        tg_tensor *wd[2] = {tg_slice(ctx, w, 0, TG_HBV_BETA * M, M), tg_slice(ctx, w, 0, TG_HBV_BETAET * M, M)};
        tg_tensor *bd[2] = {tg_slice(ctx, bias, 0, TG_HBV_BETA * M, M), tg_slice(ctx, bias, 0, TG_HBV_BETAET * M, M)};
        tg_tensor *wdyn = tg_reshape(ctx, tg_stack(ctx, wd, 2, 0), TG_SHAPE(2 * M, H));
        tg_tensor *bdyn = tg_reshape(ctx, tg_stack(ctx, bd, 2, 0), TG_SHAPE(2 * M));
        tg_tensor *yd = tg_add(ctx, tg_matmul(ctx, tg_reshape(ctx, h, TG_SHAPE(T * nb, H)), tg_transpose(ctx, wdyn, 0, 1)),
                               bdyn);
        tg_tensor *pd = tg_hbv_scale_op(ctx, tg_transpose(ctx, tg_reshape(ctx, tg_sigmoid(ctx, yd), TG_SHAPE(T, nb, 2, M)), 1, 2),
                             TG_HBV_DYNAMIC_DEFAULT);
        if (!ps || !pd) return tg_ctx_status(ctx);
        tg_hbv_config hc;
        tg_hbv_config_init(&hc, T, 0, nb, M);
        hc.dynamic = TG_HBV_DYNAMIC_DEFAULT;
        hc.basin_outputs = 1u << TG_HBV_Q;
        tg_tensor *ob = NULL;
        int rc = tg_hbv_op_ckpt(ctx, &hc, c->ckpt, tg_from(ctx, TG_SHAPE(T, nb, 3), forcing), ps, pd, NULL, &ob,
                                NULL, NULL);
        if (rc) return rc;
        q = tg_select(ctx, ob, 1, TG_HBV_Q);
    } else if (!m->dhbv) {
        q = tg_reshape(ctx, y, TG_SHAPE(T, nb));
    } else {
        tg_tensor *u = tg_sigmoid(ctx, y);   /* (T, nb, NP M) */
        tg_tensor *us = tg_reshape(ctx, tg_select(ctx, u, 0, T - 1), TG_SHAPE(nb, NP, M));
        tg_tensor *ps = tg_hbv_scale_op(ctx, tg_transpose(ctx, us, 0, 1), TG_HBV_ALL_PARAMS);
        tg_tensor *ud = tg_reshape(ctx, u, TG_SHAPE(T, nb, NP, M));
        tg_tensor *rows[2] = {tg_select(ctx, ud, 2, TG_HBV_BETA), tg_select(ctx, ud, 2, TG_HBV_BETAET)};
        tg_tensor *pd = tg_hbv_scale_op(ctx, tg_stack(ctx, rows, 2, 1), TG_HBV_DYNAMIC_DEFAULT);
        if (!ps || !pd) return tg_ctx_status(ctx);
        tg_hbv_config hc;
        tg_hbv_config_init(&hc, T, 0, nb, M);
        hc.dynamic = TG_HBV_DYNAMIC_DEFAULT;
        hc.basin_outputs = 1u << TG_HBV_Q;
        tg_tensor *ob = NULL;
        int rc = tg_hbv_op_ckpt(ctx, &hc, c->ckpt, tg_from(ctx, TG_SHAPE(T, nb, 3), forcing), ps, pd, NULL, &ob,
                                NULL, NULL);
        if (rc) return rc;
        q = tg_select(ctx, ob, 1, TG_HBV_Q);   /* (T, nb) */
    }
    tg_tensor *d = tg_sub(ctx, q, tg_from(ctx, TG_SHAPE(T, nb), obs));
    tg_tensor *loss = tg_mean(ctx, tg_mul(ctx, d, d));
    if (!loss) return tg_ctx_status(ctx);
    return tg_backward(ctx, loss);
}

/* One configuration; prints one CSV line on rank 0. */
static int run_config(const bcfg *c)
{
    const int rank = tg_dist_rank(), size = tg_dist_size();
    omp_set_num_threads(c->threads);
    model m;
    int rc = model_init(&m, c);
    if (rc) {
        fprintf(stderr, "bench_scaling: model: %s\n", tg_error_message());
        return 1;
    }
    /* global batch of c->batch basins per step, split over the ranks */
    const int batch = c->batch < c->basins ? c->batch : c->basins;
    const int steps = (c->basins + batch - 1) / batch;
    const int local_max = (batch + size - 1) / size;
    const size_t nbd = (size_t)c->T * (size_t)local_max;
    tg_real *x = malloc(nbd * F_IN * sizeof(tg_real)), *forcing = malloc(nbd * 3 * sizeof(tg_real));
    tg_real *obs = malloc(nbd * sizeof(tg_real));
    int reps = c->reps > 0 ? c->reps : 1;
    double *wall = malloc(sizeof(double) * (size_t)steps * (size_t)reps);
    double *cpu = malloc(sizeof(double) * (size_t)steps * (size_t)reps);
    tg_ctx *ctx = tg_ctx_create();
    if (!x || !forcing || !obs || !wall || !cpu || !ctx) {
        fprintf(stderr, "bench_scaling: out of memory\n");
        return 1;
    }
    double epoch_wall = 0.0, epoch_cpu = 0.0;
    int n_timed = 0;
    for (int rep = -1; rep < reps && !rc; rep++) {   /* rep -1: one untimed warm-up step */
        double ew = 0.0, ec = 0.0;
        for (int s = 0; s < steps && !rc; s++) {
            const int g0 = s * batch, gn = g0 + batch <= c->basins ? batch : c->basins - g0;
            const int l0 = g0 + (int)((long long)gn * rank / size), ln = g0 + (int)((long long)gn * (rank + 1) / size) - l0;
            make_batch(x, forcing, obs, c->T, l0, ln);
            tg_dist_barrier();
            const double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
            rc = ln > 0 ? train_step(&m, ctx, c, x, forcing, obs, ln) : 0;
            if (!rc && size > 1) rc = tg_dist_sum_real(m.ps->grad, m.ps->size);
            tg_dist_barrier();
            const double dw = bench_seconds(CLOCK_MONOTONIC) - w0, dc = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
            if (getenv("BENCH_GRADSUM") && rank == 0 && rep < 0) {   /* same model? compare this */
                double gs = 0.0;
                for (size_t i = 0; i < m.ps->size; i++) gs += fabs((double)m.ps->grad[i]);
                fprintf(stderr, "%s: sum |grad| of the first step %.9g\n", c->model, gs);
            }
            tg_ctx_reset(ctx);
            tg_params_zero_grad(m.ps);
            if (rep < 0) break;
            wall[n_timed] = dw, cpu[n_timed] = dc, n_timed++;
            ew += dw, ec += dc;
        }
        if (rep == 0) epoch_wall = ew, epoch_cpu = ec;
    }
    if (rc) {
        fprintf(stderr, "bench_scaling: step failed: %s\n", tg_error_message());
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss / 1024.0, arena = (double)tg_ctx_arena_peak(ctx);
    const double mw = bench_median(wall, n_timed);
    double mc = bench_median(cpu, n_timed);   /* CPU of all ranks: the cost of a step */
    if (size > 1) tg_dist_sum_double(&mc, 1);
    const double bd_batch = (double)batch * c->T;   /* basin-days of one global step */
    if (rank == 0) {
        printf("%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%.6f,%.6f,%.4f,%.4f,%.1f,%.1f,%.2f,%.1f,%.1f\n", c->model, size, c->threads,
               c->basins, batch, c->T, c->ckpt, tg_lstm_ckpt_segment(c->T, c->ckpt), c->hidden, steps, mw, mc,
               epoch_wall, epoch_cpu, bd_batch / mw, bd_batch / mc,
               arena / 1e6, rss, arena / ((double)local_max * c->T));
        fflush(stdout);
    }
    tg_ctx_free(&ctx);
    tg_params_free(&m.ps);
    free(x), free(forcing), free(obs), free(wall), free(cpu);
    return 0;
}

/* ---------------------------------------------------------------- sweeps */
static int spawn(const bcfg *c)
{
    char a[8][32];
    snprintf(a[0], 32, "%d", c->basins), snprintf(a[1], 32, "%d", c->batch), snprintf(a[2], 32, "%d", c->T);
    snprintf(a[3], 32, "%d", c->ckpt), snprintf(a[4], 32, "%d", c->threads), snprintf(a[5], 32, "%d", c->hidden);
    snprintf(a[6], 32, "%d", c->reps);
    char *argv[] = {"bench_scaling", "--model", (char *)c->model, "--basins", a[0], "--batch", a[1], "--window", a[2],
                    "--ckpt", a[3], "--threads", a[4], "--hidden", a[5], "--reps", a[6], NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static int sweep(const char *what, int hidden, int quick)
{
    const char *models[2] = {"dhbv", "lstm"};
    int bad = 0;
    printf("%s\n", HEADER);
    if (!strcmp(what, "basins") || !strcmp(what, "all")) {
        const int ns[] = {10, 100, 1000, 10000};
        for (int mi = 0; mi < 2; mi++)
            for (int th = 1; th <= 2; th++)
                for (int i = 0; i < 4; i++) {
                    /* 2 threads: 100 and 1000 basins (the shared machine's budget) */
                    if (th == 2 && (ns[i] < 100 || ns[i] > 1000)) continue;
                    if (quick && ns[i] > 1000) continue;
                    bcfg c = {models[mi], ns[i], 100, 365, 0, th, hidden, ns[i] <= 100 ? 3 : 1};
                    bad |= spawn(&c);
                }
    }
    if (!strcmp(what, "window") || !strcmp(what, "all")) {
        const int Ts[] = {365, 730, 1460, 2920, 3650};
        for (int mi = 0; mi < 2; mi++)
            for (int ck = 0; ck <= 1; ck++)
                for (int i = 0; i < 5; i++) {
                    if (quick && Ts[i] > 1460) continue;
                    bcfg c = {models[mi], 32, 32, Ts[i], ck ? -1 : 0, 1, hidden, 2};
                    bad |= spawn(&c);
                }
    }
    if (!strcmp(what, "lean") || !strcmp(what, "all")) {   /* the window sweep of dhbv-lean */
        const int Ts[] = {365, 730, 1460, 2920, 3650};
        for (int ck = 0; ck <= 1; ck++)
            for (int i = 0; i < 5; i++) {
                if (quick && Ts[i] > 1460) continue;
                bcfg c = {"dhbv-lean", 32, 32, Ts[i], ck ? -1 : 0, 1, hidden, 2};
                bad |= spawn(&c);
            }
    }
    if (!strcmp(what, "threads") || !strcmp(what, "all")) {
        for (int mi = 0; mi < 2; mi++)
            for (int th = 1; th <= 2; th++) {
                bcfg c = {models[mi], 128, 128, 730, 0, th, hidden, 2};
                bad |= spawn(&c);
            }
    }
    return bad;
}

int main(int argc, char **argv)
{
    bcfg c = {"dhbv", 100, 100, 365, 0, 1, 32, 3};
    const char *sw = NULL;
    int quick = 0;
    const bench_opt table[] = {
        {"--model", BENCH_STR, &c.model},   {"--basins", BENCH_INT, &c.basins}, {"--batch", BENCH_INT, &c.batch},
        {"--window", BENCH_INT, &c.T},      {"--ckpt", BENCH_INT, &c.ckpt},     {"--threads", BENCH_INT, &c.threads},
        {"--hidden", BENCH_INT, &c.hidden}, {"--reps", BENCH_INT, &c.reps},     {"--sweep", BENCH_STR, &sw},
        {"--quick", BENCH_FLAG, &quick},
    };
    const char *usage = "bench_scaling [--model dhbv|dhbv-lean|lstm] [--basins N] [--batch B] [--window T] [--ckpt K]\n"
                        "              [--threads N] [--hidden H] [--reps R] [--sweep basins|window|lean|threads|all] [--quick]\n";
    if (bench_parse_args("bench_scaling", usage, argc, argv, table, (int)(sizeof table / sizeof table[0])))
        return 2;
    if (strcmp(c.model, "dhbv") && strcmp(c.model, "dhbv-lean") && strcmp(c.model, "lstm")) {
        fprintf(stderr, "bench_scaling: --model dhbv|dhbv-lean|lstm\n");
        return 2;
    }
    if (c.basins < 1 || c.batch < 1 || c.T < 2 || c.threads < 1 || c.hidden < 1 || c.ckpt < -1) {
        fprintf(stderr, "bench_scaling: bad sizes\n");
        return 2;
    }
    if (sw) return sweep(sw, c.hidden, quick);
    if (tg_dist_init(&argc, &argv)) { fprintf(stderr, "bench_scaling: %s\n", tg_error_message()); return 1; }
    if (getenv("BENCH_HEADER") && tg_dist_is_root()) printf("%s\n", HEADER);
    int rc = run_config(&c);
    tg_dist_finalize();
    return rc;
}
