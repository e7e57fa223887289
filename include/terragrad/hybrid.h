/* terragrad/hybrid.h — a network as a process function inside a process model: HBV whose
 * evapotranspiration limitation is a small MLP shared by all basins, as ONE fused op with
 * a hand-written backward that also accumulates the MLP's weight gradients.
 *
 * ============================================================== the model
 * HBV (models.h) step by step, except the ET line:
 *     HBV:    ef = clamp((SM/(LP FC))^BETAET, 0, 1)
 *     hybrid: ef = g(SM/FC, T)          g: 2 -> H1 -> H2 -> 1, tanh, sigmoid output
 *     ET = min(SM, PET ef);  SM = max(SM - ET, 1e-5)   (unchanged bookkeeping)
 * so g in (0, 1) only sets the flux: every store update is the model's and the water
 * balance closes exactly as in HBV. LP and BETAET are not used (their gradient is 0); the
 * parameter arrays keep all 13 rows so the layout is tg_hbv_op's.
 *
 * Network inputs: x0 = SM/FC (SM after recharge and overflow, where HBV evaluates ef),
 * x1 = (T - t_shift) / t_scale (air temperature, °C). Weights in one flat array:
 *     W1 (H1, 2), b1 (H1), W2 (H2, H1), b2 (H2), w3 (H2), b3 (1)
 *     g = sigmoid(w3 . tanh(W2 tanh(W1 x + b1) + b2) + b3)
 *
 * Arrays as in models.h: forcing (T, B, 3), par_static (NPARAM, L), par_dyn (T-W, ndyn, L),
 * outputs (T-W, NOUT, B) / (T-W, NOUT, L), lanes L = B*M innermost. Derivation of the
 * backward (the MLP inside the time loop): docs/hybrid.md.
 */
#ifndef TERRAGRAD_HYBRID_H
#define TERRAGRAD_HYBRID_H

#include "terragrad/core.h"
#include "terragrad/models.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_HYBRID_MAX_HIDDEN 64

typedef struct tg_hybrid_mlp {
    int H1, H2;              /* hidden widths, 1..TG_HYBRID_MAX_HIDDEN */
    tg_real t_shift, t_scale;/* temperature input (T - t_shift) / t_scale */
} tg_hybrid_mlp;

/* Defaults: H1 = H2 = hidden, t_shift = 10 °C, t_scale = 10 °C. */
TG_API void tg_hybrid_mlp_init(tg_hybrid_mlp *net, int hidden);
/* Number of weights of the flat array. */
TG_API size_t tg_hybrid_mlp_size(const tg_hybrid_mlp *net);
/* TG_EINVAL naming the bad field. */
TG_API int tg_hybrid_mlp_check(const tg_hybrid_mlp *net);
/* Random weights (uniform +-1/sqrt(fan_in), PyTorch's default) and the output bias set so
 * that g = g0 at the origin of the inputs (g0 in (0,1), e.g. 0.5). */
TG_API void tg_hybrid_mlp_reset(const tg_hybrid_mlp *net, tg_real *w, tg_rng *rng, double g0);
/* g for N input pairs x (N, 2) = (SM/FC, T in °C) -> g (N). */
TG_API void tg_hybrid_mlp_eval(const tg_hybrid_mlp *net, const tg_real *w, const tg_real *x, tg_real *g, int N);

/* ----------------------------------------------------------------- raw run */
/* As tg_hbv_forward (models.h) with ef = g(SM/FC, T); w the flat MLP weights. */
TG_API int tg_hbv_hybrid_forward(tg_real *out_basin, tg_real *out_lane, tg_real *state_final, tg_real *hist,
                                 const tg_real *forcing, const tg_real *par_static, const tg_real *par_dyn,
                                 const tg_real *state_init, const tg_real *w, const tg_hybrid_mlp *net,
                                 const tg_hbv_config *c);
/* As tg_hbv_backward, plus g_w (size tg_hybrid_mlp_size, may be NULL) += dL/d weights.
 * LP and BETAET get no gradient (they are not used). */
TG_API int tg_hbv_hybrid_backward(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing,
                                  tg_real *g_state_init, tg_real *g_w, const tg_real *g_out_basin,
                                  const tg_real *g_out_lane, const tg_real *g_state_final, const tg_real *hist,
                                  const tg_real *forcing, const tg_real *par_static, const tg_real *par_dyn,
                                  const tg_real *w, const tg_hybrid_mlp *net, const tg_hbv_config *c);

/* ----------------------------------------------------------------- tape ops */
/* The whole hybrid run as ONE tape node. As tg_hbv_op plus w (tg_hybrid_mlp_size) — e.g.
 * tg_param() of a registered parameter; its gradient accumulates like any parameter's. */
TG_API int tg_hbv_hybrid_op(tg_ctx *ctx, const tg_hbv_config *c, const tg_hybrid_mlp *net, tg_tensor *forcing,
                            tg_tensor *par_static, tg_tensor *par_dyn, tg_tensor *state_init, tg_tensor *w,
                            tg_tensor **out_basin, tg_tensor **out_lane, tg_tensor **state_final);
/* g on N input pairs x (N, 2) (SM/FC, T °C) as one tape node (gradients to w and x).
 * Returns (N) or NULL. Used for penalties on the learned function (monotonicity). */
TG_API tg_tensor *tg_hybrid_mlp_op(tg_ctx *ctx, const tg_hybrid_mlp *net, tg_tensor *w, tg_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
