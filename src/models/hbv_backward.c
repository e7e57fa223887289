/* hbv_backward.c — reverse-time adjoint of the HBV run.
 * Per block of basins and per step, from the last step back: reload the stores saved at
 * the start of the step, recompute the step's intermediates (hbv_step_forward: cheap,
 * vectorised), and run the step adjoint (hbv_step_adjoint). Adjoint stores carry from
 * step to step; static-parameter gradients accumulate per lane over time, dynamic ones
 * are written per step. See docs/hbv_backward.md. */
#include <omp.h>
#include <string.h>

#include "models/hbv_block.h"

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
    const int T = c->T, W = c->warmup;
    const int t_stop = c->warmup_grad ? 0 : W;
    int row[TG_HBV_NPARAM];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const uint32_t omask = hbv_basin_output_mask(c);
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
        const hbv_block k = hbv_block_nth(c, bk, blk);
        const int n = k.n;

        hbv_block_start_backward(w.ast, w.gacc, w.par, g_state_final, par_static, &k);

        for (int t = T - 1; t >= t_stop; t--) {
            const int dyn_step = t >= W;
            /* parameters of step t: dynamic rows from par_dyn after the warm-up, the
             * static value (restored once) inside it; the forcing of step t */
            hbv_block_step_inputs_reverse(w.par, w.frc, par_static, par_dyn, forcing, t, W, row, nd, &k);
            const size_t slot = hbv_hist_slot(c, t);
            if (!every) {
                hbv_block_load_hist(w.st, hist, slot, &k);
            } else {
                const size_t j = slot % (size_t)every;   /* position inside the segment */
                if (t == T - 1 || j == (size_t)every - 1) {   /* entering a segment from its end */
                    const size_t cp = slot / (size_t)every;
                    hbv_block_load_hist(seg, hist, cp, &k);
                    hbv_fw_segment(seg, fscr, ls, t - (int)j, (int)j + 1, k.b0, k.nbb, forcing, par_static, par_dyn,
                                   c, use512);
                }
                memcpy(w.st, seg + j * step, sizeof(tg_real) * step);
            }
            /* output seeds: warm-up steps have no outputs */
            if (dyn_step && g_out_lane) {
                size_t tt = (size_t)(t - W);
                hbv_block_load_rows(w.gout, g_out_lane + tt * TG_HBV_NOUT * k.L, TG_HBV_NOUT, &k);
            } else {   /* the Q-only kernel reads just the Q row */
                memset(w.gout + (all_seed ? 0 : TG_HBV_Q * ls), 0, sizeof(tg_real) * (all_seed ? TG_HBV_NOUT : 1) * (size_t)ls);
            }
            if (dyn_step && g_out_basin)
                hbv_block_add_basin_mean_seeds(w.gout, g_out_basin, (size_t)(t - W), omask, &k);

            tg_real *gdst[TG_HBV_NPARAM];
            hbv_block_param_grad_rows(gdst, w.gacc, w.gjunk, g_par_dyn, t, W, row, nd, &k);
#ifdef HBV_HAVE_512
            if (use512) bw_step_dispatch_512(n, ls, &w, gdst, c, all_seed);
            else
#endif
                bw_step_dispatch(n, ls, &w, gdst, c, all_seed);
            if (g_forcing)
                hbv_block_gather_forcing_grad(g_forcing, w.gfrc, t, &k);
        }
        hbv_block_finish_backward(g_par_static, c->warmup_grad || W == 0 ? g_state_init : NULL, w.gacc, w.ast, &k);
    }
    tg_free(scratch, (size_t)nthreads * per_thread * sizeof(tg_real));
    return TG_OK;
}
