/* hbv_hybrid_mlp.c — the small MLP g(SM/FC, T) of the hybrid HBV: 2 -> H1 -> H2 -> 1,
 * tanh hidden layers, sigmoid output, evaluated for a block of lanes at once (lanes
 * innermost, so the loops vectorise), with its hand-written backward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/hbv_hybrid_internal.h"
#include "models/vmath.h"

#define R0 TG_R(0.0)
#define R1 TG_R(1.0)

/* tanh from one exp of -2|a|: (1 - e) / (1 + e) with the sign of a; no overflow. */
TG_VINLINE tg_real hyb_tanh(tg_real a)
{
    tg_real aa = a < R0 ? -a : a;
    tg_real e = tg_vexp(TG_R(-2.0) * aa);
    tg_real t = (R1 - e) / (R1 + e);
    return a < R0 ? -t : t;
}

TG_VINLINE tg_real hyb_sigmoid(tg_real z)
{
    tg_real az = z < R0 ? -z : z;
    tg_real e = tg_vexp(-az);
    tg_real inv = R1 / (R1 + e);
    return z >= R0 ? inv : e * inv;
}

/* Offsets of the weight blocks in the flat array. */
typedef struct mlp_off { size_t W1, b1, W2, b2, w3, b3, n; } mlp_off;
static mlp_off offsets(const tg_hybrid_mlp *net)
{
    mlp_off o;
    size_t H1 = (size_t)net->H1, H2 = (size_t)net->H2;
    o.W1 = 0;
    o.b1 = 2 * H1;
    o.W2 = o.b1 + H1;
    o.b2 = o.W2 + H2 * H1;
    o.w3 = o.b2 + H2;
    o.b3 = o.w3 + H2;
    o.n = o.b3 + 1;
    return o;
}

void tg_hybrid_mlp_init(tg_hybrid_mlp *net, int hidden)
{
    net->H1 = net->H2 = hidden;
    net->t_shift = TG_R(10.0);
    net->t_scale = TG_R(10.0);
}

size_t tg_hybrid_mlp_size(const tg_hybrid_mlp *net) { return offsets(net).n; }

int tg_hybrid_mlp_check(const tg_hybrid_mlp *net)
{
    if (net->H1 < 1 || net->H1 > TG_HYBRID_MAX_HIDDEN || net->H2 < 1 || net->H2 > TG_HYBRID_MAX_HIDDEN)
        return tg_error_set(TG_EINVAL, "hybrid mlp: hidden widths %d, %d must be in 1..%d", net->H1, net->H2,
                            TG_HYBRID_MAX_HIDDEN);
    if (!(net->t_scale > R0))
        return tg_error_set(TG_EINVAL, "hybrid mlp: t_scale must be positive");
    return 0;
}

void tg_hybrid_mlp_reset(const tg_hybrid_mlp *net, tg_real *w, tg_rng *rng, double g0)
{
    mlp_off o = offsets(net);
    double a1 = 1.0 / sqrt(2.0), a2 = 1.0 / sqrt((double)net->H1), a3 = 1.0 / sqrt((double)net->H2);
    for (size_t i = 0; i < o.W2; i++) w[i] = (tg_real)(a1 * (2 * tg_rng_uniform(rng) - 1));
    for (size_t i = o.W2; i < o.w3; i++) w[i] = (tg_real)(a2 * (2 * tg_rng_uniform(rng) - 1));
    for (size_t i = o.w3; i < o.b3; i++) w[i] = (tg_real)(a3 * (2 * tg_rng_uniform(rng) - 1));
    w[o.b3] = R0;
    /* output bias: g = g0 at x = (0, 0) */
    tg_real x[2] = {R0, net->t_shift}, g;
    tg_hybrid_mlp_eval(net, w, x, &g, 1);
    double z = log((double)g / (1.0 - (double)g));
    w[o.b3] = (tg_real)(log(g0 / (1.0 - g0)) - z);
}

void tg_hyb_mlp_forward(const tg_hybrid_mlp *net, const tg_real *w, int n, int ls, const tg_real *restrict x0,
                        const tg_real *restrict x1, tg_real *restrict h1, tg_real *restrict h2, tg_real *restrict g)
{
    const mlp_off o = offsets(net);
    const int H1 = net->H1, H2 = net->H2;
    for (int j = 0; j < H1; j++) {
        const tg_real a = w[o.W1 + 2 * (size_t)j], b = w[o.W1 + 2 * (size_t)j + 1], c = w[o.b1 + (size_t)j];
        tg_real *restrict hj = h1 + (size_t)j * (size_t)ls;
#pragma omp simd
        for (int i = 0; i < n; i++) hj[i] = hyb_tanh(a * x0[i] + b * x1[i] + c);
    }
    for (int k = 0; k < H2; k++) {
        tg_real *restrict hk = h2 + (size_t)k * (size_t)ls;
        const tg_real *wk = w + o.W2 + (size_t)k * (size_t)H1;
        const tg_real bk = w[o.b2 + (size_t)k];
#pragma omp simd
        for (int i = 0; i < n; i++) hk[i] = bk;
        for (int j = 0; j < H1; j++) {
            const tg_real wkj = wk[j];
            const tg_real *restrict hj = h1 + (size_t)j * (size_t)ls;
#pragma omp simd
            for (int i = 0; i < n; i++) hk[i] += wkj * hj[i];
        }
#pragma omp simd
        for (int i = 0; i < n; i++) hk[i] = hyb_tanh(hk[i]);
    }
    const tg_real b3 = w[o.b3];
#pragma omp simd
    for (int i = 0; i < n; i++) g[i] = b3;
    for (int k = 0; k < H2; k++) {
        const tg_real w3k = w[o.w3 + (size_t)k];
        const tg_real *restrict hk = h2 + (size_t)k * (size_t)ls;
#pragma omp simd
        for (int i = 0; i < n; i++) g[i] += w3k * hk[i];
    }
#pragma omp simd
    for (int i = 0; i < n; i++) g[i] = hyb_sigmoid(g[i]);
}

/* sum over lanes, in a fixed order per build (deterministic for any thread count) */
static double lane_sum(const tg_real *restrict a, int n)
{
    tg_real s = R0;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i];
    return (double)s;
}
static double lane_dot(const tg_real *restrict a, const tg_real *restrict b, int n)
{
    tg_real s = R0;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return (double)s;
}

void tg_hyb_mlp_backward(const tg_hybrid_mlp *net, const tg_real *w, int n, int ls, const tg_real *restrict x0,
                         const tg_real *restrict x1, const tg_real *restrict h1, const tg_real *restrict h2,
                         const tg_real *restrict g, const tg_real *restrict ag, double *gw, tg_real *restrict ax0,
                         tg_real *restrict ax1, tg_real *restrict work)
{
    const mlp_off o = offsets(net);
    const int H1 = net->H1, H2 = net->H2;
    const size_t s = (size_t)ls;
    tg_real *restrict dz = work;              /* (ls)      dL/d output pre-activation */
    tg_real *restrict d2 = work + s;          /* (H2, ls)  dL/d layer-2 pre-activations */
    tg_real *restrict d1 = work + s * (size_t)(1 + H2); /* (H1, ls) */
#pragma omp simd
    for (int i = 0; i < n; i++) dz[i] = ag[i] * g[i] * (R1 - g[i]);
    if (gw) gw[o.b3] += lane_sum(dz, n);
    for (int k = 0; k < H2; k++) {
        const tg_real *restrict hk = h2 + (size_t)k * s;
        tg_real *restrict dk = d2 + (size_t)k * s;
        const tg_real w3k = w[o.w3 + (size_t)k];
        if (gw) gw[o.w3 + (size_t)k] += lane_dot(dz, hk, n);
#pragma omp simd
        for (int i = 0; i < n; i++) dk[i] = dz[i] * w3k * (R1 - hk[i] * hk[i]);
        if (gw) {
            gw[o.b2 + (size_t)k] += lane_sum(dk, n);
            for (int j = 0; j < H1; j++) gw[o.W2 + (size_t)k * (size_t)H1 + (size_t)j] += lane_dot(dk, h1 + (size_t)j * s, n);
        }
    }
    for (int j = 0; j < H1; j++) {
        tg_real *restrict dj = d1 + (size_t)j * s;
        const tg_real *restrict hj = h1 + (size_t)j * s;
#pragma omp simd
        for (int i = 0; i < n; i++) dj[i] = R0;
        for (int k = 0; k < H2; k++) {
            const tg_real wkj = w[o.W2 + (size_t)k * (size_t)H1 + (size_t)j];
            const tg_real *restrict dk = d2 + (size_t)k * s;
#pragma omp simd
            for (int i = 0; i < n; i++) dj[i] += wkj * dk[i];
        }
#pragma omp simd
        for (int i = 0; i < n; i++) dj[i] *= R1 - hj[i] * hj[i];
        if (gw) {
            gw[o.b1 + (size_t)j] += lane_sum(dj, n);
            gw[o.W1 + 2 * (size_t)j] += lane_dot(dj, x0, n);
            gw[o.W1 + 2 * (size_t)j + 1] += lane_dot(dj, x1, n);
        }
    }
    if (ax0) {
#pragma omp simd
        for (int i = 0; i < n; i++) ax0[i] = R0;
        for (int j = 0; j < H1; j++) {
            const tg_real a = w[o.W1 + 2 * (size_t)j];
            const tg_real *restrict dj = d1 + (size_t)j * s;
#pragma omp simd
            for (int i = 0; i < n; i++) ax0[i] += a * dj[i];
        }
    }
    if (ax1) {
#pragma omp simd
        for (int i = 0; i < n; i++) ax1[i] = R0;
        for (int j = 0; j < H1; j++) {
            const tg_real b = w[o.W1 + 2 * (size_t)j + 1];
            const tg_real *restrict dj = d1 + (size_t)j * s;
#pragma omp simd
            for (int i = 0; i < n; i++) ax1[i] += b * dj[i];
        }
    }
}

void tg_hybrid_mlp_eval(const tg_hybrid_mlp *net, const tg_real *w, const tg_real *x, tg_real *g, int N)
{
    enum { CH = 64 };
    tg_real x0[CH], x1[CH], h1[TG_HYBRID_MAX_HIDDEN * CH], h2[TG_HYBRID_MAX_HIDDEN * CH];
    for (int s = 0; s < N; s += CH) {
        int n = N - s < CH ? N - s : CH;
        for (int i = 0; i < n; i++) {
            x0[i] = x[2 * (size_t)(s + i)];
            x1[i] = (x[2 * (size_t)(s + i) + 1] - net->t_shift) / net->t_scale;
        }
        tg_hyb_mlp_forward(net, w, n, CH, x0, x1, h1, h2, g + s);
    }
}
