/* test_nn_lstm.c — the fused LSTM op on the tape.
 *  - tg_gradcheck of every input (x, W_ih, W_hh, b_ih, b_hh, h0, c0), loss on all hidden
 *    states and on c_T, with and without initial states (double: rel err < 1e-6);
 *  - the fused op equals an unfused composition of core ops (matmul, sigmoid, tanh, mul,
 *    add, slice, select, stack): same outputs and same gradients;
 *  - the layer with an input layer (linear + ReLU) through tg_params vs differences;
 *  - a full training-step gradient (input layer, LSTM, dropout, head) is bit-identical on
 *    1 and 2 threads, at sizes where every parallel path (row blocks, K blocks, batch
 *    chunks) is taken. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "testutil.h"

/* The verification is the double build; in float a central difference carries ~1e-4
 * absolute noise, so there only gross errors are caught (absolute tolerance). */
#ifdef TG_DOUBLE
#define FD_STEP 1e-5
#define FD_TOL 1e-6
#define FD_FLOOR 1e-3
#else
#define FD_STEP 2e-3
#define FD_TOL 5e-2
#define FD_FLOOR 1e-1
#endif

enum { T = 4, B = 3, F = 3, H = 5, G = 4 * H };

static void fill(tg_real *v, size_t n, tg_rng *r, double scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (tg_real)(scale * (2.0 * tg_rng_uniform(r) - 1.0));
}

typedef struct lstm_ud {
    int use_h0, use_c0, unfused;
    tg_real wh[T * B * H], wc[B * H];
} lstm_ud;

/* The same LSTM from core ops, one step at a time (the oracle). */
static tg_tensor *lstm_unfused(tg_ctx *ctx, tg_tensor *x, tg_tensor *wih, tg_tensor *whh, tg_tensor *bih,
                               tg_tensor *bhh, tg_tensor *h0, tg_tensor *c0, tg_tensor **c_last)
{
    tg_tensor *wihT = tg_transpose(ctx, wih, 0, 1), *whhT = tg_transpose(ctx, whh, 0, 1);
    tg_tensor *h = h0, *c = c0, *hs[T];
    for (int t = 0; t < T; t++) {
        tg_tensor *a = tg_add(ctx, tg_add(ctx, tg_matmul(ctx, tg_select(ctx, x, 0, t), wihT), bih), bhh);
        if (h)
            a = tg_add(ctx, a, tg_matmul(ctx, h, whhT));
        tg_tensor *i = tg_sigmoid(ctx, tg_slice(ctx, a, 1, 0, H));
        tg_tensor *f = tg_sigmoid(ctx, tg_slice(ctx, a, 1, H, H));
        tg_tensor *g = tg_tanh(ctx, tg_slice(ctx, a, 1, 2 * H, H));
        tg_tensor *o = tg_sigmoid(ctx, tg_slice(ctx, a, 1, 3 * H, H));
        tg_tensor *ig = tg_mul(ctx, i, g);
        c = c ? tg_add(ctx, tg_mul(ctx, f, c), ig) : ig;
        h = tg_mul(ctx, o, tg_tanh(ctx, c));
        hs[t] = h;
    }
    *c_last = c;
    return tg_stack(ctx, hs, T, 0);
}

static tg_tensor *lstm_loss(tg_ctx *ctx, tg_tensor *const *in, int n, void *vud)
{
    const lstm_ud *u = vud;
    (void)n;
    tg_tensor *h0 = u->use_h0 ? in[5] : NULL, *c0 = u->use_c0 ? in[6] : NULL, *cl = NULL, *h;
    if (u->unfused)
        h = lstm_unfused(ctx, in[0], in[1], in[2], in[3], in[4], h0, c0, &cl);
    else
        h = tg_lstm_op(ctx, in[0], in[1], in[2], in[3], in[4], h0, c0, 0, &cl);
    if (!h)
        return NULL;
    tg_tensor *l1 = tg_sum(ctx, tg_mul(ctx, h, tg_from(ctx, TG_SHAPE(T, B, H), u->wh)));
    tg_tensor *l2 = tg_sum(ctx, tg_mul(ctx, cl, tg_from(ctx, TG_SHAPE(B, H), u->wc)));
    return tg_add(ctx, l1, l2);
}

static tg_real X[T * B * F], WIH[G * F], WHH[G * H], BIH[G], BHH[G], H0[B * H], C0[B * H];
static const int NDIMS[7] = {3, 2, 2, 1, 1, 2, 2};
static const int SHAPES[7][TG_MAX_DIMS] = {{T, B, F, 1}, {G, F, 1, 1}, {G, H, 1, 1}, {G, 1, 1, 1},
                                           {G, 1, 1, 1}, {B, H, 1, 1}, {B, H, 1, 1}};

static void setup(lstm_ud *u, uint64_t seed)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    fill(X, T * B * F, &r, 1), fill(WIH, G * F, &r, 0.6), fill(WHH, G * H, &r, 0.6);
    fill(BIH, G, &r, 0.5), fill(BHH, G, &r, 0.5), fill(H0, B * H, &r, 0.8), fill(C0, B * H, &r, 0.8);
    fill(u->wh, T * B * H, &r, 1), fill(u->wc, B * H, &r, 1);
}

static void test_gradcheck(int use_h0, int use_c0)
{
    static lstm_ud u;
    setup(&u, 21 + (uint64_t)(2 * use_h0 + use_c0));
    u.use_h0 = use_h0, u.use_c0 = use_c0, u.unfused = 0;
    tg_real *inputs[7] = {X, WIH, WHH, BIH, BHH, H0, C0};
    tg_gradcheck_result res;
    int rc = tg_gradcheck(lstm_loss, &u, 7, NDIMS, SHAPES, inputs, FD_STEP, &res);
    CHECK(rc == 0, "gradcheck: %s", tg_error_message());
#ifdef TG_DOUBLE
    const double err = res.max_rel_err;
#else
    const double err = res.max_abs_err * 10;
#endif
    CHECK(err < FD_TOL, "lstm h0 %d c0 %d: rel err %.3g (abs %.3g) over %zu", use_h0, use_c0,
          res.max_rel_err, res.max_abs_err, res.checked);
}

/* Runs the loss with leaves for all 7 inputs and returns outputs + gradients. */
static void run(lstm_ud *u, tg_real *hout, tg_real *grads[7], double *loss)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_real *data[7] = {X, WIH, WHH, BIH, BHH, H0, C0};
    tg_tensor *in[7];
    for (int k = 0; k < 7; k++)
        in[k] = tg_leaf(ctx, NDIMS[k], SHAPES[k], data[k]);
    tg_tensor *L = lstm_loss(ctx, in, 7, u);
    CHECK(L && tg_backward(ctx, L) == 0, "run: %s", tg_error_message());
    *loss = L ? (double)L->data[0] : 0.0;
    for (int k = 0; k < 7; k++) {
        size_t n = in[k]->n;
        for (size_t j = 0; j < n; j++)
            grads[k][j] = in[k]->grad ? in[k]->grad[j] : TG_R(0.0);
    }
    /* hidden states: recompute forward without grad to read h */
    tg_ctx_reset(ctx);
    tg_ctx_set_grad(ctx, 0);
    tg_tensor *cl;
    tg_tensor *h = tg_lstm_op(ctx, tg_from(ctx, TG_SHAPE(T, B, F), X), tg_from(ctx, TG_SHAPE(G, F), WIH),
                              tg_from(ctx, TG_SHAPE(G, H), WHH), tg_from(ctx, TG_SHAPE(G), BIH),
                              tg_from(ctx, TG_SHAPE(G), BHH), u->use_h0 ? tg_from(ctx, TG_SHAPE(B, H), H0) : NULL,
                              u->use_c0 ? tg_from(ctx, TG_SHAPE(B, H), C0) : NULL, 0, &cl);
    if (h)
        memcpy(hout, h->data, sizeof(tg_real) * T * B * H);
    tg_ctx_free(&ctx);
}

static void test_fused_vs_unfused(int use_h0, int use_c0)
{
    static lstm_ud u;
    setup(&u, 77);
    u.use_h0 = use_h0, u.use_c0 = use_c0;
    static tg_real ga[7][T * B * G], gb[7][T * B * G], ha[T * B * H];
    tg_real *pa[7], *pb[7];
    for (int k = 0; k < 7; k++)
        pa[k] = ga[k], pb[k] = gb[k];
    double la, lb;
    u.unfused = 0;
    run(&u, ha, pa, &la);
    u.unfused = 1;
    run(&u, ha, pb, &lb);
#ifdef TG_DOUBLE
    const double tol = 1e-12;
#else
    const double tol = 2e-5;
#endif
    CHECK_CLOSE(la, lb, tol, 0);
    const char *names[7] = {"x", "W_ih", "W_hh", "b_ih", "b_hh", "h0", "c0"};
    for (int k = 0; k < 7; k++) {
        size_t n = 1;
        for (int d = 0; d < NDIMS[k]; d++)
            n *= (size_t)SHAPES[k][d];
        double worst = 0.0;
        for (size_t j = 0; j < n; j++)
            worst = fmax(worst, fabs((double)ga[k][j] - (double)gb[k][j]));
        CHECK(worst < tol, "fused vs unfused d%s (h0 %d c0 %d): max diff %.3g", names[k], use_h0, use_c0, worst);
    }
}

/* ---------------------------------------------------------------- layer with input layer */
typedef struct layer_case {
    tg_params *ps;
    tg_lstm_layer l;
    tg_real x[T * B * F], wh[T * B * H];
} layer_case;

static double layer_loss(layer_case *c, int backward)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *h = tg_lstm(ctx, c->ps, &c->l, tg_from(ctx, TG_SHAPE(T, B, F), c->x), NULL, NULL, NULL);
    tg_tensor *L = tg_sum(ctx, tg_mul(ctx, h, tg_from(ctx, TG_SHAPE(T, B, H), c->wh)));
    double v = L ? (double)L->data[0] : 0.0;
    CHECK(L != NULL, "layer: %s", tg_error_message());
    if (backward && L)
        CHECK(tg_backward(ctx, L) == 0, "layer backward: %s", tg_error_message());
    tg_ctx_free(&ctx);
    return v;
}

static void test_layer_input(void)
{
    layer_case c;
    c.ps = tg_params_create();
    CHECK(tg_lstm_layer_init(&c.l, c.ps, "lstm", F, H, 6) == 0, "layer init");
    CHECK(c.ps->count == 6 && tg_params_find(c.ps, "lstm.weight_hh") == c.l.w_hh, "6 parameters, named");
    tg_rng r;
    tg_rng_seed(&r, 4);
    CHECK(tg_lstm_reset(&c.l, c.ps, TG_INIT_TORCH, &r) == 0, "reset");
    tg_lstm_set_forget_bias(&c.l, c.ps, 3.0);
    const tg_real *bhh = tg_params_data(c.ps, c.l.b_hh);
    CHECK(bhh[H] == TG_R(3.0) && bhh[2 * H - 1] == TG_R(3.0) && bhh[0] != TG_R(3.0) && bhh[2 * H] != TG_R(3.0),
          "forget block of bias_hh set");
    tg_real *wi = tg_params_data(c.ps, c.l.w_ih);
    double mx = 0;
    for (size_t i = 0; i < tg_params_numel(c.ps, c.l.w_ih); i++)
        mx = fmax(mx, fabs((double)wi[i]));
    CHECK(mx <= 1 / sqrt((double)H), "torch init bound 1/sqrt(H)");
    /* input-layer biases positive enough that ReLU kinks are far from the FD steps */
    tg_real *bin = tg_params_data(c.ps, c.l.inp.b);
    for (int j = 0; j < 6; j++)
        bin[j] = (tg_real)(1.5 + 0.1 * j);
    fill(c.x, T * B * F, &r, 0.5), fill(c.wh, T * B * H, &r, 1);
    tg_params_zero_grad(c.ps);
    layer_loss(&c, 1);
    double worst = 0.0;
    for (size_t i = 0; i < c.ps->size; i++) {
        tg_real keep = c.ps->value[i];
        c.ps->value[i] = (tg_real)((double)keep + FD_STEP);
        double lp = layer_loss(&c, 0);
        c.ps->value[i] = (tg_real)((double)keep - FD_STEP);
        double lm = layer_loss(&c, 0);
        c.ps->value[i] = keep;
        worst = fmax(worst, tg_rel_err((lp - lm) / (2 * FD_STEP), (double)c.ps->grad[i], FD_FLOOR));
    }
    CHECK(worst < FD_TOL, "lstm layer with input layer: worst rel err %.3g", worst);
    tg_params_free(&c.ps);
}

/* ---------------------------------------------------------------- determinism */
enum { DT = 130, DB = 128, DF = 4, DH = 16 };

static void train_grad(int threads, tg_real *grad_out, size_t *n)
{
    omp_set_num_threads(threads);
    tg_params *ps = tg_params_create();
    tg_lstm_layer l;
    tg_linear_layer head;
    tg_lstm_layer_init(&l, ps, "lstm", DF, DH, 8);
    tg_linear_layer_init(&head, ps, "head", DH, 1, 1);
    tg_rng r;
    tg_rng_seed(&r, 2024);
    tg_lstm_reset(&l, ps, TG_INIT_TORCH, &r);
    tg_linear_reset(&head, ps, TG_INIT_TORCH, &r);
    static tg_real x[DT * DB * DF];
    fill(x, DT * DB * DF, &r, 1);
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *h = tg_lstm(ctx, ps, &l, tg_from(ctx, TG_SHAPE(DT, DB, DF), x), NULL, NULL, NULL);
    tg_tensor *y = tg_linear(ctx, ps, &head, tg_dropout(ctx, h, 0.4, 1, &r));
    tg_tensor *L = tg_mean(ctx, tg_mul(ctx, y, y));
    CHECK(L && tg_backward(ctx, L) == 0, "determinism step: %s", tg_error_message());
    memcpy(grad_out, ps->grad, sizeof(tg_real) * ps->size);
    *n = ps->size;
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
}

static void test_threads(void)
{
    int keep = omp_get_max_threads();
    static tg_real g1[8192], g2[8192];
    size_t n1, n2;
    train_grad(1, g1, &n1);
    train_grad(2, g2, &n2);
    omp_set_num_threads(keep);
    double norm = 0;
    for (size_t i = 0; i < n1; i++)
        norm += (double)g1[i] * (double)g1[i];
    CHECK(n1 == n2 && n1 < 8192 && norm > 0, "sizes %zu %zu, |g|^2 %g", n1, n2, norm);
    CHECK(memcmp(g1, g2, sizeof(tg_real) * n1) == 0, "gradients differ between 1 and 2 threads");
}

int main(void)
{
    test_gradcheck(0, 0);
    test_gradcheck(1, 0);
    test_gradcheck(0, 1);
    test_gradcheck(1, 1);
    test_fused_vs_unfused(0, 0);
    test_fused_vs_unfused(1, 1);
    test_layer_input();
    test_threads();
    return tg_test_summary();
}
