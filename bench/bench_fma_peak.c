/* bench_fma_peak.c — the core's float32 FMA limit: 12 independent accumulator registers of
 * fused multiply-adds (no memory traffic), AVX2 (8 lanes) and AVX-512 (16 lanes) where the
 * CPU has them, one thread. The ceiling every "fraction of peak" in bench/RESULTS.md can be
 * read against: OpenBLAS's sgemm peak depends on the kernel set it picked (e.g.
 * OPENBLAS_CORETYPE=Haswell runs AVX2 kernels on an AVX-512 CPU).
 *   bench_fma_peak [iterations (default 1e8)]  -> one JSON line */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NACC 12
/* unrolled by hand: the accumulators must live in registers, not in an array in memory */
#define FMA12(F, a, x, y)                                                                        \
    a0 = F(a0, x, y), a1 = F(a1, x, y), a2 = F(a2, x, y), a3 = F(a3, x, y), a4 = F(a4, x, y),  \
    a5 = F(a5, x, y), a6 = F(a6, x, y), a7 = F(a7, x, y), a8 = F(a8, x, y), a9 = F(a9, x, y),  \
    a10 = F(a10, x, y), a11 = F(a11, x, y)

__attribute__((target("avx2,fma"))) static float fma_avx2(long n)
{
    __m256 x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(-1e-7f);
    /* distinct starting values: equal chains would be merged into one by the compiler */
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3),
           a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7),
           a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long k = 0; k < n; k++)
        FMA12(_mm256_fmadd_ps, a, x, y);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0];
}

__attribute__((target("avx512f"))) static float fma_avx512(long n)
{
    __m512 x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(-1e-7f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3),
           a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7),
           a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    for (long k = 0; k < n; k++)
        FMA12(_mm512_fmadd_ps, a, x, y);
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000000L;
    n /= NACC;
    double g2 = 0, g5 = 0;
    float chk = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        fma_avx2(n / 10); /* clock ramp-up */
        double t0 = now();
        chk += fma_avx2(n);
        g2 = (double)n * NACC * 8 * 2 / (now() - t0) / 1e9;
    }
    if (__builtin_cpu_supports("avx512f")) {
        fma_avx512(n / 10);
        double t0 = now();
        chk += fma_avx512(n);
        g5 = (double)n * NACC * 16 * 2 / (now() - t0) / 1e9;
    }
    printf("{\"bench\": \"fma_peak\", \"threads\": 1, \"avx2_gflops\": %.1f, \"avx512_gflops\": %.1f, \"check\": %g}\n",
           g2, g5, (double)chk);
    return 0;
}
#else
int main(void)
{
    printf("{\"bench\": \"fma_peak\", \"note\": \"x86-64 GCC only\"}\n");
    return 0;
}
#endif
