/* terragrad/adjoint.h — implicit time steps solved by Newton's method and differentiated
 * by their discrete adjoint; the 1-D Richards equation built on them.
 * Included by <terragrad.h>.
 *
 * ============================================================== why an adjoint
 * A stiff model advanced by backward Euler solves F(x⁺, x, θ, u) = 0 for the new state x⁺
 * at every step, with Newton's method. Taping every Newton iteration wastes memory (it
 * grows with the iteration count) and differentiates the solver's path rather than its
 * answer. The implicit function theorem gives the exact gradient of the converged x⁺:
 *     solve (∂F/∂x⁺)ᵀ λ = x̄⁺,   then  x̄ += −(∂F/∂x)ᵀ λ,  θ̄ += −(∂F/∂θ)ᵀ λ,  ū += −(∂F/∂u)ᵀ λ.
 * One transposed linear solve per step, and only converged states are kept.
 *
 * ============================================================== how to use it
 *  1. Describe one step with tg_implicit_fns: sizes (n unknowns, P parameters, U forcings
 *     per lane), the Jacobian structure (dense n×n or tridiagonal per lane), and three
 *     batched callbacks: residual F, Jacobian ∂F/∂x⁺, and the adjoint products with
 *     ∂F/∂x, ∂F/∂θ, ∂F/∂u. A "lane" is one independent system (a basin, a soil column).
 *  2. Without a tape: tg_implicit_solve() for one step, tg_implicit_step_adjoint() for its
 *     adjoint; or tg_implicit_traj_forward()/..._backward() for T steps with a loss seen
 *     through callbacks, with optional checkpointing (store every k-th state, recompute
 *     segments in the backward sweep: O(T/k + k) states).
 *  3. With a tape: tg_implicit_step() records ONE node per step; tg_implicit_run() records
 *     ONE node for a whole run and returns the states at chosen steps.
 * Callbacks return 0 ok, >0 recoverable (inside a line search: the trial point is rejected
 * and the step halved), <0 fatal (TG_EEXTERNAL).
 *
 * The Richards model below (tg_richards_*) is the worked example: a tridiagonal Newton
 * step per soil column. Derivations: docs/richards.md.
 */
#ifndef TERRAGRAD_ADJOINT_H
#define TERRAGRAD_ADJOINT_H

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== implicit step */
enum {
    TG_JAC_DENSE = 0,  /* J is (B, n, n), row-major: J[b][i][j] = ∂F_i/∂x⁺_j */
    TG_JAC_TRIDIAG = 1 /* J is (B, 3, n): rows sub, diag, super; sub[i] = ∂F_i/∂x⁺_{i-1},
                          super[i] = ∂F_i/∂x⁺_{i+1} (sub[0], super[n-1] unused) */
};

/* What every callback sees. Lane-major layouts: lane b's state is x[b*n .. b*n+n). */
typedef struct tg_implicit_args {
    int B;                       /* lanes */
    int step;                    /* time-step index t: this step maps x_t to x_{t+1} */
    const tg_real *xn;           /* (B, n) new state x⁺ (the Newton iterate) */
    const tg_real *x;            /* (B, n) previous state */
    const tg_real *theta;        /* (B, P) parameters, the same on every step */
    const tg_real *u;            /* (B, U) forcing of this step; NULL when U = 0 */
    const unsigned char *active; /* (B) nonzero: lane needed; NULL: all lanes. Callbacks
                                    may skip inactive lanes (their outputs are ignored). */
} tg_implicit_args;

typedef struct tg_implicit_fns {
    const char *name;            /* for error messages */
    int n, P, U;                 /* unknowns, parameters and forcings per lane */
    int jac;                     /* TG_JAC_DENSE or TG_JAC_TRIDIAG */
    /* F (B, n) at a.xn. */
    int (*residual)(void *ud, const tg_implicit_args *a, tg_real *F);
    /* ∂F/∂x⁺ at a.xn, laid out as `jac` says. */
    int (*jacobian)(void *ud, const tg_implicit_args *a, tg_real *J);
    /* Given mu (B, n), ACCUMULATE x_bar (B, n) += (∂F/∂x)ᵀ mu, theta_bar (B, P) +=
     * (∂F/∂θ)ᵀ mu, u_bar (B, U) += (∂F/∂u)ᵀ mu, all at (a.xn, a.x). Any output pointer may
     * be NULL (not needed). Called with mu = −λ, so these are the gradients themselves. */
    int (*adjoint)(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *x_bar,
                   tg_real *theta_bar, tg_real *u_bar);
} tg_implicit_fns;

/* Newton: x⁺ ← x⁺ + s·dx with J dx = −F, s from backtracking (halving) on ‖F‖₂ with the
 * Armijo condition ‖F(x⁺+s dx)‖₂ ≤ (1 − 1e-4 s)‖F(x⁺)‖₂ (the shortest trial is taken if
 * it merely does not increase ‖F‖; if it does, the lane fails). A lane converges when
 * max|F| ≤ ftol, or when the Newton step has max|dx| ≤ xtol·(1 + max|x⁺|) (the step is
 * then taken without a line search: at rounding level ‖F‖ cannot show a decrease).
 * ftol is absolute (scale your residual); in the float build xtol usually decides. */
typedef struct tg_newton_opts {
    int max_iter;          /* Newton iterations (Jacobian solves) per step; default 30 */
    double ftol;           /* default 1e-12 (double build), 1e-10 (float build) */
    double xtol;           /* default 1e-12 (double build), 1e-5 (float build) */
    int max_halvings;      /* line search; 0 = plain Newton; default 10 */
    int allow_unconverged; /* 0 (default): a lane that fails is TG_ECONVERGE;
                              1: keep its last iterate, flag it and go on */
    int warm_start;        /* 0 (default): start from x; 1: xn holds the initial guess */
    double max_step;       /* > 0: scale any Newton step down to max|dx| = max_step
                              (e.g. 100 cm of head for Richards in dry soil); 0 = off */
} tg_newton_opts;
TG_API tg_newton_opts tg_newton_defaults(void);

/* Statistics, accumulated over calls (zero it with {0} then set first_fail_* = -1, or
 * use tg_newton_report_init). */
typedef struct tg_newton_report {
    long steps;            /* implicit steps solved (each covers all lanes) */
    long iters;            /* Newton iterations summed over lanes and steps */
    int max_iters;         /* most iterations one lane needed in one step */
    long halvings;         /* line-search halvings summed over lanes */
    long failed;           /* lane-steps that did not converge */
    int first_fail_step;   /* -1 if none */
    int first_fail_lane;   /* -1 if none */
    double worst_residual; /* largest final max|F| of any lane and step */
} tg_newton_report;
TG_API void tg_newton_report_init(tg_newton_report *r);

/* One implicit step for all lanes. xn (B, n): the solution (on input the initial guess if
 * o->warm_start). converged (B) may be NULL; rep may be NULL. On a lane that fails and
 * !o->allow_unconverged: TG_ECONVERGE, message naming the op, lane, step, iterations
 * and residual. o == NULL means defaults. */
TG_API int tg_implicit_solve(const tg_implicit_fns *f, void *ud, int B, int step,
                             const tg_real *x, const tg_real *theta, const tg_real *u,
                             tg_real *xn, unsigned char *converged, const tg_newton_opts *o,
                             tg_newton_report *rep);

/* Adjoint of one converged step: given xn_bar = dL/dx⁺ (B, n), ACCUMULATES dL/dx into
 * x_bar (B, n), dL/dθ into theta_bar (B, P), dL/du into u_bar (B, U); any may be NULL.
 * Cost: one Jacobian, one transposed solve per lane, one adjoint callback. */
TG_API int tg_implicit_step_adjoint(const tg_implicit_fns *f, void *ud, int B, int step,
                                    const tg_real *x, const tg_real *theta, const tg_real *u,
                                    const tg_real *xn, const tg_real *xn_bar, tg_real *x_bar,
                                    tg_real *theta_bar, tg_real *u_bar);

/* ===================================================================== trajectories */
/* observe(t, x_t) sees every state x_t (B, n), t = 0..T, in order (outputs, a loss). */
typedef int (*tg_implicit_observe_fn)(void *ud, int t, const tg_real *x);
/* loss_grad(t, x_t) ACCUMULATES dL/dx_t into x_bar (B, n) and any direct dL/dθ into
 * theta_bar (B, P; may be NULL); called for t = T down to 0. */
typedef int (*tg_implicit_loss_grad_fn)(void *ud, int t, const tg_real *x, tg_real *x_bar,
                                        tg_real *theta_bar);

/* Opaque: the stored states (all, or every k-th) of one forward run. */
typedef struct tg_implicit_traj tg_implicit_traj;

/* Runs T steps from x0 (B, n) with parameters theta (B, P) and forcing u (T, B, U) (NULL
 * when U = 0). theta, u, f and ud must stay valid until the trajectory is freed.
 * ckpt_every: 1 stores every state; k > 1 stores x_0, x_k, x_2k, ... and the backward
 * sweep recomputes each segment (peak: T/k + k + 1 states); -1 picks k = ceil(sqrt(T)).
 * out == NULL: no storage, forward only (observe still called). */
TG_API int tg_implicit_traj_forward(const tg_implicit_fns *f, void *ud, int B, int T,
                                    const tg_real *x0, const tg_real *theta, const tg_real *u,
                                    const tg_newton_opts *o, int ckpt_every,
                                    tg_implicit_observe_fn observe, void *obs_ud,
                                    tg_implicit_traj **out, tg_newton_report *rep);
/* Reverse sweep: ACCUMULATES into x0_bar (B, n), theta_bar (B, P), u_bar (T, B, U) (any
 * may be NULL). Can run more than once (e.g. several losses). */
TG_API int tg_implicit_traj_backward(tg_implicit_traj *tr, tg_implicit_loss_grad_fn loss_grad,
                                     void *grad_ud, tg_real *x0_bar, tg_real *theta_bar,
                                     tg_real *u_bar);
/* x_t (B, n) if stored (every state when ckpt_every = 1), else NULL. */
TG_API const tg_real *tg_implicit_traj_state(const tg_implicit_traj *tr, int t);
/* Bytes of states held: stored states, plus the recompute buffer at its peak. */
TG_API size_t tg_implicit_traj_peak_bytes(const tg_implicit_traj *tr);
TG_API void tg_implicit_traj_free(tg_implicit_traj **tr);

/* ===================================================================== tape ops */
/* ONE tape node for one step: x (B, n), theta (B, P), u (B, U) or NULL → x⁺ (B, n).
 * Saved for backward: nothing beyond x, θ, u and x⁺ themselves. f and ud must outlive the
 * tape. rep may be NULL. */
TG_API tg_tensor *tg_implicit_step(tg_ctx *ctx, const tg_implicit_fns *f, void *ud, int step,
                                   tg_tensor *x, tg_tensor *theta, tg_tensor *u,
                                   const tg_newton_opts *o, tg_newton_report *rep);
/* ONE tape node for T steps from x0 (B, n) with theta (B, P) and u (T, B, U) or NULL;
 * returns the states at out_steps[0..n_out) (values in 0..T) as (n_out, B, n). States are
 * kept in the step arena, every ckpt_every-th (see tg_implicit_traj_forward). */
TG_API tg_tensor *tg_implicit_run(tg_ctx *ctx, const tg_implicit_fns *f, void *ud, int T,
                                  tg_tensor *x0, tg_tensor *theta, tg_tensor *u, int n_out,
                                  const int *out_steps, const tg_newton_opts *o, int ckpt_every,
                                  tg_newton_report *rep);

/* ===================================================================== soil hydraulics */
/* Constitutive relations θ(ψ), K(ψ) with their derivatives; ψ is the pressure head
 * (negative when unsaturated; any consistent length unit, e.g. cm). For ψ ≥ 0 both return
 * saturation (θ = θs, K = Ks). Pluggable: a model is this table of functions. */
typedef struct tg_soil {
    const char *name;
    int P;                            /* parameters */
    const char *const *param_names;   /* (P) */
    /* For n heads: θ, C = dθ/dψ, K, dK/dψ (each output may be NULL). */
    void (*eval)(const tg_real *p, int n, const tg_real *psi, tg_real *theta, tg_real *C,
                 tg_real *K, tg_real *dK);
    /* Parameter derivatives: dtheta_dp (n, P) and dK_dp (n, P) (either may be NULL). */
    void (*eval_dp)(const tg_real *p, int n, const tg_real *psi, tg_real *dtheta_dp,
                    tg_real *dK_dp);
    /* 0 if p is admissible, else TG_EINVAL with a message naming the parameter. */
    int (*check)(const tg_real *p);
} tg_soil;

/* van Genuchten–Mualem: p = {alpha (1/length), n (> 1), Ks, theta_r, theta_s};
 *   Se = (1 + (α|ψ|)^n)^(−m), m = 1 − 1/n;  θ = θr + (θs − θr) Se;
 *   K = Ks Se^½ (1 − (1 − Se^(1/m))^m)².
 * (dK/dψ is unbounded as ψ → 0⁻ when n < 2: a property of the model.) */
TG_API extern const tg_soil tg_soil_vgm;
/* Haverkamp et al. (1977), as in Celia et al. (1990):
 * p = {alpha, beta, Ks, theta_r, theta_s, A, gamma};
 *   θ = θr + α(θs − θr)/(α + |ψ|^β);  K = Ks A/(A + |ψ|^γ). */
TG_API extern const tg_soil tg_soil_haverkamp;
/* "vgm" / "van_genuchten" or "haverkamp"; NULL if unknown. */
TG_API const tg_soil *tg_soil_find(const char *name);

/* ===================================================================== Richards equation */
/* Mixed form, 1-D vertical, z upward from the bottom of the column:
 *   ∂θ(ψ)/∂t = ∂/∂z [ K(ψ) (∂ψ/∂z + 1) ],   flux q = −K (∂ψ/∂z + 1) (positive upward).
 * Finite volumes: N equal cells (cell i centred at z = (i + ½)Δz, Δz = depth/N), ψ per
 * cell, face conductivity the arithmetic mean of the two sides, backward Euler. Residual
 * per cell, in units of water depth (so Σ F is the mass-balance defect of the step):
 *   F_i = Δz (θ(ψ⁺_i) − θ(ψ_i)) + Δt (q⁺_{i+½} − q⁺_{i−½}).
 * As an implicit step: state ψ (B, N), parameters = the soil's (B, P), forcing u (B, 2) =
 * {top value, bottom value} per step, whose meaning depends on the boundary kind. */
enum {
    TG_BC_DIRICHLET = 0,    /* value = pressure head at the boundary face */
    TG_BC_FLUX = 1,         /* value = flux INTO the column (infiltration > 0 at the top) */
    TG_BC_FREE_DRAINAGE = 2 /* unit gradient: q = −K(ψ of the adjacent cell); value unused */
};

typedef struct tg_richards {
    const tg_soil *soil;
    int N;                 /* cells; cell 0 at the bottom */
    tg_real depth;         /* column length */
    int bc_top, bc_bottom; /* TG_BC_* */
    int T;                 /* steps */
    const tg_real *dt;     /* (T) step lengths (must outlive the model's use) */
} tg_richards;

/* Validates sizes, boundary kinds, dt > 0 and the parameters of every lane (B, P). */
TG_API int tg_richards_check(const tg_richards *m, int B, const tg_real *p);
/* Fills f for this model (n = N, P = soil P, U = 2, tridiagonal); pass m as the ud. */
TG_API void tg_richards_fns(const tg_richards *m, tg_implicit_fns *f);
/* Height of cell centre i above the bottom. */
TG_API tg_real tg_richards_z(const tg_richards *m, int i);
/* Water storage Σ Δz θ(ψ_i) per lane: S (B). */
TG_API void tg_richards_storage(const tg_richards *m, int B, const tg_real *p, const tg_real *psi,
                                double *S);
/* Fluxes INTO the column through the top and bottom faces at state psi (B, N) with
 * boundary values u (B, 2): q_top (B), q_bottom (B) (either may be NULL). */
TG_API void tg_richards_boundary_inflow(const tg_richards *m, int B, const tg_real *p,
                                        const tg_real *psi, const tg_real *u, double *q_top,
                                        double *q_bottom);

/* Forward run with mass accounting. psi0 (B, N), p (B, P), u (T, B, 2). psi_out
 * (T+1, B, N) may be NULL. mass_err (B, may be NULL): (ΔS − cumulative inflow) /
 * |cumulative inflow| (relative to the initial storage when nothing flowed in), with the
 * inflow from the converged backward-Euler fluxes. */
TG_API int tg_richards_simulate(const tg_richards *m, int B, const tg_real *psi0, const tg_real *p,
                                const tg_real *u, const tg_newton_opts *o, tg_real *psi_out,
                                double *mass_err, tg_newton_report *rep);

/* Tape op: water content θ(ψ; p) of heads psi (..., B, N) with per-column parameters
 * p (B, P) of `soil` (which must outlive the tape) → (..., B, N). Gradients to psi (C) and
 * p (∂θ/∂p). For losses on θ of states from tg_implicit_run. */
TG_API tg_tensor *tg_richards_theta(tg_ctx *ctx, const tg_soil *soil, tg_tensor *psi, tg_tensor *p);

/* Time grid with steps of at most dt that lands exactly on every output time (ascending,
 * > 0). *steps_dt (T) is allocated with tg_malloc (free with tg_free(p, T*sizeof(tg_real)));
 * out_step[k] receives the step index t at which output k is reached. */
TG_API int tg_richards_time_grid(double dt, const double *out_times, int n_out,
                                 tg_real **steps_dt, int *T, int *out_step);

/* A water-content misfit L = Σ_k w (θ(ψ at t_k, lane_k, cell_k) − obs_k)², usable as the
 * observe / loss_grad callbacks of a trajectory (pass the struct as ud). */
typedef struct tg_richards_obs {
    const tg_richards *m;
    const tg_real *p;      /* (B, P) */
    int n;                 /* observations */
    const int *t, *lane, *cell;
    const tg_real *value;  /* (n) observed θ */
    double weight;         /* w */
    double loss;           /* accumulated by tg_richards_obs_observe; zero before a run */
} tg_richards_obs;
TG_API int tg_richards_obs_observe(void *obs, int t, const tg_real *psi);
TG_API int tg_richards_obs_grad(void *obs, int t, const tg_real *psi, tg_real *psi_bar,
                                tg_real *p_bar);

#ifdef __cplusplus
}
#endif
#endif
