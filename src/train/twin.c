/* twin.c — the synthetic-twin experiment, terragrad's built-in demo.
 * Basins get random attributes; "true" HBV parameters are a known smooth function of the
 * attributes; forcing is generated (seasonal temperature with snow, intermittent rain,
 * seasonal PET); "observed" flow is HBV with the true parameters plus multiplicative
 * noise. dPL (an MLP from attributes to HBV parameters, trained through the fused HBV op)
 * must recover the flows on a held-out period and the parameter-attribute relation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train_internal.h"

#define NA 4 /* attributes per basin */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tg_twin_defaults(tg_twin_options *o)
{
    memset(o, 0, sizeof *o);
    o->basins = 40;
    o->warmup = 365;
    o->train_years = 3;
    o->test_years = 2;
    o->iters = 1000;
    o->seed = 2024;
    o->noise = 0.05;
    o->lr = 0.01;
    o->hidden = 32;
}

/* attributes (B, NA) -> forcing (T, B, 3) */
static void make_forcing(tg_real *f, const double *attr, int T, int B, tg_rng *r)
{
    for (int b = 0; b < B; b++) {
        const double *a = attr + (size_t)b * NA;
        double anom = 0;
        int wet = 0;
        for (int t = 0; t < T; t++) {
            double season = sin(2 * M_PI * ((t % 365) - 105) / 365.0);
            anom = 0.7 * anom + 2.5 * tg_rng_normal(r);
            double temp = 7 + 13 * season - 10 * (a[1] - 0.5) + anom; /* a1: elevation-like */
            double pwet = (wet ? 0.55 : 0.2) + 0.25 * a[0];               /* a0: wetness */
            wet = tg_rng_uniform(r) < pwet;
            double p = wet ? -(3 + 7 * a[0]) * log(1 - tg_rng_uniform(r)) : 0;
            double pet = fmax(0, (0.8 + 0.6 * a[2]) * (2.2 + 2.0 * season)); /* a2: energy */
            f[((size_t)t * B + b) * 3 + 0] = (tg_real)p;
            f[((size_t)t * B + b) * 3 + 1] = (tg_real)temp;
            f[((size_t)t * B + b) * 3 + 2] = (tg_real)pet;
        }
    }
}

/* Pearson correlation of x and y (n) */
static double corr(const double *x, const double *y, int n)
{
    double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= n;
    my /= n;
    for (int i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : (double)NAN;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* dPL forward: attributes -> parameters (NP, B, 1) physical -> HBV -> Q (T-W, B). */
static tg_tensor *dpl_forward(tg_ctx *ctx, tg_params *ps, const tg_mlp_layer *mlp, const tg_real *attr_r,
                              const tg_real *forcing, int T, int W, int B, tg_tensor **par_out)
{
    tg_tensor *x = tg_from(ctx, TG_SHAPE(B, NA), attr_r);
    tg_tensor *u = tg_sigmoid(ctx, tg_mlp(ctx, ps, mlp, x)); /* (B, NP) */
    u = tg_reshape(ctx, tg_transpose(ctx, u, 0, 1), TG_SHAPE(TG_HBV_NPARAM, B, 1));
    tg_tensor *par = tg_hbv_scale_op(ctx, u, TG_HBV_ALL_PARAMS);
    if (par_out)
        *par_out = par;
    tg_tensor *f = tg_from(ctx, TG_SHAPE(T, B, 3), forcing);
    if (!par || !f)
        return NULL;
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, 1);
    tg_tensor *out = NULL;
    if (tg_hbv_op(ctx, &c, f, par, NULL, NULL, &out, NULL, NULL))
        return NULL;
    return tg_select(ctx, out, 1, TG_HBV_Q);
}

/* The state of one synthetic-twin experiment, filled step by step by tg_twin_run. */
typedef struct twin {
    const tg_twin_options *o;
    tg_twin_result *res;
    int B, W, Ttr, Tte, T, T1;
    tg_rng rng;
    double *attr, *learned, *nse_tr, *nse_te; /* (B, NA); (NP, B); (B); (B) */
    tg_real *attr_r, *forc, *ptrue, *qtrue, *obs;
    tg_params *ps;
    tg_mlp_layer mlp;
    tg_optim *opt;
    tg_ctx *ctx;
    FILE *lossf;
} twin;

static int twin_alloc(twin *w)
{
    const size_t B = (size_t)w->B, T = (size_t)w->T, NP = TG_HBV_NPARAM, TW = (size_t)(w->T - w->W);
    w->attr = malloc(B * NA * sizeof(double));
    w->attr_r = malloc(B * NA * sizeof(tg_real));
    w->forc = malloc(T * B * 3 * sizeof(tg_real));
    w->ptrue = malloc(NP * B * sizeof(tg_real));
    w->qtrue = malloc(TW * TG_HBV_NOUT * B * sizeof(tg_real));
    w->obs = malloc(TW * B * sizeof(tg_real));
    w->learned = malloc(NP * B * sizeof(double));
    w->nse_tr = malloc(B * sizeof(double));
    w->nse_te = malloc(B * sizeof(double));
    if (!w->attr || !w->attr_r || !w->forc || !w->ptrue || !w->qtrue || !w->obs || !w->learned || !w->nse_tr ||
        !w->nse_te)
        return tg_error_set(TG_ENOMEM, "twin: out of memory");
    return 0;
}

/* The synthetic world: attributes, forcing, true parameters as a smooth function of the
 * attributes, and observed flow = HBV(true parameters) with log-normal noise. */
static int twin_make_truth(twin *w)
{
    const int B = w->B, T = w->T, W = w->W, NP = TG_HBV_NPARAM;
    for (int i = 0; i < B * NA; i++) {
        w->attr[i] = tg_rng_uniform(&w->rng);
        w->attr_r[i] = (tg_real)(2 * w->attr[i] - 1); /* network input in [-1, 1] */
    }
    make_forcing(w->forc, w->attr, T, B, &w->rng);
    /* true parameters: u_p = 0.5 + 0.4 tanh(sum_k C_pk (2 a_k - 1)), C fixed by the seed */
    double C[TG_HBV_NPARAM][NA];
    for (int p = 0; p < NP; p++)
        for (int k = 0; k < NA; k++)
            C[p][k] = 1.2 * tg_rng_normal(&w->rng);
    for (int p = 0; p < NP; p++)
        for (int b = 0; b < B; b++) {
            double s = 0;
            for (int k = 0; k < NA; k++)
                s += C[p][k] * (2 * w->attr[b * NA + k] - 1);
            double u = 0.5 + 0.4 * tanh(s), lo = tg_hbv_param_range[p][0], hi = tg_hbv_param_range[p][1];
            w->ptrue[p * B + b] = (tg_real)(lo + u * (hi - lo));
        }
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, 1);
    int rc = tg_hbv_forward(w->qtrue, NULL, NULL, NULL, w->forc, w->ptrue, NULL, NULL, &c);
    const double noise = w->o->noise;
    for (int t = 0; !rc && t < T - W; t++)
        for (int b = 0; b < B; b++) {
            double q = (double)w->qtrue[((size_t)t * TG_HBV_NOUT + TG_HBV_Q) * B + b];
            w->obs[(size_t)t * B + b] = (tg_real)(q * exp(noise * tg_rng_normal(&w->rng) - 0.5 * noise * noise));
        }
    return rc;
}

/* The dPL model (attributes -> MLP -> 13 HBV parameters), Adam, and loss.csv. */
static int twin_build(twin *w)
{
    const tg_twin_options *o = w->o;
    w->ps = tg_params_create();
    w->ctx = tg_ctx_create();
    if (!w->ps || !w->ctx)
        return tg_error_set(TG_ENOMEM, "twin: out of memory");
    int widths[4] = {NA, o->hidden, o->hidden, TG_HBV_NPARAM};
    int rc = tg_mlp_init(&w->mlp, w->ps, "dpl", 4, widths, TG_ACT_TANH, TG_ACT_IDENTITY);
    if (!rc)
        rc = tg_mlp_reset(&w->mlp, w->ps, TG_INIT_XAVIER_UNIFORM, &w->rng);
    tg_optim_config oc = {.kind = TG_OPTIM_ADAM, .lr = o->lr};
    if (!rc && !(w->opt = tg_optim_create(&oc, w->ps)))
        rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
    if (o->out_dir && !rc) {
        rc = tg_mkdir_p(o->out_dir);
        char path[4200];
        snprintf(path, sizeof path, "%s/loss.csv", o->out_dir);
        if (!rc && !(w->lossf = fopen(path, "w")))
            rc = tg_error_set(TG_EIO, "%s: cannot write", path);
        if (w->lossf)
            fprintf(w->lossf, "iteration,loss\n");
    }
    return rc;
}

/* Training on the training period: RMSE of Q after the warm-up, Adam, clipped gradients. */
static int twin_train(twin *w)
{
    const tg_twin_options *o = w->o;
    int rc = 0;
    double tl = now();
    for (int it = 1; !rc && it <= o->iters; it++) {
        tg_tensor *q = dpl_forward(w->ctx, w->ps, &w->mlp, w->attr_r, w->forc, w->T1, w->W, w->B, NULL);
        tg_tensor *obs_tr = tg_from(w->ctx, TG_SHAPE(w->Ttr, w->B), w->obs);
        tg_tensor *d = tg_sub(w->ctx, q, obs_tr);
        tg_tensor *loss = tg_sqrt(w->ctx, tg_mean(w->ctx, tg_mul(w->ctx, d, d)));
        if (!loss || tg_backward(w->ctx, loss))
            return tg_error_code() ? tg_error_code() : TG_EINVAL;
        double lv = (double)loss->data[0];
        w->res->final_loss = lv;
        tg_clip_grad_norm(w->ps, 1.0);
        rc = tg_optim_step(w->opt, w->ps);
        tg_ctx_reset(w->ctx);
        if (w->lossf)
            fprintf(w->lossf, "%d,%.6g\n", it, lv);
        if (o->verbose && (it % (o->iters / 10 > 0 ? o->iters / 10 : 1) == 0 || it == 1)) {
            double el = now() - tl;
            tg_log_message(TG_LOG_INFO, "  iter %5d/%d  RMSE %.4f mm/d  %.0f it/s  ETA %.0fs\n", it, o->iters, lv,
                           it / el, el / it * (o->iters - it));
        }
    }
    return rc;
}

/* Over the whole record (no gradient): NSE on the training and test days, learned parameters. */
static int twin_evaluate(twin *w)
{
    const int B = w->B, T = w->T, W = w->W, Ttr = w->Ttr, Tte = w->Tte;
    tg_tensor *par = NULL;
    tg_ctx_set_grad(w->ctx, 0);
    tg_tensor *q = dpl_forward(w->ctx, w->ps, &w->mlp, w->attr_r, w->forc, T, W, B, &par);
    if (!q)
        return tg_error_code() ? tg_error_code() : TG_EINVAL;
    double *ob = malloc((size_t)(T - W) * sizeof(double)), *sb = malloc((size_t)(T - W) * sizeof(double));
    if (!ob || !sb) {
        free(ob), free(sb);
        return tg_error_set(TG_ENOMEM, "twin: out of memory");
    }
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T - W; t++) {
            ob[t] = (double)w->obs[(size_t)t * B + b];
            sb[t] = (double)q->data[(size_t)t * B + b];
        }
        tg_metrics m;
        tg_metrics_compute(ob, sb, Ttr, &m);
        w->nse_tr[b] = m.nse;
        tg_metrics_compute(ob + Ttr, sb + Ttr, Tte, &m);
        w->nse_te[b] = m.nse;
    }
    free(ob), free(sb);
    for (int i = 0; i < TG_HBV_NPARAM * B; i++)
        w->learned[i] = (double)par->data[i];
    return 0;
}

static double median_sorted(const double *v, int n)
{
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Medians of NSE and, per parameter, the correlation of learned and true values. */
static int twin_summarise(twin *w)
{
    const int B = w->B;
    tg_twin_result *res = w->res;
    double *tmp = malloc((size_t)B * sizeof(double)), *tv = malloc((size_t)B * sizeof(double));
    if (!tmp || !tv) {
        free(tmp), free(tv);
        return tg_error_set(TG_ENOMEM, "twin: out of memory");
    }
    memcpy(tmp, w->nse_tr, (size_t)B * sizeof(double));
    qsort(tmp, (size_t)B, sizeof(double), cmp_d);
    res->nse_train_median = median_sorted(tmp, B);
    memcpy(tmp, w->nse_te, (size_t)B * sizeof(double));
    qsort(tmp, (size_t)B, sizeof(double), cmp_d);
    res->nse_test_median = median_sorted(tmp, B);
    res->nse_test_min = tmp[0];
    for (int p = 0; p < TG_HBV_NPARAM; p++) {
        for (int b = 0; b < B; b++)
            tv[b] = (double)w->ptrue[p * B + b];
        res->corr[p] = corr(tv, w->learned + (size_t)p * B, B);
    }
    free(tmp), free(tv);
    return 0;
}

/* parameters.csv (true vs learned) and metrics.csv (per-basin NSE) in o->out_dir. */
static void twin_write(const twin *w)
{
    const int B = w->B;
    char path[4200];
    snprintf(path, sizeof path, "%s/parameters.csv", w->o->out_dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "basin,param,true,learned\n");
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            for (int b = 0; b < B; b++)
                fprintf(f, "twin%03d,%s,%.6g,%.6g\n", b, tg_hbv_param_names[p], (double)w->ptrue[p * B + b],
                        w->learned[(size_t)p * B + b]);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/metrics.csv", w->o->out_dir);
    if ((f = fopen(path, "w"))) {
        fprintf(f, "basin,NSE_train,NSE_test\n");
        for (int b = 0; b < B; b++)
            fprintf(f, "twin%03d,%.6f,%.6f\n", b, w->nse_tr[b], w->nse_te[b]);
        fclose(f);
    }
}

static void twin_free(twin *w)
{
    if (w->lossf)
        fclose(w->lossf);
    tg_ctx_free(&w->ctx);
    tg_optim_free(&w->opt);
    tg_params_free(&w->ps);
    free(w->attr); free(w->attr_r); free(w->forc); free(w->ptrue); free(w->qtrue); free(w->obs); free(w->learned);
    free(w->nse_tr); free(w->nse_te);
}

int tg_twin_run(const tg_twin_options *o, tg_twin_result *res)
{
    memset(res, 0, sizeof *res);
    twin w = {.o = o, .res = res, .B = o->basins, .W = o->warmup, .Ttr = 365 * o->train_years,
              .Tte = 365 * o->test_years};
    w.T = w.W + w.Ttr + w.Tte;
    w.T1 = w.W + w.Ttr;
    if (w.B < 2 || w.W < 0 || w.Ttr <= 0 || w.Tte <= 0 || o->iters < 0)
        return tg_error_set(TG_EINVAL, "twin: need >= 2 basins and positive periods");
    double t0 = now();
    tg_rng_seed(&w.rng, o->seed);
    int rc = twin_alloc(&w);
    if (!rc)
        rc = twin_make_truth(&w);
    if (!rc)
        rc = twin_build(&w);
    if (!rc)
        rc = twin_train(&w);
    if (!rc)
        rc = twin_evaluate(&w);
    if (!rc)
        rc = twin_summarise(&w);
    if (!rc && o->out_dir)
        twin_write(&w);
    res->seconds = now() - t0;
    twin_free(&w);
    return rc;
}
