/* activation.c — activation choice by enum (MLP layers, configs). */
#include <string.h>

#include "core/internal.h"
#include "terragrad/nn.h"

tg_tensor *tg_activation(tg_ctx *ctx, tg_tensor *x, tg_act act)
{
    switch (act) {
    case TG_ACT_IDENTITY: return x;
    case TG_ACT_TANH: return tg_tanh(ctx, x);
    case TG_ACT_RELU: return tg_relu(ctx, x);
    case TG_ACT_SIGMOID: return tg_sigmoid(ctx, x);
    case TG_ACT_SOFTPLUS: return tg_softplus(ctx, x);
    case TG_ACT_SIN: return tg_sin(ctx, x);
    }
    return tg__fail(ctx, TG_EINVAL, "tg_activation: unknown activation %d", (int)act);
}

static const char *const act_names[] = {"identity", "tanh", "relu", "sigmoid", "softplus", "sin"};

const char *tg_act_name(tg_act act)
{
    return (unsigned)act < sizeof act_names / sizeof *act_names ? act_names[act] : "?";
}

int tg_act_parse(const char *name, tg_act *act)
{
    if (!name)
        return tg_error_set(TG_EINVAL, "activation: no name");
    for (int i = 0; i < (int)(sizeof act_names / sizeof *act_names); i++)
        if (!strcmp(name, act_names[i])) {
            *act = (tg_act)i;
            return 0;
        }
    if (!strcmp(name, "linear") || !strcmp(name, "none")) {
        *act = TG_ACT_IDENTITY;
        return 0;
    }
    return tg_error_set(TG_EINVAL, "unknown activation '%s' (tanh, relu, sigmoid, softplus, sin, identity)", name);
}
