/* hbv_op_io.h — the tape-node layout that every whole-run HBV op shares (the explicit
 * hbv op, the hybrid op, the implicit op): which inputs it takes, which outputs it makes,
 * their shapes, and in which slots of tg_custom's arrays they sit.
 *
 * Inputs:  forcing (T, B, NF); static parameters (NP, B, M); dynamic parameters
 *          (TW, nd, B, M) when nd > 0; initial stores (NS, B, M) when given; then any
 *          op-specific extras (tg_hbv_io_add).
 * Outputs: per-basin fluxes (TW, NOUT, B), per-lane fluxes (TW, NOUT, B, M), final stores
 *          (NS, B, M), each only when the caller asks for it. */
#ifndef TG_MODELS_HBV_OP_IO_H
#define TG_MODELS_HBV_OP_IO_H

#include "terragrad/models.h"

/* Slots of one op's inputs and outputs in tg_custom's arrays; -1 = absent. Kept in the
 * op's data, read by its forward and backward. */
typedef struct tg_hbv_slots {
    int i_forcing, i_static, i_dyn, i_init;
    int o_basin, o_lane, o_final;
} tg_hbv_slots;

enum { TG_HBV_IO_MAX_IN = 6 };

typedef struct tg_hbv_io {
    const char *name; /* prefixes error messages: "hbv op", ... */
    tg_hbv_slots s;
    tg_tensor *in[TG_HBV_IO_MAX_IN];
    int n_in;
    int out_ndim[3], out_shape[3][TG_MAX_DIMS], n_out;
} tg_hbv_io;

/* The run's sizes as the op sees them. */
typedef struct tg_hbv_io_dims {
    int T, TW, B, M, nforcing, ndyn;
    int np, nout;   /* parameter / output rows (tg_hbv_nparam, tg_hbv_nout); 0: δHBV 1.0's 13 / 16 */
} tg_hbv_io_dims;

/* Clears the requested outputs, checks that the inputs are there with the right shapes and
 * that some output is requested, and lays out the slots. TG_EINVAL / TG_ESHAPE with a
 * message naming the op and the input otherwise. */
int tg_hbv_io_setup(tg_hbv_io *io, const char *name, tg_hbv_io_dims dm, tg_tensor *forcing,
                    tg_tensor *par_static, tg_tensor *par_dyn, tg_tensor *state_init, tg_tensor **out_basin,
                    tg_tensor **out_lane, tg_tensor **state_final);

/* Appends an op-specific input; returns its slot. */
int tg_hbv_io_add(tg_hbv_io *io, tg_tensor *t);

/* Whether the backward can be asked for: a gradient is on and some input wants one (the
 * forward then has to save its stores). */
int tg_hbv_io_needs_grad(const tg_hbv_io *io, tg_ctx *ctx);

/* Records the node (def, ud) on the tape and hands out the requested outputs. */
int tg_hbv_io_record(tg_hbv_io *io, tg_ctx *ctx, const tg_custom_op *def, void *ud, tg_tensor **out_basin,
                     tg_tensor **out_lane, tg_tensor **state_final);

/* An optional slot's data (NULL when absent), for forward and backward calls. */
static inline tg_real *tg_hbv_slot_data(tg_tensor *const *t, int slot)
{
    return slot >= 0 ? t[slot]->data : NULL;
}
static inline const tg_real *tg_hbv_slot_grad(const tg_real *const *g, int slot)
{
    return slot >= 0 ? g[slot] : NULL;
}
static inline tg_real *tg_hbv_slot_grad_in(tg_real *const *g, int slot)
{
    return slot >= 0 ? g[slot] : NULL;
}

#endif
