/* penalty.c — physics-guided loss terms (water balance, parameter range, monotonicity of a
 * learned function), each with its weight from the physics.* keys, built from core ops so
 * their gradients flow to whatever produced the inputs. See penalty.h, docs/hybrid.md. */
#include <string.h>

#include "penalty.h"

static const tg_cfg_key physics_keys[] = {
    {"physics.water_balance", TG_CFG_FLOAT, 0, "0",
     "weight of the water-balance residual penalty (mean squared relative residual per window)", NULL},
    {"physics.range", TG_CFG_FLOAT, 0, "0", "weight of the penalty on learned parameters near their bounds", NULL},
    {"physics.range_margin", TG_CFG_FLOAT, 0, "0.05",
     "fraction of a parameter's range at either end where the range penalty acts", NULL},
    {"physics.monotone", TG_CFG_FLOAT, 0, "0",
     "weight of the monotonicity penalty on a learned function (hybrid: g non-decreasing in SM/FC)", NULL},
};

const tg_loss_extension tg_loss_extension_physics = {
    .name = "physics",
    .keys = physics_keys,
    .n_keys = (int)(sizeof physics_keys / sizeof physics_keys[0]),
};

int tg_physics_read(const tg_cfg *cfg, tg_physics_weights *w)
{
    memset(w, 0, sizeof *w);
    static const char *const keys[] = {"physics.water_balance", "physics.range", "physics.range_margin",
                                       "physics.monotone"};
    double *dst[] = {&w->water_balance, &w->range, &w->range_margin, &w->monotone};
    for (int k = 0; k < 4; k++) {
        *dst[k] = tg_cfg_float(cfg, keys[k]);
        if (!(*dst[k] >= 0))
            return tg_error_set(TG_EINVAL, "%s:%d: %s must be >= 0", tg_cfg_path(cfg), tg_cfg_line(cfg, keys[k]),
                                keys[k]);
    }
    if (w->range_margin <= 0 || w->range_margin >= 0.5)
        return tg_error_set(TG_EINVAL, "%s:%d: physics.range_margin must be in (0, 0.5)", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "physics.range_margin"));
    return 0;
}

int tg_physics_any(const tg_physics_weights *w) { return w->water_balance > 0 || w->range > 0 || w->monotone > 0; }

static tg_tensor *store_sum(tg_ctx *ctx, tg_tensor *row /* (NOUT, nb) */)
{
    static const int stores[] = {TG_HBV_SWE, TG_HBV_MELTWATER, TG_HBV_SM, TG_HBV_SUZ, TG_HBV_SLZ};
    tg_tensor *s = tg_select(ctx, row, 0, stores[0]);
    for (int i = 1; i < 5; i++) s = tg_add(ctx, s, tg_select(ctx, row, 0, stores[i]));
    return s;
}

static tg_tensor *water_balance(tg_ctx *ctx, tg_tensor *fl)
{
    const int Lp = fl->shape[0];
    if (fl->ndim != 3 || fl->shape[1] != TG_HBV_NOUT || Lp < 2) {
        tg_error_set(TG_ESHAPE, "physics.water_balance: fluxes must be (days >= 2, %d, basins)", TG_HBV_NOUT);
        return NULL;
    }
    tg_tensor *d = tg_slice(ctx, fl, 0, 1, Lp - 1); /* days 1..Lp-1: day 0's stores start the balance */
    tg_tensor *in = tg_sum_axis(ctx, tg_add(ctx, tg_select(ctx, d, 1, TG_HBV_RAIN), tg_select(ctx, d, 1, TG_HBV_SNOW)), 0, 0);
    tg_tensor *out = tg_sum_axis(ctx, tg_add(ctx, tg_select(ctx, d, 1, TG_HBV_ET), tg_select(ctx, d, 1, TG_HBV_Q)), 0, 0);
    tg_tensor *ds = tg_sub(ctx, store_sum(ctx, tg_select(ctx, fl, 0, Lp - 1)), store_sum(ctx, tg_select(ctx, fl, 0, 0)));
    /* relative to the window's inputs (+ 1 mm so a dry window does not divide by ~0) */
    tg_tensor *r = tg_div(ctx, tg_sub(ctx, tg_sub(ctx, in, out), ds), tg_adds(ctx, in, TG_R(1.0)));
    return tg_mean(ctx, tg_mul(ctx, r, r));
}

static tg_tensor *range_penalty(tg_ctx *ctx, tg_tensor *par, uint32_t mask, double margin)
{
    if (par->ndim != 3 || par->shape[0] != TG_HBV_NPARAM) {
        tg_error_set(TG_ESHAPE, "physics.range: parameters must be (%d, basins, components)", TG_HBV_NPARAM);
        return NULL;
    }
    tg_real lo[TG_HBV_NPARAM], inv[TG_HBV_NPARAM], wt[TG_HBV_NPARAM];
    int cnt = 0;
    for (int p = 0; p < TG_HBV_NPARAM; p++) cnt += (mask >> p) & 1u;
    if (!cnt) return NULL;
    const double norm = 1.0 / ((double)cnt * (double)par->shape[1] * (double)par->shape[2] * margin * margin);
    for (int p = 0; p < TG_HBV_NPARAM; p++) {
        lo[p] = (tg_real)tg_hbv_param_range[p][0];
        inv[p] = (tg_real)(1.0 / (tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]));
        wt[p] = (mask >> p) & 1u ? (tg_real)norm : TG_R(0.0);
    }
    tg_tensor *u = tg_mul(ctx, tg_sub(ctx, par, tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, 1, 1), lo)),
                          tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, 1, 1), inv));
    tg_tensor *a = tg_relu(ctx, tg_rsubs(ctx, u, (tg_real)margin));
    tg_tensor *b = tg_relu(ctx, tg_adds(ctx, u, (tg_real)(margin - 1.0)));
    tg_tensor *sq = tg_add(ctx, tg_mul(ctx, a, a), tg_mul(ctx, b, b));
    return tg_sum(ctx, tg_mul(ctx, sq, tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, 1, 1), wt)));
}

static tg_tensor *monotone_penalty(tg_ctx *ctx, tg_tensor *c)
{
    if (c->ndim != 2 || c->shape[1] < 2) {
        tg_error_set(TG_ESHAPE, "physics.monotone: the learned curve must be (rows, points >= 2)");
        return NULL;
    }
    const int K = c->shape[1];
    tg_tensor *drop = tg_relu(ctx, tg_sub(ctx, tg_slice(ctx, c, 1, 0, K - 1), tg_slice(ctx, c, 1, 1, K - 1)));
    return tg_muls(ctx, tg_sum(ctx, drop), (tg_real)(1.0 / c->shape[0]));
}

int tg_physics_penalty(tg_ctx *ctx, const tg_physics_weights *w, const tg_physics_terms *t, tg_tensor **penalty)
{
    *penalty = NULL;
    tg_tensor *sum = NULL, *term;
    if (w->water_balance > 0 && t->fluxes) {
        if (!(term = water_balance(ctx, t->fluxes))) return tg_ctx_status(ctx) ? tg_ctx_status(ctx) : tg_error_code();
        term = tg_muls(ctx, term, (tg_real)w->water_balance);
        sum = sum ? tg_add(ctx, sum, term) : term;
    }
    if (w->range > 0 && t->par_static && t->range_mask) {
        if (!(term = range_penalty(ctx, t->par_static, t->range_mask, w->range_margin)))
            return tg_ctx_status(ctx) ? tg_ctx_status(ctx) : tg_error_code();
        term = tg_muls(ctx, term, (tg_real)w->range);
        sum = sum ? tg_add(ctx, sum, term) : term;
    }
    if (w->monotone > 0 && t->curve) {
        if (!(term = monotone_penalty(ctx, t->curve))) return tg_ctx_status(ctx) ? tg_ctx_status(ctx) : tg_error_code();
        term = tg_muls(ctx, term, (tg_real)w->monotone);
        sum = sum ? tg_add(ctx, sum, term) : term;
    }
    *penalty = sum;
    return tg_ctx_status(ctx);
}
