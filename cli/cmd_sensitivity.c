/* cmd_sensitivity.c — `terragrad sensitivity`: d loss / d parameter for every basin,
 * component and parameter, straight from HBV's hand-written backward pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "terragrad.h"

int tg_cmd_sensitivity(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: terragrad sensitivity --model hbv --data DIR --params PARAMS.csv [--routing ROUTE.csv]\n"
               "                             [--warmup N] [--warmup-grad] --loss rmse|nse|mse --out OUT\n\n"
               "Local sensitivities of a loss against observed Q (column Q of DIR/<basin>.csv; missing days\n"
               "skipped), pooled over all basins and the days after the warm-up:\n"
               "  mse = SSE/N, rmse = sqrt(mse), nse = SSE / sum((Q_obs - mean Q_obs)^2) = 1 - pooled NSE.\n"
               "Writes OUT/sensitivity.csv: basin,component,param,value,dloss_dparam (physical units; the\n"
               "routing parameters as component 'route', params a and theta). No gradient flows through\n"
               "the warm-up unless --warmup-grad is given.\n");
        return 0;
    }
    tg_hbv_cli a;
    int rc = tg_hbv_cli_parse(&a, argc, argv, "sensitivity", 1);
    if (rc)
        return rc;
    if ((rc = tg_hbv_cli_load(&a))) {
        fprintf(stderr, "terragrad sensitivity: %s\n", tg_error_message());
        tg_hbv_cli_free(&a);
        return 1;
    }
    int B = a.params.B, M = a.params.M;
    const tg_real **obs = calloc((size_t)B, sizeof *obs);
    int *T = calloc((size_t)B, sizeof(int));
    double *ra = calloc((size_t)B, sizeof(double)), *rt = calloc((size_t)B, sizeof(double));
    double *gp = calloc((size_t)B * TG_HBV_NPARAM * M, sizeof(double)), *gr = calloc((size_t)B * 2, sizeof(double));
    for (int b = 0; b < B && !rc; b++) {
        if (!a.basins[b].var[TG_VAR_Q])
            rc = tg_error_set(TG_EINVAL, "%s/%s.csv: no column 'Q' (observed streamflow is needed)", a.data,
                              a.basins[b].id);
        obs[b] = a.basins[b].var[TG_VAR_Q];
        T[b] = a.basins[b].T;
        int r = a.route_path ? tg_route_find(&a.route, a.basins[b].id) : -1;
        ra[b] = r >= 0 ? a.route.a[r] : (double)NAN;
        rt[b] = r >= 0 ? a.route.theta[r] : (double)NAN;
    }
    int kind = !strcmp(a.loss, "mse") ? TG_SENS_MSE : !strcmp(a.loss, "rmse") ? TG_SENS_RMSE : TG_SENS_NSE;
    double loss = 0;
    if (!rc)
        rc = tg_hbv_sensitivity(&loss, gp, gr, B, (const tg_real *const *)a.forcing, obs, T, a.warmup,
                                a.params.value, M, ra, rt, kind, a.warmup_grad);
    char path[4400], tmp[4500];
    snprintf(path, sizeof path, "%s/sensitivity.csv", a.out);
    /* inside the parameter domain the gradient is finite (kinks take the subgradients of
     * docs/autodiff.md); should it not be, refuse rather than write NaN */
    for (size_t i = 0; !rc && i < (size_t)B * TG_HBV_NPARAM * M; i++)
        if (!isfinite(gp[i]))
            rc = tg_error_set(TG_EINVAL, "%s: basin '%s', component %d, d loss / d %s is %g; not written", path,
                              a.basins[i / ((size_t)TG_HBV_NPARAM * M)].id, (int)(i % (size_t)M) + 1,
                              tg_hbv_param_names[(i / (size_t)M) % TG_HBV_NPARAM], gp[i]);
    for (int b = 0; !rc && b < B; b++)
        if (isfinite(ra[b]) && !(isfinite(gr[2 * b]) && isfinite(gr[2 * b + 1])))
            rc = tg_error_set(TG_EINVAL, "%s: basin '%s', d loss / d routing (a, theta) = (%g, %g); not written", path,
                              a.basins[b].id, gr[2 * b], gr[2 * b + 1]);
    if (!rc && !isfinite(loss))
        rc = tg_error_set(TG_EINVAL, "%s: the loss is %g; not written", path, loss);
    FILE *f = NULL;
    if (!rc)
        rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (f) {
        fprintf(f, "basin,component,param,value,dloss_dparam\n");
        for (int b = 0; b < B; b++) {
            for (int m = 0; m < M; m++)
                for (int p = 0; p < TG_HBV_NPARAM; p++) {
                    size_t i = ((size_t)b * TG_HBV_NPARAM + p) * M + m;
                    fprintf(f, "%s,%d,%s," TG_REAL_FMT_CSV "," TG_REAL_FMT_CSV "\n", a.basins[b].id,
                            a.params.comp0[b] + m, tg_hbv_param_names[p], a.params.value[i],
                            gp[i]);
                }
            if (isfinite(ra[b])) {
                fprintf(f, "%s,route,a," TG_REAL_FMT_CSV "," TG_REAL_FMT_CSV "\n", a.basins[b].id, ra[b], gr[2 * b]);
                fprintf(f, "%s,route,theta," TG_REAL_FMT_CSV "," TG_REAL_FMT_CSV "\n", a.basins[b].id, rt[b], gr[2 * b + 1]);
            }
        }
        rc = tg_io_commit(f, tmp, path);
    }
    if (rc)
        fprintf(stderr, "terragrad sensitivity: %s\n", tg_error_message());
    else
        printf("loss (%s, pooled over %d basins) = %.6g; wrote %s\n", a.loss, B, loss, path);
    free(obs); free(T); free(ra); free(rt); free(gp); free(gr);
    tg_hbv_cli_free(&a);
    return rc ? 1 : 0;
}
