/* bench_tape.c — tape overhead: a chain of N small elementwise ops (shape 100x16) forward
 * and backward, in nanoseconds per op. The PyTorch twin is bench/tape_torch.py.
 * usage: bench_tape [--ops N] [--repeats R] [--mix cheap|transcendental]             */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "terragrad.h"

int main(int argc, char **argv)
{
    int nops = 100000, repeats = 5, transc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ops") && i + 1 < argc) nops = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mix") && i + 1 < argc) transc = !strcmp(argv[++i], "transcendental");
    }
    tg_ctx *ctx = tg_ctx_create();
    tg_real *init = malloc(1600 * sizeof(tg_real));
    for (int i = 0; i < 1600; i++) init[i] = TG_R(0.5) + TG_R(0.0001) * (tg_real)i;
    double *times = malloc((size_t)repeats * sizeof(double));
    double sink = 0;
    for (int r = 0; r < repeats + 1; r++) {
        double t0 = bench_wall();
        tg_tensor *x = tg_leaf(ctx, TG_SHAPE(100, 16), init);
        tg_tensor *w = tg_leaf(ctx, TG_SHAPE(100, 16), init);
        tg_tensor *y = x;
        /* A cycle of four ops keeps values bounded: y*w (w ~ 0.5..0.66), +x, *2, -w*... */
        for (int k = 0; k < nops; k++) {
            switch (k & 3) {
            case 0: y = transc ? tg_tanh(ctx, y) : tg_mul(ctx, y, w); break;
            case 1: y = tg_add(ctx, y, x); break;
            case 2: y = transc ? tg_sigmoid(ctx, y) : tg_muls(ctx, y, TG_R(0.5)); break;
            case 3: y = tg_sub(ctx, y, w); break;
            }
        }
        tg_tensor *l = tg_sum(ctx, y);
        if (!l || tg_backward(ctx, l)) {
            fprintf(stderr, "bench_tape: %s\n", tg_error_message());
            return 1;
        }
        sink += (double)x->grad[0];
        tg_ctx_reset(ctx);
        double t = bench_wall() - t0;
        if (r > 0) times[r - 1] = t; /* the first run grows the arena */
    }
    bench_sort(times, repeats); /* in place: times[repeats / 2], the upper median when repeats is even */
    double med = times[repeats / 2];
    printf("{\"impl\":\"terragrad\",\"precision\":\"%s\",\"threads\":%d,\"ops\":%d,\"mix\":\"%s\","
           "\"seconds_median\":%.6f,\"ns_per_op\":%.1f,\"arena_MB\":%.1f,\"check\":%g}\n",
           TG_REAL_NAME, omp_get_max_threads(), nops, transc ? "transcendental" : "cheap", med, 1e9 * med / nops,
           (double)tg_ctx_arena_bytes(ctx) / 1048576.0, sink);
    tg_ctx_free(&ctx);
    free(init);
    free(times);
    return 0;
}
