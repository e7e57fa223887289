/* bench_pinn.c — time per PINN training iteration on Burgers' equation, the same problem
 * as the PyTorch peer ../shared/peer/pinn_bench.py: network 2 -> 20 x 8 (tanh) -> 1,
 * residual u_t + u u_x - (0.01/pi) u_xx at N_f collocation points (u_x, u_t, u_xx from
 * the fused Taylor-mode op), plus MSE on 100 initial/boundary points, backward to the
 * weights, one Adam step (lr 1e-3).
 *
 *   bench_pinn [--threads N] [--steps S] [--nf N] [--peer]
 * prints one JSON line; --peer then runs the Python peer with the same threads, steps and
 * N_f right after (back to back) and prints its line and the speed-up of the medians.
 * Precision is the build's (float by default, as the peer's default float32). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_util.h"
#include "terragrad.h"

typedef struct {
    tg_params *ps;
    tg_pinn_net net;
    tg_jet_spec spec2, spec0;
    int nf, nu;
    tg_real *xf, *xu, *uu;
} bench;

static double step(bench *b, tg_ctx *ctx, tg_optim *opt)
{
    const tg_real nu = (tg_real)(0.01 / 3.14159265358979323846);
    tg_jet in, u, inu, uj;
    tg_jet_coords(&in, tg_from(ctx, TG_SHAPE(b->nf, 2), b->xf), &b->spec2);
    tg_pinn_net_jet(ctx, b->ps, &b->net, &in, &u);
    /* f = u_t + u u_x - nu u_xx */
    tg_tensor *f = tg_sub(ctx, tg_add(ctx, u.d[1], tg_mul(ctx, u.v, u.d[0])), tg_muls(ctx, u.dd[0], nu));
    tg_jet_coords(&inu, tg_from(ctx, TG_SHAPE(b->nu, 2), b->xu), &b->spec0);
    tg_pinn_net_jet(ctx, b->ps, &b->net, &inu, &uj);
    tg_tensor *e = tg_sub(ctx, uj.v, tg_from(ctx, TG_SHAPE(b->nu, 1), b->uu));
    tg_tensor *loss = tg_add(ctx, tg_mean(ctx, tg_mul(ctx, f, f)), tg_mean(ctx, tg_mul(ctx, e, e)));
    if (!loss || tg_backward(ctx, loss) || tg_optim_step(opt, b->ps)) {
        fprintf(stderr, "bench_pinn: %s\n", tg_error_message());
        exit(1);
    }
    double L = (double)loss->data[0];
    tg_ctx_reset(ctx);
    return L;
}

int main(int argc, char **argv)
{
    int threads = 1, steps = 20, nf = 10000, peer = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nf") && i + 1 < argc)
            nf = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--peer"))
            peer = 1;
        else {
            fprintf(stderr, "usage: bench_pinn [--threads N] [--steps S] [--nf N] [--peer]\n");
            return 2;
        }
    }
    if (steps < 1 || nf < 1 || threads < 1)
        return 2;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    bench b = {0};
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    b.ps = tg_params_create();
    int sizes[10] = {2, 20, 20, 20, 20, 20, 20, 20, 20, 1};
    /* the peer feeds raw (x, t) to the first layer: no input scaling here either */
    tg_pinn_net_init(&b.net, b.ps, "u", 9, sizes, TG_PINN_TANH, NULL, NULL, &rng);
    tg_jet_spec_init(&b.spec2, 2, 1, (const int[][2]){{0, 0}});
    tg_jet_spec_init(&b.spec0, 2, 0, NULL);
    b.nf = nf, b.nu = 100;
    b.xf = malloc((size_t)nf * 2 * sizeof *b.xf);
    b.xu = malloc(200 * sizeof *b.xu);
    b.uu = malloc(100 * sizeof *b.uu);
    for (int k = 0; k < nf; k++) {
        b.xf[2 * k] = (tg_real)(2 * tg_rng_uniform(&rng) - 1);
        b.xf[2 * k + 1] = (tg_real)tg_rng_uniform(&rng);
    }
    for (int k = 0; k < 100; k++) { /* 50 initial points, then 25 at x = -1 and 25 at x = 1 */
        double x = k < 50 ? 2 * tg_rng_uniform(&rng) - 1 : (k < 75 ? -1 : 1);
        double t = k < 50 ? 0 : tg_rng_uniform(&rng);
        b.xu[2 * k] = (tg_real)x, b.xu[2 * k + 1] = (tg_real)t;
        b.uu[k] = (tg_real)(k < 50 ? -sin(3.14159265358979323846 * x) : 0);
    }
    tg_optim *opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = 1e-3}, b.ps);
    tg_ctx *ctx = tg_ctx_create();
    step(&b, ctx, opt); /* warm-up: arena growth, page faults */
    double *t = malloc((size_t)steps * sizeof *t), *c = malloc((size_t)steps * sizeof *c), L = 0;
    double *tm = malloc((size_t)steps * sizeof *tm), mlp_flop = 0;
    for (int s = 0; s < steps; s++) {
        tg_gemm_stats_enable(1); /* the fused MLP's product FLOPs and time, this iteration */
        double t0 = bench_wall(), c0 = bench_cpu();
        L = step(&b, ctx, opt);
        t[s] = bench_wall() - t0;
        c[s] = bench_cpu() - c0;
        tg_gemm_stats_get(&tm[s], &mlp_flop, NULL);
    }
    tg_gemm_stats_enable(0);
    bench_sort(tm, steps);
    bench_sort(t, steps); /* in place: t[steps / 2] is the median reported (the upper one when */
    bench_sort(c, steps); /* steps is even), t[0] the minimum */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double med = t[steps / 2];
    printf("{\"bench\": \"pinn_burgers\", \"impl\": \"terragrad\", \"threads\": %d, \"nf\": %d, \"layers\": 8, "
           "\"width\": 20, \"dtype\": \"%s\", \"iter_s_median\": %.6f, \"iter_s_min\": %.6f, "
           "\"iter_cpu_s_median\": %.6f, \"loss_last\": %.6g, \"peak_rss_mb\": %.1f, "
           "\"mlp_product_gflop_iter\": %.4f, \"mlp_s_median\": %.6f, \"mlp_gflops\": %.1f, \"iter_gflops\": %.1f}\n",
           threads, nf, TG_REAL_NAME, med, t[0], c[steps / 2], L, (double)ru.ru_maxrss / 1024, mlp_flop / 1e9,
           tm[steps / 2], mlp_flop / 1e9 / tm[steps / 2], mlp_flop / 1e9 / med);
    fflush(stdout);
    if (peer) {
        /* the peer next to the checkout: <root>/bench/bench_pinn.c -> <root>/../shared/peer */
        char root[512], cmd[1024], line[1024];
        snprintf(root, sizeof root, "%s", __FILE__);
        char *cut = strstr(root, "/bench/bench_pinn.c");
        if (cut)
            *cut = 0;
        else
            snprintf(root, sizeof root, ".");
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/../shared/peer/pinn_bench.py --threads %d --steps %d --nf %d%s",
                 root, threads, steps, nf,
#ifdef TG_DOUBLE
                 " --double"
#else
                 ""
#endif
        );
        FILE *p = popen(cmd, "r");
        double pm = NAN;
        while (p && fgets(line, sizeof line, p)) {
            fputs(line, stdout);
            char *q = strstr(line, "\"iter_s_median\": ");
            if (q)
                pm = atof(q + 17);
        }
        if (p)
            pclose(p);
        printf("{\"speedup_median\": %.2f}\n", pm / med);
    }
    free(t), free(c), free(tm), free(b.xf), free(b.xu), free(b.uu);
    tg_ctx_free(&ctx);
    tg_optim_free(&opt);
    tg_params_free(&b.ps);
    return 0;
}
