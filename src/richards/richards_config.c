/* richards_config.c — a soil-column run described in YAML (terragrad richards CONFIG).
 * The generic schema loader (terragrad/config.h) rejects unknown keys and wrong types with
 * file and line; here we add what a flat schema cannot say: which soil parameters belong
 * to the chosen model, and which boundary values each boundary kind needs. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "terragrad.h"
#include "terragrad/config.h"

static const tg_cfg_key schema[] = {
    {"soil.model", TG_CFG_STR, 1, NULL, "constitutive relations", "vgm|van_genuchten|haverkamp"},
    {"soil.alpha", TG_CFG_FLOAT, 0, NULL, "vgm: 1/length; haverkamp: length^beta", NULL},
    {"soil.n", TG_CFG_FLOAT, 0, NULL, "vgm shape (> 1)", NULL},
    {"soil.beta", TG_CFG_FLOAT, 0, NULL, "haverkamp retention exponent", NULL},
    {"soil.Ks", TG_CFG_FLOAT, 0, NULL, "saturated conductivity (length/time)", NULL},
    {"soil.theta_r", TG_CFG_FLOAT, 0, NULL, "residual water content", NULL},
    {"soil.theta_s", TG_CFG_FLOAT, 0, NULL, "saturated water content", NULL},
    {"soil.A", TG_CFG_FLOAT, 0, NULL, "haverkamp conductivity scale (length^gamma)", NULL},
    {"soil.gamma", TG_CFG_FLOAT, 0, NULL, "haverkamp conductivity exponent", NULL},
    {"column.depth", TG_CFG_FLOAT, 1, NULL, "column length (z from 0 at the bottom)", NULL},
    {"column.cells", TG_CFG_INT, 1, NULL, "finite-volume cells", NULL},
    {"time.dt", TG_CFG_FLOAT, 1, NULL, "largest time step", NULL},
    {"time.output", TG_CFG_FLOATS, 1, NULL, "output times (ascending, >= 0)", NULL},
    {"boundary.top.type", TG_CFG_STR, 1, NULL, "top boundary", "dirichlet|flux|free_drainage"},
    {"boundary.top.value", TG_CFG_FLOAT, 0, NULL, "head (dirichlet) or inflow (flux)", NULL},
    {"boundary.bottom.type", TG_CFG_STR, 1, NULL, "bottom boundary", "dirichlet|flux|free_drainage"},
    {"boundary.bottom.value", TG_CFG_FLOAT, 0, NULL, "head (dirichlet) or inflow (flux)", NULL},
    {"initial.head", TG_CFG_FLOAT, 0, NULL, "uniform initial head (or the bottom of a linear one)", NULL},
    {"initial.head_top", TG_CFG_FLOAT, 0, NULL, "initial head at the top: linear profile", NULL},
    {"newton.max_iter", TG_CFG_INT, 0, "30", "Newton iterations per step", NULL},
    {"newton.ftol", TG_CFG_FLOAT, 0, NULL, "residual tolerance (water depth per cell)", NULL},
    {"newton.xtol", TG_CFG_FLOAT, 0, NULL, "relative step tolerance", NULL},
    {"newton.max_halvings", TG_CFG_INT, 0, "10", "line-search halvings", NULL},
};
#define NKEYS ((int)(sizeof schema / sizeof schema[0]))
static const char *const all_params[] = {"alpha", "n", "beta", "Ks", "theta_r", "theta_s", "A", "gamma"};

static int bc_kind(const char *s)
{
    return !strcmp(s, "dirichlet") ? TG_BC_DIRICHLET : !strcmp(s, "flux") ? TG_BC_FLUX
                                                                           : TG_BC_FREE_DRAINAGE;
}

static int fill(const tg_cfg *c, tg_richards_config *cfg)
{
    const char *path = tg_cfg_path(c);
    char key[64];
    const tg_soil *soil = tg_soil_find(tg_cfg_str(c, "soil.model"));
    snprintf(cfg->soil, sizeof cfg->soil, "%s", soil->name);
    /* parameters: all of the model's, none of another model's */
    for (size_t k = 0; k < sizeof all_params / sizeof all_params[0]; k++) {
        int j = -1;
        for (int i = 0; i < soil->P; i++)
            if (!strcmp(soil->param_names[i], all_params[k]))
                j = i;
        snprintf(key, sizeof key, "soil.%s", all_params[k]);
        if (j < 0 && tg_cfg_has(c, key))
            return tg_error_set(TG_EINVAL, "%s:%d: key '%s': not a parameter of soil model '%s'",
                                path, tg_cfg_line(c, key), key, soil->name);
        if (j >= 0 && !tg_cfg_has(c, key))
            return tg_error_set(TG_EINVAL, "%s: missing key '%s' (soil model '%s' needs it)",
                                path, key, soil->name);
        if (j >= 0)
            cfg->params[j] = (tg_real)tg_cfg_float(c, key);
    }
    if (soil->check(cfg->params))
        return tg_error_prefix(TG_EINVAL, "%s:%d: soil: ", path, tg_cfg_line(c, "soil.model"));

    cfg->depth = tg_cfg_float(c, "column.depth");
    long cells = tg_cfg_int(c, "column.cells");
    if (!(cfg->depth > 0))
        return tg_error_set(TG_EINVAL, "%s:%d: key 'column.depth': must be > 0", path,
                            tg_cfg_line(c, "column.depth"));
    if (cells < 1 || cells > 10000000)
        return tg_error_set(TG_EINVAL, "%s:%d: key 'column.cells': must be in 1..1e7 (got %ld)",
                            path, tg_cfg_line(c, "column.cells"), cells);
    cfg->N = (int)cells;
    cfg->dt = tg_cfg_float(c, "time.dt");
    if (!(cfg->dt > 0))
        return tg_error_set(TG_EINVAL, "%s:%d: key 'time.dt': must be > 0", path,
                            tg_cfg_line(c, "time.dt"));
    cfg->n_out = tg_cfg_list_len(c, "time.output");
    if (cfg->n_out < 1 || cfg->n_out > (int)(sizeof cfg->out_times / sizeof cfg->out_times[0]))
        return tg_error_set(TG_EINVAL, "%s:%d: key 'time.output': give 1 to 64 times", path,
                            tg_cfg_line(c, "time.output"));
    for (int k = 0; k < cfg->n_out; k++) {
        double t = 0;
        sscanf(tg_cfg_list_item(c, "time.output", k), "%lf", &t);
        if (!(t >= 0) || (k > 0 && !(t > cfg->out_times[k - 1])))
            return tg_error_set(TG_EINVAL, "%s:%d: key 'time.output': times must be >= 0 and "
                                           "ascending (item %d = %g)",
                                path, tg_cfg_line(c, "time.output"), k + 1, t);
        cfg->out_times[k] = t;
    }

    const char *ends[2] = {"top", "bottom"};
    for (int e = 0; e < 2; e++) {
        char tk[64], vk[64];
        snprintf(tk, sizeof tk, "boundary.%s.type", ends[e]);
        snprintf(vk, sizeof vk, "boundary.%s.value", ends[e]);
        int kind = bc_kind(tg_cfg_str(c, tk));
        if (kind != TG_BC_FREE_DRAINAGE && !tg_cfg_has(c, vk))
            return tg_error_set(TG_EINVAL, "%s:%d: missing key '%s' (a %s boundary needs it)", path,
                                tg_cfg_line(c, tk), vk, tg_cfg_str(c, tk));
        double v = tg_cfg_has(c, vk) ? tg_cfg_float(c, vk) : 0;
        if (e == 0)
            cfg->bc_top = kind, cfg->top_value = v;
        else
            cfg->bc_bottom = kind, cfg->bottom_value = v;
    }

    if (!tg_cfg_has(c, "initial.head"))
        return tg_error_set(TG_EINVAL, "%s: missing key 'initial.head'", path);
    cfg->init_head = tg_cfg_float(c, "initial.head");
    cfg->init_kind = tg_cfg_has(c, "initial.head_top");
    cfg->init_head_top = cfg->init_kind ? tg_cfg_float(c, "initial.head_top") : cfg->init_head;

    cfg->newton = tg_newton_defaults();
    cfg->newton.max_iter = (int)tg_cfg_int(c, "newton.max_iter");
    cfg->newton.max_halvings = (int)tg_cfg_int(c, "newton.max_halvings");
    if (tg_cfg_has(c, "newton.ftol"))
        cfg->newton.ftol = tg_cfg_float(c, "newton.ftol");
    if (tg_cfg_has(c, "newton.xtol"))
        cfg->newton.xtol = tg_cfg_float(c, "newton.xtol");
    if (cfg->newton.max_iter < 1 || cfg->newton.max_halvings < 0 || !(cfg->newton.ftol >= 0) ||
        !(cfg->newton.xtol >= 0))
        return tg_error_set(TG_EINVAL, "%s:%d: newton: need max_iter >= 1, max_halvings >= 0, "
                                       "tolerances >= 0", path, tg_cfg_line(c, "newton.max_iter"));
    return 0;
}

int tg_richards_config_load(const char *path, tg_richards_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    tg_cfg *c = tg_cfg_load(path, schema, NKEYS);
    if (!c)
        return tg_error_code() ? tg_error_code() : TG_EINVAL;
    int rc = fill(c, cfg);
    tg_cfg_free(&c);
    return rc;
}
