/* hbv_kernels_avx2.c — the HBV step loops for AVX2 + FMA (x86-64, GCC), called only when
 * tg_cpu_level() says the CPU has them. The pragma comes before every include so that the
 * whole file, including the inline exp/log of vmath.h, is compiled for this target. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,fma")
#define HBV_SFX avx2
#include "models/hbv_kernels_impl.h"
#else
typedef int tg_hbv_kernels_avx2_empty;   /* ISO C: a translation unit must not be empty */
#endif
