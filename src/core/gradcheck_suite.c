/* gradcheck_suite.c — one or more finite-difference cases for every built-in op.
 * Each case draws inputs away from kinks (the kink conventions have their own test), and
 * the loss is sum(w * op(inputs)) with fixed random weights w, so every output element
 * matters and gradients are O(1). */
#include <math.h>
#include <string.h>

#include "gradcheck_suite.h"
#include "internal.h"

typedef tg_tensor *(*build_fn)(tg_ctx *ctx, tg_tensor *const *x);

enum { R_ANY, R_POS, R_AWAY0, R_CLAMPSAFE };
typedef struct {
    const char *op, *variant;
    int n;
    int ndim[3];
    int shape[3][TG_MAX_DIMS];
    int range[3];
    build_fn build;
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
    {"add", "same (3,4)", 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {R_ANY, R_ANY}, b_add},
    {"add", "row (3,4)+(4)", 2, {2, 1}, {S2(3, 4), {4}}, {R_ANY, R_ANY}, b_add},
    {"add", "column (3,4)+(3,1)", 2, {2, 2}, {S2(3, 4), S2(3, 1)}, {R_ANY, R_ANY}, b_add},
    {"add", "4-d (2,1,3,2)+(4,1,2)", 2, {4, 3}, {S4(2, 1, 3, 2), S3(4, 1, 2)}, {R_ANY, R_ANY}, b_add},
    {"add", "scalar () + (2,3)", 2, {0, 2}, {{1}, S2(2, 3)}, {R_ANY, R_ANY}, b_add},
    {"sub", "row (1,4)-(3,4)", 2, {2, 2}, {S2(1, 4), S2(3, 4)}, {R_ANY, R_ANY}, b_sub},
    {"mul", "column (3,1)*(3,4)", 2, {2, 2}, {S2(3, 1), S2(3, 4)}, {R_ANY, R_ANY}, b_mul},
    {"mul", "same (2,3,4)", 2, {3, 3}, {S3(2, 3, 4), S3(2, 3, 4)}, {R_ANY, R_ANY}, b_mul},
    {"div", "row (3,4)/(4)", 2, {2, 1}, {S2(3, 4), {4}}, {R_ANY, R_POS}, b_div},
    {"pow", "same (3,4), a>0", 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {R_POS, R_ANY}, b_pow},
    {"pow", "scalar exponent tensor ()", 2, {2, 0}, {S2(3, 4), {1}}, {R_POS, R_ANY}, b_pow},
    {"minimum", "column (3,1),(3,4)", 2, {2, 2}, {S2(3, 1), S2(3, 4)}, {R_ANY, R_ANY}, b_minimum},
    {"maximum", "same (5,4)", 2, {2, 2}, {S2(5, 4), S2(5, 4)}, {R_ANY, R_ANY}, b_maximum},
    {"adds", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_adds},
    {"muls", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_muls},
    {"rsubs", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_rsubs},
    {"rdivs", "(3,4), x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_rdivs},
    {"pows", "p=2.5, x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_pows},
    {"pows", "p=2", 1, {2}, {S2(3, 4)}, {R_ANY}, b_pows2},
    {"neg", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_neg},
    {"exp", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_exp},
    {"log", "(3,4), x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_log},
    {"log1p", "(3,4), x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_log1p},
    {"sqrt", "(3,4), x>0", 1, {2}, {S2(3, 4)}, {R_POS}, b_sqrt},
    {"abs", "(3,4), |x|>=0.2", 1, {2}, {S2(3, 4)}, {R_AWAY0}, b_abs},
    {"tanh", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_tanh},
    {"sigmoid", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_sigmoid},
    {"relu", "(3,4), |x|>=0.2", 1, {2}, {S2(3, 4)}, {R_AWAY0}, b_relu},
    {"softplus", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_softplus},
    {"sin", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_sin},
    {"cos", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_cos},
    {"clamp", "[-0.5,0.5], x off the bounds", 1, {2}, {S2(4, 5)}, {R_CLAMPSAFE}, b_clamp},
    {"step", "step(x)*y, x off 0", 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {R_AWAY0, R_ANY}, b_step},
    {"where", "cond (3,1), a (3,4), b (4)", 3, {2, 2, 1}, {S2(3, 1), S2(3, 4), {4}}, {R_AWAY0, R_ANY, R_ANY}, b_where},
    {"sum", "(2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_sum},
    {"mean", "(2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_mean},
    {"sum_axis", "axis 0 of (2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_sum_axis0},
    {"sum_axis", "axis 1 keepdim", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_sum_axis1k},
    {"sum_axis", "axis -1", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_sum_axism1},
    {"mean_axis", "axis 1 of (2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_mean_axis1},
    {"mean_axis", "axis 0 keepdim", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_mean_axis0k},
    {"matmul", "(3,5)x(5,4)", 2, {2, 2}, {S2(3, 5), S2(5, 4)}, {R_ANY, R_ANY}, b_matmul},
    {"matmul", "batched (2,3,5)x(2,5,4)", 2, {3, 3}, {S3(2, 3, 5), S3(2, 5, 4)}, {R_ANY, R_ANY}, b_matmul},
    {"matmul", "shared (2,3,5)x(5,4)", 2, {3, 2}, {S3(2, 3, 5), S2(5, 4)}, {R_ANY, R_ANY}, b_matmul},
    {"matmul", "BLAS size (40,40)x(40,40)", 2, {2, 2}, {S2(40, 40), S2(40, 40)}, {R_ANY, R_ANY}, b_matmul},
    {"transpose", "axes 0,1 of (3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_transpose01},
    {"transpose", "axes 0,-1 of (2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_transpose02},
    {"reshape", "(2,3,4)->(4,6) times w", 2, {3, 2}, {S3(2, 3, 4), S2(4, 6)}, {R_ANY, R_ANY}, b_reshape},
    {"slice", "axis 1 [1,3) of (2,4,3)", 1, {3}, {S3(2, 4, 3)}, {R_ANY}, b_slice},
    {"slice", "axis 0 [2,3) of (4,3)", 1, {2}, {S2(4, 3)}, {R_ANY}, b_slice0},
    {"select", "axis -1 index 2 of (2,3,4)", 1, {3}, {S3(2, 3, 4)}, {R_ANY}, b_select},
    {"concat", "axis 1: (2,1,3),(2,2,3),(2,3,3)", 3, {3, 3, 3}, {S3(2, 1, 3), S3(2, 2, 3), S3(2, 3, 3)}, {R_ANY, R_ANY, R_ANY}, b_concat},
    {"stack", "axis 0 of 3x(2,3)", 3, {2, 2, 2}, {S2(2, 3), S2(2, 3), S2(2, 3)}, {R_ANY, R_ANY, R_ANY}, b_stack},
    {"stack", "axis -1 of 2x(3,2)", 2, {2, 2}, {S2(3, 2), S2(3, 2)}, {R_ANY, R_ANY}, b_stack_last},
    {"copy", "(3,4)", 1, {2}, {S2(3, 4)}, {R_ANY}, b_copy},
    {"custom", "a*sin(b) with user backward", 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {R_ANY, R_ANY}, b_custom},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

#define TG_OPNAME(n) #n,
static const char *const builtin_ops[] = {TG_BUILTIN_OPS(TG_OPNAME)};
#undef TG_OPNAME

int tg_suite_case_count(void) { return NCASES; }
int tg_builtin_op_count(void) { return (int)(sizeof builtin_ops / sizeof builtin_ops[0]); }
const char *tg_builtin_op_name(int k) { return builtin_ops[k]; }

double tg_suite_default_tol(void)
{
#ifdef TG_DOUBLE
    return 1e-6;
#else
    return 3e-2;
#endif
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
#ifdef TG_DOUBLE
    double h = 1e-5;
#else
    double h = 1e-2;
#endif
    loss_ud ud = {c};
    tg_gradcheck_result g;
    r->status = tg_gradcheck(weighted_loss, &ud, c->n, c->ndim, (const int(*)[TG_MAX_DIMS])c->shape, inputs, h, &g);
    for (int k = 0; k < c->n; k++)
        tg_free(heap[k], 0);
    r->max_abs_err = g.max_abs_err;
    r->max_rel_err = g.max_rel_err;
    r->pass = r->status == 0 && g.checked > 0 && g.max_rel_err < tol;
    return r->status;
}

int tg_suite_run_all(FILE *out, double tol, unsigned long seed)
{
    (void)seed;
    int failures = 0;
    if (out)
        fprintf(out, "%-10s %-36s %12s %12s  %s\n", "op", "case", "max abs err", "max rel err", "result");
    for (int i = 0; i < NCASES; i++) {
        tg_suite_result r;
        tg_suite_run_case(i, tol, &r);
        if (!r.pass)
            failures++;
        if (out) {
            fprintf(out, "%-10s %-36s %12.3e %12.3e  %s", r.op, r.variant, r.max_abs_err, r.max_rel_err,
                    r.pass ? "pass" : "FAIL");
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
                fprintf(out, "%-10s %-36s %12s %12s  FAIL (no case checks this op)\n", builtin_ops[k], "-", "-", "-");
        }
    }
    if (out)
        fprintf(out, "%d cases, %d ops, tolerance %.1e (%s build): %s\n", NCASES, tg_builtin_op_count(), tol,
                TG_REAL_NAME, failures ? "FAILED" : "all pass");
    return failures;
}
