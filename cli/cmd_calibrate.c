/* cmd_calibrate.c — `terragrad calibrate --model hbv`: per-basin HBV calibration (SCE-UA
 * or Adam) on a training period, scored on it and on a test period. Writes
 *   OUT/params.csv          basin,component,BETA,...,BETAET  (the PARAMS.csv of simulate)
 *   OUT/route.csv           basin,a,theta                    (with --routing)
 *   OUT/metrics_train.csv   basin,NSE,KGE,...,n,n_peaks      (as terragrad metrics)
 *   OUT/metrics_test.csv
 *   OUT/calibration.csv     basin,status,objective,evals,stop,seconds,periods,error
 *   OUT/run.txt             the command line, options and summary
 * Algorithms and options: docs/calibration.md. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "terragrad.h"
#include "terragrad.h"
#include "terragrad/calibrate.h"

#define CMD "terragrad calibrate"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " CMD " --model hbv --data DIR --basins LIST_OR_FILE\n"
            "                           --train-start DATE --train-end DATE [--test-start DATE --test-end DATE]\n"
            "                           [--layout caravan|csv] [--method sceua|adam] [--objective nse|kge|rmse]\n"
            "                           [--routing] [--warmup 365] [--max-evals N] [--seed 1] [--ngs 4]\n"
            "                           [--restarts 8] [--lr 0.2] [--threads N] --out OUT\n\n"
            "Calibrates the 13 HBV parameters (and with --routing the gamma unit hydrograph a, theta)\n"
            "of every basin separately, in parallel over basins.\n"
            "  --data DIR       caravan: DIR/timeseries/<id>.csv (P,T,PET,Q, no header, from 1981-01-01);\n"
            "                   csv: DIR/<id>.csv with a date column and P,T,PET,Q\n"
            "  --basins X       comma-separated ids, or a file with one id per line (first CSV column;\n"
            "                   a header 'gauge_id'/'basin'/'basin_id' is skipped)\n"
            "  DATE             YYYY-MM-DD, inclusive. Each period warms up on the --warmup days before\n"
            "                   it when the record has them, else on its own first --warmup days\n"
            "  --method         sceua (default; SCE-UA, Duan et al. 1994) or adam (gradients from the\n"
            "                   hand-written HBV backward, --restarts starts side by side)\n"
            "  --max-evals N    per basin: objective evaluations (sceua, default 5000) or gradient\n"
            "                   evaluations summed over restarts (adam, default 2000)\n"
            "  --ngs N          SCE-UA complexes (default 4)\n"
            "  --seed S         base seed; each basin mixes in its id (results do not depend on threads)\n"
            "Writes OUT/params.csv, OUT/route.csv (--routing), OUT/metrics_train.csv, OUT/metrics_test.csv,\n"
            "OUT/calibration.csv and OUT/run.txt; prints the median and mean NSE and KGE.\n");
}

/* ---------------------------------------------------------------- small helpers */
static int make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return tg_error_set(TG_EINVAL, "%s: path too long", path);
    for (char *s = buf + 1;; s++)
        if (*s == '/' || !*s) {
            char keep = *s;
            *s = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return tg_error_set(TG_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
            *s = keep;
            if (!keep)
                break;
        }
    return 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (errno || e == v || *e || x < lo || x > hi) {
        fprintf(stderr, CMD ": %s '%s': expected an integer in [%ld, %ld]\n", opt, v, lo, hi);
        return 2;
    }
    *out = x;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* Adds id to the list; 0, or an error for an empty/too long/duplicate id. */
static int list_add(tg_basin_list *l, int *cap, const char *id, const char *where)
{
    size_t len = strlen(id);
    if (!len || len >= TG_ID_MAX)
        return tg_error_set(TG_EINVAL, "%s: basin id '%s' is empty or longer than %d characters", where, id,
                            TG_ID_MAX - 1);
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->id[i], id))
            return tg_error_set(TG_EINVAL, "%s: basin '%s' is listed twice", where, id);
    if (l->n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        void *p = realloc(l->id, (size_t)nc * sizeof *l->id);
        if (!p)
            return tg_error_set(TG_ENOMEM, "out of memory");
        l->id = p;
        *cap = nc;
    }
    memcpy(l->id[l->n++], id, len + 1);
    return 0;
}

/* --basins: an existing file (one id per line, first CSV field, '#' comments, an optional
 * header) or a comma-separated list. */
static int read_basins(const char *arg, tg_basin_list *l)
{
    int cap = 0, rc = 0;
    l->n = 0;
    l->id = NULL;
    FILE *f = fopen(arg, "r");
    if (!f) {
        if (strchr(arg, '/') || strstr(arg, ".txt") || strstr(arg, ".csv"))
            return tg_error_set(TG_EIO, "--basins %s: cannot open: %s", arg, strerror(errno));
        char *buf = strdup(arg), *save = NULL;
        if (!buf)
            return tg_error_set(TG_ENOMEM, "out of memory");
        for (char *tok = strtok_r(buf, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save))
            rc = list_add(l, &cap, trim(tok), "--basins");
        free(buf);
    } else {
        char line[4096];
        int lineno = 0;
        while (!rc && fgets(line, sizeof line, f)) {
            lineno++;
            char *hash = strchr(line, '#');
            if (hash)
                *hash = 0;
            char *comma = strchr(line, ',');
            if (comma)
                *comma = 0;
            char *id = trim(line);
            if (*id == '"') { /* a quoted first field */
                id++;
                char *q = strchr(id, '"');
                if (q)
                    *q = 0;
            }
            if (!*id)
                continue;
            if (l->n == 0 && (!strcmp(id, "gauge_id") || !strcmp(id, "basin") || !strcmp(id, "basin_id") ||
                              !strcmp(id, "id")))
                continue;
            char where[4200];
            snprintf(where, sizeof where, "%s: line %d", arg, lineno);
            rc = list_add(l, &cap, id, where);
        }
        fclose(f);
    }
    if (!rc && l->n == 0)
        rc = tg_error_set(TG_EINVAL, "--basins %s: no basin ids", arg);
    return rc;
}

/* ---------------------------------------------------------------- progress */
typedef struct {
    double t0;
    int quiet;
} progress_state;

static void progress(void *ud, int done, int total, const tg_calib_result *r)
{
    progress_state *p = ud;
    if (p->quiet)
        return;
    double el = omp_get_wtime() - p->t0, eta = el / done * (total - done);
    if (r->status)
        fprintf(stderr, "[%*d/%d] %-10s FAILED: %s\n", total >= 100 ? 3 : 2, done, total, r->basin, r->error);
    else
        fprintf(stderr, "[%*d/%d] %-10s train NSE %6.3f  test NSE %6.3f  %5ld evals %5.1fs | elapsed %.0fs, ETA %.0fs\n",
                total >= 100 ? 3 : 2, done, total, r->basin, r->train.nse, r->test.nse, r->fit.evals, r->seconds, el,
                eta);
}

/* ---------------------------------------------------------------- outputs */
static FILE *open_out(const char *dir, const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        tg_error_set(TG_EIO, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) || bad)
        return tg_error_set(TG_EIO, "%s: write failed", path);
    return 0;
}

static void put(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "," TG_METRIC_FMT, x);
    else
        fputs(",NA", f);
}

static int write_metrics(const char *dir, const char *name, const tg_calib_result *res, int B, int test)
{
    char path[4200];
    FILE *f = open_out(dir, name, path, sizeof path);
    if (!f)
        return TG_EIO;
    fputs("basin", f);
    for (int k = 0; k < TG_METRIC_COUNT; k++)
        fprintf(f, ",%s", tg_metric_names[k]);
    fputs(",n,n_peaks\n", f);
    for (int b = 0; b < B; b++) {
        const tg_metrics *m = test ? &res[b].test : &res[b].train;
        fputs(res[b].basin, f);
        for (int k = 0; k < TG_METRIC_COUNT; k++)
            put(f, res[b].status ? (double)NAN : tg_metric_get(m, k));
        fprintf(f, ",%d,%d\n", res[b].status ? 0 : m->n, res[b].status ? 0 : m->n_peaks);
    }
    return close_out(f, path);
}

static int write_params(const char *dir, const tg_calib_result *res, int B, int routing)
{
    char path[4200];
    FILE *f = open_out(dir, "params.csv", path, sizeof path);
    if (!f)
        return TG_EIO;
    fputs("basin,component", f);
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        fprintf(f, ",%s", tg_hbv_param_names[p]);
    fputc('\n', f);
    for (int b = 0; b < B; b++) {
        if (res[b].status)
            continue;
        fprintf(f, "%s,1", res[b].basin);
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            fprintf(f, "," TG_REAL_FMT_CSV, res[b].fit.params[p]);
        fputc('\n', f);
    }
    int rc = close_out(f, path);
    if (rc || !routing)
        return rc;
    f = open_out(dir, "route.csv", path, sizeof path);
    if (!f)
        return TG_EIO;
    fputs("basin,a,theta\n", f);
    for (int b = 0; b < B; b++)
        if (!res[b].status)
            fprintf(f, "%s," TG_REAL_FMT_CSV "," TG_REAL_FMT_CSV "\n", res[b].basin, res[b].fit.a, res[b].fit.theta);
    return close_out(f, path);
}

static int write_log(const char *dir, const tg_calib_result *res, int B)
{
    char path[4200], d[4][11];
    FILE *f = open_out(dir, "calibration.csv", path, sizeof path);
    if (!f)
        return TG_EIO;
    fputs("basin,status,objective,evals,stop,seconds,train_first,train_last,test_first,test_last,error\n", f);
    for (int b = 0; b < B; b++) {
        const tg_calib_result *r = &res[b];
        int have_test = r->test.n > 0;
        fprintf(f, "%s,%s", r->basin, r->status ? "failed" : "ok");
        put(f, r->status ? (double)NAN : r->fit.objective);
        fprintf(f, ",%ld,%s,%.3f,%s,%s,%s,%s,\"", r->fit.evals, r->status ? "NA" : tg_sceua_stop_name(r->fit.stop),
                r->seconds, r->status ? "NA" : tg_date_format(r->train_first, d[0]),
                r->status ? "NA" : tg_date_format(r->train_last, d[1]),
                have_test ? tg_date_format(r->test_first, d[2]) : "NA",
                have_test ? tg_date_format(r->test_last, d[3]) : "NA");
        for (const char *c = r->error; *c; c++)
            fputc(*c == '"' ? '\'' : *c, f);
        fputs("\"\n", f);
    }
    return close_out(f, path);
}

/* Prints (and appends to run.txt) median/mean NSE and KGE of one period. */
static void summarise(FILE *out, FILE *log, const char *name, const tg_calib_result *res, int B, int test)
{
    tg_metrics *m = malloc((size_t)(B ? B : 1) * sizeof *m);
    if (!m)
        return;
    for (int b = 0; b < B; b++) {
        m[b] = test ? res[b].test : res[b].train;
        if (res[b].status)
            m[b].n = 0;
    }
    tg_metrics med, avg;
    int count[TG_METRIC_COUNT];
    if (!tg_metrics_summary(m, B, 1, &med, &avg, count)) {
        for (FILE *f = out; f; f = f == out ? log : NULL) {
            if (count[TG_M_NSE] == 0)
                fprintf(f, "%-5s no basin scored\n", name);
            else
                fprintf(f, "%-5s NSE median %.3f mean %.3f | KGE median %.3f mean %.3f (%d basins)\n", name, med.nse,
                        avg.nse, med.kge, avg.kge, count[TG_M_NSE]);
        }
    }
    free(m);
}

/* ---------------------------------------------------------------- command */
int tg_cmd_calibrate(int argc, char **argv)
{
    const char *model = "hbv", *data = NULL, *layout = "caravan", *basins_arg = NULL, *out = NULL;
    const char *dates[4] = {NULL, NULL, NULL, NULL}; /* train start/end, test start/end */
    tg_calib_options o;
    tg_calib_options_init(&o);
    o.seed = 1;
    long x;
    int threads = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--routing")) {
            o.routing = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (i + 1 >= argc || strncmp(a, "--", 2)) {
            fprintf(stderr, CMD ": %s: unknown option or missing value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--layout")) layout = v;
        else if (!strcmp(a, "--basins")) basins_arg = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--train-start")) dates[0] = v;
        else if (!strcmp(a, "--train-end")) dates[1] = v;
        else if (!strcmp(a, "--test-start")) dates[2] = v;
        else if (!strcmp(a, "--test-end")) dates[3] = v;
        else if (!strcmp(a, "--method")) {
            if (tg_calib_method_parse(v, &o.method)) {
                fprintf(stderr, CMD ": --method: %s\n", tg_error_message());
                return 2;
            }
        } else if (!strcmp(a, "--objective")) {
            if (tg_calib_objective_parse(v, &o.objective)) {
                fprintf(stderr, CMD ": --objective: %s\n", tg_error_message());
                return 2;
            }
        } else if (!strcmp(a, "--warmup")) {
            if (parse_long(a, v, 0, 100000, &x)) return 2;
            o.warmup = (int)x;
        } else if (!strcmp(a, "--max-evals")) {
            if (parse_long(a, v, 1, 1000000000L, &x)) return 2;
            o.max_evals = x;
        } else if (!strcmp(a, "--seed")) {
            if (parse_long(a, v, 0, 0x7fffffffL, &x)) return 2;
            o.seed = (uint64_t)x;
        } else if (!strcmp(a, "--ngs")) {
            if (parse_long(a, v, 1, 1000, &x)) return 2;
            o.sce.ngs = (int)x;
        } else if (!strcmp(a, "--restarts")) {
            if (parse_long(a, v, 1, 1000, &x)) return 2;
            o.restarts = (int)x;
        } else if (!strcmp(a, "--threads")) {
            if (parse_long(a, v, 1, 1024, &x)) return 2;
            threads = (int)x;
        } else if (!strcmp(a, "--lr")) {
            char *e;
            o.lr = strtod(v, &e);
            if (*e || e == v || !(o.lr > 0)) {
                fprintf(stderr, CMD ": --lr '%s': expected a positive number\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, CMD ": unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (strcmp(model, "hbv")) {
        fprintf(stderr, CMD ": --model %s: only 'hbv' can be calibrated\n", model);
        return 2;
    }
    if (!data || !basins_arg || !out || !dates[0] || !dates[1]) {
        fprintf(stderr, CMD ": --data, --basins, --train-start, --train-end and --out are required\n\n");
        usage(stderr);
        return 2;
    }
    if (tg_out_dir_prepare(out)) { /* before reading data and fitting */
        fprintf(stderr, CMD ": --out: %s\n", tg_error_message());
        return 1;
    }
    int csv = !strcmp(layout, "csv");
    if (!csv && strcmp(layout, "caravan")) {
        fprintf(stderr, CMD ": --layout %s: expected caravan or csv\n", layout);
        return 2;
    }
    if ((dates[2] == NULL) != (dates[3] == NULL)) {
        fprintf(stderr, CMD ": give both --test-start and --test-end, or neither\n");
        return 2;
    }
    int day[4] = {0, 0, 1, 0}; /* no test period: first > last */
    const char *dname[4] = {"--train-start", "--train-end", "--test-start", "--test-end"};
    for (int k = 0; k < 4; k++)
        if (dates[k] && tg_date_parse(dates[k], &day[k])) {
            fprintf(stderr, CMD ": %s '%s': expected a date YYYY-MM-DD\n", dname[k], dates[k]);
            return 2;
        }
    if (day[0] > day[1] || (dates[2] && day[2] > day[3])) {
        int k = day[0] > day[1] ? 0 : 2;
        fprintf(stderr, CMD ": %s %s is after %s %s\n", dname[k], dates[k], dname[k + 1], dates[k + 1]);
        return 2;
    }
    if (!is_dir(data)) {
        fprintf(stderr, CMD ": --data %s: no such directory\n", data);
        return 1;
    }
    if (threads)
        omp_set_num_threads(threads);

    tg_basin_list ids = {0};
    tg_basin *basins = NULL;
    tg_calib_result *res = NULL;
    int rc = read_basins(basins_arg, &ids), nread = 0;
    if (rc) {
        fprintf(stderr, CMD ": %s\n", tg_error_message());
        return 1;
    }
    basins = calloc((size_t)ids.n, sizeof *basins);
    res = calloc((size_t)ids.n, sizeof *res);
    if (!basins || !res) {
        fprintf(stderr, CMD ": out of memory\n");
        rc = 1;
        goto done;
    }
    double t0 = omp_get_wtime();
    while (nread < ids.n) {
        const char *id = ids.id[nread];
        int e = csv ? tg_csv_read(data, id, &basins[nread]) : tg_caravan_read(data, id, &basins[nread]);
        if (e == TG_EIO) {
            fprintf(stderr, CMD ": unknown basin '%s': %s\n", id, tg_error_message());
            rc = 1;
            goto done;
        }
        if (!e)
            e = tg_basin_require(&basins[nread++], TG_VAR_BIT(TG_VAR_P) | TG_VAR_BIT(TG_VAR_TEMP) |
                                                        TG_VAR_BIT(TG_VAR_PET) | TG_VAR_BIT(TG_VAR_Q),
                                 "calibration");
        if (e) {
            fprintf(stderr, CMD ": basin %s: %s\n", id, tg_error_message());
            rc = 1;
            goto done;
        }
    }
    if (make_dirs(out)) {
        fprintf(stderr, CMD ": %s\n", tg_error_message());
        rc = 1;
        goto done;
    }
    char buf[4200];
    snprintf(buf, sizeof buf, "%s/run.txt", out);
    FILE *log = fopen(buf, "w");
    if (log) {
        fputs("command:", log);
        for (int i = 0; i < argc; i++)
            fprintf(log, " %s", i == 0 ? "terragrad calibrate" : argv[i]);
        fprintf(log, "\nbuild: %s\nthreads: %d\n", TG_REAL_NAME, omp_get_max_threads());
    }
    fprintf(stderr, "calibrating %d basins: %s, objective %s, %s, max %ld evaluations per basin, %d threads\n", ids.n,
            tg_calib_method_name(o.method), tg_calib_objective_name(o.objective),
            o.routing ? "HBV + routing (15 parameters)" : "HBV (13 parameters)",
            o.max_evals ? o.max_evals : (o.method == TG_CALIB_ADAM ? 2000L : 5000L), omp_get_max_threads());
    progress_state ps = {omp_get_wtime(), quiet};
    rc = tg_hbv_calibrate_basins(res, basins, ids.n, day[0], day[1], day[2], day[3], &o, progress, &ps);
    double wall = omp_get_wtime() - t0;
    if (rc) {
        fprintf(stderr, CMD ": %s\n", tg_error_message());
        if (log)
            fclose(log);
        rc = 1;
        goto done;
    }
    int failed = 0;
    for (int b = 0; b < ids.n; b++)
        failed += res[b].status != 0;
    if (write_params(out, res, ids.n, o.routing) || write_metrics(out, "metrics_train.csv", res, ids.n, 0) ||
        write_metrics(out, "metrics_test.csv", res, ids.n, 1) || write_log(out, res, ids.n)) {
        fprintf(stderr, CMD ": %s\n", tg_error_message());
        if (log)
            fclose(log);
        rc = 1;
        goto done;
    }
    summarise(stdout, log, "train", res, ids.n, 0);
    if (dates[2])
        summarise(stdout, log, "test", res, ids.n, 1);
    printf("%d basins calibrated (%d failed) in %.1f s wall time; wrote %s/params.csv%s, metrics_train.csv, "
           "metrics_test.csv, calibration.csv\n",
           ids.n - failed, failed, wall, out, o.routing ? ", route.csv" : "");
    if (log) {
        fprintf(log, "basins: %d ok, %d failed\nwall time: %.1f s\n", ids.n - failed, failed, wall);
        fclose(log);
    }
    if (failed) {
        fprintf(stderr, CMD ": %d basin(s) failed (see %s/calibration.csv):\n", failed, out);
        for (int b = 0; b < ids.n; b++)
            if (res[b].status)
                fprintf(stderr, "  %s: %s\n", res[b].basin, res[b].error);
        rc = 1;
    }
done:
    for (int b = 0; b < nread; b++)
        tg_basin_free(&basins[b]);
    free(basins);
    free(res);
    free(ids.id);
    return rc;
}
