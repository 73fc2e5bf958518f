/* The command line's options and its entry points. */
#ifndef LSUV_CLI_H
#define LSUV_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/fail.h"
#include "lsuv/device.h"
#include "lsuv/forward.h"
#include "lsuv/input.h"
#include "lsuv/lsuv.h"
#include "lsuv/weights.h"

typedef struct options {
    bool list_devices, validate, summary, normalize, bn_strip;
    const char *json; /* NULL, "-" for stdout, or a path */
    const char *device;
    const char *layers, *input, *weights_in, *save_weights;
    const char *eval_input; /* --eval-input: a held-out batch; NULL: none */
    bool all_layers;        /* --all-layers: every layer's statistics after each run */
    lsuv_init init;
    uint64_t count, seed, batch;
    /* LSUV */
    unsigned orders;    /* bit per lsuv_order */
    int mean_param;     /* lsuv_mean_param */
    const char *preset; /* its name, for the reports; NULL: none given */
    lsuv_measure measure;
    lsuv_estimator estimator;
    lsuv_update update;
    lsuv_layer_set lsuv_layers;
    double tol_mean, tol_std;
    uint64_t max_iters;
    int keep; /* the lsuv_order whose weights --save-weights writes */
    const char *csv, *trace, *plot;
    bool verify;
    bool fp16; /* --precision fp16 */
    lsuv_conv_kernel conv_kernel;
} options;

/* relu(normal(0, 1)) on each selected device, against the fp64 reference. */
int stats_demo(lsuv_instance *instance, const options *o, const uint32_t *indices, uint32_t count);
/* --layers: the network, its weights and its input batch. */
int net_run(const options *o);
/* LSUV of each ordering asked for, on each selected device, with the reports. */
/* The library's options for one ordering, from the command line's. */
lsuv_options cli_lsuv_options(const options *o, lsuv_order order);
/* lsuv_options_check of every ordering asked for, before any work. */
int cli_check_orders(const options *o, const lsuv_net *net);
/* eval: the --eval-input batch, or NULL. */
int lsuv_cli_run(const options *o, const lsuv_net *net, const lsuv_weights *weights,
                 const lsuv_batch *batch, const lsuv_batch *eval);

#endif
