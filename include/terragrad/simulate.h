/* terragrad/simulate.h — running HBV with known parameters (no network), and local
 * sensitivities from its backward pass: `terragrad simulate --model hbv` and
 * `terragrad sensitivity`. */
#ifndef TERRAGRAD_SIMULATE_H
#define TERRAGRAD_SIMULATE_H

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PARAMS.csv: header basin,component,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET
 * (physical units), one row per basin and component; M = components per basin (the same
 * for every basin, components 1..M or 0..M-1 in any order). */
typedef struct tg_hbv_param_table {
    int B, M;
    char (*basin)[32];      /* (B) in file order of first appearance */
    double *value;          /* (B, NPARAM, M) */
    int *comp0;             /* (B) the file's number of component 0: component m is labelled comp0 + m */
} tg_hbv_param_table;
TG_API int tg_hbv_params_read(const char *path, tg_hbv_param_table *t);
TG_API void tg_hbv_params_free(tg_hbv_param_table *t);

/* ROUTE.csv: header basin,a,theta (gamma shape and scale in days). */
typedef struct tg_route_table {
    int B;
    char (*basin)[32];
    double *a, *theta;      /* (B) */
} tg_route_table;
TG_API int tg_route_read(const char *path, tg_route_table *t);
TG_API void tg_route_free(tg_route_table *t);
TG_API int tg_route_find(const tg_route_table *t, const char *basin);   /* -1 if absent */

/* One basin's run: forcing (T, 3) P, T, PET; params (NPARAM, M); a, theta (NaN = no
 * routing). Writes out (T - W, NOUT_SIM) with the columns of tg_sim_output_names. */
enum { TG_SIM_Q = 0, TG_SIM_Q_UNROUTED, TG_SIM_Q0, TG_SIM_Q1, TG_SIM_Q2, TG_SIM_ET, TG_SIM_PET, TG_SIM_RAIN,
       TG_SIM_SNOW, TG_SIM_MELT, TG_SIM_SWE, TG_SIM_SM, TG_SIM_SUZ, TG_SIM_SLZ, TG_SIM_RECHARGE,
       TG_SIM_EXCESS, TG_SIM_PERC, TG_SIM_NOUT };
TG_API extern const char *const tg_sim_output_names[TG_SIM_NOUT];
TG_API int tg_hbv_simulate_basin(tg_real *out, const tg_real *forcing, int T, int W, const double *params, int M,
                                 double a, double theta);

/* Local sensitivity of a loss pooled over basins and the days after the warm-up:
 * loss mse = SSE/N, rmse = sqrt(mse), nse = SSE / sum (obs - pooled mean obs)^2 (= 1 - pooled NSE).
 * forcing[b] (T[b], 3), obs[b] (T[b]; NaN = missing). Gradients per basin
 * g_params (B, NPARAM, M) in physical units, g_route (B, 2) for (a, theta) (NaN where a
 * basin has no routing). warmup_grad: let the gradient flow through the warm-up. */
enum { TG_SENS_MSE = 0, TG_SENS_RMSE, TG_SENS_NSE };
TG_API int tg_hbv_sensitivity(double *loss, double *g_params, double *g_route, int B, const tg_real *const *forcing,
                              const tg_real *const *obs, const int *T, int W, const double *params, int M,
                              const double *a, const double *theta, int loss_kind, int warmup_grad);

#ifdef __cplusplus
}
#endif
#endif
