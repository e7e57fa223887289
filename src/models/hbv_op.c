/* hbv_op.c — the whole HBV run as ONE tape node (tg_custom) with the hand-written
 * backward of hbv_backward.c, plus the [0,1] -> physical parameter map as core ops.
 * The stores of every differentiated step are saved in the step arena by the forward
 * (only when a gradient will be needed) and read back by the backward. */
#include <stdio.h>
#include <string.h>

#include "models/hbv_op_io.h"

typedef struct hbv_op_data {
    tg_hbv_config c;
    tg_hbv_slots s;
    int ck;          /* checkpoint segment (0 = every step saved) */
    tg_real *hist;   /* NULL when no backward is possible */
} hbv_op_data;

static int hbv_op_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    hbv_op_data *d = ud;
    const tg_hbv_slots *s = &d->s;
    (void)n_in; (void)n_out;
    return tg_hbv_forward_ckpt(tg_hbv_slot_data(out, s->o_basin), tg_hbv_slot_data(out, s->o_lane),
                               tg_hbv_slot_data(out, s->o_final), d->hist, in[s->i_forcing]->data,
                               in[s->i_static]->data, tg_hbv_slot_data(in, s->i_dyn),
                               tg_hbv_slot_data(in, s->i_init), &d->c, d->ck);
}

static int hbv_op_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                           const tg_real *const *grad_out, tg_real *const *grad_in)
{
    hbv_op_data *d = ud;
    const tg_hbv_slots *s = &d->s;
    (void)out; (void)n_in; (void)n_out;
    if (!d->hist) return tg_error_set(TG_ESTATE, "hbv op: no saved stores (forward ran without gradient)");
    return tg_hbv_backward_ckpt(grad_in[s->i_static], tg_hbv_slot_grad_in(grad_in, s->i_dyn), grad_in[s->i_forcing],
                                tg_hbv_slot_grad_in(grad_in, s->i_init), tg_hbv_slot_grad(grad_out, s->o_basin),
                                tg_hbv_slot_grad(grad_out, s->o_lane), tg_hbv_slot_grad(grad_out, s->o_final),
                                d->hist, in[s->i_forcing]->data, in[s->i_static]->data,
                                tg_hbv_slot_data(in, s->i_dyn), &d->c, d->ck);
}

static const tg_custom_op hbv_op_def = {"hbv", hbv_op_forward, hbv_op_backward};

int tg_hbv_op(tg_ctx *ctx, const tg_hbv_config *c, tg_tensor *forcing, tg_tensor *par_static,
              tg_tensor *par_dyn, tg_tensor *state_init, tg_tensor **out_basin, tg_tensor **out_lane,
              tg_tensor **state_final)
{
    return tg_hbv_op_ckpt(ctx, c, 0, forcing, par_static, par_dyn, state_init, out_basin, out_lane, state_final);
}

int tg_hbv_op_ckpt(tg_ctx *ctx, const tg_hbv_config *c, int checkpoint, tg_tensor *forcing, tg_tensor *par_static,
                   tg_tensor *par_dyn, tg_tensor *state_init, tg_tensor **out_basin, tg_tensor **out_lane,
                   tg_tensor **state_final)
{
    if (out_basin) *out_basin = NULL;
    if (out_lane) *out_lane = NULL;
    if (state_final) *state_final = NULL;
    if (!ctx) return tg_error_set(TG_EINVAL, "hbv op: no context");
    if (tg_ctx_status(ctx)) return tg_ctx_status(ctx);
    int rc = tg_hbv_config_check(c);
    if (rc) return rc;
    if (checkpoint < -1)
        return tg_error_set(TG_EINVAL, "hbv op: checkpoint = %d, want 0 (off), -1 (auto) or a segment length > 0",
                            checkpoint);
    tg_hbv_io io;
    const tg_hbv_io_dims dm = {c->T, c->T - c->warmup, c->B, c->M, TG_HBV_NFORCING, tg_hbv_ndynamic(c),
                               tg_hbv_nparam(c), tg_hbv_nout(c)};
    rc = tg_hbv_io_setup(&io, "hbv op", dm, forcing, par_static, par_dyn, state_init, out_basin, out_lane, state_final);
    if (rc) return rc;

    hbv_op_data *d = tg_ctx_alloc(ctx, sizeof *d);
    if (!d) return tg_error_set(TG_ENOMEM, "hbv op: out of step memory");
    d->c = *c;
    d->s = io.s;
    d->hist = NULL;
    d->ck = tg_hbv_ckpt_segment(c, checkpoint);
    if (tg_hbv_io_needs_grad(&io, ctx)) {
        const size_t nh = tg_hbv_hist_size_ckpt(c, d->ck);
        d->hist = tg_ctx_alloc(ctx, nh * sizeof(tg_real));
        if (!d->hist) return tg_error_set(TG_ENOMEM, "hbv op: out of step memory for %zu saved stores", nh);
    }
    return tg_hbv_io_record(&io, ctx, &hbv_op_def, d, out_basin, out_lane, state_final);
}

/* phys = lo + u (hi - lo), per parameter row, as two broadcast core ops: u is
 * (R, np, B, M) or (np, B, M); the constants are (np, 1, 1). */
tg_tensor *tg_hbv_scale_op(tg_ctx *ctx, tg_tensor *u, uint32_t mask)
{
    if (!ctx || !u) return NULL;
    int np = 0;
    tg_real lo[TG_HBV_NPARAM_MAX], span[TG_HBV_NPARAM_MAX];
    for (int p = 0; p < TG_HBV_NPARAM_MAX; p++)
        if ((mask >> p) & 1u) {
            lo[np] = (tg_real)tg_hbv_param_range[p][0];
            span[np] = (tg_real)(tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]);
            np++;
        }
    const int row_axis = u->ndim - 3;
    if (np == 0 || row_axis < 0 || u->shape[row_axis] != np) {
        tg_error_set(TG_ESHAPE, "hbv scale op: u needs (..., %d, B, M) for mask 0x%x", np, (unsigned)mask);
        return NULL;
    }
    tg_tensor *tlo = tg_from(ctx, TG_SHAPE(np, 1, 1), lo), *tspan = tg_from(ctx, TG_SHAPE(np, 1, 1), span);
    return tg_add(ctx, tg_mul(ctx, u, tspan), tlo);
}
