/* cmd_test.c — `terragrad test RUN_DIR [--period test|valid|train | --start D --end D]
 * [--data PATH] [--basins FILE] [--out DIR] [--set KEY=VALUE]...`. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "commands.h"
#include "terragrad.h"

static void usage(void)
{
    printf("usage: terragrad test RUN_DIR [--period test|valid|train] [--extremes]\n"
           "       terragrad test RUN_DIR --data PATH [--basins FILE] [--period P | --start D --end D]\n"
           "                      [--out DIR] [--set KEY=VALUE]...\n\n"
           "Runs the trained model of RUN_DIR over the period (with the training warm-up\n"
           "before it), and writes metrics_<period>.csv (per basin: NSE, KGE, KGE', ...),\n"
           "predictions_<period>/<basin>.csv and predictions_<period>.nc; prints the\n"
           "median and mean of every metric over basins. Log: test.log for the test\n"
           "period, eval_<period>.log for the others. outputs_<period>.source records\n"
           "which checkpoint they came from (terragrad plot refuses outputs of an older one).\n"
           "A run folder another process is writing (RUN_DIR/.lock) is refused.\n"
           "--extremes also scores floods above the training period's maximum observed flow\n"
           "and the driest years (extremes_<period>.csv, medians in the log; docs/metrics.md).\n\n"
           "Scoring the run on other basins (\"prediction in ungauged basins\"):\n"
           "  --data PATH     a data folder of the run's data.source (every basin in it, or --basins)\n"
           "  --basins FILE   one basin id per line (from --data, or from the run's data folder)\n"
           "  --start D --end D  an explicit period YYYY-MM-DD instead of the run's (outputs named\n"
           "                  'apply' unless --period names them); the warm-up before D comes from\n"
           "                  the data, which must cover it (an error names the file and dates)\n"
           "  --out DIR       output folder (default RUN_DIR/apply_<name of --data or --basins>,\n"
           "                  or RUN_DIR/apply_<start>_<end>: never the run's own test outputs)\n"
           "  --set KEY=VALUE override a key of the run's config, checked like train --set\n"
           "                  (e.g. data.attributes=DIR when the new basins' attributes live elsewhere)\n"
           "The run's own normalisation (normalisation.txt) is used, never refitted. The static\n"
           "attributes of each basin outside the training basins' range (min..max per attribute)\n"
           "are listed in the log and in attributes_range_<period>.csv. Without observed\n"
           "streamflow use terragrad predict.\n");
}

int tg_cmd_test(int argc, char **argv)
{
    const char *run = NULL;
    tg_evaluate_options o = {0};
    const char *sets[TG_CLI_MAX_SET];
    int apply = 0, extremes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (!strcmp(argv[i], "--period") && i + 1 < argc) {
            o.period = argv[++i];
        } else if (!strcmp(argv[i], "--extremes")) {
            extremes = 1;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            o.data_dir = argv[++i];
            apply = 1;
        } else if (!strcmp(argv[i], "--basins") && i + 1 < argc) {
            o.basins_file = argv[++i];
            apply = 1;
        } else if (!strcmp(argv[i], "--start") && i + 1 < argc) {
            o.start = argv[++i];
            apply = 1;
        } else if (!strcmp(argv[i], "--end") && i + 1 < argc) {
            o.end = argv[++i];
            apply = 1;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            o.out_dir = argv[++i];
            apply = 1;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (tg_cli_add_set("test", sets, &o.n_set, argv[++i]))
                return 2;
            apply = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad test: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (!run)
            run = argv[i];
        else {
            fprintf(stderr, "terragrad test: more than one run folder given ('%s')\n", argv[i]);
            return 2;
        }
    }
    if (!run) {
        fprintf(stderr, "terragrad test: no run directory given (see --help)\n");
        return 2;
    }
    if (!o.start && o.period && strcmp(o.period, "test") && strcmp(o.period, "valid") && strcmp(o.period, "train")) {
        fprintf(stderr, "terragrad test: --period must be test, valid or train\n");
        return 2;
    }
    if (!o.start != !o.end) {
        fprintf(stderr, "terragrad test: --start and --end go together\n");
        return 2;
    }
    o.set = sets;
    if (apply && extremes) {
        fprintf(stderr, "terragrad test: --extremes scores the run's own basins and period (it needs their "
                        "training record); drop --data/--basins/--start/--end/--out/--set\n");
        return 2;
    }
    if (apply)
        return tg_cli_apply("test", run, &o, argc, argv);
    const char *period = o.period ? o.period : "test";
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
