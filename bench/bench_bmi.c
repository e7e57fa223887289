/* bench_bmi.c — the cost of one BMI update for one basin, called the way a framework
 * calls libterragrad_bmi each day: set the three inputs, update, get the runoff.
 * Model: HBV with given parameters (one component, routed, warm-up policy none; the
 * config is written to a temporary file), or any BMI config given on the command line
 * (e.g. a trained lstm / dhbv run, docs/bmi.md). Forcing is a synthetic daily series
 * (the cost does not depend on the values). Median over `runs` repetitions of `days`
 * updates, after one untimed repetition; wall and CPU time per update in µs.
 * The module's HBV step runs inside an OpenMP region of the library's kernel: set
 * OMP_NUM_THREADS=1 for a framework that steps many basins in parallel itself.
 *
 *   usage: bench_bmi [lib=bmi/libterragrad_bmi.so] [config.yaml (default: HBV)] [days=3650] [runs=7]
 *   (run from the build folder; report timings only on a quiet machine) */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bmi/bmi.h"
#include "bench_util.h"

static const char *hbv_config =
    "model: hbv\nbasin: bench\nstart: 2000-01-01\nwarmup:\n  policy: none\n"
    "hbv:\n  routing:\n    a: 2.5\n    theta: 1.5\n  parameters:\n    BETA: [2.5]\n    FC: [250]\n    K0: [0.3]\n"
    "    K1: [0.1]\n    K2: [0.02]\n    LP: [0.7]\n    PERC: [2]\n    UZL: [20]\n    TT: [0]\n    CFMAX: [3.5]\n"
    "    CFR: [0.05]\n    CWH: [0.1]\n    BETAET: [1.5]\n";

static int step_days(Bmi *m, int days, int t0, double *sum)
{
    for (int t = t0; t < t0 + days; t++) {
        /* rain on two days of five, a seasonal temperature and PET */
        double p = (t % 5 < 2) ? 4.0 + (t % 7) : 0.0, temp = 8.0 + 12.0 * sin(6.2832 * t / 365.0),
               pet = 2.0 + 1.5 * sin(6.2832 * t / 365.0), q = 0;
        if (m->set_value(m, "atmosphere_water__liquid_equivalent_precipitation_rate", &p) ||
            m->set_value(m, "land_surface_air__temperature", &temp) ||
            m->set_value(m, "land_surface_water__potential_evaporation_volume_flux", &pet) || m->update(m) ||
            m->get_value(m, "land_surface_water__runoff_volume_flux", &q))
            return 1;
        *sum += q;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *lib = argc > 1 ? argv[1] : "bmi/libterragrad_bmi.so";
    const char *config = argc > 2 && strcmp(argv[2], "-") ? argv[2] : NULL;
    int days = argc > 3 ? atoi(argv[3]) : 3650, runs = argc > 4 ? atoi(argv[4]) : 7;
    if (days < 1 || runs < 1 || runs > 99) {
        fprintf(stderr, "usage: bench_bmi [lib] [config.yaml|-] [days >= 1] [runs 1..99]\n");
        return 2;
    }
    char tmp[] = "/tmp/bench_bmi_XXXXXX.yaml";
    if (!config) {
        int fd = mkstemps(tmp, 5);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f || fputs(hbv_config, f) < 0 || fclose(f)) {
            fprintf(stderr, "bench_bmi: cannot write %s\n", tmp);
            return 1;
        }
        config = tmp;
    }
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    Bmi *(*reg)(Bmi *) = NULL;
    if (h)
        *(void **)&reg = dlsym(h, "register_bmi_terragrad");
    if (!reg) {
        fprintf(stderr, "bench_bmi: %s: %s\n", lib, dlerror());
        return 1;
    }
    Bmi m;
    reg(&m);
    if (m.initialize(&m, config)) {
        fprintf(stderr, "bench_bmi: initialize %s failed\n", config);
        return 1;
    }
    double wall[100], cpu[100], sum = 0;
    int rc = step_days(&m, days, 0, &sum); /* untimed */
    for (int r = 0; !rc && r < runs; r++) {
        double w0 = bench_wall(), c0 = bench_cpu();
        rc = step_days(&m, days, (r + 1) * days, &sum);
        wall[r] = (bench_wall() - w0) / days * 1e6;
        cpu[r] = (bench_cpu() - c0) / days * 1e6;
    }
    m.finalize(&m);
    if (config == tmp)
        remove(tmp);
    if (rc) {
        fprintf(stderr, "bench_bmi: a BMI call failed\n");
        return 1;
    }
    qsort(wall, (size_t)runs, sizeof(double), bench_cmp_double);
    qsort(cpu, (size_t)runs, sizeof(double), bench_cmp_double);
    printf("bench_bmi: %s, %d updates x %d runs: median %.3f us/update wall, %.3f us CPU (checksum %.6g)\n",
           argc > 2 && strcmp(argv[2], "-") ? argv[2] : "HBV 1 component, routed", days, runs, wall[runs / 2],
           cpu[runs / 2], sum);
    return 0;
}
