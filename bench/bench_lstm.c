/* bench_lstm.c — one LSTM training step (forward + backward + clip + Adam), the workload of
 * ../shared/peer/lstm_bench.py, plus the machine's sgemm peak measured in the same process.
 *
 * Model: 5 dynamic + n_stat static inputs (statics repeated over time) -> LSTM(hidden)
 *        -> dropout(0.4) on every step -> Linear(hidden, 1); forget-gate bias 3 in b_hh.
 * Loss : NSE* (squared error / (std_basin + 0.1)^2) on the last predict_last_n steps, NaN
 *        targets masked; Adam(lr 1e-3), gradient norm clipped to 1.
 * Batch: random windows of seq_len days from a synthetic pool of basins (the peer's pool
 *        is synthetic too; values do not change the work done).
 * Timing: median over --steps after 1 warm-up; "fwd" includes building the (T, B, F) input
 *        from the batch-first pool as the peer's forward does (transpose + concat).
 * Prints one JSON line (same keys as the peer where they mean the same thing).
 *   bench_lstm --threads 1 --steps 3                         (neuralhydrology size)
 *   bench_lstm --threads 1 --batch 100 --seq-len 730 --n-stat 33   (dPL/HBV size, 38 inputs) */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "terragrad.h"

/* Wall clock by default; --clock cpu uses process CPU time (all threads), which on a
 * shared, overloaded machine is a steadier measure of single-threaded runs. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

/* sgemm 2048^3 through OpenBLAS with the benchmark's thread count: the GEMM peak. It is
 * measured before the loop and again after every timed step, so on a shared machine the
 * peak and the LSTM see the same conditions; the median of those samples is reported. */
enum { PEAK_N = 2048 };
static float *peak_a, *peak_b, *peak_c;

static double gemm_once(void)
{
    const int n = PEAK_N;
    double t0 = bench_seconds(bench_clock);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, peak_a, n, peak_b, n, 0.0f, peak_c, n);
    return 2.0 * n * (double)n * n / (bench_seconds(bench_clock) - t0) / 1e9;
}

static void gemm_setup(void)
{
    const size_t nn = (size_t)PEAK_N * PEAK_N;
    peak_a = malloc(sizeof(float) * nn), peak_b = malloc(sizeof(float) * nn), peak_c = malloc(sizeof(float) * nn);
    for (size_t i = 0; i < nn; i++)
        peak_a[i] = (float)(i % 13) * 0.01f, peak_b[i] = (float)(i % 7) * 0.02f, peak_c[i] = 0.0f;
    (void)gemm_once();      /* warm-up: thread start, page faults */
}

typedef struct opts {
    int threads, batch, steps, seq_len, hidden, n_dyn, n_stat, predict_last_n, pool_basins, pool_days, mse;
    double dropout;
    uint64_t seed;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    const char *loss = "nse", *clock = NULL;
    *o = (opts){1, 256, 3, 365, 256, 5, 27, 1, 256, 1095, 0, 0.4, 0};
    const bench_opt table[] = {
        {"--threads", BENCH_INT, &o->threads},
        {"--steps", BENCH_INT, &o->steps},
        {"--batch", BENCH_INT, &o->batch},
        {"--seq-len", BENCH_INT, &o->seq_len},
        {"--hidden", BENCH_INT, &o->hidden},
        {"--n-dyn", BENCH_INT, &o->n_dyn},
        {"--n-stat", BENCH_INT, &o->n_stat},
        {"--predict-last-n", BENCH_INT, &o->predict_last_n},
        {"--dropout", BENCH_DOUBLE, &o->dropout},
        {"--pool-basins", BENCH_INT, &o->pool_basins},
        {"--pool-days", BENCH_INT, &o->pool_days},
        {"--seed", BENCH_U64, &o->seed},
        {"--loss", BENCH_STR, &loss},
        {"--clock", BENCH_STR, &clock},
    };
    const char *usage = "bench_lstm [--threads N] [--steps N] [--batch B] [--seq-len T] [--hidden H] [--n-stat S]\n"
                        "           [--n-dyn D] [--predict-last-n N] [--loss nse|mse] [--dropout P] [--pool-basins N]\n"
                        "           [--pool-days D] [--seed S] [--clock wall|cpu]\n";
    if (bench_parse_args("bench_lstm", usage, argc, argv, table, (int)(sizeof table / sizeof table[0])))
        return 1;
    if (bench_clock_named(clock, &bench_clock) || (strcmp(loss, "nse") && strcmp(loss, "mse")))
        return fprintf(stderr, "bench_lstm: --clock takes wall or cpu, --loss nse or mse\n"), 1;
    o->mse = !strcmp(loss, "mse");
    if (o->pool_days < o->seq_len + 1)
        o->pool_days = o->seq_len + 1;
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o))
        return 2;
    omp_set_num_threads(o.threads);
    openblas_set_num_threads(o.threads);
    gemm_setup();
    double *peaks = calloc((size_t)o.steps + 3, sizeof(double));
    int n_peaks = 0;
    for (int r = 0; r < 3; r++)
        peaks[n_peaks++] = gemm_once();

    const int NB = o.pool_basins, D = o.pool_days, NS = o.n_stat, ND = o.n_dyn;
    const int T = o.seq_len, B = o.batch, H = o.hidden, F = ND + NS, n_last = o.predict_last_n;
    /* synthetic pool: batch-first dynamic inputs (NB, D, ND), statics (NB, NS), targets (NB, D) */
    tg_rng rng;
    tg_rng_seed(&rng, o.seed);
    tg_real *xd = malloc(sizeof(tg_real) * (size_t)NB * D * ND), *xs = malloc(sizeof(tg_real) * (size_t)NB * NS);
    tg_real *yq = malloc(sizeof(tg_real) * (size_t)NB * D), *qstd = malloc(sizeof(tg_real) * (size_t)NB);
    for (size_t i = 0; i < (size_t)NB * D * ND; i++)
        xd[i] = (tg_real)tg_rng_normal(&rng);
    for (size_t i = 0; i < (size_t)NB * NS; i++)
        xs[i] = (tg_real)(2.0 * tg_rng_uniform(&rng) - 1.0);
    for (size_t i = 0; i < (size_t)NB * D; i++)
        yq[i] = tg_rng_uniform(&rng) < 0.02 ? (tg_real)NAN : (tg_real)tg_rng_normal(&rng);
    for (int b = 0; b < NB; b++)
        qstd[b] = (tg_real)(0.5 + tg_rng_uniform(&rng));

    tg_params *ps = tg_params_create();
    tg_lstm_layer lstm;
    tg_linear_layer head;
    if (tg_lstm_layer_init(&lstm, ps, "lstm", F, H, 0) || tg_linear_layer_init(&head, ps, "head", H, 1, 1)) {
        fprintf(stderr, "bench_lstm: %s\n", tg_error_message());
        return 1;
    }
    tg_lstm_reset(&lstm, ps, TG_INIT_TORCH, &rng);
    tg_lstm_set_forget_bias(&lstm, ps, 3.0);
    tg_linear_reset(&head, ps, TG_INIT_TORCH, &rng);
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = 1e-3}, ps);
    tg_ctx *ctx = tg_ctx_create();

    int *bi = malloc(sizeof(int) * (size_t)B), *st = malloc(sizeof(int) * (size_t)B);
    tg_real *yt = malloc(sizeof(tg_real) * (size_t)n_last * B), *wt = malloc(sizeof(tg_real) * (size_t)n_last * B);
    double *tf = calloc((size_t)o.steps, sizeof(double)), *tb = calloc((size_t)o.steps, sizeof(double));
    double *to = calloc((size_t)o.steps, sizeof(double)), *ti = calloc((size_t)o.steps, sizeof(double));
    double loss_first = 0, loss_last = 0;
    for (int it = 0; it <= o.steps; it++) {
        for (int b = 0; b < B; b++) {
            bi[b] = (int)tg_rng_below(&rng, (uint64_t)NB);
            st[b] = (int)tg_rng_below(&rng, (uint64_t)(D - T + 1));
        }
        double t0 = bench_seconds(bench_clock);
        /* (T, B, F) time-major input: dynamic inputs transposed, statics repeated */
        tg_tensor *x = tg_new(ctx, TG_SHAPE(T, B, F));
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                tg_real *row = x->data + ((size_t)t * B + b) * F;
                memcpy(row, xd + ((size_t)bi[b] * D + (size_t)(st[b] + t)) * ND, sizeof(tg_real) * (size_t)ND);
                memcpy(row + ND, xs + (size_t)bi[b] * NS, sizeof(tg_real) * (size_t)NS);
            }
        /* targets of the last n steps, NaN masked, NSE* weights */
        int count = 0;
        for (int k = 0; k < n_last; k++)
            for (int b = 0; b < B; b++) {
                tg_real y = yq[(size_t)bi[b] * D + (size_t)(st[b] + T - n_last + k)];
                int ok = !isnan(y);
                count += ok;
                yt[k * B + b] = ok ? y : TG_R(0.0);
                double s = o.mse ? 1.0 : 1.0 / (((double)qstd[bi[b]] + 0.1) * ((double)qstd[bi[b]] + 0.1));
                wt[k * B + b] = ok ? (tg_real)s : TG_R(0.0);
            }
        for (int k = 0; k < n_last * B; k++)
            wt[k] = (tg_real)((double)wt[k] / (count > 0 ? count : 1));
        tg_tensor *h = tg_lstm(ctx, ps, &lstm, x, NULL, NULL, NULL);                        /* (T, B, H) */
        tg_tensor *yh = tg_linear(ctx, ps, &head, tg_dropout(ctx, h, o.dropout, 1, &rng));  /* (T, B, 1) */
        tg_tensor *last = tg_reshape(ctx, tg_slice(ctx, yh, 0, T - n_last, n_last), TG_SHAPE(n_last, B));
        tg_tensor *d = tg_sub(ctx, last, tg_from(ctx, TG_SHAPE(n_last, B), yt));
        tg_tensor *loss = tg_sum(ctx, tg_mul(ctx, tg_mul(ctx, d, d), tg_from(ctx, TG_SHAPE(n_last, B), wt)));
        if (!loss) {
            fprintf(stderr, "bench_lstm: forward failed: %s\n", tg_error_message());
            return 1;
        }
        double t1 = bench_seconds(bench_clock);
        if (tg_backward(ctx, loss)) {
            fprintf(stderr, "bench_lstm: backward failed: %s\n", tg_error_message());
            return 1;
        }
        double t2 = bench_seconds(bench_clock);
        tg_clip_grad_norm(ps, 1.0);
        tg_optim_step(opt, ps);
        double lv = (double)loss->data[0];
        tg_ctx_reset(ctx);
        double t3 = bench_seconds(bench_clock);
        if (it == 0)
            loss_first = lv;
        loss_last = lv;
        if (it == 0)
            continue;
        tf[it - 1] = t1 - t0, tb[it - 1] = t2 - t1, to[it - 1] = t3 - t2, ti[it - 1] = t3 - t0;
        peaks[n_peaks++] = gemm_once();
        /* let OpenBLAS's pthread workers stop spinning before the next timed step */
        nanosleep(&(struct timespec){0, 250000000}, NULL);
    }
    double peak_max = 0.0;
    for (int i = 0; i < n_peaks; i++)
        peak_max = peaks[i] > peak_max ? peaks[i] : peak_max;
    const double peak = bench_median(peaks, n_peaks);
    /* FNV-1a of the trained parameters: equal on 1 and 2 threads (determinism at full size) */
    uint64_t hash = 0xcbf29ce484222325ULL;
    const unsigned char *pb = (const unsigned char *)ps->value;
    for (size_t i = 0; i < ps->size * sizeof(tg_real); i++)
        hash = (hash ^ pb[i]) * 0x100000001b3ULL;
    double fwd_flop = 2.0 * T * (double)B * 4 * H * (double)(F + H);
    double iter = bench_median(ti, o.steps);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double ach = 3 * fwd_flop / 1e9 / iter;
    printf("{\"bench\": \"lstm\", \"impl\": \"terragrad\", \"precision\": \"%s\", \"threads\": %d, \"batch\": %d, "
           "\"seq_len\": %d, \"hidden\": %d, \"n_in\": %d, \"loss\": \"%s\", \"predict_last_n\": %d, "
           "\"dropout\": %g, \"n_trainable\": %zu, \"steps_timed\": %d, \"loss_first_last\": [%.6g, %.6g], "
           "\"lstm_matmul_gflop_iter_approx\": %.2f, \"fwd_s_median\": %.6f, \"bwd_s_median\": %.6f, "
           "\"opt_s_median\": %.6f, \"iter_s_median\": %.6f, \"iter_s_min\": %.6f, \"achieved_gflops_iter\": %.2f, "
           "\"sgemm_peak_gflops\": %.1f, \"sgemm_peak_max_gflops\": %.1f, \"fraction_of_peak\": %.3f, \"peak_rss_mb\": %.1f, "
           "\"arena_peak_mb\": %.1f, \"param_hash\": \"%016llx\", \"openblas_core\": \"%s\", "
           "\"OPENBLAS_CORETYPE\": \"%s\", \"clock\": \"%s\"}\n",
           TG_REAL_NAME, o.threads, B, T, H, F, o.mse ? "mse" : "nse", n_last, o.dropout, ps->size, o.steps,
           loss_first, loss_last, 3 * fwd_flop / 1e9, bench_median(tf, o.steps), bench_median(tb, o.steps), bench_median(to, o.steps),
           iter, bench_minimum(ti, o.steps), ach, peak, peak_max, ach / peak, (double)ru.ru_maxrss / 1024.0,
           (double)tg_ctx_arena_peak(ctx) / 1048576.0, (unsigned long long)hash, openblas_get_corename(),
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "",
           bench_clock == CLOCK_MONOTONIC ? "wall" : "cpu");
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    tg_params_free(&ps);
    free(xd), free(xs), free(yq), free(qstd), free(bi), free(st), free(yt), free(wt);
    free(tf), free(tb), free(to), free(ti), free(peaks), free(peak_a), free(peak_b), free(peak_c);
    return 0;
}
