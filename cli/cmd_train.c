/* cmd_train.c — `terragrad train CONFIG [--resume | --overwrite] [--out DIR] [--set KEY=VALUE]...
 * [--print-schema]`. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "terragrad.h"

/* training.threads: the library only reads the thread count, the command sets it. A
 * config that does not load is left to tg_train, which reports it. */
static void set_threads(const char *config)
{
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    tg_cfg *cfg = tg_cfg_load(config, schema, n_schema);
    if (!cfg) {
        tg_error_clear();
        return;
    }
    const int threads = (int)tg_cfg_int(cfg, "training.threads");
    if (threads > 0)
        omp_set_num_threads(threads);
    tg_cfg_free(&cfg);
}

int tg_cmd_train(int argc, char **argv)
{
    const char *config = NULL;
    tg_train_options opt = {0};
    const char *sets[TG_CLI_MAX_SET];
    int n_set = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: terragrad train CONFIG.yaml [--resume | --overwrite] [--out RUN_DIR]\n"
                   "                       [--set KEY=VALUE]...\n"
                   "       terragrad train --print-schema\n\n"
                   "Trains a model (LSTM baseline or δHBV) on catchment data as the config says.\n"
                   "The run directory gets config.yaml, normalisation.txt, train.log, loss.csv and\n"
                   "last.ckpt (written atomically after every epoch, with the weights, optimizer,\n"
                   "random generator and sampler state and a fingerprint of config and data).\n"
                   "One process at a time writes a run directory (a lock in RUN_DIR/.lock).\n"
                   "A directory that already holds a run is refused unless\n"
                   "  --resume     continues from last.ckpt exactly where it stopped: the result is\n"
                   "               bit-identical to an uninterrupted run (same seed, same build). Only\n"
                   "               training.epochs and the learning-rate schedule may change; a changed\n"
                   "               data set, basin list, model or loss is refused naming what changed.\n"
                   "  --overwrite  removes the old run's outputs first (only files terragrad writes).\n"
                   "  --set KEY=VALUE  overrides a config key (e.g. training.epochs=3, a list as\n"
                   "               inputs.dynamic=[P,T]); checked like the file. The run's config.yaml\n"
                   "               records the config as run (overrides applied, paths absolute).\n"
                   "Relative paths in the config resolve against the config file's folder, and\n"
                   "${VAR} / ${VAR:-default} expand from the environment (e.g. TG_SHARED_DATA).\n"
                   "Then: terragrad test RUN_DIR; terragrad plot RUN_DIR.\n"
                   "Every config key is listed in docs/config.md (--print-schema prints the table).\n");
            return 0;
        } else if (!strcmp(argv[i], "--print-schema")) {
            int n_schema;
            const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
            tg_cfg_schema_markdown(stdout, schema, n_schema);
            return 0;
        } else if (!strcmp(argv[i], "--resume"))
            opt.resume = 1;
        else if (!strcmp(argv[i], "--overwrite"))
            opt.overwrite = 1;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            opt.run_dir = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (tg_cli_add_set("train", sets, &n_set, argv[++i]))
                return 2;
        }
        else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad train: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (!config)
            config = argv[i];
        else {
            fprintf(stderr, "terragrad train: more than one config given ('%s')\n", argv[i]);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "terragrad train: no config given (see --help)\n");
        return 2;
    }
    if (opt.resume && opt.overwrite) {
        fprintf(stderr, "terragrad train: --resume and --overwrite contradict each other\n");
        return 2;
    }
    /* the command line, for the lock file: who holds the run directory */
    char command[1024];
    tg_cli_command_line(command, sizeof command, argc, argv);
    opt.command = command;
    opt.set = sets;
    opt.n_set = n_set;
    set_threads(config);
    if (tg_train(config, &opt)) {
        fprintf(stderr, "terragrad train: %s\n", tg_error_message());
        return 1;
    }
    return 0;
}
