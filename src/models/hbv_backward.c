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
    tg_real *gstep; /* (NPARAM, ls) dL/d parameters of this step */
    tg_real *gacc;  /* (NPARAM, ls) accumulated dL/d static parameters */
    tg_real *gfrc;  /* (3, ls) dL/d forcing of the step per lane */
} bw_scratch;
#define BW_ROWS (2 * TG_HBV_NSTATE + 3 * TG_HBV_NPARAM + 2 * TG_HBV_NFORCING + TG_HBV_NOUT)

TG_VINLINE void bw_block_step(int n, int ls, tg_real *restrict ast, tg_real *restrict gstep,
                              tg_real *restrict gfrc, const tg_real *restrict st,
                              const tg_real *restrict par, const tg_real *restrict frc,
                              const tg_real *restrict gout, tg_real wT, tg_real wS,
                              const int smT, const int smS)
{
#pragma omp simd
    for (int i = 0; i < n; i++) {
        const tg_real P = frc[i], Ta = frc[ls + i], E = frc[2 * ls + i];
        const hbv_par p = hbv_load_par(par, ls, i);
        hbv_fw v = hbv_step_forward(P, Ta, E, p, hbv_load_st(st, ls, i), wT, wS, smT, smS);
        hbv_adj r = hbv_step_adjoint(v, p, P, E, hbv_load_out(gout, ls, i), hbv_load_st(ast, ls, i),
                                     wT, smT, smS);
        hbv_store_st(ast, ls, i, r.a);
        hbv_store_par(gstep, ls, i, r.gp);
        gfrc[i] = r.gP;
        gfrc[ls + i] = r.gT;
        gfrc[2 * ls + i] = r.gPET;
    }
}

static void bw_step_dispatch(int n, int ls, bw_scratch *w, const tg_hbv_config *c)
{
    tg_real wT = c->smooth_temp, wS = c->smooth_store;
    int smT = wT > TG_R(0.0), smS = wS > TG_R(0.0);
    if (!smT && !smS) bw_block_step(n, ls, w->ast, w->gstep, w->gfrc, w->st, w->par, w->frc, w->gout, wT, wS, 0, 0);
    else if (smT && smS) bw_block_step(n, ls, w->ast, w->gstep, w->gfrc, w->st, w->par, w->frc, w->gout, wT, wS, 1, 1);
    else if (smT) bw_block_step(n, ls, w->ast, w->gstep, w->gfrc, w->st, w->par, w->frc, w->gout, wT, wS, 1, 0);
    else bw_block_step(n, ls, w->ast, w->gstep, w->gfrc, w->st, w->par, w->frc, w->gout, wT, wS, 0, 1);
}

int tg_hbv_backward(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing,
                    tg_real *g_state_init, const tg_real *g_out_basin, const tg_real *g_out_lane,
                    const tg_real *g_state_final, const tg_real *hist, const tg_real *forcing,
                    const tg_real *par_static, const tg_real *par_dyn, const tg_hbv_config *c)
{
    const int T = c->T, W = c->warmup, B = c->B, M = c->M;
    const size_t L = (size_t)B * (size_t)M;
    const int t_stop = c->warmup_grad ? 0 : W;
    int row[TG_HBV_NPARAM];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const int nthreads = omp_get_max_threads();
    const hbv_blocking bk = hbv_blocking_make(c, nthreads);
    const size_t per_thread = (size_t)BW_ROWS * (size_t)bk.ls;
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
        w.gstep = q; q += TG_HBV_NPARAM * ls;
        w.gacc = q; q += TG_HBV_NPARAM * ls;
        w.gfrc = q;
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
            for (int k = 0; k < TG_HBV_NSTATE; k++)
                memcpy(w.st + k * ls, hist + (slot * TG_HBV_NSTATE + (size_t)k) * L + l0, (size_t)n * sizeof(tg_real));
            /* output seeds: warm-up steps have no outputs */
            if (dyn_step && g_out_lane) {
                size_t tt = (size_t)(t - W);
                for (int k = 0; k < TG_HBV_NOUT; k++)
                    memcpy(w.gout + k * ls, g_out_lane + (tt * TG_HBV_NOUT + (size_t)k) * L + l0, (size_t)n * sizeof(tg_real));
            } else {
                memset(w.gout, 0, sizeof(tg_real) * TG_HBV_NOUT * (size_t)ls);
            }
            if (dyn_step && g_out_basin) {
                size_t tt = (size_t)(t - W);
                for (int k = 0; k < TG_HBV_NOUT; k++)
                    for (int bb = 0; bb < nbb; bb++) {
                        tg_real gb = g_out_basin[(tt * TG_HBV_NOUT + (size_t)k) * (size_t)B + (size_t)(b0 + bb)] / (tg_real)M;
                        tg_real *dst = w.gout + k * ls + bb * M;
                        for (int m = 0; m < M; m++) dst[m] += gb;
                    }
            }

            bw_step_dispatch(n, ls, &w, c);

            for (int p = 0; p < TG_HBV_NPARAM; p++) {
                const tg_real *gs = w.gstep + p * ls;
                if (row[p] >= 0 && dyn_step) {
                    if (g_par_dyn) {
                        tg_real *dst = g_par_dyn + ((size_t)(t - W) * (size_t)nd + (size_t)row[p]) * L + l0;
                        for (int i = 0; i < n; i++) dst[i] += gs[i];
                    }
                } else {
                    tg_real *acc = w.gacc + p * ls;
                    for (int i = 0; i < n; i++) acc[i] += gs[i];
                }
            }
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
