/* bmi_hbv.c — HBV with given parameters, one day per update: the library's HBV kernel
 * run for one step from the stores the previous step left (tg_hbv_forward with T = 1, no
 * warm-up), then the gamma unit hydrograph applied to a buffer of the last TG_UH_LEN days
 * of unrouted runoff (and of each of its three parts) — the same sum, in the same order, as tg_uh_conv_forward, so a run
 * equals `terragrad simulate` (routing starts with zero runoff before the start day). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgbmi.h"

static int check_params(const tgbmi *m)
{
    char buf[96];
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        for (int k = 0; k < m->M; k++)
            if (!tg_domain_contains(&tg_hbv_param_domain[p], m->cfg.params[(size_t)p * m->M + k]))
                return tg_error_set(TG_EINVAL, "bmi: basin %s, component %d: %s = %g is outside its domain (%s)",
                                    m->cfg.basin, k + 1, tg_hbv_param_names[p], m->cfg.params[(size_t)p * m->M + k],
                                    tg_domain_format(&tg_hbv_param_domain[p], tg_hbv_param_names[p], buf, sizeof buf));
    return 0;
}

/* Runs the warm-up days before the start from the basin's CSV (as simulate's warm-up). */
static int warmup_from_data(tgbmi *m)
{
    const int W = m->cfg.warmup_days, first = m->cfg.start_day - W;
    tg_basin b;
    int rc = tg_csv_read_file(m->cfg.data_file, m->cfg.basin, &b);
    if (rc)
        return rc;
    rc = tg_basin_require(&b, TG_VAR_BIT(TG_VAR_P) | TG_VAR_BIT(TG_VAR_TEMP) | TG_VAR_BIT(TG_VAR_PET), "HBV warm-up");
    char d0[16], d1[16], d2[16], d3[16];
    if (!rc && (first < b.start || first + W > b.start + b.T))
        rc = tg_error_set(TG_EINVAL, "%s: the %d warm-up days %s..%s are not all in the file (%s..%s)",
                          m->cfg.data_file, W, tg_date_format(first, d0), tg_date_format(first + W - 1, d1),
                          tg_date_format(b.start, d2), tg_date_format(b.start + b.T - 1, d3));
    tg_real *forc = rc ? NULL : malloc((size_t)W * 3 * sizeof(tg_real));
    if (!rc && !forc)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    const int v[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    for (int t = 0; !rc && t < W; t++)
        for (int k = 0; k < 3 && !rc; k++) {
            tg_real x = b.var[v[k]][first - b.start + t];
            if (isnan((double)x))
                rc = tg_error_set(TG_EINVAL, "%s: %s, field '%s': missing forcing in the warm-up", m->cfg.data_file,
                                  tg_date_format(first + t, d0), tg_var_name(v[k]));
            forc[(size_t)t * 3 + k] = x;
        }
    if (!rc)
        rc = tgbmi_hbv_warmup(m, forc, W);
    free(forc);
    tg_basin_free(&b);
    return rc;
}

int tgbmi_hbv_alloc(tgbmi *m, int M)
{
    m->M = M;
    m->par = malloc((size_t)TG_HBV_NPARAM * M * sizeof(tg_real));
    m->store = malloc((size_t)TG_HBV_NSTATE * M * sizeof(double));
    m->step_buf = malloc((size_t)2 * TG_HBV_NSTATE * M * sizeof(tg_real));
    if (!m->par || !m->store || !m->step_buf)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (int i = 0; i < TG_HBV_NSTATE * M; i++)
        m->store[i] = (double)(tg_real)TG_HBV_INIT_STORE;
    memset(m->qbuf, 0, sizeof m->qbuf);
    tg_hbv_config_init(&m->step_cfg, 1, 0, 1, M);
    return 0;
}

void tgbmi_hbv_set_routing(tgbmi *m, double a, double theta)
{
    m->routed = a > 0 && theta > 0 && isfinite(a) && isfinite(theta); /* NaN or 0: none */
    if (m->routed) {
        tg_real ra = (tg_real)a, rt = (tg_real)theta;
        tg_uh_gamma_forward(m->uh, &ra, &rt, 1);
    }
}

int tgbmi_hbv_warmup(tgbmi *m, const tg_real *forcing, int T)
{
    tg_hbv_config c = m->step_cfg; /* smoothing as the steps; every parameter static */
    c.T = T;
    c.warmup = 0;
    c.dynamic = 0;
    tg_real *fin = malloc((size_t)TG_HBV_NSTATE * m->M * sizeof(tg_real));
    int rc = fin ? tg_hbv_config_check(&c) : tg_error_set(TG_ENOMEM, "out of memory");
    if (!rc)
        rc = tg_hbv_forward(NULL, NULL, fin, NULL, forcing, m->par, NULL, NULL, &c);
    for (int i = 0; !rc && i < TG_HBV_NSTATE * m->M; i++)
        m->store[i] = (double)fin[i];
    free(fin);
    return rc;
}

int tgbmi_hbv_setup(tgbmi *m)
{
    int rc = tgbmi_hbv_alloc(m, m->cfg.M);
    if (!rc)
        rc = check_params(m);
    if (rc)
        return rc;
    for (int i = 0; i < TG_HBV_NPARAM * m->M; i++)
        m->par[i] = (tg_real)m->cfg.params[i];
    tgbmi_hbv_set_routing(m, m->cfg.route_a, m->cfg.route_theta);
    if (m->cfg.warmup_policy == TGBMI_WARMUP_DATA && m->cfg.warmup_days > 0)
        rc = warmup_from_data(m);
    return rc;
}

int tgbmi_hbv_step(tgbmi *m, const tg_real *forcing)
{
    const int M = m->M;
    tg_real out[TG_HBV_NOUT], *si = m->step_buf, *sf = m->step_buf + (size_t)TG_HBV_NSTATE * M;
    for (int i = 0; i < TG_HBV_NSTATE * M; i++)
        si[i] = (tg_real)m->store[i];
    int rc = tg_hbv_forward(out, NULL, sf, NULL, forcing, m->par, m->par_dyn, si, &m->step_cfg);
    for (int i = 0; !rc && i < TG_HBV_NSTATE * M; i++)
        m->store[i] = (double)sf[i];
    if (rc)
        return rc;
    const double r = m->cfg.per_hour ? 1.0 / 24.0 : 1.0; /* flux units: mm d-1 -> framework's */
    const int from[4] = {TG_HBV_Q, TG_HBV_Q0, TG_HBV_Q1, TG_HBV_Q2};
    const int to[4] = {TGBMI_O_Q, TGBMI_O_Q0, TGBMI_O_Q1, TGBMI_O_Q2};
    for (int j = 0; j < 4; j++) {
        double *h = m->qbuf[j];
        memmove(h + 1, h, (TG_UH_LEN - 1) * sizeof(double));
        h[0] = (double)out[from[j]];
        tg_real q = out[from[j]];
        if (m->routed) { /* as tg_uh_conv_forward: y = sum_k w_k q[t-k], k ascending */
            q = 0;
            for (int k = 0; k < TG_UH_LEN; k++)
                q += m->uh[k] * (tg_real)h[k];
        }
        m->out[to[j]] = (double)q * r;
    }
    m->out[TGBMI_O_QUNROUTED] = (double)out[TG_HBV_Q] * r;
    m->out[TGBMI_O_ET] = (double)out[TG_HBV_ET] * r;
    m->out[TGBMI_O_SWE] = (double)out[TG_HBV_SWE];
    m->out[TGBMI_O_SM] = (double)out[TG_HBV_SM];
    m->out[TGBMI_O_SUZ] = (double)out[TG_HBV_SUZ];
    m->out[TGBMI_O_SLZ] = (double)out[TG_HBV_SLZ];
    m->out[TGBMI_O_MELTWATER] = (double)out[TG_HBV_MELTWATER];
    return 0;
}

void tgbmi_hbv_free(tgbmi *m)
{
    free(m->par);
    free(m->par_dyn);
    free(m->store);
    free(m->step_buf);
    m->par = m->par_dyn = m->step_buf = NULL;
    m->store = NULL;
}
