/* hbv_implicit_substep.c — a lane-day whose daily implicit solve failed, redone as k
 * smaller implicit steps, and the adjoint of such a day.
 *
 * Why: backward Euler in daily steps keeps the HBV stores non-negative, but Newton's
 * iteration is not guaranteed to find that root on every day a trained network can
 * produce (forcing and parameters at their extremes). With steps of 1/k day the
 * start-of-step stores are a close initial guess and the step Jacobian is near the
 * identity, which is what hydrological solvers do when Newton fails: cut the step.
 *
 * How: every rate in the fluxes is linear in exactly one of P, PET, CFMAX, PERC, K0, K1,
 * K2 or the drain rate (docs/hbv_implicit.md §1), so dividing those by k turns the daily
 * residual into the residual of a step of 1/k day. The same callbacks, Newton and adjoint
 * then serve the sub-steps. Backward recomputes the k sub-step states from the stored
 * start-of-day stores (the same code on the same inputs, so the same numbers) instead of
 * storing them. */
#include <string.h>

#include "models/hbv_implicit_internal.h"

#define R0 TG_R(0.0)
#define R1 TG_R(1.0)
#define HALF TG_R(0.5)

static int is_rate(int j)
{
    return j == TG_HBV_CFMAX || j == TG_HBV_PERC || j == TG_HBV_K0 || j == TG_HBV_K1 || j == TG_HBV_K2;
}

/* One lane's problem for steps of 1/k day: all parameters static (U = 3). */
typedef struct {
    tg_hbvi_config c;
    tg_implicit_fns f;
    tg_real p[HBVI_NP], u[3];
    tg_real inv_k;
    int k;
} sub_problem;

static void sub_setup(const tg_hbvi_config *c, int level, const tg_real *p, const tg_real *u3,
                      sub_problem *s)
{
    s->k = 1 << level;
    s->inv_k = R1 / (tg_real)s->k;
    s->c = *c;
    s->c.hbv.dynamic = 0;
    s->c.drain = c->drain * s->inv_k;
    for (int j = 0; j < HBVI_NP; j++)
        s->p[j] = is_rate(j) ? p[j] * s->inv_k : p[j];
    s->u[0] = u3[0] * s->inv_k;
    s->u[1] = u3[1];
    s->u[2] = u3[2] * s->inv_k;
    tg_hbvi_fns(&s->c, &s->f);
}

static tg_newton_opts sub_newton(const tg_hbvi_config *c)
{
    tg_newton_opts o = c->newton;
    o.allow_unconverged = 1; /* a failed sub-step means: try a smaller k */
    o.warm_start = 0;
    return o;
}

/* Flux amounts of one sub-step ending at xe (from xs; CN averages both ends). */
static void sub_amounts(const sub_problem *s, const tg_real *xs, const tg_real *xe, tg_real *v)
{
    hbvi_lane L;
    tg__hbvi_eval(&s->c, xe, s->p, s->u[0], s->u[1], s->u[2], 0, &L);
    if (s->c.scheme == TG_HBVI_CN) {
        hbvi_lane L0;
        tg__hbvi_eval(&s->c, xs, s->p, s->u[0], s->u[1], s->u[2], 0, &L0);
        for (int q = 0; q < HBVI_NF; q++)
            v[q] += HALF * (L.v[q] + L0.v[q]);
    } else {
        for (int q = 0; q < HBVI_NF; q++)
            v[q] += L.v[q];
    }
}

/* Runs the k sub-steps from x; states (k + 1, 5) receives every sub-step state. Returns a
 * TG_* code for callback/memory errors; *ok = 0 if some sub-step did not converge. */
static int sub_run(const sub_problem *s, const tg_newton_opts *o, int step, const tg_real *x,
                   tg_real (*states)[HBVI_NS], int *ok, long *iters)
{
    memcpy(states[0], x, HBVI_NS * sizeof *x);
    *ok = 1;
    for (int j = 0; j < s->k; j++) {
        unsigned char conv = 0;
        tg_newton_report rep;
        tg_newton_report_init(&rep);
        int rc = tg_implicit_solve(&s->f, (void *)&s->c, 1, step, states[j], s->p, s->u, states[j + 1],
                                   &conv, o, &rep);
        if (iters)
            *iters += rep.iters;
        if (rc)
            return rc;
        if (!conv) {
            *ok = 0;
            return 0;
        }
    }
    return 0;
}

int tg__hbvi_substep_forward(const tg_hbvi_config *c, int step, const tg_real *p, const tg_real *u3,
                         const tg_real *x, tg_real *xn, tg_real *vday, long *iters, int *level)
{
    tg_real states[(1 << HBVI_MAX_LEVEL) + 1][HBVI_NS];
    const tg_newton_opts o = sub_newton(c);
    *level = 0;
    for (int lv = 1; lv <= HBVI_MAX_LEVEL && (1 << lv) <= c->max_substeps; lv++) {
        sub_problem s;
        sub_setup(c, lv, p, u3, &s);
        int ok, rc = sub_run(&s, &o, step, x, states, &ok, iters);
        if (rc)
            return rc;
        if (!ok)
            continue;
        memset(vday, 0, HBVI_NF * sizeof *vday);
        for (int j = 0; j < s.k; j++)
            sub_amounts(&s, states[j], states[j + 1], vday);
        memcpy(xn, states[s.k], HBVI_NS * sizeof *xn);
        *level = lv;
        return 0;
    }
    return 0;
}

int tg__hbvi_substep_backward(const tg_hbvi_config *c, int step, int level, const tg_real *p,
                          const tg_real *u3, const tg_real *x, const tg_real *xbar,
                          const tg_real *w, tg_real *xbar_prev, tg_real *pbar, tg_real *ubar)
{
    if (level < 1 || level > HBVI_MAX_LEVEL)
        return tg_error_set(TG_EINVAL, "hbv_implicit: sub-step level %d out of range", level);
    tg_real states[(1 << HBVI_MAX_LEVEL) + 1][HBVI_NS];
    const tg_newton_opts o = sub_newton(c);
    sub_problem s;
    sub_setup(c, level, p, u3, &s);
    int ok, rc = sub_run(&s, &o, step, x, states, &ok, NULL);
    if (rc)
        return rc;
    if (!ok) /* cannot happen: the forward converged on the same numbers */
        return tg_error_set(TG_ECONVERGE, "hbv_implicit: the %d sub-steps of day %d did not reconverge in backward",
                            s.k, step);
    const tg_real sc = c->scheme == TG_HBVI_CN ? HALF : R1;
    tg_real xb[HBVI_NS], xbp[HBVI_NS], pb[HBVI_NP] = {0}, ub[3] = {R0, R0, R0};
    memcpy(xb, xbar, sizeof xb);
    for (int j = s.k; j >= 1; j--) {
        /* the day's flux amounts: Σ_j sc·(v'(x_j) [+ v'(x_{j−1}) for CN]) */
        memset(xbp, 0, sizeof xbp);
        hbvi_lane L;
        tg__hbvi_eval(&s.c, states[j], s.p, s.u[0], s.u[1], s.u[2], 2, &L);
        tg__hbvi_vjp(&L, w, sc, xb, pb, ub);
        if (c->scheme == TG_HBVI_CN) {
            tg__hbvi_eval(&s.c, states[j - 1], s.p, s.u[0], s.u[1], s.u[2], 2, &L);
            tg__hbvi_vjp(&L, w, sc, xbp, pb, ub);
        }
        /* the sub-step x_j = solve(x_{j−1}) */
        if ((rc = tg_implicit_step_adjoint(&s.f, (void *)&s.c, 1, step, states[j - 1], s.p, s.u, states[j], xb,
                                           xbp, pb, ub)))
            return rc;
        memcpy(xb, xbp, sizeof xb);
    }
    for (int i = 0; i < HBVI_NS; i++)
        xbar_prev[i] += xb[i];
    /* back from the scaled rates to the daily ones */
    for (int j = 0; j < HBVI_NP; j++)
        pbar[j] += is_rate(j) ? pb[j] * s.inv_k : pb[j];
    ubar[0] += ub[0] * s.inv_k;
    ubar[1] += ub[1];
    ubar[2] += ub[2] * s.inv_k;
    return 0;
}
