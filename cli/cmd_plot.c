/* cmd_plot.c — `terragrad plot RUN_DIR`: PNG figures with gnuplot — training loss,
 * hydrographs (observed vs simulated), CDF of NSE over basins, and for δHBV the internal
 * fluxes (ET, SWE, soil moisture). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "train/train_internal.h"

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int run_gnuplot(const char *script_path)
{
    char cmd[4600];
    snprintf(cmd, sizeof cmd, "gnuplot '%s'", script_path);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "terragrad plot: gnuplot failed on %s (is gnuplot installed? apt-get install gnuplot-nox)\n",
                script_path);
        return 1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorted NSE values of metrics_<period>.csv into <plots>/nse_cdf.dat; returns count. */
static int nse_cdf(const char *metrics, const char *out)
{
    FILE *f = fopen(metrics, "r");
    if (!f)
        return -1;
    char line[8192];
    double *v = NULL;
    int n = 0, cap = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ',');
        if (!c)
            continue;
        double x = strtod(c + 1, NULL);
        if (!isfinite(x))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            v = realloc(v, (size_t)cap * sizeof *v);
        }
        v[n++] = x;
    }
    fclose(f);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    FILE *o = fopen(out, "w");
    if (!o) {
        free(v);
        return -1;
    }
    for (int i = 0; i < n; i++)
        fprintf(o, "%g %g\n", v[i] < -1 ? -1 : v[i], (i + 1.0) / n);
    fclose(o);
    free(v);
    return n;
}

int tg_cmd_plot(int argc, char **argv)
{
    const char *run = NULL, *period = "test";
    const char *basins[16];
    int nbas = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: terragrad plot RUN_DIR [--period test] [--basin ID]...\n\n"
                   "Draws RUN_DIR/plots/*.png with gnuplot: loss.png (training loss per epoch),\n"
                   "hydrograph_<basin>.png (observed vs simulated; the last 3 years of the period),\n"
                   "nse_cdf.png (CDF of NSE over basins) and, for δHBV runs, fluxes_<basin>.png\n"
                   "(ET, SWE, soil moisture). Basins: --basin (repeatable), else output.plot_basins,\n"
                   "else the first three.\n");
            return 0;
        } else if (!strcmp(argv[i], "--period") && i + 1 < argc)
            period = argv[++i];
        else if (!strcmp(argv[i], "--basin") && i + 1 < argc && nbas < 16)
            basins[nbas++] = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "terragrad plot: unknown option '%s'\n", argv[i]);
            return 2;
        } else
            run = argv[i];
    }
    if (!run) {
        fprintf(stderr, "terragrad plot: no run directory given\n");
        return 2;
    }
    char plots[4200], path[4400], gp[4400];
    snprintf(plots, sizeof plots, "%s/plots", run);
    if (tg_mkdir_p(plots)) {
        fprintf(stderr, "terragrad plot: %s\n", tg_error_message());
        return 1;
    }
    snprintf(gp, sizeof gp, "%s/plots.gp", plots);
    FILE *g = fopen(gp, "w");
    if (!g) {
        fprintf(stderr, "terragrad plot: cannot write %s\n", gp);
        return 1;
    }
    fprintf(g, "set terminal pngcairo size 1000,500 noenhanced\nset datafile separator ','\nset grid\n");
    int drawn = 0;
    snprintf(path, sizeof path, "%s/loss.csv", run);
    if (exists(path)) {
        fprintf(g, "set output '%s/loss.png'\nset title 'training loss'\nset xlabel 'epoch'\nset ylabel 'loss'\n"
                   "plot '%s' using 1:2 skip 1 with linespoints title 'train'\n", plots, path);
        drawn++;
    }
    char metrics[4400], cdf[4400];
    snprintf(metrics, sizeof metrics, "%s/metrics_%s.csv", run, period);
    snprintf(cdf, sizeof cdf, "%s/nse_cdf.dat", plots);
    int ncdf = nse_cdf(metrics, cdf);
    if (ncdf > 0) {
        fprintf(g, "set datafile separator whitespace\nset output '%s/nse_cdf.png'\n"
                   "set title 'NSE over %d basins (%s period)'\nset xlabel 'NSE (clipped at -1)'\n"
                   "set ylabel 'fraction of basins'\nset xrange [-1:1]\n"
                   "plot '%s' using 1:2 with steps lw 2 title 'CDF'\nset xrange [*:*]\nset datafile separator ','\n",
                plots, ncdf, period, cdf);
        drawn++;
    }
    /* basins: explicit, or the first three prediction files listed in the metrics file */
    char ids[16][64];
    if (nbas == 0) {
        FILE *m = fopen(metrics, "r");
        char line[8192];
        if (m && fgets(line, sizeof line, m))
            while (nbas < 3 && fgets(line, sizeof line, m)) {
                size_t l = strcspn(line, ",");
                snprintf(ids[nbas], sizeof ids[nbas], "%.*s", (int)(l < 63 ? l : 63), line);
                basins[nbas] = ids[nbas];
                nbas++;
            }
        if (m)
            fclose(m);
    }
    for (int i = 0; i < nbas; i++) {
        snprintf(path, sizeof path, "%s/predictions_%s/%s.csv", run, period, basins[i]);
        if (!exists(path)) {
            fprintf(stderr, "terragrad plot: no predictions for basin %s (%s)\n", basins[i], path);
            continue;
        }
        /* last 3 years: count lines */
        FILE *p = fopen(path, "r");
        int lines = 0, c;
        char header[4096] = "";
        if (p) {
            if (!fgets(header, sizeof header, p))
                header[0] = '\0';
            while ((c = fgetc(p)) != EOF)
                lines += c == '\n';
            fclose(p);
        }
        int skip = lines > 1096 ? lines - 1096 : 0;
        fprintf(g, "set output '%s/hydrograph_%s.png'\nset title 'basin %s: observed vs simulated streamflow'\n"
                   "set xdata time\nset timefmt '%%Y-%%m-%%d'\nset format x '%%Y-%%m'\nset xlabel 'date'\n"
                   "set ylabel 'Q (mm/day)'\n"
                   "plot '%s' every ::%d using 1:2 with lines lc rgb 'black' title 'observed', "
                   "'' every ::%d using 1:3 with lines lc rgb 'red' title 'simulated'\n",
                plots, basins[i], basins[i], path, skip + 1, skip + 1);
        drawn++;
        if (strstr(header, ",ET,")) { /* δHBV internal fluxes: ET col 5, SWE col 11, SM col 13 */
            fprintf(g, "set output '%s/fluxes_%s.png'\nset title 'basin %s: δHBV internal fluxes and states'\n"
                       "set ylabel 'mm/day (ET) or mm (SWE, SM/10)'\n"
                       "plot '%s' every ::%d using 1:(column('ET')) with lines title 'ET', "
                       "'' every ::%d using 1:(column('SWE')) with lines title 'SWE', "
                       "'' every ::%d using 1:(column('SM')/10) with lines title 'SM/10'\n",
                    plots, basins[i], basins[i], path, skip + 1, skip + 1, skip + 1);
            drawn++;
        }
        fprintf(g, "set xdata\nset format x '%%g'\n");
    }
    fclose(g);
    if (!drawn) {
        fprintf(stderr, "terragrad plot: nothing to draw in %s (train and test first)\n", run);
        return 1;
    }
    if (run_gnuplot(gp))
        return 1;
    printf("wrote %d figures to %s/\n", drawn, plots);
    return 0;
}
