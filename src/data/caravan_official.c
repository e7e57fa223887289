/* caravan_official.c — Caravan in its published layout (Kratzert et al. 2023, Sci. Data 10:61):
 * timeseries/csv/<source>/<source>_<gauge>.csv with a `date` column and ~40 named ERA5-Land
 * columns whose order and number differ between sources (some carry extra columns), so
 * columns are always chosen by name. The same in NetCDF (timeseries/netcdf/<source>/<id>.nc,
 * caravan_netcdf.c): one variable per column, same names. The older headerless P,T,PET,Q files are caravan.c. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_internal.h"

const char *const *tg_caravan_default_columns(void)
{
    /* by enum value, whatever the order of the enum; constant, so safe from any thread */
    static const char *const cols[TG_NVAR] = {
        [TG_VAR_P] = "total_precipitation_sum", [TG_VAR_TEMP] = "temperature_2m_mean",
        [TG_VAR_PET] = "potential_evaporation_sum", [TG_VAR_Q] = "streamflow",
        [TG_VAR_TMAX] = "temperature_2m_max", [TG_VAR_TMIN] = "temperature_2m_min",
    };
    return cols;
}

/* Folder and file extension of each format: timeseries/<folder>/<source>/<id><ext>. */
static const char *const fmt_dir[2] = {"csv", "netcdf"}, *const fmt_ext[2] = {".csv", ".nc"};

static int is_dir(const char *root, const char *sub)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/timeseries/%s", root, sub);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int tg_caravan_is_official(const char *root)
{
    return is_dir(root, "csv") || is_dir(root, "netcdf");
}

int tg_caravan_official_read(const char *root, const char *id, const char *const *colmap, tg_basin *out)
{
    return tg_caravan_official_read_as(root, TG_CARAVAN_CSV, id, colmap, out);
}

int tg_caravan_official_read_as(const char *root, int format, const char *id, const char *const *colmap,
                                tg_basin *out)
{
    if (format != TG_CARAVAN_CSV && format != TG_CARAVAN_NETCDF)
        return tg_error_set(TG_EINVAL, "%s: Caravan format %d is neither csv nor netcdf", root, format);
    memset(out, 0, sizeof *out);
    size_t src_len = strcspn(id, "_");
    if (id[src_len] != '_' || src_len == 0)
        return tg_error_set(TG_EINVAL, "%s: basin id '%s' has no source prefix (Caravan ids are <source>_<id>, "
                                       "e.g. camelsch_4001)", root, id);
    char path[4200];
    int n = snprintf(path, sizeof path, "%s/timeseries/%s/%.*s/%s%s", root, fmt_dir[format], (int)src_len, id, id,
                     fmt_ext[format]);
    if (n < 0 || (size_t)n >= sizeof path)
        return tg_error_set(TG_EINVAL, "%s: path too long", root);
    if (!tg_file_exists(path))
        return tg_error_set(TG_EIO, "%s: no such file (basin '%s' of source '%.*s')", path, id, (int)src_len, id);
    if (!colmap)
        colmap = tg_caravan_default_columns();
    int rc = format == TG_CARAVAN_CSV ? tg_csv_read_mapped(path, id, colmap, out)
                                      : tg_caravan_netcdf_read_file(path, id, colmap, out);
    if (!rc)
        tg_basin_note(out, "Caravan (published layout, %s), source %.*s", fmt_dir[format], (int)src_len, id);
    return rc;
}

static int cmp_id(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Counts (and, with ids, stores up to cap of) the <root>/timeseries/<fmt>/<source>/<id>.<ext>. */
static int walk(const char *root, int format, char (*ids)[TG_ID_MAX], int cap)
{
    char path[4200];
    const char *ext = fmt_ext[format];
    const size_t el = strlen(ext);
    snprintf(path, sizeof path, "%s/timeseries/%s", root, fmt_dir[format]);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *s;
    while ((s = readdir(d))) {
        if (s->d_name[0] == '.')
            continue;
        char sub[4600];
        snprintf(sub, sizeof sub, "%s/%s", path, s->d_name);
        DIR *e = opendir(sub);
        if (!e)
            continue;
        struct dirent *f;
        while ((f = readdir(e))) {
            size_t len = strlen(f->d_name);
            if (len <= el || strcmp(f->d_name + len - el, ext) || len - el >= TG_ID_MAX)
                continue;
            if (ids && n < cap) {
                memcpy(ids[n], f->d_name, len - el);
                ids[n][len - el] = '\0';
            }
            n++;
        }
        closedir(e);
    }
    closedir(d);
    return n;
}

int tg_caravan_official_ids(const char *root, tg_basin_list *ids)
{
    return tg_caravan_official_ids_as(root, TG_CARAVAN_CSV, ids);
}

int tg_caravan_official_ids_as(const char *root, int format, tg_basin_list *ids)
{
    ids->n = 0;
    ids->id = NULL;
    if (format != TG_CARAVAN_CSV && format != TG_CARAVAN_NETCDF)
        return tg_error_set(TG_EINVAL, "%s: Caravan format %d is neither csv nor netcdf", root, format);
    int n = walk(root, format, NULL, 0);
    if (n < 0)
        return tg_error_set(TG_EIO, "%s/timeseries/%s: cannot open folder", root, fmt_dir[format]);
    if (n == 0)
        return tg_error_set(TG_EINVAL, "%s/timeseries/%s: no <source>/<id>%s files", root, fmt_dir[format],
                            fmt_ext[format]);
    ids->id = tg_malloc((size_t)n * TG_ID_MAX);
    if (!ids->id)
        return tg_error_set(TG_ENOMEM, "out of memory listing %s", root);
    int m = walk(root, format, ids->id, n);
    ids->n = m < n ? m : n; /* a file removed between the two walks */
    qsort(ids->id, (size_t)ids->n, TG_ID_MAX, cmp_id);
    return 0;
}
