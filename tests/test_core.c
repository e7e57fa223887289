/* The engine itself: forward values, broadcasting, pruning, accumulation, arena reset,
 * no-grad mode, detach, error reporting, kink conventions, custom ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static tg_real tiny_data[6] = {1, -2, 3, -4, 5, -6};

static void test_forward_values(tg_ctx *ctx)
{
    tg_tensor *a = tg_from(ctx, TG_SHAPE(2, 3), tiny_data);
    tg_tensor *row = tg_from(ctx, TG_SHAPE(3), (tg_real[]){10, 20, 30});
    tg_tensor *col = tg_from(ctx, TG_SHAPE(2, 1), (tg_real[]){100, 200});
    tg_tensor *y = tg_add(ctx, tg_add(ctx, a, row), col);
    CHECK(y && y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 3, "broadcast shape");
    tg_real expect[6] = {111, 118, 133, 206, 225, 224};
    for (int i = 0; i < 6; i++)
        CHECK_EXACT(y->data[i], expect[i]);
    tg_tensor *m = tg_matmul(ctx, a, tg_transpose(ctx, a, 0, 1)); /* (2,2) = a a^T */
    CHECK_EXACT(m->data[0], 14);
    CHECK_EXACT(m->data[1], 1 * -4 + -2 * 5 + 3 * -6);
    CHECK_EXACT(m->data[3], 16 + 25 + 36);
    tg_tensor *s = tg_sum_axis(ctx, a, 0, 0);
    CHECK(s->ndim == 1 && s->shape[0] == 3, "sum_axis shape");
    CHECK_EXACT(s->data[2], -3);
    tg_tensor *sl = tg_slice(ctx, a, 1, 1, 2);
    CHECK_EXACT(sl->data[0], -2);
    CHECK_EXACT(sl->data[3], -6);
    tg_tensor *st = tg_stack(ctx, (tg_tensor *[]){row, row}, 2, 1); /* (3,2) */
    CHECK(st->shape[0] == 3 && st->shape[1] == 2 && st->data[2] == 20 && st->data[3] == 20, "stack layout");
    tg_tensor *cl = tg_clamp(ctx, a, -3, 3);
    CHECK(cl->data[3] == -3 && cl->data[4] == 3 && cl->data[0] == 1, "clamp values");
    CHECK(tg_sigmoid(ctx, tg_scalar(ctx, -200))->data[0] >= 0, "sigmoid stable for large negative inputs");
    CHECK(isfinite((double)tg_softplus(ctx, tg_scalar(ctx, 100))->data[0]), "softplus finite for large inputs");
}

static void test_pruning_and_accumulation(tg_ctx *ctx)
{
    tg_params *ps = tg_params_create();
    int iw = tg_params_add(ps, "w", TG_SHAPE(3));
    tg_real *w = tg_params_data(ps, iw);
    w[0] = 1; w[1] = 2; w[2] = 3;
    for (int step = 0; step < 2; step++) {
        tg_tensor *x = tg_from(ctx, TG_SHAPE(3), (tg_real[]){4, 5, 6});
        tg_tensor *p = tg_param(ctx, ps, iw);
        /* w used twice: L = sum(w*x) + sum(w*w) -> dL/dw = x + 2w */
        tg_tensor *l = tg_add(ctx, tg_sum(ctx, tg_mul(ctx, p, x)), tg_sum(ctx, tg_mul(ctx, p, p)));
        /* a branch that needs no gradient is not recorded */
        size_t before = tg_ctx_tape_length(ctx);
        tg_tensor *nog = tg_exp(ctx, x);
        CHECK(tg_ctx_tape_length(ctx) == before && !nog->requires_grad, "constant branch recorded");
        CHECK(tg_backward(ctx, l) == 0, "backward: %s", tg_error_message());
        CHECK(x->grad == NULL, "constant input got a gradient buffer");
        tg_ctx_reset(ctx);
    }
    /* two steps without zeroing: gradients accumulate (2 * (x + 2w)) */
    CHECK_EXACT(ps->grad[0], 2 * (4 + 2 * 1));
    CHECK_EXACT(ps->grad[2], 2 * (6 + 2 * 3));
    tg_params_zero_grad(ps);
    CHECK(ps->grad[1] == 0, "zero_grad");
    /* frozen parameters receive nothing */
    tg_params_set_frozen(ps, iw, 1);
    tg_tensor *l = tg_sum(ctx, tg_param(ctx, ps, iw));
    CHECK(!l->requires_grad && ps->grad[0] == 0, "frozen parameter");
    tg_ctx_reset(ctx);
    tg_params_free(&ps);
    CHECK(ps == NULL, "free nulls the pointer");
}

static void test_nograd_detach(tg_ctx *ctx)
{
    tg_tensor *x = tg_leaf(ctx, TG_SHAPE(2), (tg_real[]){1, 2});
    int old = tg_ctx_set_grad(ctx, 0);
    tg_tensor *y = tg_mul(ctx, x, x);
    CHECK(old == 1 && !y->requires_grad && tg_ctx_tape_length(ctx) == 0, "no-grad mode records nothing");
    tg_ctx_set_grad(ctx, 1);
    tg_tensor *d = tg_detach(ctx, x);
    tg_tensor *z = tg_sum(ctx, tg_mul(ctx, tg_mul(ctx, d, x), x)); /* d treated as constant: dz/dx = 2 d x */
    CHECK(tg_backward(ctx, z) == 0, "%s", tg_error_message());
    CHECK_EXACT(x->grad[1], 2 * 2 * 2);
    CHECK(d->grad == NULL, "detached tensor got a gradient");
    tg_ctx_reset(ctx);
}

static void test_errors(tg_ctx *ctx)
{
    tg_tensor *a = tg_leaf(ctx, TG_SHAPE(2, 3), NULL), *b = tg_leaf(ctx, TG_SHAPE(4), NULL);
    tg_tensor *y = tg_add(ctx, a, b);
    CHECK(y == NULL && tg_ctx_status(ctx) == TG_ESHAPE, "shape mismatch not reported");
    CHECK(strstr(tg_error_message(), "(2, 3)") && strstr(tg_error_message(), "(4)"), "message: %s", tg_error_message());
    /* the status is sticky: later ops given NULL return NULL, backward refuses */
    CHECK(tg_exp(ctx, y) == NULL, "NULL propagates");
    CHECK(tg_backward(ctx, tg_sum(ctx, y)) != 0, "backward after a failed forward");
    tg_ctx_reset(ctx);
    CHECK(tg_ctx_status(ctx) == 0, "reset clears the status");

    a = tg_leaf(ctx, TG_SHAPE(2, 3), NULL);
    CHECK(tg_backward(ctx, tg_exp(ctx, a)) == TG_ESHAPE, "non-scalar loss without seed");
    CHECK(strstr(tg_error_message(), "not a scalar") != NULL, "message: %s", tg_error_message());
    tg_tensor *l = tg_sum(ctx, tg_exp(ctx, a));
    CHECK(tg_backward(ctx, l) == 0, "first backward");
    CHECK(tg_backward(ctx, l) == TG_ESTATE, "second backward must fail");
    CHECK(strstr(tg_error_message(), "twice") != NULL, "message: %s", tg_error_message());
    tg_ctx_reset(ctx);
    CHECK(tg_matmul(ctx, tg_new(ctx, TG_SHAPE(2, 3)), tg_new(ctx, TG_SHAPE(2, 3))) == NULL, "matmul shapes");
    tg_ctx_reset(ctx);
    CHECK(tg_slice(ctx, tg_new(ctx, TG_SHAPE(2, 3)), 1, 2, 5) == NULL, "slice range");
    tg_ctx_reset(ctx);
    CHECK(tg_reshape(ctx, tg_new(ctx, TG_SHAPE(2, 3)), TG_SHAPE(4)) == NULL, "reshape size");
    tg_ctx_reset(ctx);
    tg_tensor *c = tg_new(ctx, TG_SHAPE(3));
    CHECK(tg_backward(ctx, tg_sum(ctx, c)) == TG_ESTATE, "backward of a constant");
    tg_ctx_reset(ctx);
}

/* Documented subgradient conventions at kinks. */
static void test_kinks(tg_ctx *ctx)
{
    tg_tensor *x = tg_leaf(ctx, TG_SHAPE(1), (tg_real[]){0});
    tg_tensor *l = tg_add(ctx, tg_sum(ctx, tg_relu(ctx, x)), tg_sum(ctx, tg_abs(ctx, x)));
    tg_backward(ctx, l);
    CHECK(x->grad[0] == 0, "relu'(0) + abs'(0) = 0, got %g", (double)x->grad[0]);
    tg_ctx_reset(ctx);

    tg_tensor *a = tg_leaf(ctx, TG_SHAPE(1), (tg_real[]){2}), *b = tg_leaf(ctx, TG_SHAPE(1), (tg_real[]){2});
    tg_backward(ctx, tg_add(ctx, tg_sum(ctx, tg_minimum(ctx, a, b)), tg_muls(ctx, tg_sum(ctx, tg_maximum(ctx, a, b)), 10)));
    CHECK(a->grad[0] == 11 && (b->grad == NULL || b->grad[0] == 0), "ties go to the first argument: %g",
          (double)a->grad[0]);
    tg_ctx_reset(ctx);

    tg_tensor *c = tg_leaf(ctx, TG_SHAPE(4), (tg_real[]){-1, 0, 1, 2});
    tg_backward(ctx, tg_sum(ctx, tg_clamp(ctx, c, 0, 1)));
    CHECK(c->grad[0] == 0 && c->grad[1] == 1 && c->grad[2] == 1 && c->grad[3] == 0, "clamp bounds included");
    tg_ctx_reset(ctx);

    tg_tensor *s = tg_leaf(ctx, TG_SHAPE(2), (tg_real[]){-1, 1});
    tg_tensor *st = tg_step(ctx, s);
    CHECK(st->data[0] == 0 && st->data[1] == 1 && !st->requires_grad, "step has no gradient");
    tg_ctx_reset(ctx);
}

/* User callback op == the same computation from built-in ops. y = exp(a) * b */
static int eb_fwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    for (size_t i = 0; i < out[0]->n; i++)
        out[0]->data[i] = (tg_real)exp((double)in[0]->data[i]) * in[1]->data[i];
    *(int *)ud += 1;
    return 0;
}
static int eb_bwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                  const tg_real *const *g, tg_real *const *gin)
{
    for (size_t i = 0; i < out[0]->n; i++) {
        if (gin[0]) gin[0][i] += g[0][i] * out[0]->data[i];
        if (gin[1]) gin[1][i] += g[0][i] * (tg_real)exp((double)in[0]->data[i]);
    }
    return 0;
}
static int failing_fwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    return tg_error_set(TG_EINVAL, "solver diverged at step 7") ? -1 : -1;
}

static void test_custom(tg_ctx *ctx)
{
    const tg_custom_op op = {"exp_times", eb_fwd, eb_bwd};
    tg_real av[6] = {0.1, -0.3, 0.5, 0.2, -1, 0.7}, bv[6] = {1, 2, -1, 0.5, 3, -2};
    tg_real g_custom[12], g_builtin[12];
    for (int pass = 0; pass < 2; pass++) {
        tg_tensor *a = tg_leaf(ctx, TG_SHAPE(2, 3), av), *b = tg_leaf(ctx, TG_SHAPE(2, 3), bv), *y;
        if (pass == 0) {
            int calls = 0;
            CHECK(tg_custom(ctx, &op, &calls, (tg_tensor *[]){a, b}, 2, 1, (int[]){2},
                            (const int[][TG_MAX_DIMS]){{2, 3, 1, 1}}, &y) == 0, "%s", tg_error_message());
            CHECK(calls == 1 && tg_ctx_tape_length(ctx) == 1, "custom op is one node");
        } else
            y = tg_mul(ctx, tg_exp(ctx, a), b);
        tg_tensor *l = tg_sum(ctx, tg_mul(ctx, y, y));
        tg_backward(ctx, l);
        tg_real *dst = pass ? g_builtin : g_custom;
        memcpy(dst, a->grad, 6 * sizeof(tg_real));
        memcpy(dst + 6, b->grad, 6 * sizeof(tg_real));
        tg_ctx_reset(ctx);
    }
    for (int i = 0; i < 12; i++)
        CHECK_CLOSE(g_custom[i], g_builtin[i], 8 * TG_TEST_EPS, 0);
    /* a failing callback is an error with the op's name and the callback's message */
    const tg_custom_op bad = {"richards_step", failing_fwd, eb_bwd};
    tg_tensor *y, *a = tg_leaf(ctx, TG_SHAPE(1), av);
    int rc = tg_custom(ctx, &bad, NULL, &a, 1, 1, (int[]){1}, (const int[][TG_MAX_DIMS]){{1, 1, 1, 1}}, &y);
    CHECK(rc == TG_EEXTERNAL && strstr(tg_error_message(), "richards_step") && strstr(tg_error_message(), "step 7"),
          "message: %s", tg_error_message());
    tg_ctx_reset(ctx);
}

static void test_arena(tg_ctx *ctx)
{
    for (int i = 0; i < 1000; i++)
        tg_new(ctx, TG_SHAPE(256, 64));
    size_t reserved = tg_ctx_arena_bytes(ctx);
    CHECK(reserved >= 1000u * 256 * 64 * sizeof(tg_real), "arena grew");
    tg_ctx_reset(ctx);
    for (int i = 0; i < 1000; i++)
        tg_new(ctx, TG_SHAPE(256, 64));
    CHECK(tg_ctx_arena_bytes(ctx) == reserved, "arena reused after reset (%zu vs %zu)", tg_ctx_arena_bytes(ctx), reserved);
    tg_ctx_reset(ctx);
}

/* A failing allocator proves allocation failures are reported, not crashes. */
static int budget;
static void *failing_alloc(void *ud, void *p, size_t o, size_t n)
{
    if (n == 0) { free(p); return NULL; }
    if (budget-- <= 0) return NULL;
    return realloc(p, n);
}

static void test_alloc_failure(void)
{
    for (int b = 0; b < 6; b++) {
        budget = b;
        tg_set_allocator(failing_alloc, NULL);
        tg_params *ps = tg_params_create();
        int id = ps ? tg_params_add(ps, "w", TG_SHAPE(10)) : -1;
        tg_set_allocator(NULL, NULL);
        CHECK(ps == NULL || id >= 0 || tg_error_code() == TG_ENOMEM, "budget %d: error %d", b, tg_error_code());
        tg_params_free(&ps);
    }
}

static void test_rng(void)
{
    tg_rng a, b;
    tg_rng_seed(&a, 42);
    tg_rng_seed(&b, 42);
    int same = 1;
    double mean = 0;
    for (int i = 0; i < 10000; i++) {
        double u = tg_rng_uniform(&a);
        same &= u == tg_rng_uniform(&b);
        mean += u;
    }
    CHECK(same, "same seed, same stream");
    CHECK(fabs(mean / 10000 - 0.5) < 0.01, "uniform mean %g", mean / 10000);
    uint64_t counts[3] = {0};
    for (int i = 0; i < 30000; i++)
        counts[tg_rng_below(&a, 3)]++;
    CHECK(counts[0] > 9500 && counts[1] > 9500 && counts[2] > 9500, "below(3) roughly uniform");
}

int main(void)
{
    tg_ctx *ctx = tg_ctx_create();
    test_forward_values(ctx);
    tg_ctx_reset(ctx);
    test_pruning_and_accumulation(ctx);
    test_nograd_detach(ctx);
    test_errors(ctx);
    test_kinks(ctx);
    test_custom(ctx);
    test_arena(ctx);
    tg_ctx_free(&ctx);
    CHECK(ctx == NULL, "ctx_free nulls");
    test_alloc_failure();
    test_rng();
    return tg_test_summary();
}
