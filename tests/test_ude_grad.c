/* test_ude_grad.c — the discrete adjoint of every UDE integrator against central finite
 * differences (double build): gradients with respect to the parameters θ, the initial
 * states, the forcing and all network weights, through known physics plus an embedded
 * MLP. Adaptive methods are checked with their step sequence frozen (recorded once,
 * replayed in every FD evaluation): the adjoint treats step sizes as constants, and with
 * replay the FD sees exactly that map. Also: checkpointed = non-checkpointed gradients,
 * adaptive run = replayed run (values and gradients), and the memory checkpointing saves. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "test_ude_common.h"



#define FD_H 1e-5 /* central differences: truncation ~h², round-off ~eps·L/h balance near 1e-5 */
enum { B = 3, T = 4, N = 2, P = 3, U = 2 };

typedef struct {
    tg_ude_mlp mlp;
    tg_ude_opts o;
    tg_real c[T * B * N]; /* loss weights */
    tg_ude_stats *st;
} cfg;

static tg_real S0[B * N], TH[B * P], UU[T * B * U], WW[512];

#ifdef TG_DOUBLE
static tg_tensor *loss_fn(tg_ctx *ctx, tg_tensor *const *in, int n, void *ud)
{
    cfg *c = ud;
    (void)n;
    tg_tensor *y = tg_ude_solve(ctx, &two_fns, NULL, &c->mlp, T, in[0], in[1], in[2], in[3], &c->o, c->st);
    tg_tensor *cw = tg_from(ctx, TG_SHAPE(T, B, N), c->c);
    tg_tensor *l1 = tg_sum(ctx, tg_mul(ctx, y, cw));
    tg_tensor *l2 = tg_muls(ctx, tg_sum(ctx, tg_mul(ctx, y, y)), TG_R(0.25));
    return tg_add(ctx, l1, l2);
}

#endif

/* Tape gradients of the loss into g (concatenated S0, θ, u, W); returns the loss. */
static double tape_grad(cfg *c, tg_real *g, tg_real *yout)
{
    tg_ctx *ctx = tg_ctx_create();
    size_t nw = tg_ude_mlp_nweights(&c->mlp);
    tg_tensor *in[4] = {tg_leaf(ctx, TG_SHAPE(B, N), S0), tg_leaf(ctx, TG_SHAPE(B, P), TH),
                        tg_leaf(ctx, TG_SHAPE(T, B, U), UU), tg_leaf(ctx, 1, (const int[]){(int)nw}, WW)};
    tg_tensor *y = tg_ude_solve(ctx, &two_fns, NULL, &c->mlp, T, in[0], in[1], in[2], in[3], &c->o, c->st);
    double L = NAN;
    if (y) {
        if (yout)
            memcpy(yout, y->data, y->n * sizeof *yout);
        tg_tensor *cw = tg_from(ctx, TG_SHAPE(T, B, N), c->c);
        tg_tensor *l = tg_add(ctx, tg_sum(ctx, tg_mul(ctx, y, cw)),
                              tg_muls(ctx, tg_sum(ctx, tg_mul(ctx, y, y)), TG_R(0.25)));
        if (l && !tg_backward(ctx, l)) {
            L = (double)l->data[0];
            size_t k = 0;
            for (int i = 0; i < 4; i++)
                for (size_t j = 0; j < in[i]->n; j++)
                    g[k++] = in[i]->grad ? in[i]->grad[j] : 0;
        }
    }
    if (!y || L != L)
        fprintf(stderr, "tape_grad: %s\n", tg_error_message());
    tg_ctx_free(&ctx);
    return L;
}

static size_t n_grad(const cfg *c) { return B * N + B * P + T * B * U + tg_ude_mlp_nweights(&c->mlp); }

static double max_rel_diff(const tg_real *a, const tg_real *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, tg_rel_err((double)a[i], (double)b[i], 1e-8));
    return m;
}

static void setup(cfg *c, int method, int act, int out_act, int inputs)
{
    memset(c, 0, sizeof *c);
    tg_ude_mlp_setup(&c->mlp, N, U, P, inputs, 1, 6);
    c->mlp.act = act, c->mlp.out_act = out_act;
    if (out_act == TG_UDE_OUT_SOFTPLUS)
        c->mlp.out_scale[0] = TG_R(-1.0), c->mlp.out_scale[1] = TG_R(0.5);
    c->mlp.in_shift[2] = TG_R(1.0), c->mlp.in_scale[2] = TG_R(0.7);
    c->o = tg_ude_defaults(method);
    tg_rng r;
    tg_rng_seed(&r, 42);
    for (int i = 0; i < T * B * N; i++)
        c->c[i] = (tg_real)(tg_rng_uniform(&r) - 0.5);
    size_t nw = tg_ude_mlp_nweights(&c->mlp);
    for (size_t i = 0; i < nw; i++)
        WW[i] = (tg_real)(0.6 * tg_rng_normal(&r));
    for (int b = 0; b < B; b++) {
        S0[b * N] = (tg_real)(0.2 + 1.3 * tg_rng_uniform(&r));
        S0[b * N + 1] = (tg_real)(0.1 + 0.8 * tg_rng_uniform(&r));
        TH[b * P] = (tg_real)(0.3 + 1.7 * tg_rng_uniform(&r));
        TH[b * P + 1] = (tg_real)(0.2 + 1.3 * tg_rng_uniform(&r));
        TH[b * P + 2] = (tg_real)(0.05 + 0.25 * tg_rng_uniform(&r));
    }
    for (int i = 0; i < T * B; i++) {
        UU[i * U] = (tg_real)(3.0 * tg_rng_uniform(&r));
        UU[i * U + 1] = (tg_real)(0.2 + 0.8 * tg_rng_uniform(&r));
    }
}

#ifdef TG_DOUBLE
static void fd_check(const char *what, cfg *c)
{
    int nd[4] = {2, 2, 3, 1};
    int sh[4][TG_MAX_DIMS] = {{B, N}, {B, P}, {T, B, U}, {(int)tg_ude_mlp_nweights(&c->mlp)}};
    tg_real *ins[4] = {S0, TH, UU, WW};
    tg_gradcheck_result res;
    int rc = tg_gradcheck(loss_fn, c, 4, nd, (const int(*)[TG_MAX_DIMS])sh, ins, FD_H, &res);
    CHECK(rc == 0, "%s: gradcheck failed: %s", what, tg_error_message());
    printf("%-34s FD check: %zu inputs, max rel err %.2e, max abs err %.2e\n", what, res.checked,
           res.max_rel_err, res.max_abs_err);
    CHECK(res.checked == n_grad(c), "%s: checked %zu of %zu", what, res.checked, n_grad(c));
    CHECK(res.max_rel_err < 1e-6, "%s: max rel err %.3e", what, res.max_rel_err);
}

/* Gradients with ckpt_every = 0 (all step states kept) and k = 1, 3, -1 must agree. */
static void ckpt_check(const char *what, cfg *c)
{
    tg_real g0[700], g1[700];
    const size_t ng = n_grad(c);
    tg_ude_stats st0, st1;
    memset(&st0, 0, sizeof st0), memset(&st1, 0, sizeof st1);
    tg_ude_stats_init(&st0), tg_ude_stats_init(&st1);
    c->o.ckpt_every = 0, c->st = &st0;
    double L0 = tape_grad(c, g0, NULL);
    const int ks[3] = {1, 3, -1};
    for (int i = 0; i < 3; i++) {
        c->o.ckpt_every = ks[i], c->st = &st1;
        tg_ude_stats_init(&st1);
        double L1 = tape_grad(c, g1, NULL);
        double d = max_rel_diff(g0, g1, ng);
        CHECK(L0 == L1 && d < 1e-13, "%s: ckpt %d: loss %.17g vs %.17g, grad rel diff %.3e", what,
              ks[i], L0, L1, d);
        if (ks[i] == 3)
            printf("%-34s checkpointing: ckpt 0 keeps %zu bytes, ckpt 3 keeps %zu bytes; grads equal (%.1e)\n",
                   what, st0.stored_bytes, st1.stored_bytes, d);
        if (ks[i] == 3 && c->o.method != TG_UDE_RK4)
            CHECK(st1.stored_bytes < st0.stored_bytes, "%s: %zu >= %zu", what, st1.stored_bytes,
                  st0.stored_bytes);
    }
    c->o.ckpt_every = 0, c->st = NULL;
}

/* Adaptive: a free run and a replay of its recorded steps give the same values and
 * gradients; then the FD check runs on the replayed (frozen-step) map. */
static void adaptive_case(const char *what, int method)
{
    cfg c;
    setup(&c, method, TG_UDE_ACT_TANH, TG_UDE_OUT_LINEAR, TG_UDE_IN_U | TG_UDE_IN_THETA);
    c.o.rtol = 1e-5, c.o.atol = 1e-7, c.o.h0 = 0.05;
    tg_ude_steps *steps = tg_ude_steps_create();
    tg_ude_stats st;
    memset(&st, 0, sizeof st);
    tg_ude_stats_init(&st);
    c.o.record = steps, c.st = &st;
    tg_real ga[700], gr[700], ya[T * B * N], yr[T * B * N];
    double La = tape_grad(&c, ga, ya);
    c.o.record = NULL, c.st = NULL;
    printf("%-34s %ld accepted, %ld rejected steps (h in [%.3g, %.3g])\n", what, st.accepted, st.rejected,
           st.h_min, st.h_max);
    CHECK(st.rejected > 0 && st.accepted > T * B, "%s: the controller should work (acc %ld rej %ld)", what,
          st.accepted, st.rejected);
    c.o.replay = steps;
    double Lr = tape_grad(&c, gr, yr);
    CHECK(La == Lr && max_rel_diff(ya, yr, T * B * N) == 0, "%s: replay changes the solution", what);
    CHECK(max_rel_diff(ga, gr, n_grad(&c)) < 1e-14, "%s: replay changes the gradient (%.3e)", what,
          max_rel_diff(ga, gr, n_grad(&c)));
    fd_check(what, &c);
    /* the tolerance argument: without freezing, FD also differentiates the controller's
     * step choice, an O(tolerance) effect — at a tight tolerance the adjoint of the free
     * solve still matches FD of the free solve closely (DOPRI5 only: BS32 needs thousands
     * of steps at this tolerance) */
    if (method == TG_UDE_DOPRI5) {
        cfg t = c;
        t.o.replay = NULL, t.o.rtol = 1e-10, t.o.atol = 1e-12;
        int nd[4] = {2, 2, 3, 1};
        int sh[4][TG_MAX_DIMS] = {{B, N}, {B, P}, {T, B, U}, {(int)tg_ude_mlp_nweights(&t.mlp)}};
        tg_real *ins[4] = {S0, TH, UU, WW};
        tg_gradcheck_result res;
        int rc = tg_gradcheck(loss_fn, &t, 4, nd, (const int(*)[TG_MAX_DIMS])sh, ins, FD_H, &res);
        printf("%-34s FD of the FREE solve at rtol 1e-10: max rel err %.2e\n", what, res.max_rel_err);
        CHECK(rc == 0 && res.max_rel_err < 1e-5, "%s: free-step FD rel err %.3e", what, res.max_rel_err);
    }
    /* checkpointing with the free controller (the backward replays internally) */
    c.o.replay = NULL;
    ckpt_check(what, &c);
    tg_ude_steps_free(&steps);
    CHECK(steps == NULL, "steps_free nulls");
}

#endif

int main(void)
{
#ifdef TG_DOUBLE
    cfg c;
    setup(&c, TG_UDE_RK4, TG_UDE_ACT_TANH, TG_UDE_OUT_LINEAR, TG_UDE_IN_U);
    c.o.substeps = 3;
    fd_check("RK4 (tanh, linear, NN(S,u))", &c);
    ckpt_check("RK4 (tanh, linear, NN(S,u))", &c);

    setup(&c, TG_UDE_RK4, TG_UDE_ACT_SOFTPLUS, TG_UDE_OUT_SOFTPLUS, TG_UDE_IN_THETA);
    c.o.substeps = 2;
    fd_check("RK4 (softplus, softplus, NN(S,θ))", &c);

    adaptive_case("DOPRI5 frozen steps, NN(S,u,θ)", TG_UDE_DOPRI5);
    adaptive_case("BS32 frozen steps, NN(S,u,θ)", TG_UDE_BS32);

    setup(&c, TG_UDE_BEULER, TG_UDE_ACT_TANH, TG_UDE_OUT_SOFTPLUS, TG_UDE_IN_U | TG_UDE_IN_THETA);
    c.o.substeps = 2;
    c.o.newton.ftol = 1e-14, c.o.newton.xtol = 1e-15;
    fd_check("backward Euler, NN(S,u,θ)", &c);
    ckpt_check("backward Euler, NN(S,u,θ)", &c);
#else
    /* float build: gradients still flow and agree between checkpointing modes */
    cfg c;
    setup(&c, TG_UDE_DOPRI5, TG_UDE_ACT_TANH, TG_UDE_OUT_LINEAR, TG_UDE_IN_U);
    tg_real g0[700], g1[700];
    double L0 = tape_grad(&c, g0, NULL);
    c.o.ckpt_every = 2;
    double L1 = tape_grad(&c, g1, NULL);
    CHECK(L0 == L0 && L0 == L1, "float: loss %g vs %g", L0, L1);
    CHECK(max_rel_diff(g0, g1, n_grad(&c)) == 0, "float: checkpointed gradient differs");
#endif
    return tg_test_summary();
}
