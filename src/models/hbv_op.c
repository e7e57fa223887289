/* hbv_op.c — the whole HBV run as ONE tape node (tg_custom) with the hand-written
 * backward of hbv_backward.c, plus the [0,1] -> physical parameter map as core ops.
 * The stores of every differentiated step are saved in the step arena by the forward
 * (only when a gradient will be needed) and read back by the backward. */
#include <stdio.h>
#include <string.h>

#include "terragrad/models.h"

typedef struct hbv_op_data {
    tg_hbv_config c;
    int i_forcing, i_static, i_dyn, i_init;  /* input slots, -1 if absent */
    int o_basin, o_lane, o_final;            /* output slots, -1 if not requested */
    int ck;                                  /* checkpoint segment (0 = every step saved) */
    tg_real *hist;                           /* NULL when no backward is possible */
} hbv_op_data;

static int hbv_op_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    hbv_op_data *d = ud;
    (void)n_in; (void)n_out;
    return tg_hbv_forward_ckpt(d->o_basin >= 0 ? out[d->o_basin]->data : NULL,
                          d->o_lane >= 0 ? out[d->o_lane]->data : NULL,
                          d->o_final >= 0 ? out[d->o_final]->data : NULL, d->hist,
                          in[d->i_forcing]->data, in[d->i_static]->data,
                          d->i_dyn >= 0 ? in[d->i_dyn]->data : NULL,
                          d->i_init >= 0 ? in[d->i_init]->data : NULL, &d->c, d->ck);
}

static int hbv_op_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                           const tg_real *const *grad_out, tg_real *const *grad_in)
{
    hbv_op_data *d = ud;
    (void)out; (void)n_in; (void)n_out;
    if (!d->hist) return tg_error_set(TG_ESTATE, "hbv op: no saved stores (forward ran without gradient)");
    return tg_hbv_backward_ckpt(grad_in[d->i_static], d->i_dyn >= 0 ? grad_in[d->i_dyn] : NULL,
                           grad_in[d->i_forcing], d->i_init >= 0 ? grad_in[d->i_init] : NULL,
                           d->o_basin >= 0 ? grad_out[d->o_basin] : NULL,
                           d->o_lane >= 0 ? grad_out[d->o_lane] : NULL,
                           d->o_final >= 0 ? grad_out[d->o_final] : NULL, d->hist,
                           in[d->i_forcing]->data, in[d->i_static]->data,
                           d->i_dyn >= 0 ? in[d->i_dyn]->data : NULL, &d->c, d->ck);
}

static const tg_custom_op hbv_op_def = {"hbv", hbv_op_forward, hbv_op_backward};

/* Checks that t has exactly the expected shape (n dims). */
static int shape_is(const tg_tensor *t, int n, const int *want)
{
    if (t->ndim != n) return 0;
    for (int k = 0; k < n; k++)
        if (t->shape[k] != want[k]) return 0;
    return 1;
}

static int shape_error(const char *what, const tg_tensor *t, int n, const int *want)
{
    char got[64] = "", exp[64] = "";
    size_t g = 0, e = 0;
    for (int k = 0; k < t->ndim && g < sizeof got - 12; k++) g += (size_t)snprintf(got + g, sizeof got - g, k ? ", %d" : "%d", t->shape[k]);
    for (int k = 0; k < n && e < sizeof exp - 12; k++) e += (size_t)snprintf(exp + e, sizeof exp - e, k ? ", %d" : "%d", want[k]);
    return tg_error_set(TG_ESHAPE, "hbv op: %s has shape (%s), expected (%s)", what, got, exp);
}

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
    const int nd = tg_hbv_ndynamic(c), TW = c->T - c->warmup;
    if (!forcing || !par_static || (nd > 0 && !par_dyn))
        return tg_error_set(TG_EINVAL, "hbv op: forcing, static parameters%s must be given",
                            nd > 0 ? " and dynamic parameters" : "");
    if (!out_basin && !out_lane && !state_final) return tg_error_set(TG_EINVAL, "hbv op: no output requested");
    const int sf[3] = {c->T, c->B, TG_HBV_NFORCING}, sp[3] = {TG_HBV_NPARAM, c->B, c->M};
    const int sd[4] = {TW, nd, c->B, c->M}, ss[3] = {TG_HBV_NSTATE, c->B, c->M};
    if (!shape_is(forcing, 3, sf)) return shape_error("forcing", forcing, 3, sf);
    if (!shape_is(par_static, 3, sp)) return shape_error("static parameters", par_static, 3, sp);
    if (nd > 0 && !shape_is(par_dyn, 4, sd)) return shape_error("dynamic parameters", par_dyn, 4, sd);
    if (state_init && !shape_is(state_init, 3, ss)) return shape_error("initial stores", state_init, 3, ss);

    hbv_op_data *d = tg_ctx_alloc(ctx, sizeof *d);
    if (!d) return tg_error_set(TG_ENOMEM, "hbv op: out of step memory");
    d->c = *c;
    tg_tensor *in[4];
    int n_in = 0;
    d->i_forcing = n_in; in[n_in++] = forcing;
    d->i_static = n_in; in[n_in++] = par_static;
    d->i_dyn = nd > 0 ? n_in : -1;
    if (nd > 0) in[n_in++] = par_dyn;
    d->i_init = state_init ? n_in : -1;
    if (state_init) in[n_in++] = state_init;

    int needs_grad = 0;
    for (int k = 0; k < n_in; k++) needs_grad |= in[k]->requires_grad;
    needs_grad &= tg_ctx_grad_enabled(ctx);
    d->hist = NULL;
    d->ck = tg_hbv_ckpt_segment(c, checkpoint);
    if (needs_grad) {
        const size_t nh = tg_hbv_hist_size_ckpt(c, d->ck);
        d->hist = tg_ctx_alloc(ctx, nh * sizeof(tg_real));
        if (!d->hist) return tg_error_set(TG_ENOMEM, "hbv op: out of step memory for %zu saved stores", nh);
    }

    int out_ndim[3], out_shape[3][TG_MAX_DIMS], n_out = 0;
    d->o_basin = d->o_lane = d->o_final = -1;
    if (out_basin) {
        d->o_basin = n_out;
        out_ndim[n_out] = 3;
        out_shape[n_out][0] = TW; out_shape[n_out][1] = TG_HBV_NOUT; out_shape[n_out][2] = c->B; out_shape[n_out][3] = 1;
        n_out++;
    }
    if (out_lane) {
        d->o_lane = n_out;
        out_ndim[n_out] = 4;
        out_shape[n_out][0] = TW; out_shape[n_out][1] = TG_HBV_NOUT; out_shape[n_out][2] = c->B; out_shape[n_out][3] = c->M;
        n_out++;
    }
    if (state_final) {
        d->o_final = n_out;
        out_ndim[n_out] = 3;
        out_shape[n_out][0] = TG_HBV_NSTATE; out_shape[n_out][1] = c->B; out_shape[n_out][2] = c->M; out_shape[n_out][3] = 1;
        n_out++;
    }
    tg_tensor *outs[3] = {NULL, NULL, NULL};
    rc = tg_custom(ctx, &hbv_op_def, d, in, n_in, n_out, out_ndim, (const int (*)[TG_MAX_DIMS])out_shape, outs);
    if (rc) return rc;
    if (out_basin) *out_basin = outs[d->o_basin];
    if (out_lane) *out_lane = outs[d->o_lane];
    if (state_final) *state_final = outs[d->o_final];
    return TG_OK;
}

/* phys = lo + u (hi - lo), per parameter row, as two broadcast core ops: u is
 * (R, np, B, M) or (np, B, M); the constants are (np, 1, 1). */
tg_tensor *tg_hbv_scale_op(tg_ctx *ctx, tg_tensor *u, uint32_t mask)
{
    if (!ctx || !u) return NULL;
    int np = 0;
    tg_real lo[TG_HBV_NPARAM], span[TG_HBV_NPARAM];
    for (int p = 0; p < TG_HBV_NPARAM; p++)
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
