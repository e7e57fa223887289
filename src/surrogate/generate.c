/* generate.c — surrogate training sets: Latin-hypercube parameter sets paired with real
 * forcing windows (random basin, random window without missing forcing), run through the
 * black box in one parallel batch. Failed runs stay in the set, marked, so a crash of the
 * legacy model on some corner of the parameter space costs one sample, not the run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "surrogate/surrogate_internal.h"
#include "surrogate/surrogate_net.h"

/* ---------------------------------------------------------------- allocation */
int tg__surr_data_alloc(tg_surr_data *d, int N, int T, int nf, int np, int nout)
{
    memset(d, 0, sizeof *d);
    d->N = N;
    d->T = T;
    d->nf = nf;
    d->np = np;
    d->nout = nout;
    const size_t n = (size_t)N, tn = (size_t)T;
    d->params = tg_calloc(n * (size_t)np, sizeof *d->params);
    d->forcing = tg_calloc(n * tn * (size_t)nf, sizeof *d->forcing);
    d->out = tg_calloc(n * tn * (size_t)nout, sizeof *d->out);
    d->status = tg_calloc(n, sizeof *d->status);
    d->start = tg_calloc(n, sizeof *d->start);
    d->basin = tg_calloc(n, sizeof *d->basin);
    d->lo = tg_calloc((size_t)np, sizeof *d->lo);
    d->hi = tg_calloc((size_t)np, sizeof *d->hi);
    d->param_name = tg_calloc((size_t)np, sizeof *d->param_name);
    d->forcing_name = tg_calloc((size_t)nf, sizeof *d->forcing_name);
    if (!d->params || !d->forcing || !d->out || !d->status || !d->start || !d->basin || !d->lo || !d->hi ||
        !d->param_name || !d->forcing_name) {
        tg_surr_data_free(d);
        return tg_error_set(TG_ENOMEM, "surrogate data: out of memory for %d samples x %d days", N, T);
    }
    return 0;
}

void tg_surr_data_free(tg_surr_data *d)
{
    if (!d)
        return;
    const size_t n = (size_t)d->N, tn = (size_t)d->T;
    tg_free(d->params, n * (size_t)d->np * sizeof *d->params);
    tg_free(d->forcing, n * tn * (size_t)d->nf * sizeof *d->forcing);
    tg_free(d->out, n * tn * (size_t)d->nout * sizeof *d->out);
    tg_free(d->status, n * sizeof *d->status);
    tg_free(d->start, n * sizeof *d->start);
    tg_free(d->basin, n * sizeof *d->basin);
    tg_free(d->lo, (size_t)d->np * sizeof *d->lo);
    tg_free(d->hi, (size_t)d->np * sizeof *d->hi);
    tg_free(d->param_name, (size_t)d->np * sizeof *d->param_name);
    tg_free(d->forcing_name, (size_t)d->nf * sizeof *d->forcing_name);
    memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------- windows */
/* Start offsets (into basin b's arrays) of every window of W days inside [first, last]
 * whose forcing has no NaN. Returns the count (0 if none), -1 on allocation failure;
 * *cap = allocated length of *starts (for tg_free). */
static int valid_starts(const tg_basin *b, const int *vars, int nf, int W, int first, int last, int **starts,
                        int *cap)
{
    *starts = NULL;
    *cap = 0;
    int lo = 0, hi = b->T - 1;                 /* usable index range */
    if (first <= last) {
        if (first - b->start > lo) lo = first - b->start;
        if (last - b->start < hi) hi = last - b->start;
    }
    const int n_days = hi - lo + 1;
    if (n_days < W)
        return 0;
    /* bad[i] = number of days with a missing forcing among [lo, lo + i) */
    int *bad = tg_malloc(((size_t)n_days + 1) * sizeof *bad);
    int *s = tg_malloc(((size_t)(n_days - W + 1)) * sizeof *s);
    if (!bad || !s) {
        tg_free(bad, ((size_t)n_days + 1) * sizeof *bad);
        tg_free(s, (size_t)(n_days - W + 1) * sizeof *s);
        return -1;
    }
    bad[0] = 0;
    for (int i = 0; i < n_days; i++) {
        int miss = 0;
        for (int k = 0; k < nf; k++)
            miss |= !b->var[vars[k]] || !isfinite(b->var[vars[k]][lo + i]);
        bad[i + 1] = bad[i] + miss;
    }
    int n = 0;
    for (int i = 0; i + W <= n_days; i++)
        if (bad[i + W] == bad[i])
            s[n++] = lo + i;
    tg_free(bad, ((size_t)n_days + 1) * sizeof *bad);
    if (n == 0) {
        tg_free(s, (size_t)(n_days - W + 1) * sizeof *s);
        return 0;
    }
    *starts = s;
    *cap = n_days - W + 1;
    return n;
}

/* ---------------------------------------------------------------- generation */
int tg_surr_generate(tg_blackbox *bb, const tg_basin *basins, int B, const tg_surr_design *d, tg_surr_data *out)
{
    static const int default_vars[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    if (!bb || !basins || B < 1 || !d || !out || !d->lo || !d->hi)
        return tg_error_set(TG_EINVAL, "surrogate generate: NULL argument or no basins");
    int np, nf, nout;
    tg_blackbox_dims(bb, &np, &nf, &nout);
    const int *vars = d->forcing_vars ? d->forcing_vars : default_vars;
    if (!d->forcing_vars && nf != 3)
        return tg_error_set(TG_EINVAL, "surrogate generate: model '%s' takes %d forcings; give forcing_vars "
                                       "(the default is P, T, PET)",
                            tg_blackbox_name(bb), nf);
    if (d->n_samples < 1 || d->window < 1)
        return tg_error_set(TG_EINVAL, "surrogate generate: n_samples (%d) and window (%d) must be >= 1",
                            d->n_samples, d->window);
    for (int k = 0; k < np; k++)
        if (!(d->lo[k] <= d->hi[k]))
            return tg_error_set(TG_EINVAL, "surrogate generate: range of parameter %d is [%g, %g]", k, d->lo[k],
                                d->hi[k]);
    const int N = d->n_samples, T = d->window;

    /* Valid windows per basin. */
    int **starts = tg_calloc((size_t)B, sizeof *starts), *nstart = tg_calloc((size_t)B, sizeof *nstart);
    int *usable = tg_calloc((size_t)B, sizeof *usable), *cap = tg_calloc((size_t)B, sizeof *cap);
    double *u = tg_malloc((size_t)N * (size_t)np * sizeof *u);
    int rc = 0, n_usable = 0;
    if (!starts || !nstart || !usable || !cap || !u) {
        rc = tg_error_set(TG_ENOMEM, "surrogate generate: out of memory");
        goto done;
    }
    for (int b = 0; b < B; b++) {
        nstart[b] = valid_starts(&basins[b], vars, nf, T, d->first, d->last, &starts[b], &cap[b]);
        if (nstart[b] < 0) {
            nstart[b] = 0;
            rc = tg_error_set(TG_ENOMEM, "surrogate generate: out of memory");
            goto done;
        }
        if (nstart[b] > 0)
            usable[n_usable++] = b;
    }
    if (n_usable == 0) {
        rc = tg_error_set(TG_EINVAL, "surrogate generate: no basin has a %d-day window with complete forcing in "
                                     "the period",
                          T);
        goto done;
    }
    if ((rc = tg__surr_data_alloc(out, N, T, nf, np, nout)))
        goto done;

    /* Parameters first, then windows, from one seeded stream: the set is reproducible. */
    tg_rng rng;
    tg_rng_seed(&rng, d->seed);
    if ((rc = tg_lhs(&rng, N, np, u)))
        goto fail;
    tg_lhs_scale(u, N, np, d->lo, d->hi, out->params);
    for (int i = 0; i < N; i++) {
        const int b = usable[tg_rng_below(&rng, (uint64_t)n_usable)];
        const int off = starts[b][tg_rng_below(&rng, (uint64_t)nstart[b])];
        out->start[i] = basins[b].start + off;
        snprintf(out->basin[i], TG_ID_MAX, "%s", basins[b].id);
        double *f = out->forcing + (size_t)i * (size_t)T * (size_t)nf;
        for (int t = 0; t < T; t++)
            for (int k = 0; k < nf; k++)
                f[(size_t)t * (size_t)nf + (size_t)k] = (double)basins[b].var[vars[k]][off + t];
    }
    for (int k = 0; k < np; k++) {
        out->lo[k] = d->lo[k];
        out->hi[k] = d->hi[k];
        if (d->param_names && d->param_names[k])
            snprintf(out->param_name[k], TG_NAME_MAX, "%s", d->param_names[k]);
        else
            snprintf(out->param_name[k], TG_NAME_MAX, "p%d", k);
    }
    for (int k = 0; k < nf; k++)
        snprintf(out->forcing_name[k], TG_NAME_MAX, "%s", tg_var_name(vars[k]));
    snprintf(out->model, sizeof out->model, "%s", tg_blackbox_name(bb));
    out->seed = d->seed;

    double t0 = tg__bb_now();
    rc = tg_blackbox_run_batch(bb, N, T, out->forcing, (size_t)T * (size_t)nf, out->params, out->out, out->status,
                               NULL, &out->n_failed);
    out->seconds = tg__bb_now() - t0;
    if (rc)
        goto fail;
    if (out->n_failed == N) {
        rc = tg_error_prefix(TG_EEXTERNAL, "surrogate generate: every sample failed: ");
        goto fail;
    }
    if (out->n_failed)
        tg_error_clear();   /* a few failed samples are expected; they are marked in status */
    goto done;
fail:
    tg_surr_data_free(out);
done:
    if (starts && cap)
        for (int b = 0; b < B; b++)
            tg_free(starts[b], (size_t)cap[b] * sizeof **starts);
    tg_free(starts, (size_t)B * sizeof *starts);
    tg_free(nstart, (size_t)B * sizeof *nstart);
    tg_free(usable, (size_t)B * sizeof *usable);
    tg_free(cap, (size_t)B * sizeof *cap);
    tg_free(u, (size_t)N * (size_t)np * sizeof *u);
    return rc;
}
