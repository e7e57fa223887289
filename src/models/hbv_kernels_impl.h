/* hbv_kernels_impl.h — body of the HBV step loops, included once per instruction set by
 * hbv_kernels_{base,avx2,avx512}.c with HBV_SFX naming the variant (see hbv_kernels.h).
 * Each including file sets its target (#pragma GCC target) BEFORE including this, so
 * vmath.h sees __FMA__ where the variant has FMA and uses one-rounding fmaf there. */
#include "models/hbv_kernels.h"
#include "models/hbv_step.h"

#define HBV_CAT2(a, b) a##b
#define HBV_CAT(a, b) HBV_CAT2(a, b)

/* One step for lanes [0, n) of a block. smT, smS, all are compile-time constants at each
 * call site below, so every variant is its own straight-line vector loop. all = 0 stores
 * only the Q output (training needs nothing else): 15 fewer stores per lane and step. */
TG_VINLINE void fw_block_step(int n, int ls, tg_real *restrict st, tg_real *restrict out,
                              const tg_real *restrict par, const tg_real *restrict frc,
                              tg_real wT, tg_real wS, const int smT, const int smS, const int all,
                              const int capr)
{
#pragma omp simd
    for (int i = 0; i < n; i++) {
        hbv_fw v = hbv_step_forward(frc[i], frc[ls + i], frc[2 * ls + i], hbv_load_par(par, ls, i, capr),
                                    hbv_load_st(st, ls, i), wT, wS, smT, smS, capr);
        hbv_store_st(st, ls, i, hbv_step_stores(v));
        if (all) hbv_store_out(out, ls, i, hbv_step_outputs(v), capr);
        else out[TG_HBV_Q * ls + i] = v.Q0 + v.Q1 + v.Q2;
    }
}

/* Bit 3 of the case: δHBV 1.1p capillary rise (its own loops; the 1.0 loops are unchanged). */
#define FW_CASE(k) case k: fw_block_step(n, ls, w->st, w->out, w->par, w->frc, wT, wS, (k) & 1, ((k) >> 1) & 1, \
                                         ((k) >> 2) & 1, (k) >> 3); break;
#define FW_DISPATCH_BODY                                                                                  \
    tg_real wT = c->smooth_temp, wS = c->smooth_store;                                                    \
    int v = (wT > TG_R(0.0)) | (wS > TG_R(0.0)) << 1 | (all != 0) << 2 | (c->capillary != 0) << 3;      \
    switch (v) { FW_CASE(0) FW_CASE(1) FW_CASE(2) FW_CASE(3) FW_CASE(4) FW_CASE(5) FW_CASE(6) FW_CASE(7)   \
                 FW_CASE(8) FW_CASE(9) FW_CASE(10) FW_CASE(11) FW_CASE(12) FW_CASE(13) FW_CASE(14)        \
                 FW_CASE(15) default: break; }

void HBV_CAT(tg__hbv_fw_step_, HBV_SFX)(int n, int ls, fw_scratch *w, const tg_hbv_config *c, int all)
{
    FW_DISPATCH_BODY
}
#undef FW_DISPATCH_BODY
#undef FW_CASE

/* gdst[p]: row receiving dL/d parameter p of this step (+=): the block's accumulator for
 * static parameters, the g_par_dyn row of the step for dynamic ones. */
TG_VINLINE void bw_block_step(int n, int ls, tg_real *restrict ast, tg_real *const *gdst,
                              tg_real *restrict gfrc, const tg_real *restrict st,
                              const tg_real *restrict par, const tg_real *restrict frc,
                              const tg_real *restrict gout, tg_real wT, tg_real wS,
                              const int smT, const int smS, const int all, const int capr)
{
#pragma omp simd
    for (int i = 0; i < n; i++) {
        const tg_real P = frc[i], Ta = frc[ls + i], E = frc[2 * ls + i];
        const hbv_par p = hbv_load_par(par, ls, i, capr);
        hbv_fw v = hbv_step_forward(P, Ta, E, p, hbv_load_st(st, ls, i), wT, wS, smT, smS, capr);
        hbv_out g;
        if (all) g = hbv_load_out(gout, ls, i, capr);
        else { g = (hbv_out){0}; g.Q = gout[TG_HBV_Q * ls + i]; }   /* only Q is seeded */
        hbv_adj r = hbv_step_adjoint(v, p, P, E, g, hbv_load_st(ast, ls, i), wT, smT, smS, capr);
        hbv_store_st(ast, ls, i, r.a);
        gdst[TG_HBV_BETA][i] += r.gp.BETA; gdst[TG_HBV_FC][i] += r.gp.FC; gdst[TG_HBV_K0][i] += r.gp.K0;
        gdst[TG_HBV_K1][i] += r.gp.K1; gdst[TG_HBV_K2][i] += r.gp.K2; gdst[TG_HBV_LP][i] += r.gp.LP;
        gdst[TG_HBV_PERC][i] += r.gp.PERC; gdst[TG_HBV_UZL][i] += r.gp.UZL; gdst[TG_HBV_TT][i] += r.gp.TT;
        gdst[TG_HBV_CFMAX][i] += r.gp.CFMAX; gdst[TG_HBV_CFR][i] += r.gp.CFR; gdst[TG_HBV_CWH][i] += r.gp.CWH;
        gdst[TG_HBV_BETAET][i] += r.gp.BETAET;
        if (capr) gdst[TG_HBV_C][i] += r.gp.C;
        gfrc[i] = r.gP;
        gfrc[ls + i] = r.gT;
        gfrc[2 * ls + i] = r.gPET;
    }
}

#define BW_CASE(k) case k: bw_block_step(n, ls, w->ast, gdst, w->gfrc, w->st, w->par, w->frc, w->gout, wT, wS, \
                                         (k) & 1, ((k) >> 1) & 1, ((k) >> 2) & 1, (k) >> 3); break;
#define BW_DISPATCH_BODY                                                                                  \
    tg_real wT = c->smooth_temp, wS = c->smooth_store;                                                    \
    int v = (wT > TG_R(0.0)) | (wS > TG_R(0.0)) << 1 | (all != 0) << 2 | (c->capillary != 0) << 3;      \
    switch (v) { BW_CASE(0) BW_CASE(1) BW_CASE(2) BW_CASE(3) BW_CASE(4) BW_CASE(5) BW_CASE(6) BW_CASE(7)   \
                 BW_CASE(8) BW_CASE(9) BW_CASE(10) BW_CASE(11) BW_CASE(12) BW_CASE(13) BW_CASE(14)        \
                 BW_CASE(15) default: break; }

void HBV_CAT(tg__hbv_bw_step_, HBV_SFX)(int n, int ls, bw_scratch *w, tg_real *const *gdst, const tg_hbv_config *c,
                                    int all)
{
    BW_DISPATCH_BODY
}
#undef BW_DISPATCH_BODY
#undef BW_CASE
#undef HBV_CAT
#undef HBV_CAT2
