/* The compute half of --kernels: the FMA peak of the device, then the
 * convolutions as fractions of it, measured in the same rounds. */
#include "kernels.h"

#include "core/file.h"
#include "app/exit_codes.h"
#include "lsuv/forward.h"
#include "lsuv/rng.h"
#include "summary.h"
#include "timing.h"
#include "vk/dispatch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct peak_ctx {
    lsuv_device *device;
    lsuv_pipeline *pipeline;
    lsuv_binding_set *set;
    lsuv_buffer *sink;
    uint32_t groups, iterations;
} peak_ctx;

static void record_peak(lsuv_cmd *cmd, void *p) {
    peak_ctx *c = p;
    struct {
        uint32_t iterations;
        float a;
    } push = {c->iterations, 0.9999f};
    lsuv_cmd_barrier(cmd);
    const uint32_t groups[3] = {c->groups, 1, 1};
    lsuv_cmd_record_dispatch(cmd, c->pipeline, c->set, 0, &push, sizeof push, groups);
}

static lsuv_status peak_create(lsuv_device *dev, peak_ctx *c) {
    const uint32_t wg = 64;
    bool cpu = lsuv_device_get_info(dev)->type == LSUV_DEVICE_CPU;
    c->device = dev;
    c->groups = cpu ? 4096 : 65535;
    c->iterations = cpu ? 64 : 256;
    uint32_t spec[] = {wg};
    lsuv_pipeline_desc desc = {.shader = LSUV_SHADER_FMA_PEAK,
                               .bindings = 1,
                               .push_size = 8,
                               .spec = spec,
                               .spec_count = 1};
    lsuv_status s = lsuv_pipeline_create(dev, &desc, &c->pipeline);
    if (s == LSUV_OK) s = lsuv_buffer_create(dev, (uint64_t)c->groups * wg * 4, &c->sink);
    if (s == LSUV_OK) s = lsuv_binding_set_create(c->pipeline, 1, &c->set);
    if (s == LSUV_OK) lsuv_binding_set_write_buffer(c->set, 0, 0, c->sink, 0, LSUV_WHOLE_SIZE);
    return s;
}

static void peak_destroy(peak_ctx *c) {
    lsuv_binding_set_destroy(c->set);
    lsuv_pipeline_destroy(c->pipeline);
    lsuv_buffer_destroy(c->sink);
}

/* Whether the peak kernel ran every FMA it is counted for: invocation g's
 * sum of its 32 chains, x <- x * a + b from x = b + 0.01 c with b = g * 1e-6,
 * against the same in fp64 (fp32 rounding moves it by about steps * 2^-24
 * relative). Checked for a few invocations. */
static bool peak_verify(const peak_ctx *c) {
    const uint32_t check[] = {0, 1, 777, c->groups * 64 - 1};
    const double a = 0.9999f;
    for (size_t k = 0; k < sizeof check / sizeof *check; ++k) {
        float got;
        if (lsuv_buffer_read(c->sink, (uint64_t)check[k] * 4, &got, 4) != LSUV_OK) return false;
        double b = (float)((float)check[k] * 1e-6f), want = 0;
        for (int chain = 0; chain < 32; ++chain) {
            double x = b + 0.01 * chain;
            for (uint32_t i = 0; i < 4 * c->iterations; ++i) x = x * a + b;
            want += x;
        }
        if (!(fabs(got - want) <= 1e-4 * fabs(want))) {
            fprintf(stderr,
                    "lsuv-bench: the FMA peak kernel computed %.9g for invocation %u, "
                    "not %.9g: it did not run the FMAs it is counted for\n",
                    got, check[k], want);
            return false;
        }
    }
    return true;
}

static double peak_flops(const peak_ctx *c) {
    return 2.0 * 32 * 4 * c->iterations * (double)c->groups * 64;
}

/* A convolution case: one layer of a network, alone, with or without its
 * fused statistics. */
typedef struct conv_case {
    const char *name, *label;
    lsuv_forward *forward;
    uint32_t layer;
    bool stats;
    double flops;
} conv_case;

static void record_conv(lsuv_cmd *cmd, void *p) {
    conv_case *c = p;
    /* It cannot fail: net_setup_create's run built every pipeline. */
    (void)lsuv_forward_record(c->forward, cmd, c->layer, c->layer, c->stats);
}

typedef struct net_setup {
    lsuv_net *net;
    lsuv_weights *weights;
    lsuv_forward *forward;
} net_setup;

static lsuv_status net_setup_create(lsuv_device *dev, const char *name, const char *text,
                                    lsuv_conv_kernel kernel, net_setup *n) {
    lsuv_batch batch = {0};
    lsuv_status s = lsuv_net_parse(name, text, strlen(text), NULL, &n->net);
    if (s == LSUV_OK) s = lsuv_weights_init(n->net, LSUV_INIT_KAIMING, 0, &n->weights);
    lsuv_input_options io = {.spec = "synthetic", .seed = 1};
    if (s == LSUV_OK) s = lsuv_input_load(&io, n->net, &batch);
    lsuv_forward_options fo = {.conv_kernel = kernel};
    if (s == LSUV_OK) s = lsuv_forward_create(dev, n->net, n->weights, &fo, &n->forward);
    if (s == LSUV_OK) s = lsuv_forward_set_input(n->forward, &batch);
    /* Every layer's input exists before a layer is timed alone. */
    if (s == LSUV_OK) s = lsuv_forward_run(n->forward, 0, n->net->n_layers - 1, false);
    lsuv_batch_free(&batch);
    return s;
}

static void net_setup_destroy(net_setup *n) {
    lsuv_forward_destroy(n->forward);
    lsuv_weights_destroy(n->weights);
    lsuv_net_destroy(n->net);
}

/* batch 64, 32 -> 32 channels, 32x32, 3x3, stride 1, pad 1: 1.208 GFLOP. */
static const char standard_cfg[] = "[net]\nbatch=64\nheight=32\nwidth=32\nchannels=32\n"
                                   "[convolutional]\nfilters=32\nsize=3\nstride=1\npad=1\n"
                                   "activation=relu\n";

enum { MAX_CASES = 16 };

/* The timed convolutions: the standard layer, then fastai-07a's
 * convolutions while they fit, each alone and with its fused statistics.
 * Returns how many. */
static uint32_t conv_cases_list(const net_setup *standard, const net_setup *fastai,
                                conv_case *convs) {
    uint32_t n_convs = 0;
    const lsuv_layer *l = &standard->net->layers[0];
    double flops = 2.0 * (double)l->macs * standard->net->batch;
    convs[n_convs++] = (conv_case){"conv2d", "standard", standard->forward, 0, false, flops};
    convs[n_convs++] = (conv_case){"conv2d_stats", "standard", standard->forward, 0, true, flops};
    for (uint32_t i = 0; i < fastai->net->n_layers && n_convs + 2 <= MAX_CASES; ++i) {
        l = &fastai->net->layers[i];
        if (l->type != LSUV_LAYER_CONVOLUTIONAL) continue;
        static char labels[8][32];
        snprintf(labels[i % 8], sizeof labels[0], "fastai-07a layer %u", i);
        flops = 2.0 * (double)l->macs * fastai->net->batch;
        convs[n_convs++] = (conv_case){"conv2d", labels[i % 8], fastai->forward, i, false, flops};
        convs[n_convs++] =
            (conv_case){"conv2d_stats", labels[i % 8], fastai->forward, i, true, flops};
    }
    return n_convs;
}

/* One convolution's row of the table and its entry, t its times and ratio
 * its rate over the peak's, round by round. */
static void conv_report_row(const conv_case *c, summary t, summary ratio, const char *name,
                            double peak_gflops, FILE *table, cJSON *entries) {
    char label[64];
    snprintf(label, sizeof label, "%s%s", c->label, c->stats ? " + stats" : "");
    double g = c->flops / t.median * 1e-9;
    fprintf(table, "%-34s %-28s %9.1f %9.1f %9.1f %9.3f   %.3f of peak (%.3f-%.3f)\n", "", label, g,
            c->flops / t.max * 1e-9, c->flops / t.min * 1e-9, t.median * 1e3, ratio.median,
            ratio.min, ratio.max);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", c->name);
    cJSON_AddStringToObject(e, "case", c->label);
    cJSON_AddStringToObject(e, "kernel", lsuv_forward_conv_kernel(c->forward, c->layer));
    cJSON_AddStringToObject(e, "device", name);
    cJSON_AddNumberToObject(e, "gflops", g);
    cJSON_AddNumberToObject(e, "gflops_min", c->flops / t.max * 1e-9);
    cJSON_AddNumberToObject(e, "gflops_max", c->flops / t.min * 1e-9);
    cJSON_AddNumberToObject(e, "gpu_ms", t.median * 1e3);
    cJSON_AddNumberToObject(e, "peak_gflops", peak_gflops);
    cJSON_AddNumberToObject(e, "ratio_to_peak", ratio.median);
    cJSON_AddItemToArray(entries, e);
}

/* Each convolution's row; cases[0] is the peak's times and cases[c + 1]
 * convolution c's, R rounds each; peak_gflops the run's peak, for the
 * entries. Returns the exit code. */
static int conv_rows(lsuv_device *dev, const peak_ctx *peak, const conv_case *convs,
                     uint32_t n_convs, const bench_case *cases, uint32_t R, double *ratios,
                     double peak_gflops, FILE *table, cJSON *entries) {
    const char *name = lsuv_device_get_info(dev)->name;
    /* Per round: the case's rate over the peak's rate in that round. */
    for (uint32_t c = 0; c < n_convs; ++c)
        for (uint32_t r = 0; r < R; ++r)
            ratios[c * R + r] =
                (convs[c].flops / cases[c + 1].gpu_s[r]) / (peak_flops(peak) / cases[0].gpu_s[r]);
    for (uint32_t c = 0; c < n_convs; ++c) {
        summary t = summary_of(cases[c + 1].gpu_s, R);
        summary ratio = summary_of(ratios + c * R, R);
        if (!(t.min > 0)) return bench_zero_time(dev);
        conv_report_row(&convs[c], t, ratio, name, peak_gflops, table, entries);
    }
    return 0;
}

/* The peak's row, then each convolution's (conv_rows); sets the peak's
 * GFLOP/s. Returns the exit code. */
static int compute_report(lsuv_device *dev, const peak_ctx *peak, const conv_case *convs,
                          uint32_t n_convs, const bench_case *cases, uint32_t R, double *ratios,
                          double *peak_out, FILE *table, cJSON *entries) {
    int code = 0;
    const char *name = lsuv_device_get_info(dev)->name;
    summary peak_t = summary_of(cases[0].gpu_s, R);
    if (!(peak_t.min > 0)) code = bench_zero_time(dev);
    if (!peak_verify(peak)) code = EXIT_RUNTIME;
    double peak_gflops = peak_flops(peak) / peak_t.median * 1e-9;
    fprintf(table, "%-34.34s %-28s %9.1f %9.1f %9.1f %9.3f\n", name, "fma peak", peak_gflops,
            peak_flops(peak) / peak_t.max * 1e-9, peak_flops(peak) / peak_t.min * 1e-9,
            peak_t.median * 1e3);
    cJSON *pe = cJSON_CreateObject();
    cJSON_AddStringToObject(pe, "name", "fma_peak");
    cJSON_AddStringToObject(pe, "device", name);
    cJSON_AddNumberToObject(pe, "gflops", peak_gflops);
    cJSON_AddItemToArray(entries, pe);
    *peak_out = peak_gflops;
    if (code) return code;
    return conv_rows(dev, peak, convs, n_convs, cases, R, ratios, peak_gflops, table, entries);
}

/* batch 256, 64 -> 64 channels, 56x56, 3x3, stride 1, pad 1 (a ResNet
 * stage's layer at a GPU's batch): 59.2 GFLOP. */
static const char gpu_cfg[] = "[net]\nbatch=256\nheight=56\nwidth=56\nchannels=64\n"
                              "[convolutional]\nfilters=64\nsize=3\nstride=1\npad=1\n"
                              "activation=relu\n";

/* One kind on one case, timed beside the peak in rounds of its own, so
 * that one forward is alive at a time (the GPU-sized case's input and
 * output take 411 MB): the row "CASE: KIND", named conv2d_kind. */
static int kind_row(lsuv_device *dev, peak_ctx *peak, double peak_gflops, const char *label,
                    const char *cfg, lsuv_conv_kernel kind, uint32_t R, FILE *table,
                    cJSON *entries) {
    net_setup n = {0};
    char case_label[64];
    snprintf(case_label, sizeof case_label, "%s: %s", label, lsuv_conv_kernel_name(kind));
    conv_case c = {"conv2d_kind", case_label, NULL, 0, false, 0};
    double *samples = calloc(5 * (size_t)R, sizeof *samples);
    lsuv_status s =
        samples ? net_setup_create(dev, label, cfg, kind, &n) : LSUV_ERROR_OUT_OF_MEMORY;
    bench_case cases[2] = {{record_peak, peak, samples, samples + R},
                           {record_conv, &c, samples + 2 * R, samples + 3 * R}};
    if (s == LSUV_OK) {
        c.forward = n.forward;
        c.flops = 2.0 * (double)n.net->layers[0].macs * n.net->batch;
        s = time_cases(dev, R, cases, 2);
    }
    int code = s != LSUV_OK ? bench_fail(dev, s)
                            : conv_rows(dev, peak, &c, 1, cases, R, samples + 4 * R, peak_gflops,
                                        table, entries);
    free(samples);
    net_setup_destroy(&n);
    return code;
}

/* Every kind side by side at the standard case and, on a GPU or when
 * asked, the GPU-sized one: on lavapipe its 59 GFLOP take seconds a run
 * (stated in the README), so a CPU runs it only with --kernels-gpu-case;
 * and a CPU runs 3 rounds of each (gemm is lavapipe's slowest kind). */
static int kind_rows(lsuv_device *dev, const kernel_options *opt, peak_ctx *peak,
                     double peak_gflops, FILE *table, cJSON *entries) {
    static const lsuv_conv_kernel kinds[] = {LSUV_CONV_STORAGE, LSUV_CONV_UNIFORM, LSUV_CONV_TEXEL,
                                             LSUV_CONV_GEMM};
    bool cpu = lsuv_device_get_info(dev)->type == LSUV_DEVICE_CPU;
    bool gpu_case = !cpu || opt->gpu_case;
    int code = 0;
    uint32_t R = cpu && opt->repeats > 3 ? 3 : opt->repeats;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds && !code; ++k)
        code =
            kind_row(dev, peak, peak_gflops, "standard", standard_cfg, kinds[k], R, table, entries);
    for (size_t k = 0; gpu_case && k < sizeof kinds / sizeof *kinds && !code; ++k)
        code = kind_row(dev, peak, peak_gflops, "gpu-sized", gpu_cfg, kinds[k], R, table, entries);
    return code;
}

int bench_compute(lsuv_device *dev, const kernel_options *opt, FILE *table, cJSON *entries) {
    peak_ctx peak = {0};
    net_setup standard = {0}, fastai = {0};
    conv_case convs[MAX_CASES];
    uint32_t n_convs = 0;
    char *fastai_text = NULL;
    size_t fastai_size = 0;
    lsuv_status s = peak_create(dev, &peak);
    if (s == LSUV_OK)
        s = net_setup_create(dev, "standard", standard_cfg, opt->conv_kernel, &standard);
    if (s == LSUV_OK)
        s = lsuv_file_read_all(LSUV_SOURCE_DIR "/nets/fastai-07a.cfg", 1 << 20, &fastai_text,
                               &fastai_size);
    if (s == LSUV_OK)
        s = net_setup_create(dev, LSUV_SOURCE_DIR "/nets/fastai-07a.cfg", fastai_text,
                             opt->conv_kernel, &fastai);
    if (s == LSUV_OK) n_convs = conv_cases_list(&standard, &fastai, convs);
    uint32_t R = opt->repeats, n_cases = n_convs + 1;
    double *samples = calloc((size_t)(2 * n_cases + n_convs) * R, sizeof *samples);
    bench_case cases[MAX_CASES + 1];
    if (s == LSUV_OK && !samples) s = LSUV_ERROR_OUT_OF_MEMORY;
    if (s == LSUV_OK) {
        cases[0] = (bench_case){record_peak, &peak, samples, samples + R};
        for (uint32_t c = 0; c < n_convs; ++c)
            cases[c + 1] = (bench_case){record_conv, &convs[c], samples + (2 * c + 2) * R,
                                        samples + (2 * c + 3) * R};
        s = time_cases(dev, R, cases, n_cases);
    }
    double peak_gflops = 0;
    int code = s != LSUV_OK
                   ? bench_fail(dev, s)
                   : compute_report(dev, &peak, convs, n_convs, cases, R, samples + 2 * n_cases * R,
                                    &peak_gflops, table, entries);
    free(samples);
    free(fastai_text);
    net_setup_destroy(&fastai);
    net_setup_destroy(&standard);
    if (!code) code = kind_rows(dev, opt, &peak, peak_gflops, table, entries);
    peak_destroy(&peak);
    return code;
}
