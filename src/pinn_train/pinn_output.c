/* pinn_output.c — a run's files: solution, coefficients, loss history, summary, and PNG
 * figures drawn by gnuplot (skipped quietly when gnuplot is not installed). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pinn_train/pinn_train_internal.h"

static FILE *open_out(const char *dir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp)
        tg_error_set(TG_EIO, "%s: cannot write: %s", path, strerror(errno));
    return fp;
}

static int close_out(FILE *fp, const char *path)
{
    int bad = ferror(fp);
    if (fclose(fp) || bad)
        return tg_error_set(TG_EIO, "%s: write failed", path);
    return 0;
}

/* Points where the solution is written: the reference points, or a grid over the box
 * (256 x in the inner loop times 100 t, as the Burgers reference; 201 x in 1-D). */
static int solution_points(const tg_pinn_run *r, int *n, double **x, int *owned)
{
    const pinn_case *pc = r->pc;
    if (r->ref.n) {
        *n = r->ref.n, *x = r->ref.x, *owned = 0;
        return 0;
    }
    int nx = pc->dim == 1 ? 201 : 256, nt = pc->dim == 1 ? 1 : 100;
    *n = nx * nt, *owned = 1;
    *x = tg_malloc((size_t)*n * pc->dim * sizeof **x);
    if (!*x)
        return tg_error_set(TG_ENOMEM, "pinn: out of memory");
    for (int j = 0; j < nt; j++)
        for (int i = 0; i < nx; i++) {
            double *p = *x + ((size_t)j * nx + i) * pc->dim;
            p[0] = pc->lo[0] + (pc->hi[0] - pc->lo[0]) * i / (nx - 1);
            if (pc->dim == 2)
                p[1] = pc->lo[1] + (pc->hi[1] - pc->lo[1]) * j / (nt - 1);
        }
    return 0;
}

static int write_solution(const tg_pinn_run *r, const char *dir, const double *x, const double *u, int n)
{
    const pinn_case *pc = r->pc;
    char path[1200];
    FILE *fp = open_out(dir, "solution.csv", path, sizeof path);
    if (!fp)
        return TG_EIO;
    for (int d = 0; d < pc->dim; d++)
        fprintf(fp, "%s,", pc->coord[d]);
    for (int c = 0; c < pc->f; c++)
        fprintf(fp, "%s%c", pc->comp[c], c + 1 < pc->f ? ',' : '\n');
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < pc->dim; d++)
            fprintf(fp, "%.17g,", x[(size_t)i * pc->dim + d]);
        for (int c = 0; c < pc->f; c++)
            fprintf(fp, "%.9g%c", u[(size_t)i * pc->f + c], c + 1 < pc->f ? ',' : '\n');
    }
    return close_out(fp, path);
}

static int write_coefficients(const tg_pinn_run *r, const char *dir)
{
    char path[1200];
    FILE *fp = open_out(dir, "coefficients.csv", path, sizeof path);
    if (!fp)
        return TG_EIO;
    fprintf(fp, "name,value\n");
    for (int k = 0; k < r->pc->ncoef; k++)
        fprintf(fp, "%s,%.10g\n", r->pc->coef[k], tg_pinn_run_coef(r, k));
    return close_out(fp, path);
}

static int write_history(const tg_pinn_run *r, const char *dir)
{
    char path[1200];
    FILE *fp = open_out(dir, "loss_history.csv", path, sizeof path);
    if (!fp)
        return TG_EIO;
    fprintf(fp, "iter,phase,loss,residual,initial,boundary,data,w_residual,w_initial,w_boundary,w_data");
    for (int k = 0; k < r->pc->ncoef; k++)
        fprintf(fp, ",%s", r->pc->coef[k]);
    fputc('\n', fp);
    for (size_t i = 0; i < r->hist_n; i++) {
        const struct pinn_hist *h = &r->hist[i];
        fprintf(fp, "%d,%s,%.7g", h->iter, h->phase == 'a' ? "adam" : "lbfgs", (double)h->loss);
        for (int k = 0; k < NTERMS; k++)
            fprintf(fp, ",%.7g", (double)h->term[k]);
        for (int k = 0; k < NTERMS; k++)
            fprintf(fp, ",%.7g", (double)h->w[k]);
        for (int k = 0; k < r->pc->ncoef; k++)
            fprintf(fp, ",%.9g", (double)h->coef[k]);
        fputc('\n', fp);
    }
    return close_out(fp, path);
}

static int write_summary(const tg_pinn_run *r, const char *dir)
{
    char path[1200];
    FILE *fp = open_out(dir, "summary.txt", path, sizeof path);
    if (!fp)
        return TG_EIO;
    int adam = 0, lbfgs = 0;
    for (size_t i = 0; i < r->hist_n; i++)
        r->hist[i].phase == 'a' ? adam++ : lbfgs++;
    fprintf(fp, "case: %s\nprecision: %s\nreference: %s\n", r->pc->name, TG_REAL_NAME,
            r->ref.n ? (r->ref_path[0] ? r->ref_path : "analytic") : "none");
    fprintf(fp, "rel_l2: %.6g\ntrain_seconds: %.3f\ntrain_cpu_seconds: %.3f\nadam_iterations: %d\nlbfgs_iterations: %d\nlbfgs_evaluations: %d\n",
            tg_pinn_run_rel_l2(r), r->train_seconds, r->train_cpu_seconds, adam, r->lbfgs_done, lbfgs);
    fprintf(fp, "final_loss: %.7g\n", r->loss);
    for (int k = 0; k < r->pc->ncoef; k++) {
        double v = tg_pinn_run_coef(r, k), t = r->pc->coef_true[k];
        fprintf(fp, "%s: %.10g (true %.10g, %s, error %.4g%%)\n", r->pc->coef[k], v, t,
                r->coef_id[k] >= 0 ? "learned" : "fixed", 100 * fabs(v - t) / fabs(t));
    }
    if (r->pc->summary && r->pc->summary(r, fp)) {
        fclose(fp);
        return tg_error_code();
    }
    return close_out(fp, path);
}

/* ------------------------------------------------------------------ gnuplot */
static int have_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

/* plot_data.txt: one block per t (blank line between), columns x t u... ref... err... */
static int write_plot_data(const tg_pinn_run *r, const char *dir, const double *x, const double *u, int n)
{
    const pinn_case *pc = r->pc;
    char path[1200];
    FILE *fp = open_out(dir, "plot_data.txt", path, sizeof path);
    if (!fp)
        return TG_EIO;
    const int f = pc->f, has_ref = r->ref.n == n;
    for (int i = 0; i < n; i++) {
        if (pc->dim == 2 && i > 0 && x[(size_t)i * 2 + 1] != x[(size_t)(i - 1) * 2 + 1])
            fputc('\n', fp);
        for (int d = 0; d < pc->dim; d++)
            fprintf(fp, "%.9g ", x[(size_t)i * pc->dim + d]);
        for (int c = 0; c < f; c++)
            fprintf(fp, "%.7g ", u[(size_t)i * f + c]);
        for (int c = 0; c < f; c++)
            fprintf(fp, "%.7g ", has_ref ? r->ref.u[(size_t)i * f + c] : (double)NAN);
        for (int c = 0; c < f; c++)
            fprintf(fp, "%.7g%c", has_ref ? fabs(u[(size_t)i * f + c] - r->ref.u[(size_t)i * f + c]) : (double)NAN,
                    c + 1 < f ? ' ' : '\n');
    }
    return close_out(fp, path);
}

/* Axis label "psi (cm)": the Richards case is in cm and s (Celia et al. 1990); the other
 * cases are the dimensionless benchmark problems of Raissi et al. (2019). */
static const char *axis_label(const pinn_case *pc, const char *sym, char *buf, size_t n)
{
    const char *unit = "-";
    if (!strcmp(pc->name, "richards"))
        unit = !strcmp(sym, "t") ? "s" : "cm";
    snprintf(buf, n, "%s (%s)", sym, unit);
    return buf;
}

static int draw_plots(const tg_pinn_run *r, const char *dir)
{
    const pinn_case *pc = r->pc;
    const int f = pc->f, d = pc->dim, has_ref = r->ref.n > 0;
    char path[1200];
    FILE *fp = open_out(dir, "plot.gp", path, sizeof path);
    if (!fp)
        return TG_EIO;
    fprintf(fp, "# drawn by terragrad pinn; rerun with: gnuplot plot.gp (inside the run folder)\n"
                "set datafile separator whitespace\nset terminal pngcairo size 900,600 font 'Sans,11' noenhanced\n"
                "set autoscale fix\nset tics nomirror\nset key outside top center horizontal samplen 2\n"
                /* viridis (perceptually uniform; matplotlib's samples at 0, 1/7, ..., 1) */
                "set palette defined (0 '#440154', 1 '#46327e', 2 '#365c8d', 3 '#277f8e', 4 '#1fa187', "
                "5 '#4ac16d', 6 '#a0da39', 7 '#fde725')\n");
    char l0[64], l1[64], lc[64];
    for (int c = 0; c < f; c++) {
        int cu = d + 1 + c, cr = d + 1 + f + c, ce = d + 1 + 2 * f + c;
        if (d == 2) {
            fprintf(fp, "set output 'field_%s.png'\nset title 'PINN %s(%s, %s), %s'\nset xlabel '%s'\nset ylabel '%s'\n"
                        "set cblabel '%s'\nplot 'plot_data.txt' using 2:1:%d with image notitle\n",
                    pc->comp[c], pc->comp[c], pc->coord[0], pc->coord[1], pc->name,
                    axis_label(pc, pc->coord[1], l1, sizeof l1), axis_label(pc, pc->coord[0], l0, sizeof l0),
                    axis_label(pc, pc->comp[c], lc, sizeof lc), cu);
            if (has_ref)
                fprintf(fp, "set output 'error_%s.png'\nset title 'absolute error |%s - reference|'\n"
                            "set cblabel '|%s error| (%s)'\nplot 'plot_data.txt' using 2:1:%d with image notitle\n",
                        pc->comp[c], pc->comp[c], pc->comp[c], !strcmp(pc->name, "richards") ? "cm" : "-", ce);
        } else {
            fprintf(fp, "set output 'field_%s.png'\nset title 'PINN %s(%s), %s'\nset xlabel '%s'\nset ylabel '%s'\n"
                        "plot 'plot_data.txt' using 1:%d with lines lw 2 title 'PINN'",
                    pc->comp[c], pc->comp[c], pc->coord[0], pc->name, axis_label(pc, pc->coord[0], l0, sizeof l0),
                    axis_label(pc, pc->comp[c], lc, sizeof lc), cu);
            if (has_ref)
                fprintf(fp, ", '' using 1:%d with points pt 7 ps 0.4 title 'reference'", cr);
            fputc('\n', fp);
            if (has_ref)
                fprintf(fp, "set output 'error_%s.png'\nset title 'absolute error |%s - reference|'\nset logscale y\n"
                            "set ylabel '|error| (%s)'\n"
                            "plot 'plot_data.txt' using 1:%d with lines notitle\nunset logscale y\n",
                        pc->comp[c], pc->comp[c], !strcmp(pc->name, "richards") ? "cm" : "-", ce);
        }
    }
    fprintf(fp, "set output 'loss.png'\nset title 'training loss'\nset xlabel 'iteration'\n"
                "set ylabel 'loss: weighted mean squared PDE residual + boundary/data terms'\n"
                "set logscale y\nset datafile separator ','\nunset palette\n"
                "plot 'loss_history.csv' using 1:3 every ::1 with lines title 'total', '' using 1:4 every ::1 with lines "
                "title 'residual'\n");
    if (r->pc->plots && r->pc->plots(r, dir, fp)) {
        fclose(fp);
        return tg_error_code();
    }
    if (close_out(fp, path))
        return TG_EIO;
    char cmd[2600];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot plot.gp 2> gnuplot.log", dir);
    if (system(cmd) != 0)
        return tg_error_set(TG_EEXTERNAL, "gnuplot failed (see %s/gnuplot.log)", dir);
    return 0;
}

int tg_pinn_run_write(const tg_pinn_run *r, const char *dir, int plots)
{
    if (mkdir(dir, 0777) && errno != EEXIST)
        return tg_error_set(TG_EIO, "%s: cannot create: %s", dir, strerror(errno));
    int n, owned, rc;
    double *x;
    if ((rc = solution_points(r, &n, &x, &owned)))
        return rc;
    double *u = tg_malloc((size_t)n * r->pc->f * sizeof *u);
    if (!u)
        rc = tg_error_set(TG_ENOMEM, "pinn: out of memory");
    if (!rc)
        rc = tg_pinn_run_predict(r, n, x, u);
    if (!rc)
        rc = write_solution(r, dir, x, u, n);
    if (!rc)
        rc = write_coefficients(r, dir);
    if (!rc)
        rc = write_history(r, dir);
    if (!rc)
        rc = write_summary(r, dir);
    if (!rc && plots && have_gnuplot()) {
        rc = write_plot_data(r, dir, x, u, n);
        if (!rc)
            rc = draw_plots(r, dir);
    }
    tg_free(u, u ? (size_t)n * r->pc->f * sizeof *u : 0);
    if (owned)
        tg_free(x, (size_t)n * r->pc->dim * sizeof *x);
    return rc;
}
