/* hbv_backward.c — reverse-time adjoint of the HBV run.
 * Per block of basins and per step, from the last step back: reload the stores saved at
 * the start of the step, recompute the step's intermediates (hbv_step_forward: cheap,
 * vectorised), and run the step adjoint (hbv_step_adjoint). Adjoint stores carry from
 * step to step; static-parameter gradients accumulate per lane over time, dynamic ones
 * are written per step. See docs/hbv_backward.md. */
#include <omp.h>
#include <string.h>

#include "models/hbv_step.h"

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
#define BW_ROWS (2 * TG_HBV_NSTATE + 2 * TG_HBV_NPARAM + 1 + 2 * TG_HBV_NFORCING + TG_HBV_NOUT)

/* gdst[p]: row receiving dL/d parameter p of this step (+=): the block's accumulator for
 * static parameters, the g_par_dyn row of the step for dynamic ones. */
TG_VINLINE void bw_block_step(int n, int ls, tg_real *restrict ast, tg_real *const *gdst,
                              tg_real *restrict gfrc, const tg_real *restrict st,
                              const tg_real *restrict par, const tg_real *restrict frc,
                              const tg_real *restrict gout, tg_real wT, tg_real wS,
                              const int smT, const int smS, const int all)
{
#pragma omp simd
    for (int i = 0; i < n; i++) {
        const tg_real P = frc[i], Ta = frc[ls + i], E = frc[2 * ls + i];
        const hbv_par p = hbv_load_par(par, ls, i);
        hbv_fw v = hbv_step_forward(P, Ta, E, p, hbv_load_st(st, ls, i), wT, wS, smT, smS);
        hbv_out g;
        if (all) g = hbv_load_out(gout, ls, i);
        else { g = (hbv_out){0}; g.Q = gout[TG_HBV_Q * ls + i]; }   /* only Q is seeded */
        hbv_adj r = hbv_step_adjoint(v, p, P, E, g, hbv_load_st(ast, ls, i), wT, smT, smS);
        hbv_store_st(ast, ls, i, r.a);
        gdst[TG_HBV_BETA][i] += r.gp.BETA; gdst[TG_HBV_FC][i] += r.gp.FC; gdst[TG_HBV_K0][i] += r.gp.K0;
        gdst[TG_HBV_K1][i] += r.gp.K1; gdst[TG_HBV_K2][i] += r.gp.K2; gdst[TG_HBV_LP][i] += r.gp.LP;
        gdst[TG_HBV_PERC][i] += r.gp.PERC; gdst[TG_HBV_UZL][i] += r.gp.UZL; gdst[TG_HBV_TT][i] += r.gp.TT;
        gdst[TG_HBV_CFMAX][i] += r.gp.CFMAX; gdst[TG_HBV_CFR][i] += r.gp.CFR; gdst[TG_HBV_CWH][i] += r.gp.CWH;
        gdst[TG_HBV_BETAET][i] += r.gp.BETAET;
        gfrc[i] = r.gP;
        gfrc[ls + i] = r.gT;
        gfrc[2 * ls + i] = r.gPET;
    }
}

#define BW_CASE(k) case k: bw_block_step(n, ls, w->ast, gdst, w->gfrc, w->st, w->par, w->frc, w->gout, wT, wS, \
                                         (k) & 1, ((k) >> 1) & 1, (k) >> 2); break;
#define BW_DISPATCH_BODY                                                                                  \
    tg_real wT = c->smooth_temp, wS = c->smooth_store;                                                    \
    int v = (wT > TG_R(0.0)) | (wS > TG_R(0.0)) << 1 | (all != 0) << 2;                                 \
    switch (v) { BW_CASE(0) BW_CASE(1) BW_CASE(2) BW_CASE(3) BW_CASE(4) BW_CASE(5) BW_CASE(6) BW_CASE(7) default: break; }

static void bw_step_dispatch(int n, int ls, bw_scratch *w, tg_real *const *gdst, const tg_hbv_config *c, int all)
{
    BW_DISPATCH_BODY
}
#ifdef HBV_HAVE_512
HBV_TARGET_512 static void bw_step_dispatch_512(int n, int ls, bw_scratch *w, tg_real *const *gdst,
                                                const tg_hbv_config *c, int all)
{
    BW_DISPATCH_BODY
}
#endif
#undef BW_DISPATCH_BODY
#undef BW_CASE

int tg_hbv_backward(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing,
                    tg_real *g_state_init, const tg_real *g_out_basin, const tg_real *g_out_lane,
                    const tg_real *g_state_final, const tg_real *hist, const tg_real *forcing,
                    const tg_real *par_static, const tg_real *par_dyn, const tg_hbv_config *c)
{
    return tg_hbv_backward_ckpt(g_par_static, g_par_dyn, g_forcing, g_state_init, g_out_basin, g_out_lane,
                                g_state_final, hist, forcing, par_static, par_dyn, c, 0);
}

/* Checkpointed (every = k > 0): hist holds the stores at the start of every k-th
 * differentiated step. Entering a segment from its end, the block re-runs the segment's
 * forward from its checkpoint into seg (k NSTATE ls, per thread), then the step adjoints
 * read the stores from there instead of from hist. Everything else is unchanged, so
 * the adjoint sees the same bits as without checkpointing. */
int tg_hbv_backward_ckpt(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing,
                         tg_real *g_state_init, const tg_real *g_out_basin, const tg_real *g_out_lane,
                         const tg_real *g_state_final, const tg_real *hist, const tg_real *forcing,
                         const tg_real *par_static, const tg_real *par_dyn, const tg_hbv_config *c,
                         int checkpoint)
{
    const int every = tg_hbv_ckpt_segment(c, checkpoint);
    const int T = c->T, W = c->warmup, B = c->B, M = c->M;
    const size_t L = (size_t)B * (size_t)M;
    const int t_stop = c->warmup_grad ? 0 : W;
    int row[TG_HBV_NPARAM];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const uint32_t omask = c->basin_outputs ? c->basin_outputs : (1u << TG_HBV_NOUT) - 1u;
    const int all_seed = g_out_lane || (g_out_basin && (omask & ~(1u << TG_HBV_Q)));
    const int nthreads = omp_get_max_threads();
    const int use512 = hbv_use_avx512();
    (void)use512;
    const hbv_blocking bk = hbv_blocking_make(c, nthreads);
    const size_t per_thread = (size_t)(BW_ROWS + (every ? HBV_FW_ROWS + (size_t)every * TG_HBV_NSTATE : 0)) * (size_t)bk.ls;
    tg_real *scratch = tg_malloc((size_t)nthreads * per_thread * sizeof(tg_real));
    if (!scratch) return tg_error_set(TG_ENOMEM, "hbv backward: no memory for %d x %zu scratch values", nthreads, per_thread);

#pragma omp parallel for schedule(dynamic, 1) if (hbv_parallel_worth(c, bk))
    for (int blk = 0; blk < bk.nblocks; blk++) {
        const int ls = bk.ls;
        tg_real *q = scratch + (size_t)omp_get_thread_num() * per_thread;
        bw_scratch w;
        w.st = q; q += TG_HBV_NSTATE * ls;
        w.par = q; q += TG_HBV_NPARAM * ls;
        w.frc = q; q += TG_HBV_NFORCING * ls;
        w.gout = q; q += TG_HBV_NOUT * ls;
        w.ast = q; q += TG_HBV_NSTATE * ls;
        w.gjunk = q; q += ls;
        w.gacc = q; q += TG_HBV_NPARAM * ls;
        w.gfrc = q; q += TG_HBV_NFORCING * ls;
        tg_real *fscr = q, *seg = q + HBV_FW_ROWS * ls;   /* checkpointed only */
        const size_t step = TG_HBV_NSTATE * (size_t)ls;
        const int b0 = blk * bk.nb;
        const int nbb = b0 + bk.nb <= B ? bk.nb : B - b0;
        const int n = nbb * M;
        const size_t l0 = (size_t)b0 * (size_t)M;

        for (int k = 0; k < TG_HBV_NSTATE; k++)
            for (int i = 0; i < n; i++)
                w.ast[k * ls + i] = g_state_final ? g_state_final[k * L + l0 + i] : TG_R(0.0);
        memset(w.gacc, 0, sizeof(tg_real) * TG_HBV_NPARAM * (size_t)ls);
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            memcpy(w.par + p * ls, par_static + p * L + l0, (size_t)n * sizeof(tg_real));

        for (int t = T - 1; t >= t_stop; t--) {
            const int dyn_step = t >= W;
            /* parameters of step t: dynamic rows from par_dyn after the warm-up, the
             * static value (restored once) inside it */
            for (int p = 0; p < TG_HBV_NPARAM; p++) {
                if (row[p] < 0) continue;
                const tg_real *src = dyn_step
                    ? par_dyn + ((size_t)(t - W) * (size_t)nd + (size_t)row[p]) * L + l0
                    : par_static + p * L + l0;
                if (dyn_step || t == W - 1) memcpy(w.par + p * ls, src, (size_t)n * sizeof(tg_real));
            }
            for (int k = 0; k < TG_HBV_NFORCING; k++)
                for (int bb = 0; bb < nbb; bb++) {
                    tg_real x = forcing[((size_t)t * (size_t)B + (size_t)(b0 + bb)) * TG_HBV_NFORCING + (size_t)k];
                    for (int m = 0; m < M; m++) w.frc[k * ls + bb * M + m] = x;
                }
            size_t slot = (size_t)(c->warmup_grad ? t : t - W);
            if (!every) {
                for (int k = 0; k < TG_HBV_NSTATE; k++)
                    memcpy(w.st + k * ls, hist + (slot * TG_HBV_NSTATE + (size_t)k) * L + l0,
                           (size_t)n * sizeof(tg_real));
            } else {
                const size_t j = slot % (size_t)every;   /* position inside the segment */
                if (t == T - 1 || j == (size_t)every - 1) {   /* entering a segment from its end */
                    const size_t cp = slot / (size_t)every;
                    for (int k = 0; k < TG_HBV_NSTATE; k++)
                        memcpy(seg + k * ls, hist + (cp * TG_HBV_NSTATE + (size_t)k) * L + l0,
                               (size_t)n * sizeof(tg_real));
                    hbv_fw_segment(seg, fscr, ls, t - (int)j, (int)j + 1, b0, nbb, forcing, par_static, par_dyn, c,
                                   use512);
                }
                memcpy(w.st, seg + j * step, sizeof(tg_real) * step);
            }
            /* output seeds: warm-up steps have no outputs */
            if (dyn_step && g_out_lane) {
                size_t tt = (size_t)(t - W);
                for (int k = 0; k < TG_HBV_NOUT; k++)
                    memcpy(w.gout + k * ls, g_out_lane + (tt * TG_HBV_NOUT + (size_t)k) * L + l0, (size_t)n * sizeof(tg_real));
            } else {   /* the Q-only kernel reads just the Q row */
                memset(w.gout + (all_seed ? 0 : TG_HBV_Q * ls), 0, sizeof(tg_real) * (all_seed ? TG_HBV_NOUT : 1) * (size_t)ls);
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
#ifdef HBV_HAVE_512
            if (use512) bw_step_dispatch_512(n, ls, &w, gdst, c, all_seed);
            else
#endif
                bw_step_dispatch(n, ls, &w, gdst, c, all_seed);
            if (g_forcing)
                for (int k = 0; k < TG_HBV_NFORCING; k++)
                    for (int bb = 0; bb < nbb; bb++) {
                        const tg_real *gf = w.gfrc + k * ls + bb * M;
                        tg_real sum = TG_R(0.0);
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
    tg_free(scratch, (size_t)nthreads * per_thread * sizeof(tg_real));
    return TG_OK;
}
