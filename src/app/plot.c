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
