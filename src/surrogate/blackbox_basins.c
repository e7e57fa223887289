/* blackbox_basins.c — the real black box on whole basin records: scoring given parameters
 * against observed flow (how learned parameters are judged: never by the surrogate), and
 * per-basin SCE-UA calibration of the black box (the baseline a surrogate must beat or
 * match for its cost). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "surrogate/surrogate_internal.h"
#if __has_include("terragrad/calibrate.h")
#include "terragrad/calibrate.h"
#define TG_HAVE_SCEUA 1
#endif

/* Forcing (T, 3) of basin b for days first..first+T-1; non-zero if a day is outside the
 * record or missing. */
static int basin_forcing(const tg_basin *b, int first, int T, double *f)
{
    static const int vars[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    const int o = first - b->start;
    if (o < 0 || o + T > b->T)
        return 1;
    for (int k = 0; k < 3; k++)
        if (!b->var[vars[k]])
            return 1;
    for (int t = 0; t < T; t++)
        for (int k = 0; k < 3; k++) {
            double v = (double)b->var[vars[k]][o + t];
            if (!isfinite(v))
                return 1;
            f[(size_t)t * 3 + (size_t)k] = v;
        }
    return 0;
}

int tg_blackbox_eval_basins(tg_blackbox *bb, const tg_basin *basins, int B, const double *params, int run_first,
                            int score_first, int score_last, tg_metrics *m, int *status, double *q_sim)
{
    int np, nf, nout;
    if (!bb || !basins || B < 1 || !params || !m)
        return tg_error_set(TG_EINVAL, "blackbox eval: NULL argument or no basins");
    tg_blackbox_dims(bb, &np, &nf, &nout);
    if (nf != 3)
        return tg_error_set(TG_EINVAL, "blackbox eval: model '%s' takes %d forcings, basins give P, T, PET",
                            tg_blackbox_name(bb), nf);
    if (!(run_first <= score_first && score_first <= score_last))
        return tg_error_set(TG_EINVAL, "blackbox eval: need run_first <= score_first <= score_last");
    const int T = score_last - run_first + 1, S = score_last - score_first + 1, skip = score_first - run_first;
    const size_t fsz = (size_t)B * (size_t)T * 3, osz = (size_t)B * (size_t)T * (size_t)nout;
    double *f = tg_calloc(fsz, sizeof *f), *out = tg_malloc(osz * sizeof *out);
    double *obs = tg_malloc((size_t)S * sizeof *obs), *sim = tg_malloc((size_t)S * sizeof *sim);
    int *why = tg_calloc((size_t)B, sizeof *why), *usable = tg_calloc((size_t)B, sizeof *usable);
    int rc = 0, nfail = 0;
    if (!f || !out || !obs || !sim || !why || !usable) {
        rc = tg_error_set(TG_ENOMEM, "blackbox eval: out of memory for %d basins x %d days", B, T);
        goto done;
    }
    for (int b = 0; b < B; b++)
        usable[b] = !basin_forcing(&basins[b], run_first, T, f + (size_t)b * (size_t)T * 3);
    if ((rc = tg_blackbox_run_batch(bb, B, T, f, (size_t)T * 3, params, out, why, NULL, &nfail)))
        goto done;
    tg_error_clear();
    for (int b = 0; b < B; b++) {
        if (!usable[b] && why[b] == TG_BB_OK)
            why[b] = TG_BB_SYSTEM;   /* the record does not cover the period */
        if (status)
            status[b] = why[b];
        const int o = score_first - basins[b].start;
        for (int t = 0; t < S; t++) {
            double q = basins[b].var[TG_VAR_Q] && o + t >= 0 && o + t < basins[b].T
                           ? (double)basins[b].var[TG_VAR_Q][o + t]
                           : (double)NAN;
            obs[t] = q;
            sim[t] = why[b] == TG_BB_OK ? out[((size_t)b * (size_t)T + (size_t)(skip + t)) * (size_t)nout] : (double)NAN;
            if (q_sim)
                q_sim[(size_t)b * (size_t)S + (size_t)t] = sim[t];
        }
        if (why[b] != TG_BB_OK) {
            tg_metrics_set_nan(&m[b]);
            continue;
        }
        tg_metrics_compute(obs, sim, S, &m[b]);   /* undefined metrics come out NaN */
    }
    tg_error_clear();
done:
    tg_free(f, fsz * sizeof *f);
    tg_free(out, osz * sizeof *out);
    tg_free(obs, (size_t)S * sizeof *obs);
    tg_free(sim, (size_t)S * sizeof *sim);
    tg_free(why, (size_t)B * sizeof *why);
    tg_free(usable, (size_t)B * sizeof *usable);
    return rc;
}

/* ---------------------------------------------------------------- SCE-UA baseline */
#ifdef TG_HAVE_SCEUA
typedef struct objective {
    tg_blackbox *bb;
    const double *f;        /* (T, 3) */
    const double *obs;      /* (S) */
    double *out;            /* (T, nout) scratch */
    int T, S, skip, nout;
} objective;

static int one_minus_nse(void *ud, const double *x, double *val)
{
    objective *o = ud;
    if (tg_blackbox_run(o->bb, o->T, o->f, x, o->out, NULL)) {
        tg_error_clear();
        return 1;           /* infeasible point: SCE-UA treats it as +inf and goes on */
    }
    double mean = 0, n = 0, num = 0, den = 0;
    for (int t = 0; t < o->S; t++)
        if (isfinite(o->obs[t])) {
            mean += o->obs[t];
            n++;
        }
    if (n < 2)
        return 1;
    mean /= n;
    for (int t = 0; t < o->S; t++) {
        double q = o->obs[t];
        if (!isfinite(q))
            continue;
        double e = o->out[(size_t)(o->skip + t) * (size_t)o->nout] - q;
        num += e * e;
        den += (q - mean) * (q - mean);
    }
    *val = den > 0 ? num / den : (double)INFINITY;
    return 0;
}
#endif

int tg_blackbox_calibrate_basins(tg_blackbox *bb, const tg_basin *basins, int B, const double *lo, const double *hi,
                                 int run_first, int score_first, int score_last, long max_evals, uint64_t seed,
                                 double *params, double *obj, long *evals)
{
#ifndef TG_HAVE_SCEUA
    (void)bb, (void)basins, (void)B, (void)lo, (void)hi, (void)run_first, (void)score_first, (void)score_last;
    (void)max_evals, (void)seed, (void)params, (void)obj, (void)evals;
    return tg_error_set(TG_ESTATE, "blackbox calibrate: built without terragrad/calibrate.h (SCE-UA)");
#else
    int np, nf, nout;
    if (!bb || !basins || B < 1 || !lo || !hi || !params || !obj)
        return tg_error_set(TG_EINVAL, "blackbox calibrate: NULL argument or no basins");
    tg_blackbox_dims(bb, &np, &nf, &nout);
    if (nf != 3 || !(run_first <= score_first && score_first <= score_last))
        return tg_error_set(TG_EINVAL, "blackbox calibrate: need 3 forcings (P, T, PET) and run_first <= "
                                       "score_first <= score_last");
    const int T = score_last - run_first + 1, S = score_last - score_first + 1;
    int rc = 0;
    /* Basins in parallel (the model runs in-process); the exec kind forks per run and
     * gains nothing from threads on top of its own process pool, so it goes one by one. */
    const int threads = bb->kind == TG_BB_EXEC || bb->serial ? 1 : bb->workers;
#pragma omp parallel num_threads(threads)
    {
        double *f = tg_malloc((size_t)T * 3 * sizeof *f), *obsb = tg_malloc((size_t)S * sizeof *obsb);
        double *out = tg_malloc((size_t)T * (size_t)nout * sizeof *out);
        int mine = (!f || !obsb || !out) ? TG_ENOMEM : 0;
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < B; b++) {
            double *x = params + (size_t)b * (size_t)np;
            obj[b] = NAN;
            if (evals)
                evals[b] = 0;
            for (int k = 0; k < np; k++)
                x[k] = NAN;
            if (mine || basin_forcing(&basins[b], run_first, T, f) || !basins[b].var[TG_VAR_Q])
                continue;
            const int o = score_first - basins[b].start;
            for (int t = 0; t < S; t++)
                obsb[t] = o + t < basins[b].T ? (double)basins[b].var[TG_VAR_Q][o + t] : (double)NAN;
            objective ob = {bb, f, obsb, out, T, S, score_first - run_first, nout};
            tg_sceua_options so;
            tg_sceua_options_init(&so);
            so.max_evals = max_evals;
            /* Per-basin stream: the result does not depend on thread count or order. */
            so.seed = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(b + 1));
            double fb;
            tg_sceua_stats st;
            if (tg_sceua_minimize(one_minus_nse, &ob, np, lo, hi, &so, x, &fb, &st) == 0) {
                obj[b] = fb;
                if (evals)
                    evals[b] = st.evals;
            } else {
                tg_error_clear();
            }
        }
        tg_free(f, (size_t)T * 3 * sizeof *f);
        tg_free(obsb, (size_t)S * sizeof *obsb);
        tg_free(out, (size_t)T * (size_t)nout * sizeof *out);
#pragma omp atomic
        rc |= mine;
    }
    if (rc)
        return tg_error_set(TG_ENOMEM, "blackbox calibrate: out of memory");
    return 0;
#endif
}
