/* bench_bmi.c — the cost of one BMI update for one basin, called the way a framework
 * calls libterragrad_bmi each day: set the three inputs, update, get the runoff.
 * Models:
 *   -            HBV with given parameters (one component, routed, warm-up policy none; the
 *                config is written to a temporary file);
 *   CONFIG.yaml  any BMI config (docs/bmi.md);
 *   RUNS_DIR     all three kinds: the HBV above, then the trained runs RUNS_DIR/run_lstm and
 *                RUNS_DIR/run_dhbv (model.type lstm, dhbv) for basin BASIN from 1991-01-01
 *                (warm-up from the run's data; dhbv_static: warmup, so no end day) — e.g.
 *                BUILD/tests/test_bmi.work after `ctest -R test_bmi` (hidden size 16; the
 *                line printed gives the run's hidden size, which sets the LSTM's cost).
 * Forcing is a synthetic daily series (the cost does not depend on the values). Median over
 * `runs` repetitions of `days` updates, after one untimed repetition; wall and CPU time
 * per update in µs. The lstm kind re-runs the LSTM over `training.warmup` days on the first
 * day of every `training.horizon` block (as terragrad test): its per-update cost is that
 * amortised over the block. The module's steps run the library's kernels inside OpenMP
 * regions: set OMP_NUM_THREADS=1 for a framework that steps many basins in parallel itself.
 *
 *   usage: bench_bmi [lib=bmi/libterragrad_bmi.so] [config.yaml | - | RUNS_DIR] [days=3650] [runs=7]
 *                    [basin=01022500 (RUNS_DIR)]
 *   (run from the build folder; report timings only on a quiet machine) */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>

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

/* Times one config; prints one line labelled `label` (net: with the LSTM hidden size). */
static int bench_one(Bmi *(*reg)(Bmi *), const char *config, const char *label, int net, int days, int runs)
{
    Bmi m;
    reg(&m);
    if (m.initialize(&m, config)) {
        fprintf(stderr, "bench_bmi: initialize %s failed\n", config);
        m.finalize(&m);
        return 1;
    }
    int grid = -1, hidden = 0;
    if (net && m.get_var_grid(&m, "state__lstm_hidden", &grid) == BMI_SUCCESS)
        m.get_grid_size(&m, grid, &hidden);
    double wall[100], cpu[100], sum = 0;
    int rc = step_days(&m, days, 0, &sum); /* untimed */
    for (int r = 0; !rc && r < runs; r++) {
        double w0 = bench_wall(), c0 = bench_cpu();
        rc = step_days(&m, days, (r + 1) * days, &sum);
        wall[r] = (bench_wall() - w0) / days * 1e6;
        cpu[r] = (bench_cpu() - c0) / days * 1e6;
    }
    m.finalize(&m);
    if (rc) {
        fprintf(stderr, "bench_bmi: %s: a BMI call failed\n", label);
        return 1;
    }
    qsort(wall, (size_t)runs, sizeof(double), bench_cmp_double);
    qsort(cpu, (size_t)runs, sizeof(double), bench_cmp_double);
    char what[600];
    if (hidden > 0)
        snprintf(what, sizeof what, "%s (LSTM hidden %d)", label, hidden);
    else
        snprintf(what, sizeof what, "%s", label);
    printf("bench_bmi: %s, %d updates x %d runs: median %.3f us/update wall, %.3f us CPU (checksum %.6g)\n", what,
           days, runs, wall[runs / 2], cpu[runs / 2], sum);
    return 0;
}

/* Writes text to a new temporary YAML file; its name into path (a mkstemps template). */
static int write_tmp(char *path, const char *text)
{
    int fd = mkstemps(path, 5);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        fprintf(stderr, "bench_bmi: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *lib = argc > 1 ? argv[1] : "bmi/libterragrad_bmi.so";
    const char *config = argc > 2 && strcmp(argv[2], "-") ? argv[2] : NULL;
    int days = argc > 3 ? atoi(argv[3]) : 3650, runs = argc > 4 ? atoi(argv[4]) : 7;
    const char *basin = argc > 5 ? argv[5] : "01022500";
    if (days < 1 || runs < 1 || runs > 99) {
        fprintf(stderr, "usage: bench_bmi [lib] [config.yaml|-|RUNS_DIR] [days >= 1] [runs 1..99] [basin]\n");
        return 2;
    }
    struct stat st;
    const int all = config && stat(config, &st) == 0 && S_ISDIR(st.st_mode);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    Bmi *(*reg)(Bmi *) = NULL;
    if (h)
        *(void **)&reg = dlsym(h, "register_bmi_terragrad");
    if (!reg) {
        fprintf(stderr, "bench_bmi: %s: %s\n", lib, dlerror());
        return 1;
    }
    if (config && !all)
        return bench_one(reg, config, config, 1, days, runs);
    char tmp[3][64] = {"/tmp/bench_bmi_XXXXXX.yaml", "/tmp/bench_bmi_XXXXXX.yaml", "/tmp/bench_bmi_XXXXXX.yaml"};
    int rc = write_tmp(tmp[0], hbv_config);
    if (!rc)
        rc = bench_one(reg, tmp[0], "hbv: 1 component, routed", 0, days, runs);
    char dir[4096] = "";
    if (all && !realpath(config, dir)) /* the temporary configs live in /tmp: an absolute run_dir */
        rc = 1;
    for (int k = 0; all && !rc && k < 2; k++) {
        const char *kind = k ? "dhbv" : "lstm";
        char text[5000], label[600];
        snprintf(text, sizeof text,
                 "model: %s\nbasin: '%s'\nstart: 1991-01-01\nwarmup:\n  policy: data\nrun_dir: %s/run_%s\n%s", kind,
                 basin, dir, kind, k ? "dhbv_static: warmup\n" : "");
        snprintf(label, sizeof label, "%s: %s/run_%s, basin %s", kind, config, kind, basin);
        rc = write_tmp(tmp[k + 1], text);
        if (!rc)
            rc = bench_one(reg, tmp[k + 1], label, 1, days, runs);
    }
    for (int k = 0; k < 3; k++)
        if (strcmp(tmp[k], "/tmp/bench_bmi_XXXXXX.yaml"))
            remove(tmp[k]);
    return rc;
}
