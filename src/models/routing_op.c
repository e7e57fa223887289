/* routing_op.c — gamma unit-hydrograph routing as ONE tape node: ordinates from (a, θ),
 * causal convolution of every column of q, and the backward to q, a and θ. */
#include <string.h>

#include "core/scratch.h"
#include "terragrad/models.h"

typedef struct route_op_data {
    int T, C, B;        /* q is (T, C, B); C = 1 for a (T, B) input */
    tg_real *w;         /* (B, TG_UH_LEN) ordinates, saved for backward */
} route_op_data;

static int route_op_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    route_op_data *d = ud;
    (void)n_in; (void)n_out;
    tg_uh_gamma_forward(d->w, in[1]->data, in[2]->data, d->B);
    for (int c = 0; c < d->C; c++)
        tg_uh_conv_forward(out[0]->data + (size_t)c * (size_t)d->B, d->C * d->B,
                           in[0]->data + (size_t)c * (size_t)d->B, d->C * d->B, d->w, d->T, d->B);
    return 0;
}

static int route_op_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                             const tg_real *const *grad_out, tg_real *const *grad_in)
{
    route_op_data *d = ud;
    (void)out; (void)n_in; (void)n_out;
    int want_w = grad_in[1] || grad_in[2];
    tg_real *gw = NULL;
    if (want_w) {
        gw = tg__scratch_get(TG__SCRATCH_ROUTING, (size_t)d->B * TG_UH_LEN * sizeof(tg_real));
        if (!gw) return tg_error_set(TG_ENOMEM, "routing op: no memory for ordinate gradients");
        memset(gw, 0, (size_t)d->B * TG_UH_LEN * sizeof(tg_real));
    }
    for (int c = 0; c < d->C; c++)
        tg_uh_conv_backward(grad_in[0] ? grad_in[0] + (size_t)c * (size_t)d->B : NULL, d->C * d->B, gw,
                            grad_out[0] + (size_t)c * (size_t)d->B, d->C * d->B,
                            in[0]->data + (size_t)c * (size_t)d->B, d->C * d->B, d->w, d->T, d->B);
    if (want_w) {
        tg_uh_gamma_backward(grad_in[1], grad_in[2], gw, d->w, in[1]->data, in[2]->data, d->B);
        tg__scratch_put(TG__SCRATCH_ROUTING, gw, (size_t)d->B * TG_UH_LEN * sizeof(tg_real));
    }
    return 0;
}

static const tg_custom_op route_op_def = {"routing", route_op_forward, route_op_backward};

tg_tensor *tg_routing_op(tg_ctx *ctx, tg_tensor *q, tg_tensor *a, tg_tensor *theta)
{
    if (!ctx || !q || !a || !theta) return NULL;
    if (tg_ctx_status(ctx)) return NULL;
    int B = q->shape[q->ndim - 1];
    if ((q->ndim != 2 && q->ndim != 3) || a->n != (size_t)B || theta->n != (size_t)B) {
        tg_error_set(TG_ESHAPE, "routing op: q must be (T, B) or (T, C, B) and a, theta (B); got q with %d dims, "
                     "B = %d, %zu a and %zu theta values", q->ndim, B, a->n, theta->n);
        return NULL;
    }
    route_op_data *d = tg_ctx_alloc(ctx, sizeof *d);
    if (!d) return NULL;
    d->T = q->shape[0];
    d->C = q->ndim == 3 ? q->shape[1] : 1;
    d->B = B;
    d->w = tg_ctx_alloc(ctx, (size_t)B * TG_UH_LEN * sizeof(tg_real));
    if (!d->w) return NULL;
    tg_tensor *in[3] = {q, a, theta}, *out = NULL;
    int ndim = q->ndim, shape[1][TG_MAX_DIMS] = {{q->shape[0], q->shape[1], q->ndim == 3 ? q->shape[2] : 1, 1}};
    if (tg_custom(ctx, &route_op_def, d, in, 3, 1, &ndim, (const int (*)[TG_MAX_DIMS])shape, &out)) return NULL;
    return out;
}

/* a = 0.1 + 2.9 u[:, 0], θ = 0.5 + 6.5 u[:, 1] from u (B, 2), with core ops. */
int tg_routing_params_op(tg_ctx *ctx, tg_tensor *u, tg_tensor **a, tg_tensor **theta)
{
    *a = *theta = NULL;
    if (!ctx || !u) return tg_error_set(TG_EINVAL, "routing params op: NULL argument");
    if (u->ndim != 2 || u->shape[1] != 2)
        return tg_error_set(TG_ESHAPE, "routing params op: u must be (B, 2)");
    *a = tg_adds(ctx, tg_muls(ctx, tg_select(ctx, u, 1, 0), TG_R(2.9)), TG_R(0.1));
    *theta = tg_adds(ctx, tg_muls(ctx, tg_select(ctx, u, 1, 1), TG_R(6.5)), TG_R(0.5));
    return *a && *theta ? TG_OK : tg_ctx_status(ctx);
}
