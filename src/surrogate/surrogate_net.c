/* surrogate_net.c — the surrogate network: [z-scored forcing, parameters scaled to
 * [-1, 1]] at every day -> LSTM -> linear head -> output / y_scale. Parameters are static
 * per sample, so they are broadcast over time and concatenated to the forcing: the LSTM
 * then learns how each parameter shapes the response (Kratzert et al. 2019 feed static
 * basin attributes the same way). Gradients reach the parameters through the LSTM's
 * input gradient, which is what parameter learning through a frozen surrogate needs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "surrogate/surrogate_net.h"

tg_surrogate *tg__surrogate_alloc(int np, int nf, int H)
{
    if (np < 1 || nf < 1 || np > TG_BB_MAX_DIM || nf > TG_BB_MAX_DIM || H < 1) {
        tg_error_set(TG_EINVAL, "surrogate: sizes np=%d nf=%d hidden=%d out of range", np, nf, H);
        return NULL;
    }
    tg_surrogate *s = tg_calloc(1, sizeof *s);
    if (!s || !(s->ps = tg_params_create())) {
        tg_free(s, sizeof *s);
        tg_error_set(TG_ENOMEM, "surrogate: out of memory");
        return NULL;
    }
    s->np = np;
    s->nf = nf;
    s->H = H;
    s->y_scale = 1;
    for (int k = 0; k < nf; k++)
        s->f_std[k] = 1;
    if (tg_lstm_layer_init(&s->lstm, s->ps, "surrogate.lstm", nf + np, H, 0) ||
        tg_linear_layer_init(&s->head, s->ps, "surrogate.head", H, 1, 1)) {
        tg_surrogate_free(&s);
        return NULL;
    }
    return s;
}

void tg_surrogate_free(tg_surrogate **ps)
{
    if (!ps || !*ps)
        return;
    tg_params_free(&(*ps)->ps);
    tg_free(*ps, sizeof **ps);
    *ps = NULL;
}

void tg_surrogate_freeze(tg_surrogate *s, int frozen)
{
    for (int id = 0; id < s->ps->count; id++)
        tg_params_set_frozen(s->ps, id, frozen);
}

void tg_surrogate_dims(const tg_surrogate *s, int *np, int *nf, int *window, int *hidden)
{
    if (np) *np = s->np;
    if (nf) *nf = s->nf;
    if (window) *window = s->T;
    if (hidden) *hidden = s->H;
}
const double *tg_surrogate_lower(const tg_surrogate *s) { return s->lo; }
const double *tg_surrogate_upper(const tg_surrogate *s) { return s->hi; }
const char *tg_surrogate_param_name(const tg_surrogate *s, int k)
{
    return k >= 0 && k < s->np ? s->pname[k] : NULL;
}
tg_params *tg_surrogate_params(tg_surrogate *s) { return s->ps; }

/* ---------------------------------------------------------------- the network */
tg_tensor *tg__surrogate_net(tg_ctx *ctx, const tg_surrogate *s, tg_tensor *forcing, tg_tensor *u)
{
    if (!forcing || !u)
        return NULL;
    if (forcing->ndim != 3 || forcing->shape[2] != s->nf || u->ndim != 2 || u->shape[1] != s->np ||
        u->shape[0] != forcing->shape[1]) {
        tg_error_set(TG_ESHAPE, "surrogate: forcing must be (T, B, %d) and parameters (B, %d)", s->nf, s->np);
        return NULL;
    }
    const int T = forcing->shape[0], B = forcing->shape[1];
    tg_real shift[TG_BB_MAX_DIM], scale[TG_BB_MAX_DIM];
    for (int k = 0; k < s->nf; k++) {
        shift[k] = (tg_real)-s->f_mean[k];
        scale[k] = (tg_real)(1.0 / s->f_std[k]);
    }
    tg_tensor *fz = tg_mul(ctx, tg_add(ctx, forcing, tg_from(ctx, TG_SHAPE(s->nf), shift)),
                           tg_from(ctx, TG_SHAPE(s->nf), scale));           /* (T, B, nf) */
    tg_tensor *pu = s->no_params ? tg_new(ctx, TG_SHAPE(B, s->np))
                                 : tg_adds(ctx, tg_muls(ctx, u, TG_R(2.0)), TG_R(-1.0)); /* (B, np) */
    tg_tensor *pt = tg_add(ctx, tg_new(ctx, TG_SHAPE(T, B, s->np)), pu);    /* (T, B, np) */
    tg_tensor *parts[2] = {fz, pt};
    tg_tensor *x = tg_concat(ctx, parts, 2, 2);                             /* (T, B, nf + np) */
    tg_tensor *h = tg_lstm(ctx, s->ps, &s->lstm, x, NULL, NULL, NULL);     /* (T, B, H) */
    tg_tensor *y = tg_reshape(ctx, tg_linear(ctx, s->ps, &s->head, h), TG_SHAPE(T, B));
    /* exp: flows spanning orders of magnitude come from a head of modest range; the clamp
     * only guards against overflow early in training. */
    return s->exp_output ? tg_exp(ctx, tg_clamp(ctx, y, TG_R(-30.0), TG_R(10.0))) : y;
}

tg_tensor *tg_surrogate_forward(tg_ctx *ctx, const tg_surrogate *s, tg_tensor *forcing, tg_tensor *u)
{
    return tg_muls(ctx, tg__surrogate_net(ctx, s, forcing, u), (tg_real)s->y_scale);
}

/* ---------------------------------------------------------------- host prediction */
#define PREDICT_CHUNK 256   /* samples per forward: bounds the arena at T x 256 x 4H */

int tg_surrogate_predict(const tg_surrogate *s, int T, int B, const double *forcing, const double *params,
                         double *y)
{
    if (!s || T < 1 || B < 0 || !forcing || !params || !y)
        return tg_error_set(TG_EINVAL, "surrogate predict: bad arguments (T=%d, B=%d)", T, B);
    tg_ctx *ctx = tg_ctx_create();
    if (!ctx)
        return tg_error_set(TG_ENOMEM, "surrogate predict: out of memory");
    tg_ctx_set_grad(ctx, 0);
    int rc = 0;
    for (int b0 = 0; b0 < B && !rc; b0 += PREDICT_CHUNK) {
        const int nb = B - b0 < PREDICT_CHUNK ? B - b0 : PREDICT_CHUNK;
        tg_tensor *f = tg_new(ctx, TG_SHAPE(T, nb, s->nf)), *u = tg_new(ctx, TG_SHAPE(nb, s->np));
        if (!f || !u) {
            rc = tg_error_set(TG_ENOMEM, "surrogate predict: out of memory");
            break;
        }
        for (int t = 0; t < T; t++)
            for (int b = 0; b < nb; b++)
                for (int k = 0; k < s->nf; k++)
                    f->data[((size_t)t * (size_t)nb + (size_t)b) * (size_t)s->nf + (size_t)k] =
                        (tg_real)forcing[((size_t)t * (size_t)B + (size_t)(b0 + b)) * (size_t)s->nf + (size_t)k];
        for (int b = 0; b < nb; b++)
            for (int k = 0; k < s->np; k++)
                u->data[(size_t)b * (size_t)s->np + (size_t)k] =
                    (tg_real)((params[(size_t)(b0 + b) * (size_t)s->np + (size_t)k] - s->lo[k]) /
                              (s->hi[k] > s->lo[k] ? s->hi[k] - s->lo[k] : 1.0));
        tg_tensor *q = tg_surrogate_forward(ctx, s, f, u);
        if (!q) {
            rc = tg_error_code() ? tg_error_code() : TG_EINVAL;
            break;
        }
        for (int t = 0; t < T; t++)
            for (int b = 0; b < nb; b++)
                y[(size_t)t * (size_t)B + (size_t)(b0 + b)] = (double)q->data[(size_t)t * (size_t)nb + (size_t)b];
        tg_ctx_reset(ctx);
    }
    tg_ctx_free(&ctx);
    return rc;
}
