#include "cli/report.h"

#include "cli/devices_print.h"
#include "lsuv/file.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void report_table(const report *r, FILE *out) {
    const lsuv_net *net = r->net;
    for (uint32_t d = 0; d < r->n_devices; ++d) {
        const report_device *rd = &r->devices[d];
        fprintf(out, "\ndevice %u: %s [%s], batch %u\n", rd->info.index, rd->info.name,
                lsuv_device_type_name(rd->info.type), r->batch->n);
        fprintf(out, "%-5s %-14s %-10s", "layer", "type", "output");
        for (uint32_t k = 0; k < rd->n_runs; ++k)
            fprintf(out, " | %-44s", lsuv_order_name(rd->runs[k].order));
        fprintf(out, "\n%-31s", "");
        for (uint32_t k = 0; k < rd->n_runs; ++k)
            fprintf(out, " | %6s %12s %9s %4s %8s", "passes", "mean", "std", "conv", "gpu ms");
        fprintf(out, "\n");
        for (uint32_t l = 0; rd->n_runs && l < rd->runs[0].n_layers; ++l) {
            const lsuv_layer *layer = &net->layers[rd->runs[0].layers[l].index];
            char shape[32];
            snprintf(shape, sizeof shape, "%ux%ux%u", layer->out.c, layer->out.h, layer->out.w);
            fprintf(out, "%-5u %-14s %-10s", layer->index, lsuv_layer_type_name(layer->type),
                    shape);
            for (uint32_t k = 0; k < rd->n_runs; ++k) {
                if (l >= rd->runs[k].n_layers) {
                    fprintf(out, " | %44s", "");
                    continue;
                }
                const lsuv_layer_run *lr = &rd->runs[k].layers[l];
                fprintf(out, " | %6u %12.3e %9.6f %4s %8.2f", lr->passes, lr->mean, lr->std,
                        lr->converged ? "yes" : "no", lr->gpu_ms);
            }
            fprintf(out, "\n");
        }
        for (uint32_t k = 0; k < rd->n_runs; ++k) {
            const lsuv_run *run = &rd->runs[k];
            fprintf(out,
                    "%-11s %s, %u passes, %u submissions, %llu bytes read back, gpu %.2f ms, "
                    "wall %.2f ms",
                    lsuv_order_name(run->order), run->converged ? "converged" : "NOT converged",
                    run->passes, run->submissions, (unsigned long long)run->readback_bytes,
                    run->gpu_ms, run->wall_ms);
            if (r->options->verify)
                fprintf(out, "; largest |device - fp64| of final mean and std: %.3g",
                        rd->verify[k]);
            fprintf(out, "\n");
        }
    }
}

static cJSON *report_json(const report *r) {
    cJSON *root = cJSON_CreateObject();
    const report_device *rd0 = &r->devices[0];
    cJSON *dev = cJSON_AddObjectToObject(root, "device");
    cJSON_AddStringToObject(dev, "name", rd0->info.name);
    cJSON_AddStringToObject(dev, "type", lsuv_device_type_name(rd0->info.type));
    cJSON_AddStringToObject(dev, "driver", rd0->info.driver_name);
    cJSON_AddStringToObject(root, "net", r->net->path);
    cJSON_AddNumberToObject(root, "batch", r->batch->n);
    cJSON_AddStringToObject(root, "input", r->options->input ? r->options->input : "synthetic");
    cJSON_AddNumberToObject(root, "seed", (double)r->options->seed);
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (uint32_t d = 0; d < r->n_devices; ++d)
        for (uint32_t k = 0; k < r->devices[d].n_runs; ++k) {
            const lsuv_run *run = &r->devices[d].runs[k];
            cJSON *o = cJSON_CreateObject();
            if (r->n_devices > 1) cJSON_AddStringToObject(o, "device", r->devices[d].info.name);
            cJSON_AddStringToObject(o, "order", lsuv_order_name(run->order));
            cJSON_AddBoolToObject(o, "converged", run->converged);
            cJSON_AddNumberToObject(o, "passes", run->passes);
            cJSON_AddNumberToObject(o, "submissions", run->submissions);
            cJSON_AddNumberToObject(o, "readback_bytes", (double)run->readback_bytes);
            cJSON_AddNumberToObject(o, "gpu_ms", run->gpu_ms);
            cJSON_AddNumberToObject(o, "wall_ms", run->wall_ms);
            if (r->options->verify)
                cJSON_AddNumberToObject(o, "verify_max_diff", r->devices[d].verify[k]);
            cJSON *layers = cJSON_AddArrayToObject(o, "layers");
            for (uint32_t l = 0; l < run->n_layers; ++l) {
                const lsuv_layer_run *lr = &run->layers[l];
                cJSON *lj = cJSON_CreateObject();
                cJSON_AddNumberToObject(lj, "index", lr->index);
                cJSON_AddStringToObject(lj, "type",
                                        lsuv_layer_type_name(r->net->layers[lr->index].type));
                cJSON_AddNumberToObject(lj, "passes", lr->passes);
                cJSON_AddNumberToObject(lj, "mean", lr->mean);
                cJSON_AddNumberToObject(lj, "std", lr->std);
                cJSON_AddBoolToObject(lj, "converged", lr->converged);
                cJSON_AddNumberToObject(lj, "gpu_ms", lr->gpu_ms);
                cJSON_AddItemToArray(layers, lj);
            }
            cJSON_AddItemToArray(runs, o);
        }
    return root;
}

/* A growing text buffer. */
typedef struct text {
    char *data;
    size_t len, cap;
    bool failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n =
            vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->data && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *grown = realloc(t->data, cap);
        if (!grown) {
            t->failed = true;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
}

static int write_text(text *t, const char *path) {
    if (t->failed || !t->data) {
        free(t->data);
        fprintf(stderr, "lsuv-vk: out of memory writing %s\n", path);
        return EXIT_RUNTIME;
    }
    int code = EXIT_OK;
    if (strcmp(path, "-") == 0)
        fputs(t->data, stdout);
    else {
        lsuv_status s = lsuv_file_write(path, t->data, t->len);
        if (s != LSUV_OK) code = cli_fail(s);
    }
    free(t->data);
    return code;
}

static int write_csv(const report *r, const char *path) {
    text t = {0};
    put(&t, "device,order,layer,type,passes,mean,std,converged,gpu_ms\n");
    for (uint32_t d = 0; d < r->n_devices; ++d)
        for (uint32_t k = 0; k < r->devices[d].n_runs; ++k) {
            const lsuv_run *run = &r->devices[d].runs[k];
            for (uint32_t l = 0; l < run->n_layers; ++l) {
                const lsuv_layer_run *lr = &run->layers[l];
                put(&t, "\"%s\",%s,%u,%s,%u,%.9g,%.9g,%d,%.4f\n", r->devices[d].info.name,
                    lsuv_order_name(run->order), lr->index,
                    lsuv_layer_type_name(r->net->layers[lr->index].type), lr->passes, lr->mean,
                    lr->std, lr->converged, lr->gpu_ms);
            }
        }
    return write_text(&t, path);
}

/* The trace and the plot are of the first selected device. */
static int write_trace(const report *r, const char *path) {
    text t = {0};
    put(&t, "order,layer,pass,step,mean,std\n");
    for (uint32_t k = 0; k < r->devices[0].n_runs; ++k) {
        const lsuv_run *run = &r->devices[0].runs[k];
        for (uint32_t i = 0; i < run->n_trace; ++i) {
            const lsuv_trace_row *row = &run->trace[i];
            put(&t, "%s,%u,%u,%c,%.9g,%.9g\n", lsuv_order_name(run->order), row->layer, row->pass,
                row->step, row->mean, row->std);
        }
    }
    return write_text(&t, path);
}

char *report_svg(const report *r) {
    /* One panel per ordering: |mean| (solid) and |std - 1| (dashed) against
     * the pass, log scale from 1e-8 to 10, a colour per layer. */
    static const char *colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                    "#66a61e", "#e6ab02", "#a6761d", "#666666"};
    const report_device *rd = &r->devices[0];
    const int pw = 420, ph = 300, left = 60, top = 40, gap = 30;
    int width = left + (int)rd->n_runs * (pw + gap) + 160, height = top + ph + 80;
    text t = {0};
    put(&t,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
        "fill=\"white\"/>\n",
        width, height);
    put(&t,
        "<text x=\"%d\" y=\"20\" font-size=\"14\">LSUV convergence: %s on %s, batch %u "
        "(solid: |mean|, dashed: |std - 1|)</text>\n",
        left, r->net->path, rd->info.name, r->batch->n);
    const double lo = -8, hi = 1;
    for (uint32_t k = 0; k < rd->n_runs; ++k) {
        const lsuv_run *run = &rd->runs[k];
        int x0 = left + (int)k * (pw + gap);
        uint32_t max_pass = 1;
        for (uint32_t i = 0; i < run->n_trace; ++i)
            if (run->trace[i].pass + 1 > max_pass) max_pass = run->trace[i].pass + 1;
        put(&t,
            "<g><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#999\"/>\n<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n",
            x0, top, pw, ph, x0 + 4, top - 6, lsuv_order_name(run->order));
        for (int e = (int)lo; e <= (int)hi; e += 1) {
            double y = top + ph * (hi - e) / (hi - lo);
            put(&t, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", x0,
                x0 + pw, y, y);
            if (k == 0)
                put(&t, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n", x0 - 4,
                    y + 4, e);
        }
        for (uint32_t p = 0; p < max_pass; ++p) {
            double x = x0 + pw * (p + 0.5) / max_pass;
            if (max_pass <= 20 || p % 5 == 0)
                put(&t, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%u</text>", x,
                    top + ph + 16, p);
        }
        put(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">pass</text>\n", x0 + pw / 2,
            top + ph + 34);
        for (uint32_t l = 0; l < run->n_layers; ++l) {
            uint32_t index = run->layers[l].index;
            for (int which = 0; which < 2; ++which) {
                put(&t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"",
                    colours[l % 8], which ? " stroke-dasharray=\"5,3\"" : "");
                for (uint32_t i = 0; i < run->n_trace; ++i) {
                    const lsuv_trace_row *row = &run->trace[i];
                    if (row->layer != index) continue;
                    double v = which ? fabs(row->std - 1) : fabs(row->mean);
                    double e = v > 0 ? log10(v) : lo;
                    if (e < lo) e = lo;
                    if (e > hi) e = hi;
                    put(&t, "%.1f,%.1f ", x0 + pw * (row->pass + 0.5) / max_pass,
                        top + ph * (hi - e) / (hi - lo));
                }
                put(&t, "\"/>\n");
            }
        }
        put(&t, "</g>\n");
    }
    int lx = left + (int)rd->n_runs * (pw + gap);
    for (uint32_t l = 0; rd->n_runs && l < rd->runs[0].n_layers; ++l) {
        int y = top + 14 + 18 * (int)l;
        put(&t,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
            "<text x=\"%d\" y=\"%d\">layer %u</text>\n",
            lx, lx + 24, y - 4, y - 4, colours[l % 8], lx + 30, y, rd->runs[0].layers[l].index);
    }
    put(&t, "</svg>\n");
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    return t.data;
}

int report_write_all(const report *r) {
    const options *o = r->options;
    int code = EXIT_OK;
    if (o->json) code = cli_write_json(report_json(r), o->json);
    if (code == EXIT_OK && o->csv) code = write_csv(r, o->csv);
    if (code == EXIT_OK && o->trace) code = write_trace(r, o->trace);
    if (code == EXIT_OK && o->plot) {
        char *svg = report_svg(r);
        text t = {svg, svg ? strlen(svg) : 0, svg ? strlen(svg) + 1 : 0, svg == NULL};
        code = write_text(&t, o->plot);
    }
    return code;
}
