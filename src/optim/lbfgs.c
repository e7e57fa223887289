/* lbfgs.c — L-BFGS (Nocedal & Wright 2006, Alg. 7.4/7.5) with a strong-Wolfe line search
 * (Alg. 3.5/3.6: bracketing, then zoom by safeguarded cubic interpolation), arranged as
 * torch.optim.LBFGS(line_search_fn="strong_wolfe"): one step() = up to max_iter
 * iterations, the same stopping tests, the same first step min(1, 1/|g|_1) lr, and
 * curvature pairs kept only when y's > 1e-10. PINNs fine-tune with it after Adam.
 *
 * Everything the optimizer computes is double in every build, as in SciPy's L-BFGS-B
 * driving float32 networks: a master copy of the iterate x, the direction, the curvature
 * pairs and the line search. Only the loss and gradient come from the (possibly float)
 * network. With a float iterate, steps below half an ulp of a weight were lost and the
 * stored pairs carried float rounding, so the float PINN stalled once the residual's
 * rounding noise dominated (Burgers: 1.2e-3 instead of the paper's 6.7e-4).
 *
 * State (checkpointed; doubles laid out in the tg_real state buffer): x (n), d (n),
 * previous gradient (n), the ring buffers S and Y of the last m pairs and their 1/(y's),
 * plus scalars t, H_diag, previous loss, iteration count and ring position in
 * tg_optim.scal. Dot products in index order. */
#include <math.h>
#include <string.h>

#include "optim/optim_internal.h"
#include "terragrad/lbfgs.h"

typedef struct lb {
    tg_optim *o;
    tg_params *ps;
    tg_closure_fn f;
    void *ud;
    size_t n;
    int evals;              /* closure calls in this step */
} lb;

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* Loss and gradient at x0 + t d (at the current parameters if x0 == NULL); the network
 * sees the iterate rounded to tg_real. The gradient lands in g with frozen parameters'
 * entries zero, so directions never move them. */
static int eval(lb *w, const double *x0, double t, const double *d, double *loss, double *g)
{
    tg_params *ps = w->ps;
    if (x0)
        for (size_t i = 0; i < w->n; i++)
            ps->value[i] = (tg_real)(x0[i] + t * d[i]);
    tg_params_zero_grad(ps);
    tg_error_clear();
    int rc = w->f(w->ud, ps, loss);
    w->evals++;
    w->o->scal[LB_FUNC_EVALS] += 1.0;
    if (rc)
        return tg_error_code() ? tg_error_prefix(TG_EEXTERNAL, "lbfgs: closure returned %d: ", rc)
                               : tg_error_set(TG_EEXTERNAL, "lbfgs: closure returned %d", rc);
    for (size_t i = 0; i < w->n; i++)
        g[i] = (double)ps->grad[i];
    for (int k = 0; k < ps->count; k++)
        if (ps->frozen[k])
            for (size_t i = ps->offset[k], e = i + tg_params_numel(ps, k); i < e; i++)
                g[i] = 0.0;
    return 0;
}

/* Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to [lo, hi];
 * the midpoint when the cubic has no minimum (N&W eq. 3.59). */
static double cubic_min(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi)
{
    double d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    double d2sq = d1 * d1 - g1 * g2;
    if (d2sq >= 0.0) {
        double d2 = sqrt(d2sq), xm;
        if (x1 <= x2)
            xm = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2));
        else
            xm = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2));
        return fmin(fmax(xm, lo), hi);
    }
    return 0.5 * (lo + hi);
}

#define C1 1e-4 /* sufficient decrease (Armijo) */

/* f within the noise band aw |f0| above f0 (never when aw is 0: the plain search). */
static int flat(double f0, double aw, double f) { return aw > 0.0 && f <= f0 + aw * fabs(f0); }

/* Sufficient decrease at step t: Armijo, or, in the noise band, Hager & Zhang's (2005)
 * approximate Wolfe form phi'(t) <= (2 c1 - 1) phi'(0) (Armijo's condition for a quadratic,
 * written with slopes, which float rounding resolves where the loss difference is noise). */
static int sufficient(double f0, double gtd0, double aw, double t, double f, double gtd)
{
    return f <= f0 + C1 * t * gtd0 || (flat(f0, aw, f) && gtd <= (2.0 * C1 - 1.0) * gtd0);
}

int tg_lbfgs_set_approx_wolfe(tg_optim *o, double eps)
{
    if (!o || o->cfg.kind != TG_OPTIM_LBFGS)
        return tg_error_set(TG_EINVAL, "tg_lbfgs_set_approx_wolfe: not an L-BFGS optimizer");
    if (!(eps >= 0.0 && eps < 1.0))
        return tg_error_set(TG_EINVAL, "tg_lbfgs_set_approx_wolfe: eps %g must be in [0, 1)", eps);
    o->approx_wolfe = eps;
    return 0;
}

/* Strong-Wolfe line search from x0 along d, starting at step *t. In: f, g (n), gtd at t=0.
 * Out: *t, *f and g at the accepted point. buf: 3n scratch. */
static int strong_wolfe(lb *w, const double *x0, const double *d, double *t_io, double *f_io, double *g_io,
                        double gtd, double *buf)
{
    const double c2 = 0.9, tol = w->o->cfg.tol_change, aw = w->o->approx_wolfe;
    const int max_ls = 25;
    const size_t n = w->n;
    const double f0 = *f_io, d_norm = max_abs(d, n);
    double *gP = buf, *gN = buf + n, *spare = buf + 2 * n;
    double t = *t_io, fN, gtdN;
    int rc = eval(w, x0, t, d, &fN, gN);
    if (rc)
        return rc;
    gtdN = dot(gN, d, n);
    double tP = 0.0, fP = f0, gtdP = gtd;
    memcpy(gP, g_io, n * sizeof(double));

    double bt[2], bf[2], bgtd[2];
    double *bg[2];
    int nb = 0, done = 0, ls = 0;
    /* bracketing phase */
    while (ls < max_ls) {
        if (!sufficient(f0, gtd, aw, t, fN, gtdN) || (ls > 1 && fN >= fP && !flat(f0, aw, fN)) || gtdN >= 0.0) {
            bt[0] = tP, bf[0] = fP, bgtd[0] = gtdP, bg[0] = gP;
            bt[1] = t, bf[1] = fN, bgtd[1] = gtdN, bg[1] = gN;
            nb = 2;
            break;
        }
        if (fabs(gtdN) <= -c2 * gtd) {
            bt[0] = t, bf[0] = fN, bgtd[0] = gtdN, bg[0] = gN;
            nb = 1, done = 1;
            break;
        }
        /* extrapolate: a cubic step in [t + 0.01 (t - tP), 10 t] */
        double t_next = cubic_min(tP, fP, gtdP, t, fN, gtdN, t + 0.01 * (t - tP), 10.0 * t);
        double *tmp = gP;
        gP = gN, gN = tmp;
        tP = t, fP = fN, gtdP = gtdN;
        t = t_next;
        if ((rc = eval(w, x0, t, d, &fN, gN)))
            return rc;
        gtdN = dot(gN, d, n);
        ls++;
    }
    double *gF = spare;     /* the one buffer not holding a bracket gradient */
    if (nb == 0) {
        /* max_ls extrapolations without a bracket: bracket [0, t] */
        memcpy(spare, g_io, n * sizeof(double));
        bt[0] = 0.0, bf[0] = f0, bgtd[0] = gtd, bg[0] = spare;
        bt[1] = t, bf[1] = fN, bgtd[1] = gtdN, bg[1] = gN;
        nb = 2;
        gF = gP;
    }
    int lo = 0, hi = 1;
    if (nb == 2 && bf[0] > bf[1])
        lo = 1, hi = 0;
    /* zoom phase */
    int insuf = 0;
    while (!done && ls < max_ls) {
        if (fabs(bt[1] - bt[0]) * d_norm < tol)
            break;
        double bmin = fmin(bt[0], bt[1]), bmax = fmax(bt[0], bt[1]);
        t = cubic_min(bt[0], bf[0], bgtd[0], bt[1], bf[1], bgtd[1], bmin, bmax);
        /* keep away from the ends unless we were already close last time */
        double eps = 0.1 * (bmax - bmin);
        if (fmin(bmax - t, t - bmin) < eps) {
            if (insuf || t >= bmax || t <= bmin) {
                t = fabs(t - bmax) < fabs(t - bmin) ? bmax - eps : bmin + eps;
                insuf = 0;
            } else {
                insuf = 1;
            }
        } else {
            insuf = 0;
        }
        if ((rc = eval(w, x0, t, d, &fN, gF)))
            return rc;
        gtdN = dot(gF, d, n);
        ls++;
        double *freed;
        /* in the noise band a descending slope, not a lower loss, makes t the low end */
        if (!sufficient(f0, gtd, aw, t, fN, gtdN) || (fN >= bf[lo] && !(flat(f0, aw, fN) && gtdN < 0.0))) {
            freed = bg[hi];
            bt[hi] = t, bf[hi] = fN, bgtd[hi] = gtdN, bg[hi] = gF;
            if (bf[0] <= bf[1])
                lo = 0, hi = 1;
            else
                lo = 1, hi = 0;
        } else {
            if (fabs(gtdN) <= -c2 * gtd)
                done = 1;
            if (!done && gtdN * (bt[hi] - bt[lo]) >= 0.0) {
                freed = bg[hi];
                bt[hi] = bt[lo], bf[hi] = bf[lo], bgtd[hi] = bgtd[lo], bg[hi] = bg[lo];
            } else {
                freed = bg[lo];
            }
            bt[lo] = t, bf[lo] = fN, bgtd[lo] = gtdN, bg[lo] = gF;
        }
        gF = freed;
    }
    *t_io = bt[lo];
    *f_io = bf[lo];
    memcpy(g_io, bg[lo], n * sizeof(double));
    return 0;
}

/* The iterations of one step, from loss and gradient g at the current parameters. */
static int iterate(tg_optim *o, lb *w, tg_params *ps, double *g, double *ls_buf, double *al, double loss)
{
    const size_t n = o->n;
    const int m = o->cfg.history;
    const tg_optim_config *c = &o->cfg;
    double *x = (double *)o->state, *d = x + n, *pg = d + n, *S = pg + n, *Y = S + (size_t)m * n,
           *ro = Y + (size_t)m * n;
    int rc = 0;
    double t = o->scal[LB_T], hdiag = o->scal[LB_HDIAG], prev_loss = o->scal[LB_PREV_LOSS];
    long n_iter = (long)o->scal[LB_N_ITER];
    int count = (int)o->scal[LB_COUNT], head = (int)o->scal[LB_HEAD];
    for (int it = 1; it <= c->max_iter; it++) {
        n_iter++;
        if (n_iter == 1) {
            for (size_t i = 0; i < n; i++)
                d[i] = -g[i];
            count = head = 0;
            hdiag = 1.0;
        } else {
            /* new curvature pair: y = g - g_prev, s = t d */
            double ys = 0.0, yy = 0.0;
            for (size_t i = 0; i < n; i++) {
                double yi = g[i] - pg[i], si = t * d[i];
                ys += yi * si;
                yy += yi * yi;
            }
            if (ys > 1e-10) {
                int slot;
                if (count < m) {
                    slot = (head + count) % m;
                    count++;
                } else {
                    slot = head;              /* overwrite the oldest */
                    head = (head + 1) % m;
                }
                double *s_ = S + (size_t)slot * n, *y_ = Y + (size_t)slot * n;
                for (size_t i = 0; i < n; i++) {
                    y_[i] = g[i] - pg[i];
                    s_[i] = t * d[i];
                }
                ro[slot] = 1.0 / ys;
                hdiag = ys / yy;
            }
            /* two-loop recursion: d = -H g */
            for (size_t i = 0; i < n; i++)
                d[i] = -g[i];
            for (int k = count - 1; k >= 0; k--) {
                int idx = (head + k) % m;
                al[k] = ro[idx] * dot(S + (size_t)idx * n, d, n);
                const double a = al[k], *y_ = Y + (size_t)idx * n;
                for (size_t i = 0; i < n; i++)
                    d[i] -= a * y_[i];
            }
            for (size_t i = 0; i < n; i++)
                d[i] *= hdiag;
            for (int k = 0; k < count; k++) {
                int idx = (head + k) % m;
                double be = ro[idx] * dot(Y + (size_t)idx * n, d, n);
                const double a = al[k] - be, *s_ = S + (size_t)idx * n;
                for (size_t i = 0; i < n; i++)
                    d[i] += a * s_[i];
            }
        }
        memcpy(pg, g, n * sizeof(double));
        prev_loss = loss;
        if (n_iter == 1) {
            double l1 = 0.0;
            for (size_t i = 0; i < n; i++)
                l1 += fabs(g[i]);
            t = fmin(1.0, 1.0 / l1) * o->lr;
        } else {
            t = o->lr;
        }
        double gtd = dot(g, d, n);
        if (gtd > -c->tol_change)
            break;                              /* not a descent direction any more */
        int opt_cond = 0;
        if (!c->no_line_search) {
            if ((rc = strong_wolfe(w, x, d, &t, &loss, g, gtd, ls_buf)))
                break;
            for (size_t i = 0; i < n; i++) {
                x[i] += t * d[i];
                ps->value[i] = (tg_real)x[i];
            }
            opt_cond = max_abs(g, n) <= c->tol_grad;
        } else {
            for (size_t i = 0; i < n; i++) {
                x[i] += t * d[i];
                ps->value[i] = (tg_real)x[i];
            }
            if (it != c->max_iter) {
                if ((rc = eval(w, NULL, 0.0, NULL, &loss, g)))
                    break;
                opt_cond = max_abs(g, n) <= c->tol_grad;
            }
        }
        if (it == c->max_iter || w->evals >= c->max_eval || opt_cond)
            break;
        if (max_abs(d, n) * fabs(t) <= c->tol_change || fabs(loss - prev_loss) < c->tol_change)
            break;
    }
    o->scal[LB_T] = t;
    o->scal[LB_HDIAG] = hdiag;
    o->scal[LB_PREV_LOSS] = prev_loss;
    o->scal[LB_N_ITER] = (double)n_iter;
    o->scal[LB_COUNT] = count;
    o->scal[LB_HEAD] = head;
    return rc;
}

int tg_lbfgs_run(tg_optim *o, tg_params *ps, tg_closure_fn f, void *ud, double *loss_out)
{
    const size_t n = o->n;
    const int m = o->cfg.history;
    const tg_optim_config *c = &o->cfg;
    size_t scratch_n = 4 * n;
    double *scratch = tg_malloc(scratch_n * sizeof(double));
    double *al = tg_malloc((size_t)m * sizeof(double));
    if (!scratch || !al) {
        tg_free(scratch, scratch_n * sizeof(double));
        tg_free(al, (size_t)m * sizeof(double));
        return TG_ENOMEM;
    }
    double *g = scratch, *ls_buf = scratch + n;
    lb w = {o, ps, f, ud, n, 0};
    /* The double iterate follows the parameters unless someone else moved them (first
     * step, Adam before, a loaded checkpoint of the parameters alone): then restart it
     * from them. */
    double *x = (double *)o->state;
    for (size_t i = 0; i < n; i++)
        if ((tg_real)x[i] != ps->value[i]) {
            for (size_t j = 0; j < n; j++)
                x[j] = (double)ps->value[j];
            break;
        }

    double loss = 0.0;
    int rc = eval(&w, NULL, 0.0, NULL, &loss, g);
    const double orig_loss = loss;
    if (!rc && max_abs(g, n) > c->tol_grad)
        rc = iterate(o, &w, ps, g, ls_buf, al, loss);
    if (!rc) {
        o->step++;
        if (loss_out)
            *loss_out = orig_loss;
    }
    tg_params_zero_grad(ps);
    tg_free(scratch, scratch_n * sizeof(double));
    tg_free(al, (size_t)m * sizeof(double));
    return rc;
}
