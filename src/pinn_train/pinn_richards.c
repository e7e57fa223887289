/* pinn_richards.c — the geoscience PINN case: 1-D Richards infiltration of Celia,
 * Bouloutas & Zarba (1990), compared with the finite-volume solver of src/models.
 *
 * Problem (cm, s): z in [0, L = 40] upward from the bottom, t in [0, T = 360]; Haverkamp soil
 *   theta = theta_r + (theta_s - theta_r) / (1 + |psi|^beta / alpha),  K = Ks / (1 + |psi|^gamma / A)
 * (alpha = 1.611e6, beta = 3.96, Ks = 0.00944 cm/s, theta_r = 0.075, theta_s = 0.287,
 * A = 1.175e6, gamma = 4.74); psi = -61.5 initially and at the bottom, -20.7 at the top.
 * Mixed-form residual, expanded with the chain rule on the network's jet:
 *   d theta(psi)/dt - d/dz [K (psi_z + 1)] = C psi_t - K'(psi) psi_z (psi_z + 1) - K psi_zz,
 *   C = (theta_s - theta_r) beta r / (|psi| (1 + r)^2),  r = |psi|^beta / alpha,
 *   K' = dK/dpsi = K gamma s / (|psi| (1 + s)),       s = |psi|^gamma / A,
 * times t_end / (theta_s - theta_r) so it is O(1).
 *
 * The top head jumps from -61.5 to -20.7 at t = 0, which no smooth field can match at the
 * corner (L, 0). The PINN and the reference solver therefore both use the boundary ramp
 *   psi_top(t) = psi_i + (psi_top - psi_i) rho(t),  rho = 1 - exp(-t / tau)  (tau = 2 s),
 * and the initial and boundary conditions are hard constraints of the ansatz
 *   psi = psi_i + (psi_top - psi_i) rho(t) [E(zeta) + zeta (1 - zeta) N(z, t)],  zeta = z / L,
 *   E = (exp(-(1 - zeta) / delta) - exp(-1 / delta)) / (1 - exp(-1 / delta)),
 * E(0) = 0, E(1) = 1: a boundary layer of relative thickness delta (0.25) below the top as
 * the first guess. The effect of the ramp itself is measured by a solver run with the step
 * (summary.txt: solver_ramp_vs_step). Reference: the solver on a fine grid (400 cells,
 * dt = 0.1 s) on a (z, t) grid; the SimPEG profile of Celia's problem at 360 s
 * (../shared/data/pinn/richards_celia1990) is compared as well. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pinn_train/pinn_train_internal.h"
#include "terragrad/adjoint.h"

#define PSI_I (-61.5)
#define PSI_TOP (-20.7)
#define THETA_R 0.075
#define THETA_S 0.287
#define A_K 1.175e6

struct pinn_richards {
    double tau, delta;                 /* ramp time (s), boundary-layer thickness (of L) */
    int sqrt_time, graded;             /* network input sqrt((t + t0)/(T + t0)); t = T u^2 sampling */
    int cells, coarse_cells;
    double dt, coarse_dt, out_dt, out_dz;
    double p[7];                       /* Haverkamp parameters of the solver runs */
    int truth_params;                  /* 1: the solver used the case's published values */
    /* statistics of the solver runs */
    double fine_seconds, fine_mass_err;
    long fine_newton;
    double coarse_seconds, coarse_mass_err, coarse_max, coarse_rms; /* vs the fine run */
    double celia_fine_step[2], celia_coarse_step[2], celia_fine_ramp[2]; /* max, rms (cm) */
    double ramp_vs_step[2];            /* fine ramp vs fine step at t_end: max, rms */
    int celia_n;
    double *celia_z, *celia_psi;
    double *fine_end;                  /* fine ramp profile at t_end on the Celia points */
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tg_pinn_richards_free(pinn_richards **rp)
{
    if (!rp || !*rp)
        return;
    pinn_richards *q = *rp;
    tg_free(q->celia_z, q->celia_z ? (size_t)q->celia_n * sizeof(double) : 0);
    tg_free(q->celia_psi, q->celia_psi ? (size_t)q->celia_n * sizeof(double) : 0);
    tg_free(q->fine_end, q->fine_end ? (size_t)q->celia_n * sizeof(double) : 0);
    tg_free(q, sizeof *q);
    *rp = NULL;
}

void tg_pinn_richards_params(const double *c, double *p7)
{
    p7[0] = c[1], p7[1] = c[2], p7[2] = c[0], p7[3] = THETA_R, p7[4] = THETA_S, p7[5] = A_K, p7[6] = c[3];
}

static double ramp(const pinn_richards *q, double t) { return q->tau > 0 ? -expm1(-t / q->tau) : (t > 0); }

/* ------------------------------------------------------------------ residual */
static tg_tensor *col_const(tg_ctx *ctx, int n)
{
    return tg_new(ctx, 2, (const int[]){n, 1});
}

static int richards_residual(tg_ctx *ctx, const tg_jet *u, tg_tensor *const *coef, const tg_real *x, int n,
                             tg_tensor **r)
{
    (void)x, (void)n;
    tg_tensor *psi = u->v, *pz = u->d[0], *pt = u->d[1], *pzz = u->dd[0];
    /* a = |psi| (smoothed at 0, which the ansatz keeps far away) */
    tg_tensor *a = tg_sqrt(ctx, tg_adds(ctx, tg_mul(ctx, psi, psi), TG_R(1e-6)));
    tg_tensor *la = tg_log(ctx, a);
    tg_tensor *rr = tg_exp(ctx, tg_sub(ctx, tg_mul(ctx, coef[2], la), tg_log(ctx, coef[1])));
    tg_tensor *ss = tg_exp(ctx, tg_adds(ctx, tg_mul(ctx, coef[3], la), (tg_real)(-log(A_K))));
    tg_tensor *r1 = tg_adds(ctx, rr, 1), *s1 = tg_adds(ctx, ss, 1);
    /* C = (ts - tr) beta r / (a (1 + r)^2) */
    tg_tensor *C = tg_muls(ctx, tg_div(ctx, tg_mul(ctx, coef[2], rr), tg_mul(ctx, a, tg_mul(ctx, r1, r1))),
                           (tg_real)(THETA_S - THETA_R));
    tg_tensor *K = tg_div(ctx, coef[0], s1);
    tg_tensor *dK = tg_div(ctx, tg_mul(ctx, K, tg_mul(ctx, coef[3], ss)), tg_mul(ctx, a, s1));
    tg_tensor *res = tg_sub(ctx, tg_mul(ctx, C, pt), tg_mul(ctx, dK, tg_mul(ctx, pz, tg_adds(ctx, pz, 1))));
    res = tg_sub(ctx, res, tg_mul(ctx, K, pzz));
    r[0] = tg_muls(ctx, res, (tg_real)PINN_RICHARDS_RES_SCALE);
    return tg_ctx_status(ctx);
}

/* ------------------------------------------------------------------ hard constraints */
typedef struct {
    double rho, drho, E, Ez, Ezz, B, Bz, Bzz;
} ansatz;

static void ansatz_at(const pinn_richards *q, double z, double t, ansatz *s)
{
    const double L = PINN_RICHARDS_L, d = q->delta, e1 = exp(-1 / d), ze = z / L;
    s->rho = ramp(q, t);
    s->drho = q->tau > 0 ? exp(-t / q->tau) / q->tau : 0;
    double ex = exp(-(1 - ze) / d);
    s->E = (ex - e1) / (1 - e1);
    s->Ez = ex / (d * (1 - e1)) / L;
    s->Ezz = s->Ez / (d * L);
    s->B = ze * (1 - ze);
    s->Bz = (1 - 2 * ze) / L;
    s->Bzz = -2 / (L * L);
}

static int richards_transform(const tg_pinn_run *r, tg_ctx *ctx, const tg_real *x, int n, const tg_jet *net,
                              tg_jet *u)
{
    const pinn_richards *q = r->rich;
    const double D = PSI_TOP - PSI_I;
    const int dim = 2, second = net->spec.npair > 0;
    enum { A1, A2, E, EZ, EZZ, B, BZ, BZZ, NC };
    tg_tensor *c[NC];
    for (int k = 0; k < NC; k++)
        if (!(c[k] = col_const(ctx, n)))
            return tg_ctx_status(ctx);
    for (int i = 0; i < n; i++) {
        ansatz s;
        ansatz_at(q, (double)x[(size_t)i * dim], (double)x[(size_t)i * dim + 1], &s);
        c[A1]->data[i] = (tg_real)(D * s.rho), c[A2]->data[i] = (tg_real)(D * s.drho);
        c[E]->data[i] = (tg_real)s.E, c[EZ]->data[i] = (tg_real)s.Ez, c[EZZ]->data[i] = (tg_real)s.Ezz;
        c[B]->data[i] = (tg_real)s.B, c[BZ]->data[i] = (tg_real)s.Bz, c[BZZ]->data[i] = (tg_real)s.Bzz;
    }
    memset(u, 0, sizeof *u);
    u->spec = net->spec, u->n = n, u->f = 1;
    tg_tensor *N = net->v, *Nz = net->d[0], *Nt = net->d[1];
    /* G = E + B N;  psi = psi_i + a1 G */
    tg_tensor *BN = tg_mul(ctx, c[B], N), *G = tg_add(ctx, c[E], BN);
    u->v = tg_adds(ctx, tg_mul(ctx, c[A1], G), (tg_real)PSI_I);
    /* psi_z = a1 (Ez + Bz N + B Nz) */
    tg_tensor *Gz = tg_add(ctx, tg_add(ctx, c[EZ], tg_mul(ctx, c[BZ], N)), tg_mul(ctx, c[B], Nz));
    u->d[0] = tg_mul(ctx, c[A1], Gz);
    /* psi_t = a2 G + a1 B Nt */
    u->d[1] = tg_add(ctx, tg_mul(ctx, c[A2], G), tg_mul(ctx, c[A1], tg_mul(ctx, c[B], Nt)));
    if (second) { /* psi_zz = a1 (Ezz + Bzz N + 2 Bz Nz + B Nzz) */
        tg_tensor *g = tg_add(ctx, c[EZZ], tg_mul(ctx, c[BZZ], N));
        g = tg_add(ctx, g, tg_muls(ctx, tg_mul(ctx, c[BZ], Nz), 2));
        g = tg_add(ctx, g, tg_mul(ctx, c[B], net->dd[0]));
        u->dd[0] = tg_mul(ctx, c[A1], g);
    }
    return tg_ctx_status(ctx);
}

static void richards_transform_value(const tg_pinn_run *r, const double *x, const double *net, double *u)
{
    ansatz s;
    ansatz_at(r->rich, x[0], x[1], &s);
    u[0] = PSI_I + (PSI_TOP - PSI_I) * s.rho * (s.E + s.B * net[0]);
}

/* ------------------------------------------------------------------ inputs */
#define T0_FEAT 0.05 /* s: keeps d sigma / dt finite at t = 0 */
static double sigma_of(double t) { return sqrt((t + T0_FEAT) / (PINN_RICHARDS_T + T0_FEAT)); }

static int richards_features(const tg_pinn_run *r, tg_ctx *ctx, const tg_jet *in, tg_jet *feat)
{
    const int n = in->n, second = in->spec.npair > 0;
    if (!r->rich->sqrt_time) {
        *feat = *in;
        return 0;
    }
    memset(feat, 0, sizeof *feat);
    feat->spec = in->spec, feat->n = n, feat->f = 2;
    feat->v = tg_new(ctx, 2, (const int[]){n, 2});
    feat->d[0] = tg_new(ctx, 2, (const int[]){n, 2});
    feat->d[1] = tg_new(ctx, 2, (const int[]){n, 2});
    /* d2 sigma / dz2 = 0; z is linear */
    if (second)
        feat->dd[0] = tg_full(ctx, 2, (const int[]){n, 2}, 0);
    if (tg_ctx_status(ctx))
        return tg_ctx_status(ctx);
    for (int i = 0; i < n; i++) {
        double z = (double)in->v->data[2 * i], t = (double)in->v->data[2 * i + 1];
        feat->v->data[2 * i] = (tg_real)z, feat->v->data[2 * i + 1] = (tg_real)sigma_of(t);
        feat->d[0]->data[2 * i] = 1, feat->d[0]->data[2 * i + 1] = 0;
        feat->d[1]->data[2 * i] = 0;
        feat->d[1]->data[2 * i + 1] = (tg_real)(0.5 / sqrt((t + T0_FEAT) * (PINN_RICHARDS_T + T0_FEAT)));
    }
    return 0;
}

static void richards_features_value(const tg_pinn_run *r, const double *x, tg_real *f)
{
    f[0] = (tg_real)x[0];
    f[1] = (tg_real)(r->rich->sqrt_time ? sigma_of(x[1]) : x[1]);
}

static void richards_warp(const tg_pinn_run *r, tg_real *x, int n)
{
    if (!r->rich->graded)
        return;
    for (int i = 0; i < n; i++) {
        double u = (double)x[2 * i + 1] / PINN_RICHARDS_T;
        x[2 * i + 1] = (tg_real)(PINN_RICHARDS_T * u * u);
    }
}

static void richards_initial(const double *x, double *u)
{
    (void)x;
    u[0] = PSI_I;
}

static int richards_boundary(int side, int type, const double *x, double *g)
{
    (void)side, (void)type, (void)x, (void)g;
    return 1; /* hard constraints only */
}

static int richards_reference(const char *path, tg_pinn_ref *r)
{
    (void)path, (void)r;
    return tg_error_set(TG_EINVAL, "richards: the reference comes from the solver");
}

/* ------------------------------------------------------------------ mass balance */
int tg_pinn_richards_mass_balance(pinn_field_fn field, void *ud, const double *p7, double L, double T, int nz,
                                  int nt, double out[3])
{
    nz += nz & 1, nt += nt & 1;
    int nmax = (nz > nt ? nz : nt) + 1;
    double *zt = tg_malloc((size_t)nmax * 2 * sizeof *zt), *psi = tg_malloc((size_t)nmax * sizeof *psi),
           *pz = tg_malloc((size_t)nmax * sizeof *pz);
    int rc = zt && psi && pz ? 0 : tg_error_set(TG_ENOMEM, "richards: out of memory");
    double S[2] = {0, 0}, inflow = 0;
    tg_real pr[7];
    for (int k = 0; k < 7; k++)
        pr[k] = (tg_real)p7[k];
    /* storage at t = 0 and t = T: Simpson in z */
    for (int e = 0; e < 2 && !rc; e++) {
        for (int i = 0; i <= nz; i++)
            zt[2 * i] = L * i / nz, zt[2 * i + 1] = e ? T : 0;
        if ((rc = field(ud, nz + 1, zt, psi, pz)))
            break;
        for (int i = 0; i <= nz; i++) {
            tg_real ps = (tg_real)psi[i], th;
            tg_soil_haverkamp.eval(pr, 1, &ps, &th, NULL, NULL, NULL);
            double w = (i == 0 || i == nz) ? 1 : (i & 1) ? 4 : 2;
            S[e] += w * (double)th;
        }
        S[e] *= L / nz / 3;
    }
    /* boundary inflow K (psi_z + 1) at the top minus at the bottom; t = T s^2 */
    for (int side = 0; side < 2 && !rc; side++) {
        for (int j = 0; j <= nt; j++) {
            double s = (double)j / nt;
            zt[2 * j] = side ? L : 0, zt[2 * j + 1] = T * s * s;
        }
        if ((rc = field(ud, nt + 1, zt, psi, pz)))
            break;
        double acc = 0;
        for (int j = 0; j <= nt; j++) {
            tg_real ps = (tg_real)psi[j], K;
            tg_soil_haverkamp.eval(pr, 1, &ps, NULL, NULL, &K, NULL);
            double q = (double)K * (pz[j] + 1) * (side ? 1 : -1), s = (double)j / nt;
            double w = (j == 0 || j == nt) ? 1 : (j & 1) ? 4 : 2;
            acc += w * q * 2 * T * s; /* dt = 2 T s ds */
        }
        inflow += acc / nt / 3;
    }
    if (!rc) {
        out[0] = S[1] - S[0], out[1] = inflow;
        out[2] = (out[0] - inflow) / (fabs(inflow) > 0 ? fabs(inflow) : 1);
    }
    tg_free(zt, zt ? (size_t)nmax * 2 * sizeof *zt : 0);
    tg_free(psi, psi ? (size_t)nmax * sizeof *psi : 0);
    tg_free(pz, pz ? (size_t)nmax * sizeof *pz : 0);
    return rc;
}

/* the trained field: psi and psi_z from the network's first-order jet */
static int pinn_field(void *ud, int n, const double *zt, double *psi, double *psi_z)
{
    const tg_pinn_run *r = ud;
    tg_ctx *ctx = tg_ctx_create();
    if (!ctx)
        return tg_error_code() ? tg_error_code() : TG_ENOMEM;
    tg_tensor *x = tg_new(ctx, 2, (const int[]){n, 2});
    int rc = x ? 0 : tg_ctx_status(ctx);
    tg_jet_spec s1;
    tg_jet in, u;
    if (!rc) {
        for (size_t k = 0; k < (size_t)n * 2; k++)
            x->data[k] = (tg_real)zt[k];
        tg_jet_spec_init(&s1, 2, 0, NULL);
        rc = tg_jet_coords(&in, x, &s1);
    }
    if (!rc)
        rc = tg_pinn_field_jet(r, ctx, &in, &u);
    for (int i = 0; !rc && i < n; i++)
        psi[i] = (double)u.v->data[i], psi_z[i] = (double)u.d[0]->data[i];
    tg_ctx_free(&ctx);
    return rc;
}

/* ------------------------------------------------------------------ solver runs */
/* profile value at height z from cell values (cell-centred) and the two boundary heads */
static double profile_at(const tg_real *psi, int N, double L, double bottom, double top, double z)
{
    const double dz = L / N;
    double c = z / dz - 0.5; /* fractional cell index */
    if (c <= 0) {
        double w = z / (0.5 * dz);
        return (1 - w) * bottom + w * (double)psi[0];
    }
    if (c >= N - 1) {
        double w = (z - (N - 0.5) * dz) / (0.5 * dz);
        return (1 - w) * (double)psi[N - 1] + w * top;
    }
    int i = (int)c;
    double w = c - i;
    return (1 - w) * (double)psi[i] + w * (double)psi[i + 1];
}

/* One solver run: N cells, step <= dt, top head ramped (use_ramp) or stepped; the states
 * at the n_out output times into prof (n_out, N). */
static int solve(const pinn_richards *q, int N, double dt, int use_ramp, int n_out, const double *out_t,
                 tg_real *prof, double *seconds, double *mass_err, long *newton)
{
    tg_real *steps = NULL, *psi_all = NULL, *u = NULL, *psi0 = NULL, pr[7];
    int T = 0, out_step[512], rc;
    if (n_out > 512)
        return tg_error_set(TG_EINVAL, "richards: at most 512 output times");
    if ((rc = tg_richards_time_grid(dt, out_t, n_out, &steps, &T, out_step)))
        return rc;
    for (int k = 0; k < 7; k++)
        pr[k] = (tg_real)q->p[k];
    tg_richards m = {&tg_soil_haverkamp, N, (tg_real)PINN_RICHARDS_L, TG_BC_DIRICHLET, TG_BC_DIRICHLET, T, steps};
    psi_all = tg_malloc((size_t)(T + 1) * N * sizeof *psi_all);
    u = tg_malloc((size_t)T * 2 * sizeof *u);
    psi0 = tg_malloc((size_t)N * sizeof *psi0);
    if (!psi_all || !u || !psi0)
        rc = tg_error_set(TG_ENOMEM, "richards: out of memory for %d steps", T);
    if (!rc) {
        double t = 0;
        for (int k = 0; k < T; k++) {
            t += (double)steps[k];
            double top = use_ramp ? PSI_I + (PSI_TOP - PSI_I) * ramp(q, t) : PSI_TOP;
            u[2 * k] = (tg_real)top, u[2 * k + 1] = (tg_real)PSI_I;
        }
        for (int i = 0; i < N; i++)
            psi0[i] = (tg_real)PSI_I;
        tg_newton_opts o = tg_newton_defaults();
        tg_newton_report rep;
        tg_newton_report_init(&rep);
        double me = 0, t0 = now_seconds();
        rc = tg_richards_simulate(&m, 1, psi0, pr, u, &o, psi_all, &me, &rep);
        if (seconds)
            *seconds = now_seconds() - t0;
        if (mass_err)
            *mass_err = me;
        if (newton)
            *newton = rep.iters;
        for (int k = 0; !rc && k < n_out; k++)
            memcpy(prof + (size_t)k * N, psi_all + (size_t)out_step[k] * N, (size_t)N * sizeof *prof);
    }
    tg_free(steps, (size_t)T * sizeof *steps);
    tg_free(psi_all, psi_all ? (size_t)(T + 1) * N * sizeof *psi_all : 0);
    tg_free(u, u ? (size_t)T * 2 * sizeof *u : 0);
    tg_free(psi0, psi0 ? (size_t)N * sizeof *psi0 : 0);
    return rc;
}

static void compare_celia(const pinn_richards *q, const tg_real *prof, int N, double top, double *mr)
{
    double mx = 0, ss = 0;
    for (int i = 0; i < q->celia_n; i++) {
        double e = profile_at(prof, N, PINN_RICHARDS_L, PSI_I, top, q->celia_z[i]) - q->celia_psi[i];
        mx = fmax(mx, fabs(e)), ss += e * e;
    }
    mr[0] = mx, mr[1] = q->celia_n ? sqrt(ss / q->celia_n) : (double)NAN;
}

static int read_celia(pinn_richards *q, const char *path)
{
    tg_pinn_ref c;
    int rc = tg_pinn_ref_read_csv(path, 1, &c);
    if (rc)
        return rc;
    q->celia_n = c.n;
    q->celia_z = tg_malloc((size_t)c.n * sizeof(double));
    q->celia_psi = tg_malloc((size_t)c.n * sizeof(double));
    q->fine_end = tg_malloc((size_t)c.n * sizeof(double));
    if (!q->celia_z || !q->celia_psi || !q->fine_end)
        rc = tg_error_set(TG_ENOMEM, "richards: out of memory");
    else
        for (int i = 0; i < c.n; i++)
            q->celia_z[i] = c.x[i], q->celia_psi[i] = c.u[(size_t)i * c.f];
    tg_pinn_ref_free(&c);
    return rc;
}

static int cfg_err(const tg_cfg *cfg, const char *key, const char *msg)
{
    return tg_error_set(TG_EINVAL, "%s:%d: '%s': %s", tg_cfg_path(cfg), tg_cfg_line(cfg, key), key, msg);
}

/* Runs the solver: the fine ramped run is the reference r->ref on the output grid. */
static int richards_prepare(tg_pinn_run *r, const tg_cfg *cfg, const char *data_dir)
{
    pinn_richards *q = tg_calloc(1, sizeof *q);
    if (!q)
        return tg_error_set(TG_ENOMEM, "richards: out of memory");
    r->rich = q;
    q->tau = tg_cfg_float(cfg, "richards.ramp");
    q->delta = tg_cfg_float(cfg, "richards.layer");
    q->sqrt_time = !strcmp(tg_cfg_str(cfg, "richards.time_input"), "sqrt");
    q->graded = tg_cfg_bool(cfg, "richards.graded_time");
    if (q->sqrt_time) { /* the network sees sigma in [sigma(0), 1] mapped onto [-1, 1] */
        double s0 = sigma_of(0);
        r->net.in_scale[1] = (tg_real)(2 / (1 - s0));
        r->net.in_shift[1] = (tg_real)(-1 - 2 * s0 / (1 - s0));
    }
    q->cells = (int)tg_cfg_int(cfg, "richards.solver_cells");
    q->dt = tg_cfg_float(cfg, "richards.solver_dt");
    q->coarse_cells = (int)tg_cfg_int(cfg, "richards.coarse_cells");
    q->coarse_dt = tg_cfg_float(cfg, "richards.coarse_dt");
    q->out_dt = tg_cfg_float(cfg, "richards.output_dt");
    q->out_dz = tg_cfg_float(cfg, "richards.output_dz");
    if (tg_cfg_has(cfg, "data.reference"))
        return cfg_err(cfg, "data.reference", "case richards computes its reference with the solver (richards.solver_*)");
    if (!(q->tau > 0 && q->tau < 100))
        return cfg_err(cfg, "richards.ramp", "the ramp time must be in (0, 100) s");
    if (!(q->delta > 0.01 && q->delta <= 10))
        return cfg_err(cfg, "richards.layer", "must be in (0.01, 10] (a fraction of the column)");
    if (q->cells < 4 || q->cells > 100000 || !(q->dt > 0))
        return cfg_err(cfg, "richards.solver_cells", "solver_cells must be 4..100000 and solver_dt > 0");
    if (q->coarse_cells < 4 || q->coarse_cells > 100000 || !(q->coarse_dt > 0))
        return cfg_err(cfg, "richards.coarse_cells", "coarse_cells must be 4..100000 and coarse_dt > 0");
    int n_out = (int)lround(PINN_RICHARDS_T / q->out_dt);
    if (!(q->out_dt > 0) || n_out < 1 || n_out > 512 || fabs(n_out * q->out_dt - PINN_RICHARDS_T) > 1e-9)
        return cfg_err(cfg, "richards.output_dt", "must divide 360 s into 1..512 intervals");
    int nzo = (int)lround(PINN_RICHARDS_L / q->out_dz);
    if (!(q->out_dz > 0) || nzo < 2 || nzo > 100000 || fabs(nzo * q->out_dz - PINN_RICHARDS_L) > 1e-9)
        return cfg_err(cfg, "richards.output_dz", "must divide 40 cm into 2..100000 intervals");
    /* solver parameters: the configured value of fixed coefficients, the truth of learned ones */
    double c[PINN_MAX_COEF];
    q->truth_params = 1;
    for (int k = 0; k < r->pc->ncoef; k++) {
        c[k] = r->coef_id[k] >= 0 ? r->pc->coef_true[k] : r->coef_fixed[k];
        q->truth_params &= c[k] == r->pc->coef_true[k];
    }
    tg_pinn_richards_params(c, q->p);
    /* the Celia profile (optional) */
    const char *cp = tg_cfg_str(cfg, "richards.celia");
    if (cp && cp[0]) {
        char path[1024];
        if (tg_pinn_resolve_path(path, sizeof path, cp, tg_cfg_path(cfg), data_dir)) {
            int rc = read_celia(q, path);
            if (rc)
                return rc;
        } else if (tg_cfg_has(cfg, "richards.celia"))
            return cfg_err(cfg, "richards.celia", "file not found");
    }
    double out_t[512];
    for (int k = 0; k < n_out; k++)
        out_t[k] = q->out_dt * (k + 1);
    const int Nf = q->cells, Nc = q->coarse_cells;
    tg_real *fine = tg_malloc((size_t)n_out * Nf * sizeof *fine), *coarse = tg_malloc((size_t)n_out * Nc * sizeof *coarse);
    tg_real *fstep = tg_malloc((size_t)Nf * sizeof *fstep), *cstep = tg_malloc((size_t)Nc * sizeof *cstep);
    int rc = fine && coarse && fstep && cstep ? 0 : tg_error_set(TG_ENOMEM, "richards: out of memory");
    if (!rc)
        rc = solve(q, Nf, q->dt, 1, n_out, out_t, fine, &q->fine_seconds, &q->fine_mass_err, &q->fine_newton);
    if (!rc)
        rc = solve(q, Nc, q->coarse_dt, 1, n_out, out_t, coarse, &q->coarse_seconds, &q->coarse_mass_err, NULL);
    if (!rc && q->celia_n) {
        double end = PINN_RICHARDS_T;
        rc = solve(q, Nf, q->dt, 0, 1, &end, fstep, NULL, NULL, NULL);
        if (!rc)
            rc = solve(q, Nc, q->coarse_dt, 0, 1, &end, cstep, NULL, NULL, NULL);
        if (!rc) {
            const tg_real *fe = fine + (size_t)(n_out - 1) * Nf;
            double top = PSI_I + (PSI_TOP - PSI_I) * ramp(q, PINN_RICHARDS_T), mx = 0, ss = 0;
            compare_celia(q, fstep, Nf, PSI_TOP, q->celia_fine_step);
            compare_celia(q, cstep, Nc, PSI_TOP, q->celia_coarse_step);
            compare_celia(q, fe, Nf, top, q->celia_fine_ramp);
            for (int i = 0; i < q->celia_n; i++) {
                q->fine_end[i] = profile_at(fe, Nf, PINN_RICHARDS_L, PSI_I, top, q->celia_z[i]);
                double e = q->fine_end[i] - profile_at(fstep, Nf, PINN_RICHARDS_L, PSI_I, PSI_TOP, q->celia_z[i]);
                mx = fmax(mx, fabs(e)), ss += e * e;
            }
            q->ramp_vs_step[0] = mx, q->ramp_vs_step[1] = sqrt(ss / q->celia_n);
        }
    }
    /* the reference grid: t outer (0, out_dt, ..., T), z inner (0, out_dz, ..., L) */
    tg_pinn_ref *ref = &r->ref;
    if (!rc) {
        memset(ref, 0, sizeof *ref);
        ref->n = (n_out + 1) * (nzo + 1), ref->dim = 2, ref->f = 1;
        ref->x = tg_malloc((size_t)ref->n * 2 * sizeof *ref->x);
        ref->u = tg_malloc((size_t)ref->n * sizeof *ref->u);
        if (!ref->x || !ref->u)
            rc = tg_error_set(TG_ENOMEM, "richards: out of memory");
    }
    double cmx = 0, css = 0;
    for (int j = 0; !rc && j <= n_out; j++) {
        double t = j ? out_t[j - 1] : 0, top = PSI_I + (PSI_TOP - PSI_I) * ramp(q, t);
        for (int i = 0; i <= nzo; i++) {
            size_t k = (size_t)j * (nzo + 1) + i;
            double z = i == nzo ? PINN_RICHARDS_L : i * q->out_dz;
            ref->x[2 * k] = z, ref->x[2 * k + 1] = t;
            ref->u[k] = j ? profile_at(fine + (size_t)(j - 1) * Nf, Nf, PINN_RICHARDS_L, PSI_I, top, z) : PSI_I;
            if (j) {
                double e = profile_at(coarse + (size_t)(j - 1) * Nc, Nc, PINN_RICHARDS_L, PSI_I, top, z) - ref->u[k];
                cmx = fmax(cmx, fabs(e)), css += e * e;
            }
        }
    }
    if (!rc)
        q->coarse_max = cmx, q->coarse_rms = sqrt(css / ((double)n_out * (nzo + 1)));
    snprintf(r->ref_path, sizeof r->ref_path, "solver: %d cells, dt %g s, ramp %g s", Nf, q->dt, q->tau);
    tg_free(fine, fine ? (size_t)n_out * Nf * sizeof *fine : 0);
    tg_free(coarse, coarse ? (size_t)n_out * Nc * sizeof *coarse : 0);
    tg_free(fstep, fstep ? (size_t)Nf * sizeof *fstep : 0);
    tg_free(cstep, cstep ? (size_t)Nc * sizeof *cstep : 0);
    return rc;
}

/* ------------------------------------------------------------------ report */
static int richards_summary(const tg_pinn_run *r, FILE *fp)
{
    const pinn_richards *q = r->rich;
    double c[PINN_MAX_COEF], p7[7], mb[3] = {0, 0, 0};
    for (int k = 0; k < r->pc->ncoef; k++)
        c[k] = tg_pinn_run_coef(r, k);
    tg_pinn_richards_params(c, p7);
    int rc = tg_pinn_richards_mass_balance(pinn_field, (void *)r, p7, PINN_RICHARDS_L, PINN_RICHARDS_T, 800, 800, mb);
    if (rc)
        return rc;
    /* the PINN against the fine solver on the reference grid */
    double *u = tg_malloc((size_t)r->ref.n * sizeof *u), mx = 0, ss = 0;
    if (!u)
        return tg_error_set(TG_ENOMEM, "richards: out of memory");
    if ((rc = tg_pinn_run_predict(r, r->ref.n, r->ref.x, u))) {
        tg_free(u, (size_t)r->ref.n * sizeof *u);
        return rc;
    }
    for (int i = 0; i < r->ref.n; i++) {
        double e = u[i] - r->ref.u[i];
        mx = fmax(mx, fabs(e)), ss += e * e;
    }
    tg_free(u, (size_t)r->ref.n * sizeof *u);
    fprintf(fp, "ramp_seconds: %g\nlayer: %g\n", q->tau, q->delta);
    fprintf(fp, "pinn_vs_solver_max_cm: %.6g\npinn_vs_solver_rms_cm: %.6g\n", mx, sqrt(ss / r->ref.n));
    fprintf(fp, "pinn_storage_change_cm: %.8g\npinn_inflow_cm: %.8g\npinn_mass_balance: %.6g\n", mb[0], mb[1], mb[2]);
    fprintf(fp, "solver_fine: %d cells, dt %g s, wall %.4f s, newton %ld, mass_balance %.3g\n", q->cells, q->dt,
            q->fine_seconds, q->fine_newton, q->fine_mass_err);
    fprintf(fp, "solver_coarse: %d cells, dt %g s, wall %.4f s, mass_balance %.3g, vs fine max %.4g rms %.4g cm\n",
            q->coarse_cells, q->coarse_dt, q->coarse_seconds, q->coarse_mass_err, q->coarse_max, q->coarse_rms);
    if (q->celia_n) {
        double *zt = tg_malloc((size_t)q->celia_n * 2 * sizeof *zt), *pc = tg_malloc((size_t)q->celia_n * sizeof *pc);
        double cm = 0, cs = 0;
        rc = zt && pc ? 0 : tg_error_set(TG_ENOMEM, "richards: out of memory");
        for (int i = 0; !rc && i < q->celia_n; i++)
            zt[2 * i] = q->celia_z[i], zt[2 * i + 1] = PINN_RICHARDS_T;
        if (!rc)
            rc = tg_pinn_run_predict(r, q->celia_n, zt, pc);
        for (int i = 0; !rc && i < q->celia_n; i++) {
            double e = pc[i] - q->celia_psi[i];
            cm = fmax(cm, fabs(e)), cs += e * e;
        }
        tg_free(zt, zt ? (size_t)q->celia_n * 2 * sizeof *zt : 0);
        tg_free(pc, pc ? (size_t)q->celia_n * sizeof *pc : 0);
        if (rc)
            return rc;
        if (!q->truth_params)
            fprintf(fp, "# the solver ran with non-default soil parameters: the Celia comparison is not meaningful\n");
        fprintf(fp, "celia_pinn: max %.4g rms %.4g cm\n", cm, sqrt(cs / q->celia_n));
        fprintf(fp, "celia_solver_fine_step: max %.4g rms %.4g cm\n", q->celia_fine_step[0], q->celia_fine_step[1]);
        fprintf(fp, "celia_solver_coarse_step: max %.4g rms %.4g cm\n", q->celia_coarse_step[0], q->celia_coarse_step[1]);
        fprintf(fp, "celia_solver_fine_ramp: max %.4g rms %.4g cm\n", q->celia_fine_ramp[0], q->celia_fine_ramp[1]);
        fprintf(fp, "solver_ramp_vs_step_at_360s: max %.4g rms %.4g cm\n", q->ramp_vs_step[0], q->ramp_vs_step[1]);
    }
    return 0;
}

/* profiles.txt: z, then PINN and solver at 60, 120, 240, 360 s (from the reference grid) */
static int richards_plots(const tg_pinn_run *r, const char *dir, FILE *gp)
{
    const double ts[4] = {60, 120, 240, 360};
    const int nz = 401;
    char path[1200];
    snprintf(path, sizeof path, "%s/profiles.txt", dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return tg_error_set(TG_EIO, "%s: cannot write", path);
    double x[2], u[4];
    int rc = 0;
    for (int i = 0; i < nz && !rc; i++) {
        x[0] = PINN_RICHARDS_L * i / (nz - 1);
        fprintf(fp, "%.6g", x[0]);
        for (int k = 0; k < 4 && !rc; k++) {
            x[1] = ts[k];
            rc = tg_pinn_run_predict(r, 1, x, &u[k]);
            fprintf(fp, " %.7g", u[k]);
        }
        fputc('\n', fp);
    }
    fprintf(fp, "\n\n"); /* block 1: solver on the reference grid at the same times */
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < r->ref.n; i++)
            if (fabs(r->ref.x[2 * i + 1] - ts[k]) < 1e-9)
                fprintf(fp, "%.6g %.7g\n", r->ref.x[2 * i], r->ref.u[i]);
        fprintf(fp, "\n\n");
    }
    if (ferror(fp) | fclose(fp))
        return rc ? rc : tg_error_set(TG_EIO, "%s: write failed", path);
    if (rc)
        return rc;
    fprintf(gp, "set output 'profiles.png'\nset title 'Celia infiltration: PINN (lines) vs solver (points)'\n"
                "set xlabel 'psi (cm)'\nset ylabel 'z (cm)'\nunset logscale\nset datafile separator whitespace\n"
                "set key left top\nplot ");
    for (int k = 0; k < 4; k++)
        fprintf(gp, "'profiles.txt' index 0 using %d:1 with lines lw 2 lc %d title 'PINN t = %g s', "
                    "'' index %d every 4 using 2:1 with points pt 6 ps 0.6 lc %d title 'solver'%s",
                k + 2, k + 1, ts[k], k + 1, k + 1, k < 3 ? ", " : "\n");
    return 0;
}

const pinn_case tg_pinn_case_richards = {
    "richards", "1-D Richards infiltration, Celia et al. (1990), Haverkamp soil", 2, 1, 1, {"z", "t"}, {"psi"},
    {0, 0}, {PINN_RICHARDS_L, PINN_RICHARDS_T}, 4, {"Ks", "alpha", "beta", "gamma"},
    {0.00944, 1.611e6, 3.96, 4.74}, {0.005, 1e6, 3.5, 4.5}, 1, NULL, richards_residual, richards_initial,
    richards_boundary, richards_reference, .transform = richards_transform,
    .transform_value = richards_transform_value, .prepare = richards_prepare, .features = richards_features,
    .features_value = richards_features_value, .warp = richards_warp, .summary = richards_summary,
    .plots = richards_plots};
