/* plot_maps.h — the gauge maps of `terragrad plot` that live outside cmd_plot.c, and what
 * they share with it. */
#ifndef TG_CLI_PLOT_MAPS_H
#define TG_CLI_PLOT_MAPS_H

#include <stdio.h>

#include "plot_style.h"
#include "terragrad.h"

/* The attributes of a run's config (data.attributes, its path as given or relative to the
 * run's parent folders) into *a, and the names of data.attribute_names (at most max_use)
 * into use. Defined in cmd_plot.c. */
int tg_plot_run_attributes(const char *run, tg_attributes *a, char (*use)[TG_NAME_MAX], int *n_use, int max_use);
/* The 1-2-5 step (1, 2, 5 or 10 times a power of ten) at or just above raw > 0: tick
 * spacing that reads well. Defined in cmd_plot.c. */
double tg_plot_nice_step(double raw);

/* For runs whose predictions_<period>/<basin>.csv carry the HBV fluxes (a column ET):
 * per-basin period means (evaporative fraction, runoff ratio, baseflow index, snow fraction,
 * mean SWE and soil moisture) into plots/fluxes_map.csv (temp file + rename) and, when the
 * attributes give the gauges' lat/lon, gnuplot commands for fluxes_map.<ext> appended to g.
 * Returns the number of figures (0 or 1), 0 for runs without fluxes, -1 (tg_error set) for a
 * predictions file it cannot read. */
int tg_plot_fluxes_map(const char *run, const char *period, const char *plots, FILE *g, tg_fig_format fmt);

#endif
