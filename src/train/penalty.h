/* penalty.h — physics-guided loss terms (config keys physics.*), usable by any model kind:
 * the kind reads the weights once in build() and, in forward(), hands whatever it has
 * (HBV-style fluxes, learned parameters, a learned function on an ordered grid) to
 * tg_physics_penalty, which returns the weighted sum as out->penalty. The trainer adds it
 * to the loss and logs it separately. Definitions: docs/hybrid.md. */
#ifndef TG_TRAIN_PENALTY_H
#define TG_TRAIN_PENALTY_H

#include "train_internal.h"

typedef struct tg_physics_weights {
    double water_balance; /* physics.water_balance */
    double range;         /* physics.range */
    double range_margin;  /* physics.range_margin: fraction of the range counted as "near a bound" */
    double monotone;      /* physics.monotone */
} tg_physics_weights;

/* What a kind offers; NULL members are skipped. */
typedef struct tg_physics_terms {
    tg_tensor *fluxes;     /* (Lp, NOUT, nb) HBV-layout outputs of the kind's windows */
    tg_tensor *par_static; /* (NPARAM, nb, M) learned parameters, physical units */
    uint32_t range_mask;   /* parameters the range penalty applies to (bit p = parameter p) */
    tg_tensor *curve;      /* (R, K) learned function along an increasing input, should be non-decreasing */
} tg_physics_terms;

/* Reads physics.* (defaults 0 = off); TG_EINVAL naming the key for a negative weight. */
int tg_physics_read(const tg_cfg *cfg, tg_physics_weights *w);
/* 1 if any penalty is on. */
int tg_physics_any(const tg_physics_weights *w);
/* *penalty = sum of weight * term over the terms given (scalar), or NULL if none applies.
 *   water balance: mean over windows of ((in - ET - Q - dS) / in)^2, days 1..Lp-1
 *   range:         mean over masked parameters of (relu(m - u)^2 + relu(u - 1 + m)^2) / m^2,
 *                  u = (p - lo) / (hi - lo), m = range_margin
 *   monotone:      mean over rows of sum_k relu(c_k - c_{k+1}) (total decrease along K) */
int tg_physics_penalty(tg_ctx *ctx, const tg_physics_weights *w, const tg_physics_terms *t, tg_tensor **penalty);

#endif
