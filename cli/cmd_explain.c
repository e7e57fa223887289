/* cmd_explain.c — `terragrad explain RUN_DIR`: look at what a hybrid model learned. Rebuilds
 * the trained model (config.yaml + last.ckpt, as `terragrad test`), evaluates the learned
 * process function on a grid of its inputs and writes
 *   RUN_DIR/explain/g_et.csv     g vs SM/FC at several temperatures, next to the HBV
 *                                formula it replaced: best fit to g (least squares over
 *                                the grid) and, with --compare DHBV_RUN, the formula with
 *                                that δHBV run's median learned LP and BETAET
 *   RUN_DIR/explain/g_et_T.csv   g vs temperature at several SM/FC
 *   RUN_DIR/explain/visited.csv  histogram of the SM/FC the model visits (from the test
 *                                predictions and parameters, if `terragrad test` ran)
 *   RUN_DIR/explain/summary.txt  fitted formula parameters, monotonicity, range of g
 * and PNG plots with gnuplot (g_et.png, g_et_T.png). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "commands.h"
#include "terragrad.h"

enum { NX = 121, NT = 7, NTT = 91, NS = 5, NBIN = 24 };
static const double temps[NT] = {-5, 0, 5, 10, 15, 20, 25};
static const double smfc_cols[NS] = {0.2, 0.4, 0.6, 0.8, 1.0};
#define X_MAX 1.2

static double formula(double x, double LP, double BETAET)
{
    double y = pow(x / LP, BETAET);
    return y < 1 ? y : 1;
}

/* Opens path.tmp for writing. */
static FILE *open_tmp(const char *path, char *tmp, size_t n)
{
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) tg_error_set(TG_EIO, "%s: cannot write", tmp);
    return f;
}

static int close_rename(FILE *f, const char *tmp, const char *path)
{
    if (fclose(f) || rename(tmp, path)) {
        remove(tmp);
        return tg_error_set(TG_EIO, "%s: write failed", path);
    }
    return 0;
}

/* Column index of `name` in a CSV header line, or -1. */
static int csv_col(const char *header, const char *name)
{
    int col = 0;
    const char *p = header;
    size_t ln = strlen(name);
    while (*p) {
        size_t l = strcspn(p, ",\r\n");
        if (l == ln && !strncmp(p, name, ln)) return col;
        p += l;
        if (*p != ',') break;
        p++;
        col++;
    }
    return -1;
}

static double csv_field(const char *line, int col)
{
    const char *p = line;
    for (int c = 0; c < col && p; c++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p || !*p || !strncmp(p, "NA", 2)) return NAN;
    return strtod(p, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the columns LP, BETAET of <run>/params_test.csv; 0 on success. */
static int median_formula_params(const char *run, double *LP, double *BETAET)
{
    char path[4400], line[8192];
    snprintf(path, sizeof path, "%s/params_test.csv", run);
    FILE *f = fopen(path, "r");
    if (!f) return tg_error_set(TG_EIO, "%s: cannot read (run `terragrad test %s` first)", path, run);
    int cl = -1, cb = -1, n = 0, cap = 0;
    double *a = NULL, *b = NULL;
    if (fgets(line, sizeof line, f)) {
        cl = csv_col(line, "LP");
        cb = csv_col(line, "BETAET");
    }
    if (cl < 0 || cb < 0) {
        fclose(f);
        return tg_error_set(TG_EINVAL, "%s: line 1: no LP/BETAET columns", path);
    }
    while (fgets(line, sizeof line, f)) {
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            double *na = realloc(a, (size_t)cap * sizeof *a), *nb = realloc(b, (size_t)cap * sizeof *b);
            if (!na || !nb) {
                free(na ? na : a);
                free(nb ? nb : b);
                fclose(f);
                return tg_error_set(TG_ENOMEM, "out of memory");
            }
            a = na;
            b = nb;
        }
        a[n] = csv_field(line, cl);
        b[n] = csv_field(line, cb);
        if (isfinite(a[n]) && isfinite(b[n])) n++;
    }
    fclose(f);
    int rc = 0;
    if (n == 0) rc = tg_error_set(TG_EINVAL, "%s: no basins", path);
    else {
        qsort(a, (size_t)n, sizeof *a, cmp_double);
        qsort(b, (size_t)n, sizeof *b, cmp_double);
        *LP = n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
        *BETAET = n % 2 ? b[n / 2] : 0.5 * (b[n / 2 - 1] + b[n / 2]);
    }
    free(a);
    free(b);
    return rc;
}

/* Histogram of SM/FC over all basin-days of the test predictions: bins of width
 * X_MAX/NBIN (the last bin takes everything above). Returns the number of days counted. */
static long visited_histogram(const char *run, double *hist)
{
    char path[4400], line[8192];
    snprintf(path, sizeof path, "%s/params_test.csv", run);
    FILE *pf = fopen(path, "r");
    if (!pf) return 0;
    long total = 0;
    int cfc = -1;
    if (fgets(line, sizeof line, pf)) cfc = csv_col(line, "FC");
    while (cfc >= 0 && fgets(line, sizeof line, pf)) {
        char id[64];
        size_t l = strcspn(line, ",");
        snprintf(id, sizeof id, "%.*s", (int)(l < 63 ? l : 63), line);
        double FC = csv_field(line, cfc);
        char pp[4600], row[8192];
        snprintf(pp, sizeof pp, "%s/predictions_test/%s.csv", run, id);
        FILE *f = fopen(pp, "r");
        if (!f || !(FC > 0)) {
            if (f) fclose(f);
            continue;
        }
        int csm = fgets(row, sizeof row, f) ? csv_col(row, "SM") : -1;
        while (csm >= 0 && fgets(row, sizeof row, f)) {
            double x = csv_field(row, csm) / FC;
            if (!isfinite(x)) continue;
            int k = (int)(x / X_MAX * NBIN);
            hist[k < 0 ? 0 : k >= NBIN ? NBIN - 1 : k] += 1;
            total++;
        }
        fclose(f);
    }
    fclose(pf);
    return total;
}

static int usage(FILE *f)
{
    fprintf(f, "usage: terragrad explain RUN_DIR [--compare DHBV_RUN] [--no-plot]\n"
               "Evaluates the learned process function of a trained hybrid run (model.type hybrid) on a\n"
               "grid of its inputs and writes RUN_DIR/explain/*.csv and, with gnuplot, *.png:\n"
               "  g_et.csv    g(SM/FC, T) vs SM/FC for several T, and HBV's formula clamp((x/LP)^BETAET,0,1)\n"
               "              fitted to g (and with --compare, a δHBV run's median learned LP, BETAET;\n"
               "              that run needs params_test.csv from `terragrad test`)\n"
               "  g_et_T.csv  g vs air temperature for several SM/FC\n"
               "  visited.csv histogram of SM/FC over the test predictions (if `terragrad test` ran)\n");
    return f == stderr ? 2 : 0;
}

int tg_cmd_explain(int argc, char **argv)
{
    const char *run = NULL, *compare = NULL;
    int plot = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout);
        else if (!strcmp(argv[i], "--compare") && i + 1 < argc) compare = argv[++i];
        else if (!strcmp(argv[i], "--no-plot")) plot = 0;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad explain: unknown option '%s'\n", argv[i]);
            return usage(stderr);
        } else if (!run) run = argv[i];
        else return usage(stderr);
    }
    if (!run) return usage(stderr);

    char path[4400], dir[4096], tmp[4500];
    int rc = 0;
    tg_runlog rl = {0};
    tg_hybrid_mlp net;
    tg_real *w = NULL;
    double cLP = 0, cBETAET = 0;
    /* explain writes explain.log and explain/ into the run folder: one writer at a time */
    char command[1024];
    tg_cli_command_line(command, sizeof command, argc, argv);
    tg_run_lock lock = {-1};
    if (!rc) rc = tg_run_lock_acquire(&lock, run, command);
    if (!rc) rc = tg_runlog_open(&rl, run, "explain.log");
    if (!rc) rc = tg_run_hybrid_mlp(run, &rl, &net, &w); /* config, data, model, checkpoint */
    if (!rc && compare) rc = median_formula_params(compare, &cLP, &cBETAET);
    snprintf(dir, sizeof dir, "%s/explain", run);
    if (!rc) rc = tg_mkdir_p(dir);
    if (rc) {
        fprintf(stderr, "terragrad explain: %s\n", tg_error_message());
        goto done;
    }

    /* g on the grid: gx[t][i] for SM/FC = X_MAX i/(NX-1), T = temps[t] */
    static double gx[NT][NX], gt[NS][NTT];
    tg_real xin[2 * NX], gout[NX > NTT ? NX : NTT];
    for (int t = 0; t < NT; t++) {
        for (int i = 0; i < NX; i++) {
            xin[2 * i] = (tg_real)(X_MAX * i / (NX - 1));
            xin[2 * i + 1] = (tg_real)temps[t];
        }
        tg_hybrid_mlp_eval(&net, w, xin, gout, NX);
        for (int i = 0; i < NX; i++) gx[t][i] = (double)gout[i];
    }
    for (int s = 0; s < NS; s++) {
        for (int i = 0; i < NTT; i++) {
            xin[2 * i] = (tg_real)smfc_cols[s];
            xin[2 * i + 1] = (tg_real)(-10.0 + 0.5 * i);
        }
        tg_hybrid_mlp_eval(&net, w, xin, gout, NTT);
        for (int i = 0; i < NTT; i++) gt[s][i] = (double)gout[i];
    }
    /* the formula fitted to g over SM/FC in [0, 1] and all temperatures: grid search over
     * HBV's parameter ranges, then a finer grid around the best */
    const double lp0 = tg_hbv_param_range[TG_HBV_LP][0], lp1 = tg_hbv_param_range[TG_HBV_LP][1];
    const double be0 = tg_hbv_param_range[TG_HBV_BETAET][0], be1 = tg_hbv_param_range[TG_HBV_BETAET][1];
    double bLP = lp0, bBE = be0, bErr = INFINITY;
    for (int pass = 0; pass < 2; pass++) {
        double a0 = pass ? fmax(lp0, bLP - (lp1 - lp0) / 50) : lp0, a1 = pass ? fmin(lp1, bLP + (lp1 - lp0) / 50) : lp1;
        double c0 = pass ? fmax(be0, bBE - (be1 - be0) / 50) : be0, c1 = pass ? fmin(be1, bBE + (be1 - be0) / 50) : be1;
        for (int i = 0; i <= 100; i++)
            for (int j = 0; j <= 100; j++) {
                double LP = a0 + (a1 - a0) * i / 100, BE = c0 + (c1 - c0) * j / 100, e = 0;
                for (int t = 0; t < NT; t++)
                    for (int k = 0; k < NX; k++) {
                        double x = X_MAX * k / (NX - 1);
                        if (x > 1.0) break;
                        double r = formula(x, LP, BE) - gx[t][k];
                        e += r * r;
                    }
                if (e < bErr) {
                    bErr = e;
                    bLP = LP;
                    bBE = BE;
                }
            }
    }
    int npts = 0;
    for (int k = 0; k < NX && X_MAX * k / (NX - 1) <= 1.0; k++) npts++;
    double rmse_fit = sqrt(bErr / (NT * npts));

    /* g_et.csv */
    snprintf(path, sizeof path, "%s/g_et.csv", dir);
    FILE *f = open_tmp(path, tmp, sizeof tmp);
    if (!f) goto io_fail;
    fprintf(f, "SM_FC");
    for (int t = 0; t < NT; t++) fprintf(f, ",g_T%g", temps[t]);
    fprintf(f, ",hbv_fit");
    if (compare) fprintf(f, ",hbv_compare");
    fputc('\n', f);
    for (int i = 0; i < NX; i++) {
        double x = X_MAX * i / (NX - 1);
        fprintf(f, "%.4f", x);
        for (int t = 0; t < NT; t++) fprintf(f, ",%.6f", gx[t][i]);
        fprintf(f, ",%.6f", formula(x, bLP, bBE));
        if (compare) fprintf(f, ",%.6f", formula(x, cLP, cBETAET));
        fputc('\n', f);
    }
    if ((rc = close_rename(f, tmp, path))) goto io_fail;
    /* g_et_T.csv */
    snprintf(path, sizeof path, "%s/g_et_T.csv", dir);
    if (!(f = open_tmp(path, tmp, sizeof tmp))) goto io_fail;
    fprintf(f, "T");
    for (int s = 0; s < NS; s++) fprintf(f, ",g_SMFC%g", smfc_cols[s]);
    fputc('\n', f);
    for (int i = 0; i < NTT; i++) {
        fprintf(f, "%.2f", -10.0 + 0.5 * i);
        for (int s = 0; s < NS; s++) fprintf(f, ",%.6f", gt[s][i]);
        fputc('\n', f);
    }
    if ((rc = close_rename(f, tmp, path))) goto io_fail;
    /* visited.csv */
    double hist[NBIN] = {0};
    long nvis = visited_histogram(run, hist);
    snprintf(path, sizeof path, "%s/visited.csv", dir);
    if (nvis > 0) {
        if (!(f = open_tmp(path, tmp, sizeof tmp))) goto io_fail;
        fprintf(f, "SM_FC_center,fraction\n");
        for (int k = 0; k < NBIN; k++) fprintf(f, "%.4f,%.6f\n", X_MAX * (k + 0.5) / NBIN, hist[k] / (double)nvis);
        if ((rc = close_rename(f, tmp, path))) goto io_fail;
    }
    /* summary */
    double gmin = 1, gmax = 0, drop = 0;
    for (int t = 0; t < NT; t++)
        for (int i = 0; i < NX; i++) {
            gmin = fmin(gmin, gx[t][i]);
            gmax = fmax(gmax, gx[t][i]);
            if (i > 0 && gx[t][i] < gx[t][i - 1]) drop = fmax(drop, gx[t][i - 1] - gx[t][i]);
        }
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    if (!(f = open_tmp(path, tmp, sizeof tmp))) goto io_fail;
    fprintf(f, "learned ET limitation g(SM/FC, T): MLP 2-%d-%d-1\n", net.H1, net.H2);
    fprintf(f, "g range on the grid: [%.4f, %.4f]\n", gmin, gmax);
    fprintf(f, "largest decrease between neighbouring SM/FC grid points: %.4g\n", drop);
    fprintf(f, "HBV formula fitted to g: LP %.4f BETAET %.4f (rmse %.4f over SM/FC in [0,1])\n", bLP, bBE, rmse_fit);
    if (compare) fprintf(f, "compare run %s: median LP %.4f BETAET %.4f\n", compare, cLP, cBETAET);
    if (nvis > 0) fprintf(f, "visited SM/FC: %ld basin-days of the test predictions\n", nvis);
    if ((rc = close_rename(f, tmp, path))) goto io_fail;
    printf("learned ET limitation: g in [%.3f, %.3f] on the grid; HBV formula fitted: LP %.3f BETAET %.3f (rmse %.4f)\n",
           gmin, gmax, bLP, bBE, rmse_fit);

    if (plot) {
        double hscale = 0;
        for (int k = 0; k < NBIN; k++) hscale = fmax(hscale, hist[k]);
        hscale = hscale > 0 ? (double)nvis / hscale : 1;
        char gp[4500];
        snprintf(gp, sizeof gp, "%s/explain.gp", dir);
        FILE *g = fopen(gp, "w");
        if (!g) {
            rc = tg_error_set(TG_EIO, "%s: cannot write", gp);
            goto io_fail;
        }
        fprintf(g, "set terminal pngcairo size 900,600 noenhanced\nset datafile separator ','\nset grid\n"
                   "set key below maxrows 4\nset output '%s/g_et.png'\n"
                   "set title 'learned ET limitation g(SM/FC, T) vs HBV formula'\nset xlabel 'relative soil moisture SM / FC (-)'\n"
                   "set ylabel 'ET / PET (-)'\nset yrange [0:1.05]\n", dir);
        fprintf(g, "plot ");
        if (nvis > 0)
            fprintf(g, "'%s/visited.csv' using 1:($2*%g) skip 1 with boxes fs solid 0.2 lc rgb 'gray' "
                       "title 'SM/FC visited (scaled to max 1)', ", dir, hscale);
        for (int t = 0; t < NT; t++)
            fprintf(g, "'%s/g_et.csv' using 1:%d skip 1 with lines lw 2 title 'g, T = %g °C', ", dir, t + 2, temps[t]);
        fprintf(g, "'%s/g_et.csv' using 1:%d skip 1 with lines dt 2 lw 2 lc rgb 'black' "
                   "title 'HBV fit LP %.2f BETAET %.2f'", dir, NT + 2, bLP, bBE);
        if (compare)
            fprintf(g, ", '%s/g_et.csv' using 1:%d skip 1 with lines dt 3 lw 2 lc rgb 'red' "
                       "title 'dHBV median LP %.2f BETAET %.2f'", dir, NT + 3, cLP, cBETAET);
        fprintf(g, "\nset output '%s/g_et_T.png'\nset title 'learned ET limitation vs air temperature'\n"
                   "set xlabel 'air temperature T (°C)'\nplot ", dir);
        for (int s = 0; s < NS; s++)
            fprintf(g, "%s'%s/g_et_T.csv' using 1:%d skip 1 with lines lw 2 title 'SM/FC = %g'", s ? ", " : "", dir,
                    s + 2, smfc_cols[s]);
        fputc('\n', g);
        fclose(g);
        char cmd[4700];
        snprintf(cmd, sizeof cmd, "gnuplot '%s'", gp);
        if (system(cmd) != 0) {
            fprintf(stderr, "terragrad explain: gnuplot failed on %s (is gnuplot installed?)\n", gp);
            rc = 1;
            goto done;
        }
    }
    printf("wrote %s/g_et.csv, g_et_T.csv%s, summary.txt%s\n", dir, nvis > 0 ? ", visited.csv" : "",
           plot ? " and PNG plots" : "");
    goto done;
io_fail:
    if (!rc) rc = tg_error_code() ? tg_error_code() : TG_EIO;
    fprintf(stderr, "terragrad explain: %s\n", tg_error_message());
done:
    free(w);
    tg_runlog_close(&rl);
    tg_run_lock_release(&lock);
    return rc ? 1 : 0;
}
