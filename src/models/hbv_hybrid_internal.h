/* hbv_hybrid_internal.h — the MLP kernels of the hybrid HBV (hbv_hybrid_mlp.c), shared by
 * the fused run (hbv_hybrid.c) and the tape ops (hbv_hybrid_op.c). Lanes innermost: every
 * array is (rows, ls), n <= ls lanes used, so each loop over lanes vectorises. */
#ifndef TG_MODELS_HBV_HYBRID_INTERNAL_H
#define TG_MODELS_HBV_HYBRID_INTERNAL_H

#include "terragrad/hybrid.h"

/* Forward: x0, x1 (n) scaled inputs -> h1 (H1, ls), h2 (H2, ls) activations, g (n). */
void tg_hyb_mlp_forward(const tg_hybrid_mlp *net, const tg_real *w, int n, int ls, const tg_real *x0,
                        const tg_real *x1, tg_real *h1, tg_real *h2, tg_real *g);
/* Backward from ag = dL/dg (n): gw (size of the weights, double, may be NULL) += dL/dw
 * summed over the lanes; ax0, ax1 (n, may be NULL) = dL/d inputs (overwritten).
 * work: (H1 + H2 + 1) * ls scratch. */
void tg_hyb_mlp_backward(const tg_hybrid_mlp *net, const tg_real *w, int n, int ls, const tg_real *x0,
                         const tg_real *x1, const tg_real *h1, const tg_real *h2, const tg_real *g,
                         const tg_real *ag, double *gw, tg_real *ax0, tg_real *ax1, tg_real *work);
/* Scratch rows the kernels need besides x0, x1, g: H1 + H2 (activations) + H1 + H2 + 1. */
static inline int tg_hyb_mlp_rows(const tg_hybrid_mlp *net) { return 2 * (net->H1 + net->H2) + 1; }

#endif
