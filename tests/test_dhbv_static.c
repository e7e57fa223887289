/* test_dhbv_static.c — δHBV's heads on the basin attributes (src/train/dhbv_static.c), run
 * through tg_model_forward of model.type dhbv on a small random batch:
 *   - model.static_head: mlp: the static HBV parameters, routing and PCORR do not change
 *     when the daily inputs change (the LSTM's hidden states), the hbv.dynamic ones do; with
 *     the LSTM static head the static ones change too (the property is not vacuous); the
 *     head rows of static parameters get exactly zero gradient;
 *   - model.precip_correction: PCORR in [pmin, pmax]; the rain + snow HBV receives equals
 *     PCORR x P day by day, and P_corr = ET + Q0 + Q1 + Q2 + change in storage (water
 *     balance with the corrected P, to round-off);
 *   - model.snow_correction: SFCF in [smin, smax]; HBV receives PCORR x P x (1 + (SFCF - 1)
 *     s(T)) with s(T) = 1 / (1 + exp(T / 1 degC)) computed here independently (SFCF pushed
 *     away from 1, so a factor on all of P, or on the rain, fails), and the balance closes;
 *   - gradients of sum(w q) with respect to every weight of the static MLP (PCORR and SFCF
 *     outputs included), the LSTM head's dynamic rows and the multipliers' own linear layers
 *     (LSTM static head) match central finite differences (double build);
 *   - config errors: attributes missing, a bad precip_range or snow_range, the keys on
 *     model.type lstm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/train_internal.h"

/* A strong reference (the registry in model.c refers to the kind weakly). */
extern const tg_model_kind tg_model_kind_dhbv;

enum { NB = 3, F = 3, S = 4, L = 24, W = 6, M = 2 };
static const double PMIN = 0.6, PMAX = 1.6, SMIN = 0.5, SMAX = 1.5;

/* smooth thresholds and the gradient through the warm-up: the loss is then a smooth
 * function whose exact gradient the tape computes (without warmup_grad the stores at the
 * end of the warm-up are constants of the gradient, by design, and static parameters and
 * PCORR act in the warm-up too, so finite differences would see more) */
static tg_cfg *config(const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "data:\n  source: csv\n  path: /nonexistent\n"
             "periods:\n  train_start: 2000-01-01\n  train_end: 2000-12-31\n"
             "  test_start: 2001-01-01\n  test_end: 2001-12-31\n"
             "training:\n  warmup: %d\n"
             "hbv:\n  components: %d\n  dynamic: [BETA, K0]\n  routing: true\n  smooth: true\n  warmup_grad: true\n"
             "model:\n  type: dhbv\n  hidden: 5\n%s",
             W, M, extra);
    int n;
    const tg_cfg_key *schema = tg_train_schema_all(&n);
    return tg_train_cfg_check(tg_cfg_parse_string(text, "test.yaml", schema, n));
}

typedef struct fixture {
    tg_dataset d;
    tg_cfg *cfg;
    tg_model m;
    tg_params *ps;
} fixture;

static int setup(fixture *fx, const char *extra, int nattr)
{
    memset(fx, 0, sizeof *fx);
    fx->d.F = F;
    fx->d.S = nattr;
    fx->d.q_std_all = 1;
    fx->cfg = config(extra);
    fx->ps = tg_params_create();
    if (!fx->cfg)
        return -1;
    int rc = tg_model_build(&fx->m, fx->cfg, &fx->d, fx->ps);
    tg_rng rng;
    tg_rng_seed(&rng, 11);
    if (!rc)
        rc = tg_model_init_weights(&fx->m, fx->ps, &rng, fx->cfg);
    return rc;
}

static void teardown(fixture *fx)
{
    tg_model_free(&fx->m);
    tg_params_free(&fx->ps);
    tg_cfg_free(&fx->cfg);
}

/* What one forward gives (copied out of the tape). */
typedef struct result {
    double loss;
    double par[TG_HBV_NPARAM_MAX * NB * M];   /* par_static (NP, NB, M) */
    double route[2 * NB];
    double pcorr[NB], sfcf[NB];
    int has_pcorr, has_sfcf;
    double flux[(L - W) * TG_HBV_NOUT * NB];  /* (L-W, NOUT, NB) */
} result;

/* loss = sum(w q) of the model on x (L, NB, F+S), forcing (L, NB, 3); with grad, the
 * parameters' gradients are left in ps->grad (zeroed first). */
static int run(fixture *fx, const tg_real *x, const tg_real *f, const double *w, int grad, result *r)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_ctx_set_grad(ctx, grad);
    tg_params_zero_grad(fx->ps);
    tg_model_out out;
    int rc = tg_model_forward(&fx->m, ctx, fx->ps, x, f, L, NB, 1, NULL, &out);
    if (!rc && (out.q->shape[0] != L - W || out.fluxes->shape[1] != TG_HBV_NOUT))
        rc = 99;
    if (!rc) {
        tg_real wr[(L - W) * NB];
        double s = 0;
        for (int i = 0; i < (L - W) * NB; i++) {
            s += w[i] * (double)out.q->data[i];
            wr[i] = (tg_real)w[i];
        }
        r->loss = s;
        for (size_t i = 0; i < (size_t)TG_HBV_NPARAM * NB * M; i++)
            r->par[i] = (double)out.par_static->data[i];
        for (int i = 0; i < 2 * NB; i++)
            r->route[i] = (double)out.routing->data[i];
        r->has_pcorr = out.pcorr != NULL;
        for (int b = 0; b < NB && out.pcorr; b++)
            r->pcorr[b] = (double)out.pcorr->data[b];
        r->has_sfcf = out.sfcf != NULL;
        for (int b = 0; b < NB && out.sfcf; b++)
            r->sfcf[b] = (double)out.sfcf->data[b];
        for (int i = 0; i < (L - W) * TG_HBV_NOUT * NB; i++)
            r->flux[i] = (double)out.fluxes->data[i];
        if (grad)
            rc = tg_backward(ctx, tg_sum(ctx, tg_mul(ctx, out.q, tg_from(ctx, TG_SHAPE(L - W, NB), wr))));
    }
    tg_ctx_free(&ctx);
    return rc;
}

static void inputs(tg_rng *rng, tg_real *x, tg_real *f, double *w)
{
    double attr[NB][S];
    for (int b = 0; b < NB; b++)
        for (int j = 0; j < S; j++)
            attr[b][j] = 2 * tg_rng_uniform(rng) - 1;
    for (int t = 0; t < L; t++)
        for (int b = 0; b < NB; b++) {
            tg_real *row = x + ((size_t)t * NB + (size_t)b) * (F + S);
            for (int j = 0; j < F; j++)
                row[j] = (tg_real)(2 * tg_rng_uniform(rng) - 1);
            for (int j = 0; j < S; j++)
                row[F + j] = (tg_real)attr[b][j]; /* attributes: constant in time */
            tg_real *fr = f + ((size_t)t * NB + (size_t)b) * 3;
            fr[0] = (tg_real)(tg_rng_uniform(rng) < 0.6 ? 25 * tg_rng_uniform(rng) : 0);
            fr[1] = (tg_real)(-4 + 16 * tg_rng_uniform(rng)); /* rain, snow and melt */
            fr[2] = (tg_real)(0.5 + 3 * tg_rng_uniform(rng));
        }
    for (int i = 0; i < (L - W) * NB; i++)
        w[i] = tg_rng_uniform(rng) - 0.3;
}

static int is_dynamic(int p)
{
    return p == TG_HBV_BETA || p == TG_HBV_K0;
}

/* Static parameters and routing equal bit for bit (want_same) or some differ, between a and b;
 * dynamic parameters (their warm-up rows) must differ in either case. */
static void compare_statics(const result *a, const result *b, int want_same, const char *what)
{
    int diff_static = 0, diff_dyn = 0;
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        for (int i = 0; i < NB * M; i++) {
            int d = a->par[p * NB * M + i] != b->par[p * NB * M + i];
            *(is_dynamic(p) ? &diff_dyn : &diff_static) += d;
        }
    for (int i = 0; i < 2 * NB; i++)
        diff_static += a->route[i] != b->route[i];
    for (int i = 0; i < NB && a->has_pcorr; i++)
        diff_static += a->pcorr[i] != b->pcorr[i];
    for (int i = 0; i < NB && a->has_sfcf; i++)
        diff_static += a->sfcf[i] != b->sfcf[i];
    if (want_same)
        CHECK(diff_static == 0, "%s: %d static values changed with the daily inputs", what, diff_static);
    else
        CHECK(diff_static > 0, "%s: no static value changed with the daily inputs", what);
    CHECK(diff_dyn > 0, "%s: the dynamic parameters did not change with the daily inputs", what);
}

/* P_corr = PCORR P (1 + (SFCF - 1) s(T)) = rain + snow day by day, and the balance over
 * days 1..n-1 closes. */
static void check_balance(const result *r, const tg_real *f, const char *what)
{
    const int n = L - W;
    for (int b = 0; b < NB; b++) {
        const double pc = r->has_pcorr ? r->pcorr[b] : 1.0, sf = r->has_sfcf ? r->sfcf[b] : 1.0;
        double worst = 0, psum = 0, out = 0, ds = 0;
        for (int t = 0; t < n; t++) {
            const double *row = r->flux + (size_t)t * TG_HBV_NOUT * NB;
            const tg_real *fr = f + ((size_t)(W + t) * NB + (size_t)b) * 3;
            const double snow_frac = 1 / (1 + exp((double)fr[1] / 1.0)); /* 0 degC, 1 degC wide */
            const double p = pc * (double)fr[0] * (1 + (sf - 1) * snow_frac);
            const double e = fabs(row[TG_HBV_RAIN * NB + b] + row[TG_HBV_SNOW * NB + b] - p);
            worst = e > worst ? e : worst;
            if (t > 0) {
                psum += p;
                out += row[TG_HBV_ET * NB + b] + row[TG_HBV_Q0 * NB + b] + row[TG_HBV_Q1 * NB + b] +
                       row[TG_HBV_Q2 * NB + b];
            }
        }
        static const int stores[] = {TG_HBV_SWE, TG_HBV_MELTWATER, TG_HBV_SM, TG_HBV_SUZ, TG_HBV_SLZ};
        for (int i = 0; i < 5; i++)
            ds += r->flux[((size_t)(n - 1) * TG_HBV_NOUT + (size_t)stores[i]) * NB + (size_t)b] -
                  r->flux[(size_t)stores[i] * NB + (size_t)b];
        /* a few roundings per day (P x PCORR, the snow factor, the rain/snow split) of up to
         * 25 x 1.6 x 1.5 mm: atol 16 eps x 60 mm */
        CHECK(worst <= 16 * TG_TEST_EPS * 60, "%s basin %d: rain + snow vs the corrected P: worst day off by %.3g mm",
              what, b, worst);
        /* sums of ~20 days of fluxes of up to ~40 mm: 200 roundings of the inputs' size */
        CHECK_CLOSE(psum, out + ds, 200 * TG_TEST_EPS, 200 * TG_TEST_EPS * 40);
        CHECK(psum > 50, "%s basin %d: only %.3g mm of precipitation in the test batch", what, b, psum);
    }
}

#ifdef TG_DOUBLE
/* d loss / d every element of the named parameters vs central differences. */
static void fd_check(fixture *fx, const tg_real *x, const tg_real *f, const double *w, const char *const *names,
                     int n_names, const char *what)
{
    result *r = malloc(sizeof *r), *rp = malloc(sizeof *rp), *rm = malloc(sizeof *rm);
    CHECK(run(fx, x, f, w, 1, r) == 0, "%s: forward/backward: %s", what, tg_error_message());
    double *g = malloc(fx->ps->size * sizeof *g);
    for (size_t i = 0; i < fx->ps->size; i++)
        g[i] = (double)fx->ps->grad[i];
    int checked = 0, bad = 0;
    double gmax = 0, worst = 0;
    for (int k = 0; k < n_names; k++) {
        int id = tg_params_find(fx->ps, names[k]);
        CHECK(id >= 0, "%s: parameter %s", what, names[k]);
        for (size_t j = 0; id >= 0 && j < tg_params_numel(fx->ps, id); j++)
            gmax = fmax(gmax, fabs(g[fx->ps->offset[id] + j]));
    }
    for (int k = 0; k < n_names; k++) {
        int id = tg_params_find(fx->ps, names[k]);
        for (size_t j = 0; id >= 0 && j < tg_params_numel(fx->ps, id); j++) {
            tg_real *v = tg_params_data(fx->ps, id) + j, v0 = *v;
            const double h = 1e-6;
            *v = v0 + h;
            run(fx, x, f, w, 0, rp);
            *v = v0 - h;
            run(fx, x, f, w, 0, rm);
            *v = v0;
            const double fd = (rp->loss - rm->loss) / (2 * h), an = g[fx->ps->offset[id] + j];
            /* FD error of a smooth model with h = 1e-6: ~1e-9 relative; atol 1e-7 of the
             * largest gradient so a component that should be ~0 still must be small */
            const double e = fabs(fd - an), tol = 1e-5 * fmax(fabs(fd), fabs(an)) + 1e-7 * gmax;
            if (e > tol && bad++ < 5)
                fprintf(stderr, "  %s %s[%zu]: analytic %.10g, fd %.10g\n", what, names[k], j, an, fd);
            worst = fmax(worst, e / (fabs(fd) + 1e-7 * gmax));
            checked++;
        }
    }
    CHECK(bad == 0 && checked > 0 && gmax > 0, "%s: %d of %d gradient components off (worst rel. %.2e, max |g| %.3g)",
          what, bad, checked, worst, gmax);
    printf("%s: %d components vs finite differences, worst rel. error %.2e\n", what, checked, worst);
    free(g);
    free(r);
    free(rp);
    free(rm);
}
#endif

int main(void)
{
    CHECK(tg_model_kind_find("dhbv") == &tg_model_kind_dhbv, "dhbv registered");
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    tg_real *x = malloc(sizeof *x * L * NB * (F + S)), *x2 = malloc(sizeof *x2 * L * NB * (F + S));
    tg_real *f = malloc(sizeof *f * L * NB * 3);
    double *w = malloc(sizeof *w * (L - W) * NB);
    inputs(&rng, x, f, w);
    memcpy(x2, x, sizeof *x * L * NB * (F + S));
    for (int t = 0; t < L; t++) /* other daily inputs, the same attributes */
        for (int b = 0; b < NB; b++)
            for (int j = 0; j < F; j++)
                x2[((size_t)t * NB + (size_t)b) * (F + S) + (size_t)j] += (tg_real)(0.5 + tg_rng_uniform(&rng));
    result *r1 = malloc(sizeof *r1), *r2 = malloc(sizeof *r2);

    /* ---- static MLP head with the precipitation multiplier */
    fixture fx;
    int rc = setup(&fx, "  static_head: mlp\n  static_hidden: 6\n  precip_correction: true\n", S);
    CHECK(rc == 0, "build (mlp, pcorr): %s", tg_error_message());
    if (!rc) {
        const int K = TG_HBV_NPARAM * M + 2;
        int l1 = tg_params_find(fx.ps, "static.1.weight");
        CHECK(l1 >= 0 && fx.ps->shape[l1][0] == K + 1 && fx.ps->shape[l1][1] == 6,
              "static MLP output layer (K + 1 = %d, 6)", K + 1);
        CHECK(run(&fx, x, f, w, 1, r1) == 0 && run(&fx, x2, f, w, 0, r2) == 0, "forward: %s", tg_error_message());
        compare_statics(r1, r2, 1, "mlp head");
        int inside = r1->has_pcorr;
        for (int b = 0; b < NB; b++)
            inside &= r1->pcorr[b] >= PMIN && r1->pcorr[b] <= PMAX;
        CHECK(inside, "PCORR in [%g, %g]: %g %g %g", PMIN, PMAX, r1->pcorr[0], r1->pcorr[1], r1->pcorr[2]);
        check_balance(r1, f, "mlp+pcorr");
        /* the multiplier moved away from 1 and the balance still holds with the corrected P */
        int pl = tg_params_find(fx.ps, "static.1.bias");
        tg_params_data(fx.ps, pl)[K] += (tg_real)1.5;
        CHECK(run(&fx, x, f, w, 1, r1) == 0, "forward");
        CHECK(r1->pcorr[0] > 1.2, "PCORR raised by the bias: %g", r1->pcorr[0]);
        check_balance(r1, f, "mlp+pcorr (PCORR > 1.2)");
        /* the LSTM head's rows of static parameters and routing get no gradient */
        int hw = fx.m.head.w;
        double gs = 0, gd = 0;
        for (int row = 0; row < K; row++) {
            const int p = row < TG_HBV_NPARAM * M ? row / M : -1;
            for (int j = 0; j < 5; j++)
                *(p >= 0 && is_dynamic(p) ? &gd : &gs) += fabs((double)fx.ps->grad[fx.ps->offset[hw] + (size_t)row * 5 + j]);
        }
        CHECK(gs == 0 && gd > 0, "head gradient: static rows %g (must be 0), dynamic rows %g", gs, gd);
#ifdef TG_DOUBLE
        const char *names[] = {"static.0.weight", "static.0.bias", "static.1.weight", "static.1.bias", "head.bias"};
        fd_check(&fx, x, f, w, names, 5, "mlp+pcorr");
#endif
    }
    teardown(&fx);

    /* ---- LSTM static head (today's δHBV) with the multiplier's own linear layer */
    rc = setup(&fx, "  precip_correction: true\n  precip_range: [0.8, 1.3]\n", S);
    CHECK(rc == 0, "build (lstm, pcorr): %s", tg_error_message());
    if (!rc) {
        CHECK(tg_params_find(fx.ps, "static.0.weight") < 0 && tg_params_find(fx.ps, "pcorr.weight") >= 0,
              "LSTM static head: no static MLP, a pcorr layer");
        CHECK(run(&fx, x, f, w, 1, r1) == 0 && run(&fx, x2, f, w, 0, r2) == 0, "forward: %s", tg_error_message());
        compare_statics(r1, r2, 0, "lstm head");
        int same = 1, inside = 1;
        for (int b = 0; b < NB; b++) {
            same &= r1->pcorr[b] == r2->pcorr[b];
            inside &= r1->pcorr[b] >= 0.8 && r1->pcorr[b] <= 1.3;
        }
        CHECK(same && inside, "PCORR from the attributes only, in [0.8, 1.3]: %g %g %g", r1->pcorr[0], r1->pcorr[1],
              r1->pcorr[2]);
        check_balance(r1, f, "lstm+pcorr");
#ifdef TG_DOUBLE
        const char *names[] = {"pcorr.weight", "pcorr.bias"};
        fd_check(&fx, x, f, w, names, 2, "lstm+pcorr");
#endif
    }
    teardown(&fx);

    /* ---- static MLP head with both multipliers: PCORR is output K, SFCF output K + 1 */
    rc = setup(&fx, "  static_head: mlp\n  static_hidden: 6\n  precip_correction: true\n  snow_correction: true\n", S);
    CHECK(rc == 0, "build (mlp, pcorr, sfcf): %s", tg_error_message());
    if (!rc) {
        const int K = TG_HBV_NPARAM * M + 2;
        int l1 = tg_params_find(fx.ps, "static.1.weight");
        CHECK(l1 >= 0 && fx.ps->shape[l1][0] == K + 2, "static MLP output layer (K + 2 = %d)", K + 2);
        CHECK(run(&fx, x, f, w, 0, r1) == 0 && run(&fx, x2, f, w, 0, r2) == 0, "forward: %s", tg_error_message());
        compare_statics(r1, r2, 1, "mlp head, sfcf");
        int inside = r1->has_sfcf && r1->has_pcorr;
        for (int b = 0; b < NB; b++)
            inside &= r1->sfcf[b] >= SMIN && r1->sfcf[b] <= SMAX && fabs(r1->sfcf[b] - 1) < 0.2;
        CHECK(inside, "SFCF in [%g, %g] and near 1 at the start: %g %g %g", SMIN, SMAX, r1->sfcf[0], r1->sfcf[1],
              r1->sfcf[2]);
        check_balance(r1, f, "mlp+pcorr+sfcf");
        /* move SFCF up and PCORR down: the snow factor then matters day by day */
        int pl = tg_params_find(fx.ps, "static.1.bias");
        tg_params_data(fx.ps, pl)[K] -= (tg_real)1.5;
        tg_params_data(fx.ps, pl)[K + 1] += (tg_real)2.0;
        CHECK(run(&fx, x, f, w, 0, r1) == 0, "forward");
        CHECK(r1->sfcf[0] > 1.25 && r1->pcorr[0] < 0.9, "SFCF raised (%g), PCORR lowered (%g) by the biases",
              r1->sfcf[0], r1->pcorr[0]);
        check_balance(r1, f, "mlp+pcorr+sfcf (SFCF > 1.25)");
#ifdef TG_DOUBLE
        const char *names[] = {"static.0.weight", "static.0.bias", "static.1.weight", "static.1.bias", "head.bias"};
        fd_check(&fx, x, f, w, names, 5, "mlp+pcorr+sfcf");
#endif
    }
    teardown(&fx);

    /* ---- LSTM static head with the snow factor alone (its own linear layer) */
    rc = setup(&fx, "  snow_correction: true\n  snow_range: [0.7, 1.9]\n", S);
    CHECK(rc == 0, "build (lstm, sfcf): %s", tg_error_message());
    if (!rc) {
        CHECK(tg_params_find(fx.ps, "pcorr.weight") < 0 && tg_params_find(fx.ps, "sfcf.weight") >= 0 && fx.m.attrs_needed,
              "LSTM static head: an sfcf layer, no pcorr layer, attributes needed");
        int sb = tg_params_find(fx.ps, "sfcf.bias");
        tg_params_data(fx.ps, sb)[0] += (tg_real)1.5;
        CHECK(run(&fx, x, f, w, 0, r1) == 0 && run(&fx, x2, f, w, 0, r2) == 0, "forward: %s", tg_error_message());
        int same = r1->has_sfcf && !r1->has_pcorr, inside = 1;
        for (int b = 0; b < NB; b++) {
            same &= r1->sfcf[b] == r2->sfcf[b];
            inside &= r1->sfcf[b] >= 0.7 && r1->sfcf[b] <= 1.9;
        }
        CHECK(same && inside && r1->sfcf[0] > 1.1, "SFCF from the attributes only, in [0.7, 1.9], raised: %g %g %g",
              r1->sfcf[0], r1->sfcf[1], r1->sfcf[2]);
        check_balance(r1, f, "lstm+sfcf");
#ifdef TG_DOUBLE
        const char *names[] = {"sfcf.weight", "sfcf.bias"};
        fd_check(&fx, x, f, w, names, 2, "lstm+sfcf");
#endif
    }
    teardown(&fx);

    /* ---- defaults: no multiplier, P as given */
    rc = setup(&fx, "", S);
    CHECK(rc == 0 && !fx.m.attrs_needed && tg_params_find(fx.ps, "pcorr.weight") < 0, "defaults build");
    if (!rc) {
        CHECK(run(&fx, x, f, w, 0, r1) == 0 && !r1->has_pcorr, "default forward without PCORR");
        check_balance(r1, f, "default");
    }
    teardown(&fx);

    /* ---- config errors */
    rc = setup(&fx, "  static_head: mlp\n", 0);
    CHECK(rc != 0 && strstr(tg_error_message(), "test.yaml:") && strstr(tg_error_message(), "model.static_head") &&
              strstr(tg_error_message(), "attributes"),
          "mlp without attributes: %s", tg_error_message());
    teardown(&fx);
    rc = setup(&fx, "  precip_correction: true\n  precip_range: [1.3, 0.8]\n", S);
    CHECK(rc != 0 && strstr(tg_error_message(), "test.yaml:") && strstr(tg_error_message(), "model.precip_range"),
          "reversed range: %s", tg_error_message());
    teardown(&fx);
    rc = setup(&fx, "  snow_correction: true\n  snow_range: [0, 1.5]\n", S);
    CHECK(rc != 0 && strstr(tg_error_message(), "test.yaml:") && strstr(tg_error_message(), "model.snow_range"),
          "snow_range from 0: %s", tg_error_message());
    teardown(&fx);
    rc = setup(&fx, "  snow_correction: true\n", 0);
    CHECK(rc != 0 && strstr(tg_error_message(), "model.snow_correction") && strstr(tg_error_message(), "attributes"),
          "snow correction without attributes: %s", tg_error_message());
    teardown(&fx);
    {
        const char *text = "data:\n  source: csv\n  path: /x\n"
                           "periods:\n  train_start: 2000-01-01\n  train_end: 2000-12-31\n"
                           "  test_start: 2001-01-01\n  test_end: 2001-12-31\n"
                           "model:\n  type: lstm\n  static_head: mlp\n";
        int n;
        const tg_cfg_key *schema = tg_train_schema_all(&n);
        tg_cfg *c = tg_train_cfg_check(tg_cfg_parse_string(text, "lstm.yaml", schema, n));
        CHECK(!c && strstr(tg_error_message(), "lstm.yaml:11") && strstr(tg_error_message(), "model.static_head"),
              "static_head on model.type lstm refused: %s", tg_error_message());
        tg_cfg_free(&c);
    }
    free(x);
    free(x2);
    free(f);
    free(w);
    free(r1);
    free(r2);
    return tg_test_summary();
}
