/* cpu.c — the one place that decides which vector instruction set the dispatched kernels
 * (HBV step loops, LSTM cell, PINN MLP tiles, small GEMM) use.
 *
 * Why run-time dispatch: the library is compiled for the baseline of the target
 * architecture (x86-64 = SSE2, aarch64 = NEON), so one binary runs on any machine of that
 * architecture; only kernel functions marked with a target attribute contain AVX2 or
 * AVX-512 instructions, and they are called only when the CPU has them.
 *
 * TG_CPU in the environment caps the level: `baseline` (also `scalar`) forces the
 * baseline kernels everywhere, `avx2` caps at AVX2, `avx512` or `auto` (or unset) takes
 * what the CPU has. It is read at every call (cheap next to a kernel call), so a test can
 * switch paths with setenv inside one process. */
#include <cblas.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* What the hardware offers; decided once (the answer never changes within a process). */
static int hw_detect(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return TG_CPU_BASELINE;
    /* the AVX-512 kernels use F, VL, DQ and BW (Skylake-SP and later) */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return TG_CPU_AVX512;
    return TG_CPU_AVX2;
#else
    return TG_CPU_BASELINE;
#endif
}

int tg_cpu_hw_level(void)
{
    /* Several threads may detect at first use; they all store the same value. */
    static atomic_int level = -1;
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l < 0) {
        l = hw_detect();
        atomic_store_explicit(&level, l, memory_order_relaxed);
    }
    return l;
}

/* TG_CPU -> cap, or -1 if the value is not understood. Unset or empty: no cap. */
static int env_cap(const char *v)
{
    if (!v || !*v || !strcmp(v, "auto") || !strcmp(v, "avx512"))
        return TG_CPU_AVX512;
    if (!strcmp(v, "baseline") || !strcmp(v, "scalar"))
        return TG_CPU_BASELINE;
    if (!strcmp(v, "avx2"))
        return TG_CPU_AVX2;
    return -1;
}

int tg_cpu_check_env(void)
{
    const char *v = getenv("TG_CPU");
    if (env_cap(v) < 0)
        return tg_error_set(TG_EINVAL, "environment variable TG_CPU='%s' is not one of baseline, scalar, avx2, "
                                       "avx512, auto", v);
    return TG_OK;
}

int tg_cpu_level(void)
{
    const int hw = tg_cpu_hw_level();
    int cap = env_cap(getenv("TG_CPU"));
    if (cap < 0)
        cap = TG_CPU_BASELINE;   /* not understood: the safe path (the CLI refuses it up front) */
    return hw < cap ? hw : cap;
}

const char *tg_cpu_level_name(int level)
{
    switch (level) {
    case TG_CPU_AVX512: return "avx512";
    case TG_CPU_AVX2: return "avx2";
    default: return "baseline";
    }
}

int tg_blas_set_threads(int n)
{
    int old = openblas_get_num_threads(), omp = omp_get_max_threads();
    openblas_set_num_threads(n > 0 ? n : 1);
    /* OpenBLAS built for OpenMP sets OpenMP's thread count with it: keep the caller's */
    if (omp_get_max_threads() != omp)
        omp_set_num_threads(omp);
    return old;
}
