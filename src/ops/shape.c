/* shape.c — reshape, transpose, slice, select, concat, stack.
 * Tensors are always contiguous, so these ops copy (reshape shares the data). Slices and
 * concatenations view every tensor as (outer, len along axis, inner). */
#include <string.h>

#include "core/internal.h"

static size_t prod(const int *s, int from, int to)
{
    size_t p = 1;
    for (int d = from; d < to; d++)
        p *= (size_t)s[d];
    return p;
}

/* ---------------------------------------------------------------- reshape */
static void reshape_backward(tg_ctx *ctx, tg_node *node)
{
    tg_tensor *x = node->in[0], *y = node->out[0];
    int first;
    tg_real *gx = tg__grad_write(ctx, x, &first);
    if (gx && first)
        memcpy(gx, y->grad, x->n * sizeof(tg_real));
    else if (gx)
        for (size_t i = 0; i < x->n; i++)
            gx[i] += y->grad[i];
}

tg_tensor *tg_reshape(tg_ctx *ctx, tg_tensor *a, int ndim, const int *shape)
{
    if (!a)
        return NULL;
    if (ndim < 0 || ndim > TG_MAX_DIMS)
        return tg__fail(ctx, TG_ESHAPE, "reshape: %d dimensions (at most %d)", ndim, TG_MAX_DIMS);
    size_t n = prod(shape, 0, ndim);
    if (n != a->n) {
        char s[64];
        tg__shape_str(a, s, sizeof s);
        return tg__fail(ctx, TG_ESHAPE, "reshape: %s has %zu elements, the new shape %zu", s, a->n, n);
    }
    tg_tensor *y = tg_ctx_alloc(ctx, sizeof *y);
    if (!y)
        return tg__fail(ctx, TG_ENOMEM, "reshape: out of memory");
    *y = *a; /* shares data: a view, with its own gradient buffer */
    y->ndim = ndim;
    for (int d = 0; d < TG_MAX_DIMS; d++)
        y->shape[d] = d < ndim ? shape[d] : 1;
    y->grad = NULL;
    y->param_id = -1;
    y->node = NULL;
    y->requires_grad = 0;
    tg__record(ctx, "reshape", reshape_backward, &a, 1, &y, 1);
    return ctx->status ? NULL : y;
}

/* ---------------------------------------------------------------- transpose */
/* Copies src (shape s, 4-d padded) into dst with axes p and q swapped; add != 0 adds. */
static void swap_copy(const tg_real *src, const int *s, int p, int q, tg_real *dst, int add)
{
    int ds[4];
    memcpy(ds, s, sizeof ds);
    ds[p] = s[q];
    ds[q] = s[p];
    size_t dstride[4];
    dstride[3] = 1;
    for (int d = 2; d >= 0; d--)
        dstride[d] = dstride[d + 1] * (size_t)ds[d + 1];
    /* source index (i0..i3) lands at destination with i_p and i_q exchanged */
    size_t st[4];
    memcpy(st, dstride, sizeof st);
    st[p] = dstride[q];
    st[q] = dstride[p];
    size_t k = 0;
    for (int i0 = 0; i0 < s[0]; i0++)
        for (int i1 = 0; i1 < s[1]; i1++)
            for (int i2 = 0; i2 < s[2]; i2++)
                for (int i3 = 0; i3 < s[3]; i3++, k++) {
                    size_t o = i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3];
                    if (add)
                        dst[o] += src[k];
                    else
                        dst[o] = src[k];
                }
}

static void transpose_backward(tg_ctx *ctx, tg_node *node)
{
    tg_tensor *x = node->in[0], *y = node->out[0];
    int first;
    tg_real *gx = tg__grad_write(ctx, x, &first);
    if (!gx)
        return;
    int off = 4 - y->ndim, s[4];
    for (int d = 0; d < 4; d++)
        s[d] = d < off ? 1 : y->shape[d - off];
    swap_copy(y->grad, s, node->i[0] + off, node->i[1] + off, gx, !first); /* a permutation: every element */
}

tg_tensor *tg_transpose(tg_ctx *ctx, tg_tensor *a, int axis0, int axis1)
{
    if (!a)
        return NULL;
    int p = tg__axis(axis0, a->ndim), q = tg__axis(axis1, a->ndim);
    if (p < 0 || q < 0)
        return tg__fail(ctx, TG_ESHAPE, "transpose: axes %d, %d out of range for a %d-d tensor", axis0, axis1, a->ndim);
    int shape[TG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[p] = a->shape[q];
    shape[q] = a->shape[p];
    tg_tensor *y = tg__tensor(ctx, a->ndim, shape, 0);
    if (!y)
        return NULL;
    int off = 4 - a->ndim, s[4];
    for (int d = 0; d < 4; d++)
        s[d] = d < off ? 1 : a->shape[d - off];
    swap_copy(a->data, s, p + off, q + off, y->data, 0);
    tg_node *node = tg__record(ctx, "transpose", transpose_backward, &a, 1, &y, 1);
    if (node) {
        node->i[0] = p;
        node->i[1] = q;
    }
    return ctx->status ? NULL : y;
}

/* ---------------------------------------------------------------- slice / select */
static void slice_backward(tg_ctx *ctx, tg_node *node)
{
    tg_tensor *x = node->in[0], *y = node->out[0];
    tg_real *gx = tg__grad(ctx, x);
    if (!gx)
        return;
    int ax = node->i[0], start = node->i[1], len = node->i[2];
    size_t outer = prod(x->shape, 0, ax), inner = prod(x->shape, ax + 1, x->ndim);
    size_t xlen = (size_t)x->shape[ax], row = (size_t)len * inner;
    for (size_t o = 0; o < outer; o++) {
        tg_real *dst = gx + (o * xlen + (size_t)start) * inner;
        const tg_real *src = y->grad + o * row;
        for (size_t i = 0; i < row; i++)
            dst[i] += src[i];
    }
}

static tg_tensor *slice_impl(tg_ctx *ctx, tg_tensor *a, int axis, int start, int len, int drop, const char *name)
{
    if (!a)
        return NULL;
    int ax = tg__axis(axis, a->ndim);
    if (ax < 0)
        return tg__fail(ctx, TG_ESHAPE, "%s: axis %d out of range for a %d-d tensor", name, axis, a->ndim);
    if (start < 0 || len < 0 || start + len > a->shape[ax])
        return tg__fail(ctx, TG_ESHAPE, "%s: range [%d, %d) outside axis %d of size %d", name, start, start + len, ax,
                        a->shape[ax]);
    int shape[TG_MAX_DIMS], nd = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (d == ax) {
            if (!drop)
                shape[nd++] = len;
        } else
            shape[nd++] = a->shape[d];
    }
    tg_tensor *y = tg__tensor(ctx, nd, shape, 0);
    if (!y)
        return NULL;
    size_t outer = prod(a->shape, 0, ax), inner = prod(a->shape, ax + 1, a->ndim);
    size_t xlen = (size_t)a->shape[ax], row = (size_t)len * inner;
    for (size_t o = 0; o < outer; o++)
        memcpy(y->data + o * row, a->data + (o * xlen + (size_t)start) * inner, row * sizeof(tg_real));
    tg_node *node = tg__record(ctx, name, slice_backward, &a, 1, &y, 1);
    if (node) {
        node->i[0] = ax;
        node->i[1] = start;
        node->i[2] = len;
    }
    return ctx->status ? NULL : y;
}

tg_tensor *tg_slice(tg_ctx *ctx, tg_tensor *a, int axis, int start, int len)
{
    return slice_impl(ctx, a, axis, start, len, 0, "slice");
}

tg_tensor *tg_select(tg_ctx *ctx, tg_tensor *a, int axis, int index)
{
    return slice_impl(ctx, a, axis, index, 1, 1, "select");
}

/* ---------------------------------------------------------------- concat / stack */
/* Node layout: i[0] = axis in the output; inputs joined along it. For stack the output
 * has a new axis of size count; inputs are viewed with a size-1 axis there. */
static void concat_backward(tg_ctx *ctx, tg_node *node)
{
    tg_tensor *y = node->out[0];
    int ax = node->i[0];
    size_t outer = prod(y->shape, 0, ax), inner = prod(y->shape, ax + 1, y->ndim);
    size_t ylen = (size_t)y->shape[ax], at = 0;
    for (int k = 0; k < node->n_in; k++) {
        tg_tensor *x = node->in[k];
        size_t len = x->n / (outer * inner);
        if (x->requires_grad) {
            /* every element of x's gradient once; an input passed twice is done with the
             * first slot before the second asks (and adds) */
            int first;
            tg_real *gx = tg__grad_write(ctx, x, &first);
            if (!gx)
                return;
            for (size_t o = 0; o < outer; o++) {
                const tg_real *src = y->grad + (o * ylen + at) * inner;
                tg_real *dst = gx + o * len * inner;
                if (first)
                    memcpy(dst, src, len * inner * sizeof(tg_real));
                else
                    for (size_t i = 0; i < len * inner; i++)
                        dst[i] += src[i];
            }
        }
        at += len;
    }
}

static tg_tensor *join(tg_ctx *ctx, tg_tensor *const *xs, int count, int axis, int stack)
{
    const char *name = stack ? "stack" : "concat";
    if (count <= 0)
        return tg__fail(ctx, TG_EINVAL, "%s: no tensors given", name);
    for (int k = 0; k < count; k++)
        if (!xs[k])
            return NULL;
    tg_tensor *x0 = xs[0];
    int ndim = x0->ndim + (stack ? 1 : 0);
    if (ndim > TG_MAX_DIMS)
        return tg__fail(ctx, TG_ESHAPE, "stack: result would have %d dimensions", ndim);
    int ax = tg__axis(axis, ndim);
    if (ax < 0)
        return tg__fail(ctx, TG_ESHAPE, "%s: axis %d out of range", name, axis);
    int shape[TG_MAX_DIMS];
    for (int d = 0, s = 0; d < ndim; d++) {
        if (stack && d == ax)
            shape[d] = count;
        else
            shape[d] = x0->shape[s++];
    }
    if (!stack)
        shape[ax] = 0;
    for (int k = 0; k < count; k++) {
        tg_tensor *x = xs[k];
        int ok = x->ndim == x0->ndim;
        for (int d = 0; ok && d < x->ndim; d++)
            if (d != (stack ? -1 : ax) && x->shape[d] != x0->shape[d])
                ok = 0;
        if (!ok) {
            char s0[64], sk[64];
            tg__shape_str(x0, s0, sizeof s0);
            tg__shape_str(x, sk, sizeof sk);
            return tg__fail(ctx, TG_ESHAPE, "%s: tensor %d has shape %s, tensor 0 has %s", name, k, sk, s0);
        }
        if (!stack)
            shape[ax] += x->shape[ax];
    }
    tg_tensor *y = tg__tensor(ctx, ndim, shape, 0);
    if (!y)
        return NULL;
    size_t outer = prod(shape, 0, ax), inner = prod(shape, ax + 1, ndim), ylen = (size_t)shape[ax], at = 0;
    for (int k = 0; k < count; k++) {
        size_t len = xs[k]->n / (outer * inner);
        for (size_t o = 0; o < outer; o++)
            memcpy(y->data + (o * ylen + at) * inner, xs[k]->data + o * len * inner, len * inner * sizeof(tg_real));
        at += len;
    }
    tg_node *node = tg__record(ctx, name, concat_backward, xs, count, &y, 1);
    if (node)
        node->i[0] = ax;
    return ctx->status ? NULL : y;
}

tg_tensor *tg_concat(tg_ctx *ctx, tg_tensor *const *xs, int count, int axis) { return join(ctx, xs, count, axis, 0); }
tg_tensor *tg_stack(tg_ctx *ctx, tg_tensor *const *xs, int count, int axis) { return join(ctx, xs, count, axis, 1); }
