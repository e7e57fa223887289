/* cmd_plot.c — `terragrad plot RUN_DIR`: PNG figures with gnuplot — training loss,
 * hydrographs (observed vs simulated), CDF of NSE over basins, and for δHBV the internal
 * fluxes (ET, SWE, soil moisture), and for runs that wrote params_<period>.csv the learned
 * parameters against basin attributes (scatter grid) and on a lon/lat map; the δHBV flux
 * map (period means per basin) is plot_fluxes_map.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "commands.h"
#include "plot_maps.h"
#include "plot_style.h"
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

/* Sorted NSE values of metrics_<period>.csv into <plots>/nse_cdf.dat, as the corners of the
 * empirical CDF starting from 0 at the smallest value (so its first step is drawn);
 * returns the count, *lo the smallest value drawn (NSE below -1 is drawn at -1), *median. */
static int nse_cdf(const char *metrics, const char *out, double *lo, double *median)
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
    if (n > 0) {
        *lo = v[0] < -1 ? -1 : v[0];
        *median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
        fprintf(o, "%.17g 0\n", *lo);
    }
    for (int i = 0; i < n; i++)
        fprintf(o, "%.17g %.17g\n", v[i] < -1 ? -1 : v[i], (i + 1.0) / n);
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
int tg_plot_run_attributes(const char *run, tg_attributes *a, char (*use)[TG_NAME_MAX], int *n_use, int max_use)
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

double tg_plot_nice_step(double raw)
{
    double mag = pow(10, floor(log10(raw)));
    if (raw > 5 * mag)
        return 10 * mag;
    if (raw > 2 * mag)
        return 5 * mag;
    return raw > mag ? 2 * mag : mag;
}

/* About four x ticks at a 1-2-5 step over the finite values of v: autoscaled gnuplot
 * ticks of a narrow range run together ("0.245 0.25 0.255 ..."). */
static void set_x_ticks(FILE *g, const double *v, int n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
    if (!(hi > lo)) {
        fprintf(g, "set xtics autofreq\nset xrange [*:*]\n");
        return;
    }
    const double step = tg_plot_nice_step((hi - lo) / 4);
    double x0 = floor(lo / step) * step, x1 = ceil(hi / step) * step;
    fprintf(g, "set xrange [%.10g:%.10g]\nset xtics %.10g, %.10g, %.10g\n", x0, x1, x0, step, x1);
}

/* "FC (mm)": a parameter's axis label, with its unit when it is an HBV parameter. */
static const char *param_label(const char *name, char *buf, size_t n)
{
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        if (!strcmp(name, tg_hbv_param_names[p])) {
            snprintf(buf, n, "%s (%s)", name, tg_hbv_param_units[p]);
            return buf;
        }
    snprintf(buf, n, "%s%s", name, strcmp(name, "PCORR") && strcmp(name, "SFCF") ? "" : " (-)");
    return buf;
}

/* "aridity (-)": an attribute's axis label with the unit of the CAMELS/Caravan attribute of
 * that name (Addor et al. 2017, Kratzert et al. 2023), the bare name otherwise. */
static const char *attribute_label(const char *name, char *buf, size_t n)
{
    static const char *const units[][2] = {
        {"p_mean", "mm/d"}, {"pet_mean", "mm/d"}, {"aridity", "-"}, {"frac_snow", "-"},
        {"high_prec_freq", "d/yr"}, {"high_prec_dur", "d"}, {"low_prec_freq", "d/yr"}, {"low_prec_dur", "d"},
        {"p_seasonality", "-"}, {"elev_mean", "m"}, {"slope_mean", "m/km"}, {"area_gages2", "km²"},
        {"area", "km²"}, {"frac_forest", "-"}, {"lai_max", "-"}, {"lai_diff", "-"}, {"gvf_max", "-"},
        {"gvf_diff", "-"}, {"soil_depth_pelletier", "m"}, {"soil_depth_statsgo", "m"}, {"soil_porosity", "-"},
        {"soil_conductivity", "cm/h"}, {"max_water_content", "m"}, {"sand_frac", "%"}, {"silt_frac", "%"},
        {"clay_frac", "%"}, {"carbonate_rocks_frac", "-"}, {"geol_permeability", "log10 m²"},
        {"gauge_lat", "°N"}, {"gauge_lon", "°E"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(name, units[i][0])) {
            snprintf(buf, n, "%s (%s)", name, units[i][1]);
            return buf;
        }
    snprintf(buf, n, "%s", name);
    return buf;
}

/* Scatter grid of learned parameters against attributes and a lon/lat map; appends gnuplot
 * commands to g. Returns the number of figures (0 when there is nothing to draw). */
static int params_plots(const char *run, const char *period, const char *plots, FILE *g, tg_fig_format fmt)
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
    if (tg_plot_run_attributes(run, &a, use, &n_use, 64)) {
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
        tg_fig_begin(g, fmt, cols * 440, rows * 400 + 40, plots, "params_attributes");
        /* 3 significant digits and at most ~5 ticks: no "1e+023e+02" run-together labels */
        fprintf(g, "set datafile missing 'nan'\nset format x '%%.3g'\nset format y '%%.3g'\n"
                   "set xtics rotate by 30 right\nset lmargin 10\nset bmargin 5\n"
                   "set multiplot layout %d,%d title 'learned parameters (%s period, mean over components) vs "
                   "basin attributes, %d basins'\n",
                rows, cols, period, found);
        for (int i = 0; i < n_panels; i++) {
            char xl[TG_NAME_MAX + 32], yl[TG_NAME_MAX + 32];
            for (int b = 0; b < B; b++)
                col_a[b] = x[(size_t)b * F + panel_a[i]];
            set_x_ticks(g, col_a, B);
            fprintf(g, "set title \"%s vs %s\\nPearson r = %.2f, Spearman ρ = %.2f\"\nset xlabel '%s'\nset ylabel '%s'\n"
                       "plot '%s' skip 1 using %d:%d with points pt 7 ps 0.6 lc rgb '#1f77b4' notitle\n",
                    t.name[panel_p[i]], a.name[panel_a[i]], panel_r[i], panel_s[i],
                    attribute_label(a.name[panel_a[i]], xl, sizeof xl), param_label(t.name[panel_p[i]], yl, sizeof yl),
                    dat, 2 + P + panel_a[i], 2 + panel_p[i]);
        }
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
        /* the learned precipitation multiplier and snowfall factor first when the run has them
         * (they are what the variant learns), then the HBV parameters with the clearest geography */
        static const char *const maps[] = {"PCORR", "SFCF", "FC", "BETA", "K2", "PERC", "TT", "CFMAX"};
        int mp[PP_MAPS], n_maps = 0;
        for (int i = 0; i < (int)(sizeof maps / sizeof maps[0]) && n_maps < PP_MAPS; i++)
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
        /* No boundary file ships with terragrad (none can be fetched at run time): the gauges
         * are placed on labelled geographic axes, a degree of longitude drawn cos(mean
         * latitude) as long as a degree of latitude (equirectangular at that latitude). */
        double lat_sum = 0;
        int lat_n = 0;
        for (int b = 0; b < B; b++)
            if (isfinite(x[(size_t)b * F + lat]))
                lat_sum += x[(size_t)b * F + lat], lat_n++;
        double aspect = lat_n ? cos(lat_sum / lat_n * M_PI / 180.0) : 1.0;
        tg_fig_begin(g, fmt, cols * 600, rows * 340 + 40, plots, "params_map");
        fprintf(g, "set datafile missing 'nan'\nset multiplot layout %d,%d title 'learned parameters at the gauges (%s period)'\n"
                   "set xlabel 'longitude (°E)'\nset ylabel 'latitude (°N)'\nset format x '%%.1f°'\nset format y '%%.1f°'\n"
                   "set size ratio -%.4f\n",
                rows, cols, period, 1.0 / (aspect > 0.1 ? aspect : 0.1));
        for (int i = 0; i < n_maps; i++) {
            char cl[TG_NAME_MAX + 32];
            tg_fig_viridis(g, param_label(t.name[mp[i]], cl, sizeof cl));
            fprintf(g, "set title '%s'\nplot '%s' skip 1 using %d:%d:%d with points pt 7 ps 0.9 palette notitle\n",
                    t.name[mp[i]], dat, 2 + P + lon, 2 + P + lat, 2 + mp[i]);
        }
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

static int plot_run(const char *run, const char *period, const char **basins, int nbas, tg_fig_format fmt);

int tg_cmd_plot(int argc, char **argv)
{
    const char *run = NULL, *period = "test";
    tg_fig_format fmt = TG_FIG_PNG;
    const char *basins[16];
    int nbas = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: terragrad plot RUN_DIR [--period test] [--basin ID]... [--format png|pdf|svg]\n\n"
                   "Draws RUN_DIR/plots/*.png (or .pdf, .svg) with gnuplot: loss.png (training loss per epoch),\n"
                   "hydrograph_<basin>.png (observed vs simulated; the last 3 years of the period),\n"
                   "nse_cdf.png (CDF of NSE over basins) and, for δHBV runs, fluxes_<basin>.png\n"
                   "(fluxes in mm/d and stores in mm, one panel each). Basins: --basin (repeatable), else output.plot_basins,\n"
                   "else the first three. With RUN_DIR/params_<period>.csv (δHBV, written by terragrad\n"
                   "test): params_attributes.png (learned parameters against the attributes of the run's\n"
                   "data.attributes, with Pearson and Spearman r; all pairs in params_attributes_corr.csv)\n"
                   "and params_map.png (gauge lon/lat coloured by parameter, if the attributes have them).\n"
                   "For δHBV runs, fluxes_map.png: per basin, period means of ET / P, Q / P, the baseflow\n"
                   "index Q2 / (Q0 + Q1 + Q2), the snow fraction snow / P (P = rain + snow, what HBV\n"
                   "received), SWE and soil moisture at the gauges; the values in plots/fluxes_map.csv.\n"
                   "Refuses test outputs that came from another checkpoint than RUN_DIR/last.ckpt (run\n"
                   "terragrad test again after training on); plots/plots.source names the checkpoint drawn.\n");
            return 0;
        } else if (!strcmp(argv[i], "--period") && i + 1 < argc)
            period = argv[++i];
        else if (!strcmp(argv[i], "--basin") && i + 1 < argc && nbas < 16)
            basins[nbas++] = argv[++i];
        else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            if (tg_fig_format_parse(argv[++i], &fmt)) {
                fprintf(stderr, "terragrad plot: --format '%s': expected png, pdf or svg\n", argv[i]);
                return 2;
            }
        }
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
    char command[1024];
    tg_cli_command_line(command, sizeof command, argc, argv);
    tg_run_lock lock = {-1};
    if (tg_run_lock_acquire(&lock, run, command)) {
        fprintf(stderr, "terragrad plot: %s\n", tg_error_message());
        return 1;
    }
    int rc = plot_run(run, period, basins, nbas, fmt);
    tg_run_lock_release(&lock);
    return rc;
}

/* Draws the figures of a run (its folder locked by the caller). */
/* The y-axis label of loss.csv: what the run's loss.type minimises. */
static void loss_label(const char *run, char *buf, size_t n)
{
    snprintf(buf, n, "training loss");
    tg_run_config cfg;
    if (tg_run_load(run, &cfg, NULL))
        return;
    static const char *const names[][2] = {
        {"nse", "NSE* loss: mean of (Q_sim - Q_obs)² / (σ_basin + 0.1)² (-)"},
        {"mse", "MSE of Q ((mm/d)²)"},
        {"rmse", "RMSE of Q (mm/d)"},
        {"rmse_comb", "RMSE of Q and of log Q, combined (mm/d)"},
        {"kge", "1 - KGE per window (-)"}};
    const char *type = cfg.loss.type;
    for (size_t i = 0; type && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(type, names[i][0]))
            snprintf(buf, n, "%s", names[i][1]);
    tg_run_config_free(&cfg);
}

static int plot_run(const char *run, const char *period, const char **basins, int nbas, tg_fig_format fmt)
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
    int drawn = 0;
    snprintf(path, sizeof path, "%s/loss.csv", run);
    if (exists(path)) {
        char ylab[160];
        loss_label(run, ylab, sizeof ylab);
        tg_fig_begin(g, fmt, 1000, 500, plots, "loss");
        fprintf(g, "set title 'training loss per epoch'\nset xlabel 'epoch'\nset ylabel '%s'\nset key top right\n"
                   "plot '%s' using 1:2 skip 1 with linespoints pt 7 ps 0.6 title 'training-set mean'\n", ylab, path);
        drawn++;
    }
    char metrics[4400], cdf[4400];
    snprintf(metrics, sizeof metrics, "%s/metrics_%s.csv", run, period);
    snprintf(cdf, sizeof cdf, "%s/nse_cdf.dat", plots);
    double lo = -1, med = 0;
    int ncdf = nse_cdf(metrics, cdf, &lo, &med);
    if (ncdf > 0) {
        /* from a round value just below the smallest NSE drawn, to 1 (the perfect model) */
        double x0 = floor(lo * 10.0 - 0.5) / 10.0;
        tg_fig_begin(g, fmt, 1000, 500, plots, "nse_cdf");
        fprintf(g, "set datafile separator whitespace\nset title 'NSE over %d basins (%s period), median %.3f'\n"
                   "set xlabel 'Nash-Sutcliffe efficiency NSE (-)%s'\nset ylabel 'fraction of basins with NSE ≤ x (-)'\n"
                   "set xrange [%g:1]\nset yrange [0:1]\nset key outside top center horizontal samplen 2\n"
                   "set arrow from %.6f, graph 0 to %.6f, graph 1 nohead dt 2 lc rgb '#808080'\n"
                   "plot '%s' using 1:2 with steps lw 2 lc rgb '#1f77b4' title 'empirical CDF', "
                   "NaN with lines dt 2 lc rgb '#808080' title 'median'\n",
                ncdf, period, med, lo <= -1 ? ", values below -1 drawn at -1" : "", x0, med, med, cdf);
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
        char name[200];
        snprintf(name, sizeof name, "hydrograph_%s", basins[i]);
        tg_fig_begin(g, fmt, 1000, 500, plots, name);
        tg_fig_key_above(g);
        fprintf(g, "set title 'basin %s: observed and simulated streamflow (%s period, last 3 years)'\n"
                   "set xdata time\nset timefmt '%%Y-%%m-%%d'\nset format x '%%Y-%%m'\nset xlabel 'date'\n"
                   "set ylabel 'streamflow Q (mm/d)'\nset yrange [0:*]\n"
                   "plot '%s' every ::%d using 1:2 with lines lw 1.5 lc rgb 'black' title 'observed', "
                   "'' every ::%d using 1:3 with lines lw 1.2 lc rgb '#d62728' title 'simulated'\n",
                basins[i], period, path, skip + 1, skip + 1);
        drawn++;
        if (strstr(header, ",ET,")) { /* δHBV internal fluxes and stores: one panel per unit */
            snprintf(name, sizeof name, "fluxes_%s", basins[i]);
            tg_fig_begin(g, fmt, 1000, 700, plots, name);
            fprintf(g, "set xdata time\nset timefmt '%%Y-%%m-%%d'\nset format x '%%Y-%%m'\n"
                       "set key outside right top vertical samplen 2\nset lmargin 10\nset rmargin 19\n"
                       "set multiplot layout 2,1 title 'basin %s: δHBV fluxes and stores (%s period, last 3 years)'\n"
                       "set ylabel 'flux (mm/d)'\nunset xlabel\n"
                       "plot '%s' every ::%d using 1:(column('PET')) with lines lc rgb '#9e9e9e' title 'PET', "
                       "'' every ::%d using 1:(column('ET')) with lines lc rgb '#2ca02c' title 'ET', "
                       "'' every ::%d using 1:(column('melt')) with lines lc rgb '#1f77b4' title 'snowmelt', "
                       "'' every ::%d using 1:(column('recharge')) with lines lc rgb '#ff7f0e' title 'recharge'\n"
                       "set ylabel 'storage (mm)'\nset xlabel 'date'\n"
                       "plot '%s' every ::%d using 1:(column('SWE')) with lines lc rgb '#1f77b4' title 'SWE', "
                       "'' every ::%d using 1:(column('SM')) with lines lc rgb '#8c564b' title 'soil moisture', "
                       "'' every ::%d using 1:(column('SUZ')) with lines lc rgb '#ff7f0e' title 'upper zone', "
                       "'' every ::%d using 1:(column('SLZ')) with lines lc rgb '#9467bd' title 'lower zone'\n"
                       "unset multiplot\n",
                    basins[i], period, path, skip + 1, skip + 1, skip + 1, skip + 1, path, skip + 1, skip + 1,
                    skip + 1, skip + 1);
            drawn++;
        }
    }
    drawn += params_plots(run, period, plots, g, fmt);
    int fm = tg_plot_fluxes_map(run, period, plots, g, fmt);
    if (fm < 0) {
        fclose(g);
        fprintf(stderr, "terragrad plot: %s\n", tg_error_message());
        return 1;
    }
    drawn += fm;
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
