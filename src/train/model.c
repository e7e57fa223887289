/* model.c — the trainable models of `terragrad train`: normalised forcing + attributes ->
 * LSTM -> linear head, then either streamflow (lstm) or a registered process model
 * (model_dhbv.c and the other model_*.c kinds). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

/* Kinds defined in other files; weak so that a build without one still links. */
extern const tg_model_kind tg_model_kind_dhbv;
extern const tg_model_kind tg_model_kind_dhbv_adj __attribute__((weak));
extern const tg_model_kind tg_model_kind_surrogate __attribute__((weak));
extern const tg_model_kind tg_model_kind_hybrid __attribute__((weak));
extern const tg_model_kind tg_model_kind_ude __attribute__((weak));
extern const tg_loss_extension tg_loss_extension_physics __attribute__((weak));

/* A kind whose file is not linked in has address NULL (weak reference). */
static const tg_model_kind *const kinds[] = {&tg_model_kind_dhbv, &tg_model_kind_dhbv_adj, &tg_model_kind_surrogate,
                                             &tg_model_kind_hybrid, &tg_model_kind_ude};
enum { N_KIND_SLOTS = (int)(sizeof kinds / sizeof kinds[0]) };

static const tg_model_kind *registered(int i)
{
    return kinds[i];
}

const tg_model_kind *tg_model_kind_find(const char *name)
{
    for (int i = 0; i < N_KIND_SLOTS; i++) {
        const tg_model_kind *k = registered(i);
        if (k && !strcmp(k->name, name))
            return k;
    }
    return NULL;
}

const char *tg_model_kind_names(void)
{
    static char names[256];
    if (!names[0]) {
        strcpy(names, "lstm");
        for (int i = 0; i < N_KIND_SLOTS; i++)
            if (registered(i)) {
                strncat(names, "|", sizeof names - strlen(names) - 1);
                strncat(names, registered(i)->name, sizeof names - strlen(names) - 1);
            }
    }
    return names;
}

const tg_cfg_key *tg_train_schema_all(int *n)
{
    static tg_cfg_key *all;
    static int n_all;
    if (!all) {
        int cap = tg_train_schema_len;
        for (int i = 0; i < N_KIND_SLOTS; i++)
            if (registered(i))
                cap += registered(i)->n_keys;
        if (&tg_loss_extension_physics)
            cap += tg_loss_extension_physics.n_keys;
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
        for (int i = 0; i < N_KIND_SLOTS; i++)
            if (registered(i) && registered(i)->n_keys) {
                memcpy(a + k, registered(i)->keys, (size_t)registered(i)->n_keys * sizeof *a);
                k += registered(i)->n_keys;
            }
        if (&tg_loss_extension_physics && tg_loss_extension_physics.n_keys) {
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
    return tg_cfg_load(path, schema, n_schema);
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

int tg_model_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps)
{
    memset(m, 0, sizeof *m);
    const char *type = tg_cfg_str(cfg, "model.type");
    m->kind = tg_model_kind_find(type);
    if (!m->kind && strcmp(type, "lstm"))
        return tg_error_set(TG_EINVAL, "%s:%d: model.type: '%s' is not one of %s", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "model.type"), type, tg_model_kind_names());
    m->in = d->F + d->S;
    m->hidden = (int)tg_cfg_int(cfg, "model.hidden");
    m->dropout = tg_cfg_float(cfg, "model.dropout");
    m->q_mean = d->q_mean_all;
    m->q_std = d->q_std_all;
    if (m->hidden <= 0)
        return tg_error_set(TG_EINVAL, "%s: model.hidden must be positive", tg_cfg_path(cfg));
    if (m->dropout < 0 || m->dropout >= 1)
        return tg_error_set(TG_EINVAL, "%s: model.dropout must be in [0, 1)", tg_cfg_path(cfg));
    int rc = tg_lstm_layer_init(&m->lstm, ps, "lstm", m->in, m->hidden, (int)tg_cfg_int(cfg, "model.input_layer"));
    if (rc)
        return rc;
    m->lstm.checkpoint = (int)tg_cfg_int(cfg, "training.checkpoint");   /* HBV kinds read it here too */
    if (m->lstm.checkpoint < -1)
        return tg_error_set(TG_EINVAL, "%s:%d: training.checkpoint: %d, want 0 (off), -1 (auto) or days > 0",
                            tg_cfg_path(cfg), tg_cfg_line(cfg, "training.checkpoint"), m->lstm.checkpoint);
    int n_out = 1;
    if (m->kind && (rc = m->kind->build(m, cfg, d, ps, &n_out)))
        return rc;
    return tg_linear_layer_init(&m->head, ps, "head", m->hidden, n_out, 1);
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
    tg_tensor *f = tg_from(ctx, TG_SHAPE(L, nb, TG_HBV_NFORCING), forcing);
    if (!y || !f)
        return tg_ctx_status(ctx);
    return m->kind->forward(m, ctx, ps, y, f, L, nb, train, out);
}
