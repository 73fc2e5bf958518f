/* The LSUV suite: every ordering of every network on every device, timed,
 * with the precision and cross-device studies. */
#ifndef LSUV_BENCH_SUITE_H
#define LSUV_BENCH_SUITE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "app/preset.h"
#include "files.h"
#include "lsuv/device.h"
#include "lsuv/forward.h"

typedef struct suite_net {
    char name[64];    /* short, for tables and file names */
    char path[1024];  /* the cfg */
    uint32_t batch;   /* 0: the cfg's */
    char input[1100]; /* an input spec of lsuv_input_load */
    bool normalize;
    /* path and input as results record them (bench_shown_path) */
    char shown_path[1024], shown_input[1100];
} suite_net;

/* NAME[@BATCH] or PATH[@BATCH]. The names: fastai (nets/fastai-07a.cfg,
 * batch 512 of Fashion-MNIST from images), vgg (nets/vgg-bench.cfg, 16),
 * jnet-conv (64) and alexnet (2) from nets/; a path runs on
 * synthetic input. Prints why and returns false when spec is no good. */
bool suite_net_parse(const char *spec, const char *images, suite_net *out);
/* The i-th known name, NULL past the last: the default list of --net. */
const char *suite_net_name(uint32_t i);

/* By lsuv_stats_method and lsuv_precision. */
enum { METHOD_COUNT = 3, PRECISION_COUNT = 2 };
extern const char *const suite_method_names[METHOD_COUNT];
extern const char *const suite_precision_names[PRECISION_COUNT];

/* Per layer: errors in units of FLT_EPSILON, of the mean relative to the
 * reference's std (after LSUV the mean is near 0) and of the std relative to
 * itself. */
typedef struct layer_error {
    double engine_mean, engine_std; /* engine's against the fp64 forward */
    double method_mean[METHOD_COUNT], method_std[METHOD_COUNT]; /* against fp64 of the output */
} layer_error;

typedef struct results_csv results_csv; /* output.h */

typedef struct suite_options {
    const suite_net *nets;
    uint32_t n_nets;
    uint32_t repeats;    /* timed runs after one warm-up */
    unsigned orders;     /* 1 << lsuv_order */
    unsigned methods;    /* 1 << lsuv_stats_method, for the precision study */
    unsigned precisions; /* 1 << lsuv_precision */
    const char *images;  /* Fashion-MNIST, also for the PyTorch peer */
    bool peer;           /* run bench/peers/fastai_lsuv.py beside fastai */
    lsuv_conv_kernel conv_kernel;
    bool strip_bn;            /* --bn strip: lsuv_net_options.strip_bn */
    const app_preset *preset; /* NULL: lsuv_options' defaults */
} suite_options;

/* Runs the suite on the devices; prints rows to table and progress lines
 * to stderr; adds "compiles", "lsuv", "peers" and "across_devices" to root,
 * the SVG plots to files and each case's layers to csv. Returns 0 or an
 * exit code after saying why. */
int bench_suite(lsuv_instance *instance, const uint32_t *devices, uint32_t n_devices,
                const suite_options *options, FILE *table, cJSON *root, bench_files *files,
                results_csv *csv);

#endif
