/* terragrad/hbv_implicit.h — implicit HBV (δHBV.adj): the five HBV stores written as an
 * ODE with smooth fluxes, advanced in daily steps by backward Euler (or Crank–Nicolson),
 * each step solved per (basin, component) lane by the dense batched Newton method of
 * terragrad/adjoint.h and differentiated by its discrete adjoint.
 * Not included by <terragrad.h>: include this header explicitly.
 *
 * ============================================================== the model in short
 * States x = (SNOWPACK, MELTWATER, SM, SUZ, SLZ) in mm; rates in mm/day; Δt = 1 day.
 *   dSP/dt  = snow − melt + refr          dMW/dt  = melt − refr − tosoil
 *   dSM/dt  = rain + tosoil − rech − exc − ET
 *   dSUZ/dt = rech + exc − perc − Q0 − Q1  dSLZ/dt = perc − Q2
 * with smooth fluxes (widths wT °C, wS mm, wE dimensionless; kD 1/day):
 *   rain = P σ((T−TT)/wT), snow = P − rain
 *   melt = CFMAX sp_wT(T−TT) φ(SP),  refr = CFR CFMAX sp_wT(TT−T) φ(MW)
 *   tosoil = kD [sp_wS(MW − CWH SP) − sp_wS(−CWH SP)]
 *   rech = (rain + tosoil) (SM⁺/FC)^BETA,  exc = kD [sp_wS(SM − FC) − sp_wS(−FC)]
 *   ET = PET smin_wE((SM⁺/(LP FC))^BETAET, 1) φ(SM)
 *   perc = PERC φ(SUZ),  Q0 = K0 [sp_wS(SUZ − UZL) − sp_wS(−UZL)],  Q1 = K1 SUZ,  Q2 = K2 SLZ
 * sp_w(z) = w log(1 + e^{z/w}) (→ relu as w → 0), σ the logistic function,
 * φ(S) = tanh(S/wS) (a store empties smoothly, so every store stays ≥ 0),
 * smin_w(y, 1) = 1 − sp_w(1 − y), SM⁺ = (SM + sqrt(SM² + ε²))/2 with ε = 1e-4 mm (keeps
 * powers defined at negative Newton iterates). Derivation and comparison with the explicit
 * operator-split HBV: docs/hbv_implicit.md.
 *
 * ============================================================== layout (as tg_hbv_op)
 * forcing (T, B, 3) = P, T, PET; par_static (NPARAM, B, M) physical; par_dyn (T−W, ndyn,
 * B, M) for the parameters whose bit is set in hbv.dynamic (they take their static value
 * during the warm-up); outputs (T−W, TG_HBV_NOUT, B) averaged over components (daily
 * amounts of each flux, end-of-day stores), (T−W, NOUT, B, M) per lane, final stores
 * (NSTATE, B, M). The first W days are warm-up: no output, and no gradient unless
 * hbv.warmup_grad. */
#ifndef TERRAGRAD_HBV_IMPLICIT_H
#define TERRAGRAD_HBV_IMPLICIT_H

#include "terragrad/adjoint.h"
#include "terragrad/models.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { TG_HBVI_EULER = 0, TG_HBVI_CN = 1 };

typedef struct tg_hbvi_config {
    tg_hbv_config hbv;   /* T, warmup, B, M, dynamic, warmup_grad (smooth_*, basin_outputs
                            are not used: the implicit model is always smooth) */
    int scheme;          /* TG_HBVI_EULER (default) or TG_HBVI_CN */
    tg_real w_temp;      /* °C: rain/snow split, melt and refreeze onset (default 0.5) */
    tg_real w_store;     /* mm: UZL, FC, CWH thresholds and the store limiter φ (default 1) */
    tg_real w_et;        /* -: smooth min of the ET factor with 1 (default 0.02) */
    tg_real drain;       /* kD, 1/day: drainage of liquid water above CWH·SP and of soil
                            water above FC (default 10) */
    int max_substeps;    /* a lane-day whose daily Newton solve fails is retried as k = 2, 4,
                            ... <= max_substeps implicit steps of 1/k day (each with its own
                            adjoint); default 64, 1 = off. Only if every k fails does the lane
                            count as not converged (newton.allow_unconverged below) */
    tg_newton_opts newton; /* tg_newton_defaults(). allow_unconverged = 0: a lane that
                              fails is TG_ECONVERGE naming basin, component and day; 1: the
                              lane keeps its last (line-searched) iterate, the day counts in
                              tg_hbvi_stats.unconverged, and the run goes on (training on
                              hundreds of basins should not stop for one lane-day) */
} tg_hbvi_config;

/* Newton statistics of a run: steps = days solved, iters and halvings summed over lanes
 * and days (iters / (steps · B · M) = mean iterations per lane and day). */
typedef struct tg_hbvi_stats {
    long steps, iters, halvings;
    long substepped;     /* lane-days solved in sub-steps after the daily solve failed */
    long unconverged;    /* lane-days kept unconverged (newton.allow_unconverged) */
    int max_iters;
    double worst_residual;
} tg_hbvi_stats;

TG_API void tg_hbvi_config_init(tg_hbvi_config *c, int T, int warmup, int B, int M);
/* Sizes, options, widths > 0, drain > 0. TG_EINVAL naming the field. */
TG_API int tg_hbvi_config_check(const tg_hbvi_config *c);

/* The implicit step as a generic tg_implicit_fns: n = 5 stores, P = 13 parameters (order
 * of enum tg_hbv_param), U = 3 + ndyn forcings per lane (P, T, PET, then the dynamic
 * parameters in ascending order, which replace their θ entries). Dense Jacobian. Pass the
 * config as the callbacks' ud. */
TG_API void tg_hbvi_fns(const tg_hbvi_config *c, tg_implicit_fns *f);

/* Rates of the 12 fluxes of one lane at stores x (5), parameters p (13), forcing P, T,
 * PET: order rain, snow, melt, refr, tosoil, rech, exc, ET, perc, Q0, Q1, Q2. */
enum { TG_HBVI_NFLUX = 12 };
TG_API void tg_hbvi_fluxes(const tg_hbvi_config *c, const tg_real *x, const tg_real *p,
                           tg_real P, tg_real T, tg_real PET, tg_real *flux);

/* Raw forward: all T steps. Outputs (any may be NULL): out_basin (T−W, NOUT, B), out_lane
 * (T−W, NOUT, B, M), state_final (NSTATE, B, M), states (tg_hbvi_states_size(c) reals:
 * the stores of every differentiated step, then one flag byte per lane-day: 0 solved in one
 * step, 1..6 solved in 2^flag sub-steps (recomputed by backward), 255 kept unconverged (its
 * adjoint is skipped); needed by backward). state_init (NSTATE, B, M)
 * or NULL (0.001 mm). stats may be NULL. Parallel over blocks of basins (OpenMP); results
 * do not depend on the thread count. */
TG_API size_t tg_hbvi_states_size(const tg_hbvi_config *c);
TG_API int tg_hbvi_forward(tg_real *out_basin, tg_real *out_lane, tg_real *state_final,
                           tg_real *states, const tg_real *forcing, const tg_real *par_static,
                           const tg_real *par_dyn, const tg_real *state_init,
                           const tg_hbvi_config *c, tg_hbvi_stats *stats);
/* Raw adjoint sweep; seeds g_out_basin, g_out_lane, g_state_final (any NULL = zero);
 * gradients ACCUMULATED into the non-NULL g_par_static (NPARAM, B, M), g_par_dyn (T−W,
 * ndyn, B, M), g_forcing (T, B, 3), g_state_init (NSTATE, B, M) (warm-up rows and
 * g_state_init only reached with warmup_grad or W = 0). */
TG_API int tg_hbvi_backward(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing,
                            tg_real *g_state_init, const tg_real *g_out_basin,
                            const tg_real *g_out_lane, const tg_real *g_state_final,
                            const tg_real *states, const tg_real *forcing,
                            const tg_real *par_static, const tg_real *par_dyn,
                            const tg_hbvi_config *c);

/* The whole run as ONE tape node, same tensors and outputs as tg_hbv_op (which see).
 * Saves only the converged stores of each differentiated step (in the step arena).
 * stats (may be NULL) receives the forward's Newton statistics. */
TG_API int tg_hbvi_op(tg_ctx *ctx, const tg_hbvi_config *c, tg_tensor *forcing,
                      tg_tensor *par_static, tg_tensor *par_dyn, tg_tensor *state_init,
                      tg_tensor **out_basin, tg_tensor **out_lane, tg_tensor **state_final,
                      tg_hbvi_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
