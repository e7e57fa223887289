/* test_pinn_richards.c — the geoscience PINN case (Celia et al. 1990 infiltration):
 *  - the mixed-form residual op on a known field psi(z, t) against central differences of
 *    theta(psi) in t and of the flux K (psi_z + 1) in z, both from the library's soil model
 *    (not from the op's own formulas);
 *  - the PINN mass-balance computation on the same (non-solution) field: storage change
 *    minus boundary inflow must equal the space-time integral of the residual (divergence
 *    theorem), which a wrong flux sign, missing gravity term or wrong quadrature breaks;
 *  - the hard-constrained field of a run: initial and boundary heads exactly, and the jet's
 *    psi_z, psi_t, psi_zz (ansatz + sqrt-time input, chain rule) against differences of
 *    the predicted field;
 *  - the reference pipeline: the solver run at 400 cells / 1 s against Celia's profile. */
#include <math.h>
#include <string.h>

#include "pinn_train/pinn_train_internal.h"
#include "terragrad/adjoint.h"
#include "testutil.h"

static const double TRUE_C[4] = {0.00944, 1.611e6, 3.96, 4.74};

/* psi = -40 + 15 sin(0.1 z + 0.01 t) + 3 cos(0.05 z t / 40): smooth, within [-58, -22] */
static void field_at(double z, double t, double *v, double *vz, double *vt, double *vzz)
{
    double a = 0.1 * z + 0.01 * t, b = 0.05 * z * t / 40;
    *v = -40 + 15 * sin(a) + 3 * cos(b);
    *vz = 1.5 * cos(a) - 3 * sin(b) * 0.05 * t / 40;
    *vt = 0.15 * cos(a) - 3 * sin(b) * 0.05 * z / 40;
    *vzz = -0.15 * sin(a) - 3 * cos(b) * (0.05 * t / 40) * (0.05 * t / 40);
}

static double theta_of(const double *p7, double psi)
{
    tg_real pr[7], ps = (tg_real)psi, th;
    for (int k = 0; k < 7; k++)
        pr[k] = (tg_real)p7[k];
    tg_soil_haverkamp.eval(pr, 1, &ps, &th, NULL, NULL, NULL);
    return (double)th;
}

static double flux_of(const double *p7, double z, double t) /* K (psi_z + 1) */
{
    tg_real pr[7], ps, K;
    double v, vz, vt, vzz;
    for (int k = 0; k < 7; k++)
        pr[k] = (tg_real)p7[k];
    field_at(z, t, &v, &vz, &vt, &vzz);
    ps = (tg_real)v;
    tg_soil_haverkamp.eval(pr, 1, &ps, NULL, NULL, &K, NULL);
    return (double)K * (vz + 1);
}

/* residual op on n points (z, t) of the analytic field, unscaled, into res */
static int residual_at(int n, const double *zt, double *res)
{
    const pinn_case *pc = tg_pinn_case_find("richards");
    tg_ctx *ctx = tg_ctx_create();
    tg_jet u;
    memset(&u, 0, sizeof u);
    tg_jet_spec_init(&u.spec, 2, 1, (const int[][2]){{0, 0}});
    u.n = n, u.f = 1;
    u.v = tg_new(ctx, 2, (const int[]){n, 1});
    u.d[0] = tg_new(ctx, 2, (const int[]){n, 1});
    u.d[1] = tg_new(ctx, 2, (const int[]){n, 1});
    u.dd[0] = tg_new(ctx, 2, (const int[]){n, 1});
    tg_real *x = tg_malloc((size_t)n * 2 * sizeof *x);
    for (int i = 0; i < n; i++) {
        double v, vz, vt, vzz;
        field_at(zt[2 * i], zt[2 * i + 1], &v, &vz, &vt, &vzz);
        u.v->data[i] = (tg_real)v, u.d[0]->data[i] = (tg_real)vz, u.d[1]->data[i] = (tg_real)vt;
        u.dd[0]->data[i] = (tg_real)vzz;
        x[2 * i] = (tg_real)zt[2 * i], x[2 * i + 1] = (tg_real)zt[2 * i + 1];
    }
    tg_tensor *coef[4], *r[1];
    for (int k = 0; k < 4; k++)
        coef[k] = tg_full(ctx, 1, (const int[]){1}, (tg_real)TRUE_C[k]);
    int rc = pc->residual(ctx, &u, coef, x, n, r);
    for (int i = 0; !rc && i < n; i++)
        res[i] = (double)r[0]->data[i] / PINN_RICHARDS_RES_SCALE;
    tg_free(x, (size_t)n * 2 * sizeof *x);
    tg_ctx_free(&ctx);
    return rc;
}

static void test_residual_fd(void)
{
    double p7[7];
    tg_pinn_richards_params(TRUE_C, p7);
    const double pts[][2] = {{3, 20}, {12.5, 100}, {27, 250}, {39, 355}, {20, 1}};
    const int n = 5;
    double res[5];
    CHECK(residual_at(n, &pts[0][0], res) == 0, "residual op failed: %s", tg_error_message());
#ifdef TG_DOUBLE
    const double h = 1e-3, tol = 1e-6;
#else
    const double h = 3e-2, tol = 3e-2;
#endif
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double z = pts[i][0], t = pts[i][1], v1, v2, d;
        field_at(z, t + h, &v1, &d, &d, &d);
        field_at(z, t - h, &v2, &d, &d, &d);
        double dth = (theta_of(p7, v1) - theta_of(p7, v2)) / (2 * h);
        double dfl = (flux_of(p7, z + h, t) - flux_of(p7, z - h, t)) / (2 * h);
        double fd = dth - dfl, scale = fabs(dth) + fabs(dfl);
        double e = fabs(res[i] - fd) / scale;
        worst = fmax(worst, e);
        CHECK(e < tol, "residual at (%g, %g): op %.10g, differences %.10g (rel %.2e)", z, t, res[i], fd, e);
    }
    printf("residual op vs central differences: worst relative error %.2e\n", worst);
}

static int analytic_field(void *ud, int n, const double *zt, double *psi, double *psi_z)
{
    (void)ud;
    for (int i = 0; i < n; i++) {
        double vt, vzz;
        field_at(zt[2 * i], zt[2 * i + 1], &psi[i], &psi_z[i], &vt, &vzz);
    }
    return 0;
}

static void test_mass_balance_divergence(void)
{
    double p7[7], mb[3];
    tg_pinn_richards_params(TRUE_C, p7);
    const double L = PINN_RICHARDS_L, T = PINN_RICHARDS_T;
    CHECK(tg_pinn_richards_mass_balance(analytic_field, NULL, p7, L, T, 400, 400, mb) == 0, "mass balance: %s",
          tg_error_message());
    /* space-time integral of the residual: Simpson in z and in s (t = T s^2) */
    const int nz = 200, ns = 200;
    double *zt = tg_malloc((size_t)(nz + 1) * 2 * sizeof *zt), *res = tg_malloc((size_t)(nz + 1) * sizeof *res);
    double integral = 0;
    for (int j = 0; j <= ns; j++) {
        double s = (double)j / ns, t = T * s * s, acc = 0;
        for (int i = 0; i <= nz; i++)
            zt[2 * i] = L * i / nz, zt[2 * i + 1] = t;
        CHECK(residual_at(nz + 1, zt, res) == 0, "residual");
        for (int i = 0; i <= nz; i++)
            acc += ((i == 0 || i == nz) ? 1 : (i & 1) ? 4 : 2) * res[i];
        acc *= L / nz / 3;
        integral += ((j == 0 || j == ns) ? 1 : (j & 1) ? 4 : 2) * acc * 2 * T * s;
    }
    integral /= 3.0 * ns;
    double defect = mb[0] - mb[1];
    printf("analytic field: storage change %.8g cm, inflow %.8g cm, defect %.8g, residual integral %.8g\n", mb[0],
           mb[1], defect, integral);
#ifdef TG_DOUBLE
    const double tol = 1e-6; /* measured 2e-7: Simpson error of the two quadratures */
#else
    const double tol = 1e-3;
#endif
    CHECK(fabs(defect) > 0.1 * fabs(mb[1]), "the test field should not conserve mass (defect %g)", defect);
    CHECK(fabs(defect - integral) < tol * (fabs(mb[0]) + fabs(mb[1])), "defect %.10g vs integral %.10g", defect,
          integral);
    CHECK(fabs(mb[2] - defect / fabs(mb[1])) < 1e-12, "relative mass-balance error");
    tg_free(zt, (size_t)(nz + 1) * 2 * sizeof *zt);
    tg_free(res, (size_t)(nz + 1) * sizeof *res);
}

static tg_pinn_run *run_from(const char *yaml)
{
    int n;
    const tg_cfg_key *schema = tg_pinn_schema(&n);
    tg_cfg *cfg = tg_cfg_parse_string(yaml, "test.yaml", schema, n);
    if (!cfg) {
        fprintf(stderr, "config: %s\n", tg_error_message());
        return NULL;
    }
    tg_pinn_run *r = tg_pinn_run_create(cfg, tg_test_data(""));
    if (!r)
        fprintf(stderr, "create: %s\n", tg_error_message());
    tg_cfg_free(&cfg);
    return r;
}

/* jet derivatives of the hard-constrained field vs differences of the predicted field */
static void test_field_jet(void)
{
    tg_pinn_run *r = run_from("case: richards\nseed: 3\nnetwork: {hidden: 2, width: 8}\n"
                              "richards: {solver_cells: 40, solver_dt: 5, coarse_cells: 20, coarse_dt: 10, "
                              "celia: ''}\nsampling: {collocation: 10}\n");
    CHECK(r != NULL, "create");
    if (!r)
        return;
    /* hard constraints: psi_i at t = 0 and z = 0, the ramp at z = L */
    double x[6][2] = {{0, 0}, {17, 0}, {40, 0}, {0, 200}, {40, 1}, {40, 300}}, u[6];
    CHECK(tg_pinn_run_predict(r, 6, &x[0][0], u) == 0, "predict");
    const double want[6] = {-61.5, -61.5, -61.5, -61.5, -61.5 + 40.8 * -expm1(-0.5), -61.5 + 40.8 * -expm1(-150.0)};
    for (int i = 0; i < 6; i++)
        CHECK(fabs(u[i] - want[i]) < 1e-4, "hard constraint at (%g, %g): %.10g, want %.10g", x[i][0], x[i][1], u[i],
              want[i]);
    /* jet vs differences at interior points */
    const double pts[3][2] = {{5, 7}, {22, 120}, {35.5, 300}};
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *xt = tg_new(ctx, 2, (const int[]){3, 2});
    for (int i = 0; i < 6; i++)
        xt->data[i] = (tg_real)(&pts[0][0])[i];
    tg_jet_spec s2;
    tg_jet_spec_init(&s2, 2, 1, (const int[][2]){{0, 0}});
    tg_jet in, f;
    CHECK(tg_jet_coords(&in, xt, &s2) == 0 && tg_pinn_field_jet(r, ctx, &in, &f) == 0, "field jet: %s",
          tg_error_message());
#ifdef TG_DOUBLE
    const double h = 1e-3, tol = 1e-6;
#else
    const double h = 5e-2, tol = 2e-2;
#endif
    for (int i = 0; i < 3; i++) {
        double z = pts[i][0], t = pts[i][1], q[5][2] = {{z, t}, {z + h, t}, {z - h, t}, {z, t + h}, {z, t - h}}, v[5];
        CHECK(tg_pinn_run_predict(r, 5, &q[0][0], v) == 0, "predict");
        double fz = (v[1] - v[2]) / (2 * h), ft = (v[3] - v[4]) / (2 * h);
        CHECK(fabs((double)f.v->data[i] - v[0]) < 1e-4, "psi at (%g, %g): %.10g vs %.10g", z, t,
              (double)f.v->data[i], v[0]);
        CHECK(fabs((double)f.d[0]->data[i] - fz) < tol * (fabs(fz) + 1), "psi_z at (%g, %g): %.10g vs %.10g", z, t,
              (double)f.d[0]->data[i], fz);
        CHECK(fabs((double)f.d[1]->data[i] - ft) < tol * (fabs(ft) + 1), "psi_t at (%g, %g): %.10g vs %.10g", z, t,
              (double)f.d[1]->data[i], ft);
#ifdef TG_DOUBLE
        double fzz = (v[1] - 2 * v[0] + v[2]) / (h * h);
        CHECK(fabs((double)f.dd[0]->data[i] - fzz) < 1e-4 * (fabs(fzz) + 1), "psi_zz at (%g, %g): %.10g vs %.10g", z,
              t, (double)f.dd[0]->data[i], fzz);
#endif
    }
    tg_ctx_free(&ctx);
    tg_pinn_run_free(&r);
}

/* the reference pipeline: the solver (400 cells, dt 1 s, step boundary) vs Celia's profile */
static void test_reference(void)
{
    tg_pinn_run *r = run_from("case: richards\nnetwork: {hidden: 1, width: 4}\n"
                              "richards: {solver_cells: 400, solver_dt: 1, coarse_cells: 100, coarse_dt: 4}\n"
                              "sampling: {collocation: 10}\n");
    CHECK(r != NULL, "create");
    if (!r)
        return;
    char buf[4096];
    FILE *fp = fmemopen(buf, sizeof buf, "w");
    CHECK(r->pc->summary(r, fp) == 0, "summary: %s", tg_error_message());
    fclose(fp);
    double mx = NAN, rms = NAN, me = NAN;
    const char *s = strstr(buf, "celia_solver_fine_step:");
    CHECK(s && sscanf(s, "celia_solver_fine_step: max %lf rms %lf", &mx, &rms) == 2, "no Celia line in:\n%s", buf);
    printf("solver 400 cells, dt 1 s vs Celia at 360 s: max %.4g rms %.4g cm\n", mx, rms);
    CHECK(mx < 0.2 && rms < 0.05, "solver vs Celia: max %g rms %g cm", mx, rms);
    s = strstr(buf, "solver_fine:");
    CHECK(s && sscanf(strstr(s, "mass_balance"), "mass_balance %lf", &me) == 1, "no solver line");
    CHECK(fabs(me) < 1e-6, "solver mass balance %g", me);
    /* reference grid: 37 times x 81 depths, psi_i at t = 0, the ramped head at the top */
    CHECK(r->ref.n == 37 * 81, "reference points %d", r->ref.n);
    CHECK_CLOSE(r->ref.u[36 * 81 + 80], -61.5 + 40.8 * -expm1(-180.0), 1e-9, 0);
    CHECK_CLOSE(r->ref.u[40], -61.5, 1e-12, 0);
    tg_pinn_run_free(&r);
}

int main(void)
{
    test_residual_fd();
    test_mass_balance_divergence();
    test_field_jet();
    test_reference();
    return tg_test_summary();
}
