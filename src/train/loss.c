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

size_t tg_loss_count(const tg_real *obs, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += !isnan((double)obs[i]);
    return c;
}

/* Every loss here is L = f(S1, S2) of sums over windows, S_i = sum_windows w (a - b)^2, so
 * ranks can each sum their own windows: f needs only the global S (one small allreduce),
 * and the gradient of the linearisation c1 S1 + c2 S2 with c_i = df/dS_i at the global S
 * is exactly the rank's share of the global gradient. */
int tg_loss_parts(tg_ctx *ctx, int type, tg_tensor *q, const tg_real *obs, const double *basin_std, size_t count,
                  tg_tensor **S)
{
    S[0] = S[1] = NULL;
    if (!q)
        return tg_ctx_status(ctx);
    if (count == 0)
        return tg_error_set(TG_EINVAL, "loss: no observed streamflow in the batch");
    int Lp = q->shape[0], nb = q->shape[1];
    size_t n = (size_t)Lp * (size_t)nb;
    tg_tensor *o = tg_new(ctx, TG_SHAPE(Lp, nb)), *w = tg_new(ctx, TG_SHAPE(Lp, nb));
    if (!o || !w)
        return tg_ctx_status(ctx);
    for (size_t i = 0; i < n; i++) {
        if (isnan((double)obs[i]))
            continue;
        o->data[i] = obs[i];
        double wi = 1.0 / (double)count;
        if (type == TG_LOSS_NSE) { /* NSE*: squared error scaled by the basin's flow variance */
            double s = basin_std[i % (size_t)nb] + 0.1;
            wi /= s * s;
        }
        w->data[i] = (tg_real)wi;
    }
    S[0] = weighted_sq(ctx, q, o, w);
    if (type == TG_LOSS_RMSE_COMB) {
        /* the δHBV code's log-flow term: log10(sqrt(q + 1e-6) + 0.1) */
        tg_tensor *lq = tg_muls(ctx, tg_log(ctx, tg_adds(ctx, tg_sqrt(ctx, tg_adds(ctx, tg_relu(ctx, q), TG_R(1e-6))),
                                                         TG_R(0.1))),
                                (tg_real)(1.0 / log(10.0)));
        tg_tensor *lo = tg_new(ctx, TG_SHAPE(Lp, nb));
        if (!lo)
            return tg_ctx_status(ctx);
        for (size_t i = 0; i < n; i++)
            lo->data[i] = (tg_real)log10(sqrt(fmax(0.0, (double)o->data[i]) + 1e-6) + 0.1);
        S[1] = weighted_sq(ctx, lq, lo, w);
    }
    return S[0] ? 0 : tg_ctx_status(ctx);
}

double tg_loss_combine(int type, const double *S, double log_weight, double *c)
{
    c[0] = c[1] = 0;
    switch (type) {
    case TG_LOSS_NSE:
    case TG_LOSS_MSE:
        c[0] = 1;
        return S[0];
    case TG_LOSS_RMSE: {
        double r = sqrt(S[0] + 1e-12);
        c[0] = 0.5 / r;
        return r;
    }
    default: {
        double r1 = sqrt(S[0] + 1e-12), r2 = sqrt(S[1] + 1e-12);
        c[0] = (1 - log_weight) * 0.5 / r1;
        c[1] = log_weight * 0.5 / r2;
        return (1 - log_weight) * r1 + log_weight * r2;
    }
    }
}
