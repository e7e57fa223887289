/* plot_style.c — see plot_style.h. */
#include "plot_style.h"

#include <string.h>

int tg_fig_format_parse(const char *s, tg_fig_format *f)
{
    static const char *const names[] = {"png", "pdf", "svg"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) {
            *f = (tg_fig_format)i;
            return 0;
        }
    return -1;
}

const char *tg_fig_ext(tg_fig_format f)
{
    return f == TG_FIG_PDF ? "pdf" : f == TG_FIG_SVG ? "svg" : "png";
}

void tg_fig_begin(FILE *g, tg_fig_format f, int w, int h, const char *dir, const char *name)
{
    fprintf(g, "reset\n");
    if (f == TG_FIG_PDF) /* cairo PDF sizes are inches; fonts stay the PNG's relative size */
        fprintf(g, "set terminal pdfcairo size %.2fin,%.2fin font 'Sans,9' noenhanced\n", w / 100.0, h / 100.0);
    else if (f == TG_FIG_SVG)
        fprintf(g, "set terminal svg size %d,%d font 'Sans,12' noenhanced background '#ffffff'\n", w, h);
    else
        fprintf(g, "set terminal pngcairo size %d,%d font 'Sans,11' noenhanced\n", w, h);
    fprintf(g, "set output '%s/%s.%s'\nset datafile separator ','\nset datafile missing 'NA'\n"
               "set grid lc rgb '#d0d0d0'\nset border lw 1\nset tics nomirror\nset border 3\n",
            dir, name, tg_fig_ext(f));
}

void tg_fig_viridis(FILE *g, const char *cb_label)
{
    /* matplotlib's viridis at 0, 1/7, ..., 1 */
    fprintf(g, "set palette defined (0 '#440154', 1 '#46327e', 2 '#365c8d', 3 '#277f8e', 4 '#1fa187', "
               "5 '#4ac16d', 6 '#a0da39', 7 '#fde725')\nset cblabel '%s'\nset colorbox\n",
            cb_label);
}

void tg_fig_key_above(FILE *g)
{
    fprintf(g, "set key outside top center horizontal samplen 2 spacing 1 box opaque\n");
}
