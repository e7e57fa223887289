/* test_richards_dpl.c — differentiable parameter learning through the implicit solver:
 * a small network maps soil attributes (sand, clay fractions) of many columns to their
 * van Genuchten–Mualem parameters, and is trained end to end from water contents observed
 * at three depths, with the Richards run as ONE tape node (tg_implicit_run over all
 * columns as lanes) and θ(ψ; p) as another (tg_richards_theta).
 * The synthetic truth is a smooth "pedotransfer function"; the test checks that on columns
 * never seen in training the learned parameters give water contents within twice the
 * observation noise and that the loss fell by more than 10x from the untrained network. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { BTR = 12, BTE = 4, BALL = BTR + BTE, N = 16, T = 96, NDEP = 3, P = 5 };
#define NOISE 0.003
#define EPOCHS 120

/* parameter ranges the network maps into (domain knowledge, as in dPL); wide enough for
 * the truth, narrow enough that Newton converges everywhere in them on this forcing:
 * Ks stays above the rain rate, so the surface never has to pond */
static const double lo[P] = {4e-3, 1.2, 1e-4, 0.0, 0.3}, hi[P] = {0.12, 2.6, 3e-3, 0.15, 0.5};
static const int is_log[P] = {1, 0, 1, 0, 0};

static void truth_params(double sand, double clay, tg_real *p)
{
    p[0] = (tg_real)exp(log(0.008) + 2.0 * sand);   /* α 0.008 .. 0.06 1/cm */
    p[1] = (tg_real)(1.4 + 0.8 * sand);             /* n 1.4 .. 2.2 */
    p[2] = (tg_real)exp(log(8e-5) + 2.5 * sand);    /* Ks 0.3 .. 3.5 cm/h */
    p[3] = (tg_real)(0.03 + 0.07 * clay);           /* θr */
    p[4] = (tg_real)(0.36 + 0.10 * clay);           /* θs */
}

typedef struct {
    tg_richards m;
    tg_implicit_fns f;
    tg_real dts[T], psi0[BALL * N], u[T * BALL * 2];
    tg_real attr[BALL * 2], ptrue[BALL * P];
    tg_real obs[T * BALL * N], mask[T * BALL * N]; /* at steps 1..T */
    int steps[T];
} data;

static void make_data(data *d)
{
    tg_rng r;
    tg_rng_seed(&r, 11);
    for (int t = 0; t < T; t++)
        d->dts[t] = 3600;
    tg_richards m = {&tg_soil_vgm, N, 100, TG_BC_FLUX, TG_BC_FREE_DRAINAGE, T, d->dts};
    d->m = m;
    tg_richards_fns(&d->m, &d->f);
    for (int b = 0; b < BALL; b++) {
        /* training columns on a 4 x 3 grid of (sand, clay); held-out ones drawn inside it */
        if (b < BTR) {
            d->attr[2 * b] = (tg_real)(0.15 + 0.25 * (b % 4));
            d->attr[2 * b + 1] = (tg_real)(0.1 + 0.4 * (b / 4));
        } else {
            d->attr[2 * b] = (tg_real)(0.2 + 0.65 * tg_rng_uniform(&r));
            d->attr[2 * b + 1] = (tg_real)(0.15 + 0.7 * tg_rng_uniform(&r));
        }
        truth_params((double)d->attr[2 * b], (double)d->attr[2 * b + 1], d->ptrue + b * P);
        for (int i = 0; i < N; i++)
            d->psi0[b * N + i] = TG_R(-400.0);
    }
    for (int t = 0; t < T; t++)
        for (int b = 0; b < BALL; b++) {
            int rain = (t >= 6 && t < 14) || (t >= 50 && t < 56);
            /* no evaporation: a flux boundary cannot limit it when dry sand stops delivering
             * (that needs a head-limited "atmospheric" boundary, not implemented) */
            d->u[(t * BALL + b) * 2] = rain ? TG_R(0.25 / 3600) : 0;
            d->u[(t * BALL + b) * 2 + 1] = 0;
        }
    tg_real *out = malloc((size_t)(T + 1) * BALL * N * sizeof *out);
    int rc = tg_richards_simulate(&d->m, BALL, d->psi0, d->ptrue, d->u, NULL, out, NULL, NULL);
    CHECK(rc == 0, "truth run: %s", tg_error_message());
    const int cells[NDEP] = {14, 11, 8}; /* 6.25 cm cells centred 9, 28, 47 cm deep */
    memset(d->mask, 0, sizeof d->mask);
    for (int t = 1; t <= T; t++) {
        d->steps[t - 1] = t;
        for (int b = 0; b < BALL; b++) {
            tg_real th[N];
            tg_soil_vgm.eval(d->ptrue + b * P, N, out + ((size_t)t * BALL + b) * N, th, NULL, NULL, NULL);
            for (int i = 0; i < N; i++) {
                size_t k = ((size_t)(t - 1) * BALL + b) * N + i;
                d->obs[k] = (tg_real)((double)th[i] + NOISE * tg_rng_normal(&r));
            }
            for (int c = 0; c < NDEP; c++)
                d->mask[((size_t)(t - 1) * BALL + b) * N + cells[c]] = 1;
        }
    }
    free(out);
}

/* network output s (B, P) in (0, 1) → parameters within the bounds */
static tg_tensor *to_params(tg_ctx *ctx, tg_tensor *s)
{
    tg_real a[P], w[P], islog[P];
    for (int j = 0; j < P; j++) {
        a[j] = (tg_real)(is_log[j] ? log(lo[j]) : lo[j]);
        w[j] = (tg_real)(is_log[j] ? log(hi[j]) - log(lo[j]) : hi[j] - lo[j]);
        islog[j] = (tg_real)is_log[j];
    }
    tg_tensor *lin = tg_add(ctx, tg_mul(ctx, s, tg_from(ctx, TG_SHAPE(1, P), w)),
                            tg_from(ctx, TG_SHAPE(1, P), a));
    return tg_where(ctx, tg_from(ctx, TG_SHAPE(1, P), islog), tg_exp(ctx, lin), lin);
}

/* Mean squared θ misfit over the observed cells of columns [b0, b0 + nb). */
static tg_tensor *loss_of(tg_ctx *ctx, data *d, tg_params *ps, const tg_mlp_layer *net, int b0,
                          int nb, tg_tensor **params_out)
{
    tg_tensor *attr = tg_from(ctx, TG_SHAPE(nb, 2), d->attr + 2 * b0);
    tg_tensor *p = to_params(ctx, tg_mlp(ctx, ps, net, attr));
    if (params_out)
        *params_out = p;
    /* this subset's lanes: x0, u (T, nb, 2) */
    tg_tensor *x0 = tg_from(ctx, TG_SHAPE(nb, N), d->psi0 + b0 * N);
    tg_tensor *u = tg_new(ctx, TG_SHAPE(T, nb, 2));
    tg_tensor *obs = tg_new(ctx, TG_SHAPE(T, nb, N)), *mask = tg_new(ctx, TG_SHAPE(T, nb, N));
    if (!u || !obs || !mask)
        return NULL;
    for (int t = 0; t < T; t++) {
        memcpy(u->data + (size_t)t * nb * 2, d->u + ((size_t)t * BALL + b0) * 2, (size_t)nb * 2 * sizeof(tg_real));
        memcpy(obs->data + (size_t)t * nb * N, d->obs + ((size_t)t * BALL + b0) * N, (size_t)nb * N * sizeof(tg_real));
        memcpy(mask->data + (size_t)t * nb * N, d->mask + ((size_t)t * BALL + b0) * N, (size_t)nb * N * sizeof(tg_real));
    }
    tg_newton_opts o = tg_newton_defaults();
    o.max_iter = 50;
    tg_tensor *psi = tg_implicit_run(ctx, &d->f, &d->m, T, x0, p, u, T, d->steps, &o, 1, NULL);
    tg_tensor *th = tg_richards_theta(ctx, &tg_soil_vgm, psi, p); /* (T, nb, N) */
    tg_tensor *e = tg_mul(ctx, tg_sub(ctx, th, obs), mask);
    return tg_muls(ctx, tg_sum(ctx, tg_mul(ctx, e, e)), TG_R(1.0) / (tg_real)(T * nb * NDEP));
}

int main(void)
{
    static data d;
    make_data(&d);
    tg_params *ps = tg_params_create();
    tg_mlp_layer net;
    int widths[3] = {2, 16, P};
    CHECK(tg_mlp_init(&net, ps, "ptf", 3, widths, TG_ACT_TANH, TG_ACT_SIGMOID) == 0, "mlp init");
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_mlp_reset(&net, ps, TG_INIT_XAVIER_UNIFORM, &r);
    tg_optim_config oc;
    memset(&oc, 0, sizeof oc);
    oc.kind = TG_OPTIM_ADAM;
    oc.lr = 0.03;
    tg_optim *opt = tg_optim_create(&oc, ps);
    tg_ctx *ctx = tg_ctx_create();

    double first_test = 0, last_train = 0;
    for (int ep = 0; ep <= EPOCHS; ep++) {
        tg_ctx_reset(ctx);
        if (ep == 0 || ep == EPOCHS) { /* held-out columns, no tape */
            tg_ctx_set_grad(ctx, 0);
            tg_tensor *lt = loss_of(ctx, &d, ps, &net, BTR, BTE, NULL);
            CHECK(lt != NULL, "test loss: %s", tg_error_message());
            if (!lt)
                break;
            if (ep == 0)
                first_test = (double)lt->data[0];
            else
                printf("held-out columns: RMSE %.5f before training, %.5f after (noise %.3f)\n",
                       sqrt(first_test), sqrt((double)lt->data[0]), NOISE);
            if (ep == EPOCHS) {
                CHECK(sqrt((double)lt->data[0]) < 2 * NOISE, "held-out RMSE %g",
                      sqrt((double)lt->data[0]));
                CHECK((double)lt->data[0] < first_test / 10, "loss fell %g -> %g", first_test,
                      (double)lt->data[0]);
            }
            tg_ctx_reset(ctx);
            tg_ctx_set_grad(ctx, 1);
            if (ep == EPOCHS)
                break;
        }
        tg_tensor *l = loss_of(ctx, &d, ps, &net, 0, BTR, NULL);
        if (!l || tg_backward(ctx, l)) {
            CHECK(0, "epoch %d: %s", ep, tg_error_message());
            break;
        }
        last_train = (double)l->data[0];
        tg_optim_step(opt, ps);
        if (ep % 50 == 0)
            printf("epoch %3d: train RMSE %.5f\n", ep, sqrt(last_train));
    }
    /* learned parameters of the held-out columns */
    tg_ctx_reset(ctx);
    tg_ctx_set_grad(ctx, 0);
    tg_tensor *attr = tg_from(ctx, TG_SHAPE(BTE, 2), d.attr + 2 * BTR);
    tg_tensor *p = to_params(ctx, tg_mlp(ctx, ps, &net, attr));
    for (int b = 0; p && b < BTE; b++) {
        printf("column %d (sand %.2f clay %.2f):", BTR + b, (double)d.attr[2 * (BTR + b)],
               (double)d.attr[2 * (BTR + b) + 1]);
        for (int j = 0; j < P; j++)
            printf(" %s %.4g/%.4g", tg_soil_vgm.param_names[j], (double)p->data[b * P + j],
                   (double)d.ptrue[(BTR + b) * P + j]);
        printf("\n");
    }
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    tg_params_free(&ps);
    return tg_test_summary();
}
