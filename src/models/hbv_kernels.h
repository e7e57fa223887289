/* hbv_kernels.h — the HBV step loops (forward and adjoint over the lanes of a block), the
 * only HBV code compiled for more than one instruction set. hbv_kernels_impl.h holds the
 * loops; hbv_kernels_base.c, hbv_kernels_avx2.c and hbv_kernels_avx512.c compile it for
 * the baseline, AVX2+FMA and AVX-512 (x86-64 only), and hbv_kernels_base.c picks one per
 * call from tg_cpu_level() (src/core/cpu.c). The drivers (hbv_forward.c, hbv_backward.c)
 * call the step loops through the picked function pointers. */
#ifndef TG_MODELS_HBV_KERNELS_H
#define TG_MODELS_HBV_KERNELS_H

#include "terragrad/models.h"

/* Scratch of one thread, all (rows, ls). Parameter and output rows are sized for δHBV
 * 1.1p (TG_HBV_NPARAM_MAX, TG_HBV_NOUT_MAX); a 1.0 run uses the first 13 / 16. */
typedef struct fw_scratch {
    tg_real *st;   /* (NSTATE, ls) stores */
    tg_real *par;  /* (NPARAM, ls) parameters of the current step */
    tg_real *frc;  /* (3, ls) forcing broadcast to lanes */
    tg_real *out;  /* (NOUT, ls) outputs of the current step */
} fw_scratch;

typedef struct bw_scratch {
    tg_real *st;    /* (NSTATE, ls) stores at the start of the step (from hist) */
    tg_real *par;   /* (NPARAM, ls) parameters of the step */
    tg_real *frc;   /* (3, ls) forcing of the step per lane */
    tg_real *gout;  /* (NOUT, ls) dL/d outputs of the step */
    tg_real *ast;   /* (NSTATE, ls) adjoint stores */
    tg_real *gjunk; /* (ls) sink for dynamic-parameter gradients nobody asked for */
    tg_real *gacc;  /* (NPARAM, ls) accumulated dL/d static parameters */
    tg_real *gfrc;  /* (3, ls) dL/d forcing of the step per lane */
} bw_scratch;
#define BW_ROWS (2 * TG_HBV_NSTATE + 2 * TG_HBV_NPARAM_MAX + 1 + 2 * TG_HBV_NFORCING + TG_HBV_NOUT_MAX)

/* One step for lanes [0, n) of a block; all = 0: only the Q output (seed). */
typedef void (*hbv_fw_kernel)(int n, int ls, fw_scratch *w, const tg_hbv_config *c, int all);
typedef void (*hbv_bw_kernel)(int n, int ls, bw_scratch *w, tg_real *const *gdst, const tg_hbv_config *c, int all);

#define HBV_KERNEL_DECL(sfx)                                                                           \
    void tg__hbv_fw_step_##sfx(int n, int ls, fw_scratch *w, const tg_hbv_config *c, int all);            \
    void tg__hbv_bw_step_##sfx(int n, int ls, bw_scratch *w, tg_real *const *gdst, const tg_hbv_config *c, int all);
HBV_KERNEL_DECL(base)
HBV_KERNEL_DECL(avx2)
HBV_KERNEL_DECL(avx512)
#undef HBV_KERNEL_DECL

/* The variant for tg_cpu_level(); asked once per forward/backward call. */
hbv_fw_kernel tg__hbv_fw_kernel_select(void);
hbv_bw_kernel tg__hbv_bw_kernel_select(void);

/* Checkpointed backward (hbv_forward.c): re-runs steps t0 .. t0+len-1 of the basins
 * [b0, b0+nbb) from the stores in seg[0] ((NSTATE, ls), the segment's checkpoint) with
 * the forward's own step kernel fk, writing the stores at the start of step t0+j into
 * seg + j NSTATE ls (j = 1 .. len-1). fscr: forward scratch of (NSTATE + NPARAM + NFORCING
 * + NOUT) ls scalars. Same arithmetic as the forward, so the same bits. */
void tg__hbv_fw_segment(tg_real *seg, tg_real *fscr, int ls, int t0, int len, int b0, int nbb, const tg_real *forcing,
                    const tg_real *par_static, const tg_real *par_dyn, const tg_hbv_config *c, hbv_fw_kernel fk);
#define HBV_FW_ROWS (TG_HBV_NSTATE + TG_HBV_NPARAM_MAX + TG_HBV_NFORCING + TG_HBV_NOUT_MAX)

#endif
