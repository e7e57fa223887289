/* model_hybrid.h — access to the learned process function of a built hybrid model
 * (model.type = hybrid), for `terragrad explain`. */
#ifndef TG_TRAIN_MODEL_HYBRID_H
#define TG_TRAIN_MODEL_HYBRID_H

#include "terragrad/hybrid.h"
#include "train_internal.h"

/* The MLP g(SM/FC, T) of m and the id of its weights in the model's tg_params.
 * TG_EINVAL if m is not a hybrid model. */
int tg_model_hybrid_mlp(const tg_model *m, tg_hybrid_mlp *net, int *weights_id);

#endif
