/* results_netcdf.c — predictions_<period>.nc: everything `terragrad test` scores and
 * writes as CSV, in one CF-1.8 NetCDF-4 file a user opens with xarray:
 *   coordinates  time (days since the period's first day), basin_id (string), parameter,
 *                metric (strings) with their units as auxiliary coordinates
 *   (basin, time) Q_obs, Q and, for process models, PET and every flux and state the kind
 *                outputs (the columns of predictions_<period>/<basin>.csv, same names)
 *   (basin, parameter) learned parameters (the columns of params_<period>.csv)
 *   (basin, time, dynamic_parameter) the daily values of the parameters in hbv.dynamic
 *   (basin, metric)    metrics, n_days, water_balance_rel (metrics_<period>.csv)
 *   global       provenance: version, git commit, model kind, period, the run's config.
 * NetCDF-4 because basin ids are variable-length strings there (xarray reads them as str;
 * a classic char array comes back as bytes). Written to a temp file and renamed. */
#include <math.h>
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train_internal.h"

#ifndef TG_GIT_COMMIT
#define TG_GIT_COMMIT "unknown"
#endif

#define NCTRY(call, what)                                                                      \
    do {                                                                                       \
        int st_ = (call);                                                                      \
        if (st_ != NC_NOERR) {                                                                 \
            rc = tg_error_set(TG_EIO, "%s: %s: %s", r->path, (what), nc_strerror(st_));        \
            goto done;                                                                         \
        }                                                                                      \
    } while (0)

/* What an HBV output is, from the equations in terragrad/models.h (values are end-of-day
 * states or daily totals, averaged over the model's parallel components). */
static const struct {
    const char *name, *long_name;
} output_long[] = {
    {"Q0", "fast runoff from the upper zone above UZL, before routing"},
    {"Q1", "interflow from the upper zone, before routing"},
    {"Q2", "baseflow from the lower zone, before routing"},
    {"ET", "actual evapotranspiration"},
    {"rain", "rainfall"},
    {"snow", "snowfall"},
    {"melt", "snowmelt"},
    {"SWE", "snowpack (frozen water) at the end of the day"},
    {"MELTWATER", "liquid water held in the snowpack at the end of the day"},
    {"SM", "soil moisture storage at the end of the day"},
    {"SUZ", "upper zone storage at the end of the day"},
    {"SLZ", "lower zone storage at the end of the day"},
    {"recharge", "recharge from the soil to the upper zone"},
    {"excess", "soil moisture above field capacity, to the upper zone"},
    {"perc", "percolation from the upper to the lower zone"},
    {"cap", "capillary rise from the lower zone to the soil"},
};

static const struct {
    const char *name, *long_name, *units;
} param_info[] = {
    {"BETA", "shape exponent of soil recharge", "1"},
    {"FC", "maximum soil moisture storage (field capacity)", "mm"},
    {"K0", "recession coefficient of fast upper-zone runoff", "day-1"},
    {"K1", "recession coefficient of upper-zone interflow", "day-1"},
    {"K2", "recession coefficient of lower-zone baseflow", "day-1"},
    {"LP", "fraction of FC above which evapotranspiration is potential", "1"},
    {"PERC", "maximum percolation from the upper to the lower zone", "mm/day"},
    {"UZL", "upper-zone threshold of fast runoff", "mm"},
    {"TT", "threshold temperature of snowfall and melt", "degC"},
    {"CFMAX", "degree-day melt factor", "mm degC-1 day-1"},
    {"CFR", "refreezing coefficient (fraction of CFMAX)", "1"},
    {"CWH", "liquid water holding capacity of the snowpack (fraction of SWE)", "1"},
    {"BETAET", "shape exponent of the evapotranspiration limitation", "1"},
    {"C", "capillary rise coefficient (lower zone to soil)", "day-1"},
    {"route_a", "shape of the gamma unit hydrograph", "1"},
    {"route_theta", "scale of the gamma unit hydrograph", "day"},
    {"PCORR", "learned multiplier on the precipitation HBV receives", "1"},
    {"SFCF", "learned snowfall correction factor on the precipitation below 0 degC", "1"},
};

static const struct {
    const char *name, *long_name, *units;
} metric_info[] = {
    {"NSE", "Nash-Sutcliffe efficiency", "1"},
    {"KGE", "Kling-Gupta efficiency (Gupta et al. 2009)", "1"},
    {"KGE_prime", "modified Kling-Gupta efficiency KGE' (Kling et al. 2012)", "1"},
    {"r", "Pearson correlation of simulated and observed flow", "1"},
    {"alpha", "ratio of standard deviations sd(sim)/sd(obs)", "1"},
    {"beta_ratio", "ratio of means mean(sim)/mean(obs)", "1"},
    {"gamma", "ratio of coefficients of variation CV(sim)/CV(obs)", "1"},
    {"RMSE", "root mean squared error", "mm/day"},
    {"bias", "mean error mean(sim) - mean(obs)", "mm/day"},
    {"pbias", "percent bias of the flow volume", "%"},
    {"FHV", "percent bias of the high-flow volume (top 2 % of the flow duration curve)", "%"},
    {"FLV_pbias", "percent bias of the low-flow volume (lowest 30 % of the flow duration curve)", "%"},
    {"FLV_log", "low-flow volume bias in log space (Yilmaz et al. 2008)", "%"},
    {"RMSE_low", "root mean squared error on the days of the lowest 30 % of observed flows", "mm/day"},
    {"RMSE_high", "root mean squared error on the days of the top 2 % of observed flows", "mm/day"},
    {"peak_timing", "mean absolute timing error of peaks", "day"},
    {"beta_nse", "bias relative to the spread (mean(sim) - mean(obs))/sd(obs)", "1"},
    {"FMS", "percent bias of the mid-segment slope of the flow duration curve (Yilmaz et al. 2008)", "%"},
    {"n_days", "days with both observed and simulated flow", "day"},
    {"water_balance_rel", "relative water-balance error of the process model over the period", "1"},
};

#define FIND(table, key, field, fallback)                                                      \
    do {                                                                                       \
        for (size_t i_ = 0; i_ < sizeof table / sizeof table[0]; i_++)                        \
            if (!strcmp(table[i_].name, (key)))                                                \
                return table[i_].field;                                                        \
        return (fallback);                                                                     \
    } while (0)
/* A name missing from the tables (a kind or metric added later) gets its name as long
 * name and no unit claim ("unknown"), never a wrong one. */
static const char *out_long(const char *n) { FIND(output_long, n, long_name, n); }
static const char *par_long(const char *n) { FIND(param_info, n, long_name, n); }
static const char *par_units(const char *n) { FIND(param_info, n, units, "unknown"); }
static const char *met_long(const char *n) { FIND(metric_info, n, long_name, n); }
static const char *met_units(const char *n) { FIND(metric_info, n, units, "unknown"); }

static int put_text(int nc, int var, const char *name, const char *value)
{
    return nc_put_att_text(nc, var, name, strlen(value), value);
}

static int def_series(int nc, const char *name, const char *units, const char *long_name, nc_type type,
                      const int *dims, size_t n, int *var)
{
    static const float fill_f = NC_FILL_FLOAT;
    static const double fill_d = NC_FILL_DOUBLE;
    size_t chunk[2] = {1, n}; /* one basin's series per chunk: how it is read */
    int st = nc_def_var(nc, name, type, 2, dims, var);
    if (!st) st = nc_def_var_chunking(nc, *var, NC_CHUNKED, chunk);
    if (!st) st = nc_def_var_deflate(nc, *var, 1, 1, 1);
    if (!st) st = nc_def_var_fill(nc, *var, 0, type == NC_FLOAT ? (const void *)&fill_f : (const void *)&fill_d);
    if (!st) st = put_text(nc, *var, "units", units);
    if (!st) st = put_text(nc, *var, "long_name", long_name);
    if (!st) st = put_text(nc, *var, "coordinates", "basin_id lat lon");
    return st;
}

static int put_reals(int nc, int var, const size_t *st, const size_t *ct, const tg_real *x)
{
    if (sizeof(tg_real) == sizeof(float))
        return nc_put_vara_float(nc, var, st, ct, (const float *)(const void *)x);
    return nc_put_vara_double(nc, var, st, ct, (const double *)(const void *)x);
}

int tg_results_netcdf_write(const tg_results_nc *r)
{
    const int B = r->B, n = r->n;
    const tg_model_kind_info *kind = r->kind;
    char tmp[4400], date[16], buf[256];
    int rc = tg_io_tmpname(r->path, tmp, sizeof tmp);
    if (rc)
        return rc;
    if (B < 1 || n < 1)
        return tg_error_set(TG_EINVAL, "%s: nothing to write (%d basins, %d days)", r->path, B, n);
    const nc_type real_type = sizeof(tg_real) == sizeof(float) ? NC_FLOAT : NC_DOUBLE;
    int nc = -1, d_b, d_t, d_p = -1, d_m, v_time, v_id, v_lat, v_lon, v_qo, v_q, v_ser[TG_HBV_NOUT_MAX];
    int v_par = -1, v_pname = -1, v_punits = -1, v_pln = -1, d_dyn = -1, v_dyn = -1, v_dname = -1, v_dunits = -1, v_met, v_mname, v_munits;
    /* parameter columns as params_<period>.csv: the kind's and C (1.1p) (at most
     * TG_HBV_NPARAM_MAX), PCORR, SFCF, route_a, route_theta */
    enum { MAX_PCOLS = TG_HBV_NPARAM_MAX + 4 };
    const char *pname[MAX_PCOLS];
    int pcol[MAX_PCOLS], np = 0;
    if (r->series && r->extra) {
        for (int p = 0; p < kind->n_params; p++)
            pname[np] = kind->params[p], pcol[np++] = p;
        if (r->capillary)
            pname[np] = tg_hbv_param_names[TG_HBV_C], pcol[np++] = r->extra_stride - 1;
        if (r->pcorr) /* evaluate.c keeps it after the water balance */
            pname[np] = "PCORR", pcol[np++] = TG_HBV_NPARAM + 3;
        if (r->sfcf)
            pname[np] = "SFCF", pcol[np++] = TG_HBV_NPARAM + 4;
        for (int j = 0; j < (r->routing ? 2 : 0); j++)
            pname[np] = j ? "route_theta" : "route_a", pcol[np++] = TG_HBV_NPARAM + j;
    }
    /* metric columns as metrics_<period>.csv */
    const int nm = TG_METRIC_COUNT + 1 + (r->wb != NULL);
    const char *mname[TG_METRIC_COUNT + 2];
    for (int k = 0; k < TG_METRIC_COUNT; k++)
        mname[k] = tg_metric_names[k];
    mname[TG_METRIC_COUNT] = "n_days";
    if (r->wb)
        mname[TG_METRIC_COUNT + 1] = "water_balance_rel";
    /* the run's config.yaml (a few kB; 16 MB is far past any real one); a file that
     * cannot be read leaves the reason in the attribute instead of failing the output */
    char config_err[512] = "";
    char *config = tg_file_read_all(r->config_path, (size_t)16 << 20, NULL);
    if (!config) {
        snprintf(config_err, sizeof config_err, "(config.yaml not read: %s)", tg_error_message());
        tg_error_clear();
    }
    double *row = malloc((size_t)(nm > np ? nm : np) * sizeof(double));
    int *days = malloc((size_t)n * sizeof(int));
    if (!row || !days) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto done;
    }

    NCTRY(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc), "cannot create");
    NCTRY(nc_def_dim(nc, "basin", (size_t)B, &d_b), "basin dimension");
    NCTRY(nc_def_dim(nc, "time", (size_t)n, &d_t), "time dimension");
    NCTRY(nc_def_dim(nc, "metric", (size_t)nm, &d_m), "metric dimension");
    if (np)
        NCTRY(nc_def_dim(nc, "parameter", (size_t)np, &d_p), "parameter dimension");
    const int ndyn = r->dyn ? r->ndyn : 0;
    if (ndyn)
        NCTRY(nc_def_dim(nc, "dynamic_parameter", (size_t)ndyn, &d_dyn), "dynamic_parameter dimension");

    /* global attributes: what this is and where it came from */
    NCTRY(put_text(nc, NC_GLOBAL, "Conventions", "CF-1.8"), "Conventions");
    NCTRY(put_text(nc, NC_GLOBAL, "featureType", "timeSeries"), "featureType");
    snprintf(buf, sizeof buf, "terragrad %s predictions, %s period", kind->name, r->period);
    NCTRY(put_text(nc, NC_GLOBAL, "title", buf), "title");
    snprintf(buf, sizeof buf, "terragrad %s", tg_version());
    NCTRY(put_text(nc, NC_GLOBAL, "source", buf), "source");
    NCTRY(put_text(nc, NC_GLOBAL, "terragrad_version", tg_version()), "terragrad_version");
    NCTRY(put_text(nc, NC_GLOBAL, "git_commit", TG_GIT_COMMIT), "git_commit");
    NCTRY(put_text(nc, NC_GLOBAL, "model_type", kind->name), "model_type");
    NCTRY(put_text(nc, NC_GLOBAL, "period", r->period), "period");
    NCTRY(put_text(nc, NC_GLOBAL, "period_start", tg_date_format(r->first_day, date)), "period_start");
    NCTRY(put_text(nc, NC_GLOBAL, "period_end", tg_date_format(r->first_day + n - 1, date)), "period_end");
    NCTRY(put_text(nc, NC_GLOBAL, "config", config ? config : config_err), "config");
    time_t now = time(NULL);
    struct tm utc;
    if (!gmtime_r(&now, &utc) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc))
        snprintf(buf, sizeof buf, "unknown");
    NCTRY(put_text(nc, NC_GLOBAL, "date_created", buf), "date_created");
    if (r->series)
        NCTRY(put_text(nc, NC_GLOBAL, "comment",
                       "fluxes and states of the process model are the mean over its parallel components "
                       "(hbv.components); Q is the routed streamflow when the model learned routing"),
              "comment");

    /* coordinates */
    NCTRY(nc_def_var(nc, "time", NC_INT, 1, &d_t, &v_time), "time");
    snprintf(buf, sizeof buf, "days since %s", tg_date_format(r->first_day, date));
    NCTRY(put_text(nc, v_time, "units", buf), "time units");
    NCTRY(put_text(nc, v_time, "calendar", "standard"), "time calendar");
    NCTRY(put_text(nc, v_time, "standard_name", "time"), "time standard_name");
    NCTRY(put_text(nc, v_time, "long_name", "time"), "time long_name");
    NCTRY(put_text(nc, v_time, "axis", "T"), "time axis");
    NCTRY(nc_def_var(nc, "basin_id", NC_STRING, 1, &d_b, &v_id), "basin_id");
    NCTRY(put_text(nc, v_id, "cf_role", "timeseries_id"), "basin_id cf_role");
    NCTRY(put_text(nc, v_id, "long_name", "basin (gauge) identifier"), "basin_id long_name");
    static const double fill_d = NC_FILL_DOUBLE;
    NCTRY(nc_def_var(nc, "lat", NC_DOUBLE, 1, &d_b, &v_lat), "lat");
    NCTRY(nc_def_var_fill(nc, v_lat, 0, &fill_d), "lat");
    NCTRY(put_text(nc, v_lat, "units", "degrees_north"), "lat");
    NCTRY(put_text(nc, v_lat, "standard_name", "latitude"), "lat");
    NCTRY(put_text(nc, v_lat, "long_name", "gauge latitude"), "lat");
    NCTRY(nc_def_var(nc, "lon", NC_DOUBLE, 1, &d_b, &v_lon), "lon");
    NCTRY(nc_def_var_fill(nc, v_lon, 0, &fill_d), "lon");
    NCTRY(put_text(nc, v_lon, "units", "degrees_east"), "lon");
    NCTRY(put_text(nc, v_lon, "standard_name", "longitude"), "lon");
    NCTRY(put_text(nc, v_lon, "long_name", "gauge longitude"), "lon");

    /* daily series, named as the predictions CSV columns */
    int dims_bt[2] = {d_b, d_t};
    NCTRY(def_series(nc, "Q_obs", "mm/day", "observed streamflow", real_type, dims_bt, (size_t)n, &v_qo), "Q_obs");
    NCTRY(def_series(nc, "Q", "mm/day", "simulated streamflow", real_type, dims_bt, (size_t)n, &v_q), "Q");
    for (int k = 0; r->series && k < r->nout; k++) {
        const char *name = k ? (k < kind->n_outputs ? kind->outputs[k] : tg_hbv_output_names[k]) : "PET";
        const char *units = k ? (k < kind->n_outputs ? kind->output_units[k] : tg_hbv_output_units[k]) : "mm/day";
        const char *ln = k ? out_long(name) : "potential evapotranspiration (forcing)";
        NCTRY(def_series(nc, name, units, ln, real_type, dims_bt, (size_t)n, &v_ser[k]), name);
    }

    /* learned parameters */
    if (np) {
        int dims_bp[2] = {d_b, d_p};
        NCTRY(nc_def_var(nc, "parameter", NC_STRING, 1, &d_p, &v_pname), "parameter");
        NCTRY(put_text(nc, v_pname, "long_name", "learned parameter name"), "parameter");
        NCTRY(nc_def_var(nc, "parameter_units", NC_STRING, 1, &d_p, &v_punits), "parameter_units");
        NCTRY(put_text(nc, v_punits, "long_name", "units of each learned parameter"), "parameter_units");
        NCTRY(nc_def_var(nc, "parameter_long_name", NC_STRING, 1, &d_p, &v_pln), "parameter_long_name");
        NCTRY(put_text(nc, v_pln, "long_name", "meaning of each learned parameter"), "parameter_long_name");
        NCTRY(nc_def_var(nc, "params", NC_DOUBLE, 2, dims_bp, &v_par), "params");
        NCTRY(nc_def_var_fill(nc, v_par, 0, &fill_d), "params");
        NCTRY(put_text(nc, v_par, "long_name", "learned parameters (mean over components; a parameter of "
                                               "hbv.dynamic: its value on the period's last day)"),
              "params");
        NCTRY(put_text(nc, v_par, "units", "see parameter_units"), "params");
        NCTRY(put_text(nc, v_par, "coordinates", "parameter_units parameter_long_name basin_id lat lon"), "params");
        NCTRY(nc_enddef(nc), "enddef");
        const char *pu[MAX_PCOLS], *pl[MAX_PCOLS];
        for (int p = 0; p < np; p++)
            pu[p] = par_units(pname[p]), pl[p] = par_long(pname[p]);
        NCTRY(nc_put_var_string(nc, v_pname, pname), "parameter");
        NCTRY(nc_put_var_string(nc, v_punits, pu), "parameter_units");
        NCTRY(nc_put_var_string(nc, v_pln, pl), "parameter_long_name");
        NCTRY(nc_redef(nc), "redef");
    }
    if (ndyn) { /* the parameters of hbv.dynamic on every day: (basin, time, dynamic_parameter) */
        int dims[3] = {d_b, d_t, d_dyn};
        size_t chunk[3] = {1, (size_t)n, (size_t)ndyn};
        NCTRY(nc_def_var(nc, "dynamic_parameter", NC_STRING, 1, &d_dyn, &v_dname), "dynamic_parameter");
        NCTRY(put_text(nc, v_dname, "long_name", "name of each daily learned parameter (hbv.dynamic)"),
              "dynamic_parameter");
        NCTRY(nc_def_var(nc, "dynamic_parameter_units", NC_STRING, 1, &d_dyn, &v_dunits), "dynamic_parameter_units");
        NCTRY(put_text(nc, v_dunits, "long_name", "units of each daily learned parameter"), "dynamic_parameter_units");
        NCTRY(nc_def_var(nc, "params_dynamic", NC_DOUBLE, 3, dims, &v_dyn), "params_dynamic");
        NCTRY(nc_def_var_chunking(nc, v_dyn, NC_CHUNKED, chunk), "params_dynamic");
        NCTRY(nc_def_var_deflate(nc, v_dyn, 1, 1, 1), "params_dynamic");
        NCTRY(nc_def_var_fill(nc, v_dyn, 0, &fill_d), "params_dynamic");
        NCTRY(put_text(nc, v_dyn, "long_name", "daily learned parameters (mean over components)"), "params_dynamic");
        NCTRY(put_text(nc, v_dyn, "units", "see dynamic_parameter_units"), "params_dynamic");
        NCTRY(put_text(nc, v_dyn, "coordinates", "dynamic_parameter_units basin_id lat lon"), "params_dynamic");
        NCTRY(nc_enddef(nc), "enddef");
        const char *dn[TG_HBV_NPARAM_MAX], *du[TG_HBV_NPARAM_MAX];
        for (int j = 0; j < ndyn && j < TG_HBV_NPARAM_MAX; j++)
            dn[j] = tg_hbv_param_names[r->dyn_par[j]], du[j] = par_units(dn[j]);
        NCTRY(nc_put_var_string(nc, v_dname, dn), "dynamic_parameter");
        NCTRY(nc_put_var_string(nc, v_dunits, du), "dynamic_parameter_units");
        NCTRY(nc_redef(nc), "redef");
    }

    /* metrics */
    int dims_bm[2] = {d_b, d_m};
    NCTRY(nc_def_var(nc, "metric", NC_STRING, 1, &d_m, &v_mname), "metric");
    NCTRY(put_text(nc, v_mname, "long_name", "metric name (column of metrics_<period>.csv)"), "metric");
    NCTRY(nc_def_var(nc, "metric_units", NC_STRING, 1, &d_m, &v_munits), "metric_units");
    NCTRY(put_text(nc, v_munits, "long_name", "units of each metric"), "metric_units");
    int v_mln;
    NCTRY(nc_def_var(nc, "metric_long_name", NC_STRING, 1, &d_m, &v_mln), "metric_long_name");
    NCTRY(put_text(nc, v_mln, "long_name", "meaning of each metric"), "metric_long_name");
    NCTRY(nc_def_var(nc, "metrics", NC_DOUBLE, 2, dims_bm, &v_met), "metrics");
    NCTRY(nc_def_var_fill(nc, v_met, 0, &fill_d), "metrics");
    NCTRY(put_text(nc, v_met, "long_name", "simulated vs observed streamflow over the period"), "metrics");
    NCTRY(put_text(nc, v_met, "units", "see metric_units"), "metrics");
    NCTRY(put_text(nc, v_met, "coordinates", "metric_units metric_long_name basin_id lat lon"), "metrics");
    NCTRY(nc_enddef(nc), "enddef");

    /* values */
    const char *mu[TG_METRIC_COUNT + 2], *ml[TG_METRIC_COUNT + 2];
    for (int k = 0; k < nm; k++)
        mu[k] = met_units(mname[k]), ml[k] = met_long(mname[k]);
    NCTRY(nc_put_var_string(nc, v_mname, mname), "metric");
    NCTRY(nc_put_var_string(nc, v_munits, mu), "metric_units");
    NCTRY(nc_put_var_string(nc, v_mln, ml), "metric_long_name");
    for (int t = 0; t < n; t++)
        days[t] = t;
    NCTRY(nc_put_var_int(nc, v_time, days), "time");
    for (int b = 0; b < B; b++) {
        size_t st[2] = {(size_t)b, 0}, ct[2] = {1, (size_t)n};
        const char *id = r->d->raw[b].id;
        NCTRY(nc_put_var1_string(nc, v_id, st, &id), "basin_id");
        double lat = r->d->raw[b].lat, lon = r->d->raw[b].lon;
        if (isfinite(lat))
            NCTRY(nc_put_var1_double(nc, v_lat, st, &lat), "lat");
        if (isfinite(lon))
            NCTRY(nc_put_var1_double(nc, v_lon, st, &lon), "lon");
        /* NaN (a day without observation) is written as is: CF readers take it as missing */
        NCTRY(put_reals(nc, v_qo, st, ct, r->q_obs + (size_t)b * n), "Q_obs");
        NCTRY(put_reals(nc, v_q, st, ct, r->q_sim + (size_t)b * n), "Q");
        for (int k = 0; r->series && k < r->nout; k++)
            NCTRY(put_reals(nc, v_ser[k], st, ct, r->series + ((size_t)b * r->nout + k) * n), "series");
        if (ndyn) {
            size_t s3[3] = {(size_t)b, 0, 0}, c3[3] = {1, (size_t)n, (size_t)ndyn};
            NCTRY(nc_put_vara_double(nc, v_dyn, s3, c3, r->dyn + (size_t)b * n * ndyn), "params_dynamic");
        }
        if (np) {
            for (int p = 0; p < np; p++)
                row[p] = r->extra[(size_t)b * r->extra_stride + pcol[p]];
            size_t cp[2] = {1, (size_t)np};
            NCTRY(nc_put_vara_double(nc, v_par, st, cp, row), "params");
        }
        /* met NULL (a prediction without observations): every metric missing */
        for (int k = 0; k < TG_METRIC_COUNT; k++)
            row[k] = r->met ? tg_metric_get(&r->met[b], k) : (double)NAN;
        row[TG_METRIC_COUNT] = r->met ? r->met[b].n : (double)NAN;
        if (r->wb)
            row[TG_METRIC_COUNT + 1] = r->wb[b];
        size_t cm[2] = {1, (size_t)nm};
        NCTRY(nc_put_vara_double(nc, v_met, st, cm, row), "metrics");
    }
done:
    if (nc >= 0) {
        int st_ = nc_close(nc);
        if (!rc && st_ != NC_NOERR)
            rc = tg_error_set(TG_EIO, "%s: close: %s", r->path, nc_strerror(st_));
    }
    if (!rc && rename(tmp, r->path) != 0)
        rc = tg_error_set(TG_EIO, "%s: cannot rename %s into place", r->path, tmp);
    if (rc)
        remove(tmp);
    tg_mem_free(config);
    free(row);
    free(days);
    return rc;
}
