/* cmd_pinn.c — `terragrad pinn CONFIG --out DIR`: train a physics-informed neural network
 * from a YAML config, print progress with an ETA, write the solution, coefficients, loss
 * history and figures. Config keys: docs/pinn.md (or --print-schema). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "terragrad.h"
#include "terragrad.h"
#include "terragrad/config.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: terragrad pinn CONFIG --out DIR [--data DIR] [--threads N] [--quiet] [--no-plots]\n"
               "       terragrad pinn --print-schema\n\n"
               "Trains a PINN (cases: burgers, reaction, poisson1d, richards) and writes DIR/solution.csv\n"
               "(coordinates and u on the reference grid), DIR/coefficients.csv (name,value),\n"
               "DIR/loss_history.csv, DIR/summary.txt and PNG figures (gnuplot).\n"
               "  --data DIR     folder for relative reference paths (default $TG_SHARED_DATA,\n"
               "                 else ../shared/data)\n"
               "  --threads N    OpenMP threads (overrides the config)\n"
               "See docs/pinn.md and examples/pinn_*.yaml.\n");
}

typedef struct {
    int quiet;
    char phase;
    double phase_start, last_seconds; /* ETA from the rate of the current phase */
} progress_state;

static void fmt_time(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void progress(void *ud, const tg_pinn_progress *p)
{
    progress_state *st = ud;
    if (p->phase != st->phase) {
        st->phase = p->phase;
        st->phase_start = st->last_seconds;
    }
    st->last_seconds = p->seconds;
    if (st->quiet)
        return;
    double rate = p->iter > 0 ? (p->seconds - st->phase_start) / p->iter : (double)NAN;
    char eta[32], el[32];
    fmt_time(eta, sizeof eta, rate * (p->total - p->iter));
    fmt_time(el, sizeof el, p->seconds);
    printf("%-5s %6d/%-6d loss %.3e  res %.2e ic %.2e bc %.2e data %.2e", p->phase == 'a' ? "adam" : "lbfgs",
           p->iter, p->total, p->loss, p->term[0], p->term[1], p->term[2], p->term[3]);
    for (int k = 0; k < p->ncoef; k++)
        printf("  %s %.6g", p->coef_name[k], p->coef[k]);
    printf("  %s ETA %s\n", el, eta);
    fflush(stdout);
}

int tg_cmd_pinn(int argc, char **argv)
{
    const char *cfg_path = NULL, *out = NULL, *data = NULL;
    int threads = -1, quiet = 0, plots = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--print-schema")) {
            int n;
            const tg_cfg_key *s = tg_pinn_schema(&n);
            tg_cfg_schema_markdown(stdout, s, n);
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else if (!strcmp(argv[i], "--no-plots"))
            plots = 0;
        else if (argv[i][0] != '-' && !cfg_path)
            cfg_path = argv[i];
        else {
            fprintf(stderr, "terragrad pinn: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!cfg_path || !out) {
        usage(stderr);
        return 2;
    }
    if (!data)
        data = getenv("TG_SHARED_DATA");
    struct stat st;
    if (!data && stat("../shared/data", &st) == 0)
        data = "../shared/data";

    /* the results go to `out` at the end: create it (or fail) before any training */
    if (tg_out_dir_prepare(out)) {
        fprintf(stderr, "terragrad pinn: --out: %s\n", tg_error_message());
        return 1;
    }
    int n;
    const tg_cfg_key *schema = tg_pinn_schema(&n);
    tg_cfg *cfg = tg_cfg_load(cfg_path, schema, n);
    if (!cfg) {
        fprintf(stderr, "terragrad pinn: %s\n", tg_error_message());
        return 1;
    }
    tg_pinn_run *run = tg_pinn_run_create(cfg, data);
    if (!run) {
        fprintf(stderr, "terragrad pinn: %s\n", tg_error_message());
        tg_cfg_free(&cfg);
        return 1;
    }
    int rc = 0;
    const char *ref = tg_pinn_run_reference(run);
    if (!quiet)
        printf("terragrad pinn: case %s (%s build), reference %s\n", tg_cfg_str(cfg, "case"), TG_REAL_NAME,
               ref ? ref : "none (no error will be reported)");
    progress_state ps = {quiet, 0, 0, 0};
    if (threads > 0) /* --threads wins over the config */
        tg_pinn_run_set_threads(run, threads);
    /* the library only reads the thread count: the command sets it, and puts it back */
    const int keep_threads = omp_get_max_threads();
    if (tg_pinn_run_threads(run) > 0)
        omp_set_num_threads(tg_pinn_run_threads(run));
    rc = tg_pinn_run_train(run, progress, &ps);
    omp_set_num_threads(keep_threads);
    if (rc)
        fprintf(stderr, "terragrad pinn: training failed: %s\n", tg_error_message());
    int wrc = tg_pinn_run_write(run, out, plots && tg_cfg_bool(cfg, "output.plots"));
    if (wrc)
        fprintf(stderr, "terragrad pinn: %s\n", tg_error_message());
    if (!quiet || !rc) {
        double e = tg_pinn_run_rel_l2(run);
        const char *names[8];
        double val[8], truth[8];
        int learned[8], nc = tg_pinn_run_coefficients(run, 8, names, val, truth, learned);
        printf("wall time %.2f s", tg_pinn_run_seconds(run));
        if (!isnan(e))
            printf(", relative L2 error %.4e", e);
        printf("\n");
        for (int k = 0; k < nc; k++)
            if (learned[k])
                printf("  %s = %.8g (true %.8g, error %.3f%%)\n", names[k], val[k], truth[k],
                       100 * fabs(val[k] - truth[k]) / fabs(truth[k]));
        if (!wrc)
            printf("results in %s\n", out);
    }
    tg_pinn_run_free(&run);
    tg_cfg_free(&cfg);
    return rc || wrc ? 1 : 0;
}
