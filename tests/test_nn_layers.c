/* test_nn_layers.c — linear, MLP, dropout and initialisation on the tape.
 *  - linear: forward equals a hand-computed product; gradients vs finite differences;
 *  - MLP (every activation): gradients of all weights (through tg_params) and of the
 *    input vs central differences, double build rel err < 1e-6;
 *  - dropout: keep rate, scaling, mask reused by backward, eval mode is identity, same
 *    mask on 1 and 2 threads, rng advanced by exactly one draw;
 *  - init: bounds and moments of the schemes. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "testutil.h"

/* The verification is the double build; the float build only checks for gross errors
 * (a float central difference carries ~1e-4 relative noise). */
#ifdef TG_DOUBLE
#define FD_STEP 1e-5
#define FD_TOL 1e-6
#define FD_FLOOR 1e-3
#else
#define FD_STEP 2e-3
#define FD_TOL 5e-2
#define FD_FLOOR 1e-1
#endif

static void fill(tg_real *v, size_t n, tg_rng *r, double scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (tg_real)(scale * (2.0 * tg_rng_uniform(r) - 1.0));
}

/* ---------------------------------------------------------------- linear */
static void test_linear_forward(void)
{
    tg_ctx *ctx = tg_ctx_create();
    /* x (2, 3, 2) batched over two leading dims; W (2, 2); b (2) */
    tg_real xs[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ws[4] = {1, -1, 0.5, 2}, bs[2] = {0.25, -3};
    tg_tensor *x = tg_from(ctx, TG_SHAPE(2, 3, 2), xs), *w = tg_from(ctx, TG_SHAPE(2, 2), ws);
    tg_tensor *b = tg_from(ctx, TG_SHAPE(2), bs);
    tg_tensor *y = tg_linear_op(ctx, x, w, b);
    CHECK(y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 2, "linear output shape");
    if (y)
        for (int r = 0; r < 6; r++) {
            double x0 = (double)xs[2 * r], x1 = (double)xs[2 * r + 1];
            CHECK_CLOSE(y->data[2 * r], x0 - x1 + 0.25, 4 * TG_TEST_EPS, 0);
            CHECK_CLOSE(y->data[2 * r + 1], 0.5 * x0 + 2 * x1 - 3, 4 * TG_TEST_EPS, 0);
        }
    /* wrong inner size is a shape error naming both shapes */
    tg_tensor *bad = tg_linear_op(ctx, tg_from(ctx, TG_SHAPE(4, 3), xs), w, b);
    CHECK(!bad && tg_ctx_status(ctx) == TG_ESHAPE, "shape error expected");
    CHECK(strstr(tg_error_message(), "(4, 3)") != NULL, "message: %s", tg_error_message());
    tg_ctx_free(&ctx);
}

typedef struct lin_ud {
    const tg_real *wts;     /* loss weights (N, out) */
    int bias;
} lin_ud;

static tg_tensor *linear_loss(tg_ctx *ctx, tg_tensor *const *in, int n, void *ud)
{
    const lin_ud *u = ud;
    tg_tensor *y = tg_linear_op(ctx, in[0], in[1], u->bias ? in[2] : NULL);
    (void)n;
    return tg_sum(ctx, tg_mul(ctx, y, tg_from(ctx, y->ndim, y->shape, u->wts)));
}

static void test_linear_grad(int bias)
{
    enum { N1 = 3, N2 = 4, IN = 5, OUT = 3 };
    tg_real x[N1 * N2 * IN], w[OUT * IN], b[OUT], wts[N1 * N2 * OUT];
    tg_rng r;
    tg_rng_seed(&r, 3);
    fill(x, N1 * N2 * IN, &r, 1), fill(w, OUT * IN, &r, 1), fill(b, OUT, &r, 1), fill(wts, N1 * N2 * OUT, &r, 1);
    lin_ud u = {wts, bias};
    const int ndims[3] = {3, 2, 1};
    const int shapes[3][TG_MAX_DIMS] = {{N1, N2, IN, 1}, {OUT, IN, 1, 1}, {OUT, 1, 1, 1}};
    tg_real *inputs[3] = {x, w, b};
    tg_gradcheck_result res;
    int rc = tg_gradcheck(linear_loss, &u, bias ? 3 : 2, ndims, shapes, inputs, FD_STEP, &res);
    CHECK(rc == 0, "gradcheck rc %d: %s", rc, tg_error_message());
    CHECK(res.max_rel_err < FD_TOL && res.checked > 0, "linear (bias %d): rel err %.3g over %zu", bias,
          res.max_rel_err, res.checked);
}

/* ---------------------------------------------------------------- MLP */
typedef struct mlp_case {
    tg_params *ps;
    tg_mlp_layer m;
    tg_real x[7 * 3], wts[7 * 2];
} mlp_case;

static double mlp_loss(mlp_case *c, int backward, tg_real *dx)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *x = backward ? tg_leaf(ctx, TG_SHAPE(7, 3), c->x) : tg_from(ctx, TG_SHAPE(7, 3), c->x);
    tg_tensor *y = tg_mlp(ctx, c->ps, &c->m, x);
    tg_tensor *L = tg_sum(ctx, tg_mul(ctx, y, tg_from(ctx, TG_SHAPE(7, 2), c->wts)));
    double v = L ? (double)L->data[0] : nan("");
    if (backward && L) {
        CHECK(tg_backward(ctx, L) == 0, "backward: %s", tg_error_message());
        memcpy(dx, x->grad, sizeof(tg_real) * 21);
    }
    CHECK(L != NULL, "mlp forward failed: %s", tg_error_message());
    tg_ctx_free(&ctx);
    return v;
}

static void test_mlp_grad(tg_act hidden, tg_act out)
{
    mlp_case c;
    c.ps = tg_params_create();
    const int widths[4] = {3, 6, 5, 2};
    CHECK(tg_mlp_init(&c.m, c.ps, "mlp", 4, widths, hidden, out) == 0, "mlp init");
    tg_rng r;
    tg_rng_seed(&r, 11 + (uint64_t)hidden);
    CHECK(tg_mlp_reset(&c.m, c.ps, TG_INIT_XAVIER_UNIFORM, &r) == 0, "mlp reset");
    /* non-zero biases so every path is exercised */
    for (int i = 0; i < c.m.n_layers; i++)
        fill(tg_params_data(c.ps, c.m.lin[i].b), (size_t)widths[i + 1], &r, 0.5);
    fill(c.x, 21, &r, 1.5), fill(c.wts, 14, &r, 1);
    tg_real dx[21];
    tg_params_zero_grad(c.ps);
    mlp_loss(&c, 1, dx);
    double worst = 0.0;
    for (size_t i = 0; i < c.ps->size; i++) {
        tg_real keep = c.ps->value[i];
        c.ps->value[i] = (tg_real)((double)keep + FD_STEP);
        double lp = mlp_loss(&c, 0, NULL);
        c.ps->value[i] = (tg_real)((double)keep - FD_STEP);
        double lm = mlp_loss(&c, 0, NULL);
        c.ps->value[i] = keep;
        worst = fmax(worst, tg_rel_err((lp - lm) / (2 * FD_STEP), (double)c.ps->grad[i], FD_FLOOR));
    }
    for (int i = 0; i < 21; i++) {
        tg_real keep = c.x[i];
        c.x[i] = (tg_real)((double)keep + FD_STEP);
        double lp = mlp_loss(&c, 0, NULL);
        c.x[i] = (tg_real)((double)keep - FD_STEP);
        double lm = mlp_loss(&c, 0, NULL);
        c.x[i] = keep;
        worst = fmax(worst, tg_rel_err((lp - lm) / (2 * FD_STEP), (double)dx[i], FD_FLOOR));
    }
    CHECK(worst < FD_TOL, "mlp %s/%s: worst rel err %.3g", tg_act_name(hidden), tg_act_name(out), worst);
    tg_params_free(&c.ps);
}

/* ---------------------------------------------------------------- dropout */
static void test_dropout(void)
{
    enum { N = 200000 };
    static tg_real xs[N], seed[N];
    for (int i = 0; i < N; i++)
        xs[i] = (tg_real)(1 + i % 7), seed[i] = (tg_real)(i % 3);
    const double p = 0.4;
    tg_rng r1, r2;
    tg_rng_seed(&r1, 5);
    r2 = r1;
    int keep_threads = omp_get_max_threads();
    omp_set_num_threads(1);
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *x = tg_leaf(ctx, TG_SHAPE(N), xs);
    tg_tensor *y = tg_dropout(ctx, x, p, 1, &r1);
    CHECK(y != NULL, "dropout: %s", tg_error_message());
    size_t kept = 0;
    int scale_ok = 1;
    for (int i = 0; i < N; i++) {
        if (y->data[i] != TG_R(0.0)) {
            kept++;
            scale_ok &= fabs((double)y->data[i] - (double)xs[i] / (1 - p)) < 1e-5 * (double)xs[i];
        }
    }
    double rate = (double)kept / N;
    /* binomial sd = sqrt(0.24 / 2e5) ~ 0.0011 */
    CHECK(fabs(rate - 0.6) < 0.005, "keep rate %.4f", rate);
    CHECK(scale_ok, "kept values scaled by 1/(1-p)");
    CHECK(tg_backward_seed(ctx, y, seed) == 0, "backward: %s", tg_error_message());
    int grad_ok = 1;
    for (int i = 0; i < N; i++) {
        double want = y->data[i] != TG_R(0.0) ? (double)seed[i] / (1 - p) : 0.0;
        grad_ok &= fabs((double)x->grad[i] - want) < 1e-5;
    }
    CHECK(grad_ok, "backward uses the forward mask");
    /* the caller's generator moved by exactly one draw */
    tg_rng r3 = r2;
    tg_rng_next(&r3);
    CHECK(memcmp(&r3, &r1, sizeof r1) == 0, "rng advanced by one draw");
    /* same mask with 2 threads */
    static tg_real y1[N];
    memcpy(y1, y->data, sizeof y1);
    tg_ctx_reset(ctx);
    omp_set_num_threads(2);
    tg_tensor *y2 = tg_dropout(ctx, tg_from(ctx, TG_SHAPE(N), xs), p, 1, &r2);
    CHECK(y2 && memcmp(y2->data, y1, sizeof y1) == 0, "same mask on 1 and 2 threads");
    omp_set_num_threads(keep_threads);
    /* evaluation mode: identity, no draw */
    tg_rng r4 = r2;
    tg_tensor *x3 = tg_from(ctx, TG_SHAPE(N), xs);
    CHECK(tg_dropout(ctx, x3, p, 0, &r2) == x3 && memcmp(&r4, &r2, sizeof r2) == 0, "eval mode is identity");
    CHECK(tg_dropout(ctx, x3, 1.5, 1, &r2) == NULL && tg_ctx_status(ctx) == TG_EINVAL, "p > 1 rejected");
    tg_ctx_free(&ctx);
}

/* ---------------------------------------------------------------- init */
static void test_init(void)
{
    tg_params *ps = tg_params_create();
    tg_linear_layer l;
    CHECK(tg_linear_layer_init(&l, ps, "lin", 400, 300, 1) == 0, "init layer");
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_linear_reset(&l, ps, TG_INIT_TORCH, &r);
    const tg_real *w = tg_params_data(ps, l.w);
    size_t n = tg_params_numel(ps, l.w);
    double mx = 0, m2 = 0, bound = 1 / sqrt(400.0);
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs((double)w[i])), m2 += (double)w[i] * (double)w[i];
    CHECK(mx <= bound && mx > 0.99 * bound, "torch bound %.4g (max %.4g)", bound, mx);
    CHECK(fabs(m2 / (double)n - bound * bound / 3) < 0.02 * bound * bound / 3, "uniform variance");
    tg_linear_reset(&l, ps, TG_INIT_XAVIER_NORMAL, &r);
    m2 = 0;
    for (size_t i = 0; i < n; i++)
        m2 += (double)w[i] * (double)w[i];
    CHECK(fabs(m2 / (double)n - 2.0 / 700) < 0.03 * 2.0 / 700, "xavier normal variance %.4g", m2 / (double)n);
    const tg_real *b = tg_params_data(ps, l.b);
    CHECK(b[0] == 0 && b[299] == 0, "xavier biases zero");
    tg_act a;
    CHECK(tg_act_parse("softplus", &a) == 0 && a == TG_ACT_SOFTPLUS, "parse softplus");
    CHECK(tg_act_parse("swish", &a) == TG_EINVAL && strstr(tg_error_message(), "swish"), "unknown act");
    tg_params_free(&ps);
}

int main(void)
{
    test_linear_forward();
    test_linear_grad(1);
    test_linear_grad(0);
    test_mlp_grad(TG_ACT_TANH, TG_ACT_IDENTITY);
    test_mlp_grad(TG_ACT_SIGMOID, TG_ACT_SOFTPLUS);
    test_mlp_grad(TG_ACT_SIN, TG_ACT_TANH);
    test_mlp_grad(TG_ACT_SOFTPLUS, TG_ACT_SIGMOID);
#ifdef TG_DOUBLE
    test_mlp_grad(TG_ACT_RELU, TG_ACT_IDENTITY);   /* float steps would cross the kink */
#endif
    test_dropout();
    test_init();
    return tg_test_summary();
}
