/* test_nn_lstm_raw.c — the fused LSTM kernels on flat arrays (no tape):
 *  - forward equals a naive per-element reference written here in double (PyTorch's
 *    equations, gate order i, f, g, o);
 *  - backward equals central finite differences of L = sum(wh * h) + sum(wc * c_T) for
 *    every input, weight, bias, h0 and c0 (double build: rel err < 1e-6);
 *  - results are bit-identical with 1 and 2 threads, and nearly equal across batch
 *    partitions (chunks);
 *  - at a width where the vector paths of the cell kernels run (H = 40), forward and
 *    backward match the double reference / the double-precision gradients in float too;
 *  - over 9200 rows (more than one block of the weight-gradient product), every backward
 *    product equals its double recomputation from the dA the kernel leaves in the gates. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { T = 6, B = 5, F = 4, H = 11, G = 4 * H };

static double sig(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Naive reference: h (T, B, H), c (T, B, H) in double. */
static void ref_forward(double *h, double *c, const tg_real *x, const tg_real *wih, const tg_real *whh,
                        const tg_real *bih, const tg_real *bhh, const tg_real *h0, const tg_real *c0)
{
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            double a[G];
            for (int k = 0; k < G; k++) {
                double s = (double)bih[k] + (double)bhh[k];
                for (int f = 0; f < F; f++)
                    s += (double)wih[k * F + f] * (double)x[(t * B + b) * F + f];
                for (int j = 0; j < H; j++) {
                    double hp = t ? h[((t - 1) * B + b) * H + j] : (h0 ? (double)h0[b * H + j] : 0.0);
                    s += (double)whh[k * H + j] * hp;
                }
                a[k] = s;
            }
            for (int j = 0; j < H; j++) {
                double ig = sig(a[j]), fg = sig(a[H + j]), gg = tanh(a[2 * H + j]), og = sig(a[3 * H + j]);
                double cp = t ? c[((t - 1) * B + b) * H + j] : (c0 ? (double)c0[b * H + j] : 0.0);
                double cc = fg * cp + ig * gg;
                c[(t * B + b) * H + j] = cc;
                h[(t * B + b) * H + j] = og * tanh(cc);
            }
        }
}

typedef struct problem {
    tg_real x[T * B * F], wih[G * F], whh[G * H], bih[G], bhh[G], h0[B * H], c0[B * H];
    tg_real wh[T * B * H], wc[B * H];     /* loss weights */
    int use_h0, use_c0;
} problem;

static void fill(tg_real *v, int n, tg_rng *r, double scale)
{
    for (int i = 0; i < n; i++)
        v[i] = (tg_real)(scale * (2.0 * tg_rng_uniform(r) - 1.0));
}

static double loss_of(const problem *p, int chunks)
{
    tg_real h[T * B * H], c[T * B * H], gates[T * B * G];
    tg_lstm_forward(h, c, gates, p->x, p->wih, p->whh, p->bih, p->bhh, p->use_h0 ? p->h0 : NULL,
                    p->use_c0 ? p->c0 : NULL, T, B, F, H, chunks);
    double L = 0.0;
    for (int i = 0; i < T * B * H; i++)
        L += (double)p->wh[i] * (double)h[i];
    for (int i = 0; i < B * H; i++)
        L += (double)p->wc[i] * (double)c[(T - 1) * B * H + i];
    return L;
}

typedef struct grads {
    tg_real x[T * B * F], wih[G * F], whh[G * H], bih[G], bhh[G], h0[B * H], c0[B * H];
} grads;

static void analytic(const problem *p, grads *g, int chunks)
{
    tg_real h[T * B * H], c[T * B * H], gates[T * B * G];
    memset(g, 0, sizeof *g);
    const tg_real *h0 = p->use_h0 ? p->h0 : NULL, *c0 = p->use_c0 ? p->c0 : NULL;
    tg_lstm_forward(h, c, gates, p->x, p->wih, p->whh, p->bih, p->bhh, h0, c0, T, B, F, H, chunks);
    int rc = tg_lstm_backward(g->x, g->wih, g->whh, g->bih, g->bhh, p->use_h0 ? g->h0 : NULL,
                              p->use_c0 ? g->c0 : NULL, gates, p->wh, p->wc, h, c, p->x, p->wih, p->whh, h0, c0,
                              T, B, F, H, chunks);
    CHECK(rc == 0, "backward rc %d", rc);
}

/* Central differences on every scalar of `v` (n of them) against the analytic gradient. */
static double fd_check(problem *p, tg_real *v, const tg_real *gv, int n, const char *what)
{
#ifdef TG_DOUBLE
    const double step = 1e-5;   /* balances truncation (h^2) and rounding (eps/h) */
#else
    const double step = 1e-2;
#endif
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        tg_real keep = v[i];
        v[i] = (tg_real)((double)keep + step);
        double lp = loss_of(p, 0);
        v[i] = (tg_real)((double)keep - step);
        double lm = loss_of(p, 0);
        v[i] = keep;
        double fd = (lp - lm) / (2.0 * step);
#ifdef TG_DOUBLE
        double e = tg_rel_err((double)gv[i], fd, 1e-3);
#else
        double e = tg_rel_err((double)gv[i], fd, 1e-1);   /* float differences: ~1e-4 absolute noise */
#endif
        if (e > worst)
            worst = e;
    }
#ifdef TG_DOUBLE
    CHECK(worst < 1e-6, "%s: worst rel err %.3g", what, worst);
#else
    CHECK(worst < 3e-2, "%s: worst rel err %.3g", what, worst);
#endif
    return worst;
}

static void run_case(int use_h0, int use_c0)
{
    static problem p;
    static grads g;
    tg_rng r;
    tg_rng_seed(&r, 7 + (uint64_t)(2 * use_h0 + use_c0));
    fill(p.x, T * B * F, &r, 1.0);
    fill(p.wih, G * F, &r, 0.5);
    fill(p.whh, G * H, &r, 0.5);
    fill(p.bih, G, &r, 0.5);
    fill(p.bhh, G, &r, 0.5);
    fill(p.h0, B * H, &r, 0.8);
    fill(p.c0, B * H, &r, 0.8);
    fill(p.wh, T * B * H, &r, 1.0);
    fill(p.wc, B * H, &r, 1.0);
    p.use_h0 = use_h0, p.use_c0 = use_c0;

    /* forward vs the naive reference */
    static double hr[T * B * H], cr[T * B * H];
    static tg_real h[T * B * H], c[T * B * H], gates[T * B * G];
    ref_forward(hr, cr, p.x, p.wih, p.whh, p.bih, p.bhh, use_h0 ? p.h0 : NULL, use_c0 ? p.c0 : NULL);
    tg_lstm_forward(h, c, gates, p.x, p.wih, p.whh, p.bih, p.bhh, use_h0 ? p.h0 : NULL, use_c0 ? p.c0 : NULL, T, B,
                    F, H, 0);
    double worst = 0.0;
    for (int i = 0; i < T * B * H; i++) {
        double e1 = fabs((double)h[i] - hr[i]), e2 = fabs((double)c[i] - cr[i]);
        worst = e1 > worst ? e1 : worst;
        worst = e2 > worst ? e2 : worst;
    }
#ifdef TG_DOUBLE
    CHECK(worst < 1e-13, "forward vs reference (h0 %d c0 %d): %.3g", use_h0, use_c0, worst);
#else
    CHECK(worst < 2e-6, "forward vs reference (h0 %d c0 %d): %.3g", use_h0, use_c0, worst);
#endif

    /* backward vs finite differences */
    analytic(&p, &g, 0);
    fd_check(&p, p.x, g.x, T * B * F, "dx");
    fd_check(&p, p.wih, g.wih, G * F, "dW_ih");
    fd_check(&p, p.whh, g.whh, G * H, "dW_hh");
    fd_check(&p, p.bih, g.bih, G, "db_ih");
    fd_check(&p, p.bhh, g.bhh, G, "db_hh");
    if (use_h0)
        fd_check(&p, p.h0, g.h0, B * H, "dh0");
    if (use_c0)
        fd_check(&p, p.c0, g.c0, B * H, "dc0");

    /* chunks: a different batch partition changes BLAS blocking only (tiny differences) */
    static grads g3;
    analytic(&p, &g3, 3);
    double wd = 0.0;
    for (int i = 0; i < G * H; i++)
        wd = fmax(wd, fabs((double)g3.whh[i] - (double)g.whh[i]));
    CHECK(wd < 1e-4, "chunks 3 vs auto: max |d dW_hh| %.3g", wd);
}

static void thread_determinism(void)
{
    static problem p;
    static grads g1, g2;
    tg_rng r;
    tg_rng_seed(&r, 99);
    fill(p.x, T * B * F, &r, 1.0);
    fill(p.wih, G * F, &r, 0.5);
    fill(p.whh, G * H, &r, 0.5);
    fill(p.bih, G, &r, 0.5);
    fill(p.bhh, G, &r, 0.5);
    fill(p.h0, B * H, &r, 0.8);
    fill(p.c0, B * H, &r, 0.8);
    fill(p.wh, T * B * H, &r, 1.0);
    fill(p.wc, B * H, &r, 1.0);
    p.use_h0 = p.use_c0 = 1;
    int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    analytic(&p, &g1, 2);
    omp_set_num_threads(2);
    analytic(&p, &g2, 2);
    omp_set_num_threads(keep);
    CHECK(memcmp(&g1, &g2, sizeof g1) == 0, "gradients differ between 1 and 2 threads");
}

/* The vectorised cell paths (16- and 8-lane) at H = 40, against the naive reference with
 * the same equations; the backward against the scalar path is covered by the fused op's
 * agreement with the tape in test_nn_lstm. Here: forward values and a directional
 * derivative of the loss (backward) against a double finite difference. */
enum { VT = 5, VB = 4, VF = 3, VH = 40, VG = 4 * VH };

static double vec_loss(const tg_real *x, const tg_real *wih, const tg_real *whh, const tg_real *bih,
                       const tg_real *bhh, const tg_real *wh, tg_real *h, tg_real *c, tg_real *gates)
{
    tg_lstm_forward(h, c, gates, x, wih, whh, bih, bhh, NULL, NULL, VT, VB, VF, VH, 0);
    double L = 0.0;
    for (int i = 0; i < VT * VB * VH; i++)
        L += (double)wh[i] * (double)h[i];
    return L;
}

static void vector_paths(void)
{
    static tg_real x[VT * VB * VF], wih[VG * VF], whh[VG * VH], bih[VG], bhh[VG], wh[VT * VB * VH];
    static tg_real h[VT * VB * VH], c[VT * VB * VH], gates[VT * VB * VG];
    static tg_real dx[VT * VB * VF], dwih[VG * VF], dwhh[VG * VH], dbih[VG], dbhh[VG];
    static double hr[VT * VB * VH], cr[VT * VB * VH];
    tg_rng r;
    tg_rng_seed(&r, 5);
    fill(x, VT * VB * VF, &r, 2.0), fill(wih, VG * VF, &r, 1.0), fill(whh, VG * VH, &r, 0.4);
    fill(bih, VG, &r, 1.0), fill(bhh, VG, &r, 1.0), fill(wh, VT * VB * VH, &r, 1.0);
    /* the naive reference is written for the global sizes; evaluate it row by row here */
    double worst = 0.0;
    vec_loss(x, wih, whh, bih, bhh, wh, h, c, gates);
    for (int t = 0; t < VT; t++)
        for (int b = 0; b < VB; b++)
            for (int j = 0; j < VH; j++) {
                double a[4];
                for (int q = 0; q < 4; q++) {
                    int k = q * VH + j;
                    double s = (double)bih[k] + (double)bhh[k];
                    for (int f = 0; f < VF; f++)
                        s += (double)wih[k * VF + f] * (double)x[(t * VB + b) * VF + f];
                    for (int m = 0; m < VH; m++)
                        s += (double)whh[k * VH + m] * (t ? hr[((t - 1) * VB + b) * VH + m] : 0.0);
                    a[q] = s;
                }
                double cp = t ? cr[((t - 1) * VB + b) * VH + j] : 0.0;
                double cc = sig(a[1]) * cp + sig(a[0]) * tanh(a[2]);
                cr[(t * VB + b) * VH + j] = cc;
                hr[(t * VB + b) * VH + j] = sig(a[3]) * tanh(cc);
            }
    for (int i = 0; i < VT * VB * VH; i++)
        worst = fmax(worst, fmax(fabs((double)h[i] - hr[i]), fabs((double)c[i] - cr[i])));
#ifdef TG_DOUBLE
    CHECK(worst < 1e-13, "vector path forward: %.3g", worst);
#else
    CHECK(worst < 3e-6, "vector path forward (float): %.3g", worst);
#endif
    /* backward: directional derivative along a random direction of W_hh */
    static tg_real dir[VG * VH], wp[VG * VH];
    fill(dir, VG * VH, &r, 1.0);
    memset(dwhh, 0, sizeof dwhh);
    tg_lstm_backward(dx, dwih, dwhh, dbih, dbhh, NULL, NULL, gates, wh, NULL, h, c, x, wih, whh, NULL, NULL, VT, VB,
                     VF, VH, 0);
#ifdef TG_DOUBLE
    const double eps = 1e-5;
#else
    const double eps = 1e-3;
#endif
    double an = 0.0;
    for (int i = 0; i < VG * VH; i++)
        an += (double)dwhh[i] * (double)dir[i];
    double lp, lm;
    for (int i = 0; i < VG * VH; i++)
        wp[i] = (tg_real)((double)whh[i] + eps * (double)dir[i]);
    lp = vec_loss(x, wih, wp, bih, bhh, wh, h, c, gates);
    for (int i = 0; i < VG * VH; i++)
        wp[i] = (tg_real)((double)whh[i] - eps * (double)dir[i]);
    lm = vec_loss(x, wih, wp, bih, bhh, wh, h, c, gates);
    double fd = (lp - lm) / (2 * eps);
#ifdef TG_DOUBLE
    CHECK(tg_rel_err(an, fd, 1e-3) < 1e-6, "vector path backward: %.10g vs %.10g", an, fd);
#else
    CHECK(tg_rel_err(an, fd, 1e-3) < 2e-3, "vector path backward (float): %.10g vs %.10g", an, fd);
#endif
}

/* Long sequences: the weight gradient [dW_ih, dW_hh] += dA^T [X, H_prev] is one product
 * over T*B rows, built in blocks of 8192 rows (lstm_kernels.c); here 40 x 230 = 9200 rows,
 * so a second, partial block starts in the middle of a step. After backward the gates
 * buffer holds dA, so every product of the backward can be recomputed here in double:
 * dW_ih, dW_hh (onto nonzero starting values: the kernel accumulates), dx (onto nonzero
 * values) and dh0. Tolerance: |kernel - ref| <= tol * sum of |terms| — the rounding bound
 * of a sum scales with the magnitudes summed, not with the (possibly cancelling) result
 * (measured worst: float 1.5e-7, double 6.7e-16; tol 1e-5 / 1e-13 leaves ~100x for other
 * BLAS kernels' summation orders; a block summed twice or dropped gives ~0.07). */
enum { LT = 40, LB = 230, LF = 3, LH = 5, LG = 4 * LH };

static void long_weight_gradient(void)
{
    const size_t nx = (size_t)LT * LB * LF, nh = (size_t)LT * LB * LH, ng = (size_t)LT * LB * LG;
    tg_real *x = malloc(sizeof(tg_real) * nx), *h = malloc(sizeof(tg_real) * nh), *c = malloc(sizeof(tg_real) * nh);
    tg_real *gates = malloc(sizeof(tg_real) * ng), *wh = malloc(sizeof(tg_real) * nh);
    tg_real *dx = malloc(sizeof(tg_real) * nx), *dx_in = malloc(sizeof(tg_real) * nx);
    static tg_real wih[LG * LF], whh[LG * LH], bih[LG], bhh[LG], h0[LB * LH], c0[LB * LH];
    static tg_real dwih[LG * LF], dwhh[LG * LH], dwih_in[LG * LF], dwhh_in[LG * LH], dbih[LG], dbhh[LG];
    static tg_real dh0[LB * LH], dc0[LB * LH];
    tg_rng r;
    tg_rng_seed(&r, 11);
    fill(x, (int)nx, &r, 1.5), fill(wih, LG * LF, &r, 0.8), fill(whh, LG * LH, &r, 0.6), fill(bih, LG, &r, 0.5);
    fill(bhh, LG, &r, 0.5), fill(h0, LB * LH, &r, 0.7), fill(c0, LB * LH, &r, 0.7), fill(wh, (int)nh, &r, 1.0);
    fill(dx_in, (int)nx, &r, 0.3), fill(dwih_in, LG * LF, &r, 0.3), fill(dwhh_in, LG * LH, &r, 0.3);
    memcpy(dx, dx_in, sizeof(tg_real) * nx), memcpy(dwih, dwih_in, sizeof dwih), memcpy(dwhh, dwhh_in, sizeof dwhh);
    memset(dh0, 0, sizeof dh0), memset(dc0, 0, sizeof dc0), memset(dbih, 0, sizeof dbih), memset(dbhh, 0, sizeof dbhh);
    tg_lstm_forward(h, c, gates, x, wih, whh, bih, bhh, h0, c0, LT, LB, LF, LH, 0);
    CHECK(tg_lstm_backward(dx, dwih, dwhh, dbih, dbhh, dh0, dc0, gates, wh, NULL, h, c, x, wih, whh, h0, c0, LT, LB,
                           LF, LH, 0) == 0, "long backward failed");
#ifdef TG_DOUBLE
    const double tol = 1e-13;
#else
    const double tol = 1e-5;
#endif
    double worst[4] = {0, 0, 0, 0};    /* dW_ih, dW_hh, dx, dh0: error / sum of |terms| */
    for (int k = 0; k < LG; k++)
        for (int j = 0; j < LF + LH; j++) {
            double s = j < LF ? (double)dwih_in[k * LF + j] : (double)dwhh_in[k * LH + j - LF], sa = fabs(s);
            for (size_t q = 0; q < (size_t)LT * LB; q++) {
                double v = j < LF ? (double)x[q * LF + j]
                                  : q >= LB ? (double)h[(q - LB) * LH + (size_t)(j - LF)] : (double)h0[q * LH + (size_t)(j - LF)];
                s += (double)gates[q * LG + (size_t)k] * v, sa += fabs((double)gates[q * LG + (size_t)k] * v);
            }
            double got = j < LF ? (double)dwih[k * LF + j] : (double)dwhh[k * LH + j - LF];
            worst[j < LF ? 0 : 1] = fmax(worst[j < LF ? 0 : 1], fabs(got - s) / sa);
        }
    for (size_t q = 0; q < (size_t)LT * LB; q++) {
        for (int f = 0; f < LF; f++) {
            double s = (double)dx_in[q * LF + (size_t)f], sa = fabs(s);
            for (int k = 0; k < LG; k++)
                s += (double)gates[q * LG + (size_t)k] * (double)wih[k * LF + f],
                    sa += fabs((double)gates[q * LG + (size_t)k] * (double)wih[k * LF + f]);
            worst[2] = fmax(worst[2], fabs((double)dx[q * LF + (size_t)f] - s) / sa);
        }
        for (int j = 0; q < LB && j < LH; j++) {
            double s = 0.0, sa = 0.0;
            for (int k = 0; k < LG; k++)
                s += (double)gates[q * LG + (size_t)k] * (double)whh[k * LH + j],
                    sa += fabs((double)gates[q * LG + (size_t)k] * (double)whh[k * LH + j]);
            worst[3] = fmax(worst[3], fabs((double)dh0[q * LH + (size_t)j] - s) / sa);
        }
    }
    static const char *name[4] = {"dW_ih", "dW_hh", "dx", "dh0"};
    for (int i = 0; i < 4; i++)
        CHECK(worst[i] <= tol, "long sequence %s vs dA-based reference: error %.3g of the sum of |terms| (tol %g)",
              name[i], worst[i], tol);
    free(x), free(h), free(c), free(gates), free(wh), free(dx), free(dx_in);
}

int main(void)
{
    run_case(0, 0);
    run_case(1, 0);
    run_case(0, 1);
    run_case(1, 1);
    thread_determinism();
    vector_paths();
    long_weight_gradient();
    return tg_test_summary();
}
