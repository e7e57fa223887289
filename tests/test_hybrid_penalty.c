/* test_hybrid_penalty.c — the physics-guided loss terms of src/train/penalty.c against
 * hand-computed values (water-balance residual, range, monotonicity), their gradients
 * against finite differences (double), and the physics.* keys (defaults, validation). */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "train/penalty.h"

static tg_physics_weights weights(double wb, double range, double mono)
{
    tg_physics_weights w = {wb, range, 0.05, mono};
    return w;
}

static void test_values(void)
{
    tg_ctx *ctx = tg_ctx_create();
    /* water balance: 3 days, 2 windows; window 0 closes exactly, window 1 gains 2 mm */
    enum { Lp = 3, NB = 2 };
    tg_real fl[Lp * TG_HBV_NOUT * NB];
    memset(fl, 0, sizeof fl);
#define F(t, k, b) fl[((t) * TG_HBV_NOUT + (k)) * NB + (b)]
    for (int b = 0; b < NB; b++) {
        F(0, TG_HBV_SM, b) = 50;
        F(1, TG_HBV_RAIN, b) = 10; F(1, TG_HBV_ET, b) = 2; F(1, TG_HBV_Q, b) = 3; F(1, TG_HBV_SM, b) = 55;
        F(2, TG_HBV_SNOW, b) = 4; F(2, TG_HBV_ET, b) = 1; F(2, TG_HBV_Q, b) = 2; F(2, TG_HBV_SWE, b) = 4;
        F(2, TG_HBV_SM, b) = 52;
    }
    F(2, TG_HBV_SLZ, 1) = 2; /* window 1: storage +2 that no flux explains */
    /* window 0: in 14, out 8, dS = 56 - 50 = 6 -> 0; window 1: residual -2 / 15 */
    tg_physics_weights w = weights(3, 0, 0);
    tg_physics_terms t = {0};
    t.fluxes = tg_from(ctx, TG_SHAPE(Lp, TG_HBV_NOUT, NB), fl);
    tg_tensor *p = NULL;
    CHECK(tg_physics_penalty(ctx, &w, &t, &p) == 0 && p, "water balance penalty");
    double want = 3 * 0.5 * (2.0 / 15) * (2.0 / 15);
    if (p) CHECK_CLOSE(p->data[0], want, 32 * TG_TEST_EPS, 0);
    /* range: FC at its lower bound in one of 2 lanes (u = 0 -> 1 after normalisation),
     * K0 at 0.98 of its range (u - 0.95 = 0.03 -> (0.03/0.05)^2 = 0.36); the others mid-range */
    tg_real par[TG_HBV_NPARAM * 2];
    for (int q = 0; q < TG_HBV_NPARAM; q++)
        for (int l = 0; l < 2; l++)
            par[q * 2 + l] = (tg_real)(0.5 * (tg_hbv_param_range[q][0] + tg_hbv_param_range[q][1]));
    par[TG_HBV_FC * 2 + 0] = (tg_real)tg_hbv_param_range[TG_HBV_FC][0];
    par[TG_HBV_K0 * 2 + 1] = (tg_real)(tg_hbv_param_range[TG_HBV_K0][0] +
                                       0.98 * (tg_hbv_param_range[TG_HBV_K0][1] - tg_hbv_param_range[TG_HBV_K0][0]));
    par[TG_HBV_LP * 2 + 1] = (tg_real)tg_hbv_param_range[TG_HBV_LP][1]; /* masked out */
    w = weights(0, 2, 0);
    memset(&t, 0, sizeof t);
    t.par_static = tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, 1, 2), par);
    t.range_mask = TG_HBV_ALL_PARAMS & ~(1u << TG_HBV_LP);
    CHECK(tg_physics_penalty(ctx, &w, &t, &p) == 0 && p, "range penalty");
    want = 2 * (1.0 + 0.36) / (12 * 2);
    if (p) CHECK_CLOSE(p->data[0], want, 32 * TG_TEST_EPS, 0);
    /* monotone: drops 0.1 and 0.05 in row 0, none in row 1 -> mean 0.075 */
    tg_real c[8] = {0.5, 0.4, 0.6, 0.55, 0.1, 0.2, 0.3, 0.3};
    w = weights(0, 0, 4);
    memset(&t, 0, sizeof t);
    t.curve = tg_from(ctx, TG_SHAPE(2, 4), c);
    CHECK(tg_physics_penalty(ctx, &w, &t, &p) == 0 && p, "monotone penalty");
    if (p) CHECK_CLOSE(p->data[0], 4 * 0.075, 32 * TG_TEST_EPS, 0);
    /* nothing on: NULL */
    w = weights(0, 0, 0);
    CHECK(tg_physics_penalty(ctx, &w, &t, &p) == 0 && !p, "no penalty when all weights are 0");
    /* shape errors are reported */
    w = weights(1, 0, 0);
    memset(&t, 0, sizeof t);
    t.fluxes = tg_from(ctx, TG_SHAPE(2, 4), c);
    CHECK(tg_physics_penalty(ctx, &w, &t, &p) != 0 && strstr(tg_error_message(), "physics.water_balance"),
          "bad flux shape: %s", tg_error_message());
    tg_ctx_free(&ctx);
}

#ifdef TG_DOUBLE
static tg_tensor *all_terms(tg_ctx *ctx, tg_tensor *const *in, int n, void *ud)
{
    (void)n;
    (void)ud;
    tg_physics_weights w = weights(1.5, 0.7, 2.0);
    tg_physics_terms t = {0};
    t.fluxes = in[0];
    t.par_static = in[1];
    t.range_mask = TG_HBV_ALL_PARAMS;
    t.curve = in[2];
    tg_tensor *p = NULL;
    tg_physics_penalty(ctx, &w, &t, &p);
    return p;
}

static void test_grad(void)
{
    tg_rng r;
    tg_rng_seed(&r, 3);
    enum { Lp = 5, NB = 3, M = 2, R = 2, K = 6 };
    static tg_real fl[Lp * TG_HBV_NOUT * NB], par[TG_HBV_NPARAM * NB * M], cv[R * K];
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) fl[i] = (tg_real)(1 + 5 * tg_rng_uniform(&r));
    for (int q = 0; q < TG_HBV_NPARAM; q++)
        for (int l = 0; l < NB * M; l++) {
            /* some values inside the margins, none exactly on a kink */
            double u = l % 3 == 0 ? 0.01 + 0.03 * tg_rng_uniform(&r) : l % 3 == 1 ? 0.96 + 0.03 * tg_rng_uniform(&r)
                                                                                  : 0.5;
            par[q * NB * M + l] = (tg_real)(tg_hbv_param_range[q][0] + u * (tg_hbv_param_range[q][1] - tg_hbv_param_range[q][0]));
        }
    for (int i = 0; i < R * K; i++) cv[i] = (tg_real)tg_rng_uniform(&r);
    int nd[3] = {3, 3, 2};
    int sh[3][TG_MAX_DIMS] = {{Lp, TG_HBV_NOUT, NB, 1}, {TG_HBV_NPARAM, NB, M, 1}, {R, K, 1, 1}};
    tg_real *in[3] = {fl, par, cv};
    tg_gradcheck_result res;
    int rc = tg_gradcheck(all_terms, NULL, 3, nd, (const int(*)[TG_MAX_DIMS])sh, in, 1e-6, &res);
    printf("penalty gradcheck: %zu values, max rel err %.2e\n", res.checked, res.max_rel_err);
    CHECK(rc == 0 && res.max_rel_err < 1e-6, "penalty gradients: %g", res.max_rel_err);
}
#endif

static void test_keys(void)
{
    int n;
    const tg_cfg_key *schema = tg_train_schema_all(&n);
    const char *base = "data:\n  source: caravan\n  path: x\nperiods:\n  train_start: 2000-01-01\n"
                       "  train_end: 2000-12-31\n  test_start: 2001-01-01\n  test_end: 2001-12-31\n";
    char text[1024];
    snprintf(text, sizeof text, "%sphysics:\n  monotone: 0.5\n", base);
    tg_cfg *cfg = tg_cfg_parse_string(text, "ok.yaml", schema, n);
    CHECK(cfg != NULL, "physics keys in the schema: %s", tg_error_message());
    tg_physics_weights w;
    if (cfg) {
        CHECK(tg_physics_read(cfg, &w) == 0 && w.monotone == 0.5 && w.water_balance == 0 && w.range_margin == 0.05,
              "physics defaults");
        tg_cfg_free(&cfg);
    }
    snprintf(text, sizeof text, "%sphysics:\n  range: -2\n", base);
    cfg = tg_cfg_parse_string(text, "neg.yaml", schema, n);
    if (cfg) {
        CHECK(tg_physics_read(cfg, &w) == TG_EINVAL && strstr(tg_error_message(), "neg.yaml:10: physics.range"),
              "negative weight: %s", tg_error_message());
        tg_cfg_free(&cfg);
    }
}

int main(void)
{
    test_values();
#ifdef TG_DOUBLE
    test_grad();
#endif
    test_keys();
    return tg_test_summary();
}
