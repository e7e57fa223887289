/* extremes_run.c — `terragrad test RUN --extremes`: after the normal evaluation, the
 * period's predictions_<period>/<basin>.csv against the training record of each basin
 * (observed flow over the run's periods.train_*): floods above the training maximum and dry
 * years (tg_extremes_find, src/eval/extremes.c) into extremes_<period>.csv, the medians into
 * the period's log. Works for seed ensembles (the mean prediction). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

/* Median of the finite values of field k of the events of one kind. */
static double median_of(const tg_extreme *ev, int n, int kind, size_t off, int absolute)
{
    double *x = malloc(((size_t)n + 1) * sizeof *x);
    if (!x)
        return NAN;
    int c = 0;
    for (int i = 0; i < n; i++)
        if (ev[i].kind == kind) {
            double v = *(const double *)((const char *)&ev[i] + off);
            x[c++] = absolute ? fabs(v) : v;
        }
    double m = tg_median_finite(x, c);
    free(x);
    return m;
}

static void put(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.10g", v);
    else
        fprintf(f, ",NA");
}

int tg_extremes_run(const char *run_dir, const char *period, const tg_extremes_options *opt)
{
    if (!tg_dist_is_root())
        return 0;
    char cpath[4200], path[4400], tmp[4500], date[16];
    tg_cfg *cfg = tg_train_load_run_config(run_dir, cpath, sizeof cpath);
    if (!cfg)
        return tg_error_code();
    int tr0, tr1, rc = tg_train_period(cfg, cpath, "train", &tr0, &tr1);
    /* the dataset with the run's normalisation (a seed ensemble: its first member's) */
    long seed0;
    char norm_dir[4200];
    int members = tg_run_ensemble_seeds(run_dir, &seed0, 1);
    if (members > 0)
        snprintf(norm_dir, sizeof norm_dir, "%s/seed_%ld", run_dir, seed0);
    else
        snprintf(norm_dir, sizeof norm_dir, "%s", run_dir);
    tg_dataset d = {0};
    tg_runlog quiet = {0};
    int have = 0;
    if (!rc && !(rc = tg_dataset_load(&d, cfg, norm_dir, 0, &quiet)))
        have = 1;
    int cap = 0, n_ev = 0;
    tg_extreme *ev = NULL;
    int *ev_basin = NULL;
    double *obs_train = NULL;
    for (int b = 0; have && !rc && b < d.B; b++) {
        snprintf(path, sizeof path, "%s/predictions_%s/%s.csv", run_dir, period, d.raw[b].id);
        tg_pred_series s;
        if ((rc = tg_pred_read(path, &s)))
            break;
        int first = 0;
        if (s.n > 0 && tg_date_parse(s.date[0], &first)) {
            rc = tg_error_set(TG_EINVAL, "%s:2: bad date '%s'", path, s.date[0]);
            tg_pred_free(&s);
            break;
        }
        const tg_basin *r = &d.raw[b];
        const int nt = tr1 - tr0 + 1;
        double *ot = realloc(obs_train, (size_t)nt * sizeof *ot);
        if (!ot) {
            rc = tg_error_set(TG_ENOMEM, "out of memory");
            tg_pred_free(&s);
            break;
        }
        obs_train = ot;
        for (int t = 0; t < nt; t++) {
            const int i = tr0 + t - r->start;
            obs_train[t] = i >= 0 && i < r->T && r->var[TG_VAR_Q] ? (double)r->var[TG_VAR_Q][i] : (double)NAN;
        }
        int k = tg_extremes_find(obs_train, nt, tr0, s.obs, s.q, s.n, first, opt, NULL, 0);
        if (k > 0 && n_ev + k > cap) {
            cap = 2 * (n_ev + k);
            void *e2 = realloc(ev, (size_t)cap * sizeof *ev), *b2 = realloc(ev_basin, (size_t)cap * sizeof *ev_basin);
            if (e2) ev = e2;
            if (b2) ev_basin = b2;
            if (!e2 || !b2)
                k = -1, tg_error_set(TG_ENOMEM, "out of memory");
        }
        if (k > 0)
            k = tg_extremes_find(obs_train, nt, tr0, s.obs, s.q, s.n, first, opt, ev + n_ev, k);
        for (int i = 0; i < k; i++) {
            ev_basin[n_ev + i] = b;
            if (ev[n_ev + i].kind == TG_EXTREME_PEAK) /* index -> day number */
                ev[n_ev + i].day += first;
        }
        tg_pred_free(&s);
        if (k < 0) {
            rc = tg_error_code() ? tg_error_code() : TG_EINVAL;
            break;
        }
        n_ev += k;
    }
    FILE *f;
    snprintf(path, sizeof path, "%s/extremes_%s.csv", run_dir, period);
    if (!rc && !(rc = tg_io_begin(path, tmp, sizeof tmp, &f))) {
        fprintf(f, "basin,event,date,record,obs,sim,peak_error,timing_days,volume_error,low_flow_error\n");
        for (int i = 0; i < n_ev; i++) {
            const tg_extreme *e = &ev[i];
            if (e->kind == TG_EXTREME_PEAK)
                fprintf(f, "%s,flood,%s,%d", d.raw[ev_basin[i]].id, tg_date_format(e->day, date), e->record);
            else
                fprintf(f, "%s,dry_year,%d,%d", d.raw[ev_basin[i]].id, e->day, e->record);
            put(f, e->obs), put(f, e->sim), put(f, e->peak_error), put(f, e->timing), put(f, e->volume_error);
            put(f, e->low_flow_error);
            fputc('\n', f);
        }
        rc = tg_io_commit(f, tmp, path);
    }
    if (!rc) {
        tg_runlog rl = {0};
        char logname[64];
        tg_eval_log_name(logname, sizeof logname, period);
        rc = tg_runlog_open(&rl, run_dir, logname);
        int nf = 0, nd = 0, ndr = 0;
        for (int i = 0; i < n_ev; i++) {
            nf += ev[i].kind == TG_EXTREME_PEAK;
            nd += ev[i].kind == TG_EXTREME_DRY_YEAR;
            ndr += ev[i].kind == TG_EXTREME_DRY_YEAR && ev[i].record;
        }
        tg_runlog_printf(&rl, "extremes (%s period against the training record %s..", period,
                         tg_date_format(tr0, date));
        tg_runlog_printf(&rl, "%s): %d floods above the training maximum; %d dry years (%d below the driest "
                              "training year)\n", tg_date_format(tr1, date), nf, nd, ndr);
        tg_runlog_printf(&rl, "%-16s %10s\n", "extremes", "median");
        tg_runlog_printf(&rl, "%-16s %10.4f\n", "peak_error", median_of(ev, n_ev, TG_EXTREME_PEAK, offsetof(tg_extreme, peak_error), 0));
        tg_runlog_printf(&rl, "%-16s %10.4f\n", "abs_timing_days", median_of(ev, n_ev, TG_EXTREME_PEAK, offsetof(tg_extreme, timing), 1));
        tg_runlog_printf(&rl, "%-16s %10.4f\n", "volume_error", median_of(ev, n_ev, TG_EXTREME_PEAK, offsetof(tg_extreme, volume_error), 0));
        tg_runlog_printf(&rl, "%-16s %10.4f\n", "low_flow_error", median_of(ev, n_ev, TG_EXTREME_DRY_YEAR, offsetof(tg_extreme, low_flow_error), 0));
        tg_runlog_printf(&rl, "wrote %s\n", path);
        tg_runlog_close(&rl);
    }
    free(ev), free(ev_basin), free(obs_train);
    if (have)
        tg_dataset_free(&d);
    tg_cfg_free(&cfg);
    return rc;
}
