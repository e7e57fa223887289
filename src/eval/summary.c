/* summary.c — median and mean of each metric over basins (the numbers papers report).
 * Basins with fewer than min_n scored days, and NaN values of a metric, are left out of that
 * metric only, so one undefined KGE does not drop the basin's NSE. */
#include <math.h>
#include <stdlib.h>

#include "terragrad.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int tg_metrics_summary(const tg_metrics *m, int B, int min_n, tg_metrics *median,
                       tg_metrics *mean, int *count)
{
    tg_metrics med, avg;
    tg_metrics_set_nan(&med);
    tg_metrics_set_nan(&avg);
    double *v = tg_malloc((size_t)(B > 0 ? B : 1) * sizeof *v);
    if (!v)
        return tg_error_prefix(TG_ENOMEM, "metrics summary: ");
    int nb = 0, nmiss = 0, npk = 0;
    for (int b = 0; b < B; b++)
        if (m[b].n >= min_n) {
            nb++;
            nmiss += m[b].n_sim_missing;
            npk += m[b].n_peaks;
        }
    for (int k = 0; k < TG_METRIC_COUNT; k++) {
        int c = 0;
        double sum = 0.0;
        for (int b = 0; b < B; b++) { /* basin order: the mean does not depend on threads */
            double x = tg_metric_get(&m[b], k);
            if (m[b].n >= min_n && isfinite(x)) {
                v[c++] = x;
                sum += x;
            }
        }
        if (count)
            count[k] = c;
        if (c == 0)
            continue;
        qsort(v, (size_t)c, sizeof *v, cmp_double);
        double md = c % 2 ? v[c / 2] : 0.5 * (v[c / 2 - 1] + v[c / 2]);
        tg_metric_set(&med, k, md);
        tg_metric_set(&avg, k, sum / c);
    }
    tg_free(v, (size_t)(B > 0 ? B : 1) * sizeof *v);
    med.n = avg.n = nb;
    med.n_sim_missing = avg.n_sim_missing = nmiss;
    med.n_peaks = avg.n_peaks = npk;
    if (median)
        *median = med;
    if (mean)
        *mean = avg;
    return TG_OK;
}
