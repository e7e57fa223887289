/* hbv_block.h — the per-block bookkeeping of the HBV drivers (hbv_forward.c,
 * hbv_backward.c, hbv_hybrid.c): moving rows between the run's arrays, (rows, L) with
 * L = B M lanes, and a block's scratch, (rows, ls) holding the block's n = nbb M lanes;
 * broadcasting the forcing of a step to the lanes; basin means of the outputs and their
 * adjoints. Only copies and the fixed-order sums over the M components of a basin: the
 * step arithmetic stays in hbv_step.h and in the drivers' `omp simd` loops. */
#ifndef TG_MODELS_HBV_BLOCK_H
#define TG_MODELS_HBV_BLOCK_H

#include <string.h>

#include "models/hbv_step.h"

/* Where a block of whole basins [b0, b0+nbb) sits in the run. */
typedef struct hbv_block {
    int B, M;        /* basins and components of the run */
    int b0, nbb;     /* first basin, basins of the block */
    int n, ls;       /* lanes used (nbb M), lane stride of the scratch rows */
    size_t L, l0;    /* lanes of the run (B M), first lane of the block */
    int np, nout;    /* parameter and output rows: tg_hbv_nparam, tg_hbv_nout of the config */
} hbv_block;

static inline hbv_block hbv_block_of(const tg_hbv_config *c, int ls, int b0, int nbb)
{
    hbv_block k;
    k.B = c->B;
    k.M = c->M;
    k.b0 = b0;
    k.nbb = nbb;
    k.n = nbb * c->M;
    k.ls = ls;
    k.L = (size_t)c->B * (size_t)c->M;
    k.l0 = (size_t)b0 * (size_t)c->M;
    k.np = tg_hbv_nparam(c);
    k.nout = tg_hbv_nout(c);
    return k;
}

/* Block blk of a blocking (the last one may hold fewer basins). */
static inline hbv_block hbv_block_nth(const tg_hbv_config *c, hbv_blocking bk, int blk)
{
    const int b0 = blk * bk.nb;
    return hbv_block_of(c, bk.ls, b0, b0 + bk.nb <= c->B ? bk.nb : c->B - b0);
}

/* scratch (rows, ls) <- run array (rows, L), the block's lanes. */
static inline void hbv_block_load_rows(tg_real *dst, const tg_real *src, int rows, const hbv_block *k)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + r * k->ls, src + (size_t)r * k->L + k->l0, (size_t)k->n * sizeof(tg_real));
}

/* run array (rows, L) <- scratch (rows, ls), the block's lanes. */
static inline void hbv_block_save_rows(tg_real *dst, const tg_real *src, int rows, const hbv_block *k)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * k->L + k->l0, src + r * k->ls, (size_t)k->n * sizeof(tg_real));
}

/* run array (rows, L) += scratch (rows, ls), the block's lanes. */
static inline void hbv_block_add_rows(tg_real *dst, const tg_real *src, int rows, const hbv_block *k)
{
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < k->n; i++) dst[(size_t)r * k->L + k->l0 + (size_t)i] += src[r * k->ls + i];
}

/* scratch (rows, ls) <- run array (rows, L), or every lane = fill when src is NULL. */
static inline void hbv_block_load_rows_or(tg_real *dst, const tg_real *src, tg_real fill, int rows,
                                          const hbv_block *k)
{
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < k->n; i++)
            dst[r * k->ls + i] = src ? src[(size_t)r * k->L + k->l0 + (size_t)i] : fill;
}

/* Stores (NSTATE, ls) <-> slot `slot` of hist (slots of NSTATE L). */
static inline void hbv_block_save_hist(tg_real *hist, size_t slot, const tg_real *st, const hbv_block *k)
{
    hbv_block_save_rows(hist + slot * TG_HBV_NSTATE * k->L, st, TG_HBV_NSTATE, k);
}
static inline void hbv_block_load_hist(tg_real *st, const tg_real *hist, size_t slot, const hbv_block *k)
{
    hbv_block_load_rows(st, hist + slot * TG_HBV_NSTATE * k->L, TG_HBV_NSTATE, k);
}

/* Row of par_dyn ((T-W, nd, L)) holding dynamic parameter `row` of differentiated step tt. */
static inline size_t hbv_block_dyn_offset(size_t tt, int nd, int row, const hbv_block *k)
{
    return (tt * (size_t)nd + (size_t)row) * k->L + k->l0;
}

/* Forward, step tt = t - W after the warm-up: the dynamic parameter rows of the step into
 * par (NPARAM, ls); the static ones stay as loaded. */
static inline void hbv_block_load_dyn_params(tg_real *par, const tg_real *par_dyn, size_t tt, const int *row,
                                             int nd, const hbv_block *k)
{
    for (int p = 0; p < k->np; p++)
        if (row[p] >= 0)
            memcpy(par + p * k->ls, par_dyn + hbv_block_dyn_offset(tt, nd, row[p], k), (size_t)k->n * sizeof(tg_real));
}

/* Backward (reverse time), step t: the dynamic parameter rows of the step after the
 * warm-up; inside it their static value, restored once at t = W-1. */
static inline void hbv_block_load_params_reverse(tg_real *par, const tg_real *par_static, const tg_real *par_dyn,
                                                 int t, int W, const int *row, int nd, const hbv_block *k)
{
    if (t >= W)
        hbv_block_load_dyn_params(par, par_dyn, (size_t)(t - W), row, nd, k);
    else if (t == W - 1)
        for (int p = 0; p < k->np; p++)
            if (row[p] >= 0)
                memcpy(par + p * k->ls, par_static + (size_t)p * k->L + k->l0, (size_t)k->n * sizeof(tg_real));
}

/* Forcing of step t (forcing (T, B, NFORCING)) into frc (NFORCING, ls), each basin's value
 * repeated over its M components. */
static inline void hbv_block_broadcast_forcing(tg_real *frc, const tg_real *forcing, int t, const hbv_block *k)
{
    for (int f = 0; f < TG_HBV_NFORCING; f++)
        for (int bb = 0; bb < k->nbb; bb++) {
            tg_real x = forcing[((size_t)t * (size_t)k->B + (size_t)(k->b0 + bb)) * TG_HBV_NFORCING + (size_t)f];
            tg_real *dst = frc + (size_t)f * (size_t)k->ls + (size_t)bb * (size_t)k->M;
            for (int m = 0; m < k->M; m++) dst[m] = x;
        }
}

/* Adjoint of the broadcast: g_forcing of step t += dL/d frc summed over each basin's
 * components (in component order). */
static inline void hbv_block_gather_forcing_grad(tg_real *g_forcing, const tg_real *gfrc, int t, const hbv_block *k)
{
    for (int f = 0; f < TG_HBV_NFORCING; f++)
        for (int bb = 0; bb < k->nbb; bb++) {
            const tg_real *gf = gfrc + f * k->ls + bb * k->M;
            tg_real sum = TG_R(0.0);
            for (int m = 0; m < k->M; m++) sum += gf[m];
            g_forcing[((size_t)t * (size_t)k->B + (size_t)(k->b0 + bb)) * TG_HBV_NFORCING + (size_t)f] += sum;
        }
}

/* Outputs basins ((NOUT, B) slice of step tt) <- mean over the components of the
 * outputs out (NOUT, ls) selected by omask; summed in component order (deterministic). */
static inline void hbv_block_write_basin_means(tg_real *out_basin, size_t tt, const tg_real *out, uint32_t omask,
                                               const hbv_block *k)
{
    for (int o = 0; o < k->nout; o++) {
        if (!((omask >> o) & 1u)) continue;
        for (int bb = 0; bb < k->nbb; bb++) {
            const tg_real *x = out + o * k->ls + bb * k->M;
            tg_real sum = TG_R(0.0);
            for (int m = 0; m < k->M; m++) sum += x[m];
            out_basin[(tt * (size_t)k->nout + (size_t)o) * (size_t)k->B + (size_t)(k->b0 + bb)] = sum / (tg_real)k->M;
        }
    }
}

/* Adjoint of the basin means: gout (NOUT, ls) += dL/d basin output / M on every component. */
static inline void hbv_block_add_basin_mean_seeds(tg_real *gout, const tg_real *g_out_basin, size_t tt,
                                                  uint32_t omask, const hbv_block *k)
{
    for (int o = 0; o < k->nout; o++) {
        if (!((omask >> o) & 1u)) continue;
        for (int bb = 0; bb < k->nbb; bb++) {
            tg_real gb = g_out_basin[(tt * (size_t)k->nout + (size_t)o) * (size_t)k->B + (size_t)(k->b0 + bb)] / (tg_real)k->M;
            tg_real *dst = gout + o * k->ls + bb * k->M;
            for (int m = 0; m < k->M; m++) dst[m] += gb;
        }
    }
}

/* Backward, step t: gdst[p] = where dL/d parameter p of the step goes (+=): the block's
 * static accumulator gacc (NPARAM, ls), the g_par_dyn row of the step for a dynamic
 * parameter after the warm-up, or the sink gjunk when g_par_dyn is NULL. */
static inline void hbv_block_param_grad_rows(tg_real **gdst, tg_real *gacc, tg_real *gjunk, tg_real *g_par_dyn,
                                             int t, int W, const int *row, int nd, const hbv_block *k)
{
    for (int p = 0; p < k->np; p++)
        gdst[p] = !(row[p] >= 0 && t >= W) ? gacc + p * k->ls
                  : g_par_dyn ? g_par_dyn + hbv_block_dyn_offset((size_t)(t - W), nd, row[p], k)
                              : gjunk;
}

/* The output mask of the basin outputs (0 in the config: all). */
static inline uint32_t hbv_basin_output_mask(const tg_hbv_config *c)
{
    return c->basin_outputs ? c->basin_outputs : (1u << tg_hbv_nout(c)) - 1u;
}

/* Slot of hist holding the stores at the start of step t (without checkpointing). */
static inline size_t hbv_hist_slot(const tg_hbv_config *c, int t)
{
    return (size_t)(c->warmup_grad ? t : t - c->warmup);
}

/* ------------------------------------------------------------ driver stages */
/* Forward, block start: initial stores (state_init, or TG_HBV_INIT_STORE when NULL) into
 * st and the static parameters into par. */
static inline void hbv_block_start_forward(tg_real *st, tg_real *par, const tg_real *state_init,
                                           const tg_real *par_static, const hbv_block *k)
{
    hbv_block_load_rows_or(st, state_init, TG_R(TG_HBV_INIT_STORE), TG_HBV_NSTATE, k);
    hbv_block_load_rows(par, par_static, k->np, k);
}

/* Forward, inputs of step t: the dynamic parameter rows after the warm-up W, and the
 * forcing broadcast to the lanes. */
static inline void hbv_block_step_inputs(tg_real *par, tg_real *frc, const tg_real *par_dyn, const tg_real *forcing,
                                         int t, int W, const int *row, int nd, const hbv_block *k)
{
    if (t >= W)
        hbv_block_load_dyn_params(par, par_dyn, (size_t)(t - W), row, nd, k);
    hbv_block_broadcast_forcing(frc, forcing, t, k);
}

/* Forward, outputs out (NOUT, ls) of differentiated step tt: the lanes into out_lane and
 * the basin means selected by omask into out_basin (either may be NULL). */
static inline void hbv_block_write_outputs(tg_real *out_lane, tg_real *out_basin, size_t tt, const tg_real *out,
                                           uint32_t omask, const hbv_block *k)
{
    if (out_lane)
        hbv_block_save_rows(out_lane + tt * (size_t)k->nout * k->L, out, k->nout, k);
    if (out_basin)
        hbv_block_write_basin_means(out_basin, tt, out, omask, k);
}

/* Backward, block start: adjoint stores seeded from g_state_final (0 when NULL), the
 * static-gradient accumulator gacc (NPARAM, ls) zeroed, the static parameters into par. */
static inline void hbv_block_start_backward(tg_real *ast, tg_real *gacc, tg_real *par, const tg_real *g_state_final,
                                            const tg_real *par_static, const hbv_block *k)
{
    hbv_block_load_rows_or(ast, g_state_final, TG_R(0.0), TG_HBV_NSTATE, k);
    memset(gacc, 0, sizeof(tg_real) * (size_t)k->np * (size_t)k->ls);
    hbv_block_load_rows(par, par_static, k->np, k);
}

/* Backward, inputs of step t (reverse time): parameters as hbv_block_load_params_reverse,
 * and the forcing broadcast to the lanes. */
static inline void hbv_block_step_inputs_reverse(tg_real *par, tg_real *frc, const tg_real *par_static,
                                                 const tg_real *par_dyn, const tg_real *forcing, int t, int W,
                                                 const int *row, int nd, const hbv_block *k)
{
    hbv_block_load_params_reverse(par, par_static, par_dyn, t, W, row, nd, k);
    hbv_block_broadcast_forcing(frc, forcing, t, k);
}

/* Backward, block end: g_par_static += gacc and g_state_init += ast (either may be NULL;
 * the caller passes g_state_init NULL when the run's start is not differentiated). */
static inline void hbv_block_finish_backward(tg_real *g_par_static, tg_real *g_state_init, const tg_real *gacc,
                                             const tg_real *ast, const hbv_block *k)
{
    if (g_par_static)
        hbv_block_add_rows(g_par_static, gacc, k->np, k);
    if (g_state_init)
        hbv_block_add_rows(g_state_init, ast, TG_HBV_NSTATE, k);
}

#endif
