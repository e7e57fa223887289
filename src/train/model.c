/* model.c — the trainable models of `terragrad train`:
 *   lstm: normalised forcing + attributes -> LSTM -> dropout -> linear -> streamflow
 *   dhbv: the same LSTM -> sigmoid -> HBV parameters (static from the window's last day,
 *         dynamic per day) -> HBV (one fused tape node) -> gamma unit-hydrograph routing
 *         (δHBV, Feng et al. 2022). */
#include <string.h>

#include "train_internal.h"


int tg_model_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps)
{
    memset(m, 0, sizeof *m);
    m->type = strcmp(tg_cfg_str(cfg, "model.type"), "dhbv") ? TG_MODEL_LSTM : TG_MODEL_DHBV;
    m->in = d->F + d->S;
    m->hidden = (int)tg_cfg_int(cfg, "model.hidden");
    m->dropout = tg_cfg_float(cfg, "model.dropout");
    m->q_mean = d->q_mean_all;
    m->q_std = d->q_std_all;
    if (m->hidden <= 0)
        return tg_error_set(TG_EINVAL, "%s: model.hidden must be positive", tg_cfg_path(cfg));
    if (m->dropout < 0 || m->dropout >= 1)
        return tg_error_set(TG_EINVAL, "%s: model.dropout must be in [0, 1)", tg_cfg_path(cfg));
    int rc = tg_lstm_layer_init(&m->lstm, ps, "lstm", m->in, m->hidden, (int)tg_cfg_int(cfg, "model.input_layer"));
    if (rc)
        return rc;
    int n_out = 1;
    if (m->type == TG_MODEL_DHBV) {
        m->M = (int)tg_cfg_int(cfg, "hbv.components");
        if (m->M <= 0)
            return tg_error_set(TG_EINVAL, "%s: hbv.components must be positive", tg_cfg_path(cfg));
        m->routing = tg_cfg_bool(cfg, "hbv.routing");
        m->hbv_warmup = (int)tg_cfg_int(cfg, "training.warmup");
        tg_hbv_config_init(&m->hbv, 1, 0, 1, m->M);
        m->hbv.dynamic = 0;
        for (int i = 0; i < tg_cfg_list_len(cfg, "hbv.dynamic"); i++) {
            const char *name = tg_cfg_list_item(cfg, "hbv.dynamic", i);
            int p = 0;
            while (p < TG_HBV_NPARAM && strcmp(tg_hbv_param_names[p], name))
                p++;
            if (p == TG_HBV_NPARAM)
                return tg_error_set(TG_EINVAL, "%s:%d: hbv.dynamic: '%s' is not an HBV parameter", tg_cfg_path(cfg),
                                    tg_cfg_line(cfg, "hbv.dynamic"), name);
            m->hbv.dynamic |= 1u << p;
        }
        m->hbv.warmup_grad = tg_cfg_bool(cfg, "hbv.warmup_grad");
        if (tg_cfg_bool(cfg, "hbv.smooth")) {
            m->hbv.smooth_temp = TG_R(0.5);
            m->hbv.smooth_store = TG_R(1.0);
        }
        m->n_out_params = TG_HBV_NPARAM * m->M + (m->routing ? 2 : 0);
        n_out = m->n_out_params;
    }
    return tg_linear_layer_init(&m->head, ps, "head", m->hidden, n_out, 1);
}

int tg_model_init_weights(const tg_model *m, tg_params *ps, tg_rng *rng, const tg_cfg *cfg)
{
    int rc = tg_lstm_reset(&m->lstm, ps, TG_INIT_TORCH, rng);
    if (!rc)
        rc = tg_lstm_set_forget_bias(&m->lstm, ps, tg_cfg_float(cfg, "model.forget_bias"));
    if (!rc)
        rc = tg_linear_reset(&m->head, ps, TG_INIT_TORCH, rng);
    return rc;
}

static int dhbv_forward(const tg_model *m, tg_ctx *ctx, tg_tensor *y, tg_tensor *forcing, int L, int nb,
                        tg_model_out *out)
{
    const int M = m->M, NP = TG_HBV_NPARAM, W = m->hbv_warmup;
    if (W >= L)
        return tg_error_set(TG_EINVAL, "dhbv: window of %d days is not longer than the warm-up (%d)", L, W);
    tg_tensor *u = tg_sigmoid(ctx, y); /* (L, nb, K) */
    /* static parameters from the window's last day: (nb, NP, M) -> (NP, nb, M) */
    tg_tensor *last = tg_select(ctx, u, 0, L - 1);
    tg_tensor *us = tg_reshape(ctx, tg_slice(ctx, last, 1, 0, NP * M), TG_SHAPE(nb, NP, M));
    tg_tensor *par_static = tg_hbv_scale_op(ctx, tg_transpose(ctx, us, 0, 1), TG_HBV_ALL_PARAMS);
    /* dynamic parameters on the days after the warm-up: (L-W, ndyn, nb, M) */
    tg_tensor *par_dyn = NULL;
    if (m->hbv.dynamic) {
        tg_tensor *ud = tg_slice(ctx, tg_slice(ctx, u, 0, W, L - W), 2, 0, NP * M);
        ud = tg_reshape(ctx, ud, TG_SHAPE(L - W, nb, NP, M));
        tg_tensor *rows[TG_HBV_NPARAM];
        int nd = 0;
        for (int p = 0; p < NP; p++)
            if (m->hbv.dynamic & (1u << p))
                rows[nd++] = tg_select(ctx, ud, 2, p); /* (L-W, nb, M) */
        par_dyn = tg_hbv_scale_op(ctx, tg_stack(ctx, rows, nd, 1), m->hbv.dynamic);
    }
    tg_hbv_config c = m->hbv;
    c.T = L;
    c.warmup = W;
    c.B = nb;
    c.M = M;
    tg_tensor *fluxes = NULL;
    if (tg_ctx_status(ctx))
        return tg_ctx_status(ctx);
    int rc = tg_hbv_op(ctx, &c, forcing, par_static, par_dyn, NULL, &fluxes, NULL, NULL); /* (L-W, NOUT, nb) */
    if (rc)
        return rc;
    tg_tensor *q = tg_select(ctx, fluxes, 1, TG_HBV_Q); /* (L-W, nb) */
    out->routing = NULL;
    if (m->routing) {
        tg_tensor *a = NULL, *theta = NULL;
        if ((rc = tg_routing_params_op(ctx, tg_slice(ctx, last, 1, NP * M, 2), &a, &theta)))
            return rc;
        out->routing = tg_stack(ctx, (tg_tensor *[]){a, theta}, 2, 0);
        q = tg_routing_op(ctx, q, a, theta);
    }
    out->q = q;
    out->fluxes = fluxes;
    out->par_static = par_static;
    out->skip = W;
    return q ? 0 : tg_ctx_status(ctx);
}

int tg_model_forward(const tg_model *m, tg_ctx *ctx, tg_params *ps, const tg_real *x, const tg_real *forcing, int L,
                     int nb, int train, tg_rng *rng, tg_model_out *out)
{
    memset(out, 0, sizeof *out);
    tg_tensor *xt = tg_from(ctx, TG_SHAPE(L, nb, m->in), x);
    tg_tensor *h = tg_lstm(ctx, ps, &m->lstm, xt, NULL, NULL, NULL);
    if (m->type == TG_MODEL_LSTM) {
        h = tg_dropout(ctx, h, m->dropout, train, rng);
        tg_tensor *y = tg_linear(ctx, ps, &m->head, h); /* (L, nb, 1) */
        y = tg_reshape(ctx, y, TG_SHAPE(L, nb));
        out->q = tg_adds(ctx, tg_muls(ctx, y, (tg_real)m->q_std), (tg_real)m->q_mean);
        out->skip = 0;
        return out->q ? 0 : tg_ctx_status(ctx);
    }
    tg_tensor *y = tg_linear(ctx, ps, &m->head, h); /* (L, nb, K) */
    tg_tensor *f = tg_from(ctx, TG_SHAPE(L, nb, TG_HBV_NFORCING), forcing);
    if (!y || !f)
        return tg_ctx_status(ctx);
    return dhbv_forward(m, ctx, y, f, L, nb, out);
}
