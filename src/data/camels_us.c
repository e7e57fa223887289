/* camels_us.c — CAMELS-US in the original NCAR layout: basin-mean forcing files, USGS
 * streamflow, joined on date. Several public copies were cut to the same LINE numbers,
 * not the same dates, so rows are never paired by position: the forcing defines the day
 * axis and each streamflow row lands on its own date. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

#define CFS_TO_M3S 0.028316846592   /* 1 ft^3 in m^3 */

/* Forcing columns we keep, matched on the header name before '(' (case-insensitive:
 * Daymet writes "prcp(mm/day)", NLDAS and Maurer "PRCP(mm/day)"). */
enum { C_YEAR, C_MNTH, C_DAY, C_PRCP, C_TMAX, C_TMIN, C_SRAD, C_VP, C_DAYL, C_SWE, C_N };
static const char *col_key[C_N] = {"year", "mnth", "day", "prcp", "tmax", "tmin", "srad", "vp", "dayl", "swe"};
static const int col_var[C_N] = {-1, -1, -1, TG_VAR_P, TG_VAR_TMAX, TG_VAR_TMIN, TG_VAR_SRAD, TG_VAR_VP, TG_VAR_DAYL, TG_VAR_SWE};
static const int col_required[C_N] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0};

static int key_matches(const char *token, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < n; i++) {
        char c = token[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != key[i]) return 0;
    }
    return token[n] == '\0' || token[n] == '(';
}

static int is_blank_line(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return *s == '\0';
}

/* A header line holding one number ("  44.82", " 587675987"). */
static int header_number(tg_text *t, const char *field, double *v)
{
    char *line = tg_text_next(t);
    if (!line)
        return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': file ends before the header does",
                            t->path, t->line + 1, field);
    char *f[2];
    int n = tg_split_ws(line, f, 2);
    if (n != 1 || tg_parse_double(f[0], v) || !isfinite(*v))
        return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': expected one number, found '%s'",
                            t->path, t->line, field, n ? f[0] : "");
    return 0;
}

/* Reads Year/Month/Day fields into a day number; `what` names the day field. */
static int row_date(const tg_text *t, char *const *f, const char *const *names, const int *idx,
                    int *day)
{
    int ymd[3];
    for (int k = 0; k < 3; k++)
        if (tg_parse_int(f[idx[k]], &ymd[k]))
            return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': not an integer: '%s'", t->path,
                                t->line, names[k], f[idx[k]]);
    if (!tg_date_is_valid(ymd[0], ymd[1], ymd[2]))
        return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': %d-%02d-%02d is not a valid date",
                            t->path, t->line, names[2], ymd[0], ymd[1], ymd[2]);
    *day = tg_date_from_ymd(ymd[0], ymd[1], ymd[2]);
    return 0;
}

static int order_error(const tg_text *t, const char *field, int day, int prev)
{
    char a[11], b[11];
    return tg_error_set(TG_EINVAL,
                        "%s: line %d, field '%s': date %s is not after the previous row's %s "
                        "(dates must be strictly increasing)",
                        t->path, t->line, field, tg_date_format(day, a), tg_date_format(prev, b));
}

static int count_error(const tg_text *t, int n, int want, const char *const *names)
{
    if (n < want)
        return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': truncated line (%d of %d fields)",
                            t->path, t->line, names[n], n, want);
    return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': wrong column count (%d fields, expected %d)",
                        t->path, t->line, names[want - 1], n, want);
}

/* ---------------------------------------------------------------- forcing */
/* Parsed rows, (n, C_N) doubles in one array; the day number sits in the C_YEAR slot
 * (one allocation: a failed growth cannot leave two arrays of different sizes). */
typedef struct rows {
    int n, cap;
    double *val;
} rows;

static int rows_push(rows *r)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 4096;
        double *v = tg_realloc(r->val, (size_t)r->cap * C_N * sizeof(double), (size_t)cap * C_N * sizeof(double));
        if (!v) return TG_ENOMEM;
        r->val = v;
        r->cap = cap;
    }
    r->n++;
    return 0;
}

static int row_day(const rows *r, int i) { return (int)r->val[(size_t)i * C_N + C_YEAR]; }

static void rows_free(rows *r)
{
    tg_free(r->val, (size_t)r->cap * C_N * sizeof(double));
    memset(r, 0, sizeof *r);
}

static int parse_forcing(tg_text *t, const char *id, double head[3], int idx[C_N], rows *r)
{
    static const char *head_name[3] = {"latitude", "elevation", "area"};
    int rc;
    for (int k = 0; k < 3; k++)
        if ((rc = header_number(t, head_name[k], &head[k]))) return rc;
    char *line = tg_text_next(t);
    if (!line)
        return tg_error_set(TG_EINVAL, "%s: line %d, field 'header': file ends before the column header",
                            t->path, t->line + 1);
    char *names[TG_MAX_FIELDS];
    int ncol = tg_split_ws(line, names, TG_MAX_FIELDS);
    if (ncol > TG_MAX_FIELDS)
        return tg_error_set(TG_EINVAL, "%s: line %d: more than %d columns", t->path, t->line, TG_MAX_FIELDS);
    for (int c = 0; c < C_N; c++) {
        idx[c] = -1;
        for (int j = 0; j < ncol; j++)
            if (key_matches(names[j], col_key[c])) idx[c] = j;
        if (idx[c] < 0 && col_required[c])
            return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': column missing from the header",
                                t->path, t->line, col_key[c]);
    }
    const char *date_names[3] = {names[idx[C_YEAR]], names[idx[C_MNTH]], names[idx[C_DAY]]};
    const char *const *cn = (const char *const *)names;
    int date_idx[3] = {idx[C_YEAR], idx[C_MNTH], idx[C_DAY]};
    char *f[TG_MAX_FIELDS];
    while ((line = tg_text_next(t))) {
        if (is_blank_line(line)) continue;
        int n = tg_split_ws(line, f, TG_MAX_FIELDS);
        if (n != ncol) return count_error(t, n, ncol, cn);
        int day;
        if ((rc = row_date(t, f, date_names, date_idx, &day))) return rc;
        if (r->n && day <= row_day(r, r->n - 1)) return order_error(t, date_names[2], day, row_day(r, r->n - 1));
        if ((rc = rows_push(r))) return tg_error_prefix(rc, "%s: ", t->path);
        double *v = r->val + (size_t)(r->n - 1) * C_N;
        v[C_YEAR] = day;
        for (int c = C_PRCP; c < C_N; c++) {
            v[c] = NAN;
            if (idx[c] < 0) continue;
            if (tg_parse_double(f[idx[c]], &v[c]))
                return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': not a number: '%s'",
                                    t->path, t->line, names[idx[c]], f[idx[c]]);
            /* CAMELS marks nothing as missing in the forcing: every value must be valid */
            if ((rc = tg_value_check(t, id, names[idx[c]], col_var[c], v[c]))) return rc;
        }
    }
    if (r->n == 0)
        return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': no data rows", t->path, t->line + 1,
                            date_names[0]);
    return 0;
}

int tg_camels_read_forcing(const char *path, const char *gauge_id, tg_basin *out)
{
    tg_text t;
    rows r = {0};
    double head[3];
    memset(out, 0, sizeof *out);
    int rc = tg_text_open(&t, path);
    if (rc) return rc;
    int idx[C_N];
    rc = parse_forcing(&t, gauge_id, head, idx, &r);
    if (!rc) rc = tg_basin_init(out, gauge_id, row_day(&r, 0), row_day(&r, r.n - 1) - row_day(&r, 0) + 1);
    for (int c = C_PRCP; c < C_N && !rc; c++) {
        if (idx[c] < 0) continue;
        tg_real *x = tg_basin_add_var(out, col_var[c]);
        if (!x) {
            rc = TG_ENOMEM;
            break;
        }
        for (int i = 0; i < r.n; i++) x[row_day(&r, i) - out->start] = (tg_real)r.val[(size_t)i * C_N + c];
    }
    if (!rc) {
        tg_real *tm = tg_basin_add_var(out, TG_VAR_TEMP);
        if (!tm) rc = TG_ENOMEM;
        else
            for (int i = 0; i < out->T; i++)
                tm[i] = (tg_real)(0.5 * ((double)out->var[TG_VAR_TMAX][i] + (double)out->var[TG_VAR_TMIN][i]));
    }
    if (!rc) {
        out->lat = head[0];
        out->elev_m = head[1];
        out->area_km2 = head[2] / 1e6;
        int gaps = out->T - r.n;
        tg_basin_note(out, "forcing: %d days from %s%s", r.n, tg_path_base(path), gaps ? " (with gaps)" : "");
    }
    rows_free(&r);
    tg_text_close(&t);
    if (rc) tg_basin_free(out);
    return rc;
}

/* ---------------------------------------------------------------- streamflow */
int tg_camels_join_streamflow(const char *path, double area_m2, tg_basin *b)
{
    static const char *names[6] = {"gauge_id", "Year", "Month", "Day", "Q", "flag"};
    static const int date_idx[3] = {1, 2, 3};
    if (!(area_m2 > 0.0))
        return tg_error_set(TG_EINVAL, "%s: basin '%s': area %g m2 cannot convert cfs to mm/day",
                            path, b->id, area_m2);
    tg_text t;
    int rc = tg_text_open(&t, path);
    if (rc) return rc;
    tg_real *q = tg_basin_add_var(b, TG_VAR_Q);
    if (!q) {
        tg_text_close(&t);
        return TG_ENOMEM;
    }
    /* cfs -> m3/s -> m3/day -> m/day over the basin -> mm/day */
    const double scale = CFS_TO_M3S * 86400.0 / area_m2 * 1000.0;
    int prev = 0, nrow = 0, joined = 0, outside = 0, missing = 0;
    char *line, *f[8];
    while ((line = tg_text_next(&t))) {
        if (is_blank_line(line)) continue;
        int n = tg_split_ws(line, f, 8);
        if (n != 6) {
            rc = count_error(&t, n, 6, names);
            break;
        }
        if (strcmp(f[0], b->id) != 0) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'gauge_id': '%s' is not basin '%s'",
                              path, t.line, f[0], b->id);
            break;
        }
        int day;
        if ((rc = row_date(&t, f, names + 1, date_idx, &day))) break;
        if (nrow && day <= prev) {
            rc = order_error(&t, "Day", day, prev);
            break;
        }
        prev = day;
        nrow++;
        double v;
        if (tg_parse_double(f[4], &v)) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'Q': not a number: '%s'", path, t.line, f[4]);
            break;
        }
        int i = day - b->start;
        if (i < 0 || i >= b->T) {
            outside++;
            continue;
        }
        /* -999 is the missing code (flag M); any negative flow is not a measurement */
        if (v < 0.0 || f[5][0] == 'M') {
            missing++;
            continue;
        }
        q[i] = (tg_real)(v * scale);
        joined++;
    }
    tg_text_close(&t);
    if (rc) return rc;
    tg_basin_note(b, "Q: %d of %d days observed (joined on date; %d rows missing, %d outside "
                     "the forcing period) from %s",
                  joined, b->T, missing, outside, tg_path_base(path));
    return 0;
}

/* ---------------------------------------------------------------- layout search */
/* <dir>/<name> or <dir>/<any subfolder>/<name> (the HUC-02 folders). */
static int find_in_subdirs(const char *dir, const char *name, char *out, size_t size)
{
    if ((size_t)snprintf(out, size, "%s/%s", dir, name) < size && tg_file_exists(out)) return 0;
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *e;
    int found = 1;
    while (found && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if ((size_t)snprintf(out, size, "%s/%s/%s", dir, e->d_name, name) < size && tg_file_exists(out))
            found = 0;
    }
    closedir(d);
    return found;
}

int tg_camels_read(const char *root, const char *gauge_id, const tg_camels_options *opt,
                   tg_basin *out)
{
    tg_camels_options o = {0};
    if (opt) o = *opt;
    const char *product = o.product && *o.product ? o.product : "daymet";
    /* the file name tag differs from the folder name for two products */
    const char *tag = !strcmp(product, "daymet")            ? "cida"
                      : !strcmp(product, "maurer_extended") ? "maurer"
                      : !strcmp(product, "nldas_extended")  ? "nldas"
                                                            : product;
    memset(out, 0, sizeof *out);
    int rc = tg_id_copy(out->id, gauge_id, root);
    if (rc) return rc;
    char dir[4096], name[256], fpath[4096], qpath[4096];
    snprintf(dir, sizeof dir, "%s/basin_mean_forcing/%s", root, product);
    snprintf(name, sizeof name, "%s_lump_%s_forcing_leap.txt", gauge_id, tag);
    if (find_in_subdirs(dir, name, fpath, sizeof fpath))
        return tg_error_set(TG_EIO, "%s/<huc>/%s: missing file (no forcing for basin '%s', product '%s')",
                            dir, name, gauge_id, product);
    if ((rc = tg_camels_read_forcing(fpath, gauge_id, out))) return rc;
    snprintf(dir, sizeof dir, "%s/usgs_streamflow", root);
    snprintf(name, sizeof name, "%s_streamflow_qc.txt", gauge_id);
    if (find_in_subdirs(dir, name, qpath, sizeof qpath)) {
        if (!o.allow_missing_streamflow) {
            tg_basin_free(out);
            return tg_error_set(TG_EIO, "%s/<huc>/%s: missing file (no streamflow for basin '%s')", dir,
                                name, gauge_id);
        }
        if (!tg_basin_add_var(out, TG_VAR_Q)) rc = TG_ENOMEM;
        tg_basin_note(out, "Q: no streamflow file, all missing");
    } else {
        double area_m2 = o.area_km2 > 0.0 ? o.area_km2 * 1e6 : out->area_km2 * 1e6;
        if (o.area_km2 > 0.0) out->area_km2 = o.area_km2;
        rc = tg_camels_join_streamflow(qpath, area_m2, out);
    }
    if (!rc && o.pet_method != TG_PET_NONE) rc = tg_basin_compute_pet(out, o.pet_method);
    if (rc) tg_basin_free(out);
    return rc;
}
