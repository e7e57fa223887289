/* hbv_backward.c — reverse-time adjoint of the HBV run.
 * Per block of basins and per step, from the last step back: reload the stores saved at
 * the start of the step, recompute the step's intermediates (hbv_step_forward: cheap,
 * vectorised), and run the step adjoint (hbv_step_adjoint). Adjoint stores carry from
 * step to step; static-parameter gradients accumulate per lane over time, dynamic ones
 * are written per step. See docs/hbv_backward.md. */
#include <omp.h>
#include <string.h>

#include "core/scratch.h"
#include "models/hbv_block.h"
#include "models/hbv_kernels.h"

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
    int row[TG_HBV_NPARAM_MAX];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const uint32_t omask = hbv_basin_output_mask(c);
    const int all_seed = g_out_lane || (g_out_basin && (omask & ~(1u << TG_HBV_Q)));
    const int nthreads = omp_get_max_threads();
    const hbv_fw_kernel fk = tg__hbv_fw_kernel_select();
    const hbv_bw_kernel bk_step = tg__hbv_bw_kernel_select();
    const hbv_blocking bk = hbv_blocking_make(c, nthreads);
    const size_t per_thread = (size_t)(BW_ROWS + (every ? HBV_FW_ROWS + (size_t)every * TG_HBV_NSTATE : 0)) * (size_t)bk.ls;
    tg_real *scratch = tg__scratch_get(TG__SCRATCH_HBV_BW, (size_t)nthreads * per_thread * sizeof(tg_real));
    if (!scratch) return tg_error_set(TG_ENOMEM, "hbv backward: no memory for %d x %zu scratch values", nthreads, per_thread);

#pragma omp parallel for schedule(dynamic, 1) if (hbv_parallel_worth(c, bk))
    for (int blk = 0; blk < bk.nblocks; blk++) {
        const int ls = bk.ls;
        tg_real *q = scratch + (size_t)omp_get_thread_num() * per_thread;
        bw_scratch w;
        w.st = q; q += TG_HBV_NSTATE * ls;
        w.par = q; q += TG_HBV_NPARAM_MAX * ls;
        w.frc = q; q += TG_HBV_NFORCING * ls;
        w.gout = q; q += TG_HBV_NOUT_MAX * ls;
        w.ast = q; q += TG_HBV_NSTATE * ls;
        w.gjunk = q; q += ls;
        w.gacc = q; q += TG_HBV_NPARAM_MAX * ls;
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
                    tg__hbv_fw_segment(seg, fscr, ls, t - (int)j, (int)j + 1, k.b0, k.nbb, forcing, par_static, par_dyn,
                                   c, fk);
                }
                memcpy(w.st, seg + j * step, sizeof(tg_real) * step);
            }
            /* output seeds: warm-up steps have no outputs */
            if (dyn_step && g_out_lane) {
                size_t tt = (size_t)(t - W);
                hbv_block_load_rows(w.gout, g_out_lane + tt * (size_t)k.nout * k.L, k.nout, &k);
            } else {   /* the Q-only kernel reads just the Q row */
                memset(w.gout + (all_seed ? 0 : TG_HBV_Q * ls), 0, sizeof(tg_real) * (size_t)(all_seed ? k.nout : 1) * (size_t)ls);
            }
            if (dyn_step && g_out_basin)
                hbv_block_add_basin_mean_seeds(w.gout, g_out_basin, (size_t)(t - W), omask, &k);

            tg_real *gdst[TG_HBV_NPARAM_MAX];
            hbv_block_param_grad_rows(gdst, w.gacc, w.gjunk, g_par_dyn, t, W, row, nd, &k);
            bk_step(n, ls, &w, gdst, c, all_seed);
            if (g_forcing)
                hbv_block_gather_forcing_grad(g_forcing, w.gfrc, t, &k);
        }
        hbv_block_finish_backward(g_par_static, c->warmup_grad || W == 0 ? g_state_init : NULL, w.gacc, w.ast, &k);
    }
    tg__scratch_put(TG__SCRATCH_HBV_BW, scratch, (size_t)nthreads * per_thread * sizeof(tg_real));
    return TG_OK;
}
