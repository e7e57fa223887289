/* mlp.c — a stack of linear layers with activations (parameterisation networks, PINNs). */
#include <stdio.h>

#include "core/internal.h"
#include "terragrad/nn.h"

int tg_mlp_init(tg_mlp_layer *m, tg_params *ps, const char *prefix, int n_widths, const int *widths,
                tg_act hidden_act, tg_act out_act)
{
    if (n_widths < 2 || n_widths - 1 > TG_MLP_MAX_LAYERS)
        return tg_error_set(TG_EINVAL, "mlp '%s': %d widths (need 2 .. %d)", prefix, n_widths, TG_MLP_MAX_LAYERS + 1);
    m->n_layers = n_widths - 1;
    for (int i = 0; i < m->n_layers; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.%d", prefix, i);
        int rc = tg_linear_layer_init(&m->lin[i], ps, name, widths[i], widths[i + 1], 1);
        if (rc)
            return rc;
        m->act[i] = i + 1 < m->n_layers ? hidden_act : out_act;
    }
    return 0;
}

int tg_mlp_reset(const tg_mlp_layer *m, tg_params *ps, tg_init scheme, tg_rng *rng)
{
    for (int i = 0; i < m->n_layers; i++) {
        int rc = tg_linear_reset(&m->lin[i], ps, scheme, rng);
        if (rc)
            return rc;
    }
    return 0;
}

tg_tensor *tg_mlp(tg_ctx *ctx, tg_params *ps, const tg_mlp_layer *m, tg_tensor *x)
{
    for (int i = 0; i < m->n_layers && x; i++)
        x = tg_activation(ctx, tg_linear(ctx, ps, &m->lin[i], x), m->act[i]);
    return x;
}
