/* caravan.c — Caravan-style CSV (as shipped for the 200 CAMELS basins): no header, no date
 * column, columns P,T,PET,Q, row i is day start + i, "NA" = missing. Because the date is
 * implicit, a blank line inside the file would shift every later day: it is an error. */
#include <string.h>

#include "data/data_internal.h"

int tg_caravan_read_file(const char *path, const char *id, int start, tg_basin *out)
{
    static const char *names[4] = {"P", "T", "PET", "Q"};
    static const int vars[4] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET, TG_VAR_Q};
    tg_text t;
    memset(out, 0, sizeof *out);
    int rc = tg_text_open(&t, path);
    if (rc) return rc;
    int T = tg_text_count_rows(&t);
    if (T == 0) rc = tg_error_set(TG_EINVAL, "%s: line 1, field 'P': no data rows", path);
    if (!rc) rc = tg_basin_init(out, id, start, T);
    tg_real *x[4] = {0};
    for (int k = 0; k < 4 && !rc; k++)
        if (!(x[k] = tg_basin_add_var(out, vars[k]))) rc = TG_ENOMEM;
    char *line, *f[8];
    for (int i = 0; i < T && !rc && (line = tg_text_next(&t)); i++) {
        if (tg_is_blank(line)) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'P': empty line inside the file "
                              "(rows are days, so it would shift all later dates)", path, t.line);
            break;
        }
        if ((rc = tg_comma_check(&t, line))) break;
        int n = tg_split_sep(line, ',', f, 8);
        if (n < 4) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': truncated line (%d of 4 fields)",
                              path, t.line, names[n], n);
            break;
        }
        if (n > 4) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'Q': wrong column count (%d fields, expected 4)",
                              path, t.line, n);
            break;
        }
        for (int k = 0; k < 4; k++) {
            double v;
            if (tg_is_missing(f[k])) continue;   /* already NaN */
            if (tg_parse_double(f[k], &v)) {
                rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': not a number: '%s'", path,
                                  t.line, names[k], f[k]);
                break;
            }
            if ((rc = tg_value_check(&t, id, names[k], vars[k], v))) break;
            x[k][i] = (tg_real)v;
        }
    }
    tg_text_close(&t);
    if (rc) {
        tg_basin_free(out);
        return rc;
    }
    out->pet_method = TG_PET_FILE;
    char a[11], b[11];
    tg_basin_note(out, "Caravan CSV %s: %d days %s..%s", tg_path_base(path), T, tg_date_format(start, a),
                  tg_date_format(start + T - 1, b));
    return 0;
}

int tg_caravan_read(const char *root, const char *id, tg_basin *out)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/timeseries/%s.csv", root, id);
    if (n < 0 || (size_t)n >= sizeof path) return tg_error_set(TG_EINVAL, "%s: path too long", root);
    if (!tg_file_exists(path)) {
        char alt[4096];
        n = snprintf(alt, sizeof alt, "%s/%s.csv", root, id);
        if (n > 0 && (size_t)n < sizeof alt && tg_file_exists(alt)) memcpy(path, alt, (size_t)n + 1);
    }
    return tg_caravan_read_file(path, id, TG_CARAVAN_START, out);
}
