/* cmd_predict.c — `terragrad predict RUN_DIR --data PATH --start D --end D --out DIR
 * [--basins FILE] [--set KEY=VALUE]...`: a trained run's streamflow, fluxes and states for
 * basins and days without observations. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "terragrad.h"

static void usage(void)
{
    printf("usage: terragrad predict RUN_DIR --data PATH --start D --end D --out DIR [--basins FILE]\n"
           "                         [--set KEY=VALUE]...\n\n"
           "Runs the trained model of RUN_DIR on the basins of PATH (a folder of the run's\n"
           "data.source; every basin in it, or those of --basins) from D to D (YYYY-MM-DD), with\n"
           "the run's own normalisation. No observed streamflow is needed: a Q column that is\n"
           "absent or all missing is fine. The warm-up (training.warmup days before --start) is\n"
           "read from the data: forcing that does not cover it, or an input missing on a day the\n"
           "model reads, is an error naming the file, field and dates. Writes into DIR:\n"
           "  predictions_predict/<basin>.csv  date, Q_obs (NA where not observed), Q and, for\n"
           "                                   process models, PET and every flux and state\n"
           "  predictions_predict.nc, params_predict.csv (process models: learned parameters),\n"
           "  attributes_range_predict.csv     static attributes outside the training range\n"
           "  eval_predict.log\n"
           "--set KEY=VALUE overrides a key of the run's config (checked like train --set).\n");
}

int tg_cmd_predict(int argc, char **argv)
{
    const char *run = NULL;
    tg_evaluate_options o = {.period = "predict", .predict_only = 1};
    const char *sets[TG_CLI_MAX_SET];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            o.data_dir = argv[++i];
        else if (!strcmp(argv[i], "--basins") && i + 1 < argc)
            o.basins_file = argv[++i];
        else if (!strcmp(argv[i], "--start") && i + 1 < argc)
            o.start = argv[++i];
        else if (!strcmp(argv[i], "--end") && i + 1 < argc)
            o.end = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            o.out_dir = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (tg_cli_add_set("predict", sets, &o.n_set, argv[++i]))
                return 2;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad predict: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (!run)
            run = argv[i];
        else {
            fprintf(stderr, "terragrad predict: more than one run folder given ('%s')\n", argv[i]);
            return 2;
        }
    }
    const char *missing = !run ? "a run folder" : !o.data_dir ? "--data" : !o.start ? "--start" : !o.end ? "--end"
                                                                       : !o.out_dir ? "--out" : NULL;
    if (missing) {
        fprintf(stderr, "terragrad predict: %s is required (see --help)\n", missing);
        return 2;
    }
    o.set = sets;
    return tg_cli_apply("predict", run, &o, argc, argv);
}
