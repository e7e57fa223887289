/* test_hbv_grad.c — the hand-written HBV backward against central finite differences.
 *
 * Loss: L = sum w_b * out_basin + sum w_l * out_lane + sum w_f * final stores, random
 * weights, so every output and store seeds the backward. Checked: every static parameter
 * of every lane, every dynamic parameter at several steps, forcing (P, T, PET) and the
 * initial stores, for
 *   A. hard thresholds, BETA/BETAET dynamic, no gradient through the warm-up: the FD
 *      reference is then the run AFTER the warm-up started from the (unperturbed)
 *      warm-up stores, which is exactly what "no gradient through warm-up" means;
 *   B. the same with gradient through the warm-up (FD of the whole run);
 *   C. smooth thresholds, all 13 parameters dynamic, warm-up gradient;
 *   E. δHBV 1.1p (capillary rise), hard, BETA/BETAET/K0/C dynamic, no warm-up gradient;
 *   F. δHBV 1.1p, smooth, all 14 parameters (C included) dynamic, warm-up gradient;
 * and that smoothing gives UZL/TT gradient where the hard model has none.
 * Forcing: real Caravan days (a Maine basin, winter and summer starts) so snow, melt,
 * refreeze and overflow all occur. Double build: rel err < 1e-6, where entries below 1e-3 of
 * the largest gradient of their group are measured against that floor (the loss sums ~1e4
 * terms: its roundoff, ~1e-12, divided by the FD step is the noise the floor absorbs).
 * 4-point FD stencils; steps 1e-5 (static parameters, hard), 1e-4 (otherwise) of the
 * parameter range, 1e-3 for forcing and stores. Float build: directional derivatives, 2e-2. */
#include "test_hbv_common.h"

typedef struct setup {
    tg_hbv_config c;
    int L, nd, np, nout;               /* np, nout: 13, 16 (1.0) or 14, 17 (1.1p) */
    tg_real *forcing, *ps, *pd, *s0;   /* (T,B,3) (np,L) (T-W,nd,L) (5,L) */
    tg_real *wb, *wl, *wf;             /* loss weights (T-W,NOUT,B) (T-W,NOUT,L) (5,L) */
    tg_real *ob, *ol, *sf, *hist;      /* work */
} setup;

static double dot(const tg_real *a, const tg_real *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* Loss of a run with config c (any warm-up handling), forcing f, init s0. */
static double run_loss(setup *S, const tg_hbv_config *c, const tg_real *f, const tg_real *s0)
{
    int ok = tg_hbv_forward(S->ob, S->ol, S->sf, NULL, f, S->ps, S->pd, s0, c) == 0;
    CHECK(ok, "forward failed");
    size_t no = (size_t)(c->T - c->warmup) * (size_t)S->nout;
    return dot(S->ob, S->wb, no * (size_t)S->c.B) + dot(S->ol, S->wl, no * (size_t)S->L) +
           dot(S->sf, S->wf, (size_t)TG_HBV_NSTATE * (size_t)S->L);
}

/* The loss as the backward defines it: with warmup_grad = 0 the stores after the warm-up
 * are computed once from the unperturbed inputs (saved in *warm) and held fixed. */
static double loss(setup *S, const tg_real *warm)
{
    if (S->c.warmup_grad || S->c.warmup == 0) return run_loss(S, &S->c, S->forcing, S->s0);
    tg_hbv_config c2 = S->c;
    c2.T = S->c.T - S->c.warmup;
    c2.warmup = 0;
    return run_loss(S, &c2, S->forcing + (size_t)S->c.warmup * (size_t)S->c.B * 3, warm);
}

static void warm_states(setup *S, tg_real *warm)
{
    if (S->c.warmup == 0) return;
    tg_hbv_config c1 = S->c;
    c1.T = S->c.warmup;
    c1.warmup = 0;
    c1.dynamic = 0;     /* warm-up uses the static values of every parameter */
    tg_real *ob = hbvt_alloc((size_t)c1.T * (size_t)S->nout * (size_t)S->c.B);
    CHECK(tg_hbv_forward(ob, NULL, warm, NULL, S->forcing, S->ps, NULL, S->s0, &c1) == 0, "warm-up run");
    free(ob);
}

#ifdef TG_DOUBLE
typedef struct group { const char *name; double worst, gmax; int n; double ga_w, gf_w; size_t i_w; } group;

/* Compares analytic g with the 4-point central difference (Richardson: truncation
 * O(h^4), so h can be large enough that the roundoff of a ~1e5-term loss, ~1e-11, stays
 * far below the tolerance) of the loss w.r.t. x[i]. */
static void fd_check(setup *S, const tg_real *warm, group *G, tg_real *x, size_t i, double h, double ga)
{
    tg_real x0 = x[i];
    double l[4], off[4] = {h, -h, 2 * h, -2 * h};
    for (int k = 0; k < 4; k++) {
        x[i] = (tg_real)((double)x0 + off[k]);
        l[k] = loss(S, warm);
    }
    x[i] = x0;
    double gf = (8 * (l[0] - l[1]) - (l[2] - l[3])) / (12 * h);
    double e = fabs(ga - gf) / fmax(fmax(fabs(ga), fabs(gf)), 1e-3 * G->gmax);
    if (e > G->worst) { G->worst = e; G->ga_w = ga; G->gf_w = gf; G->i_w = i; }
    G->n++;
}

static double maxabs(const tg_real *g, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)g[i]));
    return m;
}
#endif

static void make_setup(setup *S, int T, int W, uint32_t dyn, int wgrad, double wT, double wS, uint64_t seed,
                       int cap)
{
    const int B = 2, M = 3;
    memset(S, 0, sizeof *S);
    tg_hbv_config_init(&S->c, T, W, B, M);
    S->c.capillary = cap;
    S->np = tg_hbv_nparam(&S->c);
    S->nout = tg_hbv_nout(&S->c);
    S->c.dynamic = dyn;
    S->c.warmup_grad = wgrad;
    S->c.smooth_temp = (tg_real)wT;
    S->c.smooth_store = (tg_real)wS;
    S->L = B * M;
    S->nd = tg_hbv_ndynamic(&S->c);
    size_t L = (size_t)S->L, Tw = (size_t)(T - W);
    S->forcing = hbvt_alloc((size_t)T * B * 3);
    /* basin 0 starts 1 Nov (snow season), basin 1 starts 1 Apr (melt, then summer) */
    CHECK(hbvt_load_forcing("caravan_camels_us/timeseries/01022500.csv", 304, T, S->forcing, B, 0) == 0, "forcing");
    CHECK(hbvt_load_forcing("caravan_camels_us/timeseries/01022500.csv", 365 * 3 + 90, T, S->forcing, B, 1) == 0, "forcing");
    tg_rng r;
    tg_rng_seed(&r, seed);
    S->ps = hbvt_alloc((size_t)S->np * L);
    hbvt_random_params(S->ps, S->L, &r, 0.1, 0.9);
    if (cap)   /* C in [0.1, 0.9]: capillary rise on in every lane */
        for (size_t l = 0; l < L; l++) S->ps[TG_HBV_C * L + l] = (tg_real)(0.1 + 0.8 * tg_rng_uniform(&r));
    /* a small FC and UZL in lane 0 so overflow and Q0 really happen */
    S->ps[TG_HBV_FC * L] = TG_R(80.0);
    S->ps[TG_HBV_UZL * L] = TG_R(3.0);
    S->ps[TG_HBV_PERC * L] = TG_R(1.0);
    /* the data's temperatures are on a 0.01 °C grid: TT half-way between grid values keeps
     * the rain/snow jump out of every FD stencil */
    for (size_t l = 0; l < L; l++)
        S->ps[TG_HBV_TT * L + l] = (tg_real)(floor((double)S->ps[TG_HBV_TT * L + l] * 100.0) / 100.0 + 0.005);
    S->pd = hbvt_alloc(Tw * (size_t)(S->nd ? S->nd : 1) * L);
    for (size_t t = 0; t < Tw; t++) {
        int k = 0;
        for (int p = 0; p < S->np; p++) {
            if (!((dyn >> p) & 1u)) continue;
            for (size_t l = 0; l < L; l++) {
                /* static value times a slow seasonal-looking wiggle */
                double f = 1.0 + 0.1 * sin(0.05 * (double)t + (double)l + p);
                double v = (double)S->ps[p * L + l];
                S->pd[(t * (size_t)S->nd + (size_t)k) * L + l] = (tg_real)(p == TG_HBV_TT ? v + 0.3 * (f - 1.0) * 10 : v * f);
            }
            k++;
        }
    }
    S->s0 = hbvt_alloc(TG_HBV_NSTATE * L);
    for (size_t i = 0; i < TG_HBV_NSTATE * L; i++) S->s0[i] = (tg_real)(1.0 + 20.0 * tg_rng_uniform(&r));
    const size_t no = (size_t)S->nout;
    S->wb = hbvt_alloc(Tw * no * B);
    S->wl = hbvt_alloc(Tw * no * L);
    S->wf = hbvt_alloc(TG_HBV_NSTATE * L);
    for (size_t i = 0; i < Tw * no * B; i++) S->wb[i] = (tg_real)(2 * tg_rng_uniform(&r) - 1);
    for (size_t i = 0; i < Tw * no * L; i++) S->wl[i] = (tg_real)(0.3 * (2 * tg_rng_uniform(&r) - 1));
    for (size_t i = 0; i < TG_HBV_NSTATE * L; i++) S->wf[i] = (tg_real)(2 * tg_rng_uniform(&r) - 1);
    S->ob = hbvt_alloc((size_t)T * no * B);
    S->ol = hbvt_alloc((size_t)T * no * L);
    S->sf = hbvt_alloc(TG_HBV_NSTATE * L);
    S->hist = hbvt_alloc(tg_hbv_hist_size(&S->c));
}

static void free_setup(setup *S)
{
    free(S->forcing); free(S->ps); free(S->pd); free(S->s0); free(S->wb); free(S->wl);
    free(S->wf); free(S->ob); free(S->ol); free(S->sf); free(S->hist);
}

/* Analytic gradients of the loss. */
typedef struct grads { tg_real *gps, *gpd, *gf, *gs0; } grads;

static grads backward(setup *S)
{
    size_t L = (size_t)S->L, Tw = (size_t)(S->c.T - S->c.warmup);
    grads g;
    g.gps = hbvt_alloc((size_t)S->np * L);
    g.gpd = hbvt_alloc(Tw * (size_t)(S->nd ? S->nd : 1) * L);
    g.gf = hbvt_alloc((size_t)S->c.T * (size_t)S->c.B * 3);
    g.gs0 = hbvt_alloc(TG_HBV_NSTATE * L);
    CHECK(tg_hbv_forward(S->ob, S->ol, S->sf, S->hist, S->forcing, S->ps, S->pd, S->s0, &S->c) == 0, "forward");
    CHECK(tg_hbv_backward(g.gps, S->nd ? g.gpd : NULL, g.gf, g.gs0, S->wb, S->wl, S->wf, S->hist, S->forcing,
                          S->ps, S->nd ? S->pd : NULL, &S->c) == 0, "backward");
    return g;
}

#ifdef TG_DOUBLE
static void report(const char *cfg, group *G, double tol)
{
    printf("  %-3s %-16s %4d checked, worst rel err %.2e (entry %zu: analytic %.6g, fd %.6g)\n", cfg, G->name,
           G->n, G->worst, G->i_w, G->ga_w, G->gf_w);
    CHECK(G->n > 0 && G->worst < tol, "%s %s: worst rel err %.3g (analytic %.10g vs fd %.10g)", cfg,
          G->name, G->worst, G->ga_w, G->gf_w);
}

static void check_all(const char *cfg, setup *S)
{
    const double tol = 1e-6;
    size_t L = (size_t)S->L, Tw = (size_t)(S->c.T - S->c.warmup), T = (size_t)S->c.T, B = (size_t)S->c.B;
    tg_real *warm = hbvt_alloc(TG_HBV_NSTATE * L);
    warm_states(S, warm);
    grads g = backward(S);

    /* every static parameter of every lane (dynamic ones: only warm-up matters) */
    group Gs = {"static params", 0, maxabs(g.gps, (size_t)S->np * L), 0, 0, 0, 0};
    for (int p = 0; p < S->np; p++)
        for (size_t l = 0; l < L; l++) {
            /* a static parameter acts on every step: small steps keep the stencil off the
             * kinks; smooth thresholds leave fewer kinks and allow a larger step */
            double rel = S->c.smooth_temp > 0 ? 1e-4 : 1e-5;
            double h = rel * (tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]);
            fd_check(S, warm, &Gs, S->ps, p * L + l, h, (double)g.gps[p * L + l]);
        }
    report(cfg, &Gs, tol);
    if (!S->c.warmup_grad)
        for (int p = 0; p < S->np; p++)
            if ((S->c.dynamic >> p) & 1u)
                CHECK(g.gps[p * L] == TG_R(0.0), "static value of dynamic %s has gradient without warm-up gradient",
                      tg_hbv_param_names[p]);

    /* dynamic parameters at the first, a middle and the last step */
    if (S->nd) {
        group Gd = {"dynamic params", 0, maxabs(g.gpd, Tw * (size_t)S->nd * L), 0, 0, 0, 0};
        size_t steps[3] = {0, Tw / 2 + 3, Tw - 1};
        int k = 0;
        for (int p = 0; p < S->np; p++) {
            if (!((S->c.dynamic >> p) & 1u)) continue;
            double h = 1e-4 * (tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]);
            for (int si = 0; si < 3; si++)
                for (size_t l = 0; l < L; l++) {
                    size_t i = (steps[si] * (size_t)S->nd + (size_t)k) * L + l;
                    fd_check(S, warm, &Gd, S->pd, i, h, (double)g.gpd[i]);
                }
            k++;
        }
        report(cfg, &Gd, tol);
    }

    /* forcing: every column and basin at several steps (warm-up steps need warmup_grad) */
    group Gf = {"forcing", 0, maxabs(g.gf, T * B * 3), 0, 0, 0, 0};
    size_t fsteps[5] = {3, (size_t)S->c.warmup / 2, (size_t)S->c.warmup + 1, T - Tw / 3, T - 1};
    for (int si = 0; si < 5; si++) {
        if (fsteps[si] < (size_t)S->c.warmup && !S->c.warmup_grad) continue;
        for (size_t b = 0; b < B; b++)
            for (size_t k = 0; k < 3; k++) {
                size_t i = (fsteps[si] * B + b) * 3 + k;
                if (k != 1 && S->forcing[i] == TG_R(0.0)) continue;   /* P, PET at 0: kink of the data */
                fd_check(S, warm, &Gf, S->forcing, i, 1e-3, (double)g.gf[i]);
            }
    }
    report(cfg, &Gf, tol);

    /* initial stores */
    if (S->c.warmup_grad || S->c.warmup == 0) {
        group G0 = {"initial stores", 0, maxabs(g.gs0, TG_HBV_NSTATE * L), 0, 0, 0, 0};
        for (size_t i = 0; i < TG_HBV_NSTATE * L; i++) fd_check(S, warm, &G0, S->s0, i, 1e-3, (double)g.gs0[i]);
        report(cfg, &G0, tol);
    }
    free(warm); free(g.gps); free(g.gpd); free(g.gf); free(g.gs0);
}
#else
/* Float build: per parameter, the derivative along a random direction of that parameter
 * over all lanes, FD with a large step; smooth thresholds keep the loss differentiable at
 * that scale. One direction per parameter (not one over all 13): a sign error in a
 * parameter with a small share of the total derivative must still fail. Relative 2e-2, with
 * an absolute floor of 1e-3 of the largest per-parameter derivative (float FD noise). */
static void check_all(const char *cfg, setup *S)
{
    size_t L = (size_t)S->L, n = (size_t)S->np * L;
    tg_real *warm = hbvt_alloc(TG_HBV_NSTATE * L);
    warm_states(S, warm);
    grads g = backward(S);
    tg_rng r;
    tg_rng_seed(&r, 5);
    double *dir = calloc(n, sizeof(double)), dd[TG_HBV_NPARAM_MAX] = {0}, fd[TG_HBV_NPARAM_MAX], big = 0;
    tg_real *p0 = hbvt_alloc(n);
    memcpy(p0, S->ps, n * sizeof(tg_real));
    for (int p = 0; p < S->np; p++)
        for (size_t l = 0; l < L; l++) {
            dir[p * L + l] = (2 * tg_rng_uniform(&r) - 1) * (tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]);
            dd[p] += dir[p * L + l] * (double)g.gps[p * L + l];
        }
    /* 1e-3 of the range along dir: with 2e-3 case E's TT stencil crossed a kink (analytic
     * -461.4, fd -487.1; at 1e-3, 5e-4, 2.5e-4: -461.4, -461.1, -461.5); below 5e-4 float
     * noise takes over (case F's tiny TT derivative) */
    const double h = 1e-3;
    for (int p = 0; p < S->np; p++) {
        double lp, lm;
        for (size_t l = 0; l < L; l++) S->ps[p * L + l] = (tg_real)((double)p0[p * L + l] + h * dir[p * L + l]);
        lp = loss(S, warm);
        for (size_t l = 0; l < L; l++) S->ps[p * L + l] = (tg_real)((double)p0[p * L + l] - h * dir[p * L + l]);
        lm = loss(S, warm);
        memcpy(S->ps, p0, n * sizeof(tg_real));
        fd[p] = (lp - lm) / (2 * h);
        big = fmax(big, fmax(fabs(dd[p]), fabs(fd[p])));
    }
    for (int p = 0; p < S->np; p++) {
        printf("  %s %-6s directional derivative: analytic %.6g, fd %.6g\n", cfg, tg_hbv_param_names[p], dd[p], fd[p]);
        CHECK_CLOSE(dd[p], fd[p], 2e-2, 1e-3 * big);
    }
    free(dir); free(p0); free(warm); free(g.gps); free(g.gpd); free(g.gf); free(g.gs0);
}
#endif

/* With UZL above every SUZ value the hard Q0 branch is never on: zero UZL gradient;
 * the smooth threshold gives a non-zero one of the right sign (raising UZL lowers Q0). */
static void test_smooth_both_sides(void)
{
    setup S;
    make_setup(&S, 120, 20, 0, 0, 0.0, 0.0, 3, 0);
    size_t L = (size_t)S.L;
    for (size_t l = 0; l < L; l++) S.ps[TG_HBV_UZL * L + l] = TG_R(95.0);
    /* loss = total Q0 of basin 0 */
    memset(S.wb, 0, sizeof(tg_real) * (size_t)(S.c.T - S.c.warmup) * TG_HBV_NOUT * (size_t)S.c.B);
    memset(S.wl, 0, sizeof(tg_real) * (size_t)(S.c.T - S.c.warmup) * TG_HBV_NOUT * L);
    memset(S.wf, 0, sizeof(tg_real) * TG_HBV_NSTATE * L);
    for (int t = 0; t < S.c.T - S.c.warmup; t++) S.wb[((size_t)t * TG_HBV_NOUT + TG_HBV_Q0) * (size_t)S.c.B] = TG_R(1.0);
    grads g = backward(&S);
    CHECK(g.gps[TG_HBV_UZL * L] == TG_R(0.0), "hard UZL gradient above all SUZ should be 0, got %g", (double)g.gps[TG_HBV_UZL * L]);
    free(g.gps); free(g.gpd); free(g.gf); free(g.gs0);
    S.c.smooth_store = TG_R(20.0);
    g = backward(&S);
    CHECK(g.gps[TG_HBV_UZL * L] < TG_R(0.0), "smooth UZL gradient should be negative, got %g", (double)g.gps[TG_HBV_UZL * L]);
    free(g.gps); free(g.gpd); free(g.gf); free(g.gs0);
    free_setup(&S);
}

int main(void)
{
    setup S;
    printf("A: hard, BETA/BETAET dynamic, no warm-up gradient\n");
    make_setup(&S, 150, 40, TG_HBV_DYNAMIC_DEFAULT, 0, 0.0, 0.0, 1, 0);
#ifndef TG_DOUBLE
    S.c.smooth_temp = TG_R(0.5);   /* float: FD steps are large, stay differentiable */
    S.c.smooth_store = TG_R(1.0);
#endif
    check_all("A", &S);
    free_setup(&S);

    printf("B: hard, BETA/BETAET dynamic, warm-up gradient\n");
    make_setup(&S, 150, 40, TG_HBV_DYNAMIC_DEFAULT, 1, 0.0, 0.0, 2, 0);
#ifndef TG_DOUBLE
    S.c.smooth_temp = TG_R(0.5);
    S.c.smooth_store = TG_R(1.0);
#endif
    check_all("B", &S);
    free_setup(&S);

    printf("C: smooth (0.5 C, 1 mm), all parameters dynamic, warm-up gradient\n");
    make_setup(&S, 120, 30, TG_HBV_ALL_PARAMS, 1, 0.5, 1.0, 4, 0);
    check_all("C", &S);
    free_setup(&S);

    printf("D: hard, no warm-up at all\n");
    make_setup(&S, 90, 0, 1u << TG_HBV_K0, 0, 0.0, 0.0, 5, 0);
#ifndef TG_DOUBLE
    S.c.smooth_temp = TG_R(0.5);
    S.c.smooth_store = TG_R(1.0);
#endif
    check_all("D", &S);
    free_setup(&S);

    printf("E: 1.1p capillary rise, hard, BETA/BETAET/K0/C dynamic, no warm-up gradient\n");
    make_setup(&S, 150, 40, TG_HBV_DYNAMIC_DEFAULT | 1u << TG_HBV_K0 | 1u << TG_HBV_C, 0, 0.0, 0.0, 6, 1);
#ifndef TG_DOUBLE
    S.c.smooth_temp = TG_R(0.5);
    S.c.smooth_store = TG_R(1.0);
#endif
    check_all("E", &S);
    free_setup(&S);

    printf("F: 1.1p capillary rise, smooth, all 14 parameters dynamic, warm-up gradient\n");
    make_setup(&S, 120, 30, TG_HBV_ALL_PARAMS_CAP, 1, 0.5, 1.0, 7, 1);
    check_all("F", &S);
    free_setup(&S);

    test_smooth_both_sides();
    return tg_test_summary();
}
