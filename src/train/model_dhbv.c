/* model_dhbv.c — δHBV (Feng et al. 2022): LSTM head -> sigmoid -> HBV parameters (static
 * from the window's last day, dynamic per day) -> HBV (one fused tape node) -> gamma
 * unit-hydrograph routing. */
#include <string.h>

#include <stdlib.h>

#include "dhbv_static.h"
#include "penalty.h"
#include "train_internal.h"

typedef struct dhbv_impl {
    tg_physics_weights pw;  /* physics.* penalties (water balance, range) */
    tg_dhbv_static st;      /* static MLP head, precipitation multiplier (model.*) */
} dhbv_impl;

/* Shared by the HBV-based kinds: components, routing, warm-up, dynamic parameters, smoothing. */
static int read_hbv(tg_model *m, const tg_cfg *cfg, const tg_run_config *c)
{
    m->M = (int)c->hbv.components;
    if (m->M <= 0)
        return tg_error_set(TG_EINVAL, "%s: hbv.components must be positive", tg_cfg_path(cfg));
    m->routing = c->hbv.routing;
    m->hbv_warmup = (int)c->training.warmup;
    tg_hbv_config_init(&m->hbv, 1, 0, 1, m->M);
    m->hbv.dynamic = 0;
    m->hbv.capillary = c->hbv.capillary; /* δHBV 1.1p: parameter C, flux cap */
    const int NP = tg_hbv_nparam(&m->hbv);
    for (int i = 0; i < c->hbv.dynamic.n; i++) {
        const char *name = c->hbv.dynamic.items[i];
        int p = 0;
        while (p < NP && strcmp(tg_hbv_param_names[p], name))
            p++;
        if (p == NP)
            return tg_error_set(TG_EINVAL, "%s:%d: hbv.dynamic: '%s' is not an HBV parameter%s", tg_cfg_path(cfg),
                                tg_cfg_line(cfg, "hbv.dynamic"), name,
                                strcmp(name, "C") ? "" : " (C needs hbv.capillary: true)");
        m->hbv.dynamic |= 1u << p;
    }
    m->hbv.warmup_grad = c->hbv.warmup_grad;
    if (c->hbv.smooth) {
        m->hbv.smooth_temp = TG_R(0.5);
        m->hbv.smooth_store = TG_R(1.0);
    }
    m->n_out_params = NP * m->M + (m->routing ? 2 : 0);
    return 0;
}

int tg_model_dhbv_read_config(tg_model *m, const tg_cfg *cfg)
{
    tg_run_config c; /* the typed form of cfg; cfg gives the lines for messages */
    int rc = tg_run_config_from_cfg(cfg, &c);
    if (!rc)
        rc = read_hbv(m, cfg, &c);
    tg_run_config_free(&c);
    return rc;
}

static int dhbv_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps, int *n_out)
{
    int rc = tg_model_dhbv_read_config(m, cfg);
    *n_out = m->n_out_params;
    if (rc)
        return rc;
    dhbv_impl *im = calloc(1, sizeof *im);
    if (!im)
        return tg_error_set(TG_ENOMEM, "out of memory");
    m->impl = im;
    rc = tg_physics_read(cfg, &im->pw);
    return rc ? rc : tg_dhbv_static_build(&im->st, m, cfg, d, ps);
}

static int dhbv_init_weights(const tg_model *m, tg_params *ps, tg_rng *rng, const tg_cfg *cfg)
{
    (void)cfg;
    return tg_dhbv_static_init(&((const dhbv_impl *)m->impl)->st, ps, rng);
}

static void dhbv_free(tg_model *m)
{
    free(m->impl);
}

int tg_model_dhbv_params(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *h, int L, int nb,
                         tg_tensor **par_static, tg_tensor **par_dyn, tg_tensor **last)
{
    return tg_model_dhbv_params_from(m, ctx, ps, h, NULL, L, nb, par_static, par_dyn, last);
}

int tg_model_dhbv_params_from(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *h, tg_tensor *stat, int L,
                              int nb, tg_tensor **par_static, tg_tensor **par_dyn, tg_tensor **last)
{
    const int M = m->M, NP = tg_hbv_nparam(&m->hbv), W = m->hbv_warmup;
    if (W >= L)
        return tg_error_set(TG_EINVAL, "dhbv: window of %d days is not longer than the warm-up (%d)", L, W);
    /* The head is evaluated only where its outputs are used: all NP·M + 2 columns on the
     * window's last day (static parameters, routing), and each dynamic parameter's M columns
     * on the days after the warm-up — instead of every column on every day. */
    tg_tensor *w = tg_param(ctx, ps, m->head.w), *b = tg_param(ctx, ps, m->head.b); /* (K, H), (K) */
    tg_tensor *us; /* static parameters in (0, 1): (nb, NP, M) */
    if (!stat) {
        *last = tg_sigmoid(ctx, tg_linear_op(ctx, tg_select(ctx, h, 0, L - 1), w, b)); /* (nb, K) */
        us = tg_reshape(ctx, tg_slice(ctx, *last, 1, 0, NP * M), TG_SHAPE(nb, NP, M));
    } else {
        /* static head (nb, K) in the same layout: the static parameters and routing from it;
         * a dynamic parameter's static row (its value in the warm-up) stays the LSTM's
         * last day, as with the LSTM static head */
        *last = stat;
        us = tg_reshape(ctx, tg_slice(ctx, stat, 1, 0, NP * M), TG_SHAPE(nb, NP, M));
        if (m->hbv.dynamic) {
            tg_tensor *ul = tg_reshape(
                ctx, tg_sigmoid(ctx, tg_linear_op(ctx, tg_select(ctx, h, 0, L - 1), tg_slice(ctx, w, 0, 0, NP * M),
                                                  tg_slice(ctx, b, 0, 0, NP * M))),
                TG_SHAPE(nb, NP, M));
            tg_tensor *rows[TG_HBV_NPARAM_MAX];
            for (int p = 0; p < NP; p++)
                rows[p] = tg_select(ctx, m->hbv.dynamic & (1u << p) ? ul : us, 1, p); /* (nb, M) */
            us = tg_stack(ctx, rows, NP, 1);
        }
    }
    /* (nb, NP, M) -> (NP, nb, M) */
    *par_static = tg_hbv_scale_op(ctx, tg_transpose(ctx, us, 0, 1), tg_hbv_param_mask(&m->hbv));
    /* dynamic parameters on the days after the warm-up: (L-W, ndyn, nb, M) */
    *par_dyn = NULL;
    if (m->hbv.dynamic) {
        tg_tensor *hd = tg_slice(ctx, h, 0, W, L - W); /* (L-W, nb, H) */
        tg_tensor *rows[TG_HBV_NPARAM_MAX];
        int nd = 0;
        for (int p = 0; p < NP; p++)
            if (m->hbv.dynamic & (1u << p)) /* columns p·M .. p·M + M - 1 */
                rows[nd++] = tg_sigmoid(
                    ctx, tg_linear_op(ctx, hd, tg_slice(ctx, w, 0, p * M, M), tg_slice(ctx, b, 0, p * M, M)));
        *par_dyn = tg_hbv_scale_op(ctx, tg_stack(ctx, rows, nd, 1), m->hbv.dynamic);
    }
    return tg_ctx_status(ctx);
}

int tg_model_dhbv_route(const tg_model *m, tg_ctx *ctx, tg_tensor *last, tg_tensor *fluxes, tg_model_out *out)
{
    tg_tensor *q = tg_select(ctx, fluxes, 1, TG_HBV_Q); /* (L-W, nb) */
    out->routing = NULL;
    if (m->routing) {
        tg_tensor *a = NULL, *theta = NULL;
        int rc = tg_routing_params_op(ctx, tg_slice(ctx, last, 1, tg_hbv_nparam(&m->hbv) * m->M, 2), &a, &theta);
        if (rc)
            return rc;
        out->routing = tg_stack(ctx, (tg_tensor *[]){a, theta}, 2, 0);
        q = tg_routing_op(ctx, q, a, theta);
    }
    out->q = q;
    out->fluxes = fluxes;
    out->skip = m->hbv_warmup;
    return q ? 0 : tg_ctx_status(ctx);
}

static int dhbv_forward(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *h, tg_tensor *forcing, int L, int nb,
                        int train, tg_model_out *out)
{
    (void)train;
    const dhbv_impl *im = m->impl;
    tg_tensor *par_static, *par_dyn, *last, *stat, *pcorr, *sfcf;
    int rc = tg_dhbv_static_forward(&im->st, ctx, ps, out->attrs, nb, &stat, &pcorr, &sfcf);
    if (!rc)
        rc = tg_model_dhbv_params_from(m, ctx, ps, h, stat, L, nb, &par_static, &par_dyn, &last);
    if (rc)
        return rc;
    forcing = tg_dhbv_correct_precip(ctx, forcing, pcorr, sfcf, nb); /* HBV's P only: the network saw raw P */
    out->pcorr = pcorr;
    out->sfcf = sfcf;
    tg_hbv_config c = m->hbv;
    c.T = L;
    c.warmup = m->hbv_warmup;
    c.B = nb;
    c.M = m->M;
    tg_tensor *fluxes = NULL;
    /* (L-W, NOUT, nb), NOUT = 17 with hbv.capillary; training.checkpoint (kept in m->lstm.checkpoint) also checkpoints HBV */
    rc = tg_hbv_op_ckpt(ctx, &c, m->lstm.checkpoint, forcing, par_static, par_dyn, NULL, &fluxes, NULL, NULL);
    if (rc)
        return rc;
    out->par_static = par_static;
    out->par_dyn = par_dyn;
    if ((rc = tg_model_dhbv_route(m, ctx, last, fluxes, out)))
        return rc;
    const tg_physics_weights *pw = &im->pw;
    if (!tg_physics_any(pw))
        return 0;
    /* the physics penalties see the δHBV 1.0 rows (C is bounded by its sigmoid; cap moves water
     * between two stores and leaves the balance as it is) */
    if (c.capillary) {
        fluxes = tg_slice(ctx, fluxes, 1, 0, TG_HBV_NOUT);
        par_static = tg_slice(ctx, par_static, 0, 0, TG_HBV_NPARAM);
    }
    tg_physics_terms terms = {.fluxes = fluxes, .par_static = par_static, .range_mask = TG_HBV_ALL_PARAMS};
    return tg_physics_penalty(ctx, pw, &terms, &out->penalty);
}

const tg_model_kind tg_model_kind_dhbv = {
    .name = "dhbv",
    .build = dhbv_build,
    .init_weights = dhbv_init_weights,
    .forward = dhbv_forward,
    .free = dhbv_free,
    .takes_hidden = 1,
};
