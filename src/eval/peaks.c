/* peaks.c — observed-peak detection (the scipy.signal.find_peaks subset neuralhydrology uses)
 * and the mean peak timing error. Conventions: docs/metrics.md, "Peak timing". */
#include <math.h>
#include <stdlib.h>

#include "terragrad.h"

/* A candidate peak ordered by height for the distance thinning. */
typedef struct {
    double h;
    int pos, j; /* position in x, index in the candidate list */
} cand;

/* Height ascending, then position descending: walking from the end visits the highest peak
 * first and, among equal heights, the earliest (scipy leaves that order to its sort). */
static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->h != y->h)
        return (x->h > y->h) - (x->h < y->h);
    return (x->pos < y->pos) - (x->pos > y->pos);
}

/* Prominence with an unbounded window: from the peak walk each way until a strictly higher
 * sample (or the edge), taking the lowest sample on the way; the higher of the two minima is
 * the key col. */
static double prominence(const double *x, int n, int p)
{
    double lmin = x[p], rmin = x[p];
    for (int i = p; i >= 0 && x[i] <= x[p]; i--)
        lmin = fmin(lmin, x[i]);
    for (int i = p; i < n && x[i] <= x[p]; i++)
        rmin = fmin(rmin, x[i]);
    return x[p] - fmax(lmin, rmin);
}

int tg_find_peaks(const double *x, int n, int distance, double min_prominence, int *peaks)
{
    if (n < 0 || distance < 1) {
        tg_error_set(TG_EINVAL, "find_peaks: need n >= 0 and distance >= 1 (got %d, %d)", n,
                     distance);
        return -1;
    }
    /* local maxima: a sample, or a flat run, with a strictly lower neighbour on each side */
    int np = 0;
    for (int i = 1; i < n - 1;) {
        if (x[i - 1] < x[i]) {
            int ahead = i + 1;
            while (ahead < n - 1 && x[ahead] == x[i])
                ahead++;
            if (x[ahead] < x[i]) {
                peaks[np++] = (i + ahead - 1) / 2; /* middle of the run, rounded down */
                i = ahead;
            }
        }
        i++;
    }

    /* thin to >= distance apart, higher peaks first */
    if (distance > 1 && np > 1) {
        size_t bytes = (size_t)np * (sizeof(cand) + 1);
        cand *c = tg_malloc(bytes);
        if (!c) {
            tg_error_prefix(TG_ENOMEM, "find_peaks: ");
            return -1;
        }
        char *keep = (char *)(c + np);
        for (int j = 0; j < np; j++) {
            c[j] = (cand){x[peaks[j]], peaks[j], j};
            keep[j] = 1;
        }
        qsort(c, (size_t)np, sizeof *c, cmp_cand);
        for (int q = np - 1; q >= 0; q--) {
            int j = c[q].j;
            if (!keep[j])
                continue;
            for (int k = j - 1; k >= 0 && peaks[j] - peaks[k] < distance; k--)
                keep[k] = 0;
            for (int k = j + 1; k < np && peaks[k] - peaks[j] < distance; k++)
                keep[k] = 0;
        }
        int w = 0;
        for (int j = 0; j < np; j++)
            if (keep[j])
                peaks[w++] = peaks[j];
        np = w;
        tg_free(c, bytes);
    }

    int w = 0;
    for (int j = 0; j < np; j++)
        if (prominence(x, n, peaks[j]) >= min_prominence)
            peaks[w++] = peaks[j];
    return w;
}

int tg_peak_timing(const double *obs, const double *sim, int n, int window, int distance,
                   double *timing, int *npeaks)
{
    *timing = (double)NAN;
    if (npeaks)
        *npeaks = 0;
    if (n < 0 || window < 1 || distance < 1)
        return tg_error_set(TG_EINVAL,
                            "peak_timing: need n >= 0, window >= 1, distance >= 1 (got %d, %d, %d)",
                            n, window, distance);
    if (n < 3)
        return TG_OK;

    /* valid pairs in time order, with their day, so windows across gaps can be skipped */
    size_t bytes = (size_t)n * (2 * sizeof(double) + 2 * sizeof(int));
    double *o = tg_malloc(bytes);
    if (!o)
        return tg_error_prefix(TG_ENOMEM, "peak_timing: ");
    double *s = o + n;
    int *day = (int *)(s + n), *pk = day + n;
    int nv = 0;
    for (int t = 0; t < n; t++)
        if (isfinite(obs[t]) && isfinite(sim[t])) {
            o[nv] = obs[t];
            s[nv] = sim[t];
            day[nv++] = t;
        }

    double mean = 0.0, var = 0.0;
    for (int i = 0; i < nv; i++)
        mean += o[i];
    mean /= nv > 0 ? nv : 1;
    for (int i = 0; i < nv; i++)
        var += (o[i] - mean) * (o[i] - mean);
    double sd = nv > 0 ? sqrt(var / nv) : 0.0;

    int np = tg_find_peaks(o, nv, distance, sd, pk);
    if (np < 0) {
        tg_free(o, bytes);
        return tg_error_code();
    }
    double sum = 0.0;
    int used = 0;
    for (int j = 0; j < np; j++) {
        int p = pk[j];
        /* the whole window must exist and hold consecutive days */
        if (p - window < 0 || p + window > nv - 1 || day[p + window] - day[p - window] != 2 * window)
            continue;
        int best = p;
        if (!(s[p] > s[p - 1] && s[p] > s[p + 1])) {
            best = p - window; /* first maximum in the window */
            for (int i = p - window + 1; i <= p + window; i++)
                if (s[i] > s[best])
                    best = i;
        }
        sum += abs(day[best] - day[p]);
        used++;
    }
    tg_free(o, bytes);
    if (used > 0)
        *timing = sum / used;
    if (npeaks)
        *npeaks = used;
    return TG_OK;
}
