/* tensor.c — creating tensors in the step arena, shape helpers. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int tg__axis(int axis, int ndim)
{
    if (axis < 0)
        axis += ndim;
    return (axis >= 0 && axis < ndim) ? axis : -1;
}

int tg__same_shape(const tg_tensor *a, const tg_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

void tg__shape_str(const tg_tensor *t, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < t->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ", %d" : "%d", t->shape[d]);
    if (k < n)
        snprintf(buf + k, n - k, ")");
}

tg_tensor *tg__tensor(tg_ctx *ctx, int ndim, const int *shape, int zero)
{
    if (!ctx)
        return NULL;
    if (ndim < 0 || ndim > TG_MAX_DIMS)
        return tg__fail(ctx, TG_ESHAPE, "tensor: %d dimensions (at most %d)", ndim, TG_MAX_DIMS);
    tg_tensor *t = tg_ctx_alloc(ctx, sizeof *t);
    if (!t)
        return tg__fail(ctx, TG_ENOMEM, "tensor: out of memory");
    t->ndim = ndim;
    t->n = 1;
    for (int d = 0; d < TG_MAX_DIMS; d++) {
        int s = d < ndim ? shape[d] : 1;
        if (s < 0)
            return tg__fail(ctx, TG_ESHAPE, "tensor: negative size %d in dimension %d", s, d);
        t->shape[d] = s;
        t->n *= (size_t)s;
    }
    t->data = tg_ctx_alloc(ctx, t->n * sizeof(tg_real));
    if (!t->data)
        return tg__fail(ctx, TG_ENOMEM, "tensor: out of memory for %zu elements", t->n);
    if (zero)
        memset(t->data, 0, t->n * sizeof(tg_real));
    t->grad = NULL;
    t->requires_grad = 0;
    t->param_id = -1;
    t->node = NULL;
    return t;
}

tg_tensor *tg_new(tg_ctx *ctx, int ndim, const int *shape) { return tg__tensor(ctx, ndim, shape, 1); }

tg_tensor *tg_from(tg_ctx *ctx, int ndim, const int *shape, const tg_real *data)
{
    tg_tensor *t = tg__tensor(ctx, ndim, shape, 0);
    if (t)
        memcpy(t->data, data, t->n * sizeof(tg_real));
    return t;
}

tg_tensor *tg_full(tg_ctx *ctx, int ndim, const int *shape, tg_real value)
{
    tg_tensor *t = tg__tensor(ctx, ndim, shape, 0);
    if (t)
        for (size_t i = 0; i < t->n; i++)
            t->data[i] = value;
    return t;
}

tg_tensor *tg_scalar(tg_ctx *ctx, tg_real value) { return tg_full(ctx, 0, NULL, value); }

tg_tensor *tg_leaf(tg_ctx *ctx, int ndim, const int *shape, const tg_real *data)
{
    tg_tensor *t = data ? tg_from(ctx, ndim, shape, data) : tg_new(ctx, ndim, shape);
    if (t)
        t->requires_grad = 1;
    return t;
}

tg_tensor *tg_detach(tg_ctx *ctx, tg_tensor *x)
{
    if (!x)
        return NULL;
    tg_tensor *t = tg_ctx_alloc(ctx, sizeof *t);
    if (!t)
        return tg__fail(ctx, TG_ENOMEM, "detach: out of memory");
    *t = *x;
    t->grad = NULL;
    t->requires_grad = 0;
    t->param_id = -1;
    t->node = NULL;
    return t;
}
