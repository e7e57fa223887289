/* pinn_cases.c — the PDE problems the PINN trainer knows: residuals written with ordinary
 * tensor ops on the network's jet, initial/boundary values, reference solutions.
 *
 *   burgers    u_t + l1 u u_x - l2 u_xx = 0, x in [-1, 1], t in [0, 1], u(x, 0) = -sin(pi x),
 *              u(+-1, t) = 0; l1 = 1, l2 = 0.01/pi (Raissi et al. 2019)
 *   reaction   C_A,t = D C_A,xx - kf C_A C_B^2,  C_B,t = D C_B,xx - 2 kf C_A C_B^2,
 *              x in [0, 1], t in [0, 10], C(x, 0) = e^{-20x}, C(0, t) = 1, C(1, t) = 0;
 *              D = 2e-3, kf = 0.1 (DeepXDE's diffusion-reaction inverse problem)
 *   poisson1d  u_xx = -k pi^2 sin(pi x), x in [-1, 1]; exact u = k sin(pi x), k = 1;
 *              u(-1) = 0 and u(1) = 0 (Dirichlet) or u_x(1) = -k pi (Neumann)
 *   richards   Celia et al. (1990) infiltration, in pinn_richards.c  */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pinn_train/pinn_train_internal.h"

#define PI 3.14159265358979323846

/* ------------------------------------------------------------------ burgers */
static int burgers_residual(tg_ctx *ctx, const tg_jet *u, tg_tensor *const *coef, const tg_real *x, int n,
                            tg_tensor **r)
{
    (void)x, (void)n;
    /* u_t + l1 u u_x - l2 u_xx */
    tg_tensor *adv = tg_mul(ctx, coef[0], tg_mul(ctx, u->v, u->d[0]));
    r[0] = tg_sub(ctx, tg_add(ctx, u->d[1], adv), tg_mul(ctx, coef[1], u->dd[0]));
    return tg_ctx_status(ctx);
}

static void burgers_initial(const double *x, double *u) { u[0] = -sin(PI * x[0]); }

static int burgers_boundary(int side, int type, const double *x, double *g)
{
    (void)side, (void)x;
    if (type != BC_DIRICHLET)
        return 1;
    g[0] = 0;
    return 0;
}

static int csv_reference(const char *path, tg_pinn_ref *r)
{
    if (!path)
        return tg_error_set(TG_EINVAL, "no reference file given");
    return tg_pinn_ref_read_csv(path, 2, r);
}

/* ------------------------------------------------------------------ reaction */
static int reaction_residual(tg_ctx *ctx, const tg_jet *u, tg_tensor *const *coef, const tg_real *x, int n,
                             tg_tensor **r)
{
    (void)x, (void)n;
    tg_jet a, b;
    int rc = tg_jet_component(ctx, u, 0, &a);
    if (!rc)
        rc = tg_jet_component(ctx, u, 1, &b);
    if (rc)
        return rc;
    /* kf C_A C_B^2 */
    tg_tensor *react = tg_mul(ctx, coef[1], tg_mul(ctx, a.v, tg_mul(ctx, b.v, b.v)));
    r[0] = tg_add(ctx, tg_sub(ctx, a.d[1], tg_mul(ctx, coef[0], a.dd[0])), react);
    r[1] = tg_add(ctx, tg_sub(ctx, b.d[1], tg_mul(ctx, coef[0], b.dd[0])), tg_muls(ctx, react, 2));
    return tg_ctx_status(ctx);
}

static void reaction_initial(const double *x, double *u) { u[0] = u[1] = exp(-20 * x[0]); }

static int reaction_boundary(int side, int type, const double *x, double *g)
{
    (void)x;
    if (type != BC_DIRICHLET)
        return 1;
    g[0] = g[1] = side == 0 ? 1 : 0;
    return 0;
}

/* reaction.npz: t (1, 201), x (1, 201), Ca, Cb (201, 201) with rows = t, columns = x */
static int reaction_reference(const char *path, tg_pinn_ref *r)
{
    memset(r, 0, sizeof *r);
    if (!path)
        return tg_error_set(TG_EINVAL, "no reference file given");
    double *t = NULL, *x = NULL, *ca = NULL, *cb = NULL;
    int nd[4], sh[4][4], rc;
    rc = tg_npz_read(path, "t", &t, &nd[0], sh[0]);
    if (!rc)
        rc = tg_npz_read(path, "x", &x, &nd[1], sh[1]);
    if (!rc)
        rc = tg_npz_read(path, "Ca", &ca, &nd[2], sh[2]);
    if (!rc)
        rc = tg_npz_read(path, "Cb", &cb, &nd[3], sh[3]);
    int nt = 0, nx = 0;
    if (!rc) {
        nt = nd[0] == 2 ? sh[0][0] * sh[0][1] : sh[0][0];
        nx = nd[1] == 2 ? sh[1][0] * sh[1][1] : sh[1][0];
        if (nd[2] != 2 || sh[2][0] != nt || sh[2][1] != nx || nd[3] != 2 || sh[3][0] != nt || sh[3][1] != nx)
            rc = tg_error_set(TG_EINVAL, "%s: Ca/Cb must be (%d, %d) = (t, x)", path, nt, nx);
    }
    if (!rc) {
        r->n = nt * nx, r->dim = 2, r->f = 2;
        r->x = tg_malloc((size_t)r->n * 2 * sizeof *r->x);
        r->u = tg_malloc((size_t)r->n * 2 * sizeof *r->u);
        if (!r->x || !r->u)
            rc = tg_error_set(TG_ENOMEM, "%s: out of memory", path);
        else
            for (int j = 0; j < nt; j++)
                for (int i = 0; i < nx; i++) {
                    size_t k = (size_t)j * nx + i;
                    r->x[2 * k] = x[i], r->x[2 * k + 1] = t[j];
                    r->u[2 * k] = ca[k], r->u[2 * k + 1] = cb[k];
                }
    }
    tg_free(t, t ? (size_t)nt * sizeof *t : 0);
    tg_free(x, x ? (size_t)nx * sizeof *x : 0);
    tg_free(ca, ca ? (size_t)nt * nx * sizeof *ca : 0);
    tg_free(cb, cb ? (size_t)nt * nx * sizeof *cb : 0);
    if (rc)
        tg_pinn_ref_free(r);
    return rc;
}

/* ------------------------------------------------------------------ poisson1d */
static int poisson_residual(tg_ctx *ctx, const tg_jet *u, tg_tensor *const *coef, const tg_real *x, int n,
                            tg_tensor **r)
{
    /* u_xx + k pi^2 sin(pi x) */
    tg_tensor *s = tg_new(ctx, 2, (const int[]){n, 1});
    if (!s)
        return tg_ctx_status(ctx);
    for (int i = 0; i < n; i++)
        s->data[i] = (tg_real)(PI * PI * sin(PI * (double)x[i]));
    r[0] = tg_add(ctx, u->dd[0], tg_mul(ctx, coef[0], s));
    return tg_ctx_status(ctx);
}

static int poisson_boundary(int side, int type, const double *x, double *g)
{
    g[0] = type == BC_DIRICHLET ? sin(PI * x[0]) : PI * cos(PI * x[0]);
    (void)side;
    return 0;
}

static int poisson_reference(const char *path, tg_pinn_ref *r)
{
    (void)path;
    memset(r, 0, sizeof *r);
    r->n = 201, r->dim = 1, r->f = 1;
    r->x = tg_malloc((size_t)r->n * sizeof *r->x);
    r->u = tg_malloc((size_t)r->n * sizeof *r->u);
    if (!r->x || !r->u) {
        tg_free(r->x, r->x ? (size_t)r->n * sizeof *r->x : 0), tg_free(r->u, r->u ? (size_t)r->n * sizeof *r->u : 0);
        memset(r, 0, sizeof *r);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    for (int i = 0; i < r->n; i++) {
        r->x[i] = -1.0 + 2.0 * i / (r->n - 1);
        r->u[i] = sin(PI * r->x[i]);
    }
    return 0;
}

/* ------------------------------------------------------------------ table */
static const pinn_case cases[] = {
    {"burgers", "viscous Burgers (Raissi et al. 2019)", 2, 1, 1, {"x", "t"}, {"u"}, {-1, 0}, {1, 1}, 2,
     {"lambda1", "lambda2"}, {1.0, 0.01 / PI}, {0.0, 0.0024787521766663585 /* e^-6, Raissi's start */}, 1,
     "pinn/burgers/burgers_shock_xtu.csv", burgers_residual, burgers_initial, burgers_boundary, csv_reference, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"reaction", "diffusion-reaction, two species (DeepXDE)", 2, 2, 1, {"x", "t"}, {"Ca", "Cb"}, {0, 0}, {1, 10}, 2,
     {"D", "kf"}, {2e-3, 0.1}, {1e-3, 0.05}, 1, "pinn/diffusion_reaction/reaction.npz", reaction_residual,
     reaction_initial, reaction_boundary, reaction_reference, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"poisson1d", "u_xx = -k pi^2 sin(pi x) (test problem)", 1, 1, 0, {"x", NULL}, {"u"}, {-1, 0}, {1, 0}, 1, {"k"},
     {1.0}, {0.5}, 1, NULL, poisson_residual, NULL, poisson_boundary, poisson_reference, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL},
};

const pinn_case *tg_pinn_case_find(const char *name)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        if (!strcmp(cases[k].name, name))
            return &cases[k];
    if (!strcmp(tg_pinn_case_richards.name, name))
        return &tg_pinn_case_richards;
    return NULL;
}

const char *tg_pinn_case_names(void) { return "burgers|reaction|poisson1d|richards"; }
