/* reduce.c — sum and mean over all elements or along one axis.
 * An axis reduction views the tensor as (outer, len, inner); sums run in a fixed order so
 * results never depend on the thread count. */
#include "core/internal.h"

static void sum_all_backward(tg_ctx *ctx, tg_node *node)
{
    tg_tensor *x = node->in[0];
    int first;
    tg_real *gx = tg__grad_write(ctx, x, &first);
    if (!gx)
        return;
    tg_real g = node->out[0]->grad[0] * node->s[0];
    if (first)
        for (size_t i = 0; i < x->n; i++)
            gx[i] = g;
    else
        for (size_t i = 0; i < x->n; i++)
            gx[i] += g;
}

static tg_tensor *reduce_all(tg_ctx *ctx, tg_tensor *x, int mean)
{
    if (!x)
        return NULL;
    tg_tensor *y = tg__tensor(ctx, 0, NULL, 0);
    if (!y)
        return NULL;
    /* Accumulate in double: a float sum of 10^6 terms would lose digits. */
    double acc = 0;
    for (size_t i = 0; i < x->n; i++)
        acc += (double)x->data[i];
    tg_real scale = mean ? (tg_real)(1.0 / (double)(x->n ? x->n : 1)) : 1;
    y->data[0] = (tg_real)(acc * (double)scale);
    tg_node *node = tg__record(ctx, mean ? "mean" : "sum", sum_all_backward, &x, 1, &y, 1);
    if (node)
        node->s[0] = scale;
    return ctx->status ? NULL : y;
}

tg_tensor *tg_sum(tg_ctx *ctx, tg_tensor *a) { return reduce_all(ctx, a, 0); }
tg_tensor *tg_mean(tg_ctx *ctx, tg_tensor *a) { return reduce_all(ctx, a, 1); }

/* (outer, len, inner) view of x around axis */
static void split_axis(const tg_tensor *x, int axis, size_t *outer, size_t *len, size_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++)
        *outer *= (size_t)x->shape[d];
    *len = (size_t)x->shape[axis];
    for (int d = axis + 1; d < x->ndim; d++)
        *inner *= (size_t)x->shape[d];
}

static void sum_axis_backward(tg_ctx *ctx, tg_node *node)
{
    tg_tensor *x = node->in[0], *y = node->out[0];
    int first;
    tg_real *gx = tg__grad_write(ctx, x, &first);
    if (!gx)
        return;
    size_t outer, len, inner;
    split_axis(x, node->i[0], &outer, &len, &inner);
    tg_real scale = node->s[0];
    for (size_t o = 0; o < outer; o++)
        for (size_t l = 0; l < len; l++) {
            tg_real *row = gx + (o * len + l) * inner;
            const tg_real *gy = y->grad + o * inner;
            if (first)
                for (size_t i = 0; i < inner; i++)
                    row[i] = gy[i] * scale;
            else
                for (size_t i = 0; i < inner; i++)
                    row[i] += gy[i] * scale;
        }
}

static tg_tensor *reduce_axis(tg_ctx *ctx, tg_tensor *x, int axis, int keepdim, int mean)
{
    if (!x)
        return NULL;
    const char *name = mean ? "mean_axis" : "sum_axis";
    int ax = tg__axis(axis, x->ndim);
    if (ax < 0)
        return tg__fail(ctx, TG_ESHAPE, "%s: axis %d out of range for a %d-d tensor", name, axis, x->ndim);
    int shape[TG_MAX_DIMS], nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d == ax) {
            if (keepdim)
                shape[nd++] = 1;
        } else
            shape[nd++] = x->shape[d];
    }
    tg_tensor *y = tg__tensor(ctx, nd, shape, 1);
    if (!y)
        return NULL;
    size_t outer, len, inner;
    split_axis(x, ax, &outer, &len, &inner);
    tg_real scale = mean ? (tg_real)(1.0 / (double)(len ? len : 1)) : 1;
    for (size_t o = 0; o < outer; o++) {
        tg_real *yo = y->data + o * inner;
        for (size_t l = 0; l < len; l++) {
            const tg_real *xo = x->data + (o * len + l) * inner;
            for (size_t i = 0; i < inner; i++)
                yo[i] += xo[i];
        }
        for (size_t i = 0; i < inner; i++)
            yo[i] *= scale;
    }
    tg_node *node = tg__record(ctx, name, sum_axis_backward, &x, 1, &y, 1);
    if (node) {
        node->i[0] = ax;
        node->s[0] = scale;
    }
    return ctx->status ? NULL : y;
}

tg_tensor *tg_sum_axis(tg_ctx *ctx, tg_tensor *a, int axis, int keepdim) { return reduce_axis(ctx, a, axis, keepdim, 0); }
tg_tensor *tg_mean_axis(tg_ctx *ctx, tg_tensor *a, int axis, int keepdim) { return reduce_axis(ctx, a, axis, keepdim, 1); }
