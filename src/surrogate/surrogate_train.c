/* surrogate_train.c — creating a surrogate from a training set (normalisation from the
 * data), training it with Adam on minibatches of samples, and scoring it per sample by
 * NSE against the real model's output. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "surrogate/surrogate_net.h"

/* ---------------------------------------------------------------- creation */
static int count_ok(const tg_surr_data *d)
{
    int n = 0;
    for (int i = 0; i < d->N; i++)
        n += d->status[i] == TG_BB_OK;
    return n;
}

tg_surrogate *tg_surrogate_create(const tg_surr_data *train, const tg_surrogate_config *cfg)
{
    static const tg_surrogate_config zero;
    if (!cfg)
        cfg = &zero;
    if (!train || train->N < 1) {
        tg_error_set(TG_EINVAL, "surrogate create: empty training set");
        return NULL;
    }
    if (cfg->target < 0 || cfg->target >= train->nout) {
        tg_error_set(TG_EINVAL, "surrogate create: target output %d, but the model has %d outputs", cfg->target,
                     train->nout);
        return NULL;
    }
    if (count_ok(train) < 1) {
        tg_error_set(TG_EINVAL, "surrogate create: every sample of the training set failed");
        return NULL;
    }
    tg_surrogate *s = tg__surrogate_alloc(train->np, train->nf, cfg->hidden > 0 ? cfg->hidden : 64);
    if (!s)
        return NULL;
    s->T = train->T;
    s->target = cfg->target;
    s->no_params = cfg->no_params != 0;
    s->exp_output = cfg->exp_output != 0;
    snprintf(s->model, sizeof s->model, "%s", train->model);
    for (int k = 0; k < s->np; k++) {
        s->lo[k] = train->lo[k];
        s->hi[k] = train->hi[k];
        snprintf(s->pname[k], TG_NAME_MAX, "%s", train->param_name[k]);
    }
    /* Normalisation over the ok samples (double sums, fixed order). */
    const size_t T = (size_t)train->T, nf = (size_t)train->nf, nout = (size_t)train->nout;
    double ys = 0, yss = 0, n = 0;
    double fs[TG_BB_MAX_DIM] = {0}, fss[TG_BB_MAX_DIM] = {0};
    for (int i = 0; i < train->N; i++) {
        if (train->status[i] != TG_BB_OK)
            continue;
        const double *f = train->forcing + (size_t)i * T * nf, *y = train->out + (size_t)i * T * nout;
        for (size_t t = 0; t < T; t++) {
            for (size_t k = 0; k < nf; k++) {
                fs[k] += f[t * nf + k];
                fss[k] += f[t * nf + k] * f[t * nf + k];
            }
            double v = y[t * nout + (size_t)s->target];
            ys += v;
            yss += v * v;
        }
        n += (double)T;
    }
    for (size_t k = 0; k < nf; k++) {
        snprintf(s->fname[k], TG_NAME_MAX, "%s", train->forcing_name[k]);
        s->f_mean[k] = fs[k] / n;
        double var = fss[k] / n - s->f_mean[k] * s->f_mean[k];
        s->f_std[k] = var > 1e-12 ? sqrt(var) : 1.0;
    }
    /* Scale (not centre) the output: Q >= 0 and its zero stays zero. */
    double var = yss / n - (ys / n) * (ys / n);
    s->y_scale = var > 1e-12 ? sqrt(var) : 1.0;

    tg_rng rng;
    tg_rng_seed(&rng, cfg->seed ^ 0x5eed5u);
    if (tg_lstm_reset(&s->lstm, s->ps, TG_INIT_TORCH, &rng) || tg_lstm_set_forget_bias(&s->lstm, s->ps, 3.0) ||
        tg_linear_reset(&s->head, s->ps, TG_INIT_TORCH, &rng)) {
        tg_surrogate_free(&s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- minibatches */
/* Gathers samples idx[0..nb) of d into time-major tensors: forcing (T, nb, nf), u (nb, np)
 * scaled to [0, 1], target (T, nb) divided by y_scale, and per-sample loss weights w (nb):
 * 1 / (T nb (var_i + 0.01)) — NSE-style — or 1 / (T nb) for plain MSE. */
static void gather(const tg_surrogate *s, const tg_surr_data *d, const int *idx, int nb, tg_real *f, tg_real *u,
                   tg_real *y, tg_real *w, int mse)
{
    const size_t T = (size_t)d->T, nf = (size_t)d->nf, np = (size_t)d->np, nout = (size_t)d->nout;
    for (int b = 0; b < nb; b++) {
        const size_t i = (size_t)idx[b];
        const double *fi = d->forcing + i * T * nf, *yi = d->out + i * T * nout;
        for (size_t t = 0; t < T; t++) {
            for (size_t k = 0; k < nf; k++)
                f[(t * (size_t)nb + (size_t)b) * nf + k] = (tg_real)fi[t * nf + k];
            if (y)
                y[t * (size_t)nb + (size_t)b] = (tg_real)(yi[t * nout + (size_t)s->target] / s->y_scale);
        }
        for (size_t k = 0; k < np; k++) {
            double r = s->hi[k] > s->lo[k] ? s->hi[k] - s->lo[k] : 1.0;
            u[(size_t)b * np + k] = (tg_real)((d->params[i * np + k] - s->lo[k]) / r);
        }
        if (w) {
            double m = 0, v = 0;
            for (size_t t = 0; t < T; t++)
                m += yi[t * nout + (size_t)s->target];
            m /= (double)T;
            for (size_t t = 0; t < T; t++) {
                double e = (yi[t * nout + (size_t)s->target] - m) / s->y_scale;
                v += e * e;
            }
            v /= (double)T;
            /* The floor keeps near-constant samples (a dry year) from dominating. */
            w[b] = (tg_real)(1.0 / ((double)T * nb * (mse ? 1.0 : v + 0.01)));
        }
    }
}

static int check_compatible(const tg_surrogate *s, const tg_surr_data *d, const char *what)
{
    if (d->np != s->np || d->nf != s->nf || s->target >= d->nout)
        return tg_error_set(TG_EINVAL, "surrogate %s: data has np=%d nf=%d nout=%d, surrogate np=%d nf=%d target=%d",
                            what, d->np, d->nf, d->nout, s->np, s->nf, s->target);
    return 0;
}

/* ---------------------------------------------------------------- training */
int tg_surrogate_fit(tg_surrogate *s, const tg_surr_data *train, const tg_surr_data *valid,
                     const tg_surrogate_config *cfg)
{
    static const tg_surrogate_config zero;
    if (!cfg)
        cfg = &zero;
    if (!s || !train)
        return tg_error_set(TG_EINVAL, "surrogate fit: NULL argument");
    int rc = check_compatible(s, train, "fit");
    if (rc || (valid && (rc = check_compatible(s, valid, "fit (validation set)"))))
        return rc;
    const int epochs = cfg->epochs > 0 ? cfg->epochs : 30, batch = cfg->batch > 0 ? cfg->batch : 64;
    const double lr0 = cfg->lr > 0 ? cfg->lr : 3e-3, lr_min = lr0 / 20, clip = cfg->clip == 0 ? 1.0 : cfg->clip;
    const int n_ok = count_ok(train), T = train->T;
    if (n_ok < 1)
        return tg_error_set(TG_EINVAL, "surrogate fit: no successful sample in the training set");
    const int nb_max = batch < n_ok ? batch : n_ok;
    const int steps_per_epoch = (n_ok + batch - 1) / batch;
    const long total = (long)epochs * steps_per_epoch;

    int *idx = tg_malloc((size_t)n_ok * sizeof *idx);
    tg_real *f = tg_malloc((size_t)T * (size_t)nb_max * (size_t)s->nf * sizeof *f);
    tg_real *u = tg_malloc((size_t)nb_max * (size_t)s->np * sizeof *u);
    tg_real *y = tg_malloc((size_t)T * (size_t)nb_max * sizeof *y);
    tg_real *w = tg_malloc((size_t)nb_max * sizeof *w);
    tg_ctx *ctx = tg_ctx_create();
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = lr0}, s->ps);
    if (!idx || !f || !u || !y || !w || !ctx || !opt) {
        rc = tg_error_set(TG_ENOMEM, "surrogate fit: out of memory");
        goto done;
    }
    for (int i = 0, k = 0; i < train->N; i++)
        if (train->status[i] == TG_BB_OK)
            idx[k++] = i;
    tg_surrogate_freeze(s, 0);
    tg_rng rng;
    tg_rng_seed(&rng, cfg->seed);
    long step = 0;
    for (int ep = 0; ep < epochs && !rc; ep++) {
        double t0 = tg__bb_now(), loss_sum = 0;
        for (int i = n_ok - 1; i > 0; i--) {                /* reshuffle each epoch */
            int j = (int)tg_rng_below(&rng, (uint64_t)i + 1), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        for (int b0 = 0; b0 < n_ok; b0 += batch, step++) {
            const int nb = n_ok - b0 < batch ? n_ok - b0 : batch;
            /* Cosine decay per step: smooth, and independent of the epoch count's rounding. */
            double lr = lr_min + (lr0 - lr_min) * 0.5 * (1.0 + cos(M_PI * (double)step / (double)total));
            tg_optim_set_lr(opt, lr);
            gather(s, train, idx + b0, nb, f, u, y, w, cfg->mse);
            tg_tensor *tf = tg_from(ctx, TG_SHAPE(T, nb, s->nf), f), *tu = tg_from(ctx, TG_SHAPE(nb, s->np), u);
            tg_tensor *ty = tg_from(ctx, TG_SHAPE(T, nb), y), *tw = tg_from(ctx, TG_SHAPE(nb), w);
            tg_tensor *d = tg_sub(ctx, tg__surrogate_net(ctx, s, tf, tu), ty);
            tg_tensor *loss = tg_sum(ctx, tg_mul(ctx, tw, tg_mul(ctx, d, d)));   /* w (nb) broadcast over T */
            if (!loss || (rc = tg_backward(ctx, loss))) {
                rc = tg_error_prefix(tg_error_code() ? tg_error_code() : TG_ESTATE, "surrogate fit: ");
                break;
            }
            loss_sum += (double)loss->data[0] * nb;
            if (clip > 0)
                tg_clip_grad_norm(s->ps, clip);
            tg_optim_step(opt, s->ps);
            tg_ctx_reset(ctx);
        }
        if (rc)
            break;
        double vmed = NAN;
        const int every = cfg->valid_every > 0 ? cfg->valid_every : 1;
        if (valid && ((ep + 1) % every == 0 || ep + 1 == epochs) && (rc = tg_surrogate_evaluate(s, valid, NULL, &vmed)))
            break;
        if (cfg->progress)
            cfg->progress(cfg->progress_ud, ep + 1, loss_sum / n_ok, vmed, tg__bb_now() - t0);
    }
done:
    tg_optim_free(&opt);
    tg_ctx_free(&ctx);
    tg_free(idx, (size_t)n_ok * sizeof *idx);
    tg_free(f, (size_t)T * (size_t)nb_max * (size_t)s->nf * sizeof *f);
    tg_free(u, (size_t)nb_max * (size_t)s->np * sizeof *u);
    tg_free(y, (size_t)T * (size_t)nb_max * sizeof *y);
    tg_free(w, (size_t)nb_max * sizeof *w);
    return rc;
}

/* ---------------------------------------------------------------- evaluation */
#define EVAL_CHUNK 256

int tg_surrogate_evaluate(const tg_surrogate *s, const tg_surr_data *d, double *nse, double *median)
{
    if (!s || !d)
        return tg_error_set(TG_EINVAL, "surrogate evaluate: NULL argument");
    int rc = check_compatible(s, d, "evaluate");
    if (rc)
        return rc;
    const int T = d->T, nc = d->N < EVAL_CHUNK ? d->N : EVAL_CHUNK;
    double *all = nse ? nse : tg_malloc((size_t)d->N * sizeof *all);
    double *f = tg_malloc((size_t)T * (size_t)nc * (size_t)s->nf * sizeof *f);
    double *q = tg_malloc((size_t)T * (size_t)nc * sizeof *q);
    if (!all || !f || !q) {
        rc = tg_error_set(TG_ENOMEM, "surrogate evaluate: out of memory");
        goto done;
    }
    const size_t nf = (size_t)d->nf, nout = (size_t)d->nout;
    for (int i0 = 0; i0 < d->N && !rc; i0 += nc) {
        const int nb = d->N - i0 < nc ? d->N - i0 : nc;
        for (int b = 0; b < nb; b++)
            for (size_t t = 0; t < (size_t)T; t++)
                for (size_t k = 0; k < nf; k++)
                    f[(t * (size_t)nb + (size_t)b) * nf + k] = d->forcing[((size_t)(i0 + b) * (size_t)T + t) * nf + k];
        if ((rc = tg_surrogate_predict(s, T, nb, f, d->params + (size_t)i0 * (size_t)d->np, q)))
            break;
        for (int b = 0; b < nb; b++) {
            const int i = i0 + b;
            all[i] = d->status[i] != TG_BB_OK
                         ? (double)NAN
                         : tg_nse(d->out + (size_t)i * (size_t)T * nout + (size_t)s->target, q + b, T, nout,
                                   (size_t)nb);
        }
    }
    if (!rc && median)
        *median = tg_median_finite(all, d->N);
done:
    if (!nse)
        tg_free(all, (size_t)d->N * sizeof *all);
    tg_free(f, (size_t)T * (size_t)nc * (size_t)s->nf * sizeof *f);
    tg_free(q, (size_t)T * (size_t)nc * sizeof *q);
    return rc;
}
