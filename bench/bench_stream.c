/* bench_stream.c — the machine's memory bandwidth, the limit of the memory-bound HBV op:
 * a STREAM-style triad a[i] = b[i] + s * c[i] over three arrays far larger than the caches,
 * best of N repeats (McCalpin's convention: the best run approaches the sustainable rate).
 * Counts 3 arrays x 8 bytes per element (2 reads + 1 write; write-allocate traffic not
 * counted, as in STREAM).
 *
 *   usage: bench_stream [--mb MB_PER_ARRAY=256] [--repeats N=10] [--threads N=1]
 * Prints one JSON line. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    int mb = 256, repeats = 10, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc)
            mb = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_stream [--mb MB_PER_ARRAY] [--repeats N] [--threads N]\n");
            return 2;
        }
    }
    if (mb < 1 || repeats < 1 || threads < 1) {
        fprintf(stderr, "bench_stream: --mb, --repeats and --threads must be >= 1\n");
        return 2;
    }
    omp_set_num_threads(threads);
    size_t n = (size_t)mb * 1048576 / sizeof(double);
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "bench_stream: out of memory for 3 x %d MB\n", mb);
        return 1;
    }
    /* first touch by the threads that use the pages */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = 0.0, b[i] = 1.0, c[i] = 2.0;
    double best = 1e30, s = 3.0;
    for (int r = 0; r < repeats; r++) {
        double t0 = bench_wall();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        double t = bench_wall() - t0;
        if (t < best)
            best = t;
    }
    /* read a result so the loop is not removed; every a[i] is 1 + 3 * 2 = 7 */
    double check = a[n / 2] + a[n - 1];
    double gbs = 3.0 * (double)n * sizeof(double) / best / 1e9;
    printf("{\"bench\": \"stream_triad\", \"threads\": %d, \"mb_per_array\": %d, \"best_s\": %.6f, "
           "\"bandwidth_gb_s\": %.2f, \"check\": %g}\n",
           threads, mb, best, gbs, check);
    free(a), free(b), free(c);
    return check == 14.0 ? 0 : 1;
}
