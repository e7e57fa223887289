/* hbv_op_io.c — shape checks and slot layout shared by the whole-run HBV tape ops
 * (hbv_op.c, hbv_hybrid_op.c, hbv_implicit.c); see hbv_op_io.h. */
#include <stdio.h>
#include <string.h>

#include "models/hbv_op_io.h"

static int shape_check(const char *op, const char *what, const tg_tensor *t, int n, const int *want)
{
    int ok = t->ndim == n;
    for (int k = 0; ok && k < n; k++)
        ok = t->shape[k] == want[k];
    if (ok)
        return 0;
    char got[64] = "", exp[64] = "";
    size_t g = 0, e = 0;
    for (int k = 0; k < t->ndim && g < sizeof got - 12; k++)
        g += (size_t)snprintf(got + g, sizeof got - g, k ? ", %d" : "%d", t->shape[k]);
    for (int k = 0; k < n && e < sizeof exp - 12; k++)
        e += (size_t)snprintf(exp + e, sizeof exp - e, k ? ", %d" : "%d", want[k]);
    return tg_error_set(TG_ESHAPE, "%s: %s has shape (%s), expected (%s)", op, what, got, exp);
}

static void add_output(tg_hbv_io *io, int *slot, int ndim, int d0, int d1, int d2, int d3)
{
    *slot = io->n_out;
    io->out_ndim[io->n_out] = ndim;
    memcpy(io->out_shape[io->n_out], (int[TG_MAX_DIMS]){d0, d1, d2, d3}, sizeof io->out_shape[0]);
    io->n_out++;
}

int tg_hbv_io_setup(tg_hbv_io *io, const char *name, tg_hbv_io_dims dm, tg_tensor *forcing,
                    tg_tensor *par_static, tg_tensor *par_dyn, tg_tensor *state_init, tg_tensor **out_basin,
                    tg_tensor **out_lane, tg_tensor **state_final)
{
    memset(io, 0, sizeof *io);
    io->name = name;
    if (out_basin)
        *out_basin = NULL;
    if (out_lane)
        *out_lane = NULL;
    if (state_final)
        *state_final = NULL;
    const int nd = dm.ndyn;
    if (!forcing || !par_static || (nd > 0 && !par_dyn))
        return tg_error_set(TG_EINVAL, "%s: forcing, static parameters%s must be given", name,
                            nd > 0 ? " and dynamic parameters" : "");
    if (!out_basin && !out_lane && !state_final)
        return tg_error_set(TG_EINVAL, "%s: no output requested", name);
    const int np = dm.np ? dm.np : TG_HBV_NPARAM, nout = dm.nout ? dm.nout : TG_HBV_NOUT;
    const int sf[3] = {dm.T, dm.B, dm.nforcing}, sp[3] = {np, dm.B, dm.M};
    const int sd[4] = {dm.TW, nd, dm.B, dm.M}, ss[3] = {TG_HBV_NSTATE, dm.B, dm.M};
    int rc;
    if ((rc = shape_check(name, "forcing", forcing, 3, sf)) ||
        (rc = shape_check(name, "static parameters", par_static, 3, sp)) ||
        (nd > 0 && (rc = shape_check(name, "dynamic parameters", par_dyn, 4, sd))) ||
        (state_init && (rc = shape_check(name, "initial stores", state_init, 3, ss))))
        return rc;

    io->s.i_forcing = tg_hbv_io_add(io, forcing);
    io->s.i_static = tg_hbv_io_add(io, par_static);
    io->s.i_dyn = nd > 0 ? tg_hbv_io_add(io, par_dyn) : -1;
    io->s.i_init = state_init ? tg_hbv_io_add(io, state_init) : -1;

    io->s.o_basin = io->s.o_lane = io->s.o_final = -1;
    if (out_basin)
        add_output(io, &io->s.o_basin, 3, dm.TW, nout, dm.B, 1);
    if (out_lane)
        add_output(io, &io->s.o_lane, 4, dm.TW, nout, dm.B, dm.M);
    if (state_final)
        add_output(io, &io->s.o_final, 3, TG_HBV_NSTATE, dm.B, dm.M, 1);
    return TG_OK;
}

int tg_hbv_io_add(tg_hbv_io *io, tg_tensor *t)
{
    /* the ops add at most 4 standard inputs + 1 extra; a new op with more is a code error */
    if (io->n_in >= TG_HBV_IO_MAX_IN)
        return -1;
    io->in[io->n_in] = t;
    return io->n_in++;
}

int tg_hbv_io_needs_grad(const tg_hbv_io *io, tg_ctx *ctx)
{
    int needs = 0;
    for (int k = 0; k < io->n_in; k++)
        needs |= io->in[k]->requires_grad;
    return needs && tg_ctx_grad_enabled(ctx);
}

int tg_hbv_io_record(tg_hbv_io *io, tg_ctx *ctx, const tg_custom_op *def, void *ud, tg_tensor **out_basin,
                     tg_tensor **out_lane, tg_tensor **state_final)
{
    tg_tensor *outs[3] = {NULL, NULL, NULL};
    int rc = tg_custom(ctx, def, ud, io->in, io->n_in, io->n_out, io->out_ndim,
                       (const int(*)[TG_MAX_DIMS])io->out_shape, outs);
    if (rc)
        return rc;
    if (out_basin)
        *out_basin = outs[io->s.o_basin];
    if (out_lane)
        *out_lane = outs[io->s.o_lane];
    if (state_final)
        *state_final = outs[io->s.o_final];
    return TG_OK;
}
