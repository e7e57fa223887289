/* test_optim_lbfgs.c — L-BFGS with strong-Wolfe line search.
 *  - the 2-D Rosenbrock function from (-1.2, 1) and a 10-D extended Rosenbrock reach the
 *    minimiser (1, ..., 1) to 1e-8 (double build);
 *  - an ill-conditioned quadratic converges in few iterations;
 *  - the loss at the start of each step never increases;
 *  - a failing closure is reported as TG_EEXTERNAL with its message. */
#include <math.h>
#include <string.h>

#include "testutil.h"

typedef struct counter {
    int calls;
    int fail_at;            /* 0 = never */
} counter;

/* Extended Rosenbrock: sum over pairs 100 (x_{2i+1} - x_{2i}^2)^2 + (1 - x_{2i})^2. */
static int rosenbrock(void *ud, tg_params *ps, double *loss)
{
    counter *c = ud;
    c->calls++;
    if (c->fail_at && c->calls >= c->fail_at)
        return tg_error_set(TG_EINVAL, "model blew up at call %d", c->calls), 3;
    double f = 0.0;
    for (size_t i = 0; i + 1 < ps->size; i += 2) {
        double x = (double)ps->value[i], y = (double)ps->value[i + 1];
        double a = y - x * x, b = 1.0 - x;
        f += 100.0 * a * a + b * b;
        ps->grad[i] += (tg_real)(-400.0 * a * x - 2.0 * b);
        ps->grad[i + 1] += (tg_real)(200.0 * a);
    }
    *loss = f;
    return 0;
}

static double solve_rosenbrock(int n, int *steps_used, int *calls)
{
    tg_params *ps = tg_params_create();
    tg_params_add(ps, "x", TG_SHAPE(n));
    for (int i = 0; i < n; i += 2)
        ps->value[i] = TG_R(-1.2), ps->value[i + 1] = TG_R(1.0);
    tg_optim_config cfg = {.kind = TG_OPTIM_LBFGS, .history = 10, .max_iter = 50, .tol_grad = 1e-14,
                           .tol_change = 1e-20};
    tg_optim *opt = tg_optim_create(&cfg, ps);
    counter c = {0, 0};
    double loss = 0.0, prev = INFINITY;
    int s;
    for (s = 0; s < 40; s++) {
        CHECK(tg_optim_step_closure(opt, ps, rosenbrock, &c, &loss) == 0, "lbfgs step: %s", tg_error_message());
        CHECK(loss <= prev, "loss at step start never increases (%g after %g)", loss, prev);
        prev = loss;
        double err = 0.0;
        for (int i = 0; i < n; i++)
            err = fmax(err, fabs((double)ps->value[i] - 1.0));
        if (err < 1e-10)
            break;
    }
    double err = 0.0;
    for (int i = 0; i < n; i++)
        err = fmax(err, fabs((double)ps->value[i] - 1.0));
    *steps_used = s + 1;
    *calls = c.calls;
    tg_optim_free(&opt);
    tg_params_free(&ps);
    return err;
}

static void test_rosenbrock(void)
{
#ifdef TG_DOUBLE
    const double tol = 1e-8;
#else
    const double tol = 1e-3;
#endif
    int steps, calls;
    double err = solve_rosenbrock(2, &steps, &calls);
    CHECK(err < tol, "2-D Rosenbrock: |x - 1| = %.3g after %d steps, %d evaluations", err, steps, calls);
    CHECK(calls < 400, "2-D Rosenbrock needed %d evaluations", calls);
    err = solve_rosenbrock(10, &steps, &calls);
    CHECK(err < tol, "10-D Rosenbrock: |x - 1| = %.3g after %d steps, %d evaluations", err, steps, calls);
}

/* f = 1/2 sum a_i x_i^2 with a from 1 to 1000. */
static int quadratic(void *ud, tg_params *ps, double *loss)
{
    counter *c = ud;
    c->calls++;
    double f = 0.0;
    for (size_t i = 0; i < ps->size; i++) {
        double a = pow(1000.0, (double)i / (double)(ps->size - 1)), x = (double)ps->value[i];
        f += 0.5 * a * x * x;
        ps->grad[i] += (tg_real)(a * x);
    }
    *loss = f;
    return 0;
}

static void test_quadratic(void)
{
    tg_params *ps = tg_params_create();
    tg_params_add(ps, "x", TG_SHAPE(8));
    for (int i = 0; i < 8; i++)
        ps->value[i] = TG_R(1.0);
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_LBFGS, .max_iter = 100,
                                                       .tol_grad = 1e-10, .tol_change = 1e-30}, ps);
    counter c = {0, 0};
    double loss;
    CHECK(tg_optim_step_closure(opt, ps, quadratic, &c, &loss) == 0, "quadratic: %s", tg_error_message());
    double err = 0.0;
    for (int i = 0; i < 8; i++)
        err = fmax(err, fabs((double)ps->value[i]));
#ifdef TG_DOUBLE
    CHECK(err < 1e-10, "quadratic minimiser: %.3g (%d evaluations)", err, c.calls);
#else
    CHECK(err < 1e-4, "quadratic minimiser: %.3g (%d evaluations)", err, c.calls);
#endif
    CHECK(c.calls < 100, "quadratic took %d evaluations", c.calls);
    CHECK(ps->grad[0] == TG_R(0.0), "step leaves a zero gradient");
    tg_optim_free(&opt);
    tg_params_free(&ps);
}

static void test_failing_closure(void)
{
    tg_params *ps = tg_params_create();
    tg_params_add(ps, "x", TG_SHAPE(2));
    ps->value[0] = TG_R(-1.2), ps->value[1] = TG_R(1.0);
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_LBFGS}, ps);
    counter c = {0, 3};
    double loss;
    int rc = tg_optim_step_closure(opt, ps, rosenbrock, &c, &loss);
    CHECK(rc == TG_EEXTERNAL && strstr(tg_error_message(), "blew up at call 3"), "closure failure: %d %s", rc,
          tg_error_message());
    tg_optim_free(&opt);
    tg_params_free(&ps);
}

int main(void)
{
    test_rosenbrock();
    test_quadratic();
    test_failing_closure();
    return tg_test_summary();
}
