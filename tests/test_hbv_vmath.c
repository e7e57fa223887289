/* test_hbv_vmath.c — accuracy of the vectorisable exp/log/pow of src/models/vmath.h
 * against libm, over the full float range and the ranges HBV uses, in ulps.
 * References: float functions against the double libm result rounded to float (correctly
 * rounded but for ~1e-9 of cases); double functions against long double expl/logl. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "models/vmath.h"
#include "testutil.h"

/* Distance in representable floats (both finite, same sign or zero). */
static double ulpf(float a, float b)
{
    if (a == b) return 0;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return fabs((double)ia - (double)ib);
}

static double ulpd(double a, double b)
{
    if (a == b) return 0;
    int64_t ia, ib;
    memcpy(&ia, &a, 8);
    memcpy(&ib, &b, 8);
    if (ia < 0) ia = INT64_MIN - ia;
    if (ib < 0) ib = INT64_MIN - ib;
    int64_t d = ia > ib ? ia - ib : ib - ia;    /* difference first: int64 -> double is inexact */
    return (double)d;
}

static void test_expf(void)
{
    double worst = 0, xw = 0;
    const int n = 2000000;
    for (int i = 0; i <= n; i++) {
        float x = -87.33f + (88.72f + 87.33f) * (float)i / (float)n;
        double u = ulpf(tg_vexpf(x), (float)exp((double)x));
        if (u > worst) { worst = u; xw = (double)x; }
    }
    printf("expf  [-87.33, 88.72]: max %.0f ulp (at x = %.9g)\n", worst, xw);
    CHECK(worst <= 1, "tg_vexpf: %g ulp at %.9g", worst, xw);
    /* subnormal results: absolute error within 2 subnormal steps */
    double aw = 0;
    for (int i = 0; i <= 100000; i++) {
        float x = -103.9f + 16.5f * (float)i / 100000.0f;
        aw = fmax(aw, fabs((double)tg_vexpf(x) - exp((double)x)));
    }
    CHECK(aw <= 2.0 * 1.401298464e-45, "tg_vexpf subnormal range: abs err %g", aw);
    CHECK(tg_vexpf(-104.0f) == 0.0f && tg_vexpf(-1000.0f) == 0.0f, "underflow to 0");
    CHECK(isinf(tg_vexpf(88.8f)) && isinf(tg_vexpf(1e30f)), "overflow to inf");
    CHECK(tg_vexpf(0.0f) == 1.0f, "exp(0) = %g", (double)tg_vexpf(0.0f));
    CHECK(isnan(tg_vexpf(NAN)), "exp(NaN)");
    CHECK(isinf(tg_vexpf(INFINITY)) && tg_vexpf(-INFINITY) == 0.0f && tg_vexpf(-1e30f) == 0.0f, "exp(+-inf)");
}

static void test_logf(void)
{
    double worst = 0, xw = 0;
    uint32_t lo, hi;
    float fmin = FLT_MIN, fmax_ = FLT_MAX;
    memcpy(&lo, &fmin, 4);
    memcpy(&hi, &fmax_, 4);
    for (uint32_t b = lo; b < hi; b += 997) {       /* every 997th float: ~2M samples */
        float x;
        memcpy(&x, &b, 4);
        double u = ulpf(tg_vlogf(x), (float)log((double)x));
        if (u > worst) { worst = u; xw = (double)x; }
    }
    /* dense around 1, where log is small and cancellation would show */
    for (int i = -200000; i <= 200000; i++) {
        float x = 1.0f + (float)i * 2e-6f;
        double u = ulpf(tg_vlogf(x), (float)log((double)x));
        if (u > worst) { worst = u; xw = (double)x; }
    }
    printf("logf  [FLT_MIN, FLT_MAX]: max %.0f ulp (at x = %.9g)\n", worst, xw);
    CHECK(worst <= 1, "tg_vlogf: %g ulp at %.9g", worst, xw);
    CHECK(tg_vlogf(1.0f) == 0.0f, "log(1) = %g", (double)tg_vlogf(1.0f));
    CHECK(tg_vlogf(0.0f) == tg_vlogf(FLT_MIN), "log(0) is log(FLT_MIN) by contract");
}

static void test_double(void)
{
    double we = 0, wl = 0, xe = 0, xl = 0;
    const int n = 2000000;
    for (int i = 0; i <= n; i++) {
        double x = -708.3 + (709.4 + 708.3) * (double)i / (double)n;
        double u = ulpd(tg_vexpd(x), (double)expl((long double)x));
        if (u > we) { we = u; xe = x; }
        x = -40.0 + 40.0 * (double)i / (double)n;   /* the HBV range of b log x and smaller */
        u = ulpd(tg_vexpd(x), (double)expl((long double)x));
        if (u > we) { we = u; xe = x; }
    }
    for (int i = 0; i <= n; i++) {
        double x = pow(10.0, -300.0 + 600.0 * (double)i / (double)n);
        double u = ulpd(tg_vlogd(x), (double)logl((long double)x));
        if (u > wl) { wl = u; xl = x; }
        x = 0.5 + (double)i / (double)n;           /* around 1 */
        u = ulpd(tg_vlogd(x), (double)logl((long double)x));
        if (u > wl) { wl = u; xl = x; }
    }
    printf("expd  [-708.3, 709.4]: max %.0f ulp (at x = %.17g)\n", we, xe);
    printf("logd  [1e-300, 1e300]: max %.0f ulp (at x = %.17g)\n", wl, xl);
    CHECK(we <= 1, "tg_vexpd: %g ulp at %.17g", we, xe);
    CHECK(wl <= 1, "tg_vlogd: %g ulp at %.17g", wl, xl);
    CHECK(tg_vexpd(-710.0) == 0.0 && isinf(tg_vexpd(710.0)), "double exp limits");
    CHECK(tg_vexpd(-1e300) == 0.0 && isinf(tg_vexpd(1e300)) && isinf(tg_vexpd((double)INFINITY)) &&
          tg_vexpd(-(double)INFINITY) == 0.0 && isnan(tg_vexpd((double)NAN)), "double exp far out of range");
    CHECK(isnan(tg_vlogd((double)NAN)) && isnan(tg_vlogf(NAN)), "log(NaN)");
    CHECK(tg_vlogd(1.0) == 0.0, "log(1)");
}

/* pow on the HBV domain: x = SM/FC or SM/(LP FC) in [1e-8, 1.2], b = BETA/BETAET in [0.3, 6].
 * Bound: (1 + |b ln x|) * 2 ulp (the error of log x scaled by b, plus exp's own). */
static void test_pow(void)
{
    double wf = 0, wd = 0;
    for (int i = 0; i <= 2000; i++)
        for (int j = 0; j <= 200; j++) {
            double x = pow(10.0, -8.0 + 8.08 * i / 2000.0), b = 0.3 + 5.7 * j / 200.0;
            double ref = pow(x, b);
            float yf = tg_vpowf((float)x, (float)b);
            double reff = pow((double)(float)x, (double)(float)b);
            if (reff >= (double)FLT_MIN) {
                double bound = 2.0 * (1.0 + fabs((double)(float)b * log((double)(float)x)));
                wf = fmax(wf, ulpf(yf, (float)reff) / bound);
            }
            double bound = 2.0 * (1.0 + fabs(b * log(x)));
            wd = fmax(wd, ulpd(tg_vpowd(x, b), ref) / bound);
        }
    printf("pow   x in [1e-8, 1.2], b in [0.3, 6]: max err / bound = %.3f (float), %.3f (double)\n", wf, wd);
    CHECK(wf <= 1, "tg_vpowf exceeds its bound by %g", wf);
    CHECK(wd <= 1, "tg_vpowd exceeds its bound by %g", wd);
}

/* log1p and the smooth step/ramp in tg_real. */
static void test_smooth_helpers(void)
{
#ifdef TG_DOUBLE
    const double tol = 4e-16;
#else
    const double tol = 2.5e-7;
#endif
    double w1 = 0, w2 = 0, w3 = 0;
    for (int i = 0; i <= 100000; i++) {
        double u = i == 0 ? 0.0 : pow(10.0, -30.0 + 30.0 * i / 100000.0);
        tg_real ur = (tg_real)u;
        double ref = log1p((double)ur);
        double got = (double)tg_vlog1p(ur);
        w1 = fmax(w1, ref == 0 ? fabs(got) : fabs(got - ref) / ref);
    }
    for (int i = -100000; i <= 100000; i++) {
        double x = 0.0004 * i, w = 0.5;
        tg_softstep s = tg_vsoftstep((tg_real)x, (tg_real)w);
        double xr = (double)(tg_real)x;
        double sig = 1.0 / (1.0 + exp(-xr / w)), sp = w * log1p(exp(-fabs(xr) / w)) + fmax(xr, 0.0);
        w2 = fmax(w2, fabs((double)s.sig - sig));
        w3 = fmax(w3, fabs((double)s.sp - sp) / fmax(sp, 1e-30));
    }
    printf("log1p rel err %.2g, sigmoid abs err %.2g, softplus rel err %.2g\n", w1, w2, w3);
    CHECK(w1 <= 4 * tol, "tg_vlog1p rel err %g", w1);
    CHECK(w2 <= 4 * tol, "tg_vsoftstep sigmoid abs err %g", w2);
    CHECK(w3 <= 8 * tol, "tg_vsoftstep softplus rel err %g", w3);
}

int main(void)
{
    test_expf();
    test_logf();
    test_double();
    test_pow();
    test_smooth_helpers();
    return tg_test_summary();
}
