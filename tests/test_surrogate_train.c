/* test_surrogate_train.c — a tiny surrogate end to end, on real Caravan forcing:
 *  - an LSTM surrogate of a 2-parameter reservoir reaches a held-out median NSE (unseen
 *    parameter sets AND an unseen basin) that a broken surrogate — same network, blind to
 *    the parameters — cannot reach;
 *  - save/load gives a frozen module with identical predictions; its gradient with respect
 *    to the (scaled) parameters matches finite differences (double build) and no gradient
 *    reaches its frozen weights;
 *  - synthetic recovery: observations made by the black box with known per-basin
 *    parameters; parameters learned through the frozen surrogate come back within 0.05 of
 *    the truth on the [0, 1] scale of each range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "terragrad/surrogate.h"
#include "testutil.h"

/* ---------------------------------------------------------------- the black box */
/* Linear reservoir: S += c P; Q = k S; S -= Q (from S = 5 mm). k in [0.1, 0.6] 1/d (memory
 * 2-10 days), c in [0.2, 1] runoff coefficient. Only P is used; T and PET are ignored. */
static const double lo[2] = {0.1, 0.2}, hi[2] = {0.6, 1.0};
static const char *const names[2] = {"k", "c"};

static int reservoir(void *ud, int T, int nf, const double *f, int np, const double *p, int nout, double *out)
{
    (void)ud, (void)np;
    double s = 5;
    for (int t = 0; t < T; t++) {
        s += p[1] * fmax(f[t * nf], 0);
        double q = p[0] * s;
        s -= q;
        out[t * nout] = q;
    }
    return 0;
}

#define W 45   /* window length */

static int read_basins(tg_basin *b, const char *const *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (tg_caravan_read(tg_test_data("caravan_camels_us"), ids[i], &b[i])) {
            fprintf(stderr, "%s\n", tg_error_message());
            return 1;
        }
    return 0;
}

/* ---------------------------------------------------------------- gradient check */
typedef struct gc_ud {
    tg_surrogate *s;
    tg_real f[W * 2 * 3];
    tg_real w[W * 2];
} gc_ud;

static tg_tensor *gc_loss(tg_ctx *ctx, tg_tensor *const *in, int n, void *ud)
{
    (void)n;
    gc_ud *g = ud;
    tg_tensor *q = tg_surrogate_forward(ctx, g->s, tg_from(ctx, TG_SHAPE(W, 2, 3), g->f), in[0]);
    return tg_sum(ctx, tg_mul(ctx, q, tg_from(ctx, TG_SHAPE(W, 2), g->w)));
}

/* d surrogate / d u against finite differences through a loaded (frozen) surrogate, and no
 * gradient into its weights. */
static void check_frozen_gradient(tg_surrogate *l, const tg_surr_data *valid, const char *what)
{
    tg_params *lp = tg_surrogate_params(l);
    gc_ud g = {.s = l};
    for (int t = 0; t < W; t++)
        for (int b = 0; b < 2; b++) {
            for (int k = 0; k < 3; k++)
                g.f[(t * 2 + b) * 3 + k] = (tg_real)valid->forcing[((size_t)b * W + (size_t)t) * 3 + (size_t)k];
            g.w[t * 2 + b] = (tg_real)(0.5 + 0.01 * t - 0.3 * b);
        }
    tg_real u0[4] = {TG_R(0.3), TG_R(0.7), TG_R(0.8), TG_R(0.25)};
    tg_real *inputs[1] = {u0};
    int ndims[1] = {2}, shapes[1][TG_MAX_DIMS] = {{2, 2, 1, 1}};
    tg_gradcheck_result res;
    tg_params_zero_grad(lp);
    /* Float: a larger step, or rounding of the loss swamps the difference quotient. */
    const double h = sizeof(tg_real) == sizeof(float) ? 1e-2 : 1e-5;
    int rc = tg_gradcheck(gc_loss, &g, 1, ndims, (const int(*)[TG_MAX_DIMS])shapes, inputs, h, &res);
    CHECK(rc == 0, "gradcheck (%s): %s", what, tg_error_message());
#ifdef TG_DOUBLE
    CHECK(res.max_rel_err < 1e-6, "%s: d surrogate / d u: max rel err %g (abs %g)", what, res.max_rel_err,
          res.max_abs_err);
#else
    CHECK(res.max_rel_err < 3e-2, "%s: d surrogate / d u (float): max rel err %g", what, res.max_rel_err);
#endif
    printf("gradcheck through the frozen surrogate (%s): max rel err %.3g over %zu inputs\n", what, res.max_rel_err,
           res.checked);
    double gsum = 0;
    for (size_t i = 0; i < lp->size; i++) gsum += fabs((double)lp->grad[i]);
    CHECK(gsum == 0, "%s: frozen weights received gradient %g", what, gsum);
}

/* Save, load: identical per-sample NSE, everything frozen. Returns the loaded surrogate. */
static tg_surrogate *roundtrip(tg_surrogate *s, const tg_surr_data *valid, const char *path, const double *nse)
{
    CHECK(tg_surrogate_save(s, path) == 0, "save: %s", tg_error_message());
    tg_surrogate *l = tg_surrogate_load(path);
    CHECK(l != NULL, "load: %s", tg_error_message());
    if (!l) return NULL;
    static double nse_l[128];
    tg_surrogate_evaluate(l, valid, nse_l, NULL);
    CHECK(memcmp(nse, nse_l, sizeof(double) * (size_t)valid->N) == 0, "loaded surrogate predicts differently");
    tg_params *lp = tg_surrogate_params(l);
    int all_frozen = lp->count > 0;
    for (int i = 0; i < lp->count; i++) all_frozen &= lp->frozen[i];
    CHECK(all_frozen, "loaded surrogate is not frozen");
    return l;
}

static void progress(void *ud, int epoch, double loss, double vmed, double secs)
{
    (void)ud, (void)secs;
    if (epoch % 10 == 0) printf("  epoch %d: loss %.4f, valid median NSE %.4f\n", epoch, loss, vmed);
}

int main(void)
{
    const char *const train_ids[3] = {"01022500", "06885500", "12054000"}, *const valid_ids[1] = {"03604000"};
    tg_basin tb[3], vb[1];
    if (read_basins(tb, train_ids, 3) || read_basins(vb, valid_ids, 1)) {
        CHECK(0, "cannot read Caravan basins");
        return tg_test_summary();
    }
    tg_blackbox_options o = {.name = "reservoir", .np = 2, .nf = 3, .nout = 1, .param_names = names};
    tg_blackbox *bb = tg_blackbox_function(reservoir, NULL, &o);
    const int first = tg_date_from_ymd(1985, 1, 1), last = tg_date_from_ymd(1994, 12, 31);
    tg_surr_design dt = {.n_samples = 256, .window = W, .first = first, .last = last, .seed = 1, .lo = lo, .hi = hi,
                         .param_names = names};
    tg_surr_design dv = dt;
    dv.n_samples = 128;
    dv.seed = 2;      /* unseen parameter sets ... */
    tg_surr_data train, valid;
    CHECK(tg_surr_generate(bb, tb, 3, &dt, &train) == 0, "%s", tg_error_message());
    CHECK(tg_surr_generate(bb, vb, 1, &dv, &valid) == 0, "%s", tg_error_message());   /* ... on an unseen basin */

    /* ------------------------------------------------------------ train: good vs broken */
    tg_surrogate_config cfg = {.hidden = 24, .epochs = 30, .batch = 32, .lr = 1e-2, .seed = 3,
                               .valid_every = 10, .progress = progress};
    tg_surrogate *s = tg_surrogate_create(&train, &cfg);
    CHECK(s != NULL, "%s", tg_error_message());
    CHECK(tg_surrogate_fit(s, &train, &valid, &cfg) == 0, "%s", tg_error_message());
    double med = NAN, med_broken = NAN, med_untrained = NAN;
    static double nse[128];
    CHECK(tg_surrogate_evaluate(s, &valid, nse, &med) == 0, "%s", tg_error_message());
    tg_surrogate_config bad = cfg;
    bad.no_params = 1;
    tg_surrogate *sb = tg_surrogate_create(&train, &bad), *su = tg_surrogate_create(&train, &cfg);
    tg_surrogate_fit(sb, &train, &valid, &bad);
    tg_surrogate_evaluate(sb, &valid, NULL, &med_broken);
    tg_surrogate_evaluate(su, &valid, NULL, &med_untrained);
    printf("held-out median NSE: trained %.4f, parameter-blind %.4f, untrained %.4f\n", med, med_broken,
           med_untrained);
    CHECK(med > 0.95, "trained surrogate: held-out median NSE %.4f", med);
    CHECK(med_broken < 0.85 && med - med_broken > 0.1, "a parameter-blind surrogate reaches %.4f", med_broken);
    CHECK(med_untrained < 0.5, "an untrained surrogate reaches %.4f", med_untrained);
    tg_surrogate_free(&sb);
    tg_surrogate_free(&su);

    /* ------------------------------------------------------------ save / load frozen */
    char path[] = "/tmp/tg_test_surrogate_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    char meta[64];
    snprintf(meta, sizeof meta, "%s.meta", path);
    tg_surrogate *l = roundtrip(s, &valid, path, nse);
    if (l) {
        int np, nf, win, hid;
        tg_surrogate_dims(l, &np, &nf, &win, &hid);
        CHECK(np == 2 && nf == 3 && win == W && hid == 24 && tg_surrogate_lower(l)[1] == 0.2 &&
                  !strcmp(tg_surrogate_param_name(l, 0), "k"),
              "dims after load: %d %d %d %d", np, nf, win, hid);

        check_frozen_gradient(l, &valid, "linear output");

        /* -------------------------------------------------------- synthetic recovery */
        /* Three basins (two seen, one unseen by the surrogate), each with its own true
         * parameters; "observed" Q from the black box over the whole record. True k stays
         * in the lower 60 % of its range: toward k = 0.6 the reservoir empties within a day
         * and Q hardly depends on k, so no method could pin it down to 0.05. */
        tg_basin rb[3] = {tb[0], tb[1], vb[0]};
        const double truth[3][2] = {{0.2, 0.5}, {0.38, 0.8}, {0.3, 0.35}};
        for (int b = 0; b < 3; b++) {
            int T = rb[b].T;
            double *f = malloc(sizeof(double) * (size_t)T * 3), *q = malloc(sizeof(double) * (size_t)T);
            for (int t = 0; t < T; t++) f[t * 3] = (double)rb[b].var[TG_VAR_P][t];
            reservoir(NULL, T, 3, f, 2, truth[b], 1, q);
            for (int t = 0; t < T; t++) rb[b].var[TG_VAR_Q][t] = (tg_real)q[t];
            free(f);
            free(q);
        }
        tg_surr_learn_config lc = {.mode = TG_LEARN_PER_BASIN, .epochs = 10, .iterations = 25, .batch = 16,
                                   .lr = 0.05, .warmup = 15, .seed = 9};
        double learned[3 * 2];
        CHECK(tg_surr_learn(l, rb, 3, NULL, 0, first, last, &lc, learned) == 0, "learn: %s", tg_error_message());
        double worst = 0;
        for (int b = 0; b < 3; b++)
            for (int k = 0; k < 2; k++) {
                double du = fabs(learned[b * 2 + k] - truth[b][k]) / (hi[k] - lo[k]);
                printf("basin %d %s: true %.3f learned %.3f (|du| %.3f)\n", b, names[k], truth[b][k],
                       learned[b * 2 + k], du);
                if (du > worst) worst = du;
            }
        CHECK(worst < 0.05, "recovered parameters off by %.3f of the range", worst);
        tg_surrogate_free(&l);
    }
    /* The exp output head: same round trip and gradient (weights as initialised). */
    tg_surrogate_config ce = cfg;
    ce.exp_output = 1;
    tg_surrogate *se = tg_surrogate_create(&train, &ce);
    static double nse_e[128];
    tg_surrogate_evaluate(se, &valid, nse_e, NULL);
    tg_surrogate *le = roundtrip(se, &valid, path, nse_e);
    if (le) {
        static double q[W * 2];
        static double fq[W * 2 * 3], pq[2 * 2] = {0.3, 0.5, 0.12, 0.95};
        for (int t = 0; t < W; t++)
            for (int b = 0; b < 2; b++)
                for (int k = 0; k < 3; k++) 
                    fq[(t * 2 + b) * 3 + k] = valid.forcing[((size_t)b * W + (size_t)t) * 3 + (size_t)k];
        tg_surrogate_predict(le, W, 2, fq, pq, q);
        int positive = 1;
        for (int i = 0; i < W * 2; i++) positive &= q[i] > 0;
        CHECK(positive, "exp output must be positive");
        check_frozen_gradient(le, &valid, "exp output");
    }
    tg_surrogate_free(&le);
    tg_surrogate_free(&se);
    unlink(path);
    unlink(meta);
    /* A missing meta file is a clear error naming it. */
    CHECK(tg_surrogate_load("/nonexistent/s.tgck") == NULL && strstr(tg_error_message(), "/nonexistent/s.tgck.meta"),
          "%s", tg_error_message());

    tg_surrogate_free(&s);
    tg_surr_data_free(&train);
    tg_surr_data_free(&valid);
    tg_blackbox_free(&bb);
    for (int i = 0; i < 3; i++) tg_basin_free(&tb[i]);
    tg_basin_free(&vb[0]);
    return tg_test_summary();
}
