/* sgd.c — SGD with optional L2 weight decay, momentum and Nesterov momentum, in
 * PyTorch's form: buf = momentum buf + g; step along buf (or g + momentum buf). */
#include "optim/optim_internal.h"

void tg_sgd_update(tg_optim *o, tg_params *ps)
{
    const tg_real lr = (tg_real)o->lr, wd = (tg_real)o->cfg.weight_decay, mu = (tg_real)o->cfg.momentum;
    const int nesterov = o->cfg.nesterov;
    tg_real *p = ps->value, *g = ps->grad, *buf = o->state;
    for (int k = 0; k < ps->count; k++) {
        size_t lo, hi;
        if (!tg_active_range(ps, k, &lo, &hi))
            continue;
#pragma omp parallel for simd schedule(static) if (hi - lo > 65536)
        for (size_t i = lo; i < hi; i++) {
            tg_real d = g[i] + wd * p[i];
            if (buf) {
                buf[i] = mu * buf[i] + d;
                d = nesterov ? d + mu * buf[i] : buf[i];
            }
            p[i] -= lr * d;
        }
    }
}
