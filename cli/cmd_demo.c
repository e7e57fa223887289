/* cmd_demo.c — the built-in demo: fit y = sin(2 pi x) with a small tanh network by
 * gradient descent with momentum, using only core ops. Shows the define-by-run workflow:
 * forward, backward, update flat parameter buffers, O(1) arena reset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "terragrad.h"

#define NPTS 128
#define HID 24

int tg_cmd_demo(int argc, char **argv)
{
    int iters = 3000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: terragrad demo [--iters N]\n\nFits y = sin(2 pi x) on [0,1] with a 1-%d-%d-1 tanh "
                   "network by gradient\ndescent with momentum and reports the fit error.\n", HID, HID);
            return 0;
        } else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else {
            fprintf(stderr, "terragrad demo: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    tg_params *ps = tg_params_create();
    int w1 = tg_params_add(ps, "w1", TG_SHAPE(1, HID)), b1 = tg_params_add(ps, "b1", TG_SHAPE(HID));
    int w2 = tg_params_add(ps, "w2", TG_SHAPE(HID, HID)), b2 = tg_params_add(ps, "b2", TG_SHAPE(HID));
    int w3 = tg_params_add(ps, "w3", TG_SHAPE(HID, 1)), b3 = tg_params_add(ps, "b3", TG_SHAPE(1));
    if (!ps || b3 < 0) {
        fprintf(stderr, "terragrad demo: %s\n", tg_error_message());
        return 1;
    }
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    int ws[3] = {w1, w2, w3}, fan_in[3] = {1, HID, HID};
    for (int k = 0; k < 3; k++) { /* Xavier-like init keeps tanh out of saturation */
        tg_real *w = tg_params_data(ps, ws[k]);
        for (size_t i = 0; i < tg_params_numel(ps, ws[k]); i++)
            w[i] = (tg_real)(tg_rng_normal(&rng) / sqrt((double)fan_in[k]));
    }
    (void)b1; (void)b2;
    tg_real xs[NPTS], ys[NPTS];
    for (int i = 0; i < NPTS; i++) {
        xs[i] = (tg_real)((i + 0.5) / NPTS);
        ys[i] = (tg_real)sin(2 * M_PI * (double)xs[i]);
    }
    tg_real *velocity = tg_calloc(ps->size, sizeof(tg_real));
    tg_ctx *ctx = tg_ctx_create();
    const tg_real lr = TG_R(0.05), mom = TG_R(0.9);
    double loss = 0;
    printf("terragrad demo: fit sin(2 pi x) with a 1-%d-%d-1 tanh network (%zu parameters, %s)\n", HID, HID, ps->size,
           TG_REAL_NAME);
    for (int it = 0; it <= iters; it++) {
        tg_tensor *x = tg_from(ctx, TG_SHAPE(NPTS, 1), xs), *y = tg_from(ctx, TG_SHAPE(NPTS, 1), ys);
        tg_tensor *h = tg_tanh(ctx, tg_add(ctx, tg_matmul(ctx, x, tg_param(ctx, ps, w1)), tg_param(ctx, ps, b1)));
        h = tg_tanh(ctx, tg_add(ctx, tg_matmul(ctx, h, tg_param(ctx, ps, w2)), tg_param(ctx, ps, b2)));
        tg_tensor *pred = tg_add(ctx, tg_matmul(ctx, h, tg_param(ctx, ps, w3)), tg_param(ctx, ps, b3));
        tg_tensor *d = tg_sub(ctx, pred, y);
        tg_tensor *l = tg_mean(ctx, tg_mul(ctx, d, d));
        if (!l || tg_backward(ctx, l)) {
            fprintf(stderr, "terragrad demo: %s\n", tg_error_message());
            return 1;
        }
        loss = (double)l->data[0];
        for (size_t i = 0; i < ps->size; i++) {
            velocity[i] = mom * velocity[i] - lr * ps->grad[i];
            ps->value[i] += velocity[i];
        }
        tg_params_zero_grad(ps);
        tg_ctx_reset(ctx);
        if (it % (iters / 10 ? iters / 10 : 1) == 0)
            printf("  iter %5d  mse %.3e\n", it, loss);
    }
    double rmse = sqrt(loss);
    printf("final RMSE %.4f (amplitude 1): %s\n", rmse, rmse < 0.05 ? "fit OK" : "fit poor");
    tg_free(velocity, ps->size * sizeof(tg_real));
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
    return rmse < 0.05 ? 0 : 1;
}
