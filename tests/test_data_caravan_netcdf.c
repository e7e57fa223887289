/* test_data_caravan_netcdf.c — Caravan as published in NetCDF
 * (timeseries/netcdf/<source>/<id>.nc: a `date` dimension and coordinate, one variable per
 * CSV column of the same name). The fixtures are made here from the real CSV sample
 * (../shared/data/caravan_official_sample) by an independent split of its text, in a
 * scratch folder; reading the same basins from CSV and from NetCDF must give identical
 * arrays (bitwise, NaN where NaN), with the default and with a custom columns map. Bad
 * files (a variable the map names but the file lacks, a variable over the wrong
 * dimension, no date axis) are errors naming the file and the variable. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <netcdf.h>

#include "test_data_util.h"

#define ROOT TG_SHARED_DATA "/caravan_official_sample"
#define MAXCOL 64
#define MAXROW 20000

/* Splits at commas keeping empty fields (strtok would drop them). */
static int split(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

/* The CSV file `csv` as a NetCDF file `nc` the way xarray writes Caravan: date as int64
 * "days since <first> 00:00:00", every column a double over date, NaN for empty fields.
 * bad = 1: total_precipitation_sum over a second dimension; bad = 2: no date variable. */
static int csv_to_netcdf(const char *csv, const char *nc_path, int bad)
{
    FILE *f = fopen(csv, "r");
    if (!f)
        return 1;
    static char line[1 << 14];
    static double val[MAXCOL][MAXROW];
    static long long day[MAXROW];
    char *names[MAXCOL], *fl[MAXCOL], header[1 << 14];
    if (!fgets(header, sizeof header, f)) {
        fclose(f);
        return 1;
    }
    int ncol = split(header, names, MAXCOL), n = 0, d0 = 0;
    while (n < MAXROW && fgets(line, sizeof line, f)) {
        if (split(line, fl, MAXCOL) != ncol)
            continue;
        int d;
        if (tg_date_parse(fl[0], &d))
            break;
        if (n == 0)
            d0 = d;
        day[n] = d - d0;
        for (int j = 1; j < ncol; j++)
            val[j][n] = *fl[j] ? strtod(fl[j], NULL) : (double)NAN;
        n++;
    }
    fclose(f);
    int nc, dd, dx, v, st = nc_create(nc_path, NC_CLOBBER | NC_NETCDF4, &nc);
    if (!st) st = nc_def_dim(nc, "date", (size_t)n, &dd);
    if (!st) st = nc_def_dim(nc, "x", 1, &dx);
    if (!st && bad != 2) {
        char units[64], date[16];
        snprintf(units, sizeof units, "days since %s 00:00:00", tg_date_format(d0, date));
        st = nc_def_var(nc, "date", NC_INT64, 1, &dd, &v);
        if (!st) st = nc_put_att_text(nc, v, "units", strlen(units), units);
        if (!st) st = nc_put_att_text(nc, v, "calendar", 19, "proleptic_gregorian");
        if (!st) st = nc_put_var_longlong(nc, v, day);
    }
    for (int j = 1; j < ncol && !st; j++) {
        const double nan = (double)NAN;
        int two = bad == 1 && !strcmp(names[j], "total_precipitation_sum");
        int dims[2] = {dd, dx};
        st = nc_def_var(nc, names[j], NC_DOUBLE, two ? 2 : 1, dims, &v);
        if (!st) st = nc_def_var_fill(nc, v, 0, &nan);
        if (!st) st = nc_put_var_double(nc, v, val[j]); /* (n, 1) has the same n values */
    }
    int st2 = nc_close(nc);
    return st || st2;
}

/* Same start, length, variables and values (bitwise; NaN where NaN). */
static void compare(const tg_basin *a, const tg_basin *b, const char *what)
{
    CHECK(a->start == b->start && a->T == b->T, "%s: days %d+%d vs %d+%d", what, a->start, a->T, b->start, b->T);
    int nvar = 0;
    for (int v = 0; v < TG_NVAR; v++) {
        CHECK((a->var[v] == NULL) == (b->var[v] == NULL), "%s: variable %s in one only", what, tg_var_name(v));
        if (!a->var[v] || !b->var[v] || a->T != b->T)
            continue;
        nvar++;
        int diff = -1, nan = 0;
        for (int t = 0; t < a->T && diff < 0; t++) {
            tg_real x = a->var[v][t], y = b->var[v][t];
            nan += isnan((double)x);
            if (!(x == y || (isnan((double)x) && isnan((double)y))))
                diff = t;
        }
        CHECK(diff < 0, "%s: %s differs on day %d: %.9g vs %.9g", what, tg_var_name(v), diff,
              diff < 0 ? 0.0 : (double)a->var[v][diff], diff < 0 ? 0.0 : (double)b->var[v][diff]);
    }
    CHECK(nvar > 0, "%s: no variable compared", what);
    CHECK(a->pet_method == b->pet_method, "%s: pet_method %d vs %d", what, a->pet_method, b->pet_method);
}

int main(void)
{
    const char *dir = scratch_dir();
    char root[512], path[1024], csv[1024];
    snprintf(root, sizeof root, "%s/caravan", dir);
    tg_basin_list ids;
    CHECK(tg_caravan_official_ids(ROOT, &ids) == 0 && ids.n == 5, "%s", tg_error_message());
    /* fixtures: every basin of the sample, in its source's folder */
    for (int i = 0; i < ids.n; i++) {
        char src[32];
        snprintf(src, sizeof src, "%.*s", (int)strcspn(ids.id[i], "_"), ids.id[i]);
        snprintf(path, sizeof path, "%s/timeseries/netcdf/%s", root, src);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
        CHECK(system(cmd) == 0, "%s", cmd);
        snprintf(csv, sizeof csv, "%s/timeseries/csv/%s/%s.csv", ROOT, src, ids.id[i]);
        snprintf(path, sizeof path, "%s/timeseries/netcdf/%s/%s.nc", root, src, ids.id[i]);
        CHECK(csv_to_netcdf(csv, path, 0) == 0, "fixture %s", path);
    }
    CHECK(tg_caravan_is_official(root), "a timeseries/netcdf folder is the published layout");
    tg_basin_list nids;
    CHECK(tg_caravan_official_ids_as(root, TG_CARAVAN_NETCDF, &nids) == 0, "%s", tg_error_message());
    CHECK(nids.n == ids.n, "ids: %d vs %d", nids.n, ids.n);
    for (int i = 0; i < nids.n && i < ids.n; i++)
        CHECK(!strcmp(nids.id[i], ids.id[i]), "id %d: %s vs %s", i, nids.id[i], ids.id[i]);
    tg_basin_list_free(&nids);

    /* the same basins, default columns and a map with other variables */
    const char *map[TG_NVAR] = {0};
    map[TG_VAR_P] = "eobs";
    map[TG_VAR_Q] = "streamflow";
    map[TG_VAR_SWE] = "snow_depth_water_equivalent_mean";
    map[TG_VAR_TMAX] = "temperature_2m_max";
    for (int i = 0; i < ids.n; i++) {
        tg_basin a, b;
        char what[96];
        snprintf(what, sizeof what, "%s (default columns)", ids.id[i]);
        int ra = tg_caravan_official_read_as(ROOT, TG_CARAVAN_CSV, ids.id[i], NULL, &a);
        int rb = tg_caravan_official_read_as(root, TG_CARAVAN_NETCDF, ids.id[i], NULL, &b);
        CHECK(ra == 0 && rb == 0, "%s: %s", what, tg_error_message());
        if (!ra && !rb)
            compare(&a, &b, what);
        if (!ra) tg_basin_free(&a);
        if (!rb) tg_basin_free(&b);
        /* eobs is a column of some sources only */
        ra = tg_caravan_official_read_as(ROOT, TG_CARAVAN_CSV, ids.id[i], map, &a);
        rb = tg_caravan_official_read_as(root, TG_CARAVAN_NETCDF, ids.id[i], map, &b);
        snprintf(what, sizeof what, "%s (map)", ids.id[i]);
        CHECK((ra == 0) == (rb == 0), "%s: csv %d, netcdf %d", what, ra, rb);
        if (!ra && !rb)
            compare(&a, &b, what);
        if (!ra) tg_basin_free(&a);
        if (!rb) tg_basin_free(&b);
    }

    /* errors name the file and the variable */
    tg_basin b;
    map[TG_VAR_P] = "no_such_variable";
    CHECK(tg_caravan_official_read_as(root, TG_CARAVAN_NETCDF, "camelsch_4001", map, &b) == TG_EINVAL &&
              strstr(tg_error_message(), "camelsch/camelsch_4001.nc: variable 'no_such_variable'") &&
              strstr(tg_error_message(), "variable P"),
          "missing variable: %s", tg_error_message());
    snprintf(csv, sizeof csv, "%s/timeseries/csv/camelsch/camelsch_4001.csv", ROOT);
    snprintf(path, sizeof path, "%s/bad_dims.nc", dir);
    CHECK(csv_to_netcdf(csv, path, 1) == 0, "fixture %s", path);
    CHECK(tg_caravan_netcdf_read_file(path, "camelsch_4001", NULL, &b) == TG_EINVAL &&
              strstr(tg_error_message(), "bad_dims.nc: variable 'total_precipitation_sum'") &&
              strstr(tg_error_message(), "(date)"),
          "variable over (date, x): %s", tg_error_message());
    snprintf(path, sizeof path, "%s/no_date.nc", dir);
    CHECK(csv_to_netcdf(csv, path, 2) == 0, "fixture %s", path);
    CHECK(tg_caravan_netcdf_read_file(path, "camelsch_4001", NULL, &b) == TG_EINVAL &&
              strstr(tg_error_message(), "no_date.nc: variable 'date'"),
          "no date axis: %s", tg_error_message());
    CHECK(tg_caravan_official_read_as(root, TG_CARAVAN_NETCDF, "camelsch_9999", NULL, &b) == TG_EIO &&
              strstr(tg_error_message(), "netcdf/camelsch/camelsch_9999.nc"),
          "absent basin: %s", tg_error_message());
    CHECK(tg_caravan_official_ids_as(ROOT, TG_CARAVAN_NETCDF, &nids) == TG_EIO &&
              strstr(tg_error_message(), "timeseries/netcdf"),
          "the CSV-only sample has no NetCDF folder: %s", tg_error_message());
    /* a hand-made classic file (also a fuzz seed): dates with a gap are placed by date, the
     * missing day and a NaN streamflow are missing, other values as written */
    const char *four[TG_NVAR] = {0};
    for (int v = 0; v < TG_NVAR; v++)
        if (v == TG_VAR_P || v == TG_VAR_TEMP || v == TG_VAR_PET || v == TG_VAR_Q)
            four[v] = tg_caravan_default_columns()[v];
    CHECK(tg_caravan_netcdf_read_file(TG_SOURCE_DIR "/tests/fuzz_regressions/netcdf/caravan_date_axis.nc", "x_1",
                                      four, &b) == 0, "%s", tg_error_message());
    if (b.var[TG_VAR_P] && b.var[TG_VAR_Q]) {
        int d0;
        CHECK(tg_date_parse("2000-01-01", &d0) == 0 && b.start == d0 && b.T == 6, "start %d, %d days", b.start, b.T);
        static const double p[6] = {0, 1.5, 2, NAN, 0, 3}, q[6] = {1, NAN, 2, NAN, 3, 4};
        for (int t = 0; t < 6 && b.T == 6; t++) {
            CHECK(isnan(p[t]) ? isnan((double)b.var[TG_VAR_P][t]) : (double)b.var[TG_VAR_P][t] == p[t], "P day %d", t);
            CHECK(isnan(q[t]) ? isnan((double)b.var[TG_VAR_Q][t]) : (double)b.var[TG_VAR_Q][t] == q[t], "Q day %d", t);
        }
        tg_basin_free(&b);
    }
    tg_basin_list_free(&ids);
    scratch_remove();
    return tg_test_summary();
}
