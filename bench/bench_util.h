/* bench_util.h — the helpers that every bench/bench_*.c shares: command-line options,
 * read a clock in seconds, and the median / minimum of a set of timings.
 * Header-only (static inline); clock_gettime and clockid_t need POSIX, which the build
 * provides through _DEFAULT_SOURCE (a PUBLIC definition of terragrad_lib). */
#ifndef TG_BENCH_UTIL_H
#define TG_BENCH_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

/* ------------------------------------------------------------------ options */
/* One command-line option of a benchmark: `--name VALUE` stored in *dst by kind, or a
 * flag (`--name` alone, sets an int to 1). */
typedef enum { BENCH_INT, BENCH_DOUBLE, BENCH_U64, BENCH_STR, BENCH_FLAG } bench_opt_kind;
typedef struct bench_opt {
    const char *name;
    bench_opt_kind kind;
    void *dst;
} bench_opt;

/* Parses argv[1..argc) against opts[0..n). Numbers must parse whole, so a typo is an error
 * and not a silent 0. `--help` / `-h` prints usage and exits 0. Returns 0, or 1 after a
 * message naming the program and the option on stderr. */
static inline int bench_parse_args(const char *prog, const char *usage, int argc, char **argv,
                                   const bench_opt *opts, int n)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("%s", usage);
            exit(0);
        }
        const bench_opt *o = NULL;
        for (int k = 0; k < n && !o; k++)
            if (!strcmp(a, opts[k].name))
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "%s: unknown option %s (--help lists them)\n", prog, a);
            return 1;
        }
        if (o->kind == BENCH_FLAG) {
            *(int *)o->dst = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, a);
            return 1;
        }
        const char *v = argv[++i];
        char *end = NULL;
        switch (o->kind) {
        case BENCH_INT: {
            long x = strtol(v, &end, 10);
            *(int *)o->dst = (int)x;
            break;
        }
        case BENCH_DOUBLE: *(double *)o->dst = strtod(v, &end); break;
        case BENCH_U64: *(uint64_t *)o->dst = (uint64_t)strtoull(v, &end, 10); break;
        default: *(const char **)o->dst = v; break;
        }
        if (end && (end == v || *end)) {
            fprintf(stderr, "%s: %s: '%s' is not a number\n", prog, a, v);
            return 1;
        }
    }
    return 0;
}

/* `--clock wall|cpu` (NULL = wall) as a clock id; -1 for anything else. */
static inline int bench_clock_named(const char *name, clockid_t *id)
{
    if (!name || !strcmp(name, "wall"))
        *id = CLOCK_MONOTONIC;
    else if (!strcmp(name, "cpu"))
        *id = CLOCK_PROCESS_CPUTIME_ID;
    else
        return -1;
    return 0;
}

#endif /* TG_BENCH_UTIL_H */
