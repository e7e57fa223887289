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

int tg_twin_run(const tg_twin_options *o, tg_twin_result *res)
{
    memset(res, 0, sizeof *res);
    const int B = o->basins, W = o->warmup, Ttr = 365 * o->train_years, Tte = 365 * o->test_years;
    const int T = W + Ttr + Tte, T1 = W + Ttr, NP = TG_HBV_NPARAM;
    if (B < 2 || W < 0 || Ttr <= 0 || Tte <= 0 || o->iters < 0)
        return tg_error_set(TG_EINVAL, "twin: need >= 2 basins and positive periods");
    double t0 = now();
    tg_rng rng;
    tg_rng_seed(&rng, o->seed);
    double *attr = malloc((size_t)B * NA * sizeof(double));
    tg_real *attr_r = malloc((size_t)B * NA * sizeof(tg_real));
    tg_real *forc = malloc((size_t)T * B * 3 * sizeof(tg_real));
    tg_real *ptrue = malloc((size_t)NP * B * sizeof(tg_real));
    tg_real *qtrue = malloc((size_t)(T - W) * TG_HBV_NOUT * B * sizeof(tg_real));
    tg_real *obs = malloc((size_t)(T - W) * B * sizeof(tg_real));
    double *learned = malloc((size_t)NP * B * sizeof(double));
    if (!attr || !attr_r || !forc || !ptrue || !qtrue || !obs || !learned)
        return tg_error_set(TG_ENOMEM, "twin: out of memory");
    for (int i = 0; i < B * NA; i++) {
        attr[i] = tg_rng_uniform(&rng);
        attr_r[i] = (tg_real)(2 * attr[i] - 1); /* network input in [-1, 1] */
    }
    make_forcing(forc, attr, T, B, &rng);
    /* true parameters: u_p = 0.5 + 0.4 tanh(sum_k C_pk (2 a_k - 1)), C fixed by the seed */
    double C[TG_HBV_NPARAM][NA];
    for (int p = 0; p < NP; p++)
        for (int k = 0; k < NA; k++)
            C[p][k] = 1.2 * tg_rng_normal(&rng);
    for (int p = 0; p < NP; p++)
        for (int b = 0; b < B; b++) {
            double s = 0;
            for (int k = 0; k < NA; k++)
                s += C[p][k] * (2 * attr[b * NA + k] - 1);
            double u = 0.5 + 0.4 * tanh(s), lo = tg_hbv_param_range[p][0], hi = tg_hbv_param_range[p][1];
            ptrue[p * B + b] = (tg_real)(lo + u * (hi - lo));
        }
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, 1);
    int rc = tg_hbv_forward(qtrue, NULL, NULL, NULL, forc, ptrue, NULL, NULL, &c);
    for (int t = 0; !rc && t < T - W; t++)
        for (int b = 0; b < B; b++) {
            double q = (double)qtrue[((size_t)t * TG_HBV_NOUT + TG_HBV_Q) * B + b];
            obs[(size_t)t * B + b] = (tg_real)(q * exp(o->noise * tg_rng_normal(&rng) - 0.5 * o->noise * o->noise));
        }
    /* dPL model */
    tg_params *ps = tg_params_create();
    tg_mlp_layer mlp;
    int widths[4] = {NA, o->hidden, o->hidden, NP};
    if (!rc)
        rc = tg_mlp_init(&mlp, ps, "dpl", 4, widths, TG_ACT_TANH, TG_ACT_IDENTITY);
    if (!rc)
        rc = tg_mlp_reset(&mlp, ps, TG_INIT_XAVIER_UNIFORM, &rng);
    tg_optim_config oc = {.kind = TG_OPTIM_ADAM, .lr = o->lr};
    tg_optim *opt = rc ? NULL : tg_optim_create(&oc, ps);
    if (!rc && !opt)
        rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
    tg_ctx *ctx = tg_ctx_create();
    FILE *lossf = NULL;
    if (o->out_dir && !rc) {
        rc = tg_mkdir_p(o->out_dir);
        char path[4200];
        snprintf(path, sizeof path, "%s/loss.csv", o->out_dir);
        if (!rc && !(lossf = fopen(path, "w")))
            rc = tg_error_set(TG_EIO, "%s: cannot write", path);
        if (lossf)
            fprintf(lossf, "iteration,loss\n");
    }
    /* train on the training period: RMSE of Q after the warm-up */
    tg_tensor *obs_tr = NULL;
    double tl = now();
    for (int it = 1; !rc && it <= o->iters; it++) {
        tg_tensor *q = dpl_forward(ctx, ps, &mlp, attr_r, forc, T1, W, B, NULL);
        obs_tr = tg_from(ctx, TG_SHAPE(Ttr, B), obs);
        tg_tensor *d = tg_sub(ctx, q, obs_tr);
        tg_tensor *loss = tg_sqrt(ctx, tg_mean(ctx, tg_mul(ctx, d, d)));
        if (!loss || tg_backward(ctx, loss)) {
            rc = tg_error_code() ? tg_error_code() : TG_EINVAL;
            break;
        }
        double lv = (double)loss->data[0];
        res->final_loss = lv;
        tg_clip_grad_norm(ps, 1.0);
        rc = tg_optim_step(opt, ps);
        tg_ctx_reset(ctx);
        if (lossf)
            fprintf(lossf, "%d,%.6g\n", it, lv);
        if (o->verbose && (it % (o->iters / 10 > 0 ? o->iters / 10 : 1) == 0 || it == 1)) {
            double el = now() - tl;
            tg_log_message(TG_LOG_INFO, "  iter %5d/%d  RMSE %.4f mm/d  %.0f it/s  ETA %.0fs\n", it, o->iters, lv, it / el,
                   el / it * (o->iters - it));
        }
    }
    /* evaluate over the whole record (no gradient): NSE on train and test days */
    tg_tensor *par = NULL;
    double *nse_tr = malloc((size_t)B * sizeof(double)), *nse_te = malloc((size_t)B * sizeof(double));
    if (!rc) {
        tg_ctx_set_grad(ctx, 0);
        tg_tensor *q = dpl_forward(ctx, ps, &mlp, attr_r, forc, T, W, B, &par);
        if (!q)
            rc = tg_error_code() ? tg_error_code() : TG_EINVAL;
        for (int b = 0; !rc && b < B; b++) {
            double *ob = malloc((size_t)(T - W) * sizeof(double)), *sb = malloc((size_t)(T - W) * sizeof(double));
            for (int t = 0; t < T - W; t++) {
                ob[t] = (double)obs[(size_t)t * B + b];
                sb[t] = (double)q->data[(size_t)t * B + b];
            }
            tg_metrics m;
            tg_metrics_compute(ob, sb, Ttr, &m);
            nse_tr[b] = m.nse;
            tg_metrics_compute(ob + Ttr, sb + Ttr, Tte, &m);
            nse_te[b] = m.nse;
            free(ob);
            free(sb);
        }
        for (int i = 0; !rc && i < NP * B; i++)
            learned[i] = (double)par->data[i];
    }
    if (!rc) {
        double *tmp = malloc((size_t)B * sizeof(double)), *tv = malloc((size_t)B * sizeof(double));
        memcpy(tmp, nse_tr, (size_t)B * sizeof(double));
        qsort(tmp, (size_t)B, sizeof(double), cmp_d);
        res->nse_train_median = B % 2 ? tmp[B / 2] : 0.5 * (tmp[B / 2 - 1] + tmp[B / 2]);
        memcpy(tmp, nse_te, (size_t)B * sizeof(double));
        qsort(tmp, (size_t)B, sizeof(double), cmp_d);
        res->nse_test_median = B % 2 ? tmp[B / 2] : 0.5 * (tmp[B / 2 - 1] + tmp[B / 2]);
        res->nse_test_min = tmp[0];
        for (int p = 0; p < NP; p++) {
            for (int b = 0; b < B; b++)
                tv[b] = (double)ptrue[p * B + b];
            res->corr[p] = corr(tv, learned + (size_t)p * B, B);
        }
        free(tmp);
        free(tv);
    }
    if (!rc && o->out_dir) { /* parameters true vs learned, per-basin NSE */
        char path[4200];
        snprintf(path, sizeof path, "%s/parameters.csv", o->out_dir);
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "basin,param,true,learned\n");
            for (int p = 0; p < NP; p++)
                for (int b = 0; b < B; b++)
                    fprintf(f, "twin%03d,%s,%.6g,%.6g\n", b, tg_hbv_param_names[p], (double)ptrue[p * B + b],
                            learned[(size_t)p * B + b]);
            fclose(f);
        }
        snprintf(path, sizeof path, "%s/metrics.csv", o->out_dir);
        if ((f = fopen(path, "w"))) {
            fprintf(f, "basin,NSE_train,NSE_test\n");
            for (int b = 0; b < B; b++)
                fprintf(f, "twin%03d,%.6f,%.6f\n", b, nse_tr[b], nse_te[b]);
            fclose(f);
        }
    }
    res->seconds = now() - t0;
    if (lossf)
        fclose(lossf);
    free(nse_tr);
    free(nse_te);
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    tg_params_free(&ps);
    free(attr); free(attr_r); free(forc); free(ptrue); free(qtrue); free(obs); free(learned);
    return rc;
}
