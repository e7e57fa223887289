/* dhbv_static.c — δHBV's per-basin heads on the static attributes: the δHBV 2.0-style
 * static-parameter MLP, the learned precipitation multiplier and snowfall correction factor
 * (dhbv_static.h). */
#include <math.h>
#include <string.h>

#include "dhbv_static.h"

int tg_dhbv_static_build(tg_dhbv_static *st, tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps)
{
    memset(st, 0, sizeof *st);
    tg_run_config c;
    int rc = tg_run_config_from_cfg(cfg, &c);
    if (rc)
        return rc;
    st->mlp = !strcmp(c.model.static_head, "mlp");
    st->pcorr = c.model.precip_correction;
    const long width = c.model.static_hidden;
    const tg_run_numbers r = c.model.precip_range;
    st->pmin = r.n == 2 ? r.v[0] : (double)NAN;
    st->pmax = r.n == 2 ? r.v[1] : (double)NAN;
    st->sfcf = c.model.snow_correction;
    const tg_run_numbers rs = c.model.snow_range;
    st->smin = rs.n == 2 ? rs.v[0] : (double)NAN;
    st->smax = rs.n == 2 ? rs.v[1] : (double)NAN;
    tg_run_config_free(&c);
    const char *path = tg_cfg_path(cfg);
    if (width <= 0)
        return tg_error_set(TG_EINVAL, "%s:%d: model.static_hidden must be positive", path,
                            tg_cfg_line(cfg, "model.static_hidden"));
    if (!(st->pmin > 0 && st->pmin < st->pmax && isfinite(st->pmax)))
        return tg_error_set(TG_EINVAL, "%s:%d: model.precip_range: want [min, max] with 0 < min < max", path,
                            tg_cfg_line(cfg, "model.precip_range"));
    if (!(st->smin > 0 && st->smin < st->smax && isfinite(st->smax)))
        return tg_error_set(TG_EINVAL, "%s:%d: model.snow_range: want [min, max] with 0 < min < max", path,
                            tg_cfg_line(cfg, "model.snow_range"));
    st->S = d->S;
    st->K = m->n_out_params;
    if (!st->mlp && !st->pcorr && !st->sfcf)
        return 0;
    const char *key = st->mlp     ? "model.static_head"
                      : st->pcorr ? "model.precip_correction"
                                  : "model.snow_correction";
    if (d->S <= 0) /* both learn from the attributes */
        return tg_error_set(TG_EINVAL, "%s:%d: %s needs static attributes (data.attributes, data.attribute_names)",
                            path, tg_cfg_line(cfg, key), key);
    m->attrs_needed = 1;
    if (st->mlp)
        return tg_mlp_init(&st->net, ps, "static", 3, (int[]){d->S, (int)width, st->K + st->pcorr + st->sfcf},
                           TG_ACT_TANH, TG_ACT_SIGMOID);
    rc = st->pcorr ? tg_linear_layer_init(&st->pc, ps, "pcorr", d->S, 1, 1) : 0;
    if (!rc && st->sfcf)
        rc = tg_linear_layer_init(&st->sf, ps, "sfcf", d->S, 1, 1);
    return rc;
}

/* Sets the logit tg_params_data(ps, bias)[at] so that lo + (hi - lo) sigmoid(logit) = 1. */
static void start_at_one(tg_params *ps, int bias, int at, double lo, double hi)
{
    const double u = (1 - lo) / (hi - lo);
    if (bias >= 0 && u > 0 && u < 1)
        tg_params_data(ps, bias)[at] = (tg_real)log(u / (1 - u));
}

int tg_dhbv_static_init(const tg_dhbv_static *st, tg_params *ps, tg_rng *rng)
{
    int rc = 0;
    /* the multipliers' output biases and their elements */
    int pbias = -1, pat = 0, sbias = -1, sat = 0;
    if (st->mlp) {
        rc = tg_mlp_reset(&st->net, ps, TG_INIT_TORCH, rng);
        pbias = sbias = st->net.lin[st->net.n_layers - 1].b;
        pat = st->K;
        sat = st->K + st->pcorr;
    } else {
        /* PCORR's layer first: the draws of a run without snow correction stay as they were */
        if (st->pcorr && !(rc = tg_linear_reset(&st->pc, ps, TG_INIT_TORCH, rng)))
            pbias = st->pc.b;
        if (!rc && st->sfcf && !(rc = tg_linear_reset(&st->sf, ps, TG_INIT_TORCH, rng)))
            sbias = st->sf.b;
    }
    /* start from the uncorrected P */
    if (!rc && st->pcorr)
        start_at_one(ps, pbias, pat, st->pmin, st->pmax);
    if (!rc && st->sfcf)
        start_at_one(ps, sbias, sat, st->smin, st->smax);
    return rc;
}

/* lo + (hi - lo) v for v (nb, 1) in (0, 1): (nb) */
static tg_tensor *in_range(tg_ctx *ctx, tg_tensor *v, int nb, double lo, double hi)
{
    return tg_adds(ctx, tg_muls(ctx, tg_reshape(ctx, v, TG_SHAPE(nb)), (tg_real)(hi - lo)), (tg_real)lo);
}

int tg_dhbv_static_forward(const tg_dhbv_static *st, tg_ctx *ctx, tg_params *ps, tg_tensor *attrs, int nb,
                           tg_tensor **u, tg_tensor **pcorr, tg_tensor **sfcf)
{
    *u = *pcorr = *sfcf = NULL;
    if (!st->mlp && !st->pcorr && !st->sfcf)
        return 0;
    if (!attrs || attrs->ndim != 2 || attrs->shape[0] != nb || attrs->shape[1] != st->S)
        return tg_error_set(TG_EINVAL, "dhbv: the static heads need the batch's %d attributes", st->S);
    tg_tensor *vp = NULL, *vs = NULL; /* (nb, 1) in (0, 1) */
    if (st->mlp) {
        tg_tensor *y = tg_mlp(ctx, ps, &st->net, attrs); /* (nb, K [+1] [+1]) */
        *u = st->pcorr || st->sfcf ? tg_slice(ctx, y, 1, 0, st->K) : y;
        vp = st->pcorr ? tg_slice(ctx, y, 1, st->K, 1) : NULL;
        vs = st->sfcf ? tg_slice(ctx, y, 1, st->K + st->pcorr, 1) : NULL;
    } else {
        vp = st->pcorr ? tg_sigmoid(ctx, tg_linear(ctx, ps, &st->pc, attrs)) : NULL;
        vs = st->sfcf ? tg_sigmoid(ctx, tg_linear(ctx, ps, &st->sf, attrs)) : NULL;
    }
    if (st->pcorr)
        *pcorr = in_range(ctx, vp, nb, st->pmin, st->pmax);
    if (st->sfcf)
        *sfcf = in_range(ctx, vs, nb, st->smin, st->smax);
    return tg_ctx_status(ctx);
}

tg_tensor *tg_dhbv_correct_precip(tg_ctx *ctx, tg_tensor *forcing, tg_tensor *pcorr, tg_tensor *sfcf, int nb)
{
    if (!pcorr && !sfcf)
        return forcing;
    const int nf = forcing->shape[2];
    tg_tensor *p = tg_slice(ctx, forcing, 2, 0, 1); /* (L, nb, 1) */
    if (pcorr)
        p = tg_mul(ctx, p, tg_reshape(ctx, pcorr, TG_SHAPE(nb, 1)));
    if (sfcf) { /* p (1 + (SFCF - 1) s(T)); s is a constant of the gradient (T is forcing) */
        tg_tensor *t = tg_slice(ctx, forcing, 2, 1, 1);
        tg_tensor *s = tg_sigmoid(ctx, tg_muls(ctx, tg_adds(ctx, t, (tg_real)-TG_SNOW_PHASE_T0),
                                               (tg_real)(-1.0 / TG_SNOW_PHASE_W)));
        tg_tensor *f = tg_adds(ctx, tg_reshape(ctx, sfcf, TG_SHAPE(nb, 1)), (tg_real)-1);
        p = tg_mul(ctx, p, tg_adds(ctx, tg_mul(ctx, s, f), (tg_real)1));
    }
    tg_tensor *parts[2] = {p, tg_slice(ctx, forcing, 2, 1, nf - 1)};
    return tg_concat(ctx, parts, 2, 2);
}
