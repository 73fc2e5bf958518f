/* LSUV from the command line: each ordering asked for, on each selected
 * device, from identical initial weights; then the reports. Nothing is
 * written unless every run finished clean. */
#include "cli/cli.h"
#include "cli/outputs.h"
#include "cli/report.h"
#include "lsuv/lsuv.h"
#include "lsuv/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void progress(void *ctx, uint32_t k, uint32_t n, uint32_t layer) {
    const char *order = ctx;
    fprintf(stderr, "\rlsuv-vk: %s: layer %u done (%u of %u)   ", order, layer, k, n);
    fflush(stderr);
}

typedef struct verify_ctx {
    const lsuv_run *run;
    uint32_t next; /* the run's next layer to check */
    double worst;
    bool tty; /* a progress line: a big network's fp64 forward takes minutes */
} verify_ctx;

static lsuv_status verify_layer(void *p, uint32_t layer, const double *out, uint64_t count) {
    verify_ctx *v = p;
    if (v->tty) {
        fprintf(stderr, "\rlsuv-vk: %s: fp64 verification, layer %u of %u done   ",
                lsuv_order_name(v->run->order), layer, v->run->layers[v->run->n_layers - 1].index);
        fflush(stderr);
    }
    if (v->next >= v->run->n_layers || v->run->layers[v->next].index != layer) return LSUV_OK;
    const lsuv_layer_run *lr = &v->run->layers[v->next++];
    lsuv_moments m;
    lsuv_ref_moments_f64(out, count, &m);
    double d = fmax(fabs(m.mean - lr->mean), fabs(m.std - lr->std));
    if (d > v->worst) v->worst = d;
    return LSUV_OK;
}

/* The largest difference between the device's final moments of each layer
 * and the fp64 reference's at the point the run measured it (the output,
 * the pre-activation or W x), from the weights the device ended with. */
static lsuv_status verify_run(const lsuv_net *net, const lsuv_weights *final, const lsuv_batch *b,
                              const lsuv_run *run, double *worst) {
    verify_ctx v = {.run = run, .tty = isatty(2)};
    *worst = 0;
    if (!run->n_layers) return LSUV_OK;
    lsuv_measure *at = calloc(net->n_layers, sizeof *at); /* post where LSUV did not run */
    if (!at) return LSUV_ERROR_OUT_OF_MEMORY;
    for (uint32_t l = 0; l < run->n_layers; ++l) at[run->layers[l].index] = run->layers[l].measure;
    uint32_t last = run->layers[run->n_layers - 1].index;
    lsuv_status s = lsuv_ref_forward_each_at(net, final, b, last, at, verify_layer, &v);
    free(at);
    if (v.tty) fprintf(stderr, "\r%70s\r", "");
    *worst = v.worst;
    return s;
}

/* Says where and why LSUV stopped, and what to use instead where another
 * measuring point helps; returns EXIT_HAZARD. */
static int report_hazard(const lsuv_net *net, const lsuv_run *run) {
    const lsuv_layer_run *l = &run->layers[run->n_layers - 1];
    static const char *why[] = {
        "",
        "is dead (std 0: every output finite and equal)",
        "produced NaN or Inf (non-finite values in its output)",
        "diverged (its weight scale left the finite numbers)",
        "overflowed fp32 (every output finite, but their variance beyond fp32)",
        "cannot reach std 1 after its activation (its output's range allows a std of 1 at most, "
        "only with every output saturated); use --measure pre",
        "stalled (its weight scale kept growing or shrinking while the std did not move); "
        "use --measure pre, or check the biases and the activation's range"};
    const lsuv_layer *layer = &net->layers[l->index];
    fprintf(stderr, "lsuv-vk: %s: layer %u (%s, %s) %s", lsuv_order_name(run->order), l->index,
            lsuv_layer_type_name(layer->type), lsuv_activation_name(layer->activation),
            (unsigned)run->hazard < sizeof why / sizeof *why ? why[run->hazard] : "stopped");
    if (l->passes)
        fprintf(stderr, "; last mean %g, std %g", l->mean, l->std);
    else
        fprintf(stderr, "; found before any pass");
    fprintf(stderr, "; nothing was written\n");
    return EXIT_HAZARD;
}

/* The weights a run ended with, read back: checked against the fp64
 * reference (--verify, into *verify) and copied into kept (when not NULL). */
static int read_final(const options *o, const lsuv_net *net, const lsuv_weights *w,
                      const lsuv_batch *batch, lsuv_forward *f, const lsuv_run *run, double *verify,
                      lsuv_weights *kept) {
    lsuv_weights *final = NULL;
    lsuv_status s = lsuv_weights_create(net, &final);
    if (s == LSUV_OK) {
        for (uint32_t i = 0; i < net->n_layers; ++i)
            final->layers[i].has_sub = w->layers[i].has_sub;
        s = lsuv_forward_weights_read(f, final);
    }
    if (s == LSUV_OK && o->verify) s = verify_run(net, final, batch, run, verify);
    if (s == LSUV_OK && kept) {
        for (uint32_t i = 0; i < net->n_layers; ++i) {
            lsuv_layer_params *to = &kept->layers[i], *from = &final->layers[i];
            if (!to->weight) continue;
            memcpy(to->weight, from->weight, to->weight_count * 4);
            memcpy(to->bias, from->bias, to->bias_count * 4);
            to->sub = from->sub;
            to->has_sub = from->has_sub;
            if (to->scales) {
                memcpy(to->scales, from->scales, to->bias_count * 4);
                memcpy(to->rolling_mean, from->rolling_mean, to->bias_count * 4);
                memcpy(to->rolling_variance, from->rolling_variance, to->bias_count * 4);
            }
        }
    }
    lsuv_weights_destroy(final);
    return s == LSUV_OK ? EXIT_OK : cli_fail(s);
}

/* Every layer's statistics with run k's final weights: on the fitted batch
 * (--all-layers) and on the eval batch, which then leaves the forward to
 * the fitted one again for the next ordering. */
static int measure_run(const options *o, lsuv_forward *f, const lsuv_batch *batch,
                       const lsuv_batch *eval, report_device *rd, uint32_t k) {
    uint32_t n = lsuv_forward_net(f)->n_layers;
    lsuv_status s = LSUV_OK;
    if (o->all_layers)
        s = (rd->fitted[k] = calloc(n, sizeof **rd->fitted))
                ? lsuv_network_measure(f, o->estimator, rd->fitted[k])
                : LSUV_ERROR_OUT_OF_MEMORY;
    if (s == LSUV_OK && eval) {
        s = (rd->eval[k] = calloc(n, sizeof **rd->eval)) ? lsuv_forward_set_input(f, eval)
                                                         : LSUV_ERROR_OUT_OF_MEMORY;
        if (s == LSUV_OK) s = lsuv_network_measure(f, o->estimator, rd->eval[k]);
        lsuv_status back = lsuv_forward_set_input(f, batch);
        if (s == LSUV_OK) s = back;
    }
    return s == LSUV_OK ? EXIT_OK : cli_fail(s);
}

static int run_device(const options *o, lsuv_instance *inst, uint32_t index, const lsuv_net *net,
                      const lsuv_weights *w, const lsuv_batch *batch, const lsuv_batch *eval,
                      report_device *rd, lsuv_weights *kept) {
    lsuv_device *dev = NULL;
    lsuv_forward *f = NULL;
    lsuv_status s = lsuv_device_create(inst, index, &dev);
    if (s != LSUV_OK) return cli_fail(s);
    if (lsuv_device_cache_warning(dev))
        fprintf(stderr, "lsuv-vk: warning: %s\n", lsuv_device_cache_warning(dev));
    rd->info = *lsuv_device_get_info(dev);
    lsuv_forward_options fo = {.batch = batch->n,
                               .precision = o->fp16 ? LSUV_PRECISION_FP16 : LSUV_PRECISION_FP32,
                               .conv_kernel = o->conv_kernel,
                               /* lsuv_network_measure reads fp16 pools' outputs */
                               .keep_outputs = o->fp16 && (o->all_layers || eval)};
    s = lsuv_forward_create(dev, net, w, &fo, &f);
    if (s == LSUV_OK) s = lsuv_forward_set_input(f, batch);
    int code = s == LSUV_OK ? EXIT_OK : cli_fail(s);
    bool tty = isatty(2);
    for (unsigned order = 0; code == EXIT_OK && order < LSUV_ORDER_COUNT; ++order) {
        if (!(o->orders & (1u << order))) continue;
        lsuv_options lo = cli_lsuv_options(o, (lsuv_order)order);
        lo.progress = tty ? progress : NULL;
        lo.progress_ctx = (void *)lsuv_order_name((lsuv_order)order);
        lsuv_run *run = &rd->runs[rd->n_runs];
        s = lsuv_forward_reset(f, w);
        if (s == LSUV_OK) s = lsuv_initialize(f, &lo, run);
        if (tty) fprintf(stderr, "\r%60s\r", "");
        if (s != LSUV_OK) {
            code = cli_fail(s);
            break;
        }
        rd->n_runs++;
        if (run->hazard != LSUV_HAZARD_NONE) {
            code = report_hazard(net, run);
            break;
        }
        bool keep = kept && (int)order == o->keep;
        if (o->verify || keep)
            code = read_final(o, net, w, batch, f, run, &rd->verify[rd->n_runs - 1],
                              keep ? kept : NULL);
        if (code == EXIT_OK && (o->all_layers || eval))
            code = measure_run(o, f, batch, eval, rd, rd->n_runs - 1);
    }
    lsuv_forward_destroy(f);
    lsuv_device_destroy(dev);
    return code;
}

/* The table, then (when write) every output or none. */
static int report_and_write(const options *o, const lsuv_net *net, const lsuv_batch *batch,
                            const report_device *devices, uint32_t selected,
                            const lsuv_weights *kept, bool write) {
    report_options ro = {.json = o->json,
                         .csv = o->csv,
                         .trace = o->trace,
                         .plot = o->plot,
                         .input = o->input,
                         .eval_input = o->eval_input,
                         .all_layers = o->all_layers,
                         .seed = o->seed,
                         .verify = o->verify,
                         .preset = o->preset,
                         .method = cli_lsuv_options(o, LSUV_ORDER_MEAN_FIRST)};
    report r = {
        .net = net, .batch = batch, .options = &ro, .devices = devices, .n_devices = selected};
    FILE *text = outputs_text_stream(o);
    report_table(&r, text);
    if (!write) return EXIT_OK;
    outputs set = {0};
    report_outputs(&r, &set);
    if (kept) {
        uint8_t *data = NULL;
        size_t size = 0;
        lsuv_status s = lsuv_weights_encode(net, kept, o->save_weights, &data, &size);
        if (s != LSUV_OK) {
            outputs_free(&set);
            return cli_fail(s);
        }
        outputs_add(&set, "--save-weights", o->save_weights, (char *)data, size);
    }
    int code = outputs_commit(&set);
    if (code == EXIT_OK && kept)
        fprintf(text, "saved the %s weights: %s\n", lsuv_order_name((lsuv_order)o->keep),
                o->save_weights);
    return code;
}

lsuv_options cli_lsuv_options(const options *o, lsuv_order order) {
    return (lsuv_options){
        .order = order,
        .mean_param = (lsuv_mean_param)o->mean_param,
        .measure = o->measure,
        .estimator = o->estimator,
        .update = o->update,
        .layers = o->lsuv_layers,
        .tol_mean = o->tol_mean,
        .tol_std = o->tol_std,
        .max_iters = (uint32_t)o->max_iters,
    };
}

int cli_check_orders(const options *o, const lsuv_net *net) {
    for (unsigned order = 0; order < LSUV_ORDER_COUNT; ++order) {
        if (!(o->orders & (1u << order))) continue;
        lsuv_options lo = cli_lsuv_options(o, (lsuv_order)order);
        lsuv_status s = lsuv_options_check(net, &lo);
        if (s != LSUV_OK) return cli_fail(s);
    }
    return EXIT_OK;
}

int lsuv_cli_run(const options *o, const lsuv_net *net, const lsuv_weights *w,
                 const lsuv_batch *batch, const lsuv_batch *eval) {
    lsuv_instance *inst = NULL;
    lsuv_instance_options io = {.validation = o->validate};
    lsuv_status s = lsuv_instance_create(&io, &inst);
    if (s != LSUV_OK) return cli_fail(s);
    uint32_t n = lsuv_instance_device_count(inst), selected = 0;
    uint32_t *indices = calloc(n, sizeof *indices);
    report_device *devices = calloc(n, sizeof *devices);
    lsuv_weights *kept = NULL;
    int code = EXIT_OK;
    if (!indices || !devices)
        code = cli_fail(LSUV_ERROR_OUT_OF_MEMORY);
    else if ((s = lsuv_instance_select(inst, o->device, indices, &selected)) != LSUV_OK)
        code = cli_fail(s);
    else if (o->save_weights && (s = lsuv_weights_create(net, &kept)) != LSUV_OK)
        code = cli_fail(s);
    for (uint32_t d = 0; code == EXIT_OK && d < selected; ++d)
        code =
            run_device(o, inst, indices[d], net, w, batch, eval, &devices[d], d == 0 ? kept : NULL);

    /* A run the validation layer complained about writes nothing either. */
    bool clean = !o->validate || lsuv_instance_validation_count(inst) == 0;
    if (code == EXIT_OK)
        code = report_and_write(o, net, batch, devices, selected, clean ? kept : NULL, clean);
    if (!clean) {
        fprintf(stderr, "lsuv-vk: %u validation messages, so nothing was written; the first: %s\n",
                lsuv_instance_validation_count(inst), lsuv_instance_validation_first(inst));
        if (code == EXIT_OK) code = EXIT_RUNTIME;
    }
    for (uint32_t d = 0; devices && d < selected; ++d)
        for (uint32_t r = 0; r < devices[d].n_runs; ++r) {
            lsuv_run_free(&devices[d].runs[r]);
            free(devices[d].fitted[r]);
            free(devices[d].eval[r]);
        }
    lsuv_weights_destroy(kept);
    free(devices);
    free(indices);
    lsuv_instance_destroy(inst);
    return code;
}
