/* What an LSUV run prints and writes: the table, JSON, CSV, trace, plot. */
#ifndef LSUV_CLI_REPORT_H
#define LSUV_CLI_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/outputs.h"
#include "lsuv/lsuv.h"

/* What the reports need of the command line, and no more. */
typedef struct report_options {
    const char *json, *csv, *trace, *plot; /* NULL, or a path ("-": standard output) */
    const char *input;                     /* the --input spec; NULL: synthetic */
    const char *eval_input;                /* the --eval-input spec; NULL: none */
    bool all_layers;                       /* --all-layers */
    uint64_t seed;
    bool verify;         /* each device's verify[] holds the fp64 check */
    const char *preset;  /* NULL: none given */
    lsuv_options method; /* as asked: what every run shares (its order aside) */
} report_options;

typedef struct report_device {
    lsuv_device_info info;
    lsuv_run runs[LSUV_ORDER_COUNT];
    uint32_t n_runs;
    double verify[LSUV_ORDER_COUNT]; /* largest |device - fp64| of final moments */
    /* Per run, every layer's statistics with its final weights
     * (lsuv_network_measure): on the fitted batch with --all-layers, on the
     * eval batch with --eval-input; NULL otherwise. */
    lsuv_layer_stats *fitted[LSUV_ORDER_COUNT], *eval[LSUV_ORDER_COUNT];
} report_device;

typedef struct report {
    const lsuv_net *net;
    const lsuv_batch *batch;
    const report_options *options;
    const report_device *devices;
    uint32_t n_devices;
} report;

/* The orderings side by side, per device. */
void report_table(const report *r, FILE *out);
/* Adds --json, --csv, --trace and --plot to the outputs to write. */
void report_outputs(const report *r, outputs *set);

/* The SVG text of the convergence plot (caller frees), or NULL. */
char *report_svg(const report *r);

#endif
