/* calibrate_basin.c — a small model trained from C through the installed library:
 * the 13 HBV parameters of one Caravan basin fitted by Adam on the NSE of 1982-1983
 * (1981 spins the stores up), with every gradient from the fused HBV adjoint.
 *
 *   cc calibrate_basin.c $(pkg-config --cflags --libs terragrad) -o calibrate_basin
 *   ./calibrate_basin ../shared/data/caravan_camels_us 01022500
 * Exit 0 when training improved the NSE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <terragrad.h>

enum { WARMUP = 365, DAYS = 3 * 365, M = 4, ITERS = 60 };

/* 1 - NSE of the simulated flow (T-W) against observed q (NaN = missing), as tape ops */
static tg_tensor *nse_loss(tg_ctx *ctx, tg_tensor *q_sim, const tg_real *q_obs, int n)
{
    tg_real *obs = malloc((size_t)n * sizeof(tg_real)), *mask = malloc((size_t)n * sizeof(tg_real));
    double mean = 0, var = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan((double)q_obs[i])) {
            mean += (double)q_obs[i];
            k++;
        }
    mean /= k;
    for (int i = 0; i < n; i++) {
        int ok = !isnan((double)q_obs[i]);
        obs[i] = ok ? q_obs[i] : 0;
        mask[i] = (tg_real)ok;
        var += ok ? ((double)q_obs[i] - mean) * ((double)q_obs[i] - mean) : 0;
    }
    tg_tensor *o = tg_from(ctx, 1, (int[]){n}, obs), *w = tg_from(ctx, 1, (int[]){n}, mask);
    free(obs);
    free(mask);
    tg_tensor *d = tg_mul(ctx, tg_sub(ctx, q_sim, o), w);
    return tg_muls(ctx, tg_sum(ctx, tg_mul(ctx, d, d)), (tg_real)(1.0 / var));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CARAVAN_ROOT GAUGE_ID\n", argv[0]);
        return 2;
    }
    if (TG_CHECK_ABI()) {
        fprintf(stderr, "%s\n", tg_error_message());
        return 1;
    }
    tg_basin basin;
    if (tg_caravan_read(argv[1], argv[2], &basin)) {
        fprintf(stderr, "%s\n", tg_error_message());
        return 1;
    }
    /* forcing (T, 1, 3) of the first DAYS days */
    tg_real *forcing = malloc((size_t)DAYS * 3 * sizeof(tg_real));
    for (int t = 0; t < DAYS; t++) {
        forcing[t * 3 + TG_HBV_F_P] = basin.var[TG_VAR_P][t];
        forcing[t * 3 + TG_HBV_F_T] = basin.var[TG_VAR_TEMP][t];
        forcing[t * 3 + TG_HBV_F_PET] = basin.var[TG_VAR_PET][t];
    }
    const tg_real *q_obs = basin.var[TG_VAR_Q] + WARMUP;

    tg_hbv_config cfg;
    tg_hbv_config_init(&cfg, DAYS, WARMUP, 1, M);
    cfg.basin_outputs = 1u << TG_HBV_Q;
    tg_params *ps = tg_params_create();
    int iu = tg_params_add(ps, "u", 3, (int[]){TG_HBV_NPARAM, 1, M});
    for (size_t i = 0; i < ps->size; i++) /* raw values; sigmoid maps them into [0, 1] */
        ps->value[i] = (tg_real)(-0.5 + (double)(i % 7) / 6.0);
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = 0.05}, ps);
    tg_ctx *ctx = tg_ctx_create();
    double first = NAN, last = NAN;
    for (int it = 0; it < ITERS; it++) {
        tg_tensor *f = tg_from(ctx, 3, (int[]){DAYS, 1, 3}, forcing), *q = NULL;
        tg_tensor *par = tg_hbv_scale_op(ctx, tg_sigmoid(ctx, tg_param(ctx, ps, iu)), TG_HBV_ALL_PARAMS);
        if (!par || tg_hbv_op(ctx, &cfg, f, par, NULL, NULL, &q, NULL, NULL)) {
            fprintf(stderr, "%s\n", tg_error_message());
            return 1;
        }
        /* Q is row 0 of (T-W, NOUT, 1) */
        tg_tensor *qs = tg_reshape(ctx, tg_select(ctx, q, 1, TG_HBV_Q), 1, (int[]){DAYS - WARMUP});
        tg_tensor *loss = nse_loss(ctx, qs, q_obs, DAYS - WARMUP);
        if (!loss || tg_backward(ctx, loss) || tg_optim_step(opt, ps)) {
            fprintf(stderr, "%s\n", tg_error_message());
            return 1;
        }
        last = 1 - (double)loss->data[0];
        if (it == 0)
            first = last;
        if (it % 10 == 0 || it == ITERS - 1)
            printf("iteration %2d  NSE %.4f\n", it, last);
        tg_ctx_reset(ctx);
    }
    printf("basin %s: NSE %.3f -> %.3f after %d Adam steps\n", basin.id, first, last, ITERS);
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    tg_params_free(&ps);
    tg_basin_free(&basin);
    free(forcing);
    return last > first + 0.05 ? 0 : 1;
}
