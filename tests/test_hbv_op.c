/* test_hbv_op.c — the fused HBV tape op against the unfused composition of core ops
 * (tg_step, tg_minimum, tg_relu, tg_clamp, tg_pow, tg_maximum, ... one node per
 * statement of the equations, ~60 per day as in the PyTorch code): outputs and
 * gradients w.r.t. static and dynamic parameters and forcing must agree. Then the whole
 * differentiable pipeline u -> scale -> HBV op -> routing op -> loss through tg_gradcheck
 * (central differences on every input), and the op's error paths. */
#include "test_hbv_common.h"

#ifdef TG_DOUBLE
#define TOL 1e-9
#define LOSS_TOL 1e-13 /* fused vs unfused loss: the same sums in another order */
#define GFLOOR 1e-6   /* gradient entries below GFLOOR * max|g| compare against that floor */
#else
#define TOL 2e-3
#define LOSS_TOL 2e-6
#define GFLOOR 1e-3
#endif

enum { T = 60, W = 20, B = 2, M = 3, L = B * M, TW = T - W, ND = 2 };

typedef struct fixture {
    tg_real forcing[T * B * 3];
    tg_real ps[TG_HBV_NPARAM * L];
    tg_real pd[TW * ND * L];      /* BETA, BETAET dynamic */
    tg_real c[TW * B];            /* loss weights on Q and ET */
    tg_real cet[TW * B];
} fixture;

static void make_fixture(fixture *F)
{
    CHECK(hbvt_load_forcing("caravan_camels_us/timeseries/01022500.csv", 365 * 2 + 70, T, F->forcing, B, 0) == 0, "forcing");
    CHECK(hbvt_load_forcing("caravan_camels_us/timeseries/06188000.csv", 365 * 2 + 120, T, F->forcing, B, 1) == 0, "forcing");
    tg_rng r;
    tg_rng_seed(&r, 9);
    hbvt_random_params(F->ps, L, &r, 0.15, 0.85);
    for (int l = 0; l < L; l++) {   /* keep TT off the data's 0.01 °C grid (rain/snow jump) */
        tg_real *tt = &F->ps[TG_HBV_TT * L + l];
        *tt = (tg_real)(floor((double)*tt * 100.0) / 100.0 + 0.005);
    }
    F->ps[TG_HBV_FC * L] = TG_R(60.0);     /* overflow in lane 0 */
    F->ps[TG_HBV_UZL * L + 1] = TG_R(2.0);
    for (int t = 0; t < TW; t++)
        for (int l = 0; l < L; l++) {
            F->pd[(t * ND + 0) * L + l] = F->ps[TG_HBV_BETA * L + l] * (tg_real)(1.0 + 0.2 * sin(0.1 * t + l));
            F->pd[(t * ND + 1) * L + l] = F->ps[TG_HBV_BETAET * L + l] * (tg_real)(1.0 + 0.2 * cos(0.1 * t + l));
        }
    for (int i = 0; i < TW * B; i++) {
        F->c[i] = (tg_real)(2 * tg_rng_uniform(&r) - 1);
        F->cet[i] = (tg_real)(2 * tg_rng_uniform(&r) - 1);
    }
}

/* Sum over time of c . Qb + cet . ETb (Qb, ETb: (B) tensors) */
static tg_tensor *weighted(tg_ctx *ctx, tg_tensor *x, const tg_real *w)
{
    return tg_sum(ctx, tg_mul(ctx, x, tg_from(ctx, TG_SHAPE(B), w)));
}

/* One HBV step from core ops. p[k]: (B, M) tensors; P, Ta, E: (B, 1). */
static void unfused_step(tg_ctx *ctx, tg_tensor **p, tg_tensor *P, tg_tensor *Ta, tg_tensor *E, tg_tensor **s,
                         tg_tensor **Qb, tg_tensor **ETb)
{
    tg_tensor *SP = s[0], *MW = s[1], *SM = s[2], *SUZ = s[3], *SLZ = s[4];
    tg_tensor *dT = tg_sub(ctx, Ta, p[TG_HBV_TT]);                           /* (B, M) */
    tg_tensor *rain = tg_mul(ctx, P, tg_step(ctx, dT));                      /* T > TT (no tie: TT off-grid) */
    tg_tensor *snow = tg_sub(ctx, P, rain);
    SP = tg_add(ctx, SP, snow);
    tg_tensor *melt = tg_minimum(ctx, tg_relu(ctx, tg_mul(ctx, p[TG_HBV_CFMAX], dT)), SP);
    MW = tg_add(ctx, MW, melt);
    SP = tg_sub(ctx, SP, melt);
    tg_tensor *cfr = tg_mul(ctx, p[TG_HBV_CFR], p[TG_HBV_CFMAX]);
    tg_tensor *refr = tg_minimum(ctx, tg_relu(ctx, tg_mul(ctx, cfr, tg_neg(ctx, dT))), MW);
    SP = tg_add(ctx, SP, refr);
    MW = tg_sub(ctx, MW, refr);
    tg_tensor *tosoil = tg_relu(ctx, tg_sub(ctx, MW, tg_mul(ctx, p[TG_HBV_CWH], SP)));
    MW = tg_sub(ctx, MW, tosoil);
    tg_tensor *wet = tg_clamp(ctx, tg_pow(ctx, tg_div(ctx, SM, p[TG_HBV_FC]), p[TG_HBV_BETA]), TG_R(0.0), TG_R(1.0));
    tg_tensor *infil = tg_add(ctx, rain, tosoil);
    tg_tensor *rech = tg_mul(ctx, infil, wet);
    SM = tg_sub(ctx, tg_add(ctx, SM, infil), rech);
    tg_tensor *exc = tg_relu(ctx, tg_sub(ctx, SM, p[TG_HBV_FC]));
    SM = tg_sub(ctx, SM, exc);
    tg_tensor *lpfc = tg_mul(ctx, p[TG_HBV_LP], p[TG_HBV_FC]);
    tg_tensor *ef = tg_clamp(ctx, tg_pow(ctx, tg_div(ctx, SM, lpfc), p[TG_HBV_BETAET]), TG_R(0.0), TG_R(1.0));
    tg_tensor *ET = tg_minimum(ctx, SM, tg_mul(ctx, E, ef));
    SM = tg_maximum(ctx, tg_sub(ctx, SM, ET), tg_scalar(ctx, TG_R(TG_HBV_SM_FLOOR)));
    SUZ = tg_add(ctx, tg_add(ctx, SUZ, rech), exc);
    tg_tensor *perc = tg_minimum(ctx, SUZ, p[TG_HBV_PERC]);
    SUZ = tg_sub(ctx, SUZ, perc);
    tg_tensor *Q0 = tg_mul(ctx, p[TG_HBV_K0], tg_relu(ctx, tg_sub(ctx, SUZ, p[TG_HBV_UZL])));
    SUZ = tg_sub(ctx, SUZ, Q0);
    tg_tensor *Q1 = tg_mul(ctx, p[TG_HBV_K1], SUZ);
    SUZ = tg_sub(ctx, SUZ, Q1);
    SLZ = tg_add(ctx, SLZ, perc);
    tg_tensor *Q2 = tg_mul(ctx, p[TG_HBV_K2], SLZ);
    SLZ = tg_sub(ctx, SLZ, Q2);
    tg_tensor *Q = tg_add(ctx, tg_add(ctx, Q0, Q1), Q2);
    *Qb = tg_mean_axis(ctx, Q, 1, 0);
    *ETb = tg_mean_axis(ctx, ET, 1, 0);
    s[0] = SP; s[1] = MW; s[2] = SM; s[3] = SUZ; s[4] = SLZ;
}

/* Loss of the unfused model; leaves: forcing (T,B,3), ps (13,B,M), pd (TW,2,B,M). */
static tg_tensor *unfused_loss(tg_ctx *ctx, const fixture *F, tg_tensor *forcing, tg_tensor *ps, tg_tensor *pd,
                               tg_real *qout)
{
    tg_tensor *s[5];
    for (int k = 0; k < 5; k++) s[k] = tg_full(ctx, TG_SHAPE(B, M), TG_R(TG_HBV_INIT_STORE));
    tg_tensor *loss = tg_scalar(ctx, TG_R(0.0));
    for (int t = 0; t < T; t++) {
        int warm = t < W;
        int prev = tg_ctx_set_grad(ctx, !warm);      /* no gradient through the warm-up */
        tg_tensor *p[TG_HBV_NPARAM];
        for (int k = 0; k < TG_HBV_NPARAM; k++) p[k] = tg_select(ctx, ps, 0, k);
        if (!warm) {
            tg_tensor *pdt = tg_select(ctx, pd, 0, t - W);
            p[TG_HBV_BETA] = tg_select(ctx, pdt, 0, 0);
            p[TG_HBV_BETAET] = tg_select(ctx, pdt, 0, 1);
        }
        tg_tensor *ft = tg_select(ctx, forcing, 0, t);                       /* (B, 3) */
        tg_tensor *P = tg_slice(ctx, ft, 1, 0, 1), *Ta = tg_slice(ctx, ft, 1, 1, 1), *E = tg_slice(ctx, ft, 1, 2, 1);
        tg_tensor *Qb, *ETb;
        unfused_step(ctx, p, P, Ta, E, s, &Qb, &ETb);
        if (warm) for (int k = 0; k < 5; k++) s[k] = tg_detach(ctx, s[k]);
        tg_ctx_set_grad(ctx, prev);
        if (!warm) {
            loss = tg_add(ctx, loss, tg_add(ctx, weighted(ctx, Qb, F->c + (t - W) * B), weighted(ctx, ETb, F->cet + (t - W) * B)));
            if (Qb) memcpy(qout + (t - W) * B, Qb->data, B * sizeof(tg_real));
        }
    }
    return loss;
}

static tg_tensor *fused_loss(tg_ctx *ctx, const fixture *F, tg_tensor *forcing, tg_tensor *ps, tg_tensor *pd, tg_real *qout)
{
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    c.dynamic = TG_HBV_DYNAMIC_DEFAULT;
    tg_tensor *ob = NULL;
    CHECK(tg_hbv_op(ctx, &c, forcing, ps, pd, NULL, &ob, NULL, NULL) == 0, "hbv op: %s", tg_error_message());
    if (!ob) return NULL;
    CHECK(ob->ndim == 3 && ob->shape[0] == TW && ob->shape[1] == TG_HBV_NOUT && ob->shape[2] == B, "output shape");
    tg_tensor *Q = tg_select(ctx, ob, 1, TG_HBV_Q), *ET = tg_select(ctx, ob, 1, TG_HBV_ET);   /* (TW, B) */
    memcpy(qout, Q->data, TW * B * sizeof(tg_real));
    tg_tensor *wq = tg_from(ctx, TG_SHAPE(TW, B), F->c), *we = tg_from(ctx, TG_SHAPE(TW, B), F->cet);
    return tg_add(ctx, tg_sum(ctx, tg_mul(ctx, Q, wq)), tg_sum(ctx, tg_mul(ctx, ET, we)));
}

static void test_fused_vs_unfused(void)
{
    static fixture F;
    make_fixture(&F);
    static tg_real g1[3][TW * ND * L + T * B * 3 + TG_HBV_NPARAM * L], q1[TW * B], q2[TW * B];
    size_t len[3] = {T * B * 3, TG_HBV_NPARAM * L, TW * ND * L};
    double lossv[2];
    size_t tape[2];
    for (int v = 0; v < 2; v++) {
        tg_ctx *ctx = tg_ctx_create();
        tg_tensor *forcing = tg_leaf(ctx, TG_SHAPE(T, B, 3), F.forcing);
        tg_tensor *ps = tg_leaf(ctx, TG_SHAPE(TG_HBV_NPARAM, B, M), F.ps);
        tg_tensor *pd = tg_leaf(ctx, TG_SHAPE(TW, ND, B, M), F.pd);
        tg_tensor *loss = v == 0 ? fused_loss(ctx, &F, forcing, ps, pd, q1) : unfused_loss(ctx, &F, forcing, ps, pd, q2);
        CHECK(loss && tg_backward(ctx, loss) == 0, "backward (%s): %s", v ? "unfused" : "fused", tg_error_message());
        lossv[v] = loss ? (double)loss->data[0] : 0;
        tape[v] = tg_ctx_tape_length(ctx);
        tg_tensor *in[3] = {forcing, ps, pd};
        if (v == 0)
            for (int i = 0; i < 3; i++)
                for (size_t j = 0; j < len[i]; j++) g1[i][j] = in[i]->grad ? in[i]->grad[j] : TG_R(0.0);
        if (v == 1) {   /* compare right away, inputs one by one */
            const char *names[3] = {"forcing", "static parameters", "dynamic parameters"};
            for (int i = 0; i < 3; i++) {
                double worst = 0, gmax = 0;
                for (size_t j = 0; j < len[i]; j++) gmax = fmax(gmax, fabs((double)g1[i][j]));
                for (size_t j = 0; j < len[i]; j++) {
                    double a = (double)g1[i][j], b = in[i]->grad ? (double)in[i]->grad[j] : 0;
                    worst = fmax(worst, fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), GFLOOR * gmax));
                }
                printf("fused vs unfused gradient, %-18s: worst rel err %.2e (max |g| %.3g)\n", names[i], worst, gmax);
                CHECK(worst < TOL && gmax > 0, "%s gradient differs: %g", names[i], worst);
            }
        }
        tg_ctx_free(&ctx);
    }
    double wq = 0;
    for (int i = 0; i < TW * B; i++) wq = fmax(wq, fabs((double)q1[i] - (double)q2[i]) / fmax(1e-3, fabs((double)q2[i])));
    printf("fused vs unfused: Q worst rel diff %.2e, loss %.12g vs %.12g, tape %zu vs %zu nodes\n", wq, lossv[0], lossv[1], tape[0], tape[1]);
    CHECK(wq < TOL, "Q differs by %g", wq);
    CHECK(IS_CLOSE(lossv[0], lossv[1], LOSS_TOL, 0), "loss %g vs %g", lossv[0], lossv[1]);
    CHECK(tape[0] < 10 && tape[1] > 40 * TW, "tape lengths %zu (fused) and %zu (unfused)", tape[0], tape[1]);
}

/* ---------------------------------------------------------------- full pipeline */
typedef struct pipe { const tg_real *forcing; const tg_real *obs; } pipe;

/* inputs: u static (13, B, M), u dynamic (TW, 2, B, M), u route (B, 2) */
static tg_tensor *pipeline(tg_ctx *ctx, tg_tensor *const *in, int n, void *ud)
{
    (void)n;
    const pipe *pp = ud;
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    c.dynamic = TG_HBV_DYNAMIC_DEFAULT;
    c.warmup_grad = 1;
    c.smooth_temp = TG_R(0.5);
    c.smooth_store = TG_R(1.0);
    tg_tensor *ps = tg_hbv_scale_op(ctx, in[0], TG_HBV_ALL_PARAMS);
    tg_tensor *pd = tg_hbv_scale_op(ctx, in[1], TG_HBV_DYNAMIC_DEFAULT);
    tg_tensor *forcing = tg_from(ctx, TG_SHAPE(T, B, 3), pp->forcing);
    tg_tensor *ob = NULL, *a = NULL, *th = NULL;
    if (tg_hbv_op(ctx, &c, forcing, ps, pd, NULL, &ob, NULL, NULL)) return NULL;
    tg_tensor *q = tg_slice(ctx, ob, 1, TG_HBV_Q, 4);                   /* Q, Q0, Q1, Q2: (TW, 4, B) */
    if (tg_routing_params_op(ctx, in[2], &a, &th)) return NULL;
    tg_tensor *qr = tg_routing_op(ctx, q, a, th);
    tg_tensor *qtot = tg_select(ctx, qr, 1, 0);                          /* routed Q (TW, B) */
    tg_tensor *q2 = tg_select(ctx, qr, 1, 3);                            /* routed baseflow */
    tg_tensor *d = tg_sub(ctx, qtot, tg_from(ctx, TG_SHAPE(TW, B), pp->obs));
    return tg_add(ctx, tg_mean(ctx, tg_mul(ctx, d, d)), tg_mean(ctx, q2));
}

static void test_pipeline_gradcheck(void)
{
    static fixture F;
    make_fixture(&F);
    static tg_real us[TG_HBV_NPARAM * L], ud[TW * ND * L], ur[B * 2], obs[TW * B];
    tg_rng r;
    tg_rng_seed(&r, 21);
    for (int i = 0; i < TG_HBV_NPARAM * L; i++) us[i] = (tg_real)(0.15 + 0.7 * tg_rng_uniform(&r));
    for (int i = 0; i < TW * ND * L; i++) ud[i] = (tg_real)(0.15 + 0.7 * tg_rng_uniform(&r));
    for (int i = 0; i < B * 2; i++) ur[i] = (tg_real)(0.1 + 0.8 * tg_rng_uniform(&r));
    for (int i = 0; i < TW * B; i++) obs[i] = (tg_real)(0.5 + tg_rng_uniform(&r));
    pipe pp = {F.forcing, obs};
    int ndims[3] = {3, 4, 2};
    int shapes[3][TG_MAX_DIMS] = {{TG_HBV_NPARAM, B, M}, {TW, ND, B, M}, {B, 2}};
    tg_real *inputs[3] = {us, ud, ur};
    tg_gradcheck_result res;
#ifdef TG_DOUBLE
    const double h = 1e-5, tol = 1e-6, atol = 0;
#else
    const double h = 1e-2, tol = 5e-2, atol = 2e-3;   /* float FD: noise ~ 1e-7 / h */
#endif
    int rc = tg_gradcheck(pipeline, &pp, 3, ndims, (const int (*)[TG_MAX_DIMS])shapes, inputs, h, &res);
    printf("pipeline u -> HBV op -> routing op -> loss: %zu inputs checked, max rel err %.2e, max abs err %.2e\n",
           res.checked, res.max_rel_err, res.max_abs_err);
    CHECK(rc == 0, "gradcheck failed: %s", tg_error_message());
    CHECK(res.checked == (size_t)(TG_HBV_NPARAM * L + TW * ND * L + B * 2), "checked %zu", res.checked);
    CHECK(res.max_rel_err < tol || res.max_abs_err < atol, "pipeline gradient rel err %g, abs err %g",
          res.max_rel_err, res.max_abs_err);
}

static void test_errors(void)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    static tg_real buf[T * B * 3 * 4];
    tg_tensor *forcing = tg_from(ctx, TG_SHAPE(T, B, 3), buf);
    tg_tensor *bad = tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, B, M + 1), buf);
    tg_tensor *ob = NULL;
    CHECK(tg_hbv_op(ctx, &c, forcing, bad, NULL, NULL, &ob, NULL, NULL) == TG_ESHAPE && !ob, "shape error expected");
    CHECK(strstr(tg_error_message(), "static parameters") != NULL, "message names the input: %s", tg_error_message());
    tg_tensor *ps = tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, B, M), buf);
    c.dynamic = 1;
    CHECK(tg_hbv_op(ctx, &c, forcing, ps, NULL, NULL, &ob, NULL, NULL) == TG_EINVAL, "missing dynamic parameters");
    c.dynamic = 0;
    c.warmup = T;
    CHECK(tg_hbv_op(ctx, &c, forcing, ps, NULL, NULL, &ob, NULL, NULL) == TG_EINVAL, "bad config");
    c.warmup = W;
    /* no gradient needed: no saved stores, outputs still computed; lane output = basin mean */
    tg_tensor *ol = NULL, *sf = NULL;
    static fixture F;
    make_fixture(&F);
    ps = tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, B, M), F.ps);
    forcing = tg_from(ctx, TG_SHAPE(T, B, 3), F.forcing);
    CHECK(tg_hbv_op(ctx, &c, forcing, ps, NULL, NULL, &ob, &ol, &sf) == 0, "op: %s", tg_error_message());
    CHECK(ol && ol->ndim == 4 && sf && sf->ndim == 3 && !ob->requires_grad, "outputs");
    if (ol) {
        double s = 0;
        for (int m = 0; m < M; m++) s += (double)ol->data[(((size_t)5 * TG_HBV_NOUT + TG_HBV_SM) * B + 1) * M + (size_t)m];
        CHECK_CLOSE(s / M, ob->data[((size_t)5 * TG_HBV_NOUT + TG_HBV_SM) * B + 1], 1e-6, 0);
    }
    tg_ctx_free(&ctx);
}

int main(void)
{
    test_fused_vs_unfused();
    test_pipeline_gradcheck();
    test_errors();
    return tg_test_summary();
}
