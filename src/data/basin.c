/* basin.c — the basin time-series container: variable table, allocation, period slices.
 * One array per variable (not an interleaved (T, F) block) because sources differ in
 * which variables they have, and normalisation / NetCDF work variable by variable. */
#include <math.h>
#include <string.h>

#include "data/data_internal.h"

static const struct {
    const char *name, *units, *long_name;
} var_table[TG_NVAR] = {
    [TG_VAR_P] = {"P", "mm/day", "precipitation"},
    [TG_VAR_TEMP] = {"T", "degC", "mean air temperature"},
    [TG_VAR_PET] = {"PET", "mm/day", "potential evapotranspiration"},
    [TG_VAR_Q] = {"Q", "mm/day", "observed streamflow"},
    [TG_VAR_TMAX] = {"tmax", "degC", "daily maximum air temperature"},
    [TG_VAR_TMIN] = {"tmin", "degC", "daily minimum air temperature"},
    [TG_VAR_SRAD] = {"srad", "W m-2", "shortwave radiation"},
    [TG_VAR_VP] = {"vp", "Pa", "vapour pressure"},
    [TG_VAR_DAYL] = {"dayl", "s", "day length"},
    [TG_VAR_SWE] = {"swe", "mm", "snow water equivalent"},
};

const char *tg_var_name(int v) { return v >= 0 && v < TG_NVAR ? var_table[v].name : "?"; }
const char *tg_var_units(int v) { return v >= 0 && v < TG_NVAR ? var_table[v].units : "?"; }
const char *tg_var_long_name(int v) { return v >= 0 && v < TG_NVAR ? var_table[v].long_name : "?"; }

static int eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int ca = (*a >= 'A' && *a <= 'Z') ? *a + 32 : *a;
        int cb = (*b >= 'A' && *b <= 'Z') ? *b + 32 : *b;
        if (ca != cb) return 0;
    }
    return *a == *b;
}

int tg_var_find(const char *name)
{
    for (int v = 0; v < TG_NVAR; v++)
        if (eq_nocase(name, var_table[v].name)) return v;
    return -1;
}

/* ---------------------------------------------------------------- lifetime */
static size_t var_bytes(int T) { return (size_t)(T > 0 ? T : 1) * sizeof(tg_real); }

int tg_basin_init(tg_basin *b, const char *id, int start, int T)
{
    memset(b, 0, sizeof *b);
    b->lat = b->lon = b->area_km2 = b->elev_m = NAN;
    b->pet_method = TG_PET_NONE;
    b->start = start;
    if (T < 0) return tg_error_set(TG_EINVAL, "basin '%s': negative length %d", id ? id : "", T);
    b->T = T;
    return tg_id_copy(b->id, id, "basin");
}

tg_real *tg_basin_add_var(tg_basin *b, int v)
{
    if (v < 0 || v >= TG_NVAR) {
        tg_error_set(TG_EINVAL, "basin '%s': unknown variable %d", b->id, v);
        return NULL;
    }
    if (b->var[v]) return b->var[v];
    tg_real *x = tg_malloc(var_bytes(b->T));
    if (!x) return NULL;
    for (int t = 0; t < b->T; t++) x[t] = (tg_real)NAN;
    b->var[v] = x;
    return x;
}

void tg_basin_free(tg_basin *b)
{
    for (int v = 0; v < TG_NVAR; v++) {
        tg_free(b->var[v], var_bytes(b->T));
        b->var[v] = NULL;
    }
    b->T = 0;
}

void tg_basin_array_free(tg_basin **basins, int B)
{
    if (!basins || !*basins) return;
    for (int i = 0; i < B; i++) tg_basin_free(&(*basins)[i]);
    tg_free(*basins, (size_t)(B > 0 ? B : 1) * sizeof(tg_basin));
    *basins = NULL;
}

/* ---------------------------------------------------------------- queries, slices */
int tg_basin_slice(const tg_basin *in, int first, int last, tg_basin *out)
{
    if (last < first) {
        char a[11], b[11];
        return tg_error_set(TG_EINVAL, "basin '%s': period %s..%s ends before it starts", in->id,
                            tg_date_format(first, a), tg_date_format(last, b));
    }
    int rc = tg_basin_init(out, in->id, first, last - first + 1);
    if (rc) return rc;
    out->lat = in->lat;
    out->lon = in->lon;
    out->area_km2 = in->area_km2;
    out->elev_m = in->elev_m;
    out->pet_method = in->pet_method;
    memcpy(out->note, in->note, sizeof out->note);
    /* overlap of [first, last] with the input's days, as output indices */
    int lo = in->start > first ? in->start - first : 0;
    int hi = in->start + in->T - first;   /* exclusive */
    if (hi > out->T) hi = out->T;
    for (int v = 0; v < TG_NVAR; v++) {
        if (!in->var[v]) continue;
        tg_real *x = tg_basin_add_var(out, v);
        if (!x) {
            tg_basin_free(out);
            return TG_ENOMEM;
        }
        for (int t = lo; t < hi; t++) x[t] = in->var[v][first + t - in->start];
    }
    return 0;
}

int tg_basin_count_valid(const tg_basin *b, int v)
{
    if (v < 0 || v >= TG_NVAR || !b->var[v]) return 0;
    int n = 0;
    for (int t = 0; t < b->T; t++) n += !isnan(b->var[v][t]);
    return n;
}

int tg_basin_require(const tg_basin *b, unsigned mask, const char *what)
{
    for (int v = 0; v < TG_NVAR; v++)
        if ((mask & TG_VAR_BIT(v)) && !b->var[v])
            return tg_error_set(TG_EINVAL, "%s: basin '%s' has no column '%s' (%s)",
                                what ? what : "data", b->id, tg_var_name(v), tg_var_long_name(v));
    return 0;
}
