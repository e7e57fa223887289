/* cmd_cv.c — `terragrad cv CONFIG --folds K [--by ATTRIBUTE] [--out DIR] [--overwrite]
 * [--set KEY=VALUE]...`: spatial k-fold cross-validation (tg_cross_validate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "terragrad.h"

static void usage(void)
{
    printf("usage: terragrad cv CONFIG.yaml --folds K [--by ATTRIBUTE] [--out DIR] [--overwrite]\n"
           "                    [--folds-only] [--set KEY=VALUE]...\n\n"
           "Spatial k-fold cross-validation (prediction in ungauged basins): the basins of the\n"
           "config are split into K folds, deterministically from the config's seed; --by spreads\n"
           "every value of ATTRIBUTE (a column of the data folder's basins.csv such as huc_02, or a\n"
           "static attribute of data.attributes) over the folds in turn. Fold k is trained in\n"
           "DIR/fold_<k> on the other folds' basins (DIR/fold_<k>_train.txt) and scores only its own\n"
           "held-out basins (DIR/fold_<k>_test.txt) on the test period, with its own normalisation:\n"
           "DIR/fold_<k>/heldout/. Writes DIR/folds.csv (basin, fold, stratum), DIR/cv_metrics.csv\n"
           "(basin, fold and every metric: each basin once, by the model that never saw it),\n"
           "DIR/cv_summary.csv (median and mean per metric) and DIR/cv.log.\n"
           "Default DIR: runs/cv_<config name> in the config's folder. --overwrite retrains folds\n"
           "that already hold a run.\n"
           "--folds-only writes folds.csv and the fold lists and trains nothing.\n"
           "--set overrides config keys for every fold (as train --set). Under mpirun every fold\n"
           "trains data-parallel as terragrad train does.\n");
}

int tg_cmd_cv(int argc, char **argv)
{
    const char *config = NULL;
    tg_cv_options o = {0};
    const char *sets[TG_CLI_MAX_SET];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (!strcmp(argv[i], "--folds") && i + 1 < argc) {
            char *end;
            long k = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || k < 2 || k > 1000) {
                fprintf(stderr, "terragrad cv: --folds '%s': an integer from 2 to 1000\n", argv[i]);
                return 2;
            }
            o.folds = (int)k;
        } else if (!strcmp(argv[i], "--by") && i + 1 < argc)
            o.by = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            o.out_dir = argv[++i];
        else if (!strcmp(argv[i], "--overwrite"))
            o.overwrite = 1;
        else if (!strcmp(argv[i], "--folds-only"))
            o.folds_only = 1;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (tg_cli_add_set("cv", sets, &o.n_set, argv[++i]))
                return 2;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad cv: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (!config)
            config = argv[i];
        else {
            fprintf(stderr, "terragrad cv: more than one config given ('%s')\n", argv[i]);
            return 2;
        }
    }
    if (!config || !o.folds) {
        fprintf(stderr, "terragrad cv: %s is required (see --help)\n", !config ? "a config" : "--folds K");
        return 2;
    }
    o.set = sets;
    if (tg_cross_validate(config, &o)) {
        fprintf(stderr, "terragrad cv: %s\n", tg_error_message());
        return 1;
    }
    return 0;
}
