/* ensemble.c — seed ensembles as a first-class run: a config with `seeds: [1, 2, 3]`
 * trains one member per seed into <run>/seed_<n>/ (each a normal run: its config.yaml is
 * the config with seed: n and seeds: []), and `terragrad test <run>` evaluates every member
 * and scores the MEAN of the members' predicted Q per basin and day, as
 * scripts/ensemble.sh does for runs trained apart (the same numbers: tests/cli_objective.sh). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train_internal.h"

enum { MAX_SEEDS = 64 };

/* The seeds of a loaded config (n = 0: no ensemble); TG_EINVAL naming file and line for a
 * non-integer, negative or repeated seed, or `seed` given as well. */
static int read_seeds(const tg_cfg *cfg, long *seeds, int *n)
{
    *n = tg_cfg_list_len(cfg, "seeds");
    const char *file = tg_cfg_path(cfg);
    const int line = tg_cfg_line(cfg, "seeds");
    if (*n > MAX_SEEDS)
        return tg_error_set(TG_EINVAL, "%s:%d: seeds: at most %d members", file, line, MAX_SEEDS);
    for (int i = 0; i < *n; i++) {
        const char *s = tg_cfg_list_item(cfg, "seeds", i);
        char *end;
        errno = 0;
        seeds[i] = strtol(s, &end, 10);
        if (!*s || *end || errno || seeds[i] < 0)
            return tg_error_set(TG_EINVAL, "%s:%d: seeds: '%s' is not a non-negative integer", file, line, s);
        for (int j = 0; j < i; j++)
            if (seeds[j] == seeds[i])
                return tg_error_set(TG_EINVAL, "%s:%d: seeds: %ld is given twice", file, line, seeds[i]);
    }
    if (*n > 0 && tg_cfg_has(cfg, "seed"))
        return tg_error_set(TG_EINVAL, "%s:%d: seed and seeds are both given (a seed ensemble takes its seeds "
                                       "from seeds: remove seed)",
                            file, tg_cfg_line(cfg, "seed"));
    return 0;
}

int tg_run_ensemble_seeds(const char *run_dir, long *seeds, int max)
{
    char path[4200];
    tg_cfg *cfg = tg_train_load_run_config(run_dir, path, sizeof path);
    if (!cfg)
        return -tg_error_code();
    long s[MAX_SEEDS];
    int n = 0, rc = read_seeds(cfg, s, &n);
    tg_cfg_free(&cfg);
    if (rc)
        return -rc;
    for (int i = 0; i < n && i < max && seeds; i++)
        seeds[i] = s[i];
    return n;
}

int tg_train_ensemble(const tg_cfg *cfg, const char *config_path, const char *run_dir,
                      const tg_train_options *opt)
{
    long seeds[MAX_SEEDS];
    int n, rc = read_seeds(cfg, seeds, &n);
    if (rc)
        return rc;
    tg_run_lock lk = {-1};
    if ((rc = tg_run_lock_acquire(&lk, run_dir, opt && opt->command ? opt->command : "terragrad train")))
        return rc;
    /* the ensemble folder holds config.yaml and the members; a single run there (its
     * last.ckpt) is replaced with --overwrite or refused, as any used folder */
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/last.ckpt", run_dir);
    if (stat(path, &st) == 0) {
        if (opt && opt->overwrite)
            rc = tg_run_remove_outputs(run_dir);
        else
            rc = tg_error_set(TG_EINVAL, "%s already holds a single training run: replace it with --overwrite, or "
                                         "choose another --out", run_dir);
    }
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    if (!rc && tg_dist_is_root())
        rc = tg_cfg_save(cfg, path);
    /* members: the caller's overrides, then seed and an empty seeds list */
    const int n_set0 = opt ? opt->n_set : 0;
    const char **sets = malloc((size_t)(n_set0 + 2) * sizeof *sets);
    if (!rc && !sets)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    char seed_set[64], member[4200];
    for (int i = 0; i < n && !rc; i++) {
        for (int k = 0; k < n_set0; k++)
            sets[k] = opt->set[k];
        snprintf(seed_set, sizeof seed_set, "seed=%ld", seeds[i]);
        sets[n_set0] = seed_set;
        sets[n_set0 + 1] = "seeds=[]";
        snprintf(member, sizeof member, "%s/seed_%ld", run_dir, seeds[i]);
        tg_train_options mo = opt ? *opt : (tg_train_options){0};
        mo.run_dir = member;
        mo.set = sets;
        mo.n_set = n_set0 + 2;
        if (tg_dist_is_root())
            printf("seed ensemble %s: member %d/%d, seed %ld -> %s\n", run_dir, i + 1, n, seeds[i], member);
        rc = tg_train(config_path, &mo);
    }
    free(sets);
    tg_run_lock_release(&lk);
    return rc;
}

/* ---------------------------------------------------------------- evaluation */
void tg_pred_free(tg_pred_series *s)
{
    free(s->date), free(s->obs), free(s->q);
    memset(s, 0, sizeof *s);
}

int tg_pred_read(const char *path, tg_pred_series *s)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot read (did the member's evaluation fail?)", path);
    char line[8192];
    int ln = 0, rc = 0;
    memset(s, 0, sizeof *s);
    while (!rc && fgets(line, sizeof line, f)) {
        ln++;
        if (ln == 1) {
            if (strncmp(line, "date,Q_obs,Q", 12) || (line[12] != ',' && line[12] != '\n' && line[12] != '\r'))
                rc = tg_error_set(TG_EINVAL, "%s:1: expected the header date,Q_obs,Q,...", path);
            continue;
        }
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 4096;
            void *d = realloc(s->date, (size_t)s->cap * sizeof *s->date), *o = realloc(s->obs, (size_t)s->cap * sizeof(double)),
                 *q = realloc(s->q, (size_t)s->cap * sizeof(double));
            if (d) s->date = d;
            if (o) s->obs = o;
            if (q) s->q = q;
            if (!d || !o || !q) {
                rc = tg_error_set(TG_ENOMEM, "out of memory");
                break;
            }
        }
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL, *end;
        if (!c1 || !c2 || c1 - line >= 16) {
            rc = tg_error_set(TG_EINVAL, "%s:%d: expected date,Q_obs,Q", path, ln);
            break;
        }
        snprintf(s->date[s->n], 16, "%.*s", (int)(c1 - line), line);
        s->obs[s->n] = strncmp(c1 + 1, "NA,", 3) ? strtod(c1 + 1, &end) : (double)NAN;
        s->q[s->n] = strtod(c2 + 1, &end);
        if (end == c2 + 1) {
            rc = tg_error_set(TG_EINVAL, "%s:%d: column Q is not a number", path, ln);
            break;
        }
        s->n++;
    }
    fclose(f);
    if (rc)
        tg_pred_free(s);
    return rc;
}

/* The basin ids of a member's metrics_<period>.csv (its first column), in its order. */
static int read_ids(const char *path, char (**ids)[TG_ID_MAX], int *B)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot read", path);
    char line[65536];
    int cap = 0, rc = 0;
    *B = 0;
    *ids = NULL;
    for (int ln = 1; !rc && fgets(line, sizeof line, f); ln++) {
        if (ln == 1)
            continue;
        if (*B == cap) {
            cap = cap ? 2 * cap : 256;
            void *p = realloc(*ids, (size_t)cap * sizeof **ids);
            if (!p) {
                rc = tg_error_set(TG_ENOMEM, "out of memory");
                break;
            }
            *ids = p;
        }
        snprintf((*ids)[(*B)++], TG_ID_MAX, "%.*s", (int)strcspn(line, ",\r\n"), line);
    }
    fclose(f);
    return rc;
}

/* Mean prediction of the members for one basin: writes <run>/predictions_<period>/<id>.csv
 * (date,Q_obs,Q) and scores it into *m. */
static int mean_basin(const char *run_dir, const long *seeds, int n, const char *period, const char *id,
                      tg_metrics *m)
{
    char path[4400];
    tg_pred_series first = {0}, s;
    double *mean = NULL;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        snprintf(path, sizeof path, "%s/seed_%ld/predictions_%s/%s.csv", run_dir, seeds[i], period, id);
        if ((rc = tg_pred_read(path, i ? &s : &first)))
            break;
        if (i == 0) {
            if (!(mean = calloc((size_t)first.n + 1, sizeof *mean)))
                rc = tg_error_set(TG_ENOMEM, "out of memory");
            for (int t = 0; t < first.n && !rc; t++)
                mean[t] = first.q[t];
            continue;
        }
        if (s.n != first.n)
            rc = tg_error_set(TG_EINVAL, "%s: %d days where seed %ld has %d", path, s.n, seeds[0], first.n);
        for (int t = 0; t < s.n && !rc; t++) {
            if (strcmp(s.date[t], first.date[t]))
                rc = tg_error_set(TG_EINVAL, "%s:%d: date %s where seed %ld has %s", path, t + 2, s.date[t], seeds[0],
                                  first.date[t]);
            mean[t] += s.q[t];
        }
        tg_pred_free(&s);
    }
    for (int t = 0; t < first.n && !rc; t++)
        mean[t] /= n;
    char tmp[4500];
    FILE *f;
    if (!rc) {
        snprintf(path, sizeof path, "%s/predictions_%s/%s.csv", run_dir, period, id);
        rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    }
    if (!rc) {
        fprintf(f, "date,Q_obs,Q\n");
        for (int t = 0; t < first.n; t++) {
            fprintf(f, "%s,", first.date[t]);
            if (isnan(first.obs[t]))
                fprintf(f, "NA");
            else
                fprintf(f, "%.17g", first.obs[t]);
            fprintf(f, ",%.17g\n", mean[t]);
        }
        rc = tg_io_commit(f, tmp, path);
    }
    if (!rc)
        tg_metrics_compute(first.obs, mean, first.n, m); /* NaN metrics for a basin without data */
    tg_pred_free(&first);
    free(mean);
    return rc;
}

/* One "median mean" table of the basins' metrics into the log (as tg_evaluate's). */
static int log_summary(tg_runlog *rl, const tg_metrics *met, int B)
{
    tg_metrics med, mean;
    int rc = tg_metrics_summary(met, B, 30, &med, &mean, NULL);
    tg_runlog_printf(rl, "%-12s %10s %10s\n", "metric", "median", "mean");
    for (int k = 0; !rc && k < TG_METRIC_COUNT; k++)
        tg_runlog_printf(rl, "%-12s %10.4f %10.4f\n", tg_metric_names[k], tg_metric_get(&med, k),
                         tg_metric_get(&mean, k));
    return rc;
}

int tg_evaluate_ensemble(const char *run_dir, const char *period)
{
    long seeds[MAX_SEEDS];
    int n = tg_run_ensemble_seeds(run_dir, seeds, MAX_SEEDS), rc = 0;
    if (n <= 0)
        return n < 0 ? -n : tg_error_set(TG_EINVAL, "%s: not a seed ensemble", run_dir);
    char member[4200], path[4400];
    /* each member: a normal evaluation, with its provenance (its own checkpoint) */
    for (int i = 0; i < n && !rc; i++) {
        snprintf(member, sizeof member, "%s/seed_%ld", run_dir, seeds[i]);
        rc = tg_evaluate(member, period);
        snprintf(path, sizeof path, "%s/last.ckpt", member);
        char source[64];
        snprintf(source, sizeof source, "outputs_%s.source", period);
        if (!rc && tg_dist_is_root())
            rc = tg_run_provenance_write(member, source, path);
    }
    if (rc || !tg_dist_is_root())
        return rc;
    tg_runlog rl = {0};
    char logname[64];
    tg_eval_log_name(logname, sizeof logname, period);
    if ((rc = tg_runlog_open(&rl, run_dir, logname)))
        return rc;
    snprintf(path, sizeof path, "%s/seed_%ld/metrics_%s.csv", run_dir, seeds[0], period);
    char (*ids)[TG_ID_MAX] = NULL;
    int B = 0;
    rc = read_ids(path, &ids, &B);
    tg_metrics *met = rc ? NULL : calloc((size_t)(B ? B : 1), sizeof *met);
    if (!rc && !met)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/predictions_%s", run_dir, period);
    if (!rc)
        rc = tg_mkdir_p(path);
    for (int b = 0; b < B && !rc; b++)
        rc = mean_basin(run_dir, seeds, n, period, ids[b], &met[b]);
    /* metrics_<period>.csv of the mean prediction, in the members' layout */
    char tmp[4500];
    FILE *f;
    snprintf(path, sizeof path, "%s/metrics_%s.csv", run_dir, period);
    if (!rc && !(rc = tg_io_begin(path, tmp, sizeof tmp, &f))) {
        fprintf(f, "basin");
        for (int k = 0; k < TG_METRIC_COUNT; k++)
            fprintf(f, ",%s", tg_metric_names[k]);
        fprintf(f, ",n_days\n");
        for (int b = 0; b < B; b++) {
            fprintf(f, "%s", ids[b]);
            for (int k = 0; k < TG_METRIC_COUNT; k++)
                fprintf(f, "," TG_METRIC_FMT, tg_metric_get(&met[b], k));
            fprintf(f, ",%d\n", met[b].n);
        }
        rc = tg_io_commit(f, tmp, path);
    }
    if (!rc) {
        tg_runlog_printf(&rl, "seed ensemble of %d members (seeds", n);
        for (int i = 0; i < n; i++)
            tg_runlog_printf(&rl, "%s%ld", i ? ", " : " ", seeds[i]);
        tg_runlog_printf(&rl, "), %s period, %d basins: each member's metrics in seed_<n>/metrics_%s.csv\n",
                         period, B, period);
        tg_runlog_printf(&rl, "mean prediction of the members:\n");
        rc = log_summary(&rl, met, B);
    }
    if (!rc)
        tg_runlog_printf(&rl, "wrote %s/metrics_%s.csv and predictions_%s/ (mean of the members' Q)\n", run_dir,
                         period, period);
    else
        tg_runlog_file(&rl, "error: %s\n", tg_error_message());
    free(ids);
    free(met);
    tg_runlog_close(&rl);
    return rc;
}
