/* bench_lstm_fold.c — the LSTM's matrix products in two arrangements, one thread, plain
 * OpenBLAS sgemm (the products only; no cell kernel), to decide how to feed them to BLAS:
 *   split: the input projection of all steps in one product with K = F, per step the
 *          recurrent product with K = H (beta 1 onto the projection); backward per step
 *          dG_t W_hh, then dW_ih = dG^T X, dW_hh = dG^T H_prev, dX = dG W_ih over all steps
 *          (the shapes of src/nn/lstm_kernels.c before the fold);
 *   fold:  per step [x_t, h_{t-1}] [W_ih; W_hh]^T with K = F + H (the row copied into a
 *          (B, F+H) buffer first); backward per step dG_t [W_ih, W_hh] (N = F + H, then split
 *          into dx_t and dh_{t-1}), then one dW = dG^T [X, H_prev] over all steps, the
 *          concatenated rows built in blocks of 8192 rows (their copies are timed), as
 *          src/nn/lstm_kernels.c does.
 * The weight-gradient products are cut into the same K blocks as tg_nn_gemm (partials
 * summed in block order), the dX product into its row blocks. The arrangements alternate
 * --reps times; per arrangement the best and the median seconds per sequence and the rate
 * 3 * 2 T B 4H (F + H) / time against the 2048^3 rate measured between them.
 *   bench_lstm_fold [--seq-len 365] [--batch 256] [--inputs 32] [--hidden 256] [--reps 3] [--clock cpu] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

static clockid_t clk = CLOCK_PROCESS_CPUTIME_ID;
/* seconds per phase summed over the timed runs (printed as a per-sequence breakdown) */
enum { P_PROJ, P_FREC, P_BREC, P_DWIH, P_DWHH, P_DX, P_FFOLD, P_BFOLD, P_XH, P_DW, P_BPROJ, P_BDX, P_BDWT, NPHASE };
static const char *phase_name[NPHASE] = {"split fwd: X W_ih^T (all steps)", "split fwd: per-step h W_hh^T",
                                         "split bwd: per-step dG W_hh", "split bwd: dW_ih = dG^T X",
                                         "split bwd: dW_hh = dG^T H", "split bwd: dX = dG W_ih",
                                         "fold fwd: per-step copy + [x,h] W^T", "fold bwd: per-step dG W + split",
                                         "fold bwd: build [X, H_prev]", "fold bwd: dW = dG^T [X, H_prev]",
                                         "(b) fwd: per-step x_t W_ih^T", "(b) bwd: per-step dx_t = dG_t W_ih",
                                         "(b) bwd: dW_ih^T = X^T dG (M = F)"};
static double phase_s[NPHASE], phase_t0;
static int timing;
static void mark(int p)
{
    double t = bench_seconds(clk);
    if (timing && p >= 0)
        phase_s[p] += t - phase_t0;
    phase_t0 = t;
}
static int T = 365, B = 256, F = 32, H = 256;

static float *alloc_fill(size_t n, int mod, float scale)
{
    float *p = malloc(sizeof(float) * n);
    if (!p) {
        fprintf(stderr, "bench_lstm_fold: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(i % (size_t)mod) * scale - 0.05f;
    return p;
}

static void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *Bm, int ldb, float beta,
                 float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda,
                Bm, ldb, beta, C, ldc);
}

/* dW (M, N) += A^T Bm over K rows in the K blocks of tg_nn_gemm (K / 8192 clamped to 1..4). */
static void wgrad(int M, int N, int K, const float *A, int lda, const float *Bm, int ldb, float *C, float *part)
{
    int nk = K / 8192;
    nk = nk < 1 ? 1 : nk > 4 ? 4 : nk;
    if (K < 4 * (M > N ? M : N) || K < 2 * 8192)
        nk = 1;
    const size_t mn = (size_t)M * N;
    for (int kb = 0; kb < nk; kb++) {
        int k0 = (int)((long long)K * kb / nk), k1 = (int)((long long)K * (kb + 1) / nk);
        gemm(1, 0, M, N, k1 - k0, A + (size_t)k0 * lda, lda, Bm + (size_t)k0 * ldb, ldb, 0.0f, part + mn * kb, N);
    }
    for (size_t i = 0; i < mn; i++) {
        float s = part[i];
        for (int kb = 1; kb < nk; kb++)
            s += part[mn * kb + i];
        C[i] += s;
    }
}

typedef struct bufs {
    float *x, *h, *gates, *w_ih, *w_hh, *wT, *wcat, *xh, *dx, *dh, *dxh, *dw_ih, *dw_hh, *dw, *part;
} bufs;

/* returns forward and backward seconds */
static void run_split(bufs *b, double *tf, double *tbw)
{
    const int G = 4 * H;
    const size_t BH = (size_t)B * H, BG = (size_t)B * G;
    double t0 = bench_seconds(clk);
    mark(-1);
    gemm(0, 1, T * B, G, F, b->x, F, b->w_ih, F, 0.0f, b->gates, G);
    mark(P_PROJ);
    for (int t = 1; t < T; t++)   /* wT holds W_hh^T (H, 4H) */
        gemm(0, 0, B, G, H, b->h + (size_t)(t - 1) * BH, H, b->wT, G, 1.0f, b->gates + (size_t)t * BG, G);
    mark(P_FREC);
    double t1 = bench_seconds(clk);
    for (int t = T - 1; t > 0; t--)
        gemm(0, 0, B, H, G, b->gates + (size_t)t * BG, G, b->w_hh, H, 0.0f, b->dh, H);
    mark(P_BREC);
    wgrad(G, F, T * B, b->gates, G, b->x, F, b->dw_ih, b->part);
    mark(P_DWIH);
    wgrad(G, H, (T - 1) * B, b->gates + BG, G, b->h, H, b->dw_hh, b->part);
    mark(P_DWHH);
    const int nb = T * B / 512 < 1 ? 1 : T * B / 512 > 16 ? 16 : T * B / 512;
    for (int k = 0; k < nb; k++) {
        int m0 = (int)((long long)T * B * k / nb), m1 = (int)((long long)T * B * (k + 1) / nb);
        gemm(0, 0, m1 - m0, F, G, b->gates + (size_t)m0 * G, G, b->w_ih, F, 1.0f, b->dx + (size_t)m0 * F, F);
    }
    mark(P_DX);
    *tf = t1 - t0, *tbw = bench_seconds(clk) - t1;
}

static void run_fold(bufs *b, double *tf, double *tbw)
{
    const int G = 4 * H, K = F + H;
    const size_t BH = (size_t)B * H, BG = (size_t)B * G, BF = (size_t)B * F;
    double t0 = bench_seconds(clk);
    mark(-1);
    for (int t = 0; t < T; t++) {      /* wT holds [W_ih^T; W_hh^T] (F + H, 4H) */
        for (int r = 0; r < B; r++) {
            memcpy(b->xh + (size_t)r * K, b->x + (size_t)t * BF + (size_t)r * F, sizeof(float) * F);
            if (t)
                memcpy(b->xh + (size_t)r * K + F, b->h + (size_t)(t - 1) * BH + (size_t)r * H, sizeof(float) * H);
            else
                memset(b->xh + (size_t)r * K + F, 0, sizeof(float) * H);
        }
        gemm(0, 0, B, G, K, b->xh, K, b->wT, G, 0.0f, b->gates + (size_t)t * BG, G);
    }
    mark(P_FFOLD);
    double t1 = bench_seconds(clk);
    for (int t = T - 1; t >= 0; t--) { /* wcat = [W_ih, W_hh] (4H, F + H) */
        gemm(0, 0, B, K, G, b->gates + (size_t)t * BG, G, b->wcat, K, 0.0f, b->dxh, K);
        for (int r = 0; r < B; r++) {
            float *dx = b->dx + (size_t)t * BF + (size_t)r * F;
            const float *s = b->dxh + (size_t)r * K;
            for (int j = 0; j < F; j++)
                dx[j] += s[j];
            memcpy(b->dh + (size_t)r * H, s + F, sizeof(float) * H);
        }
    }
    mark(P_BFOLD);
    /* [X, H_prev] in blocks of 8192 rows, each block's product added in block order, cut
     * into the row blocks tg_nn_gemm uses for this shape (as lstm_kernels.c does) */
    const size_t nr = 8192, TB = (size_t)T * B;
    for (size_t q0 = 0; q0 < TB; q0 += nr) {
        const size_t n = TB - q0 < nr ? TB - q0 : nr;
        for (size_t i = 0; i < n; i++) {
            const size_t q = q0 + i;
            float *row = b->xh + i * K;
            memcpy(row, b->x + q * F, sizeof(float) * F);
            if (q >= (size_t)B)
                memcpy(row + F, b->h + (q - B) * H, sizeof(float) * H);
            else
                memset(row + F, 0, sizeof(float) * H);
        }
        mark(P_XH);
        const int nb = G / 512 < 1 ? 1 : G / 512 > 16 ? 16 : G / 512;
        for (int k = 0; k < nb; k++) {
            const int m0 = G * k / nb, m1 = G * (k + 1) / nb;
            gemm(1, 0, m1 - m0, K, (int)n, b->gates + q0 * G + m0, G, b->xh, K, q0 ? 1.0f : 0.0f,
                 b->dw + (size_t)m0 * K, K);
        }
        mark(P_DW);
    }
    *tf = t1 - t0, *tbw = bench_seconds(clk) - t1;
}

/* option (b): the split products with other shapes — the K = F projection per step (its
 * C block still in cache for the recurrent product), dx per step, dW_ih transposed. */
static void run_b(bufs *b, double *tf, double *tbw)
{
    const int G = 4 * H;
    const size_t BH = (size_t)B * H, BG = (size_t)B * G, BF = (size_t)B * F;
    double t0 = bench_seconds(clk), tp = 0, tdx = 0;
    mark(-1);
    for (int t = 0; t < T; t++) {
        double q = bench_seconds(clk);
        gemm(0, 1, B, G, F, b->x + (size_t)t * BF, F, b->w_ih, F, 0.0f, b->gates + (size_t)t * BG, G);
        tp += bench_seconds(clk) - q;
        if (t)
            gemm(0, 0, B, G, H, b->h + (size_t)(t - 1) * BH, H, b->wT + (size_t)F * G, G, 1.0f,
                 b->gates + (size_t)t * BG, G);
    }
    if (timing)
        phase_s[P_BPROJ] += tp;
    double t1 = bench_seconds(clk);
    for (int t = T - 1; t >= 0; t--) {
        if (t)
            gemm(0, 0, B, H, G, b->gates + (size_t)t * BG, G, b->w_hh, H, 0.0f, b->dh, H);
        double q = bench_seconds(clk);
        gemm(0, 0, B, F, G, b->gates + (size_t)t * BG, G, b->w_ih, F, 1.0f, b->dx + (size_t)t * BF, F);
        tdx += bench_seconds(clk) - q;
    }
    if (timing)
        phase_s[P_BDX] += tdx;
    mark(-1);
    wgrad(F, G, T * B, b->x, F, b->gates, G, b->dw_ih, b->part);
    mark(P_BDWT);
    wgrad(G, H, (T - 1) * B, b->gates + BG, G, b->h, H, b->dw_hh, b->part);
    *tf = t1 - t0, *tbw = bench_seconds(clk) - t1;
}

static double peak(void)
{
    static float *a, *bb, *c;
    const int n = 2048;
    if (!a)
        a = alloc_fill((size_t)n * n, 13, 0.01f), bb = alloc_fill((size_t)n * n, 7, 0.02f),
        c = alloc_fill((size_t)n * n, 3, 0.0f);
    double t0 = bench_seconds(clk);
    gemm(0, 0, n, n, n, a, n, bb, n, 0.0f, c, n);
    return 2.0 * n * (double)n * n / (bench_seconds(clk) - t0) / 1e9;
}

int main(int argc, char **argv)
{
    int reps = 3;
    const char *clock = NULL;
    const bench_opt table[] = {
        {"--seq-len", BENCH_INT, &T}, {"--batch", BENCH_INT, &B}, {"--inputs", BENCH_INT, &F},
        {"--hidden", BENCH_INT, &H},  {"--reps", BENCH_INT, &reps}, {"--clock", BENCH_STR, &clock},
    };
    if (bench_parse_args("bench_lstm_fold", "bench_lstm_fold [--seq-len T] [--batch B] [--inputs F] [--hidden H] "
                         "[--reps N] [--clock cpu|wall]\n", argc, argv, table, (int)(sizeof table / sizeof *table)) ||
        bench_clock_named(clock ? clock : "cpu", &clk) || reps < 1)
        return 2;
    openblas_set_num_threads(1);
    const int G = 4 * H, K = F + H;
    const size_t TB = (size_t)T * B;
    bufs b = {alloc_fill(TB * F, 11, 0.01f), alloc_fill(TB * H, 17, 0.005f), alloc_fill(TB * G, 19, 0.004f),
              alloc_fill((size_t)G * F, 23, 0.003f), alloc_fill((size_t)G * H, 29, 0.003f),
              alloc_fill((size_t)K * G, 31, 0.003f), alloc_fill((size_t)G * K, 37, 0.003f),
              alloc_fill(TB * K, 3, 0.0f), alloc_fill(TB * F, 3, 0.0f), alloc_fill((size_t)B * H, 3, 0.0f),
              alloc_fill((size_t)B * K, 3, 0.0f), alloc_fill((size_t)G * F, 3, 0.0f),
              alloc_fill((size_t)G * H, 3, 0.0f), alloc_fill((size_t)G * K, 3, 0.0f),
              alloc_fill((size_t)G * K * 4, 3, 0.0f)};
    double *ts[3][2], *pk = malloc(sizeof(double) * (size_t)(3 * reps + 1));
    for (int v = 0; v < 3; v++)
        for (int p = 0; p < 2; p++)
            ts[v][p] = malloc(sizeof(double) * (size_t)reps);
    void (*const run[3])(bufs *, double *, double *) = {run_split, run_fold, run_b};
    static const char *const vname[3] = {"split", "fold", "(b)"};
    double f, w;
    run_split(&b, &f, &w), run_fold(&b, &f, &w), run_b(&b, &f, &w);      /* warm-up: page faults */
    int np = 0;
    timing = 1;
    pk[np++] = peak();
    for (int r = 0; r < reps; r++)
        for (int v = 0; v < 3; v++) {
            run[v](&b, &ts[v][0][r], &ts[v][1][r]);
            pk[np++] = peak();
        }
    const double flop = 2.0 * (double)TB * G * K, pmed = bench_median(pk, np);
    printf("T=%d B=%d F=%d H=%d, %d alternations, clock %s, sgemm 2048^3 median %.1f GFLOP/s (OpenBLAS %s)\n", T, B,
           F, H, reps, clk == CLOCK_MONOTONIC ? "wall" : "cpu", pmed, openblas_get_corename());
    for (int v = 0; v < 3; v++) {
        double fm = bench_median(ts[v][0], reps), bm = bench_median(ts[v][1], reps);
        double fb = bench_minimum(ts[v][0], reps), bb = bench_minimum(ts[v][1], reps);
        printf("%-5s fwd median %.4f s (best %.4f, %5.1f GFLOP/s)  bwd median %.4f s (best %.4f, %5.1f GFLOP/s)  "
               "fwd+bwd %.1f %% of peak (medians)\n",
               vname[v], fm, fb, flop / fm / 1e9, bm, bb, 2 * flop / bm / 1e9,
               100.0 * 3 * flop / (fm + bm) / 1e9 / pmed);
    }
    const double fl[NPHASE] = {2.0 * TB * G * F, 2.0 * TB * G * H, 2.0 * TB * G * H, 2.0 * TB * G * F,
                               2.0 * TB * G * H, 2.0 * TB * G * F, flop, flop, 0, flop,
                               2.0 * TB * G * F, 2.0 * TB * G * F, 2.0 * TB * G * F};
    for (int p = 0; p < NPHASE; p++)
        printf("  %-38s %.4f s  %6.1f GFLOP/s\n", phase_name[p], phase_s[p] / reps,
               fl[p] / (phase_s[p] / reps) / 1e9);
    return 0;
}
