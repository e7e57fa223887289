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

#include "models/hbv_block.h"
#include "models/hbv_hybrid_internal.h"

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
        const hbv_par p = hbv_load_par(par, ls, i, 0);
        hbv_fw v = hbv_step_forward(frc[i], frc[ls + i], frc[2 * ls + i], p, hbv_load_st(st, ls, i), wT, wS,
                                    smT, smS, 0);
        hbv_store_st(st, ls, i, hbv_step_stores(v));
        hbv_store_out(out, ls, i, hbv_step_outputs(v), 0);
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

/* Step parts A and B: the HBV step (specialised for smooth or hard thresholds, as the
 * step template wants compile-time flags) and g = MLP(SM2/FC, T). Forward runs it once per
 * step; backward reruns it from the saved stores to get the network's activations. */
static void step_ab(int n, int ls, hy_scratch *w, const tg_hybrid_mlp *net, const tg_real *wts, tg_real wT,
                    tg_real wS)
{
    const int smT = wT > R0, smS = wS > R0;
    if (smT) {
        if (smS) step_a(n, ls, w, net, wT, wS, 1, 1);
        else step_a(n, ls, w, net, wT, wS, 1, 0);
    } else {
        if (smS) step_a(n, ls, w, net, wT, wS, 0, 1);
        else step_a(n, ls, w, net, wT, wS, 0, 0);
    }
    tg_hyb_mlp_forward(net, wts, n, ls, w->x0, w->x1, w->h1, w->h2, w->g);
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

int tg_hbv_hybrid_forward(tg_real *out_basin, tg_real *out_lane, tg_real *state_final, tg_real *hist,
                          const tg_real *forcing, const tg_real *par_static, const tg_real *par_dyn,
                          const tg_real *state_init, const tg_real *wts, const tg_hybrid_mlp *net,
                          const tg_hbv_config *c)
{
    const int T = c->T, W = c->warmup;
    int row[TG_HBV_NPARAM_MAX];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const uint32_t omask = hbv_basin_output_mask(c);
    const int nthreads = omp_get_max_threads();
    const hbv_blocking bk = hy_blocking(c);
    const size_t per_thread = scratch_rows(net) * (size_t)bk.ls;
    tg_real *scratch = tg_malloc((size_t)nthreads * per_thread * sizeof(tg_real));
    if (!scratch)
        return tg_error_set(TG_ENOMEM, "hybrid hbv forward: no memory for %d x %zu scratch values", nthreads, per_thread);
    const tg_real wT = c->smooth_temp, wS = c->smooth_store;

#pragma omp parallel for schedule(dynamic, 1) if (hbv_parallel_worth(c, bk))
    for (int blk = 0; blk < bk.nblocks; blk++) {
        const int ls = bk.ls;
        hy_scratch w = scratch_carve(scratch + (size_t)omp_get_thread_num() * per_thread, ls, net);
        const hbv_block k = hbv_block_nth(c, bk, blk);
        const int n = k.n;
        hbv_block_start_forward(w.st, w.par, state_init, par_static, &k);
        for (int t = 0; t < T; t++) {
            hbv_block_step_inputs(w.par, w.frc, par_dyn, forcing, t, W, row, nd, &k);
            if (hist && (c->warmup_grad || t >= W))
                hbv_block_save_hist(hist, hbv_hist_slot(c, t), w.st, &k);
            step_ab(n, ls, &w, net, wts, wT, wS);
            step_c(n, ls, &w);
            if (t < W) continue;
            hbv_block_write_outputs(out_lane, out_basin, (size_t)(t - W), w.out, omask, &k);
        }
        if (state_final)
            hbv_block_save_rows(state_final, w.st, TG_HBV_NSTATE, &k);
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
        hbv_par p = hbv_load_par(par, ls, i, 0);
        const tg_real FC = p.FC;
        p.BETAET = R0; /* y2 = 1: the formula's factor is constant, its input gradients exactly 0 */
        hbv_fw v = hbv_step_forward(frc[i], frc[ls + i], frc[2 * ls + i], p, hbv_load_st(st, ls, i), wT, wS, smT, smS, 0);
        v.d3 = R1;            /* SM3 = d3: floor branch off */
        v.ETp = v.SM2 - R1;   /* ET = ETp: the SM2 branch of the min off; aSM2 = aSM3 */
        hbv_out g = hbv_load_out(gout, ls, i, 0);
        g.ET = R0;
        g.SM = R0;
        hbv_st a = hbv_load_st(ast, ls, i);
        a.SM = asm2[i] + ax0[i] / FC;
        hbv_adj r = hbv_step_adjoint(v, p, frc[i], R0, g, a, wT, smT, smS, 0);
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
    const int T = c->T, W = c->warmup;
    const int t_stop = c->warmup_grad ? 0 : W;
    int row[TG_HBV_NPARAM_MAX];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const uint32_t omask = hbv_basin_output_mask(c);
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
        const hbv_block k = hbv_block_nth(c, bk, blk);
        const int n = k.n;
        hbv_block_start_backward(w.ast, w.gacc, w.par, g_state_final, par_static, &k);

        for (int t = T - 1; t >= t_stop; t--) {
            const int dyn_step = t >= W;
            hbv_block_step_inputs_reverse(w.par, w.frc, par_static, par_dyn, forcing, t, W, row, nd, &k);
            const size_t slot = hbv_hist_slot(c, t);
            /* step_a advances the stores in w.st: give it a copy of the saved ones */
            hbv_block_load_hist(w.st, hist, slot, &k);
            step_ab(n, ls, &w, net, wts, wT, wS);
            hbv_block_load_hist(w.st, hist, slot, &k);
            /* output seeds */
            memset(w.gout, 0, sizeof(tg_real) * TG_HBV_NOUT * (size_t)ls);
            if (dyn_step && g_out_lane)
                hbv_block_load_rows(w.gout, g_out_lane + (size_t)(t - W) * TG_HBV_NOUT * k.L, TG_HBV_NOUT, &k);
            if (dyn_step && g_out_basin)
                hbv_block_add_basin_mean_seeds(w.gout, g_out_basin, (size_t)(t - W), omask, &k);
            tg_real *gdst[TG_HBV_NPARAM];
            hbv_block_param_grad_rows(gdst, w.gacc, w.gjunk, g_par_dyn, t, W, row, nd, &k);
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
                hbv_block_gather_forcing_grad(g_forcing, w.gfrc, t, &k);
        }
        hbv_block_finish_backward(g_par_static, c->warmup_grad || W == 0 ? g_state_init : NULL, w.gacc, w.ast, &k);
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
