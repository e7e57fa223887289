/* cmd_gradcheck.c — `terragrad gradcheck`: every op's tape gradient against a reference
 * that does not use the backward code, as a table; exit 0 only if all pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "terragrad.h"

int tg_cmd_gradcheck(int argc, char **argv)
{
    double tol = tg_gradcheck_suite_tol();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: terragrad gradcheck [--tol REL]\n\n"
                   "Checks the reverse-mode gradient of every built-in op (several shapes and\n"
                   "broadcasting cases each) against a reference that does not use the\n"
                   "backward code, and prints op / case / reference / max abs error / max rel\n"
                   "error / worst error over allowed error / pass. Exit status 0 only if all pass.\n\n"
                   "References: 'exact' for inputs the loss is affine in (matmul, sums, shapes:\n"
                   "one-hot probes of the forward, no step size, judged at 1000 ulps); 'fd' for\n"
                   "the others: central differences at h and h/2, Richardson-extrapolated, with\n"
                   "the spread of the two added to the tolerance, so the verdict does not depend\n"
                   "on which BLAS kernel the CPU selects. Default tolerance for 'fd': %.0e\n"
                   "relative (%s build); use the double build (-DTG_DOUBLE=ON) for a strict check.\n",
                   tol, TG_REAL_NAME);
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
    int failures = tg_gradcheck_suite(stdout, tol, 0);
    return failures ? 1 : 0;
}
