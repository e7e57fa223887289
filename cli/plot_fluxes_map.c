/* plot_fluxes_map.c — fluxes_map.csv and fluxes_map.png of `terragrad plot`: where in the
 * domain a trained δHBV sends its water. Per basin, over the whole period of its
 * predictions_<period>/<basin>.csv, ratios of period sums (= ratios of period means over
 * the same days):
 *   ET_P            ET / P_hbv, with P_hbv = rain + snow: the precipitation HBV received,
 *                   after any learned precipitation or snowfall correction
 *   Q_P             Q / P_hbv, Q the (routed) simulated streamflow
 *   baseflow_index  Q2 / (Q0 + Q1 + Q2): the lower zone's share of HBV's runoff
 *   snow_fraction   snow / P_hbv
 * and the period means of P_hbv (mm/d), SWE and SM (mm). A day on which one of the columns
 * used is not finite is left out of every sum, so all quantities of a basin describe the
 * same days (column `days`). */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot_maps.h"

/* the predictions columns read (tg_hbv_output_names, and Q the routed streamflow) */
enum { C_Q, C_Q0, C_Q1, C_Q2, C_ET, C_RAIN, C_SNOW, C_SWE, C_SM, N_COL };
static const char *const col_names[N_COL] = {"Q", "Q0", "Q1", "Q2", "ET", "rain", "snow", "SWE", "SM"};

/* the per-basin quantities, in the order of fluxes_map.csv's columns 5.. (after
 * basin,lat,lon,days); a NULL title is written but not drawn */
enum { V_P, V_ET_P, V_Q_P, V_BFI, V_SNOW, V_SWE, V_SM, N_VAL };
static const struct {
    const char *name, *title, *label;
} vals[N_VAL] = {
    {"P_hbv", NULL, NULL},
    {"ET_P", "evaporative fraction ET / P", "ET / P (-)"},
    {"Q_P", "runoff ratio Q / P", "Q / P (-)"},
    {"baseflow_index", "baseflow index Q2 / (Q0 + Q1 + Q2)", "Q2 / (Q0 + Q1 + Q2) (-)"},
    {"snow_fraction", "snow fraction snow / (rain + snow)", "snow / P (-)"},
    {"SWE", "mean snow water equivalent", "SWE (mm)"},
    {"SM", "mean soil moisture", "SM (mm)"},
};

typedef struct fm_basin {
    char id[TG_ID_MAX];
    int days;
    double lat, lon, v[N_VAL];
} fm_basin;

/* what the predictions writer and other tools print for a missing value */
static int is_missing(const char *s, size_t l)
{
    static const char *const na[] = {"NA", "nan", "-nan", "NaN"};
    if (l == 0)
        return 1;
    for (size_t i = 0; i < sizeof na / sizeof na[0]; i++)
        if (strlen(na[i]) == l && !strncmp(s, na[i], l))
            return 1;
    return 0;
}

/* One predictions file into *b (id set by the caller); *fluxes = 0 (and nothing read) when
 * the header has no column ET (not an HBV run). Returns a status (tg_error set). */
static int read_basin(const char *path, fm_basin *b, int *fluxes)
{
    *fluxes = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    int idx[N_COL], rc = 0, lineno = 1, ncol = 0;
    double s[N_COL] = {0};
    for (int k = 0; k < N_COL; k++)
        idx[k] = -1;
    if (getline(&line, &cap, f) < 0)
        rc = tg_error_set(TG_EINVAL, "%s: line 1: empty file (expected a header date,Q_obs,Q,...)", path);
    else {
        line[strcspn(line, "\r\n")] = '\0';
        for (char *p = line;; p++) {
            size_t l = strcspn(p, ",");
            for (int k = 0; k < N_COL; k++)
                if (strlen(col_names[k]) == l && !strncmp(p, col_names[k], l) && idx[k] < 0)
                    idx[k] = ncol;
            ncol++;
            p += l;
            if (!*p)
                break;
        }
        if (idx[C_ET] < 0) {
            fclose(f);
            free(line);
            return 0;
        }
        *fluxes = 1;
        for (int k = 0; k < N_COL && !rc; k++)
            if (idx[k] < 0)
                rc = tg_error_set(TG_EINVAL, "%s: line 1: no column '%s' (HBV predictions have Q, Q0, Q1, Q2, ET, rain, "
                                  "snow, SWE and SM)", path, col_names[k]);
    }
    b->days = 0;
    while (!rc && getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        double v[N_COL];
        int field = 0, ok = 1;
        for (char *p = line; !rc; p++) {
            size_t l = strcspn(p, ",");
            for (int k = 0; k < N_COL && !rc; k++) {
                if (idx[k] != field)
                    continue;
                char *end;
                v[k] = strtod(p, &end);
                if (end != p + l) {
                    if (!is_missing(p, l))
                        rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': '%.*s' is not a number", path, lineno,
                                          col_names[k], (int)l, p);
                    v[k] = (double)NAN;
                }
                ok &= isfinite(v[k]) != 0;
            }
            field++;
            p += l;
            if (!*p)
                break;
        }
        if (!rc && field != ncol)
            rc = tg_error_set(TG_EINVAL, "%s: line %d: %d fields, the header has %d", path, lineno, field, ncol);
        if (!rc && ok) {
            for (int k = 0; k < N_COL; k++)
                s[k] += v[k];
            b->days++;
        }
    }
    free(line);
    fclose(f);
    if (rc)
        return rc;
    double p = s[C_RAIN] + s[C_SNOW], r = s[C_Q0] + s[C_Q1] + s[C_Q2], n = b->days;
    const double nan = (double)NAN;
    b->v[V_P] = n > 0 ? p / n : nan;
    b->v[V_ET_P] = p > 0 ? s[C_ET] / p : nan;
    b->v[V_Q_P] = p > 0 ? s[C_Q] / p : nan;
    b->v[V_BFI] = r > 0 ? s[C_Q2] / r : nan;
    b->v[V_SNOW] = p > 0 ? s[C_SNOW] / p : nan;
    b->v[V_SWE] = n > 0 ? s[C_SWE] / n : nan;
    b->v[V_SM] = n > 0 ? s[C_SM] / n : nan;
    return 0;
}

static int cmp_basin(const void *a, const void *b)
{
    return strcmp(((const fm_basin *)a)->id, ((const fm_basin *)b)->id);
}

/* The basins of predictions_<period>/ (its *.csv files), sorted by id; *n = 0 without it. */
static int list_basins(const char *dir, fm_basin **out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || strcmp(e->d_name + l - 4, ".csv") || l - 4 >= TG_ID_MAX)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            fm_basin *nb = realloc(*out, (size_t)cap * sizeof *nb);
            if (!nb) {
                closedir(d);
                free(*out);
                *out = NULL;
                *n = 0;
                return tg_error_set(TG_ENOMEM, "out of memory");
            }
            *out = nb;
        }
        fm_basin *b = &(*out)[(*n)++];
        memset(b, 0, sizeof *b);
        snprintf(b->id, sizeof b->id, "%.*s", (int)(l - 4), e->d_name);
    }
    closedir(d);
    if (*n > 1)
        qsort(*out, (size_t)*n, sizeof **out, cmp_basin);
    return 0;
}

/* Gauge lat/lon from the run's attributes (NaN where unknown); the number of basins located. */
static int locate(const char *run, fm_basin *bs, int n)
{
    for (int i = 0; i < n; i++)
        bs[i].lat = bs[i].lon = (double)NAN;
    tg_attributes a;
    memset(&a, 0, sizeof a);
    char use[1][TG_NAME_MAX];
    int n_use = 0, found = 0;
    if (tg_plot_run_attributes(run, &a, use, &n_use, 0)) {
        fprintf(stderr, "terragrad plot: %s (fluxes_map.csv without lat/lon, no fluxes map)\n", tg_error_message());
        tg_attributes_free(&a);
        return 0;
    }
    int lat = tg_attributes_column(&a, "gauge_lat"), lon = tg_attributes_column(&a, "gauge_lon");
    if (lat < 0)
        lat = tg_attributes_column(&a, "lat");
    if (lon < 0)
        lon = tg_attributes_column(&a, "lon");
    for (int i = 0; lat >= 0 && lon >= 0 && i < n; i++) {
        int r = tg_attributes_basin(&a, bs[i].id);
        if (r < 0)
            continue;
        bs[i].lat = (double)a.value[(size_t)r * a.F + lat];
        bs[i].lon = (double)a.value[(size_t)r * a.F + lon];
        found += isfinite(bs[i].lat) && isfinite(bs[i].lon);
    }
    if (!found)
        fprintf(stderr, "terragrad plot: no gauge_lat/gauge_lon of the run's basins in its attributes (no fluxes map)\n");
    tg_attributes_free(&a);
    return found;
}

static int write_csv(const char *path, const fm_basin *bs, int n)
{
    char tmp[4600];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "basin,lat,lon,days");
    for (int k = 0; k < N_VAL; k++)
        fprintf(f, ",%s", vals[k].name);
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s", bs[i].id);
        double c[2] = {bs[i].lat, bs[i].lon};
        for (int k = 0; k < 2; k++)
            fprintf(f, isfinite(c[k]) ? ",%.9g" : ",nan", c[k]);
        fprintf(f, ",%d", bs[i].days);
        for (int k = 0; k < N_VAL; k++)
            fprintf(f, isfinite(bs[i].v[k]) ? ",%.9g" : ",nan", bs[i].v[k]);
        fputc('\n', f);
    }
    return tg_io_commit(f, tmp, path);
}

static int located(const fm_basin *b)
{
    return isfinite(b->lat) && isfinite(b->lon);
}

/* Axis ranges around the gauges (autoscaling to whole ticks would widen a map of the
 * CONUS from 58 to 80 degrees of longitude), longitude ticks at a 1-2-5 step, about three
 * across (a map panel is narrow: its aspect is fixed). */
static void map_axes(FILE *g, const fm_basin *bs, int n)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++)
        if (located(&bs[i]))
            x0 = fmin(x0, bs[i].lon), x1 = fmax(x1, bs[i].lon), y0 = fmin(y0, bs[i].lat), y1 = fmax(y1, bs[i].lat);
    double px = fmax(0.03 * (x1 - x0), 0.25), py = fmax(0.03 * (y1 - y0), 0.25);
    const double step = tg_plot_nice_step(x1 > x0 ? (x1 - x0) / 3 : 1);
    int digits = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    fprintf(g, "set xrange [%.6f:%.6f]\nset yrange [%.6f:%.6f]\nset xtics %.10g\nset format x '%%.%df°'\n", x0 - px,
            x1 + px, y0 - py, y1 + py, step, digits);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Colour range and labelled colour bar of one panel from its m > 0 values v (sorted here).
 * One value everywhere (e.g. no snow in any basin): a range around it, not gnuplot's "empty
 * cb range". With 20 or more basins, when the values above the 95th percentile would take
 * more of the scale than all the others (a glacier's SWE of metres), the scale ends at that
 * percentile (3 digits) and the bar says so; larger values take the top colour. */
static void colour_range(FILE *g, const char *label, double *v, int m)
{
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    double lo = v[0], hi = v[m - 1], q = v[(int)floor(0.95 * (m - 1))];
    char lab[200];
    snprintf(lab, sizeof lab, "%s", label);
    if (!(lo < hi)) {
        double d = fmax(0.05 * fabs(lo), 0.01);
        fprintf(g, "set cbrange [%.9g:%.9g]\n", lo - d, hi + d);
    } else if (m >= 20 && hi - q > q - lo) {
        char qs[32];
        snprintf(qs, sizeof qs, "%.3g", q);
        q = strtod(qs, NULL);
        if (!(q > lo)) /* the percentile rounded down onto the minimum */
            q = v[(int)floor(0.95 * (m - 1))];
        snprintf(qs, sizeof qs, "%.9g", q);
        fprintf(g, "set cbrange [%.9g:%s]\n", lo, qs);
        snprintf(lab, sizeof lab, "%s, top colour ≥ %.3g", label, q);
    } else
        fprintf(g, "set cbrange [*:*]\n");
    tg_fig_viridis(g, lab);
}

/* The multiplot: one panel per quantity with a value at a located gauge; 1 if drawn. */
static int draw(FILE *g, tg_fig_format fmt, const char *plots, const char *csv, const char *period, const fm_basin *bs,
                int n)
{
    int show[N_VAL], n_show = 0, n_loc = 0;
    double lat_sum = 0;
    for (int i = 0; i < n; i++)
        if (located(&bs[i]))
            lat_sum += bs[i].lat, n_loc++;
    for (int k = 0; k < N_VAL; k++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            m += located(&bs[i]) && isfinite(bs[i].v[k]);
        if (vals[k].title && m > 0) /* a panel without a point would stop gnuplot */
            show[n_show++] = k;
    }
    double *v = n_show ? malloc((size_t)n * sizeof *v) : NULL;
    if (!v)
        return 0;
    int cols = n_show <= 2 ? n_show : n_show <= 4 ? 2 : 3, rows = (n_show + cols - 1) / cols;
    /* as params_map: a degree of longitude drawn cos(mean latitude) as long as one of latitude */
    double aspect = cos(lat_sum / n_loc * M_PI / 180.0);
    tg_fig_begin(g, fmt, cols * 600, rows * 340 + 40, plots, "fluxes_map");
    fprintf(g, "set datafile missing 'nan'\nset multiplot layout %d,%d title 'δHBV water balance at the gauges (%s period "
               "means, %d basins; P = rain + snow, what HBV received)'\n"
               "set xlabel 'longitude (°E)'\nset ylabel 'latitude (°N)'\nset format y '%%.1f°'\n"
               "set size ratio -%.4f\n",
            rows, cols, period, n_loc, 1.0 / (aspect > 0.1 ? aspect : 0.1));
    map_axes(g, bs, n);
    for (int j = 0; j < n_show; j++) {
        int k = show[j], m = 0;
        for (int i = 0; i < n; i++)
            if (located(&bs[i]) && isfinite(bs[i].v[k]))
                v[m++] = bs[i].v[k];
        colour_range(g, vals[k].label, v, m);
        fprintf(g, "set title '%s'\nplot '%s' skip 1 using 3:2:%d with points pt 7 ps 0.9 palette notitle\n",
                vals[k].title, csv, 5 + k);
    }
    fprintf(g, "unset multiplot\n");
    free(v);
    return 1;
}

int tg_plot_fluxes_map(const char *run, const char *period, const char *plots, FILE *g, tg_fig_format fmt)
{
    char dir[4400], path[4700], csv[4400];
    snprintf(dir, sizeof dir, "%s/predictions_%s", run, period);
    fm_basin *bs;
    int n, rc = list_basins(dir, &bs, &n);
    if (rc)
        return -1;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.csv", dir, bs[i].id);
        int fluxes, r = read_basin(path, &bs[i], &fluxes);
        if (!r && !fluxes && i == 0) { /* not an HBV run (an LSTM's predictions): nothing to map */
            free(bs);
            return 0;
        }
        if (!r && !fluxes)
            r = tg_error_set(TG_EINVAL, "%s: line 1: no column ET, unlike %s/%s.csv", path, dir, bs[0].id);
        if (r) {
            free(bs);
            return -1;
        }
    }
    if (n == 0) {
        free(bs);
        return 0;
    }
    int n_loc = locate(run, bs, n);
    snprintf(csv, sizeof csv, "%s/fluxes_map.csv", plots);
    if (write_csv(csv, bs, n)) {
        free(bs);
        return -1;
    }
    int drawn = n_loc > 0 ? draw(g, fmt, plots, csv, period, bs, n) : 0;
    printf("fluxes map: %d basins (%d located), period means in %s\n", n, n_loc, csv);
    free(bs);
    return drawn;
}
