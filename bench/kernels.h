#ifndef LSUV_BENCH_KERNELS_H
#define LSUV_BENCH_KERNELS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "lsuv/device.h"
#include "lsuv/forward.h"

typedef struct kernel_options {
    uint64_t bytes;   /* buffer size */
    uint32_t repeats; /* timed runs after one warm-up */
    lsuv_conv_kernel conv_kernel;
    bool gpu_case; /* the GPU-sized convolution on a CPU too */
} kernel_options;

/* Times, on one device, the statistics kernel against vkCmdCopyBuffer and
 * the convolutions against the measured FMA peak; prints rows to table and
 * appends {"name", "device", ...} objects to entries. Returns 0, or an exit
 * code after printing why. */
int bench_kernels(lsuv_instance *instance, uint32_t index, const kernel_options *options,
                  FILE *table, cJSON *entries);

/* The compute half: FMA peak, conv2d cases, fused conv2d + statistics,
 * then every conv kind side by side (conv2d_kind) at the standard case and
 * the GPU-sized one. */
int bench_compute(lsuv_device *device, const kernel_options *options, FILE *table, cJSON *entries);

#endif
