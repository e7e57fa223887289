/* caravan_netcdf.c — one basin of Caravan as published in NetCDF:
 * timeseries/netcdf/<source>/<gauge_id>.nc with a `date` dimension and coordinate (CF time,
 * "days since ...") and one variable per CSV column, of the same name. Variables are
 * chosen by name through the same column map as the CSV reader, so both formats give the
 * same basin. Days are placed by date (gaps become missing days, as in the CSV reader);
 * NaN, _FillValue and missing_value are missing; scale_factor / add_offset are applied. */
#include <limits.h>
#include <math.h>
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_internal.h"

#define NCTRY(call, what)                                                                      \
    do {                                                                                       \
        int st_ = (call);                                                                      \
        if (st_ != NC_NOERR) {                                                                 \
            rc = tg_error_set(TG_EIO, "%s: %s: %s", path, (what), nc_strerror(st_));           \
            goto done;                                                                         \
        }                                                                                      \
    } while (0)

static int text_att(int nc, int var, const char *name, char *buf, size_t size)
{
    size_t len;
    nc_type type;
    buf[0] = '\0';
    if (nc_inq_att(nc, var, name, &type, &len) != NC_NOERR || type != NC_CHAR || len >= size)
        return 1;
    if (nc_get_att_text(nc, var, name, buf) != NC_NOERR)
        return 1;
    buf[len] = '\0';
    return 0;
}

/* "days since YYYY-MM-DD", optionally followed by a midnight time (xarray writes
 * "days since 1981-01-01 00:00:00"): the reference day, or -1. */
static int ref_day(const char *units, int *day)
{
    if (strncmp(units, "days since ", 11) || strlen(units) < 21)
        return -1;
    char date[11];
    memcpy(date, units + 11, 10);
    date[10] = '\0';
    const char *rest = units + 21;
    if (*rest && strcmp(rest, " 00:00:00") && strcmp(rest, " 00:00") && strcmp(rest, "T00:00:00") &&
        strcmp(rest, " 00:00:00.0") && strcmp(rest, " 0:0:0"))
        return -1;
    return tg_date_parse(date, day) ? -1 : 0;
}

/* The `date` axis: its dimension and the day of every index (strictly increasing). */
static int read_dates(const char *path, int nc, int *ddim, int **days_out, size_t *T_out, size_t file_bytes)
{
    int rc = 0, v, ndims;
    char units[256];
    double *tv = NULL;
    int *days = NULL;
    size_t T = 0;
    if (nc_inq_dimid(nc, "date", ddim) != NC_NOERR || nc_inq_varid(nc, "date", &v) != NC_NOERR)
        return tg_error_set(TG_EINVAL, "%s: variable 'date': missing (Caravan NetCDF files have a 'date' "
                                       "dimension and coordinate)", path);
    NCTRY(nc_inq_varndims(nc, v, &ndims), "variable 'date'");
    int dim0 = -1;
    if (ndims == 1)
        NCTRY(nc_inq_vardimid(nc, v, &dim0), "variable 'date'");
    if (ndims != 1 || dim0 != *ddim)
        return tg_error_set(TG_EINVAL, "%s: variable 'date': dimensions must be (date)", path);
    NCTRY(nc_inq_dimlen(nc, *ddim, &T), "dimension 'date'");
    int ref;
    if (text_att(nc, v, "units", units, sizeof units) || ref_day(units, &ref))
        return tg_error_set(TG_EINVAL, "%s: variable 'date', attribute 'units': '%s' is not 'days since YYYY-MM-DD'",
                            path, units);
    if (T == 0)
        return tg_error_set(TG_EINVAL, "%s: dimension 'date': empty", path);
    if (T > file_bytes || T > INT_MAX) /* a damaged header, not days to allocate */
        return tg_error_set(TG_EINVAL, "%s: dimension 'date': %zu days in a file of %zu bytes (truncated or corrupt)",
                            path, T, file_bytes);
    tv = tg_malloc(T * sizeof(double));
    days = tg_malloc(T * sizeof(int));
    if (!tv || !days) {
        rc = TG_ENOMEM;
        goto done;
    }
    NCTRY(nc_get_var_double(nc, v, tv), "reading variable 'date'");
    for (size_t i = 0; i < T; i++) {
        /* years 0..9999 lie within 3.7e6 days of any reference date; checked before the cast */
        if (!(tv[i] == floor(tv[i]) && fabs(tv[i]) <= 3.7e6)) {
            rc = tg_error_set(TG_EINVAL, "%s: variable 'date', index %zu: %g is not a whole day", path, i, tv[i]);
            goto done;
        }
        days[i] = ref + (int)tv[i];
        if (i && days[i] <= days[i - 1]) {
            char a[16], b[16];
            rc = tg_error_set(TG_EINVAL, "%s: variable 'date', index %zu: %s is not after %s (dates must be strictly "
                                         "increasing)", path, i, tg_date_format(days[i], a), tg_date_format(days[i - 1], b));
            goto done;
        }
    }
done:
    tg_free(tv, T * sizeof(double));
    if (rc) {
        tg_free(days, T * sizeof(int));
        return rc;
    }
    *days_out = days;
    *T_out = T;
    return 0;
}

static int read_file(const char *path, const char *id, const char *const *colmap, size_t file_bytes, tg_basin *out)
{
    int rc = 0, nc = -1, ddim, *days = NULL;
    size_t T = 0;
    double *buf = NULL;
    NCTRY(nc_open(path, NC_NOWRITE, &nc), "cannot open");
    if ((rc = read_dates(path, nc, &ddim, &days, &T, file_bytes)))
        goto done;
    if ((rc = tg_basin_init(out, id, days[0], days[T - 1] - days[0] + 1)))
        goto done;
    buf = tg_malloc(T * sizeof(double));
    if (!buf) {
        rc = TG_ENOMEM;
        goto done;
    }
    for (int v = 0; v < TG_NVAR; v++) {
        const char *name = colmap[v];
        if (!name || !*name)
            continue;
        int var, ndims, dim0 = -1;
        nc_type type;
        if (nc_inq_varid(nc, name, &var) != NC_NOERR) {
            rc = tg_error_set(TG_EINVAL, "%s: variable '%s': no such variable (wanted for variable %s)", path, name,
                              tg_var_name(v));
            goto done;
        }
        NCTRY(nc_inq_var(nc, var, NULL, &type, &ndims, NULL, NULL), name);
        if (ndims == 1)
            NCTRY(nc_inq_vardimid(nc, var, &dim0), name);
        if (ndims != 1 || dim0 != ddim || type == NC_CHAR || type == NC_STRING) {
            rc = tg_error_set(TG_EINVAL, "%s: variable '%s' (wanted for variable %s): must be numeric with dimensions "
                                         "(date), has %d dimension%s", path, name, tg_var_name(v), ndims,
                              ndims == 1 ? " of another name" : "s");
            goto done;
        }
        NCTRY(nc_get_var_double(nc, var, buf), name);
        /* missing values and packing, as CF says */
        double miss[2], x, scale = 1, offset = 0;
        int nmiss = 0;
        if (nc_get_att_double(nc, var, "_FillValue", &x) == NC_NOERR)
            miss[nmiss++] = x;
        size_t len;
        nc_type at;
        if (nc_inq_att(nc, var, "missing_value", &at, &len) == NC_NOERR && len == 1 &&
            nc_get_att_double(nc, var, "missing_value", &x) == NC_NOERR)
            miss[nmiss++] = x;
        if (nc_get_att_double(nc, var, "scale_factor", &x) == NC_NOERR)
            scale = x;
        if (nc_get_att_double(nc, var, "add_offset", &x) == NC_NOERR)
            offset = x;
        tg_real *dst = tg_basin_add_var(out, v);
        if (!dst) {
            rc = TG_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < T; i++) {
            double y = buf[i];
            for (int k = 0; k < nmiss; k++)
                if (y == miss[k])
                    y = NAN;
            if (!isnan(y))
                y = y * scale + offset;
            if (!isnan(y) && !(tg_domain_contains(tg_var_domain(v), y) && isfinite((double)(tg_real)y))) {
                char dom[96], date[16];
                rc = tg_error_set(TG_EINVAL, "%s: variable '%s', %s: %g is outside the valid domain %s (%s)",
                                  path, name, tg_date_format(days[i], date), y,
                                  tg_domain_format(tg_var_domain(v), tg_var_name(v), dom, sizeof dom),
                                  tg_var_domain(v)->why);
                goto done;
            }
            dst[days[i] - out->start] = (tg_real)y;
        }
    }
    if (out->var[TG_VAR_PET])
        out->pet_method = TG_PET_FILE;
    tg_basin_note(out, "NetCDF %s: %zu dates over %d days", tg_path_base(path), T, out->T);
done:
    tg_free(buf, T * sizeof(double));
    tg_free(days, T * sizeof(int));
    if (nc >= 0)
        nc_close(nc);
    if (rc)
        tg_basin_free(out);
    return rc;
}

int tg_caravan_netcdf_read_file(const char *path, const char *id, const char *const *colmap, tg_basin *out)
{
    memset(out, 0, sizeof *out);
    if (!colmap)
        colmap = tg_caravan_default_columns();
    struct stat st;
    if (stat(path, &st) != 0)
        return tg_error_set(TG_EIO, "%s: no such file (basin '%s')", path, id);
    int rc = tg__netcdf_check_header(path);
    if (rc)
        return rc;
    /* The dataset reads basins in an OpenMP loop, but libnetcdf and HDF5 (as Debian builds
     * them) are not thread-safe: concurrent opens of netCDF-4 files failed with "Unknown
     * file format" and HDF5 diagnostics. One file at a time; the parsing is cheap. */
#pragma omp critical(tg_netcdf_library)
    rc = read_file(path, id, colmap, (size_t)st.st_size, out);
    return rc;
}
