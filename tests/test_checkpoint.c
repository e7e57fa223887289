/* test_checkpoint.c — checkpoints and exact resumption.
 *  - resume: train 12 steps of a small LSTM + dropout + head model with Adam and a
 *    schedule; separately train 5, save, throw every object away, build fresh ones with
 *    DIFFERENT seeds, load, train 7 more: the loss trajectory is identical bit for bit
 *    (parameters, Adam moments, step counter, lr and RNG all restored);
 *  - the same for L-BFGS (curvature history restored);
 *  - corrupt files are clear errors naming the file: flipped payload byte (checksum),
 *    truncated file, wrong precision, wrong magic, wrong version, model mismatch,
 *    optimizer mismatch, missing file; a failed load leaves the model untouched;
 *  - the run state section (format 2): saved bytes come back exactly, also without a
 *    model (ps NULL); a format-1 file (no section) still loads and gives no section; a
 *    format-1 header with the section flag and version 3 are refused;
 *  - no temporary file is left behind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { T = 12, B = 6, F = 3, H = 8, STEPS = 12, SAVE_AT = 5 };

typedef struct model {
    tg_params *ps;
    tg_lstm_layer lstm;
    tg_linear_layer head;
    tg_optim *opt;
    tg_rng rng;
    tg_schedule sched;
} model;

static void model_init(model *m, uint64_t seed)
{
    m->ps = tg_params_create();
    tg_lstm_layer_init(&m->lstm, m->ps, "lstm", F, H, 0);
    tg_linear_layer_init(&m->head, m->ps, "head", H, 1, 1);
    tg_rng_seed(&m->rng, seed);
    tg_lstm_reset(&m->lstm, m->ps, TG_INIT_TORCH, &m->rng);
    tg_lstm_set_forget_bias(&m->lstm, m->ps, 3.0);
    tg_linear_reset(&m->head, m->ps, TG_INIT_TORCH, &m->rng);
    m->opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = 1e-2}, m->ps);
    m->sched = tg_schedule_step(1e-2, 4, 0.5);
}

static void model_free(model *m)
{
    tg_optim_free(&m->opt);
    tg_params_free(&m->ps);
}

/* One step with batch data drawn from the model's rng (as a sampler would). */
static double train_step(model *m, int step)
{
    static tg_real x[T * B * F], y[B];
    for (int i = 0; i < T * B * F; i++)
        x[i] = (tg_real)tg_rng_normal(&m->rng);
    for (int b = 0; b < B; b++)
        y[b] = (tg_real)tg_rng_uniform(&m->rng);
    tg_optim_set_lr(m->opt, tg_schedule_lr(&m->sched, step));
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *h = tg_lstm(ctx, m->ps, &m->lstm, tg_from(ctx, TG_SHAPE(T, B, F), x), NULL, NULL, NULL);
    tg_tensor *out = tg_linear(ctx, m->ps, &m->head, tg_dropout(ctx, tg_select(ctx, h, 0, T - 1), 0.3, 1, &m->rng));
    tg_tensor *d = tg_sub(ctx, tg_reshape(ctx, out, TG_SHAPE(B)), tg_from(ctx, TG_SHAPE(B), y));
    tg_tensor *L = tg_mean(ctx, tg_mul(ctx, d, d));
    double loss = L ? (double)L->data[0] : nan("");
    CHECK(L && tg_backward(ctx, L) == 0, "train step: %s", tg_error_message());
    tg_clip_grad_norm(m->ps, 1.0);
    tg_optim_step(m->opt, m->ps);
    tg_ctx_free(&ctx);
    return loss;
}

static char path[4096];

static void test_resume(void)
{
    double full[STEPS], resumed[STEPS];
    model a;
    model_init(&a, 1234);
    for (int s = 0; s < STEPS; s++)
        full[s] = train_step(&a, s);
    model_free(&a);

    model b;
    model_init(&b, 1234);
    for (int s = 0; s < SAVE_AT; s++)
        resumed[s] = train_step(&b, s);
    CHECK(tg_checkpoint_save(path, b.ps, b.opt, &b.rng, SAVE_AT) == 0, "save: %s", tg_error_message());
    model_free(&b);

    model c;
    model_init(&c, 999);                           /* a different init: everything must come from the file */
    int64_t epoch = -1;
    CHECK(tg_checkpoint_load(path, c.ps, c.opt, &c.rng, &epoch) == 0, "load: %s", tg_error_message());
    CHECK(epoch == SAVE_AT, "epoch %lld", (long long)epoch);
    CHECK(tg_optim_step_count(c.opt) == SAVE_AT, "step counter restored");
    for (int s = (int)epoch; s < STEPS; s++)
        resumed[s] = train_step(&c, s);
    model_free(&c);
    CHECK(memcmp(full, resumed, sizeof full) == 0, "resumed trajectory differs (last %.17g vs %.17g)",
          full[STEPS - 1], resumed[STEPS - 1]);
    CHECK(full[STEPS - 1] != full[0], "the loss moved");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "rb");
    CHECK(f == NULL, "temporary file left behind");
    if (f)
        fclose(f);
}

/* ---------------------------------------------------------------- L-BFGS resume */
static int rosen(void *ud, tg_params *ps, double *loss)
{
    (void)ud;
    double x = (double)ps->value[0], y = (double)ps->value[1], a = y - x * x, b = 1 - x;
    *loss = 100 * a * a + b * b;
    ps->grad[0] = (tg_real)(-400 * a * x - 2 * b);
    ps->grad[1] = (tg_real)(200 * a);
    return 0;
}

static void lbfgs_run(int save_after, int total, tg_real out[2])
{
    tg_params *ps = tg_params_create();
    tg_params_add(ps, "x", TG_SHAPE(2));
    ps->value[0] = TG_R(-1.2), ps->value[1] = TG_R(1.0);
    tg_optim_config cfg = {.kind = TG_OPTIM_LBFGS, .history = 5, .max_iter = 4};
    tg_optim *o = tg_optim_create(&cfg, ps);
    double loss;
    for (int s = 0; s < total; s++) {
        if (s == save_after) {
            CHECK(tg_checkpoint_save(path, ps, o, NULL, s) == 0, "lbfgs save: %s", tg_error_message());
            tg_optim_free(&o);
            tg_params_free(&ps);
            ps = tg_params_create();
            tg_params_add(ps, "x", TG_SHAPE(2));
            o = tg_optim_create(&cfg, ps);
            CHECK(tg_checkpoint_load(path, ps, o, NULL, NULL) == 0, "lbfgs load: %s", tg_error_message());
        }
        tg_optim_step_closure(o, ps, rosen, NULL, &loss);
    }
    out[0] = ps->value[0], out[1] = ps->value[1];
    tg_optim_free(&o);
    tg_params_free(&ps);
}

static void test_lbfgs_resume(void)
{
    tg_real a[2], b[2];
    lbfgs_run(-1, 6, a);
    lbfgs_run(3, 6, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "L-BFGS resume differs: (%.17g, %.17g) vs (%.17g, %.17g)", (double)a[0],
          (double)a[1], (double)b[0], (double)b[1]);
}

/* ---------------------------------------------------------------- corruption */
static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

static void spit(const char *p, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(p, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
}

/* Loads `bytes` written to a scratch file; expects failure with `want` in the message. */
static void expect_bad(const unsigned char *bytes, size_t n, const char *want, const char *what)
{
    char bad[4200];
    snprintf(bad, sizeof bad, "%s.bad", path);
    spit(bad, bytes, n);
    model m;
    model_init(&m, 5);
    tg_real keep = m.ps->value[0];
    int rc = tg_checkpoint_load(bad, m.ps, m.opt, &m.rng, NULL);
    CHECK(rc == TG_EINVAL, "%s: rc %d", what, rc);
    CHECK(strstr(tg_error_message(), want) && strstr(tg_error_message(), bad), "%s: message '%s'", what,
          tg_error_message());
    CHECK(m.ps->value[0] == keep, "%s: model untouched by a failed load", what);
    model_free(&m);
    remove(bad);
}

static void test_corruption(void)
{
    model m;
    model_init(&m, 5);
    CHECK(tg_checkpoint_save(path, m.ps, m.opt, &m.rng, 0) == 0, "save: %s", tg_error_message());
    model_free(&m);
    size_t n;
    unsigned char *good = slurp(path, &n);
    CHECK(good && n > 100, "checkpoint readable");
    if (!good)
        return;
    unsigned char *b = malloc(n);
    memcpy(b, good, n), b[n / 2] ^= 0x10;
    expect_bad(b, n, "checksum", "flipped byte");
    expect_bad(good, n - 7, "truncated", "truncated file");
    expect_bad(good, 20, "truncated", "truncated header");
    memcpy(b, good, n), b[12] = sizeof(tg_real) == 4 ? 8 : 4;
    expect_bad(b, n, "precision mismatch", "wrong precision");
    memcpy(b, good, n), b[0] = 'X';
    expect_bad(b, n, "bad magic", "wrong magic");
    memcpy(b, good, n), b[8] = 99;
    expect_bad(b, n, "version 99", "wrong version");
    free(b);
    free(good);

    /* a model of another size: the message names the parameter and both shapes */
    model w;
    w.ps = tg_params_create();
    tg_lstm_layer_init(&w.lstm, w.ps, "lstm", F, H + 1, 0);
    tg_linear_layer_init(&w.head, w.ps, "head", H + 1, 1, 1);
    CHECK(tg_checkpoint_load(path, w.ps, NULL, NULL, NULL) == TG_EINVAL &&
              strstr(tg_error_message(), "lstm.weight_ih") && strstr(tg_error_message(), "(32, 3"),
          "shape mismatch: %s", tg_error_message());
    /* an optimizer of another kind */
    tg_params_free(&w.ps);
    model_init(&w, 5);
    tg_optim_free(&w.opt);
    w.opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_SGD, .momentum = 0.9}, w.ps);
    CHECK(tg_checkpoint_load(path, w.ps, w.opt, NULL, NULL) == TG_EINVAL && strstr(tg_error_message(), "adam"),
          "optimizer mismatch: %s", tg_error_message());
    model_free(&w);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s.does-not-exist", path);
    model_init(&w, 5);
    CHECK(tg_checkpoint_load(missing, w.ps, NULL, NULL, NULL) == TG_EIO && strstr(tg_error_message(), missing),
          "missing file: %s", tg_error_message());
    CHECK(tg_checkpoint_save("/nonexistent-dir/x.tgck", w.ps, NULL, NULL, 0) == TG_EIO, "unwritable path");
    model_free(&w);
}

static void test_extra(void)
{
    model m;
    model_init(&m, 5);
    static const char text[] = "terragrad-run-state 1\nsampler 1 2 3 4\n";
    CHECK(tg_checkpoint_save_ex(path, m.ps, m.opt, &m.rng, 9, text, sizeof text - 1) == 0, "save_ex: %s",
          tg_error_message());
    void *ex = NULL;
    size_t exn = 0;
    int64_t ep = -1;
    CHECK(tg_checkpoint_load_ex(path, m.ps, m.opt, &m.rng, &ep, &ex, &exn) == 0, "load_ex: %s", tg_error_message());
    CHECK(ex && exn == sizeof text - 1 && !memcmp(ex, text, exn) && ep == 9, "run state round trip (%zu bytes)", exn);
    free(ex), ex = NULL, ep = -1;
    CHECK(tg_checkpoint_load_ex(path, NULL, NULL, NULL, &ep, &ex, &exn) == 0 && ex && !strcmp(ex, text) && ep == 9,
          "run state without a model: %s", tg_error_message());
    free(ex), ex = NULL;
    size_t n;
    unsigned char *with = slurp(path, &n);
    /* without the section, patched to version 1: still read, no section */
    CHECK(tg_checkpoint_save(path, m.ps, m.opt, &m.rng, 9) == 0, "save: %s", tg_error_message());
    size_t n1;
    unsigned char *v1 = slurp(path, &n1);
    CHECK(v1 && v1[8] == 2, "files are written as version 2");
    v1[8] = 1;
    spit(path, v1, n1);
    CHECK(tg_checkpoint_load_ex(path, m.ps, m.opt, &m.rng, &ep, &ex, &exn) == 0 && !ex && exn == 0,
          "a version-1 file loads, without a run state: %s", tg_error_message());
    if (with) {
        unsigned char *b = malloc(n);
        memcpy(b, with, n), b[8] = 1;
        expect_bad(b, n, "version 1 file with a run state", "version 1 with the run state flag");
        memcpy(b, with, n), b[8] = 3;
        expect_bad(b, n, "this build reads versions 1 to 2", "version 3");
        free(b);
    }
    free(with);
    free(v1);
    model_free(&m);
}

int main(void)
{
    snprintf(path, sizeof path, "%s/test_checkpoint.tgck", TG_BINARY_DIR);
    test_resume();
    test_lbfgs_resume();
    test_corruption();
    test_extra();
    remove(path);
    return tg_test_summary();
}
