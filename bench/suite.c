/* lsuv-bench's LSUV suite. For each network and precision, the selected
 * devices are set up side by side; then each ordering runs on each device
 * (one warm-up, then the timed repeats), and the final weights of the
 * devices are compared pair by pair before the next ordering. */
#include "suite.h"

#include "app/exit_codes.h"
#include "app/json.h"
#include "app/plot.h"
#include "core/clock.h"
#include "lsuv/lsuv.h"
#include "lsuv/ref.h"
#include "output.h"
#include "peer.h"
#include "summary.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What one device holds for the network being benchmarked. */
typedef struct device_state {
    lsuv_device *dev;
    const lsuv_device_info *info;
    lsuv_forward *forward;
    lsuv_stats *stats[METHOD_COUNT];
    double setup_ms;
    lsuv_run last[LSUV_ORDER_COUNT]; /* the last timed run, for the plots */
    summary wall[LSUV_ORDER_COUNT];
    lsuv_weights *final; /* after the current ordering */
} device_state;

static double err_eps(double value, double ref, double scale) {
    return fabs(value - ref) / (FLT_EPSILON * scale);
}

typedef struct ref_visit {
    const lsuv_run *run;
    uint32_t next;
    layer_error *errors;
} ref_visit;

static lsuv_status visit_layer(void *p, uint32_t layer, const double *out, uint64_t count) {
    ref_visit *v = p;
    if (v->next >= v->run->n_layers || v->run->layers[v->next].index != layer) return LSUV_OK;
    const lsuv_layer_run *lr = &v->run->layers[v->next];
    lsuv_moments m;
    lsuv_ref_moments_f64(out, count, &m);
    v->errors[v->next].engine_mean = err_eps(lr->mean, m.mean, m.std);
    v->errors[v->next].engine_std = err_eps(lr->std, m.std, m.std);
    v->next++;
    return LSUV_OK;
}

/* The precision study of one run: the engine's final statistics against
 * the fp64 forward of the final weights, and each statistics method over
 * the device's own output against fp64 statistics of that same output. */
static lsuv_status study_precision(device_state *ds, const lsuv_net *net, const lsuv_batch *batch,
                                   const lsuv_run *run, unsigned methods, layer_error *errors) {
    if (run->n_layers == 0) return LSUV_OK;
    uint32_t last = run->layers[run->n_layers - 1].index;
    ref_visit v = {run, 0, errors};
    lsuv_status s = lsuv_ref_forward_each(net, ds->final, batch, last, visit_layer, &v);
    if (s == LSUV_OK) s = lsuv_forward_run(ds->forward, 0, last, false);
    for (uint32_t k = 0; s == LSUV_OK && k < run->n_layers; ++k) {
        uint64_t count =
            (uint64_t)batch->n * lsuv_ref_layer_outputs(&net->layers[run->layers[k].index]);
        float *out = malloc(count * sizeof *out);
        lsuv_buffer *buf = NULL;
        s = out ? lsuv_forward_read(ds->forward, run->layers[k].index, out)
                : LSUV_ERROR_OUT_OF_MEMORY;
        lsuv_moments ref;
        if (s == LSUV_OK) {
            lsuv_ref_moments(out, count, &ref);
            s = lsuv_buffer_create(ds->dev, count * sizeof *out, &buf);
        }
        if (s == LSUV_OK) s = lsuv_buffer_write(buf, 0, out, count * sizeof *out);
        for (int m = 0; s == LSUV_OK && m < METHOD_COUNT; ++m) {
            errors[k].method_mean[m] = errors[k].method_std[m] = NAN;
            if (!(methods & (1u << m))) continue;
            lsuv_moments got;
            s = lsuv_stats_compute(ds->stats[m], buf, 0, count, &got);
            if (s != LSUV_OK) break;
            errors[k].method_mean[m] = err_eps(got.mean, ref.mean, ref.std);
            errors[k].method_std[m] = err_eps(got.std, ref.std, ref.std);
        }
        lsuv_buffer_destroy(buf);
        free(out);
    }
    return s;
}

/* The largest difference of two devices' results of one ordering. */
static void compare_devices(const lsuv_net *net, const device_state *a, const device_state *b,
                            lsuv_order order, double *mean_diff, double *std_diff,
                            double *weight_rel) {
    const lsuv_run *ra = &a->last[order], *rb = &b->last[order];
    *mean_diff = *std_diff = *weight_rel = 0;
    for (uint32_t k = 0; k < ra->n_layers && k < rb->n_layers; ++k) {
        *mean_diff = fmax(*mean_diff, fabs(ra->layers[k].mean - rb->layers[k].mean));
        *std_diff = fmax(*std_diff, fabs(ra->layers[k].std - rb->layers[k].std));
    }
    /* Per layer, the largest weight difference relative to the largest
     * weight; the worst layer. */
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer_params *pa = &a->final->layers[i], *pb = &b->final->layers[i];
        if (!pa->weight) continue;
        double diff = 0, scale = 0;
        for (uint64_t j = 0; j < pa->weight_count; ++j) {
            diff = fmax(diff, fabs((double)pa->weight[j] - pb->weight[j]));
            scale = fmax(scale, fabs((double)pa->weight[j]));
        }
        if (scale > 0) *weight_rel = fmax(*weight_rel, diff / scale);
    }
}

static cJSON *summary_json(const summary *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "median", s->median);
    cJSON_AddNumberToObject(o, "min", s->min);
    cJSON_AddNumberToObject(o, "max", s->max);
    return o;
}

/* Runs bench/peers/fastai_lsuv.py with Debian's python3, where
 * python3-torch installs; returns its JSON or NULL (and says why). */
/* The same experiment in PyTorch, from the same initial weights and batch,
 * with each device's wall time as a ratio to it. */
static void bench_peer(const lsuv_net *net, const lsuv_weights *w, const suite_options *o,
                       const device_state *ds, uint32_t n_dev, FILE *table, cJSON *peers) {
    cJSON *peer = peer_run(net, w, o->images, o->repeats, table);
    if (!peer) return;
    const cJSON *torch = cJSON_GetObjectItem(peer, "torch"),
                *threads = cJSON_GetObjectItem(peer, "threads");
    fprintf(table,
            "PyTorch %s (%d threads) on the same CPU, same weights and batch; ms median "
            "(min-max), then each device's wall time over it:\n",
            cJSON_IsString(torch) ? torch->valuestring : "?",
            cJSON_IsNumber(threads) ? threads->valueint : 0);
    const cJSON *pr;
    cJSON_ArrayForEach(pr, cJSON_GetObjectItem(peer, "runs")) {
        const char *variant = cJSON_GetStringValue(cJSON_GetObjectItem(pr, "variant"));
        const char *order = cJSON_GetStringValue(cJSON_GetObjectItem(pr, "order"));
        double ms = cJSON_GetNumberValue(cJSON_GetObjectItem(pr, "median_ms"));
        lsuv_order ord;
        if (!variant || !order || !lsuv_order_from_name(order, &ord) || !(ms > 0)) continue;
        fprintf(table, "  %-11s %-11s %8.2f (%.2f-%.2f), %d passes", variant, order, ms,
                cJSON_GetNumberValue(cJSON_GetObjectItem(pr, "min_ms")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(pr, "max_ms")),
                (int)cJSON_GetNumberValue(cJSON_GetObjectItem(pr, "passes")));
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "variant", variant);
        cJSON_AddStringToObject(e, "order", order);
        cJSON_AddItemToObject(e, "torch", cJSON_Duplicate(torch, true));
        cJSON_AddNumberToObject(e, "wall_ms", ms);
        cJSON *ratios = cJSON_AddObjectToObject(e, "lsuv_vk_wall_ratio");
        for (uint32_t d = 0; d < n_dev; ++d) {
            if (!ds[d].forward || !(o->orders & (1u << ord))) continue;
            double r = ds[d].wall[ord].median / ms;
            fprintf(table, "; %s %.2f", ds[d].info->name, r);
            cJSON_AddNumberToObject(ratios, ds[d].info->name, r);
        }
        fprintf(table, "\n");
        cJSON_AddItemToArray(peers, e);
    }
    cJSON_Delete(peer);
}

static void device_state_free(device_state *ds) {
    for (int o = 0; o < LSUV_ORDER_COUNT; ++o) lsuv_run_free(&ds->last[o]);
    for (int m = 0; m < METHOD_COUNT; ++m) lsuv_stats_destroy(ds->stats[m]);
    lsuv_weights_destroy(ds->final);
    lsuv_forward_destroy(ds->forward);
    lsuv_device_destroy(ds->dev);
    memset(ds, 0, sizeof *ds);
}

/* Sets a device up for the network; a device that lacks what the precision
 * needs is left without a forward, and said so. */
static lsuv_status device_setup(lsuv_instance *inst, uint32_t index, const lsuv_net *net,
                                const lsuv_weights *w, const lsuv_batch *batch,
                                lsuv_precision precision, lsuv_conv_kernel kernel,
                                device_state *ds) {
    lsuv_status s = lsuv_device_create(inst, index, &ds->dev);
    if (s != LSUV_OK) return s;
    ds->info = lsuv_device_get_info(ds->dev);
    /* The precision study reads every layer LSUV ran on after a forward. */
    lsuv_forward_options fo = {
        .batch = batch->n, .precision = precision, .conv_kernel = kernel, .keep_outputs = true};
    double t0 = lsuv_wall_seconds();
    s = lsuv_forward_create(ds->dev, net, w, &fo, &ds->forward);
    ds->setup_ms = (lsuv_wall_seconds() - t0) * 1e3;
    if (s == LSUV_OK) s = lsuv_forward_set_input(ds->forward, batch);
    for (int m = 0; s == LSUV_OK && m < METHOD_COUNT; ++m) {
        lsuv_stats_options so = {.method = (lsuv_stats_method)m};
        s = lsuv_stats_create(ds->dev, &so, &ds->stats[m]);
    }
    if (s == LSUV_OK) s = lsuv_weights_create(net, &ds->final);
    return s;
}

typedef struct net_ctx {
    const suite_net *sn;
    const lsuv_net *net;
    const lsuv_weights *initial;
    const lsuv_batch *batch;
    lsuv_precision precision;
    const suite_options *o;
    FILE *table;
    cJSON *root;
    results_csv *csv;
} net_ctx;

/* The warm-up, then the timed repeats of one ordering; the last run stays in
 * ds->last[order]. */
static lsuv_status time_order(const net_ctx *c, device_state *ds, lsuv_order order, double *gpu,
                              double *wall, double *first_ms) {
    lsuv_options lo =
        c->o->preset ? app_preset_options(c->o->preset, order) : (lsuv_options){.order = order};
    lsuv_status s = LSUV_OK;
    for (uint32_t r = 0; s == LSUV_OK && r <= c->o->repeats; ++r) {
        lsuv_run run;
        s = lsuv_forward_reset(ds->forward, c->initial);
        if (s == LSUV_OK) s = lsuv_initialize(ds->forward, &lo, &run);
        if (s != LSUV_OK) break;
        lsuv_run_free(&ds->last[order]);
        ds->last[order] = run;
        if (run.hazard != LSUV_HAZARD_NONE) break;
        if (r == 0)
            *first_ms = run.wall_ms;
        else {
            gpu[r - 1] = run.gpu_ms;
            wall[r - 1] = run.wall_ms;
        }
    }
    return s;
}

/* The largest of each figure over a run's layers, for the table. */
typedef struct order_worst {
    double mean, std, engine, method[METHOD_COUNT];
} order_worst;

/* The run's layers with |mean|, |std - 1| and the precision study's errors. */
static cJSON *order_layers_json(const net_ctx *c, const lsuv_run *run, const layer_error *errors,
                                order_worst *worst) {
    cJSON *layers = app_run_layers_json(c->net, run);
    *worst = (order_worst){0};
    for (uint32_t k = 0; k < run->n_layers; ++k) {
        cJSON *lj = cJSON_GetArrayItem(layers, (int)k);
        const lsuv_layer_run *lr = &run->layers[k];
        const layer_error *er = &errors[k];
        cJSON_AddNumberToObject(lj, "abs_mean", fabs(lr->mean));
        cJSON_AddNumberToObject(lj, "abs_std_minus_1", fabs(lr->std - 1));
        cJSON *pe = cJSON_AddObjectToObject(lj, "error_eps");
        cJSON *en = cJSON_AddObjectToObject(pe, "engine");
        cJSON_AddNumberToObject(en, "mean", er->engine_mean);
        cJSON_AddNumberToObject(en, "std", er->engine_std);
        worst->mean = fmax(worst->mean, fabs(lr->mean));
        worst->std = fmax(worst->std, fabs(lr->std - 1));
        worst->engine = fmax(worst->engine, fmax(er->engine_mean, er->engine_std));
        for (int m = 0; m < METHOD_COUNT; ++m) {
            if (!(c->o->methods & (1u << m))) continue;
            cJSON *mj = cJSON_AddObjectToObject(pe, suite_method_names[m]);
            cJSON_AddNumberToObject(mj, "mean", er->method_mean[m]);
            cJSON_AddNumberToObject(mj, "std", er->method_std[m]);
            worst->method[m] = fmax(worst->method[m], fmax(er->method_mean[m], er->method_std[m]));
        }
    }
    return layers;
}

/* The figures of one timed ordering. */
typedef struct order_times {
    summary gpu, wall;
    double first_ms; /* the warm-up, with the pipeline compile */
} order_times;

/* Its entry of "lsuv"; returns the entry's number, counted from 1. */
static int add_order_entry(const net_ctx *c, const device_state *ds, lsuv_order order,
                           const order_times *t, const layer_error *errors, order_worst *worst) {
    const lsuv_run *run = &ds->last[order];
    cJSON *lsuv = cJSON_GetObjectItem(c->root, "lsuv");
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(lsuv, e);
    cJSON_AddStringToObject(e, "device", ds->info->name);
    cJSON_AddStringToObject(e, "net", c->sn->name);
    cJSON_AddStringToObject(e, "cfg", c->sn->shown_path);
    cJSON_AddNumberToObject(e, "batch", c->batch->n);
    cJSON_AddStringToObject(e, "input", c->sn->shown_input);
    cJSON_AddStringToObject(e, "precision", suite_precision_names[c->precision]);
    if (c->o->preset) cJSON_AddStringToObject(e, "preset", c->o->preset->name);
    cJSON_AddStringToObject(e, "order", lsuv_order_name(order));
    cJSON_AddBoolToObject(e, "converged", app_run_within_tol(run));
    cJSON_AddBoolToObject(e, "within_tol", app_run_within_tol(run));
    cJSON_AddNumberToObject(e, "capped_layers", app_run_capped_layers(run));
    cJSON_AddNumberToObject(e, "passes", run->passes);
    cJSON_AddNumberToObject(e, "submissions", run->submissions);
    cJSON_AddNumberToObject(e, "readback_bytes", (double)run->readback_bytes);
    cJSON_AddNumberToObject(e, "repeats", c->o->repeats);
    cJSON_AddItemToObject(e, "gpu_ms", summary_json(&t->gpu));
    /* Of the median run. */
    app_json_add_ms_per_pass(e, t->gpu.median, run->passes);
    cJSON_AddItemToObject(e, "wall_ms", summary_json(&t->wall));
    cJSON_AddNumberToObject(e, "first_wall_ms", t->first_ms);
    cJSON_AddItemToObject(e, "layers", order_layers_json(c, run, errors, worst));
    return cJSON_GetArraySize(lsuv);
}

/* The first ordering of a device shows what the pipeline compile cost. */
static void add_compile_entry(const net_ctx *c, const device_state *ds, const order_times *t) {
    cJSON *compiles = cJSON_GetObjectItem(c->root, "compiles");
    cJSON *ce = cJSON_CreateObject();
    cJSON_AddItemToArray(compiles, ce);
    cJSON_AddStringToObject(ce, "device", ds->info->name);
    cJSON_AddStringToObject(ce, "net", c->sn->name);
    cJSON_AddStringToObject(ce, "precision", suite_precision_names[c->precision]);
    cJSON_AddNumberToObject(ce, "setup_ms", ds->setup_ms);
    cJSON_AddNumberToObject(ce, "first_run_ms", t->first_ms);
    cJSON_AddNumberToObject(ce, "warm_run_ms", t->wall.median);
    cJSON_AddNumberToObject(ce, "compile_ms", fmax(0, t->first_ms - t->wall.median));
    cJSON_AddNumberToObject(ce, "cache_loaded_bytes", (double)lsuv_device_cache_loaded(ds->dev));
}

/* The table's row, and the case's progress line (CSV) on stderr. */
static void print_order(const net_ctx *c, const device_state *ds, lsuv_order order,
                        const order_times *t, const order_worst *worst, int case_number) {
    const lsuv_run *run = &ds->last[order];
    const summary *g = &t->gpu, *wl = &t->wall;
    fprintf(c->table,
            "%-32.32s %-11s %6u %4u %6llu %8.2f (%6.2f-%7.2f) %8.3f %8.2f (%6.2f-%7.2f) "
            "%8.1e %8.1e %7.1f",
            ds->info->name, lsuv_order_name(order), run->passes, run->submissions,
            (unsigned long long)run->readback_bytes, g->median, g->min, g->max,
            app_ms_per_pass(g->median, run->passes), wl->median, wl->min, wl->max, worst->mean,
            worst->std, worst->engine);
    for (int m = 0; m < METHOD_COUNT; ++m)
        if (c->o->methods & (1u << m)) fprintf(c->table, " %8.1f", worst->method[m]);
    fprintf(c->table, "\n");
    fflush(c->table);
    fprintf(stderr, "%d,", case_number);
    csv_field(stderr, ds->info->name);
    fputc(',', stderr);
    csv_field(stderr, c->sn->name);
    fprintf(stderr, ",%s,%s,%u,%.3f,%.3f,%u\n", suite_precision_names[c->precision],
            lsuv_order_name(order), c->batch->n, wl->median, g->median, run->passes);
}

/* Why a timed ordering gives no figures, said; EXIT_OK when it does. */
static int order_failure(const net_ctx *c, const device_state *ds, lsuv_order order,
                         lsuv_status s) {
    const lsuv_run *run = &ds->last[order];
    const char *dev_name = ds->info->name;
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s, %s, %s: %s\n", dev_name, c->sn->name,
                lsuv_order_name(order), lsuv_error_message());
        return app_exit_code(s, APP_FAILED_DEVICE);
    }
    if (run->hazard != LSUV_HAZARD_NONE) {
        const lsuv_layer_run *l = &run->layers[run->n_layers - 1];
        fprintf(stderr, "lsuv-bench: %s, %s, %s: layer %u stopped the run (mean %g, std %g)\n",
                dev_name, c->sn->name, lsuv_order_name(order), l->index, l->mean, l->std);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

/* One ordering on one device: the warm-up, the timed repeats, the final
 * weights and the precision study; its JSON entry and table row. */
static int bench_order(const net_ctx *c, device_state *ds, lsuv_order order, bool first_order) {
    uint32_t R = c->o->repeats;
    double *gpu = calloc(R, sizeof *gpu), *wall = calloc(R, sizeof *wall);
    layer_error *errors = NULL;
    order_times t = {0};
    lsuv_status s =
        gpu && wall ? time_order(c, ds, order, gpu, wall, &t.first_ms) : LSUV_ERROR_OUT_OF_MEMORY;
    const lsuv_run *run = &ds->last[order];
    const char *dev_name = ds->info->name;
    int code = order_failure(c, ds, order, s);
    if (!code) {
        t.gpu = summary_of(gpu, R);
        t.wall = summary_of(wall, R);
        ds->wall[order] = t.wall;
        /* A zero or impossible time is an error, never a rate of infinity. */
        if (!(t.gpu.min > 0) || !(t.wall.min > 0) || !isfinite(t.gpu.max) ||
            !isfinite(t.wall.max)) {
            fprintf(stderr,
                    "lsuv-bench: %s reported a zero or impossible time (gpu %g ms, wall %g "
                    "ms)\n",
                    dev_name, t.gpu.min, t.wall.min);
            code = EXIT_RUNTIME;
        }
    }
    if (!code) {
        errors = calloc(run->n_layers ? run->n_layers : 1, sizeof *errors);
        s = errors ? lsuv_forward_weights_read(ds->forward, ds->final) : LSUV_ERROR_OUT_OF_MEMORY;
        if (s == LSUV_OK) s = study_precision(ds, c->net, c->batch, run, c->o->methods, errors);
        if (s != LSUV_OK) {
            fprintf(stderr, "lsuv-bench: %s, %s: %s\n", dev_name, c->sn->name,
                    lsuv_error_message());
            code = EXIT_RUNTIME;
        }
    }
    if (!code) {
        order_worst worst;
        int number = add_order_entry(c, ds, order, &t, errors, &worst);
        results_case rc = {.device = dev_name,
                           .net = c->sn->name,
                           .precision = suite_precision_names[c->precision],
                           .batch = c->batch->n,
                           .layers = c->net,
                           .run = run,
                           .gpu_ms = t.gpu,
                           .wall_ms = t.wall,
                           .first_wall_ms = t.first_ms,
                           .errors = errors};
        results_csv_add(c->csv, &rc);
        if (first_order) add_compile_entry(c, ds, &t);
        print_order(c, ds, order, &t, &worst, number);
    }
    free(errors);
    free(gpu);
    free(wall);
    return code;
}

static void add_plots(const net_ctx *c, const device_state *ds, uint32_t n_dev,
                      bench_files *files) {
    const char *p = c->precision == LSUV_PRECISION_FP32 ? "" : "-fp16";
    char name[600], title[1024];
    const char *groups[LSUV_ORDER_COUNT], *series[64];
    app_plot_bar *bars = calloc((size_t)LSUV_ORDER_COUNT * n_dev, sizeof *bars);
    uint32_t n_groups = 0, n_series = 0;
    for (uint32_t d = 0; d < n_dev && d < 64; ++d)
        if (ds[d].forward) series[n_series++] = ds[d].info->name;
    for (int o = 0; bars && o < LSUV_ORDER_COUNT; ++o) {
        if (!(c->o->orders & (1u << o))) continue;
        uint32_t s = 0;
        for (uint32_t d = 0; d < n_dev && s < n_series; ++d) {
            if (!ds[d].forward) continue;
            const summary *w = &ds[d].wall[o];
            bars[n_groups * n_series + s++] = (app_plot_bar){w->median, w->min, w->max};
        }
        groups[n_groups++] = lsuv_order_name((lsuv_order)o);
    }
    snprintf(title, sizeof title, "LSUV wall time per ordering: %s, batch %u, %s, %u runs each",
             c->sn->name, c->batch->n, suite_precision_names[c->precision], c->o->repeats);
    app_plot_bars_desc desc = {title, "ms", groups, n_groups, series, n_series, bars};
    snprintf(name, sizeof name, "time-%s%s.svg", c->sn->name, p);
    bench_files_add(files, name, bars ? app_plot_bars(&desc) : NULL);
    free(bars);
    for (uint32_t d = 0; d < n_dev; ++d) {
        if (!ds[d].forward) continue;
        lsuv_run runs[LSUV_ORDER_COUNT];
        uint32_t n = 0;
        for (int o = 0; o < LSUV_ORDER_COUNT; ++o)
            if (c->o->orders & (1u << o)) runs[n++] = ds[d].last[o];
        char slug[256];
        app_device_slug(ds[d].info, slug, sizeof slug);
        snprintf(title, sizeof title, "LSUV convergence: %s on %s, batch %u, %s", c->sn->name,
                 ds[d].info->name, c->batch->n, suite_precision_names[c->precision]);
        /* The position in the selection keeps a device selected twice apart. */
        snprintf(name, sizeof name, "convergence-%s%s-%u-%s.svg", c->sn->name, p, d, slug);
        bench_files_add(files, name, app_plot_convergence(title, runs, n));
    }
}

static void print_header(const net_ctx *c) {
    fprintf(c->table,
            "\nLSUV: %s (%s), batch %u, %s, input %s: 1 warm-up + %u runs; ms median (min-max); "
            "ms/pass: median GPU time over passes; "
            "worst layer's |mean|, |std-1|, and statistics errors in fp32 eps (engine: fused, "
            "against the fp64 forward; methods: over the device's output)\n",
            c->sn->name, c->sn->shown_path, c->batch->n, suite_precision_names[c->precision],
            c->sn->shown_input, c->o->repeats);
    fprintf(c->table, "%-32s %-11s %6s %4s %6s %24s %8s %24s %8s %8s %7s", "device", "order",
            "passes", "subs", "bytes", "gpu ms", "ms/pass", "wall ms", "|mean|", "|std-1|",
            "engine");
    for (int m = 0; m < METHOD_COUNT; ++m)
        if (c->o->methods & (1u << m)) fprintf(c->table, " %8s", suite_method_names[m]);
    fprintf(c->table, "\n");
}

/* Sets every device up for the network in c's precision; one that lacks what
 * the precision needs is skipped, said so in the table. */
static int setup_devices(const net_ctx *c, lsuv_instance *inst, const uint32_t *devices,
                         uint32_t n_dev, device_state *ds, uint32_t *active) {
    *active = 0;
    for (uint32_t d = 0; d < n_dev; ++d) {
        lsuv_status s = device_setup(inst, devices[d], c->net, c->initial, c->batch, c->precision,
                                     c->o->conv_kernel, &ds[d]);
        if (s == LSUV_ERROR_UNSUPPORTED) {
            fprintf(c->table, "%-32.32s skipped: %s\n", ds[d].info ? ds[d].info->name : "?",
                    lsuv_error_message());
            device_state_free(&ds[d]);
        } else if (s != LSUV_OK) {
            fprintf(stderr, "lsuv-bench: %s: %s\n", c->sn->name, lsuv_error_message());
            return EXIT_RUNTIME;
        } else {
            (*active)++;
        }
    }
    return EXIT_OK;
}

/* Every pair of devices that ran the ordering: their largest differences. */
static void compare_across(const net_ctx *c, const device_state *ds, uint32_t n_dev,
                           lsuv_order ord) {
    cJSON *across = cJSON_GetObjectItem(c->root, "across_devices");
    for (uint32_t a = 0; a < n_dev; ++a)
        for (uint32_t b = a + 1; ds[a].forward && b < n_dev; ++b) {
            if (!ds[b].forward) continue;
            double dm, dsd, dw;
            compare_devices(c->net, &ds[a], &ds[b], ord, &dm, &dsd, &dw);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToArray(across, e);
            cJSON_AddStringToObject(e, "net", c->sn->name);
            cJSON_AddStringToObject(e, "precision", suite_precision_names[c->precision]);
            cJSON_AddStringToObject(e, "order", lsuv_order_name(ord));
            cJSON_AddStringToObject(e, "a", ds[a].info->name);
            cJSON_AddStringToObject(e, "b", ds[b].info->name);
            cJSON_AddNumberToObject(e, "max_mean_diff", dm);
            cJSON_AddNumberToObject(e, "max_std_diff", dsd);
            cJSON_AddNumberToObject(e, "max_weight_rel_diff", dw);
            fprintf(c->table,
                    "  across devices, %s: %s vs %s: mean %.2e, std %.2e, weights "
                    "%.2e relative\n",
                    lsuv_order_name(ord), ds[a].info->name, ds[b].info->name, dm, dsd, dw);
        }
}

/* The network in one precision on every device: each ordering, the
 * comparisons across devices, the plots and (fastai in fp32) the peer. */
static int bench_precision(const net_ctx *c, lsuv_instance *inst, const uint32_t *devices,
                           uint32_t n_dev, device_state *ds, bench_files *files) {
    print_header(c);
    uint32_t active = 0;
    int code = setup_devices(c, inst, devices, n_dev, ds, &active);
    bool first = true;
    for (int ord = 0; !code && ord < LSUV_ORDER_COUNT; ++ord) {
        if (!(c->o->orders & (1u << ord))) continue;
        for (uint32_t d = 0; !code && d < n_dev; ++d)
            if (ds[d].forward) code = bench_order(c, &ds[d], (lsuv_order)ord, first);
        first = false;
        if (!code) compare_across(c, ds, n_dev, (lsuv_order)ord);
    }
    if (!code && active) add_plots(c, ds, n_dev, files);
    if (!code && active && c->o->peer && c->precision == LSUV_PRECISION_FP32 &&
        strcmp(c->sn->name, "fastai") == 0)
        bench_peer(c->net, c->initial, c->o, ds, n_dev, c->table,
                   cJSON_GetObjectItem(c->root, "peers"));
    for (uint32_t d = 0; d < n_dev; ++d) device_state_free(&ds[d]);
    return code;
}

static int bench_net(lsuv_instance *inst, const uint32_t *devices, uint32_t n_dev,
                     const suite_options *o, const suite_net *sn, FILE *table, cJSON *root,
                     bench_files *files, results_csv *csv) {
    lsuv_net *net = NULL;
    lsuv_weights *w = NULL;
    lsuv_batch batch = {0};
    device_state *ds = calloc(n_dev, sizeof *ds);
    lsuv_net_options no = {.strip_bn = o->strip_bn};
    lsuv_status s = ds ? lsuv_net_load(sn->path, &no, &net) : LSUV_ERROR_OUT_OF_MEMORY;
    for (uint32_t i = 0; s == LSUV_OK && i < net->n_warnings; ++i)
        fprintf(stderr, "lsuv-bench: warning: %s\n", net->warnings[i]);
    /* The same initial weights and batch on every device. */
    if (s == LSUV_OK) s = lsuv_weights_init(net, LSUV_INIT_KAIMING, 0, &w);
    lsuv_input_options io = {.spec = sn->input, .batch = sn->batch, .normalize = sn->normalize};
    if (s == LSUV_OK) s = lsuv_input_load(&io, net, &batch);
    int code = EXIT_OK;
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s: %s\n", sn->name, lsuv_error_message());
        code = app_exit_code(s, APP_FAILED_INPUT);
    }
    for (int p = 0; !code && p < PRECISION_COUNT; ++p) {
        if (!(o->precisions & (1u << p))) continue;
        net_ctx c = {sn, net, w, &batch, (lsuv_precision)p, o, table, root, csv};
        code = bench_precision(&c, inst, devices, n_dev, ds, files);
    }
    free(ds);
    lsuv_batch_free(&batch);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    return code;
}

int bench_suite(lsuv_instance *inst, const uint32_t *devices, uint32_t n_dev,
                const suite_options *o, FILE *table, cJSON *root, bench_files *files,
                results_csv *csv) {
    cJSON_AddArrayToObject(root, "compiles");
    cJSON_AddArrayToObject(root, "lsuv");
    cJSON_AddArrayToObject(root, "peers");
    cJSON_AddArrayToObject(root, "across_devices");
    int code = EXIT_OK;
    for (uint32_t n = 0; !code && n < o->n_nets; ++n)
        code = bench_net(inst, devices, n_dev, o, &o->nets[n], table, root, files, csv);
    return code;
}
