/* cmd_surrogate.c — `terragrad surrogate fit|eval|learn|calibrate CONFIG`: emulate a
 * black-box model (legacy Fortran, any executable or shared library) with an LSTM,
 * learn its parameters through the frozen surrogate, and judge them with the REAL model.
 *   fit        generate (or reuse) the training/validation sets, train, save, validate
 *   eval       per-sample NSE of the saved surrogate against the model on a set
 *   learn      dPL through the frozen surrogate, then the real model on train/test periods
 *   calibrate  the baseline: per-basin SCE-UA of the real model
 * Config keys: --print-schema (also docs/surrogate.md). Every file goes into output.dir.
 * `eval RUN_DIR` (a run of `terragrad train` with model.type: surrogate): the learned
 * parameters per basin, scored by the surrogate and by the REAL model (surrogate.blackbox). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "terragrad.h"
#include "terragrad/surrogate.h"

/* ---------------------------------------------------------------- schema */
static const tg_cfg_key schema[] = {
    {"seed", TG_CFG_INT, 0, "1", "random seed (designs, weights, minibatches)", NULL},
    {"output.dir", TG_CFG_PATH, 0, NULL, "run directory (default: runs/<config file name>)", NULL},
    {"blackbox.kind", TG_CFG_STR, 1, NULL, "how the model is run", "library|exec"},
    {"blackbox.path", TG_CFG_STR, 0, "auto",
     "shared library / executable; auto = the Fortran bucket model built next to terragrad", NULL},
    {"blackbox.name", TG_CFG_STR, 0, "bucket", "model name in messages and files", NULL},
    {"blackbox.symbol", TG_CFG_STR, 0, "tg_model_run", "library: the run symbol", NULL},
    {"blackbox.params", TG_CFG_LIST, 1, NULL, "parameter names, in the model's order", NULL},
    {"blackbox.lower", TG_CFG_FLOATS, 1, NULL, "lower end of each parameter's range", NULL},
    {"blackbox.upper", TG_CFG_FLOATS, 1, NULL, "upper end of each parameter's range", NULL},
    {"blackbox.outputs", TG_CFG_INT, 0, "1", "number of model outputs per day (the first is Q)", NULL},
    {"blackbox.timeout", TG_CFG_FLOAT, 0, "60", "exec: seconds per run before it is killed", NULL},
    {"blackbox.workers", TG_CFG_INT, 0, "0", "parallel runs (threads or processes); 0 = all cores", NULL},
    {"blackbox.serial", TG_CFG_BOOL, 0, "false", "library: not reentrant, run one at a time", NULL},
    {"data.path", TG_CFG_PATH, 1, NULL, "Caravan folder (timeseries/<id>.csv, basins.csv)", NULL},
    {"data.basins", TG_CFG_LIST, 0, NULL, "basin ids (default: data.basin_file or basins.csv)", NULL},
    {"data.basin_file", TG_CFG_STR, 0, NULL, "text file with one basin id per line", NULL},
    {"data.n_basins", TG_CFG_INT, 0, "0", "use only the first N basins (0 = all)", NULL},
    {"data.attributes", TG_CFG_STR, 0, NULL, "camels_attributes_v2.0 folder (learn.mode = mlp)", NULL},
    {"data.attribute_names", TG_CFG_LIST, 0, NULL, "attribute columns fed to the parameter network", NULL},
    {"periods.train_start", TG_CFG_DATE, 1, NULL, "first day of the training period", NULL},
    {"periods.train_end", TG_CFG_DATE, 1, NULL, "last day of the training period", NULL},
    {"periods.test_start", TG_CFG_DATE, 1, NULL, "first day of the test period", NULL},
    {"periods.test_end", TG_CFG_DATE, 1, NULL, "last day of the test period", NULL},
    {"periods.warmup", TG_CFG_INT, 0, "365", "real-model runs: days before a period that spin up the stores", NULL},
    {"design.n_train", TG_CFG_INT, 0, "2000", "training samples (parameter set x forcing window)", NULL},
    {"design.n_valid", TG_CFG_INT, 0, "500", "validation samples (new parameter sets on held-out basins)", NULL},
    {"design.window", TG_CFG_INT, 0, "365", "days per sample (also the window of learn)", NULL},
    {"design.valid_basins", TG_CFG_FLOAT, 0, "0.25", "fraction of basins held out for validation", NULL},
    {"design.regenerate", TG_CFG_BOOL, 0, "false", "regenerate train.nc/valid.nc even if they exist (do it after changing the model itself)", NULL},
    {"surrogate.hidden", TG_CFG_INT, 0, "64", "LSTM width", NULL},
    {"surrogate.epochs", TG_CFG_INT, 0, "30", "training epochs", NULL},
    {"surrogate.batch", TG_CFG_INT, 0, "64", "samples per minibatch", NULL},
    {"surrogate.lr", TG_CFG_FLOAT, 0, "0.003", "Adam learning rate (cosine-decayed to lr/20)", NULL},
    {"surrogate.loss", TG_CFG_STR, 0, "nse", "nse: each sample's squared error over its variance; mse: plain",
     "nse|mse"},
    {"surrogate.output", TG_CFG_STR, 0, "linear", "linear: Q = scale * head; exp: Q = scale * exp(head)",
     "linear|exp"},
    {"surrogate.valid_every", TG_CFG_INT, 0, "5", "score the validation set every k epochs", NULL},
    {"learn.mode", TG_CFG_STR, 0, "mlp", "mlp: attributes -> parameters; per_basin: free parameters",
     "mlp|per_basin"},
    {"learn.hidden", TG_CFG_INT, 0, "64", "MLP width", NULL},
    {"learn.layers", TG_CFG_INT, 0, "2", "MLP hidden layers", NULL},
    {"learn.epochs", TG_CFG_INT, 0, "20", "epochs", NULL},
    {"learn.iterations", TG_CFG_INT, 0, "50", "minibatches per epoch", NULL},
    {"learn.batch", TG_CFG_INT, 0, "32", "(basin, window) pairs per minibatch", NULL},
    {"learn.lr", TG_CFG_FLOAT, 0, "0", "Adam learning rate (0 = 0.01 mlp / 0.05 per_basin)", NULL},
    {"learn.warmup", TG_CFG_INT, 0, "0", "days of each window without loss (0 = window / 3)", NULL},
    {"calibrate.max_evals", TG_CFG_INT, 0, "2000", "SCE-UA model runs per basin", NULL},
};
#define NSCHEMA ((int)(sizeof schema / sizeof schema[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: terragrad surrogate fit|eval|learn|calibrate CONFIG [--data FILE.nc] [--mode MODE]\n"
               "       terragrad surrogate eval RUN_DIR [--period test|valid|train]\n"
               "       terragrad surrogate --print-schema\n\n"
               "  fit        sample parameters (Latin hypercube) x real forcing windows, run the black\n"
               "             box, train an LSTM surrogate, validate on unseen parameters and basins\n"
               "  eval       NSE of the saved surrogate against the model (valid.nc or --data FILE)\n"
               "  learn      learn parameters through the frozen surrogate against observed flow,\n"
               "             then score them with the REAL model on the train and test periods\n"
               "             (--mode mlp|per_basin overrides learn.mode)\n"
               "  calibrate  per-basin SCE-UA calibration of the real model (the baseline)\n"
               "  eval RUN_DIR  a `terragrad train` run with model.type: surrogate: writes the learned\n"
               "             parameters per basin and scores them with the surrogate and, if the\n"
               "             config names it (surrogate.blackbox), with the REAL model\n"
               "Files go to output.dir; see docs/surrogate.md.\n\n"
               "A config runs programs: blackbox.path (and surrogate.blackbox of a train config) names\n"
               "an executable that terragrad runs (fork + execv) or a shared library it loads (dlopen),\n"
               "with your rights. Use only configs you trust. The resolved path is printed before the\n"
               "first run; a black box that is world-writable, or in a world-writable folder without\n"
               "the sticky bit, is refused (the rule ssh applies to its key files).\n");
}

/* ---------------------------------------------------------------- run state */
typedef struct run {
    tg_cfg *cfg;
    char dir[1024];
    FILE *log;
    tg_blackbox *bb;
    int np;
    double lo[TG_BB_MAX_DIM], hi[TG_BB_MAX_DIM];
    const char *pnames[TG_BB_MAX_DIM];
    tg_basin_list ids;
    tg_basin *basins;
    int B;
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* printf to stdout and the run's log file. */
static void say(run *r, const char *fmt, ...) TG_PRINTF(2, 3);
static void say(run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (r->log) {
        va_start(ap, fmt);
        vfprintf(r->log, fmt, ap);
        va_end(ap);
        fflush(r->log);
    }
}

static int fail(const char *what)
{
    fprintf(stderr, "terragrad surrogate %s: %s\n", what, tg_error_message());
    return 1;
}

static int mkdir_p(const char *path)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST)
                return tg_error_set(TG_EIO, "%s: cannot create (%s)", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return tg_error_set(TG_EIO, "%s: cannot create (%s)", buf, strerror(errno));
    return 0;
}

static void path_in(const run *r, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", r->dir, name);
}


static int cfg_floats(const tg_cfg *cfg, const char *key, double *x, int n)
{
    if (tg_cfg_list_len(cfg, key) != n)
        return tg_error_set(TG_EINVAL, "%s:%d: %s has %d values, blackbox.params has %d", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, key), key, tg_cfg_list_len(cfg, key), n);
    for (int k = 0; k < n; k++)
        x[k] = strtod(tg_cfg_list_item(cfg, key, k), NULL);
    return 0;
}

static int open_blackbox(run *r)
{
    const tg_cfg *c = r->cfg;
    r->np = tg_cfg_list_len(c, "blackbox.params");
    if (r->np < 1 || r->np > TG_BB_MAX_DIM)
        return tg_error_set(TG_EINVAL, "%s: blackbox.params: 1..%d names", tg_cfg_path(c), TG_BB_MAX_DIM);
    for (int k = 0; k < r->np; k++)
        r->pnames[k] = tg_cfg_list_item(c, "blackbox.params", k);
    int rc = cfg_floats(c, "blackbox.lower", r->lo, r->np);
    if (rc || (rc = cfg_floats(c, "blackbox.upper", r->hi, r->np)))
        return rc;
    for (int k = 0; k < r->np; k++)
        if (!(r->lo[k] < r->hi[k]))
            return tg_error_set(TG_EINVAL, "%s:%d: parameter %s: lower %g must be below upper %g", tg_cfg_path(c),
                                tg_cfg_line(c, "blackbox.lower"), r->pnames[k], r->lo[k], r->hi[k]);
    const char *kind = tg_cfg_str(c, "blackbox.kind");
    char path[2048];
    if ((rc = tg_blackbox_resolve_path("blackbox.path", kind, tg_cfg_str(c, "blackbox.path"), path, sizeof path)))
        return rc;
    tg_blackbox_options o = {.name = tg_cfg_str(c, "blackbox.name"), .np = r->np, .nf = 3,
                             .nout = (int)tg_cfg_int(c, "blackbox.outputs"), .param_names = r->pnames,
                             .timeout = tg_cfg_float(c, "blackbox.timeout"),
                             .workers = (int)tg_cfg_int(c, "blackbox.workers"),
                             .serial = tg_cfg_bool(c, "blackbox.serial"), .symbol = tg_cfg_str(c, "blackbox.symbol")};
    r->bb = !strcmp(kind, "library") ? tg_blackbox_library(path, &o) : tg_blackbox_exec(path, &o);
    if (!r->bb)
        return tg_error_code();
    /* the config chose a program to run: say which, before it first runs */
    printf("black box '%s': %s %s (%s by %s)\n", tg_blackbox_name(r->bb), kind, tg_blackbox_path(r->bb),
           !strcmp(kind, "library") ? "loaded" : "run", tg_cfg_path(c));
    fflush(stdout);
    return 0;
}

/* Basin ids: data.basins, data.basin_file, or the gauge_id column of <path>/basins.csv. */
static int basin_ids(run *r)
{
    const tg_cfg *c = r->cfg;
    int n = tg_cfg_list_len(c, "data.basins"), rc = 0;
    memset(&r->ids, 0, sizeof r->ids);
    if (n > 0) {
        r->ids.id = calloc((size_t)n, sizeof *r->ids.id);
        if (!r->ids.id)
            return tg_error_set(TG_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++)
            snprintf(r->ids.id[i], TG_ID_MAX, "%s", tg_cfg_list_item(c, "data.basins", i));
        r->ids.n = n;
    } else if (tg_cfg_str(c, "data.basin_file")) {
        rc = tg_basin_list_read(tg_cfg_str(c, "data.basin_file"), &r->ids);
    } else {
        char path[2100], line[512];
        snprintf(path, sizeof path, "%s/basins.csv", tg_cfg_str(c, "data.path"));
        FILE *f = fopen(path, "r");
        if (!f)
            return tg_error_set(TG_EIO, "%s: cannot open (give data.basins or data.basin_file)", path);
        int cap = 0, lineno = 0;
        while (fgets(line, sizeof line, f)) {
            size_t len = strcspn(line, ",\r\n");
            if (++lineno == 1 || len == 0)
                continue;
            if (len >= TG_ID_MAX) {
                fclose(f);
                return tg_error_set(TG_EINVAL, "%s: line %d, field 'gauge_id': too long", path, lineno);
            }
            if (r->ids.n == cap) {
                cap = cap ? 2 * cap : 256;
                void *p = realloc(r->ids.id, (size_t)cap * sizeof *r->ids.id);
                if (!p) {
                    fclose(f);
                    return tg_error_set(TG_ENOMEM, "out of memory");
                }
                r->ids.id = p;
            }
            memcpy(r->ids.id[r->ids.n], line, len);
            r->ids.id[r->ids.n++][len] = '\0';
        }
        fclose(f);
    }
    long nmax = tg_cfg_int(c, "data.n_basins");
    if (!rc && nmax > 0 && nmax < r->ids.n)
        r->ids.n = (int)nmax;
    if (!rc && r->ids.n < 1)
        rc = tg_error_set(TG_EINVAL, "%s: no basins", tg_cfg_path(c));
    return rc;
}

static int read_basins(run *r)
{
    int rc = basin_ids(r);
    if (rc)
        return rc;
    r->basins = calloc((size_t)r->ids.n, sizeof *r->basins);
    if (!r->basins)
        return tg_error_set(TG_ENOMEM, "out of memory");
    const char *root = tg_cfg_str(r->cfg, "data.path");
    int bad = -1;
#pragma omp parallel for schedule(dynamic, 4) reduction(max : bad)
    for (int b = 0; b < r->ids.n; b++)
        if (tg_caravan_read(root, r->ids.id[b], &r->basins[b]))
            bad = b > bad ? b : bad;
    r->B = r->ids.n;
    if (bad >= 0) /* the message is per thread: read the failing basin again to report it */
        return tg_caravan_read(root, r->ids.id[bad], &r->basins[bad]);
    return 0;
}

static int open_run(run *r, const char *config, const char *logname)
{
    memset(r, 0, sizeof *r);
    if (!(r->cfg = tg_cfg_load(config, schema, NSCHEMA)))
        return tg_error_code() ? tg_error_code() : TG_EINVAL;
    const char *d = tg_cfg_str(r->cfg, "output.dir");
    if (d) {
        snprintf(r->dir, sizeof r->dir, "%s", d);
    } else {
        const char *base = strrchr(config, '/');
        base = base ? base + 1 : config;
        size_t len = strcspn(base, ".");
        snprintf(r->dir, sizeof r->dir, "runs/%.*s", (int)len, base);
    }
    int rc = mkdir_p(r->dir);
    if (rc)
        return rc;
    char path[2200];
    path_in(r, logname, path, sizeof path);
    r->log = fopen(path, "w");
    return 0;
}

static void close_run(run *r)
{
    if (r->basins)
        for (int b = 0; b < r->B; b++)
            tg_basin_free(&r->basins[b]);
    free(r->basins);
    free(r->ids.id);
    tg_blackbox_free(&r->bb);
    tg_cfg_free(&r->cfg);
    if (r->log)
        fclose(r->log);
}

/* ---------------------------------------------------------------- summaries */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of the finite values of x (n). */
static double quantile(const double *x, int n, double q)
{
    double *v = malloc(sizeof *v * (size_t)(n > 0 ? n : 1));
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]))
            v[m++] = x[i];
    double res = NAN;
    if (m > 0) {
        qsort(v, (size_t)m, sizeof *v, cmp_double);
        double pos = q * (m - 1);
        int lo = (int)floor(pos);
        int hi = lo + 1 < m ? lo + 1 : lo;
        res = v[lo] + (pos - lo) * (v[hi] - v[lo]);
    }
    free(v);
    return res;
}

static void nse_summary(run *r, const char *what, const double *nse, int n)
{
    int finite = 0, above90 = 0, above95 = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(nse[i])) {
            finite++;
            above90 += nse[i] >= 0.9;
            above95 += nse[i] >= 0.95;
        }
    say(r, "%s: median NSE %.4f (p10 %.4f, p25 %.4f, p75 %.4f, p90 %.4f); >= 0.9: %.1f %%, >= 0.95: %.1f %% of %d\n",
        what, quantile(nse, n, 0.5), quantile(nse, n, 0.1), quantile(nse, n, 0.25), quantile(nse, n, 0.75),
        quantile(nse, n, 0.9), finite ? 100.0 * above90 / finite : (double)NAN, finite ? 100.0 * above95 / finite : (double)NAN,
        finite);
}

static int write_sample_nse(run *r, const char *name, const tg_surr_data *d, const double *nse)
{
    char path[2200];
    path_in(r, name, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot create", path);
    fprintf(f, "sample,basin,start,status");
    for (int k = 0; k < d->np; k++)
        fprintf(f, ",%s", d->param_name[k]);
    fprintf(f, ",nse\n");
    for (int i = 0; i < d->N; i++) {
        char date[16];
        fprintf(f, "%d,%s,%s,%s", i, d->basin[i], tg_date_format(d->start[i], date), tg_bb_reason_name(d->status[i]));
        for (int k = 0; k < d->np; k++)
            fprintf(f, ",%.6g", d->params[(size_t)i * (size_t)d->np + (size_t)k]);
        fprintf(f, ",%.6f\n", nse[i]);
    }
    fclose(f);
    return 0;
}

/* ---------------------------------------------------------------- fit */
static void fit_progress(void *ud, int epoch, double loss, double vmed, double secs)
{
    run *r = ud;
    if (isfinite(vmed))
        say(r, "  epoch %3d  loss %.5f  valid median NSE %.4f  (%.1f s)\n", epoch, loss, vmed, secs);
    else
        say(r, "  epoch %3d  loss %.5f  (%.1f s)\n", epoch, loss, secs);
}

/* Reads <dir>/<name> if present (and not regenerating), else generates and writes it. */
static int training_set(run *r, const char *name, const tg_basin *basins, int B, const tg_surr_design *d,
                        tg_surr_data *out)
{
    char path[2200];
    path_in(r, name, path, sizeof path);
    if (!tg_cfg_bool(r->cfg, "design.regenerate") && access(path, R_OK) == 0) {
        int rc = tg_surr_data_read(path, out);
        int same = !rc && out->N == d->n_samples && out->T == d->window && out->np == r->np && out->seed == d->seed;
        for (int k = 0; same && k < r->np; k++)
            same = out->lo[k] == r->lo[k] && out->hi[k] == r->hi[k] && !strcmp(out->param_name[k], r->pnames[k]);
        if (!rc && !same) {
            tg_surr_data_free(out);
            rc = tg_error_set(TG_EINVAL, "%s: made for another design (samples, window, seed or ranges differ); "
                                         "set design.regenerate: true", path);
        }
        if (!rc)
            say(r, "%s: reused (%d samples x %d days, %d failed)\n", name, out->N, out->T, out->n_failed);
        return rc;
    }
    int rc = tg_surr_generate(r->bb, basins, B, d, out);
    if (rc)
        return rc;
    say(r, "%s: %d samples x %d days from %d basins; black box %.2f s (%.3f ms per run), %d failed\n", name, out->N,
        out->T, B, out->seconds, 1e3 * out->seconds / out->N, out->n_failed);
    if (out->n_failed) {
        int shown = 0;
        for (int i = 0; i < out->N && shown < 3; i++)
            if (out->status[i]) {
                say(r, "  sample %d failed: %s\n", i, tg_bb_reason_name(out->status[i]));
                shown++;
            }
    }
    return tg_surr_data_write(path, out);
}

static int cmd_fit(run *r)
{
    int rc = open_blackbox(r);
    if (rc || (rc = read_basins(r)))
        return fail("fit");
    const tg_cfg *c = r->cfg;
    const uint64_t seed = (uint64_t)tg_cfg_int(c, "seed");
    /* Held-out basins: a seeded shuffle of the list; the last fraction validates. */
    int *perm = malloc(sizeof *perm * (size_t)r->B);
    for (int b = 0; b < r->B; b++)
        perm[b] = b;
    tg_rng rng;
    tg_rng_seed(&rng, seed ^ 0xba5115u);
    for (int b = r->B - 1; b > 0; b--) {
        int j = (int)tg_rng_below(&rng, (uint64_t)b + 1), t = perm[b];
        perm[b] = perm[j];
        perm[j] = t;
    }
    int n_valid = (int)lround(tg_cfg_float(c, "design.valid_basins") * r->B);
    if (r->B > 1 && n_valid < 1)
        n_valid = 1;
    if (n_valid >= r->B)
        n_valid = r->B - 1;
    const int n_train = r->B - n_valid;
    tg_basin *tb = malloc(sizeof *tb * (size_t)n_train), *vb = malloc(sizeof *vb * (size_t)(n_valid > 0 ? n_valid : 1));
    char lpath[2200];
    path_in(r, "basins_split.csv", lpath, sizeof lpath);
    FILE *lf = fopen(lpath, "w");
    if (lf)
        fprintf(lf, "basin,set\n");
    for (int b = 0; b < r->B; b++) {
        int i = perm[b];
        if (b < n_train)
            tb[b] = r->basins[i];
        else
            vb[b - n_train] = r->basins[i];
        if (lf)
            fprintf(lf, "%s,%s\n", r->basins[i].id, b < n_train ? "train" : "valid");
    }
    if (lf)
        fclose(lf);
    free(perm);

    tg_surr_design d = {.n_samples = (int)tg_cfg_int(c, "design.n_train"), .window = (int)tg_cfg_int(c, "design.window"),
                        .first = tg_cfg_date(c, "periods.train_start"), .last = tg_cfg_date(c, "periods.train_end"),
                        .seed = seed, .lo = r->lo, .hi = r->hi, .param_names = r->pnames};
    say(r, "design: %d training samples on %d basins, %d validation samples on %d held-out basins, windows of %d days "
           "in the training period; Latin hypercube over:\n",
        d.n_samples, n_train, (int)tg_cfg_int(c, "design.n_valid"), n_valid, d.window);
    for (int k = 0; k < r->np; k++)
        say(r, "  %-8s [%g, %g]\n", r->pnames[k], r->lo[k], r->hi[k]);
    tg_surr_data train, valid;
    memset(&train, 0, sizeof train);
    memset(&valid, 0, sizeof valid);
    tg_surrogate *s = NULL;
    double *nse = NULL;
    rc = training_set(r, "train.nc", tb, n_train, &d, &train);
    if (!rc && n_valid > 0) {
        tg_surr_design dv = d;
        dv.n_samples = (int)tg_cfg_int(c, "design.n_valid");
        dv.seed = seed + 1000003;   /* new parameter sets */
        rc = training_set(r, "valid.nc", vb, n_valid, &dv, &valid);
    }
    if (rc)
        goto done;
    tg_surrogate_config sc = {.hidden = (int)tg_cfg_int(c, "surrogate.hidden"),
                              .epochs = (int)tg_cfg_int(c, "surrogate.epochs"),
                              .batch = (int)tg_cfg_int(c, "surrogate.batch"), .lr = tg_cfg_float(c, "surrogate.lr"),
                              .seed = seed, .mse = !strcmp(tg_cfg_str(c, "surrogate.loss"), "mse"),
                              .exp_output = !strcmp(tg_cfg_str(c, "surrogate.output"), "exp"),
                              .valid_every = (int)tg_cfg_int(c, "surrogate.valid_every"),
                              .progress = fit_progress, .progress_ud = r};
    say(r, "surrogate: LSTM hidden %d, %d epochs, batch %d, Adam lr %g\n", sc.hidden, sc.epochs, sc.batch, sc.lr);
    double t0 = now();
    if (!(s = tg_surrogate_create(&train, &sc)) ||
        (rc = tg_surrogate_fit(s, &train, valid.N ? &valid : NULL, &sc))) {
        rc = rc ? rc : TG_EINVAL;
        goto done;
    }
    const double t_train = now() - t0;
    char spath[2200];
    path_in(r, "surrogate.tgck", spath, sizeof spath);
    if ((rc = tg_surrogate_save(s, spath)))
        goto done;
    say(r, "trained in %.1f s; saved %s (+ .meta)\n", t_train, spath);
    if (valid.N) {
        nse = malloc(sizeof *nse * (size_t)valid.N);
        if ((rc = tg_surrogate_evaluate(s, &valid, nse, NULL)))
            goto done;
        nse_summary(r, "held-out (unseen parameters, unseen basins)", nse, valid.N);
        write_sample_nse(r, "valid_nse.csv", &valid, nse);
    }
done:
    free(nse);
    tg_surrogate_free(&s);
    tg_surr_data_free(&train);
    tg_surr_data_free(&valid);
    free(tb);
    free(vb);
    return rc ? fail("fit") : 0;
}

/* ---------------------------------------------------------------- eval */
static int cmd_eval(run *r, const char *data)
{
    char spath[2200], dpath[2200];
    path_in(r, "surrogate.tgck", spath, sizeof spath);
    if (data)
        snprintf(dpath, sizeof dpath, "%s", data);
    else
        path_in(r, "valid.nc", dpath, sizeof dpath);
    tg_surrogate *s = tg_surrogate_load(spath);
    if (!s)
        return fail("eval");
    tg_surr_data d;
    int rc = tg_surr_data_read(dpath, &d);
    if (rc) {
        tg_surrogate_free(&s);
        return fail("eval");
    }
    double *nse = malloc(sizeof *nse * (size_t)d.N), t0 = now();
    rc = tg_surrogate_evaluate(s, &d, nse, NULL);
    if (!rc) {
        say(r, "%s: %d samples x %d days (%d failed in the model), surrogate %.2f s vs black box %.2f s\n", dpath, d.N,
            d.T, d.n_failed, now() - t0, d.seconds);
        nse_summary(r, "surrogate vs model", nse, d.N);
        rc = write_sample_nse(r, "eval_nse.csv", &d, nse);
    }
    free(nse);
    tg_surr_data_free(&d);
    tg_surrogate_free(&s);
    return rc ? fail("eval") : 0;
}

/* ---------------------------------------------------------------- real-model scoring */
typedef struct periods {
    int train_run, train_first, train_last, test_run, test_first, test_last;
} periods;

static periods get_periods(const run *r)
{
    const tg_cfg *c = r->cfg;
    const int W = (int)tg_cfg_int(c, "periods.warmup");
    periods p = {.train_first = tg_cfg_date(c, "periods.train_start"), .train_last = tg_cfg_date(c, "periods.train_end"),
                 .test_first = tg_cfg_date(c, "periods.test_start"), .test_last = tg_cfg_date(c, "periods.test_end")};
    /* Spin-up: the W days before each period when the record has them, else the period's
     * own first W days (then scoring starts W days later). */
    int start = INT_MAX;
    for (int b = 0; b < r->B; b++)
        if (r->basins[b].start < start)
            start = r->basins[b].start;
    p.train_run = p.train_first - W >= start ? p.train_first - W : p.train_first;
    if (p.train_run == p.train_first)
        p.train_first += W;
    p.test_run = p.test_first - W >= start ? p.test_first - W : p.test_first;
    if (p.test_run == p.test_first)
        p.test_first += W;
    return p;
}

/* Scores params (B, np) with the real model on both periods; writes <prefix>_metrics.csv
 * and <prefix>_params.csv and prints median NSE/KGE. */
static int score_real(run *r, const char *prefix, const double *params, double seconds)
{
    periods p = get_periods(r);
    tg_metrics *mtr = calloc((size_t)r->B, sizeof *mtr), *mte = calloc((size_t)r->B, sizeof *mte);
    int *st = calloc((size_t)r->B, sizeof *st);
    double t0 = now();
    int rc = tg_blackbox_eval_basins(r->bb, r->basins, r->B, params, p.train_run, p.train_first, p.train_last, mtr, st,
                                     NULL);
    if (!rc)
        rc = tg_blackbox_eval_basins(r->bb, r->basins, r->B, params, p.test_run, p.test_first, p.test_last, mte, st,
                                     NULL);
    if (rc)
        goto done;
    const double t_eval = now() - t0;
    char path[2200], name[128];
    snprintf(name, sizeof name, "%s_params.csv", prefix);
    path_in(r, name, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "basin");
        for (int k = 0; k < r->np; k++)
            fprintf(f, ",%s", r->pnames[k]);
        fprintf(f, "\n");
        for (int b = 0; b < r->B; b++) {
            fprintf(f, "%s", r->basins[b].id);
            for (int k = 0; k < r->np; k++)
                fprintf(f, ",%.8g", params[(size_t)b * (size_t)r->np + (size_t)k]);
            fprintf(f, "\n");
        }
        fclose(f);
    }
    snprintf(name, sizeof name, "%s_metrics.csv", prefix);
    path_in(r, name, path, sizeof path);
    f = fopen(path, "w");
    double *ntr = malloc(sizeof *ntr * (size_t)r->B), *nte = malloc(sizeof *nte * (size_t)r->B);
    double *kte = malloc(sizeof *kte * (size_t)r->B);
    if (f)
        fprintf(f, "basin,nse_train,kge_train,nse_test,kge_test,status\n");
    for (int b = 0; b < r->B; b++) {
        ntr[b] = mtr[b].nse;
        nte[b] = mte[b].nse;
        kte[b] = mte[b].kge;
        if (f)
            fprintf(f, "%s,%.4f,%.4f,%.4f,%.4f,%s\n", r->basins[b].id, mtr[b].nse, mtr[b].kge, mte[b].nse, mte[b].kge,
                    tg_bb_reason_name(st[b]));
    }
    if (f)
        fclose(f);
    say(r, "%s with the REAL model on %d basins: train median NSE %.4f; test median NSE %.4f (p25 %.4f, p75 %.4f), "
           "median KGE %.4f; parameters found in %.1f s, scored in %.2f s\n",
        prefix, r->B, quantile(ntr, r->B, 0.5), quantile(nte, r->B, 0.5), quantile(nte, r->B, 0.25),
        quantile(nte, r->B, 0.75), quantile(kte, r->B, 0.5), seconds, t_eval);
    free(ntr);
    free(nte);
    free(kte);
done:
    free(mtr);
    free(mte);
    free(st);
    return rc;
}

/* ---------------------------------------------------------------- learn */
static void learn_progress(void *ud, int epoch, double loss, double secs)
{
    say(ud, "  epoch %3d  loss %.5f  (%.1f s)\n", epoch, loss, secs);
}

/* How faithful is the surrogate AT the learned parameters (not on the LHS design)? Both
 * it and the real model run consecutive windows of its length through the training period
 * from the same initial state; median per-window NSE of surrogate against model. */
static int fidelity(run *r, const tg_surrogate *s, const double *params)
{
    int W;
    tg_surrogate_dims(s, NULL, NULL, &W, NULL);
    const int first = tg_cfg_date(r->cfg, "periods.train_start"), last = tg_cfg_date(r->cfg, "periods.train_end");
    const int K = (last - first + 1) / W, N = K * r->B;
    if (K < 1)
        return 0;
    int nout;
    tg_blackbox_dims(r->bb, NULL, NULL, &nout);
    double *f = calloc((size_t)N * (size_t)W * 3, sizeof *f), *fs = malloc(sizeof *fs * (size_t)N * (size_t)W * 3);
    double *p = malloc(sizeof *p * (size_t)N * (size_t)r->np), *out = malloc(sizeof *out * (size_t)N * (size_t)W * (size_t)nout);
    double *q = malloc(sizeof *q * (size_t)N * (size_t)W), *nse = malloc(sizeof *nse * (size_t)N);
    int *why = calloc((size_t)N, sizeof *why), nfail = 0, rc = 0;
    static const int vars[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    for (int b = 0; b < r->B; b++)
        for (int k = 0; k < K; k++) {
            const int i = b * K + k, o = first + k * W - r->basins[b].start;
            memcpy(p + (size_t)i * (size_t)r->np, params + (size_t)b * (size_t)r->np, sizeof *p * (size_t)r->np);
            for (int t = 0; t < W; t++)
                for (int v = 0; v < 3; v++) {
                    double x = o + t >= 0 && o + t < r->basins[b].T ? (double)r->basins[b].var[vars[v]][o + t] : (double)NAN;
                    f[((size_t)i * (size_t)W + (size_t)t) * 3 + (size_t)v] = x;
                    fs[((size_t)t * (size_t)N + (size_t)i) * 3 + (size_t)v] = isfinite(x) ? x : 0;   /* (T, N, 3) */
                }
        }
    const double t0 = now();
    rc = tg_blackbox_run_batch(r->bb, N, W, f, (size_t)W * 3, p, out, why, NULL, &nfail);
    const double t_model = now() - t0, t1 = now();
    if (!rc)
        rc = tg_surrogate_predict(s, W, N, fs, p, q);
    const double t_surr = now() - t1;
    if (!rc) {
        tg_error_clear();
        for (int i = 0; i < N; i++) {
            double mean = 0, num = 0, den = 0;
            for (int t = 0; t < W; t++)
                mean += out[((size_t)i * (size_t)W + (size_t)t) * (size_t)nout];
            mean /= W;
            for (int t = 0; t < W; t++) {
                double m = out[((size_t)i * (size_t)W + (size_t)t) * (size_t)nout], e = q[(size_t)t * (size_t)N + (size_t)i] - m;
                num += e * e;
                den += (m - mean) * (m - mean);
            }
            nse[i] = why[i] == TG_BB_OK && den > 0 ? 1 - num / den : (double)NAN;
        }
        say(r, "surrogate vs real model at the learned parameters (%d windows of %d days, training period): median "
               "NSE %.4f (p10 %.4f, p25 %.4f); real model %.2f s, surrogate %.2f s\n",
            N, W, quantile(nse, N, 0.5), quantile(nse, N, 0.1), quantile(nse, N, 0.25), t_model, t_surr);
    }
    free(f);
    free(fs);
    free(p);
    free(out);
    free(q);
    free(nse);
    free(why);
    return rc;
}

static int cmd_learn(run *r, const char *mode_arg)
{
    int rc = open_blackbox(r);
    if (rc || (rc = read_basins(r)))
        return fail("learn");
    const tg_cfg *c = r->cfg;
    char spath[2200];
    path_in(r, "surrogate.tgck", spath, sizeof spath);
    tg_surrogate *s = tg_surrogate_load(spath);
    if (!s)
        return fail("learn");
    int snp;
    tg_surrogate_dims(s, &snp, NULL, NULL, NULL);
    tg_real *attr = NULL;
    double *params = calloc((size_t)r->B * (size_t)r->np, sizeof *params);
    tg_attributes at;
    memset(&at, 0, sizeof at);
    int A = 0;
    const char *mode_name = mode_arg ? mode_arg : tg_cfg_str(c, "learn.mode");
    if (strcmp(mode_name, "mlp") && strcmp(mode_name, "per_basin")) {
        tg_surrogate_free(&s);
        free(params);
        tg_error_set(TG_EINVAL, "--mode '%s': mlp or per_basin", mode_name);
        return fail("learn");
    }
    const int mode = !strcmp(mode_name, "mlp") ? TG_LEARN_MLP : TG_LEARN_PER_BASIN;
    if (snp != r->np) {
        rc = tg_error_set(TG_EINVAL, "%s has %d parameters, the config %d", spath, snp, r->np);
        goto done;
    }
    if (mode == TG_LEARN_MLP) {
        if (!tg_cfg_str(c, "data.attributes")) {
            rc = tg_error_set(TG_EINVAL, "%s: learn.mode mlp needs data.attributes", tg_cfg_path(c));
            goto done;
        }
        int nc = tg_cfg_list_len(c, "data.attribute_names");
        const char **cols = nc > 0 ? malloc(sizeof *cols * (size_t)nc) : NULL;
        for (int k = 0; k < nc; k++)
            cols[k] = tg_cfg_list_item(c, "data.attribute_names", k);
        tg_attr_options ao = {.columns = cols, .n_columns = nc, .categorical = TG_CAT_DROP};
        rc = tg_camels_attributes_read(tg_cfg_str(c, "data.attributes"), &ao, &at);
        free(cols);
        if (rc)
            goto done;
        A = at.F;
        attr = malloc(sizeof *attr * (size_t)r->B * (size_t)A);
        if ((rc = tg_attributes_gather(&at, (const char(*)[TG_ID_MAX])r->ids.id, r->B, attr)))
            goto done;
        tg_surr_standardise(attr, r->B, A);
    }
    tg_surr_learn_config lc = {.mode = mode, .hidden = (int)tg_cfg_int(c, "learn.hidden"),
                               .layers = (int)tg_cfg_int(c, "learn.layers"), .epochs = (int)tg_cfg_int(c, "learn.epochs"),
                               .iterations = (int)tg_cfg_int(c, "learn.iterations"),
                               .batch = (int)tg_cfg_int(c, "learn.batch"), .lr = tg_cfg_float(c, "learn.lr"),
                               .warmup = (int)tg_cfg_int(c, "learn.warmup"), .seed = (uint64_t)tg_cfg_int(c, "seed"),
                               .progress = learn_progress, .progress_ud = r};
    say(r, "learn (%s%s) through the frozen surrogate on %d basins, %d attributes\n",
        mode == TG_LEARN_MLP ? "attributes -> MLP -> " : "per-basin ", "parameters", r->B, A);
    double t0 = now();
    if ((rc = tg_surr_learn(s, r->basins, r->B, attr, A, tg_cfg_date(c, "periods.train_start"),
                            tg_cfg_date(c, "periods.train_end"), &lc, params)))
        goto done;
    const double t_learn = now() - t0;
    if (!(rc = score_real(r, mode == TG_LEARN_MLP ? "learn_mlp" : "learn_per_basin", params, t_learn)))
        rc = fidelity(r, s, params);
done:
    free(attr);
    free(params);
    tg_attributes_free(&at);
    tg_surrogate_free(&s);
    return rc ? fail("learn") : 0;
}

/* ---------------------------------------------------------------- calibrate */
static int cmd_calibrate(run *r)
{
    int rc = open_blackbox(r);
    if (rc || (rc = read_basins(r)))
        return fail("calibrate");
    periods p = get_periods(r);
    double *params = calloc((size_t)r->B * (size_t)r->np, sizeof *params), *obj = calloc((size_t)r->B, sizeof *obj);
    long evals = tg_cfg_int(r->cfg, "calibrate.max_evals"), *used = calloc((size_t)r->B, sizeof *used);
    say(r, "SCE-UA per basin on the real model: %d basins, %ld runs each\n", r->B, evals);
    double t0 = now();
    rc = tg_blackbox_calibrate_basins(r->bb, r->basins, r->B, r->lo, r->hi, p.train_run, p.train_first, p.train_last,
                                      evals, (uint64_t)tg_cfg_int(r->cfg, "seed"), params, obj, used);
    if (!rc) {
        long total = 0;
        for (int b = 0; b < r->B; b++)
            total += used[b];
        say(r, "SCE-UA used %ld model runs in total (%.0f per basin on average)\n", total, (double)total / r->B);
        rc = score_real(r, "sceua", params, now() - t0);
    }
    free(params);
    free(obj);
    free(used);
    return rc ? fail("calibrate") : 0;
}

/* ---------------------------------------------------------------- entry */
int tg_cmd_surrogate(int argc, char **argv)
{
    const char *sub = NULL, *config = NULL, *data = NULL, *mode = NULL, *period = "test";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--print-schema")) {
            tg_cfg_schema_markdown(stdout, schema, NSCHEMA);
            return 0;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            mode = argv[++i];
        } else if (!strcmp(argv[i], "--period") && i + 1 < argc) {
            period = argv[++i];
            if (strcmp(period, "test") && strcmp(period, "valid") && strcmp(period, "train")) {
                fprintf(stderr, "terragrad surrogate: --period must be test, valid or train\n");
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad surrogate: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!sub) {
            sub = argv[i];
        } else if (!config) {
            config = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!sub || !config) {
        usage(stderr);
        return 2;
    }
    int which = !strcmp(sub, "fit") ? 0 : !strcmp(sub, "eval") ? 1 : !strcmp(sub, "learn") ? 2
                                                                     : !strcmp(sub, "calibrate") ? 3 : -1;
    if (which < 0) {
        fprintf(stderr, "terragrad surrogate: unknown action '%s' (fit, eval, learn, calibrate)\n", sub);
        return 2;
    }
    struct stat sb;
    if (which == 1 && stat(config, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (tg_surrogate_train_eval(config, period)) {
            fprintf(stderr, "terragrad surrogate eval: %s\n", tg_error_message());
            return 1;
        }
        return 0;
    }
    static const char *logs[4] = {"fit.log", "eval.log", "learn.log", "calibrate.log"};
    run r;
    if (open_run(&r, config, logs[which])) {
        int rc = fail(sub);
        close_run(&r);
        return rc;
    }
    int rc = which == 0 ? cmd_fit(&r) : which == 1 ? cmd_eval(&r, data) : which == 2 ? cmd_learn(&r, mode) : cmd_calibrate(&r);
    close_run(&r);
    return rc;
}
