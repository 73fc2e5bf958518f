/* Timing several cases side by side on one device. */
#ifndef LSUV_BENCH_TIMING_H
#define LSUV_BENCH_TIMING_H

#include <stdint.h>

#include "lsuv/device.h"
#include "summary.h"

typedef struct timing {
    summary gpu_s;  /* per run, from timestamps */
    summary wall_s; /* per run, submit to fence */
} timing;

typedef void (*record_fn)(lsuv_cmd *cmd, void *ctx);

typedef struct bench_case {
    record_fn record;
    void *ctx;
    double *gpu_s, *wall_s; /* one entry per timed run */
} bench_case;

/* One warm-up of every case, then repeats rounds in which each case runs
 * once, in turn, each run its own submission bracketed by two timestamps.
 * Taking the cases in turn exposes them to the same background load, so
 * their ratios hold on a noisy machine. */
lsuv_status time_cases(lsuv_device *device, uint32_t repeats, bench_case *cases, uint32_t n_cases);

/* Prints why a device's benchmark failed; returns the exit code. */
int bench_fail(lsuv_device *device, lsuv_status status);
/* A zero or impossible time is an error, never a rate of infinity. */
int bench_zero_time(lsuv_device *device);

#endif
