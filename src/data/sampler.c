/* sampler.c — seeded minibatches of (basin, time window). All valid windows are listed
 * once up front (a few million ints at most) and shuffled per epoch, so an epoch sees
 * every window exactly once and the order depends only on the seed. Validity uses prefix
 * counts per basin, O(1) per window: no missing input anywhere in the window, and at
 * least one observed target in its prediction part (the loss would be empty otherwise). */
#include <math.h>
#include <string.h>

#include "data/data_internal.h"

static void shuffle(tg_sampler *s)
{
    for (long i = s->n_windows - 1; i > 0; i--) {
        long j = (long)tg_rng_below(&s->rng, (uint64_t)(i + 1));
        int b = s->basin[i], o = s->offset[i];
        s->basin[i] = s->basin[j];
        s->offset[i] = s->offset[j];
        s->basin[j] = b;
        s->offset[j] = o;
    }
}

/* Prefix counts for one basin: miss[t] = input-missing days in [0, t), obs[t] = observed
 * targets in [0, t). */
static void prefix(const tg_basin *b, const int *vars, int F, int target, int *miss, int *obs)
{
    miss[0] = obs[0] = 0;
    for (int t = 0; t < b->T; t++) {
        int m = 0;
        for (int f = 0; f < F; f++) m |= isnan(b->var[vars[f]][t]);
        miss[t + 1] = miss[t] + m;
        obs[t + 1] = obs[t] + !isnan(b->var[target][t]);
    }
}

/* Visits the valid windows of basin b (emit = 0: count only). */
static long scan(tg_sampler *s, const tg_basin *b, int bi, const int *miss, const int *obs, int first,
                 int last, long at, int emit)
{
    int L = s->warmup + s->horizon;
    int lo = first - b->start, hi = last - b->start - L + 1;   /* offsets, inclusive */
    if (lo < 0) lo = 0;
    if (hi > b->T - L) hi = b->T - L;
    long n = 0;
    for (int o = lo; o <= hi; o++) {
        if (miss[o + L] - miss[o] != 0) continue;
        if (obs[o + L] - obs[o + s->warmup] == 0) continue;
        if (emit) {
            s->basin[at + n] = bi;
            s->offset[at + n] = o;
        }
        n++;
    }
    return n;
}

int tg_sampler_init(tg_sampler *s, const tg_basin *basins, int B, const int *input_vars, int F,
                    int target_var, int first, int last, int warmup, int horizon, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    if (B < 1 || F < 0 || warmup < 0 || horizon < 1 || target_var < 0 || target_var >= TG_NVAR)
        return tg_error_set(TG_EINVAL, "sampler: bad arguments (B %d, F %d, warmup %d, horizon %d, target %d)", B,
                            F, warmup, horizon, target_var);
    int Tmax = 0;
    for (int b = 0; b < B; b++) {
        for (int f = 0; f < F; f++)
            if (input_vars[f] < 0 || input_vars[f] >= TG_NVAR || !basins[b].var[input_vars[f]])
                return tg_error_set(TG_EINVAL, "sampler: basin '%s' has no input variable '%s'", basins[b].id,
                                    tg_var_name(input_vars[f]));
        if (!basins[b].var[target_var])
            return tg_error_set(TG_EINVAL, "sampler: basin '%s' has no target variable '%s'", basins[b].id,
                                tg_var_name(target_var));
        if (basins[b].T > Tmax) Tmax = basins[b].T;
    }
    s->warmup = warmup;
    s->horizon = horizon;
    size_t pbytes = (size_t)(Tmax + 1) * sizeof(int);
    int *miss = tg_malloc(pbytes), *obs = tg_malloc(pbytes);
    int rc = (!miss || !obs) ? TG_ENOMEM : 0;
    /* two passes: count, then fill exactly sized arrays */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        long at = 0;
        for (int b = 0; b < B; b++) {
            prefix(&basins[b], input_vars, F, target_var, miss, obs);
            at += scan(s, &basins[b], b, miss, obs, first, last, at, pass);
        }
        if (pass == 0) {
            if (at == 0) {
                char a[11], c[11];
                rc = tg_error_set(TG_EINVAL,
                                  "sampler: no window of %d days in %s..%s has complete inputs and an observed "
                                  "target in its last %d days",
                                  warmup + horizon, tg_date_format(first, a), tg_date_format(last, c), horizon);
                break;
            }
            s->n_windows = at;
            s->basin = tg_malloc((size_t)at * sizeof(int));
            s->offset = tg_malloc((size_t)at * sizeof(int));
            if (!s->basin || !s->offset) rc = TG_ENOMEM;
        }
    }
    tg_free(miss, pbytes);
    tg_free(obs, pbytes);
    if (rc) {
        tg_sampler_free(s);
        return rc;
    }
    tg_rng_seed(&s->rng, seed);
    shuffle(s);
    return 0;
}

int tg_sampler_next(tg_sampler *s, int nb, int *basin_idx, int *offset)
{
    if (s->pos >= s->n_windows) {
        shuffle(s);
        s->pos = 0;
        s->epoch++;
    }
    long left = s->n_windows - s->pos;
    int n = nb < left ? nb : (int)left;
    memcpy(basin_idx, s->basin + s->pos, (size_t)n * sizeof(int));
    memcpy(offset, s->offset + s->pos, (size_t)n * sizeof(int));
    s->pos += n;
    return n;
}

int tg_sampler_restore(tg_sampler *s, int epoch, long pos, const tg_rng *rng)
{
    if (epoch < s->epoch || pos < 0 || pos > s->n_windows)
        return tg_error_set(TG_EINVAL, "sampler: cannot restore epoch %d position %ld (%ld windows)", epoch, pos,
                            s->n_windows);
    /* each epoch's order is a shuffle of the previous one: replay them */
    while (s->epoch < epoch) {
        shuffle(s);
        s->epoch++;
    }
    s->pos = pos;
    if (rng && memcmp(rng->s, s->rng.s, sizeof rng->s) != 0)
        return tg_error_set(TG_EINVAL, "sampler: the replayed shuffles do not reach the saved generator state "
                                       "(the training windows differ from the run's)");
    return 0;
}

void tg_sampler_free(tg_sampler *s)
{
    tg_free(s->basin, (size_t)(s->n_windows > 0 ? s->n_windows : 0) * sizeof(int));
    tg_free(s->offset, (size_t)(s->n_windows > 0 ? s->n_windows : 0) * sizeof(int));
    s->basin = s->offset = NULL;
    s->n_windows = 0;
}

void tg_batch_gather(const tg_basin *basins, const int *basin_idx, const int *offset, int nb, int L,
                     const int *vars, int F, const tg_real *statics, int S, tg_real *x)
{
    const int W = F + S;
    for (int k = 0; k < nb; k++) {
        const tg_basin *b = &basins[basin_idx[k]];
        const tg_real *st = statics ? statics + (size_t)basin_idx[k] * S : NULL;
        for (int t = 0; t < L; t++) {
            tg_real *row = x + ((size_t)t * nb + k) * W;   /* (L, nb, F + S) */
            int i = offset[k] + t;
            for (int f = 0; f < F; f++) {
                const tg_real *v = b->var[vars[f]];
                row[f] = (v && i >= 0 && i < b->T) ? v[i] : (tg_real)NAN;
            }
            for (int j = 0; j < S && st; j++) row[F + j] = st[j];
        }
    }
}
