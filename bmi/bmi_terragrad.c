/* bmi_terragrad.c — the BMI 2.0 surface of terragrad's models (docs/bmi.md): the variable
 * table, time, getters/setters and grids; the models step in bmi_hbv.c and bmi_lstm.c.
 * Every value is a double; every function returns BMI_FAILURE, with a message on stderr,
 * when it cannot do its job (unknown name, index out of range, before initialize, ...). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmi.h"
#include "tgbmi.h"

#define TGBMI_EXPORT __attribute__((visibility("default")))
#define DAY_SECONDS 86400.0

/* ---------------------------------------------------------------- variables */
enum { V_IN = 1, V_OUT = 2, V_STATE = 4 };            /* role */
enum { K_HBV = 1 << TGBMI_HBV, K_LSTM = 1 << TGBMI_LSTM, K_DHBV = 1 << TGBMI_DHBV };
enum { U_RATE, U_DEGC, U_MM, U_MMD, U_ONE, U_DAYS };           /* units */
enum { G_SCALAR = 0, G_COMPONENTS, G_ROUTING, G_NETWORK, G_HISTORY, G_PARAMS, G_ROUTEPAR, N_GRIDS };
enum { S_IN, S_OUT, S_STORE, S_QBUF, S_NET };          /* where the values live */

typedef struct vardef {
    const char *name;
    int role, kinds, units, grid, where, idx;
} vardef;

static const vardef vars[] = {
    {"atmosphere_water__liquid_equivalent_precipitation_rate", V_IN, K_HBV | K_LSTM | K_DHBV, U_RATE, G_SCALAR, S_IN, 0},
    {"land_surface_air__temperature", V_IN, K_HBV | K_LSTM | K_DHBV, U_DEGC, G_SCALAR, S_IN, 1},
    {"land_surface_water__potential_evaporation_volume_flux", V_IN, K_HBV | K_LSTM | K_DHBV, U_RATE, G_SCALAR, S_IN, 2},
    {"land_surface_water__runoff_volume_flux", V_OUT, K_HBV | K_LSTM | K_DHBV, U_RATE, G_SCALAR, S_OUT, TGBMI_O_Q},
    {"land_surface_water__evapotranspiration_volume_flux", V_OUT, K_HBV | K_DHBV, U_RATE, G_SCALAR, S_OUT, TGBMI_O_ET},
    {"snowpack__liquid-equivalent_depth", V_OUT, K_HBV | K_DHBV, U_MM, G_SCALAR, S_OUT, TGBMI_O_SWE},
    {"hbv__soil_moisture_depth", V_OUT, K_HBV | K_DHBV, U_MM, G_SCALAR, S_OUT, TGBMI_O_SM},
    {"hbv__upper_zone_storage_depth", V_OUT, K_HBV | K_DHBV, U_MM, G_SCALAR, S_OUT, TGBMI_O_SUZ},
    {"hbv__lower_zone_storage_depth", V_OUT, K_HBV | K_DHBV, U_MM, G_SCALAR, S_OUT, TGBMI_O_SLZ},
    {"hbv__snow_liquid_water_depth", V_OUT, K_HBV | K_DHBV, U_MM, G_SCALAR, S_OUT, TGBMI_O_MELTWATER},
    {"hbv__unrouted_runoff_volume_flux", V_OUT, K_HBV | K_DHBV, U_RATE, G_SCALAR, S_OUT, TGBMI_O_QUNROUTED},
    {"hbv__quick_flow_volume_flux", V_OUT, K_HBV | K_DHBV, U_RATE, G_SCALAR, S_OUT, TGBMI_O_Q0},
    {"hbv__interflow_volume_flux", V_OUT, K_HBV | K_DHBV, U_RATE, G_SCALAR, S_OUT, TGBMI_O_Q1},
    {"hbv__baseflow_volume_flux", V_OUT, K_HBV | K_DHBV, U_RATE, G_SCALAR, S_OUT, TGBMI_O_Q2},
    /* the state a restart needs (get_value to save, set_value to restore) */
    {"state__hbv_snowpack", V_STATE, K_HBV | K_DHBV, U_MM, G_COMPONENTS, S_STORE, TG_HBV_S_SNOWPACK},
    {"state__hbv_meltwater", V_STATE, K_HBV | K_DHBV, U_MM, G_COMPONENTS, S_STORE, TG_HBV_S_MELTWATER},
    {"state__hbv_soil_moisture", V_STATE, K_HBV | K_DHBV, U_MM, G_COMPONENTS, S_STORE, TG_HBV_S_SM},
    {"state__hbv_upper_zone", V_STATE, K_HBV | K_DHBV, U_MM, G_COMPONENTS, S_STORE, TG_HBV_S_SUZ},
    {"state__hbv_lower_zone", V_STATE, K_HBV | K_DHBV, U_MM, G_COMPONENTS, S_STORE, TG_HBV_S_SLZ},
    {"state__routing_runoff_history", V_STATE, K_HBV | K_DHBV, U_MMD, G_ROUTING, S_QBUF, 0},
    {"state__routing_quick_flow_history", V_STATE, K_HBV | K_DHBV, U_MMD, G_ROUTING, S_QBUF, 1},
    {"state__routing_interflow_history", V_STATE, K_HBV | K_DHBV, U_MMD, G_ROUTING, S_QBUF, 2},
    {"state__routing_baseflow_history", V_STATE, K_HBV | K_DHBV, U_MMD, G_ROUTING, S_QBUF, 3},
    {"state__lstm_hidden", V_STATE, K_LSTM | K_DHBV, U_ONE, G_NETWORK, S_NET, TGBMI_NS_H},
    {"state__lstm_cell", V_STATE, K_LSTM | K_DHBV, U_ONE, G_NETWORK, S_NET, TGBMI_NS_C},
    {"state__lstm_input_history", V_STATE, K_LSTM, U_ONE, G_HISTORY, S_NET, TGBMI_NS_HISTORY},
    {"state__lstm_window_day", V_STATE, K_LSTM, U_DAYS, G_SCALAR, S_NET, TGBMI_NS_WINDAY},
    {"state__dhbv_static_parameters", V_STATE, K_DHBV, U_ONE, G_PARAMS, S_NET, TGBMI_NS_PARAMS},
    {"state__dhbv_routing_parameters", V_STATE, K_DHBV, U_DAYS, G_ROUTEPAR, S_NET, TGBMI_NS_ROUTING},
};
enum { N_VARS = (int)(sizeof vars / sizeof vars[0]) };

static tgbmi *inst(Bmi *self)
{
    return self ? (tgbmi *)self->data : NULL;
}

static int fail(const char *fmt, ...) TG_PRINTF(1, 2);
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("terragrad bmi: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return BMI_FAILURE;
}

/* The instance, or NULL after a message when it is not initialized. */
static tgbmi *ready(Bmi *self, const char *fn)
{
    tgbmi *m = inst(self);
    if (!m || !m->initialized) {
        fail("%s: the model is not initialized (call initialize first)", fn);
        return NULL;
    }
    return m;
}

static int grid_size(const tgbmi *m, int grid)
{
    switch (grid) {
    case G_SCALAR: return 1;
    case G_COMPONENTS: return m->M;
    case G_ROUTING: return TG_UH_LEN;
    case G_NETWORK: return tgbmi_net_state_size(m, TGBMI_NS_H);
    case G_HISTORY: return tgbmi_net_state_size(m, TGBMI_NS_HISTORY);
    case G_PARAMS: return tgbmi_net_state_size(m, TGBMI_NS_PARAMS);
    case G_ROUTEPAR: return tgbmi_net_state_size(m, TGBMI_NS_ROUTING);
    default: return -1;
    }
}

static int grid_used(const tgbmi *m, int grid)
{
    for (int i = 0; i < N_VARS; i++)
        if ((vars[i].kinds & (1 << m->cfg.kind)) && vars[i].grid == grid)
            return 1;
    return 0;
}

/* The variable `name` of this model kind, or NULL after a message. */
static const vardef *find_var(const tgbmi *m, const char *name, const char *fn)
{
    if (!name)
        return fail("%s: variable name is NULL", fn), NULL;
    for (int i = 0; i < N_VARS; i++)
        if (!strcmp(vars[i].name, name)) {
            if (!(vars[i].kinds & (1 << m->cfg.kind)))
                return fail("%s: variable '%s' does not exist for model %s", fn, name,
                            m->cfg.kind == TGBMI_LSTM ? "lstm" : m->cfg.kind == TGBMI_HBV ? "hbv" : "dhbv"), NULL;
            return &vars[i];
        }
    return fail("%s: unknown variable '%s' (see get_input_var_names / get_output_var_names)", fn, name), NULL;
}

/* The model's own storage of a variable and its number of values. */
static double *storage(tgbmi *m, const vardef *v, int *n)
{
    *n = grid_size(m, v->grid);
    switch (v->where) {
    case S_IN: return &m->in[v->idx];
    case S_OUT: return &m->out[v->idx];
    case S_STORE: return m->store + (size_t)v->idx * m->M;
    case S_QBUF: return m->qbuf[v->idx];
    default: return tgbmi_net_state(m, v->idx);
    }
}

static const char *units_of(const tgbmi *m, const vardef *v)
{
    switch (v->units) {
    case U_RATE: return m->cfg.per_hour ? "mm h-1" : "mm d-1";
    case U_DEGC: return "degC";
    case U_MM: return "mm";
    case U_MMD: return "mm d-1";
    case U_DAYS: return "d";
    default: return "1";
    }
}

/* ---------------------------------------------------------------- control */
static int bmi_initialize(Bmi *self, const char *config_file)
{
    tgbmi *m = inst(self);
    if (!m)
        return fail("initialize: no instance (call register_bmi_terragrad first)");
    if (m->initialized)
        return fail("initialize: already initialized (finalize first, or use a new instance)");
    int rc = tgbmi_config_read(config_file, &m->cfg);
    if (!rc)
        rc = m->cfg.kind == TGBMI_HBV ? tgbmi_hbv_setup(m) : tgbmi_net_setup(m);
    if (rc) {
        fail("initialize: %s", tg_error_message());
        tgbmi_hbv_free(m);
        tgbmi_net_free(m);
        tgbmi_config_free(&m->cfg);
        memset(m, 0, sizeof *m);
        return BMI_FAILURE;
    }
    m->step = 0;
    for (int k = 0; k < TGBMI_NOUT; k++)
        m->out[k] = (double)NAN; /* no output before the first update */
    m->in[0] = m->in[1] = m->in[2] = (double)NAN;
    m->initialized = 1;
    return BMI_SUCCESS;
}

static int bmi_update(Bmi *self)
{
    tgbmi *m = ready(self, "update");
    if (!m)
        return BMI_FAILURE;
    if (m->cfg.end_day != INT_MIN && m->cfg.start_day + m->step > m->cfg.end_day)
        return fail("update: the end time is reached (config end)");
    const int vid[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    const double scale[3] = {m->cfg.per_hour ? 24.0 : 1.0, 1.0, m->cfg.per_hour ? 24.0 : 1.0};
    tg_real f[3];
    for (int k = 0; k < 3; k++) {
        if (!tg_domain_contains(tg_var_domain(vid[k]), m->in[k])) {
            char buf[96];
            return fail("update: day %ld: input %s = %g is outside its domain (%s)%s", m->step, vars[k].name, m->in[k],
                        tg_domain_format(tg_var_domain(vid[k]), tg_var_name(vid[k]), buf, sizeof buf),
                        isnan(m->in[k]) ? " — was it set?" : "");
        }
        f[k] = (tg_real)(m->in[k] * scale[k]);
    }
    int rc = m->cfg.kind == TGBMI_HBV ? tgbmi_hbv_step(m, f) : tgbmi_net_step(m, f);
    if (rc)
        return fail("update: %s", tg_error_message());
    m->step++;
    return BMI_SUCCESS;
}

static int bmi_update_until(Bmi *self, double then)
{
    tgbmi *m = ready(self, "update_until");
    if (!m)
        return BMI_FAILURE;
    double now = (double)m->step * DAY_SECONDS, n = (then - now) / DAY_SECONDS;
    if (!isfinite(then) || n < 0 || fabs(n - round(n)) > 1e-9 * (fabs(n) + 1))
        return fail("update_until: %g s is not a whole number of daily steps (86400 s) after the current time %g s",
                    then, now);
    for (long k = 0; k < (long)round(n); k++)
        if (bmi_update(self))
            return BMI_FAILURE;
    return BMI_SUCCESS;
}

static int bmi_finalize(Bmi *self)
{
    tgbmi *m = inst(self);
    if (!m)
        return fail("finalize: no instance");
    tgbmi_hbv_free(m);
    tgbmi_net_free(m);
    tgbmi_config_free(&m->cfg);
    free(m);
    self->data = NULL;
    return BMI_SUCCESS;
}

/* ---------------------------------------------------------------- model information */
static int bmi_get_component_name(Bmi *self, char *name)
{
    (void)self;
    snprintf(name, BMI_MAX_COMPONENT_NAME, "terragrad %s (HBV, LSTM, dHBV)", TG_VERSION_STRING);
    return BMI_SUCCESS;
}

static int count_role(const tgbmi *m, int roles)
{
    int n = 0;
    for (int i = 0; i < N_VARS; i++)
        n += (vars[i].kinds & (1 << m->cfg.kind)) && (vars[i].role & roles);
    return n;
}

static int names_role(const tgbmi *m, int roles, char **names)
{
    int n = 0;
    for (int i = 0; i < N_VARS; i++)
        if ((vars[i].kinds & (1 << m->cfg.kind)) && (vars[i].role & roles))
            snprintf(names[n++], BMI_MAX_VAR_NAME, "%s", vars[i].name);
    return BMI_SUCCESS;
}

/* Outputs are the fluxes and stores and also the state variables, so that a framework
 * finds the names to checkpoint; inputs are the three forcings. */
static int bmi_get_input_item_count(Bmi *self, int *count)
{
    tgbmi *m = ready(self, "get_input_item_count");
    return m ? (*count = count_role(m, V_IN), BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_output_item_count(Bmi *self, int *count)
{
    tgbmi *m = ready(self, "get_output_item_count");
    return m ? (*count = count_role(m, V_OUT | V_STATE), BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_input_var_names(Bmi *self, char **names)
{
    tgbmi *m = ready(self, "get_input_var_names");
    return m ? names_role(m, V_IN, names) : BMI_FAILURE;
}
static int bmi_get_output_var_names(Bmi *self, char **names)
{
    tgbmi *m = ready(self, "get_output_var_names");
    return m ? names_role(m, V_OUT | V_STATE, names) : BMI_FAILURE;
}

/* ---------------------------------------------------------------- variable information */
#define VAR_OR_FAIL(fn)                                   \
    tgbmi *m = ready(self, fn);                           \
    const vardef *v = m ? find_var(m, name, fn) : NULL;   \
    if (!v)                                               \
        return BMI_FAILURE;

static int bmi_get_var_grid(Bmi *self, const char *name, int *grid)
{
    VAR_OR_FAIL("get_var_grid")
    *grid = v->grid;
    return BMI_SUCCESS;
}
static int bmi_get_var_type(Bmi *self, const char *name, char *type)
{
    VAR_OR_FAIL("get_var_type")
    snprintf(type, BMI_MAX_TYPE_NAME, "double");
    return BMI_SUCCESS;
}
static int bmi_get_var_units(Bmi *self, const char *name, char *units)
{
    VAR_OR_FAIL("get_var_units")
    snprintf(units, BMI_MAX_UNITS_NAME, "%s", units_of(m, v));
    return BMI_SUCCESS;
}
static int bmi_get_var_itemsize(Bmi *self, const char *name, int *size)
{
    VAR_OR_FAIL("get_var_itemsize")
    *size = (int)sizeof(double);
    return BMI_SUCCESS;
}
static int bmi_get_var_nbytes(Bmi *self, const char *name, int *nbytes)
{
    VAR_OR_FAIL("get_var_nbytes")
    *nbytes = (int)sizeof(double) * grid_size(m, v->grid);
    return BMI_SUCCESS;
}
static int bmi_get_var_location(Bmi *self, const char *name, char *location)
{
    VAR_OR_FAIL("get_var_location")
    snprintf(location, BMI_MAX_LOCATION_NAME, "node");
    return BMI_SUCCESS;
}

/* ---------------------------------------------------------------- time (seconds since start) */
static int bmi_get_current_time(Bmi *self, double *time)
{
    tgbmi *m = ready(self, "get_current_time");
    return m ? (*time = (double)m->step * DAY_SECONDS, BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_start_time(Bmi *self, double *time)
{
    tgbmi *m = ready(self, "get_start_time");
    return m ? (*time = 0.0, BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_end_time(Bmi *self, double *time)
{
    tgbmi *m = ready(self, "get_end_time");
    if (!m)
        return BMI_FAILURE;
    /* no configured end: the largest time (the model can always step further) */
    *time = m->cfg.end_day == INT_MIN ? DBL_MAX : (double)(m->cfg.end_day - m->cfg.start_day + 1) * DAY_SECONDS;
    return BMI_SUCCESS;
}
static int bmi_get_time_units(Bmi *self, char *units)
{
    tgbmi *m = ready(self, "get_time_units");
    return m ? (snprintf(units, BMI_MAX_UNITS_NAME, "s"), BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_time_step(Bmi *self, double *time_step)
{
    tgbmi *m = ready(self, "get_time_step");
    return m ? (*time_step = DAY_SECONDS, BMI_SUCCESS) : BMI_FAILURE;
}

/* ---------------------------------------------------------------- getters and setters */
static int bmi_get_value_ptr(Bmi *self, const char *name, void **dest_ptr)
{
    VAR_OR_FAIL("get_value_ptr")
    int n;
    double *p = storage(m, v, &n);
    if (!p)
        return fail("get_value_ptr: '%s' has no storage in this model", name);
    *dest_ptr = p;
    return BMI_SUCCESS;
}

static int bmi_get_value(Bmi *self, const char *name, void *dest)
{
    VAR_OR_FAIL("get_value")
    int n;
    const double *p = storage(m, v, &n);
    if (!p || !dest)
        return fail("get_value: '%s': %s", name, dest ? "no storage in this model" : "dest is NULL");
    memcpy(dest, p, (size_t)n * sizeof(double));
    return BMI_SUCCESS;
}

static int check_indices(const char *fn, const char *name, const int *inds, int count, int n)
{
    if (count < 0 || (count > 0 && !inds))
        return fail("%s: '%s': count %d%s", fn, name, count, count < 0 ? " < 0" : " with no indices");
    for (int i = 0; i < count; i++)
        if (inds[i] < 0 || inds[i] >= n)
            return fail("%s: '%s': index %d out of range (the variable has %d values)", fn, name, inds[i], n);
    return BMI_SUCCESS;
}

static int bmi_get_value_at_indices(Bmi *self, const char *name, void *dest, int *inds, int count)
{
    VAR_OR_FAIL("get_value_at_indices")
    int n;
    const double *p = storage(m, v, &n);
    if (!p)
        return fail("get_value_at_indices: '%s' has no storage in this model", name);
    if (check_indices("get_value_at_indices", name, inds, count, n))
        return BMI_FAILURE;
    for (int i = 0; i < count; i++)
        ((double *)dest)[i] = p[inds[i]];
    return BMI_SUCCESS;
}

/* Inputs and states are settable; computed outputs are not (the next update overwrites
 * them). Values must be finite (a state restored from a checkpoint always is). */
static int settable(const vardef *v, const char *fn)
{
    if (!(v->role & (V_IN | V_STATE)))
        return fail("%s: '%s' is a computed output, not settable (inputs and state__* are)", fn, v->name);
    return BMI_SUCCESS;
}

static int bmi_set_value(Bmi *self, const char *name, void *src)
{
    VAR_OR_FAIL("set_value")
    if (settable(v, "set_value"))
        return BMI_FAILURE;
    int n;
    double *p = storage(m, v, &n);
    const double *s = src;
    if (!p || !s)
        return fail("set_value: '%s': %s", name, s ? "no storage in this model" : "src is NULL");
    for (int i = 0; i < n; i++)
        if (!isfinite(s[i]))
            return fail("set_value: '%s'[%d] = %g is not finite (nothing set)", name, i, s[i]);
    memcpy(p, s, (size_t)n * sizeof(double));
    return BMI_SUCCESS;
}

static int bmi_set_value_at_indices(Bmi *self, const char *name, int *inds, int count, void *src)
{
    VAR_OR_FAIL("set_value_at_indices")
    if (settable(v, "set_value_at_indices"))
        return BMI_FAILURE;
    int n;
    double *p = storage(m, v, &n);
    const double *s = src;
    if (!p)
        return fail("set_value_at_indices: '%s' has no storage in this model", name);
    if (check_indices("set_value_at_indices", name, inds, count, n))
        return BMI_FAILURE;
    for (int i = 0; i < count; i++)
        if (!isfinite(s[i]))
            return fail("set_value_at_indices: '%s'[%d] = %g is not finite (nothing set)", name, inds[i], s[i]);
    for (int i = 0; i < count; i++)
        p[inds[i]] = s[i];
    return BMI_SUCCESS;
}

/* ---------------------------------------------------------------- grids
 * Grid 0 "scalar": the basin (rank 0, one node). Grids 1-6 "vector" (rank 1): the HBV
 * components, the routing history, the LSTM state, the LSTM input history, the static
 * δHBV parameters (NPARAM x components, parameter-major), the routing parameters. None has coordinates, spacing,
 * edges or faces: those functions return BMI_FAILURE. */
static tgbmi *grid_ok(Bmi *self, int grid, const char *fn)
{
    tgbmi *m = ready(self, fn);
    if (m && (grid < 0 || grid >= N_GRIDS || !grid_used(m, grid))) {
        fail("%s: unknown grid %d", fn, grid);
        return NULL;
    }
    return m;
}

static int bmi_get_grid_rank(Bmi *self, int grid, int *rank)
{
    tgbmi *m = grid_ok(self, grid, "get_grid_rank");
    return m ? (*rank = grid == G_SCALAR ? 0 : 1, BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_grid_size(Bmi *self, int grid, int *size)
{
    tgbmi *m = grid_ok(self, grid, "get_grid_size");
    return m ? (*size = grid_size(m, grid), BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_grid_type(Bmi *self, int grid, char *type)
{
    tgbmi *m = grid_ok(self, grid, "get_grid_type");
    return m ? (snprintf(type, BMI_MAX_TYPE_NAME, grid == G_SCALAR ? "scalar" : "vector"), BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_grid_shape(Bmi *self, int grid, int *shape)
{
    tgbmi *m = grid_ok(self, grid, "get_grid_shape");
    if (!m)
        return BMI_FAILURE;
    if (grid == G_SCALAR)
        return fail("get_grid_shape: grid 0 is a scalar (rank 0): no shape");
    shape[0] = grid_size(m, grid);
    return BMI_SUCCESS;
}
static int not_applicable(Bmi *self, int grid, const char *fn, const char *what)
{
    if (!grid_ok(self, grid, fn))
        return BMI_FAILURE;
    return fail("%s: grid %d has no %s (scalar and vector grids of a lumped model)", fn, grid, what);
}
static int bmi_get_grid_spacing(Bmi *self, int grid, double *spacing)
{
    (void)spacing;
    return not_applicable(self, grid, "get_grid_spacing", "uniform spacing");
}
static int bmi_get_grid_origin(Bmi *self, int grid, double *origin)
{
    (void)origin;
    return not_applicable(self, grid, "get_grid_origin", "origin");
}
static int bmi_get_grid_x(Bmi *self, int grid, double *x)
{
    (void)x;
    return not_applicable(self, grid, "get_grid_x", "node coordinates");
}
static int bmi_get_grid_y(Bmi *self, int grid, double *y)
{
    (void)y;
    return not_applicable(self, grid, "get_grid_y", "node coordinates");
}
static int bmi_get_grid_z(Bmi *self, int grid, double *z)
{
    (void)z;
    return not_applicable(self, grid, "get_grid_z", "node coordinates");
}
static int bmi_get_grid_node_count(Bmi *self, int grid, int *count)
{
    tgbmi *m = grid_ok(self, grid, "get_grid_node_count");
    return m ? (*count = grid_size(m, grid), BMI_SUCCESS) : BMI_FAILURE;
}
static int bmi_get_grid_edge_count(Bmi *self, int grid, int *count)
{
    (void)count;
    return not_applicable(self, grid, "get_grid_edge_count", "edges");
}
static int bmi_get_grid_face_count(Bmi *self, int grid, int *count)
{
    (void)count;
    return not_applicable(self, grid, "get_grid_face_count", "faces");
}
static int bmi_get_grid_edge_nodes(Bmi *self, int grid, int *edge_nodes)
{
    (void)edge_nodes;
    return not_applicable(self, grid, "get_grid_edge_nodes", "edges");
}
static int bmi_get_grid_face_edges(Bmi *self, int grid, int *face_edges)
{
    (void)face_edges;
    return not_applicable(self, grid, "get_grid_face_edges", "faces");
}
static int bmi_get_grid_face_nodes(Bmi *self, int grid, int *face_nodes)
{
    (void)face_nodes;
    return not_applicable(self, grid, "get_grid_face_nodes", "faces");
}
static int bmi_get_grid_nodes_per_face(Bmi *self, int grid, int *nodes_per_face)
{
    (void)nodes_per_face;
    return not_applicable(self, grid, "get_grid_nodes_per_face", "faces");
}

/* ---------------------------------------------------------------- registration */
TGBMI_EXPORT Bmi *register_bmi_terragrad(Bmi *model);
Bmi *register_bmi_terragrad(Bmi *model)
{
    if (!model)
        return NULL;
    memset(model, 0, sizeof *model);
    model->data = calloc(1, sizeof(tgbmi)); /* NULL: every call fails, initialize says why */
    model->initialize = bmi_initialize;
    model->update = bmi_update;
    model->update_until = bmi_update_until;
    model->finalize = bmi_finalize;
    model->get_component_name = bmi_get_component_name;
    model->get_input_item_count = bmi_get_input_item_count;
    model->get_output_item_count = bmi_get_output_item_count;
    model->get_input_var_names = bmi_get_input_var_names;
    model->get_output_var_names = bmi_get_output_var_names;
    model->get_var_grid = bmi_get_var_grid;
    model->get_var_type = bmi_get_var_type;
    model->get_var_units = bmi_get_var_units;
    model->get_var_itemsize = bmi_get_var_itemsize;
    model->get_var_nbytes = bmi_get_var_nbytes;
    model->get_var_location = bmi_get_var_location;
    model->get_current_time = bmi_get_current_time;
    model->get_start_time = bmi_get_start_time;
    model->get_end_time = bmi_get_end_time;
    model->get_time_units = bmi_get_time_units;
    model->get_time_step = bmi_get_time_step;
    model->get_value = bmi_get_value;
    model->get_value_ptr = bmi_get_value_ptr;
    model->get_value_at_indices = bmi_get_value_at_indices;
    model->set_value = bmi_set_value;
    model->set_value_at_indices = bmi_set_value_at_indices;
    model->get_grid_rank = bmi_get_grid_rank;
    model->get_grid_size = bmi_get_grid_size;
    model->get_grid_type = bmi_get_grid_type;
    model->get_grid_shape = bmi_get_grid_shape;
    model->get_grid_spacing = bmi_get_grid_spacing;
    model->get_grid_origin = bmi_get_grid_origin;
    model->get_grid_x = bmi_get_grid_x;
    model->get_grid_y = bmi_get_grid_y;
    model->get_grid_z = bmi_get_grid_z;
    model->get_grid_node_count = bmi_get_grid_node_count;
    model->get_grid_edge_count = bmi_get_grid_edge_count;
    model->get_grid_face_count = bmi_get_grid_face_count;
    model->get_grid_edge_nodes = bmi_get_grid_edge_nodes;
    model->get_grid_face_edges = bmi_get_grid_face_edges;
    model->get_grid_face_nodes = bmi_get_grid_face_nodes;
    model->get_grid_nodes_per_face = bmi_get_grid_nodes_per_face;
    return model;
}
