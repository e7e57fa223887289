/* model_hybrid.c — hybrid HBV: as δHBV (LSTM head -> HBV parameters, routing), but HBV's
 * ET limitation clamp((SM/(LP FC))^BETAET, 0, 1) is replaced by a small MLP g(SM/FC, T)
 * shared by all basins and trained end to end (tg_hbv_hybrid_op: one fused tape node
 * whose backward also gives the MLP's weight gradients). Physics-guided penalties
 * (penalty.h) from the physics.* keys. */
#include <stdlib.h>
#include <string.h>

#include "model_hybrid.h"
#include "penalty.h"

typedef struct hybrid_impl {
    tg_hybrid_mlp net;
    int wid;                 /* parameter id of the MLP weights */
    tg_physics_weights pw;
} hybrid_impl;

/* The learned function on this grid feeds the monotonicity penalty: SM/FC in [0, 1.2]
 * at a few temperatures. */
enum { MONO_K = 25, MONO_R = 4 };
static const double mono_T[MONO_R] = {0.0, 8.0, 16.0, 24.0};

static const tg_cfg_key hybrid_keys[] = {
    {"hybrid.hidden", TG_CFG_INT, 0, "16", "hybrid: width of the two hidden layers of the ET-limitation MLP g(SM/FC, T)",
     NULL},
    {"hybrid.g_init", TG_CFG_FLOAT, 0, "0.5", "hybrid: value of g at the origin of its inputs after initialisation",
     NULL},
};

extern const tg_model_kind tg_model_kind_hybrid;

static int hybrid_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps, int *n_out)
{
    (void)d;
    int rc = tg_model_dhbv_read_config(m, cfg);
    if (rc) return rc;
    *n_out = m->n_out_params;
    hybrid_impl *h = calloc(1, sizeof *h);
    if (!h) return tg_error_set(TG_ENOMEM, "hybrid: out of memory");
    m->impl = h;
    int hidden = (int)tg_cfg_int(cfg, "hybrid.hidden");
    if (hidden < 1 || hidden > TG_HYBRID_MAX_HIDDEN)
        return tg_error_set(TG_EINVAL, "%s:%d: hybrid.hidden must be in 1..%d", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "hybrid.hidden"), TG_HYBRID_MAX_HIDDEN);
    double g0 = tg_cfg_float(cfg, "hybrid.g_init");
    if (!(g0 > 0 && g0 < 1))
        return tg_error_set(TG_EINVAL, "%s:%d: hybrid.g_init must be in (0, 1)", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "hybrid.g_init"));
    tg_hybrid_mlp_init(&h->net, hidden);
    if ((rc = tg_physics_read(cfg, &h->pw))) return rc;
    h->wid = tg_params_add(ps, "hybrid.g", TG_SHAPE((int)tg_hybrid_mlp_size(&h->net)));
    return h->wid < 0 ? tg_error_code() : 0;
}

static int hybrid_init_weights(const tg_model *m, tg_params *ps, tg_rng *rng, const tg_cfg *cfg)
{
    const hybrid_impl *h = m->impl;
    tg_hybrid_mlp_reset(&h->net, tg_params_data(ps, h->wid), rng, tg_cfg_float(cfg, "hybrid.g_init"));
    return 0;
}

static void hybrid_free(tg_model *m) { free(m->impl); }

static int hybrid_forward(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *y, tg_tensor *forcing, int L,
                          int nb, int train, tg_model_out *out)
{
    (void)train;
    const hybrid_impl *h = m->impl;
    tg_tensor *par_static, *par_dyn, *last;
    int rc = tg_model_dhbv_params(m, ctx, ps, y, L, nb, &par_static, &par_dyn, &last);
    if (rc) return rc;
    tg_hbv_config c = m->hbv;
    c.T = L;
    c.warmup = m->hbv_warmup;
    c.B = nb;
    c.M = m->M;
    tg_tensor *w = tg_param(ctx, ps, h->wid), *fluxes = NULL;
    rc = tg_hbv_hybrid_op(ctx, &c, &h->net, forcing, par_static, par_dyn, NULL, w, &fluxes, NULL, NULL);
    if (rc) return rc;
    out->par_static = par_static;
    out->par_dyn = par_dyn;
    if ((rc = tg_model_dhbv_route(m, ctx, last, fluxes, out))) return rc;
    if (!tg_physics_any(&h->pw)) return 0;
    tg_physics_terms terms = {0};
    terms.fluxes = fluxes;
    terms.par_static = par_static;
    terms.range_mask = TG_HBV_ALL_PARAMS & ~((1u << TG_HBV_LP) | (1u << TG_HBV_BETAET)); /* not used here */
    if (h->pw.monotone > 0) {
        tg_real grid[MONO_R * MONO_K * 2];
        for (int r = 0; r < MONO_R; r++)
            for (int k = 0; k < MONO_K; k++) {
                grid[2 * (r * MONO_K + k)] = (tg_real)(1.2 * k / (MONO_K - 1));
                grid[2 * (r * MONO_K + k) + 1] = (tg_real)mono_T[r];
            }
        tg_tensor *g = tg_hybrid_mlp_op(ctx, &h->net, w, tg_from(ctx, TG_SHAPE(MONO_R * MONO_K, 2), grid));
        terms.curve = tg_reshape(ctx, g, TG_SHAPE(MONO_R, MONO_K));
        if (!terms.curve) return tg_ctx_status(ctx) ? tg_ctx_status(ctx) : tg_error_code();
    }
    return tg_physics_penalty(ctx, &h->pw, &terms, &out->penalty);
}

int tg_model_hybrid_mlp(const tg_model *m, tg_hybrid_mlp *net, int *weights_id)
{
    if (m->kind != &tg_model_kind_hybrid || !m->impl) return tg_error_set(TG_EINVAL, "not a hybrid model");
    const hybrid_impl *h = m->impl;
    *net = h->net;
    *weights_id = h->wid;
    return 0;
}

const tg_model_kind tg_model_kind_hybrid = {
    .takes_hidden = 1, /* y is the LSTM hidden state: tg_model_dhbv_params evaluates the head */
    .name = "hybrid",
    .build = hybrid_build,
    .init_weights = hybrid_init_weights,
    .forward = hybrid_forward,
    .free = hybrid_free,
    .keys = hybrid_keys,
    .n_keys = (int)(sizeof hybrid_keys / sizeof hybrid_keys[0]),
};
