/* test_implicit_toy.c — the implicit-step op on problems with known answers:
 *  - backward Euler on dx/dt = −k x + u: x_N and its gradients in closed form;
 *  - a nonlinear dense 3-state system with forcing: adjoint vs central differences, and
 *    the same gradient with every checkpoint interval;
 *  - a nonsymmetric tridiagonal system solved as TG_JAC_TRIDIAG and as TG_JAC_DENSE;
 *  - Newton failure reported as TG_ECONVERGE naming lane and step; the line search, and
 *    separately the max_step cap, rescuing Newton on atan(x) = 0 from a start where plain
 *    Newton diverges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifdef TG_DOUBLE
#define GTOL 1e-6
#define ATOL 1e-11
#define RTOL 1e-12 /* closed-form states and adjoints of a linear problem: a few roundings per step */
#else
#define GTOL 2e-2
#define ATOL 1e-4
#define RTOL 1e-5
#endif

/* ------------------------------------------------------------ linear decay */
/* F = x⁺ − x + Δt (k x⁺ − u); θ = {k}, U = 1. */
typedef struct { double dt; } decay_ud;

static int decay_res(void *ud, const tg_implicit_args *a, tg_real *F)
{
    tg_real dt = (tg_real)((decay_ud *)ud)->dt;
    for (int b = 0; b < a->B; b++)
        F[b] = a->xn[b] - a->x[b] + dt * (a->theta[b] * a->xn[b] - a->u[b]);
    return 0;
}
static int decay_jac(void *ud, const tg_implicit_args *a, tg_real *J)
{
    tg_real dt = (tg_real)((decay_ud *)ud)->dt;
    for (int b = 0; b < a->B; b++)
        J[b] = 1 + dt * a->theta[b];
    return 0;
}
static int decay_adj(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *xb,
                     tg_real *thb, tg_real *ub)
{
    tg_real dt = (tg_real)((decay_ud *)ud)->dt;
    for (int b = 0; b < a->B; b++) {
        if (xb)
            xb[b] += -mu[b];
        if (thb)
            thb[b] += dt * a->xn[b] * mu[b];
        if (ub)
            ub[b] += -dt * mu[b];
    }
    return 0;
}

/* loss = Σ_b x_T[b] */
typedef struct { int T; double loss; } final_sum;
static int final_observe(void *ud, int t, const tg_real *x)
{
    final_sum *s = ud;
    if (t == s->T)
        for (int b = 0; b < 3; b++)
            s->loss += (double)x[b];
    return 0;
}
static int final_grad(void *ud, int t, const tg_real *x, tg_real *xb, tg_real *thb)
{
    final_sum *s = ud;
    (void)x, (void)thb;
    if (t == s->T)
        for (int b = 0; b < 3; b++)
            xb[b] += 1;
    return 0;
}

static void test_decay(void)
{
    enum { B = 3, T = 20 };
    decay_ud ud = {0.5};
    tg_implicit_fns f = {"decay", 1, 1, 1, TG_JAC_DENSE, decay_res, decay_jac, decay_adj};
    tg_real k[B] = {0.1, 1.0, 7.0}, x0[B] = {1.0, 2.0, -3.0}, u[T * B];
    memset(u, 0, sizeof u);
    tg_implicit_traj *tr = NULL;
    final_sum s = {T, 0};
    tg_newton_report rep;
    tg_newton_report_init(&rep);
    /* the iteration counts with the default options (forward only) */
    int rc = tg_implicit_traj_forward(&f, &ud, B, T, x0, k, u, NULL, 1, NULL, NULL, NULL, &rep);
    CHECK(rc == 0, "forward (default options): %s", tg_error_message());
    /* linear: Newton lands in one iteration per lane and step (float: a second one may
     * be needed to see the step is at rounding level; decayed lanes may need none) */
#ifdef TG_DOUBLE
    CHECK(rep.iters <= (long)B * T && rep.max_iters == 1, "iters %ld max %d", rep.iters,
          rep.max_iters);
#else
    CHECK(rep.iters <= 2L * B * T && rep.max_iters <= 2, "iters %ld max %d", rep.iters,
          rep.max_iters);
#endif
    /* the values with ftol = 0: lane 2 decays to ~1e-13, below the default absolute
     * residual tolerance, where Newton stops without a step and the state stops decaying;
     * with ftol = 0 every step takes its Newton step (exact for this linear F) and the
     * checks below can be relative on every lane (a zero or sign-flipped gradient fails). */
    tg_newton_opts nopt = tg_newton_defaults();
    nopt.ftol = 0;
    rc = tg_implicit_traj_forward(&f, &ud, B, T, x0, k, u, &nopt, 1, final_observe, &s, &tr, NULL);
    CHECK(rc == 0, "forward (ftol 0): %s", tg_error_message());
    tg_real x0b[B] = {0}, kb[B] = {0}, ub[T * B];
    memset(ub, 0, sizeof ub);
    rc = tg_implicit_traj_backward(tr, final_grad, &s, x0b, kb, ub);
    CHECK(rc == 0, "backward: %s", tg_error_message());
    for (int b = 0; b < B; b++) {
        double r = 1 + (double)k[b] * ud.dt, xN = (double)x0[b] / pow(r, T);
        CHECK_CLOSE(tg_implicit_traj_state(tr, T)[b], xN, RTOL, 0);
        CHECK_CLOSE(x0b[b], pow(r, -T), RTOL, 0);
        CHECK_CLOSE(kb[b], -T * ud.dt * (double)x0[b] * pow(r, -T - 1), RTOL, 0);
        /* dx_T/du_t = Δt (1+kΔt)^-(T-t) */
        for (int t = 0; t < T; t += 7)
            CHECK_CLOSE(ub[t * B + b], ud.dt * pow(r, -(T - t)), RTOL, 0);
    }
    tg_implicit_traj_free(&tr);
    CHECK(tr == NULL, "free nulls the pointer");
}

/* ------------------------------------------------------------ nonlinear dense system */
/* Three stores: x' = −a x² + u,  y' = a x² − b y^1.5,  z' = b y^1.5 − c z y.
 * θ = {a, b, c}, U = 1. Residual F = x⁺ − x − Δt f(x⁺). */
#define DT3 0.7
static void rhs3(const tg_real *s, const tg_real *p, tg_real u, tg_real *out)
{
    double x = (double)s[0], y = (double)s[1], z = (double)s[2];
    double a = (double)p[0], b = (double)p[1], c = (double)p[2];
    out[0] = (tg_real)(-a * x * x + (double)u);
    out[1] = (tg_real)(a * x * x - b * pow(y, 1.5));
    out[2] = (tg_real)(b * pow(y, 1.5) - c * z * y);
}
static int sys_res(void *ud, const tg_implicit_args *a, tg_real *F)
{
    (void)ud;
    for (int l = 0; l < a->B; l++) {
        if (a->active && !a->active[l])
            continue;
        const tg_real *xn = a->xn + 3 * l, *x = a->x + 3 * l;
        if (xn[1] < 0)
            return 1; /* outside the domain of y^1.5: ask the line search to back off */
        tg_real r[3];
        rhs3(xn, a->theta + 3 * l, a->u[l], r);
        for (int i = 0; i < 3; i++)
            F[3 * l + i] = xn[i] - x[i] - TG_R(DT3) * r[i];
    }
    return 0;
}
/* ∂f/∂s (3×3) and ∂f/∂p (3×3) */
static void jac3(const tg_real *s, const tg_real *p, double Js[9], double Jp[9])
{
    double x = (double)s[0], y = (double)s[1], z = (double)s[2];
    double a = (double)p[0], b = (double)p[1], c = (double)p[2];
    double y15 = pow(y, 1.5), dy15 = 1.5 * sqrt(y);
    double js[9] = {-2 * a * x, 0, 0, 2 * a * x, -b * dy15, 0, 0, b * dy15 - c * z, -c * y};
    double jp[9] = {-x * x, 0, 0, x * x, -y15, 0, 0, y15, -z * y};
    memcpy(Js, js, sizeof js);
    memcpy(Jp, jp, sizeof jp);
}
static int sys_jac(void *ud, const tg_implicit_args *a, tg_real *J)
{
    (void)ud;
    for (int l = 0; l < a->B; l++) {
        if (a->active && !a->active[l])
            continue;
        double Js[9], Jp[9];
        jac3(a->xn + 3 * l, a->theta + 3 * l, Js, Jp);
        for (int i = 0; i < 9; i++)
            J[9 * l + i] = (tg_real)((i % 4 == 0 ? 1.0 : 0.0) - DT3 * Js[i]);
    }
    return 0;
}
static int sys_adj(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *xb,
                   tg_real *thb, tg_real *ub)
{
    (void)ud;
    for (int l = 0; l < a->B; l++) {
        double Js[9], Jp[9];
        jac3(a->xn + 3 * l, a->theta + 3 * l, Js, Jp);
        const tg_real *m = mu + 3 * l;
        for (int i = 0; i < 3; i++) {
            if (xb)
                xb[3 * l + i] += -m[i]; /* ∂F/∂x = −I */
            double s = 0;
            for (int j = 0; j < 3; j++)
                s += -DT3 * Jp[j * 3 + i] * (double)m[j];
            if (thb)
                thb[3 * l + i] += (tg_real)s;
        }
        if (ub)
            ub[l] += (tg_real)(-DT3) * m[0];
    }
    return 0;
}

/* loss = Σ_t Σ_l w_t (z_t − 0.3)² + y_T */
typedef struct { int T; double loss; } sys_loss;
static int sys_observe(void *ud, int t, const tg_real *x)
{
    sys_loss *s = ud;
    for (int l = 0; l < 2; l++) {
        double d = (double)x[3 * l + 2] - 0.3;
        s->loss += (1.0 + 0.1 * t) * d * d;
        if (t == s->T)
            s->loss += (double)x[3 * l + 1];
    }
    return 0;
}
static int sys_grad(void *ud, int t, const tg_real *x, tg_real *xb, tg_real *thb)
{
    sys_loss *s = ud;
    (void)thb;
    for (int l = 0; l < 2; l++) {
        xb[3 * l + 2] += (tg_real)(2 * (1.0 + 0.1 * t) * ((double)x[3 * l + 2] - 0.3));
        if (t == s->T)
            xb[3 * l + 1] += 1;
    }
    return 0;
}

#ifdef TG_DOUBLE
static double sys_run(const tg_real *x0, const tg_real *th, const tg_real *u, int T)
{
    tg_implicit_fns f = {"stores3", 3, 3, 1, TG_JAC_DENSE, sys_res, sys_jac, sys_adj};
    sys_loss s = {T, 0};
    if (tg_implicit_traj_forward(&f, NULL, 2, T, x0, th, u, NULL, 1, sys_observe, &s, NULL,
                                 NULL))
        return NAN;
    return s.loss;
}
#endif

static void test_dense_system(void)
{
    enum { B = 2, T = 12, P = 3 };
    tg_implicit_fns f = {"stores3", 3, P, 1, TG_JAC_DENSE, sys_res, sys_jac, sys_adj};
    tg_real x0[B * 3] = {1.5, 0.2, 0.0, 0.4, 1.0, 0.5};
    tg_real th[B * P] = {0.8, 0.5, 0.3, 2.0, 1.2, 0.7};
    tg_real u[T * B];
    for (int i = 0; i < T * B; i++)
        u[i] = TG_R(0.1) + TG_R(0.05) * (tg_real)(i % 5);

    tg_real g_ref[B * 3 + B * P + T * B];
    for (int ck = 0; ck < 4; ck++) {
        int every = ck == 3 ? -1 : (ck == 0 ? 1 : ck + 1); /* 1, 2, 3, √T */
        tg_implicit_traj *tr = NULL;
        sys_loss s = {T, 0};
        tg_newton_report rep;
        tg_newton_report_init(&rep);
        int rc = tg_implicit_traj_forward(&f, NULL, B, T, x0, th, u, NULL, every, sys_observe,
                                          &s, &tr, &rep);
        CHECK(rc == 0, "forward (ckpt %d): %s", every, tg_error_message());
        CHECK(rep.failed == 0 && rep.max_iters >= 2, "nonlinear: iters %d", rep.max_iters);
        tg_real g[B * 3 + B * P + T * B];
        memset(g, 0, sizeof g);
        rc = tg_implicit_traj_backward(tr, sys_grad, &s, g, g + B * 3, g + B * 3 + B * P);
        CHECK(rc == 0, "backward (ckpt %d): %s", every, tg_error_message());
        if (ck == 0) {
            memcpy(g_ref, g, sizeof g);
            /* memory: every state kept */
            CHECK(tg_implicit_traj_peak_bytes(tr) == (size_t)(T + 1) * B * 3 * sizeof(tg_real),
                  "peak %zu", tg_implicit_traj_peak_bytes(tr));
        } else {
            /* recomputation reproduces the states bit for bit, so the gradients agree */
            double worst = 0;
            for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
                worst = fmax(worst, fabs((double)(g[i] - g_ref[i])));
            CHECK(worst == 0, "ckpt %d differs from stored run by %g", every, worst);
            size_t k = every == -1 ? 4 : (size_t)every;
            CHECK(tg_implicit_traj_peak_bytes(tr) ==
                      (T / k + 1 + k + 1) * B * 3 * sizeof(tg_real),
                  "ckpt %d: peak %zu", every, tg_implicit_traj_peak_bytes(tr));
        }
        tg_implicit_traj_free(&tr);
    }

    /* central differences on every input */
#ifdef TG_DOUBLE
    double h = 1e-6, worst = 0;
    tg_real *vars[3] = {x0, th, u};
    int sizes[3] = {B * 3, B * P, T * B};
    int off = 0;
    for (int v = 0; v < 3; v++) {
        for (int i = 0; i < sizes[v]; i++) {
            tg_real keep = vars[v][i];
            vars[v][i] = keep + h;
            double lp = sys_run(x0, th, u, T);
            vars[v][i] = keep - h;
            double lm = sys_run(x0, th, u, T);
            vars[v][i] = keep;
            double fd = (lp - lm) / (2 * h), e = tg_rel_err((double)g_ref[off + i], fd, 1e-8);
            worst = fmax(worst, e);
            CHECK(e < GTOL, "input %d[%d]: adjoint %.10g fd %.10g", v, i, (double)g_ref[off + i],
                  fd);
        }
        off += sizes[v];
    }
    printf("dense 3-state system: worst rel err adjoint vs FD %.2e over %d inputs\n", worst, off);
#endif
}

/* ------------------------------------------------------------ tridiagonal vs dense */
/* Nonsymmetric: upwind advection + diffusion + cubic reaction on n cells, θ = {D, v, r}. */
#define NT 7
static void tri_rows(const tg_real *s, const tg_real *p, int i, double *F, double d[3],
                     double dp[3])
{
    double D = (double)p[0], v = (double)p[1], r = (double)p[2];
    double c = (double)s[i], l = i > 0 ? (double)s[i - 1] : 0.0, rr = i < NT - 1 ? (double)s[i + 1] : 1.0;
    /* f_i = D (l − 2c + rr) − v (c − l) − r c³ */
    *F = D * (l - 2 * c + rr) - v * (c - l) - r * c * c * c;
    d[0] = i > 0 ? D + v : 0;
    d[1] = -2 * D - v - 3 * r * c * c;
    d[2] = i < NT - 1 ? D : 0;
    dp[0] = l - 2 * c + rr;
    dp[1] = -(c - l);
    dp[2] = -c * c * c;
}
static int tri_res(void *ud, const tg_implicit_args *a, tg_real *F)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        for (int i = 0; i < NT; i++) {
            double f, d[3], dp[3];
            tri_rows(a->xn + b * NT, a->theta + 3 * b, i, &f, d, dp);
            F[b * NT + i] = (tg_real)((double)(a->xn[b * NT + i] - a->x[b * NT + i]) - 0.3 * f);
        }
    return 0;
}
static int tri_jac_generic(const tg_implicit_args *a, tg_real *J, int dense)
{
    for (int b = 0; b < a->B; b++)
        for (int i = 0; i < NT; i++) {
            double f, d[3], dp[3];
            tri_rows(a->xn + b * NT, a->theta + 3 * b, i, &f, d, dp);
            for (int k = 0; k < 3; k++) {
                int j = i - 1 + k;
                if (j < 0 || j >= NT)
                    continue;
                double v = (k == 1 ? 1.0 : 0.0) - 0.3 * d[k];
                if (dense)
                    J[(size_t)b * NT * NT + (size_t)i * NT + j] = (tg_real)v;
                else
                    J[(size_t)b * 3 * NT + (size_t)k * NT + i] = (tg_real)v;
            }
        }
    return 0;
}
static int tri_jac(void *ud, const tg_implicit_args *a, tg_real *J)
{
    (void)ud;
    return tri_jac_generic(a, J, 0);
}
static int den_jac(void *ud, const tg_implicit_args *a, tg_real *J)
{
    (void)ud;
    memset(J, 0, (size_t)a->B * NT * NT * sizeof *J);
    return tri_jac_generic(a, J, 1);
}
static int tri_adj(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *xb,
                   tg_real *thb, tg_real *ub)
{
    (void)ud, (void)ub;
    for (int b = 0; b < a->B; b++)
        for (int i = 0; i < NT; i++) {
            double f, d[3], dp[3];
            tri_rows(a->xn + b * NT, a->theta + 3 * b, i, &f, d, dp);
            if (xb)
                xb[b * NT + i] -= mu[b * NT + i];
            if (thb)
                for (int k = 0; k < 3; k++)
                    thb[3 * b + k] += (tg_real)(-0.3 * dp[k] * (double)mu[b * NT + i]);
        }
    return 0;
}
static int lin_grad(void *ud, int t, const tg_real *x, tg_real *xb, tg_real *thb)
{
    (void)ud, (void)x, (void)thb;
    for (int i = 0; i < 2 * NT; i++)
        xb[i] += (tg_real)(0.01 * (double)(t + 1) * (double)(i % NT));
    return 0;
}

static void test_tridiag_vs_dense(void)
{
    enum { B = 2, T = 9 };
    tg_implicit_fns ft = {"tri", NT, 3, 0, TG_JAC_TRIDIAG, tri_res, tri_jac, tri_adj};
    tg_implicit_fns fd = {"den", NT, 3, 0, TG_JAC_DENSE, tri_res, den_jac, tri_adj};
    tg_real x0[B * NT], th[B * 3] = {0.4, 0.9, 0.5, 1.1, 0.2, 2.0};
    for (int i = 0; i < B * NT; i++)
        x0[i] = TG_R(0.1) * (tg_real)(i % NT);
    tg_real g[2][B * NT + B * 3];
    tg_real xT[2][B * NT];
    for (int v = 0; v < 2; v++) {
        tg_implicit_traj *tr = NULL;
        int rc = tg_implicit_traj_forward(v ? &fd : &ft, NULL, B, T, x0, th, NULL, NULL, 1, NULL,
                                          NULL, &tr, NULL);
        CHECK(rc == 0, "tridiag/dense forward %d: %s", v, tg_error_message());
        memcpy(xT[v], tg_implicit_traj_state(tr, T), sizeof xT[v]);
        memset(g[v], 0, sizeof g[v]);
        rc = tg_implicit_traj_backward(tr, lin_grad, NULL, g[v], g[v] + B * NT, NULL);
        CHECK(rc == 0, "tridiag/dense backward %d: %s", v, tg_error_message());
        tg_implicit_traj_free(&tr);
    }
    double worst = 0, worstx = 0;
    for (int i = 0; i < B * NT + B * 3; i++)
        worst = fmax(worst, tg_rel_err((double)g[0][i], (double)g[1][i], 1e-6));
    for (int i = 0; i < B * NT; i++)
        worstx = fmax(worstx, fabs((double)(xT[0][i] - xT[1][i])));
    CHECK(worstx < ATOL, "tridiagonal and dense Newton disagree on the state: %g", worstx);
    CHECK(worst < ATOL * 100, "tridiagonal and dense adjoints disagree: %g", worst);
}

/* ------------------------------------------------------------ failures */
/* F = x⁺² − c_t + 0·x per lane; c = u. No real root when c < 0. */
static int sq_res(void *ud, const tg_implicit_args *a, tg_real *F)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        F[b] = a->xn[b] * a->xn[b] - a->u[b];
    return 0;
}
static int sq_jac(void *ud, const tg_implicit_args *a, tg_real *J)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        J[b] = 2 * a->xn[b];
    return 0;
}
static int sq_adj(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *xb,
                  tg_real *thb, tg_real *ub)
{
    (void)ud, (void)a, (void)mu, (void)xb, (void)thb, (void)ub;
    return 0;
}
/* atan(x⁺) = 0: plain Newton diverges from |x| > 1.39. */
static int at_res(void *ud, const tg_implicit_args *a, tg_real *F)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        F[b] = (tg_real)atan((double)a->xn[b]);
    return 0;
}
static int at_jac(void *ud, const tg_implicit_args *a, tg_real *J)
{
    (void)ud;
    for (int b = 0; b < a->B; b++)
        J[b] = 1 / (1 + a->xn[b] * a->xn[b]);
    return 0;
}

static void test_failures(void)
{
    enum { B = 3, T = 4 };
    tg_implicit_fns f = {"square_root", 1, 0, 1, TG_JAC_DENSE, sq_res, sq_jac, sq_adj};
    tg_real x0[B] = {1, 1, 1}, u[T * B];
    for (int i = 0; i < T * B; i++)
        u[i] = 2;
    u[2 * B + 1] = -1; /* lane 1 has no solution at step 2 */
    tg_error_clear();
    int rc = tg_implicit_traj_forward(&f, NULL, B, T, x0, NULL, u, NULL, 1, NULL, NULL, NULL,
                                      NULL);
    CHECK(rc == TG_ECONVERGE, "rc = %d", rc);
    CHECK(tg_error_code() == TG_ECONVERGE, "code %d", tg_error_code());
    CHECK(strstr(tg_error_message(), "lane 1") && strstr(tg_error_message(), "step 2") &&
              strstr(tg_error_message(), "square_root"),
          "message: %s", tg_error_message());

    /* allow_unconverged: the run goes on, the report and flags say what happened */
    tg_newton_opts o = tg_newton_defaults();
    o.allow_unconverged = 1;
    o.max_iter = 12;
    tg_newton_report rep;
    tg_newton_report_init(&rep);
    tg_real xn[B];
    unsigned char conv[B];
    rc = tg_implicit_solve(&f, NULL, B, 2, x0, NULL, u + 2 * B, xn, conv, &o, &rep);
    CHECK(rc == 0, "allow_unconverged returns 0");
    CHECK(conv[0] && !conv[1] && conv[2], "flags %d %d %d", conv[0], conv[1], conv[2]);
    CHECK(rep.failed == 1 && rep.first_fail_lane == 1 && rep.first_fail_step == 2,
          "report: failed %ld lane %d step %d", rep.failed, rep.first_fail_lane,
          rep.first_fail_step);
    CHECK_CLOSE(xn[0], sqrt(2.0), RTOL, 0);

    /* line search */
    tg_implicit_fns fa = {"atan", 1, 0, 0, TG_JAC_DENSE, at_res, at_jac, sq_adj};
    tg_real xa[1] = {3}, xs[1];
    o = tg_newton_defaults();
    o.max_halvings = 0;
    rc = tg_implicit_solve(&fa, NULL, 1, 0, xa, NULL, NULL, xs, NULL, &o, NULL);
    CHECK(rc == TG_ECONVERGE, "plain Newton on atan from 3 must fail (rc %d, x %g)", rc,
          (double)xs[0]);
    o.max_halvings = 10;
    tg_newton_report_init(&rep);
    rc = tg_implicit_solve(&fa, NULL, 1, 0, xa, NULL, NULL, xs, NULL, &o, &rep);
    CHECK(rc == 0 && fabs((double)xs[0]) < ATOL, "damped Newton on atan: rc %d x %g", rc,
          (double)xs[0]);
    CHECK(rep.halvings > 0, "the line search halved (%ld)", rep.halvings);
    /* a trust cap on the step rescues plain Newton too */
    o.max_halvings = 0;
    o.max_step = 1;
    rc = tg_implicit_solve(&fa, NULL, 1, 0, xa, NULL, NULL, xs, NULL, &o, NULL);
    CHECK(rc == 0 && fabs((double)xs[0]) < ATOL, "capped Newton on atan: rc %d x %g", rc,
          (double)xs[0]);
}

int main(void)
{
    test_decay();
    test_dense_system();
    test_tridiag_vs_dense();
    test_failures();
    return tg_test_summary();
}
