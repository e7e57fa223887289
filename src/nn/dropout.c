/* dropout.c — inverted dropout with a saved mask, one tape node.
 *
 * The mask comes from a counter-based stream: one 64-bit key drawn from the caller's rng,
 * then element pair k uses splitmix64(key + (k+1) * golden) (32 bits per element). Each
 * element's draw depends only on (key, index), so the loop can be split over any number of
 * threads and the mask stays the same; the caller's rng advances by exactly one draw. */
#include <string.h>

#include "core/internal.h"
#include "nn/nn_internal.h"

typedef struct dropout_saved {
    unsigned char *keep;   /* (n) 1 = kept */
    tg_real scale;         /* 1 / (1 - p) */
} dropout_saved;

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int dropout_fwd_cb(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    (void)n_in, (void)n_out;
    const dropout_saved *s = ud;
    const tg_real *x = in[0]->data;
    tg_real *y = out[0]->data;
    const size_t n = in[0]->n;
    const unsigned char *keep = s->keep;
    const tg_real scale = s->scale;
    /* x * (keep * scale), branch-free so it vectorises (and NaN inputs stay NaN, as x * mask) */
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * ((tg_real)keep[i] * scale);
    return 0;
}

static int dropout_bwd_cb(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                          const tg_real *const *gout, tg_real *const *gin, const int *first)
{
    (void)n_in, (void)out, (void)n_out;
    const dropout_saved *s = ud;
    if (!gin[0])
        return 0;
    const size_t n = in[0]->n;
    const tg_real *dy = gout[0];
    tg_real *dx = gin[0];
    const unsigned char *keep = s->keep;
    const tg_real scale = s->scale;
    if (first[0]) { /* a fresh buffer (tg__grad_write): store, no zeroing pass before */
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++)
            dx[i] = dy[i] * ((tg_real)keep[i] * scale);
        return 0;
    }
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * ((tg_real)keep[i] * scale);
    return 0;
}

static const tg__custom_op dropout_op = {{"dropout", dropout_fwd_cb, NULL}, dropout_bwd_cb};

tg_tensor *tg_dropout(tg_ctx *ctx, tg_tensor *x, double p, int train, tg_rng *rng)
{
    if (!ctx || !x)
        return NULL;
    if (!(p >= 0.0 && p <= 1.0))
        return tg__fail(ctx, TG_EINVAL, "dropout: probability %g outside [0, 1]", p);
    if (!train || p == 0.0)
        return x;
    if (!rng)
        return tg__fail(ctx, TG_EINVAL, "dropout: training mode needs a random generator");
    const size_t n = x->n;
    dropout_saved *s = tg_ctx_alloc(ctx, sizeof *s);
    unsigned char *keep = tg_ctx_alloc(ctx, n ? n : 1);
    if (!s || !keep)
        return tg__fail(ctx, TG_ENOMEM, "dropout: out of memory for a mask of %zu elements", n);
    s->keep = keep;
    s->scale = p < 1.0 ? (tg_real)(1.0 / (1.0 - p)) : TG_R(0.0);
    /* keep when the 32-bit uniform u >= p * 2^32 (drop with probability p) */
    const uint64_t thr = p >= 1.0 ? ((uint64_t)1 << 32) : (uint64_t)(p * 4294967296.0);
    const uint64_t key = tg_rng_next(rng), golden = 0x9e3779b97f4a7c15ULL;
    const size_t npair = (n + 1) / 2;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t k = 0; k < npair; k++) {
        uint64_t z = mix64(key + (k + 1) * golden);
        keep[2 * k] = (z & 0xffffffffULL) >= thr;
        if (2 * k + 1 < n)
            keep[2 * k + 1] = (z >> 32) >= thr;
    }
    tg_tensor *y = NULL;
    if (tg__custom_first(ctx, &dropout_op, s, &x, 1, 1, &x->ndim, (const int(*)[TG_MAX_DIMS])&x->shape, &y, 0))
        return NULL;
    return y;
}
