/* extremes.c — scores on events beyond the training record (`terragrad test --extremes`):
 * floods whose observed peak exceeds the training period's maximum observed flow, and dry
 * years whose observed mean flow is below the training period's driest year. Definitions:
 * docs/metrics.md, "Extremes". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad.h"

void tg_extremes_defaults(tg_extremes_options *o)
{
    o->distance = 7;
    o->peak_window = 1;
    o->event_before = 3;
    o->event_after = 7;
    o->low_frac = 0.3;
    o->min_year_days = 330;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One flood event at observed peak p (index into obs/sim). */
static tg_extreme peak_event(const double *obs, const double *sim, int n, int p, const tg_extremes_options *o)
{
    tg_extreme e = {.kind = TG_EXTREME_PEAK, .day = p, .record = 1, .obs = obs[p], .sim = NAN, .peak_error = NAN,
                    .timing = NAN, .volume_error = NAN, .low_flow_error = NAN};
    int best = -1;
    for (int t = p - o->peak_window; t <= p + o->peak_window; t++)
        if (t >= 0 && t < n && isfinite(sim[t]) && (best < 0 || sim[t] > sim[best]))
            best = t; /* on ties the earliest: the smaller lag */
    if (best >= 0) {
        e.sim = sim[best];
        e.peak_error = (sim[best] - obs[p]) / obs[p];
        e.timing = best - p;
    }
    double so = 0, ss = 0;
    for (int t = p - o->event_before; t <= p + o->event_after; t++)
        if (t >= 0 && t < n && isfinite(obs[t]) && isfinite(sim[t]))
            so += obs[t], ss += sim[t];
    if (so > 0)
        e.volume_error = (ss - so) / so;
    return e;
}

/* Mean observed flow of each calendar year with >= min_year_days observed days (NaN
 * otherwise); years y0..y0+ny-1 of a series of n days from day number first. */
static void annual_means(const double *x, int n, int first, int y0, int ny, int min_days, double *mean)
{
    for (int k = 0; k < ny; k++) {
        double s = 0;
        int c = 0;
        for (int t = 0; t < n; t++) {
            int y, m, d;
            tg_date_to_ymd(first + t, &y, &m, &d);
            if (y == y0 + k && isfinite(x[t]))
                s += x[t], c++;
        }
        mean[k] = c >= min_days ? s / c : (double)NAN;
    }
}

/* Low-flow error of one year: relative error of the mean simulated flow on the days of the
 * year's lowest low_frac observed flows (obs and sim both finite), against their observed
 * mean. */
static double low_flow_error(const double *obs, const double *sim, int n, int first, int year, double frac,
                             double *scratch)
{
    int c = 0;
    for (int t = 0; t < n; t++) {
        int y, m, d;
        tg_date_to_ymd(first + t, &y, &m, &d);
        if (y == year && isfinite(obs[t]) && isfinite(sim[t]))
            scratch[c++] = obs[t];
    }
    const int k = (int)floor(frac * c);
    if (k < 1)
        return (double)NAN;
    qsort(scratch, (size_t)c, sizeof *scratch, cmp_double);
    const double thr = scratch[k - 1]; /* the k-th lowest: days with obs <= thr */
    double so = 0, ss = 0;
    for (int t = 0; t < n; t++) {
        int y, m, d;
        tg_date_to_ymd(first + t, &y, &m, &d);
        if (y == year && isfinite(obs[t]) && isfinite(sim[t]) && obs[t] <= thr)
            so += obs[t], ss += sim[t];
    }
    return so > 0 ? (ss - so) / so : (double)NAN;
}

int tg_extremes_find(const double *obs_train, int n_train, int train_first, const double *obs, const double *sim,
                     int n, int first, const tg_extremes_options *opt, tg_extreme *out, int max)
{
    tg_extremes_options o;
    if (opt)
        o = *opt;
    else
        tg_extremes_defaults(&o);
    if (n < 0 || n_train < 0 || max < 0 || o.distance < 1 || o.peak_window < 0 || o.event_before < 0 ||
        o.event_after < 0 || !(o.low_frac > 0 && o.low_frac <= 1) || o.min_year_days < 1) {
        tg_error_set(TG_EINVAL, "extremes: bad arguments (n %d, n_train %d, distance %d, low_frac %g)", n, n_train,
                     o.distance, o.low_frac);
        return -1;
    }
    double train_max = -HUGE_VAL;
    for (int t = 0; t < n_train; t++)
        if (isfinite(obs_train[t]) && obs_train[t] > train_max)
            train_max = obs_train[t];
    int count = 0;
    /* scratch: the series with missing days as -inf (never a peak), peak indices, a year */
    double *x = malloc(((size_t)n + 1) * sizeof *x);
    int *peaks = malloc(((size_t)n / 2 + 2) * sizeof *peaks);
    if (!x || !peaks) {
        free(x), free(peaks);
        tg_error_set(TG_ENOMEM, "extremes: out of memory");
        return -1;
    }
    /* 1. floods: independent observed peaks (>= distance days apart, higher kept) above the
     *    training maximum. No training record: no threshold, no events. */
    for (int t = 0; t < n; t++)
        x[t] = isfinite(obs[t]) ? obs[t] : -HUGE_VAL;
    int np = n_train > 0 && isfinite(train_max) ? tg_find_peaks(x, n, o.distance, 0, peaks) : 0;
    if (np < 0) {
        free(x), free(peaks);
        return -1;
    }
    for (int i = 0; i < np; i++)
        if (obs[peaks[i]] > train_max && obs[peaks[i]] > 0) {
            if (count < max)
                out[count] = peak_event(obs, sim, n, peaks[i], &o);
            count++;
        }
    /* 2. dry years: calendar years of the test period below the training period's lowest
     *    annual mean flow (record = 1); if there is none, the driest test year (record = 0),
     *    so that every basin has a low-flow score. */
    int yt0, yt1, y0, y1, mm, dd;
    tg_date_to_ymd(train_first, &yt0, &mm, &dd);
    tg_date_to_ymd(train_first + (n_train > 0 ? n_train - 1 : 0), &yt1, &mm, &dd);
    tg_date_to_ymd(first, &y0, &mm, &dd);
    tg_date_to_ymd(first + (n > 0 ? n - 1 : 0), &y1, &mm, &dd);
    const int nyt = n_train > 0 ? yt1 - yt0 + 1 : 0, ny = n > 0 ? y1 - y0 + 1 : 0;
    double *am = malloc(((size_t)nyt + (size_t)ny + 1) * sizeof *am);
    if (!am) {
        free(x), free(peaks);
        tg_error_set(TG_ENOMEM, "extremes: out of memory");
        return -1;
    }
    annual_means(obs_train, n_train, train_first, yt0, nyt, o.min_year_days, am);
    annual_means(obs, n, first, y0, ny, o.min_year_days, am + nyt);
    double train_min = HUGE_VAL;
    for (int k = 0; k < nyt; k++)
        if (isfinite(am[k]) && am[k] < train_min)
            train_min = am[k];
    int driest = -1, n_dry = 0;
    for (int k = 0; k < ny; k++) {
        const double a = am[nyt + k];
        if (!isfinite(a))
            continue;
        if (driest < 0 || a < am[nyt + driest])
            driest = k;
        n_dry += a < train_min;
    }
    for (int k = 0; k < ny; k++) {
        const double a = am[nyt + k];
        if (!isfinite(a) || !(n_dry ? a < train_min : k == driest))
            continue;
        if (count < max) {
            tg_extreme e = {.kind = TG_EXTREME_DRY_YEAR, .day = y0 + k, .record = n_dry > 0, .obs = a, .sim = NAN,
                            .peak_error = NAN, .timing = NAN, .volume_error = NAN};
            double s = 0;
            int c = 0, yy;
            for (int t = 0; t < n; t++) {
                tg_date_to_ymd(first + t, &yy, &mm, &dd);
                if (yy == y0 + k && isfinite(obs[t]) && isfinite(sim[t]))
                    s += sim[t], c++;
            }
            e.sim = c ? s / c : (double)NAN;
            e.low_flow_error = low_flow_error(obs, sim, n, first, y0 + k, o.low_frac, x);
            out[count] = e;
        }
        count++;
    }
    free(x), free(peaks), free(am);
    return count;
}
