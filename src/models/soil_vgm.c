/* soil_vgm.c — van Genuchten (1980) retention with Mualem (1976) conductivity.
 *
 * In terms of h = α|ψ|, w = hⁿ, s = 1 + w, m = 1 − 1/n:
 *   Se = s^(−m),  θ = θr + (θs − θr) Se,
 *   r = (w/s)^m = (1 − Se^(1/m))^m,  K = Ks √Se (1 − r)².
 * 1 − r is formed as −expm1(m ln(w/s)): near dryness r → 1 and the plain difference
 * would lose every digit of K. Derivatives go through ln Se and ln r:
 *   d ln Se = −dm ln s − m dw/s,   d ln r = dm ln(w/s) + m dw/(w s),
 *   dK = Ks √Se (1 − r) [ ½ (1 − r) d ln Se − 2 r d ln r ]   (no division by 1 − r). */
#include <math.h>

#include "models/soil_internal.h"
#include "terragrad/adjoint.h"

enum { P_ALPHA, P_N, P_KS, P_TR, P_TS, NP };
static const char *const names[NP] = {"alpha", "n", "Ks", "theta_r", "theta_s"};

/* Everything one head needs; d*_dpsi, d*_dalpha, d*_dn are derivatives of ln Se / ln r. */
typedef struct {
    tg_real Se, r, omr;                  /* Se, r, 1 − r */
    tg_real lse_psi, lse_alpha, lse_n;   /* d ln Se */
    tg_real lr_psi, lr_alpha, lr_n;      /* d ln r */
} vgm_point;

static int vgm_point_eval(const tg_real *p, tg_real psi, vgm_point *v)
{
    if (psi >= 0)
        return 0; /* saturated */
    const tg_real alpha = p[P_ALPHA], n = p[P_N], m = 1 - 1 / n, dm = 1 / (n * n);
    const tg_real apsi = -psi, lh = R_LOG(alpha * apsi), w = R_EXP(n * lh);
    /* ln(w/s) = −ln(1 + 1/w): the direct difference n ln h − ln(1 + w) cancels when the
     * soil is dry (w large) and would cost K most of its digits there */
    const tg_real s = 1 + w, ls = R_LOG1P(w), lwos = w > 1 ? -R_LOG1P(1 / w) : n * lh - ls;
    v->Se = R_EXP(-m * ls);
    v->omr = -R_EXPM1(m * lwos);
    v->r = 1 - v->omr;
    /* dw/dψ = −n w/|ψ|, dw/dα = n w/α, dw/dn = w ln h */
    v->lse_psi = m * n * w / (apsi * s);
    v->lse_alpha = -m * n * w / (alpha * s);
    v->lse_n = -dm * ls - m * w * lh / s;
    v->lr_psi = -m * n / (apsi * s);
    v->lr_alpha = m * n / (alpha * s);
    v->lr_n = dm * lwos + m * lh / s;
    return 1;
}

static void vgm_eval(const tg_real *p, int n, const tg_real *psi, tg_real *theta, tg_real *C,
                     tg_real *K, tg_real *dK)
{
    const tg_real dth = p[P_TS] - p[P_TR], Ks = p[P_KS];
    for (int i = 0; i < n; i++) {
        vgm_point v;
        if (!vgm_point_eval(p, psi[i], &v)) {
            if (theta) theta[i] = p[P_TS];
            if (C) C[i] = 0;
            if (K) K[i] = Ks;
            if (dK) dK[i] = 0;
            continue;
        }
        const tg_real sq = R_SQRT(v.Se);
        if (theta) theta[i] = p[P_TR] + dth * v.Se;
        if (C) C[i] = dth * v.Se * v.lse_psi;
        if (K) K[i] = Ks * sq * v.omr * v.omr;
        if (dK)
            dK[i] = Ks * sq * v.omr * (TG_R(0.5) * v.omr * v.lse_psi - 2 * v.r * v.lr_psi);
    }
}

static void vgm_eval_dp(const tg_real *p, int n, const tg_real *psi, tg_real *dth_dp,
                        tg_real *dK_dp)
{
    const tg_real dth = p[P_TS] - p[P_TR], Ks = p[P_KS];
    for (int i = 0; i < n; i++) {
        tg_real *a = dth_dp ? dth_dp + (size_t)i * NP : NULL;
        tg_real *k = dK_dp ? dK_dp + (size_t)i * NP : NULL;
        vgm_point v;
        if (!vgm_point_eval(p, psi[i], &v)) {
            if (a) a[P_ALPHA] = a[P_N] = a[P_KS] = a[P_TR] = 0, a[P_TS] = 1;
            if (k) k[P_ALPHA] = k[P_N] = k[P_TR] = k[P_TS] = 0, k[P_KS] = 1;
            continue;
        }
        if (a) {
            a[P_ALPHA] = dth * v.Se * v.lse_alpha;
            a[P_N] = dth * v.Se * v.lse_n;
            a[P_KS] = 0;
            a[P_TR] = 1 - v.Se;
            a[P_TS] = v.Se;
        }
        if (k) {
            const tg_real base = Ks * R_SQRT(v.Se) * v.omr;
            k[P_ALPHA] = base * (TG_R(0.5) * v.omr * v.lse_alpha - 2 * v.r * v.lr_alpha);
            k[P_N] = base * (TG_R(0.5) * v.omr * v.lse_n - 2 * v.r * v.lr_n);
            k[P_KS] = R_SQRT(v.Se) * v.omr * v.omr;
            k[P_TR] = k[P_TS] = 0;
        }
    }
}

static int vgm_check(const tg_real *p)
{
    if (!(p[P_ALPHA] > 0) || !isfinite((double)p[P_ALPHA]))
        return tg_error_set(TG_EINVAL, "van Genuchten: alpha must be > 0 (got %g)", (double)p[P_ALPHA]);
    if (!(p[P_N] > 1) || !isfinite((double)p[P_N]))
        return tg_error_set(TG_EINVAL, "van Genuchten: n must be > 1 (got %g)", (double)p[P_N]);
    if (!(p[P_KS] > 0) || !isfinite((double)p[P_KS]))
        return tg_error_set(TG_EINVAL, "van Genuchten: Ks must be > 0 (got %g)", (double)p[P_KS]);
    if (!(p[P_TR] >= 0 && p[P_TR] < p[P_TS] && p[P_TS] <= 1))
        return tg_error_set(TG_EINVAL, "van Genuchten: need 0 <= theta_r < theta_s <= 1 (got "
                                       "theta_r %g, theta_s %g)", (double)p[P_TR], (double)p[P_TS]);
    return 0;
}

const tg_soil tg_soil_vgm = {"vgm", NP, names, vgm_eval, vgm_eval_dp, vgm_check};
