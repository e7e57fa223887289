/* test_ude_common.h — known physics for the UDE tests: two coupled buckets,
 *   dS1/dt = p − e·tanh(S1) − k1·S1
 *   dS2/dt = k1·S1 − k2·S2 − β·S2³
 * θ = (k1, k2, β), u = (p, e). Smooth, nonlinear, stiff when k1 or k2 is large. */
#ifndef TEST_UDE_COMMON_H
#define TEST_UDE_COMMON_H
#include <math.h>
#include "terragrad/ude.h"

static int two_rhs(void *ud, const tg_ude_args *a, tg_real *dS)
{
    (void)ud;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *S = a->S + 2 * b, *th = a->theta + 3 * b, *u = a->u + 2 * b;
        dS[2 * b] = u[0] - u[1] * (tg_real)tanh((double)S[0]) - th[0] * S[0];
        dS[2 * b + 1] = th[0] * S[0] - th[1] * S[1] - th[2] * S[1] * S[1] * S[1];
    }
    return 0;
}

static int two_jvp(void *ud, const tg_ude_args *a, const tg_real *v, tg_real *Jv)
{
    (void)ud;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *S = a->S + 2 * b, *th = a->theta + 3 * b, *u = a->u + 2 * b;
        tg_real t = (tg_real)tanh((double)S[0]);
        tg_real j11 = -u[1] * (1 - t * t) - th[0], j21 = th[0], j22 = -th[1] - 3 * th[2] * S[1] * S[1];
        Jv[2 * b] = j11 * v[2 * b];
        Jv[2 * b + 1] = j21 * v[2 * b] + j22 * v[2 * b + 1];
    }
    return 0;
}

static int two_vjp(void *ud, const tg_ude_args *a, const tg_real *w, tg_real *S_bar,
                   tg_real *theta_bar, tg_real *u_bar)
{
    (void)ud;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *S = a->S + 2 * b, *th = a->theta + 3 * b, *u = a->u + 2 * b;
        const tg_real w1 = w[2 * b], w2 = w[2 * b + 1];
        tg_real t = (tg_real)tanh((double)S[0]);
        if (S_bar) {
            S_bar[2 * b] += (-u[1] * (1 - t * t) - th[0]) * w1 + th[0] * w2;
            S_bar[2 * b + 1] += (-th[1] - 3 * th[2] * S[1] * S[1]) * w2;
        }
        if (theta_bar) {
            theta_bar[3 * b] += -S[0] * w1 + S[0] * w2;
            theta_bar[3 * b + 1] += -S[1] * w2;
            theta_bar[3 * b + 2] += -S[1] * S[1] * S[1] * w2;
        }
        if (u_bar) {
            u_bar[2 * b] += w1;
            u_bar[2 * b + 1] += -t * w1;
        }
    }
    return 0;
}

static const tg_ude_fns two_fns = {"two_buckets", 2, 3, 2, two_rhs, two_jvp, two_vjp};
#endif
