/* ude_internal.h — what the UDE solver files share: the per-lane network kernels. */
#ifndef TG_UDE_INTERNAL_H
#define TG_UDE_INTERNAL_H
#include "terragrad/ude.h"

/* Network input of one lane: x (width[0]) from S (n), u (U, when use_u), θ (P, when
 * use_theta). */
void tg__ude_mlp_input(const tg_ude_mlp *m, int n, int U, int P, const tg_real *S, const tg_real *u,
                       const tg_real *theta, tg_real *x);
/* out (n) = NN(x) for one lane. */
void tg__ude_mlp_lane(const tg_ude_mlp *m, const tg_real *W, int n, const tg_real *x, tg_real *out);
/* Reverse of one lane, given w = dL/dout (n): ACCUMULATES S_bar (n), u_bar (U), theta_bar
 * (P) and W_bar (nweights); any may be NULL. */
void tg__ude_mlp_lane_vjp(const tg_ude_mlp *m, const tg_real *W, int n, int U, int P, const tg_real *x,
                          const tg_real *w, tg_real *S_bar, tg_real *u_bar, tg_real *theta_bar,
                          tg_real *W_bar);
/* J (n, n) += ∂NN/∂S for one lane (forward-mode tangents, one per state). */
void tg__ude_mlp_lane_jac(const tg_ude_mlp *m, const tg_real *W, int n, const tg_real *x, tg_real *J);
#endif
