/* hbv_tables.c — the PARAMS.csv and ROUTE.csv files of `terragrad simulate --model hbv`. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad.h"

#define MAXCOLS 32

/* Splits a CSV line in place (no quoting in these files); returns the field count. */
static int split(char *line, char **f)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line;; ) {
        if (n == MAXCOLS)
            return n + 1;
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    for (int i = 0; i < n; i++) { /* trim spaces */
        while (*f[i] == ' ') f[i]++;
        size_t l = strlen(f[i]);
        while (l && f[i][l - 1] == ' ') f[i][--l] = '\0';
    }
    return n;
}

static int number(const char *path, int line, const char *field, const char *s, double *x)
{
    char *end;
    errno = 0;
    *x = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(*x))
        return tg_error_set(TG_EINVAL, "%s: line %d, field '%s': '%s' is not a number", path, line, field, s);
    return 0;
}

/* The header line of a table: a UTF-8 byte-order mark (spreadsheets write one) is
 * skipped, and a header split by ';' or tabs is named rather than reported as missing
 * columns. Returns the header text or NULL with the error set. */
static char *header(const char *path, char *line)
{
    if (!memcmp(line, "\xEF\xBB\xBF", 3))
        line += 3;
    if (!strchr(line, ',') && (strchr(line, ';') || strchr(line, '\t'))) {
        tg_error_set(TG_EINVAL, "%s: line 1: found '%s' \xE2\x80\x94 files must be comma-separated", path,
                     strchr(line, ';') ? ";" : "\\t");
        return NULL;
    }
    return line;
}

static int find_col(char **hdr, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(hdr[i], name))
            return i;
    return -1;
}

void tg_hbv_params_free(tg_hbv_param_table *t)
{
    tg_mem_free(t->basin);
    tg_mem_free(t->value);
    tg_mem_free(t->comp0);
    memset(t, 0, sizeof *t);
}

int tg_hbv_params_read(const char *path, tg_hbv_param_table *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot open parameter file: %s", path, strerror(errno));
    char line[4096], hline[4096], *hdr[MAXCOLS + 1], *fld[MAXCOLS + 1];
    int rc = 0, lineno = 1;
    if (!fgets(hline, sizeof hline, f)) {
        fclose(f);
        return tg_error_set(TG_EINVAL, "%s: line 1: empty file (expected a header)", path);
    }
    const int whole = strchr(hline, '\n') || feof(f);   /* before split cuts the newline */
    char *h = header(path, hline);
    if (!h) {
        fclose(f);
        return TG_EINVAL;
    }
    int nh = split(h, hdr), col[TG_HBV_NPARAM];
    if (nh > MAXCOLS || !whole) {   /* split leaves fields past MAXCOLS unset */
        fclose(f);
        return tg_error_set(TG_EINVAL, "%s: line 1: more than %d columns or %zu characters", path, MAXCOLS,
                            sizeof hline - 2);
    }
    int cb = find_col(hdr, nh, "basin"), cc = find_col(hdr, nh, "component");
    if (cb < 0 || cc < 0)
        rc = tg_error_set(TG_EINVAL, "%s: line 1: header needs columns 'basin' and 'component'", path);
    for (int p = 0; p < TG_HBV_NPARAM && !rc; p++)
        if ((col[p] = find_col(hdr, nh, tg_hbv_param_names[p])) < 0)
            rc = tg_error_set(TG_EINVAL, "%s: line 1: header has no column '%s'", path, tg_hbv_param_names[p]);
    /* rows: collect (basin, component, values) */
    int cap = 0, nrows = 0;
    char (*rb)[32] = NULL;
    int *rcomp = NULL;
    double *rv = NULL;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {   /* a longer line would be read as two */
            rc = tg_error_set(TG_EINVAL, "%s: line %d: longer than %zu characters", path, lineno, sizeof line - 2);
            break;
        }
        if (strspn(line, " \r\n") == strlen(line))
            continue;
        int n = split(line, fld);
        if (n != nh) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d: %d fields, the header has %d", path, lineno, n, nh);
            break;
        }
        if (nrows == cap) {
            cap = cap ? 2 * cap : 64;
            rb = tg_mem_realloc(rb, (size_t)cap * sizeof *rb);
            rcomp = tg_mem_realloc(rcomp, (size_t)cap * sizeof *rcomp);
            rv = tg_mem_realloc(rv, (size_t)cap * TG_HBV_NPARAM * sizeof *rv);
        }
        if (strlen(fld[cb]) == 0 || strlen(fld[cb]) >= 32) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'basin': empty or longer than 31 characters", path, lineno);
            break;
        }
        snprintf(rb[nrows], 32, "%s", fld[cb]);
        double comp;
        if ((rc = number(path, lineno, "component", fld[cc], &comp)))
            break;
        if (!(comp >= 0.0 && comp <= 1e6) || comp != floor(comp)) {   /* checked before the (int) cast */
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'component': '%s' is not a whole number in 0..1000000",
                              path, lineno, fld[cc]);
            break;
        }
        rcomp[nrows] = (int)comp;
        for (int p = 0; p < TG_HBV_NPARAM && !rc; p++) {
            double x;
            if ((rc = number(path, lineno, tg_hbv_param_names[p], fld[col[p]], &x)))
                break;
            const tg_domain *d = &tg_hbv_param_domain[p];
            if (!tg_domain_contains(d, x)) {
                char dom[96];
                rc = tg_error_set(TG_EINVAL, "%s: line %d, basin '%s', field '%s': %g is outside the valid domain %s (%s)",
                                  path, lineno, fld[cb], tg_hbv_param_names[p], x,
                                  tg_domain_format(d, tg_hbv_param_names[p], dom, sizeof dom), d->why);
                break;
            }
            if (x < tg_hbv_param_range[p][0] - 1e-9 || x > tg_hbv_param_range[p][1] + 1e-9)
                tg_log_message(TG_LOG_WARN, "warning: %s: line %d, field '%s': %g outside the usual range [%g, %g]\n", path,
                        lineno, tg_hbv_param_names[p], x, tg_hbv_param_range[p][0], tg_hbv_param_range[p][1]);
            rv[(size_t)nrows * TG_HBV_NPARAM + p] = x;
        }
        nrows++;
    }
    fclose(f);
    if (!rc && nrows == 0)
        rc = tg_error_set(TG_EINVAL, "%s: no parameter rows", path);
    /* group by basin; every basin must have the same components */
    if (!rc) {
        t->basin = tg_mem_calloc((size_t)nrows, sizeof *t->basin);
        int *count = tg_mem_calloc((size_t)nrows, sizeof(int));
        for (int r = 0; r < nrows; r++) {
            int b = 0;
            while (b < t->B && strcmp(t->basin[b], rb[r]))
                b++;
            if (b == t->B)
                snprintf(t->basin[t->B++], 32, "%s", rb[r]);
            count[b]++;
        }
        t->M = count[0];
        for (int b = 0; b < t->B && !rc; b++)
            if (count[b] != t->M)
                rc = tg_error_set(TG_EINVAL, "%s: basin '%s' has %d components, basin '%s' has %d", path, t->basin[b],
                                  count[b], t->basin[0], t->M);
        /* components: sorted by their number within each basin */
        t->value = tg_mem_calloc((size_t)t->B * TG_HBV_NPARAM * (size_t)(t->M > 0 ? t->M : 1), sizeof(double));
        char *seen = tg_mem_calloc((size_t)(t->M > 0 ? t->M : 1), 1);
        t->comp0 = tg_mem_calloc((size_t)(t->B > 0 ? t->B : 1), sizeof *t->comp0);
        if (!rc && (!t->value || !t->comp0 || !seen))
            rc = tg_error_set(TG_ENOMEM, "%s: out of memory", path);
        for (int b = 0; b < t->B && !rc; b++) {
            int m = 0;
            memset(seen, 0, (size_t)(t->M > 0 ? t->M : 1));
            int minc = 1 << 30;
            for (int r = 0; r < nrows; r++)
                if (!strcmp(rb[r], t->basin[b]) && rcomp[r] < minc)
                    minc = rcomp[r];
            t->comp0[b] = minc; /* outputs echo the file's numbering (0..M-1 or 1..M) */
            for (int r = 0; r < nrows; r++) {
                if (strcmp(rb[r], t->basin[b]))
                    continue;
                m = rcomp[r] - minc;
                if (m < 0 || m >= t->M || seen[m]) {
                    rc = tg_error_set(TG_EINVAL, "%s: basin '%s': components must be consecutive numbers%s", path,
                                      t->basin[b], m >= 0 && m < t->M ? " (one appears twice)" : "");
                    break;
                }
                seen[m] = 1;
                for (int p = 0; p < TG_HBV_NPARAM; p++)
                    t->value[((size_t)b * TG_HBV_NPARAM + p) * t->M + m] = rv[(size_t)r * TG_HBV_NPARAM + p];
            }
        }
        tg_mem_free(count);
        tg_mem_free(seen);
    }
    tg_mem_free(rb);
    tg_mem_free(rcomp);
    tg_mem_free(rv);
    if (rc)
        tg_hbv_params_free(t);
    return rc;
}

void tg_route_free(tg_route_table *t)
{
    tg_mem_free(t->basin);
    tg_mem_free(t->a);
    tg_mem_free(t->theta);
    memset(t, 0, sizeof *t);
}

int tg_route_find(const tg_route_table *t, const char *basin)
{
    for (int b = 0; b < t->B; b++)
        if (!strcmp(t->basin[b], basin))
            return b;
    return -1;
}

int tg_route_read(const char *path, tg_route_table *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot open routing file: %s", path, strerror(errno));
    char line[1024], *fld[MAXCOLS + 1];
    int rc = 0, lineno = 1, cap = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return tg_error_set(TG_EINVAL, "%s: line 1: empty file (expected 'basin,a,theta')", path);
    }
    const int whole = strchr(line, '\n') || feof(f);   /* before split cuts the newline */
    char *h = header(path, line);
    if (!h) {
        fclose(f);
        return TG_EINVAL;
    }
    int n = split(h, fld);
    if (n > MAXCOLS || !whole) {   /* split leaves fields past MAXCOLS unset */
        fclose(f);
        return tg_error_set(TG_EINVAL, "%s: line 1: more than %d columns or %zu characters", path, MAXCOLS,
                            sizeof line - 2);
    }
    int cb = find_col(fld, n, "basin"), ca = find_col(fld, n, "a"), ct = find_col(fld, n, "theta"), nh = n;
    if (cb < 0 || ca < 0 || ct < 0)
        rc = tg_error_set(TG_EINVAL, "%s: line 1: header needs columns basin, a, theta", path);
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {   /* a longer line would be read as two */
            rc = tg_error_set(TG_EINVAL, "%s: line %d: longer than %zu characters", path, lineno, sizeof line - 2);
            break;
        }
        if (strspn(line, " \r\n") == strlen(line))
            continue;
        if ((n = split(line, fld)) != nh) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d: %d fields, the header has %d", path, lineno, n, nh);
            break;
        }
        if (t->B == cap) {
            cap = cap ? 2 * cap : 64;
            t->basin = tg_mem_realloc(t->basin, (size_t)cap * sizeof *t->basin);
            t->a = tg_mem_realloc(t->a, (size_t)cap * sizeof(double));
            t->theta = tg_mem_realloc(t->theta, (size_t)cap * sizeof(double));
        }
        if (strlen(fld[cb]) == 0 || strlen(fld[cb]) >= 32) {   /* as in PARAMS.csv: never truncated */
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'basin': empty or longer than 31 characters", path, lineno);
            break;
        }
        snprintf(t->basin[t->B], 32, "%s", fld[cb]);
        if ((rc = number(path, lineno, "a", fld[ca], &t->a[t->B])) ||
            (rc = number(path, lineno, "theta", fld[ct], &t->theta[t->B])))
            break;
        if (t->a[t->B] <= 0 || t->theta[t->B] <= 0) { /* the gamma density needs shape and scale > 0 */
            int bad_a = t->a[t->B] <= 0;
            rc = tg_error_set(TG_EINVAL, "%s: line %d, basin '%s', field '%s': %g is outside the valid domain %s > 0", path,
                              lineno, t->basin[t->B], bad_a ? "a" : "theta", bad_a ? t->a[t->B] : t->theta[t->B],
                              bad_a ? "a" : "theta");
            break;
        }
        t->B++;
    }
    fclose(f);
    if (rc)
        tg_route_free(t);
    return rc;
}
