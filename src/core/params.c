/* params.c — persistent parameters in one flat value buffer and one flat gradient buffer. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

tg_params *tg_params_create(void) { return tg_calloc(1, sizeof(tg_params)); }

void tg_params_free(tg_params **pps)
{
    if (!pps || !*pps)
        return;
    tg_params *ps = *pps;
    size_t cap = (size_t)ps->capacity;
    tg_free(ps->value, ps->capacity_scalars * sizeof(tg_real));
    tg_free(ps->grad, ps->capacity_scalars * sizeof(tg_real));
    tg_free(ps->offset, cap * sizeof *ps->offset);
    tg_free(ps->shape, cap * sizeof *ps->shape);
    tg_free(ps->ndim, cap * sizeof *ps->ndim);
    tg_free(ps->frozen, cap * sizeof *ps->frozen);
    tg_free(ps->name, cap * sizeof *ps->name);
    tg_free(ps, sizeof *ps);
    *pps = NULL;
}

static int grow_meta(tg_params *ps)
{
    size_t old = (size_t)ps->capacity, cap = old ? 2 * old : 16;
#define GROW(field)                                                                        \
    do {                                                                                   \
        void *p = tg_realloc(ps->field, old * sizeof *ps->field, cap * sizeof *ps->field); \
        if (!p)                                                                            \
            return TG_ENOMEM;                                                              \
        ps->field = p;                                                                     \
    } while (0)
    GROW(offset);
    GROW(shape);
    GROW(ndim);
    GROW(frozen);
    GROW(name);
#undef GROW
    ps->capacity = (int)cap;
    return 0;
}

static int grow_scalars(tg_params *ps, size_t need)
{
    size_t old = ps->capacity_scalars, cap = old ? old : 1024;
    while (cap < need)
        cap *= 2;
    tg_real *v = tg_realloc(ps->value, old * sizeof(tg_real), cap * sizeof(tg_real));
    if (!v)
        return TG_ENOMEM;
    ps->value = v;
    tg_real *g = tg_realloc(ps->grad, old * sizeof(tg_real), cap * sizeof(tg_real));
    if (!g)
        return TG_ENOMEM;
    ps->grad = g;
    ps->capacity_scalars = cap;
    return 0;
}

int tg_params_add(tg_params *ps, const char *name, int ndim, const int *shape)
{
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg_error_set(TG_ESHAPE, "parameter '%s': %d dimensions (at most %d)", name, ndim, TG_MAX_DIMS);
        return -1;
    }
    if (tg_params_find(ps, name) >= 0) {
        tg_error_set(TG_EINVAL, "parameter '%s' already exists", name);
        return -1;
    }
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0) {
            tg_error_set(TG_ESHAPE, "parameter '%s': size %d in dimension %d", name, shape[d], d);
            return -1;
        }
        n *= (size_t)shape[d];
    }
    if (ps->count == ps->capacity && grow_meta(ps))
        return -1;
    if (ps->size + n > ps->capacity_scalars && grow_scalars(ps, ps->size + n))
        return -1;
    int id = ps->count++;
    ps->offset[id] = ps->size;
    ps->ndim[id] = ndim;
    for (int d = 0; d < TG_MAX_DIMS; d++)
        ps->shape[id][d] = d < ndim ? shape[d] : 1;
    ps->frozen[id] = 0;
    snprintf(ps->name[id], sizeof ps->name[id], "%s", name);
    memset(ps->value + ps->size, 0, n * sizeof(tg_real));
    memset(ps->grad + ps->size, 0, n * sizeof(tg_real));
    ps->size += n;
    return id;
}

int tg_params_find(const tg_params *ps, const char *name)
{
    for (int i = 0; i < ps->count; i++)
        if (!strcmp(ps->name[i], name))
            return i;
    return -1;
}

size_t tg_params_numel(const tg_params *ps, int id)
{
    size_t n = 1;
    for (int d = 0; d < ps->ndim[id]; d++)
        n *= (size_t)ps->shape[id][d];
    return n;
}

tg_real *tg_params_data(tg_params *ps, int id) { return ps->value + ps->offset[id]; }

void tg_params_zero_grad(tg_params *ps)
{
    if (ps->size)
        memset(ps->grad, 0, ps->size * sizeof(tg_real));
}

void tg_params_set_frozen(tg_params *ps, int id, int frozen) { ps->frozen[id] = frozen != 0; }

tg_tensor *tg_param(tg_ctx *ctx, tg_params *ps, int id)
{
    if (!ctx)
        return NULL;
    if (!ps || id < 0 || id >= ps->count)
        return tg__fail(ctx, TG_EINVAL, "tg_param: no parameter with id %d", id);
    tg_tensor *t = tg_ctx_alloc(ctx, sizeof *t);
    if (!t)
        return tg__fail(ctx, TG_ENOMEM, "tg_param: out of memory");
    t->ndim = ps->ndim[id];
    memcpy(t->shape, ps->shape[id], sizeof t->shape);
    t->n = tg_params_numel(ps, id);
    t->data = ps->value + ps->offset[id];
    t->grad = ps->frozen[id] ? NULL : ps->grad + ps->offset[id];
    t->requires_grad = !ps->frozen[id];
    t->param_id = id;
    t->node = NULL;
    return t;
}
