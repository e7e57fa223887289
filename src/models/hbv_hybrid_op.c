/* hbv_hybrid_op.c — tape ops of the hybrid HBV: the whole run as ONE node (hand-written
 * backward of hbv_hybrid.c, weight gradients included) and g on a set of input pairs (for
 * penalties on the learned function and for `terragrad explain`). */
#include <stdio.h>
#include <string.h>

#include "models/hbv_hybrid_internal.h"
#include "models/hbv_op_io.h"

typedef struct hy_op_data {
    tg_hbv_config c;
    tg_hybrid_mlp net;
    tg_hbv_slots s;
    int i_w; /* slot of the network weights */
    tg_real *hist;
} hy_op_data;

static int hy_op_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    hy_op_data *d = ud;
    const tg_hbv_slots *s = &d->s;
    (void)n_in;
    (void)n_out;
    return tg_hbv_hybrid_forward(tg_hbv_slot_data(out, s->o_basin), tg_hbv_slot_data(out, s->o_lane),
                                 tg_hbv_slot_data(out, s->o_final), d->hist, in[s->i_forcing]->data,
                                 in[s->i_static]->data, tg_hbv_slot_data(in, s->i_dyn),
                                 tg_hbv_slot_data(in, s->i_init), in[d->i_w]->data, &d->net, &d->c);
}

static int hy_op_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                          const tg_real *const *grad_out, tg_real *const *grad_in)
{
    hy_op_data *d = ud;
    const tg_hbv_slots *s = &d->s;
    (void)out;
    (void)n_in;
    (void)n_out;
    if (!d->hist)
        return tg_error_set(TG_ESTATE, "hybrid hbv op: no saved stores (forward ran without gradient)");
    return tg_hbv_hybrid_backward(grad_in[s->i_static], tg_hbv_slot_grad_in(grad_in, s->i_dyn), grad_in[s->i_forcing],
                                  tg_hbv_slot_grad_in(grad_in, s->i_init), grad_in[d->i_w],
                                  tg_hbv_slot_grad(grad_out, s->o_basin), tg_hbv_slot_grad(grad_out, s->o_lane),
                                  tg_hbv_slot_grad(grad_out, s->o_final), d->hist, in[s->i_forcing]->data,
                                  in[s->i_static]->data, tg_hbv_slot_data(in, s->i_dyn), in[d->i_w]->data, &d->net,
                                  &d->c);
}

static const tg_custom_op hy_op_def = {"hbv_hybrid", hy_op_forward, hy_op_backward};

int tg_hbv_hybrid_op(tg_ctx *ctx, const tg_hbv_config *c, const tg_hybrid_mlp *net, tg_tensor *forcing,
                     tg_tensor *par_static, tg_tensor *par_dyn, tg_tensor *state_init, tg_tensor *w,
                     tg_tensor **out_basin, tg_tensor **out_lane, tg_tensor **state_final)
{
    if (out_basin) *out_basin = NULL;
    if (out_lane) *out_lane = NULL;
    if (state_final) *state_final = NULL;
    if (!ctx) return tg_error_set(TG_EINVAL, "hybrid hbv op: no context");
    if (tg_ctx_status(ctx)) return tg_ctx_status(ctx);
    int rc = tg_hbv_config_check(c);
    if (!rc && c->capillary) /* the learned-ET step is written for the δHBV 1.0 soil only */
        rc = tg_error_set(TG_EINVAL, "hybrid hbv op: capillary rise (δHBV 1.1p) is not supported");
    if (!rc) rc = tg_hybrid_mlp_check(net);
    if (rc) return rc;
    if (!w) return tg_error_set(TG_EINVAL, "hybrid hbv op: the network weights must be given");
    if (w->n != tg_hybrid_mlp_size(net))
        return tg_error_set(TG_ESHAPE, "hybrid hbv op: weights have %zu values, the network needs %zu", w->n,
                            tg_hybrid_mlp_size(net));
    tg_hbv_io io;
    const tg_hbv_io_dims dm = {c->T, c->T - c->warmup, c->B, c->M, TG_HBV_NFORCING, tg_hbv_ndynamic(c), 0, 0};
    rc = tg_hbv_io_setup(&io, "hybrid hbv op", dm, forcing, par_static, par_dyn, state_init, out_basin, out_lane,
                         state_final);
    if (rc) return rc;

    hy_op_data *d = tg_ctx_alloc(ctx, sizeof *d);
    if (!d) return tg_error_set(TG_ENOMEM, "hybrid hbv op: out of step memory");
    d->c = *c;
    d->net = *net;
    d->s = io.s;
    d->i_w = tg_hbv_io_add(&io, w);
    d->hist = NULL;
    if (tg_hbv_io_needs_grad(&io, ctx)) {
        d->hist = tg_ctx_alloc(ctx, tg_hbv_hist_size(c) * sizeof(tg_real));
        if (!d->hist)
            return tg_error_set(TG_ENOMEM, "hybrid hbv op: out of step memory for %zu saved stores", tg_hbv_hist_size(c));
    }
    return tg_hbv_io_record(&io, ctx, &hy_op_def, d, out_basin, out_lane, state_final);
}

/* ------------------------------------------------------------------ g on input pairs */
typedef struct mlp_op_data {
    tg_hybrid_mlp net;
} mlp_op_data;

enum { MLP_CH = 64 };

/* Scaled inputs and activations of points [s, s+n) into the chunk scratch. */
static void mlp_chunk(const tg_hybrid_mlp *net, const tg_real *w, const tg_real *x, int s, int n, tg_real *x0,
                      tg_real *x1, tg_real *h1, tg_real *h2, tg_real *g)
{
    for (int i = 0; i < n; i++) {
        x0[i] = x[2 * (size_t)(s + i)];
        x1[i] = (x[2 * (size_t)(s + i) + 1] - net->t_shift) / net->t_scale;
    }
    tg_hyb_mlp_forward(net, w, n, MLP_CH, x0, x1, h1, h2, g);
}

static int mlp_op_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    mlp_op_data *d = ud;
    (void)n_in;
    (void)n_out;
    tg_hybrid_mlp_eval(&d->net, in[0]->data, in[1]->data, out[0]->data, in[1]->shape[0]);
    return 0;
}

static int mlp_op_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                           const tg_real *const *grad_out, tg_real *const *grad_in)
{
    mlp_op_data *d = ud;
    (void)out;
    (void)n_in;
    (void)n_out;
    const tg_hybrid_mlp *net = &d->net;
    const int N = in[1]->shape[0];
    const size_t nw = tg_hybrid_mlp_size(net);
    const size_t rows = (size_t)(5 + net->H1 + net->H2 + tg_hyb_mlp_rows(net));
    tg_real *buf = tg_malloc(rows * MLP_CH * sizeof(tg_real));
    double *gw = tg_calloc(nw, sizeof(double));
    if (!buf || !gw) {
        tg_free(buf, rows * MLP_CH * sizeof(tg_real));
        tg_free(gw, nw * sizeof(double));
        return tg_error_set(TG_ENOMEM, "hybrid mlp op: out of memory");
    }
    tg_real *x0 = buf, *x1 = x0 + MLP_CH, *g = x1 + MLP_CH, *ax0 = g + MLP_CH, *ax1 = ax0 + MLP_CH;
    tg_real *h1 = ax1 + MLP_CH, *h2 = h1 + (size_t)net->H1 * MLP_CH, *work = h2 + (size_t)net->H2 * MLP_CH;
    const tg_real *w = in[0]->data, *x = in[1]->data;
    for (int s = 0; s < N; s += MLP_CH) {
        int n = N - s < MLP_CH ? N - s : MLP_CH;
        mlp_chunk(net, w, x, s, n, x0, x1, h1, h2, g);
        tg_hyb_mlp_backward(net, w, n, MLP_CH, x0, x1, h1, h2, g, grad_out[0] + s, grad_in[0] ? gw : NULL, ax0, ax1,
                            work);
        if (grad_in[1])
            for (int i = 0; i < n; i++) {
                grad_in[1][2 * (size_t)(s + i)] += ax0[i];
                grad_in[1][2 * (size_t)(s + i) + 1] += ax1[i] / net->t_scale;
            }
    }
    if (grad_in[0])
        for (size_t k = 0; k < nw; k++) grad_in[0][k] += (tg_real)gw[k];
    tg_free(buf, rows * MLP_CH * sizeof(tg_real));
    tg_free(gw, nw * sizeof(double));
    return 0;
}

static const tg_custom_op mlp_op_def = {"hybrid_mlp", mlp_op_forward, mlp_op_backward};

tg_tensor *tg_hybrid_mlp_op(tg_ctx *ctx, const tg_hybrid_mlp *net, tg_tensor *w, tg_tensor *x)
{
    if (!ctx || !w || !x) return NULL;
    if (tg_hybrid_mlp_check(net)) return NULL;
    if ((int)w->n != (int)tg_hybrid_mlp_size(net) || x->ndim != 2 || x->shape[1] != 2) {
        tg_error_set(TG_ESHAPE, "hybrid mlp op: need %zu weights and x (N, 2)", tg_hybrid_mlp_size(net));
        return NULL;
    }
    mlp_op_data *d = tg_ctx_alloc(ctx, sizeof *d);
    if (!d) return NULL;
    d->net = *net;
    tg_tensor *in[2] = {w, x}, *out = NULL;
    int nd[1] = {1}, sh[1][TG_MAX_DIMS] = {{x->shape[0], 1, 1, 1}};
    if (tg_custom(ctx, &mlp_op_def, d, in, 2, 1, nd, (const int(*)[TG_MAX_DIMS])sh, &out)) return NULL;
    return out;
}
