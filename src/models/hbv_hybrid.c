/* hbv_hybrid.c — HBV with the ET limitation g(SM/FC, T) an MLP: forward and reverse-time
 * adjoint over all steps, lanes innermost, blocks of basins per thread (as hbv_forward.c /
 * hbv_backward.c).
 *
 * The HBV step itself is hbv_step.h's, reused unchanged: everything up to SM2 (the soil
 * store where ET is evaluated) and the whole response routine do not depend on ET, so
 *   forward: (A) HBV step -> SM2 and every other output; (B) g = MLP(SM2/FC, T) for the
 *            block's lanes; (C) ET = min(relu(SM2 - floor), PET g), SM3 = SM2 - ET
 *            patched into the stores and outputs. (HBV's SM3 = max(SM2 - ET, floor) adds
 *            up to 1e-5 mm whenever ET empties the store — with a learned g that does not
 *            vanish at SM = 0 this happens; here ET stops at the floor instead, so the
 *            water balance closes to round-off in every case.)
 *   backward: (1) the adjoint of the ET line (our own, a few statements) gives dL/dg and
 *            the adjoint of SM2 from the ET path; (2) the MLP backward turns dL/dg into
 *            weight gradients and dL/dx0, dL/dx1, and dL/dx0 / FC adds to the SM2 adjoint;
 *            (3) ONE call of hbv_step.h's (linear) step adjoint with the ET line switched
 *            to a pass-through (SM floor and min(SM2, ET) branch forced open, BETAET = 0,
 *            ET/SM output seeds zero) carries the total SM2 adjoint as the end-of-step SM
 *            seed, together with every other seed, back to the start of the step.
 *            Derivation: docs/hybrid.md. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "models/hbv_hybrid_internal.h"
#include "models/hbv_step.h"

#define R0 TG_R(0.0)
#define R1 TG_R(1.0)

typedef struct hy_scratch {
    tg_real *st, *par, *frc, *out;   /* (NSTATE|NPARAM|3|NOUT, ls) as in hbv_forward.c */
    tg_real *x0, *x1, *g, *sm2;      /* (ls) network inputs, output, SM2 */
    tg_real *h1, *h2;                /* (H1|H2, ls) activations */
    /* backward only */
    tg_real *gout, *ast, *gacc, *gfrc, *ag, *ax0, *ax1, *gjunk, *work;
    double *gw;                      /* (nw) weight gradient of this block */
} hy_scratch;

static size_t scratch_rows(const tg_hybrid_mlp *net)
{
    return (size_t)(TG_HBV_NSTATE + TG_HBV_NPARAM + TG_HBV_NFORCING + TG_HBV_NOUT + 4 + net->H1 + net->H2 +
                    TG_HBV_NOUT + TG_HBV_NSTATE + TG_HBV_NPARAM + TG_HBV_NFORCING + 5 + tg_hyb_mlp_rows(net));
}

static hy_scratch scratch_carve(tg_real *q, int ls, const tg_hybrid_mlp *net)
{
    hy_scratch w;
    const size_t s = (size_t)ls;
    w.st = q; q += TG_HBV_NSTATE * s;
    w.par = q; q += TG_HBV_NPARAM * s;
    w.frc = q; q += TG_HBV_NFORCING * s;
    w.out = q; q += TG_HBV_NOUT * s;
    w.x0 = q; q += s;
    w.x1 = q; q += s;
    w.g = q; q += s;
    w.sm2 = q; q += s;
    w.h1 = q; q += (size_t)net->H1 * s;
    w.h2 = q; q += (size_t)net->H2 * s;
    w.gout = q; q += TG_HBV_NOUT * s;
    w.ast = q; q += TG_HBV_NSTATE * s;
    w.gacc = q; q += TG_HBV_NPARAM * s;
    w.gfrc = q; q += TG_HBV_NFORCING * s;
    w.ag = q; q += s;
    w.ax0 = q; q += s;
    w.ax1 = q; q += s;
    w.gjunk = q; q += 2 * s; /* row 0: sink for unwanted dynamic gradients, row 1: SM2 adjoint */
    w.work = q;
    w.gw = NULL;
    return w;
}

/* Step part A: the HBV step with the formula's ET (discarded below); stores, outputs,
 * and the network inputs. */
static void step_a(int n, int ls, hy_scratch *w, const tg_hybrid_mlp *net, tg_real wT, tg_real wS, int smT,
                   int smS)
{
    const tg_real ts = net->t_shift, tsc = net->t_scale;
    tg_real *restrict st = w->st, *restrict out = w->out, *restrict x0 = w->x0, *restrict x1 = w->x1,
                      *restrict sm2 = w->sm2;
    const tg_real *restrict par = w->par, *restrict frc = w->frc;
#pragma omp simd
    for (int i = 0; i < n; i++) {
        const hbv_par p = hbv_load_par(par, ls, i);
        hbv_fw v = hbv_step_forward(frc[i], frc[ls + i], frc[2 * ls + i], p, hbv_load_st(st, ls, i), wT, wS,
                                    smT, smS);
        hbv_store_st(st, ls, i, hbv_step_stores(v));
        hbv_store_out(out, ls, i, hbv_step_outputs(v));
        sm2[i] = v.SM2;
        x0[i] = v.SM2 / p.FC;
        x1[i] = (frc[ls + i] - ts) / tsc;
    }
}

/* Step part C: ET from g, the soil store after ET. */
static void step_c(int n, int ls, hy_scratch *w)
{
    tg_real *restrict st = w->st, *restrict out = w->out;
    const tg_real *restrict frc = w->frc, *restrict g = w->g, *restrict sm2 = w->sm2;
#pragma omp simd
    for (int i = 0; i < n; i++) {
        tg_real ETp = frc[2 * ls + i] * g[i];
        tg_real A = sm2[i] - TG_R(TG_HBV_SM_FLOOR);
        tg_real Ap = A > R0 ? A : R0;
        tg_real ET = Ap <= ETp ? Ap : ETp;
        tg_real SM3 = sm2[i] - ET;
        st[TG_HBV_S_SM * ls + i] = SM3;
        out[TG_HBV_ET * ls + i] = ET;
        out[TG_HBV_SM * ls + i] = SM3;
    }
}

/* Blocks of whole basins with ~128 lanes each, fixed by the problem size alone (not by
 * the thread count as in hbv_step.h): the weight gradients are summed per block, so the
 * blocking must not change with OMP_NUM_THREADS for results to stay bit-identical. */
static hbv_blocking hy_blocking(const tg_hbv_config *c)
{
    hbv_blocking k;
    k.nb = 128 / c->M;
    if (k.nb < 1) k.nb = 1;
    if (k.nb > c->B) k.nb = c->B;
    k.nblocks = (c->B + k.nb - 1) / k.nb;
    k.ls = (k.nb * c->M + 15) / 16 * 16;
    return k;
}

static void broadcast_forcing(tg_real *frc, int ls, const tg_real *forcing, int t, int b0, int nbb,
                              const tg_hbv_config *c)
{
    for (int k = 0; k < TG_HBV_NFORCING; k++)
        for (int bb = 0; bb < nbb; bb++) {
            tg_real x = forcing[((size_t)t * (size_t)c->B + (size_t)(b0 + bb)) * TG_HBV_NFORCING + (size_t)k];
            tg_real *dst = frc + (size_t)k * (size_t)ls + (size_t)bb * (size_t)c->M;
            for (int m = 0; m < c->M; m++) dst[m] = x;
        }
}

int tg_hbv_hybrid_forward(tg_real *out_basin, tg_real *out_lane, tg_real *state_final, tg_real *hist,
                          const tg_real *forcing, const tg_real *par_static, const tg_real *par_dyn,
                          const tg_real *state_init, const tg_real *wts, const tg_hybrid_mlp *net,
                          const tg_hbv_config *c)
{
    const int T = c->T, W = c->warmup, B = c->B, M = c->M;
    const size_t L = (size_t)B * (size_t)M;
    int row[TG_HBV_NPARAM];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const uint32_t omask = c->basin_outputs ? c->basin_outputs : (1u << TG_HBV_NOUT) - 1u;
    const int nthreads = omp_get_max_threads();
    const hbv_blocking bk = hy_blocking(c);
    const size_t per_thread = scratch_rows(net) * (size_t)bk.ls;
    tg_real *scratch = tg_malloc((size_t)nthreads * per_thread * sizeof(tg_real));
    if (!scratch)
        return tg_error_set(TG_ENOMEM, "hybrid hbv forward: no memory for %d x %zu scratch values", nthreads, per_thread);
    const tg_real wT = c->smooth_temp, wS = c->smooth_store;
    const int smT = wT > R0, smS = wS > R0;

#pragma omp parallel for schedule(dynamic, 1) if (hbv_parallel_worth(c, bk))
    for (int blk = 0; blk < bk.nblocks; blk++) {
        const int ls = bk.ls;
        hy_scratch w = scratch_carve(scratch + (size_t)omp_get_thread_num() * per_thread, ls, net);
        const int b0 = blk * bk.nb;
        const int nbb = b0 + bk.nb <= B ? bk.nb : B - b0;
        const int n = nbb * M;
        const size_t l0 = (size_t)b0 * (size_t)M;
        for (int k = 0; k < TG_HBV_NSTATE; k++)
            for (int i = 0; i < n; i++)
                w.st[k * ls + i] = state_init ? state_init[k * L + l0 + i] : TG_R(TG_HBV_INIT_STORE);
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            memcpy(w.par + p * ls, par_static + p * L + l0, (size_t)n * sizeof(tg_real));
        for (int t = 0; t < T; t++) {
            if (t >= W)
                for (int p = 0; p < TG_HBV_NPARAM; p++)
                    if (row[p] >= 0)
                        memcpy(w.par + p * ls, par_dyn + ((size_t)(t - W) * (size_t)nd + (size_t)row[p]) * L + l0,
                               (size_t)n * sizeof(tg_real));
            broadcast_forcing(w.frc, ls, forcing, t, b0, nbb, c);
            if (hist && (c->warmup_grad || t >= W)) {
                size_t slot = (size_t)(c->warmup_grad ? t : t - W);
                for (int k = 0; k < TG_HBV_NSTATE; k++)
                    memcpy(hist + (slot * TG_HBV_NSTATE + (size_t)k) * L + l0, w.st + k * ls,
                           (size_t)n * sizeof(tg_real));
            }
            if (smT) {
                if (smS) step_a(n, ls, &w, net, wT, wS, 1, 1);
                else step_a(n, ls, &w, net, wT, wS, 1, 0);
            } else {
                if (smS) step_a(n, ls, &w, net, wT, wS, 0, 1);
                else step_a(n, ls, &w, net, wT, wS, 0, 0);
            }
            tg_hyb_mlp_forward(net, wts, n, ls, w.x0, w.x1, w.h1, w.h2, w.g);
            step_c(n, ls, &w);
            if (t < W) continue;
            size_t tt = (size_t)(t - W);
            if (out_lane)
                for (int k = 0; k < TG_HBV_NOUT; k++)
                    memcpy(out_lane + (tt * TG_HBV_NOUT + (size_t)k) * L + l0, w.out + k * ls,
                           (size_t)n * sizeof(tg_real));
            if (out_basin)
                for (int k = 0; k < TG_HBV_NOUT; k++) {
                    if (!((omask >> k) & 1u)) continue;
                    for (int bb = 0; bb < nbb; bb++) {
                        const tg_real *o = w.out + k * ls + bb * M;
                        tg_real sum = R0;
                        for (int m = 0; m < M; m++) sum += o[m];
                        out_basin[(tt * TG_HBV_NOUT + (size_t)k) * (size_t)B + (size_t)(b0 + bb)] = sum / (tg_real)M;
                    }
                }
        }
        if (state_final)
            for (int k = 0; k < TG_HBV_NSTATE; k++)
                memcpy(state_final + k * L + l0, w.st + k * ls, (size_t)n * sizeof(tg_real));
    }
    tg_free(scratch, (size_t)nthreads * per_thread * sizeof(tg_real));
    return TG_OK;
}

/* ------------------------------------------------------------------ backward */
/* (1) Adjoint of the ET line, ET = min(relu(SM2 - floor), PET g), SM3 = SM2 - ET:
 * dL/dg into ag, dL/dPET into the forcing row, and the SM2 adjoint of this path into asm2
 * (second row of the gjunk scratch). */
static void bw_et(int n, int ls, hy_scratch *w)
{
    const tg_real *restrict frc = w->frc, *restrict g = w->g, *restrict sm2 = w->sm2, *restrict gout = w->gout,
                            *restrict ast = w->ast;
    tg_real *restrict ag = w->ag, *restrict gfrc = w->gfrc, *restrict asm2 = w->gjunk + ls; /* see scratch_rows */
#pragma omp simd
    for (int i = 0; i < n; i++) {
        const tg_real E = frc[2 * ls + i], ETp = E * g[i];
        const tg_real A = sm2[i] - TG_R(TG_HBV_SM_FLOOR);
        const tg_real Ap = A > R0 ? A : R0;
        const tg_real aSM3 = ast[TG_HBV_S_SM * ls + i] + gout[TG_HBV_SM * ls + i];
        const tg_real cET = gout[TG_HBV_ET * ls + i] - aSM3;
        const tg_real pick = Ap <= ETp ? R1 : R0;      /* min at a tie: first argument */
        const tg_real aETp = cET * (R1 - pick);
        asm2[i] = aSM3 + (A > R0 ? cET * pick : R0);   /* relu'(0) = 0 */
        ag[i] = aETp * E;
        gfrc[2 * ls + i] = aETp * g[i];
    }
}

/* (3) The rest of the step: hbv_step_adjoint with the ET line as a pass-through. */
TG_VINLINE void bw_step(int n, int ls, hy_scratch *w, tg_real *const *gdst, tg_real tsc, tg_real wT, tg_real wS,
                        const int smT, const int smS)
{
    const tg_real *restrict frc = w->frc, *restrict par = w->par, *restrict st = w->st, *restrict ax0 = w->ax0,
                            *restrict ax1 = w->ax1, *restrict sm2 = w->sm2, *restrict asm2 = w->gjunk + ls,
                            *restrict gout = w->gout;
    tg_real *restrict ast = w->ast, *restrict gfrc = w->gfrc;
#pragma omp simd
    for (int i = 0; i < n; i++) {
        hbv_par p = hbv_load_par(par, ls, i);
        const tg_real FC = p.FC;
        p.BETAET = R0; /* y2 = 1: the formula's factor is constant, its input gradients exactly 0 */
        hbv_fw v = hbv_step_forward(frc[i], frc[ls + i], frc[2 * ls + i], p, hbv_load_st(st, ls, i), wT, wS, smT, smS);
        v.d3 = R1;            /* SM3 = d3: floor branch off */
        v.ETp = v.SM2 - R1;   /* ET = ETp: the SM2 branch of the min off; aSM2 = aSM3 */
        hbv_out g = hbv_load_out(gout, ls, i);
        g.ET = R0;
        g.SM = R0;
        hbv_st a = hbv_load_st(ast, ls, i);
        a.SM = asm2[i] + ax0[i] / FC;
        hbv_adj r = hbv_step_adjoint(v, p, frc[i], R0, g, a, wT, smT, smS);
        hbv_store_st(ast, ls, i, r.a);
        gdst[TG_HBV_BETA][i] += r.gp.BETA;
        gdst[TG_HBV_FC][i] += r.gp.FC - ax0[i] * sm2[i] / (FC * FC);
        gdst[TG_HBV_K0][i] += r.gp.K0; gdst[TG_HBV_K1][i] += r.gp.K1; gdst[TG_HBV_K2][i] += r.gp.K2;
        gdst[TG_HBV_PERC][i] += r.gp.PERC; gdst[TG_HBV_UZL][i] += r.gp.UZL; gdst[TG_HBV_TT][i] += r.gp.TT;
        gdst[TG_HBV_CFMAX][i] += r.gp.CFMAX; gdst[TG_HBV_CFR][i] += r.gp.CFR; gdst[TG_HBV_CWH][i] += r.gp.CWH;
        gfrc[i] = r.gP;
        gfrc[ls + i] = r.gT + ax1[i] / tsc;
    }
}

int tg_hbv_hybrid_backward(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing, tg_real *g_state_init,
                           tg_real *g_w, const tg_real *g_out_basin, const tg_real *g_out_lane,
                           const tg_real *g_state_final, const tg_real *hist, const tg_real *forcing,
                           const tg_real *par_static, const tg_real *par_dyn, const tg_real *wts,
                           const tg_hybrid_mlp *net, const tg_hbv_config *c)
{
    const int T = c->T, W = c->warmup, B = c->B, M = c->M;
    const size_t L = (size_t)B * (size_t)M;
    const int t_stop = c->warmup_grad ? 0 : W;
    int row[TG_HBV_NPARAM];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const uint32_t omask = c->basin_outputs ? c->basin_outputs : (1u << TG_HBV_NOUT) - 1u;
    const int nthreads = omp_get_max_threads();
    const hbv_blocking bk = hy_blocking(c);
    const size_t per_thread = scratch_rows(net) * (size_t)bk.ls;
    const size_t nw = tg_hybrid_mlp_size(net);
    tg_real *scratch = tg_malloc((size_t)nthreads * per_thread * sizeof(tg_real));
    double *gwb = tg_calloc((size_t)bk.nblocks * nw, sizeof(double));
    if (!scratch || !gwb) {
        tg_free(scratch, (size_t)nthreads * per_thread * sizeof(tg_real));
        tg_free(gwb, (size_t)bk.nblocks * nw * sizeof(double));
        return tg_error_set(TG_ENOMEM, "hybrid hbv backward: no memory for %d x %zu scratch values", nthreads,
                            per_thread);
    }
    const tg_real wT = c->smooth_temp, wS = c->smooth_store, tsc = net->t_scale;
    const int smT = wT > R0, smS = wS > R0;

#pragma omp parallel for schedule(dynamic, 1) if (hbv_parallel_worth(c, bk))
    for (int blk = 0; blk < bk.nblocks; blk++) {
        const int ls = bk.ls;
        hy_scratch w = scratch_carve(scratch + (size_t)omp_get_thread_num() * per_thread, ls, net);
        w.gw = gwb + (size_t)blk * nw;
        const int b0 = blk * bk.nb;
        const int nbb = b0 + bk.nb <= B ? bk.nb : B - b0;
        const int n = nbb * M;
        const size_t l0 = (size_t)b0 * (size_t)M;
        for (int k = 0; k < TG_HBV_NSTATE; k++)
            for (int i = 0; i < n; i++)
                w.ast[k * ls + i] = g_state_final ? g_state_final[k * L + l0 + i] : R0;
        memset(w.gacc, 0, sizeof(tg_real) * TG_HBV_NPARAM * (size_t)ls);
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            memcpy(w.par + p * ls, par_static + p * L + l0, (size_t)n * sizeof(tg_real));

        for (int t = T - 1; t >= t_stop; t--) {
            const int dyn_step = t >= W;
            for (int p = 0; p < TG_HBV_NPARAM; p++) {
                if (row[p] < 0) continue;
                const tg_real *src = dyn_step ? par_dyn + ((size_t)(t - W) * (size_t)nd + (size_t)row[p]) * L + l0
                                              : par_static + p * L + l0;
                if (dyn_step || t == W - 1) memcpy(w.par + p * ls, src, (size_t)n * sizeof(tg_real));
            }
            broadcast_forcing(w.frc, ls, forcing, t, b0, nbb, c);
            size_t slot = (size_t)(c->warmup_grad ? t : t - W);
            /* step_a advances the stores in w.st: give it a copy of the saved ones */
            for (int k = 0; k < TG_HBV_NSTATE; k++)
                memcpy(w.st + k * ls, hist + (slot * TG_HBV_NSTATE + (size_t)k) * L + l0, (size_t)n * sizeof(tg_real));
            if (smT) {
                if (smS) step_a(n, ls, &w, net, wT, wS, 1, 1);
                else step_a(n, ls, &w, net, wT, wS, 1, 0);
            } else {
                if (smS) step_a(n, ls, &w, net, wT, wS, 0, 1);
                else step_a(n, ls, &w, net, wT, wS, 0, 0);
            }
            tg_hyb_mlp_forward(net, wts, n, ls, w.x0, w.x1, w.h1, w.h2, w.g);
            for (int k = 0; k < TG_HBV_NSTATE; k++)
                memcpy(w.st + k * ls, hist + (slot * TG_HBV_NSTATE + (size_t)k) * L + l0, (size_t)n * sizeof(tg_real));
            /* output seeds */
            memset(w.gout, 0, sizeof(tg_real) * TG_HBV_NOUT * (size_t)ls);
            if (dyn_step && g_out_lane) {
                size_t tt = (size_t)(t - W);
                for (int k = 0; k < TG_HBV_NOUT; k++)
                    memcpy(w.gout + k * ls, g_out_lane + (tt * TG_HBV_NOUT + (size_t)k) * L + l0,
                           (size_t)n * sizeof(tg_real));
            }
            if (dyn_step && g_out_basin) {
                size_t tt = (size_t)(t - W);
                for (int k = 0; k < TG_HBV_NOUT; k++) {
                    if (!((omask >> k) & 1u)) continue;
                    for (int bb = 0; bb < nbb; bb++) {
                        tg_real gb = g_out_basin[(tt * TG_HBV_NOUT + (size_t)k) * (size_t)B + (size_t)(b0 + bb)] / (tg_real)M;
                        tg_real *dst = w.gout + k * ls + bb * M;
                        for (int m = 0; m < M; m++) dst[m] += gb;
                    }
                }
            }
            tg_real *gdst[TG_HBV_NPARAM];
            for (int p = 0; p < TG_HBV_NPARAM; p++)
                gdst[p] = !(row[p] >= 0 && dyn_step) ? w.gacc + p * ls
                          : g_par_dyn ? g_par_dyn + ((size_t)(t - W) * (size_t)nd + (size_t)row[p]) * L + l0
                                      : w.gjunk;
            bw_et(n, ls, &w);
            tg_hyb_mlp_backward(net, wts, n, ls, w.x0, w.x1, w.h1, w.h2, w.g, w.ag, w.gw, w.ax0, w.ax1, w.work);
            if (smT) {
                if (smS) bw_step(n, ls, &w, gdst, tsc, wT, wS, 1, 1);
                else bw_step(n, ls, &w, gdst, tsc, wT, wS, 1, 0);
            } else {
                if (smS) bw_step(n, ls, &w, gdst, tsc, wT, wS, 0, 1);
                else bw_step(n, ls, &w, gdst, tsc, wT, wS, 0, 0);
            }
            if (g_forcing)
                for (int k = 0; k < TG_HBV_NFORCING; k++)
                    for (int bb = 0; bb < nbb; bb++) {
                        const tg_real *gf = w.gfrc + k * ls + bb * M;
                        tg_real sum = R0;
                        for (int m = 0; m < M; m++) sum += gf[m];
                        g_forcing[((size_t)t * (size_t)B + (size_t)(b0 + bb)) * TG_HBV_NFORCING + (size_t)k] += sum;
                    }
        }
        if (g_par_static)
            for (int p = 0; p < TG_HBV_NPARAM; p++)
                for (int i = 0; i < n; i++) g_par_static[p * L + l0 + i] += w.gacc[p * ls + i];
        if (g_state_init && (c->warmup_grad || W == 0))
            for (int k = 0; k < TG_HBV_NSTATE; k++)
                for (int i = 0; i < n; i++) g_state_init[k * L + l0 + i] += w.ast[k * ls + i];
    }
    /* weight gradients: blocks summed in block order (independent of the thread count) */
    if (g_w)
        for (size_t k = 0; k < nw; k++) {
            double s = 0;
            for (int blk = 0; blk < bk.nblocks; blk++) s += gwb[(size_t)blk * nw + k];
            g_w[k] += (tg_real)s;
        }
    tg_free(scratch, (size_t)nthreads * per_thread * sizeof(tg_real));
    tg_free(gwb, (size_t)bk.nblocks * nw * sizeof(double));
    return TG_OK;
}
