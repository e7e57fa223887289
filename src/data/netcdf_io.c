/* netcdf_io.c — basin time series as one CF-1.8 "timeSeries" NetCDF file: dims (basin,
 * time), so each basin's series is contiguous on disk and in memory; time as integer
 * "days since 1970-01-01"; basin ids as a char array (the classic CF form, readable by
 * every tool); missing days as _FillValue. The reader also takes (time, basin) layouts,
 * string ids, float/double, packed values and missing_value, since files come from
 * other tools too. */
#include <limits.h>
#include <math.h>
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_internal.h"

#define FILL -9999.0

#define NCTRY(call, what)                                                                      \
    do {                                                                                       \
        int st_ = (call);                                                                      \
        if (st_ != NC_NOERR) {                                                                 \
            rc = tg_error_set(TG_EIO, "%s: %s: %s", path, (what), nc_strerror(st_));           \
            goto done;                                                                         \
        }                                                                                      \
    } while (0)

static int put_text(int nc, int var, const char *name, const char *value)
{
    return nc_put_att_text(nc, var, name, strlen(value), value);
}

/* ---------------------------------------------------------------- write */
int tg_netcdf_write(const char *path, const tg_basin *basins, int B)
{
    if (B < 1) return tg_error_set(TG_EINVAL, "%s: no basins to write", path);
    int t0 = basins[0].start, t1 = basins[0].start + basins[0].T;   /* [t0, t1) */
    int present[TG_NVAR] = {0};
    for (int b = 0; b < B; b++) {
        if (basins[b].start < t0) t0 = basins[b].start;
        if (basins[b].start + basins[b].T > t1) t1 = basins[b].start + basins[b].T;
        for (int v = 0; v < TG_NVAR; v++) present[v] |= basins[b].var[v] != NULL;
    }
    const size_t T = (size_t)(t1 - t0);
    char tmp[4200];
    int rc = tg_io_tmpname(path, tmp, sizeof tmp);
    if (rc) return rc;
    int nc = -1, dim_b, dim_t, dim_s, v_time, v_id, v_meta[4], v_pet, v_var[TG_NVAR];
    tg_real *row = NULL;
    int *days = NULL;
    const nc_type real_type = sizeof(tg_real) == sizeof(float) ? NC_FLOAT : NC_DOUBLE;
    const tg_real fill_r = (tg_real)FILL;
    const double fill_d = FILL;
    const int pet_fill = -1;

    NCTRY(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc), "cannot create");
    NCTRY(nc_def_dim(nc, "basin", (size_t)B, &dim_b), "def_dim basin");
    NCTRY(nc_def_dim(nc, "time", T, &dim_t), "def_dim time");
    NCTRY(nc_def_dim(nc, "id_len", TG_ID_MAX, &dim_s), "def_dim id_len");
    NCTRY(put_text(nc, NC_GLOBAL, "Conventions", "CF-1.8"), "attribute Conventions");
    NCTRY(put_text(nc, NC_GLOBAL, "featureType", "timeSeries"), "attribute featureType");
    NCTRY(put_text(nc, NC_GLOBAL, "title", "basin-mean daily time series"), "attribute title");
    NCTRY(put_text(nc, NC_GLOBAL, "source", "terragrad"), "attribute source");

    NCTRY(nc_def_var(nc, "time", NC_INT, 1, &dim_t, &v_time), "def_var time");
    NCTRY(put_text(nc, v_time, "units", "days since 1970-01-01"), "time units");
    NCTRY(put_text(nc, v_time, "calendar", "proleptic_gregorian"), "time calendar");
    NCTRY(put_text(nc, v_time, "standard_name", "time"), "time standard_name");
    NCTRY(put_text(nc, v_time, "axis", "T"), "time axis");

    int dims_bs[2] = {dim_b, dim_s};
    NCTRY(nc_def_var(nc, "basin_id", NC_CHAR, 2, dims_bs, &v_id), "def_var basin_id");
    NCTRY(put_text(nc, v_id, "cf_role", "timeseries_id"), "basin_id cf_role");
    NCTRY(put_text(nc, v_id, "long_name", "basin (gauge) identifier"), "basin_id long_name");

    static const char *meta_name[4] = {"lat", "lon", "area", "elevation"};
    static const char *meta_units[4] = {"degrees_north", "degrees_east", "km2", "m"};
    static const char *meta_long[4] = {"gauge latitude", "gauge longitude", "basin area",
                                       "mean basin elevation"};
    for (int k = 0; k < 4; k++) {
        NCTRY(nc_def_var(nc, meta_name[k], NC_DOUBLE, 1, &dim_b, &v_meta[k]), meta_name[k]);
        NCTRY(nc_def_var_fill(nc, v_meta[k], 0, &fill_d), meta_name[k]);
        NCTRY(put_text(nc, v_meta[k], "units", meta_units[k]), meta_name[k]);
        NCTRY(put_text(nc, v_meta[k], "long_name", meta_long[k]), meta_name[k]);
    }
    NCTRY(put_text(nc, v_meta[0], "standard_name", "latitude"), "lat");
    NCTRY(put_text(nc, v_meta[1], "standard_name", "longitude"), "lon");
    NCTRY(nc_def_var(nc, "pet_method", NC_INT, 1, &dim_b, &v_pet), "def_var pet_method");
    NCTRY(nc_def_var_fill(nc, v_pet, 0, &pet_fill), "pet_method");
    NCTRY(put_text(nc, v_pet, "long_name", "origin of PET"), "pet_method");
    const int flags[4] = {TG_PET_FILE, TG_PET_HARGREAVES, TG_PET_OUDIN, TG_PET_NONE};
    NCTRY(nc_put_att_int(nc, v_pet, "flag_values", NC_INT, 4, flags), "pet_method");
    NCTRY(put_text(nc, v_pet, "flag_meanings", "file hargreaves oudin none"), "pet_method");

    int dims_bt[2] = {dim_b, dim_t};
    for (int v = 0; v < TG_NVAR; v++) {
        if (!present[v]) continue;
        NCTRY(nc_def_var(nc, tg_var_name(v), real_type, 2, dims_bt, &v_var[v]), tg_var_name(v));
        /* one basin's series per chunk: the reader's access pattern */
        size_t chunk[2] = {1, T};
        NCTRY(nc_def_var_chunking(nc, v_var[v], NC_CHUNKED, chunk), tg_var_name(v));
        NCTRY(nc_def_var_deflate(nc, v_var[v], 1, 1, 1), tg_var_name(v));
        NCTRY(nc_def_var_fill(nc, v_var[v], 0, &fill_r), tg_var_name(v));
        NCTRY(put_text(nc, v_var[v], "units", tg_var_units(v)), tg_var_name(v));
        NCTRY(put_text(nc, v_var[v], "long_name", tg_var_long_name(v)), tg_var_name(v));
        NCTRY(put_text(nc, v_var[v], "coordinates", "lat lon"), tg_var_name(v));
    }
    NCTRY(nc_enddef(nc), "enddef");

    days = tg_malloc(T * sizeof(int));
    row = tg_malloc(T * sizeof(tg_real));
    if (!days || !row) {
        rc = TG_ENOMEM;
        goto done;
    }
    for (size_t t = 0; t < T; t++) days[t] = t0 + (int)t;
    NCTRY(nc_put_var_int(nc, v_time, days), "write time");
    for (int b = 0; b < B; b++) {
        const tg_basin *bs = &basins[b];
        char id[TG_ID_MAX] = {0};
        memcpy(id, bs->id, strlen(bs->id));  /* NUL-padded to id_len */
        size_t st[2] = {(size_t)b, 0}, ct[2] = {1, TG_ID_MAX};
        NCTRY(nc_put_vara_text(nc, v_id, st, ct, id), "write basin_id");
        double meta[4] = {bs->lat, bs->lon, bs->area_km2, bs->elev_m};
        for (int k = 0; k < 4; k++) {
            double m = isnan(meta[k]) ? FILL : meta[k];
            NCTRY(nc_put_var1_double(nc, v_meta[k], st, &m), meta_name[k]);
        }
        int pm = bs->pet_method;
        NCTRY(nc_put_var1_int(nc, v_pet, st, &pm), "write pet_method");
        for (int v = 0; v < TG_NVAR; v++) {
            if (!present[v]) continue;
            for (size_t t = 0; t < T; t++) row[t] = fill_r;
            if (bs->var[v])
                for (int t = 0; t < bs->T; t++) {
                    tg_real x = bs->var[v][t];
                    row[bs->start - t0 + t] = isnan(x) ? fill_r : x;
                }
            size_t ct2[2] = {1, T};
            int st_;
            if (sizeof(tg_real) == sizeof(float))
                st_ = nc_put_vara_float(nc, v_var[v], st, ct2, (const float *)(const void *)row);
            else
                st_ = nc_put_vara_double(nc, v_var[v], st, ct2, (const double *)(const void *)row);
            if (st_ != NC_NOERR) {
                rc = tg_error_set(TG_EIO, "%s: writing variable '%s': %s", path, tg_var_name(v), nc_strerror(st_));
                goto done;
            }
        }
    }
done:
    tg_free(days, T * sizeof(int));
    tg_free(row, T * sizeof(tg_real));
    if (nc >= 0) {
        int st_ = nc_close(nc);
        if (!rc && st_ != NC_NOERR) rc = tg_error_set(TG_EIO, "%s: close: %s", path, nc_strerror(st_));
    }
    if (!rc && rename(tmp, path) != 0) rc = tg_error_set(TG_EIO, "%s: cannot rename %s into place", path, tmp);
    if (rc) remove(tmp);
    return rc;
}

/* ---------------------------------------------------------------- read */
static int get_text_att(int nc, int var, const char *name, char *buf, size_t size)
{
    size_t len;
    nc_type type;
    buf[0] = '\0';
    if (nc_inq_att(nc, var, name, &type, &len) != NC_NOERR || type != NC_CHAR || len >= size) return 1;
    if (nc_get_att_text(nc, var, name, buf) != NC_NOERR) return 1;
    buf[len] = '\0';
    return 0;
}

/* Our units, or a common spelling of them. */
static int units_ok(int v, const char *u)
{
    static const char *mmday[] = {"mm/day", "mm/d", "mm d-1", "mm day-1", "mm/24h", NULL};
    static const char *degc[] = {"degC", "C", "deg C", "degree_Celsius", "degrees_Celsius", "celsius", "Celsius", NULL};
    const char *const *alt = NULL;
    if (!strcmp(tg_var_units(v), "mm/day")) alt = mmday;
    if (!strcmp(tg_var_units(v), "degC")) alt = degc;
    if (!strcmp(u, tg_var_units(v))) return 1;
    for (; alt && *alt; alt++)
        if (!strcmp(u, *alt)) return 1;
    return 0;
}

/* Fill / missing values of a variable (up to 3), and CF packing. */
typedef struct unpack {
    double miss[3];
    int nmiss;
    double scale, offset;
} unpack;

static void get_unpack(int nc, int var, nc_type type, unpack *u)
{
    u->nmiss = 0;
    double x;
    if (nc_get_att_double(nc, var, "_FillValue", &x) == NC_NOERR) u->miss[u->nmiss++] = x;
    else if (type == NC_FLOAT) u->miss[u->nmiss++] = (double)NC_FILL_FLOAT;
    else if (type == NC_DOUBLE) u->miss[u->nmiss++] = NC_FILL_DOUBLE;
    size_t len;
    nc_type at;
    if (nc_inq_att(nc, var, "missing_value", &at, &len) == NC_NOERR && len == 1 &&
        nc_get_att_double(nc, var, "missing_value", &x) == NC_NOERR)
        u->miss[u->nmiss++] = x;
    u->scale = 1.0;
    u->offset = 0.0;
    if (nc_get_att_double(nc, var, "scale_factor", &x) == NC_NOERR) u->scale = x;
    if (nc_get_att_double(nc, var, "add_offset", &x) == NC_NOERR) u->offset = x;
}

static double apply_unpack(const unpack *u, double x)
{
    if (isnan(x)) return x;
    for (int k = 0; k < u->nmiss; k++)
        if (x == u->miss[k]) return NAN;
    return x * u->scale + u->offset;
}

/* id variable: the one with cf_role = timeseries_id, else "basin_id". */
static int find_id_var(int nc)
{
    int nvars;
    char role[64];
    if (nc_inq_nvars(nc, &nvars) != NC_NOERR) return -1;
    for (int v = 0; v < nvars; v++)
        if (!get_text_att(nc, v, "cf_role", role, sizeof role) && !strcmp(role, "timeseries_id")) return v;
    int v;
    return nc_inq_varid(nc, "basin_id", &v) == NC_NOERR ? v : -1;
}

static int read_ids(const char *path, int nc, int v_id, int B, tg_basin *bs, int t0, int T)
{
    int rc = 0, ndims, dims[NC_MAX_VAR_DIMS];
    nc_type type;
    char **strs = NULL;
    char *text = NULL;
    size_t slen = 0;
    NCTRY(nc_inq_var(nc, v_id, NULL, &type, &ndims, dims, NULL), "basin id variable");
    if (type == NC_CHAR && ndims == 2) {
        NCTRY(nc_inq_dimlen(nc, dims[1], &slen), "basin id length");
        /* ids of more than 1 MiB are a damaged header, not basins (found by fuzzing: a
         * small file declaring 3 GB of id text) */
        if (slen > 4096 || (size_t)B * slen > ((size_t)1 << 20))
            return tg_error_set(TG_EINVAL, "%s: basin id variable: %d ids of %zu characters is not a basin list",
                                path, B, slen);
        text = tg_malloc((size_t)B * slen + 1);
        if (!text) return TG_ENOMEM;
        NCTRY(nc_get_var_text(nc, v_id, text), "reading basin ids");
    } else if (type == NC_STRING && ndims == 1) {
        strs = tg_calloc((size_t)B, sizeof(char *));
        if (!strs) return TG_ENOMEM;
        NCTRY(nc_get_var_string(nc, v_id, strs), "reading basin ids");
    } else if (type != NC_CHAR && type != NC_STRING && ndims == 1) {
        /* numeric ids: formatted as integers */
    } else {
        return tg_error_set(TG_EINVAL, "%s: variable 'basin_id': expected char(basin, len), string(basin) or "
                            "integer(basin)", path);
    }
    for (int b = 0; b < B && !rc; b++) {
        char id[TG_ID_MAX + 1] = {0};
        if (text) {
            size_t n = slen < TG_ID_MAX ? slen : TG_ID_MAX;
            memcpy(id, text + (size_t)b * slen, n);
            if (slen > TG_ID_MAX && text[(size_t)b * slen + TG_ID_MAX]) id[TG_ID_MAX] = 'x'; /* too long */
        } else if (strs) {
            snprintf(id, sizeof id, "%s", strs[b] ? strs[b] : "");
        } else {
            long long x;
            size_t st = (size_t)b;
            NCTRY(nc_get_var1_longlong(nc, v_id, &st, &x), "reading basin ids");
            snprintf(id, sizeof id, "%lld", x);
        }
        /* trailing blanks pad fixed-width ids in some files */
        for (size_t n = strlen(id); n && id[n - 1] == ' '; n--) id[n - 1] = '\0';
        if (tg_basin_init(&bs[b], id, t0, T)) {
            rc = tg_error_prefix(TG_EINVAL, "%s: variable 'basin_id', basin %d: ", path, b);
            break;
        }
    }
done:
    if (strs) {
        nc_free_string((size_t)B, strs);
        tg_free(strs, (size_t)B * sizeof(char *));
    }
    if (text) tg_free(text, (size_t)B * slen + 1);
    return rc;
}

static int read_time(const char *path, int nc, int *tdim, int *t0, int *Tout, size_t file_bytes)
{
    int rc = 0, v, ndims;
    char units[256];
    double *tv = NULL;
    size_t T = 0;
    if (nc_inq_varid(nc, "time", &v) != NC_NOERR)
        return tg_error_set(TG_EINVAL, "%s: variable 'time': missing", path);
    NCTRY(nc_inq_varndims(nc, v, &ndims), "time");
    if (ndims != 1) return tg_error_set(TG_EINVAL, "%s: variable 'time': must have one dimension", path);
    NCTRY(nc_inq_vardimid(nc, v, tdim), "time");
    NCTRY(nc_inq_dimlen(nc, *tdim, &T), "time");
    if (get_text_att(nc, v, "units", units, sizeof units) || strncmp(units, "days since ", 11) != 0 ||
        strlen(units) < 21)
        return tg_error_set(TG_EINVAL, "%s: variable 'time', attribute 'units': '%s' is not 'days since YYYY-MM-DD'",
                            path, units);
    char date[11];
    memcpy(date, units + 11, 10);
    date[10] = '\0';
    int ref;
    if (tg_date_parse(date, &ref)) return tg_error_prefix(TG_EINVAL, "%s: variable 'time', attribute 'units': ", path);
    if (T == 0) return tg_error_set(TG_EINVAL, "%s: dimension 'time': empty", path);
    if (T > file_bytes || T > INT_MAX)   /* see tg_netcdf_read */
        return tg_error_set(TG_EINVAL, "%s: dimension 'time': %zu days in a file of %zu bytes (truncated or corrupt)",
                            path, T, file_bytes);
    tv = tg_malloc(T * sizeof(double));
    if (!tv) return TG_ENOMEM;
    NCTRY(nc_get_var_double(nc, v, tv), "reading time");
    for (size_t i = 0; i < T; i++) {
        if (tv[i] != floor(tv[i]) || tv[i] != tv[0] + (double)i) {
            rc = tg_error_set(TG_EINVAL,
                              "%s: variable 'time', index %zu: %g is not %g (the time axis must be "
                              "consecutive whole days, strictly increasing)",
                              path, i, tv[i], tv[0] + (double)i);
            goto done;
        }
    }
    /* checked before the (int) cast: a value beyond int range is UB there (years 0..9999
     * lie within 3.7e6 days of any reference date) */
    if (!(fabs(tv[0]) <= 3.7e6 && fabs(tv[0] + (double)(T - 1)) <= 3.7e6)) {
        rc = tg_error_set(TG_EINVAL, "%s: variable 'time', index 0: %g days since %s is not a date in years 0..9999",
                          path, tv[0], date);
        goto done;
    }
    *t0 = ref + (int)tv[0];
    *Tout = (int)T;
done:
    tg_free(tv, T * sizeof(double));
    return rc;
}

int tg_netcdf_read(const char *path, tg_basin **basins_out, int *B_out)
{
    *basins_out = NULL;
    *B_out = 0;
    int rc = 0, nc = -1, tdim, bdim, t0 = 0, T = 0, B = 0, nvars;
    size_t nb = 0;
    tg_basin *bs = NULL;
    double *buf = NULL;
    size_t bufn = 0;
    struct stat st;
    if (stat(path, &st) != 0) return tg_error_set(TG_EIO, "%s: missing file", path);
    /* A header can declare any number of records (a corrupt 1 kB file claimed 12 million
     * basins); each day and basin takes at least a byte of the file, so more than its size
     * means a truncated or corrupt file, not gigabytes to allocate. */
    const size_t file_bytes = (size_t)st.st_size;
    if ((rc = tg__netcdf_check_header(path)))
        return rc;
    NCTRY(nc_open(path, NC_NOWRITE, &nc), "cannot open");
    if ((rc = read_time(path, nc, &tdim, &t0, &T, file_bytes))) goto done;
    int v_id = find_id_var(nc);
    if (v_id < 0) {
        rc = tg_error_set(TG_EINVAL, "%s: variable 'basin_id': missing (no variable with cf_role timeseries_id)", path);
        goto done;
    }
    int id_dims[NC_MAX_VAR_DIMS];
    NCTRY(nc_inq_vardimid(nc, v_id, id_dims), "basin id");
    bdim = id_dims[0];
    NCTRY(nc_inq_dimlen(nc, bdim, &nb), "basin dimension");
    if (nb > file_bytes || nb > INT_MAX) {
        rc = tg_error_set(TG_EINVAL, "%s: dimension of 'basin_id': %zu basins in a file of %zu bytes (truncated or corrupt)",
                          path, nb, file_bytes);
        goto done;
    }
    B = (int)nb;
    if (B < 1) {
        rc = tg_error_set(TG_EINVAL, "%s: dimension of 'basin_id': no basins", path);
        goto done;
    }
    bs = tg_calloc((size_t)B, sizeof(tg_basin));
    if (!bs) {
        rc = TG_ENOMEM;
        goto done;
    }
    if ((rc = read_ids(path, nc, v_id, B, bs, t0, T))) goto done;

    bufn = (size_t)B * (size_t)T;
    buf = tg_malloc(bufn * sizeof(double));
    if (!buf) {
        rc = TG_ENOMEM;
        goto done;
    }
    NCTRY(nc_inq_nvars(nc, &nvars), "listing variables");
    for (int var = 0; var < nvars; var++) {
        char name[NC_MAX_NAME + 1];
        int ndims, dims[NC_MAX_VAR_DIMS];
        nc_type type;
        NCTRY(nc_inq_var(nc, var, name, &type, &ndims, dims, NULL), "variable");
        unpack u;
        /* per-basin metadata */
        static const char *meta[] = {"lat", "latitude", "lon", "longitude", "area", "elevation", "pet_method"};
        int m = -1;
        for (int k = 0; k < 7; k++)
            if (!strcmp(name, meta[k])) m = k;
        if (m >= 0 && ndims == 1 && dims[0] == bdim) {
            NCTRY(nc_get_var_double(nc, var, buf), name);
            get_unpack(nc, var, type, &u);
            if (m == 6) u.nmiss = 0;   /* our pet_method fill (-1) is mapped below */
            for (int b = 0; b < B; b++) {
                double x = apply_unpack(&u, buf[b]);
                if (m <= 1) bs[b].lat = x;
                else if (m <= 3) bs[b].lon = x;
                else if (m == 4) bs[b].area_km2 = x;
                else if (m == 5) bs[b].elev_m = x;
                else bs[b].pet_method = (x >= TG_PET_FILE && x <= TG_PET_NONE) ? (int)x : TG_PET_NONE;
            }
            continue;
        }
        int v = tg_var_find(name);
        if (v < 0 || var == v_id) continue;
        int bt = ndims == 2 && dims[0] == bdim && dims[1] == tdim;
        int tb = ndims == 2 && dims[0] == tdim && dims[1] == bdim;
        if (!bt && !tb) {
            rc = tg_error_set(TG_EINVAL, "%s: variable '%s': dimensions must be (basin, time) or (time, basin)",
                              path, name);
            goto done;
        }
        char units[128];
        if (!get_text_att(nc, var, "units", units, sizeof units) && !units_ok(v, units)) {
            rc = tg_error_set(TG_EINVAL, "%s: variable '%s', attribute 'units': '%s' is not %s", path, name,
                              units, tg_var_units(v));
            goto done;
        }
        NCTRY(nc_get_var_double(nc, var, buf), name);
        get_unpack(nc, var, type, &u);
        for (int b = 0; b < B; b++) {
            tg_real *x = tg_basin_add_var(&bs[b], v);
            if (!x) {
                rc = TG_ENOMEM;
                goto done;
            }
            for (int t = 0; t < T; t++) {
                size_t i = bt ? (size_t)b * T + t : (size_t)t * B + b;
                double y = apply_unpack(&u, buf[i]);
                if (!isnan(y) && !(tg_domain_contains(tg_var_domain(v), y) && isfinite((double)(tg_real)y))) { /* NaN = missing */
                    char dom[96], date[16];
                    rc = tg_error_set(TG_EINVAL, "%s: variable '%s', basin '%s', %s: %g is outside the valid domain %s (%s)",
                                      path, name, bs[b].id, tg_date_format(bs[b].start + t, date), y,
                                      tg_domain_format(tg_var_domain(v), tg_var_name(v), dom, sizeof dom),
                                      tg_var_domain(v)->why);
                    goto done;
                }
                x[t] = (tg_real)y;
            }
        }
    }
    for (int b = 0; b < B; b++) tg_basin_note(&bs[b], "NetCDF %s", tg_path_base(path));
done:
    tg_free(buf, bufn * sizeof(double));
    if (nc >= 0) nc_close(nc);
    if (rc) {
        if (bs) tg_basin_array_free(&bs, B);
        return rc;
    }
    *basins_out = bs;
    *B_out = B;
    return 0;
}
