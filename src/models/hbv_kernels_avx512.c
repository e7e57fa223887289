/* hbv_kernels_avx512.c — the HBV step loops for AVX-512 (16 floats per vector; x86-64,
 * GCC), called only when tg_cpu_level() says the CPU has it. Same IEEE operations as the
 * AVX2 variant (FMA in the same places), so the same bits (tests/test_hbv_step.c). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,fma,avx512f,avx512vl,avx512dq,avx512bw,prefer-vector-width=512")
#define HBV_SFX avx512
#include "models/hbv_kernels_impl.h"
#else
typedef int tg_hbv_kernels_avx512_empty;   /* ISO C: a translation unit must not be empty */
#endif
