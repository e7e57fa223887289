/* test_hbv_capillary.c — δHBV 1.1p capillary rise (cfg.capillary), the parts that are not
 * gradients (test_hbv_grad.c, cases E/F) or mass balance (test_hbv_balance.c):
 *   1. C = 0 everywhere: every 1.0 output row, the final stores and the gradients of the 13
 *      shared parameters, forcing and initial stores are bit-identical to capillary off, and
 *      the cap row is 0 — the rise adds exactly nothing when switched off by its parameter;
 *   2. the equation itself on a single step, against a direct double evaluation of
 *      cap = min(SLZ, C SLZ (1 - min(SM/FC, 1))) from the step's own outputs;
 *   3. the config and the tape op: C dynamic without capillary is refused, the op wants 14
 *      parameter rows and gives 17 output rows with capillary, and refuses 13.
 * Forcing: two years of a Maine basin (Caravan), all thresholds hard. */
#include "test_hbv_common.h"

enum { T = 730, W = 100, B = 2, M = 4, L = B * M };

static tg_real forcing[T * B * 3];

static void load(void)
{
    CHECK(hbvt_load_forcing("caravan_camels_us/timeseries/01022500.csv", 300, T, forcing, B, 0) == 0, "forcing");
    CHECK(hbvt_load_forcing("caravan_camels_us/timeseries/01022500.csv", 2000, T, forcing, B, 1) == 0, "forcing");
}

/* Runs forward (lane outputs, final stores, hist) and backward with all-ones seeds on Q,
 * SM and SLZ; returns outputs in ol ((T-W, nout, L)), final stores in sf, gradients. */
static void run(const tg_hbv_config *c, const tg_real *ps, tg_real *ol, tg_real *sf, tg_real *gps, tg_real *gf,
                tg_real *gs0)
{
    const size_t Tw = (size_t)(T - W), no = (size_t)tg_hbv_nout(c);
    tg_real *hist = hbvt_alloc(tg_hbv_hist_size(c)), *gl = hbvt_alloc(Tw * no * L);
    tg_real s0[TG_HBV_NSTATE * L];
    for (int i = 0; i < TG_HBV_NSTATE * L; i++) s0[i] = (tg_real)(5 + i % 7);
    for (size_t t = 0; t < Tw; t++)
        for (int l = 0; l < L; l++) {
            gl[(t * no + TG_HBV_Q) * L + l] = TG_R(1.0);
            gl[(t * no + TG_HBV_SM) * L + l] = TG_R(0.01);
            gl[(t * no + TG_HBV_SLZ) * L + l] = TG_R(-0.02);
        }
    CHECK(tg_hbv_forward(NULL, ol, sf, hist, forcing, ps, NULL, s0, c) == 0, "forward");
    CHECK(tg_hbv_backward(gps, NULL, gf, gs0, NULL, gl, NULL, hist, forcing, ps, NULL, c) == 0, "backward");
    free(hist);
    free(gl);
}

static int same_bits(const tg_real *a, const tg_real *b, size_t n)
{
    return memcmp(a, b, n * sizeof(tg_real)) == 0;
}

static void test_c_zero_is_off(void)
{
    tg_hbv_config c0, c1;
    tg_hbv_config_init(&c0, T, W, B, M);
    c0.warmup_grad = 1;
    c1 = c0;
    c1.capillary = 1;
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_real ps[TG_HBV_NPARAM_MAX * L];
    hbvt_random_params(ps, L, &r, 0.05, 0.95);
    for (int l = 0; l < L; l++) ps[TG_HBV_C * L + l] = TG_R(0.0);
    const size_t Tw = (size_t)(T - W);
    tg_real *o0 = hbvt_alloc(Tw * TG_HBV_NOUT * L), *o1 = hbvt_alloc(Tw * TG_HBV_NOUT_MAX * L);
    tg_real sf0[TG_HBV_NSTATE * L], sf1[TG_HBV_NSTATE * L], g0[TG_HBV_NPARAM * L] = {0}, g1[TG_HBV_NPARAM_MAX * L] = {0};
    tg_real *gf0 = hbvt_alloc((size_t)T * B * 3), *gf1 = hbvt_alloc((size_t)T * B * 3);
    tg_real gs0[TG_HBV_NSTATE * L] = {0}, gs1[TG_HBV_NSTATE * L] = {0};
    run(&c0, ps, o0, sf0, g0, gf0, gs0);
    run(&c1, ps, o1, sf1, g1, gf1, gs1);
    int rows_same = 1;
    double capmax = 0;
    for (size_t t = 0; t < Tw; t++) {
        rows_same &= same_bits(o0 + t * TG_HBV_NOUT * L, o1 + t * TG_HBV_NOUT_MAX * L, TG_HBV_NOUT * L);
        for (int l = 0; l < L; l++) capmax = fmax(capmax, fabs((double)o1[(t * TG_HBV_NOUT_MAX + TG_HBV_CAP) * L + l]));
    }
    CHECK(rows_same, "C = 0: the 16 δHBV 1.0 output rows differ from capillary off");
    CHECK(capmax == 0.0, "C = 0: cap row not zero (max %g)", capmax);
    CHECK(same_bits(sf0, sf1, TG_HBV_NSTATE * L), "C = 0: final stores differ");
    CHECK(same_bits(g0, g1, TG_HBV_NPARAM * L), "C = 0: gradients of the 13 shared parameters differ");
    CHECK(same_bits(gf0, gf1, (size_t)T * B * 3), "C = 0: forcing gradients differ");
    CHECK(same_bits(gs0, gs1, TG_HBV_NSTATE * L), "C = 0: initial-store gradients differ");
    /* dL/dC at C = 0 is not zero: raising C moves water and changes Q */
    double gc = 0;
    for (int l = 0; l < L; l++) gc = fmax(gc, fabs((double)g1[TG_HBV_C * L + l]));
    CHECK(gc > 0.0, "C = 0: dL/dC is zero in every lane");
    free(o0); free(o1); free(gf0); free(gf1);
}

/* One step from given stores, W = 0: cap against the equation, evaluated in double from
 * the step's inputs and its own SM after ET (SM_out - cap). */
static void test_step_equation(void)
{
    tg_hbv_config c;
    tg_hbv_config_init(&c, 1, 0, 1, 1);
    c.capillary = 1;
    tg_rng r;
    tg_rng_seed(&r, 11);
    int n = 0, capped = 0, active = 0;
    for (int k = 0; k < 400; k++) {
        tg_real ps[TG_HBV_NPARAM_MAX], s0[TG_HBV_NSTATE], out[TG_HBV_NOUT_MAX], f[3];
        hbvt_random_params(ps, 1, &r, 0.0, 1.0);
        /* C beyond 1 now and then, so that the min(SLZ, .) branch is taken too */
        ps[TG_HBV_C] = (tg_real)(k % 4 == 0 ? 1.0 + 3.0 * tg_rng_uniform(&r) : tg_rng_uniform(&r));
        for (int i = 0; i < TG_HBV_NSTATE; i++) s0[i] = (tg_real)(60.0 * tg_rng_uniform(&r));
        if (k % 5 == 0) s0[TG_HBV_S_SM] = (tg_real)(1.2 * (double)ps[TG_HBV_FC]);   /* above FC: no rise */
        f[0] = (tg_real)(10 * tg_rng_uniform(&r)); f[1] = (tg_real)(10 * tg_rng_uniform(&r) - 2);
        f[2] = (tg_real)(4 * tg_rng_uniform(&r));
        CHECK(tg_hbv_forward(NULL, out, NULL, NULL, f, ps, NULL, s0, &c) == 0, "forward");
        double cap = (double)out[TG_HBV_CAP], slz = (double)s0[TG_HBV_S_SLZ];
        double sm_after_et = (double)out[TG_HBV_SM] - cap;
        double x = fmin(sm_after_et / (double)ps[TG_HBV_FC], 1.0);
        double want = fmin(slz, (double)ps[TG_HBV_C] * slz * (1.0 - x));
        /* float: SM_out - cap loses ~1e-7 of SM; the rise scales it by C SLZ / FC */
        CHECK_CLOSE(cap, want, 1e-5, 1e-6 * (1 + slz));
        n++;
        capped += want == slz && want > 0;
        active += want > 0;
    }
    printf("step equation: %d steps, rise active in %d, capped at SLZ in %d\n", n, active, capped);
    CHECK(capped > 0 && active > n / 2, "step cases do not reach both branches (active %d, capped %d)", active, capped);
}

static void test_config_and_op(void)
{
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    CHECK(c.capillary == 0 && tg_hbv_nparam(&c) == 13 && tg_hbv_nout(&c) == 16, "defaults are δHBV 1.0");
    c.dynamic = 1u << TG_HBV_C;
    CHECK(tg_hbv_config_check(&c) == TG_EINVAL, "C dynamic without capillary accepted");
    c.capillary = 1;
    CHECK(tg_hbv_config_check(&c) == 0, "C dynamic with capillary refused: %s", tg_error_message());
    CHECK(tg_hbv_nparam(&c) == 14 && tg_hbv_nout(&c) == 17 && tg_hbv_ndynamic(&c) == 1, "1.1p sizes");
    c.capillary = 2;
    CHECK(tg_hbv_config_check(&c) == TG_EINVAL, "capillary = 2 accepted");
    c.capillary = 1;
    c.dynamic = 0;

    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *f = tg_leaf(ctx, TG_SHAPE(T, B, 3), forcing);
    tg_real *p13 = hbvt_alloc(TG_HBV_NPARAM_MAX * L);
    tg_rng r;
    tg_rng_seed(&r, 5);
    hbvt_random_params(p13, L, &r, 0.1, 0.9);
    tg_tensor *ps13 = tg_leaf(ctx, TG_SHAPE(TG_HBV_NPARAM, B, M), p13);
    tg_tensor *ob = NULL;
    CHECK(tg_hbv_op(ctx, &c, f, ps13, NULL, NULL, &ob, NULL, NULL) == TG_ESHAPE && !ob,
          "op with capillary accepted 13 parameter rows");
    tg_ctx_reset(ctx);
    f = tg_leaf(ctx, TG_SHAPE(T, B, 3), forcing);
    tg_tensor *ps14 = tg_leaf(ctx, TG_SHAPE(TG_HBV_NPARAM_MAX, B, M), p13);
    CHECK(tg_hbv_op(ctx, &c, f, ps14, NULL, NULL, &ob, NULL, NULL) == 0, "op: %s", tg_error_message());
    CHECK(ob && ob->ndim == 3 && ob->shape[0] == T - W && ob->shape[1] == TG_HBV_NOUT_MAX && ob->shape[2] == B,
          "op output is not (T-W, 17, B)");
    /* the fused op's dL/dC (loss: total Q) has the sign of the physics: more rise keeps
     * water in the soil (ET, slow release) instead of the lower store, which drains to Q
     * every day — over two years total Q falls as C grows */
    if (ob) {
        CHECK(tg_backward(ctx, tg_sum(ctx, tg_select(ctx, ob, 1, TG_HBV_Q))) == 0, "backward: %s", tg_error_message());
        double gc = 0;
        for (int l = 0; l < L; l++) gc += (double)ps14->grad[TG_HBV_C * L + l];
        printf("op: d(total Q)/dC summed over lanes %.4g\n", gc);
        CHECK(gc < 0, "d(total Q)/dC = %g, expected negative", gc);
    }
    tg_ctx_free(&ctx);
    free(p13);
}

int main(void)
{
    load();
    test_c_zero_is_off();
    test_step_equation();
    test_config_and_op();
    return tg_test_summary();
}
