/* nn_internal.h — BLAS and threading helpers shared by the layers in src/nn.
 *
 * Why a fixed partition: OpenBLAS does not promise bit-identical results when the same
 * product is computed by a different number of threads or in different row blocks (its
 * Haswell sgemm kernel differs in the last bit between a 256-row call and two 128-row
 * calls, measured). So every parallel product here is cut into blocks that depend only on
 * the sizes, each block is one single-threaded BLAS call, and OpenMP spreads the blocks.
 * Same bits on 1 or N threads, and OpenBLAS's own thread pool never competes with ours. */
#ifndef TG_NN_INTERNAL_H
#define TG_NN_INTERNAL_H

#include <cblas.h>

#include "core/internal.h"
#include "terragrad/nn.h"

/* One single-threaded (by the caller's arrangement) row-major BLAS call in tg_real. */
static inline void tg_nn_blas_call(int trans_a, int trans_b, int M, int N, int K, tg_real alpha, const tg_real *A,
                                   int lda, const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc)
{
#ifdef TG_DOUBLE
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

static inline void tg_nn_blas(int trans_a, int trans_b, int M, int N, int K, tg_real alpha, const tg_real *A,
                              int lda, const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (tg__gemm_stats_on) { /* benchmark accounting (tg_gemm_stats_enable) */
        double t0 = tg__gemm_stats_clock();
        tg_nn_blas_call(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        tg__gemm_stats_add(tg__gemm_stats_clock() - t0, 2.0 * M * (double)N * (double)K);
        return;
    }
    tg_nn_blas_call(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Flush-to-zero + denormals-are-zero while our kernels run (restored after). Why: back-
 * propagating through hundreds of LSTM steps drives gradients towards zero; once they are
 * denormal, every FMA on them takes a microcode assist and a step's GEMMs ran 20x slower
 * (measured: 0.8 instead of 15+ GFLOP/s). Values below 1.2e-38 (float) do not matter for
 * training; TensorFlow flushes by default for the same reason. Same bits on any thread
 * count, since every thread sets the same mode. */
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
static inline unsigned tg_nn_ftz_on(void)
{
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u);   /* FTZ (bit 15) | DAZ (bit 6) */
    return csr;
}
static inline void tg_nn_ftz_off(unsigned csr) { _mm_setcsr(csr); }
#else
static inline unsigned tg_nn_ftz_on(void) { return 0; }
static inline void tg_nn_ftz_off(unsigned csr) { (void)csr; }
#endif

/* Saved thread settings: OpenBLAS is set to 1 thread while our OpenMP regions run. */
typedef struct tg_nn_threads {
    int omp;                /* threads for our parallel regions (omp_get_max_threads on entry) */
    int blas;               /* OpenBLAS threads to restore */
    int touched;
} tg_nn_threads;
tg_nn_threads tg_nn_threads_enter(void);
void tg_nn_threads_leave(tg_nn_threads t);

/* C (M, N) = alpha op(A) op(B) + beta C with a size-determined block partition (rows,
 * columns, or K with partial sums added in a fixed order), blocks spread over
 * `nthreads` OpenMP threads. Call between tg_nn_threads_enter/leave.
 * Returns 0 or TG_ENOMEM (K-split partial buffers). */
int tg_nn_gemm(int nthreads, int trans_a, int trans_b, int M, int N, int K, tg_real alpha, const tg_real *A,
               int lda, const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc);

/* tg_lstm_backward, except that store_dx != 0 overwrites dx (a fresh tape gradient,
 * tg__grad_write) instead of adding into it (lstm_kernels.c). */
int tg__lstm_backward_store(int store_dx, tg_real *dx, tg_real *dw_ih, tg_real *dw_hh, tg_real *db_ih,
                            tg_real *db_hh, tg_real *dh0, tg_real *dc0, tg_real *gates, const tg_real *dh,
                            const tg_real *dc_last, const tg_real *h, const tg_real *c, const tg_real *x,
                            const tg_real *w_ih, const tg_real *w_hh, const tg_real *h0, const tg_real *c0, int T,
                            int B, int F, int H, int chunks);

/* LSTM cell kernels on R rows (lstm_cell.c).
 * forward: a (R, 4H) holds x W_ih^T + h W_hh^T (no bias); on return the activated gates
 *   i, f, g, o (the biases b_ih + b_hh are added here). cprev (R, H) or NULL (zeros). Writes c, h (R, H).
 * backward: a (R, 4H) activated gates in, dL/da out. dh_ext (R, H) / dh_rec (R rows of H
 *   values, ld_rec apart): gradient from the output and from step t+1 (either may be NULL). dc (R, H): in dL/dc_t carried from
 *   t+1, out dL/dc_{t-1}. dbias (4H) += column sums of dL/da. */
void tg_lstm_cell_forward(tg_real *a, tg_real *c, tg_real *h, const tg_real *cprev, const tg_real *b_ih,
                          const tg_real *b_hh, int R, int H);
void tg_lstm_cell_backward(tg_real *a, tg_real *dc, const tg_real *dh_ext, const tg_real *dh_rec, int ld_rec,
                           const tg_real *c, const tg_real *cprev, int R, int H, double *dbias, tg_real *tmp4h);

#endif
