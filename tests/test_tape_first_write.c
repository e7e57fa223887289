/* Overwrite-on-first-write gradients (core/tape.c, tg__grad_write): the first op to write a
 * tensor's gradient stores into an unzeroed buffer, later ones add. The classic bugs of that
 * scheme, each with a check that fails when it is there:
 *  1. a tensor used by two consumers: the second must add, not overwrite. Every pair of
 *     consumers (converted ops, ops still on the zeroed path, a user custom op, an op given
 *     the same tensor twice) in both orders: the gradient of f_i(x) + f_j(x) against the sum
 *     of the two gradients taken on separate tapes;
 *  2. a gradient read though no op wrote (part of) it must be zeros, not what the memory
 *     held: every tape here runs on an arena filled with 0xff bytes (a NaN in float and
 *     double) — new chunks through the context's allocator, reused chunks by hand before
 *     each tape — so an element no one stored comes out NaN and fails its comparison;
 *  3. repeated backward / zero_grad over training steps on one context: each step's
 *     parameter gradient equals, bit for bit, a fresh computation (new context, new
 *     parameter store with the same values); two backward passes without zeroing give
 *     exactly twice the gradient (parameters accumulate, never overwrite). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "testutil.h"

enum { T = 3, B = 2, F = 4, H = 3, N = T * B * F };

/* ---------------------------------------------------------------- poisoned memory */
static void *nan_alloc(void *ud, void *p, size_t old_size, size_t new_size)
{
    (void)ud;
    if (new_size == 0) {
        free(p);
        return NULL;
    }
    unsigned char *q = realloc(p, new_size);
    if (q && new_size > old_size)
        memset(q + old_size, 0xff, new_size - old_size);
    return q;
}

/* Reset, then fill every kept chunk of the arena with 0xff. */
static void poison_reset(tg_ctx *ctx)
{
    tg_ctx_reset(ctx);
    for (tg_chunk *c = ctx->arena.head; c; c = c->next)
        memset(c->mem, 0xff, c->size);
}

/* ---------------------------------------------------------------- consumers of x */
/* Deterministic constants of any shape, different per (consumer, slot). */
static tg_tensor *konst(tg_ctx *ctx, int id, int ndim, const int *shape)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    tg_real *v = tg_ctx_alloc(ctx, n * sizeof *v);
    tg_rng r;
    tg_rng_seed(&r, 1000u + (uint64_t)id);
    for (size_t i = 0; i < n; i++)
        v[i] = (tg_real)(0.25 + tg_rng_uniform(&r)) * (i % 3 == 1 ? -1 : 1);
    return tg_from(ctx, ndim, shape, v);
}
#define K(id, ...) konst(ctx, id, TG_SHAPE(__VA_ARGS__))

/* A user op (the public tg_custom path: zeroed gradients, +=) with two outputs, of which
 * only the first is used: y0 = 2 x, y1 = x. Its backward adds gout[1] too, which must be
 * the zeros of an output the sweep never reached. */
static int twice_fwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    (void)ud, (void)n_in, (void)n_out;
    for (size_t i = 0; i < in[0]->n; i++) {
        out[0]->data[i] = 2 * in[0]->data[i];
        out[1]->data[i] = in[0]->data[i];
    }
    return 0;
}
static int twice_bwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                     const tg_real *const *gout, tg_real *const *gin)
{
    (void)ud, (void)n_in, (void)out, (void)n_out;
    if (gin[0])
        for (size_t i = 0; i < in[0]->n; i++)
            gin[0][i] += 2 * gout[0][i] + gout[1][i];
    return 0;
}
static const tg_custom_op twice_op = {"twice", twice_fwd, twice_bwd};

/* A library-style op (tg__custom_first): y = a * b, whose backward writes b's gradient
 * before a's. Given the same tensor twice, a store into the slot with first = 1 would then
 * wipe the other slot's contribution: the tape must give both slots a zeroed buffer. */
static int mulrev_fwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    (void)ud, (void)n_in, (void)n_out;
    for (size_t i = 0; i < out[0]->n; i++)
        out[0]->data[i] = in[0]->data[i] * in[1]->data[i];
    return 0;
}
static int mulrev_bwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                      const tg_real *const *gout, tg_real *const *gin, const int *first)
{
    (void)ud, (void)n_out;
    for (int k = n_in - 1; k >= 0; k--)
        if (gin[k])
            for (size_t i = 0; i < out[0]->n; i++) {
                tg_real v = gout[0][i] * in[1 - k]->data[i];
                gin[k][i] = first[k] ? v : gin[k][i] + v;
            }
    return 0;
}
static const tg__custom_op mulrev_op = {{"mulrev", mulrev_fwd, NULL}, mulrev_bwd};

static const char *const consumer_name[] = {
    "sigmoid", "mul", "div by a broadcast row", "matmul (shared weight)", "sum_axis", "transpose",
    "concat", "concat(x, x)", "linear", "dropout", "lstm", "lstm checkpointed", "slice (zeroed path)",
    "where (zeroed path)", "maximum", "user custom op", "reshape", "mul(x, x)", "linear(r, r)", "relu", "library op, x twice"};
enum { NCONS = (int)(sizeof consumer_name / sizeof consumer_name[0]) };

/* Consumer k of x (T, B, F): a scalar through the op under test. */
static tg_tensor *consumer(tg_ctx *ctx, int k, tg_tensor *x)
{
    const int id = 10 * k;
    tg_tensor *y = NULL;
    switch (k) {
    case 0: y = tg_mul(ctx, tg_sigmoid(ctx, x), K(id, T, B, F)); break;
    case 1: y = tg_mul(ctx, x, K(id, T, B, F)); break;
    case 2: y = tg_div(ctx, x, tg_adds(ctx, tg_abs(ctx, K(id, F)), 1)); break;
    case 3: y = tg_mul(ctx, tg_matmul(ctx, x, K(id, F, 5)), K(id + 1, T, B, 5)); break;
    case 4: y = tg_mul(ctx, tg_sum_axis(ctx, x, 1, 0), K(id, T, F)); break;
    case 5: y = tg_mul(ctx, tg_transpose(ctx, x, 0, 2), K(id, F, B, T)); break;
    case 6: y = tg_mul(ctx, tg_concat(ctx, (tg_tensor *[]){K(id, T, B, 2), x}, 2, 2), K(id + 1, T, B, F + 2)); break;
    case 7: y = tg_mul(ctx, tg_concat(ctx, (tg_tensor *[]){x, x}, 2, 1), K(id, T, 2 * B, F)); break;
    case 8: y = tg_mul(ctx, tg_linear_op(ctx, x, K(id, 5, F), K(id + 1, 5)), K(id + 2, T, B, 5)); break;
    case 9: {
        tg_rng r;
        tg_rng_seed(&r, 7);
        y = tg_mul(ctx, tg_dropout(ctx, x, 0.5, 1, &r), K(id, T, B, F));
        break;
    }
    case 10:
    case 11: {
        tg_tensor *w_ih = K(id, 4 * H, F), *w_hh = K(id + 1, 4 * H, H), *b_ih = K(id + 2, 4 * H), *b_hh = K(id + 3, 4 * H);
        tg_tensor *h = tg_lstm_op_ckpt(ctx, tg_muls(ctx, x, (tg_real)0.3), tg_muls(ctx, w_ih, (tg_real)0.3),
                                       tg_muls(ctx, w_hh, (tg_real)0.3), b_ih, b_hh, NULL, NULL, 0, k == 11 ? 2 : 0, NULL);
        y = tg_mul(ctx, h, K(id + 4, T, B, H));
        break;
    }
    case 12: y = tg_mul(ctx, tg_slice(ctx, x, 0, 1, 2), K(id, 2, B, F)); break;
    case 13: y = tg_where(ctx, K(id, T, 1, F), tg_mul(ctx, x, K(id + 1, T, B, F)), K(id + 2, T, B, F)); break;
    case 14: y = tg_mul(ctx, tg_maximum(ctx, x, K(id, F)), K(id + 1, T, B, F)); break;
    case 15: {
        tg_tensor *out[2] = {NULL, NULL};
        const int shp[2][TG_MAX_DIMS] = {{T, B, F, 1}, {T, B, F, 1}};
        if (tg_custom(ctx, &twice_op, NULL, &x, 1, 2, (const int[]){3, 3}, shp, out) == 0)
            y = tg_mul(ctx, out[0], K(id, T, B, F));
        break;
    }
    case 16: y = tg_mul(ctx, tg_reshape(ctx, x, TG_SHAPE(B * T, F)), K(id, B * T, F)); break;
    case 17: y = tg_mul(ctx, tg_mul(ctx, x, x), K(id, T, B, F)); break;
    case 18: { /* the same tensor as a custom op's input and weight: linear(r, r) */
        tg_tensor *r = tg_slice(ctx, tg_reshape(ctx, x, TG_SHAPE(T * B, F)), 0, 1, F); /* (F, F) */
        y = tg_mul(ctx, tg_linear_op(ctx, r, r, NULL), K(id, F, F));
        break;
    }
    case 19: y = tg_mul(ctx, tg_relu(ctx, x), K(id, T, B, F)); break;
    case 20: {
        tg_tensor *in[2] = {x, x}, *out = NULL;
        if (tg__custom_first(ctx, &mulrev_op, NULL, in, 2, 1, (const int[]){3}, (const int[][TG_MAX_DIMS]){{T, B, F, 1}},
                             &out, 0) == 0)
            y = tg_mul(ctx, out, K(170, T, B, F)); /* consumer 17's constant: the same function */
        break;
    }
    }
    return tg_sum(ctx, y);
}

static const tg_real *x_values(void)
{
    static tg_real x[N];
    tg_rng r;
    tg_rng_seed(&r, 3);
    for (int i = 0; i < N; i++)
        x[i] = (tg_real)(tg_rng_uniform(&r) * 2 - 1); /* both signs: relu, maximum, abs kinks stay away */
    return x;
}

/* dL/dx of sum over the listed consumers, on ctx (reset first by the caller). 0 or status. */
static int grad_of(tg_ctx *ctx, const int *ks, int nk, tg_real *g)
{
    tg_tensor *x = tg_leaf(ctx, TG_SHAPE(T, B, F), x_values());
    tg_tensor *loss = NULL;
    for (int j = 0; j < nk; j++) {
        tg_tensor *l = consumer(ctx, ks[j], x);
        loss = loss ? tg_add(ctx, loss, l) : l;
    }
    int rc = tg_backward(ctx, loss);
    if (rc)
        return rc;
    if (!x->grad)
        return TG_ESTATE;
    memcpy(g, x->grad, sizeof(tg_real) * N);
    return 0;
}

/* ---------------------------------------------------------------- 1 + 2: pairs on poison */
static void test_consumer_pairs(void)
{
    static tg_real alone[NCONS][N];
    tg_ctx *clean = tg_ctx_create();
    for (int k = 0; k < NCONS; k++) {
        tg_ctx_reset(clean);
        int rc = grad_of(clean, &k, 1, alone[k]);
        CHECK(rc == 0, "consumer %s alone: %s", consumer_name[k], tg_error_message());
    }
    tg_ctx_free(&clean);
    /* the library op given x twice computes consumer 17's function, mul(x, x), alone too */
    CHECK(memcmp(alone[20], alone[17], sizeof alone[17]) == 0, "library op with x twice: %.9g, mul(x, x): %.9g",
          (double)alone[20][0], (double)alone[17][0]);

    tg_ctx *ctx = tg_ctx_create_with_allocator(nan_alloc, NULL);
    for (int i = 0; i < NCONS; i++)
        for (int j = 0; j < NCONS; j++) {
            /* j is recorded last, so its backward runs first (the first writer), i's second */
            poison_reset(ctx);
            tg_real g[N];
            int rc = grad_of(ctx, (const int[]){i, j}, 2, g);
            CHECK(rc == 0, "pair %s, %s: %s", consumer_name[i], consumer_name[j], tg_error_message());
            if (rc)
                continue;
            /* Reference g_i + g_j. The tape may add in another order (a product adding into a
             * gradient with beta = 1 sums its terms onto it): up to 16 roundings of terms no
             * larger than S, the largest |g_i| + |g_j|; a lost or garbage contribution is
             * of the size of g_i or g_j itself. */
            double S = 0;
            for (int e = 0; e < N; e++) {
                double s = fabs((double)alone[i][e]) + fabs((double)alone[j][e]);
                S = s > S ? s : S;
            }
            int bad = -1;
            for (int e = 0; e < N && bad < 0; e++) {
                double ref = (double)alone[i][e] + (double)alone[j][e];
                if (!(fabs((double)g[e] - ref) <= 16 * TG_TEST_EPS * S))
                    bad = e;
            }
            CHECK(bad < 0, "x written by %s, then by %s: element %d is %.9g, the two gradients sum to %.9g",
                  consumer_name[j], consumer_name[i], bad, bad < 0 ? 0.0 : (double)g[bad],
                  bad < 0 ? 0.0 : (double)alone[i][bad] + (double)alone[j][bad]);
        }

    /* A gradient no op wrote at all stays NULL (reads as "none"); a gradient written only
     * in part (through a slice) is exactly zero elsewhere, on a poisoned arena. */
    poison_reset(ctx);
    tg_tensor *z = tg_leaf(ctx, TG_SHAPE(T, B, F), x_values());
    tg_tensor *unused = tg_leaf(ctx, TG_SHAPE(F), x_values());
    tg_tensor *loss = tg_sum(ctx, tg_mul(ctx, tg_select(ctx, z, 0, 1), K(1, B, F)));
    CHECK(tg_backward(ctx, loss) == 0, "%s", tg_error_message());
    CHECK(unused->grad == NULL, "a leaf no op reached has a gradient buffer");
    int nonzero = 0;
    for (int i = 0; i < N; i++)
        nonzero += z->grad && (i / (B * F) != 1) && !(z->grad[i] == 0);
    CHECK(z->grad && nonzero == 0, "%d elements outside the selected row are not 0", nonzero);
    tg_ctx_free(&ctx);
}

/* ---------------------------------------------------------------- 3: training steps */
typedef struct model {
    tg_params *ps;
    tg_lstm_layer lstm;
    tg_linear_layer head;
} model;

static void model_init(model *m)
{
    m->ps = tg_params_create();
    tg_rng r;
    tg_rng_seed(&r, 11);
    CHECK(tg_lstm_layer_init(&m->lstm, m->ps, "lstm", F, H, 5) == 0 &&
              tg_linear_layer_init(&m->head, m->ps, "head", H, 2, 1) == 0 &&
              tg_lstm_reset(&m->lstm, m->ps, TG_INIT_TORCH, &r) == 0 &&
              tg_linear_reset(&m->head, m->ps, TG_INIT_TORCH, &r) == 0,
          "model: %s", tg_error_message());
}

/* One step's loss through LSTM (with its linear + relu input layer), dropout, head,
 * sigmoid; the rng state is passed by value so a rerun draws the same mask. */
static int model_backward(tg_ctx *ctx, model *m, tg_rng r, int step)
{
    tg_real xin[N], tgt[T * B * 2];
    tg_rng d;
    tg_rng_seed(&d, 100u + (uint64_t)step);
    for (int i = 0; i < N; i++)
        xin[i] = (tg_real)tg_rng_normal(&d);
    for (int i = 0; i < T * B * 2; i++)
        tgt[i] = (tg_real)tg_rng_uniform(&d);
    tg_tensor *h = tg_lstm(ctx, m->ps, &m->lstm, tg_from(ctx, TG_SHAPE(T, B, F), xin), NULL, NULL, NULL);
    tg_tensor *y = tg_sigmoid(ctx, tg_linear(ctx, m->ps, &m->head, tg_dropout(ctx, h, 0.3, 1, &r)));
    tg_tensor *e = tg_sub(ctx, y, tg_from(ctx, TG_SHAPE(T, B, 2), tgt));
    return tg_backward(ctx, tg_mean(ctx, tg_mul(ctx, e, e)));
}

static void test_training_steps(void)
{
    model a;
    model_init(&a);
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = 0.05}, a.ps);
    tg_ctx *ctx = tg_ctx_create_with_allocator(nan_alloc, NULL);
    tg_rng r;
    tg_rng_seed(&r, 5);
    const size_t P = a.ps->size;
    tg_real *g1 = malloc(P * sizeof *g1);
    for (int step = 0; step < 4; step++) {
        poison_reset(ctx);
        CHECK(model_backward(ctx, &a, r, step) == 0, "step %d: %s", step, tg_error_message());
        memcpy(g1, a.ps->grad, P * sizeof *g1);

        /* the same step from scratch: new context, new store holding the same values */
        model b;
        model_init(&b);
        memcpy(b.ps->value, a.ps->value, P * sizeof(tg_real));
        tg_ctx *fresh = tg_ctx_create();
        CHECK(model_backward(fresh, &b, r, step) == 0, "fresh step %d: %s", step, tg_error_message());
        CHECK(memcmp(g1, b.ps->grad, P * sizeof *g1) == 0, "step %d: the gradient differs from a fresh computation",
              step);
        int finite = 1;
        for (size_t i = 0; i < P; i++)
            finite &= isfinite((double)g1[i]);
        CHECK(finite, "step %d: a parameter gradient is not finite", step);

        /* a second backward without zero_grad adds the same gradient again: exactly 2 g */
        if (step == 2) {
            poison_reset(ctx);
            CHECK(model_backward(ctx, &a, r, step) == 0, "%s", tg_error_message());
            size_t off = P;
            for (size_t i = 0; i < P && off == P; i++)
                if (!(a.ps->grad[i] == 2 * g1[i]))
                    off = i;
            CHECK(off == P, "second backward: grad[%zu] = %.9g, want 2 x %.9g", off,
                  off < P ? (double)a.ps->grad[off] : 0.0, off < P ? (double)g1[off] : 0.0);
            memcpy(a.ps->grad, g1, P * sizeof *g1);
        }
        tg_ctx_free(&fresh);
        tg_params_free(&b.ps);
        tg_rng_next(&r); /* the next step's dropout mask */
        CHECK(tg_optim_step(opt, a.ps) == 0, "%s", tg_error_message()); /* steps and zeroes the gradient */
    }
    free(g1);
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    tg_params_free(&a.ps);
}

int main(void)
{
    test_consumer_pairs();
    test_training_steps();
    return tg_test_summary();
}
