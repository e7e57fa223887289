/* linear.c — y = x W^T + b over all leading dimensions of x, as one tape node.
 * Raw kernels first (llm.c style: outputs, inputs, sizes), then the layer and the op. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "nn/nn_internal.h"

/* ---------------------------------------------------------------- raw kernels */
void tg_linear_forward(tg_real *y, const tg_real *x, const tg_real *w, const tg_real *b, size_t N, int in, int out)
{
    if (b)
        for (size_t r = 0; r < N; r++)
            memcpy(y + r * (size_t)out, b, sizeof(tg_real) * (size_t)out);
    tg_nn_threads th = tg_nn_threads_enter();
    /* Row blocks only: cannot fail. */
    (void)tg_nn_gemm(th.omp, 0, 1, (int)N, out, in, TG_R(1.0), x, in, w, in, b ? TG_R(1.0) : TG_R(0.0), y, out);
    tg_nn_threads_leave(th);
}

/* db[j] += sum over rows r of dy[r][j] (db[j] = ... when store: a fresh buffer), each column summed in double with its rows in order,
 * so any split of the columns across threads gives the same bits. Rows outer, a block of
 * columns inner: dy is read once, contiguously (a column-outer loop strides through it once
 * per column, which for the δHBV head, 73 000 x 210, costs more than the GEMMs beside it). */
enum { COLSUM_BLOCK = 256 };
static void column_sums(tg_real *db, int store, const tg_real *dy, size_t N, int out, int threads)
{
#pragma omp parallel num_threads(threads) if (N * (size_t)out > 65536)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int j0 = (int)((long)out * t / nt), j1 = (int)((long)out * (t + 1) / nt);
        double acc[COLSUM_BLOCK];
        for (int jb = j0; jb < j1; jb += COLSUM_BLOCK) {
            int nj = j1 - jb < COLSUM_BLOCK ? j1 - jb : COLSUM_BLOCK;
            for (int j = 0; j < nj; j++)
                acc[j] = 0.0;
            for (size_t r = 0; r < N; r++) {
                const tg_real *row = dy + r * (size_t)out + (size_t)jb;
                for (int j = 0; j < nj; j++)
                    acc[j] += (double)row[j];
            }
            for (int j = 0; j < nj; j++)
                db[jb + j] = store ? (tg_real)acc[j] : db[jb + j] + (tg_real)acc[j];
        }
    }
}

/* store[0..2] (NULL: all 0) = 1 where dx / dw / db is a fresh buffer to overwrite
 * (tg__grad_write): the products take beta = 0 and never read it. */
static int linear_backward_raw(tg_real *dx, tg_real *dw, tg_real *db, const int *store, const tg_real *dy,
                               const tg_real *x, const tg_real *w, size_t N, int in, int out)
{
    int rc = 0;
    tg_nn_threads th = tg_nn_threads_enter();
    const tg_real beta_x = store && store[0] ? TG_R(0.0) : TG_R(1.0), beta_w = store && store[1] ? TG_R(0.0) : TG_R(1.0);
    if (dx)                 /* (N, in) += (N, out) x (out, in) */
        rc = tg_nn_gemm(th.omp, 0, 0, (int)N, in, out, TG_R(1.0), dy, out, w, in, beta_x, dx, in);
    if (dw && !rc)          /* (out, in) += (out, N) x (N, in) */
        rc = tg_nn_gemm(th.omp, 1, 0, out, in, (int)N, TG_R(1.0), dy, out, x, in, beta_w, dw, in);
    if (db)
        column_sums(db, store && store[2], dy, N, out, th.omp);
    tg_nn_threads_leave(th);
    return rc;
}

void tg_linear_backward(tg_real *dx, tg_real *dw, tg_real *db, const tg_real *dy, const tg_real *x,
                        const tg_real *w, size_t N, int in, int out)
{
    if (linear_backward_raw(dx, dw, db, NULL, dy, x, w, N, in, out))
        tg_error_set(TG_ENOMEM, "tg_linear_backward: out of memory");
}

/* ---------------------------------------------------------------- tape op */
static int linear_fwd_cb(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    (void)ud, (void)n_out;
    const tg_tensor *x = in[0], *w = in[1];
    int fo = w->shape[0], fi = w->shape[1];
    tg_linear_forward(out[0]->data, x->data, w->data, n_in > 2 ? in[2]->data : NULL, x->n / (size_t)fi, fi, fo);
    return 0;
}

static int linear_bwd_cb(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                         const tg_real *const *gout, tg_real *const *gin, const int *first)
{
    (void)ud, (void)out, (void)n_out;
    const tg_tensor *x = in[0], *w = in[1];
    int fo = w->shape[0], fi = w->shape[1];
    const int store[3] = {first[0], first[1], n_in > 2 ? first[2] : 0};
    if (linear_backward_raw(gin[0], gin[1], n_in > 2 ? gin[2] : NULL, store, gout[0], x->data, w->data,
                            x->n / (size_t)fi, fi, fo))
        return tg_error_set(TG_ENOMEM, "linear: out of memory in backward");
    return 0;
}

static const tg__custom_op linear_op = {{"linear", linear_fwd_cb, NULL}, linear_bwd_cb};

tg_tensor *tg_linear_op(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    if (!ctx || !x || !w)
        return NULL;
    char sx[64], sw[64];
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1]) {
        tg__shape_str(x, sx, sizeof sx);
        tg__shape_str(w, sw, sizeof sw);
        return tg__fail(ctx, TG_ESHAPE, "linear: x %s does not fit weight %s (want (..., in) and (out, in))", sx, sw);
    }
    if (b && (b->n != (size_t)w->shape[0])) {
        tg__shape_str(b, sx, sizeof sx);
        return tg__fail(ctx, TG_ESHAPE, "linear: bias %s, want (%d)", sx, w->shape[0]);
    }
    int oshape[1][TG_MAX_DIMS];
    memcpy(oshape[0], x->shape, sizeof oshape[0]);
    oshape[0][x->ndim - 1] = w->shape[0];
    const int ndim[1] = {x->ndim};
    tg_tensor *in[3] = {x, w, b}, *y = NULL;
    if (tg__custom_first(ctx, &linear_op, NULL, in, b ? 3 : 2, 1, ndim, (const int(*)[TG_MAX_DIMS])oshape, &y, 0))
        return NULL;
    return y;
}

/* ---------------------------------------------------------------- layer */
int tg_linear_layer_init(tg_linear_layer *l, tg_params *ps, const char *prefix, int in, int out, int bias)
{
    char name[64];
    if (in <= 0 || out <= 0)
        return tg_error_set(TG_EINVAL, "linear layer '%s': sizes in %d, out %d", prefix, in, out);
    l->in = in, l->out = out, l->b = -1;
    snprintf(name, sizeof name, "%s.weight", prefix);
    if ((l->w = tg_params_add(ps, name, TG_SHAPE(out, in))) < 0)
        return tg_error_code();
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        if ((l->b = tg_params_add(ps, name, TG_SHAPE(out))) < 0)
            return tg_error_code();
    }
    return 0;
}

int tg_linear_reset(const tg_linear_layer *l, tg_params *ps, tg_init scheme, tg_rng *rng)
{
    int rc = tg_init_param(ps, l->w, scheme, l->in, l->out, 0, rng);
    if (!rc && l->b >= 0)
        rc = tg_init_param(ps, l->b, scheme, l->in, l->out, 1, rng);
    return rc;
}

tg_tensor *tg_linear(tg_ctx *ctx, tg_params *ps, const tg_linear_layer *l, tg_tensor *x)
{
    return tg_linear_op(ctx, x, tg_param(ctx, ps, l->w), l->b >= 0 ? tg_param(ctx, ps, l->b) : NULL);
}
