/* test_ude_errors.c — bad input gives a clear error, a failing right-hand side or step
 * control gives TG_EEXTERNAL / TG_ECONVERGE naming the lane and interval, and a solve
 * plus its backward survive every allocation failure without leaks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_ude_common.h"
#include "ude/ude_solve_internal.h" /* to fake a step table of another batch size */

enum { B = 2, T = 5, N = 2, P = 3, U = 2 };
static tg_real S0[B * N] = {1, 0.5, 0.3, 0.8}, TH[B * P] = {0.5, 0.4, 0.1, 30, 2, 0.2}, UU[T * B * U], WW[1024];

static int nan_rhs(void *ud, const tg_ude_args *a, tg_real *dS)
{
    int rc = two_rhs(ud, a, dS);
    if (a->day == 2 && (!a->active || a->active[1]))
        dS[2] = (tg_real)NAN;
    return rc;
}
static int bad_rhs(void *ud, const tg_ude_args *a, tg_real *dS)
{
    (void)ud, (void)dS;
    return a->day == 3 ? -1 : two_rhs(ud, a, dS);
}

static int solve(const tg_ude_fns *f, const tg_ude_mlp *m, const tg_ude_opts *o, int with_grad)
{
    tg_ctx *ctx = tg_ctx_create();
    if (!ctx)
        return TG_ENOMEM;
    tg_ctx_set_grad(ctx, with_grad);
    size_t nw = tg_ude_mlp_nweights(m);
    tg_tensor *s0 = with_grad ? tg_leaf(ctx, TG_SHAPE(B, N), S0) : tg_from(ctx, TG_SHAPE(B, N), S0);
    tg_tensor *th = tg_leaf(ctx, TG_SHAPE(B, P), TH);
    tg_tensor *u = tg_from(ctx, TG_SHAPE(T, B, U), UU);
    tg_tensor *w = tg_leaf(ctx, 1, (const int[]){(int)nw}, WW);
    tg_tensor *y = tg_ude_solve(ctx, f, NULL, m, T, s0, th, u, w, o, NULL);
    int rc = y ? 0 : tg_ctx_status(ctx);
    if (!rc && with_grad) {
        tg_tensor *l = tg_sum(ctx, y);
        rc = l ? tg_backward(ctx, l) : tg_ctx_status(ctx);
    }
    tg_ctx_free(&ctx);
    return rc;
}

static long budget;
static long long outstanding;
static void *counting_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    if (new_size == 0) {
        free(ptr);
        outstanding -= (long long)old_size;
        return NULL;
    }
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    void *q = realloc(ptr, new_size);
    if (q)
        outstanding += (long long)new_size - (long long)old_size;
    return q;
}

static tg_ude_steps *g_rec;
static int alloc_case(const tg_ude_mlp *m, int method, int ckpt)
{
    tg_ude_opts o = tg_ude_defaults(method);
    o.ckpt_every = ckpt;
    o.substeps = 2;
    g_rec = tg_ude_steps_create();
    if (!g_rec)
        return TG_ENOMEM;
    if (method != TG_UDE_BEULER && method != TG_UDE_RK4)
        o.record = g_rec;
    int rc = solve(&two_fns, m, &o, 1);
    tg_ude_steps_free(&g_rec);
    return rc;
}

int main(void)
{
    for (int i = 0; i < T * B; i++)
        UU[2 * i] = (tg_real)(i % 3), UU[2 * i + 1] = TG_R(0.5);
    tg_ude_mlp m;
    tg_ude_mlp_setup(&m, N, U, P, TG_UDE_IN_U, 1, 4);
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_ude_mlp_init(&m, WW, &r);
    tg_ude_opts o = tg_ude_defaults(TG_UDE_DOPRI5);
    CHECK(solve(&two_fns, &m, &o, 1) == 0, "baseline: %s", tg_error_message());

    /* shapes and configuration */
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *y = tg_ude_solve(ctx, &two_fns, NULL, &m, T, tg_from(ctx, TG_SHAPE(B, 3), TH), /* (B, 3): wrong */
                                tg_from(ctx, TG_SHAPE(B, P), TH), tg_from(ctx, TG_SHAPE(T, B, U), UU),
                                tg_from(ctx, TG_SHAPE((int)tg_ude_mlp_nweights(&m)), WW), &o, NULL);
    CHECK(!y && tg_ctx_status(ctx) == TG_ESHAPE && strstr(tg_error_message(), "S0"), "S0 shape: %s",
          tg_error_message());
    tg_ctx_reset(ctx), tg_ctx_clear_status(ctx);
    y = tg_ude_solve(ctx, &two_fns, NULL, &m, T, tg_from(ctx, TG_SHAPE(B, N), S0), tg_from(ctx, TG_SHAPE(B, P), TH),
                     tg_from(ctx, TG_SHAPE(T, B, U), UU), NULL, &o, NULL);
    CHECK(!y && tg_ctx_status(ctx) == TG_ESHAPE && strstr(tg_error_message(), "W must"), "missing W: %s",
          tg_error_message());
    tg_ctx_reset(ctx), tg_ctx_clear_status(ctx);
    y = tg_ude_solve(ctx, &two_fns, NULL, &m, T, tg_from(ctx, TG_SHAPE(B, N), S0), tg_from(ctx, TG_SHAPE(B, P), TH),
                     tg_from(ctx, TG_SHAPE(T - 1, B, U), UU), NULL, &o, NULL);
    CHECK(!y && tg_ctx_status(ctx) == TG_ESHAPE && strstr(tg_error_message(), "u must"), "u shape: %s",
          tg_error_message());
    tg_ctx_free(&ctx);
    tg_ude_mlp bad = m;
    bad.width[1] = 100;
    CHECK(solve(&two_fns, &bad, &o, 0) == TG_EINVAL && strstr(tg_error_message(), "width[1]"), "width: %s",
          tg_error_message());
    tg_ude_opts ob = o;
    ob.dt = 0;
    CHECK(solve(&two_fns, &m, &ob, 0) == TG_EINVAL && strstr(tg_error_message(), "dt > 0"), "dt: %s",
          tg_error_message());
    tg_ude_fns nojvp = two_fns;
    nojvp.jvp = NULL;
    ob = tg_ude_defaults(TG_UDE_BEULER);
    CHECK(solve(&nojvp, &m, &ob, 0) == TG_EINVAL && strstr(tg_error_message(), "jvp"), "no jvp: %s",
          tg_error_message());
    tg_ude_fns novjp = two_fns;
    novjp.vjp = NULL;
    CHECK(solve(&novjp, &m, &o, 1) == TG_EINVAL && strstr(tg_error_message(), "vjp"), "no vjp: %s",
          tg_error_message());
    CHECK(solve(&novjp, &m, &o, 0) == 0, "no vjp is fine without gradients: %s", tg_error_message());
    /* replay recorded for another batch size */
    tg_ude_steps *st = tg_ude_steps_create();
    ob = o;
    ob.record = st;
    CHECK(solve(&two_fns, &m, &ob, 0) == 0, "record");
    CHECK(tg_ude_steps_count(st, 0, 1) > 0 && tg_ude_steps_count(st, T, 0) == -1, "step counts");
    st->B = 1; /* pretend: recorded for one lane */
    ob.record = NULL, ob.replay = st;
    CHECK(solve(&two_fns, &m, &ob, 0) == TG_EINVAL && strstr(tg_error_message(), "replayed"), "replay B: %s",
          tg_error_message());
    st->B = B;
    CHECK(solve(&two_fns, &m, &ob, 1) == 0, "replay: %s", tg_error_message());
    tg_ude_steps_free(&st);

    /* failing physics */
    tg_ude_fns nanf = two_fns;
    nanf.rhs = nan_rhs;
    CHECK(solve(&nanf, &m, &o, 0) == TG_ECONVERGE && strstr(tg_error_message(), "lane 1, interval 2") && strstr(tg_error_message(), "non-finite"),
          "NaN rhs: %s", tg_error_message());
    printf("NaN right-hand side: %s\n", tg_error_message());
    tg_ude_fns badf = two_fns;
    badf.rhs = bad_rhs;
    CHECK(solve(&badf, &m, &o, 0) == TG_EEXTERNAL && strstr(tg_error_message(), "interval 3"), "rhs error: %s",
          tg_error_message());
    ob = o;
    ob.max_attempts = 3;
    CHECK(solve(&two_fns, &m, &ob, 0) == TG_ECONVERGE && strstr(tg_error_message(), "attempts"), "attempts: %s",
          tg_error_message());

    /* every allocation failing in turn: forward + backward of each method, no leaks */
    const int methods[4] = {TG_UDE_RK4, TG_UDE_DOPRI5, TG_UDE_BS32, TG_UDE_BEULER};
    for (int mi = 0; mi < 4; mi++)
        for (int ck = 0; ck <= 2; ck += 2) {
            int rc = TG_ENOMEM, n, wrong = 0, leaks = 0;
            for (n = 0; n < 100000 && rc == TG_ENOMEM; n++) {
                budget = n, outstanding = 0;
                tg_set_allocator(counting_alloc, NULL);
                rc = alloc_case(&m, methods[mi], ck);
                tg_set_allocator(NULL, NULL);
                /* the tape reports a failed backward callback as TG_EEXTERNAL, keeping the
                 * callback's message */
                if (rc == TG_EEXTERNAL && strstr(tg_error_message(), "out of memory"))
                    rc = TG_ENOMEM;
                if (rc != 0 && rc != TG_ENOMEM)
                    wrong++, fprintf(stderr, "budget %d: rc %d: %s\n", n, rc, tg_error_message());
                if (outstanding != 0)
                    leaks++, fprintf(stderr, "method %d ckpt %d budget %d: %lld bytes outstanding\n", methods[mi], ck,
                                     n, outstanding);
            }
            CHECK(rc == 0 && wrong == 0 && leaks == 0 && n > 3,
                  "method %d ckpt %d: rc %d after %d budgets, %d wrong codes, %d leaks", methods[mi], ck, rc, n, wrong,
                  leaks);
        }
    return tg_test_summary();
}
