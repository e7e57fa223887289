/* lhs.c — Latin hypercube sampling (McKay, Beckman & Conover 1979): every parameter's
 * range is cut into N equal strata and each stratum is used by exactly one sample, so N
 * samples cover every marginal evenly — the point of LHS over plain random sampling when
 * N is only a few thousand for 5-7 parameters. */
#include "surrogate/surrogate_internal.h"

int tg_lhs(tg_rng *rng, int N, int P, double *u)
{
    if (!rng || N < 1 || P < 1 || !u)
        return tg_error_set(TG_EINVAL, "lhs: need N >= 1 (%d), P >= 1 (%d) and arrays", N, P);
    int *perm = tg_malloc((size_t)N * sizeof *perm);
    if (!perm)
        return tg_error_set(TG_ENOMEM, "lhs: out of memory for N = %d", N);
    for (int p = 0; p < P; p++) {
        /* Fisher-Yates: an unbiased random permutation of the strata for this column. */
        for (int i = 0; i < N; i++)
            perm[i] = i;
        for (int i = N - 1; i > 0; i--) {
            int j = (int)tg_rng_below(rng, (uint64_t)i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < N; i++) {
            double x = ((double)perm[i] + tg_rng_uniform(rng)) / (double)N;
            /* (k + U) / N can round up to (k + 1) / N for huge N; keep it in stratum k. */
            if (x >= (double)(perm[i] + 1) / (double)N)
                x = ((double)perm[i] + 0.5) / (double)N;
            u[(size_t)i * (size_t)P + (size_t)p] = x;
        }
    }
    tg_free(perm, (size_t)N * sizeof *perm);
    return 0;
}

void tg_lhs_scale(const double *u, int N, int P, const double *lo, const double *hi, double *x)
{
    for (int i = 0; i < N; i++)
        for (int p = 0; p < P; p++) {
            size_t k = (size_t)i * (size_t)P + (size_t)p;
            x[k] = lo[p] + u[k] * (hi[p] - lo[p]);
        }
}
