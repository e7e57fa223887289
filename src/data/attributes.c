/* attributes.c — static basin attributes: the CAMELS-US attribute tables (several
 * ';'-separated files joined on gauge_id, some columns categorical) and the generic
 * attributes.csv. Built column by column in a growable table, then packed row-major
 * (B, F) because models consume one basin's attribute vector at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

/* ---------------------------------------------------------------- growable table */
typedef struct column {
    char name[TG_NAME_MAX];
    tg_real *v;               /* (cap) values, one per basin row */
    int cap;
} column;

typedef struct table {
    int B, Bcap;
    char (*basin)[TG_ID_MAX];
    int F, Fcap;
    column *col;              /* (F) */
    int guess;                /* next row: files list basins in the same order */
    int reuse_below;          /* columns [0, reuse_below) came from another source's files:
                               * the same name there is the same attribute (Caravan join) */
} table;

static void table_free(table *tb)
{
    for (int j = 0; j < tb->F; j++) tg_free(tb->col[j].v, (size_t)tb->col[j].cap * sizeof(tg_real));
    tg_free(tb->col, (size_t)tb->Fcap * sizeof(column));
    tg_free(tb->basin, (size_t)tb->Bcap * TG_ID_MAX);
    memset(tb, 0, sizeof *tb);
}

/* Grows column j to Bcap rows (NaN-filled). Each array keeps its own capacity, so a
 * failure half-way leaves every size known to table_free. */
static int column_fit(table *tb, int j)
{
    column *c = &tb->col[j];
    if (c->cap >= tb->Bcap) return 0;
    tg_real *v = tg_realloc(c->v, (size_t)c->cap * sizeof(tg_real), (size_t)tb->Bcap * sizeof(tg_real));
    if (!v) return TG_ENOMEM;
    for (int i = c->cap; i < tb->Bcap; i++) v[i] = (tg_real)NAN;
    c->v = v;
    c->cap = tb->Bcap;
    return 0;
}

static int table_basin(table *tb, const char *id)
{
    if (tb->guess < tb->B && !strcmp(tb->basin[tb->guess], id)) return tb->guess++;
    for (int i = 0; i < tb->B; i++)
        if (!strcmp(tb->basin[i], id)) {
            tb->guess = i + 1;
            return i;
        }
    if (tb->B == tb->Bcap) {
        int cap = tb->Bcap ? 2 * tb->Bcap : 1024;
        void *p = tg_realloc(tb->basin, (size_t)tb->Bcap * TG_ID_MAX, (size_t)cap * TG_ID_MAX);
        if (!p) return -1;
        tb->basin = p;
        tb->Bcap = cap;
    }
    for (int j = 0; j < tb->F; j++)
        if (column_fit(tb, j)) return -1;
    if (tg_id_copy(tb->basin[tb->B], id, "attributes")) return -1;
    tb->guess = tb->B + 1;
    return tb->B++;
}

static int table_column(table *tb, const char *name, const char *path)
{
    for (int j = 0; j < tb->F; j++)
        if (!strcmp(tb->col[j].name, name)) {
            if (j < tb->reuse_below)
                return column_fit(tb, j) ? -1 : j;
            tg_error_set(TG_EINVAL, "%s: column '%s' appears twice (also in an earlier file)", path, name);
            return -1;
        }
    if (tb->F == tb->Fcap) {
        int cap = tb->Fcap ? 2 * tb->Fcap : 64;
        column *c = tg_realloc(tb->col, (size_t)tb->Fcap * sizeof(column), (size_t)cap * sizeof(column));
        if (!c) return -1;
        tb->col = c;
        tb->Fcap = cap;
    }
    column *c = &tb->col[tb->F];
    memset(c, 0, sizeof *c);
    snprintf(c->name, TG_NAME_MAX, "%s", name);
    tb->F++;   /* counted before allocating, so table_free sees it either way */
    if (column_fit(tb, tb->F - 1)) return -1;
    return tb->F - 1;
}

/* Packs the table into out; `pick` (n) lists the columns to keep, NULL = all. */
static int table_pack(const table *tb, const int *pick, int n, tg_attributes *out)
{
    memset(out, 0, sizeof *out);
    int F = pick ? n : tb->F;
    out->B = tb->B;
    out->F = F;
    out->basin = tg_malloc((size_t)(tb->B ? tb->B : 1) * TG_ID_MAX);
    out->name = tg_malloc((size_t)(F ? F : 1) * TG_NAME_MAX);
    out->value = tg_malloc((size_t)(tb->B > 0 && F > 0 ? tb->B * F : 1) * sizeof(tg_real));
    if (!out->basin || !out->name || !out->value) {
        tg_attributes_free(out);
        return TG_ENOMEM;
    }
    if (tb->B) memcpy(out->basin, tb->basin, (size_t)tb->B * TG_ID_MAX);   /* tb->basin is NULL when no rows */
    for (int k = 0; k < F; k++) {
        int j = pick ? pick[k] : k;
        memcpy(out->name[k], tb->col[j].name, TG_NAME_MAX);
        for (int i = 0; i < tb->B; i++) out->value[(size_t)i * F + k] = tb->col[j].v[i];
    }
    return 0;
}

void tg_attributes_free(tg_attributes *a)
{
    tg_free(a->basin, (size_t)(a->B ? a->B : 1) * TG_ID_MAX);
    tg_free(a->name, (size_t)(a->F ? a->F : 1) * TG_NAME_MAX);
    tg_free(a->value, (size_t)(a->B > 0 && a->F > 0 ? a->B * a->F : 1) * sizeof(tg_real));
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- one ';' file */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "<col>=<level>" with every character outside [A-Za-z0-9_.-] turned into '_', so names
 * stay single tokens (normalisation files, CSV headers). */
static void level_name(char *dst, const char *col, const char *level)
{
    int n = snprintf(dst, TG_NAME_MAX, "%s=", col);
    for (const char *p = level; *p && n < TG_NAME_MAX - 1; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '.' || c == '-';
        dst[n++] = ok ? c : '_';
    }
    dst[n < TG_NAME_MAX ? n : TG_NAME_MAX - 1] = '\0';
}

/* Adds the columns of one parsed file: cells (nrow, ncol), row -> basin index. */
static int add_columns(table *tb, const char *path, char **cells, const int *rowb, int nrow, int ncol,
                       int categorical)
{
    const char *levels[TG_ATTR_MAX_LEVELS + 1];
    for (int j = 1; j < ncol; j++) {
        const char *cname = cells[j];  /* row 0 is the header */
        int numeric = 1;
        for (int r = 1; r <= nrow && numeric; r++) {
            double v;
            const char *s = cells[(size_t)r * ncol + j];
            numeric = tg_is_missing(s) || !tg_parse_double(s, &v);
        }
        if (numeric) {
            int k = table_column(tb, cname, path);
            if (k < 0) return tg_error_code();
            for (int r = 1; r <= nrow; r++) {
                double v;
                const char *s = cells[(size_t)r * ncol + j];
                if (!tg_is_missing(s) && !tg_parse_double(s, &v)) tb->col[k].v[rowb[r]] = (tg_real)v;
            }
            continue;
        }
        if (categorical == TG_CAT_DROP) continue;
        int nl = 0;
        for (int r = 1; r <= nrow && nl <= TG_ATTR_MAX_LEVELS; r++) {
            const char *s = cells[(size_t)r * ncol + j];
            if (tg_is_missing(s)) continue;
            int seen = 0;
            for (int l = 0; l < nl && !seen; l++) seen = !strcmp(levels[l], s);
            if (!seen) levels[nl++] = s;
        }
        if (nl > TG_ATTR_MAX_LEVELS) continue;   /* free text (gauge names): not an input */
        qsort(levels, (size_t)nl, sizeof levels[0], cmp_str);
        if (categorical == TG_CAT_CODE) {
            int k = table_column(tb, cname, path);
            if (k < 0) return tg_error_code();
            for (int r = 1; r <= nrow; r++) {
                const char *s = cells[(size_t)r * ncol + j];
                for (int l = 0; l < nl; l++)
                    if (!tg_is_missing(s) && !strcmp(levels[l], s)) tb->col[k].v[rowb[r]] = (tg_real)l;
            }
            continue;
        }
        for (int l = 0; l < nl; l++) {
            char name[TG_NAME_MAX];
            level_name(name, cname, levels[l]);
            int k = table_column(tb, name, path);
            if (k < 0) return tg_error_code();
            for (int r = 1; r <= nrow; r++) {
                const char *s = cells[(size_t)r * ncol + j];
                tb->col[k].v[rowb[r]] = tg_is_missing(s) ? (tg_real)NAN : (tg_real)!strcmp(levels[l], s);
            }
        }
    }
    return 0;
}

/* Reads a separated table with the id in column 0; numeric_only: the generic CSV, where
 * a non-number is an error (naming line and field) rather than a category. */
static int read_table(table *tb, const char *path, char sep, const char *id_col, int numeric_only,
                      int categorical)
{
    tg_text t;
    int rc = tg_text_open(&t, path);
    if (rc) return rc;
    int cap = tg_text_count_rows(&t);   /* header included */
    char *line = tg_text_next(&t);
    char *hdr[TG_MAX_FIELDS];
    int ncol = line ? tg_split_sep(line, sep, hdr, TG_MAX_FIELDS) : 0;
    if (!line || ncol < 1 || strcmp(hdr[0], id_col) != 0) {
        rc = tg_error_set(TG_EINVAL, "%s: line 1, field '%s': the header must start with '%s'", path,
                          id_col, id_col);
        tg_text_close(&t);
        return rc;
    }
    if (ncol > TG_MAX_FIELDS) {
        tg_text_close(&t);
        return tg_error_set(TG_EINVAL, "%s: line 1: more than %d columns", path, TG_MAX_FIELDS);
    }
    size_t ncell = (size_t)(cap + 1) * (size_t)ncol;
    char **cells = tg_malloc(ncell * sizeof(char *));
    int *rowb = tg_malloc((size_t)(cap + 1) * sizeof(int));
    if (!cells || !rowb) rc = TG_ENOMEM;
    int nrow = 0;
    if (!rc) memcpy(cells, hdr, (size_t)ncol * sizeof(char *));
    while (!rc && (line = tg_text_next(&t))) {
        if (tg_is_blank(line)) continue;
        char **f = cells + (size_t)(nrow + 1) * ncol;
        char *tmp[TG_MAX_FIELDS];
        int n = tg_split_sep(line, sep, tmp, TG_MAX_FIELDS);
        if (n < ncol) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': truncated line (%d of %d fields)", path,
                              t.line, hdr[n], n, ncol);
            break;
        }
        if (n > ncol) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': wrong column count (%d fields, header has %d)",
                              path, t.line, hdr[ncol - 1], n, ncol);
            break;
        }
        memcpy(f, tmp, (size_t)ncol * sizeof(char *));
        for (int j = 1; j < ncol && numeric_only; j++) {
            double v;
            if (!tg_is_missing(f[j]) && tg_parse_double(f[j], &v)) {
                rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': not a number: '%s'", path, t.line,
                                  hdr[j], f[j]);
                break;
            }
        }
        if (rc) break;
        int b = table_basin(tb, f[0]);
        if (b < 0) {
            rc = tg_error_prefix(tg_error_code(), "%s: line %d, field '%s': ", path, t.line, id_col);
            break;
        }
        for (int r = 1; r <= nrow && !rc; r++)
            if (rowb[r] == b)
                rc = tg_error_set(TG_EINVAL, "%s: line %d, field '%s': basin '%s' listed twice", path, t.line,
                                  id_col, f[0]);
        rowb[++nrow] = b;
    }
    if (!rc) rc = add_columns(tb, path, cells, rowb, nrow, ncol, categorical);
    tg_free(cells, ncell * sizeof(char *));
    tg_free(rowb, (size_t)(cap + 1) * sizeof(int));
    tg_text_close(&t);
    return rc;
}

/* ---------------------------------------------------------------- public readers */
static int select_columns(const table *tb, const tg_attr_options *o, const char *dir, int **pick, int *n)
{
    *pick = NULL;
    *n = 0;
    if (!o->columns) return 0;
    int cap = tb->F + o->n_columns, cnt = 0;
    int *p = tg_malloc((size_t)cap * sizeof(int));
    if (!p) return TG_ENOMEM;
    for (int c = 0; c < o->n_columns; c++) {
        const char *want = o->columns[c];
        size_t len = strlen(want);
        int found = 0;
        for (int j = 0; j < tb->F; j++) {
            /* exact name, or a categorical column's base name selecting its one-hot set */
            const char *nm = tb->col[j].name;
            int hit = !strcmp(nm, want) || (!strncmp(nm, want, len) && nm[len] == '=');
            if (!hit) continue;
            found = 1;
            int dup = 0;
            for (int k = 0; k < cnt && !dup; k++) dup = p[k] == j;
            if (!dup && cnt < cap) p[cnt++] = j;
        }
        if (!found) {
            tg_free(p, (size_t)cap * sizeof(int));
            return tg_error_set(TG_EINVAL, "%s: attribute column '%s' not found%s", dir, want,
                                o->include_hydro ? "" : " (camels_hydro.txt is excluded unless include_hydro)");
        }
    }
    /* shrink to the exact size so the free below matches */
    int *q = tg_malloc((size_t)(cnt ? cnt : 1) * sizeof(int));
    if (!q) {
        tg_free(p, (size_t)cap * sizeof(int));
        return TG_ENOMEM;
    }
    memcpy(q, p, (size_t)cnt * sizeof(int));
    tg_free(p, (size_t)cap * sizeof(int));
    *pick = q;
    *n = cnt;
    return 0;
}

int tg_camels_attributes_read(const char *dir, const tg_attr_options *opt, tg_attributes *out)
{
    static const char *files[] = {"clim", "geol", "hydro", "name", "soil", "topo", "vege"};
    tg_attr_options o = {0};
    if (opt) o = *opt;
    memset(out, 0, sizeof *out);
    char base[4096], path[4200];
    snprintf(base, sizeof base, "%s", dir);
    snprintf(path, sizeof path, "%s/camels_topo.txt", dir);
    if (!tg_file_exists(path)) snprintf(base, sizeof base, "%s/camels_attributes_v2.0", dir);
    table tb = {0};
    int rc = 0;
    for (size_t k = 0; k < sizeof files / sizeof files[0] && !rc; k++) {
        if (!strcmp(files[k], "hydro") && !o.include_hydro) continue;
        snprintf(path, sizeof path, "%s/camels_%s.txt", base, files[k]);
        rc = read_table(&tb, path, ';', "gauge_id", 0, o.categorical);
    }
    int *pick = NULL, n = 0;
    if (!rc) rc = select_columns(&tb, &o, base, &pick, &n);
    if (!rc) rc = table_pack(&tb, pick, n, out);
    if (pick) tg_free(pick, (size_t)(n ? n : 1) * sizeof(int));
    table_free(&tb);
    return rc;
}

int tg_attributes_read_csv(const char *path, tg_attributes *out)
{
    table tb = {0};
    memset(out, 0, sizeof *out);
    int rc = read_table(&tb, path, ',', "basin_id", 1, TG_CAT_DROP);
    if (!rc) rc = table_pack(&tb, NULL, 0, out);
    table_free(&tb);
    return rc;
}

int tg_attributes_basin(const tg_attributes *a, const char *id)
{
    for (int i = 0; i < a->B; i++)
        if (!strcmp(a->basin[i], id)) return i;
    return -1;
}

int tg_attributes_column(const tg_attributes *a, const char *name)
{
    for (int j = 0; j < a->F; j++)
        if (!strcmp(a->name[j], name)) return j;
    return -1;
}

int tg_attributes_gather(const tg_attributes *a, const char (*ids)[TG_ID_MAX], int n, tg_real *out)
{
    for (int k = 0; k < n; k++) {
        int i = tg_attributes_basin(a, ids[k]);
        if (i < 0) return tg_error_set(TG_EINVAL, "attributes: no row for basin '%s'", ids[k]);
        memcpy(out + (size_t)k * a->F, a->value + (size_t)i * a->F, (size_t)a->F * sizeof(tg_real));
    }
    return 0;
}

/* ---------------------------------------------------------------- Caravan as published */
/* dir is <root>/attributes or <root>; *base gets the folder holding the <source> folders. */
static int caravan_base(const char *dir, const char *id, char *base, size_t size)
{
    char path[4600];
    size_t sl = strcspn(id, "_");
    const char *tries[2] = {"/attributes", ""};
    for (int k = 0; k < 2; k++) {
        snprintf(base, size, "%s%s", dir, tries[k]);
        snprintf(path, sizeof path, "%s/%.*s/attributes_caravan_%.*s.csv", base, (int)sl, id, (int)sl, id);
        if (tg_file_exists(path)) return 1;
    }
    return 0;
}

int tg_caravan_attributes_found(const char *dir, const char *first_id)
{
    char base[4200];
    return caravan_base(dir, first_id, base, sizeof base);
}

int tg_caravan_attributes_read(const char *dir, const char (*ids)[TG_ID_MAX], int n, tg_attributes *out)
{
    static const char *kinds[3] = {"caravan", "hydroatlas", "other"};
    memset(out, 0, sizeof *out);
    if (n < 1) return tg_error_set(TG_EINVAL, "%s: no basins to read attributes for", dir);
    char base[4200], path[4800];
    if (!caravan_base(dir, ids[0], base, sizeof base))
        return tg_error_set(TG_EIO, "%s: no attributes/<source>/attributes_caravan_<source>.csv for basin '%s'", dir,
                            ids[0]);
    table tb = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        size_t sl = strcspn(ids[i], "_");
        int seen = 0; /* each source once, in the order of first appearance */
        for (int k = 0; k < i && !seen; k++)
            seen = strcspn(ids[k], "_") == sl && !strncmp(ids[k], ids[i], sl);
        if (seen) continue;
        tb.reuse_below = tb.F;
        for (int k = 0; k < 3 && !rc; k++) {
            snprintf(path, sizeof path, "%s/%.*s/attributes_%s_%.*s.csv", base, (int)sl, ids[i], kinds[k], (int)sl,
                     ids[i]);
            rc = read_table(&tb, path, ',', "gauge_id", 0, TG_CAT_DROP);
        }
    }
    if (!rc) rc = table_pack(&tb, NULL, 0, out);
    table_free(&tb);
    return rc;
}
