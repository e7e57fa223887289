/* ude_solve.c — integrating dS/dt = f_known(S, u, θ) + NN(S[, u]) over B lanes and the
 * discrete adjoint of the integrator, as one tape node.
 *
 * Explicit RK (RK4, DOPRI5, BS32) run lanes in lock-step ATTEMPTS, each lane with its own
 * step size h_b and clock: a lane whose step is rejected retries a smaller one while the
 * others move on; a lane that reaches the end of the interval goes inactive until all
 * lanes have. The right-hand side is evaluated for the active lanes only (the callbacks
 * get an active mask) and everything is lane-local, so a lane's numbers do not depend on
 * the batch. Backward Euler uses the implicit-step op (terragrad/adjoint.h) with a dense
 * Jacobian I − h (∂f/∂S + ∂NN/∂S).
 *
 * Backward: for each interval, reverse through the accepted steps (step-major: step j of
 * every lane that has one). An RK step's stages are recomputed from its stored start
 * state, then reversed (docs/ude.md); a backward-Euler step is one transposed solve.
 * Step start states come from storage (ckpt_every = 0) or from recomputing k intervals
 * from a checkpoint, replaying the recorded step sizes. */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "core/realmath.h"
#include "ude/ude_solve_internal.h"

/* ------------------------------------------------------------------ tableaus */
#define MAX_STAGES 7
typedef struct {
    int s;      /* stages */
    int s_eff;  /* stages that reach y_new (the last one with b != 0) */
    int q;      /* order of the error estimate's lower method (controller exponent 1/(q+1)) */
    double a[MAX_STAGES][MAX_STAGES], b[MAX_STAGES], e[MAX_STAGES]; /* e = b − b̂ */
} tableau;

static const tableau tab_rk4 = {
    4, 4, 0,
    {{0}, {0.5}, {0, 0.5}, {0, 0, 1}},
    {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6},
    {0}};

static const tableau tab_bs32 = {
    4, 3, 2,
    {{0}, {0.5}, {0, 0.75}, {2.0 / 9, 1.0 / 3, 4.0 / 9}},
    {2.0 / 9, 1.0 / 3, 4.0 / 9, 0},
    {2.0 / 9 - 7.0 / 24, 1.0 / 3 - 0.25, 4.0 / 9 - 1.0 / 3, -0.125}};

static const tableau tab_dopri5 = {
    7, 6, 4,
    {{0},
     {1.0 / 5},
     {3.0 / 40, 9.0 / 40},
     {44.0 / 45, -56.0 / 15, 32.0 / 9},
     {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
     {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
     {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0},
    {35.0 / 384 - 5179.0 / 57600, 0, 500.0 / 1113 - 7571.0 / 16695, 125.0 / 192 - 393.0 / 640,
     -2187.0 / 6784 + 92097.0 / 339200, 11.0 / 84 - 187.0 / 2100, -1.0 / 40}};

/* ------------------------------------------------------------------ the system */
typedef struct {
    const tg_ude_fns *f;
    void *ud;
    tg_ude_mlp mlp;
    int B, n, P, U, T;
    size_t nw;
    const tg_real *theta, *u, *W;
    tg_ude_opts o;
    tg_ude_stats *st;
    const tableau *tab;
    int adaptive;
    /* backward accumulators (NULL in forward or when not needed) */
    tg_real *theta_bar, *u_bar, *W_bar;
    /* scratch (heap, one solve or one backward) */
    tg_real *K, *Y, *Kb;           /* (s, B, n) stages, stage inputs, stage adjoints */
    tg_real *ynew, *tmp, *wv, *jv, *jo; /* (B, n) */
    tg_real *h, *hnext;            /* (B) */
    double *t;                     /* (B) clock inside the interval */
    long *attempts;                /* (B) */
    unsigned char *act, *last;     /* (B) */
    int *cnt;                      /* (B) accepted steps in the interval */
    /* growable step record of the interval being run: hb (cap, B), yb (cap, B, n) */
    tg_real *hb, *yb;
    size_t cap;
    int want_states;
    /* backward Euler */
    tg_implicit_fns ifn;
    tg_real hbe;
} ude_sys;

static size_t Bn(const ude_sys *s) { return (size_t)s->B * (size_t)s->n; }
static const tg_real *u_day(const ude_sys *s, int d)
{
    return s->u ? s->u + (size_t)d * (size_t)s->B * (size_t)s->U : NULL;
}

static int cb_fail(const ude_sys *s, const char *what, int d, int rc)
{
    (void)rc;
    return tg_error_set(TG_EEXTERNAL, "ude '%s': callback %s failed on interval %d",
                        s->f->name ? s->f->name : "?", what, d);
}

/* out (B, n) = f_known + NN at S for the active lanes. */
static int rhs_eval(ude_sys *s, int d, const unsigned char *act, const tg_real *S, tg_real *out)
{
    const int n = s->n;
    tg_ude_args a = {s->B, d, S, s->theta, u_day(s, d), act};
    if (s->f->rhs) {
        int rc = s->f->rhs(s->ud, &a, out);
        if (rc)
            return rc > 0 ? rc : cb_fail(s, "rhs", d, rc);
    } else
        memset(out, 0, Bn(s) * sizeof *out);
    if (s->mlp.n_layers > 0) {
        const tg_real *ud = u_day(s, d);
        tg_real x[TG_UDE_MAX_IN], nn[TG_UDE_MAX_N];
        for (int b = 0; b < s->B; b++) {
            if (act && !act[b])
                continue;
            tg__ude_mlp_input(&s->mlp, n, s->U, s->P, S + (size_t)b * (size_t)n,
                              ud ? ud + (size_t)b * (size_t)s->U : NULL,
                              s->theta ? s->theta + (size_t)b * (size_t)s->P : NULL, x);
            tg__ude_mlp_lane(&s->mlp, s->W, n, x, nn);
            for (int i = 0; i < n; i++)
                out[(size_t)b * (size_t)n + (size_t)i] += nn[i];
        }
    }
    if (s->st)
        s->st->rhs_evals++;
    return 0;
}

/* Reverse of rhs_eval at S with dL/d(out) = w (zero on inactive lanes): ACCUMULATES S_bar
 * (may be NULL), s->theta_bar, u_bar of interval d, s->W_bar. */
static int rhs_vjp(ude_sys *s, int d, const unsigned char *act, const tg_real *S, const tg_real *w,
                   tg_real *S_bar, tg_real *theta_bar, tg_real *u_bar_d)
{
    const int n = s->n;
    tg_ude_args a = {s->B, d, S, s->theta, u_day(s, d), act};
    if (s->f->rhs) {
        int rc = s->f->vjp(s->ud, &a, w, S_bar, theta_bar, u_bar_d);
        if (rc)
            return cb_fail(s, "vjp", d, rc);
    }
    if (s->mlp.n_layers > 0) {
        const tg_real *ud = u_day(s, d);
        tg_real x[TG_UDE_MAX_IN];
        for (int b = 0; b < s->B; b++) {
            if (act && !act[b])
                continue;
            const size_t o = (size_t)b * (size_t)n, ou = (size_t)b * (size_t)s->U,
                         ot = (size_t)b * (size_t)s->P;
            tg__ude_mlp_input(&s->mlp, n, s->U, s->P, S + o, ud ? ud + ou : NULL, s->theta ? s->theta + ot : NULL, x);
            tg__ude_mlp_lane_vjp(&s->mlp, s->W, n, s->U, s->P, x, w + o, S_bar ? S_bar + o : NULL,
                                 u_bar_d ? u_bar_d + ou : NULL, theta_bar ? theta_bar + ot : NULL, s->W_bar);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ one RK attempt */
/* Stages 0..ns-1 of a step from y (B, n) with per-lane h for the active lanes: Y_i into
 * s->Y, k_i into s->K. Inactive lanes get Y_i = y (never used). */
static int rk_stages(ude_sys *s, int d, const tg_real *y, int ns)
{
    const tableau *tb = s->tab;
    const int n = s->n;
    const size_t bn = Bn(s);
    for (int i = 0; i < ns; i++) {
        tg_real *Yi = s->Y + (size_t)i * bn;
        for (int b = 0; b < s->B; b++) {
            const size_t o = (size_t)b * (size_t)n;
            for (int c = 0; c < n; c++) {
                tg_real acc = 0;
                if (s->act[b])
                    for (int j = 0; j < i; j++)
                        if (tb->a[i][j] != 0)
                            acc += (tg_real)tb->a[i][j] * s->K[(size_t)j * bn + o + (size_t)c];
                Yi[o + (size_t)c] = y[o + (size_t)c] + s->h[b] * acc;
            }
        }
        int rc = rhs_eval(s, d, s->act, Yi, s->K + (size_t)i * bn);
        if (rc)
            return rc;
    }
    return 0;
}

/* y_new (B, n) of the active lanes from the stages. */
static void rk_combine(ude_sys *s, const tg_real *y, tg_real *ynew)
{
    const tableau *tb = s->tab;
    const int n = s->n;
    const size_t bn = Bn(s);
    for (int b = 0; b < s->B; b++) {
        if (!s->act[b])
            continue;
        const size_t o = (size_t)b * (size_t)n;
        for (int c = 0; c < n; c++) {
            tg_real acc = 0;
            for (int i = 0; i < tb->s_eff; i++)
                if (tb->b[i] != 0)
                    acc += (tg_real)tb->b[i] * s->K[(size_t)i * bn + o + (size_t)c];
            ynew[o + (size_t)c] = y[o + (size_t)c] + s->h[b] * acc;
        }
    }
}

/* Weighted RMS error of lane b (embedded pair), ≤ 1 accepts. */
static double rk_error(const ude_sys *s, int b, const tg_real *y, const tg_real *ynew)
{
    const tableau *tb = s->tab;
    const int n = s->n;
    const size_t bn = Bn(s), o = (size_t)b * (size_t)n;
    double sum = 0;
    for (int c = 0; c < n; c++) {
        double e = 0;
        for (int i = 0; i < tb->s; i++)
            e += tb->e[i] * (double)s->K[(size_t)i * bn + o + (size_t)c];
        e *= (double)s->h[b];
        double sc = s->o.atol + s->o.rtol * fmax(fabs((double)y[o + (size_t)c]), fabs((double)ynew[o + (size_t)c]));
        sum += (e / sc) * (e / sc);
    }
    return sqrt(sum / n);
}

/* ------------------------------------------------------------------ step records */
static int ensure_cap(ude_sys *s, size_t steps)
{
    if (steps <= s->cap)
        return 0;
    size_t nc = s->cap ? 2 * s->cap : 16;
    while (nc < steps)
        nc *= 2;
    const size_t B = (size_t)s->B, bn = Bn(s);
    /* new buffers first, so a failure leaves the old ones (and their sizes) intact */
    tg_real *hb = tg_calloc(nc * B, sizeof *hb);
    tg_real *yb = s->want_states ? tg_calloc(nc * bn, sizeof *yb) : NULL;
    if (!hb || (s->want_states && !yb)) {
        tg_free(hb, nc * B * sizeof *hb);
        tg_free(yb, nc * bn * sizeof *yb);
        return tg_error_set(TG_ENOMEM, "ude: out of memory for the step record (%zu steps)", nc);
    }
    if (s->cap) {
        memcpy(hb, s->hb, s->cap * B * sizeof *hb);
        if (yb && s->yb)
            memcpy(yb, s->yb, s->cap * bn * sizeof *yb);
    }
    tg_free(s->hb, s->cap * B * sizeof *hb);
    tg_free(s->yb, s->cap * bn * sizeof *yb);
    s->hb = hb, s->yb = yb, s->cap = nc;
    return 0;
}

/* ------------------------------------------------------------------ one interval, RK */
/* Advances S (B, n) over interval d. Step source: replay table rh (maxcnt, B) with counts
 * rc (B) if given; else uniform steps (RK4) or error control (adaptive). Accepted step
 * sizes go to s->hb, step start states to s->yb (if want_states), counts to s->cnt;
 * returns the most steps any lane took in *maxcnt. */
static int day_rk(ude_sys *s, int d, tg_real *S, const tg_real *rh, const int *rcnt, int *maxcnt)
{
    const int B = s->B, n = s->n;
    const double D = s->o.dt;
    const int uniform = !rh && !s->adaptive;
    const int control = !rh && s->adaptive;
    const double expo = s->tab->q > 0 ? -1.0 / (s->tab->q + 1) : 0;
    const tg_real hu = (tg_real)(D / s->o.substeps);
    int mc = 0, rc = 0;
    for (int b = 0; b < B; b++) {
        s->t[b] = 0, s->cnt[b] = 0, s->attempts[b] = 0;
        s->act[b] = rh ? rcnt[b] > 0 : 1;
    }
    for (;;) {
        int any = 0;
        for (int b = 0; b < B; b++)
            any |= s->act[b];
        if (!any)
            break;
        if ((rc = ensure_cap(s, (size_t)mc + 1)))
            return rc;
        for (int b = 0; b < B; b++) {
            if (!s->act[b]) {
                s->h[b] = 0;
                continue;
            }
            const int j = s->cnt[b];
            if (rh) {
                s->h[b] = rh[(size_t)j * (size_t)B + (size_t)b];
                s->last[b] = j + 1 == rcnt[b];
            } else if (uniform) {
                s->h[b] = hu;
                s->last[b] = j + 1 == s->o.substeps;
            } else {
                double rem = D - s->t[b];
                if (1.01 * (double)s->hnext[b] >= rem) {
                    s->h[b] = (tg_real)rem;
                    s->last[b] = 1;
                } else {
                    s->h[b] = s->hnext[b];
                    s->last[b] = 0;
                }
            }
        }
        if ((rc = rk_stages(s, d, S, control ? s->tab->s : s->tab->s_eff)))
            return rc;
        rk_combine(s, S, s->ynew);
        for (int b = 0; b < B; b++) {
            if (!s->act[b])
                continue;
            const size_t o = (size_t)b * (size_t)n;
            double err = control ? rk_error(s, b, S, s->ynew) : 0;
            double fac = 1;
            if (control) {
                fac = err > 0 ? 0.9 * pow(err, expo) : 5.0;
                fac = fmin(5.0, fmax(0.2, fac)); /* NaN error → 0.2 */
            }
            if (!control || err <= 1) {
                const int j = s->cnt[b];
                s->hb[(size_t)j * (size_t)B + (size_t)b] = s->h[b];
                if (s->want_states)
                    memcpy(s->yb + ((size_t)j * (size_t)B + (size_t)b) * (size_t)n, S + o,
                           (size_t)n * sizeof *S);
                memcpy(S + o, s->ynew + o, (size_t)n * sizeof *S);
                s->t[b] += (double)s->h[b];
                s->cnt[b] = j + 1;
                if (j + 1 > mc)
                    mc = j + 1;
                if (s->st) {
                    s->st->accepted++;
                    if (s->st->lane_accepted)
                        s->st->lane_accepted[b]++;
                    s->st->h_min = fmin(s->st->h_min, (double)s->h[b]);
                    s->st->h_max = fmax(s->st->h_max, (double)s->h[b]);
                }
                if (control) {
                    tg_real hn = (tg_real)((double)s->h[b] * fac);
                    /* a step clipped to the interval end does not shrink the proposal */
                    s->hnext[b] = s->last[b] && s->hnext[b] > hn ? s->hnext[b] : hn;
                }
                if (s->last[b])
                    s->act[b] = 0;
            } else {
                if (s->st) {
                    s->st->rejected++;
                    if (s->st->lane_rejected)
                        s->st->lane_rejected[b]++;
                }
                s->hnext[b] = (tg_real)((double)s->h[b] * fmin(fac, 0.9));
                /* a non-finite error (an explicit step far beyond the stability limit can
                 * overflow, in float especially) is a rejection like any other: fac = 0.2 */
                if ((double)s->hnext[b] < s->o.h_min)
                    return tg_error_set(TG_ECONVERGE,
                                        "ude '%s': lane %d, interval %d: step size %g below h_min %g "
                                        "(error norm %g%s)", s->f->name ? s->f->name : "?", b, d,
                                        (double)s->hnext[b], s->o.h_min, err,
                                        isfinite(err) ? "" : ": non-finite right-hand side");
            }
            if (++s->attempts[b] > s->o.max_attempts)
                return tg_error_set(TG_ECONVERGE, "ude '%s': lane %d, interval %d: more than %ld step attempts",
                                    s->f->name ? s->f->name : "?", b, d, s->o.max_attempts);
        }
    }
    *maxcnt = mc;
    return 0;
}

/* Reverse of interval d for explicit RK: Ys (maxcnt, B, n) step start states, hs (maxcnt, B)
 * step sizes, counts cnt (B); ybar (B, n) holds dL/dS_end on entry, dL/dS_start on exit. */
static int day_rk_adjoint(ude_sys *s, int d, const tg_real *Ys, const tg_real *hs, const int *cnt,
                          int maxcnt, tg_real *ybar)
{
    const tableau *tb = s->tab;
    const int B = s->B, n = s->n, ns = tb->s_eff;
    const size_t bn = Bn(s);
    tg_real *ub = s->u_bar ? s->u_bar + (size_t)d * (size_t)B * (size_t)s->U : NULL;
    for (int j = maxcnt - 1; j >= 0; j--) {
        for (int b = 0; b < B; b++) {
            s->act[b] = j < cnt[b];
            s->h[b] = s->act[b] ? hs[(size_t)j * (size_t)B + (size_t)b] : 0;
        }
        const tg_real *y = Ys + (size_t)j * bn;
        int rc = rk_stages(s, d, y, ns);
        if (rc)
            return rc < 0 ? rc : cb_fail(s, "rhs (recompute)", d, rc);
        /* k̄_i = h b_i ȳ */
        for (int i = 0; i < ns; i++)
            for (int b = 0; b < B; b++)
                for (int c = 0; c < n; c++) {
                    const size_t o = (size_t)b * (size_t)n + (size_t)c;
                    s->Kb[(size_t)i * bn + o] = s->act[b] ? s->h[b] * (tg_real)tb->b[i] * ybar[o] : 0;
                }
        for (int i = ns - 1; i >= 0; i--) {
            memset(s->tmp, 0, bn * sizeof *s->tmp);
            rc = rhs_vjp(s, d, s->act, s->Y + (size_t)i * bn, s->Kb + (size_t)i * bn, s->tmp,
                         s->theta_bar, ub);
            if (rc)
                return rc;
            for (int b = 0; b < B; b++) {
                if (!s->act[b])
                    continue;
                for (int c = 0; c < n; c++) {
                    const size_t o = (size_t)b * (size_t)n + (size_t)c;
                    const tg_real yb = s->tmp[o];
                    ybar[o] += yb;
                    for (int k = 0; k < i; k++)
                        if (tb->a[i][k] != 0)
                            s->Kb[(size_t)k * bn + o] += s->h[b] * (tg_real)tb->a[i][k] * yb;
                }
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ backward Euler */
/* F = x⁺ − x − h (f(x⁺) + NN(x⁺)); the step index encodes interval and substep. */
static int be_residual(void *ud, const tg_implicit_args *a, tg_real *F)
{
    ude_sys *s = ud;
    const int d = a->step / s->o.substeps;
    int rc = rhs_eval(s, d, a->active, a->xn, F);
    if (rc)
        return rc;
    const size_t bn = Bn(s);
    for (size_t i = 0; i < bn; i++)
        F[i] = a->xn[i] - a->x[i] - s->hbe * F[i];
    return 0;
}

static int be_jacobian(void *ud, const tg_implicit_args *a, tg_real *J)
{
    ude_sys *s = ud;
    const int d = a->step / s->o.substeps, n = s->n, B = s->B;
    const size_t nn = (size_t)n * (size_t)n;
    memset(J, 0, (size_t)B * nn * sizeof *J);
    if (s->f->rhs) {
        tg_ude_args ar = {B, d, a->xn, s->theta, u_day(s, d), a->active};
        for (int j = 0; j < n; j++) {
            memset(s->jv, 0, Bn(s) * sizeof *s->jv);
            for (int b = 0; b < B; b++)
                s->jv[(size_t)b * (size_t)n + (size_t)j] = 1;
            int rc = s->f->jvp(s->ud, &ar, s->jv, s->jo);
            if (rc)
                return cb_fail(s, "jvp", d, rc);
            for (int b = 0; b < B; b++)
                for (int i = 0; i < n; i++)
                    J[(size_t)b * nn + (size_t)(i * n + j)] = s->jo[(size_t)b * (size_t)n + (size_t)i];
        }
    }
    if (s->mlp.n_layers > 0) {
        const tg_real *udd = u_day(s, d);
        tg_real x[TG_UDE_MAX_IN];
        for (int b = 0; b < B; b++) {
            if (a->active && !a->active[b])
                continue;
            tg__ude_mlp_input(&s->mlp, n, s->U, s->P, a->xn + (size_t)b * (size_t)n,
                              udd ? udd + (size_t)b * (size_t)s->U : NULL,
                              s->theta ? s->theta + (size_t)b * (size_t)s->P : NULL, x);
            tg__ude_mlp_lane_jac(&s->mlp, s->W, n, x, J + (size_t)b * nn);
        }
    }
    for (int b = 0; b < B; b++)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                tg_real *p = J + (size_t)b * nn + (size_t)(i * n + j);
                *p = (i == j ? 1 : 0) - s->hbe * *p;
            }
    return 0;
}

/* x_bar += −mu; θ̄, ū, W̄ += −h (∂g/∂·)ᵀ mu with g = f + NN at x⁺. */
static int be_adjoint(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *x_bar,
                      tg_real *theta_bar, tg_real *u_bar)
{
    ude_sys *s = ud;
    const int d = a->step / s->o.substeps;
    const size_t bn = Bn(s);
    if (x_bar)
        for (size_t i = 0; i < bn; i++)
            x_bar[i] -= mu[i];
    for (size_t i = 0; i < bn; i++)
        s->wv[i] = -s->hbe * mu[i];
    return rhs_vjp(s, d, a->active, a->xn, s->wv, NULL, theta_bar, u_bar);
}

static int day_be(ude_sys *s, int d, tg_real *S, int *maxcnt)
{
    const int B = s->B, m = s->o.substeps;
    const size_t bn = Bn(s);
    int rc = ensure_cap(s, (size_t)m);
    if (rc)
        return rc;
    for (int j = 0; j < m; j++) {
        if (s->want_states)
            memcpy(s->yb + (size_t)j * bn, S, bn * sizeof *S);
        for (int b = 0; b < B; b++)
            s->hb[(size_t)j * (size_t)B + (size_t)b] = s->hbe;
        rc = tg_implicit_solve(&s->ifn, s, B, d * m + j, S, s->theta, u_day(s, d), s->ynew, NULL,
                               &s->o.newton, s->st ? &s->st->newton : NULL);
        if (rc)
            return rc;
        memcpy(S, s->ynew, bn * sizeof *S);
    }
    for (int b = 0; b < B; b++)
        s->cnt[b] = m;
    if (s->st) {
        s->st->accepted += (long)m * B;
        if (s->st->lane_accepted)
            for (int b = 0; b < B; b++)
                s->st->lane_accepted[b] += m;
        s->st->h_min = fmin(s->st->h_min, (double)s->hbe);
        s->st->h_max = fmax(s->st->h_max, (double)s->hbe);
    }
    *maxcnt = m;
    return 0;
}

static int day_be_adjoint(ude_sys *s, int d, const tg_real *Ys, const tg_real *S_end, tg_real *ybar)
{
    const int m = s->o.substeps;
    const size_t bn = Bn(s);
    tg_real *ub = s->u_bar ? s->u_bar + (size_t)d * (size_t)s->B * (size_t)s->U : NULL;
    for (int j = m - 1; j >= 0; j--) {
        const tg_real *x = Ys + (size_t)j * bn, *xn = j + 1 < m ? Ys + (size_t)(j + 1) * bn : S_end;
        memset(s->tmp, 0, bn * sizeof *s->tmp);
        int rc = tg_implicit_step_adjoint(&s->ifn, s, s->B, d * m + j, x, s->theta, u_day(s, d), xn,
                                          ybar, s->tmp, s->theta_bar, ub);
        if (rc)
            return rc;
        memcpy(ybar, s->tmp, bn * sizeof *ybar);
    }
    return 0;
}

static int run_day(ude_sys *s, int d, tg_real *S, const tg_real *rh, const int *rcnt, int *maxcnt)
{
    if (s->o.method == TG_UDE_BEULER)
        return day_be(s, d, S, maxcnt);
    return day_rk(s, d, S, rh, rcnt, maxcnt);
}

/* ------------------------------------------------------------------ scratch */
static int sys_alloc(ude_sys *s)
{
    const size_t B = (size_t)s->B, bn = Bn(s), sb = (size_t)MAX_STAGES * bn;
    s->K = tg_calloc(sb, sizeof *s->K);
    s->Y = tg_calloc(sb, sizeof *s->Y);
    s->Kb = tg_calloc(sb, sizeof *s->Kb);
    s->ynew = tg_calloc(5 * bn, sizeof *s->ynew);
    s->h = tg_calloc(2 * B, sizeof *s->h);
    s->t = tg_calloc(B, sizeof *s->t);
    s->attempts = tg_calloc(B, sizeof *s->attempts);
    s->act = tg_calloc(2 * B, 1);
    s->cnt = tg_calloc(B, sizeof *s->cnt);
    if (!s->K || !s->Y || !s->Kb || !s->ynew || !s->h || !s->t || !s->attempts || !s->act || !s->cnt)
        return tg_error_set(TG_ENOMEM, "ude: out of memory for scratch (B = %d, n = %d)", s->B, s->n);
    s->tmp = s->ynew + bn, s->wv = s->ynew + 2 * bn, s->jv = s->ynew + 3 * bn, s->jo = s->ynew + 4 * bn;
    s->hnext = s->h + B;
    s->last = s->act + B;
    s->hb = NULL, s->yb = NULL, s->cap = 0;
    return 0;
}

static void sys_free(ude_sys *s)
{
    const size_t B = (size_t)s->B, bn = Bn(s), sb = (size_t)MAX_STAGES * bn;
    tg_free(s->K, sb * sizeof *s->K);
    tg_free(s->Y, sb * sizeof *s->Y);
    tg_free(s->Kb, sb * sizeof *s->Kb);
    tg_free(s->ynew, 5 * bn * sizeof *s->ynew);
    tg_free(s->h, 2 * B * sizeof *s->h);
    tg_free(s->t, B * sizeof *s->t);
    tg_free(s->attempts, B * sizeof *s->attempts);
    tg_free(s->act, 2 * B);
    tg_free(s->cnt, B * sizeof *s->cnt);
    tg_free(s->hb, s->cap * B * sizeof *s->hb);
    tg_free(s->yb, s->cap * bn * sizeof *s->yb);
    s->K = s->Y = s->Kb = s->ynew = s->h = s->hb = s->yb = NULL;
    s->t = NULL, s->attempts = NULL, s->act = NULL, s->cnt = NULL, s->cap = 0;
}

/* ------------------------------------------------------------------ options */
tg_ude_opts tg_ude_defaults(int method)
{
    tg_ude_opts o;
    memset(&o, 0, sizeof o);
    o.method = method;
    o.dt = 1;
    o.substeps = 1;
#ifdef TG_DOUBLE
    o.rtol = 1e-6, o.atol = 1e-8;
#else
    o.rtol = 1e-4, o.atol = 1e-6;
#endif
    o.h0 = 0;
    o.h_min = 0;
    o.max_attempts = 100000;
    o.ckpt_every = 0;
    o.newton = tg_newton_defaults();
    return o;
}

void tg_ude_stats_init(tg_ude_stats *s)
{
    long *la = s->lane_accepted, *lr = s->lane_rejected;
    memset(s, 0, sizeof *s);
    s->lane_accepted = la, s->lane_rejected = lr;
    s->h_min = INFINITY;
    tg_newton_report_init(&s->newton);
}

/* ------------------------------------------------------------------ the tape node */
typedef struct {
    int maxcnt;
    int *cnt;    /* (B) */
    tg_real *h;  /* (maxcnt, B) */
    tg_real *Y;  /* (maxcnt, B, n) step start states, ckpt_every = 0 only */
} day_rec;

typedef struct {
    ude_sys sys;
    tg_ctx *ctx;
    int need_grad, k;       /* k: checkpoint interval in days (0 = keep all) */
    int i_theta, i_u, i_W;
    day_rec *rec;           /* (T) */
    tg_real *ck;            /* (ceil(T/k), B, n) */
} ude_node;

static void *arena(ude_node *r, size_t bytes)
{
    void *p = tg_ctx_alloc(r->ctx, bytes ? bytes : 1);
    if (!p)
        tg_error_set(TG_ENOMEM, "ude: out of arena memory (%zu bytes)", bytes);
    return p;
}

static int solve_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    ude_node *r = ud;
    ude_sys *s = &r->sys;
    (void)n_in, (void)n_out;
    s->theta = r->i_theta >= 0 ? in[r->i_theta]->data : NULL;
    s->u = r->i_u >= 0 ? in[r->i_u]->data : NULL;
    s->W = r->i_W >= 0 ? in[r->i_W]->data : NULL;
    s->theta_bar = s->u_bar = s->W_bar = NULL;
    s->want_states = r->need_grad && r->k == 0;
    int rc = sys_alloc(s);
    const size_t bn = Bn(s), B = (size_t)s->B;
    const tg_ude_steps *rp = s->o.replay;
    if (!rc && s->o.record)
        tg__ude_steps_reset(s->o.record, s->B);
    tg_real *S = out[0]->data; /* advance in place through the output rows */
    const tg_real h0 = (tg_real)(s->o.h0 > 0 ? s->o.h0 : s->o.dt / 10);
    for (size_t b = 0; !rc && b < B; b++)
        s->hnext[b] = h0;
    if (!rc && r->need_grad) {
        r->rec = arena(r, (size_t)s->T * sizeof *r->rec);
        if (!r->rec)
            rc = TG_ENOMEM;
        if (!rc && r->k > 0) {
            size_t nck = (size_t)((s->T + r->k - 1) / r->k);
            r->ck = arena(r, nck * bn * sizeof *r->ck);
            rc = r->ck ? 0 : TG_ENOMEM;
            if (s->st)
                s->st->stored_bytes += nck * bn * sizeof *r->ck;
        }
    }
    for (int d = 0; d < s->T && !rc; d++) {
        tg_real *Sd = S + (size_t)d * bn;
        memcpy(Sd, d == 0 ? in[0]->data : Sd - bn, bn * sizeof *Sd);
        if (r->need_grad && r->k > 0 && d % r->k == 0)
            memcpy(r->ck + (size_t)(d / r->k) * bn, Sd, bn * sizeof *Sd);
        int mc = 0;
        const tg_real *rh = rp ? rp->h + rp->hoff[d] : NULL;
        const int *rcnt = rp ? rp->cnt + (size_t)d * B : NULL;
        if ((rc = run_day(s, d, Sd, rh, rcnt, &mc)))
            break;
        if (s->o.record && (rc = tg__ude_steps_append(s->o.record, mc, s->cnt, s->hb)))
            break;
        if (r->need_grad) {
            day_rec *dr = &r->rec[d];
            dr->maxcnt = mc;
            dr->cnt = arena(r, B * sizeof *dr->cnt);
            dr->h = arena(r, (size_t)mc * B * sizeof *dr->h);
            dr->Y = s->want_states ? arena(r, (size_t)mc * bn * sizeof *dr->Y) : NULL;
            if (!dr->cnt || !dr->h || (s->want_states && !dr->Y)) {
                rc = TG_ENOMEM;
                break;
            }
            memcpy(dr->cnt, s->cnt, B * sizeof *dr->cnt);
            memcpy(dr->h, s->hb, (size_t)mc * B * sizeof *dr->h);
            if (s->want_states)
                memcpy(dr->Y, s->yb, (size_t)mc * bn * sizeof *dr->Y);
            if (s->st)
                s->st->stored_bytes += B * sizeof *dr->cnt + (size_t)mc * B * sizeof *dr->h +
                                       (s->want_states ? (size_t)mc * bn * sizeof *dr->Y : 0);
        }
    }
    sys_free(s);
    return rc;
}

static int solve_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out,
                          int n_out, const tg_real *const *grad_out, tg_real *const *grad_in)
{
    ude_node *r = ud;
    ude_sys *s = &r->sys;
    (void)n_in, (void)n_out;
    if (!r->rec)
        return tg_error_set(TG_ESTATE, "ude '%s': nothing stored for backward", s->f->name ? s->f->name : "?");
    s->theta = r->i_theta >= 0 ? in[r->i_theta]->data : NULL;
    s->u = r->i_u >= 0 ? in[r->i_u]->data : NULL;
    s->W = r->i_W >= 0 ? in[r->i_W]->data : NULL;
    s->theta_bar = r->i_theta >= 0 ? grad_in[r->i_theta] : NULL;
    s->u_bar = r->i_u >= 0 ? grad_in[r->i_u] : NULL;
    s->W_bar = r->i_W >= 0 ? grad_in[r->i_W] : NULL;
    s->st = NULL; /* statistics describe the forward solve */
    s->want_states = r->k > 0;
    const size_t bn = Bn(s), B = (size_t)s->B;
    const int T = s->T, k = r->k > 0 ? r->k : T;
    int rc = sys_alloc(s);
    tg_real *ybar = tg_calloc(2 * bn, sizeof *ybar);
    tg_real *state = ybar ? ybar + bn : NULL; /* the recomputed state */
    /* recompute buffer for one segment of k intervals: offsets per interval */
    size_t seg_cap = 0;
    tg_real *seg = NULL;
    size_t *seg_off = tg_calloc((size_t)k, sizeof *seg_off);
    if (!rc && (!ybar || !seg_off))
        rc = tg_error_set(TG_ENOMEM, "ude: out of memory in backward");
    const tg_real *Sout = out[0]->data, *gy = grad_out[0];
    for (int c = ((T - 1) / k) * k; c >= 0 && !rc; c -= k) {
        const int e = c + k < T ? c + k : T;
        if (r->k > 0) { /* recompute intervals c..e-1 with the recorded steps, keeping states */
            size_t need = 0;
            for (int d = c; d < e; d++) {
                seg_off[d - c] = need;
                need += (size_t)r->rec[d].maxcnt * bn;
            }
            if (need > seg_cap) {
                tg_real *p = tg_realloc(seg, seg_cap * sizeof *seg, need * sizeof *seg);
                if (!p) {
                    rc = tg_error_set(TG_ENOMEM, "ude: out of memory for the recompute buffer");
                    break;
                }
                seg = p, seg_cap = need;
            }
            memcpy(state, r->ck + (size_t)(c / k) * bn, bn * sizeof *state);
            for (int d = c; d < e && !rc; d++) {
                int mc = 0;
                rc = run_day(s, d, state, r->rec[d].h, r->rec[d].cnt, &mc);
                if (!rc)
                    memcpy(seg + seg_off[d - c], s->yb, (size_t)mc * bn * sizeof *seg);
            }
        }
        for (int d = e - 1; d >= c && !rc; d--) {
            const tg_real *gd = gy + (size_t)d * bn;
            for (size_t i = 0; i < bn; i++)
                ybar[i] += gd[i];
            const tg_real *Ys = r->k > 0 ? seg + seg_off[d - c] : r->rec[d].Y;
            if (s->o.method == TG_UDE_BEULER)
                rc = day_be_adjoint(s, d, Ys, Sout + (size_t)d * bn, ybar);
            else
                rc = day_rk_adjoint(s, d, Ys, r->rec[d].h, r->rec[d].cnt, r->rec[d].maxcnt, ybar);
        }
    }
    if (!rc && grad_in[0])
        for (size_t i = 0; i < bn; i++)
            grad_in[0][i] += ybar[i];
    (void)B;
    if (seg)
        tg_free(seg, seg_cap * sizeof *seg);
    tg_free(seg_off, (size_t)k * sizeof *seg_off);
    tg_free(ybar, 2 * bn * sizeof *ybar);
    sys_free(s);
    return rc;
}

static const tg_custom_op ude_op = {"ude_solve", solve_forward, solve_backward};

tg_tensor *tg_ude_solve(tg_ctx *ctx, const tg_ude_fns *f, void *ud, const tg_ude_mlp *mlp, int T,
                        tg_tensor *S0, tg_tensor *theta, tg_tensor *u, tg_tensor *W,
                        const tg_ude_opts *o, tg_ude_stats *st)
{
    if (!ctx)
        return NULL;
    if (tg_ctx_status(ctx) || !S0)
        return NULL;
    if (!f || !mlp || !o)
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve: f, mlp and o are required");
    const char *nm = f->name ? f->name : "?";
    const int n = f->n, P = f->P, U = f->U;
    if (n < 1 || n > TG_UDE_MAX_N || P < 0 || U < 0)
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': n = %d (1..%d), P = %d, U = %d", nm, n,
                        TG_UDE_MAX_N, P, U);
    if (T < 1)
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': T = %d (need >= 1)", nm, T);
    const int B = S0->ndim == 2 ? S0->shape[0] : -1;
    if (B < 1 || S0->shape[1] != n)
        return tg__fail(ctx, TG_ESHAPE, "tg_ude_solve '%s': S0 must be (B, %d)", nm, n);
    if (P > 0 && (!theta || theta->n != (size_t)B * (size_t)P))
        return tg__fail(ctx, TG_ESHAPE, "tg_ude_solve '%s': theta must be (B, P) = (%d, %d)", nm, B, P);
    if (U > 0 && (!u || u->n != (size_t)T * (size_t)B * (size_t)U))
        return tg__fail(ctx, TG_ESHAPE, "tg_ude_solve '%s': u must be (T, B, U) = (%d, %d, %d)", nm, T, B, U);
    if (tg_ude_mlp_check(mlp, n, U, P)) {
        tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': %s", nm, tg_error_message());
        return NULL;
    }
    const size_t nw = tg_ude_mlp_nweights(mlp);
    if (mlp->n_layers > 0 && (!W || W->n != nw))
        return tg__fail(ctx, TG_ESHAPE, "tg_ude_solve '%s': W must hold %zu weights", nm, nw);
    if (o->method < TG_UDE_RK4 || o->method > TG_UDE_BEULER)
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': unknown method %d", nm, o->method);
    if (!(o->dt > 0) || o->substeps < 1 || o->ckpt_every < -1 || o->max_attempts < 1)
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': need dt > 0, substeps >= 1, "
                                        "ckpt_every >= -1, max_attempts >= 1", nm);
    const int adaptive = o->method == TG_UDE_DOPRI5 || o->method == TG_UDE_BS32;
    if (adaptive && !(o->rtol > 0 && o->atol > 0))
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': need rtol > 0 and atol > 0", nm);
    if (o->replay && (!adaptive || o->replay->B != B || o->replay->T < T))
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': the replayed steps were recorded for "
                                        "B = %d, T = %d (here B = %d, T = %d, adaptive method needed)",
                        nm, o->replay->B, o->replay->T, B, T);
    if (o->method == TG_UDE_BEULER && f->rhs && !f->jvp)
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': backward Euler needs the jvp callback", nm);

    ude_node *r = tg_ctx_alloc(ctx, sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    ude_sys *s = &r->sys;
    s->f = f, s->ud = ud, s->mlp = *mlp, s->B = B, s->n = n, s->P = P, s->U = U, s->T = T;
    s->nw = nw, s->o = *o, s->st = st, s->adaptive = adaptive;
    if (!(s->o.h_min > 0))
        s->o.h_min = 1e-12 * o->dt;
    s->tab = o->method == TG_UDE_DOPRI5 ? &tab_dopri5 : o->method == TG_UDE_BS32 ? &tab_bs32 : &tab_rk4;
    s->hbe = (tg_real)(o->dt / o->substeps);
    s->ifn.name = nm;
    s->ifn.n = n, s->ifn.P = P, s->ifn.U = U, s->ifn.jac = TG_JAC_DENSE;
    s->ifn.residual = be_residual, s->ifn.jacobian = be_jacobian, s->ifn.adjoint = be_adjoint;
    r->ctx = ctx;
    r->k = o->ckpt_every == -1 ? (int)ceil(sqrt((double)T)) : o->ckpt_every;

    tg_tensor *in[4] = {S0, NULL, NULL, NULL};
    int n_in = 1;
    r->i_theta = P > 0 ? n_in : -1;
    if (P > 0)
        in[n_in++] = theta;
    r->i_u = U > 0 ? n_in : -1;
    if (U > 0)
        in[n_in++] = u;
    r->i_W = mlp->n_layers > 0 ? n_in : -1;
    if (mlp->n_layers > 0)
        in[n_in++] = W;
    for (int i = 0; i < n_in; i++)
        r->need_grad |= in[i]->requires_grad;
    r->need_grad &= tg_ctx_grad_enabled(ctx);
    if (r->need_grad && f->rhs && !f->vjp)
        return tg__fail(ctx, TG_EINVAL, "tg_ude_solve '%s': gradients need the vjp callback", nm);
    int nd[1] = {3}, sh[1][TG_MAX_DIMS] = {{T, B, n, 1}};
    tg_tensor *y = NULL;
    if (tg_custom(ctx, &ude_op, r, in, n_in, 1, nd, (const int(*)[TG_MAX_DIMS])sh, &y))
        return NULL;
    return y;
}
