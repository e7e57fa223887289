/* pinn_internal.h — the Taylor-mode MLP kernels over flat arrays (no tensors, no tape).
 *
 * A "jet" of a field at N points carries K = 1 + D + P channels: the value, the D first
 * derivatives with respect to the base coordinates and P second derivatives (pure or mixed
 * pairs). The kernels push a jet through dense + activation layers in tiles of
 * TG_PINN_TILE points; inside a tile every layer is stored feature-major
 * [feature][channel][point] so one small GEMM per layer handles all channels at once and
 * the whole tile stays in L1/L2. The backward recomputes the tile's forward instead of
 * saving activations: saved activations for 10,000 points would stream ~60 MB through
 * memory every step, recomputation costs one more forward in cache (docs/pinn.md). */
#ifndef TG_PINN_INTERNAL_H
#define TG_PINN_INTERNAL_H

#include "terragrad/core.h"
#include "terragrad/pinn.h"

/* Points per tile; a multiple of every vector length times the GEMM column unroll
 * (AVX-512: 16 floats x 4). */
#define TG_PINN_TILE 64
/* Tiles per reduction chunk: weight gradients are summed per chunk, then over chunks in
 * chunk order, so results do not depend on the thread count. */
#define TG_PINN_CHUNK 4

typedef struct tg_pinn_plan {
    int L;                               /* dense layers */
    int size[TG_PINN_MAX_LAYERS + 1];    /* n_0 (inputs) .. n_L (outputs) */
    int act;                             /* tg_pinn_act, hidden layers only */
    int D, P, K;                         /* directions, second-derivative pairs, channels */
    int pair[TG_JET_MAX_PAIR][2];
    int coords;                          /* 1: input is the coordinates, seeds built inside */
    tg_real in_scale[TG_PINN_MAX_IN];    /* h0 = in_scale * x + in_shift, per input */
    tg_real in_shift[TG_PINN_MAX_IN];
} tg_pinn_plan;

/* Forward. in: coords → in[0] = x (N, n_0); jet → in[0..K) each (N, n_0) in channel order
 * value, d/dx_0.., pairs... out[0..K) each (N, n_L). W[l] (n_{l+1}, n_l), b[l] (n_{l+1}). */
int tg_pinn_raw_forward(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b, int N,
                        const tg_real *const *in, tg_real *const *out);
/* Backward: given gout[0..K) (N, n_L), ACCUMULATES into gW[l], gb[l] (either may be NULL
 * for a layer) and gin[k] (NULL entries skipped; gin itself may be NULL). */
int tg_pinn_raw_backward(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b, int N,
                         const tg_real *const *in, const tg_real *const *gout, tg_real *const *gW,
                         tg_real *const *gb, tg_real *const *gin);

/* Value and derivatives s0..s3 of an activation at a (reference implementation, scalar;
 * the kernels use vectorisable versions). */
void tg_pinn_act_eval(int act, double a, double s[4]);

/* Per-ISA kernel entry points (pinn_mlp_impl.h compiled once per instruction set). */
typedef struct tg_pinn_ws tg_pinn_ws;
struct tg_pinn_ws {
    tg_real *A[TG_PINN_MAX_LAYERS + 1];  /* pre-activation jets, layers 1..L */
    tg_real *H[TG_PINN_MAX_LAYERS + 1];  /* post-activation jets, layers 0..L-1 */
    tg_real *gH, *gA;                    /* backward buffers (max n) x K x T */
    tg_real *accW[TG_PINN_MAX_LAYERS];   /* lane-wise weight-gradient accumulators */
    tg_real *accb[TG_PINN_MAX_LAYERS];
};
typedef struct tg_pinn_isa {
    int lanes;  /* vector length in tg_real */
    void (*tile_forward)(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b,
                         tg_pinn_ws *ws);
    void (*tile_backward)(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *Wt,
                          tg_pinn_ws *ws, int want_input_grad);
} tg_pinn_isa;
const tg_pinn_isa *tg_pinn_isa_base(void);
const tg_pinn_isa *tg_pinn_isa_avx2(void);   /* NULL when not compiled in */
const tg_pinn_isa *tg_pinn_isa_avx512(void); /* NULL when not compiled in */
const tg_pinn_isa *tg_pinn_isa_select(void);

#endif
