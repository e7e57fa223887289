/* learn.c — differentiable parameter learning (dPL, Tsai et al. 2021) through a frozen
 * surrogate: attributes -> MLP -> sigmoid -> u in [0, 1]^np (or free per-basin logits ->
 * sigmoid) -> surrogate -> Q, trained against observed Q. The surrogate's weights are
 * frozen, so the only trainable parameters are the MLP's (or the logits); the gradient
 * reaches them through the LSTM's input gradient. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "surrogate/surrogate_net.h"

void tg_surr_standardise(tg_real *x, int B, int A)
{
    for (int a = 0; a < A; a++) {
        double s = 0, ss = 0, n = 0;
        for (int b = 0; b < B; b++) {
            double v = (double)x[(size_t)b * (size_t)A + (size_t)a];
            if (isfinite(v)) {
                s += v;
                ss += v * v;
                n++;
            }
        }
        double mean = n > 0 ? s / n : 0, var = n > 0 ? ss / n - mean * mean : 0;
        double sd = var > 1e-12 * (1 + mean * mean) ? sqrt(var) : 0;
        for (int b = 0; b < B; b++) {
            tg_real *v = &x[(size_t)b * (size_t)A + (size_t)a];
            *v = isfinite((double)*v) && sd > 0 ? (tg_real)(((double)*v - mean) / sd) : TG_R(0.0);
        }
    }
}

/* Standard deviation of observed Q of basin b over days first..last (NaN skipped). */
static double q_std(const tg_basin *b, int first, int last)
{
    double s = 0, ss = 0, n = 0;
    int lo = first - b->start, hi = last - b->start;
    if (lo < 0) lo = 0;
    if (hi > b->T - 1) hi = b->T - 1;
    for (int t = lo; t <= hi; t++) {
        double q = (double)b->var[TG_VAR_Q][t];
        if (isfinite(q)) {
            s += q;
            ss += q * q;
            n++;
        }
    }
    if (n < 2)
        return 1.0;
    double m = s / n;
    return sqrt(fmax(ss / n - m * m, 0.0));
}

typedef struct learner {
    const tg_surrogate *s;
    int mode, B, A;
    const tg_real *attr;
    tg_params *ps;
    tg_mlp_layer mlp;
    int logits;             /* per-basin mode: parameter id of (B, np) */
} learner;

/* u (nb, np) in [0, 1] for basins idx[0..nb) — on the tape. */
static tg_tensor *learner_u(tg_ctx *ctx, learner *L, const int *idx, int nb)
{
    const int np = L->s->np;
    if (L->mode == TG_LEARN_MLP) {
        tg_tensor *x = tg_new(ctx, TG_SHAPE(nb, L->A));
        if (!x)
            return NULL;
        for (int b = 0; b < nb; b++)
            memcpy(x->data + (size_t)b * (size_t)L->A, L->attr + (size_t)idx[b] * (size_t)L->A,
                   (size_t)L->A * sizeof(tg_real));
        return tg_sigmoid(ctx, tg_mlp(ctx, L->ps, &L->mlp, x));
    }
    /* One-hot rows pick each window's basin: a gather as a (nb, B) x (B, np) product. */
    tg_tensor *oh = tg_new(ctx, TG_SHAPE(nb, L->B));
    if (!oh)
        return NULL;
    for (int b = 0; b < nb; b++)
        oh->data[(size_t)b * (size_t)L->B + (size_t)idx[b]] = TG_R(1.0);
    (void)np;
    return tg_sigmoid(ctx, tg_matmul(ctx, oh, tg_param(ctx, L->ps, L->logits)));
}

int tg_surr_learn(const tg_surrogate *s, const tg_basin *basins, int B, const tg_real *attr, int A, int first,
                  int last, const tg_surr_learn_config *cfg, double *params)
{
    static const tg_surr_learn_config zero;
    if (!cfg)
        cfg = &zero;
    if (!s || !basins || B < 1 || !params)
        return tg_error_set(TG_EINVAL, "surrogate learn: NULL argument or no basins");
    if (cfg->mode == TG_LEARN_MLP && (!attr || A < 1))
        return tg_error_set(TG_EINVAL, "surrogate learn: the MLP mode needs basin attributes (A = %d)", A);
    if (s->nf != 3)
        return tg_error_set(TG_EINVAL, "surrogate learn: the surrogate takes %d forcings; learning uses P, T, PET",
                            s->nf);
    const int W = s->T, np = s->np;
    const int warmup = cfg->warmup > 0 ? cfg->warmup : W / 3, horizon = W - warmup;
    const int epochs = cfg->epochs > 0 ? cfg->epochs : 20, iters = cfg->iterations > 0 ? cfg->iterations : 50;
    const int batch = cfg->batch > 0 ? cfg->batch : 32, hidden = cfg->hidden > 0 ? cfg->hidden : 64;
    const int layers = cfg->layers > 0 ? cfg->layers : 2;
    const double lr = cfg->lr > 0 ? cfg->lr : cfg->mode == TG_LEARN_MLP ? 1e-2 : 5e-2;
    if (horizon < 1 || layers + 2 > TG_MLP_MAX_LAYERS + 1)
        return tg_error_set(TG_EINVAL, "surrogate learn: warmup %d must be shorter than the window %d; layers <= %d",
                            warmup, W, TG_MLP_MAX_LAYERS - 1);
    static const int vars[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};

    learner L = {.s = s, .mode = cfg->mode, .B = B, .A = A, .attr = attr, .logits = -1};
    tg_sampler smp;
    memset(&smp, 0, sizeof smp);
    tg_ctx *ctx = NULL;
    tg_optim *opt = NULL;
    double *sd = NULL;
    int *bi = NULL, *off = NULL, rc;
    tg_real *xf = NULL, *obs = NULL, *wt = NULL;
    if (!(L.ps = tg_params_create()))
        return tg_error_set(TG_ENOMEM, "surrogate learn: out of memory");
    tg_rng rng;
    tg_rng_seed(&rng, cfg->seed);
    if (cfg->mode == TG_LEARN_MLP) {
        int widths[TG_MLP_MAX_LAYERS + 1];
        widths[0] = A;
        for (int l = 1; l <= layers; l++)
            widths[l] = hidden;
        widths[layers + 1] = np;
        if ((rc = tg_mlp_init(&L.mlp, L.ps, "plearn", layers + 2, widths, TG_ACT_TANH, TG_ACT_IDENTITY)) ||
            (rc = tg_mlp_reset(&L.mlp, L.ps, TG_INIT_XAVIER_UNIFORM, &rng)))
            goto done;
    } else if ((L.logits = tg_params_add(L.ps, "plearn.logits", TG_SHAPE(B, np))) < 0) {
        rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
        goto done;
    }
    if ((rc = tg_sampler_init(&smp, basins, B, vars, 3, TG_VAR_Q, first, last, warmup, horizon, cfg->seed + 1)))
        goto done;
    sd = tg_malloc((size_t)B * sizeof *sd);
    bi = tg_malloc((size_t)batch * sizeof *bi);
    off = tg_malloc((size_t)batch * sizeof *off);
    xf = tg_malloc((size_t)W * (size_t)batch * 3 * sizeof *xf);
    obs = tg_malloc((size_t)horizon * (size_t)batch * sizeof *obs);
    wt = tg_malloc((size_t)horizon * (size_t)batch * sizeof *wt);
    ctx = tg_ctx_create();
    opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = lr}, L.ps);
    if (!sd || !bi || !off || !xf || !obs || !wt || !ctx || !opt) {
        rc = tg_error_set(TG_ENOMEM, "surrogate learn: out of memory");
        goto done;
    }
    for (int b = 0; b < B; b++)
        sd[b] = q_std(&basins[b], first, last);

    for (int ep = 0; ep < epochs; ep++) {
        double t0 = tg__bb_now(), loss_sum = 0;
        int n_steps = 0;
        for (int it = 0; it < iters; it++) {
            int nb = tg_sampler_next(&smp, batch, bi, off);
            if (nb < 1)
                nb = tg_sampler_next(&smp, batch, bi, off);
            tg_batch_gather(basins, bi, off, nb, W, vars, 3, NULL, 0, xf);
            /* NSE*-style weights: each window's squared errors over (sd_b + 0.1)^2, averaged
             * over the observed days of the batch. */
            double count = 0;
            for (int t = 0; t < horizon; t++)
                for (int b = 0; b < nb; b++) {
                    tg_real q = basins[bi[b]].var[TG_VAR_Q][off[b] + warmup + t];
                    count += isfinite((double)q);
                }
            for (int t = 0; t < horizon; t++)
                for (int b = 0; b < nb; b++) {
                    tg_real q = basins[bi[b]].var[TG_VAR_Q][off[b] + warmup + t];
                    size_t k = (size_t)t * (size_t)nb + (size_t)b;
                    int ok = isfinite((double)q);
                    obs[k] = ok ? q : TG_R(0.0);
                    wt[k] = ok ? (tg_real)(1.0 / ((sd[bi[b]] + 0.1) * (sd[bi[b]] + 0.1) * count)) : TG_R(0.0);
                }
            tg_tensor *u = learner_u(ctx, &L, bi, nb);
            tg_tensor *q = tg_surrogate_forward(ctx, s, tg_from(ctx, TG_SHAPE(W, nb, 3), xf), u);
            tg_tensor *d = tg_sub(ctx, tg_slice(ctx, q, 0, warmup, horizon), tg_from(ctx, TG_SHAPE(horizon, nb), obs));
            tg_tensor *loss = tg_sum(ctx, tg_mul(ctx, tg_from(ctx, TG_SHAPE(horizon, nb), wt), tg_mul(ctx, d, d)));
            if (!loss || tg_backward(ctx, loss)) {
                rc = tg_error_prefix(tg_error_code() ? tg_error_code() : TG_ESTATE, "surrogate learn: ");
                goto done;
            }
            loss_sum += (double)loss->data[0];
            n_steps++;
            tg_clip_grad_norm(L.ps, 1.0);
            tg_optim_step(opt, L.ps);
            tg_ctx_reset(ctx);
        }
        if (cfg->progress)
            cfg->progress(cfg->progress_ud, ep + 1, loss_sum / (n_steps ? n_steps : 1), tg__bb_now() - t0);
    }

    /* The learned parameters of every basin, in physical units. */
    tg_ctx_set_grad(ctx, 0);
    for (int b0 = 0; b0 < B; b0 += batch) {
        const int nb = B - b0 < batch ? B - b0 : batch;
        for (int b = 0; b < nb; b++)
            bi[b] = b0 + b;
        tg_tensor *u = learner_u(ctx, &L, bi, nb);
        if (!u) {
            rc = tg_error_code() ? tg_error_code() : TG_ESTATE;
            goto done;
        }
        for (int b = 0; b < nb; b++)
            for (int k = 0; k < np; k++)
                params[(size_t)(b0 + b) * (size_t)np + (size_t)k] =
                    s->lo[k] + (double)u->data[(size_t)b * (size_t)np + (size_t)k] * (s->hi[k] - s->lo[k]);
        tg_ctx_reset(ctx);
    }
    rc = 0;
done:
    tg_optim_free(&opt);
    tg_ctx_free(&ctx);
    tg_sampler_free(&smp);
    tg_params_free(&L.ps);
    tg_free(sd, (size_t)B * sizeof *sd);
    tg_free(bi, (size_t)batch * sizeof *bi);
    tg_free(off, (size_t)batch * sizeof *off);
    tg_free(xf, (size_t)W * (size_t)batch * 3 * sizeof *xf);
    tg_free(obs, (size_t)horizon * (size_t)batch * sizeof *obs);
    tg_free(wt, (size_t)horizon * (size_t)batch * sizeof *wt);
    return rc;
}
