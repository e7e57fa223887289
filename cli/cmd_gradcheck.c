/* cmd_gradcheck.c — `terragrad gradcheck`: every op's tape gradient against central
 * finite differences, as a table; exit 0 only if all pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "core/gradcheck_suite.h"
#include "terragrad.h"

int tg_cmd_gradcheck(int argc, char **argv)
{
    double tol = tg_suite_default_tol();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: terragrad gradcheck [--tol REL]\n\n"
                   "Checks the reverse-mode gradient of every built-in op (several shapes and\n"
                   "broadcasting cases each) against central finite differences and prints\n"
                   "op / case / max abs error / max rel error / pass. Exit status 0 only if\n"
                   "all pass. Default tolerance: %.0e relative (%s build); use the double\n"
                   "build (-DTG_DOUBLE=ON) for a strict check.\n", tol, TG_REAL_NAME);
            return 0;
        } else if (!strcmp(argv[i], "--tol") && i + 1 < argc) {
            char *end;
            tol = strtod(argv[++i], &end);
            if (*end || tol <= 0) {
                fprintf(stderr, "terragrad gradcheck: --tol: '%s' is not a positive number\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "terragrad gradcheck: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    int failures = tg_suite_run_all(stdout, tol, 0);
    return failures ? 1 : 0;
}
