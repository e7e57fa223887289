/* cmd_plot.c — `terragrad plot RUN_DIR`: PNG figures with gnuplot — training loss,
 * hydrographs (observed vs simulated), CDF of NSE over basins, and for δHBV the internal
 * fluxes (ET, SWE, soil moisture), and for runs that wrote params_<period>.csv the learned
 * parameters against basin attributes (scatter grid) and on a lon/lat map. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "terragrad.h"

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int run_gnuplot(const char *script_path)
{
    char cmd[4600];
    snprintf(cmd, sizeof cmd, "gnuplot '%s'", script_path);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "terragrad plot: gnuplot failed on %s (is gnuplot installed? apt-get install gnuplot-nox)\n",
                script_path);
        return 1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorted NSE values of metrics_<period>.csv into <plots>/nse_cdf.dat; returns count. */
static int nse_cdf(const char *metrics, const char *out)
{
    FILE *f = fopen(metrics, "r");
    if (!f)
        return -1;
    char line[8192];
    double *v = NULL;
    int n = 0, cap = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ',');
        if (!c)
            continue;
        double x = strtod(c + 1, NULL);
        if (!isfinite(x))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            v = realloc(v, (size_t)cap * sizeof *v);
        }
        v[n++] = x;
    }
    fclose(f);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    FILE *o = fopen(out, "w");
    if (!o) {
        free(v);
        return -1;
    }
    for (int i = 0; i < n; i++)
        fprintf(o, "%g %g\n", v[i] < -1 ? -1 : v[i], (i + 1.0) / n);
    fclose(o);
    free(v);
    return n;
}

/* ------------------------------------------------------------ learned parameters vs attributes */
enum { PP_MAX_COLS = 40, PP_PANELS = 9, PP_MAPS = 6 };

typedef struct param_table {
    int B, P;                          /* basins, parameter columns */
    char (*id)[TG_ID_MAX];             /* (B) */
    char name[PP_MAX_COLS][TG_NAME_MAX];
    double *v;                         /* (B, P) */
} param_table;

static void param_table_free(param_table *t)
{
    free(t->id);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* params_<period>.csv: header basin,<name>,...; one row per basin, numbers (NA/nan/empty = NaN). */
static int param_table_read(const char *path, param_table *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot open", path);
    char line[8192];
    int rc = 0, lineno = 1, cap = 0;
    if (!fgets(line, sizeof line, f))
        rc = tg_error_set(TG_EINVAL, "%s: line 1: empty file (expected a header basin,...)", path);
    if (!rc) {
        line[strcspn(line, "\r\n")] = '\0';
        char *save = NULL, *tok = strtok_r(line, ",", &save);
        if (!tok || strcmp(tok, "basin"))
            rc = tg_error_set(TG_EINVAL, "%s: line 1, field 1: expected 'basin'", path);
        while (!rc && (tok = strtok_r(NULL, ",", &save))) {
            if (t->P == PP_MAX_COLS)
                rc = tg_error_set(TG_EINVAL, "%s: line 1: more than %d parameter columns", path, PP_MAX_COLS);
            else
                snprintf(t->name[t->P++], TG_NAME_MAX, "%s", tok);
        }
        if (!rc && t->P == 0)
            rc = tg_error_set(TG_EINVAL, "%s: line 1: no parameter columns", path);
    }
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (t->B == cap) {
            cap = cap ? 2 * cap : 256;
            void *a = realloc(t->id, (size_t)cap * sizeof *t->id), *b = a ? realloc(t->v, (size_t)cap * t->P * sizeof *t->v) : NULL;
            if (a)
                t->id = a;
            if (b)
                t->v = b;
            if (!a || !b) {
                rc = tg_error_set(TG_ENOMEM, "out of memory");
                break;
            }
        }
        char *p = line;
        size_t l = strcspn(p, ",");
        snprintf(t->id[t->B], TG_ID_MAX, "%.*s", (int)l, p);
        p += l;
        for (int k = 0; k < t->P && !rc; k++) {
            if (*p != ',') {
                rc = tg_error_set(TG_EINVAL, "%s: line %d: %d fields, the header has %d", path, lineno, k + 1, t->P + 1);
                break;
            }
            p++;
            char *end;
            double x = strtod(p, &end);
            if (end == p || (*end && *end != ',')) {
                l = strcspn(p, ",");
                if (l && strncmp(p, "NA", l) && strncmp(p, "nan", l))
                    rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': '%.*s' is not a number", path, lineno,
                                      t->name[k], (int)l, p);
                x = (double)NAN;
                end = p + l;
            }
            t->v[(size_t)t->B * t->P + k] = x;
            p = end;
        }
        if (!rc)
            t->B++;
    }
    fclose(f);
    if (!rc && t->B == 0)
        rc = tg_error_set(TG_EINVAL, "%s: no basin rows", path);
    if (rc)
        param_table_free(t);
    return rc;
}

typedef struct rank_item {
    double v;
    int i;
} rank_item;

static int cmp_rank(const void *a, const void *b)
{
    double x = ((const rank_item *)a)->v, y = ((const rank_item *)b)->v;
    return (x > y) - (x < y);
}

/* Pearson correlation of (x, y) over pairs where both are finite; *n = pairs used. */
static double pearson(const double *x, const double *y, int n_all, int *n)
{
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    int c = 0;
    for (int i = 0; i < n_all; i++)
        if (isfinite(x[i]) && isfinite(y[i]))
            sx += x[i], sy += y[i], c++;
    *n = c;
    if (c < 3)
        return (double)NAN;
    double mx = sx / c, my = sy / c;
    for (int i = 0; i < n_all; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            double dx = x[i] - mx, dy = y[i] - my;
            sxx += dx * dx, syy += dy * dy, sxy += dx * dy;
        }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : (double)NAN;
}

/* Ranks (ties averaged) of the finite x, NaN elsewhere. */
static void ranks(double *r, const double *x, int n, rank_item *tmp)
{
    int c = 0;
    for (int i = 0; i < n; i++) {
        r[i] = (double)NAN;
        if (isfinite(x[i]))
            tmp[c].v = x[i], tmp[c].i = i, c++;
    }
    qsort(tmp, (size_t)c, sizeof *tmp, cmp_rank);
    for (int a = 0; a < c;) {
        int b = a;
        while (b + 1 < c && tmp[b + 1].v == tmp[a].v)
            b++;
        for (int k = a; k <= b; k++)
            r[tmp[k].i] = 0.5 * (a + b) + 1.0;
        a = b + 1;
    }
}

/* Spearman rank correlation over the pairs where both are finite. */
static double spearman(const double *x, const double *y, int n)
{
    double *xx = malloc((size_t)n * sizeof *xx), *yy = malloc((size_t)n * sizeof *yy);
    double *rx = malloc((size_t)n * sizeof *rx), *ry = malloc((size_t)n * sizeof *ry);
    rank_item *tmp = malloc((size_t)n * sizeof *tmp);
    double r = (double)NAN;
    if (xx && yy && rx && ry && tmp) {
        int c = 0;
        for (int i = 0; i < n; i++)
            if (isfinite(x[i]) && isfinite(y[i]))
                xx[c] = x[i], yy[c] = y[i], c++;
        ranks(rx, xx, c, tmp);
        ranks(ry, yy, c, tmp);
        int used;
        r = pearson(rx, ry, c, &used);
    }
    free(xx), free(yy), free(rx), free(ry), free(tmp);
    return r;
}

static int table_col(const param_table *t, const char *name)
{
    for (int k = 0; k < t->P; k++)
        if (!strcmp(t->name[k], name))
            return k;
    return -1;
}

/* Attributes of the run's config (data.attributes): every numeric column of the source. */
static int run_attributes(const char *run, tg_attributes *a, char (*use)[TG_NAME_MAX], int *n_use, int max_use)
{
    tg_run_config cfg;
    if (tg_run_load(run, &cfg, NULL))
        return tg_error_code();
    const char *path = cfg.file, *ap = cfg.data.attributes;
    int rc = 0;
    *n_use = 0;
    if (!ap)
        rc = tg_error_set(TG_EINVAL, "%s: no data.attributes: nothing to plot the parameters against", path);
    char apath[4400] = "";
    if (!rc) {
        /* relative paths: as given (the directory train ran in), else from the run's parent folders */
        snprintf(apath, sizeof apath, "%s", ap);
        if (!exists(apath) && ap[0] != '/')
            snprintf(apath, sizeof apath, "%s/../%s", run, ap);
        if (!exists(apath) && ap[0] != '/')
            snprintf(apath, sizeof apath, "%s/../../%s", run, ap);
        if (!exists(apath))
            rc = tg_error_set(TG_EIO, "%s:%d: data.attributes: '%s' not found", path, tg_run_config_line(&cfg, "data.attributes"),
                              ap);
    }
    if (!rc) {
        size_t len = strlen(apath);
        memset(a, 0, sizeof *a);
        if (len > 4 && !strcmp(apath + len - 4, ".csv"))
            rc = tg_attributes_read_csv(apath, a);
        else {
            tg_attr_options o = {.columns = NULL, .n_columns = 0, .include_hydro = 0, .categorical = TG_CAT_DROP};
            rc = tg_camels_attributes_read(apath, &o, a);
        }
    }
    for (int i = 0; !rc && i < cfg.data.attribute_names.n && *n_use < max_use; i++)
        snprintf(use[(*n_use)++], TG_NAME_MAX, "%s", cfg.data.attribute_names.items[i]);
    tg_run_config_free(&cfg);
    return rc;
}

/* Scatter grid of learned parameters against attributes and a lon/lat map; appends gnuplot
 * commands to g. Returns the number of figures (0 when there is nothing to draw). */
static int params_plots(const char *run, const char *period, const char *plots, FILE *g)
{
    char path[4400], dat[4400], corr_path[4400];
    snprintf(path, sizeof path, "%s/params_%s.csv", run, period);
    if (!exists(path))
        return 0;
    param_table t;
    tg_attributes a;
    memset(&a, 0, sizeof a);
    char use[64][TG_NAME_MAX];
    int n_use = 0;
    if (param_table_read(path, &t)) {
        fprintf(stderr, "terragrad plot: %s (no parameter plots)\n", tg_error_message());
        return 0;
    }
    if (run_attributes(run, &a, use, &n_use, 64)) {
        fprintf(stderr, "terragrad plot: %s (no parameter plots)\n", tg_error_message());
        param_table_free(&t);
        return 0;
    }
    /* joined table: basin, params (P), every attribute column (F), NaN where missing */
    const int B = t.B, P = t.P, F = a.F;
    double *x = malloc((size_t)B * (size_t)(F > 0 ? F : 1) * sizeof *x);
    double *col_a = malloc((size_t)B * sizeof *col_a), *col_p = malloc((size_t)B * sizeof *col_p);
    int found = 0;
    for (int b = 0; x && b < B; b++) {
        int r = tg_attributes_basin(&a, t.id[b]);
        found += r >= 0;
        for (int k = 0; k < F; k++)
            x[(size_t)b * F + k] = r >= 0 ? (double)a.value[(size_t)r * F + k] : (double)NAN;
    }
    int drawn = 0;
    if (!x || !col_a || !col_p || found < 3) {
        fprintf(stderr, "terragrad plot: %s: fewer than 3 basins with attributes (no parameter plots)\n", path);
        goto done;
    }
    snprintf(dat, sizeof dat, "%s/params_attributes.dat", plots);
    FILE *d = fopen(dat, "w");
    if (!d)
        goto done;
    fprintf(d, "basin");
    for (int k = 0; k < P; k++)
        fprintf(d, ",%s", t.name[k]);
    for (int k = 0; k < F; k++)
        fprintf(d, ",%s", a.name[k]);
    fputc('\n', d);
    for (int b = 0; b < B; b++) {
        fprintf(d, "%s", t.id[b]);
        for (int k = 0; k < P + F; k++) {
            double v = k < P ? t.v[(size_t)b * P + k] : x[(size_t)b * F + (k - P)];
            if (isfinite(v))
                fprintf(d, ",%.8g", v);
            else
                fprintf(d, ",nan");
        }
        fputc('\n', d);
    }
    fclose(d);
    /* every parameter against every attribute of the run's inputs (+ the panel defaults) */
    static const char *const pairs[][2] = {
        {"FC", "max_water_content"}, {"FC", "soil_depth_pelletier"}, {"BETA", "aridity"},
        {"TT", "frac_snow"},         {"CFMAX", "frac_snow"},          {"CFMAX", "elev_mean"},
        {"K2", "geol_permeability"}, {"PERC", "geol_permeability"},   {"K0", "slope_mean"}};
    const int n_pairs = (int)(sizeof pairs / sizeof pairs[0]);
    snprintf(corr_path, sizeof corr_path, "%s/params_attributes_corr.csv", plots);
    FILE *cf = fopen(corr_path, "w");
    int panel_p[PP_PANELS], panel_a[PP_PANELS], n_panels = 0;
    double panel_r[PP_PANELS], panel_s[PP_PANELS];
    for (int i = 0; i < n_pairs && n_panels < PP_PANELS; i++) {
        int p = table_col(&t, pairs[i][0]), c = tg_attributes_column(&a, pairs[i][1]);
        if (p >= 0 && c >= 0)
            panel_p[n_panels] = p, panel_a[n_panels] = c, n_panels++;
    }
    /* the correlation table: parameters x the run's attribute_names (all attributes if none) */
    int n_cand = n_use ? n_use : F;
    double best_s[PP_PANELS];
    int best_p[PP_PANELS], best_a[PP_PANELS], n_best = 0;
    if (cf)
        fprintf(cf, "param,attribute,n,pearson,spearman\n");
    for (int p = 0; p < P; p++)
        for (int j = 0; j < n_cand; j++) {
            int c = n_use ? tg_attributes_column(&a, use[j]) : j;
            if (c < 0)
                continue;
            for (int b = 0; b < B; b++)
                col_p[b] = t.v[(size_t)b * P + p], col_a[b] = x[(size_t)b * F + c];
            int n;
            double r = pearson(col_a, col_p, B, &n), rs = spearman(col_a, col_p, B);
            if (cf)
                fprintf(cf, "%s,%s,%d,%.4f,%.4f\n", t.name[p], a.name[c], n, r, rs);
            /* strongest pairs not among the defaults fill the free panels */
            int dup = 0;
            for (int k = 0; k < n_panels; k++)
                dup |= panel_p[k] == p && panel_a[k] == c;
            if (dup || !isfinite(rs))
                continue;
            int slot = n_best < PP_PANELS ? n_best++ : -1;
            if (slot < 0) {
                slot = 0;
                for (int k = 1; k < PP_PANELS; k++)
                    if (fabs(best_s[k]) < fabs(best_s[slot]))
                        slot = k;
                if (fabs(rs) <= fabs(best_s[slot]))
                    continue;
            }
            best_s[slot] = rs, best_p[slot] = p, best_a[slot] = c;
        }
    if (cf)
        fclose(cf);
    while (n_panels < PP_PANELS && n_best > 0) { /* add the strongest remaining */
        int k = 0;
        for (int j = 1; j < n_best; j++)
            if (fabs(best_s[j]) > fabs(best_s[k]))
                k = j;
        panel_p[n_panels] = best_p[k], panel_a[n_panels] = best_a[k], n_panels++;
        best_s[k] = best_s[--n_best], best_p[k] = best_p[n_best], best_a[k] = best_a[n_best];
    }
    for (int i = 0; i < n_panels; i++) {
        for (int b = 0; b < B; b++)
            col_p[b] = t.v[(size_t)b * P + panel_p[i]], col_a[b] = x[(size_t)b * F + panel_a[i]];
        int n;
        panel_r[i] = pearson(col_a, col_p, B, &n);
        panel_s[i] = spearman(col_a, col_p, B);
    }
    if (n_panels > 0) {
        int cols = n_panels <= 4 ? 2 : 3, rows = (n_panels + cols - 1) / cols;
        fprintf(g, "reset\nset terminal pngcairo size %d,%d noenhanced\nset datafile separator ','\n"
                   "set datafile missing 'nan'\nset grid\nset output '%s/params_attributes.png'\n"
                   "set multiplot layout %d,%d title 'learned parameters (%s period, mean over components) vs "
                   "basin attributes, %d basins'\n",
                cols * 420, rows * 380 + 40, plots, rows, cols, period, found);
        for (int i = 0; i < n_panels; i++)
            fprintf(g, "set title \"%s vs %s\\nPearson r %.2f, Spearman %.2f\"\nset xlabel '%s'\nset ylabel '%s'\n"
                       "plot '%s' skip 1 using %d:%d with points pt 7 ps 0.6 lc rgb '#1f77b4' notitle\n",
                    t.name[panel_p[i]], a.name[panel_a[i]], panel_r[i], panel_s[i], a.name[panel_a[i]],
                    t.name[panel_p[i]], dat, 2 + P + panel_a[i], 2 + panel_p[i]);
        fprintf(g, "unset multiplot\n");
        drawn++;
    }
    /* map: lon/lat coloured by parameter */
    int lat = tg_attributes_column(&a, "gauge_lat"), lon = tg_attributes_column(&a, "gauge_lon");
    if (lat < 0)
        lat = tg_attributes_column(&a, "lat");
    if (lon < 0)
        lon = tg_attributes_column(&a, "lon");
    if (lat >= 0 && lon >= 0) {
        static const char *const maps[PP_MAPS] = {"FC", "BETA", "K2", "PERC", "TT", "CFMAX"};
        int mp[PP_MAPS], n_maps = 0;
        for (int i = 0; i < PP_MAPS; i++)
            if ((mp[n_maps] = table_col(&t, maps[i])) >= 0)
                n_maps++;
        for (int k = 0; k < P && n_maps < PP_MAPS; k++) { /* another parameter file: its first columns */
            int dup = 0;
            for (int i = 0; i < n_maps; i++)
                dup |= mp[i] == k;
            if (!dup)
                mp[n_maps++] = k;
        }
        int cols = n_maps <= 2 ? n_maps : n_maps <= 4 ? 2 : 3, rows = (n_maps + cols - 1) / cols;
        fprintf(g, "reset\nset terminal pngcairo size %d,%d noenhanced\nset datafile separator ','\n"
                   "set datafile missing 'nan'\nset grid\nset output '%s/params_map.png'\n"
                   "set palette defined (0 '#313695', 0.25 '#74add1', 0.5 '#ffffbf', 0.75 '#f46d43', 1 '#a50026')\n"
                   "set multiplot layout %d,%d title 'learned parameters at the gauges (%s period)'\n"
                   "set xlabel 'longitude'\nset ylabel 'latitude'\nset size ratio 0.57\n",
                cols * 560, rows * 300 + 40, plots, rows, cols, period);
        for (int i = 0; i < n_maps; i++)
            fprintf(g, "set title '%s'\nplot '%s' skip 1 using %d:%d:%d with points pt 7 ps 0.8 palette notitle\n",
                    t.name[mp[i]], dat, 2 + P + lon, 2 + P + lat, 2 + mp[i]);
        fprintf(g, "unset multiplot\n");
        drawn++;
    }
    printf("parameters vs attributes: %d panels, correlations in %s\n", n_panels, corr_path);
done:
    free(x), free(col_a), free(col_p);
    param_table_free(&t);
    tg_attributes_free(&a);
    return drawn;
}

static int plot_run(const char *run, const char *period, const char **basins, int nbas);

int tg_cmd_plot(int argc, char **argv)
{
    const char *run = NULL, *period = "test";
    const char *basins[16];
    int nbas = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: terragrad plot RUN_DIR [--period test] [--basin ID]...\n\n"
                   "Draws RUN_DIR/plots/*.png with gnuplot: loss.png (training loss per epoch),\n"
                   "hydrograph_<basin>.png (observed vs simulated; the last 3 years of the period),\n"
                   "nse_cdf.png (CDF of NSE over basins) and, for δHBV runs, fluxes_<basin>.png\n"
                   "(ET, SWE, soil moisture). Basins: --basin (repeatable), else output.plot_basins,\n"
                   "else the first three. With RUN_DIR/params_<period>.csv (δHBV, written by terragrad\n"
                   "test): params_attributes.png (learned parameters against the attributes of the run's\n"
                   "data.attributes, with Pearson and Spearman r; all pairs in params_attributes_corr.csv)\n"
                   "and params_map.png (gauge lon/lat coloured by parameter, if the attributes have them).\n"
                   "Refuses test outputs that came from another checkpoint than RUN_DIR/last.ckpt (run\n"
                   "terragrad test again after training on); plots/plots.source names the checkpoint drawn.\n");
            return 0;
        } else if (!strcmp(argv[i], "--period") && i + 1 < argc)
            period = argv[++i];
        else if (!strcmp(argv[i], "--basin") && i + 1 < argc && nbas < 16)
            basins[nbas++] = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad plot: unknown option '%s'\n", argv[i]);
            return 2;
        } else
            run = argv[i];
    }
    if (!run) {
        fprintf(stderr, "terragrad plot: no run directory given\n");
        return 2;
    }
    struct stat st;
    if (stat(run, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "terragrad plot: %s: no such run folder\n", run);
        return 1;
    }
    char command[1024] = "terragrad";
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(command);
        snprintf(command + n, sizeof command - n, " %s", argv[i]);
    }
    tg_run_lock lock = {-1};
    if (tg_run_lock_acquire(&lock, run, command)) {
        fprintf(stderr, "terragrad plot: %s\n", tg_error_message());
        return 1;
    }
    int rc = plot_run(run, period, basins, nbas);
    tg_run_lock_release(&lock);
    return rc;
}

/* Draws the figures of a run (its folder locked by the caller). */
static int plot_run(const char *run, const char *period, const char **basins, int nbas)
{
    char plots[4200], path[4400], gp[4400], ckpt[4200], source[64];
    /* outputs of `terragrad test` must come from the run's current checkpoint: after more
     * training they describe a model that no longer exists */
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    snprintf(source, sizeof source, "outputs_%s.source", period);
    snprintf(path, sizeof path, "%s/metrics_%s.csv", run, period);
    if (exists(ckpt) && exists(path)) {
        char what[4400];
        snprintf(what, sizeof what, "%s/metrics_%s.csv and predictions_%s", run, period, period);
        if (tg_run_provenance_check(run, source, ckpt, what)) {
            fprintf(stderr, "terragrad plot: %s\n", tg_error_message());
            return 1;
        }
    }
    snprintf(plots, sizeof plots, "%s/plots", run);
    if (tg_out_dir_prepare(plots)) {
        fprintf(stderr, "terragrad plot: %s\n", tg_error_message());
        return 1;
    }
    snprintf(gp, sizeof gp, "%s/plots.gp", plots);
    FILE *g = fopen(gp, "w");
    if (!g) {
        fprintf(stderr, "terragrad plot: cannot write %s\n", gp);
        return 1;
    }
    fprintf(g, "set terminal pngcairo size 1000,500 noenhanced\nset datafile separator ','\nset grid\n");
    int drawn = 0;
    snprintf(path, sizeof path, "%s/loss.csv", run);
    if (exists(path)) {
        fprintf(g, "set output '%s/loss.png'\nset title 'training loss'\nset xlabel 'epoch'\nset ylabel 'loss'\n"
                   "plot '%s' using 1:2 skip 1 with linespoints title 'train'\n", plots, path);
        drawn++;
    }
    char metrics[4400], cdf[4400];
    snprintf(metrics, sizeof metrics, "%s/metrics_%s.csv", run, period);
    snprintf(cdf, sizeof cdf, "%s/nse_cdf.dat", plots);
    int ncdf = nse_cdf(metrics, cdf);
    if (ncdf > 0) {
        fprintf(g, "set datafile separator whitespace\nset output '%s/nse_cdf.png'\n"
                   "set title 'NSE over %d basins (%s period)'\nset xlabel 'NSE (clipped at -1)'\n"
                   "set ylabel 'fraction of basins'\nset xrange [-1:1]\n"
                   "plot '%s' using 1:2 with steps lw 2 title 'CDF'\nset xrange [*:*]\nset datafile separator ','\n",
                plots, ncdf, period, cdf);
        drawn++;
    }
    /* basins: explicit, or the first three prediction files listed in the metrics file */
    char ids[16][64];
    if (nbas == 0) {
        FILE *m = fopen(metrics, "r");
        char line[8192];
        if (m && fgets(line, sizeof line, m))
            while (nbas < 3 && fgets(line, sizeof line, m)) {
                size_t l = strcspn(line, ",");
                snprintf(ids[nbas], sizeof ids[nbas], "%.*s", (int)(l < 63 ? l : 63), line);
                basins[nbas] = ids[nbas];
                nbas++;
            }
        if (m)
            fclose(m);
    }
    for (int i = 0; i < nbas; i++) {
        snprintf(path, sizeof path, "%s/predictions_%s/%s.csv", run, period, basins[i]);
        if (!exists(path)) {
            fprintf(stderr, "terragrad plot: no predictions for basin %s (%s)\n", basins[i], path);
            continue;
        }
        /* last 3 years: count lines */
        FILE *p = fopen(path, "r");
        int lines = 0, c;
        char header[4096] = "";
        if (p) {
            if (!fgets(header, sizeof header, p))
                header[0] = '\0';
            while ((c = fgetc(p)) != EOF)
                lines += c == '\n';
            fclose(p);
        }
        int skip = lines > 1096 ? lines - 1096 : 0;
        fprintf(g, "set output '%s/hydrograph_%s.png'\nset title 'basin %s: observed vs simulated streamflow'\n"
                   "set xdata time\nset timefmt '%%Y-%%m-%%d'\nset format x '%%Y-%%m'\nset xlabel 'date'\n"
                   "set ylabel 'Q (mm/day)'\n"
                   "plot '%s' every ::%d using 1:2 with lines lc rgb 'black' title 'observed', "
                   "'' every ::%d using 1:3 with lines lc rgb 'red' title 'simulated'\n",
                plots, basins[i], basins[i], path, skip + 1, skip + 1);
        drawn++;
        if (strstr(header, ",ET,")) { /* δHBV internal fluxes: ET col 5, SWE col 11, SM col 13 */
            fprintf(g, "set output '%s/fluxes_%s.png'\nset title 'basin %s: δHBV internal fluxes and states'\n"
                       "set ylabel 'mm/day (ET) or mm (SWE, SM/10)'\n"
                       "plot '%s' every ::%d using 1:(column('ET')) with lines title 'ET', "
                       "'' every ::%d using 1:(column('SWE')) with lines title 'SWE', "
                       "'' every ::%d using 1:(column('SM')/10) with lines title 'SM/10'\n",
                    plots, basins[i], basins[i], path, skip + 1, skip + 1, skip + 1);
            drawn++;
        }
        fprintf(g, "set xdata\nset format x '%%g'\n");
    }
    drawn += params_plots(run, period, plots, g);
    fclose(g);
    if (!drawn) {
        fprintf(stderr, "terragrad plot: nothing to draw in %s (train and test first)\n", run);
        return 1;
    }
    if (run_gnuplot(gp))
        return 1;
    if (exists(ckpt) && tg_run_provenance_write(plots, "plots.source", ckpt)) {
        fprintf(stderr, "terragrad plot: %s\n", tg_error_message());
        return 1;
    }
    printf("wrote %d figures to %s/\n", drawn, plots);
    return 0;
}
