/* bmi_config.c — the per-basin YAML config of the terragrad BMI module (docs/bmi.md),
 * read with the project's schema-checked config module (libyaml underneath), so a typo
 * or a wrong type is an error naming file, line and key. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgbmi.h"

#define P(name) {"hbv.parameters." name, TG_CFG_FLOATS, 0, NULL, "HBV " name ", one value per component", NULL}
static const tg_cfg_key schema[] = {
    {"model", TG_CFG_STR, 1, NULL, "model kind", "hbv|lstm|dhbv"},
    {"basin", TG_CFG_STR, 1, NULL, "basin id", NULL},
    {"start", TG_CFG_DATE, 1, NULL, "first day the framework steps (time 0 s)", NULL},
    {"end", TG_CFG_DATE, 0, NULL, "last day (end time); default: none", NULL},
    {"units", TG_CFG_STR, 0, "mm/d", "units of the precipitation, PET and flux variables", "mm/d|mm/h"},
    {"warmup.policy", TG_CFG_STR, 0, "data", "data: run the warm-up days before start from the data; none: "
                                             "start from the initial stores (or set states afterwards)", "data|none"},
    {"warmup.days", TG_CFG_INT, 0, "365", "hbv: warm-up days before start", NULL},
    {"data_file", TG_CFG_STR, 0, NULL, "hbv: generic CSV date,P,T,PET with the warm-up days", NULL},
    {"run_dir", TG_CFG_STR, 0, NULL, "lstm, dhbv: the trained run folder", NULL},
    {"dhbv_static", TG_CFG_STR, 0, "end", "dhbv: static parameters from the head on the end day (as terragrad "
                                          "test) or on the last warm-up day", "end|warmup"},
    {"hbv.params_file", TG_CFG_STR, 0, NULL, "hbv: parameter CSV of terragrad simulate", NULL},
    {"hbv.routing_file", TG_CFG_STR, 0, NULL, "hbv: routing CSV basin,a,theta (none: no routing)", NULL},
    {"hbv.routing.a", TG_CFG_FLOAT, 0, NULL, "hbv: gamma shape (days)", NULL},
    {"hbv.routing.theta", TG_CFG_FLOAT, 0, NULL, "hbv: gamma scale (days)", NULL},
    P("BETA"), P("FC"), P("K0"), P("K1"), P("K2"), P("LP"), P("PERC"), P("UZL"), P("TT"), P("CFMAX"),
    P("CFR"), P("CWH"), P("BETAET"),
};
#undef P

/* path relative to the config's folder unless absolute */
static int resolve(char *out, size_t n, const char *cfg_path, const char *p)
{
    if (p[0] == '/') {
        if (snprintf(out, n, "%s", p) >= (int)n)
            return tg_error_set(TG_EINVAL, "%s: path too long: %s", cfg_path, p);
        return 0;
    }
    const char *slash = strrchr(cfg_path, '/');
    int dirlen = slash ? (int)(slash - cfg_path) : 1;
    if (snprintf(out, n, "%.*s/%s", dirlen, slash ? cfg_path : ".", p) >= (int)n)
        return tg_error_set(TG_EINVAL, "%s: path too long: %s", cfg_path, p);
    return 0;
}

static int read_inline_params(const tg_cfg *cfg, const char *path, tgbmi_config *c)
{
    char key[64];
    c->M = -1;
    for (int p = 0; p < TG_HBV_NPARAM; p++) {
        snprintf(key, sizeof key, "hbv.parameters.%s", tg_hbv_param_names[p]);
        if (!tg_cfg_has(cfg, key))
            return tg_error_set(TG_EINVAL, "%s: %s missing (give all 13 parameters or hbv.params_file)", path, key);
        int n = tg_cfg_list_len(cfg, key);
        if (c->M < 0) {
            c->M = n;
            if (n < 1 || !(c->params = malloc((size_t)TG_HBV_NPARAM * n * sizeof(double))))
                return tg_error_set(n < 1 ? TG_EINVAL : TG_ENOMEM, "%s:%d: %s: no values", path,
                                    tg_cfg_line(cfg, key), key);
        } else if (n != c->M)
            return tg_error_set(TG_EINVAL, "%s:%d: %s: %d values, the other parameters have %d (one per component)",
                                path, tg_cfg_line(cfg, key), key, n, c->M);
        for (int m = 0; m < n; m++)
            c->params[(size_t)p * c->M + m] = strtod(tg_cfg_list_item(cfg, key, m), NULL);
    }
    return 0;
}

static int read_params_file(const tg_cfg *cfg, const char *path, tgbmi_config *c)
{
    char file[4096];
    tg_hbv_param_table t;
    int rc = resolve(file, sizeof file, path, tg_cfg_str(cfg, "hbv.params_file"));
    if (!rc)
        rc = tg_hbv_params_read(file, &t);
    if (rc)
        return rc;
    int b = -1;
    for (int i = 0; i < t.B; i++)
        if (!strcmp(t.basin[i], c->basin))
            b = i;
    if (b < 0)
        rc = tg_error_set(TG_EINVAL, "%s: no rows for basin '%s' (config %s)", file, c->basin, path);
    else if (!(c->params = malloc((size_t)TG_HBV_NPARAM * t.M * sizeof(double))))
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    else {
        c->M = t.M;
        memcpy(c->params, t.value + (size_t)b * TG_HBV_NPARAM * t.M, (size_t)TG_HBV_NPARAM * t.M * sizeof(double));
    }
    tg_hbv_params_free(&t);
    return rc;
}

static int read_routing(const tg_cfg *cfg, const char *path, tgbmi_config *c)
{
    c->route_a = c->route_theta = (double)NAN;
    int has_a = tg_cfg_has(cfg, "hbv.routing.a"), has_t = tg_cfg_has(cfg, "hbv.routing.theta");
    if (has_a != has_t)
        return tg_error_set(TG_EINVAL, "%s: give both hbv.routing.a and hbv.routing.theta, or neither", path);
    if (has_a && tg_cfg_has(cfg, "hbv.routing_file"))
        return tg_error_set(TG_EINVAL, "%s: hbv.routing_file and hbv.routing.a/theta both given", path);
    if (has_a) {
        c->route_a = tg_cfg_float(cfg, "hbv.routing.a");
        c->route_theta = tg_cfg_float(cfg, "hbv.routing.theta");
    } else if (tg_cfg_has(cfg, "hbv.routing_file")) {
        char file[4096];
        tg_route_table t;
        int rc = resolve(file, sizeof file, path, tg_cfg_str(cfg, "hbv.routing_file"));
        if (!rc)
            rc = tg_route_read(file, &t);
        if (rc)
            return rc;
        int r = tg_route_find(&t, c->basin);
        if (r < 0)
            rc = tg_error_set(TG_EINVAL, "%s: no routing row for basin '%s' (config %s)", file, c->basin, path);
        else {
            c->route_a = t.a[r];
            c->route_theta = t.theta[r];
        }
        tg_route_free(&t);
        if (rc)
            return rc;
    } else
        return 0;
    if (!(c->route_a > 0) || !(c->route_theta > 0) || !isfinite(c->route_a) || !isfinite(c->route_theta))
        return tg_error_set(TG_EINVAL, "%s: routing a = %g, theta = %g: both must be finite and > 0", path,
                            c->route_a, c->route_theta);
    return 0;
}

int tgbmi_config_read(const char *path, tgbmi_config *c)
{
    memset(c, 0, sizeof *c);
    if (!path || !path[0])
        return tg_error_set(TG_EINVAL, "bmi: initialize needs the path of a YAML config (docs/bmi.md)");
    tg_cfg *cfg = tg_cfg_load(path, schema, (int)(sizeof schema / sizeof schema[0]));
    if (!cfg)
        return tg_error_code();
    int rc = 0;
    const char *kind = tg_cfg_str(cfg, "model");
    c->kind = !strcmp(kind, "hbv") ? TGBMI_HBV : !strcmp(kind, "lstm") ? TGBMI_LSTM : TGBMI_DHBV;
    if (snprintf(c->basin, sizeof c->basin, "%s", tg_cfg_str(cfg, "basin")) >= (int)sizeof c->basin)
        rc = tg_error_set(TG_EINVAL, "%s:%d: basin: id too long", path, tg_cfg_line(cfg, "basin"));
    c->start_day = tg_cfg_date(cfg, "start");
    c->end_day = tg_cfg_has(cfg, "end") ? tg_cfg_date(cfg, "end") : INT_MIN;
    if (!rc && c->end_day != INT_MIN && c->end_day < c->start_day)
        rc = tg_error_set(TG_EINVAL, "%s:%d: end is before start", path, tg_cfg_line(cfg, "end"));
    c->per_hour = !strcmp(tg_cfg_str(cfg, "units"), "mm/h");
    c->warmup_policy = !strcmp(tg_cfg_str(cfg, "warmup.policy"), "data") ? TGBMI_WARMUP_DATA : TGBMI_WARMUP_NONE;
    c->warmup_days = (int)tg_cfg_int(cfg, "warmup.days");
    if (!rc && c->warmup_days < 0)
        rc = tg_error_set(TG_EINVAL, "%s:%d: warmup.days must be >= 0", path, tg_cfg_line(cfg, "warmup.days"));
    if (!rc && c->kind == TGBMI_HBV) {
        if (c->warmup_policy == TGBMI_WARMUP_DATA && c->warmup_days > 0) {
            if (!tg_cfg_has(cfg, "data_file"))
                rc = tg_error_set(TG_EINVAL, "%s: warmup.policy data needs data_file (or warmup.policy: none)", path);
            else
                rc = resolve(c->data_file, sizeof c->data_file, path, tg_cfg_str(cfg, "data_file"));
        }
        int inline_params = tg_cfg_has(cfg, "hbv.parameters.FC");
        if (!rc && inline_params == tg_cfg_has(cfg, "hbv.params_file"))
            rc = tg_error_set(TG_EINVAL, "%s: give either hbv.params_file or hbv.parameters (not %s)", path,
                              inline_params ? "both" : "neither");
        if (!rc)
            rc = inline_params ? read_inline_params(cfg, path, c) : read_params_file(cfg, path, c);
        if (!rc)
            rc = read_routing(cfg, path, c);
    } else if (!rc) {
        if (!tg_cfg_has(cfg, "run_dir"))
            rc = tg_error_set(TG_EINVAL, "%s: model %s needs run_dir (the trained run folder)", path, kind);
        else
            rc = resolve(c->run_dir, sizeof c->run_dir, path, tg_cfg_str(cfg, "run_dir"));
        c->dhbv_static_end = !strcmp(tg_cfg_str(cfg, "dhbv_static"), "end");
    }
    tg_cfg_free(&cfg);
    if (rc)
        tgbmi_config_free(c);
    return rc;
}

void tgbmi_config_free(tgbmi_config *c)
{
    free(c->params);
    c->params = NULL;
}
