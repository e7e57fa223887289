/* adam.c — Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019, decoupled weight
 * decay), in PyTorch's arrangement of the bias corrections:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Adam adds wd p to g (L2); AdamW first shrinks p *= 1 - lr wd. */
#include <math.h>

#include "optim/optim_internal.h"

void tg_adam_update(tg_optim *o, tg_params *ps)
{
    const double t = (double)(o->step + 1), b1 = o->cfg.beta1, b2 = o->cfg.beta2;
    const int decoupled = o->cfg.kind == TG_OPTIM_ADAMW;
    /* per-step scalars in double, rounded once */
    const tg_real step_size = (tg_real)(o->lr / (1.0 - pow(b1, t)));
    const tg_real inv_bc2 = (tg_real)(1.0 / sqrt(1.0 - pow(b2, t)));
    const tg_real eps = (tg_real)o->cfg.eps, rb1 = (tg_real)b1, rb2 = (tg_real)b2;
    const tg_real cb1 = (tg_real)(1.0 - b1), cb2 = (tg_real)(1.0 - b2);
    const tg_real wd = decoupled ? TG_R(0.0) : (tg_real)o->cfg.weight_decay;
    const tg_real shrink = decoupled ? (tg_real)(1.0 - o->lr * o->cfg.weight_decay) : TG_R(1.0);
    tg_real *p = ps->value, *g = ps->grad, *m = o->state, *v = o->state + o->n;
    for (int k = 0; k < ps->count; k++) {
        size_t lo, hi;
        if (!tg_active_range(ps, k, &lo, &hi))
            continue;
#pragma omp parallel for simd schedule(static) if (hi - lo > 65536)
        for (size_t i = lo; i < hi; i++) {
            tg_real gi = g[i] + wd * p[i];
            m[i] = rb1 * m[i] + cb1 * gi;
            v[i] = rb2 * v[i] + cb2 * gi * gi;
            p[i] = shrink * p[i] - step_size * m[i] / (sqrt_r(v[i]) * inv_bc2 + eps);
        }
    }
}
