/* hbv_simulate.c — HBV on arrays a program makes itself, through the installed library:
 * 3 basins x 2 components, two years of synthetic daily forcing, the fused forward with
 * every flux and state, a water-balance check, and the gradient of mean runoff with
 * respect to every parameter from the fused backward (adjoint).
 *
 *   cc hbv_simulate.c $(pkg-config --cflags --libs terragrad) -o hbv_simulate
 *   ./hbv_simulate            exit 0 when the water balance closes */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <terragrad.h>

enum { T = 730, B = 3, M = 2, L = B * M };

/* a small LCG, so the example needs nothing but the library */
static double uniform(unsigned long *s)
{
    *s = *s * 6364136223846793005UL + 1442695040888963407UL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

int main(void)
{
    if (TG_CHECK_ABI()) { /* refuses a float program on a double library and vice versa */
        fprintf(stderr, "%s\n", tg_error_message());
        return 1;
    }
    printf("terragrad %s (tg_real of %d bytes)\n", tg_version(), tg_real_size());

    static tg_real forcing[T * B * TG_HBV_NFORCING];      /* (T, B, 3) */
    static tg_real par[TG_HBV_NPARAM * L];                 /* (NPARAM, B, M) */
    static tg_real out[T * TG_HBV_NOUT * B];               /* (T, NOUT, B) */
    static tg_real state[TG_HBV_NSTATE * L];               /* (NSTATE, B, M) */
    unsigned long seed = 42;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            double season = sin(2 * 3.14159265358979 * (t - 100) / 365.0);
            tg_real *f = forcing + ((size_t)t * B + b) * TG_HBV_NFORCING;
            f[TG_HBV_F_P] = (tg_real)(uniform(&seed) < 0.3 ? 15 * uniform(&seed) : 0);
            f[TG_HBV_F_T] = (tg_real)(5 + 12 * season - 3 * b);
            f[TG_HBV_F_PET] = (tg_real)fmax(0.1, 2.5 + 2 * season);
        }
    /* parameters in the middle of their physical ranges, a little different per lane */
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        for (int l = 0; l < L; l++) {
            double lo = tg_hbv_param_range[p][0], hi = tg_hbv_param_range[p][1];
            par[p * L + l] = (tg_real)(lo + (0.35 + 0.3 * l / (L - 1)) * (hi - lo));
        }

    tg_hbv_config cfg;
    tg_hbv_config_init(&cfg, T, 0, B, M); /* no warm-up: the balance starts at 0.001 mm */
    cfg.warmup_grad = 1;
    tg_real *hist = malloc(tg_hbv_hist_size(&cfg) * sizeof(tg_real));
    if (!hist || tg_hbv_forward(out, NULL, state, hist, forcing, par, NULL, NULL, &cfg)) {
        fprintf(stderr, "hbv: %s\n", hist ? tg_error_message() : "out of memory");
        return 1;
    }

    /* water balance per basin: P = Q + ET + change of the five stores (component means) */
    int ok = 1;
    for (int b = 0; b < B; b++) {
        double p = 0, q = 0, et = 0, storage = 0;
        for (int t = 0; t < T; t++) {
            p += (double)forcing[((size_t)t * B + b) * TG_HBV_NFORCING + TG_HBV_F_P];
            q += (double)out[((size_t)t * TG_HBV_NOUT + TG_HBV_Q) * B + b];
            et += (double)out[((size_t)t * TG_HBV_NOUT + TG_HBV_ET) * B + b];
        }
        for (int s = 0; s < TG_HBV_NSTATE; s++)
            for (int m = 0; m < M; m++)
                storage += ((double)state[s * L + b * M + m] - TG_HBV_INIT_STORE) / M;
        double residual = p - q - et - storage;
        printf("basin %d: P %.1f mm = Q %.1f + ET %.1f + storage change %.1f  (residual %.2e mm)\n", b, p, q, et,
               storage, residual);
        ok &= fabs(residual) <= 1e-3 * p;
    }

    /* d(mean Q of basin 0) / d(parameter), from one reverse sweep */
    static tg_real seed_out[T * TG_HBV_NOUT * B], grad[TG_HBV_NPARAM * L];
    for (int t = 0; t < T; t++)
        seed_out[((size_t)t * TG_HBV_NOUT + TG_HBV_Q) * B + 0] = (tg_real)(1.0 / T);
    if (tg_hbv_backward(grad, NULL, NULL, NULL, seed_out, NULL, NULL, hist, forcing, par, NULL, &cfg)) {
        fprintf(stderr, "hbv backward: %s\n", tg_error_message());
        return 1;
    }
    printf("d mean(Q) / d parameter, basin 0 (summed over its components):\n");
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        printf("  %-7s %+.4e\n", tg_hbv_param_names[p], (double)(grad[p * L + 0] + grad[p * L + 1]));
    free(hist);
    printf(ok ? "water balance closes\n" : "WATER BALANCE DOES NOT CLOSE\n");
    return ok ? 0 : 1;
}
