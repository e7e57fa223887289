/* bench_util.h — the timing and statistics helpers that every bench/bench_*.c shares:
 * read a clock in seconds, and the median / minimum of a set of timings.
 * Header-only (static inline); clock_gettime and clockid_t need POSIX, which the build
 * provides through _DEFAULT_SOURCE (a PUBLIC definition of terragrad_lib). */
#ifndef TG_BENCH_UTIL_H
#define TG_BENCH_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds on clock `id`: CLOCK_MONOTONIC (wall) or CLOCK_PROCESS_CPUTIME_ID (CPU time of
 * the process, all threads; the steadier figure on a shared machine). */
static inline double bench_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline double bench_wall(void) { return bench_seconds(CLOCK_MONOTONIC); }
static inline double bench_cpu(void) { return bench_seconds(CLOCK_PROCESS_CPUTIME_ID); }

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..n) ascending, in place. */
static inline void bench_sort(double *v, int n)
{
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
}

/* Median of v[0..n) (mean of the two middle values when n is even), computed on a copy:
 * the caller's array keeps its order. NaN when n < 1 or the copy cannot be allocated. */
static inline double bench_median(const double *v, int n)
{
    if (n < 1)
        return NAN;
    double buf[64], *s = n <= 64 ? buf : malloc(sizeof(double) * (size_t)n);
    if (!s)
        return NAN;
    memcpy(s, v, sizeof(double) * (size_t)n);
    bench_sort(s, n);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    if (s != buf)
        free(s);
    return m;
}

/* Smallest of v[0..n); NaN when n < 1. */
static inline double bench_minimum(const double *v, int n)
{
    if (n < 1)
        return NAN;
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

#endif /* TG_BENCH_UTIL_H */
