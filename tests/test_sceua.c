/* test_sceua.c — SCE-UA on functions with known minima: Rosenbrock (a curved valley),
 * Griewank and Rastrigin (many local minima; the global one must be found), a constraint
 * expressed as infeasible points, fixed variables, each stopping rule, the evaluation
 * budget, error paths, and bit-for-bit reproducibility from the seed. */
#include <math.h>
#include <string.h>

#include "terragrad/calibrate.h"
#include "testutil.h"

static long ncalls;

static int rosenbrock(void *ud, const double *x, double *f)
{
    (void)ud;
    ncalls++;
    *f = 100 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]) + (1 - x[0]) * (1 - x[0]);
    return 0;
}

/* Griewank: 1 + sum x^2/4000 - prod cos(x_i / sqrt(i)); global minimum 0 at the origin,
 * local minima roughly every 2 pi sqrt(i) along each axis. */
static int griewank(void *ud, const double *x, double *f)
{
    int n = *(const int *)ud;
    double s = 0, p = 1;
    for (int i = 0; i < n; i++) {
        s += x[i] * x[i] / 4000;
        p *= cos(x[i] / sqrt(i + 1.0));
    }
    *f = 1 + s - p;
    return 0;
}

/* Rastrigin: 10 n + sum (x^2 - 10 cos(2 pi x)); minimum 0 at the origin, local minima of
 * value ~1 per non-zero coordinate at the integer points. */
static int rastrigin(void *ud, const double *x, double *f)
{
    int n = *(const int *)ud;
    double s = 10.0 * n;
    for (int i = 0; i < n; i++)
        s += x[i] * x[i] - 10 * cos(2 * M_PI * x[i]);
    *f = s;
    return 0;
}

/* (x-2)^2 + (y-2)^2 with x + y <= 2 enforced by reporting infeasible points: optimum (1, 1). */
static int constrained(void *ud, const double *x, double *f)
{
    (void)ud;
    if (x[0] + x[1] > 2)
        return 1;
    *f = (x[0] - 2) * (x[0] - 2) + (x[1] - 2) * (x[1] - 2);
    return 0;
}

static int flat(void *ud, const double *x, double *f)
{
    (void)ud;
    (void)x;
    *f = 3.0;
    return 0;
}

static int failing(void *ud, const double *x, double *f)
{
    (void)ud;
    *f = x[0];
    return ncalls++ > 30 ? -1 : 0;
}

/* batch form of the sphere that evaluates its points in reverse order */
static int sphere_batch_reversed(void *ud, int k, const double *x, double *f)
{
    int n = *(const int *)ud;
    for (int j = k - 1; j >= 0; j--) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += (x[j * n + i] - 0.3) * (x[j * n + i] - 0.3);
        f[j] = s;
    }
    return 0;
}
static int sphere(void *ud, const double *x, double *f) { return sphere_batch_reversed(ud, 1, x, f); }

static void test_rosenbrock(void)
{
    double lo[2] = {-5, -5}, hi[2] = {5, 5}, x[2], fx;
    tg_sceua_options o;
    tg_sceua_options_init(&o);
    o.seed = 11;
    o.max_evals = 20000;
    o.peps = 1e-9;
    o.pcento = -1;
    tg_sceua_stats st;
    ncalls = 0;
    int rc = tg_sceua_minimize(rosenbrock, NULL, 2, lo, hi, &o, x, &fx, &st);
    CHECK(rc == 0, "rc %d: %s", rc, tg_error_message());
    CHECK(fx < 1e-8, "rosenbrock f = %g", fx);
    /* an optimiser's location error is absolute (peps on the normalised box): atol */
    CHECK_CLOSE(x[0], 1.0, 0, 1e-6);
    CHECK_CLOSE(x[1], 1.0, 0, 1e-6);
    CHECK(st.evals == ncalls, "stats %ld evals, callback saw %ld", st.evals, ncalls);
    CHECK(st.evals <= o.max_evals, "%ld evals > budget", st.evals);
    CHECK(st.stop == TG_SCEUA_STOP_PARAMS || st.stop == TG_SCEUA_STOP_EVALS, "stop %d", st.stop);
    printf("rosenbrock: f %.3g at (%.6f, %.6f), %ld evals, %d loops, stop %s\n", fx, x[0], x[1], st.evals,
           st.loops, tg_sceua_stop_name(st.stop));
}

static void test_multimodal(void)
{
    /* Griewank in 10-d on [-600, 600] with 5 complexes (Duan et al. 1994 used this test):
     * every one of three seeds must reach the global minimum */
    int n = 10;
    double lo[10], hi[10], x[10], fx;
    for (int i = 0; i < n; i++) {
        lo[i] = -600;
        hi[i] = 600;
    }
    tg_sceua_options o;
    tg_sceua_options_init(&o);
    o.ngs = 5;
    o.max_evals = 50000;
    o.peps = 1e-8;
    o.pcento = -1;
    tg_sceua_stats st;
    for (int seed = 1; seed <= 3; seed++) {
        o.seed = (uint64_t)seed;
        int rc = tg_sceua_minimize(griewank, &n, n, lo, hi, &o, x, &fx, &st);
        CHECK(rc == 0, "rc %d", rc);
        /* the local minima next to the origin have f >= 0.0074: below 1e-6 means global */
        CHECK(fx < 1e-6, "griewank seed %d: f = %g", seed, fx);
        double maxabs = 0;
        for (int i = 0; i < n; i++)
            maxabs = fmax(maxabs, fabs(x[i]));
        CHECK(maxabs < 0.05, "griewank seed %d: max |x_i| = %g", seed, maxabs);
        printf("griewank 10-d seed %d: f %.3g, max|x| %.3g, %ld evals, stop %s\n", seed, fx, maxabs, st.evals,
               tg_sceua_stop_name(st.stop));
    }

    n = 2;
    for (int i = 0; i < n; i++) {
        lo[i] = -5.12;
        hi[i] = 5.12;
    }
    o.max_evals = 10000;
    o.seed = 3;
    int rc = tg_sceua_minimize(rastrigin, &n, n, lo, hi, &o, x, &fx, &st);
    CHECK(rc == 0, "rc %d", rc);
    CHECK(fx < 1e-6, "rastrigin f = %g (a local minimum has ~1)", fx);
    CHECK(fabs(x[0]) < 1e-3 && fabs(x[1]) < 1e-3, "rastrigin x = (%g, %g)", x[0], x[1]);
    printf("rastrigin 2-d: f %.3g at (%.2g, %.2g), %ld evals\n", fx, x[0], x[1], st.evals);
}

static void test_constraints_and_fixed(void)
{
    double lo[3] = {-3, -3, 0.25}, hi[3] = {3, 3, 0.25}, x[3], fx;
    tg_sceua_options o;
    tg_sceua_options_init(&o);
    o.seed = 5;
    o.max_evals = 8000;
    o.peps = 1e-7;
    tg_sceua_stats st;
    int rc = tg_sceua_minimize(constrained, NULL, 3, lo, hi, &o, x, &fx, &st);
    CHECK(rc == 0, "rc %d: %s", rc, tg_error_message());
    CHECK(x[0] + x[1] <= 2, "infeasible best point");
    CHECK_CLOSE(x[0], 1.0, 0, 2e-3);
    CHECK_CLOSE(x[1], 1.0, 0, 2e-3);
    CHECK_CLOSE(fx, 2.0, 1e-4, 0);
    CHECK(x[2] == 0.25, "fixed variable moved to %g", x[2]);
}

static void test_stopping_rules(void)
{
    double lo[2] = {-1, -1}, hi[2] = {1, 1}, x[2], fx;
    tg_sceua_options o;
    tg_sceua_options_init(&o);
    tg_sceua_stats st;
    /* budget: never exceeded, stop reason EVALS */
    o.max_evals = 100;
    o.pcento = -1;
    o.peps = -1;
    ncalls = 0;
    int rc = tg_sceua_minimize(rosenbrock, NULL, 2, lo, hi, &o, x, &fx, &st);
    CHECK(rc == 0 && st.stop == TG_SCEUA_STOP_EVALS, "rc %d stop %d", rc, st.stop);
    CHECK(ncalls <= 100 && ncalls > 100 - 3 * 2, "%ld calls for a budget of 100", ncalls);
    /* a flat function: the best value never changes -> objective rule after kstop loops */
    tg_sceua_options_init(&o);
    o.kstop = 4;
    o.peps = -1;
    rc = tg_sceua_minimize(flat, NULL, 2, lo, hi, &o, x, &fx, &st);
    CHECK(rc == 0 && st.stop == TG_SCEUA_STOP_OBJECTIVE, "stop %d", st.stop);
    CHECK(st.loops == 4, "flat: %d loops (kstop 4)", st.loops);
    CHECK(st.change == 0, "change %g", st.change);
    /* parameter-space rule: on a sphere the population contracts */
    int n = 2;
    tg_sceua_options_init(&o);
    o.pcento = -1;
    o.peps = 1e-4;
    o.max_evals = 100000;
    rc = tg_sceua_minimize(sphere, &n, 2, lo, hi, &o, x, &fx, &st);
    CHECK(rc == 0 && st.stop == TG_SCEUA_STOP_PARAMS, "stop %d", st.stop);
    CHECK(st.gnrng < 1e-4, "gnrng %g", st.gnrng);
    CHECK_CLOSE(x[0], 0.3, 0, 2e-4); /* gnrng < peps = 1e-4 of the box width 2 */
    /* complex reduction: 4 complexes down to 2 */
    o.ngs = 4;
    o.mings = 2;
    rc = tg_sceua_minimize(sphere, &n, 2, lo, hi, &o, x, &fx, &st);
    CHECK(rc == 0 && st.ngs == 2, "ngs at the end %d", st.ngs);
}

static void test_reproducible(void)
{
    int n = 4;
    double lo[4] = {-2, -2, -2, -2}, hi[4] = {2, 2, 2, 2}, x1[4], x2[4], x3[4], x4[4], f1, f2, f3, f4;
    tg_sceua_options o;
    tg_sceua_options_init(&o);
    o.max_evals = 3000;
    o.ngs = 3;
    o.seed = 1234;
    tg_sceua_stats s1, s2, s3, s4;
    tg_sceua_minimize(rastrigin, &n, n, lo, hi, &o, x1, &f1, &s1);
    tg_sceua_minimize(rastrigin, &n, n, lo, hi, &o, x2, &f2, &s2);
    CHECK(!memcmp(x1, x2, sizeof x1) && f1 == f2 && s1.evals == s2.evals && s1.loops == s2.loops,
          "same seed, different result: f %.17g vs %.17g", f1, f2);
    o.seed = 1235;
    tg_sceua_minimize(rastrigin, &n, n, lo, hi, &o, x3, &f3, &s3);
    CHECK(memcmp(x1, x3, sizeof x1) != 0, "another seed gave the identical point");
    /* batch and single-point forms: the same result */
    o.seed = 99;
    tg_sceua_minimize(sphere, &n, n, lo, hi, &o, x3, &f3, &s3);
    tg_sceua_minimize_batch(sphere_batch_reversed, &n, n, lo, hi, &o, x4, &f4, &s4);
    CHECK(!memcmp(x3, x4, sizeof x3) && f3 == f4 && s3.evals == s4.evals, "batch and single forms differ");
    /* a start point x0 is used: with a budget of only the initial population, x0 = optimum wins */
    double x0[4] = {0, 0, 0, 0};
    o.x0 = x0;
    o.max_evals = 4 * (2 * n + 1) * 3;
    o.ngs = 4;
    tg_sceua_minimize(rastrigin, &n, n, lo, hi, &o, x3, &f3, &s3);
    CHECK(f3 == 0, "x0 at the optimum, best f = %g", f3);
}

static void test_errors(void)
{
    double lo[2] = {0, 0}, hi[2] = {1, -1}, x[2], fx;
    tg_sceua_options o;
    tg_sceua_options_init(&o);
    CHECK(tg_sceua_minimize(rosenbrock, NULL, 2, lo, hi, &o, x, &fx, NULL) == TG_EINVAL, "lo > hi accepted");
    hi[1] = 1;
    CHECK(tg_sceua_minimize(rosenbrock, NULL, 0, lo, hi, &o, x, &fx, NULL) == TG_EINVAL, "n = 0 accepted");
    o.max_evals = 5;
    CHECK(tg_sceua_minimize(rosenbrock, NULL, 2, lo, hi, &o, x, &fx, NULL) == TG_EINVAL, "budget < population");
    CHECK(strstr(tg_error_message(), "max_evals") != NULL, "message: %s", tg_error_message());
    o.max_evals = 0;
    o.nps = 9;
    CHECK(tg_sceua_minimize(rosenbrock, NULL, 2, lo, hi, &o, x, &fx, NULL) == TG_EINVAL, "nps > npg");
    o.nps = 0;
    ncalls = 0;
    CHECK(tg_sceua_minimize(failing, NULL, 2, lo, hi, &o, x, &fx, NULL) == TG_EEXTERNAL, "fatal callback");
}

int main(void)
{
    test_rosenbrock();
    test_multimodal();
    test_constraints_and_fixed();
    test_stopping_rules();
    test_reproducible();
    test_errors();
    return tg_test_summary();
}
