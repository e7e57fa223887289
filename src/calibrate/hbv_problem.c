/* hbv_problem.c — the per-basin HBV calibration problem: parameter bounds, the objective
 * (1-NSE, 1-KGE, RMSE) of several candidate parameter sets at once, and the single-basin
 * entry points tg_hbv_calibrate / tg_hbv_calib_simulate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calibrate/calib_internal.h"

const double tg_route_range[2][2] = {{0.1, 3.0}, {0.5, 7.0}};

void tg_calib_options_init(tg_calib_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = TG_CALIB_SCEUA;
    o->objective = TG_CALIB_NSE;
    o->warmup = 365;
    tg_sceua_options_init(&o->sce);
    o->sce.ngs = 4;
}

static const char *const objective_names[] = {"nse", "kge", "rmse"};
static const char *const method_names[] = {"sceua", "adam"};

const char *tg_calib_objective_name(int objective)
{
    return objective >= 0 && objective <= TG_CALIB_RMSE ? objective_names[objective] : "?";
}

int tg_calib_objective_parse(const char *s, int *objective)
{
    for (int k = 0; k <= TG_CALIB_RMSE; k++)
        if (!strcasecmp(s, objective_names[k])) {
            *objective = k;
            return 0;
        }
    return tg_error_set(TG_EINVAL, "unknown objective '%s' (nse, kge, rmse)", s);
}

const char *tg_calib_method_name(int method)
{
    return method >= 0 && method <= TG_CALIB_ADAM ? method_names[method] : "?";
}

int tg_calib_method_parse(const char *s, int *method)
{
    if (!strcasecmp(s, "sce-ua") || !strcasecmp(s, "sce")) {
        *method = TG_CALIB_SCEUA;
        return 0;
    }
    for (int k = 0; k <= TG_CALIB_ADAM; k++)
        if (!strcasecmp(s, method_names[k])) {
            *method = k;
            return 0;
        }
    return tg_error_set(TG_EINVAL, "unknown calibration method '%s' (sceua, adam)", s);
}

/* ---------------------------------------------------------------- objective */
/* One pass in double over the days with an observation. The sums of squares are
 * accumulated around the observed mean so KGE's variances do not cancel badly. */
double tg__calib_objective_strided(int objective, const tg_real *obs, const tg_real *sim, int n, int stride)
{
    double so = 0;
    long N = 0;
    for (int t = 0; t < n; t++)
        if (!isnan(obs[t])) {
            so += (double)obs[t];
            N++;
        }
    if (N < 2)
        return HUGE_VAL;
    double mo = so / (double)N;
    double sse = 0, sst = 0, ds = 0, dss = 0, dos = 0;  /* d = deviations from mo */
    for (int t = 0; t < n; t++) {
        if (isnan(obs[t]))
            continue;
        double o = (double)obs[t] - mo, s = (double)sim[(size_t)t * (size_t)stride] - mo;
        sse += (s - o) * (s - o);
        sst += o * o;
        ds += s;
        dss += s * s;
        dos += o * s;
    }
    if (!isfinite(sse))
        return HUGE_VAL;
    switch (objective) {
    case TG_CALIB_NSE:
        return sst > 0 ? sse / sst : HUGE_VAL;
    case TG_CALIB_RMSE:
        return sqrt(sse / (double)N);
    default: { /* KGE (Gupta et al. 2009): r, alpha = sd_s / sd_o, beta = mean_s / mean_o */
        double ms = ds / (double)N;                       /* mean_s - mo */
        double vs = dss / (double)N - ms * ms, vo = sst / (double)N;
        double cov = dos / (double)N;                     /* mean(o') = 0 */
        if (!(vs > 0) || !(vo > 0) || mo == 0)
            return HUGE_VAL;
        double r = cov / sqrt(vs * vo), alpha = sqrt(vs / vo), beta = (ms + mo) / mo;
        return sqrt((r - 1) * (r - 1) + (alpha - 1) * (alpha - 1) + (beta - 1) * (beta - 1));
    }
    }
}

double tg_calib_objective_value(int objective, const tg_real *obs, const tg_real *sim, int n)
{
    return tg__calib_objective_strided(objective, obs, sim, n, 1);
}

/* ---------------------------------------------------------------- problem */
int tg__calib_problem_init(calib_problem *p, const tg_real *forcing, const tg_real *obs, int T, int W, int objective,
                       int routing)
{
    memset(p, 0, sizeof *p);
    if (W < 0 || T - W < 2)
        return tg_error_set(TG_EINVAL, "calibrate: %d days with a warm-up of %d leave no period to score", T, W);
    if (objective < TG_CALIB_NSE || objective > TG_CALIB_RMSE)
        return tg_error_set(TG_EINVAL, "calibrate: objective %d unknown", objective);
    p->forcing = forcing;
    p->obs = obs;
    p->T = T;
    p->W = W;
    p->n = T - W;
    p->objective = objective;
    p->routing = routing != 0;
    p->nvar = TG_HBV_NPARAM + (p->routing ? 2 : 0);
    for (int i = 0; i < TG_HBV_NPARAM; i++) {
        p->lo[i] = tg_hbv_param_range[i][0];
        p->hi[i] = tg_hbv_param_range[i][1];
    }
    for (int i = 0; i < 2; i++) {
        p->lo[TG_HBV_NPARAM + i] = tg_route_range[i][0];
        p->hi[TG_HBV_NPARAM + i] = tg_route_range[i][1];
    }
    tg_hbv_config_init(&p->c, T, W, 1, CALIB_LANES);
    /* the same parameters run the warm-up, so they shape the stores the scored days start
     * from: the exact gradient flows through the warm-up too (forward runs keep no
     * history, so this only matters to the gradient pass) */
    p->c.warmup_grad = 1;
    int rc = tg_hbv_config_check(&p->c);
    if (rc)
        return rc;
    p->par = tg_mem_alloc((size_t)TG_HBV_NPARAM * CALIB_LANES * sizeof(tg_real));
    p->out = tg_mem_alloc((size_t)p->n * TG_HBV_NOUT * CALIB_LANES * sizeof(tg_real));
    p->q = tg_mem_alloc((size_t)p->n * CALIB_LANES * sizeof(tg_real));
    if (!p->par || !p->out || !p->q) {
        tg__calib_problem_free(p);
        return tg_error_set(TG_ENOMEM, "calibrate: out of memory for %d days", T);
    }
    return 0;
}

void tg__calib_problem_free(calib_problem *p)
{
    tg_mem_free(p->par);
    tg_mem_free(p->out);
    tg_mem_free(p->q);
    tg_mem_free(p->hist);
    tg_mem_free(p->g_out);
    tg_mem_free(p->g_q);
    p->par = p->out = p->q = p->hist = p->g_out = p->g_q = NULL;
}

/* Up to CALIB_LANES candidates in one HBV run; unused lanes repeat the first candidate. */
static int eval_lanes(calib_problem *p, int k, const double *x, double *f)
{
    const int L = CALIB_LANES;
    for (int l = 0; l < L; l++) {
        const double *xl = x + (size_t)(l < k ? l : 0) * (size_t)p->nvar;
        for (int i = 0; i < TG_HBV_NPARAM; i++)
            p->par[i * L + l] = (tg_real)xl[i];
    }
    int rc = tg_hbv_forward(NULL, p->out, NULL, NULL, p->forcing, p->par, NULL, NULL, &p->c);
    if (rc)
        return -1;
    const tg_real *q_hbv = p->out + (size_t)TG_HBV_Q * L; /* row Q of (n, NOUT, L) */
    const tg_real *sim = q_hbv;
    int stride = TG_HBV_NOUT * L;
    if (p->routing) {
        tg_real a[CALIB_LANES], th[CALIB_LANES], w[CALIB_LANES * TG_UH_LEN];
        for (int l = 0; l < L; l++) {
            const double *xl = x + (size_t)(l < k ? l : 0) * (size_t)p->nvar;
            a[l] = (tg_real)xl[TG_HBV_NPARAM];
            th[l] = (tg_real)xl[TG_HBV_NPARAM + 1];
        }
        tg_uh_gamma_forward(w, a, th, L);
        tg_uh_conv_forward(p->q, L, q_hbv, stride, w, p->n, L);
        sim = p->q;
        stride = L;
    }
    for (int l = 0; l < k; l++)
        f[l] = tg__calib_objective_strided(p->objective, p->obs + p->W, sim + l, p->n, stride);
    return 0;
}

int tg__calib_eval_batch(void *ud, int k, const double *x, double *f)
{
    calib_problem *p = ud;
    for (int j = 0; j < k; j += CALIB_LANES) {
        int m = k - j < CALIB_LANES ? k - j : CALIB_LANES;
        if (eval_lanes(p, m, x + (size_t)j * (size_t)p->nvar, f + j))
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- entry points */
int tg__calib_options_check(const tg_calib_options *o)
{
    if (o->method != TG_CALIB_SCEUA && o->method != TG_CALIB_ADAM)
        return tg_error_set(TG_EINVAL, "calibrate: method %d unknown", o->method);
    if (o->objective < TG_CALIB_NSE || o->objective > TG_CALIB_RMSE)
        return tg_error_set(TG_EINVAL, "calibrate: objective %d unknown", o->objective);
    if (o->warmup < 0)
        return tg_error_set(TG_EINVAL, "calibrate: warm-up of %d days", o->warmup);
    if (o->max_evals < 0 || o->restarts < 0 || o->lr < 0)
        return tg_error_set(TG_EINVAL, "calibrate: max_evals, restarts and lr must not be negative");
    int nvar = TG_HBV_NPARAM + (o->routing ? 2 : 0);
    if (o->method == TG_CALIB_SCEUA) {
        long ngs = o->sce.ngs ? o->sce.ngs : 2, npg = o->sce.npg ? o->sce.npg : 2 * nvar + 1;
        long budget = o->max_evals ? o->max_evals : 5000;
        if (budget < ngs * npg)
            return tg_error_set(TG_EINVAL,
                                "calibrate: max_evals = %ld is below SCE-UA's initial population of %ld points "
                                "(%ld complexes x %ld points)", budget, ngs * npg, ngs, npg);
    } else {
        long budget = o->max_evals ? o->max_evals : 2000, R = o->restarts ? o->restarts : CALIB_LANES;
        if (budget < R)
            return tg_error_set(TG_EINVAL, "calibrate: adam needs max_evals (%ld) >= restarts (%ld)", budget, R);
    }
    return 0;
}

int tg_hbv_calibrate(tg_calib_fit *fit, const tg_real *forcing, const tg_real *obs, int T, const tg_calib_options *opt,
                     uint64_t seed)
{
    tg_calib_options o;
    if (opt)
        o = *opt;
    else
        tg_calib_options_init(&o);
    int rc = tg__calib_options_check(&o);
    if (rc)
        return rc;
    calib_problem p;
    rc = tg__calib_problem_init(&p, forcing, obs, T, o.warmup, o.objective, o.routing);
    if (rc)
        return rc;
    long valid = 0;
    for (int t = o.warmup; t < T; t++)
        valid += !isnan(obs[t]);
    for (int t = 0; t < T && !rc; t++)
        for (int j = 0; j < 3; j++)
            if (!isfinite(forcing[(size_t)t * 3 + (size_t)j]))
                rc = tg_error_set(TG_EINVAL, "calibrate: forcing column %d is missing on day %d of %d", j, t, T);
    if (!rc && valid < 2)
        rc = tg_error_set(TG_EINVAL, "calibrate: only %ld observed days after the warm-up", valid);
    for (int i = 0; i < p.nvar && !rc && (o.lo || o.hi); i++) {
        double lo = o.lo ? o.lo[i] : p.lo[i], hi = o.hi ? o.hi[i] : p.hi[i];
        if (!(lo >= p.lo[i] && hi <= p.hi[i] && lo <= hi))
            rc = tg_error_set(TG_EINVAL, "calibrate: bounds of %s [%g, %g] must lie in [%g, %g]",
                              i < TG_HBV_NPARAM ? tg_hbv_param_names[i] : i == TG_HBV_NPARAM ? "a" : "theta", lo,
                              hi, p.lo[i], p.hi[i]);
        p.lo[i] = lo;
        p.hi[i] = hi;
    }
    if (rc) {
        tg__calib_problem_free(&p);
        return rc;
    }
    memset(fit, 0, sizeof *fit);
    fit->a = fit->theta = (double)NAN;
    if (o.method == TG_CALIB_ADAM) {
        rc = tg__calib_adam(fit, &p, &o, seed);
    } else if (o.method == TG_CALIB_SCEUA) {
        tg_sceua_options so = o.sce;
        so.max_evals = o.max_evals ? o.max_evals : 5000;
        so.seed = seed;
        double x[TG_CALIB_NVAR], fx;
        tg_sceua_stats st;
        rc = tg_sceua_minimize_batch(tg__calib_eval_batch, &p, p.nvar, p.lo, p.hi, &so, x, &fx, &st);
        if (!rc) {
            memcpy(fit->params, x, TG_HBV_NPARAM * sizeof(double));
            if (p.routing) {
                fit->a = x[TG_HBV_NPARAM];
                fit->theta = x[TG_HBV_NPARAM + 1];
            }
            fit->objective = fx;
            fit->evals = st.evals;
            fit->stop = st.stop;
        }
    } else
        rc = tg_error_set(TG_EINVAL, "calibrate: method %d unknown", o.method);
    tg__calib_problem_free(&p);
    return rc;
}

int tg_hbv_calib_simulate(tg_real *q, const tg_real *forcing, int T, int W, const double *params, double a,
                          double theta)
{
    if (W < 0 || W >= T)
        return tg_error_set(TG_EINVAL, "calibrate: warm-up %d needs more than %d days", W, T);
    int n = T - W;
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, 1, 1);
    tg_real par[TG_HBV_NPARAM];
    for (int i = 0; i < TG_HBV_NPARAM; i++)
        par[i] = (tg_real)params[i];
    tg_real *out = tg_mem_alloc((size_t)n * TG_HBV_NOUT * sizeof(tg_real));
    if (!out)
        return tg_error_set(TG_ENOMEM, "calibrate: out of memory for %d days", T);
    int rc = tg_hbv_forward(NULL, out, NULL, NULL, forcing, par, NULL, NULL, &c);
    if (!rc && isfinite(a) && isfinite(theta)) {
        tg_real ra = (tg_real)a, rt = (tg_real)theta, w[TG_UH_LEN];
        tg_uh_gamma_forward(w, &ra, &rt, 1);
        tg_uh_conv_forward(q, 1, out + TG_HBV_Q, TG_HBV_NOUT, w, n, 1);
    } else if (!rc)
        for (int t = 0; t < n; t++)
            q[t] = out[(size_t)t * TG_HBV_NOUT + TG_HBV_Q];
    tg_mem_free(out);
    return rc;
}
