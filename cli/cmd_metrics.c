/* cmd_metrics.c — `terragrad metrics`: score folders of simulated against observed flow.
 * Files are the generic CSV layout read by tg_csv_read_file (date + Q columns); series are
 * joined on date. Formulas and output layout: docs/metrics.md. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "terragrad.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: terragrad metrics --sim DIR --obs DIR [--out FILE]\n"
            "                         [--start YYYY-MM-DD --end YYYY-MM-DD] [--min-days N]\n\n"
            "Scores <basin_id>.csv files present in both folders (header line, a 'date'\n"
            "column YYYY-MM-DD and a 'Q' column; empty, NA, nan = missing), joined on date.\n"
            "  --out FILE      per-basin CSV: basin,NSE,KGE,...,n,n_peaks\n"
            "  --start/--end   inclusive period (default: all common days)\n"
            "  --min-days N    basins with fewer scored days are left out of the summary (1)\n"
            "Prints the median and mean of each metric over basins. See docs/metrics.md.\n");
}

/* ---------------------------------------------------------------- basin ids */
typedef struct {
    int n, cap;
    char (*id)[TG_ID_MAX];
} idlist;

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

/* The ids of every <id>.csv in dir, sorted so the output order is stable. */
static int list_csv(const char *dir, idlist *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return tg_error_set(TG_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".csv") || e->d_name[0] == '.')
            continue;
        if (len - 4 >= TG_ID_MAX) {
            fprintf(stderr, "terragrad metrics: %s/%s: basin id longer than %d characters, skipped\n",
                    dir, e->d_name, TG_ID_MAX - 1);
            continue;
        }
        if (l->n == l->cap) {
            int cap = l->cap ? 2 * l->cap : 64;
            void *p = realloc(l->id, (size_t)cap * sizeof *l->id);
            if (!p) {
                closedir(d);
                return tg_error_set(TG_ENOMEM, "out of memory listing %s", dir);
            }
            l->id = p;
            l->cap = cap;
        }
        memcpy(l->id[l->n], e->d_name, len - 4);
        l->id[l->n++][len - 4] = '\0';
    }
    closedir(d);
    if (l->n)
        qsort(l->id, (size_t)l->n, sizeof *l->id, cmp_id);
    return TG_OK;
}

static int has_id(const idlist *l, const char *id)
{
    return l->n && bsearch(id, l->id, (size_t)l->n, sizeof *l->id, cmp_id) != NULL;
}

/* ---------------------------------------------------------------- one basin */
/* Reads <dir>/<id>.csv and checks it has a Q column. */
static int read_q(const char *dir, const char *id, tg_basin *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.csv", dir, id);
    int st = tg_csv_read_file(path, id, b);
    if (!st && !b->var[TG_VAR_Q]) {
        tg_basin_free(b);
        return tg_error_set(TG_EINVAL, "%s: line 1: no 'Q' column", path);
    }
    return st;
}

/* Joins obs and sim on date over [first, last] (clipped to the days both files cover) and
 * scores them. Returns TG_ENOMEM only; metric-level problems become a warning + NaN row. */
static int score_basin(const tg_basin *ob, const tg_basin *sb, int first, int last,
                       tg_metrics *m)
{
    int lo = ob->start > sb->start ? ob->start : sb->start;
    int hi_o = ob->start + ob->T - 1, hi_s = sb->start + sb->T - 1;
    int hi = hi_o < hi_s ? hi_o : hi_s;
    if (first > lo)
        lo = first;
    if (last < hi)
        hi = last;
    int n = hi >= lo ? hi - lo + 1 : 0;
    double *o = malloc((size_t)(n ? 2 * n : 1) * sizeof *o);
    if (!o)
        return tg_error_set(TG_ENOMEM, "out of memory for basin %s", ob->id);
    double *s = o + n;
    for (int t = 0; t < n; t++) {
        o[t] = (double)ob->var[TG_VAR_Q][lo + t - ob->start];
        s[t] = (double)sb->var[TG_VAR_Q][lo + t - sb->start];
    }
    int st = tg_metrics_compute(o, s, n, m);
    free(o);
    if (st == TG_ENOMEM)
        return st;
    if (st)
        fprintf(stderr, "terragrad metrics: warning: basin %s: %s\n", ob->id, tg_error_message());
    if (m->n_sim_missing)
        fprintf(stderr, "terragrad metrics: warning: basin %s: %d observed days have no simulated value\n",
                ob->id, m->n_sim_missing);
    tg_error_clear();
    return TG_OK;
}

/* ---------------------------------------------------------------- output */
static void put_value(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "," TG_METRIC_FMT, x);
    else
        fputs(",NA", f);
}

static int write_csv(const char *path, const idlist *ids, const tg_metrics *m)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot write: %s", path, strerror(errno));
    fputs("basin", f);
    for (int k = 0; k < TG_METRIC_COUNT; k++)
        fprintf(f, ",%s", tg_metric_names[k]);
    fputs(",n,n_peaks\n", f);
    for (int b = 0; b < ids->n; b++) {
        fputs(ids->id[b], f);
        for (int k = 0; k < TG_METRIC_COUNT; k++)
            put_value(f, tg_metric_get(&m[b], k));
        fprintf(f, ",%d,%d\n", m[b].n, m[b].n_peaks);
    }
    int bad = ferror(f);
    if (fclose(f) || bad)
        return tg_error_set(TG_EIO, "%s: write failed", path);
    return TG_OK;
}

static void print_summary(const tg_metrics *m, int B, int min_days)
{
    tg_metrics med, avg;
    int count[TG_METRIC_COUNT];
    if (tg_metrics_summary(m, B, min_days, &med, &avg, count)) {
        fprintf(stderr, "terragrad metrics: %s\n", tg_error_message());
        return;
    }
    printf("%d basins scored, %d with >= %d days\n", B, med.n, min_days);
    printf("%-12s %12s %12s %8s\n", "metric", "median", "mean", "basins");
    for (int k = 0; k < TG_METRIC_COUNT; k++) {
        double md = tg_metric_get(&med, k), mn = tg_metric_get(&avg, k);
        if (count[k])
            printf("%-12s %12.4f %12.4f %8d\n", tg_metric_names[k], md, mn, count[k]);
        else
            printf("%-12s %12s %12s %8d\n", tg_metric_names[k], "NA", "NA", 0);
    }
}

/* ---------------------------------------------------------------- command */
int tg_cmd_metrics(int argc, char **argv)
{
    const char *sim_dir = NULL, *obs_dir = NULL, *out = NULL, *start = NULL, *end = NULL;
    int min_days = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "terragrad metrics: %s: missing value or unknown option\n\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--sim"))
            sim_dir = v;
        else if (!strcmp(a, "--obs"))
            obs_dir = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--start"))
            start = v;
        else if (!strcmp(a, "--end"))
            end = v;
        else if (!strcmp(a, "--min-days")) {
            char *e;
            long x = strtol(v, &e, 10);
            if (*e || e == v || x < 0 || x > 1000000000L) {
                fprintf(stderr, "terragrad metrics: --min-days '%s': not a count\n", v);
                return 2;
            }
            min_days = (int)x;
        } else {
            fprintf(stderr, "terragrad metrics: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!sim_dir || !obs_dir) {
        fprintf(stderr, "terragrad metrics: --sim and --obs are required\n\n");
        usage(stderr);
        return 2;
    }
    int first = -1000000000, last = 1000000000; /* day numbers; default: no limit */
    const char *bad = start && tg_date_parse(start, &first) ? start
                      : end && tg_date_parse(end, &last)    ? end
                                                            : NULL;
    if (bad) {
        fprintf(stderr, "terragrad metrics: --start/--end '%s': expected YYYY-MM-DD\n", bad);
        return 2;
    }
    if (first > last) {
        fprintf(stderr, "terragrad metrics: --start %s is after --end %s\n", start, end);
        return 2;
    }

    idlist obs_ids = {0}, sim_ids = {0}, ids = {0};
    tg_metrics *m = NULL;
    int rc = 1;
    if (list_csv(obs_dir, &obs_ids) || list_csv(sim_dir, &sim_ids))
        goto fail;
    ids.id = malloc((size_t)(obs_ids.n ? obs_ids.n : 1) * sizeof *ids.id);
    m = malloc((size_t)(obs_ids.n ? obs_ids.n : 1) * sizeof *m);
    if (!ids.id || !m) {
        tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < obs_ids.n; i++)
        if (has_id(&sim_ids, obs_ids.id[i]))
            memcpy(ids.id[ids.n++], obs_ids.id[i], TG_ID_MAX);
        else
            fprintf(stderr, "terragrad metrics: basin %s: no simulation in %s, skipped\n",
                    obs_ids.id[i], sim_dir);
    for (int i = 0; i < sim_ids.n; i++)
        if (!has_id(&obs_ids, sim_ids.id[i]))
            fprintf(stderr, "terragrad metrics: basin %s: no observations in %s, skipped\n",
                    sim_ids.id[i], obs_dir);
    if (ids.n == 0) {
        tg_error_set(TG_EINVAL, "no basin has a .csv file in both %s and %s", obs_dir, sim_dir);
        goto fail;
    }

    for (int b = 0; b < ids.n; b++) {
        tg_basin ob, sb;
        if (read_q(obs_dir, ids.id[b], &ob))
            goto fail;
        if (read_q(sim_dir, ids.id[b], &sb)) {
            tg_basin_free(&ob);
            goto fail;
        }
        int st = score_basin(&ob, &sb, first, last, &m[b]);
        tg_basin_free(&ob);
        tg_basin_free(&sb);
        if (st)
            goto fail;
    }
    if (out && write_csv(out, &ids, m))
        goto fail;
    print_summary(m, ids.n, min_days);
    if (out)
        printf("per-basin metrics written to %s\n", out);
    rc = 0;
fail:
    if (rc)
        fprintf(stderr, "terragrad metrics: %s\n", tg_error_message());
    free(obs_ids.id);
    free(sim_ids.id);
    free(ids.id);
    free(m);
    return rc;
}
