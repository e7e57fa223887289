/* test_ude_learn.c — learning a missing process through the integrator. A bucket
 *   dS/dt = P − PET·S/(S + 30) − Q(S)
 * with a known ET term and an UNKNOWN outflow Q, replaced by a network Q = NN(S) ≥ 0
 * (softplus output, sign −1). Synthetic truth: Q(S) = k·S^b, k = 5e-4, b = 2 (mm/day,
 * S in mm). Storage trajectories of 24 lanes with different climates over 240 days are
 * the data; the network is trained end to end through the adaptive DOPRI5 solve with the
 * discrete adjoint. Reported: the learned curve's error over the range of S the data
 * visit, and the storage fit on a held-out later period. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "terragrad/ude.h"

enum { B = 16, T = 180, TH = 120, ITERS = 4 };
static const double KQ = 5e-4, BQ = 2.0, HALF = 30.0;

/* f_known = P − PET·S/(S + 30); u = (P, PET); no parameters */
static int bucket_rhs(void *ud, const tg_ude_args *a, tg_real *dS)
{
    const int with_q = ud != NULL; /* truth run: add the real outflow */
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real S = a->S[b], P = a->u[2 * b], E = a->u[2 * b + 1];
        dS[b] = P - E * S / (S + (tg_real)HALF);
        if (with_q)
            dS[b] -= (tg_real)(KQ * pow(fmax((double)S, 0.0), BQ));
    }
    return 0;
}
static int bucket_vjp(void *ud, const tg_ude_args *a, const tg_real *w, tg_real *S_bar, tg_real *theta_bar,
                      tg_real *u_bar)
{
    (void)ud, (void)theta_bar;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real S = a->S[b], E = a->u[2 * b + 1], den = S + (tg_real)HALF;
        if (S_bar)
            S_bar[b] += -E * (tg_real)HALF / (den * den) * w[b];
        if (u_bar) {
            u_bar[2 * b] += w[b];
            u_bar[2 * b + 1] += -S / den * w[b];
        }
    }
    return 0;
}
static const tg_ude_fns bucket = {"bucket", 1, 0, 2, bucket_rhs, NULL, bucket_vjp};

/* The formula-only competitor: the same bucket with a linear-reservoir outflow Q = k·S,
 * θ = (k). */
static int lin_rhs(void *ud, const tg_ude_args *a, tg_real *dS)
{
    int rc = bucket_rhs(ud, a, dS);
    for (int b = 0; b < a->B; b++)
        dS[b] -= a->theta[b] * a->S[b];
    return rc;
}
static int lin_vjp(void *ud, const tg_ude_args *a, const tg_real *w, tg_real *S_bar, tg_real *theta_bar,
                   tg_real *u_bar)
{
    int rc = bucket_vjp(ud, a, w, S_bar, NULL, u_bar);
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        if (S_bar)
            S_bar[b] += -a->theta[b] * w[b];
        if (theta_bar)
            theta_bar[b] += -a->S[b] * w[b];
    }
    return rc;
}
static const tg_ude_fns bucket_lin = {"bucket_linear", 1, 1, 2, lin_rhs, NULL, lin_vjp};

static tg_real U_all[(T + TH) * B * 2], S0[B], OBS[(T + TH) * B];

static double q_true(double S) { return KQ * pow(S, BQ); }

static int cmp_real(const void *a, const void *b)
{
    tg_real x = *(const tg_real *)a, y = *(const tg_real *)b;
    return (x > y) - (x < y);
}

typedef struct {
    tg_ctx *ctx;
    const tg_ude_mlp *m;
    const tg_ude_opts *o;
    int wid, evals;
    long accepted, rejected;
    int linear; /* fit the formula-only model: parameter wid is log k */
} fit_ctx;

/* Loss (mean squared storage error, in units of 100 mm) and its gradient in ps->grad. */
static int fit_closure(void *ud, tg_params *ps, double *loss)
{
    fit_ctx *f = ud;
    tg_ctx *ctx = f->ctx;
    tg_ctx_reset(ctx);
    tg_params_zero_grad(ps);
    tg_ude_stats st;
    memset(&st, 0, sizeof st);
    tg_ude_stats_init(&st);
    tg_tensor *y;
    if (f->linear) {
        tg_tensor *k = tg_mul(ctx, tg_full(ctx, TG_SHAPE(B, 1), 1), tg_exp(ctx, tg_param(ctx, ps, f->wid)));
        y = tg_ude_solve(ctx, &bucket_lin, NULL, f->m, T, tg_from(ctx, TG_SHAPE(B, 1), S0), k,
                         tg_from(ctx, TG_SHAPE(T, B, 2), U_all), NULL, f->o, &st);
    } else
        y = tg_ude_solve(ctx, &bucket, NULL, f->m, T, tg_from(ctx, TG_SHAPE(B, 1), S0), NULL,
                         tg_from(ctx, TG_SHAPE(T, B, 2), U_all), tg_param(ctx, ps, f->wid), f->o, &st);
    tg_tensor *d = tg_muls(ctx, tg_sub(ctx, y, tg_from(ctx, TG_SHAPE(T, B, 1), OBS)), TG_R(0.01));
    tg_tensor *l = tg_mean(ctx, tg_mul(ctx, d, d));
    if (!l || tg_backward(ctx, l))
        return 1;
    *loss = (double)l->data[0];
    f->evals++, f->accepted = st.accepted, f->rejected = st.rejected;
    return 0;
}

int main(void)
{
    tg_rng rng;
    tg_rng_seed(&rng, 2026);
    for (int b = 0; b < B; b++) {
        double wet = 0.6 + 1.6 * b / (B - 1.0), pet = 1.0 + 3.0 * tg_rng_uniform(&rng);
        S0[b] = (tg_real)(20 + 100 * tg_rng_uniform(&rng));
        for (int t = 0; t < T + TH; t++) {
            double p = tg_rng_uniform(&rng) < 0.4 ? -7.5 * wet * log(1 - tg_rng_uniform(&rng)) : 0;
            U_all[(t * B + b) * 2] = (tg_real)p;
            U_all[(t * B + b) * 2 + 1] = (tg_real)(pet * (1 + 0.3 * sin(2 * M_PI * t / 365.0)));
        }
    }
    tg_ude_opts o = tg_ude_defaults(TG_UDE_DOPRI5);
    tg_ude_mlp none;
    tg_ude_mlp_setup(&none, 1, 2, 0, 0, -1, 0);
    /* truth: the same solver with the real outflow inside f_known, tight tolerance */
    tg_ctx *ctx = tg_ctx_create();
    {
        tg_ude_opts ot = o;
        ot.rtol *= 1e-2, ot.atol *= 1e-2;
        int marker = 1;
        tg_ude_fns truth = bucket;
        tg_tensor *y = tg_ude_solve(ctx, &truth, &marker, &none, T + TH, tg_from(ctx, TG_SHAPE(B, 1), S0), NULL,
                                    tg_from(ctx, TG_SHAPE(T + TH, B, 2), U_all), NULL, &ot, NULL);
        CHECK(y != NULL, "truth run: %s", tg_error_message());
        if (!y)
            return tg_test_summary();
        memcpy(OBS, y->data, y->n * sizeof *OBS);
        tg_ctx_reset(ctx);
    }
    /* the visited range: 1st to 99th percentile of the training storages */
    static tg_real sorted[T * B];
    memcpy(sorted, OBS, sizeof sorted);
    qsort(sorted, T * B, sizeof *sorted, cmp_real);
    const double smin = (double)sorted[T * B / 100], smax = (double)sorted[T * B - 1 - T * B / 100];
    printf("training data: %d lanes x %d days, storage from %.1f to %.1f mm (1st-99th percentile %.1f-%.1f)\n",
           B, T, (double)sorted[0], (double)sorted[T * B - 1], smin, smax);

    tg_ude_mlp m;
    tg_ude_mlp_setup(&m, 1, 2, 0, 0, 1, 16);
    m.in_shift[0] = TG_R(100.0), m.in_scale[0] = TG_R(1.0 / 80);
    m.out_act = TG_UDE_OUT_SOFTPLUS, m.out_scale[0] = TG_R(-5.0);
    tg_params *ps = tg_params_create();
    const int nw = (int)tg_ude_mlp_nweights(&m);
    int wid = tg_params_add(ps, "ude.W", 1, (const int[]){nw});
    tg_ude_mlp_init(&m, tg_params_data(ps, wid), &rng);
    /* L-BFGS on the full batch: a deterministic, smooth, small problem */
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_LBFGS, .max_iter = 25}, ps);
    fit_ctx fc = {ctx, &m, &o, wid, 0, 0, 0, 0};
    double loss = NAN, first = NAN;
    for (int it = 0; it < ITERS; it++) {
        double l0;
        if (tg_optim_step_closure(opt, ps, fit_closure, &fc, &l0)) {
            CHECK(0, "L-BFGS step %d: %s", it, tg_error_message());
            break;
        }
        if (it == 0)
            first = l0;
        loss = l0;
        printf("L-BFGS step %2d: loss %.3e (%d solves so far; last solve %ld accepted, %ld rejected lane-steps)\n",
               it, l0, fc.evals, fc.accepted, fc.rejected);
    }
    fit_closure(&fc, ps, &loss);
    printf("final loss %.3e after %d solves + adjoints\n", loss, fc.evals);
    CHECK(loss < 1e-3 * first, "training: loss %.3e from %.3e", loss, first);

    /* the learned outflow over the visited range */
    const tg_real *W = tg_params_data(ps, wid);
    double se = 0, sq = 0, worst = 0;
    printf("learned outflow (S, Q_true, Q_learned):\n");
    for (int i = 0; i <= 40; i++) {
        tg_real S = (tg_real)(smin + (smax - smin) * i / 40.0), q;
        tg_ude_mlp_eval(&m, W, 1, 1, 2, 0, &S, NULL, NULL, &q);
        double qt = q_true((double)S), ql = -(double)q;
        se += (ql - qt) * (ql - qt), sq += qt * qt;
        worst = fmax(worst, fabs(ql - qt));
        if (i % 5 == 0)
            printf("  %6.1f  %7.3f  %7.3f\n", (double)S, qt, ql);
    }
    double rel = sqrt(se / sq);
    printf("learned-curve error over [%.0f, %.0f] mm: relative RMSE %.3f, max abs %.3f mm/day\n", smin, smax, rel,
           worst);
#ifdef TG_DOUBLE
    CHECK(rel < 0.02, "learned curve relative RMSE %.3f", rel);
#else
    CHECK(rel < 0.10, "learned curve relative RMSE %.3f", rel);
#endif

    /* the formula-only competitor: fit one shared k of Q = k·S the same way */
    tg_params *pl = tg_params_create();
    int kid = tg_params_add(pl, "lin.logk", 1, (const int[]){1});
    tg_params_data(pl, kid)[0] = (tg_real)log(0.02);
    tg_optim *ol = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_LBFGS, .max_iter = 25}, pl);
    fit_ctx fl = {ctx, &none, &o, kid, 0, 0, 0, 1};
    double l_lin = NAN;
    for (int it = 0; it < 3; it++)
        CHECK(tg_optim_step_closure(ol, pl, fit_closure, &fl, &l_lin) == 0, "linear fit: %s", tg_error_message());
    fit_closure(&fl, pl, &l_lin);
    tg_real klin = (tg_real)exp((double)tg_params_data(pl, kid)[0]);
    printf("formula-only (linear reservoir) fit: k = %.4f /day, training loss %.3e (hybrid %.3e)\n", (double)klin,
           l_lin, loss);

    /* held out: days T..T+TH from the true state at the end of training */
    double nse[2];
    for (int k = 0; k < 2; k++) {
        tg_ctx_reset(ctx);
        tg_real kl[B];
        for (int b = 0; b < B; b++)
            kl[b] = klin;
        tg_tensor *s0h = tg_from(ctx, TG_SHAPE(B, 1), OBS + (T - 1) * B);
        tg_tensor *uh = tg_from(ctx, TG_SHAPE(TH, B, 2), U_all + (size_t)T * B * 2);
        tg_tensor *y = k == 0 ? tg_ude_solve(ctx, &bucket, NULL, &m, TH, s0h, NULL, uh, tg_from(ctx, TG_SHAPE(nw), W), &o, NULL)
                              : tg_ude_solve(ctx, &bucket_lin, NULL, &none, TH, s0h, tg_from(ctx, TG_SHAPE(B, 1), kl), uh,
                                             NULL, &o, NULL);
        CHECK(y != NULL, "held-out run: %s", tg_error_message());
        nse[k] = NAN;
        if (!y)
            continue;
        double num = 0, den = 0, mean = 0;
        for (int i = 0; i < TH * B; i++)
            mean += (double)OBS[T * B + i] / (TH * B);
        for (int i = 0; i < TH * B; i++) {
            double o2 = (double)OBS[T * B + i];
            num += ((double)y->data[i] - o2) * ((double)y->data[i] - o2);
            den += (o2 - mean) * (o2 - mean);
        }
        nse[k] = 1 - num / den;
        printf("held-out %d days, %-13s storage NSE %.5f, RMSE %.3f mm\n", TH, k ? "formula-only:" : "hybrid UDE:",
               nse[k], sqrt(num / (TH * B)));
    }
    CHECK(nse[0] > 0.99, "held-out NSE %.4f", nse[0]);
    CHECK(nse[0] > nse[1] && (1 - nse[0]) < 0.1 * (1 - nse[1]), "hybrid NSE %.5f should beat formula-only %.5f",
          nse[0], nse[1]);
    tg_optim_free(&ol);
    tg_params_free(&pl);
    tg_optim_free(&opt);
    tg_params_free(&ps);
    tg_ctx_free(&ctx);
    return tg_test_summary();
}
