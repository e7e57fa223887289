/* custom.c — user ops with a hand-written backward: one tape node for a whole model run,
 * an LSTM sequence or a solver step. */
#include <string.h>

#include "core/internal.h"

static void custom_backward(tg_ctx *ctx, tg_node *node)
{
    const tg_real **gout = tg_ctx_alloc(ctx, (size_t)node->n_out * sizeof *gout);
    tg_real **gin = tg_ctx_alloc(ctx, (size_t)node->n_in * sizeof *gin);
    if (!gout || !gin) {
        tg__fail(ctx, TG_ENOMEM, "%s: out of memory in backward", node->custom->name);
        return;
    }
    for (int k = 0; k < node->n_out; k++) {
        /* outputs the sweep never reached get zeros, so callbacks need no NULL checks */
        gout[k] = tg__grad(ctx, node->out[k]);
        if (!gout[k]) {
            tg__fail(ctx, TG_ENOMEM, "%s: out of memory in backward", node->custom->name);
            return;
        }
    }
    int rc;
    if (node->i[0]) { /* a tg__custom_first op: fresh input gradients are stored into, not zeroed */
        int *first = tg_ctx_alloc(ctx, (size_t)node->n_in * sizeof *first);
        if (!first) {
            tg__fail(ctx, TG_ENOMEM, "%s: out of memory in backward", node->custom->name);
            return;
        }
        for (int k = 0; k < node->n_in; k++) {
            first[k] = 0;
            gin[k] = NULL;
            if (!node->in[k]->requires_grad)
                continue;
            int twice = 0; /* the callback may write the slots in any order: both must add */
            for (int j = 0; j < node->n_in; j++)
                twice |= j != k && node->in[j] == node->in[k];
            gin[k] = twice ? tg__grad(ctx, node->in[k]) : tg__grad_write(ctx, node->in[k], &first[k]);
            if (!gin[k]) {
                tg__fail(ctx, TG_ENOMEM, "%s: out of memory in backward", node->custom->name);
                return;
            }
        }
        const tg__custom_op *op = (const tg__custom_op *)node->custom;
        rc = op->backward_first(node->user_data, node->in, node->n_in, node->out, node->n_out, gout, gin, first);
    } else {
        for (int k = 0; k < node->n_in; k++)
            gin[k] = node->in[k]->requires_grad ? tg__grad(ctx, node->in[k]) : NULL;
        rc = node->custom->backward(node->user_data, node->in, node->n_in, node->out, node->n_out, gout, gin);
    }
    if (rc) /* as in forward: a returned TG_* code is kept (out of memory stays TG_ENOMEM) */
        tg__fail(ctx, rc > 0 && rc <= TG_EEXTERNAL ? rc : TG_EEXTERNAL, "custom op '%s': backward callback returned %d%s%s",
                 node->custom->name, rc, tg_error_code() ? ": " : "", tg_error_code() ? tg_error_message() : "");
}

int tg_custom(tg_ctx *ctx, const tg_custom_op *op, void *user_data, tg_tensor *const *in, int n_in, int n_out,
              const int *out_ndim, const int (*out_shape)[TG_MAX_DIMS], tg_tensor **out)
{
    return tg__custom(ctx, op, user_data, in, n_in, n_out, out_ndim, out_shape, out, 1);
}

static int custom_record(tg_ctx *ctx, const tg_custom_op *op, int first_mode, void *user_data, tg_tensor *const *in,
                         int n_in, int n_out, const int *out_ndim, const int (*out_shape)[TG_MAX_DIMS], tg_tensor **out,
                         int zero_outputs);

int tg__custom(tg_ctx *ctx, const tg_custom_op *op, void *user_data, tg_tensor *const *in, int n_in, int n_out,
               const int *out_ndim, const int (*out_shape)[TG_MAX_DIMS], tg_tensor **out, int zero_outputs)
{
    return custom_record(ctx, op, 0, user_data, in, n_in, n_out, out_ndim, out_shape, out, zero_outputs);
}

int tg__custom_first(tg_ctx *ctx, const tg__custom_op *op, void *user_data, tg_tensor *const *in, int n_in,
                     int n_out, const int *out_ndim, const int (*out_shape)[TG_MAX_DIMS], tg_tensor **out,
                     int zero_outputs)
{
    return custom_record(ctx, op ? &op->base : NULL, 1, user_data, in, n_in, n_out, out_ndim, out_shape, out,
                         zero_outputs);
}

static int custom_record(tg_ctx *ctx, const tg_custom_op *op, int first_mode, void *user_data, tg_tensor *const *in,
                         int n_in, int n_out, const int *out_ndim, const int (*out_shape)[TG_MAX_DIMS], tg_tensor **out,
                         int zero_outputs)
{
    if (!ctx)
        return tg_error_set(TG_EINVAL, "tg_custom: no context");
    if (ctx->status)
        return ctx->status;
    if (!op || !op->forward || n_out <= 0)
        return tg__fail(ctx, TG_EINVAL, "tg_custom: op needs a forward callback and at least one output"), TG_EINVAL;
    for (int k = 0; k < n_in; k++)
        if (!in[k])
            return ctx->status ? ctx->status : (tg__fail(ctx, TG_EINVAL, "custom op '%s': input %d is NULL", op->name, k), TG_EINVAL);
    for (int k = 0; k < n_out; k++) {
        out[k] = tg__tensor(ctx, out_ndim[k], out_shape[k], zero_outputs);
        if (!out[k])
            return ctx->status;
    }
    tg_error_clear();
    tg_ctx *prev = tg__ctx_enter(ctx); /* kernels take their scratch from ctx (core/scratch.h) */
    int rc = op->forward(user_data, in, n_in, out, n_out);
    tg__ctx_leave(prev);
    if (rc) {
        /* a callback that returns a terragrad status (e.g. TG_ECONVERGE from a Newton solve)
         * keeps it; anything else is TG_EEXTERNAL */
        int code = rc > 0 && rc <= TG_EEXTERNAL ? rc : TG_EEXTERNAL;
        tg__fail(ctx, code, "custom op '%s': forward callback returned %d%s%s", op->name, rc,
                 tg_error_code() ? ": " : "", tg_error_code() ? tg_error_message() : "");
        return ctx->status;
    }
    int any = 0;
    for (int k = 0; k < n_in; k++)
        any |= in[k]->requires_grad;
    const int has_backward = first_mode ? ((const tg__custom_op *)op)->backward_first != NULL : op->backward != NULL;
    if (any && ctx->grad_enabled && !has_backward) {
        tg__fail(ctx, TG_EINVAL, "custom op '%s' has no backward but an input requires a gradient", op->name);
        return ctx->status;
    }
    tg_node *node = tg__record(ctx, op->name, custom_backward, in, n_in, out, n_out);
    if (node) {
        node->custom = op;
        node->user_data = user_data;
        node->i[0] = first_mode;
    }
    return ctx->status;
}
