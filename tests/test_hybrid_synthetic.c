/* test_hybrid_synthetic.c — can the network inside HBV recover a process HBV's formula
 * cannot represent?
 *
 * Truth: an ET limitation with a floor and a threshold,
 *     g*(x) = 0.1 + 0.85 sigmoid((x - 0.45) / 0.05),   x = SM/FC,  independent of T,
 * (HBV's clamp((x/LP)^BETAET, 0, 1) is 0 at x = 0 and has no inflection below LP). The
 * data-generating model is the hybrid HBV with a "teacher" MLP fitted to g* (max error
 * reported), known HBV parameters per basin, synthetic Mediterranean-like forcing (wet
 * winters, dry summers) so SM/FC sweeps most of [0, 1].
 *   1. Train a fresh MLP (other parameters known and fixed) on 3 years of Q (noise-free)
 *      after a 1-year warm-up, Adam.
 *   2. Error of the learned curve where the data go: |g_learned - g*| at every (SM/FC, T)
 *      the TRUE run visits in the training period — mean and 95th percentile; bounds
 *      asserted. Also over the 5-95 % quantile range of the visited SM/FC on a grid.
 *   3. Formula-only model: HBV with the best-fitting shared LP, BETAET (grid search on the
 *      training loss). On the held-out 2 years the hybrid must have the lower error
 *      (median NSE over basins reported for both). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad/hybrid.h"
#include "testutil.h"

enum { B = 4, YEAR = 365, WARM = YEAR, TRAIN = 3 * YEAR, TEST = 2 * YEAR, H = 12 };
#define T_ALL (WARM + TRAIN + TEST)

static double g_true(double x) { return 0.1 + 0.85 / (1 + exp(-(x - 0.45) / 0.05)); }

static void make_forcing(tg_real *f, int T, tg_rng *r)
{
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            double s = sin(2 * M_PI * (t + 10 * b) / 365.0); /* +1 mid-summer */
            double pmean = 2.6 - 2.3 * s;                    /* wet winter, dry summer */
            double P = tg_rng_uniform(r) < 0.35 ? -pmean / 0.35 * log(1 - tg_rng_uniform(r)) : 0;
            double Ta = 13 + 9 * s + 2 * tg_rng_normal(r);
            double E = 2.6 + 2.2 * s;
            tg_real *x = f + ((size_t)t * B + b) * 3;
            x[0] = (tg_real)P;
            x[1] = (tg_real)Ta;
            x[2] = (tg_real)(E > 0.2 ? E : 0.2);
        }
}

static void make_params(tg_real *ps, tg_rng *r)
{
    static const double lo[TG_HBV_NPARAM] = {1.0, 120, 0.15, 0.03, 0.005, 0.5, 0.8, 10, -0.5, 2.0, 0.05, 0.1, 1.0};
    static const double hi[TG_HBV_NPARAM] = {3.0, 250, 0.30, 0.10, 0.030, 0.5, 2.0, 30, 0.5, 4.0, 0.05, 0.1, 1.0};
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        for (int b = 0; b < B; b++) ps[p * B + b] = (tg_real)(lo[p] + (hi[p] - lo[p]) * tg_rng_uniform(r));
}

/* Fits the teacher MLP to g* on a grid (x in [0, 1.2], T in [-5, 30]). Returns max error. */
static double fit_teacher(const tg_hybrid_mlp *net, tg_params *ps, int id, tg_rng *rng)
{
    enum { NXg = 49, NTg = 6 };
    static tg_real x[NXg * NTg * 2], y[NXg * NTg];
    for (int i = 0; i < NXg; i++)
        for (int j = 0; j < NTg; j++) {
            int k = i * NTg + j;
            x[2 * k] = (tg_real)(1.2 * i / (NXg - 1));
            x[2 * k + 1] = (tg_real)(-5 + 7.0 * j);
            y[k] = (tg_real)g_true((double)x[2 * k]);
        }
    tg_hybrid_mlp_reset(net, tg_params_data(ps, id), rng, 0.5);
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.lr = 0.01}, ps);
    tg_ctx *ctx = tg_ctx_create();
    for (int it = 0; it < 1500; it++) {
        if (it == 1000) tg_optim_set_lr(opt, 0.002);
        tg_tensor *g = tg_hybrid_mlp_op(ctx, net, tg_param(ctx, ps, id), tg_from(ctx, TG_SHAPE(NXg * NTg, 2), x));
        tg_tensor *d = tg_sub(ctx, g, tg_from(ctx, TG_SHAPE(NXg * NTg), y));
        tg_backward(ctx, tg_mean(ctx, tg_mul(ctx, d, d)));
        tg_optim_step(opt, ps);
        tg_ctx_reset(ctx);
    }
    tg_real g[NXg * NTg];
    tg_hybrid_mlp_eval(net, tg_params_data(ps, id), x, g, NXg * NTg);
    double e = 0;
    for (int k = 0; k < NXg * NTg; k++) e = fmax(e, fabs((double)g[k] - (double)y[k]));
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    return e;
}

static double nse(const tg_real *sim, const tg_real *obs, int n, int stride)
{
    double m = 0, num = 0, den = 0;
    for (int t = 0; t < n; t++) m += (double)obs[(size_t)t * stride];
    m /= n;
    for (int t = 0; t < n; t++) {
        double o = (double)obs[(size_t)t * stride], s = (double)sim[(size_t)t * stride];
        num += (s - o) * (s - o);
        den += (o - m) * (o - m);
    }
    return 1 - num / den;
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Q rows (T-W, NOUT, B): mean squared error over days [d0, d0+n) of the output window. */
static double q_mse(const tg_real *a, const tg_real *b, int d0, int n)
{
    double s = 0;
    for (int t = d0; t < d0 + n; t++)
        for (int k = 0; k < B; k++) {
            size_t i = ((size_t)t * TG_HBV_NOUT + TG_HBV_Q) * B + k;
            double d = (double)a[i] - (double)b[i];
            s += d * d;
        }
    return s / ((double)n * B);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    tg_rng rng;
    tg_rng_seed(&rng, 2024);
    tg_hybrid_mlp net;
    tg_hybrid_mlp_init(&net, H);
    const size_t nw = tg_hybrid_mlp_size(&net), NO = (size_t)(T_ALL - WARM) * TG_HBV_NOUT * B;
    tg_real *forcing = malloc((size_t)T_ALL * B * 3 * sizeof(tg_real)), *ps = malloc(TG_HBV_NPARAM * B * sizeof(tg_real));
    tg_real *obs = malloc(NO * sizeof(tg_real)), *sim = malloc(NO * sizeof(tg_real));
    make_forcing(forcing, T_ALL, &rng);
    make_params(ps, &rng);
    tg_hbv_config c;
    tg_hbv_config_init(&c, T_ALL, WARM, B, 1);
    c.dynamic = 0;

    /* ---- truth */
    tg_params *tp = tg_params_create();
    int tid = tg_params_add(tp, "teacher", TG_SHAPE((int)nw));
    double teacher_err = fit_teacher(&net, tp, tid, &rng);
    printf("teacher MLP vs g*: max error %.4f on the grid\n", teacher_err);
    CHECK(teacher_err < 0.03, "teacher does not represent g*: %g", teacher_err);
    const tg_real *wt = tg_params_data(tp, tid);
    CHECK(tg_hbv_hybrid_forward(obs, NULL, NULL, NULL, forcing, ps, NULL, NULL, wt, &net, &c) == 0, "truth run");

    /* visited (SM/FC, T) of the training period: SM after recharge/overflow is what g sees;
     * the end-of-day SM output differs from it only by that day's ET, so use the exact
     * inputs: rerun day by day is unnecessary — reconstruct SM2 = SM_end + ET. */
    int nvis = TRAIN * B;
    tg_real *xv = malloc((size_t)nvis * 2 * sizeof(tg_real));
    double *xs = malloc((size_t)nvis * sizeof(double));
    for (int t = 0; t < TRAIN; t++)
        for (int b = 0; b < B; b++) {
            const tg_real *o = obs + (size_t)t * TG_HBV_NOUT * B;
            double sm2 = (double)o[TG_HBV_SM * B + b] + (double)o[TG_HBV_ET * B + b];
            int k = t * B + b;
            xv[2 * k] = (tg_real)(sm2 / (double)ps[TG_HBV_FC * B + b]);
            xv[2 * k + 1] = forcing[((size_t)(WARM + t) * B + b) * 3 + 1];
            xs[k] = (double)xv[2 * k];
        }
    qsort(xs, (size_t)nvis, sizeof *xs, cmp_d);
    double x05 = xs[nvis / 20], x95 = xs[nvis - 1 - nvis / 20];
    printf("visited SM/FC (training period): 5%% %.3f, median %.3f, 95%% %.3f, min %.3f, max %.3f\n", x05,
           xs[nvis / 2], x95, xs[0], xs[nvis - 1]);
    CHECK(x95 - x05 > 0.4, "the forcing should sweep SM/FC over a wide range (%g..%g)", x05, x95);

    /* ---- 1. train a fresh network on Q */
    tg_params *sp = tg_params_create();
    int sid = tg_params_add(sp, "student", TG_SHAPE((int)nw));
    tg_rng_seed(&rng, 7);
    tg_hybrid_mlp_reset(&net, tg_params_data(sp, sid), &rng, 0.5);
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.lr = 0.02}, sp);
    tg_ctx *ctx = tg_ctx_create();
    tg_hbv_config ct = c;
    ct.T = WARM + TRAIN;
    ct.basin_outputs = 1u << TG_HBV_Q;
    tg_real *qobs = malloc((size_t)TRAIN * B * sizeof(tg_real));
    for (int t = 0; t < TRAIN; t++)
        for (int b = 0; b < B; b++) qobs[t * B + b] = obs[((size_t)t * TG_HBV_NOUT + TG_HBV_Q) * B + b];
    tg_tensor *f_t = NULL;
    double loss0 = 0, loss = 0;
    const int iters = 500;
    for (int it = 0; it < iters; it++) {
        if (it == 350) tg_optim_set_lr(opt, 0.005);
        f_t = tg_from(ctx, TG_SHAPE(ct.T, B, 3), forcing);
        tg_tensor *pt = tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, B, 1), ps), *ob = NULL;
        int rc = tg_hbv_hybrid_op(ctx, &ct, &net, f_t, pt, NULL, NULL, tg_param(ctx, sp, sid), &ob, NULL, NULL);
        if (rc) {
            CHECK(rc == 0, "op: %s", tg_error_message());
            break;
        }
        tg_tensor *q = tg_select(ctx, ob, 1, TG_HBV_Q);
        tg_tensor *d = tg_sub(ctx, q, tg_from(ctx, TG_SHAPE(TRAIN, B), qobs));
        tg_tensor *l = tg_mean(ctx, tg_mul(ctx, d, d));
        loss = (double)l->data[0];
        if (it == 0) loss0 = loss;
        tg_backward(ctx, l);
        tg_clip_grad_norm(sp, 1.0);
        tg_optim_step(opt, sp);
        tg_ctx_reset(ctx);
    }
    printf("training MSE of Q: %.4g -> %.4g (%d Adam steps)\n", loss0, loss, iters);
    CHECK(loss < 0.05 * loss0, "training did not converge: %g -> %g", loss0, loss);

    /* ---- 2. the learned curve where the data go */
    const tg_real *ws = tg_params_data(sp, sid);
    tg_real *gl = malloc((size_t)nvis * sizeof(tg_real));
    tg_hybrid_mlp_eval(&net, ws, xv, gl, nvis);
    double *err = malloc((size_t)nvis * sizeof(double)), mae = 0;
    for (int k = 0; k < nvis; k++) {
        err[k] = fabs((double)gl[k] - g_true((double)xv[2 * k]));
        mae += err[k];
    }
    mae /= nvis;
    qsort(err, (size_t)nvis, sizeof *err, cmp_d);
    double p95 = err[nvis - 1 - nvis / 20];
    double grid_max = 0;
    for (int i = 0; i <= 40; i++)
        for (int j = 0; j < 4; j++) {
            tg_real xx[2] = {(tg_real)(x05 + (x95 - x05) * i / 40), (tg_real)(5 + 6 * j)}, gg;
            tg_hybrid_mlp_eval(&net, ws, xx, &gg, 1);
            grid_max = fmax(grid_max, fabs((double)gg - g_true((double)xx[0])));
        }
    printf("learned g vs g* at the visited (SM/FC, T): mean |err| %.4f, 95%% %.4f; max on the 5-95%% SM/FC "
           "range (T 5..23 C) %.4f\n", mae, p95, grid_max);
    CHECK(mae < 0.03, "learned curve mean error %g", mae);
    CHECK(p95 < 0.08, "learned curve 95th percentile error %g", p95);

    /* ---- 3. formula-only HBV with the best shared LP, BETAET; held-out comparison */
    tg_real *pf = malloc(TG_HBV_NPARAM * B * sizeof(tg_real));
    memcpy(pf, ps, TG_HBV_NPARAM * B * sizeof(tg_real));
    double best = INFINITY, bLP = 0, bBE = 0;
    const double lp0 = tg_hbv_param_range[TG_HBV_LP][0], lp1 = tg_hbv_param_range[TG_HBV_LP][1];
    const double be0 = tg_hbv_param_range[TG_HBV_BETAET][0], be1 = tg_hbv_param_range[TG_HBV_BETAET][1];
    tg_hbv_config cf = c;
    cf.T = WARM + TRAIN;
    for (int i = 0; i <= 16; i++)
        for (int j = 0; j <= 24; j++) {
            double LP = lp0 + (lp1 - lp0) * i / 16, BE = be0 + (be1 - be0) * j / 24;
            for (int b = 0; b < B; b++) {
                pf[TG_HBV_LP * B + b] = (tg_real)LP;
                pf[TG_HBV_BETAET * B + b] = (tg_real)BE;
            }
            tg_hbv_forward(sim, NULL, NULL, NULL, forcing, pf, NULL, NULL, &cf);
            double e = q_mse(sim, obs, 0, TRAIN);
            if (e < best) {
                best = e;
                bLP = LP;
                bBE = BE;
            }
        }
    for (int b = 0; b < B; b++) {
        pf[TG_HBV_LP * B + b] = (tg_real)bLP;
        pf[TG_HBV_BETAET * B + b] = (tg_real)bBE;
    }
    tg_real *simh = malloc(NO * sizeof(tg_real));
    tg_hbv_forward(sim, NULL, NULL, NULL, forcing, pf, NULL, NULL, &c);
    tg_hbv_hybrid_forward(simh, NULL, NULL, NULL, forcing, ps, NULL, NULL, ws, &net, &c);
    double mse_f = q_mse(sim, obs, TRAIN, TEST), mse_h = q_mse(simh, obs, TRAIN, TEST);
    double nf[B], nh[B];
    for (int b = 0; b < B; b++) {
        size_t o = ((size_t)TRAIN * TG_HBV_NOUT + TG_HBV_Q) * B + b;
        nf[b] = nse(sim + o, obs + o, TEST, TG_HBV_NOUT * B);
        nh[b] = nse(simh + o, obs + o, TEST, TG_HBV_NOUT * B);
    }
    printf("formula-only HBV: best LP %.3f BETAET %.3f (train MSE %.4g)\n", bLP, bBE, best);
    printf("held-out %d days: MSE hybrid %.4g vs formula %.4g; median NSE hybrid %.4f vs formula %.4f\n", TEST, mse_h,
           mse_f, median(nh, B), median(nf, B));
    CHECK(mse_h < 0.5 * mse_f, "the hybrid should beat the formula-only model on held-out data: %g vs %g", mse_h, mse_f);

    /* optional: the curves as CSV for docs/figures (TG_HYBRID_SYNTH_CSV=path) */
    const char *csv = getenv("TG_HYBRID_SYNTH_CSV");
    FILE *fo = csv ? fopen(csv, "w") : NULL;
    if (fo) {
        int hist[24] = {0};
        for (int k = 0; k < nvis; k++) {
            int bin = (int)((double)xv[2 * k] / 1.2 * 24);
            hist[bin < 0 ? 0 : bin > 23 ? 23 : bin]++;
        }
        fprintf(fo, "SM_FC,g_true,g_learned_T5,g_learned_T15,g_learned_T25,hbv_best,visited_fraction\n");
        for (int i = 0; i <= 120; i++) {
            double x = 1.2 * i / 120;
            tg_real xx[6] = {(tg_real)x, 5, (tg_real)x, 15, (tg_real)x, 25}, gg[3];
            tg_hybrid_mlp_eval(&net, ws, xx, gg, 3);
            double fb = pow(x / bLP, bBE);
            int bin = (int)(x / 1.2 * 24);
            fprintf(fo, "%.3f,%.5f,%.5f,%.5f,%.5f,%.5f,%.5f\n", x, g_true(x), (double)gg[0], (double)gg[1],
                    (double)gg[2], fb < 1 ? fb : 1, (double)hist[bin > 23 ? 23 : bin] / nvis);
        }
        fclose(fo);
    }
    free(forcing); free(ps); free(obs); free(sim); free(simh); free(xv); free(xs); free(qobs); free(gl); free(err);
    free(pf);
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    tg_params_free(&tp);
    tg_params_free(&sp);
    return tg_test_summary();
}
