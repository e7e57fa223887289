/* soil_haverkamp.c — the Haverkamp et al. (1977) forms used by Celia et al. (1990):
 *   θ = θr + α (θs − θr) / (α + |ψ|^β),    K = Ks A / (A + |ψ|^γ).
 * With a = |ψ|^β and b = |ψ|^γ (da/dψ = −β a/|ψ| for ψ < 0):
 *   C = dθ/dψ = α (θs − θr) β a / (|ψ| (α + a)²),   dK/dψ = Ks A γ b / (|ψ| (A + b)²). */
#include <math.h>

#include "models/soil_internal.h"
#include "terragrad/adjoint.h"

enum { P_ALPHA, P_BETA, P_KS, P_TR, P_TS, P_A, P_GAMMA, NP };
static const char *const names[NP] = {"alpha", "beta", "Ks", "theta_r", "theta_s", "A", "gamma"};

static void hav_eval(const tg_real *p, int n, const tg_real *psi, tg_real *theta, tg_real *C,
                     tg_real *K, tg_real *dK)
{
    const tg_real al = p[P_ALPHA], be = p[P_BETA], Ks = p[P_KS], A = p[P_A], ga = p[P_GAMMA];
    const tg_real dth = p[P_TS] - p[P_TR];
    for (int i = 0; i < n; i++) {
        if (psi[i] >= 0) {
            if (theta) theta[i] = p[P_TS];
            if (C) C[i] = 0;
            if (K) K[i] = Ks;
            if (dK) dK[i] = 0;
            continue;
        }
        const tg_real ap = -psi[i], lp = R_LOG(ap);
        if (theta || C) {
            const tg_real a = R_EXP(be * lp), den = al + a;
            if (theta) theta[i] = p[P_TR] + al * dth / den;
            if (C) C[i] = al * dth * be * a / (ap * den * den);
        }
        if (K || dK) {
            const tg_real b = R_EXP(ga * lp), den = A + b;
            if (K) K[i] = Ks * A / den;
            if (dK) dK[i] = Ks * A * ga * b / (ap * den * den);
        }
    }
}

static void hav_eval_dp(const tg_real *p, int n, const tg_real *psi, tg_real *dth_dp,
                        tg_real *dK_dp)
{
    const tg_real al = p[P_ALPHA], be = p[P_BETA], Ks = p[P_KS], A = p[P_A], ga = p[P_GAMMA];
    const tg_real dth = p[P_TS] - p[P_TR];
    for (int i = 0; i < n; i++) {
        tg_real *d = dth_dp ? dth_dp + (size_t)i * NP : NULL;
        tg_real *k = dK_dp ? dK_dp + (size_t)i * NP : NULL;
        if (d)
            for (int j = 0; j < NP; j++)
                d[j] = 0;
        if (k)
            for (int j = 0; j < NP; j++)
                k[j] = 0;
        if (psi[i] >= 0) {
            if (d) d[P_TS] = 1;
            if (k) k[P_KS] = 1;
            continue;
        }
        const tg_real lp = R_LOG(-psi[i]);
        if (d) {
            const tg_real a = R_EXP(be * lp), den = al + a, den2 = den * den;
            d[P_ALPHA] = dth * a / den2;
            d[P_BETA] = -al * dth * a * lp / den2;
            d[P_TR] = a / den;
            d[P_TS] = al / den;
        }
        if (k) {
            const tg_real b = R_EXP(ga * lp), den = A + b, den2 = den * den;
            k[P_KS] = A / den;
            k[P_A] = Ks * b / den2;
            k[P_GAMMA] = -Ks * A * b * lp / den2;
        }
    }
}

static int hav_check(const tg_real *p)
{
    for (int j = 0; j < NP; j++) {
        if (j == P_TR || j == P_TS)
            continue;
        if (!(p[j] > 0) || !isfinite((double)p[j]))
            return tg_error_set(TG_EINVAL, "Haverkamp: %s must be > 0 (got %g)", names[j],
                                (double)p[j]);
    }
    if (!(p[P_TR] >= 0 && p[P_TR] < p[P_TS] && p[P_TS] <= 1))
        return tg_error_set(TG_EINVAL, "Haverkamp: need 0 <= theta_r < theta_s <= 1 (got "
                                       "theta_r %g, theta_s %g)", (double)p[P_TR], (double)p[P_TS]);
    return 0;
}

const tg_soil tg_soil_haverkamp = {"haverkamp", NP, names, hav_eval, hav_eval_dp, hav_check};
