/* csv_basin.c — the generic per-basin CSV layout users bring their own catchments in:
 * <dir>/<id>.csv with a header, a `date` column (YYYY-MM-DD) and named variable columns.
 * Rows are placed by date, so gaps are allowed (missing days) but the order must be
 * strictly increasing: a repeated or earlier date usually means two files were pasted
 * together, which we refuse rather than guess. */
#include <math.h>
#include <string.h>

#include "data/data_internal.h"

static int path_for(char *buf, size_t size, const char *dir, const char *id)
{
    int n = snprintf(buf, size, "%s/%s.csv", dir, id);
    if (n < 0 || (size_t)n >= size) return tg_error_set(TG_EINVAL, "%s: path too long", dir);
    return 0;
}

static int eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int ca = (*a >= 'A' && *a <= 'Z') ? *a + 32 : *a;
        int cb = (*b >= 'A' && *b <= 'Z') ? *b + 32 : *b;
        if (ca != cb) return 0;
    }
    return *a == *b;
}

typedef struct csv_rows {
    int cap, n;
    int *day;         /* (cap) */
    double *val;      /* (cap, TG_NVAR) */
} csv_rows;

/* colmap (TG_NVAR entries, may be NULL): colmap[v] names the column read as variable v
 * (NULL: v not read); without a map, columns are matched by the variable names. */
static int parse(tg_text *t, const char *id, const char *const *colmap, tg_basin *out)
{
    char *line = tg_text_next(t);
    while (line && tg_is_blank(line)) line = tg_text_next(t);
    if (!line) return tg_error_set(TG_EINVAL, "%s: line 1, field 'date': empty file (no header)", t->path);
    char *names[TG_MAX_FIELDS], *f[TG_MAX_FIELDS];
    int rc = tg_comma_check(t, line);
    if (rc) return rc;
    int ncol = tg_split_sep(line, ',', names, TG_MAX_FIELDS);
    if (ncol > TG_MAX_FIELDS)
        return tg_error_set(TG_EINVAL, "%s: line %d: more than %d columns", t->path, t->line, TG_MAX_FIELDS);
    int header_line = t->line, date_col = -1, col_var[TG_MAX_FIELDS];
    char ignored[160] = "";
    for (int j = 0; j < ncol; j++) {
        col_var[j] = -1;
        if (eq_nocase(names[j], "date")) {
            if (date_col >= 0)
                return tg_error_set(TG_EINVAL, "%s: line %d, field 'date': column appears twice", t->path,
                                    t->line);
            date_col = j;
            continue;
        }
        int v = -1;
        if (!colmap)
            v = tg_var_find(names[j]);
        else
            for (int k = 0; k < TG_NVAR && v < 0; k++)
                if (colmap[k] && !strcmp(colmap[k], names[j]))
                    v = k;
        for (int i = 0; i < j && v >= 0; i++)
            if (col_var[i] == v)
                return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': column appears twice", t->path,
                                    t->line, names[j]);
        col_var[j] = v;
        if (v < 0 && strlen(ignored) + strlen(names[j]) + 3 < sizeof ignored) {
            if (*ignored) strcat(ignored, " ");
            strcat(ignored, names[j]);
        }
    }
    if (date_col < 0)
        return tg_error_set(TG_EINVAL, "%s: line %d, field 'date': no 'date' column in the header",
                            t->path, t->line);
    for (int k = 0; colmap && k < TG_NVAR; k++) { /* every mapped column must be there */
        int found = 0;
        for (int j = 0; j < ncol && !found; j++)
            found = col_var[j] == k;
        if (colmap[k] && !found)
            return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': no such column (wanted for variable %s)",
                                t->path, t->line, colmap[k], tg_var_name(k));
    }

    csv_rows r = {0};
    r.cap = tg_text_count_rows(t);
    if (r.cap == 0)
        return tg_error_set(TG_EINVAL, "%s: line %d, field 'date': no data rows", t->path, header_line + 1);
    r.day = tg_malloc((size_t)r.cap * sizeof(int));
    r.val = tg_malloc((size_t)r.cap * TG_NVAR * sizeof(double));
    if (!r.day || !r.val) rc = TG_ENOMEM;
    while (!rc && (line = tg_text_next(t))) {
        if (tg_is_blank(line)) continue;
        int n = tg_split_sep(line, ',', f, TG_MAX_FIELDS);
        if (n < ncol) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': truncated line (%d of %d fields)",
                              t->path, t->line, names[n], n, ncol);
            break;
        }
        if (n > ncol) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': wrong column count (%d fields, header has %d)",
                              t->path, t->line, names[ncol - 1], n, ncol);
            break;
        }
        int day;
        if (tg_date_parse(f[date_col], &day)) {
            rc = tg_error_prefix(TG_EINVAL, "%s: line %d, field 'date': ", t->path, t->line);
            break;
        }
        if (r.n && day <= r.day[r.n - 1]) {
            char a[11], b[11];
            rc = tg_error_set(TG_EINVAL,
                              "%s: line %d, field 'date': date %s is not after the previous row's %s "
                              "(dates must be strictly increasing)",
                              t->path, t->line, tg_date_format(day, a), tg_date_format(r.day[r.n - 1], b));
            break;
        }
        double *v = r.val + (size_t)r.n * TG_NVAR;
        for (int k = 0; k < TG_NVAR; k++) v[k] = NAN;
        for (int j = 0; j < ncol; j++) {
            if (col_var[j] < 0 || tg_is_missing(f[j])) continue;
            if (tg_parse_double(f[j], &v[col_var[j]])) {
                rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': not a number: '%s'", t->path,
                                  t->line, names[j], f[j]);
                break;
            }
            if ((rc = tg_value_check(t, id, names[j], col_var[j], v[col_var[j]]))) break;
        }
        r.day[r.n++] = day;
    }
    if (!rc && r.n == 0)   /* every line after the header was blank (or began with a NUL byte) */
        rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'date': no data rows", t->path, header_line + 1);
    if (!rc) rc = tg_basin_init(out, id, r.day[0], r.day[r.n - 1] - r.day[0] + 1);
    for (int j = 0; j < ncol && !rc; j++) {
        if (col_var[j] < 0) continue;
        tg_real *x = tg_basin_add_var(out, col_var[j]);
        if (!x) {
            rc = TG_ENOMEM;
            break;
        }
        for (int i = 0; i < r.n; i++) x[r.day[i] - out->start] = (tg_real)r.val[(size_t)i * TG_NVAR + col_var[j]];
    }
    if (!rc) {
        if (out->var[TG_VAR_PET]) out->pet_method = TG_PET_FILE;
        tg_basin_note(out, "CSV %s: %d rows over %d days", tg_path_base(t->path), r.n, out->T);
        if (*ignored) tg_basin_note(out, "ignored columns: %s", ignored);
    }
    tg_free(r.day, (size_t)r.cap * sizeof(int));
    tg_free(r.val, (size_t)r.cap * TG_NVAR * sizeof(double));
    return rc;
}

int tg_csv_read_file(const char *path, const char *id, tg_basin *out)
{
    tg_text t;
    memset(out, 0, sizeof *out);
    int rc = tg_text_open(&t, path);
    if (rc) return rc;
    rc = parse(&t, id, NULL, out);
    tg_text_close(&t);
    if (rc) tg_basin_free(out);
    return rc;
}

int tg_csv_read_mapped(const char *path, const char *id, const char *const *colmap, tg_basin *out)
{
    tg_text t;
    memset(out, 0, sizeof *out);
    int rc = tg_text_open(&t, path);
    if (rc) return rc;
    rc = parse(&t, id, colmap, out);
    tg_text_close(&t);
    if (rc) tg_basin_free(out);
    return rc;
}

int tg_csv_read(const char *dir, const char *id, tg_basin *out)
{
    char path[4096];
    memset(out, 0, sizeof *out);
    int rc = path_for(path, sizeof path, dir, id);
    return rc ? rc : tg_csv_read_file(path, id, out);
}

int tg_csv_write_file(const char *path, const tg_basin *b)
{
    char tmp[4200], num[40], date[11];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc) return rc;
    fputs("date", f);
    for (int v = 0; v < TG_NVAR; v++)
        if (b->var[v]) fprintf(f, ",%s", tg_var_name(v));
    fputc('\n', f);
    for (int t = 0; t < b->T; t++) {
        fputs(tg_date_format(b->start + t, date), f);
        for (int v = 0; v < TG_NVAR; v++) {
            if (!b->var[v]) continue;
            tg_format_real(num, sizeof num, b->var[v][t]);
            fputc(',', f);
            fputs(num, f);
        }
        fputc('\n', f);
    }
    return tg_io_commit(f, tmp, path);
}

int tg_csv_write(const char *dir, const tg_basin *b)
{
    char path[4096];
    int rc = path_for(path, sizeof path, dir, b->id);
    return rc ? rc : tg_csv_write_file(path, b);
}
