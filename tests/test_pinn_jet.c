/* test_pinn_jet.c — the Taylor-mode MLP op: input derivatives against hand-derived values
 * and finite differences, weight/input gradients of PDE residual losses against finite
 * differences, chained networks (K(h(z, t))), thread-count and ISA independence. */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "pinn/pinn_internal.h"
#include "testutil.h"

#ifdef TG_DOUBLE
#define TOL_FD 1e-7
#define TOL_GRAD 1e-6
#else
#define TOL_FD 2e-2
#define TOL_GRAD 5e-2
#endif

/* ------------------------------------------------------------------ 1 hidden unit by hand */
static void test_one_unit(void)
{
    /* u = w2 tanh(w1 x + b1) + b2:  u_x = w2 w1 s',  u_xx = w2 w1^2 s'' */
    tg_params *ps = tg_params_create();
    tg_pinn_net net;
    tg_pinn_net_init(&net, ps, "u", 2, (const int[]){1, 1, 1}, TG_PINN_TANH, NULL, NULL, NULL);
    const double w1 = 0.7, b1 = -0.3, w2 = 1.9, b2 = 0.25;
    tg_params_data(ps, net.param_id[0][0])[0] = (tg_real)w1;
    tg_params_data(ps, net.param_id[0][1])[0] = (tg_real)b1;
    tg_params_data(ps, net.param_id[1][0])[0] = (tg_real)w2;
    tg_params_data(ps, net.param_id[1][1])[0] = (tg_real)b2;
    tg_ctx *ctx = tg_ctx_create();
    const int N = 7;
    tg_real xs[7] = {-3, -1.2f, -0.4f, 0, 0.05f, 0.8f, 2.5f};
    tg_jet_spec spec;
    tg_jet_spec_init(&spec, 1, 1, (const int[][2]){{0, 0}});
    tg_jet in, u;
    tg_jet_coords(&in, tg_from(ctx, TG_SHAPE(N, 1), xs), &spec);
    CHECK(tg_pinn_net_jet(ctx, ps, &net, &in, &u) == 0, "%s", tg_error_message());
    for (int k = 0; k < N; k++) {
        double a = w1 * (double)xs[k] + b1, t = tanh(a), s1 = 1 - t * t, s2 = -2 * t * s1;
        CHECK_CLOSE(u.v->data[k], w2 * t + b2, 64 * TG_TEST_EPS, 0);
        CHECK_CLOSE(u.d[0]->data[k], w2 * w1 * s1, 64 * TG_TEST_EPS, 0);
        CHECK_CLOSE(u.dd[0]->data[k], w2 * w1 * w1 * s2, 64 * TG_TEST_EPS, 0);
    }
    /* the fast tanh itself: w1 = 1, b1 = 0, w2 = 1, b2 = 0 gives u = tanh x exactly */
    tg_params_data(ps, net.param_id[0][0])[0] = 1;
    tg_params_data(ps, net.param_id[0][1])[0] = 0;
    tg_params_data(ps, net.param_id[1][0])[0] = 1;
    tg_params_data(ps, net.param_id[1][1])[0] = 0;
    enum { M = 4001 };
    static tg_real xg[M], ug[M];
    for (int k = 0; k < M; k++)
        xg[k] = (tg_real)(-20.0 + 40.0 * k / (M - 1) * (k % 3 ? 1 : 0.001));
    tg_pinn_net_eval(&net, ps, M, xg, ug);
    double worst = 0;
    for (int k = 0; k < M; k++) {
        double ref = tanh((double)xg[k]), e = fabs((double)ug[k] - ref) / fmax(fabs(ref), 1e-300);
        worst = fmax(worst, e);
    }
    CHECK(worst < 4 * (double)TG_EPS, "fast tanh: worst relative error %.3g (%.2f ulp)", worst, worst / (double)TG_EPS);
    tg_real nanx = (tg_real)NAN, nanu = 0;
    tg_pinn_net_eval(&net, ps, 1, &nanx, &nanu);
    CHECK(nanu != nanu, "tanh(NaN) must stay NaN, got %g", (double)nanu);
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
}



/* Saturated units: u = tanh x, so u_x = sech^2 x and u_xx = -2 tanh x sech^2 x, both tiny
 * for |x| > 4 but needed to full RELATIVE precision (a PINN's u_x and u_xx sum such terms
 * times large weights). 1 - y*y from the rounded y = tanh x is off by ~eps in ABSOLUTE
 * terms: 0.4 % at |x| = 7, 6 % at 8, 100 % at 9 in float. Forward jet and the backward's
 * s2 (through d(sum u_x)/db) are checked within 16 ulp relative, on |x| in [0, 12].
 * The double build keeps 1 - y*y (its absolute error, 2.2e-16, is far below anything a
 * PINN resolves): there the check allows that absolute error as atol. */
#ifdef TG_DOUBLE
#define SAT_ATOL (4 * (double)TG_EPS)
#else
#define SAT_ATOL 0.0
#endif
/* |a - ref| / (16 eps |ref| + atol): <= 1 passes */
static double rel_atol(tg_real a, double ref)
{
    return fabs((double)a - ref) / (16 * (double)TG_EPS * fabs(ref) + SAT_ATOL);
}

static void test_saturated_derivatives(void)
{
    tg_params *ps = tg_params_create();
    tg_pinn_net net;
    tg_pinn_net_init(&net, ps, "u", 2, (const int[]){1, 1, 1}, TG_PINN_TANH, NULL, NULL, NULL);
    tg_params_data(ps, net.param_id[0][0])[0] = 1;
    tg_params_data(ps, net.param_id[1][0])[0] = 1;
    tg_params_data(ps, net.param_id[1][1])[0] = 0;
    tg_jet_spec spec;
    tg_jet_spec_init(&spec, 1, 1, (const int[][2]){{0, 0}});
    double worst_d = 0, worst_dd = 0, worst_g = 0;
    for (int k = 0; k <= 48; k++) {
        const double x = (k % 2 ? -1 : 1) * 0.25 * k; /* the unit's input: b1 = x at coordinate 0 */
        tg_params_data(ps, net.param_id[0][1])[0] = (tg_real)x;
        tg_ctx *ctx = tg_ctx_create();
        tg_real zero = 0;
        tg_jet in, u;
        tg_jet_coords(&in, tg_from(ctx, TG_SHAPE(1, 1), &zero), &spec);
        CHECK(tg_pinn_net_jet(ctx, ps, &net, &in, &u) == 0, "%s", tg_error_message());
        const double xr = (double)(tg_real)x, t = tanh(xr), c = cosh(xr), s1 = 1 / (c * c), s2 = -2 * t * s1;
        worst_d = fmax(worst_d, rel_atol(u.d[0]->data[0], s1));
        if (k)
            worst_dd = fmax(worst_dd, rel_atol(u.dd[0]->data[0], s2));
        /* d u_x / d b1 = s2 (the backward's activation derivative) */
        tg_params_zero_grad(ps);
        CHECK(tg_backward(ctx, tg_sum(ctx, u.d[0])) == 0, "%s", tg_error_message());
        if (k)
            worst_g = fmax(worst_g, rel_atol(ps->grad[ps->offset[net.param_id[0][1]]], s2));
        tg_ctx_free(&ctx);
    }
    CHECK(worst_d <= 1, "saturated tanh: u_x error %.3g x (16 ulp relative + atol)", worst_d);
    CHECK(worst_dd <= 1, "saturated tanh: u_xx error %.3g x (16 ulp relative + atol)", worst_dd);
    CHECK(worst_g <= 1, "saturated tanh: backward s2 error %.3g x (16 ulp relative + atol)", worst_g);
    tg_params_free(&ps);
}

/* ------------------------------------------------------------------ scalar double oracle */
/* The jet recursion written point by point in double, straight from the formulas: an
 * independent oracle for the tiled kernels in both builds. */
static void ref_jet(const tg_pinn_net *net, tg_params *ps, const tg_jet_spec *sp, const tg_real *x, double *out)
{
    double z[64], dz[3][64], ddz[6][64], nz[64], ndz[3][64], nddz[6][64];
    const int D = sp->ndir, P = sp->npair;
    for (int i = 0; i < net->size[0]; i++) {
        z[i] = (double)net->in_scale[i] * (double)x[i] + (double)net->in_shift[i];
        for (int d = 0; d < D; d++)
            dz[d][i] = d == i ? (double)net->in_scale[i] : 0;
        for (int p = 0; p < P; p++)
            ddz[p][i] = 0;
    }
    for (int l = 0; l < net->nlayers; l++) {
        const int ni = net->size[l], no = net->size[l + 1];
        const tg_real *W = tg_params_data(ps, net->param_id[l][0]), *b = tg_params_data(ps, net->param_id[l][1]);
        for (int o = 0; o < no; o++) {
            double a = b[o], ad[3] = {0}, add[6] = {0};
            for (int i = 0; i < ni; i++) {
                a += (double)W[o * ni + i] * z[i];
                for (int d = 0; d < D; d++)
                    ad[d] += (double)W[o * ni + i] * dz[d][i];
                for (int p = 0; p < P; p++)
                    add[p] += (double)W[o * ni + i] * ddz[p][i];
            }
            if (l == net->nlayers - 1) {
                nz[o] = a;
                for (int d = 0; d < D; d++)
                    ndz[d][o] = ad[d];
                for (int p = 0; p < P; p++)
                    nddz[p][o] = add[p];
                continue;
            }
            double s[4];
            tg_pinn_act_eval(net->act, a, s);
            nz[o] = s[0];
            for (int d = 0; d < D; d++)
                ndz[d][o] = s[1] * ad[d];
            for (int p = 0; p < P; p++)
                nddz[p][o] = s[2] * ad[sp->pair[p][0]] * ad[sp->pair[p][1]] + s[1] * add[p];
        }
        memcpy(z, nz, sizeof z);
        memcpy(dz, ndz, sizeof dz);
        memcpy(ddz, nddz, sizeof ddz);
    }
    const int F = net->size[net->nlayers];
    for (int o = 0; o < F; o++) {
        out[o] = z[o];
        for (int d = 0; d < D; d++)
            out[(1 + d) * F + o] = dz[d][o];
        for (int p = 0; p < P; p++)
            out[(1 + D + p) * F + o] = ddz[p][o];
    }
}

static void test_oracle(int D, int act)
{
    tg_rng rng;
    tg_rng_seed(&rng, 21 + (uint64_t)D);
    tg_params *ps = tg_params_create();
    tg_pinn_net net;
    const tg_real lo[3] = {-1, 0, -2}, hi[3] = {1, 1, 0.5f};
    int sizes[] = {D, 20, 20, 20, 3};
    tg_pinn_net_init(&net, ps, "u", 4, sizes, act, lo, hi, &rng);
    for (size_t k = 0; k < ps->size; k++)
        ps->value[k] += (tg_real)(0.05 * tg_rng_normal(&rng));
    int pairs[6][2], np = 0;
    for (int i = 0; i < D; i++)
        for (int j = D - 1; j >= i; j--) /* mixed pairs in a non-sorted order */
            pairs[np][0] = j, pairs[np][1] = i, np++;
    tg_jet_spec spec;
    tg_jet_spec_init(&spec, D, np, (const int(*)[2])pairs);
    enum { N = 333 };
    static tg_real x[N * 3];
    for (int k = 0; k < N * D; k++)
        x[k] = (tg_real)((double)lo[k % D] + (double)(hi[k % D] - lo[k % D]) * tg_rng_uniform(&rng));
    tg_ctx *ctx = tg_ctx_create();
    tg_jet in, u;
    tg_jet_coords(&in, tg_from(ctx, TG_SHAPE(N, D), x), &spec);
    CHECK(tg_pinn_net_jet(ctx, ps, &net, &in, &u) == 0, "%s", tg_error_message());
    double worst = 0, ref[10 * 3];
    for (int k = 0; k < N; k++) {
        ref_jet(&net, ps, &spec, x + k * D, ref);
        for (int o = 0; o < 3; o++) {
            worst = fmax(worst, tg_rel_err(u.v->data[k * 3 + o], ref[o], 1e-2));
            for (int d = 0; d < D; d++)
                worst = fmax(worst, tg_rel_err(u.d[d]->data[k * 3 + o], ref[(1 + d) * 3 + o], 1e-2));
            for (int p = 0; p < np; p++)
                worst = fmax(worst, tg_rel_err(u.dd[p]->data[k * 3 + o], ref[(1 + D + p) * 3 + o], 1e-2));
        }
    }
#ifdef TG_DOUBLE
    const double tol = 1e-12;
#else
    const double tol = 1e-4;
#endif
    CHECK(worst < tol, "D=%d %s: tiled jet vs scalar double oracle, worst rel err %.3g", D, tg_pinn_act_name(act), worst);
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
}

#ifdef TG_DOUBLE /* finite differences are meaningful in double only */
static double pi(void) { return 3.14159265358979323846; }

/* ------------------------------------------------------------------ finite differences */
/* Random net with D inputs, all second-derivative pairs; jet derivatives vs central FD of
 * the value (first) and of the jet's first derivatives (second). */
static void test_fd_inputs(int D, int act)
{
    tg_rng rng;
    tg_rng_seed(&rng, 11 + (uint64_t)D);
    tg_params *ps = tg_params_create();
    tg_pinn_net net;
    const tg_real lo[3] = {-1, 0, -2}, hi[3] = {1, 1, 0.5f};
    int sizes[] = {D, 9, 7, 8, 2};
    tg_pinn_net_init(&net, ps, "u", 4, sizes, act, lo, hi, &rng);
    for (int l = 0; l < net.nlayers; l++) { /* non-zero biases */
        tg_real *b = tg_params_data(ps, net.param_id[l][1]);
        for (int o = 0; o < sizes[l + 1]; o++)
            b[o] = (tg_real)(0.3 * tg_rng_normal(&rng));
    }
    int pairs[6][2], np = 0;
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++)
            pairs[np][0] = i, pairs[np][1] = j, np++;
    tg_jet_spec spec;
    CHECK(tg_jet_spec_init(&spec, D, np, (const int(*)[2])pairs) == 0, "%s", tg_error_message());
    const int N = 70; /* more than one tile: exercises the padding of the second */
    tg_real x[70 * 3];
    for (int k = 0; k < N * D; k++)
        x[k] = (tg_real)((double)lo[k % D] + (double)(hi[k % D] - lo[k % D]) * tg_rng_uniform(&rng));
    tg_ctx *ctx = tg_ctx_create();
    tg_jet in, u;
    tg_jet_coords(&in, tg_from(ctx, TG_SHAPE(N, D), x), &spec);
    CHECK(tg_pinn_net_jet(ctx, ps, &net, &in, &u) == 0, "%s", tg_error_message());
    /* fourth-order central stencil: f' ~ (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / (12 h) */
    const double h = 1e-3, wgt[4] = {-1, 8, -8, 1}, off[4] = {2, 1, -1, -2};
    double worst1 = 0, worst2 = 0;
    for (int k = 0; k < N; k += 3)
        for (int i = 0; i < D; i++) {
            double fd1[2] = {0, 0}, fd2[3][2] = {{0}};
            for (int s = 0; s < 4; s++) {
                tg_real xp[3], up[2];
                memcpy(xp, x + k * D, (size_t)D * sizeof *xp);
                xp[i] += (tg_real)(off[s] * h);
                tg_pinn_net_eval(&net, ps, 1, xp, up);
                /* second derivatives (i, j) by the same stencil on the jet's d/dx_j */
                tg_ctx *c2 = tg_ctx_create();
                tg_jet jp, vp;
                tg_jet_coords(&jp, tg_from(c2, TG_SHAPE(1, D), xp), &spec);
                tg_pinn_net_jet(c2, ps, &net, &jp, &vp);
                for (int c = 0; c < 2; c++) {
                    fd1[c] += wgt[s] * up[c] / (12 * h);
                    for (int j = 0; j < D; j++)
                        fd2[j][c] += wgt[s] * vp.d[j]->data[c] / (12 * h);
                }
                tg_ctx_free(&c2);
            }
            for (int c = 0; c < 2; c++) {
                worst1 = fmax(worst1, tg_rel_err(u.d[i]->data[k * 2 + c], fd1[c], 1e-3));
                for (int j = 0; j < D; j++)
                    worst2 = fmax(worst2, tg_rel_err(u.dd[tg_jet_spec_find(&spec, i, j)]->data[k * 2 + c], fd2[j][c], 1e-3));
            }
        }
    CHECK(worst1 < TOL_FD, "D=%d %s: first derivatives vs FD, worst rel err %.3g", D, tg_pinn_act_name(act), worst1);
    CHECK(worst2 < TOL_FD, "D=%d %s: second derivatives vs FD, worst rel err %.3g", D, tg_pinn_act_name(act), worst2);
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
}

/* ------------------------------------------------------------------ residual-loss gradients */
typedef struct {
    tg_pinn_net net;
    tg_params *ps;
    int nf, nb;
    tg_real *xf, *xb, *ub;
} burgers_case;

/* L = mean((u_t + u u_x - nu u_xx)^2) + mean((u(xb) - ub)^2); returns the loss tensor. */
static tg_tensor *burgers_loss(tg_ctx *ctx, burgers_case *bc, tg_tensor *xf)
{
    tg_jet_spec spec;
    tg_jet_spec_init(&spec, 2, 1, (const int[][2]){{0, 0}});
    tg_jet in, u, inb, ubj;
    tg_jet_coords(&in, xf, &spec);
    if (tg_pinn_net_jet(ctx, bc->ps, &bc->net, &in, &u))
        return NULL;
    const tg_real nu = (tg_real)(0.01 / pi());
    tg_tensor *f = tg_add(ctx, tg_add(ctx, u.d[1], tg_mul(ctx, u.v, u.d[0])), tg_muls(ctx, u.dd[0], -nu));
    tg_tensor *lf = tg_mean(ctx, tg_mul(ctx, f, f));
    tg_jet_spec s0;
    tg_jet_spec_init(&s0, 2, 0, NULL);
    tg_jet_coords(&inb, tg_from(ctx, TG_SHAPE(bc->nb, 2), bc->xb), &s0);
    if (tg_pinn_net_jet(ctx, bc->ps, &bc->net, &inb, &ubj))
        return NULL;
    tg_tensor *e = tg_sub(ctx, ubj.v, tg_from(ctx, TG_SHAPE(bc->nb, 1), bc->ub));
    return tg_add(ctx, lf, tg_mean(ctx, tg_mul(ctx, e, e)));
}

static double burgers_value(burgers_case *bc)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_ctx_set_grad(ctx, 0);
    tg_tensor *L = burgers_loss(ctx, bc, tg_from(ctx, TG_SHAPE(bc->nf, 2), bc->xf));
    double v = L ? (double)L->data[0] : (double)NAN;
    tg_ctx_free(&ctx);
    return v;
}

static void test_burgers_grad(void)
{
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    burgers_case bc = {0};
    bc.ps = tg_params_create();
    const tg_real lo[2] = {-1, 0}, hi[2] = {1, 1};
    tg_pinn_net_init(&bc.net, bc.ps, "u", 4, (const int[]){2, 12, 10, 12, 1}, TG_PINN_TANH, lo, hi, &rng);
    for (size_t k = 0; k < bc.ps->size; k++) /* non-zero biases too */
        bc.ps->value[k] += (tg_real)(0.05 * tg_rng_normal(&rng));
    bc.nf = 150, bc.nb = 20;
    tg_real xf[300], xb[40], ub[20];
    for (int k = 0; k < bc.nf; k++)
        xf[2 * k] = (tg_real)(2 * tg_rng_uniform(&rng) - 1), xf[2 * k + 1] = (tg_real)tg_rng_uniform(&rng);
    for (int k = 0; k < bc.nb; k++) {
        xb[2 * k] = (tg_real)(2 * tg_rng_uniform(&rng) - 1), xb[2 * k + 1] = 0;
        ub[k] = (tg_real)-sin(pi() * xb[2 * k]);
    }
    bc.xf = xf, bc.xb = xb, bc.ub = ub;

    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *xt = tg_leaf(ctx, TG_SHAPE(bc.nf, 2), xf); /* gradient w.r.t. collocation points too */
    tg_tensor *L = burgers_loss(ctx, &bc, xt);
    CHECK(L && tg_backward(ctx, L) == 0, "%s", tg_error_message());
    double worst = 0, worst_x = 0;
    const double h = 1e-5;
    for (size_t k = 0; k < bc.ps->size; k++) {
        tg_real keep = bc.ps->value[k];
        bc.ps->value[k] = keep + (tg_real)h;
        double lp = burgers_value(&bc);
        bc.ps->value[k] = keep - (tg_real)h;
        double lm = burgers_value(&bc);
        bc.ps->value[k] = keep;
        worst = fmax(worst, tg_rel_err(bc.ps->grad[k], (lp - lm) / (2 * h), 1e-6));
    }
    for (int k = 0; k < 2 * bc.nf; k += 7) {
        tg_real keep = xf[k];
        xf[k] = keep + (tg_real)h;
        double lp = burgers_value(&bc);
        xf[k] = keep - (tg_real)h;
        double lm = burgers_value(&bc);
        xf[k] = keep;
        worst_x = fmax(worst_x, tg_rel_err(xt->grad[k], (lp - lm) / (2 * h), 1e-6));
    }
    CHECK(worst < TOL_GRAD, "Burgers residual loss: weight gradients vs FD, worst rel err %.3g", worst);
    CHECK(worst_x < TOL_GRAD, "Burgers residual loss: collocation-point gradients vs FD, worst rel err %.3g", worst_x);
    tg_ctx_free(&ctx);
    tg_params_free(&bc.ps);
}

/* ------------------------------------------------------------------ chained networks */
/* K(h(z, t)) with both nets trainable: K's jet (incl. the mixed K_zt) against FD of the
 * composition, and a loss on it against FD in every weight of both nets. */
typedef struct {
    tg_params *ps;
    tg_pinn_net hnet, knet;
    tg_jet_spec spec;
    int n;
    tg_real *x;
} chain_case;

static int chain_jet(tg_ctx *ctx, chain_case *cc, tg_tensor *x, tg_jet *K)
{
    tg_jet in, h;
    tg_jet_coords(&in, x, &cc->spec);
    if (tg_pinn_net_jet(ctx, cc->ps, &cc->hnet, &in, &h))
        return -1;
    return tg_pinn_net_jet(ctx, cc->ps, &cc->knet, &h, K);
}

/* L = mean(K_t - K K_zz - (K_z)^2 + K_zt^2) : uses every channel */
static tg_tensor *chain_loss(tg_ctx *ctx, chain_case *cc, tg_tensor *x)
{
    tg_jet K;
    if (chain_jet(ctx, cc, x, &K))
        return NULL;
    tg_tensor *r = tg_sub(ctx, tg_sub(ctx, K.d[1], tg_mul(ctx, K.v, K.dd[0])), tg_mul(ctx, K.d[0], K.d[0]));
    r = tg_add(ctx, r, tg_mul(ctx, K.dd[1], K.dd[1]));
    return tg_mean(ctx, tg_mul(ctx, r, r));
}

static double chain_value(chain_case *cc)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_ctx_set_grad(ctx, 0);
    tg_tensor *L = chain_loss(ctx, cc, tg_from(ctx, TG_SHAPE(cc->n, 2), cc->x));
    double v = L ? (double)L->data[0] : (double)NAN;
    tg_ctx_free(&ctx);
    return v;
}

static void test_chain(void)
{
    tg_rng rng;
    tg_rng_seed(&rng, 99);
    chain_case cc = {0};
    cc.ps = tg_params_create();
    tg_pinn_net_init(&cc.hnet, cc.ps, "h", 3, (const int[]){2, 8, 8, 1}, TG_PINN_TANH, NULL, NULL, &rng);
    const tg_real klo = -2, khi = 2;
    tg_pinn_net_init(&cc.knet, cc.ps, "K", 2, (const int[]){1, 6, 1}, TG_PINN_SOFTPLUS, &klo, &khi, &rng);
    for (size_t k = 0; k < cc.ps->size; k++)
        cc.ps->value[k] += (tg_real)(0.1 * tg_rng_normal(&rng));
    tg_jet_spec_init(&cc.spec, 2, 2, (const int[][2]){{0, 0}, {0, 1}});
    cc.n = 40;
    tg_real x[80];
    for (int k = 0; k < 80; k++)
        x[k] = (tg_real)(2 * tg_rng_uniform(&rng) - 1);
    cc.x = x;
    /* jet vs FD of the composition's value and of its first derivatives */
    tg_ctx *ctx = tg_ctx_create();
    tg_jet K;
    CHECK(chain_jet(ctx, &cc, tg_from(ctx, TG_SHAPE(cc.n, 2), x), &K) == 0, "%s", tg_error_message());
    const double h = 1e-4;
    double worst = 0;
    for (int k = 0; k < cc.n; k += 5)
        for (int i = 0; i < 2; i++) {
            tg_real xp[2] = {x[2 * k], x[2 * k + 1]}, xm[2] = {x[2 * k], x[2 * k + 1]};
            xp[i] += (tg_real)h, xm[i] -= (tg_real)h;
            double hh = (double)xp[i] - (double)xm[i];
            tg_ctx *c2 = tg_ctx_create();
            tg_jet Kp, Km;
            chain_jet(c2, &cc, tg_from(c2, TG_SHAPE(1, 2), xp), &Kp);
            chain_jet(c2, &cc, tg_from(c2, TG_SHAPE(1, 2), xm), &Km);
            worst = fmax(worst, tg_rel_err(K.d[i]->data[k], (Kp.v->data[0] - Km.v->data[0]) / hh, 1e-3));
            if (i == 0) { /* d/dz of K_z and K_t: K_zz and K_zt */
                worst = fmax(worst, tg_rel_err(K.dd[0]->data[k], (Kp.d[0]->data[0] - Km.d[0]->data[0]) / hh, 1e-3));
                worst = fmax(worst, tg_rel_err(K.dd[1]->data[k], (Kp.d[1]->data[0] - Km.d[1]->data[0]) / hh, 1e-3));
            }
            tg_ctx_free(&c2);
        }
    CHECK(worst < TOL_FD, "K(h(z,t)): jet vs FD, worst rel err %.3g", worst);
    tg_ctx_reset(ctx);
    tg_tensor *L = chain_loss(ctx, &cc, tg_from(ctx, TG_SHAPE(cc.n, 2), x));
    CHECK(L && tg_backward(ctx, L) == 0, "%s", tg_error_message());
    double worstg = 0;
    for (size_t k = 0; k < cc.ps->size; k++) {
        tg_real keep = cc.ps->value[k];
        cc.ps->value[k] = keep + (tg_real)1e-5;
        double lp = chain_value(&cc);
        cc.ps->value[k] = keep - (tg_real)1e-5;
        double lm = chain_value(&cc);
        cc.ps->value[k] = keep;
        worstg = fmax(worstg, tg_rel_err(cc.ps->grad[k], (lp - lm) / 2e-5, 1e-6));
    }
    CHECK(worstg < TOL_GRAD, "K(h(z,t)) loss: gradients of both nets vs FD, worst rel err %.3g", worstg);
    tg_ctx_free(&ctx);
    tg_params_free(&cc.ps);
}

#endif /* TG_DOUBLE */

/* ------------------------------------------------------------------ determinism, ISAs */
static void raw_run(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b, int N,
                    const tg_real *x, tg_real *out /* K*N */, tg_real *gw /* all weights */, tg_real *gb)
{
    tg_real *o[4] = {out, out + N, out + 2 * N, out + 3 * N};
    tg_pinn_raw_forward(pl, W, b, N, (const tg_real *const[]){x}, o);
    const tg_real *go[4] = {out, out + N, out + 2 * N, out + 3 * N}; /* any seed will do */
    tg_real *gW[TG_PINN_MAX_LAYERS], *gB[TG_PINN_MAX_LAYERS];
    size_t ow = 0, ob = 0;
    for (int l = 0; l < pl->L; l++) {
        gW[l] = gw + ow, ow += (size_t)pl->size[l + 1] * pl->size[l];
        gB[l] = gb + ob, ob += (size_t)pl->size[l + 1];
    }
    memset(gw, 0, ow * sizeof *gw);
    memset(gb, 0, ob * sizeof *gb);
    tg_pinn_raw_backward(pl, W, b, N, (const tg_real *const[]){x}, go, gW, gB, NULL);
}

static void test_threads(void)
{
#ifdef _OPENMP
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_params *ps = tg_params_create();
    tg_pinn_net net;
    tg_pinn_net_init(&net, ps, "u", 3, (const int[]){2, 20, 20, 1}, TG_PINN_TANH, NULL, NULL, &rng);
    tg_jet_spec spec;
    tg_jet_spec_init(&spec, 2, 1, (const int[][2]){{0, 0}});
    tg_pinn_plan pl = {0};
    pl.L = 3, pl.act = TG_PINN_TANH, pl.D = 2, pl.P = 1, pl.K = 4, pl.coords = 1;
    memcpy(pl.size, net.size, sizeof pl.size);
    pl.pair[0][0] = pl.pair[0][1] = 0;
    pl.in_scale[0] = pl.in_scale[1] = 1;
    const tg_real *W[3], *b[3];
    for (int l = 0; l < 3; l++)
        W[l] = tg_params_data(ps, net.param_id[l][0]), b[l] = tg_params_data(ps, net.param_id[l][1]);
    enum { N = 1000 };
    static tg_real x[2 * N], o1[4 * N], o2[4 * N], gw1[1000], gw2[1000], gb1[64], gb2[64];
    for (int k = 0; k < 2 * N; k++)
        x[k] = (tg_real)(2 * tg_rng_uniform(&rng) - 1);
    int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    raw_run(&pl, W, b, N, x, o1, gw1, gb1);
    omp_set_num_threads(2);
    raw_run(&pl, W, b, N, x, o2, gw2, gb2);
    omp_set_num_threads(keep);
    CHECK(!memcmp(o1, o2, sizeof o1), "forward differs between 1 and 2 threads");
    CHECK(!memcmp(gw1, gw2, sizeof gw1) && !memcmp(gb1, gb2, sizeof gb1), "gradients differ between 1 and 2 threads");
    tg_params_free(&ps);
#endif
}

static void test_isas(void)
{
    const tg_pinn_isa *a = tg_pinn_isa_base(), *z = tg_pinn_isa_avx512(), *sel = tg_pinn_isa_select();
    CHECK(sel == a || sel == z || sel == tg_pinn_isa_avx2(), "ISA selection");
    printf("pinn kernels: %d lanes selected\n", sel->lanes);
    /* both kernels on one tile must agree to rounding */
    if (!z || sel != z)
        return;
    tg_rng rng;
    tg_rng_seed(&rng, 8);
    tg_pinn_plan pl = {0};
    pl.L = 3, pl.act = TG_PINN_SIGMOID, pl.D = 3, pl.P = 2, pl.K = 6, pl.coords = 0;
    int sz[4] = {3, 13, 7, 2};
    memcpy(pl.size, sz, sizeof sz);
    pl.pair[0][0] = 0, pl.pair[0][1] = 2, pl.pair[1][0] = 1, pl.pair[1][1] = 1;
    for (int i = 0; i < 3; i++)
        pl.in_scale[i] = 1;
    static tg_real Wm[3][13 * 13], bm[3][13];
    const tg_real *W[3], *b[3];
    for (int l = 0; l < 3; l++) {
        for (int k = 0; k < 13 * 13; k++)
            Wm[l][k] = (tg_real)(0.4 * tg_rng_normal(&rng));
        for (int k = 0; k < 13; k++)
            bm[l][k] = (tg_real)(0.1 * tg_rng_normal(&rng));
        W[l] = Wm[l], b[l] = bm[l];
    }
    static tg_real mem[2][200000];
    tg_pinn_ws ws[2];
    const tg_pinn_isa *isa[2] = {a, z};
    double worst = 0;
    for (int s = 0; s < 2; s++) {
        tg_real *p = mem[s];
        memset(mem[s], 0, sizeof mem[s]);
        for (int l = 0; l <= 3; l++)
            ws[s].A[l] = p, p += 13 * 6 * TG_PINN_TILE, ws[s].H[l] = p, p += 13 * 6 * TG_PINN_TILE;
        ws[s].gH = p, p += 13 * 6 * TG_PINN_TILE;
        ws[s].gA = p, p += 13 * 6 * TG_PINN_TILE;
        for (int l = 0; l < 3; l++)
            ws[s].accW[l] = p, p += 13 * 13 * 16, ws[s].accb[l] = p, p += 13 * 16;
        for (int k = 0; k < 3 * 6 * TG_PINN_TILE; k++)
            ws[s].H[0][k] = (tg_real)(((k * 37) % 101) / 50.0 - 1);
        isa[s]->tile_forward(&pl, W, b, &ws[s]);
        for (int k = 0; k < 2 * 6 * TG_PINN_TILE; k++)
            ws[s].gA[k] = (tg_real)(((k * 13) % 29) / 14.0 - 1);
        isa[s]->tile_backward(&pl, W, W, &ws[s], 0);
    }
    for (int k = 0; k < 2 * 6 * TG_PINN_TILE; k++)
        worst = fmax(worst, tg_rel_err(ws[0].A[3][k], ws[1].A[3][k], 1e-3));
    for (int l = 0; l < 3; l++)
        for (int o = 0; o < sz[l + 1]; o++)
            for (int i = 0; i < sz[l]; i++) {
                double s0 = 0, s1 = 0;
                for (int v = 0; v < a->lanes; v++)
                    s0 += (double)ws[0].accW[l][(o * sz[l] + i) * a->lanes + v];
                for (int v = 0; v < z->lanes; v++)
                    s1 += (double)ws[1].accW[l][(o * sz[l] + i) * z->lanes + v];
                worst = fmax(worst, tg_rel_err(s0, s1, 1e-3));
            }
    CHECK(worst < 1e3 * (double)TG_EPS, "baseline and AVX-512 kernels disagree: %.3g", worst);
}

int main(void)
{
    test_one_unit();
    test_saturated_derivatives();
    for (int D = 1; D <= 3; D++)
        for (int act = 0; act < 4; act++)
            test_oracle(D, act);
#ifdef TG_DOUBLE /* finite differences are meaningful in double only */
    for (int D = 1; D <= 3; D++)
        test_fd_inputs(D, TG_PINN_TANH);
    test_fd_inputs(2, TG_PINN_SIN);
    test_fd_inputs(3, TG_PINN_SIGMOID);
    test_fd_inputs(2, TG_PINN_SOFTPLUS);
    test_burgers_grad();
    test_chain();
#endif
    test_threads();
    test_isas();
    return tg_test_summary();
}
