/* hbv_run.c — HBV with given parameters, one basin at a time (basins may have different
 * record lengths), and pooled-loss sensitivities straight from the hand-written backward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad.h"

const char *const tg_sim_output_names[TG_SIM_NOUT] = {
    "Q", "Q_unrouted", "Q0", "Q1", "Q2", "ET", "PET", "rain", "snow", "melt", "SWE", "SM", "SUZ", "SLZ",
    "recharge", "excess", "perc"};

/* which HBV output feeds each simulate column (-1: computed here) */
static const int sim_from_hbv[TG_SIM_NOUT] = {
    -1, TG_HBV_Q, TG_HBV_Q0, TG_HBV_Q1, TG_HBV_Q2, TG_HBV_ET, -1, TG_HBV_RAIN, TG_HBV_SNOW, TG_HBV_MELT,
    TG_HBV_SWE, TG_HBV_SM, TG_HBV_SUZ, TG_HBV_SLZ, TG_HBV_RECHARGE, TG_HBV_EXCESS, TG_HBV_PERC_OUT};

typedef struct {
    tg_hbv_config c;
    tg_real *par;     /* (NPARAM, M) */
    tg_real *hbv_out; /* (T-W, NOUT, 1) */
    tg_real *hist;    /* for backward, or NULL */
    tg_real w[TG_UH_LEN];
    tg_real a, theta;
    int routed;
} basin_run;

static void run_free(basin_run *r)
{
    tg_mem_free(r->par);
    tg_mem_free(r->hbv_out);
    tg_mem_free(r->hist);
}

static int run_forward(basin_run *r, const tg_real *forcing, int T, int W, const double *params, int M, double a,
                       double theta, int keep_hist, int warmup_grad)
{
    memset(r, 0, sizeof *r);
    if (W < 0 || W >= T)
        return tg_error_set(TG_EINVAL, "hbv: warm-up of %d days needs a record longer than %d days (have %d)", W, W, T);
    tg_hbv_config_init(&r->c, T, W, 1, M);
    r->c.warmup_grad = warmup_grad;
    int rc = tg_hbv_config_check(&r->c);
    if (rc)
        return rc;
    r->par = tg_mem_alloc((size_t)TG_HBV_NPARAM * M * sizeof(tg_real));
    r->hbv_out = tg_mem_alloc((size_t)(T - W) * TG_HBV_NOUT * sizeof(tg_real));
    if (keep_hist)
        r->hist = tg_mem_alloc(tg_hbv_hist_size(&r->c) * sizeof(tg_real));
    if (!r->par || !r->hbv_out || (keep_hist && !r->hist))
        return tg_error_set(TG_ENOMEM, "hbv: out of memory for %d days", T);
    for (int i = 0; i < TG_HBV_NPARAM * M; i++)
        r->par[i] = (tg_real)params[i];
    rc = tg_hbv_forward(r->hbv_out, NULL, NULL, r->hist, forcing, r->par, NULL, NULL, &r->c);
    r->routed = isfinite(a) && isfinite(theta);
    if (!rc && r->routed) {
        r->a = (tg_real)a;
        r->theta = (tg_real)theta;
        tg_uh_gamma_forward(r->w, &r->a, &r->theta, 1);
    }
    return rc;
}

int tg_hbv_simulate_basin(tg_real *out, const tg_real *forcing, int T, int W, const double *params, int M, double a,
                          double theta)
{
    basin_run r;
    int rc = run_forward(&r, forcing, T, W, params, M, a, theta, 0, 0);
    if (!rc) {
        int n = T - W;
        for (int t = 0; t < n; t++)
            for (int k = 0; k < TG_SIM_NOUT; k++) {
                int h = sim_from_hbv[k];
                out[(size_t)t * TG_SIM_NOUT + k] = h >= 0 ? r.hbv_out[(size_t)t * TG_HBV_NOUT + h] : 0;
            }
        for (int t = 0; t < n; t++)
            out[(size_t)t * TG_SIM_NOUT + TG_SIM_PET] = forcing[(size_t)(W + t) * 3 + TG_HBV_F_PET];
        if (r.routed) { /* route Q and its three parts; zero runoff assumed before the first day */
            int parts[4][2] = {{TG_SIM_Q, TG_HBV_Q}, {TG_SIM_Q0, TG_HBV_Q0}, {TG_SIM_Q1, TG_HBV_Q1}, {TG_SIM_Q2, TG_HBV_Q2}};
            for (int j = 0; j < 4; j++)
                tg_uh_conv_forward(out + parts[j][0], TG_SIM_NOUT, r.hbv_out + parts[j][1], TG_HBV_NOUT, r.w, n, 1);
        } else
            for (int t = 0; t < n; t++)
                out[(size_t)t * TG_SIM_NOUT + TG_SIM_Q] = out[(size_t)t * TG_SIM_NOUT + TG_SIM_Q_UNROUTED];
    }
    run_free(&r);
    return rc;
}

int tg_hbv_sensitivity(double *loss, double *g_params, double *g_route, int B, const tg_real *const *forcing,
                       const tg_real *const *obs, const int *T, int W, const double *params, int M, const double *a,
                       const double *theta, int loss_kind, int warmup_grad)
{
    basin_run *runs = tg_mem_calloc((size_t)B, sizeof *runs);
    tg_real **q = tg_mem_calloc((size_t)B, sizeof *q);
    if (!runs || !q) {
        tg_mem_free(runs);
        tg_mem_free(q);
        return tg_error_set(TG_ENOMEM, "sensitivity: out of memory");
    }
    int rc = 0;
    /* forward for every basin, keeping the state history */
    for (int b = 0; b < B && !rc; b++) {
        rc = run_forward(&runs[b], forcing[b], T[b], W, params + (size_t)b * TG_HBV_NPARAM * M, M, a ? a[b] : (double)NAN,
                         theta ? theta[b] : (double)NAN, 1, warmup_grad);
        int n = T[b] - W;
        if (!rc && !(q[b] = tg_mem_alloc((size_t)n * sizeof(tg_real))))
            rc = tg_error_set(TG_ENOMEM, "sensitivity: out of memory");
        if (rc)
            break;
        if (runs[b].routed)
            tg_uh_conv_forward(q[b], 1, runs[b].hbv_out + TG_HBV_Q, TG_HBV_NOUT, runs[b].w, n, 1);
        else
            for (int t = 0; t < n; t++)
                q[b][t] = runs[b].hbv_out[(size_t)t * TG_HBV_NOUT + TG_HBV_Q];
    }
    /* pooled loss (double accumulation, basin order fixed) */
    double sse = 0, so = 0, so2 = 0;
    long N = 0;
    for (int b = 0; b < B && !rc; b++)
        for (int t = 0; t < T[b] - W; t++) {
            double o = (double)obs[b][W + t];
            if (isnan(o))
                continue;
            double d = (double)q[b][t] - o;
            sse += d * d;
            so += o;
            so2 += o * o;
            N++;
        }
    if (!rc && N == 0)
        rc = tg_error_set(TG_EINVAL, "sensitivity: no observed Q after the warm-up");
    double scale = 0; /* dL/dq_t = scale * (q_t - o_t) */
    if (!rc) {
        double mse = sse / (double)N, sst = so2 - so * so / (double)N;
        switch (loss_kind) {
        case TG_SENS_MSE: *loss = mse; scale = 2.0 / (double)N; break;
        case TG_SENS_RMSE: *loss = sqrt(mse); scale = mse > 0 ? 1.0 / ((double)N * sqrt(mse)) : 0; break;
        default:
            if (!(sst > 0))
                rc = tg_error_set(TG_EINVAL, "sensitivity: NSE loss needs observed flows that vary");
            else {
                *loss = sse / sst;
                scale = 2.0 / sst;
            }
        }
    }
    /* backward per basin: routing, then HBV */
    for (int b = 0; b < B && !rc; b++) {
        basin_run *r = &runs[b];
        int n = T[b] - W;
        tg_real *gy = tg_mem_calloc((size_t)n, sizeof(tg_real));
        tg_real *gout = tg_mem_calloc((size_t)n * TG_HBV_NOUT, sizeof(tg_real));
        tg_real *gpar = tg_mem_calloc((size_t)TG_HBV_NPARAM * M, sizeof(tg_real));
        if (!gy || !gout || !gpar)
            rc = tg_error_set(TG_ENOMEM, "sensitivity: out of memory");
        for (int t = 0; !rc && t < n; t++) {
            double o = (double)obs[b][W + t];
            gy[t] = isnan(o) ? 0 : (tg_real)(scale * ((double)q[b][t] - o));
        }
        if (!rc && r->routed) {
            tg_real gw[TG_UH_LEN] = {0}, ga = 0, gt = 0;
            tg_uh_conv_backward(gout + TG_HBV_Q, TG_HBV_NOUT, gw, gy, 1, r->hbv_out + TG_HBV_Q, TG_HBV_NOUT, r->w, n, 1);
            tg_uh_gamma_backward(&ga, &gt, gw, r->w, &r->a, &r->theta, 1);
            g_route[2 * b] = (double)ga;
            g_route[2 * b + 1] = (double)gt;
        } else if (!rc) {
            for (int t = 0; t < n; t++)
                gout[(size_t)t * TG_HBV_NOUT + TG_HBV_Q] = gy[t];
            if (g_route)
                g_route[2 * b] = g_route[2 * b + 1] = (double)NAN;
        }
        if (!rc)
            rc = tg_hbv_backward(gpar, NULL, NULL, NULL, gout, NULL, NULL, r->hist, forcing[b], r->par, NULL, &r->c);
        for (int i = 0; !rc && i < TG_HBV_NPARAM * M; i++)
            g_params[(size_t)b * TG_HBV_NPARAM * M + i] = (double)gpar[i];
        tg_mem_free(gy);
        tg_mem_free(gout);
        tg_mem_free(gpar);
    }
    for (int b = 0; b < B; b++) {
        run_free(&runs[b]);
        tg_mem_free(q[b]);
    }
    tg_mem_free(runs);
    tg_mem_free(q);
    return rc;
}
