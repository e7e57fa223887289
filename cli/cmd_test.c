/* cmd_test.c — `terragrad test RUN_DIR [--period test|valid|train]`. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "commands.h"
#include "terragrad.h"

int tg_cmd_test(int argc, char **argv)
{
    const char *run = NULL, *period = "test";
    int extremes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: terragrad test RUN_DIR [--period test|valid|train] [--extremes]\n\n"
                   "Runs the trained model of RUN_DIR over the period (with the training warm-up\n"
                   "before it), and writes metrics_<period>.csv (per basin: NSE, KGE, KGE', ...),\n"
                   "predictions_<period>/<basin>.csv and predictions_<period>.nc; prints the\n"
                   "median and mean of every metric over basins. Log: test.log for the test\n"
                   "period, eval_<period>.log for the others. outputs_<period>.source records\n"
                   "which checkpoint they came from (terragrad plot refuses outputs of an older one).\n"
                   "A run folder another process is writing (RUN_DIR/.lock) is refused.\n"
                   "--extremes also scores floods above the training period's maximum observed flow\n"
                   "and the driest years (extremes_<period>.csv, medians in the log; docs/metrics.md).\n");
            return 0;
        } else if (!strcmp(argv[i], "--period") && i + 1 < argc) {
            period = argv[++i];
            if (strcmp(period, "test") && strcmp(period, "valid") && strcmp(period, "train")) {
                fprintf(stderr, "terragrad test: --period must be test, valid or train\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--extremes")) {
            extremes = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad test: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else
            run = argv[i];
    }
    if (!run) {
        fprintf(stderr, "terragrad test: no run directory given (see --help)\n");
        return 2;
    }
    struct stat st;
    if (stat(run, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "terragrad test: %s: no such run folder\n", run);
        return 1;
    }
    /* one process writes a run folder at a time (root rank: the others write nothing) */
    tg_run_lock lock = {-1};
    char command[1024], ckpt[4200], source[64];
    tg_cli_command_line(command, sizeof command, argc, argv);
    int rc = tg_dist_is_root() ? tg_run_lock_acquire(&lock, run, command) : 0, any = rc;
    tg_dist_max_int(&any, 1);
    if (!any)
        rc = tg_evaluate(run, period);
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    snprintf(source, sizeof source, "outputs_%s.source", period);
    if (!rc && tg_dist_is_root() && tg_run_ensemble_seeds(run, NULL, 0) == 0) /* members: their own */
        rc = tg_run_provenance_write(run, source, ckpt);
    if (!rc && !any && extremes)
        rc = tg_extremes_run(run, period, NULL);
    tg_run_lock_release(&lock);
    if (rc || any) {
        if (rc)
            fprintf(stderr, "terragrad test: %s\n", tg_error_message());
        return 1;
    }
    return 0;
}
