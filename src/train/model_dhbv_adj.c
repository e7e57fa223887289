/* model_dhbv_adj.c — δHBV.adj: the δHBV pipeline (LSTM head -> sigmoid -> static and
 * dynamic HBV parameters -> HBV -> gamma routing) with the IMPLICIT HBV of
 * terragrad/hbv_implicit.h in place of the explicit one: smooth ODE fluxes, backward Euler
 * (or Crank–Nicolson) per day, Newton per (basin, component) lane, adjoint gradients.
 * Shares the hbv.* keys (components, dynamic, warm-up, routing) with model.type dhbv; its
 * own keys are hbv_adj.*. */
#include <stdlib.h>
#include <string.h>

#include "terragrad/hbv_implicit.h"
#include "train_internal.h"

static const tg_cfg_key adj_keys[] = {
    {"hbv_adj.scheme", TG_CFG_STR, 0, "euler", "implicit HBV time stepping: backward Euler or Crank-Nicolson",
     "euler|cn"},
    {"hbv_adj.tol", TG_CFG_FLOAT, 0, NULL,
     "Newton tolerance: max|F| (mm) and relative step size; default 1e-12 (double build), 1e-5 (float)", NULL},
    {"hbv_adj.max_iter", TG_CFG_INT, 0, "30",
     "Newton iterations per day and lane (with backtracking line search)", NULL},
    {"hbv_adj.substeps", TG_CFG_INT, 0, "64",
     "a lane-day whose daily Newton solve fails is redone as 2, 4, ... up to this many implicit sub-steps "
     "(1 = off, at most 64); only if all fail does hbv_adj.unconverged apply", NULL},
    {"hbv_adj.unconverged", TG_CFG_STR, 0, "error",
     "a lane-day whose Newton solve does not converge: error (stop, naming the basin's position in the batch, "
     "component and day) or keep (keep the last iterate, count it and warn on stderr)", "error|keep"},
    {"hbv_adj.smooth_temp", TG_CFG_FLOAT, 0, "0.5", "degC width of the smooth rain/snow split and melt onset", NULL},
    {"hbv_adj.smooth_store", TG_CFG_FLOAT, 0, "1.0", "mm width of the smooth FC, UZL, CWH thresholds and store limiter",
     NULL},
    {"hbv_adj.smooth_et", TG_CFG_FLOAT, 0, "0.02", "width of the smooth min(1, (SM/(LP FC))^BETAET) of ET", NULL},
    {"hbv_adj.drain", TG_CFG_FLOAT, 0, "10", "1/day drainage rate of water above CWH*SNOWPACK and above FC", NULL},
};

static int adj_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps, int *n_out)
{
    (void)d;
    (void)ps;
    int rc = tg_model_dhbv_read_config(m, cfg);
    *n_out = m->n_out_params;
    if (rc)
        return rc;
    tg_hbvi_config *c = malloc(sizeof *c);
    if (!c)
        return tg_error_set(TG_ENOMEM, "dhbv_adj: out of memory");
    tg_hbvi_config_init(c, 2, 0, 1, m->M);
    c->scheme = strcmp(tg_cfg_str(cfg, "hbv_adj.scheme"), "cn") ? TG_HBVI_EULER : TG_HBVI_CN;
    if (tg_cfg_has(cfg, "hbv_adj.tol")) {
        double tol = tg_cfg_float(cfg, "hbv_adj.tol");
        if (!(tol > 0)) {
            free(c);
            return tg_error_set(TG_EINVAL, "%s:%d: hbv_adj.tol must be positive", tg_cfg_path(cfg),
                                tg_cfg_line(cfg, "hbv_adj.tol"));
        }
        c->newton.ftol = tol;
        c->newton.xtol = tol;
    }
    c->newton.max_iter = (int)tg_cfg_int(cfg, "hbv_adj.max_iter");
    c->newton.allow_unconverged = !strcmp(tg_cfg_str(cfg, "hbv_adj.unconverged"), "keep");
    const long substeps = tg_cfg_int(cfg, "hbv_adj.substeps");
    if (substeps < 1 || substeps > 64) {
        free(c);
        return tg_error_set(TG_EINVAL, "%s:%d: hbv_adj.substeps = %ld, need 1..64", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "hbv_adj.substeps"), substeps);
    }
    c->max_substeps = (int)substeps;
    c->w_temp = (tg_real)tg_cfg_float(cfg, "hbv_adj.smooth_temp");
    c->w_store = (tg_real)tg_cfg_float(cfg, "hbv_adj.smooth_store");
    c->w_et = (tg_real)tg_cfg_float(cfg, "hbv_adj.smooth_et");
    c->drain = (tg_real)tg_cfg_float(cfg, "hbv_adj.drain");
    const char *bad = c->newton.max_iter < 1 ? "hbv_adj.max_iter"
                      : !(c->w_temp > 0)      ? "hbv_adj.smooth_temp"
                      : !(c->w_store > 0)     ? "hbv_adj.smooth_store"
                      : !(c->w_et > 0)        ? "hbv_adj.smooth_et"
                      : !(c->drain > 0)       ? "hbv_adj.drain"
                                              : NULL;
    if (bad) {
        free(c);
        return tg_error_set(TG_EINVAL, "%s:%d: %s must be positive", tg_cfg_path(cfg), tg_cfg_line(cfg, bad), bad);
    }
    m->impl = c;
    return 0;
}

static int adj_forward(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *y, tg_tensor *forcing, int L, int nb,
                       int train, tg_model_out *out)
{
    (void)train;
    tg_tensor *par_static, *par_dyn, *last;
    int rc = tg_model_dhbv_params(m, ctx, ps, y, L, nb, &par_static, &par_dyn, &last);
    if (rc)
        return rc;
    tg_hbvi_config c = *(const tg_hbvi_config *)m->impl;
    c.hbv = m->hbv;
    c.hbv.T = L;
    c.hbv.warmup = m->hbv_warmup;
    c.hbv.B = nb;
    c.hbv.M = m->M;
    tg_tensor *fluxes = NULL;
    tg_hbvi_stats st;
    rc = tg_hbvi_op(ctx, &c, forcing, par_static, par_dyn, NULL, &fluxes, NULL, NULL, &st);
    if (rc)
        return tg_error_prefix(rc, "dhbv_adj: ");
    if (st.substepped) /* converged, but worth knowing: those days cost up to 126 solves */
        tg_log_message(TG_LOG_WARN, "dhbv_adj: %ld of %ld lane-days of this batch solved in sub-steps (daily Newton failed; "
                        "hbv_adj.substeps)\n",
                st.substepped, st.steps * (long)nb * m->M);
    if (st.unconverged) /* kept (hbv_adj.unconverged: keep): say so, never silently */
        tg_log_message(TG_LOG_WARN, "dhbv_adj: warning: Newton did not converge on %ld of %ld lane-days of this batch "
                        "(kept the last iterate; hbv_adj.unconverged: error stops instead)\n",
                st.unconverged, st.steps * (long)nb * m->M);
    out->par_static = par_static;
    out->par_dyn = par_dyn;
    return tg_model_dhbv_route(m, ctx, last, fluxes, out);
}

static void adj_free(tg_model *m)
{
    free(m->impl);
}

const tg_model_kind tg_model_kind_dhbv_adj = {
    .takes_hidden = 1, /* y is the LSTM hidden state: tg_model_dhbv_params evaluates the head */
    .name = "dhbv_adj",
    .build = adj_build,
    .forward = adj_forward,
    .free = adj_free,
    .keys = adj_keys,
    .n_keys = (int)(sizeof adj_keys / sizeof adj_keys[0]),
};
