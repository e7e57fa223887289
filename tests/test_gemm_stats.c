/* test_gemm_stats.c — the benchmarks' work accounting (tg_gemm_stats_*) counts exactly the
 * products that ran: 2 M N K FLOPs per product of a linear layer, its backward's two
 * products, and nothing while it is off. */
#include <stdlib.h>

#include "testutil.h"

int main(void)
{
    enum { N = 300, IN = 40, OUT = 30 };
    tg_real *x = calloc((size_t)N * IN, sizeof *x), *w = calloc((size_t)OUT * IN, sizeof *w);
    tg_real *y = calloc((size_t)N * OUT, sizeof *y), *dx = calloc((size_t)N * IN, sizeof *dx);
    tg_real *dw = calloc((size_t)OUT * IN, sizeof *dw), *dy = calloc((size_t)N * OUT, sizeof *dy);
    for (int i = 0; i < N * IN; i++) x[i] = (tg_real)((i % 7) * 0.1);
    for (int i = 0; i < OUT * IN; i++) w[i] = (tg_real)((i % 5) * 0.2);
    for (int i = 0; i < N * OUT; i++) dy[i] = (tg_real)((i % 3) * 0.3);
    double sec, flop;
    long calls;

    tg_gemm_stats_enable(0);
    tg_linear_forward(y, x, w, NULL, N, IN, OUT);
    tg_gemm_stats_get(&sec, &flop, &calls);
    CHECK(calls == 0 && flop == 0.0, "off: %ld calls, %g FLOPs counted", calls, flop);

    tg_gemm_stats_enable(1);
    tg_linear_forward(y, x, w, NULL, N, IN, OUT);
    tg_gemm_stats_get(&sec, &flop, &calls);
    CHECK(flop == 2.0 * N * IN * OUT, "forward: %g FLOPs, expected %g", flop, 2.0 * N * IN * OUT);
    CHECK(calls >= 1 && sec >= 0.0, "forward: %ld calls, %g s", calls, sec);

    tg_linear_backward(dx, dw, NULL, dy, x, w, N, IN, OUT);
    tg_gemm_stats_get(&sec, &flop, &calls);
    CHECK(flop == 3 * 2.0 * N * IN * OUT, "forward + backward: %g FLOPs, expected %g", flop, 6.0 * N * IN * OUT);

    tg_gemm_stats_enable(1); /* re-enabling resets */
    tg_gemm_stats_get(&sec, &flop, &calls);
    CHECK(calls == 0 && flop == 0.0 && sec == 0.0, "reset: %ld calls, %g FLOPs, %g s", calls, flop, sec);
    tg_gemm_stats_enable(0);
    free(x), free(w), free(y), free(dx), free(dw), free(dy);
    return tg_test_summary();
}
