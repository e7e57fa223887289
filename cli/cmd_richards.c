/* cmd_richards.c — `terragrad richards CONFIG --out DIR`: one soil column from a YAML
 * config (see examples/richards_celia.yaml, docs/richards.md), written as
 * DIR/profile.csv with columns t_s,z_cm,psi_cm,theta (z upward from the bottom, one row
 * per cell centre and output time), plus a summary on stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "terragrad.h"
#include "terragrad.h"

typedef struct {
    const tg_richards *m;
    const tg_real *p, *u;
    const int *out_step;
    int n_out, next;
    tg_real *profiles; /* (n_out, N) */
    double S0, S1, inflow;
} run_obs;

static int observe(void *ud, int t, const tg_real *psi)
{
    run_obs *r = ud;
    const tg_richards *m = r->m;
    if (t == 0)
        tg_richards_storage(m, 1, r->p, psi, &r->S0);
    else {
        double qt, qb;
        tg_richards_boundary_inflow(m, 1, r->p, psi, r->u + 2 * (size_t)(t - 1), &qt, &qb);
        r->inflow += (double)m->dt[t - 1] * (qt + qb);
    }
    if (t == m->T)
        tg_richards_storage(m, 1, r->p, psi, &r->S1);
    while (r->next < r->n_out && r->out_step[r->next] == t) {
        memcpy(r->profiles + (size_t)r->next * m->N, psi, (size_t)m->N * sizeof *psi);
        r->next++;
    }
    return 0;
}

static int make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return tg_error_set(TG_EINVAL, "output path too long");
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || !*s) {
            char keep = *s;
            *s = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return tg_error_set(TG_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
            *s = keep;
            if (!keep)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode))
        return tg_error_set(TG_EIO, "%s: not a directory", path);
    return 0;
}
static int write_csv(const char *dir, const tg_richards_config *cfg, const tg_richards *m,
                     const tg_real *p, const tg_real *profiles)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/profile.csv", dir);
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "t_s,z_cm,psi_cm,theta\n");
    tg_real *th = malloc((size_t)m->N * sizeof *th);
    if (!th) {
        fclose(f);
        remove(tmp);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    for (int k = 0; k < cfg->n_out; k++) {
        const tg_real *psi = profiles + (size_t)k * m->N;
        m->soil->eval(p, m->N, psi, th, NULL, NULL, NULL);
        for (int i = 0; i < m->N; i++)
            fprintf(f, "%.10g,%.10g,%.10g,%.10g\n", cfg->out_times[k],
                    (double)tg_richards_z(m, i), (double)psi[i], (double)th[i]);
    }
    free(th);
    return tg_io_commit(f, tmp, path);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: terragrad richards CONFIG --out DIR [--quiet]\n"
               "  Runs a 1-D Richards-equation soil column (mixed form, backward Euler,\n"
               "  Newton with a tridiagonal Jacobian) and writes DIR/profile.csv with\n"
               "  columns t_s,z_cm,psi_cm,theta for the output times of the config.\n"
               "  Example config: examples/richards_celia.yaml; keys: docs/richards.md.\n");
}

int tg_cmd_richards(int argc, char **argv)
{
    const char *config = NULL, *out = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] != '-' && !config) {
            config = argv[i];
        } else {
            fprintf(stderr, "terragrad richards: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!config || !out) {
        usage(stderr);
        return 2;
    }
    tg_richards_config cfg;
    if (tg_richards_config_load(config, &cfg)) {
        fprintf(stderr, "terragrad richards: %s\n", tg_error_message());
        return 1;
    }
    int status = 1, T = 0, out_step[64];
    tg_real *dts = NULL, *psi0 = NULL, *u = NULL, *profiles = NULL;
    if (tg_richards_time_grid(cfg.dt, cfg.out_times, cfg.n_out, &dts, &T, out_step))
        goto fail;
    tg_richards m = {tg_soil_find(cfg.soil), cfg.N, (tg_real)cfg.depth, cfg.bc_top,
                     cfg.bc_bottom, T, dts};
    psi0 = malloc((size_t)cfg.N * sizeof *psi0);
    u = malloc((size_t)(T > 0 ? T : 1) * 2 * sizeof *u);
    profiles = malloc((size_t)cfg.n_out * cfg.N * sizeof *profiles);
    if (!psi0 || !u || !profiles) {
        tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < cfg.N; i++) {
        double z = (double)tg_richards_z(&m, i);
        psi0[i] = (tg_real)(cfg.init_head + (cfg.init_head_top - cfg.init_head) * z / cfg.depth);
    }
    for (int t = 0; t < T; t++)
        u[2 * t] = (tg_real)cfg.top_value, u[2 * t + 1] = (tg_real)cfg.bottom_value;
    if (tg_richards_check(&m, 1, cfg.params) || make_dirs(out) || tg_out_dir_prepare(out))
        goto fail;

    tg_implicit_fns f;
    tg_richards_fns(&m, &f);
    run_obs r = {&m, cfg.params, u, out_step, cfg.n_out, 0, profiles, 0, 0, 0};
    tg_newton_report rep;
    tg_newton_report_init(&rep);
    clock_t c0 = clock();
    if (tg_implicit_traj_forward(&f, &m, 1, T, psi0, cfg.params, u, &cfg.newton, 1, observe, &r,
                                 NULL, &rep))
        goto fail;
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (write_csv(out, &cfg, &m, cfg.params, profiles))
        goto fail;
    if (!quiet) {
        double den = r.inflow != 0 ? r.inflow : (r.S0 > 0 ? r.S0 : 1);
        printf("richards: %s soil, %d cells over %g, %d steps to t = %g (%.3f s)\n", cfg.soil,
               cfg.N, cfg.depth, T, cfg.out_times[cfg.n_out - 1], secs);
        printf("newton: %ld iterations, at most %d per step, %ld line-search halvings, worst "
               "final max|F| %.2e\n", rep.iters, rep.max_iters, rep.halvings, rep.worst_residual);
        printf("mass balance: storage change %.10g, cumulative inflow %.10g, relative error "
               "%.2e\n", r.S1 - r.S0, r.inflow, (r.S1 - r.S0 - r.inflow) / den);
        printf("wrote %s/profile.csv (%d output times x %d cells)\n", out, cfg.n_out, cfg.N);
    }
    status = 0;
fail:
    if (status)
        fprintf(stderr, "terragrad richards: %s\n", tg_error_message());
    free(psi0);
    free(u);
    free(profiles);
    if (dts)
        tg_free(dts, (size_t)T * sizeof *dts);
    return status;
}
