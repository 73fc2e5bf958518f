/* Plots as SVG text: the convergence of LSUV orderings and bar charts of
 * timings. Each returns a string the caller frees, or NULL when out of
 * memory; nothing is written here. */
#ifndef LSUV_APP_PLOT_H
#define LSUV_APP_PLOT_H

#include <stdint.h>

#include "lsuv/lsuv.h"

/* One panel per run: |mean| (solid) and |std - 1| (dashed) of each layer
 * against the pass, on a log scale from 1e-8 to 10, a colour per layer. */
char *app_plot_convergence(const char *title, const lsuv_run *runs, uint32_t n_runs);

/* A value with its spread. */
typedef struct app_plot_bar {
    double median, min, max;
} app_plot_bar;

/* Groups of bars side by side, one bar per series in each group (bars holds
 * n_groups x n_series, group-major); each bar its median, with a whisker
 * from min to max. A NaN median leaves its bar out. */
typedef struct app_plot_bars_desc {
    const char *title, *unit;
    const char *const *groups;
    uint32_t n_groups;
    const char *const *series;
    uint32_t n_series;
    const app_plot_bar *bars;
} app_plot_bars_desc;

char *app_plot_bars(const app_plot_bars_desc *desc);

#endif
