/* apply_cli.c — the command line of a trained run applied elsewhere, shared by
 * `terragrad test RUN --data ...` and `terragrad predict` (tg_apply_run). */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "terragrad.h"

int tg_cli_apply(const char *cmd, const char *run, const tg_evaluate_options *opt, int argc, char **argv)
{
    char out[4200], command[1024];
    tg_cli_command_line(command, sizeof command, argc, argv);
    if (tg_apply_run(run, opt, command, out, sizeof out)) {
        fprintf(stderr, "terragrad %s: %s\n", cmd, tg_error_message());
        return 1;
    }
    if (tg_dist_is_root() && strcmp(out, run))
        printf("outputs in %s\n", out);
    return 0;
}
