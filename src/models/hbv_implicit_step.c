/* hbv_implicit_step.c — the physics of one implicit-HBV step: smooth fluxes of one lane
 * with their local derivatives, and the residual / Jacobian / adjoint callbacks of the
 * generic implicit-step op (terragrad/adjoint.h).
 *
 * Residual per lane (Δt = 1 day), v(x) the 12 flux rates, A the 5×12 incidence matrix:
 *   backward Euler   F = x⁺ − x − A v(x⁺)
 *   Crank–Nicolson   F = x⁺ − x − ½ A (v(x⁺) + v(x))
 * so ∂F/∂x⁺ = I − c A ∂v/∂x(x⁺) (c = 1 or ½), ∂F/∂x = −I (− ½ A ∂v/∂x(x) for CN),
 * ∂F/∂θ = −c A ∂v/∂θ(x⁺) (− ½ A ∂v/∂θ(x) for CN), and the same for u.
 * Derivation and the flux formulas: docs/hbv_implicit.md. */
#include <string.h>

#include "core/realmath.h"
#include "models/hbv_implicit_internal.h"
#include "models/vmath.h" /* inline exp/log (<= 1 ulp), cheaper than libm calls */

#define R0 TG_R(0.0)
#define R1 TG_R(1.0)
#define HALF TG_R(0.5)
#define POS_EPS TG_R(1e-4) /* mm: SM⁺ = (SM + sqrt(SM² + ε²)) / 2 */
#define EXP_CAP TG_R(80.0) /* exponent cap of the power laws (never reached by real stores) */

/* Incidence: rate of store i = Σ_k A[i][k] v_k. */
static const signed char A[HBVI_NS][HBVI_NF] = {
    /*          rain snow melt refr tos rech exc ET perc Q0 Q1 Q2 */
    /* SP  */ {0, 1, -1, 1, 0, 0, 0, 0, 0, 0, 0, 0},
    /* MW  */ {0, 0, 1, -1, -1, 0, 0, 0, 0, 0, 0, 0},
    /* SM  */ {1, 0, 0, 0, 1, -1, -1, -1, 0, 0, 0, 0},
    /* SUZ */ {0, 0, 0, 0, 0, 1, 1, 0, -1, -1, -1, 0},
    /* SLZ */ {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, -1},
};

void tg__hbvi_rates(const tg_real *v, tg_real *f)
{
    f[0] = v[FX_SNOW] - v[FX_MELT] + v[FX_REFR];
    f[1] = v[FX_MELT] - v[FX_REFR] - v[FX_TOSOIL];
    f[2] = v[FX_RAIN] + v[FX_TOSOIL] - v[FX_RECH] - v[FX_EXC] - v[FX_ET];
    f[3] = v[FX_RECH] + v[FX_EXC] - v[FX_PERC] - v[FX_Q0] - v[FX_Q1];
    f[4] = v[FX_PERC] - v[FX_Q2];
}

void tg__hbvi_flux_weights(const tg_real *mu, tg_real *w)
{
    for (int k = 0; k < HBVI_NF; k++) {
        tg_real s = R0;
        for (int i = 0; i < HBVI_NS; i++)
            if (A[i][k])
                s += A[i][k] > 0 ? mu[i] : -mu[i];
        w[k] = s;
    }
}

void tg__hbvi_dyn_make(const tg_hbvi_config *c, hbvi_dyn *d)
{
    int k = 0;
    for (int j = 0; j < HBVI_NP; j++)
        d->slot[j] = (c->hbv.dynamic >> j) & 1u ? 3 + k++ : -1;
    d->U = 3 + k;
}

void tg__hbvi_lane_params(const hbvi_dyn *d, const tg_real *theta, const tg_real *u, tg_real *p)
{
    for (int j = 0; j < HBVI_NP; j++)
        p[j] = d->slot[j] >= 0 ? u[d->slot[j]] : theta[j];
}

/* Logistic σ(z) and softplus log(1 + e^z) together from one exp and one log1p,
 * overflow-safe. */
typedef struct {
    tg_real sig, sp, tail; /* tail = sp − max(z, 0) = log(1 + e^−|z|) */
} softstep;
static softstep soft(tg_real z)
{
    softstep r;
    const tg_real e = tg_vexp(-R_FABS(z)), inv = R1 / (R1 + e);
    r.sig = z >= R0 ? inv : e * inv;
    r.tail = tg_vlog1p(e);
    r.sp = (z > R0 ? z : R0) + r.tail;
    return r;
}
static tg_real th(tg_real a) /* tanh from one exp */
{
    const tg_real e = tg_vexp(-2 * R_FABS(a)), t = (R1 - e) / (R1 + e);
    return a < R0 ? -t : t;
}
void tg__hbvi_eval(const tg_hbvi_config *c, const tg_real *x, const tg_real *p, tg_real P, tg_real Ta,
               tg_real E, int level, hbvi_lane *o)
{
    const tg_real wT = c->w_temp, wS = c->w_store, wE = c->w_et, kD = c->drain;
    const tg_real SP = x[0], MW = x[1], SM = x[2], SUZ = x[3], SLZ = x[4];
    const tg_real BETA = p[TG_HBV_BETA], FC = p[TG_HBV_FC], K0 = p[TG_HBV_K0], K1 = p[TG_HBV_K1],
                  K2 = p[TG_HBV_K2], LP = p[TG_HBV_LP], PERC = p[TG_HBV_PERC], UZL = p[TG_HBV_UZL],
                  TT = p[TG_HBV_TT], CFMAX = p[TG_HBV_CFMAX], CFR = p[TG_HBV_CFR],
                  CWH = p[TG_HBV_CWH], BETAET = p[TG_HBV_BETAET];
    tg_real *v = o->v;
    /* snow */
    const tg_real dT = Ta - TT;
    /* σ(z), softplus(z) and softplus(−z) = softplus(z) − z from one exp */
    const softstep st = soft(dT / wT);
    const tg_real rs = st.sig, spp = wT * st.sp, spn = spp - dT;
    v[FX_RAIN] = P * rs;
    v[FX_SNOW] = P - v[FX_RAIN];
    const tg_real phSP = th(SP / wS), phMW = th(MW / wS);
    v[FX_MELT] = CFMAX * spp * phSP;
    v[FX_REFR] = CFR * CFMAX * spn * phMW;
    const tg_real cw = CWH * SP;
    const softstep t1 = soft((MW - cw) / wS), t0 = soft(-cw / wS);
    const tg_real s1 = t1.sig, s0 = t0.sig;
    v[FX_TOSOIL] = kD * wS * (t1.sp - t0.sp);
    /* soil */
    const tg_real rt = R_SQRT(SM * SM + POS_EPS * POS_EPS);
    /* (SM + rt)/2 cancels for SM < 0 (to exactly 0 in float once SM² ≫ ε²/eps, e.g. SM =
     * −0.5 mm, and then dSM⁺/dSM / SM⁺ = 0/0 poisoned the Newton Jacobian of that lane);
     * ε²/(2(rt − SM)) is the same number without cancellation, and dSM⁺/dSM = SM⁺/rt. */
    const tg_real smp = SM >= R0 ? HALF * (SM + rt) : HALF * POS_EPS * POS_EPS / (rt - SM);
    const tg_real lw = tg_vlog(smp / FC);
    tg_real aw = BETA * lw, ew = R1;
    if (aw > EXP_CAP) aw = EXP_CAP, ew = R0;
    const tg_real wet = tg_vexp(aw);
    const tg_real infil = v[FX_RAIN] + v[FX_TOSOIL];
    v[FX_RECH] = infil * wet;
    const softstep e1 = soft((SM - FC) / wS), e0 = soft(-FC / wS);
    const tg_real sE = e1.sig, sE0 = e0.sig;
    v[FX_EXC] = kD * wS * (e1.sp - e0.sp);
    const tg_real le = tg_vlog(smp / (LP * FC));
    tg_real ae = BETAET * le, ee = R1;
    if (ae > EXP_CAP) ae = EXP_CAP, ee = R0;
    const tg_real ye = tg_vexp(ae);
    const tg_real ze = (R1 - ye) / wE;
    const softstep zs = soft(ze);
    /* 1 − wE·sp(ze): for ze > 0 (the soil below LP·FC) written as ye − wE·log1p(e^−ze), which
     * does not cancel when ye is small (dry soil: float lost the ET rate to rounding) */
    const tg_real ef = ze > R0 ? ye - wE * zs.tail : R1 - wE * zs.sp, def = zs.sig;
    const tg_real phSM = th(SM / wS);
    v[FX_ET] = E * ef * phSM;
    /* response */
    const tg_real phSUZ = th(SUZ / wS);
    v[FX_PERC] = PERC * phSUZ;
    const softstep u1 = soft((SUZ - UZL) / wS), u0 = soft(-UZL / wS);
    const tg_real sU = u1.sig, sU0 = u0.sig;
    const tg_real r0 = wS * (u1.sp - u0.sp);
    v[FX_Q0] = K0 * r0;
    v[FX_Q1] = K1 * SUZ;
    v[FX_Q2] = K2 * SLZ;
    if (level < 1)
        return;

    /* ---- ∂v/∂x */
    memset(o->dx, 0, sizeof o->dx);
    const tg_real dphSP = (R1 - phSP * phSP) / wS, dphMW = (R1 - phMW * phMW) / wS;
    const tg_real dphSM = (R1 - phSM * phSM) / wS, dphSUZ = (R1 - phSUZ * phSUZ) / wS;
    o->dx[0][FX_MELT] = CFMAX * spp * dphSP;
    o->dx[1][FX_REFR] = CFR * CFMAX * spn * dphMW;
    const tg_real tos_MW = kD * s1, tos_c = kD * (s0 - s1);
    o->dx[1][FX_TOSOIL] = tos_MW;
    o->dx[0][FX_TOSOIL] = tos_c * CWH;
    const tg_real wet_SM = ew * BETA * wet / rt; /* wet · BETA · (dSM⁺/dSM) / SM⁺ */
    o->dx[0][FX_RECH] = wet * o->dx[0][FX_TOSOIL];
    o->dx[1][FX_RECH] = wet * tos_MW;
    o->dx[2][FX_RECH] = infil * wet_SM;
    o->dx[2][FX_EXC] = kD * sE;
    const tg_real ye_SM = ee * BETAET * ye / rt;
    o->dx[2][FX_ET] = E * (def * ye_SM * phSM + ef * dphSM);
    o->dx[3][FX_PERC] = PERC * dphSUZ;
    o->dx[3][FX_Q0] = K0 * sU;
    o->dx[3][FX_Q1] = K1;
    o->dx[4][FX_Q2] = K2;
    if (level < 2)
        return;

    /* ---- ∂v/∂θ and ∂v/∂(P, T, PET) */
    memset(o->dp, 0, sizeof o->dp);
    memset(o->du, 0, sizeof o->du);
    const tg_real drs = rs * (R1 - rs) / wT; /* d rs / d dT */
    o->du[FX_RAIN][0] = rs;
    o->du[FX_RAIN][1] = P * drs;
    o->dp[FX_RAIN][TG_HBV_TT] = -P * drs;
    o->du[FX_SNOW][0] = R1 - rs;
    o->du[FX_SNOW][1] = -P * drs;
    o->dp[FX_SNOW][TG_HBV_TT] = P * drs;
    o->dp[FX_MELT][TG_HBV_CFMAX] = spp * phSP;
    o->du[FX_MELT][1] = CFMAX * rs * phSP;
    o->dp[FX_MELT][TG_HBV_TT] = -CFMAX * rs * phSP;
    o->dp[FX_REFR][TG_HBV_CFR] = CFMAX * spn * phMW;
    o->dp[FX_REFR][TG_HBV_CFMAX] = CFR * spn * phMW;
    o->du[FX_REFR][1] = -CFR * CFMAX * (R1 - rs) * phMW;
    o->dp[FX_REFR][TG_HBV_TT] = CFR * CFMAX * (R1 - rs) * phMW;
    o->dp[FX_TOSOIL][TG_HBV_CWH] = tos_c * SP;
    /* rech = (rain + tosoil) wet */
    o->du[FX_RECH][0] = wet * o->du[FX_RAIN][0];
    o->du[FX_RECH][1] = wet * o->du[FX_RAIN][1];
    o->dp[FX_RECH][TG_HBV_TT] = wet * o->dp[FX_RAIN][TG_HBV_TT];
    o->dp[FX_RECH][TG_HBV_CWH] = wet * o->dp[FX_TOSOIL][TG_HBV_CWH];
    o->dp[FX_RECH][TG_HBV_BETA] = ew * infil * wet * lw;
    o->dp[FX_RECH][TG_HBV_FC] = -ew * infil * wet * BETA / FC;
    o->dp[FX_EXC][TG_HBV_FC] = kD * (sE0 - sE);
    /* ET = PET ef(ye) φ(SM), ye = (SM⁺/(LP FC))^BETAET */
    const tg_real ET_ye = E * def * phSM * ee;
    o->du[FX_ET][2] = ef * phSM;
    o->dp[FX_ET][TG_HBV_BETAET] = ET_ye * ye * le;
    o->dp[FX_ET][TG_HBV_LP] = -ET_ye * BETAET * ye / LP;
    o->dp[FX_ET][TG_HBV_FC] = -ET_ye * BETAET * ye / FC;
    o->dp[FX_PERC][TG_HBV_PERC] = phSUZ;
    o->dp[FX_Q0][TG_HBV_K0] = r0;
    o->dp[FX_Q0][TG_HBV_UZL] = K0 * (sU0 - sU);
    o->dp[FX_Q1][TG_HBV_K1] = SUZ;
    o->dp[FX_Q2][TG_HBV_K2] = SLZ;
}

void tg__hbvi_vjp(const hbvi_lane *L, const tg_real *w, tg_real scale, tg_real *xb, tg_real *pb,
              tg_real *ub)
{
    for (int k = 0; k < HBVI_NF; k++) {
        const tg_real s = scale * w[k];
        if (s == R0)
            continue;
        if (xb)
            for (int i = 0; i < HBVI_NS; i++)
                xb[i] += s * L->dx[i][k];
        if (pb)
            for (int j = 0; j < HBVI_NP; j++)
                pb[j] += s * L->dp[k][j];
        if (ub)
            for (int j = 0; j < 3; j++)
                ub[j] += s * L->du[k][j];
    }
}

void tg_hbvi_fluxes(const tg_hbvi_config *c, const tg_real *x, const tg_real *p, tg_real P,
                    tg_real T, tg_real PET, tg_real *flux)
{
    hbvi_lane L;
    tg__hbvi_eval(c, x, p, P, T, PET, 0, &L);
    memcpy(flux, L.v, sizeof L.v);
}

/* ------------------------------------------------------------------ callbacks */
static int cb_residual(void *ud, const tg_implicit_args *a, tg_real *F)
{
    const tg_hbvi_config *c = ud;
    hbvi_dyn d;
    tg__hbvi_dyn_make(c, &d);
    const int cn = c->scheme == TG_HBVI_CN;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *xn = a->xn + (size_t)b * HBVI_NS, *x = a->x + (size_t)b * HBVI_NS;
        const tg_real *u = a->u + (size_t)b * (size_t)d.U;
        tg_real p[HBVI_NP], f[HBVI_NS];
        hbvi_lane L;
        tg__hbvi_lane_params(&d, a->theta + (size_t)b * HBVI_NP, u, p);
        tg__hbvi_eval(c, xn, p, u[0], u[1], u[2], 0, &L);
        tg__hbvi_rates(L.v, f);
        tg_real *Fb = F + (size_t)b * HBVI_NS;
        if (cn) {
            tg_real f0[HBVI_NS];
            tg__hbvi_eval(c, x, p, u[0], u[1], u[2], 0, &L);
            tg__hbvi_rates(L.v, f0);
            for (int i = 0; i < HBVI_NS; i++)
                Fb[i] = xn[i] - x[i] - HALF * (f[i] + f0[i]);
        } else {
            for (int i = 0; i < HBVI_NS; i++)
                Fb[i] = xn[i] - x[i] - f[i];
        }
    }
    return 0;
}

static int cb_jacobian(void *ud, const tg_implicit_args *a, tg_real *J)
{
    const tg_hbvi_config *c = ud;
    hbvi_dyn d;
    tg__hbvi_dyn_make(c, &d);
    const tg_real sc = c->scheme == TG_HBVI_CN ? HALF : R1;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *xn = a->xn + (size_t)b * HBVI_NS;
        const tg_real *u = a->u + (size_t)b * (size_t)d.U;
        tg_real p[HBVI_NP];
        hbvi_lane L;
        tg__hbvi_lane_params(&d, a->theta + (size_t)b * HBVI_NP, u, p);
        tg__hbvi_eval(c, xn, p, u[0], u[1], u[2], 1, &L);
        tg_real *Jb = J + (size_t)b * HBVI_NS * HBVI_NS;
        for (int j = 0; j < HBVI_NS; j++) {
            tg_real col[HBVI_NS]; /* column j of A ∂v/∂x */
            tg__hbvi_rates(L.dx[j], col);
            for (int i = 0; i < HBVI_NS; i++)
                Jb[i * HBVI_NS + j] = (i == j ? R1 : R0) - sc * col[i];
        }
    }
    return 0;
}

void tg__hbvi_scatter_params(const hbvi_dyn *d, const tg_real *pb, tg_real *theta_bar, tg_real *u_bar)
{
    for (int j = 0; j < HBVI_NP; j++) {
        if (d->slot[j] >= 0) {
            if (u_bar)
                u_bar[d->slot[j]] += pb[j];
        } else if (theta_bar) {
            theta_bar[j] += pb[j];
        }
    }
}

static int cb_adjoint(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *x_bar,
                      tg_real *theta_bar, tg_real *u_bar)
{
    const tg_hbvi_config *c = ud;
    hbvi_dyn d;
    tg__hbvi_dyn_make(c, &d);
    const int cn = c->scheme == TG_HBVI_CN;
    const tg_real sc = cn ? HALF : R1;
    const int level = (theta_bar || u_bar) ? 2 : 1;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *mub = mu + (size_t)b * HBVI_NS;
        const tg_real *xn = a->xn + (size_t)b * HBVI_NS, *x = a->x + (size_t)b * HBVI_NS;
        const tg_real *u = a->u + (size_t)b * (size_t)d.U;
        tg_real *ub = u_bar ? u_bar + (size_t)b * (size_t)d.U : NULL;
        tg_real p[HBVI_NP], w[HBVI_NF], pb[HBVI_NP] = {0};
        hbvi_lane L;
        tg__hbvi_lane_params(&d, a->theta + (size_t)b * HBVI_NP, u, p);
        tg__hbvi_flux_weights(mub, w);
        /* ∂F/∂x = −I (− ½ A ∂v/∂x(x) for CN) */
        if (x_bar)
            for (int i = 0; i < HBVI_NS; i++)
                x_bar[(size_t)b * HBVI_NS + i] -= mub[i];
        if (level == 2) {
            tg__hbvi_eval(c, xn, p, u[0], u[1], u[2], 2, &L);
            tg__hbvi_vjp(&L, w, -sc, NULL, pb, ub);
        }
        if (cn) {
            tg__hbvi_eval(c, x, p, u[0], u[1], u[2], level, &L);
            tg__hbvi_vjp(&L, w, -HALF, x_bar ? x_bar + (size_t)b * HBVI_NS : NULL,
                     level == 2 ? pb : NULL, ub);
        }
        if (level == 2)
            tg__hbvi_scatter_params(&d, pb, theta_bar ? theta_bar + (size_t)b * HBVI_NP : NULL, ub);
    }
    return 0;
}

void tg_hbvi_fns(const tg_hbvi_config *c, tg_implicit_fns *f)
{
    hbvi_dyn d;
    tg__hbvi_dyn_make(c, &d);
    memset(f, 0, sizeof *f);
    f->name = c->scheme == TG_HBVI_CN ? "hbv_implicit(cn)" : "hbv_implicit(euler)";
    f->n = HBVI_NS;
    f->P = HBVI_NP;
    f->U = d.U;
    f->jac = TG_JAC_DENSE;
    f->residual = cb_residual;
    f->jacobian = cb_jacobian;
    f->adjoint = cb_adjoint;
}
