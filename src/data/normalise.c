/* normalise.c — per-feature z-scores, optionally of log(x + eps), fitted on the training
 * period and saved with the run, so test and simulate runs reuse the training statistics
 * (fitting them again on test data would leak its distribution). Streamed with Welford's
 * update: one pass, no catastrophic cancellation for large means. */
#include <math.h>
#include <string.h>

#include "data/data_internal.h"

static double forward_tf(const tg_norm_feature *f, double x)
{
    /* negatives (rounding noise in gridded P) count as 0 before the log */
    return f->log ? log((x > 0.0 ? x : 0.0) + f->eps) : x;
}

int tg_norm_add(tg_norm *nm, const char *name, int log_transform, double eps)
{
    int k = tg_norm_find(nm, name);
    if (k >= 0) return k;
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= TG_NAME_MAX || strpbrk(name, " \t\r\n"))
        return -tg_error_set(TG_EINVAL, "normalisation: feature name '%s' is empty, too long or has blanks",
                             name ? name : "");
    if (log_transform && !(eps > 0.0))
        return -tg_error_set(TG_EINVAL, "normalisation: feature '%s': log transform needs eps > 0 (got %g)", name, eps);
    if (nm->F == nm->capacity) {
        int cap = nm->capacity ? 2 * nm->capacity : 16;
        tg_norm_feature *f = tg_realloc(nm->f, (size_t)nm->capacity * sizeof *f, (size_t)cap * sizeof *f);
        if (!f) return -TG_ENOMEM;
        nm->f = f;
        nm->capacity = cap;
    }
    tg_norm_feature *f = &nm->f[nm->F];
    memset(f, 0, sizeof *f);
    memcpy(f->name, name, len + 1);
    f->log = log_transform != 0;
    f->eps = log_transform ? eps : 0.0;
    f->std = 1.0;
    return nm->F++;
}

int tg_norm_find(const tg_norm *nm, const char *name)
{
    for (int k = 0; k < nm->F; k++)
        if (!strcmp(nm->f[k].name, name)) return k;
    return -1;
}

void tg_norm_update(tg_norm *nm, int k, const tg_real *x, size_t n, size_t stride)
{
    tg_norm_feature *f = &nm->f[k];
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i * stride];
        if (isnan(v)) continue;
        double y = forward_tf(f, v);
        f->n += 1.0;
        double d = y - f->mean;
        f->mean += d / f->n;
        f->m2 += d * (y - f->mean);
    }
}

int tg_norm_finish(tg_norm *nm)
{
    for (int k = 0; k < nm->F; k++) {
        tg_norm_feature *f = &nm->f[k];
        if (!(f->n > 0.0))
            return tg_error_set(TG_EINVAL, "normalisation: feature '%s': no valid value to fit on", f->name);
        /* sample standard deviation (ddof 1, as pandas); a constant feature keeps std 1
         * so it maps to 0 instead of dividing by zero */
        double s = f->n > 1.0 ? sqrt(f->m2 / (f->n - 1.0)) : 0.0;
        f->std = (s > 0.0 && isfinite(s)) ? s : 1.0;
    }
    return 0;
}

void tg_norm_apply(const tg_norm *nm, int k, tg_real *x, size_t n, size_t stride)
{
    const tg_norm_feature *f = &nm->f[k];
    for (size_t i = 0; i < n; i++) {
        tg_real *p = &x[i * stride];
        if (isnan(*p)) continue;
        *p = (tg_real)((forward_tf(f, (double)*p) - f->mean) / f->std);
    }
}

void tg_norm_invert(const tg_norm *nm, int k, tg_real *x, size_t n, size_t stride)
{
    const tg_norm_feature *f = &nm->f[k];
    for (size_t i = 0; i < n; i++) {
        tg_real *p = &x[i * stride];
        if (isnan(*p)) continue;
        double y = (double)*p * f->std + f->mean;
        *p = (tg_real)(f->log ? exp(y) - f->eps : y);
    }
}

int tg_norm_fit_basins(tg_norm *nm, const char *name, int log_transform, double eps,
                       const tg_basin *basins, int B, int v, int first, int last)
{
    int k = tg_norm_add(nm, name, log_transform, eps);
    if (k < 0) return -k;
    for (int b = 0; b < B; b++) {
        const tg_basin *bs = &basins[b];
        if (v < 0 || v >= TG_NVAR || !bs->var[v])
            return tg_error_set(TG_EINVAL, "normalisation: feature '%s': basin '%s' has no variable '%s'", name,
                                bs->id, tg_var_name(v));
        int lo = first - bs->start, hi = last - bs->start;   /* inclusive */
        if (lo < 0) lo = 0;
        if (hi > bs->T - 1) hi = bs->T - 1;
        if (hi >= lo) tg_norm_update(nm, k, bs->var[v] + lo, (size_t)(hi - lo + 1), 1);
    }
    return 0;
}

int tg_norm_apply_basins(const tg_norm *nm, const char *name, tg_basin *basins, int B, int v)
{
    int k = tg_norm_find(nm, name);
    if (k < 0)
        return tg_error_set(TG_EINVAL, "normalisation: no statistics for feature '%s' (fit them, or load the run's file)",
                            name);
    for (int b = 0; b < B; b++) {
        if (v < 0 || v >= TG_NVAR || !basins[b].var[v])
            return tg_error_set(TG_EINVAL, "normalisation: feature '%s': basin '%s' has no variable '%s'", name,
                                basins[b].id, tg_var_name(v));
        tg_norm_apply(nm, k, basins[b].var[v], (size_t)basins[b].T, 1);
    }
    return 0;
}

/* ---------------------------------------------------------------- file */
int tg_norm_save(const tg_norm *nm, const char *path)
{
    char tmp[4200];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc) return rc;
    fprintf(f, "# terragrad normalisation statistics v1: z = (x' - mean) / std, x' = log(max(x,0) + eps) if log\n");
    fprintf(f, "# name log eps mean std count\n");
    for (int k = 0; k < nm->F; k++) {
        const tg_norm_feature *g = &nm->f[k];
        fprintf(f, "%s %d %.17g %.17g %.17g %.17g\n", g->name, g->log, g->eps, g->mean, g->std, g->n);
    }
    return tg_io_commit(f, tmp, path);
}

int tg_norm_load(tg_norm *nm, const char *path)
{
    static const char *names[6] = {"name", "log", "eps", "mean", "std", "count"};
    memset(nm, 0, sizeof *nm);
    tg_text t;
    int rc = tg_text_open(&t, path);
    if (rc) return rc;
    char *line, *f[8];
    while (!rc && (line = tg_text_next(&t))) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        int n = tg_split_ws(line, f, 8);
        if (n == 0) continue;
        if (n != 6) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': %s (%d fields, expected 6)", path, t.line,
                              names[n < 6 ? n : 5], n < 6 ? "truncated line" : "wrong column count", n);
            break;
        }
        int lg;
        double v[4];
        if (tg_parse_int(f[1], &lg) || (lg != 0 && lg != 1)) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'log': expected 0 or 1, found '%s'", path, t.line, f[1]);
            break;
        }
        for (int j = 0; j < 4 && !rc; j++)
            if (tg_parse_double(f[2 + j], &v[j]) || !isfinite(v[j]))
                rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': not a finite number: '%s'", path, t.line,
                                  names[2 + j], f[2 + j]);
        if (rc) break;
        if (tg_norm_find(nm, f[0]) >= 0) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'name': feature '%s' appears twice", path, t.line, f[0]);
            break;
        }
        int k = tg_norm_add(nm, f[0], lg, lg ? v[0] : 1.0);
        if (k < 0) {
            rc = tg_error_prefix(-k, "%s: line %d, field 'name': ", path, t.line);
            break;
        }
        if (!(v[2] > 0.0)) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'std': must be > 0, found '%s'", path, t.line, f[4]);
            break;
        }
        nm->f[k].eps = v[0];
        nm->f[k].mean = v[1];
        nm->f[k].std = v[2];
        nm->f[k].n = v[3];
    }
    tg_text_close(&t);
    if (rc) tg_norm_free(nm);
    return rc;
}

void tg_norm_free(tg_norm *nm)
{
    tg_free(nm->f, (size_t)nm->capacity * sizeof(tg_norm_feature));
    memset(nm, 0, sizeof *nm);
}
