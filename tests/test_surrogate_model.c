/* test_surrogate_model.c — `model.type: surrogate` of terragrad train
 * (src/train/model_surrogate.c) on a small random surrogate saved to a temp file:
 *   - the surrogate's weights are not in the trainer's parameters (only a frozen fingerprint);
 *   - a sequence longer than the surrogate's window is cut into windows that each give
 *     exactly what the surrogate predicts from some start at least `spinup` days back
 *     (reference: tg_surrogate_predict on each candidate window), a short one in one call;
 *   - gradients reach only the head outputs of the window's last day, and match finite
 *     differences there (double build);
 *   - the run refuses another surrogate (fingerprint), missing files and wrong forcings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "surrogate/surrogate_net.h"
#include "testutil.h"
#include "train/train_internal.h"

/* A strong reference: the kind's object file is then linked from the static library (the
 * registry in model.c only refers to it weakly). */
extern const tg_model_kind tg_model_kind_surrogate;

enum { NP = 2, NF = 3, H = 5, TW = 10, SPIN = 3, NB = 3 };

static int make_surrogate(const char *path, const char *forcing1, uint64_t seed)
{
    tg_surrogate *s = tg__surrogate_alloc(NP, NF, H);
    if (!s)
        return 1;
    s->T = TW;
    s->y_scale = 1.5;
    s->exp_output = 1;
    const char *fn[3] = {"P", forcing1, "PET"};
    const double fm[3] = {3, 8, 2}, fs[3] = {5, 9, 1.5};
    for (int k = 0; k < NF; k++) {
        snprintf(s->fname[k], TG_NAME_MAX, "%s", fn[k]);
        s->f_mean[k] = fm[k];
        s->f_std[k] = fs[k];
    }
    snprintf(s->pname[0], TG_NAME_MAX, "alpha");
    snprintf(s->pname[1], TG_NAME_MAX, "beta");
    s->lo[0] = -2; s->hi[0] = 3;
    s->lo[1] = 10; s->hi[1] = 500;
    snprintf(s->model, sizeof s->model, "toy");
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    int rc = tg_lstm_reset(&s->lstm, s->ps, TG_INIT_TORCH, &rng) || tg_linear_reset(&s->head, s->ps, TG_INIT_TORCH, &rng) ||
             tg_surrogate_save(s, path);
    tg_surrogate_free(&s);
    return rc;
}

static tg_cfg *config(const char *file)
{
    char text[2048];
    snprintf(text, sizeof text,
             "data:\n  source: csv\n  path: /nonexistent\n"
             "periods:\n  train_start: 2000-01-01\n  train_end: 2000-12-31\n"
             "  test_start: 2001-01-01\n  test_end: 2001-12-31\n"
             "model:\n  type: surrogate\n  hidden: 4\n  dropout: 0\n"
             "surrogate:\n  file: %s\n  spinup: %d\n",
             file, SPIN);
    int n;
    const tg_cfg_key *schema = tg_train_schema_all(&n);
    return tg_cfg_parse_string(text, "test.yaml", schema, n);
}

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* q (L, NB) of the kind for head outputs y (L, NB, NP) and forcing (L, NB, 3); the loss
 * sum(w * q) and, if grad != NULL, its gradient with respect to y. */
static int run_kind(const tg_model *m, tg_params *ps, int L, const tg_real *y, const tg_real *f, const double *w,
                    double *q, double *loss, double *grad)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *yt = tg_leaf(ctx, TG_SHAPE(L, NB, NP), y), *ft = tg_from(ctx, TG_SHAPE(L, NB, 3), f);
    tg_model_out out;
    memset(&out, 0, sizeof out);
    int rc = m->kind->forward(m, ctx, ps, yt, ft, L, NB, 1, &out);
    if (!rc && (out.q->ndim != 2 || out.q->shape[0] != L || out.q->shape[1] != NB))
        rc = 99;
    if (!rc) {
        double s = 0;
        for (int i = 0; i < L * NB; i++) {
            q[i] = (double)out.q->data[i];
            s += w[i] * q[i];
        }
        *loss = s;
        if (grad) {
            tg_real *wr = malloc(sizeof *wr * (size_t)(L * NB));
            for (int i = 0; i < L * NB; i++)
                wr[i] = (tg_real)w[i];
            tg_tensor *l = tg_sum(ctx, tg_mul(ctx, out.q, tg_from(ctx, TG_SHAPE(L, NB), wr)));
            rc = tg_backward(ctx, l);
            for (int i = 0; !rc && i < L * NB * NP; i++)
                grad[i] = (double)yt->grad[i];
            free(wr);
        }
    }
    tg_ctx_free(&ctx);
    return rc;
}

/* Is q[t, b] what the surrogate predicts from some window start s with s = 0 or s <= t - SPIN? */
static int explained(const tg_surrogate *s, int L, const tg_real *f, const double *par, const double *q, int t, int b,
                     double tol)
{
    double fw[TW * NF], y[TW];
    const int W = L < TW ? L : TW; /* a short sequence: the surrogate on all of it */
    for (int st = 0; st + W <= L; st++) {
        if (t < st || t >= st + W || (st > 0 && st > t - SPIN))
            continue;
        for (int d = 0; d < W; d++)
            for (int k = 0; k < NF; k++)
                fw[d * NF + k] = (double)f[((size_t)(st + d) * NB + (size_t)b) * 3 + (size_t)k];
        if (tg_surrogate_predict(s, W, 1, fw, par + b * NP, y))
            return 0;
        if (fabs(y[t - st] - q[t * NB + b]) <= tol * (1 + fabs(y[t - st])))
            return 1;
    }
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/tg_surrmodel_XXXXXX", path[256], path2[256], path3[256];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/s.tgck", dir);
    snprintf(path2, sizeof path2, "%s/other.tgck", dir);
    snprintf(path3, sizeof path3, "%s/tmax.tgck", dir);
    CHECK(!make_surrogate(path, "T", 7) && !make_surrogate(path2, "T", 8) && !make_surrogate(path3, "tmax", 7),
          "saving the surrogates: %s", tg_error_message());
    const tg_model_kind *kind = tg_model_kind_find("surrogate");
    CHECK(kind == &tg_model_kind_surrogate && strstr(tg_model_kind_names(), "surrogate"), "kind registered");
    if (!kind)
        return tg_test_summary();

    tg_dataset d;
    memset(&d, 0, sizeof d);
    d.F = 3;
    d.q_std_all = 1;
    tg_cfg *cfg = config(path);
    tg_model m;
    tg_params *ps = tg_params_create();
    int rc = cfg ? tg_model_build(&m, cfg, &d, ps) : -1;
    CHECK(rc == 0, "build: %s", tg_error_message());
    if (rc)
        return tg_test_summary();
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    CHECK(tg_model_init_weights(&m, ps, &rng, cfg) == 0, "init");
    /* trainer parameters: LSTM, head (NP outputs) and the frozen fingerprint only */
    int fp = tg_params_find(ps, "surrogate.fingerprint"), foreign = 0;
    for (int i = 0; i < ps->count; i++)
        foreign += !strncmp(ps->name[i], "surrogate.", 10) && i != fp;
    CHECK(fp >= 0 && ps->frozen[fp] && tg_params_numel(ps, fp) == 3, "fingerprint parameter, frozen");
    CHECK(foreign == 0, "no surrogate weight among the trainer's parameters (%d)", foreign);
    CHECK(m.head.out == NP, "head gives %d outputs per day", m.head.out);

    tg_surrogate *ref = tg_surrogate_load(path);
    CHECK(ref != NULL, "reload");
    const int Ls[2] = {8, 25}; /* shorter than the window: one call; longer: 4 windows */
    for (int li = 0; li < 2 && ref; li++) {
        const int L = Ls[li];
        tg_real *y = malloc(sizeof *y * (size_t)(L * NB * NP)), *f = malloc(sizeof *f * (size_t)(L * NB * 3));
        double *w = malloc(sizeof *w * (size_t)(L * NB)), *q = malloc(sizeof *q * (size_t)(L * NB));
        double *g = malloc(sizeof *g * (size_t)(L * NB * NP)), par[NB * NP], loss;
        for (int i = 0; i < L * NB * NP; i++)
            y[i] = (tg_real)(2 * tg_rng_uniform(&rng) - 1);
        for (int i = 0; i < L * NB; i++) {
            f[i * 3 + 0] = (tg_real)(tg_rng_uniform(&rng) < 0.4 ? 20 * tg_rng_uniform(&rng) : 0);
            f[i * 3 + 1] = (tg_real)(-5 + 25 * tg_rng_uniform(&rng));
            f[i * 3 + 2] = (tg_real)(4 * tg_rng_uniform(&rng));
            w[i] = tg_rng_uniform(&rng) - 0.5;
        }
        rc = run_kind(&m, ps, L, y, f, w, q, &loss, g);
        CHECK(rc == 0, "forward/backward L=%d: %s", L, tg_error_message());
        for (int b = 0; b < NB; b++)
            for (int k = 0; k < NP; k++)
                par[b * NP + k] = ref->lo[k] + sigm((double)y[((size_t)(L - 1) * NB + (size_t)b) * NP + (size_t)k]) *
                                                   (ref->hi[k] - ref->lo[k]);
        int bad = 0;
#ifdef TG_DOUBLE
        const double tol = 1e-10;
#else
        const double tol = 1e-4;
#endif
        for (int t = 0; !rc && t < L; t++)
            for (int b = 0; b < NB; b++)
                bad += !explained(ref, L, f, par, q, t, b, tol);
        CHECK(!rc && bad == 0, "L=%d: %d of %d days not what the surrogate predicts from a window >= %d days back", L,
              bad, L * NB, SPIN);
        /* gradient only on the last day's head outputs; finite differences there */
        double gz = 0, gl = 0;
        for (int t = 0; t < L; t++)
            for (int i = 0; i < NB * NP; i++)
                *(t < L - 1 ? &gz : &gl) += fabs(g[(size_t)t * NB * NP + (size_t)i]);
        CHECK(gz == 0 && gl > 0, "L=%d: |grad| on earlier days %g (must be 0), on the last day %g", L, gz, gl);
#ifdef TG_DOUBLE
        double worst = 0;
        for (int i = 0; i < NB * NP; i++) {
            const size_t j = (size_t)(L - 1) * NB * NP + (size_t)i;
            const double h = 1e-6, y0 = (double)y[j];
            double lp, lm;
            y[j] = (tg_real)(y0 + h);
            run_kind(&m, ps, L, y, f, w, q, &lp, NULL);
            y[j] = (tg_real)(y0 - h);
            run_kind(&m, ps, L, y, f, w, q, &lm, NULL);
            y[j] = (tg_real)y0;
            const double fd = (lp - lm) / (2 * h), e = fabs(fd - g[j]) / (fabs(fd) + 1e-8);
            if (e > worst)
                worst = e;
        }
        CHECK(worst < 1e-6, "L=%d: d loss / d head output vs finite differences: worst rel. error %.2e", L, worst);
#endif
        free(y); free(f); free(w); free(q); free(g);
    }
    CHECK(ps->grad[ps->offset[fp]] == 0 && ps->grad[ps->offset[fp] + 2] == 0, "no gradient in the fingerprint");

    /* a run trained with another surrogate: the checkpoint's fingerprint differs */
    {
        tg_real *v = tg_params_data(ps, fp), keep = v[1];
        v[1] += 1;
        tg_real y[TW * NB * NP] = {0}, f[TW * NB * 3] = {0};
        double w[TW * NB] = {0}, q[TW * NB], loss;
        rc = run_kind(&m, ps, TW, y, f, w, q, &loss, NULL);
        CHECK(rc != 0 && strstr(tg_error_message(), "is not the surrogate this run was trained with"),
              "other surrogate refused: %s", tg_error_message());
        v[1] = keep;
    }
    tg_model_free(&m);
    tg_params_free(&ps);
    tg_cfg_free(&cfg);
    tg_surrogate_free(&ref);

    /* the fingerprint tells the two surrogates apart */
    {
        tg_params *p1 = tg_params_create(), *p2 = tg_params_create();
        tg_model m1, m2;
        tg_cfg *c1 = config(path), *c2 = config(path2);
        int ok = !tg_model_build(&m1, c1, &d, p1) && !tg_model_build(&m2, c2, &d, p2) &&
                 !tg_model_init_weights(&m1, p1, &rng, c1) && !tg_model_init_weights(&m2, p2, &rng, c2);
        const tg_real *a = tg_params_data(p1, tg_params_find(p1, "surrogate.fingerprint")),
                      *b = tg_params_data(p2, tg_params_find(p2, "surrogate.fingerprint"));
        CHECK(ok && (a[0] != b[0] || a[1] != b[1] || a[2] != b[2]), "different surrogates, different fingerprints");
        for (int k = 0; ok && k < 3; k++)
            CHECK((double)a[k] >= 0 && (double)a[k] < 2097152 && (double)a[k] == floor((double)a[k]), "fingerprint %d is a 21-bit integer", k);
        tg_model_free(&m1);
        tg_model_free(&m2);
        tg_params_free(&p1);
        tg_params_free(&p2);
        tg_cfg_free(&c1);
        tg_cfg_free(&c2);
    }

    /* errors: missing file, wrong forcings, spin-up out of range */
    {
        char missing[300];
        snprintf(missing, sizeof missing, "%s/none.tgck", dir);
        const char *files[2] = {missing, path3};
        const char *want[2] = {"none.tgck.meta: cannot open", "feeds P, T, PET"};
        for (int i = 0; i < 2; i++) {
            tg_params *p = tg_params_create();
            tg_cfg *c = config(files[i]);
            tg_model mm;
            rc = tg_model_build(&mm, c, &d, p);
            CHECK(rc != 0 && strstr(tg_error_message(), "test.yaml:") && strstr(tg_error_message(), "surrogate.file") &&
                      strstr(tg_error_message(), want[i]),
                  "error names file, line, key: %s", tg_error_message());
            tg_model_free(&mm);
            tg_params_free(&p);
            tg_cfg_free(&c);
        }
    }
    unlink(path);
    unlink(path2);
    unlink(path3);
    char meta[300];
    snprintf(meta, sizeof meta, "%s.meta", path);
    unlink(meta);
    snprintf(meta, sizeof meta, "%s.meta", path2);
    unlink(meta);
    snprintf(meta, sizeof meta, "%s.meta", path3);
    unlink(meta);
    rmdir(dir);
    return tg_test_summary();
}
