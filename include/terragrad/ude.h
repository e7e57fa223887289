/* terragrad/ude.h — universal differential equations (neural ODEs with known physics):
 *     dS/dt = f_known(S, u, θ) + NN(S[, u]; W)
 * over B independent lanes (basins), integrated by explicit Runge–Kutta (fixed-step RK4,
 * adaptive Dormand–Prince 5(4) or Bogacki–Shampine 3(2) with PER-LANE step sizes) or by
 * backward Euler (the implicit-step op of terragrad/adjoint.h), and differentiated by the
 * discrete adjoint of the integrator as it actually ran. Included by <terragrad.h>.
 *
 * ============================================================== the pieces
 *  - S (B, n): state per lane, n ≤ TG_UDE_MAX_N. u (T, B, U): forcing, piecewise constant
 *    over each of T intervals of length dt (a "day"); no step ever crosses an interval
 *    boundary, so the right-hand side is smooth inside every step.
 *  - θ (B, P): parameters of f_known, one row per lane (e.g. from a dPL network).
 *  - f_known: C callbacks (tg_ude_fns) — the right-hand side, its Jacobian-vector product
 *    (only for backward Euler) and its vector-Jacobian product.
 *  - NN: a small MLP (tg_ude_mlp) whose weights W (one flat vector) are SHARED by all
 *    lanes; evaluated in plain C inside the integrator, lane by lane, with a hand-written
 *    backward. Its output i is added to dS_i/dt.
 *  - tg_ude_solve records the whole solve as ONE tape node with inputs S0, θ, u, W and
 *    output the states at the end of every interval (T, B, n).
 *
 * ============================================================== gradients
 * The node's backward reverses the accepted steps (all RK stages included; for backward
 * Euler one transposed Newton-Jacobian solve per step). Step sizes chosen by the adaptive
 * controller are treated as constants (standard for discrete adjoints): the gradient is
 * the exact derivative of the map "same step sequence, new inputs". Replaying a recorded
 * step sequence (tg_ude_opts.replay) makes finite differences see exactly that map.
 * Memory: ckpt_every = 0 keeps every accepted step's start state; k ≥ 1 keeps the state at
 * every k-th interval boundary and recomputes k intervals at a time in the backward sweep.
 * Derivations and the per-lane adaptive design: docs/ude.md.
 *
 * ============================================================== example
 *     tg_ude_mlp m; tg_ude_mlp_setup(&m, 1, 0, 0, 0, 2, 16); // NN(S): 1 -> 16 -> 16 -> 1
 *     m.out_act = TG_UDE_OUT_SOFTPLUS; m.out_scale[0] = -1;  // a non-negative outflow
 *     int wid = tg_params_add(ps, "ude.W", 1, (int[]){(int)tg_ude_mlp_nweights(&m)});
 *     tg_ude_mlp_init(&m, tg_params_data(ps, wid), &rng);
 *     tg_ude_opts o = tg_ude_defaults(TG_UDE_DOPRI5);
 *     tg_tensor *S = tg_ude_solve(ctx, &bucket_fns, NULL, &m, T, S0, theta, u,
 *                                 tg_param(ctx, ps, wid), &o, NULL);   // (T, B, 1)
 *     ... loss from S ...; tg_backward(ctx, loss);
 */
#ifndef TERRAGRAD_UDE_H
#define TERRAGRAD_UDE_H

#include "terragrad/core.h"
#include "terragrad/adjoint.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_UDE_MAX_N 8        /* state components per lane */
#define TG_UDE_MAX_IN 16      /* network inputs (n + U) */
#define TG_UDE_MAX_LAYERS 4   /* linear layers of the network */
#define TG_UDE_MAX_WIDTH 64   /* widest layer */

/* ===================================================================== known physics */
/* What the callbacks see: lane-major arrays; lanes with active[b] == 0 may be skipped
 * (their outputs are ignored). */
typedef struct tg_ude_args {
    int B;
    int day;                     /* forcing interval 0..T-1 */
    const tg_real *S;            /* (B, n) state at which to evaluate */
    const tg_real *theta;        /* (B, P) or NULL when P = 0 */
    const tg_real *u;            /* (B, U) forcing of this interval, or NULL when U = 0 */
    const unsigned char *active; /* (B) or NULL = all lanes */
} tg_ude_args;

typedef struct tg_ude_fns {
    const char *name;
    int n, P, U;                 /* states, parameters and forcings per lane */
    /* dS (B, n) = f_known(S, u, θ). NULL: f_known = 0 (a pure neural ODE). */
    int (*rhs)(void *ud, const tg_ude_args *a, tg_real *dS);
    /* Jv (B, n) = (∂f/∂S) v. Needed by TG_UDE_BEULER only. */
    int (*jvp)(void *ud, const tg_ude_args *a, const tg_real *v, tg_real *Jv);
    /* ACCUMULATE S_bar (B, n) += (∂f/∂S)ᵀ w, theta_bar (B, P) += (∂f/∂θ)ᵀ w,
     * u_bar (B, U) += (∂f/∂u)ᵀ w. Any output may be NULL (not needed). */
    int (*vjp)(void *ud, const tg_ude_args *a, const tg_real *w, tg_real *S_bar,
               tg_real *theta_bar, tg_real *u_bar);
    /* Callbacks return 0 ok, non-zero error (the solve fails with TG_EEXTERNAL). */
} tg_ude_fns;

/* ===================================================================== the network */
enum { TG_UDE_ACT_TANH = 0, TG_UDE_ACT_SOFTPLUS = 1 };     /* hidden activation */
enum { TG_UDE_OUT_LINEAR = 0, TG_UDE_OUT_SOFTPLUS = 1 };   /* output activation */

/* NN_i = out_scale[i] · out_act(z_L,i), z_l = W_l a_{l-1} + b_l, a_l = act(z_l),
 * a_0 = (x − in_shift) ⊙ in_scale with x = S (n values), followed by u (U values) when
 * use_u, followed by θ (P values) when use_theta (a lane-conditional network, e.g. one
 * that sees storage relative to a lane's capacity). Weights in one flat vector: layer by layer, W_l (width[l], width[l-1]) row-major
 * then b_l (width[l]). n_layers = 0: no network (NN = 0, W unused). */
typedef struct tg_ude_mlp {
    int n_layers;
    int width[TG_UDE_MAX_LAYERS + 1]; /* width[0] = n (+ U) (+ P), width[n_layers] = n */
    int use_u, use_theta;
    int act, out_act;
    tg_real in_shift[TG_UDE_MAX_IN], in_scale[TG_UDE_MAX_IN];
    tg_real out_scale[TG_UDE_MAX_N];  /* 0 switches output i off */
} tg_ude_mlp;

enum { TG_UDE_IN_U = 1, TG_UDE_IN_THETA = 2 }; /* extra network inputs besides S */
/* Fills m for n states, U forcings, P parameters, extra inputs `inputs` (TG_UDE_IN_*
 * flags), `hidden` hidden layers of `width` units, tanh, linear output, unit scales.
 * hidden = -1: no network. */
TG_API void tg_ude_mlp_setup(tg_ude_mlp *m, int n, int U, int P, int inputs, int hidden, int width);
/* Number of scalars in W. */
TG_API size_t tg_ude_mlp_nweights(const tg_ude_mlp *m);
/* TG_EINVAL naming the field when m does not fit n states, U forcings, P parameters. */
TG_API int tg_ude_mlp_check(const tg_ude_mlp *m, int n, int U, int P);
/* Xavier-uniform weights, zero biases; the last layer scaled by 0.1 (starts near 0). */
TG_API void tg_ude_mlp_init(const tg_ude_mlp *m, tg_real *W, tg_rng *rng);
/* Plain evaluation: out (B, n) = NN(S (B, n), u (B, U), θ (B, P)); u / theta may be NULL
 * when the network does not use them. */
TG_API void tg_ude_mlp_eval(const tg_ude_mlp *m, const tg_real *W, int B, int n, int U, int P,
                            const tg_real *S, const tg_real *u, const tg_real *theta, tg_real *out);

/* ===================================================================== solving */
enum {
    TG_UDE_RK4 = 0,    /* classical RK4, `substeps` equal steps per interval */
    TG_UDE_DOPRI5 = 1, /* Dormand–Prince 5(4), adaptive, per-lane steps */
    TG_UDE_BS32 = 2,   /* Bogacki–Shampine 3(2), adaptive, per-lane steps */
    TG_UDE_BEULER = 3  /* backward Euler, `substeps` equal steps, Newton + dense Jacobian */
};

/* Accepted step sizes of an adaptive solve, per interval and lane (opaque). */
typedef struct tg_ude_steps tg_ude_steps;
TG_API tg_ude_steps *tg_ude_steps_create(void);
TG_API void tg_ude_steps_free(tg_ude_steps **s);
/* Accepted steps of lane b in interval d (-1 if not recorded). */
TG_API int tg_ude_steps_count(const tg_ude_steps *s, int d, int b);

typedef struct tg_ude_opts {
    int method;           /* TG_UDE_* */
    double dt;            /* length of one forcing interval (default 1) */
    int substeps;         /* RK4 / BEULER steps per interval (default 1) */
    double rtol, atol;    /* adaptive error control (default 1e-6, 1e-8; float 1e-4, 1e-6) */
    double h0;            /* first trial step of each lane (default dt / 10) */
    double h_min;         /* a lane needing a smaller step fails (default 1e-12 dt) */
    long max_attempts;    /* step attempts per lane and interval (default 100000) */
    int ckpt_every;       /* 0: keep every accepted step's start state (no recompute);
                             k ≥ 1: keep the state every k intervals, recompute k at a time
                             in backward; -1: k = ceil(sqrt(T)) */
    tg_newton_opts newton;/* BEULER */
    tg_ude_steps *record;        /* adaptive: filled with the accepted steps (may be NULL) */
    const tg_ude_steps *replay;  /* adaptive: take these steps, no error control */
} tg_ude_opts;
TG_API tg_ude_opts tg_ude_defaults(int method);

typedef struct tg_ude_stats {
    long accepted, rejected;     /* lane-steps over all lanes and intervals */
    long rhs_evals;              /* right-hand-side evaluations (batched calls) */
    double h_min, h_max;         /* smallest / largest accepted step */
    long *lane_accepted;         /* (B) optional, accumulated per lane */
    long *lane_rejected;         /* (B) optional */
    size_t stored_bytes;         /* states + step sizes kept for backward (the backward
                                    adds a buffer of k intervals' step states when k ≥ 1) */
    tg_newton_report newton;     /* BEULER */
} tg_ude_stats;
/* Zeroes s, h_min = +inf, newton report initialised; keeps the lane_* pointers. */
TG_API void tg_ude_stats_init(tg_ude_stats *s);

/* ONE tape node: S0 (B, n), theta (B, P) or NULL, u (T, B, U) or NULL, W (nweights) or
 * NULL when the network is off → the states at the end of intervals 1..T, (T, B, n).
 * f, ud, mlp, o->record/replay and st must outlive the tape (st only the forward). */
TG_API tg_tensor *tg_ude_solve(tg_ctx *ctx, const tg_ude_fns *f, void *ud, const tg_ude_mlp *mlp,
                               int T, tg_tensor *S0, tg_tensor *theta, tg_tensor *u,
                               tg_tensor *W, const tg_ude_opts *o, tg_ude_stats *st);

#ifdef __cplusplus
}
#endif
#endif
