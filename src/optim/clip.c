/* clip.c — global gradient norm and clipping (as torch.nn.utils.clip_grad_norm_). */
#include <math.h>

#include "optim/optim_internal.h"

double tg_grad_norm(const tg_params *ps)
{
    /* double accumulation in index order: the same value for any thread count */
    double s = 0.0;
    for (int k = 0; k < ps->count; k++) {
        size_t lo, hi;
        if (!tg_active_range(ps, k, &lo, &hi))
            continue;
        for (size_t i = lo; i < hi; i++)
            s += (double)ps->grad[i] * (double)ps->grad[i];
    }
    return sqrt(s);
}

double tg_clip_grad_norm(tg_params *ps, double max_norm)
{
    double norm = tg_grad_norm(ps);
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        const tg_real c = (tg_real)coef;
        for (size_t i = 0; i < ps->size; i++)
            ps->grad[i] *= c;
    }
    return norm;
}
