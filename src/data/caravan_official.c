/* caravan_official.c — Caravan in its published layout (Kratzert et al. 2023, Sci. Data 10:61):
 * timeseries/csv/<source>/<source>_<gauge>.csv with a `date` column and ~40 named ERA5-Land
 * columns whose order and number differ between sources (some carry extra columns), so
 * columns are always chosen by name. The older headerless P,T,PET,Q files are caravan.c. */
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

int tg_caravan_is_official(const char *root)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/timeseries/csv", root);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int tg_caravan_official_read(const char *root, const char *id, const char *const *colmap, tg_basin *out)
{
    memset(out, 0, sizeof *out);
    size_t src_len = strcspn(id, "_");
    if (id[src_len] != '_' || src_len == 0)
        return tg_error_set(TG_EINVAL, "%s: basin id '%s' has no source prefix (Caravan ids are <source>_<id>, "
                                       "e.g. camelsch_4001)", root, id);
    char path[4200];
    int n = snprintf(path, sizeof path, "%s/timeseries/csv/%.*s/%s.csv", root, (int)src_len, id, id);
    if (n < 0 || (size_t)n >= sizeof path)
        return tg_error_set(TG_EINVAL, "%s: path too long", root);
    if (!tg_file_exists(path))
        return tg_error_set(TG_EIO, "%s: no such file (basin '%s' of source '%.*s')", path, id, (int)src_len, id);
    int rc = tg_csv_read_mapped(path, id, colmap ? colmap : tg_caravan_default_columns(), out);
    if (!rc)
        tg_basin_note(out, "Caravan (published layout), source %.*s", (int)src_len, id);
    return rc;
}

static int cmp_id(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Counts (and, with ids, stores up to cap of) the <root>/timeseries/csv/<source>/<id>.csv. */
static int walk(const char *root, char (*ids)[TG_ID_MAX], int cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/timeseries/csv", root);
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
            if (len <= 4 || strcmp(f->d_name + len - 4, ".csv") || len - 4 >= TG_ID_MAX)
                continue;
            if (ids && n < cap) {
                memcpy(ids[n], f->d_name, len - 4);
                ids[n][len - 4] = '\0';
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
    ids->n = 0;
    ids->id = NULL;
    int n = walk(root, NULL, 0);
    if (n < 0)
        return tg_error_set(TG_EIO, "%s/timeseries/csv: cannot open folder", root);
    if (n == 0)
        return tg_error_set(TG_EINVAL, "%s/timeseries/csv: no <source>/<id>.csv files", root);
    ids->id = tg_malloc((size_t)n * TG_ID_MAX);
    if (!ids->id)
        return tg_error_set(TG_ENOMEM, "out of memory listing %s", root);
    int m = walk(root, ids->id, n);
    ids->n = m < n ? m : n; /* a file removed between the two walks */
    qsort(ids->id, (size_t)ids->n, TG_ID_MAX, cmp_id);
    return 0;
}
