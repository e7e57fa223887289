/* routing.c — gamma unit hydrograph (15 daily ordinates) and the causal convolution of
 * runoff with it, forward and backward.
 *
 * Ordinates: w_k = softmax_k(z_k), z_k = (a-1) ln t_k - t_k/θ, t_k = k + 1/2. The Gamma
 * normaliser Γ(a) θ^a cancels in the normalisation, and the softmax (max subtracted) is
 * safe for every a > 0, θ > 0. Backward of the softmax: dL/dz_k = w_k (g_k - Σ_j w_j g_j);
 * dz_k/da = ln t_k, dz_k/dθ = t_k/θ².
 * Convolution: y[t] = Σ_{k=0}^{min(t,K-1)} w_k q[t-k] (zero runoff before the series), so
 * dL/dq[s] = Σ_k w_k dL/dy[s+k] and dL/dw_k = Σ_t dL/dy[t] q[t-k]. Sums run in a fixed
 * order: results do not depend on threads or blocking. */
#include <math.h>

#include "terragrad/models.h"

void tg_uh_gamma_forward(tg_real *w, const tg_real *a, const tg_real *theta, int B)
{
    for (int b = 0; b < B; b++) {
        tg_real z[TG_UH_LEN], zmax = -TG_R(1e30), sum = TG_R(0.0);
        for (int k = 0; k < TG_UH_LEN; k++) {
            tg_real t = (tg_real)k + TG_R(0.5);
            z[k] = (a[b] - TG_R(1.0)) * (tg_real)log((double)t) - t / theta[b];
            if (z[k] > zmax) zmax = z[k];
        }
        for (int k = 0; k < TG_UH_LEN; k++) {
            z[k] = (tg_real)exp((double)(z[k] - zmax));
            sum += z[k];
        }
        for (int k = 0; k < TG_UH_LEN; k++) w[b * TG_UH_LEN + k] = z[k] / sum;
    }
}

void tg_uh_gamma_backward(tg_real *g_a, tg_real *g_theta, const tg_real *g_w, const tg_real *w,
                          const tg_real *a, const tg_real *theta, int B)
{
    (void)a;
    for (int b = 0; b < B; b++) {
        const tg_real *wb = w + b * TG_UH_LEN, *gb = g_w + b * TG_UH_LEN;
        tg_real s = TG_R(0.0), ga = TG_R(0.0), gt = TG_R(0.0);
        for (int k = 0; k < TG_UH_LEN; k++) s += wb[k] * gb[k];
        for (int k = 0; k < TG_UH_LEN; k++) {
            tg_real t = (tg_real)k + TG_R(0.5);
            tg_real gz = wb[k] * (gb[k] - s);
            ga += gz * (tg_real)log((double)t);
            gt += gz * t / (theta[b] * theta[b]);
        }
        if (g_a) g_a[b] += ga;
        if (g_theta) g_theta[b] += gt;
    }
}

void tg_uh_conv_forward(tg_real *y, int ldy, const tg_real *q, int ldq, const tg_real *w, int T, int B)
{
    for (int t = 0; t < T; t++) {
        tg_real *yr = y + (size_t)t * (size_t)ldy;
        for (int b = 0; b < B; b++) yr[b] = TG_R(0.0);
        int kmax = t < TG_UH_LEN - 1 ? t : TG_UH_LEN - 1;
        for (int k = 0; k <= kmax; k++) {
            const tg_real *qr = q + (size_t)(t - k) * (size_t)ldq;
            for (int b = 0; b < B; b++) yr[b] += w[b * TG_UH_LEN + k] * qr[b];
        }
    }
}

void tg_uh_conv_backward(tg_real *g_q, int ldgq, tg_real *g_w, const tg_real *g_y, int ldgy,
                         const tg_real *q, int ldq, const tg_real *w, int T, int B)
{
    for (int t = 0; t < T; t++) {
        const tg_real *gy = g_y + (size_t)t * (size_t)ldgy;
        int kmax = t < TG_UH_LEN - 1 ? t : TG_UH_LEN - 1;
        for (int k = 0; k <= kmax; k++) {
            if (g_q) {
                tg_real *gq = g_q + (size_t)(t - k) * (size_t)ldgq;
                for (int b = 0; b < B; b++) gq[b] += w[b * TG_UH_LEN + k] * gy[b];
            }
            if (g_w) {
                const tg_real *qr = q + (size_t)(t - k) * (size_t)ldq;
                for (int b = 0; b < B; b++) g_w[b * TG_UH_LEN + k] += gy[b] * qr[b];
            }
        }
    }
}

void tg_routing_scale_forward(tg_real *a, tg_real *theta, const tg_real *u, int B)
{
    for (int b = 0; b < B; b++) {
        a[b] = TG_R(0.1) + TG_R(2.9) * u[2 * b];
        theta[b] = TG_R(0.5) + TG_R(6.5) * u[2 * b + 1];
    }
}

void tg_routing_scale_backward(tg_real *g_u, const tg_real *g_a, const tg_real *g_theta, int B)
{
    for (int b = 0; b < B; b++) {
        if (g_a) g_u[2 * b] += TG_R(2.9) * g_a[b];
        if (g_theta) g_u[2 * b + 1] += TG_R(6.5) * g_theta[b];
    }
}
