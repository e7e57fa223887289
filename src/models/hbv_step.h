/* hbv_step.h — one HBV step for one lane, forward and adjoint, as always-inline scalar
 * code. The step loops (hbv_kernels_impl.h, compiled per instruction set) and the hybrid
 * model (hbv_hybrid.c) call these inside `omp simd` loops over the lanes of a block, so
 * each turns into vector code (exp/log from vmath.h).
 *
 * The forward keeps every intermediate in a struct; backward recomputes it from the
 * saved start-of-step stores (cheaper than storing ~40 intermediates per lane and step)
 * and then runs the adjoint statements in reverse order. Derivation: docs/hbv_backward.md. */
#ifndef TG_MODELS_HBV_STEP_H
#define TG_MODELS_HBV_STEP_H

#include "terragrad/models.h"
#include "models/vmath.h"

#define R0 TG_R(0.0)
#define R1 TG_R(1.0)

/* Parameters, stores and output seeds of one lane, passed BY VALUE: inside an `omp simd`
 * loop GCC privatises address-taken locals as per-lane arrays and then cannot vectorise
 * the loads through them; by-value structs are scalarised into registers. */
typedef struct hbv_par {
    tg_real BETA, FC, K0, K1, K2, LP, PERC, UZL, TT, CFMAX, CFR, CWH, BETAET;
    tg_real C;   /* δHBV 1.1p only (capr = 1); 0 and unused otherwise */
} hbv_par;
typedef struct hbv_st { tg_real SP, MW, SM, SUZ, SLZ; } hbv_st;
typedef struct hbv_out {
    tg_real Q, Q0, Q1, Q2, ET, rain, snow, melt, SWE, MW, SM, SUZ, SLZ, rech, exc, perc;
    tg_real cap;   /* δHBV 1.1p only */
} hbv_out;

/* Everything one step computes (names follow the equations; suffix = update number). */
typedef struct hbv_fw {
    tg_real rs, rain, snow, SP1, dT, mpot, melt, MW1, SP2;
    tg_real rpot, refr, SP3, MW2, zt, tosoil, MW3;
    tg_real x1, lx1, y1, wet, infil, rech, SM1, exc, SM2;
    tg_real lpfc, x2, lx2, y2, ef, ETp, ET, d3, SM3;
    /* capillary rise (1.1p): x3 = SM3/FC, f3 = 1 - min(x3, 1), cpot = C SLZ0 f3,
     * cap = min(SLZ0, cpot); SM4 = SM3 + cap, SLZc = SLZ0 - cap. Without it SM4 = SM3,
     * SLZc = SLZ0 (copies: the 1.0 arithmetic is untouched). */
    tg_real SLZ0, x3, f3, cpot, cap, SM4, SLZc;
    tg_real SUZ1, perc, SUZ2, r0, Q0, SUZ3, Q1, SUZ4, SLZ1, Q2, SLZ2;
    /* smooth mode: slopes of the smoothed kinks */
    tg_real sigT, spT, spnT, sigE, sigE0, sigU, sigU0;
} hbv_fw;

/* Adjoint of one step: dL/d start-of-step stores, dL/d parameters, dL/d forcing. */
typedef struct hbv_adj {
    hbv_st a;
    hbv_par gp;
    tg_real gP, gT, gPET;
} hbv_adj;

/* p: parameters (physical), s: stores at the start of the step. smT, smS, capr are
 * compile-time constants at every call site (capr = 1: δHBV 1.1p capillary rise). */
TG_VINLINE hbv_fw hbv_step_forward(tg_real P, tg_real Ta, tg_real E, const hbv_par p,
                                   const hbv_st s, tg_real wT, tg_real wS, const int smT,
                                   const int smS, const int capr)
{
    hbv_fw v;
    /* precipitation split and snow */
    v.dT = Ta - p.TT;
    if (smT) {
        /* sigmoid and softplus of dT/wT from one exp; softplus(-x) from the same log1p */
        tg_real z = v.dT / wT, az = z < R0 ? -z : z;
        tg_real e = tg_vexp(-az), inv = R1 / (R1 + e), l1p = wT * tg_vlog1p(e);
        v.sigT = z >= R0 ? inv : e * inv;
        v.spT = (v.dT > R0 ? v.dT : R0) + l1p;
        v.spnT = (v.dT < R0 ? -v.dT : R0) + l1p;
        v.rs = v.sigT;
    } else {
        v.sigT = v.spT = v.spnT = R0;
        v.rs = Ta >= p.TT ? R1 : R0;
    }
    v.rain = P * v.rs;
    v.snow = P - v.rain;
    v.SP1 = s.SP + v.snow;
    if (smT) v.mpot = p.CFMAX * v.spT;
    else { tg_real m = p.CFMAX * v.dT; v.mpot = m > R0 ? m : R0; }
    v.melt = v.mpot <= v.SP1 ? v.mpot : v.SP1;
    v.MW1 = s.MW + v.melt;
    v.SP2 = v.SP1 - v.melt;
    const tg_real cfrcfmax = p.CFR * p.CFMAX;
    if (smT) v.rpot = cfrcfmax * v.spnT;
    else { tg_real r = cfrcfmax * (p.TT - Ta); v.rpot = r > R0 ? r : R0; }
    v.refr = v.rpot <= v.MW1 ? v.rpot : v.MW1;
    v.SP3 = v.SP2 + v.refr;
    v.MW2 = v.MW1 - v.refr;
    v.zt = v.MW2 - p.CWH * v.SP3;
    v.tosoil = v.zt > R0 ? v.zt : R0;
    v.MW3 = v.MW2 - v.tosoil;
    /* soil */
    v.x1 = s.SM / p.FC;
    v.lx1 = tg_vlog(v.x1);
    v.y1 = tg_vexp(p.BETA * v.lx1);
    v.wet = v.y1 <= R1 ? v.y1 : R1;            /* y1 >= 0 always: only the upper bound */
    v.infil = v.rain + v.tosoil;
    v.rech = v.infil * v.wet;
    v.SM1 = s.SM + v.infil - v.rech;
    if (smS) {
        tg_softstep sa = tg_vsoftstep(v.SM1 - p.FC, wS), sb = tg_vsoftstep(-p.FC, wS);
        v.sigE = sa.sig;
        v.sigE0 = sb.sig;
        v.exc = sa.sp - sb.sp;
    } else {
        tg_real d = v.SM1 - p.FC;
        v.sigE = v.sigE0 = R0;
        v.exc = d > R0 ? d : R0;
    }
    v.SM2 = v.SM1 - v.exc;
    v.lpfc = p.LP * p.FC;
    v.x2 = v.SM2 / v.lpfc;
    v.lx2 = tg_vlog(v.x2);
    v.y2 = tg_vexp(p.BETAET * v.lx2);
    v.ef = v.y2 <= R1 ? v.y2 : R1;
    v.ETp = E * v.ef;
    v.ET = v.SM2 <= v.ETp ? v.SM2 : v.ETp;
    v.d3 = v.SM2 - v.ET;
    v.SM3 = v.d3 >= TG_R(TG_HBV_SM_FLOOR) ? v.d3 : TG_R(TG_HBV_SM_FLOOR);
    /* capillary rise from the lower zone after ET (hydrodl2 HBV_1_1p order). cap <= SLZ0
     * (the min; for C <= 1 also C f3 <= 1), so SLZc >= 0 and SM4 >= SM3 >= floor: unlike
     * hydrodl2 no clamps follow, which keeps the water balance exact. */
    v.SLZ0 = s.SLZ;
    if (capr) {
        v.x3 = v.SM3 / p.FC;
        v.f3 = R1 - (v.x3 <= R1 ? v.x3 : R1);
        v.cpot = p.C * s.SLZ * v.f3;
        v.cap = s.SLZ <= v.cpot ? s.SLZ : v.cpot;   /* min at a tie: first argument */
        v.SM4 = v.SM3 + v.cap;
        v.SLZc = s.SLZ - v.cap;
    } else {
        v.x3 = v.f3 = v.cpot = v.cap = R0;
        v.SM4 = v.SM3;
        v.SLZc = s.SLZ;
    }
    /* response */
    v.SUZ1 = s.SUZ + v.rech + v.exc;
    v.perc = v.SUZ1 <= p.PERC ? v.SUZ1 : p.PERC;
    v.SUZ2 = v.SUZ1 - v.perc;
    if (smS) {
        tg_softstep sa = tg_vsoftstep(v.SUZ2 - p.UZL, wS), sb = tg_vsoftstep(-p.UZL, wS);
        v.sigU = sa.sig;
        v.sigU0 = sb.sig;
        v.r0 = sa.sp - sb.sp;
    } else {
        tg_real d = v.SUZ2 - p.UZL;
        v.sigU = v.sigU0 = R0;
        v.r0 = d > R0 ? d : R0;
    }
    v.Q0 = p.K0 * v.r0;
    v.SUZ3 = v.SUZ2 - v.Q0;
    v.Q1 = p.K1 * v.SUZ3;
    v.SUZ4 = v.SUZ3 - v.Q1;
    v.SLZ1 = v.SLZc + v.perc;
    v.Q2 = p.K2 * v.SLZ1;
    v.SLZ2 = v.SLZ1 - v.Q2;
    return v;
}

TG_VINLINE hbv_st hbv_step_stores(const hbv_fw v)
{
    hbv_st s = {v.SP3, v.MW3, v.SM4, v.SUZ4, v.SLZ2};
    return s;
}

TG_VINLINE hbv_out hbv_step_outputs(const hbv_fw v)
{
    hbv_out o = {v.Q0 + v.Q1 + v.Q2, v.Q0, v.Q1, v.Q2, v.ET, v.rain, v.snow, v.melt,
                 v.SP3, v.MW3, v.SM4, v.SUZ4, v.SLZ2, v.rech, v.exc, v.perc, v.cap};
    return o;
}

/* Adjoint of one step. In: v (recomputed forward), g = dL/d outputs of this step, a =
 * dL/d end-of-step stores. Returns dL/d start-of-step stores, dL/d parameters of this
 * step and dL/d (P, Ta, PET) of this lane. */
TG_VINLINE hbv_adj hbv_step_adjoint(const hbv_fw v, const hbv_par p, tg_real P, tg_real E,
                                    const hbv_out g, const hbv_st a, tg_real wT,
                                    const int smT, const int smS, const int capr)
{
    hbv_adj r;
    tg_real gFC = R0, gCFMAX = R0;

    /* ---- response: SLZ2 = SLZ1 - Q2, Q2 = K2 SLZ1, Q = Q0 + Q1 + Q2 */
    tg_real aQ0 = g.Q0 + g.Q, aQ1 = g.Q1 + g.Q, aQ2 = g.Q2 + g.Q;
    tg_real aSLZ2 = a.SLZ + g.SLZ;
    tg_real cQ2 = aQ2 - aSLZ2;                        /* total adjoint of the Q2 flux */
    tg_real aSLZ1 = aSLZ2 + cQ2 * p.K2;
    r.gp.K2 = cQ2 * v.SLZ1;
    /* SLZ1 = SLZc + perc (SLZc = SLZ without capillary rise) */
    tg_real aperc = aSLZ1 + g.perc;
    r.a.SLZ = aSLZ1;
    /* SUZ4 = SUZ3 - Q1, Q1 = K1 SUZ3 */
    tg_real aSUZ4 = a.SUZ + g.SUZ;
    tg_real cQ1 = aQ1 - aSUZ4;
    tg_real aSUZ3 = aSUZ4 + cQ1 * p.K1;
    r.gp.K1 = cQ1 * v.SUZ3;
    /* SUZ3 = SUZ2 - Q0, Q0 = K0 r0(SUZ2 - UZL) */
    tg_real cQ0 = aQ0 - aSUZ3;
    r.gp.K0 = cQ0 * v.r0;
    tg_real ar0 = cQ0 * p.K0, aSUZ2;
    if (smS) {
        aSUZ2 = aSUZ3 + ar0 * v.sigU;
        r.gp.UZL = ar0 * (v.sigU0 - v.sigU);
    } else {
        tg_real h = v.SUZ2 - p.UZL > R0 ? R1 : R0;
        aSUZ2 = aSUZ3 + ar0 * h;
        r.gp.UZL = -ar0 * h;
    }
    /* SUZ2 = SUZ1 - perc, perc = min(SUZ1, PERC) */
    tg_real cperc = aperc - aSUZ2;
    tg_real pick = v.SUZ1 <= p.PERC ? R1 : R0;
    tg_real aSUZ1 = aSUZ2 + cperc * pick;
    r.gp.PERC = cperc * (R1 - pick);
    /* SUZ1 = SUZ + recharge + excess */
    r.a.SUZ = aSUZ1;
    tg_real arech = aSUZ1 + g.rech;
    tg_real aexc = aSUZ1 + g.exc;

    /* ---- capillary rise (1.1p): SM4 = SM3 + cap, SLZc = SLZ0 - cap,
     * cap = min(SLZ0, C SLZ0 f3), f3 = 1 - min(SM3/FC, 1) */
    tg_real aSM3 = a.SM + g.SM;   /* the end-of-step SM: SM4 (= SM3 without capillary rise) */
    if (capr) {
        tg_real ccap = aSM3 - aSLZ1 + g.cap;          /* total adjoint of the cap flux */
        tg_real pickC = v.SLZ0 <= v.cpot ? R1 : R0;
        tg_real acpot = ccap * (R1 - pickC);
        r.gp.C = acpot * v.SLZ0 * v.f3;
        r.a.SLZ = aSLZ1 + ccap * pickC + acpot * p.C * v.f3;
        tg_real ax3 = v.x3 <= R1 ? -acpot * p.C * v.SLZ0 : R0;   /* clamp: bound included */
        aSM3 += ax3 / p.FC;
        gFC -= ax3 * v.x3 / p.FC;
    } else {
        r.gp.C = R0;
    }
    /* ---- soil, ET: SM3 = max(SM2 - ET, floor), ET = min(SM2, PET ef) */
    tg_real ad3 = v.d3 >= TG_R(TG_HBV_SM_FLOOR) ? aSM3 : R0;
    tg_real aSM2 = ad3;
    tg_real cET = g.ET - ad3;
    tg_real pickS = v.SM2 <= v.ETp ? R1 : R0;
    aSM2 += cET * pickS;
    tg_real aETp = cET * (R1 - pickS);
    r.gPET = aETp * v.ef;
    tg_real ay2 = v.y2 <= R1 ? aETp * E : R0;      /* clamp passes with bound included */
    r.gp.BETAET = ay2 * v.y2 * v.lx2;
    tg_real ax2 = ay2 * p.BETAET * v.y2 / v.x2;
    aSM2 += ax2 / v.lpfc;
    tg_real alpfc = -ax2 * v.x2 / v.lpfc;
    r.gp.LP = alpfc * p.FC;
    gFC += alpfc * p.LP;
    /* SM2 = SM1 - excess, excess = relu(SM1 - FC) (or the anchored softplus) */
    tg_real cexc = aexc - aSM2, aSM1;
    if (smS) {
        aSM1 = aSM2 + cexc * v.sigE;
        gFC += cexc * (v.sigE0 - v.sigE);
    } else {
        tg_real h = v.SM1 - p.FC > R0 ? R1 : R0;
        aSM1 = aSM2 + cexc * h;
        gFC -= cexc * h;
    }
    /* SM1 = SM + infil - recharge, recharge = infil wet, wet = clamp((SM/FC)^BETA, 0, 1) */
    tg_real crech = arech - aSM1;
    tg_real ainfil = aSM1 + crech * v.wet;
    tg_real ay1 = v.y1 <= R1 ? crech * v.infil : R0;
    r.gp.BETA = ay1 * v.y1 * v.lx1;
    tg_real ax1 = ay1 * p.BETA * v.y1 / v.x1;
    r.a.SM = aSM1 + ax1 / p.FC;
    gFC -= ax1 * v.x1 / p.FC;
    r.gp.FC = gFC;

    /* ---- snow: infil = rain + tosoil; MW3 = MW2 - tosoil, tosoil = relu(MW2 - CWH SP3) */
    tg_real arain = ainfil + g.rain;
    tg_real aMW3 = a.MW + g.MW;
    tg_real aSP3 = a.SP + g.SWE;
    tg_real ctos = v.zt > R0 ? ainfil - aMW3 : R0;
    tg_real aMW2 = aMW3 + ctos;
    aSP3 -= ctos * p.CWH;
    r.gp.CWH = -ctos * v.SP3;
    /* SP3 = SP2 + refr, MW2 = MW1 - refr, refr = min(rpot, MW1) */
    tg_real crefr = aSP3 - aMW2;
    tg_real aSP2 = aSP3, aMW1 = aMW2;
    tg_real pickR = v.rpot <= v.MW1 ? R1 : R0;
    tg_real arpot = crefr * pickR;
    aMW1 += crefr * (R1 - pickR);
    /* rpot = relu(CFR CFMAX (TT - Ta)) or CFR CFMAX softplus(TT - Ta) */
    tg_real acfrcfmax, adT;
    if (smT) {
        acfrcfmax = arpot * v.spnT;
        adT = -arpot * p.CFR * p.CFMAX * (R1 - v.sigT);
    } else {
        tg_real on = v.rpot > R0 ? R1 : R0;
        acfrcfmax = arpot * on * (-v.dT);
        adT = -arpot * on * p.CFR * p.CFMAX;
    }
    r.gp.CFR = acfrcfmax * p.CFMAX;
    gCFMAX += acfrcfmax * p.CFR;
    /* MW1 = MW + melt, SP2 = SP1 - melt, melt = min(mpot, SP1) */
    tg_real cmelt = aMW1 - aSP2 + g.melt;
    r.a.MW = aMW1;
    tg_real pickM = v.mpot <= v.SP1 ? R1 : R0;
    tg_real ampot = cmelt * pickM;
    tg_real aSP1 = aSP2 + cmelt * (R1 - pickM);
    /* mpot = relu(CFMAX dT) or CFMAX softplus(dT) */
    if (smT) {
        gCFMAX += ampot * v.spT;
        adT += ampot * p.CFMAX * v.sigT;
    } else {
        tg_real on = v.mpot > R0 ? R1 : R0;
        gCFMAX += ampot * on * v.dT;
        adT += ampot * on * p.CFMAX;
    }
    r.gp.CFMAX = gCFMAX;
    /* SP1 = SP + snow, snow = P - rain, rain = P rs */
    r.a.SP = aSP1;
    tg_real asnow = aSP1 + g.snow;
    tg_real crain = arain - asnow;
    r.gP = asnow + crain * v.rs;
    if (smT) adT += crain * P * v.sigT * (R1 - v.sigT) / wT;
    /* dT = Ta - TT */
    r.gp.TT = -adT;
    r.gT = adT;
    return r;
}

/* Loads and stores of the (rows, ls) block scratch arrays, one lane i. capr: the 1.1p row
 * (C, cap) too. */
TG_VINLINE hbv_par hbv_load_par(const tg_real *restrict x, int ls, int i, const int capr)
{
    hbv_par p = {x[i], x[ls + i], x[2 * ls + i], x[3 * ls + i], x[4 * ls + i], x[5 * ls + i],
                 x[6 * ls + i], x[7 * ls + i], x[8 * ls + i], x[9 * ls + i], x[10 * ls + i],
                 x[11 * ls + i], x[12 * ls + i], capr ? x[TG_HBV_C * ls + i] : TG_R(0.0)};
    return p;
}
TG_VINLINE hbv_st hbv_load_st(const tg_real *restrict x, int ls, int i)
{
    hbv_st s = {x[i], x[ls + i], x[2 * ls + i], x[3 * ls + i], x[4 * ls + i]};
    return s;
}
TG_VINLINE void hbv_store_st(tg_real *restrict x, int ls, int i, const hbv_st s)
{
    x[i] = s.SP; x[ls + i] = s.MW; x[2 * ls + i] = s.SM; x[3 * ls + i] = s.SUZ; x[4 * ls + i] = s.SLZ;
}
TG_VINLINE hbv_out hbv_load_out(const tg_real *restrict x, int ls, int i, const int capr)
{
    hbv_out o = {x[i], x[ls + i], x[2 * ls + i], x[3 * ls + i], x[4 * ls + i], x[5 * ls + i],
                 x[6 * ls + i], x[7 * ls + i], x[8 * ls + i], x[9 * ls + i], x[10 * ls + i],
                 x[11 * ls + i], x[12 * ls + i], x[13 * ls + i], x[14 * ls + i], x[15 * ls + i],
                 capr ? x[TG_HBV_CAP * ls + i] : TG_R(0.0)};
    return o;
}
TG_VINLINE void hbv_store_out(tg_real *restrict x, int ls, int i, const hbv_out o, const int capr)
{
    if (capr) x[TG_HBV_CAP * ls + i] = o.cap;
    x[i] = o.Q; x[ls + i] = o.Q0; x[2 * ls + i] = o.Q1; x[3 * ls + i] = o.Q2;
    x[4 * ls + i] = o.ET; x[5 * ls + i] = o.rain; x[6 * ls + i] = o.snow; x[7 * ls + i] = o.melt;
    x[8 * ls + i] = o.SWE; x[9 * ls + i] = o.MW; x[10 * ls + i] = o.SM; x[11 * ls + i] = o.SUZ;
    x[12 * ls + i] = o.SLZ; x[13 * ls + i] = o.rech; x[14 * ls + i] = o.exc; x[15 * ls + i] = o.perc;
}

#undef R0
#undef R1

/* ------------------------------------------------------------------ blocking */
/* Lanes are processed in blocks of whole basins (so component means stay inside a
 * block): about 256 lanes per block, and at least 4 blocks per thread for balance. The
 * per-lane arithmetic does not depend on the blocking, so results are identical for any
 * thread count. */
typedef struct hbv_blocking {
    int nb;        /* basins per block */
    int nblocks;
    int ls;        /* lane stride of the block scratch arrays (multiple of 16) */
} hbv_blocking;

static inline hbv_blocking hbv_blocking_make(const tg_hbv_config *c, int nthreads)
{
    hbv_blocking k;
    int want = (c->B * c->M + 255) / 256;
    if (want < 4 * nthreads) want = 4 * nthreads;
    if (want > c->B) want = c->B;
    if (want < 1) want = 1;
    k.nb = (c->B + want - 1) / want;
    k.nblocks = (c->B + k.nb - 1) / k.nb;
    k.ls = (k.nb * c->M + 15) / 16 * 16;
    return k;
}

/* Threads only pay off above ~1e5 lane-steps: below, a parallel region costs more than
 * it saves (and on a busy machine a descheduled thread stalls the barrier). */
static inline int hbv_parallel_worth(const tg_hbv_config *c, hbv_blocking bk)
{
    return bk.nblocks > 1 && (double)c->T * (double)c->B * (double)c->M >= 1e5;
}

/* Row of parameter p in the dynamic array, or -1 if p is static; row has
 * TG_HBV_NPARAM_MAX entries (C: -1 unless capillary and dynamic). */
static inline void hbv_dyn_rows(const tg_hbv_config *c, int *row)
{
    int k = 0;
    for (int p = 0; p < TG_HBV_NPARAM_MAX; p++) row[p] = (c->dynamic >> p) & 1u ? k++ : -1;
}
#endif
