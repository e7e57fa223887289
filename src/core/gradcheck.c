/* gradcheck.c — tape gradients against central finite differences. */
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

int tg_gradcheck(tg_loss_fn f, void *ud, int n, const int *ndims, const int (*shapes)[TG_MAX_DIMS],
                 tg_real *const *inputs, double h, tg_gradcheck_result *res)
{
    if (n <= 0 || n > 16)
        return tg_error_set(TG_EINVAL, "gradcheck: %d inputs (1..16 supported)", n);
    memset(res, 0, sizeof *res);
    tg_ctx *ctx = tg_ctx_create();
    if (!ctx)
        return TG_ENOMEM;
    tg_real *grads[16] = {0};
    size_t sizes[16];
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        sizes[i] = 1;
        for (int d = 0; d < ndims[i]; d++)
            sizes[i] *= (size_t)shapes[i][d];
        grads[i] = tg_calloc(sizes[i], sizeof(tg_real));
        if (!grads[i])
            rc = TG_ENOMEM;
    }
    double loss;
    if (!rc)
        rc = evaluate(ctx, f, ud, n, ndims, shapes, inputs, grads, &loss);
    for (int i = 0; i < n && !rc; i++)
        for (size_t j = 0; j < sizes[i] && !rc; j++) {
            tg_real keep = inputs[i][j];
            double lp, lm;
            inputs[i][j] = (tg_real)((double)keep + h);
            double hp = (double)inputs[i][j] - (double)keep; /* the step actually taken */
            rc = evaluate(ctx, f, ud, n, ndims, shapes, inputs, NULL, &lp);
            inputs[i][j] = (tg_real)((double)keep - h);
            double hm = (double)keep - (double)inputs[i][j];
            if (!rc)
                rc = evaluate(ctx, f, ud, n, ndims, shapes, inputs, NULL, &lm);
            inputs[i][j] = keep;
            if (rc)
                break;
            double fd = (lp - lm) / (hp + hm), an = (double)grads[i][j];
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
    for (int i = 0; i < n; i++)
        tg_free(grads[i], sizes[i] * sizeof(tg_real));
    tg_ctx_free(&ctx);
    return rc;
}
