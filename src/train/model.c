/* model.c — the trainable models of `terragrad train`: normalised forcing + attributes ->
 * LSTM -> linear head, then either streamflow (lstm) or a registered process model
 * (model_dhbv.c and the other model_*.c kinds). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

/* ---------------------------------------------------------------- the kind table
 * Every model kind, in one explicit table: its declaration (tg_model_kind_info: what it
 * consumes, produces and which config keys it reads) and its implementation (the
 * tg_model_kind of model_<name>.c; NULL for the plain LSTM, which model.c runs itself).
 * The order fixes the order of the kinds' keys in the schema (and so in the run state
 * fingerprint of last.ckpt): append new kinds at the end. */
extern const tg_model_kind tg_model_kind_dhbv, tg_model_kind_dhbv_adj, tg_model_kind_surrogate, tg_model_kind_hybrid;
extern const tg_loss_extension tg_loss_extension_physics;

static const char *const hbv_forcing[] = {"P", "T", "PET"}; /* columns of the (L, nb, 3) forcing */
static const char *const q_only[] = {"Q"};
static const char *const q_unit[] = {"mm/day"};
static const char *const lstm_uses[] = {"model.dropout"};
#define HBV_KEYS "hbv.components", "hbv.dynamic", "hbv.warmup_grad", "hbv.routing", "hbv.smooth"
/* model.static_head / precip_* / snow_*: δHBV 2.0-style static MLP, the precipitation
 * multiplier and the snowfall factor (dhbv_static.c), dhbv only */
static const char *const dhbv_uses[] = {HBV_KEYS,
                                        "hbv.capillary",
                                        "physics.",
                                        "model.static_head",
                                        "model.static_hidden",
                                        "model.precip_correction",
                                        "model.precip_range",
                                        "model.snow_correction",
                                        "model.snow_range"};
static const char *const dhbv_adj_uses[] = {HBV_KEYS, "hbv_adj."};
static const char *const hybrid_uses[] = {HBV_KEYS, "hybrid.", "physics."};
static const char *const surrogate_uses[] = {"surrogate."};
#define LIST(a) a, (int)(sizeof a / sizeof a[0])
/* δHBV 1.0's 16 outputs and 13 parameters; with hbv.capillary (dhbv only) the 1.1p flux
 * "cap" and parameter "C" follow them (tg_hbv_nout / tg_hbv_nparam of the model's config) */
#define HBV_OUTPUTS tg_hbv_output_names, tg_hbv_output_units, TG_HBV_NOUT, 1
#define HBV_PARAMS tg_hbv_param_names, tg_hbv_param_range, TG_HBV_NPARAM, 1

static const struct kind_entry {
    tg_model_kind_info info;
    const tg_model_kind *impl;
} kinds[] = {
    {{"lstm", "streamflow from the LSTM's linear head (scaled by the training flows' mean and std)", NULL, 0, 1,
      q_only, q_unit, 1, 0, NULL, NULL, 0, 0, LIST(lstm_uses)},
     NULL},
    {{"dhbv", "δHBV: LSTM -> HBV parameters (static and dynamic) -> HBV -> gamma routing", LIST(hbv_forcing), 1,
      HBV_OUTPUTS, HBV_PARAMS, LIST(dhbv_uses)},
     &tg_model_kind_dhbv},
    {{"dhbv_adj", "δHBV with the implicit HBV solved by Newton, gradients by the adjoint", LIST(hbv_forcing), 1,
      HBV_OUTPUTS, HBV_PARAMS, LIST(dhbv_adj_uses)},
     &tg_model_kind_dhbv_adj},
    {{"surrogate", "LSTM -> parameters of a frozen neural surrogate of a black-box model -> Q", LIST(hbv_forcing), 1,
      q_only, q_unit, 1, 0, NULL, NULL, 0, 0, LIST(surrogate_uses)},
     &tg_model_kind_surrogate},
    {{"hybrid", "δHBV whose ET limitation is a learned MLP g(SM/FC, T)", LIST(hbv_forcing), 1, HBV_OUTPUTS,
      HBV_PARAMS, LIST(hybrid_uses)},
     &tg_model_kind_hybrid},
};
enum { N_KINDS = (int)(sizeof kinds / sizeof kinds[0]) };

int tg_model_kind_count(void)
{
    return N_KINDS;
}

const tg_model_kind_info *tg_model_kind_at(int i)
{
    return i >= 0 && i < N_KINDS ? &kinds[i].info : NULL;
}

const tg_model_kind_info *tg_model_kind_lookup(const char *name)
{
    for (int i = 0; name && i < N_KINDS; i++)
        if (!strcmp(kinds[i].info.name, name))
            return &kinds[i].info;
    return NULL;
}

const tg_model_kind *tg_model_kind_impl(const tg_model_kind_info *info)
{
    for (int i = 0; info && i < N_KINDS; i++)
        if (info == &kinds[i].info)
            return kinds[i].impl;
    return NULL;
}

const tg_model_kind *tg_model_kind_find(const char *name)
{
    return tg_model_kind_impl(tg_model_kind_lookup(name));
}

/* entry is "section." (a whole section) or a full key */
static int use_matches(const char *entry, const char *key)
{
    size_t n = strlen(entry);
    return entry[n - 1] == '.' ? !strncmp(key, entry, n) : !strcmp(key, entry);
}

/* A key some kind declares, or in a section some kind's keys belong to (hbv.warmup). */
static int kind_owned(const char *key)
{
    for (int i = 0; i < N_KINDS; i++)
        for (int u = 0; u < kinds[i].info.n_uses; u++) {
            const char *e = kinds[i].info.uses[u], *dot = strchr(e, '.');
            if (use_matches(e, key) || (dot && !strncmp(key, e, (size_t)(dot - e) + 1) && strncmp(e, "model.", 6)))
                return 1;
        }
    return 0;
}

int tg_model_kind_uses(const tg_model_kind_info *k, const char *key)
{
    for (int u = 0; k && u < k->n_uses; u++)
        if (use_matches(k->uses[u], key))
            return 1;
    return !kind_owned(key);
}

int tg_model_kind_check_keys(const tg_cfg *cfg, const tg_model_kind_info *k)
{
    int n;
    const tg_cfg_key *schema = tg_train_schema_all(&n);
    for (int i = 0; i < n; i++)
        if (tg_cfg_has(cfg, schema[i].path) && !tg_model_kind_uses(k, schema[i].path))
            return tg_error_set(TG_EINVAL, "%s:%d: key '%s' is not used by model.type %s (remove it)",
                                tg_cfg_path(cfg), tg_cfg_line(cfg, schema[i].path), schema[i].path, k->name);
    return 0;
}

const char *tg_model_kind_names(void)
{
    static char names[256];
    if (!names[0])
        for (int i = 0; i < N_KINDS; i++) {
            if (i)
                strncat(names, "|", sizeof names - strlen(names) - 1);
            strncat(names, kinds[i].info.name, sizeof names - strlen(names) - 1);
        }
    return names;
}

const tg_cfg_key *tg_train_schema_all(int *n)
{
    static tg_cfg_key *all;
    static int n_all;
    if (!all) {
        int cap = tg_train_schema_len + tg_loss_extension_physics.n_keys;
        for (int i = 0; i < N_KINDS; i++)
            if (kinds[i].impl)
                cap += kinds[i].impl->n_keys;
        tg_cfg_key *a = malloc((size_t)cap * sizeof *a);
        if (!a) {
            *n = tg_train_schema_len;
            return tg_train_schema;
        }
        memcpy(a, tg_train_schema, (size_t)tg_train_schema_len * sizeof *a);
        int k = tg_train_schema_len;
        for (int i = 0; i < k; i++)
            if (!strcmp(a[i].path, "model.type"))
                a[i].choices = tg_model_kind_names();
        for (int i = 0; i < N_KINDS; i++)
            if (kinds[i].impl && kinds[i].impl->n_keys) {
                memcpy(a + k, kinds[i].impl->keys, (size_t)kinds[i].impl->n_keys * sizeof *a);
                k += kinds[i].impl->n_keys;
            }
        if (tg_loss_extension_physics.n_keys) {
            memcpy(a + k, tg_loss_extension_physics.keys, (size_t)tg_loss_extension_physics.n_keys * sizeof *a);
            k += tg_loss_extension_physics.n_keys;
        }
        all = a;
        n_all = k;
    }
    *n = n_all;
    return all;
}

tg_cfg *tg_train_load_run_config(const char *run_dir, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/config.yaml", run_dir);
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    return tg_cfg_load(path, schema, n_schema); /* not tg_train_cfg_check: see train_internal.h */
}

tg_cfg *tg_train_cfg_check(tg_cfg *cfg)
{
    if (!cfg)
        return NULL;
    const char *type = tg_cfg_str(cfg, "model.type");
    const tg_model_kind_info *k = tg_model_kind_lookup(type);
    int rc = k ? tg_model_kind_check_keys(cfg, k)
               : tg_error_set(TG_EINVAL, "%s:%d: model.type: '%s' is not one of %s", tg_cfg_path(cfg),
                              tg_cfg_line(cfg, "model.type"), type, tg_model_kind_names());
    if (rc)
        tg_cfg_free(&cfg);
    return cfg;
}

int tg_train_period(const tg_cfg *cfg, const char *path, const char *period, int *first, int *last)
{
    char ks[64], ke[64];
    snprintf(ks, sizeof ks, "periods.%s_start", period);
    snprintf(ke, sizeof ke, "periods.%s_end", period);
    *first = tg_cfg_date(cfg, ks);
    *last = tg_cfg_date(cfg, ke);
    if (*first == INT_MIN || *last == INT_MIN || *last < *first)
        return tg_error_set(TG_EINVAL, "%s: no valid %s period (%s, %s)", path, period, ks, ke);
    return 0;
}

/* c: the typed form of cfg (which gives the lines for messages). */
static int model_build(tg_model *m, const tg_cfg *cfg, const tg_run_config *c, const tg_dataset *d, tg_params *ps)
{
    const char *type = c->model.type;
    m->info = tg_model_kind_lookup(type);
    if (!m->info)
        return tg_error_set(TG_EINVAL, "%s:%d: model.type: '%s' is not one of %s", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "model.type"), type, tg_model_kind_names());
    m->kind = tg_model_kind_impl(m->info);
    m->in = d->F + d->S;
    m->n_attr = d->S;
    m->hidden = (int)c->model.hidden;
    m->dropout = c->model.dropout;
    m->q_mean = d->q_mean_all;
    m->q_std = d->q_std_all;
    if (m->hidden <= 0)
        return tg_error_set(TG_EINVAL, "%s: model.hidden must be positive", tg_cfg_path(cfg));
    if (m->dropout < 0 || m->dropout >= 1)
        return tg_error_set(TG_EINVAL, "%s: model.dropout must be in [0, 1)", tg_cfg_path(cfg));
    int rc = tg_lstm_layer_init(&m->lstm, ps, "lstm", m->in, m->hidden, (int)c->model.input_layer);
    if (rc)
        return rc;
    m->lstm.checkpoint = (int)c->training.checkpoint;   /* HBV kinds read it here too */
    if (m->lstm.checkpoint < -1)
        return tg_error_set(TG_EINVAL, "%s:%d: training.checkpoint: %d, want 0 (off), -1 (auto) or days > 0",
                            tg_cfg_path(cfg), tg_cfg_line(cfg, "training.checkpoint"), m->lstm.checkpoint);
    int n_out = 1;
    if (m->kind && (rc = m->kind->build(m, cfg, d, ps, &n_out)))
        return rc;
    return tg_linear_layer_init(&m->head, ps, "head", m->hidden, n_out, 1);
}

int tg_model_nout(const tg_model *m)
{
    if (!m->info)
        return 1;
    /* the flag is set for the kinds that read hbv.capillary only (model_dhbv.c) */
    return m->hbv.capillary ? tg_hbv_nout(&m->hbv) : m->info->n_outputs;
}

int tg_model_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps)
{
    memset(m, 0, sizeof *m);
    tg_run_config c;
    int rc = tg_run_config_from_cfg(cfg, &c);
    if (!rc)
        rc = model_build(m, cfg, &c, d, ps);
    tg_run_config_free(&c);
    return rc;
}

int tg_model_init_weights(const tg_model *m, tg_params *ps, tg_rng *rng, const tg_cfg *cfg)
{
    int rc = tg_lstm_reset(&m->lstm, ps, TG_INIT_TORCH, rng);
    if (!rc)
        rc = tg_lstm_set_forget_bias(&m->lstm, ps, tg_cfg_float(cfg, "model.forget_bias"));
    if (!rc)
        rc = tg_linear_reset(&m->head, ps, TG_INIT_TORCH, rng);
    if (!rc && m->kind && m->kind->init_weights)
        rc = m->kind->init_weights(m, ps, rng, cfg);
    return rc;
}

void tg_model_free(tg_model *m)
{
    if (m->kind && m->kind->free)
        m->kind->free(m);
    m->impl = NULL;
}

int tg_model_forward(const tg_model *m, tg_ctx *ctx, tg_params *ps, const tg_real *x, const tg_real *forcing, int L,
                     int nb, int train, tg_rng *rng, tg_model_out *out)
{
    memset(out, 0, sizeof *out);
    tg_tensor *xt = tg_from(ctx, TG_SHAPE(L, nb, m->in), x);
    tg_tensor *h = tg_lstm(ctx, ps, &m->lstm, xt, NULL, NULL, NULL);
    if (!m->kind) {
        h = tg_dropout(ctx, h, m->dropout, train, rng);
        tg_tensor *y = tg_linear(ctx, ps, &m->head, h); /* (L, nb, 1) */
        y = tg_reshape(ctx, y, TG_SHAPE(L, nb));
        out->q = tg_adds(ctx, tg_muls(ctx, y, (tg_real)m->q_std), (tg_real)m->q_mean);
        out->skip = 0;
        return out->q ? 0 : tg_ctx_status(ctx);
    }
    tg_tensor *y = m->kind->takes_hidden ? h : tg_linear(ctx, ps, &m->head, h); /* (L, nb, K) or hidden */
    tg_tensor *f = tg_from(ctx, TG_SHAPE(L, nb, m->info->n_forcing), forcing); /* as declared */
    if (!y || !f)
        return tg_ctx_status(ctx);
    if (m->attrs_needed && m->n_attr > 0) /* the basins' normalised attributes: the last S inputs (constant in time) */
        out->attrs = tg_slice(ctx, tg_select(ctx, xt, 0, L - 1), 1, m->in - m->n_attr, m->n_attr);
    return m->kind->forward(m, ctx, ps, y, f, L, nb, train, out);
}
