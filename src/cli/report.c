#include "cli/report.h"

#include "app/json.h"
#include "app/plot.h"
#include "app/preset.h"
#include "cli/outputs.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Where every layer was measured (post, pre or conv); "mixed" else. */
static const char *run_measure(const lsuv_run *run) {
    for (uint32_t l = 1; l < run->n_layers; ++l)
        if (run->layers[l].measure != run->layers[0].measure) return "mixed";
    return lsuv_measure_name(run->n_layers ? run->layers[0].measure : LSUV_MEASURE_POST);
}

/* Two header lines: each ordering with where it measured, then the columns.
 * "tol": the final mean and std meet the tolerances; "cap": a loop hit
 * --max-iters; "ms/pass": the layer's GPU time over its passes. */
static void table_header(const report_device *rd, bool eval, FILE *out) {
    fprintf(out, "%-5s %-14s %-10s", "layer", "type", "output");
    for (uint32_t k = 0; k < rd->n_runs; ++k) {
        char title[64];
        snprintf(title, sizeof title, "%s, measured %s", lsuv_order_name(rd->runs[k].order),
                 run_measure(&rd->runs[k]));
        fprintf(out, " | %-*s", eval ? 80 : 57, title);
    }
    fprintf(out, "\n%-31s", "");
    for (uint32_t k = 0; k < rd->n_runs; ++k) {
        fprintf(out, " | %6s %12s %9s %4s %3s %8s %8s", "passes", "mean", "std", "tol", "cap",
                "gpu ms", "ms/pass");
        if (eval) fprintf(out, " %12s %9s", "eval mean", "eval std");
    }
    fprintf(out, "\n");
}

/* The eval batch's moments of run k's layer l, where the run measured it. */
static void eval_moments(const report_device *rd, uint32_t k, uint32_t l, double *mean,
                         double *std) {
    const lsuv_layer_run *lr = &rd->runs[k].layers[l];
    const lsuv_layer_stats *st = &rd->eval[k][lr->index];
    if (lr->measure == LSUV_MEASURE_CONV) { /* lsuv_network_measure does not take W x */
        *mean = *std = NAN;
        return;
    }
    bool pre = lr->measure == LSUV_MEASURE_PRE;
    *mean = pre ? st->pre_mean : st->mean;
    *std = pre ? st->pre_std : st->std;
}

/* The line under the table for each ordering. */
static void table_summary(const report *r, const report_device *rd, uint32_t k, FILE *out) {
    const lsuv_run *run = &rd->runs[k];
    fprintf(out,
            "%-11s %s, %u of %u layers capped, %u passes, %u submissions, %llu bytes read back, "
            "gpu %.2f ms (%.3f a pass), wall %.2f ms",
            lsuv_order_name(run->order),
            app_run_within_tol(run) ? "within tolerance" : "NOT within tolerance",
            app_run_capped_layers(run), run->n_layers, run->passes, run->submissions,
            (unsigned long long)run->readback_bytes, run->gpu_ms,
            app_ms_per_pass(run->gpu_ms, run->passes), run->wall_ms);
    if (r->options->verify)
        fprintf(out, "; largest |device - fp64| of final mean and std: %.3g", rd->verify[k]);
    fprintf(out, "\n");
}

/* --all-layers: every layer's output after run k, on the fitted batch and
 * the eval batch; "active": the fraction of units a rectifier passes. */
static void table_network(const report *r, const report_device *rd, uint32_t k, FILE *out) {
    const lsuv_layer_stats *fit = rd->fitted[k], *ev = rd->eval[k];
    fprintf(out, "\nevery layer after %s, %s batch%s\n", lsuv_order_name(rd->runs[k].order),
            "fitted", ev ? " | eval batch" : "");
    fprintf(out, "%-5s %-14s %-10s %12s %9s %7s", "layer", "type", "output", "mean", "std",
            "active");
    if (ev) fprintf(out, " | %12s %9s %7s", "mean", "std", "active");
    fprintf(out, "\n");
    for (uint32_t i = 0; i < r->net->n_layers; ++i) {
        const lsuv_layer *layer = &r->net->layers[i];
        char shape[32];
        snprintf(shape, sizeof shape, "%ux%ux%u", layer->out.c, layer->out.h, layer->out.w);
        fprintf(out, "%-5u %-14s %-10s %12.3e %9.6f %7.4f", i, lsuv_layer_type_name(layer->type),
                shape, fit[i].mean, fit[i].std, fit[i].active);
        if (ev) fprintf(out, " | %12.3e %9.6f %7.4f", ev[i].mean, ev[i].std, ev[i].active);
        fprintf(out, "\n");
    }
}

void report_table(const report *r, FILE *out) {
    const lsuv_net *net = r->net;
    for (uint32_t d = 0; d < r->n_devices; ++d) {
        const report_device *rd = &r->devices[d];
        fprintf(out, "\ndevice %u: %s [%s], batch %u", rd->info.index, rd->info.name,
                lsuv_device_type_name(rd->info.type), r->batch->n);
        if (r->options->preset) fprintf(out, ", preset %s", r->options->preset);
        fprintf(out, "\n");
        bool eval = r->options->eval_input != NULL;
        table_header(rd, eval, out);
        for (uint32_t l = 0; rd->n_runs && l < rd->runs[0].n_layers; ++l) {
            const lsuv_layer *layer = &net->layers[rd->runs[0].layers[l].index];
            char shape[32];
            snprintf(shape, sizeof shape, "%ux%ux%u", layer->out.c, layer->out.h, layer->out.w);
            fprintf(out, "%-5u %-14s %-10s", layer->index, lsuv_layer_type_name(layer->type),
                    shape);
            for (uint32_t k = 0; k < rd->n_runs; ++k) {
                if (l >= rd->runs[k].n_layers) {
                    fprintf(out, " | %*s", eval ? 80 : 57, "");
                    continue;
                }
                const lsuv_layer_run *lr = &rd->runs[k].layers[l];
                fprintf(out, " | %6u %12.3e %9.6f %4s %3s %8.2f %8.3f", lr->passes, lr->mean,
                        lr->std, lr->within_tol ? "yes" : "no", lr->capped ? "yes" : "", lr->gpu_ms,
                        app_ms_per_pass(lr->gpu_ms, lr->passes));
                double em, es;
                if (eval) eval_moments(rd, k, l, &em, &es);
                if (eval) fprintf(out, " %12.3e %9.6f", em, es);
            }
            fprintf(out, "\n");
        }
        for (uint32_t k = 0; k < rd->n_runs; ++k) table_summary(r, rd, k, out);
        for (uint32_t k = 0; r->options->all_layers && k < rd->n_runs; ++k)
            table_network(r, rd, k, out);
    }
}

/* What the run was asked to do, beside what it did. */
static void report_method_json(cJSON *o, const lsuv_options *m) {
    cJSON_AddStringToObject(o, "mean_param", app_mean_param_name(m->mean_param));
    cJSON_AddStringToObject(o, "estimator", app_estimator_name(m->estimator));
    cJSON_AddStringToObject(o, "update", app_update_name(m->update));
    cJSON_AddStringToObject(o, "lsuv_layers", app_layer_set_name(m->layers));
    cJSON_AddNumberToObject(o, "tol_mean", m->tol_mean);
    cJSON_AddNumberToObject(o, "tol_std", m->tol_std);
    cJSON_AddNumberToObject(o, "max_iters", m->max_iters);
}

/* eval_mean and eval_std into each LSUV layer's object, at its measuring
 * point, so that they compare with its mean and std. */
static void add_eval_json(cJSON *layers, const report_device *rd, uint32_t k) {
    uint32_t l = 0;
    for (cJSON *lj = layers ? layers->child : NULL; lj; lj = lj->next, ++l) {
        double mean, std;
        eval_moments(rd, k, l, &mean, &std);
        cJSON_AddNumberToObject(lj, "eval_mean", mean);
        cJSON_AddNumberToObject(lj, "eval_std", std);
    }
}

static void add_stats_json(cJSON *o, const char *prefix, const lsuv_layer_stats *st) {
    static const char *const names[] = {"mean", "std", "pre_mean", "pre_std", "active"};
    const double v[] = {st->mean, st->std, st->pre_mean, st->pre_std, st->active};
    for (int j = 0; j < 5; ++j) {
        char key[32];
        snprintf(key, sizeof key, "%s%s", prefix, names[j]);
        /* NaN (no pre-activation, no rectifier) as null. */
        if (v[j] == v[j])
            cJSON_AddNumberToObject(o, key, v[j]);
        else
            cJSON_AddNullToObject(o, key);
    }
}

/* --all-layers: every layer's statistics after run k. */
static cJSON *network_json(const report *r, const report_device *rd, uint32_t k) {
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < r->net->n_layers; ++i) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);
        cJSON_AddNumberToObject(o, "layer", i);
        cJSON_AddStringToObject(o, "type", lsuv_layer_type_name(r->net->layers[i].type));
        cJSON_AddNumberToObject(o, "count", (double)rd->fitted[k][i].count);
        add_stats_json(o, "", &rd->fitted[k][i]);
        if (rd->eval[k]) add_stats_json(o, "eval_", &rd->eval[k][i]);
    }
    return a;
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
    if (r->options->eval_input) cJSON_AddStringToObject(root, "eval_input", r->options->eval_input);
    cJSON_AddNumberToObject(root, "seed", (double)r->options->seed);
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (uint32_t d = 0; d < r->n_devices; ++d)
        for (uint32_t k = 0; k < r->devices[d].n_runs; ++k) {
            const lsuv_run *run = &r->devices[d].runs[k];
            cJSON *o = cJSON_CreateObject();
            if (r->n_devices > 1) cJSON_AddStringToObject(o, "device", r->devices[d].info.name);
            if (r->options->preset) cJSON_AddStringToObject(o, "preset", r->options->preset);
            cJSON_AddStringToObject(o, "order", lsuv_order_name(run->order));
            cJSON_AddStringToObject(o, "measure", run_measure(run));
            report_method_json(o, &r->options->method);
            /* Converged means within tolerance: a loop can stop short of its
             * cap with the other loop's statistic off again. */
            cJSON_AddBoolToObject(o, "converged", app_run_within_tol(run));
            cJSON_AddBoolToObject(o, "within_tol", app_run_within_tol(run));
            cJSON_AddNumberToObject(o, "capped_layers", app_run_capped_layers(run));
            cJSON_AddNumberToObject(o, "passes", run->passes);
            cJSON_AddNumberToObject(o, "submissions", run->submissions);
            cJSON_AddNumberToObject(o, "readback_bytes", (double)run->readback_bytes);
            cJSON_AddNumberToObject(o, "gpu_ms", run->gpu_ms);
            app_json_add_ms_per_pass(o, run->gpu_ms, run->passes);
            cJSON_AddNumberToObject(o, "wall_ms", run->wall_ms);
            if (r->options->verify)
                cJSON_AddNumberToObject(o, "verify_max_diff", r->devices[d].verify[k]);
            cJSON *layers = app_run_layers_json(r->net, run);
            if (r->devices[d].eval[k]) add_eval_json(layers, &r->devices[d], k);
            cJSON_AddItemToObject(o, "layers", layers);
            if (r->options->all_layers)
                cJSON_AddItemToObject(o, "network", network_json(r, &r->devices[d], k));
            cJSON_AddItemToArray(runs, o);
        }
    return root;
}

static char *csv_text(const report *r) {
    lsuv_text t = {0};
    lsuv_text_put(&t, "device,order,layer,type,measure,passes,mean,std,within_tol,capped,gpu_ms\n");
    for (uint32_t d = 0; d < r->n_devices; ++d)
        for (uint32_t k = 0; k < r->devices[d].n_runs; ++k) {
            const lsuv_run *run = &r->devices[d].runs[k];
            for (uint32_t l = 0; l < run->n_layers; ++l) {
                const lsuv_layer_run *lr = &run->layers[l];
                lsuv_text_put(&t, "\"%s\",%s,%u,%s,%s,%u,%.9g,%.9g,%d,%d,%.4f\n",
                              r->devices[d].info.name, lsuv_order_name(run->order), lr->index,
                              lsuv_layer_type_name(r->net->layers[lr->index].type),
                              lsuv_measure_name(lr->measure), lr->passes, lr->mean, lr->std,
                              lr->within_tol, lr->capped, lr->gpu_ms);
            }
        }
    return lsuv_text_take(&t);
}

/* Where the run measured the layer (the trace rows carry no measuring point). */
static lsuv_measure layer_measure(const lsuv_run *run, uint32_t index) {
    for (uint32_t l = 0; l < run->n_layers; ++l)
        if (run->layers[l].index == index) return run->layers[l].measure;
    return LSUV_MEASURE_POST;
}

/* The trace and the plot are of the first selected device. */
static char *trace_text(const report *r) {
    lsuv_text t = {0};
    lsuv_text_put(&t, "order,layer,pass,step,mean,std,measure\n");
    for (uint32_t k = 0; k < r->devices[0].n_runs; ++k) {
        const lsuv_run *run = &r->devices[0].runs[k];
        for (uint32_t i = 0; i < run->n_trace; ++i) {
            const lsuv_trace_row *row = &run->trace[i];
            lsuv_text_put(&t, "%s,%u,%u,%c,%.9g,%.9g,%s\n", lsuv_order_name(run->order), row->layer,
                          row->pass, row->step, row->mean, row->std,
                          lsuv_measure_name(layer_measure(run, row->layer)));
        }
    }
    return lsuv_text_take(&t);
}

char *report_svg(const report *r) {
    const report_device *rd = &r->devices[0];
    char title[512];
    snprintf(title, sizeof title, "LSUV convergence: %s on %s, batch %u", r->net->path,
             rd->info.name, r->batch->n);
    return app_plot_convergence(title, rd->runs, rd->n_runs);
}

static void add_text(outputs *set, const char *option, const char *path, char *text) {
    outputs_add(set, option, path, text, text ? strlen(text) : 0);
}

void report_outputs(const report *r, outputs *set) {
    const report_options *o = r->options;
    if (o->json) outputs_add_json(set, "--json", o->json, report_json(r));
    if (o->csv) add_text(set, "--csv", o->csv, csv_text(r));
    if (o->trace) add_text(set, "--trace", o->trace, trace_text(r));
    if (o->plot) add_text(set, "--plot", o->plot, report_svg(r));
}
