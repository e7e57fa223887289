/* gradcheck_suite.c — one or more finite-difference cases for every built-in op.
 * Each case draws inputs away from kinks (the kink conventions have their own test), and
 * the loss is sum(w * op(inputs)) with fixed random weights w, so every output element
 * matters and gradients are O(1). */
#include <math.h>
#include <string.h>

#include "check/gradcheck_suite.h"
#include "core/internal.h"

typedef tg_tensor *(*build_fn)(tg_ctx *ctx, tg_tensor *const *x);

enum { R_ANY, R_POS, R_AWAY0, R_CLAMPSAFE };
typedef struct {
    const char *op, *variant;
    int n;
    int ndim[3];
    int shape[3][TG_MAX_DIMS];
    int range[3];
    build_fn build;
    unsigned linear; /* bit k: the loss is affine in input k (exact reference, no step) */
} test_case;

/* ---------------------------------------------------------------- builders */
#define B1(nm, expr) static tg_tensor *b_##nm(tg_ctx *ctx, tg_tensor *const *x) { return expr; }
B1(add, tg_add(ctx, x[0], x[1]))
B1(sub, tg_sub(ctx, x[0], x[1]))
B1(mul, tg_mul(ctx, x[0], x[1]))
B1(div, tg_div(ctx, x[0], x[1]))
B1(pow, tg_pow(ctx, x[0], x[1]))
B1(minimum, tg_minimum(ctx, x[0], x[1]))
B1(maximum, tg_maximum(ctx, x[0], x[1]))
B1(adds, tg_adds(ctx, x[0], TG_R(0.7)))
B1(muls, tg_muls(ctx, x[0], TG_R(-1.3)))
B1(rsubs, tg_rsubs(ctx, x[0], TG_R(2.0)))
B1(rdivs, tg_rdivs(ctx, x[0], TG_R(1.5)))
B1(pows, tg_pows(ctx, x[0], TG_R(2.5)))
B1(pows2, tg_pows(ctx, x[0], TG_R(2.0)))
B1(neg, tg_neg(ctx, x[0]))
B1(exp, tg_exp(ctx, x[0]))
B1(log, tg_log(ctx, x[0]))
B1(log1p, tg_log1p(ctx, x[0]))
B1(sqrt, tg_sqrt(ctx, x[0]))
B1(abs, tg_abs(ctx, x[0]))
B1(tanh, tg_tanh(ctx, x[0]))
B1(sigmoid, tg_sigmoid(ctx, x[0]))
B1(relu, tg_relu(ctx, x[0]))
B1(softplus, tg_softplus(ctx, x[0]))
B1(sin, tg_sin(ctx, x[0]))
B1(cos, tg_cos(ctx, x[0]))
B1(clamp, tg_clamp(ctx, x[0], TG_R(-0.5), TG_R(0.5)))
B1(step, tg_mul(ctx, tg_step(ctx, x[0]), x[1]))
B1(where, tg_where(ctx, x[0], x[1], x[2]))
B1(sum, tg_sum(ctx, x[0]))
B1(mean, tg_mean(ctx, x[0]))
B1(sum_axis0, tg_sum_axis(ctx, x[0], 0, 0))
B1(sum_axis1k, tg_sum_axis(ctx, x[0], 1, 1))
B1(sum_axism1, tg_sum_axis(ctx, x[0], -1, 0))
B1(mean_axis1, tg_mean_axis(ctx, x[0], 1, 0))
B1(mean_axis0k, tg_mean_axis(ctx, x[0], 0, 1))
B1(matmul, tg_matmul(ctx, x[0], x[1]))
B1(transpose01, tg_transpose(ctx, x[0], 0, 1))
B1(transpose02, tg_transpose(ctx, x[0], 0, -1))
B1(reshape, tg_mul(ctx, tg_reshape(ctx, x[0], TG_SHAPE(4, 6)), x[1]))
B1(slice, tg_slice(ctx, x[0], 1, 1, 2))
B1(slice0, tg_slice(ctx, x[0], 0, 2, 1))
B1(select, tg_select(ctx, x[0], -1, 2))
B1(concat, tg_concat(ctx, x, 3, 1))
B1(stack, tg_stack(ctx, x, 3, 0))
B1(stack_last, tg_stack(ctx, x, 2, -1))
B1(copy, tg_copy(ctx, x[0]))

/* A custom op y = a * sin(b), with a hand-written backward. */
static int cu_fwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    for (size_t i = 0; i < out[0]->n; i++)
        out[0]->data[i] = in[0]->data[i] * (tg_real)sin((double)in[1]->data[i]);
    return 0;
}
static int cu_bwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                  const tg_real *const *gout, tg_real *const *gin)
{
    for (size_t i = 0; i < out[0]->n; i++) {
        double a = (double)in[0]->data[i], b = (double)in[1]->data[i];
        if (gin[0]) gin[0][i] += gout[0][i] * (tg_real)sin(b);
        if (gin[1]) gin[1][i] += gout[0][i] * (tg_real)(a * cos(b));
    }
    return 0;
}
static const tg_custom_op cu_op = {"a_sin_b", cu_fwd, cu_bwd};
static tg_tensor *b_custom(tg_ctx *ctx, tg_tensor *const *x)
{
    tg_tensor *y = NULL;
    int nd[1] = {x[0]->ndim};
    int sh[1][TG_MAX_DIMS];
    memcpy(sh[0], x[0]->shape, sizeof sh[0]);
    return tg_custom(ctx, &cu_op, NULL, x, 2, 1, nd, (const int(*)[TG_MAX_DIMS])sh, &y) ? NULL : y;
}

#define S2(a, b) {a, b, 1, 1}
#define S3(a, b, c) {a, b, c, 1}
#define S4(a, b, c, d) {a, b, c, d}
static const test_case cases[] = {
    {"add", "same (3,4)", 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {R_ANY, R_ANY}, b_add, 3},
    {"add", "row (3,4)+(4)", 2, {2, 1}, {S2(3, 4), {4}}, {R_ANY, R_ANY}, b_add, 3},
    {"add", "column (3,4)+(3,1)", 2, {2, 2}, {S2(3, 4), S2(3, 1)}, {R_ANY, R_ANY}, b_add, 3},
    {"add", "4-d (2,1,3,2)+(4,1,2)", 2, {4, 3}, {S4(2, 1, 3, 2), S3(4, 1, 2)}, {R_ANY, R_ANY}, b_add, 3},
    {"add", "scalar () + (2,3)", 2, {0, 2}, {{1}, S2(2, 3)}, {R_ANY, R_ANY}, b_add, 3},
    {"sub", "row (1,4)-(3,4)", 2, {2, 2}, {S2(1, 4), S2(3, 4)}, {R_ANY, R_ANY}, b_sub, 3},
    {"mul", "column (3,1)*(3,4)", 2, {2, 2}, {S2(3, 1), S2(3, 4)}, {R_ANY, R_ANY}, b_mul, 3},
    {"mul", "same (2,3,4)", 2, {3, 3}, {S3(2, 3, 4), S3(2, 3, 4)}, {R_ANY, R_ANY}, b_mul, 3},
    {"div", "row (3,4)/(4)", 2, {2, 1}, {S2(3, 4), {4}}, {R_ANY, R_POS}, b_div, 1},
    {"pow", "same (3,4), a>0", 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {R_POS, R_ANY}, b_pow, 0},
    {"pow", "scalar exponent tensor ()", 2, {2, 0}, {S2(3, 4), {1}}, {R_POS, R_ANY}, b_pow, 0},
    {"minimum", "column (3,1),(3,4)", 2, {2, 2}, {S2(3, 1), S2(3, 4)}, {R_ANY, R_ANY}, b_minimum, 0},
    {"maximum", "same (5,4)", 2, {2, 2}, {S2(5, 4), S2(5, 4)}, {R_ANY, R_ANY}, b_maximum, 0},
    {"adds", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_adds, 1},
    {"muls", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_muls, 1},
    {"rsubs", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_rsubs, 1},
    {"rdivs", "(3,4), x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_rdivs, 0},
    {"pows", "p=2.5, x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_pows, 0},
    {"pows", "p=2", 1, {2}, {S2(3, 4)}, {R_ANY}, b_pows2, 0},
    {"neg", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_neg, 1},
    {"exp", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_exp, 0},
    {"log", "(3,4), x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_log, 0},
    {"log1p", "(3,4), x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_log1p, 0},
    {"sqrt", "(3,4), x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_sqrt, 0},
    {"abs", "(3,4), |x|>=0.2", 1, {2}, {S2(3, 4)}, {R_AWAY0}, b_abs, 0},
    {"tanh", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_tanh, 0},
    {"sigmoid", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_sigmoid, 0},
    {"relu", "(3,4), |x|>=0.2", 1, {2}, {S2(3, 4)}, {R_AWAY0}, b_relu, 0},
    {"softplus", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_softplus, 0},
    {"sin", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_sin, 0},
    {"cos", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_cos, 0},
    {"clamp", "[-0.5,0.5], x off the bounds", 1, {2}, {S2(4, 5)}, {R_CLAMPSAFE}, b_clamp, 0},
    {"step", "step(x)*y, x off 0", 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {R_AWAY0, R_ANY}, b_step, 2},
    {"where", "cond (3,1), a (3,4), b (4)", 3, {2, 2, 1}, {S2(3, 1), S2(3, 4), {4}}, {R_AWAY0, R_ANY, R_ANY}, b_where, 6},
    {"sum", "(2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_sum, 1},
    {"mean", "(2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_mean, 1},
    {"sum_axis", "axis 0 of (2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_sum_axis0, 1},
    {"sum_axis", "axis 1 keepdim", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_sum_axis1k, 1},
    {"sum_axis", "axis -1", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_sum_axism1, 1},
    {"mean_axis", "axis 1 of (2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_mean_axis1, 1},
    {"mean_axis", "axis 0 keepdim", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_mean_axis0k, 1},
    {"matmul", "(3,5)x(5,4)", 2, {2, 2}, {S2(3, 5), S2(5, 4)}, {R_ANY, R_ANY}, b_matmul, 3},
    {"matmul", "batched (2,3,5)x(2,5,4)", 2, {3, 3}, {S3(2, 3, 5), S3(2, 5, 4)}, {R_ANY, R_ANY}, b_matmul, 3},
    {"matmul", "shared (2,3,5)x(5,4)", 2, {3, 2}, {S3(2, 3, 5), S2(5, 4)}, {R_ANY, R_ANY}, b_matmul, 3},
    {"matmul", "BLAS size (40,40)x(40,40)", 2, {2, 2}, {S2(40, 40), S2(40, 40)}, {R_ANY, R_ANY}, b_matmul, 3},
    {"transpose", "axes 0,1 of (3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_transpose01, 1},
    {"transpose", "axes 0,-1 of (2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_transpose02, 1},
    {"reshape", "(2,3,4)->(4,6) times w", 2, {3, 2}, {S3(2, 3, 4), S2(4, 6)}, {R_ANY, R_ANY}, b_reshape, 3},
    {"slice", "axis 1 [1,3) of (2,4,3)", 1, {3}, {S3(2, 4, 3)}, {R_ANY}, b_slice, 1},
    {"slice", "axis 0 [2,3) of (4,3)", 1, {2}, {S2(4, 3)}, {R_ANY}, b_slice0, 1},
    {"select", "axis -1 index 2 of (2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_select, 1},
    {"concat", "axis 1: (2,1,3),(2,2,3),(2,3,3)", 3, {3, 3, 3}, {S3(2, 1, 3), S3(2, 2, 3), S3(2, 3, 3)}, {R_ANY, R_ANY, R_ANY}, b_concat, 7},
    {"stack", "axis 0 of 3x(2,3)", 3, {2, 2, 2}, {S2(2, 3), S2(2, 3), S2(2, 3)}, {R_ANY, R_ANY, R_ANY}, b_stack, 7},
    {"stack", "axis -1 of 2x(3,2)", 2, {2, 2}, {S2(3, 2), S2(3, 2)}, {R_ANY, R_ANY}, b_stack_last, 3},
    {"copy", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_copy, 1},
    {"custom", "a*sin(b) with user backward", 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {R_ANY, R_ANY}, b_custom, 1},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

#define TG_OPNAME(n) #n,
static const char *const builtin_ops[] = {TG_BUILTIN_OPS(TG_OPNAME)};
#undef TG_OPNAME

int tg_suite_case_count(void) { return NCASES; }
int tg_builtin_op_count(void) { return (int)(sizeof builtin_ops / sizeof builtin_ops[0]); }
const char *tg_builtin_op_name(int k) { return builtin_ops[k]; }

/* Relative tolerance of finite-difference references. Double: Richardson-extrapolated
 * differences at h = 1e-4 leave ~1e-10 of truncation and rounding, so 1e-6 catches a
 * backward that is off by 1e-4 relative. Float: differences of a float loss carry ~1e-4
 * noise (Richardson leaves ~4e-4 at h = 1e-2), so only errors of ~1 % are visible there;
 * the double build is the strict check. */
double tg_gradcheck_suite_tol(void)
{
#ifdef TG_DOUBLE
    return 1e-6;
#else
    return 3e-3;
#endif
}

/* The options the suite checks with, for a case whose affine inputs are linear_mask. */
static tg__gradcheck_opts suite_opts(double tol, unsigned linear_mask)
{
    tg__gradcheck_opts o;
#ifdef TG_DOUBLE
    o.h = 1e-4;
#else
    o.h = 1e-2;
#endif
    o.rtol = tol;
    /* exact references differ from the tape only by the rounding of a few sums (of up to
     * 40 terms here, BLAS or not): 1000 ulps of the case's gradient scale */
    o.rtol_exact = 1e3 * (double)TG_EPS;
    o.floor_frac = 1e-2;
    o.linear_mask = linear_mask;
    return o;
}

/* ---------------------------------------------------------------- running a case */
typedef struct {
    const test_case *c;
} loss_ud;

static tg_tensor *weighted_loss(tg_ctx *ctx, tg_tensor *const *x, int n, void *ud)
{
    const test_case *c = ((loss_ud *)ud)->c;
    tg_tensor *y = c->build(ctx, x);
    if (!y)
        return NULL;
    tg_tensor *w = tg__tensor(ctx, y->ndim, y->shape, 0);
    if (!w)
        return NULL;
    tg_rng r;
    tg_rng_seed(&r, 12345); /* same weights on every call */
    for (size_t i = 0; i < w->n; i++)
        w->data[i] = (tg_real)(0.5 + tg_rng_uniform(&r)) * (tg_rng_uniform(&r) < 0.5 ? -1 : 1);
    return tg_sum(ctx, tg_mul(ctx, y, w));
}

static tg_real draw(tg_rng *r, int range)
{
    double u = tg_rng_uniform(r);
    switch (range) {
    case R_POS: return (tg_real)(0.5 + 1.5 * u);
    case R_AWAY0: return (tg_real)((0.2 + 1.3 * u) * (tg_rng_uniform(r) < 0.5 ? -1 : 1));
    case R_CLAMPSAFE: {
        double x;
        do x = -1 + 2 * tg_rng_uniform(r);
        while (fabs(fabs(x) - 0.5) < 0.05);
        return (tg_real)x;
    }
    default: return (tg_real)(-1.5 + 3 * u);
    }
}

/* Runs the robust check and copies its verdict into the suite's result. */
static int check_and_fill(tg_loss_fn f, void *ud, int n, const int *ndims, const int (*shapes)[TG_MAX_DIMS],
                          tg_real *const *inputs, tg__gradcheck_opts o, tg_suite_result *r)
{
    tg__gradcheck_report g;
    int rc = tg__gradcheck_robust(f, ud, n, ndims, shapes, inputs, &o, &g);
    r->max_abs_err = g.max_abs_err;
    r->max_rel_err = g.max_rel_err;
    r->worst_ratio = g.worst_ratio;
    r->exact = g.exact_inputs == n ? 2 : g.exact_inputs > 0 ? 1 : 0;
    r->pass = rc == 0 && g.checked > 0 && g.failed == 0;
    return rc;
}

int tg_suite_run_case(int i, double tol, tg_suite_result *r)
{
    const test_case *c = &cases[i];
    memset(r, 0, sizeof *r);
    r->op = c->op;
    r->variant = c->variant;
    tg_rng rng;
    tg_rng_seed(&rng, 1000 + (uint64_t)i);
    tg_real buf[3][512];
    tg_real *inputs[3];
    for (int k = 0; k < c->n; k++) {
        size_t m = 1;
        for (int d = 0; d < c->ndim[k]; d++)
            m *= (size_t)c->shape[k][d];
        if (m > 512 * 4) {
            r->status = tg_error_set(TG_EINVAL, "suite case too large");
            return r->status;
        }
        inputs[k] = buf[k];
    }
    /* the BLAS-size case needs more room than the stack buffers */
    tg_real *heap[3] = {0};
    for (int k = 0; k < c->n; k++) {
        size_t m = 1;
        for (int d = 0; d < c->ndim[k]; d++)
            m *= (size_t)c->shape[k][d];
        if (m > 512) {
            heap[k] = tg_calloc(m, sizeof(tg_real));
            if (!heap[k]) return r->status = TG_ENOMEM;
            inputs[k] = heap[k];
        }
        for (size_t j = 0; j < m; j++)
            inputs[k][j] = draw(&rng, c->range[k]);
    }
    loss_ud ud = {c};
    r->status = check_and_fill(weighted_loss, &ud, c->n, c->ndim, (const int(*)[TG_MAX_DIMS])c->shape, inputs,
                               suite_opts(tol, c->linear), r);
    for (int k = 0; k < c->n; k++)
        tg_free(heap[k], 0);
    return r->status;
}

/* ---------------------------------------------------------------- mutants */
/* Two custom ops whose backward is deliberately wrong by a relative `perturb` in one
 * element: y = a * sin(b) (gradient of b, element 5) and y = A B through tg_matmul's
 * forward (gradient of A, element 7). */
typedef struct {
    double perturb;
} mutant_ud;

static int mut_sin_bwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                       const tg_real *const *gout, tg_real *const *gin)
{
    double p = ((const mutant_ud *)ud)->perturb;
    for (size_t i = 0; i < out[0]->n; i++) {
        double a = (double)in[0]->data[i], b = (double)in[1]->data[i];
        if (gin[0]) gin[0][i] += gout[0][i] * (tg_real)sin(b);
        if (gin[1]) gin[1][i] += gout[0][i] * (tg_real)(a * cos(b) * (i == 5 ? 1 + p : 1));
    }
    return 0;
}

static int mut_mm_fwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    int M = in[0]->shape[0], K = in[0]->shape[1], N = in[1]->shape[1];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)in[0]->data[i * K + k] * (double)in[1]->data[k * N + j];
            out[0]->data[i * N + j] = (tg_real)acc;
        }
    return 0;
}

static int mut_mm_bwd(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                      const tg_real *const *gout, tg_real *const *gin)
{
    double p = ((const mutant_ud *)ud)->perturb;
    int M = in[0]->shape[0], K = in[0]->shape[1], N = in[1]->shape[1];
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            double ga = 0;
            for (int j = 0; j < N; j++) {
                ga += (double)gout[0][i * N + j] * (double)in[1]->data[k * N + j];
                if (gin[1]) gin[1][k * N + j] += gout[0][i * N + j] * in[0]->data[i * K + k];
            }
            if (gin[0]) gin[0][i * K + k] += (tg_real)(ga * (i * K + k == 7 ? 1 + p : 1));
        }
    return 0;
}

static const tg_custom_op mut_ops[2] = {{"mutant_a_sin_b", cu_fwd, mut_sin_bwd}, {"mutant_matmul", mut_mm_fwd, mut_mm_bwd}};

typedef struct {
    int kind;
    mutant_ud mu;
} mutant_loss_ud;

static tg_tensor *mutant_loss(tg_ctx *ctx, tg_tensor *const *x, int n, void *vud)
{
    mutant_loss_ud *u = vud;
    tg_tensor *y = NULL;
    int nd[1] = {2};
    int sh[1][TG_MAX_DIMS] = {{x[0]->shape[0], u->kind ? x[1]->shape[1] : x[0]->shape[1]}};
    if (tg_custom(ctx, &mut_ops[u->kind], &u->mu, x, 2, 1, nd, (const int(*)[TG_MAX_DIMS])sh, &y))
        return NULL;
    tg_tensor *w = tg__tensor(ctx, y->ndim, y->shape, 0);
    if (!w)
        return NULL;
    tg_rng r;
    tg_rng_seed(&r, 777);
    for (size_t i = 0; i < w->n; i++)
        w->data[i] = (tg_real)(0.5 + tg_rng_uniform(&r)) * (tg_rng_uniform(&r) < 0.5 ? -1 : 1);
    return tg_sum(ctx, tg_mul(ctx, y, w));
}

int tg_suite_run_mutant(int kind, double perturb, tg_suite_result *r)
{
    memset(r, 0, sizeof *r);
    r->op = kind ? "mutant_matmul" : "mutant_a_sin_b";
    r->variant = kind ? "(6,5)x(5,4), dA[7] off" : "(3,4), db[5] off";
    int ndim[2] = {2, 2};
    int shape[2][TG_MAX_DIMS] = {{kind ? 6 : 3, kind ? 5 : 4}, {kind ? 5 : 3, 4}};
    tg_real a[30], b[20];
    tg_rng rng;
    tg_rng_seed(&rng, 4242);
    for (int i = 0; i < 30; i++)
        a[i] = draw(&rng, R_ANY);
    for (int i = 0; i < 20; i++)
        b[i] = draw(&rng, R_ANY);
    tg_real *inputs[2] = {a, b};
    mutant_loss_ud ud = {kind, {perturb}};
    r->status = check_and_fill(mutant_loss, &ud, 2, ndim, (const int(*)[TG_MAX_DIMS])shape, inputs,
                               suite_opts(tg_gradcheck_suite_tol(), kind ? 3u : 1u), r);
    return r->status;
}

int tg_gradcheck_suite(FILE *out, double tol, unsigned long seed)
{
    static const char *const ref_name[] = {"fd", "mixed", "exact"};
    (void)seed;
    int failures = 0;
    if (out)
        fprintf(out, "%-10s %-36s %-5s %11s %11s %9s  %s\n", "op", "case", "ref", "max abs err", "max rel err",
                "err/allow", "result");
    for (int i = 0; i < NCASES; i++) {
        tg_suite_result r;
        tg_suite_run_case(i, tol, &r);
        if (!r.pass)
            failures++;
        if (out) {
            fprintf(out, "%-10s %-36s %-5s %11.3e %11.3e %9.3f  %s", r.op, r.variant, ref_name[r.exact],
                    r.max_abs_err, r.max_rel_err, r.worst_ratio, r.pass ? "pass" : "FAIL");
            if (r.status)
                fprintf(out, " (%s)", tg_error_message());
            fputc('\n', out);
        }
    }
    for (int k = 0; k < tg_builtin_op_count(); k++) {
        int covered = 0;
        for (int i = 0; i < NCASES; i++)
            covered |= !strcmp(cases[i].op, builtin_ops[k]);
        if (!covered) {
            failures++;
            if (out)
                fprintf(out, "%-10s %-36s %-5s %11s %11s %9s  FAIL (no case checks this op)\n", builtin_ops[k], "-",
                        "-", "-", "-", "-");
        }
    }
    if (out)
        fprintf(out, "%d cases, %d ops, tolerance %.1e relative for finite differences, %.1e for exact "
                "references (%s build): %s\n", NCASES, tg_builtin_op_count(), tol, suite_opts(tol, 0).rtol_exact,
                TG_REAL_NAME, failures ? "FAILED" : "all pass");
    return failures;
}
