/* test_data_caravan_official.c — Caravan as published, on the real sample
 * (../shared/data/caravan_official_sample: 5 basins, 3 sources, files whose column sets
 * differ): every value read is compared with an independent split of the same file by
 * header name, ids with their source prefix, a columns map, and errors. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "test_data_util.h"

#define ROOT TG_SHARED_DATA "/caravan_official_sample"

/* Column `name` of file `path`, split naively: the value on every row, NaN if empty.
 * Returns the row count; days[] gets each row's day number. */
static int naive_column(const char *path, const char *name, double *val, int *days, int cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    static char line[1 << 14];
    int col = -1, n = 0;
    if (fgets(line, sizeof line, f)) {
        int j = 0;
        for (char *p = strtok(line, ",\r\n"); p; p = strtok(NULL, ",\r\n"), j++)
            if (!strcmp(p, name))
                col = j;
    }
    while (col >= 0 && n < cap && fgets(line, sizeof line, f)) {
        char *p = line;
        int y, m, d;
        if (sscanf(p, "%d-%d-%d", &y, &m, &d) != 3)
            break;
        days[n] = tg_date_from_ymd(y, m, d);
        for (int j = 0; j < col && p; j++) {
            p = strchr(p, ',');
            if (p)
                p++;
        }
        val[n++] = (p && *p != ',' && *p != '\n' && *p != '\r') ? strtod(p, NULL) : (double)NAN;
    }
    fclose(f);
    return col < 0 ? -2 : n;
}

static void compare(const tg_basin *b, int var, const char *path, const char *column)
{
    enum { CAP = 20000 };
    static double val[CAP];
    static int days[CAP];
    int n = naive_column(path, column, val, days, CAP);
    CHECK(n > 1000, "%s: column %s: %d rows", path, column, n);
    CHECK(b->var[var] != NULL, "%s: variable %s not read", b->id, tg_var_name(var));
    if (n <= 0 || !b->var[var])
        return;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int t = days[i] - b->start;
        tg_real x = (t >= 0 && t < b->T) ? b->var[var][t] : (tg_real)-999;
        if (!((isnan(val[i]) && isnan(x)) || x == (tg_real)val[i]))
            bad++;
    }
    CHECK(bad == 0 && b->T == days[n - 1] - days[0] + 1, "%s %s <- %s: %d of %d days differ (T %d)", b->id,
          tg_var_name(var), column, bad, n, b->T);
}

/* Every numeric field of basin id's row in each of its three attribute files, looked up in a
 * by column name: the join must give back each file's own value. Returns fields compared. */
static int compare_attributes(const tg_attributes *a, const char *id)
{
    static const char *kinds[3] = {"caravan", "hydroatlas", "other"};
    int row = tg_attributes_basin(a, id), compared = 0;
    CHECK(row >= 0, "no attribute row for %s", id);
    if (row < 0)
        return 0;
    for (int k = 0; k < 3; k++) {
        char path[512], src[32];
        snprintf(src, sizeof src, "%.*s", (int)strcspn(id, "_"), id);
        snprintf(path, sizeof path, "%s/attributes/%s/attributes_%s_%s.csv", ROOT, src, kinds[k], src);
        FILE *f = fopen(path, "r");
        CHECK(f != NULL, "open %s", path);
        if (!f)
            continue;
        static char hdr[1 << 15], line[1 << 15];
        char *names[2048], *vals[2048];
        int nh = 0, nv = 0;
        if (fgets(hdr, sizeof hdr, f))
            for (char *p = strtok(hdr, ",\r\n"); p && nh < 2048; p = strtok(NULL, ",\r\n"))
                names[nh++] = p;
        while (fgets(line, sizeof line, f)) {
            size_t l = strlen(id);
            if (strncmp(line, id, l) || line[l] != ',')
                continue;
            char *p = line; /* split keeping empty fields */
            while (p && nv < 2048) {
                vals[nv++] = p;
                p = strpbrk(p, ",\r\n");
                if (p) {
                    int end = *p != ',';
                    *p++ = '\0';
                    if (end)
                        break;
                }
            }
            break;
        }
        fclose(f);
        CHECK(nv == nh, "%s: row of %s has %d fields, header %d", path, id, nv, nh);
        for (int j = 1; j < nh && j < nv; j++) {
            char *end;
            double v = strtod(vals[j], &end);
            if (end == vals[j] || *end)
                continue; /* text (gauge name, country) or empty */
            int c = tg_attributes_column(a, names[j]);
            CHECK(c >= 0 && a->value[(size_t)row * a->F + c] == (tg_real)v, "%s %s: %g vs file %g", id, names[j],
                  c >= 0 ? (double)a->value[(size_t)row * a->F + c] : -1.0, v);
            compared++;
        }
    }
    return compared;
}

int main(void)
{
    tg_basin_list ids;
    CHECK(tg_caravan_is_official(ROOT) && !tg_caravan_is_official(TG_SHARED_DATA "/caravan_camels_us"),
          "layout detection");
    CHECK(tg_caravan_official_ids(ROOT, &ids) == 0, "%s", tg_error_message());
    const char *want[] = {"camelsch_4001", "camelsch_4003", "camelses_1414", "camelslx_054", "camelslx_055"};
    CHECK(ids.n == 5, "5 basins, got %d", ids.n);
    for (int i = 0; i < ids.n && i < 5; i++)
        CHECK(!strcmp(ids.id[i], want[i]), "id %d: %s vs %s", i, ids.id[i], want[i]);

    const char *const *def = tg_caravan_default_columns();
    int ncols_seen[2] = {0, 0};
    for (int i = 0; i < ids.n; i++) {
        tg_basin b;
        char path[512], src[32];
        snprintf(src, sizeof src, "%.*s", (int)strcspn(ids.id[i], "_"), ids.id[i]);
        snprintf(path, sizeof path, "%s/timeseries/csv/%s/%s.csv", ROOT, src, ids.id[i]);
        CHECK(tg_caravan_official_read(ROOT, ids.id[i], NULL, &b) == 0, "%s", tg_error_message());
        CHECK(!strcmp(b.id, ids.id[i]), "id kept with its source prefix: %s", b.id);
        for (int v = 0; v < TG_NVAR; v++)
            if (def[v])
                compare(&b, v, path, def[v]);
            else
                CHECK(b.var[v] == NULL, "%s: %s read without a column", b.id, tg_var_name(v));
        /* the sources' files differ in their columns (one has extra ones): count them */
        FILE *f = fopen(path, "r");
        char line[4096];
        int commas = 0;
        if (f && fgets(line, sizeof line, f))
            for (char *p = line; *p; p++)
                commas += *p == ',';
        if (f)
            fclose(f);
        if (!ncols_seen[0])
            ncols_seen[0] = commas;
        else if (commas != ncols_seen[0])
            ncols_seen[1] = commas;
        tg_basin_free(&b);
    }
    CHECK(ncols_seen[1] != 0, "the sample's files have different column counts (%d)", ncols_seen[0]);

    /* a columns map: P from E-OBS instead of ERA5-Land, nothing else but Q */
    const char *map[TG_NVAR] = {0};
    map[TG_VAR_P] = "eobs";
    map[TG_VAR_Q] = "streamflow";
    tg_basin b;
    CHECK(tg_caravan_official_read(ROOT, "camelsch_4001", map, &b) == 0, "%s", tg_error_message());
    compare(&b, TG_VAR_P, ROOT "/timeseries/csv/camelsch/camelsch_4001.csv", "eobs");
    CHECK(b.var[TG_VAR_TEMP] == NULL && b.var[TG_VAR_PET] == NULL, "only mapped variables read");
    tg_basin_free(&b);

    /* errors: a column the file lacks (named with file, line 1 and the variable), no prefix */
    map[TG_VAR_P] = "no_such_column";
    CHECK(tg_caravan_official_read(ROOT, "camelsch_4001", map, &b) == TG_EINVAL &&
              strstr(tg_error_message(), "camelsch_4001.csv: line 1, field 'no_such_column'") &&
              strstr(tg_error_message(), "variable P"),
          "missing column: %s", tg_error_message());
    CHECK(tg_caravan_official_read(ROOT, "4001", NULL, &b) == TG_EINVAL &&
              strstr(tg_error_message(), "source prefix"), "no prefix: %s", tg_error_message());
    CHECK(tg_caravan_official_read(ROOT, "camelsch_9999", NULL, &b) == TG_EIO &&
              strstr(tg_error_message(), "camelsch/camelsch_9999.csv"), "absent basin: %s", tg_error_message());
    /* the three attribute files of each basin's source, joined on gauge_id */
    tg_attributes a;
    CHECK(tg_caravan_attributes_found(ROOT, "camelslx_054") && !tg_caravan_attributes_found(ROOT, "nosuch_1"),
          "attribute folder detection");
    CHECK(tg_caravan_attributes_read(ROOT, (const char (*)[TG_ID_MAX])ids.id, ids.n, &a) == 0, "%s",
          tg_error_message());
    int total = 0;
    for (int i = 0; i < ids.n; i++)
        total += compare_attributes(&a, ids.id[i]);
    CHECK(total > 5 * 100, "attribute fields compared: %d", total);
    CHECK(tg_attributes_column(&a, "p_mean") >= 0 && tg_attributes_column(&a, "area") >= 0 &&
              tg_attributes_column(&a, "gauge_name") < 0,
          "columns of all three files, text dropped");
    tg_attributes_free(&a);
    tg_basin_list_free(&ids);
    return tg_test_summary();
}
