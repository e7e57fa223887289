/* test_richards_soil.c — the constitutive relations: values at known points, and every
 * derivative (dθ/dψ, dK/dψ, ∂θ/∂p, ∂K/∂p) against central differences, for
 * van Genuchten–Mualem and Haverkamp, from wet to very dry. */
#include <math.h>
#include <string.h>

#include "testutil.h"

#ifdef TG_DOUBLE
#define TOL 1e-6 /* FD noise reaches ~1e-7 where θ is within 1e-3 of saturation */
#else
#define TOL 1e-1 /* float FD of θ within 1e-3 of saturation is good to a few % only */
#endif

/* Central difference of f(x) at x with relative step, in double via tg_real inputs. */
static double rel_step(double x)
{
#ifdef TG_DOUBLE
    return 1e-5 * fmax(fabs(x), 1e-3);
#else
    return 1e-2 * fmax(fabs(x), 1e-3);
#endif
}

static void check_model(const tg_soil *s, const tg_real *p0, const double *heads, int nh)
{
    const int P = s->P;
    tg_real p[16];
    memcpy(p, p0, (size_t)P * sizeof *p);
    CHECK(s->check(p) == 0, "%s: parameters rejected: %s", s->name, tg_error_message());
    double worst = 0;
    for (int k = 0; k < nh; k++) {
        tg_real psi = (tg_real)heads[k], th, C, K, dK, dth[16], dKp[16];
        s->eval(p, 1, &psi, &th, &C, &K, &dK);
        s->eval_dp(p, 1, &psi, dth, dKp);
        CHECK(th > p[3] && th < p[4] && K > 0 && K < p[2] && C > 0 && dK > 0,
              "%s at psi %g: theta %g K %g C %g dK %g", s->name, heads[k], (double)th, (double)K,
              (double)C, (double)dK);
        /* ψ derivatives; K compared in log space since it spans many decades */
        double h = rel_step(heads[k]);
        tg_real pp = (tg_real)(heads[k] + h), pm = (tg_real)(heads[k] - h), tp, tm, Kp, Km;
        s->eval(p, 1, &pp, &tp, NULL, &Kp, NULL);
        s->eval(p, 1, &pm, &tm, NULL, &Km, NULL);
        double fdC = ((double)tp - (double)tm) / (double)(pp - pm);
        double fdK = (log((double)Kp) - log((double)Km)) / (double)(pp - pm);
        double e1 = tg_rel_err((double)C, fdC, 1e-12), e2 = tg_rel_err((double)dK / (double)K, fdK, 1e-12);
        CHECK(e1 < TOL, "%s dtheta/dpsi at %g: %g vs fd %g", s->name, heads[k], (double)C, fdC);
        CHECK(e2 < TOL, "%s dK/dpsi at %g: %g vs fd %g", s->name, heads[k], (double)dK / (double)K,
              fdK);
        worst = fmax(worst, fmax(e1, e2));
        /* parameter derivatives */
        for (int j = 0; j < P; j++) {
            tg_real keep = p[j];
            double hj = rel_step((double)keep);
            p[j] = (tg_real)((double)keep + hj);
            tg_real ap = p[j];
            s->eval(p, 1, &psi, &tp, NULL, &Kp, NULL);
            p[j] = (tg_real)((double)keep - hj);
            tg_real am = p[j];
            s->eval(p, 1, &psi, &tm, NULL, &Km, NULL);
            p[j] = keep;
            double den = (double)(ap - am);
            double fth = ((double)tp - (double)tm) / den;
            double fK = (log((double)Kp) - log((double)Km)) / den;
            /* floors: θ derivatives are O(0.1–1) per unit parameter scale */
            double et = tg_rel_err((double)dth[j], fth, 1e-9 / fmax(fabs((double)keep), 1e-12));
            double ek = tg_rel_err((double)dKp[j] / (double)K, fK, 1e-9 / fmax(fabs((double)keep), 1e-12));
            CHECK(et < TOL, "%s dtheta/d%s at psi %g: %g vs fd %g", s->name, s->param_names[j],
                  heads[k], (double)dth[j], fth);
            CHECK(ek < TOL, "%s dlnK/d%s at psi %g: %g vs fd %g", s->name, s->param_names[j],
                  heads[k], (double)dKp[j] / (double)K, fK);
            worst = fmax(worst, fmax(et, ek));
        }
    }
    /* saturation */
    tg_real z[2] = {0, 5}, th[2], C[2], K[2], dK[2], dth[32], dKp[32];
    s->eval(p, 2, z, th, C, K, dK);
    s->eval_dp(p, 2, z, dth, dKp);
    for (int i = 0; i < 2; i++) {
        CHECK(th[i] == p[4] && K[i] == p[2] && C[i] == 0 && dK[i] == 0, "%s saturated at %g",
              s->name, (double)z[i]);
        CHECK(dth[i * P + 4] == 1 && dKp[i * P + 2] == 1, "%s saturated parameter derivatives",
              s->name);
    }
    printf("%s: worst rel err of derivatives vs FD %.2e\n", s->name, worst);
}

int main(void)
{
    /* loam (Carsel & Parrish 1988) in cm and s */
    tg_real vgm[5] = {0.036, 1.56, 2.89e-4, 0.078, 0.43};
    double vh[] = {-0.5, -5, -30, -100, -1000, -15000};
    check_model(&tg_soil_vgm, vgm, vh, 6);
    /* a coarse soil with n > 2 */
    tg_real sand[5] = {0.145, 2.68, 8.25e-3, 0.045, 0.43};
    check_model(&tg_soil_vgm, sand, vh, 5);
    /* Celia et al. (1990) */
    tg_real hav[7] = {1.611e6, 3.96, 0.00944, 0.075, 0.287, 1.175e6, 4.74};
    double hh[] = {-5, -20.7, -40, -61.5, -200};
    check_model(&tg_soil_haverkamp, hav, hh, 5);

    /* Known values. Celia's θ at ψ = −61.5 cm and vG Se at α|ψ| = 1 (Se = 2^−m). */
    tg_real psi = -61.5, th, K;
    tg_soil_haverkamp.eval(hav, 1, &psi, &th, NULL, &K, NULL);
    double a = pow(61.5, 3.96), b = pow(61.5, 4.74);
    CHECK_CLOSE(th, 0.075 + 1.611e6 * 0.212 / (1.611e6 + a), 64 * TG_TEST_EPS, 0);
    CHECK_CLOSE(K, 0.00944 * 1.175e6 / (1.175e6 + b), 64 * TG_TEST_EPS, 0);
    psi = (tg_real)(-1 / 0.036);
    tg_soil_vgm.eval(vgm, 1, &psi, &th, NULL, &K, NULL);
    double m = 1 - 1 / 1.56, Se = pow(2, -m);
    CHECK_CLOSE(th, 0.078 + 0.352 * Se, 64 * TG_TEST_EPS, 0);
    CHECK_CLOSE((double)K / 2.89e-4, sqrt(Se) * pow(1 - pow(1 - pow(Se, 1 / m), m), 2), 64 * TG_TEST_EPS, 0);

    /* registry and checks */
    CHECK(tg_soil_find("vgm") == &tg_soil_vgm && tg_soil_find("haverkamp") == &tg_soil_haverkamp &&
              tg_soil_find("nope") == NULL, "tg_soil_find");
    tg_real bad[5] = {0.036, 0.9, 2.89e-4, 0.078, 0.43};
    CHECK(tg_soil_vgm.check(bad) == TG_EINVAL && strstr(tg_error_message(), "n must be"),
          "n <= 1 rejected: %s", tg_error_message());
    return tg_test_summary();
}
