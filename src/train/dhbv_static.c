/* dhbv_static.c — δHBV's per-basin heads on the static attributes: the δHBV 2.0-style
 * static-parameter MLP and the learned precipitation multiplier (dhbv_static.h). */
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
    tg_run_config_free(&c);
    const char *path = tg_cfg_path(cfg);
    if (width <= 0)
        return tg_error_set(TG_EINVAL, "%s:%d: model.static_hidden must be positive", path,
                            tg_cfg_line(cfg, "model.static_hidden"));
    if (!(st->pmin > 0 && st->pmin < st->pmax && isfinite(st->pmax)))
        return tg_error_set(TG_EINVAL, "%s:%d: model.precip_range: want [min, max] with 0 < min < max", path,
                            tg_cfg_line(cfg, "model.precip_range"));
    st->S = d->S;
    st->K = m->n_out_params;
    if (!st->mlp && !st->pcorr)
        return 0;
    const char *key = st->mlp ? "model.static_head" : "model.precip_correction";
    if (d->S <= 0) /* both learn from the attributes */
        return tg_error_set(TG_EINVAL, "%s:%d: %s needs static attributes (data.attributes, data.attribute_names)",
                            path, tg_cfg_line(cfg, key), key);
    m->attrs_needed = 1;
    if (st->mlp)
        return tg_mlp_init(&st->net, ps, "static", 3, (int[]){d->S, (int)width, st->K + st->pcorr}, TG_ACT_TANH,
                           TG_ACT_SIGMOID);
    return tg_linear_layer_init(&st->pc, ps, "pcorr", d->S, 1, 1);
}

int tg_dhbv_static_init(const tg_dhbv_static *st, tg_params *ps, tg_rng *rng)
{
    int rc = 0, bias = -1, at = 0; /* the multiplier's output bias and its element */
    if (st->mlp) {
        rc = tg_mlp_reset(&st->net, ps, TG_INIT_TORCH, rng);
        bias = st->net.lin[st->net.n_layers - 1].b;
        at = st->K;
    } else if (st->pcorr) {
        rc = tg_linear_reset(&st->pc, ps, TG_INIT_TORCH, rng);
        bias = st->pc.b;
    }
    /* start from the uncorrected P: sigmoid(bias) = (1 - pmin) / (pmax - pmin) */
    const double u = (1 - st->pmin) / (st->pmax - st->pmin);
    if (!rc && st->pcorr && bias >= 0 && u > 0 && u < 1)
        tg_params_data(ps, bias)[at] = (tg_real)log(u / (1 - u));
    return rc;
}

int tg_dhbv_static_forward(const tg_dhbv_static *st, tg_ctx *ctx, tg_params *ps, tg_tensor *attrs, int nb,
                           tg_tensor **u, tg_tensor **pcorr)
{
    *u = NULL;
    *pcorr = NULL;
    if (!st->mlp && !st->pcorr)
        return 0;
    if (!attrs || attrs->ndim != 2 || attrs->shape[0] != nb || attrs->shape[1] != st->S)
        return tg_error_set(TG_EINVAL, "dhbv: the static heads need the batch's %d attributes", st->S);
    tg_tensor *v; /* (nb, 1) in (0, 1) */
    if (st->mlp) {
        tg_tensor *y = tg_mlp(ctx, ps, &st->net, attrs); /* (nb, K [+1]) */
        *u = st->pcorr ? tg_slice(ctx, y, 1, 0, st->K) : y;
        v = st->pcorr ? tg_slice(ctx, y, 1, st->K, 1) : NULL;
    } else {
        v = tg_sigmoid(ctx, tg_linear(ctx, ps, &st->pc, attrs));
    }
    if (st->pcorr) /* pmin + (pmax - pmin) v */
        *pcorr = tg_adds(ctx, tg_muls(ctx, tg_reshape(ctx, v, TG_SHAPE(nb)), (tg_real)(st->pmax - st->pmin)),
                         (tg_real)st->pmin);
    return tg_ctx_status(ctx);
}

tg_tensor *tg_dhbv_correct_precip(tg_ctx *ctx, tg_tensor *forcing, tg_tensor *pcorr, int nb)
{
    if (!pcorr)
        return forcing;
    const int nf = forcing->shape[2];
    tg_tensor *p = tg_mul(ctx, tg_slice(ctx, forcing, 2, 0, 1), tg_reshape(ctx, pcorr, TG_SHAPE(nb, 1))); /* (L, nb, 1) */
    tg_tensor *parts[2] = {p, tg_slice(ctx, forcing, 2, 1, nf - 1)};
    return tg_concat(ctx, parts, 2, 2);
}
