/* gemm.c — dense products on raw arrays. OpenBLAS pays above roughly 32^3 multiply-adds;
 * below it the call and packing overhead dominates, so a simple cache-friendly kernel
 * (i-k-j order, vectorised inner loop) is used, in an AVX2 build of the same loop where
 * tg_cpu_level() allows (same operations per element, so the same bits). */
#include <cblas.h>

#include "core/internal.h"

#define TG_BLAS_MIN_WORK (32 * 32 * 32)

static inline __attribute__((always_inline)) void small_gemm(int ta, int tb, int M, int N, int K, tg_real alpha, const tg_real *A, int lda,
                       const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        tg_real *c = C + (size_t)i * ldc;
        if (beta == 0)
            for (int j = 0; j < N; j++) c[j] = 0;
        else if (beta != 1)
            for (int j = 0; j < N; j++) c[j] *= beta;
        for (int k = 0; k < K; k++) {
            tg_real a = alpha * (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
            if (a == 0)
                continue;
            if (!tb) {
                const tg_real *b = B + (size_t)k * ldb;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            } else
                for (int j = 0; j < N; j++) c[j] += a * B[(size_t)j * ldb + k];
        }
    }
}

static void small_gemm_base(int ta, int tb, int M, int N, int K, tg_real alpha, const tg_real *A, int lda,
                            const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc)
{
    small_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TG_GEMM_AVX2 1
__attribute__((target("avx2"))) static void small_gemm_avx2(int ta, int tb, int M, int N, int K, tg_real alpha,
                                                           const tg_real *A, int lda, const tg_real *B, int ldb,
                                                           tg_real beta, tg_real *C, int ldc)
{
    small_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
#endif

static void gemm_dispatch(int ta, int tb, int M, int N, int K, tg_real alpha, const tg_real *A, int lda,
                          const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc)
{
    if ((double)M * N * K < TG_BLAS_MIN_WORK) {
#ifdef TG_GEMM_AVX2
        if (tg_cpu_level() >= TG_CPU_AVX2) {
            small_gemm_avx2(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            return;
        }
#endif
        small_gemm_base(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#ifdef TG_DOUBLE
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, B, ldb, beta, C, ldc);
#endif
}

void tg_gemm(int ta, int tb, int M, int N, int K, tg_real alpha, const tg_real *A, int lda,
             const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (tg__gemm_stats_on) { /* benchmark accounting (tg_gemm_stats_enable) */
        double t0 = tg__gemm_stats_clock();
        gemm_dispatch(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        tg__gemm_stats_add(tg__gemm_stats_clock() - t0, 2.0 * M * (double)N * (double)K);
        return;
    }
    gemm_dispatch(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
