/* hbv_kernels_base.c — the HBV step loops for the baseline of the target architecture
 * (always available; TG_CPU=baseline forces them), and the choice of variant. */
#define HBV_SFX base
#include "models/hbv_kernels_impl.h"

#include "core/internal.h"

/* Without GCC on x86-64 the vector variants are not compiled (hbv_kernels_avx2.c,
 * hbv_kernels_avx512.c are empty there) and the baseline is the only choice. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HBV_HAVE_X86_VARIANTS 1
#endif

hbv_fw_kernel tg__hbv_fw_kernel_select(void)
{
#ifdef HBV_HAVE_X86_VARIANTS
    switch (tg_cpu_level()) {
    case TG_CPU_AVX512: return tg__hbv_fw_step_avx512;
    case TG_CPU_AVX2: return tg__hbv_fw_step_avx2;
    default: break;
    }
#endif
    return tg__hbv_fw_step_base;
}

hbv_bw_kernel tg__hbv_bw_kernel_select(void)
{
#ifdef HBV_HAVE_X86_VARIANTS
    switch (tg_cpu_level()) {
    case TG_CPU_AVX512: return tg__hbv_bw_step_avx512;
    case TG_CPU_AVX2: return tg__hbv_bw_step_avx2;
    default: break;
    }
#endif
    return tg__hbv_bw_step_base;
}
