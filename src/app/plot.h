/* Plots as SVG text: the convergence of LSUV orderings and bar charts of
 * timings. Each returns a string the caller frees, or NULL when out of
 * memory; nothing is written here. */
#ifndef LSUV_APP_PLOT_H
#define LSUV_APP_PLOT_H

#include <stdbool.h>
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

/* A distribution as a box: the quartiles, the median as a line and whiskers
 * from min to max. A NaN median leaves its box out. */
typedef struct app_plot_box {
    double q1, median, q3, min, max;
} app_plot_box;

/* Panels side by side with the same y axis, each with groups of boxes, one
 * box per series (boxes holds n_panels x n_groups x n_series). On a log
 * axis the decades span the positive values (at most 12 of them); zeros
 * and values below the lowest decade sit on the bottom edge, and a note
 * says so. A linear axis spans the values. */
typedef struct app_plot_boxes_desc {
    const char *title, *unit;
    const char *const *panels;
    uint32_t n_panels;
    const char *const *groups;
    uint32_t n_groups;
    const char *const *series;
    uint32_t n_series;
    const app_plot_box *boxes;
    bool log_y;
} app_plot_boxes_desc;

char *app_plot_boxes(const app_plot_boxes_desc *desc);

/* Panels side by side, a line per series through y against x, both on log
 * axes (y as app_plot_boxes' log axis); x holds n_x positive values, y
 * n_panels x n_series x n_x, NaN where a series has no point. */
typedef struct app_plot_lines_desc {
    const char *title, *x_label, *y_label;
    const char *const *panels;
    uint32_t n_panels;
    const char *const *series;
    uint32_t n_series;
    const double *x;
    uint32_t n_x;
    const double *y;
} app_plot_lines_desc;

char *app_plot_lines(const app_plot_lines_desc *desc);

#endif
