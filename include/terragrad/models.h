/* terragrad/models.h — process models with hand-written backward: the HBV bucket model
 * (δHBV equations) and gamma unit-hydrograph routing.
 * Included by <terragrad.h>.
 *
 * ============================================================== HBV in five minutes
 * Arrays are flat and time-major. A "lane" is one basin component: L = B*M lanes, lane
 * l = b*M + m, lanes innermost and contiguous (so one loop over lanes vectorises).
 *
 *   forcing   (T, B, 3)        P mm/d, air temperature °C, PET mm/d — all T steps
 *   par_static (NPARAM, L)     physical units, order of enum tg_hbv_param
 *   par_dyn   (T-W, ndyn, L)   parameters flagged in cfg.dynamic, in ascending parameter
 *                              order, one row per step AFTER the warm-up
 *   out_basin (T-W, NOUT, B)   outputs averaged over the M components
 *   out_lane  (T-W, NOUT, L)   per-component outputs
 * NPARAM and NOUT here mean tg_hbv_nparam(c) and tg_hbv_nout(c): 13 and 16 (δHBV 1.0), or
 * 14 and 17 with cfg.capillary (δHBV 1.1p: C appended as the last parameter row, the
 * capillary flux "cap" as the last output row; every other row keeps its index).
 *
 * Warm-up: the first W = cfg.warmup steps initialise the stores and produce no output.
 * They use par_static for EVERY parameter (dynamic ones included: the caller puts the
 * value to use during warm-up there, e.g. the network output of the last step, as δHBV
 * does). This matches the PyTorch peer (hbv_torch.dhbv_forward), whose parameters are
 * all static and the same in warm-up and window. Gradient flows through the warm-up only
 * when cfg.warmup_grad = 1; otherwise the stores at step W are constants for backward.
 *
 * Typical use (the tape op tg_hbv_op does exactly this):
 *     tg_hbv_config c; tg_hbv_config_init(&c, T, W, B, M);
 *     hist = malloc(tg_hbv_hist_size(&c) * sizeof(tg_real));
 *     tg_hbv_forward(out_basin, NULL, NULL, hist, forcing, ps, pd, NULL, &c);
 *     ... dL/d out_basin into g_out ...
 *     tg_hbv_backward(g_ps, g_pd, NULL, NULL, g_out, NULL, NULL, hist, forcing, ps, pd, &c);
 *
 * One step (exactly the equations, in this order; kinks as written):
 *   rain = P if T >= TT else 0; snow = P - rain; SNOWPACK += snow
 *   melt = min(relu(CFMAX (T-TT)), SNOWPACK); MELTWATER += melt; SNOWPACK -= melt
 *   refreeze = min(relu(CFR CFMAX (TT-T)), MELTWATER); SNOWPACK += refreeze; MELTWATER -= refreeze
 *   tosoil = relu(MELTWATER - CWH SNOWPACK); MELTWATER -= tosoil
 *   wet = clamp((SM/FC)^BETA, 0, 1); recharge = (rain+tosoil) wet; SM += rain+tosoil-recharge
 *   excess = relu(SM - FC); SM -= excess
 *   ef = clamp((SM/(LP FC))^BETAET, 0, 1); ET = min(SM, PET ef); SM = max(SM - ET, 1e-5)
 *   SUZ += recharge + excess; perc = min(SUZ, PERC); SUZ -= perc
 *   Q0 = K0 relu(SUZ - UZL); SUZ -= Q0; Q1 = K1 SUZ; SUZ -= Q1
 *   SLZ += perc; Q2 = K2 SLZ; SLZ -= Q2; Q = Q0 + Q1 + Q2
 * δHBV 1.1p (cfg.capillary = 1) inserts, right after the ET line (as hydrodl2's HBV_1_1p):
 *   cap = min(SLZ, C SLZ (1 - min(SM/FC, 1))); SM += cap; SLZ -= cap
 * with SM the value after ET and SLZ the start-of-step store (before perc is added).
 * Gradient conventions at kinks as in core.h: relu'(0) = 0, min at a tie -> first
 * argument, clamp passes the gradient with the bounds included, the step has none.
 *
 * Smooth thresholds (cfg.smooth_temp in °C, cfg.smooth_store in mm; 0 = hard, above):
 *   rain fraction  sigmoid((T-TT)/wT)                 instead of the step
 *   melt potential CFMAX sp_wT(T-TT), refreeze CFR CFMAX sp_wT(TT-T),
 *                  sp_w(x) = w log(1 + exp(x/w))      (softplus, -> relu as w -> 0)
 *   excess         sp_wS(SM-FC) - sp_wS(-FC)
 *   Q0             K0 (sp_wS(SUZ-UZL) - sp_wS(-UZL))
 * The anchored forms are 0 for an empty store and have slope < 1, so excess <= SM and
 * Q0 <= K0 SUZ: stores stay non-negative and water is conserved exactly. TT, UZL and FC
 * then get gradient from both sides of their threshold (width ~ a few w).
 *
 * SWE is the SNOWPACK store (the frozen part, as in the MHPI δHBV code); the liquid water
 * held in the snow is the separate output MELTWATER. State outputs are end-of-step values.
 * A negative PET (ERA5-Land dew) gives a negative ET, as the equations say.
 *
 * Speed: one OpenMP region per call over blocks of basins, baseline/AVX2/AVX-512 lane
 * loops chosen at run time (tg_cpu_level(); TG_CPU=avx2 in the environment forces AVX2,
 * e.g. for valgrind, TG_CPU=baseline the baseline loops). For training set cfg.basin_outputs = 1u << TG_HBV_Q. Derivation of the
 * backward and cost figures: docs/hbv_backward.md.
 */
#ifndef TERRAGRAD_MODELS_H
#define TERRAGRAD_MODELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== HBV */
enum tg_hbv_param {
    TG_HBV_BETA = 0, TG_HBV_FC, TG_HBV_K0, TG_HBV_K1, TG_HBV_K2, TG_HBV_LP, TG_HBV_PERC,
    TG_HBV_UZL, TG_HBV_TT, TG_HBV_CFMAX, TG_HBV_CFR, TG_HBV_CWH, TG_HBV_BETAET,
    TG_HBV_NPARAM,                 /* 13: the δHBV 1.0 parameter set and array layout */
    /* δHBV 1.1p (cfg.capillary = 1) only: capillary-rise coefficient, row 13 */
    TG_HBV_C = TG_HBV_NPARAM,
    TG_HBV_NPARAM_MAX              /* 14: rows of a 1.1p parameter array */
};
enum tg_hbv_state {
    TG_HBV_S_SNOWPACK = 0, TG_HBV_S_MELTWATER, TG_HBV_S_SM, TG_HBV_S_SUZ, TG_HBV_S_SLZ,
    TG_HBV_NSTATE
};
enum tg_hbv_output {
    TG_HBV_Q = 0, TG_HBV_Q0, TG_HBV_Q1, TG_HBV_Q2, TG_HBV_ET, TG_HBV_RAIN, TG_HBV_SNOW,
    TG_HBV_MELT, TG_HBV_SWE, TG_HBV_MELTWATER, TG_HBV_SM, TG_HBV_SUZ, TG_HBV_SLZ,
    TG_HBV_RECHARGE, TG_HBV_EXCESS, TG_HBV_PERC_OUT,
    TG_HBV_NOUT,                   /* 16: the δHBV 1.0 outputs and array layout */
    /* δHBV 1.1p (cfg.capillary = 1) only: capillary rise SLZ -> SM, mm/d, row 16 */
    TG_HBV_CAP = TG_HBV_NOUT,
    TG_HBV_NOUT_MAX                /* 17: rows of a 1.1p output array */
};
/* Forcing columns of the (T, B, 3) array. */
enum { TG_HBV_F_P = 0, TG_HBV_F_T, TG_HBV_F_PET, TG_HBV_NFORCING };

#define TG_HBV_INIT_STORE 0.001   /* mm, every store at the start (δHBV) */
#define TG_HBV_SM_FLOOR 1e-5      /* mm, lower bound of SM after ET */
/* BETA and BETAET: the δHBV default dynamic parameters. */
#define TG_HBV_DYNAMIC_DEFAULT ((1u << TG_HBV_BETA) | (1u << TG_HBV_BETAET))

/* Indexed up to TG_HBV_NPARAM_MAX / TG_HBV_NOUT_MAX: the 1.1p entries ("C", "cap") follow
 * the 13 / 16 entries of δHBV 1.0 unchanged. */
TG_API extern const char *const tg_hbv_param_names[TG_HBV_NPARAM_MAX];   /* "BETA", ..., "C" */
TG_API extern const double tg_hbv_param_range[TG_HBV_NPARAM_MAX][2];      /* physical [lo, hi] */
TG_API extern const char *const tg_hbv_param_units[TG_HBV_NPARAM_MAX];   /* "-", "mm", "1/d", ... */
TG_API extern const char *const tg_hbv_output_names[TG_HBV_NOUT_MAX];    /* "Q", ..., "perc", "cap" */
TG_API extern const char *const tg_hbv_output_units[TG_HBV_NOUT_MAX];    /* "mm/day" (fluxes), "mm" (stores) */

/* Valid domains (src/models/hbv_domain.c, docs/hbv_domain.md): where the equations make
 * sense, wider than tg_hbv_param_range. Outside = input error; inside but outside the
 * range = warning. lo/hi are ±INFINITY when unbounded; *_open: the bound is excluded. */
typedef struct tg_domain {
    double lo, hi;
    int lo_open, hi_open;
    const char *why;        /* one line: what breaks outside */
} tg_domain;
TG_API extern const tg_domain tg_hbv_param_domain[TG_HBV_NPARAM_MAX];
TG_API int tg_domain_contains(const tg_domain *d, double x);   /* 1: finite and inside */
/* "FC > 0", "0 <= K0 <= 1", "TT finite" into buf; returns buf. */
TG_API const char *tg_domain_format(const tg_domain *d, const char *name, char *buf, size_t n);
/* The domains of the forcing variables (tg_var_domain) and the table of both
 * (tg_hbv_domain_table) are in terragrad/data.h: variables are the data layer's. */

typedef struct tg_hbv_config {
    int T;               /* steps, warm-up included */
    int warmup;          /* W: first W steps initialise the stores (no output) */
    int B, M;            /* basins, components per basin */
    uint32_t dynamic;    /* bit p set: parameter p varies per step after the warm-up */
    int warmup_grad;     /* 1: backward continues through the warm-up */
    tg_real smooth_temp; /* °C smoothing width of rain/snow split and melt onset; 0 = hard */
    tg_real smooth_store;/* mm smoothing width of FC overflow and UZL; 0 = hard */
    uint32_t basin_outputs; /* bit k: compute row k of out_basin (component mean); 0 = all.
                             * Training needs only Q (1u << TG_HBV_Q): the other rows are then
                             * left untouched (forward) and their seeds ignored (backward). */
    int capillary;       /* 1: δHBV 1.1p — capillary rise from SLZ into SM with parameter C
                          * (row TG_HBV_C, bit TG_HBV_C of `dynamic` allowed) and output row
                          * TG_HBV_CAP: parameter arrays have tg_hbv_nparam(c) = 14 rows and
                          * output arrays tg_hbv_nout(c) = 17. 0 (default): δHBV 1.0, 13 and
                          * 16 rows, results bit-identical to the code without this option. */
} tg_hbv_config;

/* Defaults: all parameters static, no warm-up gradient, hard thresholds, all outputs. */
TG_API void tg_hbv_config_init(tg_hbv_config *c, int T, int warmup, int B, int M);
/* Validates sizes and options; TG_EINVAL with a message naming the field. */
TG_API int tg_hbv_config_check(const tg_hbv_config *c);
TG_API int tg_hbv_ndynamic(const tg_hbv_config *c);       /* popcount of c->dynamic */
/* Rows of the parameter arrays (13, or 14 with capillary) and of the output arrays (16, or
 * 17 with capillary): use these, not TG_HBV_NPARAM / TG_HBV_NOUT, for a run that may be 1.1p. */
TG_API int tg_hbv_nparam(const tg_hbv_config *c);
TG_API int tg_hbv_nout(const tg_hbv_config *c);
/* Mask of every parameter of the config: TG_HBV_ALL_PARAMS, plus bit TG_HBV_C with capillary. */
TG_API uint32_t tg_hbv_param_mask(const tg_hbv_config *c);
/* Number of tg_real in the state history that forward saves for backward:
 * (warmup_grad ? T : T - W) * NSTATE * L. */
TG_API size_t tg_hbv_hist_size(const tg_hbv_config *c);

/* Runs all T steps. Outputs (any may be NULL):
 *   out_basin (T-W, NOUT, B), out_lane (T-W, NOUT, L), state_final (NSTATE, L),
 *   hist (tg_hbv_hist_size) — the stores at the start of every differentiated step.
 * state_init (NSTATE, L) or NULL for 0.001 mm everywhere; par_dyn may be NULL when no
 * parameter is dynamic. Parallel over blocks of basins (OpenMP); results do not depend
 * on the thread count. Returns 0 or TG_ENOMEM (scratch of a few kB per thread). */
TG_API int tg_hbv_forward(tg_real *out_basin, tg_real *out_lane, tg_real *state_final,
                          tg_real *hist,
                          const tg_real *forcing, const tg_real *par_static,
                          const tg_real *par_dyn, const tg_real *state_init,
                          const tg_hbv_config *c);

/* Reverse sweep. Seeds (any may be NULL = zero): g_out_basin (T-W, NOUT, B), g_out_lane
 * (T-W, NOUT, L), g_state_final (NSTATE, L). Gradients are ACCUMULATED (+=) into those
 * that are not NULL: g_par_static (NPARAM, L) — includes the warm-up contribution of
 * dynamic parameters when warmup_grad; g_par_dyn (T-W, ndyn, L); g_forcing (T, B, 3)
 * (summed over components; warm-up rows only with warmup_grad); g_state_init (NSTATE, L)
 * (only reached when warmup_grad or W = 0). hist must come from tg_hbv_forward with the
 * same inputs and config. */
TG_API int tg_hbv_backward(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing,
                           tg_real *g_state_init,
                           const tg_real *g_out_basin, const tg_real *g_out_lane,
                           const tg_real *g_state_final,
                           const tg_real *hist, const tg_real *forcing,
                           const tg_real *par_static, const tg_real *par_dyn,
                           const tg_hbv_config *c);

/* Gradient checkpointing for long windows. checkpoint = 0: hist holds the stores at the
 * start of every differentiated step (NSTATE L scalars per step, tg_hbv_hist_size).
 * checkpoint = k > 0: only at the start of every k-th one (tg_hbv_hist_size_ckpt:
 * ceil(n/k) NSTATE L, n = differentiated steps); backward re-runs each k-step segment's
 * forward per block of basins from its checkpoint (k NSTATE x ~256 lanes of scratch per
 * thread) — one extra forward in all. checkpoint = -1: k = ceil(sqrt(n)). The recomputed
 * stores are bit-identical to the saved ones (same kernel), so the gradients are too.
 * tg_hbv_forward / tg_hbv_backward are these with checkpoint = 0; both calls of a pair
 * must use the same value. */
TG_API int tg_hbv_ckpt_segment(const tg_hbv_config *c, int checkpoint);   /* resolved k, 0 = off */
TG_API size_t tg_hbv_hist_size_ckpt(const tg_hbv_config *c, int checkpoint);
TG_API int tg_hbv_forward_ckpt(tg_real *out_basin, tg_real *out_lane, tg_real *state_final, tg_real *hist,
                               const tg_real *forcing, const tg_real *par_static, const tg_real *par_dyn,
                               const tg_real *state_init, const tg_hbv_config *c, int checkpoint);
TG_API int tg_hbv_backward_ckpt(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing,
                                tg_real *g_state_init, const tg_real *g_out_basin, const tg_real *g_out_lane,
                                const tg_real *g_state_final, const tg_real *hist, const tg_real *forcing,
                                const tg_real *par_static, const tg_real *par_dyn, const tg_hbv_config *c,
                                int checkpoint);

/* Parameters in [0,1] -> physical units: phys = lo + u (hi - lo), for arrays (R, np, L)
 * where the np rows of each of the R blocks are the parameters whose bit is set in
 * `mask`, in ascending order (mask = all 13 bits and R = 1 for par_static;
 * mask = cfg.dynamic and R = T-W for par_dyn; bit TG_HBV_C may be set, C is then the last
 * row). backward: g_u += g_phys (hi - lo). */
#define TG_HBV_ALL_PARAMS ((1u << TG_HBV_NPARAM) - 1u)          /* the 13 of δHBV 1.0 */
#define TG_HBV_ALL_PARAMS_CAP ((1u << TG_HBV_NPARAM_MAX) - 1u)  /* the 14 of δHBV 1.1p */
TG_API void tg_hbv_scale_forward(tg_real *phys, const tg_real *u, int R, uint32_t mask, int L);
TG_API void tg_hbv_scale_backward(tg_real *g_u, const tg_real *g_phys, int R, uint32_t mask, int L);
/* The same maps with u in the layout of PyTorch δ-models (dMG / hydrodl2): (R, B, np, M),
 * basin-major with the M components innermost, while phys keeps the kernels' (R, np, B M).
 * One pass instead of a transposed copy plus a scaling pass. The backward WRITES g_u
 * (g_u = g_phys (hi - lo), no accumulation): it fills a fresh array in the caller's layout. */
TG_API void tg_hbv_scale_forward_bpm(tg_real *phys, const tg_real *u, int R, uint32_t mask, int B, int M);
TG_API void tg_hbv_scale_backward_bpm(tg_real *g_u, const tg_real *g_phys, int R, uint32_t mask, int B, int M);

/* ===================================================================== routing */
/* Gamma unit hydrograph with TG_UH_LEN daily ordinates:
 *   w_k ∝ t_k^(a-1) exp(-t_k/θ), t_k = k + 1/2, normalised to sum 1 (a softmax of the log,
 *   so any a > 0, θ > 0 is safe);  y[t] = sum_{k=0}^{min(t, 14)} w_k q[t-k]  (zero before t=0).
 * From [0,1]: a = 0.1 + 2.9 u_a, θ = 0.5 + 6.5 u_b. */
#define TG_UH_LEN 15
/* a, theta (B) -> w (B, TG_UH_LEN). */
TG_API void tg_uh_gamma_forward(tg_real *w, const tg_real *a, const tg_real *theta, int B);
/* g_a, g_theta (B) += from g_w (B, TG_UH_LEN); w as returned by forward. */
TG_API void tg_uh_gamma_backward(tg_real *g_a, tg_real *g_theta, const tg_real *g_w,
                                 const tg_real *w, const tg_real *a, const tg_real *theta, int B);
/* Causal convolution of each basin's series with its own ordinates. q and y are time-major
 * with row strides ldq, ldy (>= B): element (t, b) at q[t*ldq + b], so a column of a wider
 * array (e.g. the Q row of an HBV (T, NOUT, B) output: ldq = NOUT*B) routes in place of a copy. */
TG_API void tg_uh_conv_forward(tg_real *y, int ldy, const tg_real *q, int ldq,
                               const tg_real *w, int T, int B);
/* g_q (may be NULL) and g_w (B, TG_UH_LEN; may be NULL) += from g_y. */
TG_API void tg_uh_conv_backward(tg_real *g_q, int ldgq, tg_real *g_w, const tg_real *g_y, int ldgy,
                                const tg_real *q, int ldq, const tg_real *w, int T, int B);
/* u (B, 2) in [0,1] -> a, theta (B); backward accumulates into g_u (B, 2). */
TG_API void tg_routing_scale_forward(tg_real *a, tg_real *theta, const tg_real *u, int B);
TG_API void tg_routing_scale_backward(tg_real *g_u, const tg_real *g_a, const tg_real *g_theta, int B);

/* ===================================================================== tape ops */
/* The whole HBV run as ONE tape node (hand-written backward; stores saved in the step
 * arena only when a gradient will be needed). Tensors:
 *   forcing (T, B, 3), par_static (NPARAM, B, M), par_dyn (T-W, ndyn, B, M) or NULL when
 *   c->dynamic = 0, state_init (NSTATE, B, M) or NULL (0.001 mm).
 * Outputs, each created only if its pointer is not NULL (at least one):
 *   *out_basin (T-W, NOUT, B), *out_lane (T-W, NOUT, B, M), *state_final (NSTATE, B, M).
 * Returns 0 or an error (shapes checked against c: TG_ESHAPE naming the input). */
TG_API int tg_hbv_op(tg_ctx *ctx, const tg_hbv_config *c, tg_tensor *forcing, tg_tensor *par_static,
                     tg_tensor *par_dyn, tg_tensor *state_init, tg_tensor **out_basin,
                     tg_tensor **out_lane, tg_tensor **state_final);
/* The same with gradient checkpointing (see tg_hbv_forward_ckpt): 0 = off, k > 0 = stores
 * saved every k steps and segments recomputed in backward, -1 = k = ceil(sqrt(steps)). */
TG_API int tg_hbv_op_ckpt(tg_ctx *ctx, const tg_hbv_config *c, int checkpoint, tg_tensor *forcing,
                          tg_tensor *par_static, tg_tensor *par_dyn, tg_tensor *state_init,
                          tg_tensor **out_basin, tg_tensor **out_lane, tg_tensor **state_final);
/* u in [0,1] -> physical parameters with core ops (differentiable): u (np, B, M) or
 * (R, np, B, M), np = the bits of mask in ascending order (TG_HBV_ALL_PARAMS for the
 * static array, cfg.dynamic for the dynamic one). NULL on error. */
TG_API tg_tensor *tg_hbv_scale_op(tg_ctx *ctx, tg_tensor *u, uint32_t mask);
/* Gamma-UH routing as ONE tape node: q (T, B) or (T, C, B) (every column C routed with
 * its basin's ordinates — e.g. a tg_slice of Q, Q0, Q1, Q2 from the HBV output), a and
 * theta (B) physical. Returns y of q's shape, or NULL. */
TG_API tg_tensor *tg_routing_op(tg_ctx *ctx, tg_tensor *q, tg_tensor *a, tg_tensor *theta);
/* a = 0.1 + 2.9 u[:,0], theta = 0.5 + 6.5 u[:,1] from u (B, 2), with core ops. */
TG_API int tg_routing_params_op(tg_ctx *ctx, tg_tensor *u, tg_tensor **a, tg_tensor **theta);

#ifdef __cplusplus
}
#endif
#endif
