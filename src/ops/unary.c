/* unary.c — elementwise ops of one tensor (optionally with scalars): scalar arithmetic,
 * pow by a scalar, exp/log/log1p/sqrt/abs, activations, sin/cos, clamp, step, copy.
 * Derivatives use the saved output where that is cheaper (exp, tanh, sigmoid, sqrt). */
#include "core/internal.h"
#include "core/realmath.h"

enum {
    U_ADDS, U_MULS, U_RSUBS, U_RDIVS, U_POWS, U_NEG, U_EXP, U_LOG, U_LOG1P, U_SQRT, U_ABS,
    U_TANH, U_SIGMOID, U_RELU, U_SOFTPLUS, U_SIN, U_COS, U_CLAMP, U_STEP, U_COPY
};
static const char *const uname[] = {"adds", "muls", "rsubs", "rdivs", "pows", "neg", "exp",
                                    "log", "log1p", "sqrt", "abs", "tanh", "sigmoid", "relu",
                                    "softplus", "sin", "cos", "clamp", "step", "copy"};

static inline tg_real sigmoid1(tg_real x)
{
    /* Never exponentiate a large positive number: both branches stay finite. */
    if (x >= 0)
        return 1 / (1 + R_EXP(-x));
    tg_real e = R_EXP(x);
    return e / (1 + e);
}

static inline tg_real softplus1(tg_real x)
{
    return x > 20 ? x : (x < -20 ? R_EXP(x) : R_LOG1P(R_EXP(x)));
}

static void forward_range(int op, const tg_real *s, size_t n, const tg_real *x, tg_real *y)
{
    size_t i;
    tg_real s0 = s[0], s1 = s[1];
    switch (op) {
    case U_ADDS: for (i = 0; i < n; i++) y[i] = x[i] + s0; break;
    case U_MULS: for (i = 0; i < n; i++) y[i] = x[i] * s0; break;
    case U_RSUBS: for (i = 0; i < n; i++) y[i] = s0 - x[i]; break;
    case U_RDIVS: for (i = 0; i < n; i++) y[i] = s0 / x[i]; break;
    case U_POWS:
        if (s0 == 2) for (i = 0; i < n; i++) y[i] = x[i] * x[i];
        else for (i = 0; i < n; i++) y[i] = R_POW(x[i], s0);
        break;
    case U_NEG: for (i = 0; i < n; i++) y[i] = -x[i]; break;
    case U_EXP: for (i = 0; i < n; i++) y[i] = R_EXP(x[i]); break;
    case U_LOG: for (i = 0; i < n; i++) y[i] = R_LOG(x[i]); break;
    case U_LOG1P: for (i = 0; i < n; i++) y[i] = R_LOG1P(x[i]); break;
    case U_SQRT: for (i = 0; i < n; i++) y[i] = R_SQRT(x[i]); break;
    case U_ABS: for (i = 0; i < n; i++) y[i] = R_FABS(x[i]); break;
    case U_TANH: for (i = 0; i < n; i++) y[i] = R_TANH(x[i]); break;
    case U_SIGMOID: for (i = 0; i < n; i++) y[i] = sigmoid1(x[i]); break;
    case U_RELU: for (i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0; break;
    case U_SOFTPLUS: for (i = 0; i < n; i++) y[i] = softplus1(x[i]); break;
    case U_SIN: for (i = 0; i < n; i++) y[i] = R_SIN(x[i]); break;
    case U_COS: for (i = 0; i < n; i++) y[i] = R_COS(x[i]); break;
    case U_CLAMP: for (i = 0; i < n; i++) y[i] = x[i] < s0 ? s0 : (x[i] > s1 ? s1 : x[i]); break;
    case U_STEP: for (i = 0; i < n; i++) y[i] = x[i] > 0 ? 1 : 0; break;
    case U_COPY: for (i = 0; i < n; i++) y[i] = x[i]; break;
    }
}

/* Kinks as selects of values already loaded: with g[i] read only on one side, the compiler
 * may not load it unconditionally and leaves a branchy scalar loop (a mispredicted branch
 * per element of relu's random signs); as values the select vectorises. Same results. */
static inline tg_real pass_if(int keep, tg_real g) { return keep ? g : 0; }
static inline tg_real abs_grad(tg_real x, tg_real g) { return x > 0 ? g : (x < 0 ? -g : 0); }

/* gx = g * dy/dx (first: the fresh buffer is stored into) or gx += g * dy/dx. Subtractions
 * are written as adding the negation, which IEEE arithmetic rounds identically. */
#define UNARY_BACKWARD_CASES(ACC)                                                                    \
    switch (op) {                                                                                    \
    case U_ADDS: case U_COPY: for (i = 0; i < n; i++) gx[i] ACC g[i]; break;                          \
    case U_MULS: for (i = 0; i < n; i++) gx[i] ACC g[i] * s0; break;                                  \
    case U_RSUBS: case U_NEG: for (i = 0; i < n; i++) gx[i] ACC -g[i]; break;                         \
    case U_RDIVS: for (i = 0; i < n; i++) gx[i] ACC -(g[i] * y[i] / x[i]); break;                     \
    case U_POWS:                                                                                     \
        if (s0 == 2) for (i = 0; i < n; i++) gx[i] ACC g[i] * 2 * x[i];                               \
        else for (i = 0; i < n; i++) gx[i] ACC g[i] * s0 * R_POW(x[i], s0 - 1);                       \
        break;                                                                                       \
    case U_EXP: for (i = 0; i < n; i++) gx[i] ACC g[i] * y[i]; break;                                 \
    case U_LOG: for (i = 0; i < n; i++) gx[i] ACC g[i] / x[i]; break;                                 \
    case U_LOG1P: for (i = 0; i < n; i++) gx[i] ACC g[i] / (1 + x[i]); break;                         \
    case U_SQRT: for (i = 0; i < n; i++) gx[i] ACC g[i] / (2 * y[i]); break;                          \
    case U_ABS: for (i = 0; i < n; i++) gx[i] ACC abs_grad(x[i], g[i]); break;                         \
    case U_TANH: for (i = 0; i < n; i++) gx[i] ACC g[i] * (1 - y[i] * y[i]); break;                   \
    case U_SIGMOID: for (i = 0; i < n; i++) gx[i] ACC g[i] * y[i] * (1 - y[i]); break;                \
    case U_RELU: for (i = 0; i < n; i++) gx[i] ACC pass_if(x[i] > 0, g[i]); break;                    \
    case U_SOFTPLUS: for (i = 0; i < n; i++) gx[i] ACC g[i] * sigmoid1(x[i]); break;                  \
    case U_SIN: for (i = 0; i < n; i++) gx[i] ACC g[i] * R_COS(x[i]); break;                          \
    case U_COS: for (i = 0; i < n; i++) gx[i] ACC -(g[i] * R_SIN(x[i])); break;                       \
    case U_CLAMP: for (i = 0; i < n; i++) gx[i] ACC pass_if(x[i] >= s0 && x[i] <= s1, g[i]); break;  \
    case U_STEP: for (i = 0; i < n; i++) gx[i] ACC 0; break; /* never recorded */                     \
    }

static void backward_range(int op, const tg_real *s, int first, size_t n, const tg_real *x, const tg_real *y,
                           const tg_real *g, tg_real *gx)
{
    size_t i;
    tg_real s0 = s[0], s1 = s[1];
    if (first)
        UNARY_BACKWARD_CASES(=)
    else
        UNARY_BACKWARD_CASES(+=)
}
#undef UNARY_BACKWARD_CASES

/* Splits [0, n) over threads when it is large enough to pay. */
#define PAR_RANGE(n, body)                                                                \
    do {                                                                                  \
        if ((n) >= TG_PAR_MIN) {                                                          \
            _Pragma("omp parallel for schedule(static)") for (int c_ = 0; c_ < 64; c_++) { \
                size_t lo = (n) * (size_t)c_ / 64, hi = (n) * (size_t)(c_ + 1) / 64;      \
                body;                                                                     \
            }                                                                             \
        } else {                                                                          \
            size_t lo = 0, hi = (n);                                                      \
            body;                                                                         \
        }                                                                                 \
    } while (0)

static void unary_backward(tg_ctx *ctx, tg_node *node)
{
    tg_tensor *x = node->in[0], *y = node->out[0];
    int first;
    tg_real *gx = tg__grad_write(ctx, x, &first);
    if (!gx)
        return;
    int op = node->i[0];
    const tg_real *s = node->s;
    PAR_RANGE(x->n, backward_range(op, s, first, hi - lo, x->data + lo, y->data + lo, y->grad + lo, gx + lo));
}

static tg_tensor *unary(tg_ctx *ctx, int op, tg_tensor *x, tg_real s0, tg_real s1)
{
    if (!x)
        return NULL;
    tg_tensor *y = tg__tensor(ctx, x->ndim, x->shape, 0);
    if (!y)
        return NULL;
    tg_real s[2] = {s0, s1};
    PAR_RANGE(x->n, forward_range(op, s, hi - lo, x->data + lo, y->data + lo));
    if (op == U_STEP) /* zero gradient everywhere: nothing to record */
        return y;
    tg_node *node = tg__record(ctx, uname[op], unary_backward, &x, 1, &y, 1);
    if (node) {
        node->i[0] = op;
        node->s[0] = s0;
        node->s[1] = s1;
    }
    return ctx->status ? NULL : y;
}

tg_tensor *tg_adds(tg_ctx *ctx, tg_tensor *a, tg_real s) { return unary(ctx, U_ADDS, a, s, 0); }
tg_tensor *tg_muls(tg_ctx *ctx, tg_tensor *a, tg_real s) { return unary(ctx, U_MULS, a, s, 0); }
tg_tensor *tg_rsubs(tg_ctx *ctx, tg_tensor *a, tg_real s) { return unary(ctx, U_RSUBS, a, s, 0); }
tg_tensor *tg_rdivs(tg_ctx *ctx, tg_tensor *a, tg_real s) { return unary(ctx, U_RDIVS, a, s, 0); }
tg_tensor *tg_pows(tg_ctx *ctx, tg_tensor *a, tg_real p) { return unary(ctx, U_POWS, a, p, 0); }
tg_tensor *tg_neg(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_NEG, a, 0, 0); }
tg_tensor *tg_exp(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_EXP, a, 0, 0); }
tg_tensor *tg_log(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_LOG, a, 0, 0); }
tg_tensor *tg_log1p(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_LOG1P, a, 0, 0); }
tg_tensor *tg_sqrt(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_SQRT, a, 0, 0); }
tg_tensor *tg_abs(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_ABS, a, 0, 0); }
tg_tensor *tg_tanh(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_TANH, a, 0, 0); }
tg_tensor *tg_sigmoid(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_SIGMOID, a, 0, 0); }
tg_tensor *tg_relu(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_RELU, a, 0, 0); }
tg_tensor *tg_softplus(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_SOFTPLUS, a, 0, 0); }
tg_tensor *tg_sin(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_SIN, a, 0, 0); }
tg_tensor *tg_cos(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_COS, a, 0, 0); }
tg_tensor *tg_step(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_STEP, a, 0, 0); }
tg_tensor *tg_copy(tg_ctx *ctx, tg_tensor *a) { return unary(ctx, U_COPY, a, 0, 0); }

tg_tensor *tg_clamp(tg_ctx *ctx, tg_tensor *a, tg_real lo, tg_real hi)
{
    if (a && !(lo <= hi))
        return tg__fail(ctx, TG_EINVAL, "clamp: lower bound %g above upper bound %g", (double)lo, (double)hi);
    return unary(ctx, U_CLAMP, a, lo, hi);
}
