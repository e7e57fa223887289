/* plot_style.h — one look for every figure the CLI draws with gnuplot: the output format
 * (png, pdf or svg), the font, the grid, a key that does not cover the data, readable
 * ticks, and a perceptually uniform colour map (viridis) for fields and maps. */
#ifndef TG_CLI_PLOT_STYLE_H
#define TG_CLI_PLOT_STYLE_H

#include <stdio.h>

typedef enum { TG_FIG_PNG = 0, TG_FIG_PDF, TG_FIG_SVG } tg_fig_format;

/* "png", "pdf" or "svg" -> *f; -1 for anything else. */
int tg_fig_format_parse(const char *s, tg_fig_format *f);
const char *tg_fig_ext(tg_fig_format f);

/* Starts a figure of w x h pixels (PNG; PDF at 100 px per inch, SVG in pixels) written to
 * dir/name.<ext>: `reset`, terminal, output, font, grid, comma-separated data. */
void tg_fig_begin(FILE *g, tg_fig_format f, int w, int h, const char *dir, const char *name);
/* The viridis colour map (8 samples of matplotlib's viridis, linear in between) and a
 * labelled colour bar. */
void tg_fig_viridis(FILE *g, const char *cb_label);
/* Key (legend) above the plot area, in one row: never over the data. */
void tg_fig_key_above(FILE *g);

#endif
