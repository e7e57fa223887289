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
    if (!strcmp(name, "kge")) return TG_LOSS_KGE;
    if (!strcmp(name, "nse_kge")) return TG_LOSS_NSE_KGE;
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

/* 1 - KGE (Gupta et al. 2009) of every window (a column of q, (Lp, nb)) over its observed
 * days, as tape ops along time, summed with weights n_w / count (the window's share of the
 * batch's observed days). The observed statistics are constants. A window with fewer than
 * two observed days, or a constant or zero-mean observed flow, has no KGE and weight 0. */
static tg_tensor *kge_sum(tg_ctx *ctx, tg_tensor *q, const tg_real *obs, size_t count)
{
    const int Lp = q->shape[0], nb = q->shape[1];
    tg_tensor *mask = tg_new(ctx, TG_SHAPE(Lp, nb)), *oc = tg_new(ctx, TG_SHAPE(Lp, nb));
    tg_tensor *inv_n = tg_new(ctx, TG_SHAPE(1, nb)), *mu_o = tg_new(ctx, TG_SHAPE(1, nb));
    tg_tensor *sd_o = tg_new(ctx, TG_SHAPE(1, nb)), *wt = tg_new(ctx, TG_SHAPE(1, nb));
    if (!mask || !oc || !inv_n || !mu_o || !sd_o || !wt)
        return NULL;
    for (int b = 0; b < nb; b++) {
        double n = 0, s = 0, s2 = 0;
        for (int t = 0; t < Lp; t++) {
            double o = (double)obs[(size_t)t * nb + b];
            if (isnan(o))
                continue;
            n++, s += o;
        }
        double mu = n > 0 ? s / n : 0;
        for (int t = 0; t < Lp; t++) {
            double o = (double)obs[(size_t)t * nb + b];
            if (!isnan(o))
                s2 += (o - mu) * (o - mu);
        }
        double sd = n > 0 ? sqrt(s2 / n) : 0;
        int ok = n >= 2 && sd > 0 && mu > 0;
        for (int t = 0; t < Lp && ok; t++) {
            size_t i = (size_t)t * nb + b;
            if (!isnan((double)obs[i])) {
                mask->data[i] = 1;
                oc->data[i] = (tg_real)((double)obs[i] - mu);
            }
        }
        inv_n->data[b] = (tg_real)(ok ? 1 / n : 0);
        mu_o->data[b] = (tg_real)(ok ? mu : 1);
        sd_o->data[b] = (tg_real)(ok ? sd : 1);
        wt->data[b] = (tg_real)(ok ? n / (double)count : 0);
    }
    tg_tensor *mu_s = tg_mul(ctx, tg_sum_axis(ctx, tg_mul(ctx, mask, q), 0, 1), inv_n);
    tg_tensor *dev = tg_mul(ctx, tg_sub(ctx, q, mu_s), mask);
    /* + 1e-6 (mm/d)^2: the gradient of sqrt stays finite for a constant simulation */
    tg_tensor *sd_s = tg_sqrt(ctx, tg_adds(ctx, tg_mul(ctx, tg_sum_axis(ctx, tg_mul(ctx, dev, dev), 0, 1), inv_n),
                                           TG_R(1e-6)));
    tg_tensor *cov = tg_mul(ctx, tg_sum_axis(ctx, tg_mul(ctx, dev, oc), 0, 1), inv_n);
    tg_tensor *r = tg_div(ctx, cov, tg_mul(ctx, sd_s, sd_o));
    tg_tensor *alpha = tg_div(ctx, sd_s, sd_o), *beta = tg_div(ctx, mu_s, mu_o);
    tg_tensor *er = tg_adds(ctx, r, TG_R(-1)), *ea = tg_adds(ctx, alpha, TG_R(-1)), *eb = tg_adds(ctx, beta, TG_R(-1));
    tg_tensor *ed = tg_add(ctx, tg_add(ctx, tg_mul(ctx, er, er), tg_mul(ctx, ea, ea)), tg_mul(ctx, eb, eb));
    return tg_sum(ctx, tg_mul(ctx, wt, tg_sqrt(ctx, tg_adds(ctx, ed, TG_R(1e-12)))));
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
    if (type == TG_LOSS_KGE) {
        S[0] = kge_sum(ctx, q, obs, count);
        return S[0] ? 0 : tg_ctx_status(ctx);
    }
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
    case TG_LOSS_KGE:
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
