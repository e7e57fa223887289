/* hbv_implicit_internal.h — what the implicit-HBV step physics (hbv_implicit_step.c)
 * shares with its drivers (hbv_implicit.c): the fluxes of one lane with their local
 * derivatives, and the vector–Jacobian products built from them. */
#ifndef TG_MODELS_HBV_IMPLICIT_INTERNAL_H
#define TG_MODELS_HBV_IMPLICIT_INTERNAL_H

#include "terragrad/hbv_implicit.h"

enum { HBVI_NS = TG_HBV_NSTATE, HBVI_NP = TG_HBV_NPARAM, HBVI_NF = TG_HBVI_NFLUX };
/* flux indices */
enum { FX_RAIN = 0, FX_SNOW, FX_MELT, FX_REFR, FX_TOSOIL, FX_RECH, FX_EXC, FX_ET, FX_PERC, FX_Q0,
       FX_Q1, FX_Q2 };

/* Fluxes of one lane and (level >= 1) their derivatives w.r.t. the stores, (level >= 2)
 * w.r.t. the 13 parameters and the forcing P, T, PET. */
typedef struct hbvi_lane {
    tg_real v[HBVI_NF];
    tg_real dx[HBVI_NS][HBVI_NF]; /* dx[j][k] = ∂v_k/∂x_j */
    tg_real dp[HBVI_NF][HBVI_NP];
    tg_real du[HBVI_NF][3];
} hbvi_lane;

/* Which u slot holds parameter j (3 + k for the k-th dynamic one), or -1. */
typedef struct hbvi_dyn {
    int slot[HBVI_NP];
    int U;
} hbvi_dyn;
void tg__hbvi_dyn_make(const tg_hbvi_config *c, hbvi_dyn *d);
/* The 13 parameters of a lane: theta row, with dynamic entries taken from the u row. */
void tg__hbvi_lane_params(const hbvi_dyn *d, const tg_real *theta, const tg_real *u, tg_real *p);
/* Its adjoint: ACCUMULATES a lane's full parameter gradient pb (13) into the theta row
 * (static entries) and the u row (dynamic ones); either may be NULL (not wanted). */
void tg__hbvi_scatter_params(const hbvi_dyn *d, const tg_real *pb, tg_real *theta_bar, tg_real *u_bar);

void tg__hbvi_eval(const tg_hbvi_config *c, const tg_real *x, const tg_real *p, tg_real P, tg_real Ta,
               tg_real E, int level, hbvi_lane *o);
/* Net store rates f = A v (5). */
void tg__hbvi_rates(const tg_real *v, tg_real *f);
/* Weights per flux w = Aᵀ mu. */
void tg__hbvi_flux_weights(const tg_real *mu, tg_real *w);
/* ACCUMULATES scale · Σ_k w_k ∂v_k/∂(x, p, u) into xb (5; may be NULL), pb (13; may be NULL),
 * ub (3; may be NULL). Needs level 1 (x) or 2 (p, u). */
void tg__hbvi_vjp(const hbvi_lane *L, const tg_real *w, tg_real scale, tg_real *xb, tg_real *pb,
              tg_real *ub);

/* ---- sub-stepping of a lane-day whose daily Newton solve failed (hbv_implicit_substep.c).
 * One lane; p (13) its full parameter vector for the day, u3 = P, T, PET, x the start-of-day
 * stores. The day is split into k = 2^level implicit steps of 1/k day: every rate (P, PET,
 * CFMAX, PERC, K0, K1, K2, drain) is divided by k, which is the same residual with Δt = 1/k. */
enum { HBVI_FLAG_UNCONVERGED = 255, HBVI_MAX_LEVEL = 6 };
/* A day flag (0 = one daily step) that says the lane-day was solved in sub-steps. */
static inline int hbvi_flag_substepped(unsigned char flag)
{
    return flag && flag != HBVI_FLAG_UNCONVERGED;
}
/* Tries k = 2, 4, ... <= c->max_substeps. *level = the level (>= 1) that converged, with xn
 * the end-of-day stores and vday (12) the day's flux amounts; 0 if all failed (xn, vday
 * untouched). iters (may be NULL) accumulates Newton iterations. Returns a TG_* code
 * (callback or memory errors only). */
int tg__hbvi_substep_forward(const tg_hbvi_config *c, int step, const tg_real *p, const tg_real *u3,
                         const tg_real *x, tg_real *xn, tg_real *vday, long *iters, int *level);
/* Adjoint of a day solved at `level`: xbar (5) = dL/d(end-of-day stores) including the
 * store outputs' seeds, w (12) the seeds of the day's flux amounts. ACCUMULATES dL/dx into
 * xbar_prev (5), dL/dp into pbar (13), dL/d(P, T, PET) into ubar (3). */
int tg__hbvi_substep_backward(const tg_hbvi_config *c, int step, int level, const tg_real *p,
                          const tg_real *u3, const tg_real *x, const tg_real *xbar,
                          const tg_real *w, tg_real *xbar_prev, tg_real *pbar, tg_real *ubar);
#endif
