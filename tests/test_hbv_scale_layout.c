/* test_hbv_scale_layout.c — the (R, B, np, M) parameter maps used by terragrad.torch equal a
 * transposed copy followed by tg_hbv_scale_forward / _backward, bit for bit, for the static
 * (all parameters) and the dynamic (a mask) layouts; the backward writes, not accumulates. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void check_mask(int R, uint32_t mask, int B, int M)
{
    int np = 0;
    for (int p = 0; p < TG_HBV_NPARAM_MAX; p++)
        np += (int)((mask >> p) & 1u);
    const size_t n = (size_t)R * np * B * M;
    tg_real *u = malloc(n * sizeof *u), *ut = malloc(n * sizeof *ut), *a = malloc(n * sizeof *a);
    tg_real *b = malloc(n * sizeof *b);
    for (size_t i = 0; i < n; i++)
        u[i] = (tg_real)((double)((i * 2654435761u) % 1000) / 999.0);
    /* reference: (R, B, np, M) -> (R, np, B, M), then the kernels' map */
    for (int r = 0; r < R; r++)
        for (int bb = 0; bb < B; bb++)
            for (int k = 0; k < np; k++)
                for (int m = 0; m < M; m++)
                    ut[(((size_t)r * np + k) * B + bb) * M + m] = u[(((size_t)r * B + bb) * np + k) * M + m];
    tg_hbv_scale_forward(a, ut, R, mask, B * M);
    tg_hbv_scale_forward_bpm(b, u, R, mask, B, M);
    CHECK(!memcmp(a, b, n * sizeof *a), "forward (R %d, mask 0x%x): differs from transpose + scale", R, (unsigned)mask);
    /* backward: the kernels' map accumulates into zeros, then back to (R, B, np, M) */
    memset(a, 0, n * sizeof *a);
    tg_hbv_scale_backward(a, ut, R, mask, B * M);
    for (size_t i = 0; i < n; i++)
        b[i] = (tg_real)12345; /* the bpm backward must overwrite, not add */
    tg_hbv_scale_backward_bpm(b, ut, R, mask, B, M);
    int bad = 0;
    for (int r = 0; r < R; r++)
        for (int bb = 0; bb < B; bb++)
            for (int k = 0; k < np; k++)
                for (int m = 0; m < M; m++)
                    bad += a[(((size_t)r * np + k) * B + bb) * M + m] != b[(((size_t)r * B + bb) * np + k) * M + m];
    CHECK(bad == 0, "backward (R %d, mask 0x%x): %d of %zu values differ", R, (unsigned)mask, bad, n);
    free(u), free(ut), free(a), free(b);
}

int main(void)
{
    check_mask(1, TG_HBV_ALL_PARAMS, 7, 16);                    /* static, δHBV 1.0 */
    check_mask(1, TG_HBV_ALL_PARAMS_CAP, 5, 3);                 /* static, 1.1p */
    check_mask(11, (1u << 0) | (1u << 12), 7, 16);              /* dynamic BETA, BETAET */
    check_mask(4, (1u << 2) | (1u << TG_HBV_C), 3, 1);          /* dynamic K0, C; M = 1 */
    return tg_test_summary();
}
