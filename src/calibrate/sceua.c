/* sceua.c — Shuffled Complex Evolution (SCE-UA; Duan, Sorooshian & Gupta 1992, 1994).
 *
 * A population of npt = p m points is sorted and dealt into p complexes of m points
 * (complex k gets ranks k, k+p, k+2p, ...). Each complex evolves by competitive complex
 * evolution: nspl times, pick a simplex of q points with a triangular probability that
 * favours the better points, reflect its worst point through the centroid of the others;
 * if the reflection leaves the bounds, take a random point in the smallest hypercube
 * holding the complex instead; if it is not better than the worst point, try the
 * contraction halfway between centroid and worst point; if that also fails, take a random
 * point in the hypercube. Then the complexes are merged and re-sorted (the shuffle), which
 * shares information between them, and the loop repeats until a stopping rule fires.
 *
 * Complexes do not interact between shuffles, so we evolve them in lockstep: stage by
 * stage (reflection, contraction, random point) the candidate points of all complexes are
 * evaluated in one batch call. Each complex draws from its own random stream, so the
 * result does not depend on how the callback evaluates a batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad.h"
#include "terragrad/calibrate.h"

void tg_sceua_options_init(tg_sceua_options *o) { memset(o, 0, sizeof *o); }

const char *tg_sceua_stop_name(int stop)
{
    switch (stop) {
    case TG_SCEUA_STOP_EVALS: return "max_evals";
    case TG_SCEUA_STOP_PARAMS: return "parameter_range";
    case TG_SCEUA_STOP_OBJECTIVE: return "objective_change";
    default: return "none";
    }
}

/* ---------------------------------------------------------------- state */
typedef struct rank_pair { double f; int i; } rank_pair;
typedef struct sce {
    int n, ngs, npg, nps, nspl, mings, kstop;
    long max_evals;
    double pcento, peps;
    const double *lo, *hi;
    tg_sceua_batch_fn f;
    void *ud;
    long evals;
    int fatal;
    double *x, *fx;        /* (npt, n), (npt): population, sorted by fx after each shuffle */
    double *cx, *cf;       /* (ngs, npg, n), (ngs, npg): complexes, each sorted */
    double *cand;          /* (ngs, n) candidate point of each complex in this step */
    double *cent;          /* (ngs, n) centroid of each simplex without its worst point */
    int *simplex;          /* (ngs, nps) ranks in the complex, ascending */
    int *state;            /* (ngs) stage reached by each complex's current step */
    int *map;              /* (ngs) batch slot -> complex */
    rank_pair *pairs; /* (npt) for sorting */
    double *tmp;           /* (npt, n) scratch for re-ordering */
    tg_rng *rng;           /* (ngs + 1): one stream per complex, the last for sampling */
} sce;

/* The callback's value made safe for sorting: NaN and infeasible points become +inf. */
static int sce_eval(sce *s, int k, const double *x, double *fx)
{
    if (k <= 0)
        return 0;
    int rc = s->f(s->ud, k, x, fx);
    s->evals += k;
    if (rc < 0) {
        s->fatal = 1;
        return tg_error_prefix(TG_EEXTERNAL, "sce-ua: objective failed: ");
    }
    for (int i = 0; i < k; i++)
        if (rc > 0 || isnan(fx[i]))
            fx[i] = HUGE_VAL;
    return 0;
}

/* Ascending by value; ties keep the lower index, so the order is deterministic. */
static int cmp_rank(const void *a, const void *b)
{
    const rank_pair *u = a, *v = b;
    if (u->f < v->f) return -1;
    if (u->f > v->f) return 1;
    return (u->i > v->i) - (u->i < v->i);
}

/* Sorts the population (x, fx) of npt points in place by fx. */
static void sort_population(sce *s, int npt)
{
    for (int i = 0; i < npt; i++)
        s->pairs[i] = (rank_pair){s->fx[i], i};
    qsort(s->pairs, (size_t)npt, sizeof *s->pairs, cmp_rank);
    size_t n = (size_t)s->n;
    for (int i = 0; i < npt; i++)
        memcpy(s->tmp + (size_t)i * n, s->x + (size_t)s->pairs[i].i * n, n * sizeof(double));
    memcpy(s->x, s->tmp, (size_t)npt * n * sizeof(double));
    for (int i = 0; i < npt; i++)
        s->fx[i] = s->pairs[i].f;
}

/* exp(mean over free variables of log(range_i / (hi_i - lo_i))); 0 if a variable has
 * collapsed to one value. */
static double geometric_range(const sce *s, int npt)
{
    double acc = 0;
    int nfree = 0;
    for (int i = 0; i < s->n; i++) {
        double span = s->hi[i] - s->lo[i];
        if (!(span > 0))
            continue;
        double mn = s->x[i], mx = s->x[i];
        for (int j = 1; j < npt; j++) {
            double v = s->x[(size_t)j * (size_t)s->n + (size_t)i];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        if (!(mx > mn))
            return 0;
        acc += log((mx - mn) / span);
        nfree++;
    }
    return nfree ? exp(acc / nfree) : 0;
}

/* A uniform point in the smallest box holding complex k (Duan et al. 1994, step iv). */
static void random_in_complex_box(sce *s, int k, double *z)
{
    const double *c = s->cx + (size_t)k * (size_t)s->npg * (size_t)s->n;
    for (int i = 0; i < s->n; i++) {
        double mn = c[i], mx = c[i];
        for (int j = 1; j < s->npg; j++) {
            double v = c[(size_t)j * (size_t)s->n + (size_t)i];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        z[i] = mn + tg_rng_uniform(&s->rng[k]) * (mx - mn);
    }
}

/* q distinct ranks out of m with P(rank r) = 2 (m - r) / (m (m + 1)) (r = 0 best),
 * returned ascending so the last one is the simplex's worst point. */
static void pick_simplex(tg_rng *rng, int m, int q, int *out)
{
    double a = m + 0.5;
    for (int j = 0; j < q; j++) {
        int r, dup;
        do {
            double u = tg_rng_uniform(rng);
            r = (int)floor(a - sqrt(a * a - (double)m * (m + 1) * u));
            if (r < 0) r = 0;
            if (r > m - 1) r = m - 1;
            dup = 0;
            for (int i = 0; i < j; i++)
                dup |= out[i] == r;
        } while (dup);
        int i = j; /* insertion keeps out[] ascending */
        while (i > 0 && out[i - 1] > r) {
            out[i] = out[i - 1];
            i--;
        }
        out[i] = r;
    }
}

/* Replaces rank `r` of complex k by (z, fz) and restores the complex's order. */
static void complex_replace(sce *s, int k, int r, const double *z, double fz)
{
    size_t n = (size_t)s->n;
    double *c = s->cx + (size_t)k * (size_t)s->npg * n, *cf = s->cf + (size_t)k * (size_t)s->npg;
    /* move the hole to where fz belongs: up while better than the one above, else down
     * while worse than (or tied with) the one below, so ties go after older points */
    while (r > 0 && fz < cf[r - 1]) {
        memcpy(c + (size_t)r * n, c + (size_t)(r - 1) * n, n * sizeof(double));
        cf[r] = cf[r - 1];
        r--;
    }
    while (r < s->npg - 1 && fz >= cf[r + 1]) {
        memcpy(c + (size_t)r * n, c + (size_t)(r + 1) * n, n * sizeof(double));
        cf[r] = cf[r + 1];
        r++;
    }
    memcpy(c + (size_t)r * n, z, n * sizeof(double));
    cf[r] = fz;
}

/* One competitive-complex-evolution step of every complex, stages batched. */
enum { ST_REFLECT = 0, ST_CONTRACT, ST_RANDOM, ST_DONE };
static int cce_step(sce *s)
{
    const int n = s->n, q = s->nps, G = s->ngs;
    const size_t sn = (size_t)n;
    int *map = s->map;
    double *bx = s->tmp, *bf = s->tmp + (size_t)G * sn;

    /* stage 1: reflections (or a random point when a reflection leaves the bounds) */
    for (int k = 0; k < G; k++) {
        int *L = s->simplex + (size_t)k * (size_t)q;
        pick_simplex(&s->rng[k], s->npg, q, L);
        const double *c = s->cx + (size_t)k * (size_t)s->npg * sn;
        double *g = s->cent + (size_t)k * sn, *r = s->cand + (size_t)k * sn;
        const double *w = c + (size_t)L[q - 1] * sn;
        for (int i = 0; i < n; i++) {
            double acc = 0;
            for (int j = 0; j < q - 1; j++)
                acc += c[(size_t)L[j] * sn + (size_t)i];
            g[i] = acc / (q - 1);
        }
        int inside = 1;
        for (int i = 0; i < n; i++) {
            /* a fixed variable (lo == hi) stays exact: rounding in the centroid would
             * otherwise push every reflection out of bounds */
            r[i] = s->lo[i] == s->hi[i] ? s->lo[i] : 2 * g[i] - w[i];
            double tol = 1e-12 * (s->hi[i] - s->lo[i]);  /* an overshoot by rounding only */
            if (r[i] < s->lo[i] && r[i] >= s->lo[i] - tol) r[i] = s->lo[i];
            if (r[i] > s->hi[i] && r[i] <= s->hi[i] + tol) r[i] = s->hi[i];
            inside &= r[i] >= s->lo[i] && r[i] <= s->hi[i];
        }
        if (!inside)
            random_in_complex_box(s, k, r);
        s->state[k] = ST_REFLECT;
    }
    for (int stage = ST_REFLECT; stage <= ST_RANDOM; stage++) {
        int nb = 0;
        for (int k = 0; k < G; k++)
            if (s->state[k] == stage) {
                memcpy(bx + (size_t)nb * sn, s->cand + (size_t)k * sn, sn * sizeof(double));
                map[nb++] = k;
            }
        if (!nb)
            break;
        int rc = sce_eval(s, nb, bx, bf);
        if (rc)
            return rc;
        for (int j = 0; j < nb; j++) {
            int k = map[j];
            const int *L = s->simplex + (size_t)k * (size_t)q;
            int worst = L[q - 1];
            double fw = s->cf[(size_t)k * (size_t)s->npg + (size_t)worst];
            double *z = s->cand + (size_t)k * sn;
            if (stage == ST_RANDOM || bf[j] < fw) {   /* the random point is always taken */
                complex_replace(s, k, worst, z, bf[j]);
                s->state[k] = ST_DONE;
            } else if (stage == ST_REFLECT) {         /* contraction: inside by convexity */
                const double *g = s->cent + (size_t)k * sn;
                const double *w = s->cx + ((size_t)k * (size_t)s->npg + (size_t)worst) * sn;
                for (int i = 0; i < n; i++)
                    z[i] = s->lo[i] == s->hi[i] ? s->lo[i] : 0.5 * (g[i] + w[i]);
                s->state[k] = ST_CONTRACT;
            } else {
                random_in_complex_box(s, k, z);
                s->state[k] = ST_RANDOM;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- driver */
static int check_args(int n, const double *lo, const double *hi, const tg_sceua_options *o)
{
    if (n < 1)
        return tg_error_set(TG_EINVAL, "sce-ua: n = %d variables (need >= 1)", n);
    for (int i = 0; i < n; i++)
        if (!isfinite(lo[i]) || !isfinite(hi[i]) || lo[i] > hi[i])
            return tg_error_set(TG_EINVAL, "sce-ua: bounds of variable %d: [%g, %g]", i, lo[i], hi[i]);
    if (o->ngs < 0 || o->npg < 0 || o->nps < 0 || o->nspl < 0 || o->mings < 0 || o->max_evals < 0 ||
        o->kstop < 0)
        return tg_error_set(TG_EINVAL, "sce-ua: negative option (ngs, npg, nps, nspl, mings, max_evals, kstop)");
    if (o->npg == 1)
        return tg_error_set(TG_EINVAL, "sce-ua: npg = 1 point per complex (need >= 2)");
    if (o->x0)
        for (int i = 0; i < n; i++)
            if (!(o->x0[i] >= lo[i] && o->x0[i] <= hi[i]))
                return tg_error_set(TG_EINVAL, "sce-ua: x0[%d] = %g outside [%g, %g]", i, o->x0[i], lo[i], hi[i]);
    return 0;
}

static void sce_free(sce *s)
{
    tg_mem_free(s->x);
    tg_mem_free(s->fx);
    tg_mem_free(s->cx);
    tg_mem_free(s->cf);
    tg_mem_free(s->cand);
    tg_mem_free(s->cent);
    tg_mem_free(s->simplex);
    tg_mem_free(s->state);
    tg_mem_free(s->map);
    tg_mem_free(s->pairs);
    tg_mem_free(s->tmp);
    tg_mem_free(s->rng);
}

int tg_sceua_minimize_batch(tg_sceua_batch_fn f, void *ud, int n, const double *lo, const double *hi,
                            const tg_sceua_options *opt, double *x_best, double *f_best, tg_sceua_stats *stats)
{
    tg_sceua_options o;
    if (opt)
        o = *opt;
    else
        tg_sceua_options_init(&o);
    int rc = check_args(n, lo, hi, &o);
    if (rc)
        return rc;
    sce s = {0};
    s.n = n;
    s.ngs = o.ngs ? o.ngs : 2;
    s.npg = o.npg ? o.npg : 2 * n + 1;
    s.nps = o.nps ? o.nps : n + 1;
    s.nspl = o.nspl ? o.nspl : s.npg;
    s.mings = o.mings ? o.mings : s.ngs;
    s.max_evals = o.max_evals ? o.max_evals : 10000;
    s.kstop = o.kstop ? o.kstop : 10;
    s.pcento = o.pcento ? o.pcento : 1e-3;
    s.peps = o.peps ? o.peps : 1e-3;
    s.lo = lo;
    s.hi = hi;
    s.f = f;
    s.ud = ud;
    if (s.nps < 2 || s.nps > s.npg)
        return tg_error_set(TG_EINVAL, "sce-ua: nps = %d points per simplex (need 2 <= nps <= npg = %d)", s.nps, s.npg);
    if (s.mings > s.ngs)
        return tg_error_set(TG_EINVAL, "sce-ua: mings = %d > ngs = %d", s.mings, s.ngs);
    int npt = s.ngs * s.npg;
    if (s.max_evals < npt)
        return tg_error_set(TG_EINVAL, "sce-ua: max_evals = %ld is below the initial population of %d points",
                            s.max_evals, npt);

    size_t sn = (size_t)n, NP = (size_t)npt, G = (size_t)s.ngs;
    s.x = tg_mem_alloc(NP * sn * sizeof(double));
    s.fx = tg_mem_alloc(NP * sizeof(double));
    s.cx = tg_mem_alloc(NP * sn * sizeof(double));
    s.cf = tg_mem_alloc(NP * sizeof(double));
    s.cand = tg_mem_alloc(G * sn * sizeof(double));
    s.cent = tg_mem_alloc(G * sn * sizeof(double));
    s.simplex = tg_mem_alloc(G * (size_t)s.nps * sizeof(int));
    s.state = tg_mem_alloc(G * sizeof(int));
    s.map = tg_mem_alloc(G * sizeof(int));
    s.pairs = tg_mem_alloc(NP * sizeof(rank_pair));
    s.tmp = tg_mem_alloc(NP * (sn + 1) * sizeof(double));
    s.rng = tg_mem_alloc((G + 1) * sizeof(tg_rng));
    if (!s.x || !s.fx || !s.cx || !s.cf || !s.cand || !s.cent || !s.simplex || !s.state || !s.map || !s.pairs ||
        !s.tmp || !s.rng) {
        sce_free(&s);
        return tg_error_set(TG_ENOMEM, "sce-ua: out of memory for %d points of %d variables", npt, n);
    }
    /* stream G samples the initial population; stream k < G drives complex k */
    tg_rng_seed(&s.rng[0], o.seed);
    for (size_t k = 1; k <= G; k++) {
        s.rng[k] = s.rng[k - 1];
        tg_rng_jump(&s.rng[k]);
    }
    for (int j = 0; j < npt; j++)
        for (int i = 0; i < n; i++)
            s.x[(size_t)j * sn + (size_t)i] = lo[i] + tg_rng_uniform(&s.rng[G]) * (hi[i] - lo[i]);
    if (o.x0)
        memcpy(s.x, o.x0, sn * sizeof(double));
    rc = sce_eval(&s, npt, s.x, s.fx);
    if (!rc)
        sort_population(&s, npt);

    double *best_hist = tg_mem_calloc((size_t)s.kstop + 1, sizeof(double)); /* ring of best values */
    if (!rc && !best_hist)
        rc = tg_error_set(TG_ENOMEM, "sce-ua: out of memory");
    int loops = 0, stop = 0;
    double gnrng = rc ? (double)NAN : geometric_range(&s, npt), change = (double)NAN;
    if (best_hist)
        best_hist[0] = s.fx[0];
    while (!rc) {
        /* stopping rules, in the order of Duan's code */
        if (s.evals + 3L * s.ngs > s.max_evals) { stop = TG_SCEUA_STOP_EVALS; break; }
        if (s.peps > 0 && gnrng < s.peps) { stop = TG_SCEUA_STOP_PARAMS; break; }
        if (s.pcento > 0 && loops >= s.kstop && change < s.pcento) { stop = TG_SCEUA_STOP_OBJECTIVE; break; }

        /* deal the sorted population into complexes: complex k gets ranks k, k+p, ... */
        for (int k = 0; k < s.ngs; k++)
            for (int j = 0; j < s.npg; j++) {
                size_t src = (size_t)(k + s.ngs * j), dst = (size_t)k * (size_t)s.npg + (size_t)j;
                memcpy(s.cx + dst * sn, s.x + src * sn, sn * sizeof(double));
                s.cf[dst] = s.fx[src];
            }
        /* evolve; a step costs at most 3 evaluations per complex, so the budget holds */
        for (int step = 0; step < s.nspl && !rc; step++) {
            if (s.evals + 3L * s.ngs > s.max_evals)
                break;
            rc = cce_step(&s);
        }
        if (rc)
            break;
        /* shuffle: merge and re-sort */
        memcpy(s.x, s.cx, (size_t)npt * sn * sizeof(double));
        memcpy(s.fx, s.cf, (size_t)npt * sizeof(double));
        sort_population(&s, npt);
        if (s.ngs > s.mings) {   /* complex reduction keeps the best (p - 1) m points */
            s.ngs--;
            npt = s.ngs * s.npg;
        }
        loops++;
        gnrng = geometric_range(&s, npt);
        best_hist[loops % (s.kstop + 1)] = s.fx[0];
        if (loops >= s.kstop) {
            double now = s.fx[0], then = best_hist[(loops - s.kstop) % (s.kstop + 1)], mean = 0;
            for (int j = 0; j <= s.kstop; j++)
                mean += fabs(best_hist[j]);
            mean /= s.kstop + 1;
            double d = fabs(now - then);
            change = d == 0 ? 0 : (mean > 0 && isfinite(mean) ? d / mean : HUGE_VAL);
        }
    }
    if (!rc) {
        memcpy(x_best, s.x, sn * sizeof(double));
        *f_best = s.fx[0];
        if (stats) {
            stats->evals = s.evals;
            stats->loops = loops;
            stats->stop = stop;
            stats->gnrng = gnrng;
            stats->change = change;
            stats->ngs = s.ngs;
        }
    }
    tg_mem_free(best_hist);
    sce_free(&s);
    return rc;
}

/* ---------------------------------------------------------------- single-point form */
typedef struct {
    tg_sceua_fn f;
    void *ud;
    int n;
} single_ud;

static int single_batch(void *ud, int k, const double *x, double *fx)
{
    single_ud *u = ud;
    for (int j = 0; j < k; j++) {
        int rc = u->f(u->ud, x + (size_t)j * (size_t)u->n, &fx[j]);
        if (rc < 0)
            return rc;
        if (rc > 0)
            fx[j] = HUGE_VAL;
    }
    return 0;
}

int tg_sceua_minimize(tg_sceua_fn f, void *ud, int n, const double *lo, const double *hi,
                      const tg_sceua_options *opt, double *x_best, double *f_best, tg_sceua_stats *stats)
{
    single_ud u = {f, ud, n};
    return tg_sceua_minimize_batch(single_batch, &u, n, lo, hi, opt, x_best, f_best, stats);
}
