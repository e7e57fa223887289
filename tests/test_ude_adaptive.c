/* test_ude_adaptive.c — per-lane adaptive steps in one batch: lanes with very different
 * stiffness and forcing take different numbers of steps, and each lane's solution and
 * gradients are the same as when it is solved alone (bit for bit for the values and the
 * lane's own gradients; the shared network weights' gradient is the sum over lanes, equal
 * to round-off). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "test_ude_common.h"

enum { B = 6, T = 20, N = 2, P = 3, U = 2 };

static tg_real S0[B * N], TH[B * P], UU[T * B * U], WW[256], CW[T * B * N];

typedef struct {
    tg_real y[T * B * N];
    tg_real gS[B * N], gT[B * P], gU[T * B * U], gW[256];
    long acc[B], rej[B];
} result;

/* Solves lanes lane0..lane0+nb-1 (as a batch of nb), loss Σ c·y, gradients. */
static int solve(int method, int lane0, int nb, const tg_ude_mlp *m, tg_ude_steps *rec, result *r)
{
    tg_real s0[B * N], th[B * P], uu[T * B * U], cw[T * B * N];
    for (int b = 0; b < nb; b++) {
        memcpy(s0 + b * N, S0 + (lane0 + b) * N, N * sizeof *s0);
        memcpy(th + b * P, TH + (lane0 + b) * P, P * sizeof *th);
        for (int t = 0; t < T; t++) {
            memcpy(uu + (t * nb + b) * U, UU + (t * B + lane0 + b) * U, U * sizeof *uu);
            memcpy(cw + (t * nb + b) * N, CW + (t * B + lane0 + b) * N, N * sizeof *cw);
        }
    }
    tg_ude_opts o = tg_ude_defaults(method);
    o.record = rec;
    o.ckpt_every = 4;
    tg_ude_stats st;
    memset(&st, 0, sizeof st);
    memset(r->acc, 0, sizeof r->acc), memset(r->rej, 0, sizeof r->rej);
    st.lane_accepted = r->acc, st.lane_rejected = r->rej;
    tg_ude_stats_init(&st);
    tg_ctx *ctx = tg_ctx_create();
    size_t nw = tg_ude_mlp_nweights(m);
    tg_tensor *in[4] = {tg_leaf(ctx, TG_SHAPE(nb, N), s0), tg_leaf(ctx, TG_SHAPE(nb, P), th),
                        tg_leaf(ctx, TG_SHAPE(T, nb, U), uu), tg_leaf(ctx, 1, (const int[]){(int)nw}, WW)};
    tg_tensor *y = tg_ude_solve(ctx, &two_fns, NULL, m, T, in[0], in[1], in[2], in[3], &o, &st);
    tg_tensor *l = tg_sum(ctx, tg_mul(ctx, y, tg_from(ctx, TG_SHAPE(T, nb, N), cw)));
    int rc = l ? tg_backward(ctx, l) : tg_ctx_status(ctx);
    if (!rc) {
        memcpy(r->y, y->data, y->n * sizeof *r->y);
        memcpy(r->gS, in[0]->grad, in[0]->n * sizeof *r->gS);
        memcpy(r->gT, in[1]->grad, in[1]->n * sizeof *r->gT);
        memcpy(r->gU, in[2]->grad, in[2]->n * sizeof *r->gU);
        memcpy(r->gW, in[3]->grad, in[3]->n * sizeof *r->gW);
    } else
        fprintf(stderr, "solve: %s\n", tg_error_message());
    tg_ctx_free(&ctx);
    return rc;
}

static void run_method(const char *name, int method, const tg_ude_mlp *m)
{
    static result all, one;
    tg_ude_steps *rec = tg_ude_steps_create();
    CHECK(solve(method, 0, B, m, rec, &all) == 0, "%s: batch solve", name);
    long lo = all.acc[0], hi = all.acc[0];
    printf("%s: accepted steps per lane over %d days:", name, T);
    for (int b = 0; b < B; b++) {
        printf(" %ld", all.acc[b]);
        lo = all.acc[b] < lo ? all.acc[b] : lo;
        hi = all.acc[b] > hi ? all.acc[b] : hi;
    }
    printf(" (rejected:");
    for (int b = 0; b < B; b++)
        printf(" %ld", all.rej[b]);
    printf(")\n");
    CHECK(hi >= 4 * lo, "%s: lanes should take very different step counts (%ld..%ld)", name, lo, hi);
    /* within one interval the lanes finish at their own pace */
    int distinct = 0;
    for (int b = 1; b < B; b++)
        distinct += tg_ude_steps_count(rec, 3, b) != tg_ude_steps_count(rec, 3, 0);
    CHECK(distinct > 0, "%s: all lanes took the same steps on day 3", name);
    tg_ude_steps_free(&rec);

    double wsum[256] = {0};
    size_t nw = tg_ude_mlp_nweights(m);
    int same_y = 1, same_g = 1;
    double worst_w = 0;
    for (int b = 0; b < B; b++) {
        CHECK(solve(method, b, 1, m, NULL, &one) == 0, "%s: lane %d alone", name, b);
        CHECK(one.acc[0] == all.acc[b] && one.rej[0] == all.rej[b], "%s: lane %d: %ld/%ld steps alone, %ld/%ld in the batch",
              name, b, one.acc[0], one.rej[0], all.acc[b], all.rej[b]);
        for (int t = 0; t < T; t++)
            for (int i = 0; i < N; i++)
                same_y &= one.y[t * N + i] == all.y[(t * B + b) * N + i];
        for (int i = 0; i < N; i++)
            same_g &= one.gS[i] == all.gS[b * N + i];
        for (int i = 0; i < P; i++)
            same_g &= one.gT[i] == all.gT[b * P + i];
        for (int t = 0; t < T; t++)
            for (int i = 0; i < U; i++)
                same_g &= one.gU[t * U + i] == all.gU[(t * B + b) * U + i];
        for (size_t i = 0; i < nw; i++)
            wsum[i] += (double)one.gW[i];
    }
    for (size_t i = 0; i < nw; i++)
        worst_w = fmax(worst_w, tg_rel_err(wsum[i], (double)all.gW[i], 1e-6));
    CHECK(same_y, "%s: a lane's states differ between the batch and alone", name);
    CHECK(same_g, "%s: a lane's S0/theta/u gradients differ between the batch and alone", name);
#ifdef TG_DOUBLE
    /* thousands of step contributions accumulated in a different order: round-off only */
    CHECK(worst_w < 1e-10, "%s: W gradient: batch vs sum of lanes, rel %.3e", name, worst_w);
#else
    CHECK(worst_w < 1e-4, "%s: W gradient: batch vs sum of lanes, rel %.3e", name, worst_w);
#endif
    printf("%s: batch == lane-by-lane: states bit-identical, lane gradients bit-identical, "
           "W gradient rel diff %.1e\n", name, worst_w);
}

int main(void)
{
    const double k1[B] = {0.05, 0.3, 1.0, 4.0, 15.0, 60.0};
    const double k2[B] = {0.02, 0.5, 0.1, 8.0, 2.0, 30.0};
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (int b = 0; b < B; b++) {
        S0[b * N] = (tg_real)(0.5 + tg_rng_uniform(&r));
        S0[b * N + 1] = (tg_real)(0.2 + tg_rng_uniform(&r));
        TH[b * P] = (tg_real)k1[b], TH[b * P + 1] = (tg_real)k2[b], TH[b * P + 2] = TG_R(0.1);
    }
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            /* storms of lane-dependent size on some days */
            double storm = tg_rng_uniform(&r) < 0.3 ? 10.0 * b * tg_rng_uniform(&r) : 0.0;
            UU[(t * B + b) * U] = (tg_real)(0.5 * tg_rng_uniform(&r) + storm);
            UU[(t * B + b) * U + 1] = (tg_real)(0.3 + 0.5 * tg_rng_uniform(&r));
        }
    for (int i = 0; i < T * B * N; i++)
        CW[i] = (tg_real)(tg_rng_uniform(&r) - 0.5);
    tg_ude_mlp m;
    tg_ude_mlp_setup(&m, N, U, P, TG_UDE_IN_U, 2, 8);
    m.in_scale[2] = TG_R(0.2);
    tg_ude_mlp_init(&m, WW, &r);
    run_method("DOPRI5", TG_UDE_DOPRI5, &m);
    run_method("BS32", TG_UDE_BS32, &m);
    return tg_test_summary();
}
