/* test_optim_basic.c — first-order optimizers, schedules and clipping.
 *  - Adam, AdamW, SGD (momentum, Nesterov) and Adadelta match hand-rolled textbook updates
 *    step by step (with weight decay), including the step counter in the bias corrections;
 *  - SGD, Adam and Adadelta reach the known minimiser of an ill-conditioned quadratic;
 *  - frozen parameters never move; a size mismatch is an error;
 *  - schedules give their closed-form values; clipping scales to the requested norm. */
#include <math.h>
#include <string.h>

#include "testutil.h"

#ifdef TG_DOUBLE
#define TIGHT 1e-12
#else
#define TIGHT 3e-4   /* float rounding accumulated over 40 steps vs a double reference */
#endif

enum { N = 6 };
static const double A[N] = {1.0, 4.0, 0.25, 10.0, 2.0, 0.5};   /* curvatures */
static const double C[N] = {1.0, -2.0, 0.5, 3.0, -0.75, 0.0};  /* minimiser */

/* f = 1/2 sum a_i (x_i - c_i)^2 over the first N scalars; gradient into ps->grad. */
static double quad_grad(tg_params *ps)
{
    double f = 0.0;
    for (int i = 0; i < N; i++) {
        double r = (double)ps->value[i] - C[i];
        f += 0.5 * A[i] * r * r;
        ps->grad[i] = (tg_real)(A[i] * r);
    }
    return f;
}

static tg_params *make_params(void)
{
    tg_params *ps = tg_params_create();
    tg_params_add(ps, "a", TG_SHAPE(2));
    tg_params_add(ps, "b", TG_SHAPE(2, 2));
    for (int i = 0; i < N; i++)
        ps->value[i] = (tg_real)(0.3 * i - 1.0);
    return ps;
}

/* ---------------------------------------------------------------- textbook references */
typedef struct ref {
    double p[N], m[N], v[N];
    int t;
} ref;

static void ref_adam(ref *r, const double *g_in, double lr, double b1, double b2, double eps, double wd, int adamw)
{
    r->t++;
    for (int i = 0; i < N; i++) {
        double g = g_in[i];
        if (adamw)
            r->p[i] -= lr * wd * r->p[i];           /* decoupled decay (Loshchilov & Hutter) */
        else
            g += wd * r->p[i];                      /* L2 in the gradient */
        r->m[i] = b1 * r->m[i] + (1 - b1) * g;
        r->v[i] = b2 * r->v[i] + (1 - b2) * g * g;
        double mhat = r->m[i] / (1 - pow(b1, r->t)), vhat = r->v[i] / (1 - pow(b2, r->t));
        r->p[i] -= lr * mhat / (sqrt(vhat) + eps);
    }
}

static void test_adam_textbook(tg_optim_kind kind)
{
    tg_params *ps = make_params();
    tg_optim_config cfg = {.kind = kind, .lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 0.1};
    tg_optim *opt = tg_optim_create(&cfg, ps);
    ref r = {{0}, {0}, {0}, 0};
    for (int i = 0; i < N; i++)
        r.p[i] = (double)ps->value[i];
    double worst = 0.0;
    for (int step = 0; step < 40; step++) {
        double g[N];
        quad_grad(ps);
        for (int i = 0; i < N; i++)
            g[i] = (double)ps->grad[i];
        CHECK(tg_optim_step(opt, ps) == 0, "step: %s", tg_error_message());
        ref_adam(&r, g, 0.05, 0.8, 0.95, 1e-6, 0.1, kind == TG_OPTIM_ADAMW);
        for (int i = 0; i < N; i++)
            worst = fmax(worst, tg_rel_err((double)ps->value[i], r.p[i], 1e-3));
        CHECK(ps->grad[0] == TG_R(0.0), "step zeroes the gradient");
    }
    CHECK(worst < TIGHT, "%s vs textbook: worst rel err %.3g", tg_optim_name(kind), worst);
    CHECK(tg_optim_step_count(opt) == 40, "step counter");
    tg_optim_free(&opt);
    CHECK(opt == NULL, "free nulls the pointer");
    tg_params_free(&ps);
}

static void test_sgd_textbook(int nesterov)
{
    tg_params *ps = make_params();
    const double lr = 0.03, mu = 0.7, wd = 0.05;
    tg_optim_config cfg = {.kind = TG_OPTIM_SGD, .lr = lr, .momentum = mu, .nesterov = nesterov, .weight_decay = wd};
    tg_optim *opt = tg_optim_create(&cfg, ps);
    double p[N], buf[N] = {0};
    for (int i = 0; i < N; i++)
        p[i] = (double)ps->value[i];
    double worst = 0.0;
    for (int step = 0; step < 30; step++) {
        quad_grad(ps);
        for (int i = 0; i < N; i++) {
            double g = (double)ps->grad[i] + wd * p[i];
            buf[i] = mu * buf[i] + g;
            p[i] -= lr * (nesterov ? g + mu * buf[i] : buf[i]);
        }
        tg_optim_step(opt, ps);
        for (int i = 0; i < N; i++)
            worst = fmax(worst, tg_rel_err((double)ps->value[i], p[i], 1e-3));
    }
    CHECK(worst < TIGHT, "sgd (nesterov %d) vs textbook: %.3g", nesterov, worst);
    tg_optim_free(&opt);
    tg_params_free(&ps);
}

static void test_adadelta_textbook(void)
{
    tg_params *ps = make_params();
    tg_optim_config cfg = {.kind = TG_OPTIM_ADADELTA};      /* defaults: lr 1, rho 0.9, eps 1e-6 */
    tg_optim *opt = tg_optim_create(&cfg, ps);
    const tg_optim_config *c = tg_optim_get_config(opt);
    CHECK(c->lr == 1.0 && c->rho == 0.9 && c->eps == 1e-6, "adadelta defaults as PyTorch");
    double p[N], sq[N] = {0}, acc[N] = {0};
    for (int i = 0; i < N; i++)
        p[i] = (double)ps->value[i];
    double worst = 0.0;
    for (int step = 0; step < 30; step++) {
        quad_grad(ps);
        for (int i = 0; i < N; i++) {
            double g = (double)ps->grad[i];
            sq[i] = 0.9 * sq[i] + 0.1 * g * g;
            double delta = sqrt(acc[i] + 1e-6) / sqrt(sq[i] + 1e-6) * g;     /* Zeiler 2012, Alg. 1 */
            acc[i] = 0.9 * acc[i] + 0.1 * delta * delta;
            p[i] -= delta;
        }
        tg_optim_step(opt, ps);
        for (int i = 0; i < N; i++)
            worst = fmax(worst, tg_rel_err((double)ps->value[i], p[i], 1e-3));
    }
    CHECK(worst < TIGHT, "adadelta vs textbook: %.3g", worst);
    tg_optim_free(&opt);
    tg_params_free(&ps);
}

/* ---------------------------------------------------------------- convergence */
static double run_to_min(tg_optim_config cfg, int steps, const tg_schedule *sched)
{
    tg_params *ps = make_params();
    tg_optim *opt = tg_optim_create(&cfg, ps);
    for (int s = 0; s < steps; s++) {
        if (sched)
            tg_optim_set_lr(opt, tg_schedule_lr(sched, s));
        quad_grad(ps);
        tg_optim_step(opt, ps);
    }
    double err = 0.0;
    for (int i = 0; i < N; i++)
        err = fmax(err, fabs((double)ps->value[i] - C[i]));
    tg_optim_free(&opt);
    tg_params_free(&ps);
    return err;
}

static void test_convergence(void)
{
#ifdef TG_DOUBLE
    const double tol = 1e-8;
#else
    const double tol = 2e-5;
#endif
    double e;
    e = run_to_min((tg_optim_config){.kind = TG_OPTIM_SGD, .lr = 0.09}, 1500, NULL);
    CHECK(e < tol, "sgd reaches the minimiser: %.3g", e);
    e = run_to_min((tg_optim_config){.kind = TG_OPTIM_SGD, .lr = 0.05, .momentum = 0.8}, 600, NULL);
    CHECK(e < tol, "sgd momentum: %.3g", e);
    e = run_to_min((tg_optim_config){.kind = TG_OPTIM_SGD, .lr = 0.05, .momentum = 0.8, .nesterov = 1}, 600, NULL);
    CHECK(e < tol, "sgd nesterov: %.3g", e);
    /* Adam's constant-rate steps hover around the minimum: decay the rate */
    tg_schedule ex = tg_schedule_exponential(0.1, 0.99);
    e = run_to_min((tg_optim_config){.kind = TG_OPTIM_ADAM}, 3000, &ex);
    CHECK(e < 1e-4, "adam reaches the minimiser: %.3g", e);
    e = run_to_min((tg_optim_config){.kind = TG_OPTIM_ADADELTA}, 4000, NULL);
    CHECK(e < 1e-3, "adadelta reaches the minimiser: %.3g", e);
}

static void test_frozen_and_errors(void)
{
    tg_params *ps = make_params();
    tg_params_set_frozen(ps, 1, 1);   /* "b": scalars 2..5 */
    tg_real keep[4];
    memcpy(keep, ps->value + 2, sizeof keep);
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = 0.1}, ps);
    for (int s = 0; s < 5; s++) {
        quad_grad(ps);
        tg_optim_step(opt, ps);
    }
    CHECK(memcmp(keep, ps->value + 2, sizeof keep) == 0, "frozen parameter unchanged");
    CHECK(fabs((double)ps->value[0] - (0.0 - 1.0)) > 0.1, "free parameter moved");
    tg_params_add(ps, "c", TG_SHAPE(3));
    CHECK(tg_optim_step(opt, ps) == TG_EINVAL && strstr(tg_error_message(), "created for 6"), "size mismatch: %s",
          tg_error_message());
    tg_optim_free(&opt);
    CHECK(tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_SGD, .lr = -1}, ps) == NULL &&
              tg_error_code() == TG_EINVAL,
          "negative lr rejected");
    tg_optim *lb = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_LBFGS}, ps);
    CHECK(tg_optim_step(lb, ps) == TG_ESTATE, "lbfgs without closure is an error");
    tg_optim_free(&lb);
    tg_optim_kind k;
    CHECK(tg_optim_parse("adamw", &k) == 0 && k == TG_OPTIM_ADAMW, "parse adamw");
    CHECK(tg_optim_parse("rmsprop", &k) == TG_EINVAL, "unknown optimizer");
    tg_params_free(&ps);
}

/* ---------------------------------------------------------------- schedules, clipping */
static void test_schedules(void)
{
    tg_schedule s = tg_schedule_step(0.1, 10, 0.5);
    CHECK_CLOSE(tg_schedule_lr(&s, 0), 0.1, 1e-15, 0);
    CHECK_CLOSE(tg_schedule_lr(&s, 9), 0.1, 1e-15, 0);
    CHECK_CLOSE(tg_schedule_lr(&s, 10), 0.05, 1e-15, 0);
    CHECK_CLOSE(tg_schedule_lr(&s, 25), 0.025, 1e-15, 0);
    s = tg_schedule_exponential(1e-3, 0.9);
    CHECK_CLOSE(tg_schedule_lr(&s, 3), 1e-3 * 0.729, 1e-15, 0);
    s = tg_schedule_cosine(1e-2, 100, 1e-4);
    CHECK_CLOSE(tg_schedule_lr(&s, 0), 1e-2, 1e-15, 0);
    CHECK_CLOSE(tg_schedule_lr(&s, 50), 0.5 * (1e-2 + 1e-4), 1e-15, 0);
    CHECK_CLOSE(tg_schedule_lr(&s, 100), 1e-4, 1e-15, 0);
    CHECK_CLOSE(tg_schedule_lr(&s, 150), 1e-4, 1e-15, 0);
    const int ep[3] = {0, 10, 25};
    const double lr[3] = {1e-3, 5e-4, 1e-4};
    CHECK(tg_schedule_table(&s, 3, ep, lr) == 0, "table");
    CHECK(tg_schedule_lr(&s, 0) == 1e-3 && tg_schedule_lr(&s, 9) == 1e-3 && tg_schedule_lr(&s, 10) == 5e-4 &&
              tg_schedule_lr(&s, 24) == 5e-4 && tg_schedule_lr(&s, 1000) == 1e-4,
          "table lookup");
    const int bad[2] = {5, 5};
    CHECK(tg_schedule_table(&s, 2, bad, lr) == TG_EINVAL && strstr(tg_error_message(), "increase"), "unsorted table");
}

static void test_clip(void)
{
    tg_params *ps = make_params();
    const double g[N] = {3, 0, 0, 4, 0, 0};   /* norm 5 */
    for (int i = 0; i < N; i++)
        ps->grad[i] = (tg_real)g[i];
    CHECK_CLOSE(tg_grad_norm(ps), 5.0, 1e-12, 0);
    double before = tg_clip_grad_norm(ps, 1.0);
    CHECK_CLOSE(before, 5.0, 1e-12, 0);
    CHECK_CLOSE(tg_grad_norm(ps), 5.0 / (5.0 + 1e-6), 4 * TG_TEST_EPS, 0);
    CHECK_CLOSE(ps->grad[3], 4.0 / (5.0 + 1e-6), 4 * TG_TEST_EPS, 0);
    tg_clip_grad_norm(ps, 10.0);                /* below the limit: unchanged */
    CHECK_CLOSE(ps->grad[0], 3.0 / (5.0 + 1e-6), 4 * TG_TEST_EPS, 0);
    tg_params_free(&ps);
}

int main(void)
{
    test_adam_textbook(TG_OPTIM_ADAM);
    test_adam_textbook(TG_OPTIM_ADAMW);
    test_sgd_textbook(0);
    test_sgd_textbook(1);
    test_adadelta_textbook();
    test_convergence();
    test_frozen_and_errors();
    test_schedules();
    test_clip();
    return tg_test_summary();
}
