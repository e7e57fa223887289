/* loss.c — masked streamflow losses. Missing observations (NaN) get zero weight; the
 * weights are constants, so each loss is a few tape ops on q. */
#include <math.h>
#include <string.h>

#include "train_internal.h"

int tg_loss_parse(const char *name)
{
    if (!strcmp(name, "nse")) return TG_LOSS_NSE;
    if (!strcmp(name, "mse")) return TG_LOSS_MSE;
    if (!strcmp(name, "rmse")) return TG_LOSS_RMSE;
    if (!strcmp(name, "rmse_comb")) return TG_LOSS_RMSE_COMB;
    return -1;
}

/* sum(w * (a - b)^2) with b, w constants */
static tg_tensor *weighted_sq(tg_ctx *ctx, tg_tensor *a, tg_tensor *b, tg_tensor *w)
{
    tg_tensor *d = tg_sub(ctx, a, b);
    return tg_sum(ctx, tg_mul(ctx, w, tg_mul(ctx, d, d)));
}

tg_tensor *tg_streamflow_loss(tg_ctx *ctx, int type, tg_tensor *q, const tg_real *obs, const double *basin_std,
                              double log_weight)
{
    if (!q)
        return NULL;
    int Lp = q->shape[0], nb = q->shape[1];
    size_t n = (size_t)Lp * (size_t)nb;
    tg_tensor *o = tg_new(ctx, TG_SHAPE(Lp, nb)), *w = tg_new(ctx, TG_SHAPE(Lp, nb));
    if (!o || !w)
        return NULL;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan((double)obs[i])) {
            o->data[i] = obs[i];
            count++;
        }
    if (count == 0) {
        tg_error_set(TG_EINVAL, "loss: no observed streamflow in the batch");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (isnan((double)obs[i]))
            continue;
        double wi = 1.0 / (double)count;
        if (type == TG_LOSS_NSE) { /* NSE*: squared error scaled by the basin's flow variance */
            double s = basin_std[i % (size_t)nb] + 0.1;
            wi /= s * s;
        }
        w->data[i] = (tg_real)wi;
    }
    tg_tensor *mse = weighted_sq(ctx, q, o, w);
    switch (type) {
    case TG_LOSS_NSE:
    case TG_LOSS_MSE:
        return mse;
    case TG_LOSS_RMSE:
        return tg_sqrt(ctx, tg_adds(ctx, mse, TG_R(1e-12)));
    case TG_LOSS_RMSE_COMB: {
        /* (1-a) RMSE(q) + a RMSE(log10(sqrt(q + 1e-6) + 0.1)), as the δHBV code */
        tg_tensor *lq = tg_muls(ctx, tg_log(ctx, tg_adds(ctx, tg_sqrt(ctx, tg_adds(ctx, tg_relu(ctx, q), TG_R(1e-6))),
                                                         TG_R(0.1))),
                                (tg_real)(1.0 / log(10.0)));
        tg_tensor *lo = tg_new(ctx, TG_SHAPE(Lp, nb));
        if (!lo)
            return NULL;
        for (size_t i = 0; i < n; i++)
            lo->data[i] = (tg_real)log10(sqrt(fmax(0.0, (double)o->data[i]) + 1e-6) + 0.1);
        tg_tensor *r1 = tg_sqrt(ctx, tg_adds(ctx, mse, TG_R(1e-12)));
        tg_tensor *r2 = tg_sqrt(ctx, tg_adds(ctx, weighted_sq(ctx, lq, lo, w), TG_R(1e-12)));
        return tg_add(ctx, tg_muls(ctx, r1, (tg_real)(1 - log_weight)), tg_muls(ctx, r2, (tg_real)log_weight));
    }
    }
    return NULL;
}
