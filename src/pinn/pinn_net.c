/* pinn_net.c — jets, the PINN MLP (parameters, init) and its fused Taylor-mode custom op. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pinn/pinn_internal.h"

/* ------------------------------------------------------------------ jet specs */
int tg_jet_spec_init(tg_jet_spec *s, int ndir, int npair, const int (*pairs)[2])
{
    if (!s)
        return tg_error_set(TG_EINVAL, "tg_jet_spec_init: NULL spec");
    memset(s, 0, sizeof *s);
    if (ndir < 1 || ndir > TG_JET_MAX_DIR)
        return tg_error_set(TG_EINVAL, "jet: %d coordinates (1..%d allowed)", ndir, TG_JET_MAX_DIR);
    if (npair < 0 || npair > TG_JET_MAX_PAIR || (npair && !pairs))
        return tg_error_set(TG_EINVAL, "jet: %d second-derivative pairs (0..%d allowed)", npair, TG_JET_MAX_PAIR);
    s->ndir = ndir;
    for (int p = 0; p < npair; p++) {
        int i = pairs[p][0], j = pairs[p][1];
        if (i > j) {
            int k = i;
            i = j, j = k;
        }
        if (i < 0 || j >= ndir)
            return tg_error_set(TG_EINVAL, "jet: pair (%d, %d) outside the %d coordinates", pairs[p][0], pairs[p][1], ndir);
        if (tg_jet_spec_find(s, i, j) >= 0)
            return tg_error_set(TG_EINVAL, "jet: pair (%d, %d) given twice", i, j);
        s->pair[s->npair][0] = i, s->pair[s->npair][1] = j;
        s->npair++;
    }
    return 0;
}

int tg_jet_spec_find(const tg_jet_spec *s, int i, int j)
{
    if (i > j) {
        int k = i;
        i = j, j = k;
    }
    for (int p = 0; p < s->npair; p++)
        if (s->pair[p][0] == i && s->pair[p][1] == j)
            return p;
    return -1;
}

int tg_jet_spec_channels(const tg_jet_spec *s) { return 1 + s->ndir + s->npair; }

int tg_jet_coords(tg_jet *j, tg_tensor *x, const tg_jet_spec *spec)
{
    memset(j, 0, sizeof *j);
    if (!x)
        return tg_error_set(TG_EINVAL, "tg_jet_coords: NULL coordinates");
    if (x->ndim != 2 || x->shape[1] != spec->ndir)
        return tg_error_set(TG_ESHAPE, "tg_jet_coords: coordinates must be (N, %d)", spec->ndir);
    j->spec = *spec;
    j->n = x->shape[0];
    j->f = spec->ndir;
    j->is_coords = 1;
    j->v = x;
    return 0;
}

int tg_jet_component(tg_ctx *ctx, const tg_jet *j, int c, tg_jet *out)
{
    if (j->is_coords || c < 0 || c >= j->f)
        return tg_error_set(TG_EINVAL, "tg_jet_component: component %d of a %s jet with %d components", c,
                            j->is_coords ? "coordinate" : "network", j->f);
    tg_jet r = *j;
    r.f = 1;
    r.v = tg_slice(ctx, j->v, 1, c, 1);
    for (int d = 0; d < j->spec.ndir; d++)
        r.d[d] = tg_slice(ctx, j->d[d], 1, c, 1);
    for (int p = 0; p < j->spec.npair; p++)
        r.dd[p] = tg_slice(ctx, j->dd[p], 1, c, 1);
    if (tg_ctx_status(ctx))
        return tg_ctx_status(ctx);
    *out = r;
    return 0;
}

/* ------------------------------------------------------------------ activations */
static const char *const act_names[] = {"tanh", "sin", "sigmoid", "softplus"};

int tg_pinn_act_parse(const char *name)
{
    for (int k = 0; k < 4; k++)
        if (!strcmp(name, act_names[k]))
            return k;
    return -1;
}

const char *tg_pinn_act_name(int act) { return act >= 0 && act < 4 ? act_names[act] : "?"; }

/* ------------------------------------------------------------------ network */
void tg_pinn_net_reset(const tg_pinn_net *net, tg_params *ps, tg_rng *rng)
{
    for (int l = 0; l < net->nlayers; l++) {
        int ni = net->size[l], no = net->size[l + 1];
        /* Xavier (Glorot) normal truncated at two standard deviations, as Raissi et al. */
        double sd = sqrt(2.0 / (ni + no));
        tg_real *W = tg_params_data(ps, net->param_id[l][0]), *b = tg_params_data(ps, net->param_id[l][1]);
        for (int k = 0; k < no * ni; k++) {
            double z;
            do
                z = tg_rng_normal(rng);
            while (fabs(z) > 2.0);
            W[k] = (tg_real)(sd * z);
        }
        memset(b, 0, (size_t)no * sizeof *b);
    }
}

int tg_pinn_net_init(tg_pinn_net *net, tg_params *ps, const char *name, int nlayers, const int *sizes, int act,
                     const tg_real *lo, const tg_real *hi, tg_rng *rng)
{
    memset(net, 0, sizeof *net);
    if (nlayers < 1 || nlayers > TG_PINN_MAX_LAYERS)
        return tg_error_set(TG_EINVAL, "pinn net '%s': %d layers (1..%d allowed)", name, nlayers, TG_PINN_MAX_LAYERS);
    if (act < 0 || act > TG_PINN_SOFTPLUS)
        return tg_error_set(TG_EINVAL, "pinn net '%s': unknown activation %d", name, act);
    for (int l = 0; l <= nlayers; l++)
        if (sizes[l] < 1 || (l == 0 && sizes[l] > TG_PINN_MAX_IN) || sizes[l] > 4096)
            return tg_error_set(TG_EINVAL, "pinn net '%s': layer %d has width %d", name, l, sizes[l]);
    net->nlayers = nlayers;
    net->act = act;
    memcpy(net->size, sizes, (size_t)(nlayers + 1) * sizeof *sizes);
    for (int i = 0; i < sizes[0]; i++) {
        net->in_scale[i] = 1, net->in_shift[i] = 0;
        if (lo && hi) {
            if (!(hi[i] > lo[i]))
                return tg_error_set(TG_EINVAL, "pinn net '%s': input %d has box [%g, %g]", name, i, (double)lo[i],
                                    (double)hi[i]);
            net->in_scale[i] = 2 / (hi[i] - lo[i]);
            net->in_shift[i] = -(hi[i] + lo[i]) / (hi[i] - lo[i]);
        }
    }
    for (int l = 0; l < nlayers; l++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s.W%d", name, l);
        net->param_id[l][0] = tg_params_add(ps, nm, 2, (const int[]){sizes[l + 1], sizes[l]});
        snprintf(nm, sizeof nm, "%s.b%d", name, l);
        net->param_id[l][1] = tg_params_add(ps, nm, 1, (const int[]){sizes[l + 1]});
        if (net->param_id[l][0] < 0 || net->param_id[l][1] < 0)
            return tg_error_prefix(tg_error_code() ? tg_error_code() : TG_ENOMEM, "pinn net '%s': ", name);
    }
    if (rng)
        tg_pinn_net_reset(net, ps, rng);
    return 0;
}

static void plan_from_net(tg_pinn_plan *pl, const tg_pinn_net *net, const tg_jet_spec *spec, int coords)
{
    memset(pl, 0, sizeof *pl);
    pl->L = net->nlayers;
    memcpy(pl->size, net->size, sizeof pl->size);
    pl->act = net->act;
    pl->D = spec->ndir;
    pl->P = spec->npair;
    pl->K = 1 + pl->D + pl->P;
    memcpy(pl->pair, spec->pair, sizeof pl->pair);
    pl->coords = coords;
    memcpy(pl->in_scale, net->in_scale, sizeof pl->in_scale);
    memcpy(pl->in_shift, net->in_shift, sizeof pl->in_shift);
}

int tg_pinn_net_eval(const tg_pinn_net *net, const tg_params *ps, int n, const tg_real *x, tg_real *u)
{
    tg_jet_spec spec = {.ndir = 1};
    tg_pinn_plan pl;
    plan_from_net(&pl, net, &spec, 0);
    pl.D = 0, pl.K = 1; /* value channel only */
    const tg_real *W[TG_PINN_MAX_LAYERS], *b[TG_PINN_MAX_LAYERS];
    for (int l = 0; l < net->nlayers; l++) {
        W[l] = ps->value + ps->offset[net->param_id[l][0]];
        b[l] = ps->value + ps->offset[net->param_id[l][1]];
    }
    return tg_pinn_raw_forward(&pl, W, b, n, (const tg_real *const[]){x}, (tg_real *const[]){u});
}

/* ------------------------------------------------------------------ the custom op */
typedef struct {
    tg_pinn_plan pl;
    int n, nin; /* points, number of jet input tensors */
} jet_op_data;

static int jet_op_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    const jet_op_data *d = ud;
    const tg_real *x[1 + TG_JET_MAX_DIR + TG_JET_MAX_PAIR], *W[TG_PINN_MAX_LAYERS], *b[TG_PINN_MAX_LAYERS];
    tg_real *o[1 + TG_JET_MAX_DIR + TG_JET_MAX_PAIR];
    (void)n_in;
    for (int k = 0; k < d->nin; k++)
        x[k] = in[k]->data;
    for (int l = 0; l < d->pl.L; l++)
        W[l] = in[d->nin + 2 * l]->data, b[l] = in[d->nin + 2 * l + 1]->data;
    for (int k = 0; k < n_out; k++)
        o[k] = out[k]->data;
    return tg_pinn_raw_forward(&d->pl, W, b, d->n, x, o);
}

static int jet_op_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                           const tg_real *const *grad_out, tg_real *const *grad_in)
{
    const jet_op_data *d = ud;
    const tg_real *x[1 + TG_JET_MAX_DIR + TG_JET_MAX_PAIR], *W[TG_PINN_MAX_LAYERS], *b[TG_PINN_MAX_LAYERS];
    tg_real *gx[1 + TG_JET_MAX_DIR + TG_JET_MAX_PAIR], *gW[TG_PINN_MAX_LAYERS], *gb[TG_PINN_MAX_LAYERS];
    (void)n_in, (void)out, (void)n_out;
    for (int k = 0; k < d->nin; k++)
        x[k] = in[k]->data, gx[k] = grad_in[k];
    for (int l = 0; l < d->pl.L; l++) {
        W[l] = in[d->nin + 2 * l]->data, b[l] = in[d->nin + 2 * l + 1]->data;
        gW[l] = grad_in[d->nin + 2 * l], gb[l] = grad_in[d->nin + 2 * l + 1];
    }
    return tg_pinn_raw_backward(&d->pl, W, b, d->n, x, grad_out, gW, gb, gx);
}

static const tg_custom_op jet_op = {"pinn_mlp_jet", jet_op_forward, jet_op_backward};

static int check_jet_tensor(const tg_tensor *t, int n, int f, const char *what)
{
    if (!t)
        return tg_error_set(TG_EINVAL, "pinn: input jet %s is NULL", what);
    if (t->ndim != 2 || t->shape[0] != n || t->shape[1] != f)
        return tg_error_set(TG_ESHAPE, "pinn: input jet %s must be (%d, %d)", what, n, f);
    return 0;
}

int tg_pinn_net_jet(tg_ctx *ctx, tg_params *ps, const tg_pinn_net *net, const tg_jet *in, tg_jet *out)
{
    if (!ctx || !ps || !net || !in || !out)
        return tg_error_set(TG_EINVAL, "tg_pinn_net_jet: NULL argument");
    if (tg_ctx_status(ctx))
        return tg_ctx_status(ctx);
    const tg_jet_spec *spec = &in->spec;
    const int n0 = net->size[0], N = in->v ? in->v->shape[0] : 0;
    int rc;
    if (in->is_coords) {
        if (n0 != spec->ndir)
            return tg_error_set(TG_ESHAPE, "pinn: network takes %d inputs, coordinates have %d", n0, spec->ndir);
        if ((rc = check_jet_tensor(in->v, N, n0, "coordinates")))
            return rc;
    } else {
        if ((rc = check_jet_tensor(in->v, N, n0, "value")))
            return rc;
        for (int k = 0; k < spec->ndir; k++)
            if ((rc = check_jet_tensor(in->d[k], N, n0, "first derivative")))
                return rc;
        for (int p = 0; p < spec->npair; p++)
            if ((rc = check_jet_tensor(in->dd[p], N, n0, "second derivative")))
                return rc;
    }
    jet_op_data *d = tg_ctx_alloc(ctx, sizeof *d);
    if (!d)
        return tg_error_set(TG_ENOMEM, "pinn: out of memory");
    plan_from_net(&d->pl, net, spec, in->is_coords);
    d->n = N;
    d->nin = in->is_coords ? 1 : d->pl.K;
    tg_tensor *ins[1 + TG_JET_MAX_DIR + TG_JET_MAX_PAIR + 2 * TG_PINN_MAX_LAYERS];
    int k = 0;
    ins[k++] = in->v;
    if (!in->is_coords) {
        for (int i = 0; i < spec->ndir; i++)
            ins[k++] = in->d[i];
        for (int p = 0; p < spec->npair; p++)
            ins[k++] = in->dd[p];
    }
    for (int l = 0; l < net->nlayers; l++) {
        ins[k++] = tg_param(ctx, ps, net->param_id[l][0]);
        ins[k++] = tg_param(ctx, ps, net->param_id[l][1]);
    }
    const int K = d->pl.K, nL = net->size[net->nlayers];
    int ndim[1 + TG_JET_MAX_DIR + TG_JET_MAX_PAIR], shape[1 + TG_JET_MAX_DIR + TG_JET_MAX_PAIR][TG_MAX_DIMS];
    for (int c = 0; c < K; c++) {
        ndim[c] = 2;
        shape[c][0] = N, shape[c][1] = nL, shape[c][2] = shape[c][3] = 1;
    }
    tg_tensor *o[1 + TG_JET_MAX_DIR + TG_JET_MAX_PAIR];
    if ((rc = tg_custom(ctx, &jet_op, d, ins, k, K, ndim, (const int(*)[TG_MAX_DIMS])shape, o)))
        return rc;
    memset(out, 0, sizeof *out);
    out->spec = *spec;
    out->n = N;
    out->f = nL;
    out->v = o[0];
    for (int i = 0; i < spec->ndir; i++)
        out->d[i] = o[1 + i];
    for (int p = 0; p < spec->npair; p++)
        out->dd[p] = o[1 + spec->ndir + p];
    return 0;
}
