/* hbv_grad.c — loss and exact gradient of several candidate parameter sets at once (one
 * lane each of a single-basin HBV run): forward with the state history, routing, the
 * objective's derivative with respect to simulated flow, then the routing and HBV
 * backward kernels. Used by the Adam calibration; checked against tg_hbv_sensitivity and
 * finite differences in tests/test_calibrate_grad.c.
 *
 * Objective derivatives (N scored days, o observed, s simulated, sums over scored days):
 *   1 - NSE = SSE / SST:        dL/ds_t = 2 (s_t - o_t) / SST
 *   RMSE = sqrt(SSE / N):       dL/ds_t = (s_t - o_t) / (N RMSE)
 *   1 - KGE = ED = sqrt((r-1)^2 + (alpha-1)^2 + (beta-1)^2), with population moments,
 *     r = cov / (sd_s sd_o), alpha = sd_s / sd_o, beta = mean_s / mean_o:
 *     d mean_s = 1/N,  d sd_s = (s_t - mean_s) / (N sd_s),  d cov = (o_t - mean_o) / N
 *     dr = (o_t - mean_o) / (N sd_s sd_o) - r (s_t - mean_s) / (N sd_s^2)
 *     dalpha = (s_t - mean_s) / (N sd_s sd_o),  dbeta = 1 / (N mean_o)
 *     dED = ((r-1) dr + (alpha-1) dalpha + (beta-1) dbeta) / ED */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate/calib_internal.h"

double tg__calib_objective_grad_strided(int objective, const tg_real *obs, const tg_real *sim, int n, int stride,
                                    tg_real *g, int gstride)
{
    for (int t = 0; t < n; t++)
        g[(size_t)t * (size_t)gstride] = TG_R(0.0);
    double L = tg__calib_objective_strided(objective, obs, sim, n, stride);
    if (!isfinite(L))
        return HUGE_VAL;
    double so = 0, ss = 0;
    long N = 0;
    for (int t = 0; t < n; t++)
        if (!isnan(obs[t])) {
            so += (double)obs[t];
            ss += (double)sim[(size_t)t * (size_t)stride];
            N++;
        }
    double mo = so / (double)N, ms = ss / (double)N;
    double sst = 0, vs = 0, cov = 0;
    for (int t = 0; t < n; t++)
        if (!isnan(obs[t])) {
            double o = (double)obs[t] - mo, s = (double)sim[(size_t)t * (size_t)stride] - ms;
            sst += o * o;
            vs += s * s;
            cov += o * s;
        }
    double Nd = (double)N;
    double sdo = sqrt(sst / Nd), sds = sqrt(vs / Nd), r = (cov / Nd) / (sds * sdo);
    double alpha = sds / sdo, beta = ms / mo;
    for (int t = 0; t < n; t++) {
        if (isnan(obs[t]))
            continue;
        double o = (double)obs[t], s = (double)sim[(size_t)t * (size_t)stride], d;
        switch (objective) {
        case TG_CALIB_NSE: d = 2 * (s - o) / sst; break;
        case TG_CALIB_RMSE: d = L > 0 ? (s - o) / (Nd * L) : 0; break;
        default: {
            double dr = (o - mo) / (Nd * sds * sdo) - r * (s - ms) / (Nd * sds * sds);
            double da = (s - ms) / (Nd * sds * sdo), db = 1 / (Nd * mo);
            d = L > 0 ? ((r - 1) * dr + (alpha - 1) * da + (beta - 1) * db) / L : 0;
        }
        }
        g[(size_t)t * (size_t)gstride] = (tg_real)d;
    }
    return L;
}

int tg__calib_problem_grad_init(calib_problem *p)
{
    if (p->hist)
        return 0;
    const size_t L = CALIB_LANES, n = (size_t)p->n;
    p->hist = tg_mem_alloc(tg_hbv_hist_size(&p->c) * sizeof(tg_real));
    p->g_out = tg_mem_calloc(n * TG_HBV_NOUT * L, sizeof(tg_real));
    p->g_q = tg_mem_alloc(n * L * sizeof(tg_real));
    if (!p->hist || !p->g_out || !p->g_q)
        return tg_error_set(TG_ENOMEM, "calibrate: out of memory for gradients over %d days", p->n);
    return 0;
}

/* Up to CALIB_LANES candidates; unused lanes repeat the first and are ignored. */
static int loss_grad_lanes(calib_problem *p, int k, const double *x, double *loss, double *gx)
{
    const int L = CALIB_LANES, n = p->n, nv = p->nvar;
    for (int l = 0; l < L; l++) {
        const double *xl = x + (size_t)(l < k ? l : 0) * (size_t)nv;
        for (int i = 0; i < TG_HBV_NPARAM; i++)
            p->par[i * L + l] = (tg_real)xl[i];
    }
    int rc = tg_hbv_forward(NULL, p->out, NULL, p->hist, p->forcing, p->par, NULL, NULL, &p->c);
    if (rc)
        return rc;
    const int ld = TG_HBV_NOUT * L;             /* row stride of the (n, NOUT, L) arrays */
    const tg_real *q_hbv = p->out + (size_t)TG_HBV_Q * L;
    tg_real *gq_hbv = p->g_out + (size_t)TG_HBV_Q * L;   /* the only non-zero seed row */
    const tg_real *obs = p->obs + p->W;
    tg_real a[CALIB_LANES], th[CALIB_LANES], w[CALIB_LANES * TG_UH_LEN];
    if (p->routing) {
        for (int l = 0; l < L; l++) {
            const double *xl = x + (size_t)(l < k ? l : 0) * (size_t)nv;
            a[l] = (tg_real)xl[TG_HBV_NPARAM];
            th[l] = (tg_real)xl[TG_HBV_NPARAM + 1];
        }
        tg_uh_gamma_forward(w, a, th, L);
        tg_uh_conv_forward(p->q, L, q_hbv, ld, w, n, L);
        for (int l = 0; l < L; l++)   /* dL/dy into g_q; unused lanes get zeros */
            if (l < k)
                loss[l] = tg__calib_objective_grad_strided(p->objective, obs, p->q + l, n, L, p->g_q + l, L);
            else
                for (int t = 0; t < n; t++)
                    p->g_q[(size_t)t * L + (size_t)l] = TG_R(0.0);
        for (int t = 0; t < n; t++)
            memset(gq_hbv + (size_t)t * (size_t)ld, 0, (size_t)L * sizeof(tg_real));
        tg_real gw[CALIB_LANES * TG_UH_LEN] = {0}, ga[CALIB_LANES] = {0}, gt[CALIB_LANES] = {0};
        tg_uh_conv_backward(gq_hbv, ld, gw, p->g_q, L, q_hbv, ld, w, n, L);
        tg_uh_gamma_backward(ga, gt, gw, w, a, th, L);
        for (int l = 0; l < k; l++) {
            gx[(size_t)l * (size_t)nv + TG_HBV_NPARAM] = (double)ga[l];
            gx[(size_t)l * (size_t)nv + TG_HBV_NPARAM + 1] = (double)gt[l];
        }
    } else {
        for (int l = 0; l < L; l++)
            if (l < k)
                loss[l] = tg__calib_objective_grad_strided(p->objective, obs, q_hbv + l, n, ld, gq_hbv + l, ld);
            else
                for (int t = 0; t < n; t++)
                    gq_hbv[(size_t)t * (size_t)ld + (size_t)l] = TG_R(0.0);
    }
    tg_real g_par[TG_HBV_NPARAM * CALIB_LANES] = {0};
    rc = tg_hbv_backward(g_par, NULL, NULL, NULL, NULL, p->g_out, NULL, p->hist, p->forcing, p->par, NULL, &p->c);
    if (rc)
        return rc;
    for (int l = 0; l < k; l++)
        for (int i = 0; i < TG_HBV_NPARAM; i++)
            gx[(size_t)l * (size_t)nv + (size_t)i] = (double)g_par[i * L + l];
    return 0;
}

int tg__calib_loss_grad(calib_problem *p, int k, const double *x, double *loss, double *gx)
{
    int rc = tg__calib_problem_grad_init(p);
    for (int j = 0; j < k && !rc; j += CALIB_LANES) {
        int m = k - j < CALIB_LANES ? k - j : CALIB_LANES;
        rc = loss_grad_lanes(p, m, x + (size_t)j * (size_t)p->nvar, loss + j, gx + (size_t)j * (size_t)p->nvar);
    }
    return rc;
}
