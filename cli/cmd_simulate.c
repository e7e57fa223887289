/* cmd_simulate.c — `terragrad simulate`:
 *   --model hbv --data DIR --params PARAMS.csv [--routing ROUTE.csv] [--warmup N] --out OUT
 *       HBV with known parameters on basins in the generic CSV layout (no network);
 *   RUN_DIR [--period test|valid|train]
 *       a trained run's model on its configured basins and period (as `terragrad test`). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "terragrad.h"

static int usage(void)
{
    printf("usage: terragrad simulate --model hbv --data DIR --params PARAMS.csv [--routing ROUTE.csv]\n"
           "                          [--warmup N] --out OUT\n"
           "       terragrad simulate RUN_DIR [--period test|valid|train]\n"
           "       terragrad simulate --domains\n\n"
           "HBV with known parameters: DIR holds <basin>.csv files (date,P,T,PET[,Q]); PARAMS.csv has the\n"
           "header basin,component,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET (physical units, one\n"
           "row per basin and component); ROUTE.csv has basin,a,theta (no file = no routing). The first N\n"
           "days (default 365) are warm-up; routing starts after them with zero runoff before. Writes\n"
           "OUT/<basin>.csv: date,Q,Q_unrouted,Q0,Q1,Q2,ET,PET,rain,snow,melt,SWE,SM,SUZ,SLZ,recharge,excess,perc.\n\n"
           "With a trained RUN_DIR: runs its model over the period and writes predictions (see terragrad test).\n\n"
           "A parameter or forcing outside its valid domain (FC > 0, 0 <= K0 <= 1, P >= 0, ...) is an error\n"
           "naming file, line, basin and field; inside it but outside the usual range, a warning.\n"
           "terragrad simulate --domains prints both tables (docs/hbv_domain.md).\n");
    return 0;
}

int tg_cmd_simulate(int argc, char **argv)
{
    tg_hbv_cli a;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return usage();
    if (argc == 2 && !strcmp(argv[1], "--domains")) { /* docs/hbv_domain.md is generated from this */
        tg_hbv_domain_table(stdout);
        return 0;
    }
    if (argc >= 2 && argv[1][0] != '-') { /* a trained run */
        const char *period = "test";
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--period") && i + 1 < argc)
                period = argv[++i];
            else {
                fprintf(stderr, "terragrad simulate: unknown option '%s' (see --help)\n", argv[i]);
                return 2;
            }
        }
        if (tg_evaluate(argv[1], period)) {
            fprintf(stderr, "terragrad simulate: %s\n", tg_error_message());
            return 1;
        }
        return 0;
    }
    int rc = tg_hbv_cli_parse(&a, argc, argv, "simulate", 0);
    if (rc)
        return rc;
    rc = tg_hbv_cli_load(&a);
    if (rc) {
        fprintf(stderr, "terragrad simulate: %s\n", tg_error_message());
        tg_hbv_cli_free(&a);
        return 1;
    }
    int fail = 0;
    char msg[2048] = "";
    #pragma omp parallel for schedule(dynamic)
    for (int b = 0; b < a.params.B; b++) {
        if (fail)
            continue;
        int e = tg_hbv_cli_simulate_write(&a, b);
        if (e) {
            #pragma omp critical(tg_sim_err)
            if (!fail) {
                fail = e;
                snprintf(msg, sizeof msg, "%s", tg_error_message());
            }
        }
    }
    if (fail)
        fprintf(stderr, "terragrad simulate: %s\n", msg);
    else
        printf("simulated %d basins x %d components; wrote %s/<basin>.csv\n", a.params.B, a.params.M, a.out);
    tg_hbv_cli_free(&a);
    return fail ? 1 : 0;
}
