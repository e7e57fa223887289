/* gemm_stats.c — process-wide counters of the time and FLOPs spent in matrix products, for
 * benchmarks that must say how much of a step is GEMM work and how close that work runs to
 * the machine's limit. Off by default: each product then pays one load of a flag. */
#include <omp.h>

#include "internal.h"

int tg__gemm_stats_on;
static double stat_seconds, stat_flops;
static long stat_calls;

void tg__gemm_stats_add(double seconds, double flops)
{
#pragma omp critical(tg_gemm_stats)
    {
        stat_seconds += seconds;
        stat_flops += flops;
        stat_calls++;
    }
}

double tg__gemm_stats_clock(void) { return omp_get_wtime(); }

void tg_gemm_stats_enable(int on)
{
    if (on) {
        stat_seconds = stat_flops = 0.0;
        stat_calls = 0;
    }
    tg__gemm_stats_on = on ? 1 : 0;
}

void tg_gemm_stats_get(double *seconds, double *flops, long *calls)
{
    if (seconds) *seconds = stat_seconds;
    if (flops) *flops = stat_flops;
    if (calls) *calls = stat_calls;
}
