/* cli_util.c — see cli_util.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "terragrad.h"

int tg_hbv_cli_parse(tg_hbv_cli *a, int argc, char **argv, const char *cmd, int sensitivity)
{
    memset(a, 0, sizeof *a);
    a->warmup = 365;
    a->loss = "rmse";
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(o, "--model") && has) model = argv[++i];
        else if (!strcmp(o, "--data") && has) a->data = argv[++i];
        else if (!strcmp(o, "--params") && has) a->params_path = argv[++i];
        else if (!strcmp(o, "--routing") && has) a->route_path = argv[++i];
        else if (!strcmp(o, "--out") && has) a->out = argv[++i];
        else if (!strcmp(o, "--warmup") && has) {
            char *end;
            long w = strtol(argv[++i], &end, 10);
            if (*end || w < 0) {
                fprintf(stderr, "terragrad %s: --warmup: '%s' is not a non-negative integer\n", cmd, argv[i]);
                return 2;
            }
            a->warmup = (int)w;
        } else if (sensitivity && !strcmp(o, "--loss") && has) {
            a->loss = argv[++i];
            if (strcmp(a->loss, "rmse") && strcmp(a->loss, "nse") && strcmp(a->loss, "mse")) {
                fprintf(stderr, "terragrad %s: --loss must be rmse, nse or mse\n", cmd);
                return 2;
            }
        } else if (sensitivity && !strcmp(o, "--warmup-grad"))
            a->warmup_grad = 1;
        else {
            fprintf(stderr, "terragrad %s: unknown or incomplete option '%s' (see --help)\n", cmd, o);
            return 2;
        }
    }
    if (!model || strcmp(model, "hbv")) {
        fprintf(stderr, "terragrad %s: --model hbv is required (the only process model with parameter files)\n", cmd);
        return 2;
    }
    if (!a->data || !a->params_path || !a->out) {
        fprintf(stderr, "terragrad %s: --data, --params and --out are required (see --help)\n", cmd);
        return 2;
    }
    return 0;
}

int tg_hbv_cli_load(tg_hbv_cli *a)
{
    int rc = tg_hbv_params_read(a->params_path, &a->params);
    if (!rc && a->route_path)
        rc = tg_route_read(a->route_path, &a->route);
    for (int b = 0; !rc && a->route_path && b < a->params.B; b++)
        if (tg_route_find(&a->route, a->params.basin[b]) < 0)
            rc = tg_error_set(TG_EINVAL, "%s: no routing row for basin '%s' (it is in %s)", a->route_path,
                              a->params.basin[b], a->params_path);
    if (!rc)
        rc = tg_out_dir_prepare(a->out); /* created and writable before any simulation */
    if (rc)
        return rc;
    a->basins = calloc((size_t)a->params.B, sizeof(tg_basin));
    a->forcing = calloc((size_t)a->params.B, sizeof(tg_real *));
    if (!a->basins || !a->forcing)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (int b = 0; b < a->params.B && !rc; b++) {
        tg_basin *bs = &a->basins[b];
        rc = tg_csv_read(a->data, a->params.basin[b], bs);
        if (!rc)
            rc = tg_basin_require(bs, TG_VAR_BIT(TG_VAR_P) | TG_VAR_BIT(TG_VAR_TEMP) | TG_VAR_BIT(TG_VAR_PET),
                                  "HBV forcing");
        if (!rc && bs->T <= a->warmup)
            rc = tg_error_set(TG_EINVAL, "%s/%s.csv: %d days, not more than the warm-up of %d days", a->data, bs->id,
                              bs->T, a->warmup);
        if (rc)
            break;
        a->forcing[b] = malloc((size_t)bs->T * 3 * sizeof(tg_real));
        if (!a->forcing[b])
            return tg_error_set(TG_ENOMEM, "out of memory");
        int v[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
        for (int t = 0; t < bs->T && !rc; t++)
            for (int k = 0; k < 3; k++) {
                tg_real x = bs->var[v[k]][t];
                if (isnan((double)x)) {
                    char date[16];
                    rc = tg_error_set(TG_EINVAL, "%s/%s.csv: %s, field '%s': missing forcing (HBV needs every day)",
                                      a->data, bs->id, tg_date_format(bs->start + t, date), tg_var_name(v[k]));
                    break;
                }
                a->forcing[b][(size_t)t * 3 + k] = x;
            }
        int neg = 0, first = -1;
        for (int t = 0; t < bs->T && !rc; t++)
            if (a->forcing[b][(size_t)t * 3 + 2] < 0 && neg++ == 0)
                first = t;
        if (neg) { /* inside PET's domain (condensation, as ERA5-Land reports it), but unusual */
            char date[16];
            fprintf(stderr, "warning: %s/%s.csv: PET < 0 on %d days (first %s): read as condensation (ET < 0)\n",
                    a->data, bs->id, neg, tg_date_format(bs->start + first, date));
        }
    }
    return rc;
}

int tg_hbv_cli_simulate_write(const tg_hbv_cli *a, int b)
{
    const tg_basin *bs = &a->basins[b];
    int n = bs->T - a->warmup, r = a->route_path ? tg_route_find(&a->route, bs->id) : -1;
    tg_real *out = malloc((size_t)n * TG_SIM_NOUT * sizeof(tg_real));
    if (!out)
        return tg_error_set(TG_ENOMEM, "out of memory");
    int rc = tg_hbv_simulate_basin(out, a->forcing[b], bs->T, a->warmup,
                                   a->params.value + (size_t)b * TG_HBV_NPARAM * a->params.M, a->params.M,
                                   r >= 0 ? a->route.a[r] : (double)NAN, r >= 0 ? a->route.theta[r] : (double)NAN);
    char path[4400], tmp[4500], date[16];
    snprintf(path, sizeof path, "%s/%s.csv", a->out, bs->id);
    /* valid inputs should never give NaN or Inf; if they do, no file rather than a wrong one */
    for (size_t i = 0; !rc && i < (size_t)n * TG_SIM_NOUT; i++)
        if (!isfinite((double)out[i]))
            rc = tg_error_set(TG_EINVAL, "%s: basin '%s', variable '%s', %s: %g is not finite; not written", path, bs->id,
                              tg_sim_output_names[i % TG_SIM_NOUT],
                              tg_date_format(bs->start + a->warmup + (int)(i / TG_SIM_NOUT), date), (double)out[i]);
    FILE *f = NULL;
    if (!rc)
        rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (f) {
        fprintf(f, "date");
        for (int k = 0; k < TG_SIM_NOUT; k++)
            fprintf(f, ",%s", tg_sim_output_names[k]);
        fputc('\n', f);
        for (int t = 0; t < n; t++) {
            fprintf(f, "%s", tg_date_format(bs->start + a->warmup + t, date));
            for (int k = 0; k < TG_SIM_NOUT; k++)
                fprintf(f, "," TG_REAL_FMT_CSV, (double)out[(size_t)t * TG_SIM_NOUT + k]);
            fputc('\n', f);
        }
        rc = tg_io_commit(f, tmp, path);
    }
    free(out);
    return rc;
}

void tg_hbv_cli_free(tg_hbv_cli *a)
{
    if (a->basins)
        for (int b = 0; b < a->params.B; b++) {
            tg_basin_free(&a->basins[b]);
            free(a->forcing[b]);
        }
    free(a->basins);
    free(a->forcing);
    tg_hbv_params_free(&a->params);
    tg_route_free(&a->route);
}

void tg_cli_command_line(char *buf, size_t size, int argc, char **argv)
{
    snprintf(buf, size, "terragrad");
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, " %s", argv[i]);
    }
}

int tg_cli_add_set(const char *command, const char **sets, int *n, const char *value)
{
    if (*n == TG_CLI_MAX_SET) {
        fprintf(stderr, "terragrad %s: more than %d --set options\n", command, TG_CLI_MAX_SET);
        return 2;
    }
    sets[(*n)++] = value;
    return 0;
}
