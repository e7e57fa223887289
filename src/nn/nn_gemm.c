/* nn_gemm.c — deterministic parallel matrix products for the layers (see nn_internal.h
 * for why the partition is fixed by the sizes and never by the thread count). */
#include <omp.h>
#include <string.h>

#include "core/scratch.h"
#include "nn/nn_internal.h"

tg_nn_threads tg_nn_threads_enter(void)
{
    tg_nn_threads t;
    t.omp = omp_get_max_threads();
    t.blas = openblas_get_num_threads();
    t.touched = 0;
    /* Nested inside a user's parallel region our pragmas run on one thread; leave the
     * process-wide OpenBLAS setting alone then (setting it from several threads races). */
    if (!omp_in_parallel() && t.blas != 1) {
        openblas_set_num_threads(1);
        t.touched = 1;
    }
    if (omp_in_parallel())
        t.omp = 1;
    return t;
}

void tg_nn_threads_leave(tg_nn_threads t)
{
    if (!t.touched)
        return;
    openblas_set_num_threads(t.blas);
    /* The OpenMP build of OpenBLAS implements openblas_set_num_threads with
     * omp_set_num_threads: put the caller's OpenMP setting back as it was. */
    if (omp_get_max_threads() != t.omp)
        omp_set_num_threads(t.omp);
}

/* Sizes below which one call on one thread beats spreading (thread wake-up ~ 10 us). */
#define TG_GEMM_SMALL_WORK (1 << 21)
#define TG_GEMM_ROW_BLOCK 512    /* at least this many rows/columns per block */
#define TG_GEMM_MAX_BLOCKS 16
#define TG_GEMM_K_BLOCK 8192     /* K-split: at least this much K per block */
#define TG_GEMM_MAX_KBLOCKS 4

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

int tg_nn_gemm(int nthreads, int trans_a, int trans_b, int M, int N, int K, tg_real alpha, const tg_real *A,
               int lda, const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return 0;
    double work = (double)M * (double)N * (double)K;
    if (work < TG_GEMM_SMALL_WORK || K <= 0) {
        const unsigned csr = tg_nn_ftz_on();
        tg_nn_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        tg_nn_ftz_off(csr);
        return 0;
    }
    int big = M > N ? M : N;
    if (K >= 4 * big && K >= 2 * TG_GEMM_K_BLOCK) {
        /* Weight gradients: long K (time x batch), small output. Split K; each block packs
         * its own slice of A and B once, so nothing is packed twice. Partials are summed in
         * block order. */
        int nk = clampi(K / TG_GEMM_K_BLOCK, 1, TG_GEMM_MAX_KBLOCKS);
        size_t mn = (size_t)M * (size_t)N;
        tg_real *part = tg__scratch_get(TG__SCRATCH_GEMM_PART, sizeof(tg_real) * mn * (size_t)nk);
        if (!part)
            return TG_ENOMEM;
#pragma omp parallel for schedule(static, 1) num_threads(nthreads)
        for (int kb = 0; kb < nk; kb++) {
            int k0 = (int)((long long)K * kb / nk), k1 = (int)((long long)K * (kb + 1) / nk);
            const tg_real *Ab = trans_a ? A + (size_t)k0 * (size_t)lda : A + k0;
            const tg_real *Bb = trans_b ? B + k0 : B + (size_t)k0 * (size_t)ldb;
            const unsigned csr = tg_nn_ftz_on();
            tg_nn_blas(trans_a, trans_b, M, N, k1 - k0, TG_R(1.0), Ab, lda, Bb, ldb, TG_R(0.0), part + mn * (size_t)kb,
                       N);
            tg_nn_ftz_off(csr);
        }
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (int i = 0; i < M; i++) {
            tg_real *ci = C + (size_t)i * (size_t)ldc;
            for (int j = 0; j < N; j++) {
                tg_real s = part[(size_t)i * (size_t)N + (size_t)j];
                for (int kb = 1; kb < nk; kb++)
                    s += part[mn * (size_t)kb + (size_t)i * (size_t)N + (size_t)j];
                ci[j] = (beta == TG_R(0.0) ? TG_R(0.0) : beta * ci[j]) + alpha * s;
            }
        }
        tg__scratch_put(TG__SCRATCH_GEMM_PART, part, sizeof(tg_real) * mn * (size_t)nk);
        return 0;
    }
    if (M >= N) {
        int nb = clampi(M / TG_GEMM_ROW_BLOCK, 1, TG_GEMM_MAX_BLOCKS);
#pragma omp parallel for schedule(static, 1) num_threads(nthreads)
        for (int b = 0; b < nb; b++) {
            int m0 = (int)((long long)M * b / nb), m1 = (int)((long long)M * (b + 1) / nb);
            const tg_real *Ab = trans_a ? A + m0 : A + (size_t)m0 * (size_t)lda;
            const unsigned csr = tg_nn_ftz_on();
            tg_nn_blas(trans_a, trans_b, m1 - m0, N, K, alpha, Ab, lda, B, ldb, beta, C + (size_t)m0 * (size_t)ldc,
                       ldc);
            tg_nn_ftz_off(csr);
        }
    } else {
        int nb = clampi(N / TG_GEMM_ROW_BLOCK, 1, TG_GEMM_MAX_BLOCKS);
#pragma omp parallel for schedule(static, 1) num_threads(nthreads)
        for (int b = 0; b < nb; b++) {
            int n0 = (int)((long long)N * b / nb), n1 = (int)((long long)N * (b + 1) / nb);
            const tg_real *Bb = trans_b ? B + (size_t)n0 * (size_t)ldb : B + n0;
            const unsigned csr = tg_nn_ftz_on();
            tg_nn_blas(trans_a, trans_b, M, n1 - n0, K, alpha, A, lda, Bb, ldb, beta, C + n0, ldc);
            tg_nn_ftz_off(csr);
        }
    }
    return 0;
}
