/* newton.c — the batched Newton solve of one implicit step (tg_implicit_solve).
 *
 * All lanes iterate together so the user's callbacks see whole batches (lanes innermost
 * is where their vectorisation lives); each lane keeps its own status, step length and
 * iteration count, and lanes that converged or failed drop out of the `active` mask. */
#include <math.h>
#include <string.h>

#include "adjoint/linsolve.h"
#include "terragrad/adjoint.h"

enum { LANE_ACTIVE = 0, LANE_DONE = 1, LANE_FAILED = 2 };

tg_newton_opts tg_newton_defaults(void)
{
    tg_newton_opts o;
    memset(&o, 0, sizeof o);
    o.max_iter = 30;
#ifdef TG_DOUBLE
    o.ftol = 1e-12;
    o.xtol = 1e-12;
#else
    o.ftol = 1e-10; /* below float rounding for most problems: xtol decides */
    o.xtol = 1e-5;
#endif
    o.max_halvings = 10;
    return o;
}

void tg_newton_report_init(tg_newton_report *r)
{
    memset(r, 0, sizeof *r);
    r->first_fail_step = -1;
    r->first_fail_lane = -1;
}

static double norm_inf(const tg_real *v, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        double a = fabs((double)v[i]);
        if (!(a <= m)) /* also propagates NaN */
            m = a;
    }
    return m;
}

static double norm_2(const tg_real *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)v[i] * (double)v[i];
    return sqrt(s);
}

/* Workspace of one solve, one allocation. */
typedef struct {
    tg_real *F, *Ft, *dx, *xt, *J, *lwork, *s;
    double *fn2;
    int *iwork, *iters;
    unsigned char *status, *mask, *lsmask;
    void *mem;
    size_t bytes;
} newton_ws;

static int ws_alloc(newton_ws *w, const tg_implicit_fns *f, int B)
{
    size_t n = (size_t)f->n, Bn = (size_t)B * n;
    size_t jsz = f->jac == TG_JAC_TRIDIAG ? 3 * n : n * n;
    size_t nreal = 4 * Bn + (size_t)B * jsz + tg__linsolve_work(f->jac, f->n) + (size_t)B;
    w->bytes = nreal * sizeof(tg_real) + (size_t)B * sizeof(double) +
               (n + (size_t)B) * sizeof(int) + 3 * (size_t)B + 64;
    w->mem = tg_malloc(w->bytes);
    if (!w->mem)
        return TG_ENOMEM;
    /* doubles first keeps every block aligned */
    w->fn2 = (double *)w->mem;
    tg_real *r = (tg_real *)(w->fn2 + B);
    w->F = r, r += Bn;
    w->Ft = r, r += Bn;
    w->dx = r, r += Bn;
    w->xt = r, r += Bn;
    w->J = r, r += (size_t)B * jsz;
    w->lwork = r, r += tg__linsolve_work(f->jac, f->n);
    w->s = r, r += B;
    int *ip = (int *)r;
    w->iwork = ip, ip += n;
    w->iters = ip, ip += B;
    unsigned char *c = (unsigned char *)ip;
    w->status = c, c += B;
    w->mask = c, c += B;
    w->lsmask = c;
    return 0;
}

/* Solves J dx = rhs for lane b; returns nonzero if J is singular. */
static int lane_solve(const tg_implicit_fns *f, const tg_real *J, int b, const tg_real *rhs,
                      tg_real *y, int transpose, tg_real *lwork, int *iwork)
{
    int n = f->n;
    if (f->jac == TG_JAC_TRIDIAG) {
        const tg_real *Jb = J + (size_t)b * 3 * (size_t)n;
        return tg__tridiag_solve(n, Jb, Jb + n, Jb + 2 * n, rhs, y, transpose, lwork);
    }
    return tg__dense_solve(n, J + (size_t)b * (size_t)n * (size_t)n, rhs, y, transpose, lwork,
                           iwork);
}

static int callback_failed(const tg_implicit_fns *f, const char *what, int rc, int step)
{
    return tg_error_set(TG_EEXTERNAL, "implicit step '%s': %s callback returned %d at step %d",
                        f->name ? f->name : "?", what, rc, step);
}

int tg_implicit_solve(const tg_implicit_fns *f, void *ud, int B, int step, const tg_real *x,
                      const tg_real *theta, const tg_real *u, tg_real *xn,
                      unsigned char *converged, const tg_newton_opts *o, tg_newton_report *rep)
{
    tg_newton_opts defaults = tg_newton_defaults();
    if (!o)
        o = &defaults;
    if (!f || !f->residual || !f->jacobian || f->n <= 0 || B <= 0 || !x || !xn ||
        (f->jac != TG_JAC_DENSE && f->jac != TG_JAC_TRIDIAG))
        return tg_error_set(TG_EINVAL, "tg_implicit_solve: bad arguments");
    const int n = f->n;
    const size_t Bn = (size_t)B * (size_t)n;
    newton_ws w;
    if (ws_alloc(&w, f, B))
        return tg_error_prefix(TG_ENOMEM, "implicit step '%s': ", f->name ? f->name : "?");
    if (!o->warm_start)
        memcpy(xn, x, Bn * sizeof *xn);
    memcpy(w.xt, xn, Bn * sizeof *xn);
    memset(w.status, LANE_ACTIVE, (size_t)B);
    memset(w.iters, 0, (size_t)B * sizeof(int));

    tg_implicit_args a = {B, step, xn, x, theta, u, NULL};
    int rc = f->residual(ud, &a, w.F), status = 0;
    if (rc) {
        status = callback_failed(f, "residual", rc, step);
        goto done;
    }
    for (int b = 0; b < B; b++) {
        w.fn2[b] = norm_2(w.F + (size_t)b * n, n);
        if (!isfinite(w.fn2[b]))
            w.status[b] = LANE_FAILED; /* the starting point itself is invalid */
    }

    long halvings = 0;
    for (int it = 0;; it++) {
        int n_active = 0;
        for (int b = 0; b < B; b++) {
            if (w.status[b] != LANE_ACTIVE)
                continue;
            if (norm_inf(w.F + (size_t)b * n, n) <= o->ftol)
                w.status[b] = LANE_DONE;
            else if (it >= o->max_iter)
                w.status[b] = LANE_FAILED;
            else
                n_active++;
            w.mask[b] = w.status[b] == LANE_ACTIVE;
        }
        if (!n_active)
            break;

        a.xn = xn;
        a.active = w.mask;
        if ((rc = f->jacobian(ud, &a, w.J))) {
            status = callback_failed(f, "jacobian", rc, step);
            goto done;
        }
        for (int b = 0; b < B; b++) {
            if (!w.mask[b])
                continue;
            tg_real *dxb = w.dx + (size_t)b * n;
            const tg_real *Fb = w.F + (size_t)b * n;
            for (int i = 0; i < n; i++)
                dxb[i] = -Fb[i];
            if (lane_solve(f, w.J, b, dxb, dxb, 0, w.lwork, w.iwork)) {
                w.status[b] = LANE_FAILED;
                w.mask[b] = 0;
                continue;
            }
            w.iters[b]++;
            const size_t o0 = (size_t)b * n;
            double dmax = norm_inf(dxb, n);
            if (o->max_step > 0 && dmax > o->max_step) {
                /* a trust cap on the update: strongly nonlinear states (a wetting front in
                 * dry soil) make the full Newton step overshoot far outside its basin */
                tg_real sc = (tg_real)(o->max_step / dmax);
                for (int i = 0; i < n; i++)
                    dxb[i] *= sc;
                dmax = o->max_step;
            }
            if (dmax <= o->xtol * (1 + norm_inf(xn + o0, n))) {
                /* The Newton step itself is below the tolerance: near rounding level the
                 * line search cannot see a decrease in ‖F‖, so take the step and stop
                 * (F is left at the previous iterate: an upper bound for the report). */
                for (int i = 0; i < n; i++)
                    xn[o0 + i] += dxb[i];
                w.status[b] = LANE_DONE;
                w.mask[b] = 0;
                continue;
            }
            w.s[b] = 1;
            w.lsmask[b] = 1;
        }
        for (int b = 0; b < B; b++)
            if (!w.mask[b])
                w.lsmask[b] = 0;

        /* Backtracking line search, all lanes still searching evaluated together. */
        for (int h = 0;; h++) {
            int searching = 0;
            for (int b = 0; b < B; b++) {
                if (!w.lsmask[b])
                    continue;
                searching++;
                const size_t o0 = (size_t)b * n;
                for (int i = 0; i < n; i++)
                    w.xt[o0 + i] = xn[o0 + i] + w.s[b] * w.dx[o0 + i];
            }
            if (!searching)
                break;
            a.xn = w.xt;
            a.active = w.lsmask;
            rc = f->residual(ud, &a, w.Ft);
            if (rc < 0) {
                status = callback_failed(f, "residual", rc, step);
                goto done;
            }
            const int last = h >= o->max_halvings;
            for (int b = 0; b < B; b++) {
                if (!w.lsmask[b])
                    continue;
                const size_t o0 = (size_t)b * n;
                double nt = rc ? nan("") : norm_2(w.Ft + o0, n);
                int finite = isfinite(nt);
                /* the last, shortest trial is taken if it does not increase ‖F‖ (creeping
                 * on beats stopping); an increase there would only feed divergence */
                int accept = finite && (nt <= (1 - 1e-4 * (double)w.s[b]) * w.fn2[b] ||
                                        (last && nt <= w.fn2[b]));
                if (accept) {
                    memcpy(xn + o0, w.xt + o0, (size_t)n * sizeof *xn);
                    memcpy(w.F + o0, w.Ft + o0, (size_t)n * sizeof *xn);
                    w.fn2[b] = nt;
                    w.lsmask[b] = 0;
                    /* A full Newton step this small means we sit at the solution to
                     * working precision even if max|F| cannot reach ftol. */
                    if (w.s[b] == 1 &&
                        norm_inf(w.dx + o0, n) <= o->xtol * (1 + norm_inf(xn + o0, n)))
                        w.status[b] = LANE_DONE;
                } else if (last) {
                    w.lsmask[b] = 0;
                    w.status[b] = LANE_FAILED; /* no acceptable trial point at all */
                } else {
                    w.s[b] *= TG_R(0.5);
                    halvings++;
                }
            }
        }
    }

    /* Report. */
    int first_fail = -1;
    for (int b = 0; b < B; b++) {
        double r = norm_inf(w.F + (size_t)b * n, n);
        if (converged)
            converged[b] = w.status[b] == LANE_DONE;
        if (rep) {
            rep->iters += w.iters[b];
            if (w.iters[b] > rep->max_iters)
                rep->max_iters = w.iters[b];
            if (!(r <= rep->worst_residual))
                rep->worst_residual = r;
        }
        if (w.status[b] != LANE_DONE) {
            if (first_fail < 0)
                first_fail = b;
            if (rep) {
                rep->failed++;
                if (rep->first_fail_step < 0) {
                    rep->first_fail_step = step;
                    rep->first_fail_lane = b;
                }
            }
        }
    }
    if (rep) {
        rep->steps++;
        rep->halvings += halvings;
    }
    if (first_fail >= 0 && !o->allow_unconverged)
        status = tg_error_set(TG_ECONVERGE,
                              "implicit step '%s': Newton did not converge in lane %d at step %d "
                              "after %d iterations (max|F| = %.3g, ftol = %.3g, max_iter = %d)",
                              f->name ? f->name : "?", first_fail, step, w.iters[first_fail],
                              norm_inf(w.F + (size_t)first_fail * n, n), o->ftol, o->max_iter);
done:
    tg_free(w.mem, w.bytes);
    return status;
}
