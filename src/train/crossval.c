/* crossval.c — spatial k-fold cross-validation (`terragrad cv`): the config's basins in K
 * folds, one run per fold trained without it, every basin scored only by the run that never
 * saw it, one merged per-basin table and a summary. Every rank runs the same steps (train
 * and evaluation are data-parallel collectives); the root writes the files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

typedef struct cv_basin {
    char id[TG_ID_MAX];
    char stratum[64];   /* the --by value ("" without) */
    uint64_t key;       /* random order within the stratum */
    int fold;
} cv_basin;

static int cmp_stratum_key(const void *a, const void *b)
{
    const cv_basin *x = a, *y = b;
    char *ex, *ey; /* numbers (huc_02 "01", elevations) in numeric order, other values as text */
    double vx = strtod(x->stratum, &ex), vy = strtod(y->stratum, &ey);
    int c = ex != x->stratum && !*ex && ey != y->stratum && !*ey ? (vx > vy) - (vx < vy) : 0;
    if (!c)
        c = strcmp(x->stratum, y->stratum);
    if (c)
        return c;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : strcmp(x->id, y->id);
}

/* Field i of one CSV line (double quotes protect commas) into out; -1 if absent. */
static int csv_field(const char *line, int i, char *out, size_t size)
{
    int k = 0, q = 0;
    size_t o = 0;
    for (const char *p = line;; p++) {
        char ch = *p;
        if (ch == '"') {
            q = !q;
            continue;
        }
        if (!ch || ch == '\n' || ch == '\r' || (ch == ',' && !q)) {
            if (k == i) {
                out[o < size ? o : size - 1] = '\0';
                return 0;
            }
            if (!ch || ch == '\n' || ch == '\r')
                return -1;
            k++;
            o = 0;
            continue;
        }
        if (k == i && o + 1 < size)
            out[o++] = ch;
    }
}

/* The --by value of every basin: a column of <data.path>/basins.csv (Caravan: huc_02, ...),
 * else a static attribute of data.attributes. */
static int strata(const tg_cfg *cfg, const char *by, cv_basin *bs, int B)
{
    char path[4200], line[4096], cell[256];
    snprintf(path, sizeof path, "%s/basins.csv", tg_cfg_str(cfg, "data.path"));
    FILE *f = fopen(path, "r");
    int col = -1;
    if (f && fgets(line, sizeof line, f))
        for (int i = 0; csv_field(line, i, cell, sizeof cell) == 0; i++)
            if (!strcmp(cell, by))
                col = i;
    if (f && col >= 0) {
        int lineno = 1;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            char id[TG_ID_MAX];
            if (csv_field(line, 0, id, sizeof id) || csv_field(line, col, cell, sizeof cell))
                continue;
            for (int b = 0; b < B; b++)
                if (!strcmp(bs[b].id, id))
                    snprintf(bs[b].stratum, sizeof bs[b].stratum, "%.63s", cell);
        }
        fclose(f);
        for (int b = 0; b < B; b++)
            if (!bs[b].stratum[0])
                return tg_error_set(TG_EINVAL, "%s: field '%s': no value for basin '%s' (--by)", path, by, bs[b].id);
        return 0;
    }
    if (f)
        fclose(f);
    /* a static attribute: read as the run reads them, only this column */
    char set[300];
    snprintf(set, sizeof set, "data.attribute_names=[%s]", by);
    const char *sets[1] = {set};
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    if (!tg_cfg_str(cfg, "data.attributes"))
        return tg_error_set(TG_EINVAL, "--by %s: not a column of %s and the config has no data.attributes", by, path);
    tg_cfg *c2 = tg_cfg_load_with(tg_cfg_path(cfg), schema, n_schema, sets, 1);
    if (!c2)
        return tg_error_code();
    tg_dataset d;
    int rc = tg_dataset_load_statics(&d, c2);
    tg_cfg_free(&c2);
    if (!rc && d.S != 1)
        rc = tg_error_set(TG_EINVAL, "--by %s: not one static attribute column (%d)", by, d.S);
    for (int b = 0; !rc && b < B; b++) {
        int j = 0;
        while (j < d.B && strcmp(d.raw[j].id, bs[b].id))
            j++;
        double v = j < d.B ? (double)d.statics_raw[j] : (double)NAN;
        if (isnan(v))
            rc = tg_error_set(TG_EINVAL, "%s: field '%s': no value for basin '%s' (--by)",
                              tg_cfg_str(cfg, "data.attributes"), by, bs[b].id);
        else
            snprintf(bs[b].stratum, sizeof bs[b].stratum, "%.17g", v);
    }
    tg_dataset_free(&d);
    return rc;
}

/* Folds: a random order from the seed (within each stratum), then basins dealt to folds in
 * turn — stratum after stratum, continuing the count, so every stratum spreads over the
 * folds and the fold sizes differ by at most one. The result is in the config's basin order. */
static void assign_folds(cv_basin *bs, int B, int K, long seed)
{
    tg_rng r;
    tg_rng_seed(&r, (uint64_t)seed ^ 0x63765f666f6c6473ull); /* "cv_folds": not the weights' stream */
    for (int b = 0; b < B; b++)
        bs[b].key = tg_rng_next(&r);
    cv_basin *s = malloc((size_t)B * sizeof *s);
    if (!s) { /* no memory for the sort: deal in the config's order */
        for (int b = 0; b < B; b++)
            bs[b].fold = b % K;
        return;
    }
    memcpy(s, bs, (size_t)B * sizeof *s);
    qsort(s, (size_t)B, sizeof *s, cmp_stratum_key);
    for (int i = 0; i < B; i++)
        for (int b = 0; b < B; b++)
            if (!strcmp(bs[b].id, s[i].id))
                bs[b].fold = i % K;
    free(s);
}

static int write_lists(const char *dir, const cv_basin *bs, int B, int K)
{
    char path[4400], tmp[4500];
    FILE *f;
    snprintf(path, sizeof path, "%s/folds.csv", dir);
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "basin,fold,stratum\n");
    for (int b = 0; b < B; b++)
        fprintf(f, "%s,%d,%s\n", bs[b].id, bs[b].fold, bs[b].stratum);
    if ((rc = tg_io_commit(f, tmp, path)))
        return rc;
    for (int k = 0; k < K && !rc; k++)
        for (int held = 0; held < 2 && !rc; held++) {
            snprintf(path, sizeof path, "%s/fold_%d_%s.txt", dir, k, held ? "test" : "train");
            if ((rc = tg_io_begin(path, tmp, sizeof tmp, &f)))
                break;
            for (int b = 0; b < B; b++)
                if ((bs[b].fold == k) == held)
                    fprintf(f, "%s\n", bs[b].id);
            rc = tg_io_commit(f, tmp, path);
        }
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* cv_metrics.csv: the held-out metrics of every fold with a fold column; cv_summary.csv:
 * median and mean (over basins with a finite value) per metric, also into the log. */
static int merge(const char *dir, const cv_basin *bs, int B, int K, tg_runlog *rl)
{
    enum { MAXCOL = 64 };
    char header[8192] = "", line[8192], path[4400], tmp[4500];
    double *v = calloc((size_t)B * MAXCOL, sizeof(double));
    int *done = calloc((size_t)B, sizeof(int)), ncol = 0, rc = 0;
    char (*rows)[8192] = calloc((size_t)B, 8192);
    if (!v || !done || !rows)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    for (int k = 0; k < K && !rc; k++) {
        snprintf(path, sizeof path, "%s/fold_%d/heldout/metrics_test.csv", dir, k);
        FILE *f = fopen(path, "r");
        if (!f) {
            rc = tg_error_set(TG_EIO, "%s: cannot open", path);
            break;
        }
        for (int lineno = 1; !rc && fgets(line, sizeof line, f); lineno++) {
            line[strcspn(line, "\r\n")] = '\0';
            if (lineno == 1) {
                snprintf(header, sizeof header, "%s", line);
                continue;
            }
            char id[TG_ID_MAX], cell[64];
            csv_field(line, 0, id, sizeof id);
            int b = 0;
            while (b < B && strcmp(bs[b].id, id))
                b++;
            if (b == B || bs[b].fold != k || done[b]) {
                rc = tg_error_set(TG_EINVAL, "%s: line %d: basin '%s' is not a held-out basin of fold %d (or twice)",
                                  path, lineno, id, k);
                break;
            }
            done[b] = 1;
            const char *rest = strchr(line, ',');
            snprintf(rows[b], 8192, "%s,%d%s", id, k, rest ? rest : "");
            int c = 0;
            for (; c < MAXCOL && csv_field(line, c + 1, cell, sizeof cell) == 0; c++) {
                char *end;
                double x = strtod(cell, &end);
                v[(size_t)b * MAXCOL + c] = end != cell ? x : (double)NAN;
            }
            ncol = c;
        }
        fclose(f);
    }
    for (int b = 0; !rc && b < B; b++)
        if (!done[b])
            rc = tg_error_set(TG_EINVAL, "fold %d did not score its held-out basin '%s'", bs[b].fold, bs[b].id);
    FILE *f = NULL;
    if (!rc) {
        snprintf(path, sizeof path, "%s/cv_metrics.csv", dir);
        rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    }
    if (!rc) {
        const char *rest = strchr(header, ',');
        fprintf(f, "basin,fold%s\n", rest ? rest : "");
        for (int b = 0; b < B; b++)
            fprintf(f, "%s\n", rows[b]);
        rc = tg_io_commit(f, tmp, path);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/cv_summary.csv", dir);
        rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    }
    if (!rc) {
        fprintf(f, "metric,median,mean,n_basins\n");
        tg_runlog_printf(rl, "%-18s %10s %10s %6s\n", "metric", "median", "mean", "n");
        double *x = malloc((size_t)B * sizeof(double));
        char name[64];
        for (int c = 0; x && c < ncol; c++) {
            if (csv_field(header, c + 1, name, sizeof name))
                break;
            int n = 0;
            double sum = 0;
            for (int b = 0; b < B; b++) {
                double y = v[(size_t)b * MAXCOL + c];
                if (isfinite(y)) {
                    x[n++] = y;
                    sum += y;
                }
            }
            qsort(x, (size_t)n, sizeof(double), cmp_double);
            double med = n ? (n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2])) : (double)NAN;
            double mean = n ? sum / n : (double)NAN;
            fprintf(f, "%s,%.17g,%.17g,%d\n", name, med, mean, n);
            tg_runlog_printf(rl, "%-18s %10.4f %10.4f %6d\n", name, med, mean, n);
        }
        if (!x)
            rc = tg_error_set(TG_ENOMEM, "out of memory");
        free(x);
        if (!rc)
            rc = tg_io_commit(f, tmp, path);
        else
            fclose(f);
    }
    if (!rc)
        tg_runlog_printf(rl, "cross-validation: %d basins in %d folds, each scored by the run that did not train on "
                             "it: %s/cv_metrics.csv, cv_summary.csv\n",
                         B, K, dir);
    free(v);
    free(done);
    free(rows);
    return rc;
}

int tg_cross_validate(const char *config_path, const tg_cv_options *opt)
{
    if (!opt || opt->folds < 2)
        return tg_error_set(TG_EINVAL, "cross-validation needs at least 2 folds");
    const int K = opt->folds;
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    tg_cfg *cfg = tg_train_cfg_check(tg_cfg_load_with(config_path, schema, n_schema, opt->set, opt->n_set));
    if (!cfg)
        return tg_error_code();
    tg_run_config c;
    tg_basin_list ids = {0};
    int rc = tg_run_config_from_cfg(cfg, &c);
    if (!rc)
        rc = tg_dataset_basin_ids(&c, &ids);
    if (!rc && ids.n < K)
        rc = tg_error_set(TG_EINVAL, "%s: %d basins cannot make %d folds", config_path, ids.n, K);
    char dir[4200];
    if (opt->out_dir)
        snprintf(dir, sizeof dir, "%s", opt->out_dir);
    else {
        /* beside the config, as relative paths in it (docs/config.md) */
        const char *base = strrchr(config_path, '/');
        int folder = base ? (int)(base - config_path) + 1 : 0;
        base = base ? base + 1 : config_path;
        size_t n = strcspn(base, ".");
        snprintf(dir, sizeof dir, "%.*sruns/cv_%.*s", folder, config_path, (int)n, base);
    }
    const int B = ids.n;
    cv_basin *bs = rc ? NULL : calloc((size_t)B, sizeof *bs);
    if (!rc && !bs)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    for (int b = 0; !rc && b < B; b++)
        snprintf(bs[b].id, sizeof bs[b].id, "%s", ids.id[b]);
    if (!rc && opt->by)
        rc = strata(cfg, opt->by, bs, B);
    if (!rc)
        assign_folds(bs, B, K, c.seed);
    tg_runlog rl = {0};
    if (!rc && tg_dist_is_root()) {
        rc = tg_mkdir_p(dir);
        if (!rc)
            rc = tg_runlog_open(&rl, dir, "cv.log");
        if (!rc)
            rc = write_lists(dir, bs, B, K);
    }
    tg_dist_max_int(&rc, 1); /* and the lists exist before any rank reads them */
    if (!rc)
        tg_runlog_printf(&rl, "cross-validation of %s: %d basins, %d folds%s%s (seed %ld): %s/folds.csv\n",
                         config_path, B, K, opt->by ? " stratified by " : "", opt->by ? opt->by : "", c.seed, dir);
    const int K_train = opt->folds_only ? 0 : K;
    /* fold k: train on the others (data.basin_file), score its own basins */
    const int n_base = opt->n_set;
    const char **sets = rc ? NULL : malloc((size_t)(n_base + 3) * sizeof(char *));
    if (!rc && !sets)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    for (int k = 0; k < K_train && !rc; k++) {
        char run[4300], train_list[4300], test_list[4300], set_file[4400], held[4400], cmd[128];
        snprintf(run, sizeof run, "%s/fold_%d", dir, k);
        snprintf(train_list, sizeof train_list, "%s/fold_%d_train.txt", dir, k);
        snprintf(test_list, sizeof test_list, "%s/fold_%d_test.txt", dir, k);
        snprintf(set_file, sizeof set_file, "data.basin_file=%s", train_list);
        snprintf(held, sizeof held, "%s/heldout", run);
        snprintf(cmd, sizeof cmd, "terragrad cv (fold %d of %d)", k, K);
        for (int i = 0; i < n_base; i++)
            sets[i] = opt->set[i];
        sets[n_base] = set_file;
        sets[n_base + 1] = "data.basins=[]";
        sets[n_base + 2] = "data.n_basins=0";
        tg_train_options to = {.overwrite = opt->overwrite, .run_dir = run, .command = cmd, .set = sets,
                               .n_set = n_base + 3};
        tg_runlog_printf(&rl, "fold %d: training %s on the basins of %s\n", k, run, train_list);
        rc = tg_train(config_path, &to);
        tg_dist_max_int(&rc, 1);
        tg_evaluate_options eo = {.period = "test", .basins_file = test_list, .out_dir = held};
        if (!rc && tg_dist_is_root())
            rc = tg_mkdir_p(held);
        tg_dist_max_int(&rc, 1);
        if (!rc)
            rc = tg_evaluate_with(run, &eo);
        tg_dist_max_int(&rc, 1);
        if (rc)
            tg_runlog_file(&rl, "error: fold %d: %s\n", k, tg_error_message());
    }
    if (!rc && tg_dist_is_root() && K_train)
        rc = merge(dir, bs, B, K, &rl);
    tg_dist_max_int(&rc, 1);
    free(sets);
    free(bs);
    tg_runlog_close(&rl);
    tg_basin_list_free(&ids);
    tg_run_config_free(&c);
    tg_cfg_free(&cfg);
    return rc;
}
