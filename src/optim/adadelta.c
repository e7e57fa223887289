/* adadelta.c — Adadelta (Zeiler 2012) as PyTorch: rho 0.9, eps 1e-6, lr 1 by default;
 * the optimizer of the published differentiable-HBV code.
 *   sq = rho sq + (1-rho) g^2;  delta = sqrt(acc + eps) / sqrt(sq + eps) g
 *   acc = rho acc + (1-rho) delta^2;  p -= lr delta */
#include <math.h>

#include "optim/optim_internal.h"

void tg_adadelta_update(tg_optim *o, tg_params *ps)
{
    const tg_real lr = (tg_real)o->lr, wd = (tg_real)o->cfg.weight_decay, eps = (tg_real)o->cfg.eps;
    const tg_real rho = (tg_real)o->cfg.rho, crho = (tg_real)(1.0 - o->cfg.rho);
    tg_real *p = ps->value, *g = ps->grad, *sq = o->state, *acc = o->state + o->n;
    for (int k = 0; k < ps->count; k++) {
        size_t lo, hi;
        if (!tg_active_range(ps, k, &lo, &hi))
            continue;
#pragma omp parallel for simd schedule(static) if (hi - lo > 65536)
        for (size_t i = lo; i < hi; i++) {
            tg_real gi = g[i] + wd * p[i];
            sq[i] = rho * sq[i] + crho * gi * gi;
            tg_real delta = sqrt_r(acc[i] + eps) / sqrt_r(sq[i] + eps) * gi;
            acc[i] = rho * acc[i] + crho * delta * delta;
            p[i] -= lr * delta;
        }
    }
}
