/* tape.c — recording nodes and the reverse sweep.
 * Nodes are appended in execution order, which is a topological order of the graph, so
 * the reverse sweep is a single backward walk. A node runs only when the sweep reached
 * one of its outputs (pruning), and each op writes only the input gradients that are
 * needed (requires_grad). */
#include <string.h>

#include "internal.h"

/* Gradient buffers: t->grad != NULL means it holds valid data (see tg__grad_write).
 * tg__grad is for ops that add into part of a buffer (a slice, a broadcast sum, a
 * conditional route): a fresh buffer is zeroed for them. */
tg_real *tg__grad(tg_ctx *ctx, tg_tensor *t)
{
    if (!t->grad) {
        t->grad = tg_ctx_alloc(ctx, t->n * sizeof(tg_real));
        if (t->grad)
            memset(t->grad, 0, t->n * sizeof(tg_real));
    }
    return t->grad;
}

tg_real *tg__grad_write(tg_ctx *ctx, tg_tensor *t, int *first)
{
    *first = 0;
    if (!t->grad) {
        t->grad = tg_ctx_alloc(ctx, t->n * sizeof(tg_real));
        *first = t->grad != NULL;
    }
    return t->grad;
}

tg_node *tg__record(tg_ctx *ctx, const char *name, tg_backward_fn bw, tg_tensor *const *in,
                    int n_in, tg_tensor *const *out, int n_out)
{
    int need = 0;
    if (ctx->grad_enabled)
        for (int k = 0; k < n_in; k++)
            if (in[k] && in[k]->requires_grad)
                need = 1;
    for (int k = 0; k < n_out; k++)
        out[k]->requires_grad = need;
    if (!need)
        return NULL;
    if (ctx->swept) {
        tg__fail(ctx, TG_ESTATE, "%s: recording on a tape that was already swept; call tg_ctx_reset first", name);
        return NULL;
    }
    tg_node *node = tg_ctx_alloc(ctx, sizeof *node);
    tg_tensor **io = tg_ctx_alloc(ctx, (size_t)(n_in + n_out) * sizeof *io);
    if (ctx->tape_len == ctx->tape_cap) {
        size_t cap = ctx->tape_cap ? 2 * ctx->tape_cap : 1024;
        tg_node **t = tg__ctx_realloc(ctx, ctx->tape, ctx->tape_cap * sizeof *t, cap * sizeof *t);
        if (!t) {
            tg__fail(ctx, TG_ENOMEM, "%s: out of memory for the tape", name);
            return NULL;
        }
        ctx->tape = t;
        ctx->tape_cap = cap;
    }
    if (!node || !io) {
        tg__fail(ctx, TG_ENOMEM, "%s: out of memory for a tape node", name);
        return NULL;
    }
    memset(node, 0, sizeof *node);
    node->backward = bw;
    node->name = name;
    node->n_in = n_in;
    node->n_out = n_out;
    node->in = io;
    node->out = io + n_in;
    memcpy(node->in, in, (size_t)n_in * sizeof *io);
    memcpy(node->out, out, (size_t)n_out * sizeof *io);
    for (int k = 0; k < n_out; k++)
        out[k]->node = node;
    ctx->tape[ctx->tape_len++] = node;
    return node;
}

static int sweep(tg_ctx *ctx, tg_tensor *y)
{
    if (ctx->status)
        return tg_error_set(ctx->status, "backward: the forward pass failed earlier: %s", tg_error_message());
    if (ctx->swept)
        return tg_error_set(TG_ESTATE, "backward: this tape was already swept (backward twice?); "
                                       "call tg_ctx_reset and run the forward pass again");
    ctx->swept = 1;
    /* Walk back from y's node: nodes recorded after it cannot influence y. */
    size_t start = ctx->tape_len;
    if (y->node) {
        while (start > 0 && ctx->tape[start - 1] != y->node)
            start--;
    } else
        start = 0;
    for (size_t k = start; k-- > 0;) {
        tg_node *node = ctx->tape[k];
        int reached = 0;
        for (int o = 0; o < node->n_out; o++)
            if (node->out[o]->grad)
                reached = 1;
        if (!reached)
            continue;
        tg_ctx *prev = tg__ctx_enter(ctx); /* kernel scratch from ctx (core/scratch.h) */
        node->backward(ctx, node);
        tg__ctx_leave(prev);
        if (ctx->status)
            return tg_error_prefix(ctx->status, "backward of %s: ", node->name);
    }
    return 0;
}

int tg_backward(tg_ctx *ctx, tg_tensor *loss)
{
    if (!loss)
        return tg_error_set(ctx->status ? ctx->status : TG_EINVAL, "backward: no loss (the forward pass failed: %s)",
                            tg_error_message());
    if (loss->n != 1) {
        char s[64];
        tg__shape_str(loss, s, sizeof s);
        return tg_error_set(TG_ESHAPE, "backward: the loss has shape %s, not a scalar; use tg_backward_seed "
                                       "with dL/dy for a non-scalar output", s);
    }
    tg_real one = 1;
    return tg_backward_seed(ctx, loss, &one);
}

int tg_backward_seed(tg_ctx *ctx, tg_tensor *y, const tg_real *seed)
{
    if (!y)
        return tg_error_set(TG_EINVAL, "backward: no output tensor");
    if (!seed)
        return tg_error_set(TG_EINVAL, "backward: no seed given for an output of %zu elements", y->n);
    if (!y->requires_grad)
        return tg_error_set(TG_ESTATE, "backward: the output does not depend on anything that requires a "
                                       "gradient (no-grad mode or detached inputs?)");
    int first;
    tg_real *g = tg__grad_write(ctx, y, &first);
    if (!g)
        return tg_error_set(TG_ENOMEM, "backward: out of memory");
    for (size_t i = 0; i < y->n; i++)
        g[i] = first ? seed[i] : g[i] + seed[i];
    return sweep(ctx, y);
}
