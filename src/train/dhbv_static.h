/* dhbv_static.h — the per-basin heads of δHBV on the static attributes (dhbv_static.c):
 *  - model.static_head: mlp (δHBV 2.0 style): the static HBV parameters and the routing
 *    parameters from a small MLP on the normalised attributes, the hbv.dynamic ones still
 *    from the LSTM; a basin's static parameters then do not depend on the period;
 *  - model.precip_correction: a per-basin multiplier PCORR in [pmin, pmax] on the P that
 *    HBV sees (not on the network's inputs), from the same MLP (one more output) or, with
 *    the LSTM static head, from its own linear layer on the attributes. */
#ifndef TG_DHBV_STATIC_H
#define TG_DHBV_STATIC_H

#include "train_internal.h"

typedef struct tg_dhbv_static {
    int mlp;                /* model.static_head: mlp */
    int pcorr;              /* model.precip_correction */
    double pmin, pmax;      /* model.precip_range */
    int S;                  /* attributes */
    int K;                  /* static outputs: NP*M parameters + 2 routing (as the LSTM head's layout) */
    tg_mlp_layer net;       /* mlp: S -> static_hidden (tanh) -> K (+1 with pcorr), sigmoid */
    tg_linear_layer pc;     /* lstm head with pcorr: S -> 1, sigmoid */
} tg_dhbv_static;

/* Reads model.static_head, static_hidden, precip_correction, precip_range (m->hbv, M,
 * routing already read) and registers the parameters in ps ("static.*", "pcorr.*").
 * Sets m->attrs_needed when either is on. TG_EINVAL naming file, line and key. */
int tg_dhbv_static_build(tg_dhbv_static *st, tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps);
/* Weights: TG_INIT_TORCH, then the multiplier's output bias set so PCORR starts at 1 (raw
 * P) when 1 is in the range. Draws nothing from rng when both are off. */
int tg_dhbv_static_init(const tg_dhbv_static *st, tg_params *ps, tg_rng *rng);
/* From attrs (nb, S): *u (nb, K) in (0, 1), the static outputs in the LSTM head's layout
 * (NULL with the LSTM static head), and *pcorr (nb) in [pmin, pmax] (NULL when off). */
int tg_dhbv_static_forward(const tg_dhbv_static *st, tg_ctx *ctx, tg_params *ps, tg_tensor *attrs, int nb,
                           tg_tensor **u, tg_tensor **pcorr);
/* forcing (L, nb, 3) with its P column multiplied by pcorr (nb); forcing itself if pcorr is NULL. */
tg_tensor *tg_dhbv_correct_precip(tg_ctx *ctx, tg_tensor *forcing, tg_tensor *pcorr, int nb);

#endif
