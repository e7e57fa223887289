/* pet.c — potential evapotranspiration from temperature and latitude, for forcings that
 * carry none (CAMELS-US). Hargreaves needs the daily temperature range; the NLDAS and
 * Maurer CAMELS files store the daily mean in both tmax and tmin, which would give a
 * range of 0 and PET = 0 every day, so those get Oudin (2005), which needs only the mean.
 * Computed in double: a few thousand transcendentals per basin, once at load time. */
#include <math.h>

#include "data/data_internal.h"

#define PI 3.14159265358979323846
#define GSC 0.0820          /* solar constant, MJ m-2 min-1 (FAO-56) */
#define LAMBDA 2.45         /* latent heat of vaporisation, MJ kg-1 */
#define RHO_W 1000.0        /* water density, kg m-3 */
#define EQUAL_FRACTION 0.9  /* tmax == tmin on at least this share of days: no real range */

const char *tg_pet_method_name(int method)
{
    switch (method) {
    case TG_PET_AUTO: return "auto";
    case TG_PET_FILE: return "file";
    case TG_PET_HARGREAVES: return "hargreaves";
    case TG_PET_OUDIN: return "oudin";
    case TG_PET_NONE: return "none";
    default: return "?";
    }
}

double tg_extraterrestrial_radiation(double lat_deg, int doy)
{
    double phi = lat_deg * PI / 180.0;
    double dr = 1.0 + 0.033 * cos(2.0 * PI * doy / 365.0);       /* inverse relative distance */
    double delta = 0.409 * sin(2.0 * PI * doy / 365.0 - 1.39);   /* solar declination */
    double c = -tan(phi) * tan(delta);
    /* beyond the polar circles the sun never sets (c < -1) or never rises (c > 1) */
    double ws = c <= -1.0 ? PI : c >= 1.0 ? 0.0 : acos(c);       /* sunset hour angle */
    double ra = 24.0 * 60.0 / PI * GSC * dr *
                (ws * sin(phi) * sin(delta) + cos(phi) * cos(delta) * sin(ws));
    return ra > 0.0 ? ra : 0.0;
}

double tg_pet_hargreaves(double tmax, double tmin, double ra)
{
    if (isnan(tmax) || isnan(tmin) || isnan(ra)) return NAN;
    double range = tmax > tmin ? tmax - tmin : 0.0;
    /* 0.408 converts MJ m-2 day-1 into mm/day of evaporation equivalent */
    double pet = 0.0023 * ((tmax + tmin) / 2.0 + 17.8) * sqrt(range) * 0.408 * ra;
    return pet > 0.0 ? pet : 0.0;   /* negative below Tmean = -17.8 degC: no evaporation */
}

double tg_pet_oudin(double tmean, double ra)
{
    if (isnan(tmean) || isnan(ra)) return NAN;
    if (!(tmean + 5.0 > 0.0)) return 0.0;
    /* Ra / (lambda rho) is in m/day; * 1000 gives mm/day */
    return ra / (LAMBDA * RHO_W) * 1000.0 * (tmean + 5.0) / 100.0;
}

double tg_basin_equal_tminmax_fraction(const tg_basin *b)
{
    const tg_real *hi = b->var[TG_VAR_TMAX], *lo = b->var[TG_VAR_TMIN];
    if (!hi || !lo) return NAN;
    int n = 0, eq = 0;
    for (int t = 0; t < b->T; t++) {
        if (isnan(hi[t]) || isnan(lo[t])) continue;
        n++;
        eq += fabs((double)hi[t] - (double)lo[t]) < 0.005;   /* files have 2 decimals */
    }
    return n ? (double)eq / n : (double)NAN;
}

int tg_basin_compute_pet(tg_basin *b, int method)
{
    if (method == TG_PET_NONE || method == TG_PET_FILE) return 0;
    const tg_real *hi = b->var[TG_VAR_TMAX], *lo = b->var[TG_VAR_TMIN], *tm = b->var[TG_VAR_TEMP];
    double frac = tg_basin_equal_tminmax_fraction(b);
    if (method == TG_PET_AUTO) {
        if (hi && lo && !(frac >= EQUAL_FRACTION)) method = TG_PET_HARGREAVES;
        else method = TG_PET_OUDIN;
    }
    if (!isfinite(b->lat))
        return tg_error_set(TG_EINVAL, "basin '%s': PET (%s) needs the latitude, which is unknown",
                            b->id, tg_pet_method_name(method));
    if (method == TG_PET_HARGREAVES && (!hi || !lo))
        return tg_error_set(TG_EINVAL, "basin '%s': Hargreaves PET needs tmax and tmin", b->id);
    if (method == TG_PET_OUDIN && !tm && (!hi || !lo))
        return tg_error_set(TG_EINVAL, "basin '%s': Oudin PET needs the mean temperature", b->id);
    if (method != TG_PET_HARGREAVES && method != TG_PET_OUDIN)
        return tg_error_set(TG_EINVAL, "basin '%s': unknown PET method %d", b->id, method);
    tg_real *pet = tg_basin_add_var(b, TG_VAR_PET);
    if (!pet) return tg_error_code();
    for (int t = 0; t < b->T; t++) {
        double ra = tg_extraterrestrial_radiation(b->lat, tg_date_doy(b->start + t));
        double v;
        if (method == TG_PET_HARGREAVES)
            v = tg_pet_hargreaves((double)hi[t], (double)lo[t], ra);
        else
            v = tg_pet_oudin(tm ? (double)tm[t] : 0.5 * ((double)hi[t] + (double)lo[t]), ra);
        pet[t] = (tg_real)v;   /* NaN temperatures propagate */
    }
    b->pet_method = method;
    if (method == TG_PET_HARGREAVES)
        tg_basin_note(b, "PET: Hargreaves (FAO-56 eq. 52) from tmax, tmin, latitude %.2f", b->lat);
    else if (isfinite(frac))
        tg_basin_note(b, "PET: Oudin (2005) from the mean temperature, because tmax == tmin on "
                         "%.1f%% of days (no temperature range)", 100.0 * frac);
    else
        tg_basin_note(b, "PET: Oudin (2005) from the mean temperature");
    return 0;
}
