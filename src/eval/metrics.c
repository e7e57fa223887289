/* metrics.c — one pass over (obs, sim) filling every skill metric of tg_metrics.
 * Formulas and conventions: docs/metrics.md. Computed in double whatever tg_real is: these
 * are sums over thousands of days and the results are reported, not differentiated. */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "terragrad.h"

/* NAN is a float constant; spelled as double to keep -Wdouble-promotion quiet. */
#define DNAN ((double)NAN)

const char *const tg_metric_names[TG_METRIC_COUNT] = {
    "NSE", "KGE", "KGE_prime", "r", "alpha", "beta_ratio", "gamma",
    "RMSE", "bias", "pbias", "FHV", "FLV_pbias", "FLV_log",
    "RMSE_low", "RMSE_high", "peak_timing", "beta_nse", "FMS",
};

/* Same order as the enum, so CSV writers and summaries loop over k. */
static const size_t metric_offset[TG_METRIC_COUNT] = {
    offsetof(tg_metrics, nse), offsetof(tg_metrics, kge), offsetof(tg_metrics, kge_prime),
    offsetof(tg_metrics, r), offsetof(tg_metrics, alpha), offsetof(tg_metrics, beta),
    offsetof(tg_metrics, gamma), offsetof(tg_metrics, rmse), offsetof(tg_metrics, bias),
    offsetof(tg_metrics, pbias), offsetof(tg_metrics, fhv), offsetof(tg_metrics, flv_pbias),
    offsetof(tg_metrics, flv_log), offsetof(tg_metrics, rmse_low),
    offsetof(tg_metrics, rmse_high), offsetof(tg_metrics, peak_timing),
    offsetof(tg_metrics, beta_nse), offsetof(tg_metrics, fms),
};

double tg_metric_get(const tg_metrics *m, int k)
{
    assert(k >= 0 && k < TG_METRIC_COUNT);
    return *(const double *)((const char *)m + metric_offset[k]);
}

void tg_metric_set(tg_metrics *m, int k, double value)
{
    assert(k >= 0 && k < TG_METRIC_COUNT);
    *(double *)((char *)m + metric_offset[k]) = value;
}

void tg_metrics_set_nan(tg_metrics *m)
{
    for (int k = 0; k < TG_METRIC_COUNT; k++)
        tg_metric_set(m, k, DNAN);
    m->n = m->n_sim_missing = m->n_peaks = 0;
}

/* ---------------------------------------------------------------- helpers */
static double div_or_nan(double a, double b) { return b == 0.0 ? DNAN : a / b; }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A day ranked by its observed flow; ties keep time order so the class is deterministic. */
typedef struct {
    double q;
    int day;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->q != y->q)
        return (x->q > y->q) - (x->q < y->q);
    return (x->day > y->day) - (x->day < y->day);
}

/* Size of a flow class of `frac` of nv days, rounded half to even like numpy.round, so class
 * sizes match neuralhydrology (e.g. 2 % of 25 days = 0.5 -> 0: FHV undefined). */
static int class_size(double frac, int nv) { return (int)rint(frac * (double)nv); }

/* Yilmaz log-space low-flow "volume": sum of (log q - min log q) over a low-flow class. */
static double log_spread(const double *q, int k)
{
    double lmin = INFINITY, s = 0.0;
    for (int i = 0; i < k; i++) {
        double l = log(q[i] <= 0.0 ? TG_METRIC_FLV_EPS : q[i]);
        lmin = fmin(lmin, l);
    }
    for (int i = 0; i < k; i++)
        s += log(q[i] <= 0.0 ? TG_METRIC_FLV_EPS : q[i]) - lmin;
    return s;
}

/* log of a flow for the FDC slope, zero and negative flows at eps as for FLV_log */
static double log_flow(double q) { return log(q <= 0.0 ? TG_METRIC_FLV_EPS : q); }

/* FMS (Yilmaz et al. 2008): percent bias of the slope of the mid segment of the flow duration
 * curve in log space, between exceedance probabilities lower and upper. asc_o, asc_s are sorted
 * ascending; exceedance index i of the descending FDC (i = round(p n), half to even, as
 * neuralhydrology's fdc_fms) is ascending index n - 1 - i. */
static double fdc_mid_slope_bias(const double *asc_o, const double *asc_s, int nv)
{
    int il = class_size(TG_METRIC_FMS_LOWER, nv), iu = class_size(TG_METRIC_FMS_UPPER, nv);
    if (iu > nv - 1 || il >= iu)
        return DNAN; /* too few days for two distinct points on the curve */
    double so = log_flow(asc_o[nv - 1 - il]) - log_flow(asc_o[nv - 1 - iu]);
    double ss = log_flow(asc_s[nv - 1 - il]) - log_flow(asc_s[nv - 1 - iu]);
    return 100.0 * div_or_nan(ss - so, so);
}

/* RMSE over the days listed in r[0..k). NaN for an empty class. */
static double class_rmse(const ranked *r, int k, const double *o, const double *s)
{
    if (k <= 0)
        return DNAN;
    double sse = 0.0;
    for (int i = 0; i < k; i++) {
        double d = s[r[i].day] - o[r[i].day];
        sse += d * d;
    }
    return sqrt(sse / k);
}

/* ---------------------------------------------------------------- NSE */
double tg_nse(const double *obs, const double *sim, int n, size_t so, size_t ss)
{
    /* the same sums in the same order as the moments of tg_metrics_compute, which calls this */
    double mo = 0.0;
    int nv = 0, obs_const = 1;
    double first = 0.0;
    for (int t = 0; t < n; t++) {
        double o = obs[(size_t)t * so], s = sim[(size_t)t * ss];
        if (!isfinite(o) || !isfinite(s))
            continue;
        if (nv == 0)
            first = o;
        obs_const &= o == first;
        mo += o;
        nv++;
    }
    if (nv == 0 || obs_const)
        return DNAN;  /* a constant series has exactly zero variance: NSE undefined */
    mo /= nv;
    double vo = 0.0, sse = 0.0;
    for (int t = 0; t < n; t++) {
        double o = obs[(size_t)t * so], s = sim[(size_t)t * ss];
        if (!isfinite(o) || !isfinite(s))
            continue;
        double a = o - mo, d = s - o;
        vo += a * a;
        sse += d * d;
    }
    return vo == 0.0 ? DNAN : 1.0 - sse / vo;
}

double tg_median_finite(const double *x, int n)
{
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(double);
    double *v = tg_malloc(bytes);
    if (!v)
        return DNAN;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]))
            v[m++] = x[i];
    double med = DNAN;
    if (m > 0) {
        qsort(v, (size_t)m, sizeof *v, cmp_double);
        med = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
    }
    tg_free(v, bytes);
    return med;
}

/* ---------------------------------------------------------------- compute */
int tg_metrics_compute(const double *obs, const double *sim, int n, tg_metrics *m)
{
    assert(m);
    tg_metrics_set_nan(m);
    if (n < 0)
        return tg_error_set(TG_EINVAL, "metrics: negative length n = %d", n);
    if (n == 0)
        return tg_error_set(TG_EINVAL, "metrics: no days to score (n = 0)");
    if (!obs || !sim)
        return tg_error_set(TG_EINVAL, "metrics: obs or sim is NULL");

    /* scratch: o, s (valid pairs in time order), so, ss (each sorted), ranked obs days */
    size_t bytes = (size_t)n * (4 * sizeof(double) + sizeof(ranked));
    double *o = tg_malloc(bytes);
    if (!o)
        return tg_error_prefix(TG_ENOMEM, "metrics: ");
    double *s = o + n, *so = s + n, *ss = so + n;
    ranked *rk = (ranked *)(ss + n);

    int nv = 0, obs_const = 1, sim_const = 1;
    for (int t = 0; t < n; t++) {
        if (!isfinite(obs[t]))
            continue;
        if (!isfinite(sim[t])) {
            m->n_sim_missing++;
            continue;
        }
        o[nv] = obs[t];
        s[nv] = sim[t];
        obs_const &= o[nv] == o[0];
        sim_const &= s[nv] == s[0];
        nv++;
    }
    m->n = nv;
    if (nv == 0) {
        tg_free(o, bytes);
        return tg_error_set(TG_EINVAL, "metrics: all %d days missing (no finite obs/sim pair)", n);
    }

    /* moments, two-pass for accuracy on long records */
    double mo = 0.0, ms = 0.0;
    for (int i = 0; i < nv; i++) {
        mo += o[i];
        ms += s[i];
    }
    mo /= nv;
    ms /= nv;
    double vo = 0.0, vs = 0.0, cov = 0.0, sse = 0.0;
    for (int i = 0; i < nv; i++) {
        double a = o[i] - mo, b = s[i] - ms, d = s[i] - o[i];
        vo += a * a;
        vs += b * b;
        cov += a * b;
        sse += d * d;
    }
    /* a constant series has exactly zero variance, not the rounding residue of its mean */
    if (obs_const)
        vo = 0.0;
    if (sim_const)
        vs = 0.0;
    double sdo = sqrt(vo / nv), sds = sqrt(vs / nv); /* population sd (ratios ignore ddof) */

    m->rmse = sqrt(sse / nv);
    m->bias = ms - mo;
    m->pbias = 100.0 * div_or_nan(ms - mo, mo);
    m->nse = tg_nse(o, s, nv, 1, 1);   /* the library's one NSE; equal to 1 - sse / vo here */
    m->r = (vo == 0.0 || vs == 0.0) ? DNAN : cov / sqrt(vo * vs);
    m->alpha = div_or_nan(sds, sdo);
    m->beta = div_or_nan(ms, mo);
    m->beta_nse = div_or_nan(ms - mo, sdo);
    m->gamma = div_or_nan(div_or_nan(sds, ms), div_or_nan(sdo, mo));
    m->kge = 1.0 - sqrt((m->r - 1) * (m->r - 1) + (m->alpha - 1) * (m->alpha - 1) +
                        (m->beta - 1) * (m->beta - 1));
    m->kge_prime = 1.0 - sqrt((m->r - 1) * (m->r - 1) + (m->gamma - 1) * (m->gamma - 1) +
                              (m->beta - 1) * (m->beta - 1));

    /* flow duration curves: obs and sim sorted separately (ascending) */
    for (int i = 0; i < nv; i++) {
        so[i] = o[i];
        ss[i] = s[i];
        rk[i] = (ranked){o[i], i};
    }
    qsort(so, (size_t)nv, sizeof *so, cmp_double);
    qsort(ss, (size_t)nv, sizeof *ss, cmp_double);
    qsort(rk, (size_t)nv, sizeof *rk, cmp_ranked);

    int khi = class_size(TG_METRIC_HIGH_FRAC, nv), klo = class_size(TG_METRIC_LOW_FRAC, nv);
    if (khi > 0) {
        double sum_o = 0.0, sum_s = 0.0;
        for (int i = nv - khi; i < nv; i++) {
            sum_o += so[i];
            sum_s += ss[i];
        }
        m->fhv = 100.0 * div_or_nan(sum_s - sum_o, sum_o);
    }
    if (klo > 0) {
        double sum_o = 0.0, sum_s = 0.0;
        for (int i = 0; i < klo; i++) {
            sum_o += so[i];
            sum_s += ss[i];
        }
        m->flv_pbias = 100.0 * div_or_nan(sum_s - sum_o, sum_o);
        double lo = log_spread(so, klo), ls = log_spread(ss, klo);
        m->flv_log = -100.0 * div_or_nan(ls - lo, lo);
    }
    m->fms = fdc_mid_slope_bias(so, ss, nv);
    m->rmse_low = class_rmse(rk, klo, o, s);
    m->rmse_high = class_rmse(rk + (nv - khi), khi, o, s);
    tg_free(o, bytes);

    /* peak timing works on the original arrays: it needs the day index to skip gaps */
    int st = tg_peak_timing(obs, sim, n, TG_PEAK_WINDOW, TG_PEAK_DISTANCE, &m->peak_timing,
                            &m->n_peaks);
    if (st)
        return st;
    if (vo == 0.0)
        return tg_error_set(TG_EINVAL,
                            "metrics: observed flow is constant (%g on all %d days): NSE, r, "
                            "alpha, gamma, KGE, KGE' undefined (NaN)", mo, nv);
    return TG_OK;
}
