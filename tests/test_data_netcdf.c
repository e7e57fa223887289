/* NetCDF round trip (write -> read -> compare, missing values and metadata included),
 * reading a (time, basin) file with string ids and packed values as other tools write
 * them, and errors (missing file, wrong units, broken time axis). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <netcdf.h>

#include "test_data_util.h"

static int same(tg_real a, tg_real b) { return (isnan(a) && isnan(b)) || a == b; }
static int same_d(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void test_roundtrip(void)
{
    tg_basin in[3], full;
    int ok = 1;
    if (tg_caravan_read(tg_test_data("caravan_camels_us"), "01022500", &full) == 0) {
        ok &= tg_basin_slice(&full, days(1993, 1, 1), days(1994, 12, 31), &in[0]) == 0;
        tg_basin_free(&full);
    } else
        ok = 0;
    tg_camels_options o = {.product = "nldas"};
    if (ok && tg_camels_read(tg_test_data("camels_us"), "06221400", &o, &full) == 0) {
        ok &= tg_basin_slice(&full, days(1993, 9, 29), days(1995, 3, 1), &in[1]) == 0;
        tg_basin_free(&full);
    } else
        ok = 0;
    CHECK(ok, "inputs: %s", tg_error_message());
    if (!ok) return;
    /* a small synthetic basin: only tmin and Q, gaps, negative and tiny values (negative
     * only where the variable's domain allows it: tmin) */
    tg_basin_init(&in[2], "x-7", days(1992, 12, 30), 5);
    tg_real *p = tg_basin_add_var(&in[2], TG_VAR_TMIN), *q = tg_basin_add_var(&in[2], TG_VAR_Q);
    for (int t = 0; t < 5; t++) {
        p[t] = (tg_real)(t * 0.1 - 0.2);
        q[t] = t == 2 ? (tg_real)NAN : (tg_real)(1e-7 * (t + 1));
    }
    in[2].lat = 51.5;
    in[2].pet_method = TG_PET_NONE;

    const char *path = scratch_path("basins.nc");
    int rc = tg_netcdf_write(path, in, 3);
    CHECK(rc == 0, "%s", tg_error_message());
    tg_basin *out = NULL;
    int B = 0;
    rc = tg_netcdf_read(path, &out, &B);
    CHECK(rc == 0 && B == 3, "%s", tg_error_message());
    if (rc || B != 3) return;
    /* common axis: 1992-12-30 (synthetic) .. 1995-03-01 (06221400) */
    int t0 = days(1992, 12, 30), t1 = days(1995, 3, 1);
    int bad = 0, checked = 0;
    for (int b = 0; b < 3; b++) {
        CHECK(!strcmp(out[b].id, in[b].id), "id '%s' vs '%s'", out[b].id, in[b].id);
        CHECK(out[b].start == t0 && out[b].T == t1 - t0 + 1, "axis %d %d", out[b].start, out[b].T);
        CHECK(same_d(out[b].lat, in[b].lat) && same_d(out[b].area_km2, in[b].area_km2) &&
                  same_d(out[b].elev_m, in[b].elev_m) && same_d(out[b].lon, in[b].lon),
              "metadata of %s", in[b].id);
        CHECK(out[b].pet_method == in[b].pet_method, "pet_method %d vs %d", out[b].pet_method, in[b].pet_method);
        for (int v = 0; v < TG_NVAR; v++) {
            int any = in[0].var[v] || in[1].var[v] || in[2].var[v];
            CHECK((out[b].var[v] != NULL) == any, "var %s presence", tg_var_name(v));
            if (!out[b].var[v]) continue;
            for (int t = 0; t < out[b].T; t++) {
                int k = out[b].start + t - in[b].start;
                tg_real want = (in[b].var[v] && k >= 0 && k < in[b].T) ? in[b].var[v][k] : (tg_real)NAN;
                bad += !same(out[b].var[v][t], want);
                checked++;
            }
        }
    }
    CHECK(bad == 0, "%d of %d values differ", bad, checked);
    CHECK(checked > 10000, "compared %d values", checked);
    /* spot values: missing stays missing, the rest is exact */
    CHECK(isnan(out[2].var[TG_VAR_Q][2]) && out[2].var[TG_VAR_Q][4] == (tg_real)5e-7, "synthetic Q");
    CHECK(isnan(out[2].var[TG_VAR_TEMP][0]) && isnan(out[0].var[TG_VAR_TMAX][0]), "absent -> NaN");
    CHECK(out[1].pet_method == TG_PET_OUDIN && out[1].lat == 43.14, "06221400 metadata");
    tg_basin_array_free(&out, B);
    CHECK(out == NULL, "array freed");

    /* the file is CF: time units and the id's cf_role, checked with the NetCDF API */
    int nc, v;
    char units[64] = "", role[64] = "";
    if (nc_open(path, NC_NOWRITE, &nc) == NC_NOERR) {
        if (nc_inq_varid(nc, "time", &v) == NC_NOERR) nc_get_att_text(nc, v, "units", units);
        if (nc_inq_varid(nc, "basin_id", &v) == NC_NOERR) nc_get_att_text(nc, v, "cf_role", role);
        nc_close(nc);
    }
    CHECK(!strncmp(units, "days since 1970-01-01", 21), "units '%s'", units);
    CHECK(!strncmp(role, "timeseries_id", 13), "cf_role '%s'", role);

    /* a value outside its variable's domain (P < 0) is an error naming variable, basin, day */
    tg_real *pn = tg_basin_add_var(&in[2], TG_VAR_P);
    for (int t = 0; t < 5; t++) pn[t] = t == 3 ? (tg_real)-0.5 : (tg_real)1;
    rc = tg_netcdf_write(path, in, 3);
    CHECK(rc == 0, "%s", tg_error_message());
    rc = tg_netcdf_read(path, &out, &B);
    CHECK(rc == TG_EINVAL && strstr(tg_error_message(), "variable 'P', basin 'x-7', 1993-01-02: -0.5 is outside"),
          "negative P: rc %d, '%s'", rc, tg_error_message());
    if (!rc) tg_basin_array_free(&out, B);
    for (int b = 0; b < 3; b++) tg_basin_free(&in[b]);
}

/* Writes a file as another tool might: (time, basin), string ids, packed shorts with a
 * missing_value, time in days since 2000-01-01 starting at 10. */
static int write_foreign(const char *path, const char *q_units, double dt)
{
    int nc, dt_, db, vt, vid, vq;
    if (nc_create(path, NC_CLOBBER | NC_NETCDF4, &nc) != NC_NOERR) return 1;
    nc_def_dim(nc, "time", 3, &dt_);
    nc_def_dim(nc, "station", 2, &db);
    nc_def_var(nc, "time", NC_DOUBLE, 1, &dt_, &vt);
    nc_put_att_text(nc, vt, "units", 30, "days since 2000-01-01 00:00:00");
    nc_def_var(nc, "station_name", NC_STRING, 1, &db, &vid);
    nc_put_att_text(nc, vid, "cf_role", 13, "timeseries_id");
    int dims[2] = {dt_, db};
    nc_def_var(nc, "Q", NC_SHORT, 2, dims, &vq);
    nc_put_att_text(nc, vq, "units", strlen(q_units), q_units);
    double scale = 0.01, offset = 1.0;
    short miss = -1;
    nc_put_att_double(nc, vq, "scale_factor", NC_DOUBLE, 1, &scale);
    nc_put_att_double(nc, vq, "add_offset", NC_DOUBLE, 1, &offset);
    nc_put_att_short(nc, vq, "missing_value", NC_SHORT, 1, &miss);
    nc_enddef(nc);
    double tv[3] = {10, 10 + dt, 10 + 2 * dt};
    nc_put_var_double(nc, vt, tv);
    const char *ids[2] = {"A1", "B22"};
    nc_put_var_string(nc, vid, ids);
    short qv[6] = {100, 200, -1, 300, 50, 0};   /* (time, station) */
    nc_put_var_short(nc, vq, qv);
    return nc_close(nc) != NC_NOERR;
}

static void test_foreign_and_errors(void)
{
    const char *path = scratch_path("foreign.nc");
    CHECK(write_foreign(path, "mm d-1", 1.0) == 0, "foreign file written");
    tg_basin *bs = NULL;
    int B = 0;
    int rc = tg_netcdf_read(path, &bs, &B);
    CHECK(rc == 0 && B == 2, "%s", tg_error_message());
    if (!rc && B == 2) {
        CHECK(!strcmp(bs[0].id, "A1") && !strcmp(bs[1].id, "B22"), "string ids");
        CHECK(bs[0].start == days(2000, 1, 11) && bs[0].T == 3, "time axis %d", bs[0].start);
        /* unpacked: 100 * 0.01 + 1 = 2; station B22 day 0: 200 -> 3; day 1: -1 missing */
        CHECK_CLOSE(bs[0].var[TG_VAR_Q][0], 2.0, 4 * TG_TEST_EPS, 0);
        CHECK_CLOSE(bs[1].var[TG_VAR_Q][0], 3.0, 4 * TG_TEST_EPS, 0);
        CHECK(isnan(bs[0].var[TG_VAR_Q][1]), "missing_value -> NaN");
        CHECK_CLOSE(bs[1].var[TG_VAR_Q][2], 1.0, 4 * TG_TEST_EPS, 0);
        tg_basin_array_free(&bs, B);
    }
    CHECK(write_foreign(path, "m3 s-1", 1.0) == 0, "written");
    CHECK_ERROR(tg_netcdf_read(path, &bs, &B), TG_EINVAL, "foreign.nc", "'Q'", "'units'");
    CHECK(bs == NULL && B == 0, "nothing returned on error");
    CHECK(write_foreign(path, "mm/day", 2.0) == 0, "written");
    CHECK_ERROR(tg_netcdf_read(path, &bs, &B), TG_EINVAL, "foreign.nc", "'time'", "index 1");
    CHECK_ERROR(tg_netcdf_read(scratch_path("absent.nc"), &bs, &B), TG_EIO, "absent.nc", NULL, NULL);
    tg_basin one;
    tg_basin_init(&one, "z", 0, 1);
    CHECK_ERROR(tg_netcdf_write("/nonexistent_dir/x.nc", &one, 1), TG_EIO, "x.nc", NULL, NULL);
}

int main(void)
{
    test_roundtrip();
    test_foreign_and_errors();
    return tg_test_summary();
}
