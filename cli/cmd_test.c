/* cmd_test.c — `terragrad test RUN_DIR [--period test|valid|train]`. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "train/train_internal.h"

int tg_cmd_test(int argc, char **argv)
{
    const char *run = NULL, *period = "test";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: terragrad test RUN_DIR [--period test|valid|train]\n\n"
                   "Runs the trained model of RUN_DIR over the period (with the training warm-up\n"
                   "before it), and writes metrics_<period>.csv (per basin: NSE, KGE, KGE', ...),\n"
                   "predictions_<period>/<basin>.csv and predictions_<period>.nc; prints the\n"
                   "median and mean of every metric over basins. Log: test.log for the test\n"
                   "period, eval_<period>.log for the others.\n");
            return 0;
        } else if (!strcmp(argv[i], "--period") && i + 1 < argc) {
            period = argv[++i];
            if (strcmp(period, "test") && strcmp(period, "valid") && strcmp(period, "train")) {
                fprintf(stderr, "terragrad test: --period must be test, valid or train\n");
                return 2;
            }
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
    if (tg_evaluate(run, period)) {
        fprintf(stderr, "terragrad test: %s\n", tg_error_message());
        return 1;
    }
    return 0;
}
