/* binary.c — elementwise ops of two tensors with broadcasting: add, sub, mul, div, pow,
 * minimum, maximum, and where (three tensors).
 * Broadcasting: shapes aligned at the right; a size-1 dimension stretches. The kernels
 * work on "rows" along the last output dimension with input strides 0 or 1, so the
 * same-shape case is one long row (split over threads) and a broadcast row or column is
 * many rows. Backward of a stretched input sums over the stretched dimensions. */
#include <string.h>

#include "core/internal.h"
#include "core/realmath.h"

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MIN, B_MAX };
static const char *const bname[] = {"add", "sub", "mul", "div", "pow", "minimum", "maximum"};

/* ---------------------------------------------------------------- row kernels */
static void row_forward(int op, size_t n, const tg_real *a, size_t sa, const tg_real *b, size_t sb, tg_real *y)
{
    size_t i;
    switch (op) {
    case B_ADD: for (i = 0; i < n; i++) y[i] = a[i * sa] + b[i * sb]; break;
    case B_SUB: for (i = 0; i < n; i++) y[i] = a[i * sa] - b[i * sb]; break;
    case B_MUL: for (i = 0; i < n; i++) y[i] = a[i * sa] * b[i * sb]; break;
    case B_DIV: for (i = 0; i < n; i++) y[i] = a[i * sa] / b[i * sb]; break;
    case B_POW: for (i = 0; i < n; i++) y[i] = R_POW(a[i * sa], b[i * sb]); break;
    case B_MIN: for (i = 0; i < n; i++) y[i] = a[i * sa] <= b[i * sb] ? a[i * sa] : b[i * sb]; break;
    case B_MAX: for (i = 0; i < n; i++) y[i] = a[i * sa] >= b[i * sb] ? a[i * sa] : b[i * sb]; break;
    }
}

/* ga/gb may be NULL (that input needs no gradient). Ties of min/max go to a. fa/fb = 1:
 * that buffer is fresh (tg__grad_write) and every element of the row is stored, else added
 * to (subtractions as adding the negation: the same rounding). All of a's row is written
 * before b's, so a == b would still be right; binary_backward does not rely on it. */
#define ROW_GRAD(G, S, F, VALUE)                                                      \
    do {                                                                              \
        if (!(G))                                                                     \
            break;                                                                    \
        if (F)                                                                        \
            for (i = 0; i < n; i++) (G)[i * (S)] = (VALUE);                           \
        else                                                                          \
            for (i = 0; i < n; i++) (G)[i * (S)] += (VALUE);                          \
    } while (0)
static void row_backward(int op, size_t n, const tg_real *g, const tg_real *y, const tg_real *a, size_t sa,
                         const tg_real *b, size_t sb, tg_real *ga, int fa, tg_real *gb, int fb)
{
    size_t i;
    switch (op) {
    case B_ADD:
        ROW_GRAD(ga, sa, fa, g[i]);
        ROW_GRAD(gb, sb, fb, g[i]);
        break;
    case B_SUB:
        ROW_GRAD(ga, sa, fa, g[i]);
        ROW_GRAD(gb, sb, fb, -g[i]);
        break;
    case B_MUL:
        ROW_GRAD(ga, sa, fa, g[i] * b[i * sb]);
        ROW_GRAD(gb, sb, fb, g[i] * a[i * sa]);
        break;
    case B_DIV:
        ROW_GRAD(ga, sa, fa, g[i] / b[i * sb]);
        ROW_GRAD(gb, sb, fb, -(g[i] * y[i] / b[i * sb]));
        break;
    case B_POW:
        ROW_GRAD(ga, sa, fa, g[i] * b[i * sb] * R_POW(a[i * sa], b[i * sb] - 1));
        ROW_GRAD(gb, sb, fb, g[i] * y[i] * R_LOG(a[i * sa]));
        break;
    case B_MIN: /* an element that does not get the gradient gets + 0 (stored 0 when fresh) */
        ROW_GRAD(ga, sa, fa, a[i * sa] <= b[i * sb] ? g[i] : 0);
        ROW_GRAD(gb, sb, fb, a[i * sa] <= b[i * sb] ? 0 : g[i]);
        break;
    case B_MAX:
        ROW_GRAD(ga, sa, fa, a[i * sa] >= b[i * sb] ? g[i] : 0);
        ROW_GRAD(gb, sb, fb, a[i * sa] >= b[i * sb] ? 0 : g[i]);
        break;
    }
}
#undef ROW_GRAD

/* ---------------------------------------------------------------- broadcasting geometry */
typedef struct {
    int shape[4];            /* output shape, padded to 4 dims */
    size_t stride[3][4];     /* element strides of up to 3 inputs in output coordinates */
} bcast;

/* Output shape of broadcasting xs[0..k); 0 on success. */
static int broadcast_shape(tg_tensor *const *xs, int k, int *ndim, int *shape)
{
    int nd = 0;
    for (int j = 0; j < k; j++)
        if (xs[j]->ndim > nd)
            nd = xs[j]->ndim;
    for (int d = 0; d < nd; d++) {
        int s = 1;
        for (int j = 0; j < k; j++) {
            int off = d - (nd - xs[j]->ndim);
            int sj = off >= 0 ? xs[j]->shape[off] : 1;
            if (sj == 1)
                continue;
            if (s != 1 && s != sj)
                return -1;
            s = sj;
        }
        shape[d] = s;
    }
    *ndim = nd;
    return 0;
}

static void bcast_init(bcast *bc, const tg_tensor *y, tg_tensor *const *xs, int k)
{
    for (int d = 0; d < 4; d++)
        bc->shape[d] = d < 4 - y->ndim ? 1 : y->shape[d - (4 - y->ndim)];
    for (int j = 0; j < k; j++) {
        size_t st = 1;
        for (int d = 3; d >= 0; d--) {
            int off = d - (4 - xs[j]->ndim);
            int sj = off >= 0 ? xs[j]->shape[off] : 1;
            bc->stride[j][d] = (sj == 1) ? 0 : st;
            st *= (size_t)sj;
        }
    }
}

static tg_tensor *shape_error(tg_ctx *ctx, const char *op, tg_tensor *const *xs, int k)
{
    char s[3][64];
    for (int j = 0; j < k; j++)
        tg__shape_str(xs[j], s[j], sizeof s[j]);
    return tg__fail(ctx, TG_ESHAPE, "%s: shapes %s and %s%s%s do not broadcast", op, s[0], s[1],
                    k > 2 ? " and " : "", k > 2 ? s[2] : "");
}

/* ---------------------------------------------------------------- binary op */
static void binary_backward(tg_ctx *ctx, tg_node *node)
{
    int op = node->i[0];
    tg_tensor *a = node->in[0], *b = node->in[1], *y = node->out[0];
    /* A full-size input's gradient is written once per element (stored when fresh); a
     * broadcast one is a sum over the stretched dimensions and starts from zeros; so does
     * an input passed twice (mul(x, x)). */
    int fa = 0, fb = 0;
    tg_real *ga = NULL, *gb = NULL;
    if (a->requires_grad)
        ga = a->n == y->n && a != b ? tg__grad_write(ctx, a, &fa) : tg__grad(ctx, a);
    if (b->requires_grad)
        gb = b->n == y->n && a != b ? tg__grad_write(ctx, b, &fb) : tg__grad(ctx, b);
    if ((a->requires_grad && !ga) || (b->requires_grad && !gb))
        return; /* out of memory: the context's status is set */
    if (a->n == y->n && b->n == y->n) {
        size_t n = y->n;
        if (n >= TG_PAR_MIN) {
            int nt = 64;
            #pragma omp parallel for schedule(static)
            for (int c = 0; c < nt; c++) {
                size_t lo = n * (size_t)c / (size_t)nt, hi = n * (size_t)(c + 1) / (size_t)nt;
                row_backward(op, hi - lo, y->grad + lo, y->data + lo, a->data + lo, 1, b->data + lo, 1,
                             ga ? ga + lo : NULL, fa, gb ? gb + lo : NULL, fb);
            }
        } else
            row_backward(op, n, y->grad, y->data, a->data, 1, b->data, 1, ga, fa, gb, fb);
        return;
    }
    tg_tensor *xs[2] = {a, b};
    bcast bc;
    bcast_init(&bc, y, xs, 2);
    size_t row = (size_t)bc.shape[3], k = 0;
    for (int i0 = 0; i0 < bc.shape[0]; i0++)
        for (int i1 = 0; i1 < bc.shape[1]; i1++)
            for (int i2 = 0; i2 < bc.shape[2]; i2++, k += row) {
                size_t oa = i0 * bc.stride[0][0] + i1 * bc.stride[0][1] + i2 * bc.stride[0][2];
                size_t ob = i0 * bc.stride[1][0] + i1 * bc.stride[1][1] + i2 * bc.stride[1][2];
                row_backward(op, row, y->grad + k, y->data + k, a->data + oa, bc.stride[0][3], b->data + ob,
                             bc.stride[1][3], ga ? ga + oa : NULL, fa, gb ? gb + ob : NULL, fb);
            }
}

static tg_tensor *binary(tg_ctx *ctx, int op, tg_tensor *a, tg_tensor *b)
{
    if (!a || !b)
        return NULL;
    tg_tensor *xs[2] = {a, b};
    int nd, shape[4];
    if (broadcast_shape(xs, 2, &nd, shape))
        return shape_error(ctx, bname[op], xs, 2);
    tg_tensor *y = tg__tensor(ctx, nd, shape, 0);
    if (!y)
        return NULL;
    if (a->n == y->n && b->n == y->n) {
        size_t n = y->n;
        if (n >= TG_PAR_MIN) {
            int nt = 64;
            #pragma omp parallel for schedule(static)
            for (int c = 0; c < nt; c++) {
                size_t lo = n * (size_t)c / (size_t)nt, hi = n * (size_t)(c + 1) / (size_t)nt;
                row_forward(op, hi - lo, a->data + lo, 1, b->data + lo, 1, y->data + lo);
            }
        } else
            row_forward(op, n, a->data, 1, b->data, 1, y->data);
    } else {
        bcast bc;
        bcast_init(&bc, y, xs, 2);
        size_t row = (size_t)bc.shape[3], k = 0;
        for (int i0 = 0; i0 < bc.shape[0]; i0++)
            for (int i1 = 0; i1 < bc.shape[1]; i1++)
                for (int i2 = 0; i2 < bc.shape[2]; i2++, k += row) {
                    size_t oa = i0 * bc.stride[0][0] + i1 * bc.stride[0][1] + i2 * bc.stride[0][2];
                    size_t ob = i0 * bc.stride[1][0] + i1 * bc.stride[1][1] + i2 * bc.stride[1][2];
                    row_forward(op, row, a->data + oa, bc.stride[0][3], b->data + ob, bc.stride[1][3], y->data + k);
                }
    }
    tg_node *node = tg__record(ctx, bname[op], binary_backward, xs, 2, &y, 1);
    if (node)
        node->i[0] = op;
    return ctx->status ? NULL : y;
}

tg_tensor *tg_add(tg_ctx *ctx, tg_tensor *a, tg_tensor *b) { return binary(ctx, B_ADD, a, b); }
tg_tensor *tg_sub(tg_ctx *ctx, tg_tensor *a, tg_tensor *b) { return binary(ctx, B_SUB, a, b); }
tg_tensor *tg_mul(tg_ctx *ctx, tg_tensor *a, tg_tensor *b) { return binary(ctx, B_MUL, a, b); }
tg_tensor *tg_div(tg_ctx *ctx, tg_tensor *a, tg_tensor *b) { return binary(ctx, B_DIV, a, b); }
tg_tensor *tg_pow(tg_ctx *ctx, tg_tensor *a, tg_tensor *b) { return binary(ctx, B_POW, a, b); }
tg_tensor *tg_minimum(tg_ctx *ctx, tg_tensor *a, tg_tensor *b) { return binary(ctx, B_MIN, a, b); }
tg_tensor *tg_maximum(tg_ctx *ctx, tg_tensor *a, tg_tensor *b) { return binary(ctx, B_MAX, a, b); }

/* ---------------------------------------------------------------- where */
/* Visits every output element k of a 3-input broadcast with the inputs' offsets o[3];
 * forward (grad = 0) selects the value, backward (grad = 1) routes y's gradient. */
static void where_sweep(tg_ctx *ctx, tg_tensor *c, tg_tensor *a, tg_tensor *b, tg_tensor *y, int grad)
{
    tg_real *ga = grad && a->requires_grad ? tg__grad(ctx, a) : NULL;
    tg_real *gb = grad && b->requires_grad ? tg__grad(ctx, b) : NULL;
    tg_tensor *xs[3] = {c, a, b};
    bcast bc;
    bcast_init(&bc, y, xs, 3);
    size_t k = 0;
    for (int i0 = 0; i0 < bc.shape[0]; i0++)
        for (int i1 = 0; i1 < bc.shape[1]; i1++)
            for (int i2 = 0; i2 < bc.shape[2]; i2++)
                for (int i3 = 0; i3 < bc.shape[3]; i3++, k++) {
                    size_t o[3];
                    for (int j = 0; j < 3; j++)
                        o[j] = i0 * bc.stride[j][0] + i1 * bc.stride[j][1] + i2 * bc.stride[j][2] + i3 * bc.stride[j][3];
                    int take_a = c->data[o[0]] > 0;
                    if (!grad)
                        y->data[k] = take_a ? a->data[o[1]] : b->data[o[2]];
                    else if (take_a && ga)
                        ga[o[1]] += y->grad[k];
                    else if (!take_a && gb)
                        gb[o[2]] += y->grad[k];
                }
}

static void where_backward(tg_ctx *ctx, tg_node *node)
{
    where_sweep(ctx, node->in[0], node->in[1], node->in[2], node->out[0], 1);
}

tg_tensor *tg_where(tg_ctx *ctx, tg_tensor *cond, tg_tensor *a, tg_tensor *b)
{
    if (!cond || !a || !b)
        return NULL;
    tg_tensor *xs[3] = {cond, a, b};
    int nd, shape[4];
    if (broadcast_shape(xs, 3, &nd, shape))
        return shape_error(ctx, "where", xs, 3);
    tg_tensor *y = tg__tensor(ctx, nd, shape, 0);
    if (!y)
        return NULL;
    where_sweep(ctx, cond, a, b, y, 0);
    /* cond never receives a gradient: record only a and b as differentiable sources. */
    int crg = cond->requires_grad;
    cond->requires_grad = 0;
    tg__record(ctx, "where", where_backward, xs, 3, &y, 1);
    cond->requires_grad = crg;
    return ctx->status ? NULL : y;
}
