/* dhbv_static.h — the per-basin heads of δHBV on the static attributes (dhbv_static.c):
 *  - model.static_head: mlp (δHBV 2.0 style): the static HBV parameters and the routing
 *    parameters from a small MLP on the normalised attributes, the hbv.dynamic ones still
 *    from the LSTM; a basin's static parameters then do not depend on the period;
 *  - model.precip_correction: a per-basin multiplier PCORR in [pmin, pmax] on the P that
 *    HBV sees (not on the network's inputs), from the same MLP (one more output) or, with
 *    the LSTM static head, from its own linear layer on the attributes;
 *  - model.snow_correction: a per-basin snowfall correction factor SFCF in [smin, smax] on
 *    the part of that P which falls as snow, again from the MLP (one more output) or its own
 *    linear layer. "Snow" here is a property of the forcing, not of HBV: the fraction
 *    s(T) = sigmoid((T0 - T) / w), T0 = 0 degC, w = 1 degC, of each day's P. Tying it to
 *    HBV's learned TT instead would let the network trade the phase threshold against the
 *    factor (and TT differs between the M components, the forcing does not). */
#ifndef TG_DHBV_STATIC_H
#define TG_DHBV_STATIC_H

#include "train_internal.h"

typedef struct tg_dhbv_static {
    int mlp;                /* model.static_head: mlp */
    int pcorr;              /* model.precip_correction */
    double pmin, pmax;      /* model.precip_range */
    int sfcf;               /* model.snow_correction */
    double smin, smax;      /* model.snow_range */
    int S;                  /* attributes */
    int K;                  /* static outputs: NP*M parameters + 2 routing (as the LSTM head's layout) */
    tg_mlp_layer net;       /* mlp: S -> static_hidden (tanh) -> K (+1 with pcorr, +1 with sfcf), sigmoid */
    tg_linear_layer pc;     /* lstm head with pcorr: S -> 1, sigmoid */
    tg_linear_layer sf;     /* lstm head with sfcf: S -> 1, sigmoid */
} tg_dhbv_static;

/* Reads model.static_head, static_hidden, precip_correction, precip_range, snow_correction,
 * snow_range (m->hbv, M, routing already read) and registers the parameters in ps
 * ("static.*", "pcorr.*", "sfcf.*").
 * Sets m->attrs_needed when either is on. TG_EINVAL naming file, line and key. */
int tg_dhbv_static_build(tg_dhbv_static *st, tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps);
/* Weights: TG_INIT_TORCH, then the multipliers' output biases set so PCORR and SFCF start at
 * 1 (raw P) when 1 is in their range. Draws nothing from rng when all are off. */
int tg_dhbv_static_init(const tg_dhbv_static *st, tg_params *ps, tg_rng *rng);
/* From attrs (nb, S): *u (nb, K) in (0, 1), the static outputs in the LSTM head's layout
 * (NULL with the LSTM static head), *pcorr (nb) in [pmin, pmax] and *sfcf (nb) in
 * [smin, smax] (each NULL when off). */
int tg_dhbv_static_forward(const tg_dhbv_static *st, tg_ctx *ctx, tg_params *ps, tg_tensor *attrs, int nb,
                           tg_tensor **u, tg_tensor **pcorr, tg_tensor **sfcf);
/* The snow fraction of the forcing's P (the phase split above). */
#define TG_SNOW_PHASE_T0 0.0 /* degC */
#define TG_SNOW_PHASE_W 1.0  /* degC */
/* forcing (L, nb, 3: P, T, PET) with P multiplied by pcorr (nb) and by 1 + (sfcf - 1) s(T):
 * P_hbv = PCORR P (1 - s) + PCORR SFCF P s. Either may be NULL; forcing itself if both are. */
tg_tensor *tg_dhbv_correct_precip(tg_ctx *ctx, tg_tensor *forcing, tg_tensor *pcorr, tg_tensor *sfcf, int nb);

#endif
