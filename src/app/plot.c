#include "app/plot.h"

#include "core/text.h"

#include <math.h>
#include <string.h>

static const char *const colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                      "#66a61e", "#e6ab02", "#a6761d", "#666666"};

/* Titles and labels come from file names and device names: escape them. */
static void put_escaped(lsuv_text *t, const char *s) {
    for (; *s; ++s) {
        switch (*s) {
        case '<':
            lsuv_text_put(t, "&lt;");
            break;
        case '>':
            lsuv_text_put(t, "&gt;");
            break;
        case '&':
            lsuv_text_put(t, "&amp;");
            break;
        case '"':
            lsuv_text_put(t, "&quot;");
            break;
        default:
            lsuv_text_put(t, "%c", *s);
        }
    }
}

static void put_header(lsuv_text *t, int width, int height, const char *title, int left) {
    lsuv_text_put(t,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
                  "height=\"100%%\" fill=\"white\"/>\n<text x=\"%d\" y=\"20\" font-size=\"14\">",
                  width, height, left);
    put_escaped(t, title);
    lsuv_text_put(t, "</text>\n");
}

char *app_plot_convergence(const char *title, const lsuv_run *runs, uint32_t n_runs) {
    const int pw = 420, ph = 300, left = 60, top = 40, gap = 30;
    int width = left + (int)n_runs * (pw + gap) + 160, height = top + ph + 80;
    lsuv_text t = {0};
    put_header(&t, width, height, title, left);
    const double lo = -8, hi = 1;
    for (uint32_t k = 0; k < n_runs; ++k) {
        const lsuv_run *run = &runs[k];
        int x0 = left + (int)k * (pw + gap);
        uint32_t max_pass = 1;
        for (uint32_t i = 0; i < run->n_trace; ++i)
            if (run->trace[i].pass + 1 > max_pass) max_pass = run->trace[i].pass + 1;
        lsuv_text_put(&t,
                      "<g><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                      "stroke=\"#999\"/>\n<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n",
                      x0, top, pw, ph, x0 + 4, top - 6, lsuv_order_name(run->order));
        for (int e = (int)lo; e <= (int)hi; e += 1) {
            double y = top + ph * (hi - e) / (hi - lo);
            lsuv_text_put(&t, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>",
                          x0, x0 + pw, y, y);
            if (k == 0)
                lsuv_text_put(&t, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n",
                              x0 - 4, y + 4, e);
        }
        for (uint32_t p = 0; p < max_pass; ++p) {
            double x = x0 + pw * (p + 0.5) / max_pass;
            if (max_pass <= 20 || p % 5 == 0)
                lsuv_text_put(&t, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%u</text>", x,
                              top + ph + 16, p);
        }
        lsuv_text_put(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">pass</text>\n",
                      x0 + pw / 2, top + ph + 34);
        for (uint32_t l = 0; l < run->n_layers; ++l) {
            uint32_t index = run->layers[l].index;
            for (int which = 0; which < 2; ++which) {
                lsuv_text_put(&t,
                              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s "
                              "points=\"",
                              colours[l % 8], which ? " stroke-dasharray=\"5,3\"" : "");
                for (uint32_t i = 0; i < run->n_trace; ++i) {
                    const lsuv_trace_row *row = &run->trace[i];
                    if (row->layer != index) continue;
                    double v = which ? fabs(row->std - 1) : fabs(row->mean);
                    double e = v > 0 ? log10(v) : lo;
                    if (e < lo) e = lo;
                    if (e > hi) e = hi;
                    lsuv_text_put(&t, "%.1f,%.1f ", x0 + pw * (row->pass + 0.5) / max_pass,
                                  top + ph * (hi - e) / (hi - lo));
                }
                lsuv_text_put(&t, "\"/>\n");
            }
        }
        lsuv_text_put(&t, "</g>\n");
    }
    int lx = left + (int)n_runs * (pw + gap);
    for (uint32_t l = 0; n_runs && l < runs[0].n_layers; ++l) {
        int y = top + 14 + 18 * (int)l;
        lsuv_text_put(&t,
                      "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
                      "stroke-width=\"3\"/><text x=\"%d\" y=\"%d\">layer %u</text>\n",
                      lx, lx + 24, y - 4, y - 4, colours[l % 8], lx + 30, y,
                      runs[0].layers[l].index);
    }
    uint32_t below = n_runs ? runs[0].n_layers : 0;
    for (int which = 0; which < 2; ++which) {
        int y = top + 14 + 18 * (int)(below + 1 + which);
        lsuv_text_put(&t,
                      "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"black\" "
                      "stroke-width=\"1.8\"%s/><text x=\"%d\" y=\"%d\">%s</text>\n",
                      lx, lx + 24, y - 4, y - 4, which ? " stroke-dasharray=\"5,3\"" : "", lx + 30,
                      y, which ? "|std - 1|" : "|mean|");
    }
    lsuv_text_put(&t, "</svg>\n");
    return lsuv_text_take(&t);
}

/* A round step for about five grid lines up to top. */
static double grid_step(double top) {
    double raw = top / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

char *app_plot_bars(const app_plot_bars_desc *d) {
    const int left = 70, top = 40, ph = 260, bar = 18, group_gap = 24;
    /* Room for labels, the legend and the title, at about 7 pixels a
     * character. */
    int slot = (int)d->n_series * bar;
    for (uint32_t g = 0; g < d->n_groups; ++g)
        if (7 * (int)strlen(d->groups[g]) + 8 > slot) slot = 7 * (int)strlen(d->groups[g]) + 8;
    slot += group_gap;
    int pw = (int)d->n_groups * slot + group_gap;
    size_t longest = 0;
    for (uint32_t s = 0; s < d->n_series; ++s)
        if (strlen(d->series[s]) > longest) longest = strlen(d->series[s]);
    int width = left + pw + 40 + 7 * (int)longest, height = top + ph + 60;
    if (width < left + 8 * (int)strlen(d->title)) width = left + 8 * (int)strlen(d->title);
    double ymax = 0;
    for (uint32_t i = 0; i < d->n_groups * d->n_series; ++i) {
        double v = isnan(d->bars[i].max) ? d->bars[i].median : d->bars[i].max;
        if (v > ymax) ymax = v;
    }
    if (!(ymax > 0)) ymax = 1;
    double step = grid_step(ymax);
    ymax = ceil(ymax / step) * step;
    lsuv_text t = {0};
    put_header(&t, width, height, d->title, left);
    lsuv_text_put(&t,
                  "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
                  "text-anchor=\"middle\">",
                  top + ph / 2, top + ph / 2);
    put_escaped(&t, d->unit);
    lsuv_text_put(&t, "</text>\n");
    for (double v = 0; v <= ymax * (1 + 1e-9); v += step) {
        double y = top + ph * (1 - v / ymax);
        lsuv_text_put(&t,
                      "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                      left, left + pw, y, y, left - 4, y + 4, v);
    }
    lsuv_text_put(&t,
                  "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                  "stroke=\"#999\"/>\n",
                  left, top, pw, ph);
    for (uint32_t g = 0; g < d->n_groups; ++g) {
        int gx = left + group_gap + (int)g * slot + (slot - group_gap - (int)d->n_series * bar) / 2;
        for (uint32_t s = 0; s < d->n_series; ++s) {
            const app_plot_bar *b = &d->bars[g * d->n_series + s];
            if (isnan(b->median)) continue;
            int x = gx + (int)s * bar;
            double y = top + ph * (1 - b->median / ymax);
            lsuv_text_put(&t,
                          "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\">"
                          "<title>%.4g</title></rect>\n",
                          x + 1, y, bar - 2, top + ph - y, colours[s % 8], b->median);
            if (!isnan(b->min) && !isnan(b->max)) {
                double y0 = top + ph * (1 - b->min / ymax), y1 = top + ph * (1 - b->max / ymax);
                double xm = x + bar / 2.0;
                lsuv_text_put(&t,
                              "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" "
                              "stroke=\"black\"/>\n",
                              xm, y0, y1, xm - 4, y0, xm + 4, xm - 4, y1, xm + 4);
            }
        }
        lsuv_text_put(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                      gx + (int)d->n_series * bar / 2, top + ph + 16);
        put_escaped(&t, d->groups[g]);
        lsuv_text_put(&t, "</text>\n");
    }
    for (uint32_t s = 0; s < d->n_series; ++s) {
        int y = top + 14 + 18 * (int)s, lx = left + pw + 12;
        lsuv_text_put(&t,
                      "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\"/>"
                      "<text x=\"%d\" y=\"%d\">",
                      lx, y - 9, colours[s % 8], lx + 20, y);
        put_escaped(&t, d->series[s]);
        lsuv_text_put(&t, "</text>\n");
    }
    lsuv_text_put(&t, "<text x=\"%d\" y=\"%d\">bars: median; whiskers: fastest to slowest</text>\n",
                  left, top + ph + 40);
    lsuv_text_put(&t, "</svg>\n");
    return lsuv_text_take(&t);
}

/* ---- box plots and lines, on log or linear y axes ---------------------- */

/* What a y axis has to show. */
typedef struct extent {
    double min, max, min_pos;
} extent;

static void extent_add(extent *e, double v) {
    if (!isfinite(v)) return;
    if (v < e->min) e->min = v;
    if (v > e->max) e->max = v;
    if (v > 0 && v < e->min_pos) e->min_pos = v;
}

/* Log: the decades lo..hi. Linear: lo..hi in steps. clipped: some value
 * lies below a log axis (a zero, or a residual under its lowest decade). */
typedef struct axis {
    bool log, clipped;
    double lo, hi, step;
} axis;

/* Residuals reach 1e-9 and exact zeros: the decades follow the positive
 * values, with at most 12 of them so the spread that matters stays
 * readable. */
static axis axis_fit(const extent *e, bool log) {
    axis a = {.log = log};
    if (log) {
        a.lo = -9;
        a.hi = 0;
        if (e->min_pos < INFINITY) {
            a.hi = ceil(log10(e->max));
            a.lo = floor(log10(e->min_pos));
            if (a.hi <= a.lo) a.hi = a.lo + 1;
            if (a.lo < a.hi - 12) a.lo = a.hi - 12;
        }
        a.clipped = e->min < pow(10, a.lo);
        a.step = a.hi - a.lo > 8 ? 2 : 1;
        /* labels on even decades when every other one is labelled */
        if (a.step == 2 && fmod(a.lo, 2) != 0) a.lo -= 1;
        return a;
    }
    if (!(e->max >= e->min)) return (axis){.lo = 0, .hi = 1, .step = 0.2};
    double span = e->max - e->min;
    if (!(span > 0)) span = fabs(e->max) > 0 ? fabs(e->max) : 1;
    a.step = grid_step(span);
    a.lo = floor(e->min / a.step) * a.step;
    a.hi = ceil(e->max / a.step) * a.step;
    if (a.hi <= a.lo) a.hi = a.lo + a.step;
    return a;
}

/* From 0 at the bottom to 1 at the top. */
static double axis_frac(const axis *a, double v) {
    double f = a->log ? ((v > 0 ? log10(v) : a->lo) - a->lo) / (a->hi - a->lo)
                      : (v - a->lo) / (a->hi - a->lo);
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

static void put_y_axis(lsuv_text *t, const axis *a, int x0, int pw, int top, int ph, bool labels) {
    for (double v = a->lo; v <= a->hi + a->step * 1e-6; v += a->step) {
        double y = top + ph * (1 - (v - a->lo) / (a->hi - a->lo));
        lsuv_text_put(t, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", x0,
                      x0 + pw, y, y);
        if (!labels) continue;
        if (a->log)
            lsuv_text_put(t, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n", x0 - 4,
                          y + 4, (int)lround(v));
        else
            lsuv_text_put(t, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", x0 - 4,
                          y + 4, fabs(v) < a->step * 1e-6 ? 0 : v);
    }
    lsuv_text_put(t,
                  "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                  "stroke=\"#999\"/>\n",
                  x0, top, pw, ph);
}

static void put_unit(lsuv_text *t, const char *unit, int top, int ph) {
    lsuv_text_put(t,
                  "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
                  "text-anchor=\"middle\">",
                  top + ph / 2, top + ph / 2);
    put_escaped(t, unit);
    lsuv_text_put(t, "</text>\n");
}

static void put_legend(lsuv_text *t, const char *const *series, uint32_t n, int lx, int top) {
    for (uint32_t s = 0; s < n; ++s) {
        int y = top + 14 + 18 * (int)s;
        lsuv_text_put(t,
                      "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\"/>"
                      "<text x=\"%d\" y=\"%d\">",
                      lx, y - 9, colours[s % 8], lx + 20, y);
        put_escaped(t, series[s]);
        lsuv_text_put(t, "</text>\n");
    }
}

static size_t longest_of(const char *const *names, uint32_t n) {
    size_t longest = 0;
    for (uint32_t i = 0; i < n; ++i)
        if (strlen(names[i]) > longest) longest = strlen(names[i]);
    return longest;
}

static void put_panel_title(lsuv_text *t, const char *title, int x0, int top) {
    lsuv_text_put(t, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", x0 + 4, top - 6);
    put_escaped(t, title);
    lsuv_text_put(t, "</text>\n");
}

static void put_box(lsuv_text *t, const app_plot_box *b, const axis *a, double x, int w, int top,
                    int ph, const char *colour) {
    double yq1 = top + ph * (1 - axis_frac(a, b->q1)), yq3 = top + ph * (1 - axis_frac(a, b->q3));
    double ym = top + ph * (1 - axis_frac(a, b->median)), xm = x + w / 2.0;
    double ylo = top + ph * (1 - axis_frac(a, b->min)), yhi = top + ph * (1 - axis_frac(a, b->max));
    lsuv_text_put(t, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fV%.1f\" stroke=\"black\"/>", xm, ylo, yq1,
                  xm, yq3, yhi);
    lsuv_text_put(t,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\" "
                  "fill-opacity=\"0.6\" stroke=\"%s\"><title>median %.3g, quartiles %.3g to "
                  "%.3g, %.3g to %.3g</title></rect>",
                  x, yq3, w, yq1 - yq3, colour, colour, b->median, b->q1, b->q3, b->min, b->max);
    lsuv_text_put(t,
                  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"black\" "
                  "stroke-width=\"2\"/>\n",
                  x, x + w, ym, ym);
}

char *app_plot_boxes(const app_plot_boxes_desc *d) {
    const int left = 70, top = 50, ph = 280, bar = 16, group_gap = 20, panel_gap = 30;
    int slot = (int)d->n_series * bar;
    for (uint32_t g = 0; g < d->n_groups; ++g)
        if (7 * (int)strlen(d->groups[g]) + 8 > slot) slot = 7 * (int)strlen(d->groups[g]) + 8;
    slot += group_gap;
    int pw = (int)d->n_groups * slot + group_gap;
    int lx = left + (int)d->n_panels * (pw + panel_gap);
    int width = lx + 30 + 7 * (int)longest_of(d->series, d->n_series), height = top + ph + 70;
    if (width < left + 8 * (int)strlen(d->title)) width = left + 8 * (int)strlen(d->title);
    if (width < left + 490) width = left + 490; /* the notes below */
    extent e = {INFINITY, -INFINITY, INFINITY};
    uint32_t n = d->n_panels * d->n_groups * d->n_series;
    for (uint32_t i = 0; i < n; ++i)
        if (!isnan(d->boxes[i].median))
            extent_add(&e, d->boxes[i].min), extent_add(&e, d->boxes[i].max);
    axis a = axis_fit(&e, d->log_y);
    lsuv_text t = {0};
    put_header(&t, width, height, d->title, left);
    put_unit(&t, d->unit, top, ph);
    for (uint32_t p = 0; p < d->n_panels; ++p) {
        int x0 = left + (int)p * (pw + panel_gap);
        put_y_axis(&t, &a, x0, pw, top, ph, p == 0);
        put_panel_title(&t, d->panels[p], x0, top);
        for (uint32_t g = 0; g < d->n_groups; ++g) {
            int gx =
                x0 + group_gap + (int)g * slot + (slot - group_gap - (int)d->n_series * bar) / 2;
            for (uint32_t s = 0; s < d->n_series; ++s) {
                const app_plot_box *b = &d->boxes[(p * d->n_groups + g) * d->n_series + s];
                if (!isnan(b->median))
                    put_box(&t, b, &a, gx + (int)s * bar + 1, bar - 2, top, ph, colours[s % 8]);
            }
            lsuv_text_put(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                          gx + (int)d->n_series * bar / 2, top + ph + 16);
            put_escaped(&t, d->groups[g]);
            lsuv_text_put(&t, "</text>\n");
        }
    }
    put_legend(&t, d->series, d->n_series, lx, top);
    lsuv_text_put(&t,
                  "<text x=\"%d\" y=\"%d\">boxes: quartiles; line: median; whiskers: min to "
                  "max</text>\n",
                  left, top + ph + 40);
    if (a.clipped)
        lsuv_text_put(&t,
                      "<text x=\"%d\" y=\"%d\">values below the lowest decade, zeros among "
                      "them, on the bottom edge</text>\n",
                      left, top + ph + 56);
    lsuv_text_put(&t, "</svg>\n");
    return lsuv_text_take(&t);
}

/* x on a log axis, the extreme values a little inside the panel. */
static double lines_x(const app_plot_lines_desc *d, uint32_t i, int x0, int pw) {
    double lo = log10(d->x[0]), hi = log10(d->x[0]);
    for (uint32_t k = 1; k < d->n_x; ++k) {
        if (log10(d->x[k]) < lo) lo = log10(d->x[k]);
        if (log10(d->x[k]) > hi) hi = log10(d->x[k]);
    }
    double f = hi > lo ? (log10(d->x[i]) - lo) / (hi - lo) : 0.5;
    return x0 + pw * (0.08 + 0.84 * f);
}

static void put_series(lsuv_text *t, const app_plot_lines_desc *d, const double *y, const axis *a,
                       int x0, int pw, int top, int ph, const char *colour) {
    lsuv_text_put(t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"",
                  colour);
    for (uint32_t i = 0; i < d->n_x; ++i)
        if (!isnan(y[i]))
            lsuv_text_put(t, "%.1f,%.1f ", lines_x(d, i, x0, pw),
                          top + ph * (1 - axis_frac(a, y[i])));
    lsuv_text_put(t, "\"/>\n");
    for (uint32_t i = 0; i < d->n_x; ++i)
        if (!isnan(y[i]))
            lsuv_text_put(t,
                          "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%g: "
                          "%.3g</title></circle>\n",
                          lines_x(d, i, x0, pw), top + ph * (1 - axis_frac(a, y[i])), colour,
                          d->x[i], y[i]);
}

char *app_plot_lines(const app_plot_lines_desc *d) {
    const int left = 70, top = 50, ph = 280, pw = 260, panel_gap = 30;
    int lx = left + (int)d->n_panels * (pw + panel_gap);
    int width = lx + 30 + 7 * (int)longest_of(d->series, d->n_series), height = top + ph + 70;
    if (width < left + 8 * (int)strlen(d->title)) width = left + 8 * (int)strlen(d->title);
    if (width < left + 490) width = left + 490; /* the notes below */
    extent e = {INFINITY, -INFINITY, INFINITY};
    for (uint32_t i = 0; i < d->n_panels * d->n_series * d->n_x; ++i) extent_add(&e, d->y[i]);
    axis a = axis_fit(&e, true);
    lsuv_text t = {0};
    put_header(&t, width, height, d->title, left);
    put_unit(&t, d->y_label, top, ph);
    for (uint32_t p = 0; p < d->n_panels; ++p) {
        int x0 = left + (int)p * (pw + panel_gap);
        put_y_axis(&t, &a, x0, pw, top, ph, p == 0);
        put_panel_title(&t, d->panels[p], x0, top);
        for (uint32_t i = 0; d->n_x && i < d->n_x; ++i)
            lsuv_text_put(&t, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>",
                          lines_x(d, i, x0, pw), top + ph + 16, d->x[i]);
        lsuv_text_put(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x0 + pw / 2,
                      top + ph + 34);
        put_escaped(&t, d->x_label);
        lsuv_text_put(&t, "</text>\n");
        for (uint32_t s = 0; d->n_x && s < d->n_series; ++s)
            put_series(&t, d, d->y + (p * d->n_series + s) * d->n_x, &a, x0, pw, top, ph,
                       colours[s % 8]);
    }
    put_legend(&t, d->series, d->n_series, lx, top);
    if (a.clipped)
        lsuv_text_put(&t,
                      "<text x=\"%d\" y=\"%d\">values below the lowest decade, zeros among "
                      "them, on the bottom edge</text>\n",
                      left, top + ph + 54);
    lsuv_text_put(&t, "</svg>\n");
    return lsuv_text_take(&t);
}
