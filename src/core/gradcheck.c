/* gradcheck.c — tape gradients against references that do not use the backward code:
 *  - tg_gradcheck: central finite differences with a fixed step (the public, simple check);
 *  - tg__gradcheck_robust: what the op suite uses. Inputs in which the loss is affine get
 *    an exact reference (a one-hot probe of the forward: no step, no truncation error);
 *    the others get Richardson-extrapolated central differences whose tolerance includes
 *    the spread between the two step sizes, so the check adapts to the rounding of the
 *    BLAS kernel at hand instead of relying on one fixed threshold. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "internal.h"

double tg_rel_err(double a, double b, double floor)
{
    double s = fmax(fmax(fabs(a), fabs(b)), floor);
    return fabs(a - b) / s;
}

/* Evaluates f on copies of the host inputs; grads (optional) receive the tape gradient. */
static int evaluate(tg_ctx *ctx, tg_loss_fn f, void *ud, int n, const int *ndims, const int (*shapes)[TG_MAX_DIMS],
                    tg_real *const *inputs, tg_real *const *grads, double *loss)
{
    tg_ctx_reset(ctx);
    tg_ctx_set_grad(ctx, grads != NULL);
    tg_tensor *leaves[16];
    for (int i = 0; i < n; i++) {
        leaves[i] = tg_leaf(ctx, ndims[i], shapes[i], inputs[i]);
        if (!leaves[i])
            return tg_ctx_status(ctx);
    }
    tg_tensor *y = f(ctx, leaves, n, ud);
    if (!y)
        return tg_ctx_status(ctx) ? tg_ctx_status(ctx) : tg_error_set(TG_EINVAL, "gradcheck: the loss function returned NULL");
    if (y->n != 1)
        return tg_error_set(TG_ESHAPE, "gradcheck: the loss has %zu elements, not 1", y->n);
    *loss = (double)y->data[0];
    if (!grads)
        return 0;
    if (y->requires_grad) {
        int rc = tg_backward(ctx, y);
        if (rc)
            return rc;
    }
    for (int i = 0; i < n; i++) {
        size_t m = leaves[i]->n;
        for (size_t j = 0; j < m; j++) /* unreached inputs have a zero gradient */
            grads[i][j] = leaves[i]->grad ? leaves[i]->grad[j] : 0;
    }
    return 0;
}

/* Scratch shared by both checkers: a context and one gradient buffer per input. */
typedef struct {
    tg_ctx *ctx;
    tg_real *grads[16];
    size_t sizes[16];
    int n;
} gc_scratch;

static int scratch_open(gc_scratch *s, int n, const int *ndims, const int (*shapes)[TG_MAX_DIMS])
{
    memset(s, 0, sizeof *s);
    if (n <= 0 || n > 16)
        return tg_error_set(TG_EINVAL, "gradcheck: %d inputs (1..16 supported)", n);
    s->n = n;
    s->ctx = tg_ctx_create();
    if (!s->ctx)
        return TG_ENOMEM;
    for (int i = 0; i < n; i++) {
        s->sizes[i] = 1;
        for (int d = 0; d < ndims[i]; d++)
            s->sizes[i] *= (size_t)shapes[i][d];
        s->grads[i] = tg_calloc(s->sizes[i], sizeof(tg_real));
        if (!s->grads[i])
            return TG_ENOMEM;
    }
    return 0;
}

static void scratch_close(gc_scratch *s)
{
    for (int i = 0; i < s->n; i++)
        tg_free(s->grads[i], s->sizes[i] * sizeof(tg_real));
    tg_ctx_free(&s->ctx);
}

/* Central difference of the loss in input (i, j) with step h; the step actually taken
 * (after rounding x +- h to tg_real) is used as the divisor. */
static int central(gc_scratch *s, tg_loss_fn f, void *ud, const int *ndims, const int (*shapes)[TG_MAX_DIMS],
                   tg_real *const *inputs, int i, size_t j, double h, double *d)
{
    tg_real keep = inputs[i][j];
    double lp = 0, lm = 0;
    inputs[i][j] = (tg_real)((double)keep + h);
    double hp = (double)inputs[i][j] - (double)keep;
    int rc = evaluate(s->ctx, f, ud, s->n, ndims, shapes, inputs, NULL, &lp);
    inputs[i][j] = (tg_real)((double)keep - h);
    double hm = (double)keep - (double)inputs[i][j];
    if (!rc)
        rc = evaluate(s->ctx, f, ud, s->n, ndims, shapes, inputs, NULL, &lm);
    inputs[i][j] = keep;
    *d = (lp - lm) / (hp + hm);
    return rc;
}

int tg_gradcheck(tg_loss_fn f, void *ud, int n, const int *ndims, const int (*shapes)[TG_MAX_DIMS],
                 tg_real *const *inputs, double h, tg_gradcheck_result *res)
{
    memset(res, 0, sizeof *res);
    gc_scratch s;
    double loss;
    int rc = scratch_open(&s, n, ndims, shapes);
    if (!rc)
        rc = evaluate(s.ctx, f, ud, n, ndims, shapes, inputs, s.grads, &loss);
    for (int i = 0; i < n && !rc; i++)
        for (size_t j = 0; j < s.sizes[i] && !rc; j++) {
            double fd;
            rc = central(&s, f, ud, ndims, shapes, inputs, i, j, h, &fd);
            if (rc)
                break;
            double an = (double)s.grads[i][j];
            /* float differences carry ~1e-4 relative noise of the loss: judge small
             * gradients absolutely there */
#ifdef TG_DOUBLE
            const double floor = 1e-4;
#else
            const double floor = 1e-1;
#endif
            double ae = fabs(fd - an), re = tg_rel_err(fd, an, floor);
            if (ae > res->max_abs_err) res->max_abs_err = ae;
            if (re > res->max_rel_err) res->max_rel_err = re;
            res->checked++;
        }
    scratch_close(&s);
    return rc;
}

/* ---------------------------------------------------------------- robust check */

/* Exact reference for an input in which the loss is affine, L(x) = g.x + c: g_j is
 * L(e_j) - L(0) with the other inputs unchanged. The probe's forward adds up only the
 * terms that e_j touches, so its rounding is that of one output element, not of the loss. */
static int linear_reference(gc_scratch *s, tg_loss_fn f, void *ud, const int *ndims,
                            const int (*shapes)[TG_MAX_DIMS], tg_real *const *inputs, int i, double *ref)
{
    size_t m = s->sizes[i];
    tg_real *keep = tg_malloc(m * sizeof(tg_real));
    if (!keep)
        return TG_ENOMEM;
    memcpy(keep, inputs[i], m * sizeof(tg_real));
    memset(inputs[i], 0, m * sizeof(tg_real));
    double l0 = 0;
    int rc = evaluate(s->ctx, f, ud, s->n, ndims, shapes, inputs, NULL, &l0);
    for (size_t j = 0; j < m && !rc; j++) {
        double l1 = 0;
        inputs[i][j] = 1;
        rc = evaluate(s->ctx, f, ud, s->n, ndims, shapes, inputs, NULL, &l1);
        inputs[i][j] = 0;
        ref[j] = l1 - l0;
    }
    memcpy(inputs[i], keep, m * sizeof(tg_real));
    tg_free(keep, m * sizeof(tg_real));
    return rc;
}

/* Finite-difference reference: Richardson extrapolation of central differences at h and
 * h/2 (truncation O(h^4)); est = |D(h/2) - D(h)| bounds what extrapolation may leave,
 * rounding noise included, since both differences see it. */
static int fd_reference(gc_scratch *s, tg_loss_fn f, void *ud, const int *ndims, const int (*shapes)[TG_MAX_DIMS],
                        tg_real *const *inputs, int i, double h, double *ref, double *est)
{
    for (size_t j = 0; j < s->sizes[i]; j++) {
        double d1, d2;
        int rc = central(s, f, ud, ndims, shapes, inputs, i, j, h, &d1);
        if (!rc)
            rc = central(s, f, ud, ndims, shapes, inputs, i, j, h / 2, &d2);
        if (rc)
            return rc;
        ref[j] = (4 * d2 - d1) / 3;
        est[j] = fabs(d2 - d1);
    }
    return 0;
}

int tg__gradcheck_robust(tg_loss_fn f, void *ud, int n, const int *ndims, const int (*shapes)[TG_MAX_DIMS],
                         tg_real *const *inputs, const tg__gradcheck_opts *opt, tg__gradcheck_report *rep)
{
    memset(rep, 0, sizeof *rep);
    gc_scratch s;
    double loss;
    int rc = scratch_open(&s, n, ndims, shapes);
    if (!rc)
        rc = evaluate(s.ctx, f, ud, n, ndims, shapes, inputs, s.grads, &loss);
    for (int i = 0; i < n && !rc; i++) {
        size_t m = s.sizes[i];
        double *ref = tg_calloc(2 * m, sizeof(double)), *est = ref + m;
        if (!ref) {
            rc = TG_ENOMEM;
            break;
        }
        int linear = (opt->linear_mask >> i) & 1u;
        rc = linear ? linear_reference(&s, f, ud, ndims, shapes, inputs, i, ref)
                    : fd_reference(&s, f, ud, ndims, shapes, inputs, i, opt->h, ref, est);
        /* gradients much smaller than this input's largest are judged against a floor
         * of floor_frac times that scale: their relative error is rounding, not a bug */
        double scale = 0;
        for (size_t j = 0; j < m; j++)
            scale = fmax(scale, fmax(fabs((double)s.grads[i][j]), fabs(ref[j])));
        double rtol = linear ? opt->rtol_exact : opt->rtol;
        for (size_t j = 0; j < m && !rc; j++) {
            double an = (double)s.grads[i][j], mag = fmax(fabs(an), fabs(ref[j]));
            double err = fabs(an - ref[j]);
            double allowed = rtol * (mag + opt->floor_frac * scale) + 2 * est[j];
            double rel = err / fmax(fmax(mag, opt->floor_frac * scale), DBL_MIN);
            double ratio = allowed > 0 ? err / allowed : (err > 0 ? (double)INFINITY : 0.0);
            if (err > rep->max_abs_err) rep->max_abs_err = err;
            if (rel > rep->max_rel_err) rep->max_rel_err = rel;
            if (est[j] > rep->max_fd_est) rep->max_fd_est = est[j];
            if (ratio > rep->worst_ratio || rep->checked == 0) {
                rep->worst_ratio = ratio;
                rep->worst_input = i;
                rep->worst_index = j;
                rep->worst_tape = an;
                rep->worst_ref = ref[j];
            }
            if (!(ratio <= 1)) /* NaN fails too */
                rep->failed++;
            rep->checked++;
        }
        rep->exact_inputs += linear;
        tg_free(ref, 2 * m * sizeof(double));
    }
    scratch_close(&s);
    return rc;
}
