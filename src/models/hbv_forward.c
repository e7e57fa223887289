/* hbv_forward.c — the HBV forward pass over all steps, lanes innermost.
 * Each thread takes a block of whole basins, keeps the block's stores, parameters and
 * the step's forcing in small scratch arrays (L1-resident), and walks the time axis; the
 * lane loop of every step is one `omp simd` loop over hbv_step_forward. */
#include <omp.h>
#include <string.h>

#include "core/scratch.h"
#include "models/hbv_block.h"
#include "models/hbv_kernels.h"

/* ---------------------------------------------------------------- checkpointing */
int tg_hbv_ckpt_segment(const tg_hbv_config *c, int checkpoint)
{
    const int n = c->warmup_grad ? c->T : c->T - c->warmup;   /* differentiated steps */
    if (checkpoint == 0 || n <= 1)
        return 0;
    int k = checkpoint;
    if (checkpoint < 0) {                                      /* auto: ceil(sqrt(n)) */
        k = 1;
        while ((long long)k * k < n)
            k++;
    }
    return k;
}

size_t tg_hbv_hist_size_ckpt(const tg_hbv_config *c, int checkpoint)
{
    const int k = tg_hbv_ckpt_segment(c, checkpoint);
    if (!k)
        return tg_hbv_hist_size(c);
    const size_t n = (size_t)(c->warmup_grad ? c->T : c->T - c->warmup);
    return (n + (size_t)k - 1) / (size_t)k * TG_HBV_NSTATE * (size_t)c->B * (size_t)c->M;
}

void tg__hbv_fw_segment(tg_real *seg, tg_real *fscr, int ls, int t0, int len, int b0, int nbb, const tg_real *forcing,
                    const tg_real *par_static, const tg_real *par_dyn, const tg_hbv_config *c, hbv_fw_kernel fk)
{
    const int W = c->warmup, nd = tg_hbv_ndynamic(c);
    const hbv_block k = hbv_block_of(c, ls, b0, nbb);
    const int n = k.n;
    const size_t step = TG_HBV_NSTATE * (size_t)ls;
    int row[TG_HBV_NPARAM_MAX];
    hbv_dyn_rows(c, row);
    fw_scratch w = {fscr, fscr + TG_HBV_NSTATE * ls, fscr + (TG_HBV_NSTATE + TG_HBV_NPARAM_MAX) * ls,
                    fscr + (TG_HBV_NSTATE + TG_HBV_NPARAM_MAX + TG_HBV_NFORCING) * ls};
    memcpy(w.st, seg, sizeof(tg_real) * step);
    hbv_block_load_rows(w.par, par_static, k.np, &k);
    for (int j = 0; j < len; j++) {
        const int t = t0 + j;
        if (t >= W)
            hbv_block_load_dyn_params(w.par, par_dyn, (size_t)(t - W), row, nd, &k);
        if (j)
            memcpy(seg + (size_t)j * step, w.st, sizeof(tg_real) * step);
        if (j == len - 1)
            break;   /* the stores after the segment's last step are not needed */
        hbv_block_broadcast_forcing(w.frc, forcing, t, &k);
        fk(n, ls, &w, c, 0);
    }
}

/* ---------------------------------------------------------------- forward */
int tg_hbv_forward(tg_real *out_basin, tg_real *out_lane, tg_real *state_final, tg_real *hist,
                   const tg_real *forcing, const tg_real *par_static, const tg_real *par_dyn,
                   const tg_real *state_init, const tg_hbv_config *c)
{
    return tg_hbv_forward_ckpt(out_basin, out_lane, state_final, hist, forcing, par_static, par_dyn, state_init, c,
                               0);
}

int tg_hbv_forward_ckpt(tg_real *out_basin, tg_real *out_lane, tg_real *state_final, tg_real *hist,
                        const tg_real *forcing, const tg_real *par_static, const tg_real *par_dyn,
                        const tg_real *state_init, const tg_hbv_config *c, int checkpoint)
{
    const size_t every = (size_t)tg_hbv_ckpt_segment(c, checkpoint);
    const int T = c->T, W = c->warmup;
    int row[TG_HBV_NPARAM_MAX];
    hbv_dyn_rows(c, row);
    const int nd = tg_hbv_ndynamic(c);
    const uint32_t omask = hbv_basin_output_mask(c);
    const int all_out = out_lane || (out_basin && (omask & ~(1u << TG_HBV_Q)));
    const int nthreads = omp_get_max_threads();
    const hbv_fw_kernel fk = tg__hbv_fw_kernel_select();
    const hbv_blocking bk = hbv_blocking_make(c, nthreads);
    const size_t per_thread = (size_t)HBV_FW_ROWS * (size_t)bk.ls;
    tg_real *scratch = tg__scratch_get(TG__SCRATCH_HBV_FW, (size_t)nthreads * per_thread * sizeof(tg_real));
    if (!scratch) return tg_error_set(TG_ENOMEM, "hbv forward: no memory for %d x %zu scratch values", nthreads, per_thread);

#pragma omp parallel for schedule(dynamic, 1) if (hbv_parallel_worth(c, bk))
    for (int blk = 0; blk < bk.nblocks; blk++) {
        const int ls = bk.ls;
        tg_real *base = scratch + (size_t)omp_get_thread_num() * per_thread;
        fw_scratch w = {base, base + TG_HBV_NSTATE * ls, base + (TG_HBV_NSTATE + TG_HBV_NPARAM_MAX) * ls,
                        base + (TG_HBV_NSTATE + TG_HBV_NPARAM_MAX + TG_HBV_NFORCING) * ls};
        const hbv_block k = hbv_block_nth(c, bk, blk);
        const int n = k.n;

        hbv_block_start_forward(w.st, w.par, state_init, par_static, &k);

        for (int t = 0; t < T; t++) {
            hbv_block_step_inputs(w.par, w.frc, par_dyn, forcing, t, W, row, nd, &k);
            if (hist && (c->warmup_grad || t >= W) && (!every || hbv_hist_slot(c, t) % every == 0)) {
                size_t slot = hbv_hist_slot(c, t);
                if (every)
                    slot /= every;   /* checkpointed: the stores at the start of every segment */
                hbv_block_save_hist(hist, slot, w.st, &k);
            }
            fk(n, ls, &w, c, t >= W && all_out);   /* warm-up: no outputs */
            if (t < W) continue;
            hbv_block_write_outputs(out_lane, out_basin, (size_t)(t - W), w.out, omask, &k);
        }
        if (state_final)
            hbv_block_save_rows(state_final, w.st, TG_HBV_NSTATE, &k);
    }
    tg__scratch_put(TG__SCRATCH_HBV_FW, scratch, (size_t)nthreads * per_thread * sizeof(tg_real));
    return TG_OK;
}
