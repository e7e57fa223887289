/* test_hybrid.c — the hybrid HBV (ET limitation = MLP) against independent oracles:
 *   1. forward: with a constant network (only the output bias non-zero, g = c) the run
 *      equals tg_hbv_forward with BETAET = 0 (ef = 1) and PET scaled by c, every output;
 *   2. water balance: rain + snow - ET - Q - (change in storage) over 10 years per lane,
 *      random network, relative residual < 1e-6 (double; 1e-3 float);
 *   3. gradients of the fused op (double): every forcing value, static and dynamic
 *      parameter (FC dynamic: the network input SM/FC), initial store and network weight
 *      against 4-point central finite differences, (a) smooth thresholds with gradient
 *      through the warm-up, (b) hard thresholds without; rel err < 1e-6 where entries below
 *      1e-3 of their group's largest gradient are measured against that floor;
 *   4. the tape op tg_hbv_hybrid_op and tg_hybrid_mlp_op through tg_backward equal the raw
 *      backward / finite differences;
 *   5. results do not depend on the thread count (weight gradients summed per block). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad/hybrid.h"
#include "testutil.h"

typedef struct setup {
    tg_hbv_config c;
    tg_hybrid_mlp net;
    int L, nd;
    size_t nw;
    tg_real *forcing, *ps, *pd, *s0, *w;  /* (T,B,3) (13,L) (T-W,nd,L) (5,L) (nw) */
    tg_real *wb, *wl, *wf;                /* loss weights */
    tg_real *ob, *ol, *sf;
} setup;

static void fill_forcing(tg_real *f, int T, int B, tg_rng *r)
{
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            double season = sin(2 * M_PI * (t + 40 * b) / 365.0);
            /* P > 0 every day: HBV has a kink at P = 0 (finite differences would straddle it) */
            double P = 0.1 + (tg_rng_uniform(r) < 0.4 ? -8 * log(1 - tg_rng_uniform(r)) : 0);
            double Ta = 6 + 12 * season + 3 * tg_rng_normal(r);
            double E = 2.0 + 1.8 * season + 0.2 * tg_rng_normal(r);
            tg_real *x = f + ((size_t)t * B + b) * 3;
            x[0] = (tg_real)P;
            x[1] = (tg_real)Ta;
            x[2] = (tg_real)E;
        }
}

static void fill_params(tg_real *ps, int L, tg_rng *r)
{
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        for (int l = 0; l < L; l++) {
            double u = 0.2 + 0.6 * tg_rng_uniform(r);
            ps[p * L + l] = (tg_real)(tg_hbv_param_range[p][0] + u * (tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]));
        }
}

static void setup_make(setup *S, int T, int W, int B, int M, int H, uint32_t dyn, uint64_t seed)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    tg_hbv_config_init(&S->c, T, W, B, M);
    S->c.dynamic = dyn;
    tg_hybrid_mlp_init(&S->net, H);
    S->L = B * M;
    S->nd = tg_hbv_ndynamic(&S->c);
    S->nw = tg_hybrid_mlp_size(&S->net);
    size_t TW = (size_t)(T - W), L = (size_t)S->L;
    S->forcing = calloc((size_t)T * B * 3, sizeof(tg_real));
    S->ps = calloc(TG_HBV_NPARAM * L, sizeof(tg_real));
    S->pd = calloc(TW * S->nd * L + 1, sizeof(tg_real));
    S->s0 = calloc(TG_HBV_NSTATE * L, sizeof(tg_real));
    S->w = calloc(S->nw, sizeof(tg_real));
    S->wb = calloc(TW * TG_HBV_NOUT * B, sizeof(tg_real));
    S->wl = calloc(TW * TG_HBV_NOUT * L, sizeof(tg_real));
    S->wf = calloc(TG_HBV_NSTATE * L, sizeof(tg_real));
    S->ob = calloc(TW * TG_HBV_NOUT * B, sizeof(tg_real));
    S->ol = calloc(TW * TG_HBV_NOUT * L, sizeof(tg_real));
    S->sf = calloc(TG_HBV_NSTATE * L, sizeof(tg_real));
    fill_forcing(S->forcing, T, B, &r);
    fill_params(S->ps, S->L, &r);
    for (size_t t = 0; t < TW; t++) {
        int k = 0;
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            if ((dyn >> p) & 1u) {
                for (size_t l = 0; l < L; l++) {
                    double u = 0.2 + 0.6 * tg_rng_uniform(&r);
                    S->pd[(t * S->nd + k) * L + l] =
                        (tg_real)(tg_hbv_param_range[p][0] + u * (tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]));
                }
                k++;
            }
    }
    for (size_t i = 0; i < TG_HBV_NSTATE * L; i++) S->s0[i] = (tg_real)(5 + 40 * tg_rng_uniform(&r));
    tg_hybrid_mlp_reset(&S->net, S->w, &r, 0.6);
    for (size_t i = 0; i < S->nw; i++) S->w[i] *= TG_R(2.0); /* a curvier g than the init */
    for (size_t i = 0; i < TW * TG_HBV_NOUT * B; i++) S->wb[i] = (tg_real)tg_rng_normal(&r);
    for (size_t i = 0; i < TW * TG_HBV_NOUT * L; i++) S->wl[i] = (tg_real)tg_rng_normal(&r);
    for (size_t i = 0; i < TG_HBV_NSTATE * L; i++) S->wf[i] = (tg_real)tg_rng_normal(&r);
}

static void setup_free(setup *S)
{
    free(S->forcing); free(S->ps); free(S->pd); free(S->s0); free(S->w);
    free(S->wb); free(S->wl); free(S->wf); free(S->ob); free(S->ol); free(S->sf);
}

static double dot(const tg_real *a, const tg_real *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static double run_loss(setup *S)
{
    int rc = tg_hbv_hybrid_forward(S->ob, S->ol, S->sf, NULL, S->forcing, S->ps, S->pd, S->s0, S->w, &S->net, &S->c);
    CHECK(rc == 0, "forward failed: %s", tg_error_message());
    size_t no = (size_t)(S->c.T - S->c.warmup) * TG_HBV_NOUT;
    return dot(S->ob, S->wb, no * (size_t)S->c.B) + dot(S->ol, S->wl, no * (size_t)S->L) +
           dot(S->sf, S->wf, (size_t)TG_HBV_NSTATE * (size_t)S->L);
}

/* ------------------------------------------------------------------ 1. oracle */
static void test_constant_network(void)
{
    setup S;
    setup_make(&S, 400, 30, 3, 2, 8, (1u << TG_HBV_BETA) | (1u << TG_HBV_FC), 11);
    memset(S.w, 0, S.nw * sizeof(tg_real));
    const double c = 0.37;
    S.w[S.nw - 1] = (tg_real)log(c / (1 - c));
    size_t TW = (size_t)(S.c.T - S.c.warmup), L = (size_t)S.L;
    tg_real *ref = calloc(TW * TG_HBV_NOUT * L, sizeof(tg_real)), *hyb = calloc(TW * TG_HBV_NOUT * L, sizeof(tg_real));
    tg_real *f2 = malloc((size_t)S.c.T * S.c.B * 3 * sizeof(tg_real));
    memcpy(f2, S.forcing, (size_t)S.c.T * S.c.B * 3 * sizeof(tg_real));
    for (int i = 0; i < S.c.T * S.c.B; i++) f2[3 * i + 2] *= (tg_real)c;
    tg_real *ps2 = malloc(TG_HBV_NPARAM * L * sizeof(tg_real));
    memcpy(ps2, S.ps, TG_HBV_NPARAM * L * sizeof(tg_real));
    for (size_t l = 0; l < L; l++) ps2[TG_HBV_BETAET * L + l] = 0;
    for (int sm = 0; sm < 2; sm++) {
        S.c.smooth_temp = sm ? TG_R(0.5) : 0;
        S.c.smooth_store = sm ? TG_R(1.0) : 0;
        CHECK(tg_hbv_forward(NULL, ref, NULL, NULL, f2, ps2, S.pd, S.s0, &S.c) == 0, "hbv forward");
        CHECK(tg_hbv_hybrid_forward(NULL, hyb, NULL, NULL, S.forcing, S.ps, S.pd, S.s0, S.w, &S.net, &S.c) == 0,
              "hybrid forward");
        double worst = 0;
        for (size_t i = 0; i < TW * TG_HBV_NOUT * L; i++) {
            double e = fabs((double)ref[i] - (double)hyb[i]) / (1 + fabs((double)ref[i]));
            if (e > worst) worst = e;
        }
        /* PET c in the reference vs PET * sigmoid(logit c) in the hybrid: a few ulp */
        CHECK(worst < (sizeof(tg_real) == 8 ? 1e-12 : 1e-4), "constant g vs HBV(BETAET=0, c PET): %g (smooth %d)", worst, sm);
    }
    free(ref); free(hyb); free(f2); free(ps2);
    setup_free(&S);
}

/* ------------------------------------------------------------------ 2. balance */
static void test_balance(void)
{
    setup S;
    setup_make(&S, 3650, 0, 3, 4, 16, 1u << TG_HBV_BETA, 12);
    S.c.smooth_temp = TG_R(0.5);
    run_loss(&S);
    const int L = S.L, T = S.c.T;
    double worst = 0, minET = 1e30, maxg = 0;
    for (int l = 0; l < L; l++) {
        double in = 0, out = 0, s0 = 0, s1 = 0;
        int b = l / S.c.M;
        for (int t = 0; t < T; t++) {
            const tg_real *o = S.ol + (size_t)t * TG_HBV_NOUT * L;
            in += (double)o[TG_HBV_RAIN * L + l] + (double)o[TG_HBV_SNOW * L + l];
            out += (double)o[TG_HBV_ET * L + l] + (double)o[TG_HBV_Q * L + l];
            double pet = (double)S.forcing[((size_t)t * S.c.B + b) * 3 + 2];
            double et = (double)o[TG_HBV_ET * L + l];
            if (pet > 0) {
                if (et > maxg * pet) maxg = et / pet;
                if (et < minET) minET = et;
            }
        }
        for (int k = 0; k < TG_HBV_NSTATE; k++) {
            s0 += (double)S.s0[k * L + l];
            s1 += (double)S.sf[k * L + l];
        }
        double e = fabs(in - out - (s1 - s0)) / in;
        if (e > worst) worst = e;
    }
    printf("water balance over %d days: worst relative residual %.3g\n", T, worst);
    CHECK(worst < (sizeof(tg_real) == 8 ? 1e-6 : 1e-3), "water balance residual %g", worst);
    CHECK(maxg < 1.0 && minET >= 0, "ET within [0, PET]: max ET/PET %g, min ET %g", maxg, minET);
    setup_free(&S);
}

/* ------------------------------------------------------------------ 3. gradients */
#ifdef TG_DOUBLE
typedef struct group {
    const char *name;
    tg_real *x;
    const tg_real *g;
    size_t n;
    double rel_step;  /* step = rel_step * max(|x|, 1) */
} group;

static double fd(setup *S, tg_real *x, double h)
{
    tg_real x0 = *x;
    double f[4];
    const double st[4] = {-2, -1, 1, 2};
    for (int k = 0; k < 4; k++) {
        *x = (tg_real)((double)x0 + st[k] * h);
        f[k] = run_loss(S);
    }
    *x = x0;
    return (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
}

static void check_groups(setup *S, group *G, int ng, const char *tag)
{
    for (int k = 0; k < ng; k++) {
        double gmax = 0;
        for (size_t i = 0; i < G[k].n; i++) gmax = fmax(gmax, fabs((double)G[k].g[i]));
        double worst = 0;
        size_t wi = 0;
        double wa = 0, wb = 0;
        for (size_t i = 0; i < G[k].n; i++) {
            double h = G[k].rel_step * fmax(fabs((double)G[k].x[i]), 1.0);
            double num = fd(S, &G[k].x[i], h), ana = (double)G[k].g[i];
            double e = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 1e-3 * gmax + 1e-12);
            if (e > worst) { worst = e; wi = i; wa = ana; wb = num; }
        }
        printf("%s %-12s n=%4zu max|g|=%.3g worst rel err %.2e (entry %zu: %.8g vs fd %.8g)\n", tag, G[k].name,
               G[k].n, gmax, worst, wi, wa, wb);
        if (worst > 1e-6 && getenv("HYB_DEBUG")) {
            double h0 = G[k].rel_step * fmax(fabs((double)G[k].x[wi]), 1.0);
            printf("  x=%g", (double)G[k].x[wi]);
            for (double f = 100; f >= 0.001; f /= 10) printf("  h=%g: %.10g", h0 * f, fd(S, &G[k].x[wi], h0 * f));
            printf("\n");
        }
        CHECK(worst < 1e-6, "%s %s: rel err %g at %zu (%g vs %g)", tag, G[k].name, worst, wi, wa, wb);
        CHECK(gmax > 0, "%s %s: no gradient at all", tag, G[k].name);
    }
}

/* dry = 1: PET x 3, rain / 2, g near 1 and small initial stores, so ET empties the soil
 * store down to the floor on many days (the relu branch of the ET line). */
static void test_grad(int smooth, int dry)
{
    setup S;
    setup_make(&S, 60, smooth ? 10 : 0, 2, 2, 6, (1u << TG_HBV_BETA) | (1u << TG_HBV_FC) | (1u << TG_HBV_K1),
               smooth ? 21 : 22 + (uint64_t)dry);
    if (dry) {
        for (int i = 0; i < S.c.T * S.c.B; i++) {
            S.forcing[3 * i] *= TG_R(0.5);
            S.forcing[3 * i + 2] = TG_R(3.0) * (S.forcing[3 * i + 2] > TG_R(0.3) ? S.forcing[3 * i + 2] : TG_R(0.3));
        }
        for (int i = 0; i < TG_HBV_NSTATE * S.L; i++) S.s0[i] *= TG_R(0.3);
        tg_rng r;
        tg_rng_seed(&r, 99);
        tg_hybrid_mlp_reset(&S.net, S.w, &r, 0.9);
    }
    S.c.warmup_grad = smooth;
    if (smooth) {
        S.c.smooth_temp = TG_R(0.5);
        S.c.smooth_store = TG_R(1.0);
    }
    const size_t TW = (size_t)(S.c.T - S.c.warmup), L = (size_t)S.L;
    const size_t nf = (size_t)S.c.T * S.c.B * 3, nps = TG_HBV_NPARAM * L, npd = TW * S.nd * L, ns = TG_HBV_NSTATE * L;
    tg_real *gf = calloc(nf, sizeof(tg_real)), *gps = calloc(nps, sizeof(tg_real)), *gpd = calloc(npd, sizeof(tg_real));
    tg_real *gs = calloc(ns, sizeof(tg_real)), *gw = calloc(S.nw, sizeof(tg_real));
    size_t hs = tg_hbv_hist_size(&S.c);
    tg_real *hist = malloc(hs * sizeof(tg_real));
    CHECK(tg_hbv_hybrid_forward(S.ob, S.ol, S.sf, hist, S.forcing, S.ps, S.pd, S.s0, S.w, &S.net, &S.c) == 0, "fw");
    CHECK(tg_hbv_hybrid_backward(gps, gpd, gf, gs, gw, S.wb, S.wl, S.wf, hist, S.forcing, S.ps, S.pd, S.w, &S.net,
                                 &S.c) == 0, "bw");
    if (dry) {
        int at_floor = 0;
        for (size_t i = 0; i < TW * L; i++)
            at_floor += S.ol[(i / L * TG_HBV_NOUT + TG_HBV_SM) * L + i % L] < TG_R(1.001 * TG_HBV_SM_FLOOR);
        printf("dry case: %d of %zu lane-days end at the soil floor\n", at_floor, TW * L);
        CHECK(at_floor > 10, "the dry case should empty the soil store (%d)", at_floor);
    }
    /* LP and BETAET are not used: exactly zero gradient */
    double unused = 0;
    for (size_t l = 0; l < L; l++) unused += fabs((double)gps[TG_HBV_LP * L + l]) + fabs((double)gps[TG_HBV_BETAET * L + l]);
    CHECK(unused == 0, "LP/BETAET gradient %g", unused);
    group G[] = {
        {"weights", S.w, gw, S.nw, 1e-4},
        {"static", S.ps, gps, nps, smooth ? 1e-4 : 1e-5},
        {"dynamic", S.pd, gpd, npd, smooth ? 1e-4 : 1e-5},
        {"forcing", S.forcing, gf, nf, 1e-4},
        {"init stores", S.s0, gs, ns, 1e-4},
    };
    int ng = smooth ? 5 : 4;
    if (!smooth) { /* W = 0: every forcing row and the initial stores are reached */
        G[4].rel_step = 1e-5;
        ng = 5;
    }
    check_groups(&S, G, ng, dry ? "dry" : smooth ? "smooth" : "hard");

    /* 5. thread count: same gradients bit for bit */
    int nt = omp_get_max_threads();
    if (nt > 1) {
        tg_real *gw1 = calloc(S.nw, sizeof(tg_real)), *gps1 = calloc(nps, sizeof(tg_real));
        omp_set_num_threads(1);
        tg_hbv_hybrid_backward(gps1, NULL, NULL, NULL, gw1, S.wb, S.wl, S.wf, hist, S.forcing, S.ps, S.pd, S.w, &S.net,
                               &S.c);
        omp_set_num_threads(nt);
        CHECK(!memcmp(gw1, gw, S.nw * sizeof(tg_real)) && !memcmp(gps1, gps, nps * sizeof(tg_real)),
              "gradients depend on the thread count");
        free(gw1); free(gps1);
    }
    free(gf); free(gps); free(gpd); free(gs); free(gw); free(hist);
    setup_free(&S);
}

#endif

#ifndef TG_DOUBLE
/* float build: directional derivatives of the loss along random directions in the weights
 * and the static parameters, central differences, 2e-2 relative */
static void test_grad_float(void)
{
    setup S;
    setup_make(&S, 60, 0, 2, 2, 6, 1u << TG_HBV_BETA, 41);
    S.c.smooth_temp = TG_R(0.5);
    S.c.smooth_store = TG_R(1.0);
    const size_t L = (size_t)S.L, nps = TG_HBV_NPARAM * L;
    tg_real *gps = calloc(nps, sizeof(tg_real)), *gw = calloc(S.nw, sizeof(tg_real));
    tg_real *hist = malloc(tg_hbv_hist_size(&S.c) * sizeof(tg_real));
    tg_hbv_hybrid_forward(S.ob, S.ol, S.sf, hist, S.forcing, S.ps, S.pd, S.s0, S.w, &S.net, &S.c);
    tg_hbv_hybrid_backward(gps, NULL, NULL, NULL, gw, S.wb, S.wl, S.wf, hist, S.forcing, S.ps, S.pd, S.w, &S.net, &S.c);
    tg_rng r;
    tg_rng_seed(&r, 8);
    for (int rep = 0; rep < 3; rep++) {
        tg_real *x = rep < 2 ? S.w : S.ps;
        const tg_real *g = rep < 2 ? gw : gps;
        size_t n = rep < 2 ? S.nw : nps;
        double *d = malloc(n * sizeof(double)), ana = 0;
        tg_real *x0 = malloc(n * sizeof(tg_real));
        memcpy(x0, x, n * sizeof(tg_real));
        for (size_t i = 0; i < n; i++) {
            d[i] = tg_rng_normal(&r) * (rep < 2 ? 1.0 : 0.01 * (fabs((double)x0[i]) + 0.01));
            ana += d[i] * (double)g[i];
        }
        const double h = rep < 2 ? 1e-2 : 1.0;
        double f[2];
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < n; i++) x[i] = (tg_real)((double)x0[i] + (k ? h : -h) * d[i]);
            f[k] = run_loss(&S);
        }
        memcpy(x, x0, n * sizeof(tg_real));
        double num = (f[1] - f[0]) / (2 * h);
        CHECK(fabs(num - ana) <= 2e-2 * fmax(fabs(ana), 1e-3), "float directional derivative %d: %g vs fd %g", rep,
              ana, num);
        free(d);
        free(x0);
    }
    free(gps); free(gw); free(hist);
    setup_free(&S);
}
#endif

/* ------------------------------------------------------------------ 4. tape ops */
#ifdef TG_DOUBLE
typedef struct mlp_ud { tg_hybrid_mlp net; } mlp_ud;
static tg_tensor *mlp_loss(tg_ctx *ctx, tg_tensor *const *in, int n, void *ud)
{
    (void)n;
    mlp_ud *u = ud;
    tg_tensor *g = tg_hybrid_mlp_op(ctx, &u->net, in[0], in[1]);
    return tg_sum(ctx, tg_mul(ctx, g, tg_sin(ctx, tg_muls(ctx, g, TG_R(2.0)))));
}
#endif

static void test_tape(void)
{
    setup S;
    setup_make(&S, 50, 5, 2, 3, 5, 1u << TG_HBV_BETA, 31);
    S.c.basin_outputs = 1u << TG_HBV_Q;
    tg_params *ps = tg_params_create();
    int id = tg_params_add(ps, "w", TG_SHAPE((int)S.nw));
    memcpy(tg_params_data(ps, id), S.w, S.nw * sizeof(tg_real));
    tg_ctx *ctx = tg_ctx_create();
    const size_t TW = (size_t)(S.c.T - S.c.warmup), L = (size_t)S.L;
    tg_tensor *f = tg_from(ctx, TG_SHAPE(S.c.T, S.c.B, 3), S.forcing);
    tg_tensor *pst = tg_leaf(ctx, TG_SHAPE(TG_HBV_NPARAM, S.c.B, S.c.M), S.ps);
    tg_tensor *pdy = tg_leaf(ctx, TG_SHAPE((int)TW, S.nd, S.c.B, S.c.M), S.pd);
    tg_tensor *ob = NULL;
    int rc = tg_hbv_hybrid_op(ctx, &S.c, &S.net, f, pst, pdy, NULL, tg_param(ctx, ps, id), &ob, NULL, NULL);
    CHECK(rc == 0 && ob, "op: %s", tg_error_message());
    tg_tensor *q = tg_select(ctx, ob, 1, TG_HBV_Q);
    tg_tensor *loss = tg_sum(ctx, tg_mul(ctx, q, q));
    CHECK(tg_backward(ctx, loss) == 0, "backward");
    /* raw reference */
    tg_real *seed = calloc(TW * TG_HBV_NOUT * S.c.B, sizeof(tg_real)), *gw = calloc(S.nw, sizeof(tg_real));
    tg_real *gps = calloc(TG_HBV_NPARAM * L, sizeof(tg_real));
    tg_real *hist = malloc(tg_hbv_hist_size(&S.c) * sizeof(tg_real));
    tg_hbv_hybrid_forward(S.ob, NULL, NULL, hist, S.forcing, S.ps, S.pd, NULL, S.w, &S.net, &S.c);
    for (size_t t = 0; t < TW; t++)
        for (int b = 0; b < S.c.B; b++) {
            size_t i = (t * TG_HBV_NOUT + TG_HBV_Q) * S.c.B + b;
            seed[i] = 2 * S.ob[i];
        }
    tg_hbv_hybrid_backward(gps, NULL, NULL, NULL, gw, seed, NULL, NULL, hist, S.forcing, S.ps, S.pd, S.w, &S.net, &S.c);
    double e = 0;
    for (size_t k = 0; k < S.nw; k++) e = fmax(e, fabs((double)gw[k] - (double)ps->grad[k]) / (1 + fabs((double)gw[k])));
    for (size_t k = 0; k < TG_HBV_NPARAM * L; k++)
        e = fmax(e, fabs((double)gps[k] - (double)pst->grad[k]) / (1 + fabs((double)gps[k])));
    CHECK(e < 1e-5, "tape op vs raw backward: %g", e);
    /* wrong shapes: an error naming the input, and no output */
    tg_tensor *bad_dyn = tg_leaf(ctx, TG_SHAPE((int)TW + 1, S.nd, S.c.B, S.c.M), NULL);
    ob = NULL;
    rc = tg_hbv_hybrid_op(ctx, &S.c, &S.net, f, pst, bad_dyn, NULL, tg_param(ctx, ps, id), &ob, NULL, NULL);
    CHECK(rc == TG_ESHAPE && !ob && strstr(tg_error_message(), "dynamic parameters"), "bad dynamic shape: %d %s", rc,
          tg_error_message());
    tg_tensor *bad_w = tg_leaf(ctx, TG_SHAPE((int)S.nw + 1), NULL);
    rc = tg_hbv_hybrid_op(ctx, &S.c, &S.net, f, pst, pdy, NULL, bad_w, &ob, NULL, NULL);
    CHECK(rc == TG_ESHAPE && !ob && strstr(tg_error_message(), "weights"), "bad weights: %d %s", rc,
          tg_error_message());
    rc = tg_hbv_hybrid_op(ctx, &S.c, &S.net, f, pst, pdy, NULL, tg_param(ctx, ps, id), NULL, NULL, NULL);
    CHECK(rc == TG_EINVAL && strstr(tg_error_message(), "no output"), "no output requested: %d %s", rc,
          tg_error_message());
    free(seed); free(gw); free(gps); free(hist);
    tg_ctx_free(&ctx);
    tg_params_free(&ps);

#ifdef TG_DOUBLE
    /* g on input pairs: gradients to weights and inputs */
    mlp_ud u = {S.net};
    int N = 70;
    tg_real *x = malloc((size_t)N * 2 * sizeof(tg_real));
    tg_rng r;
    tg_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        x[2 * i] = (tg_real)(1.2 * tg_rng_uniform(&r));
        x[2 * i + 1] = (tg_real)(-10 + 40 * tg_rng_uniform(&r));
    }
    int nds[2] = {1, 2};
    int shp[2][TG_MAX_DIMS] = {{(int)S.nw, 1, 1, 1}, {N, 2, 1, 1}};
    tg_real *ins[2] = {S.w, x};
    tg_gradcheck_result res;
    rc = tg_gradcheck(mlp_loss, &u, 2, nds, (const int(*)[TG_MAX_DIMS])shp, ins, 1e-4, &res);
    printf("mlp op gradcheck: %zu values, max rel err %.2e\n", res.checked, res.max_rel_err);
    CHECK(rc == 0 && res.max_rel_err < 1e-6, "mlp op gradcheck %g", res.max_rel_err);
    /* eval agrees with the op */
    tg_real g1[70];
    tg_hybrid_mlp_eval(&S.net, S.w, x, g1, N);
    double mn = 1, mx = 0;
    for (int i = 0; i < N; i++) { mn = fmin(mn, (double)g1[i]); mx = fmax(mx, (double)g1[i]); }
    CHECK(mn > 0 && mx < 1, "g in (0,1): [%g, %g]", mn, mx);
    free(x);
#endif
    setup_free(&S);
}

int main(void)
{
    test_constant_network();
    test_balance();
#ifdef TG_DOUBLE
    test_grad(1, 0);
    test_grad(0, 0);
    test_grad(0, 1);
#else
    test_grad_float();
#endif
    test_tape();
    return tg_test_summary();
}
