/* Activation statistics on the device: mean and standard deviation of a
 * float32 range, by default in one read pass (Welford per invocation, Chan's
 * merge across invocations, workgroups and chunks). */
#ifndef LSUV_STATS_H
#define LSUV_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "lsuv/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lsuv_stats_method {
    LSUV_STATS_WELFORD, /* the default */
    LSUV_STATS_NAIVE,   /* fp32 sum and sum of squares: for comparison only */
    /* Two read passes in fp32: the naive sum gives the mean m; then the naive
     * sums of d = x - m and d^2 give mean = m + sum d / n and the corrected
     * two-pass M2 = sum d^2 - (sum d)^2 / n (Chan, Golub & LeVeque). Twice
     * the reads and dispatches of the others; a plan of it cannot merge
     * partials (lsuv_stats_plan_create_merge refuses it). */
    LSUV_STATS_TWOPASS,
} lsuv_stats_method;

typedef enum lsuv_stats_input {
    LSUV_STATS_INPUT_AUTO,    /* texel buffers on a CPU device, storage buffers on a GPU */
    LSUV_STATS_INPUT_STORAGE, /* storage-buffer loads */
    LSUV_STATS_INPUT_TEXEL,   /* uniform texel buffer of vec4s, where the device has it */
} lsuv_stats_input;

typedef struct lsuv_stats_options {
    lsuv_stats_method method;
    /* Largest input range bound to one dispatch, in bytes; 0 takes the
     * device's maxStorageBufferRange. Tests set it small to force chunking. */
    uint64_t max_chunk_bytes;
    /* Merge workgroups in shared memory even where subgroup shuffles work. */
    bool force_shared;
    /* How the bulk of the input is read. */
    lsuv_stats_input input;
} lsuv_stats_options;

/* The moments as the device stores them, LSUV_STATS_RESULT_BYTES each; a
 * result buffer holds them at slot indices. */
#define LSUV_STATS_RESULT_BYTES 24

typedef struct lsuv_moments {
    uint64_t count;     /* finite values */
    uint64_t nonfinite; /* NaN and Inf values; when non-zero the moments are NaN */
    double mean;
    double std;            /* unbiased (n - 1), as torch.std; NaN for one value */
    double std_population; /* n */
} lsuv_moments;

typedef struct lsuv_stats lsuv_stats;
typedef struct lsuv_stats_plan lsuv_stats_plan;

/* Pipelines for one device, sized from its limits. */
lsuv_status lsuv_stats_create(lsuv_device *device, const lsuv_stats_options *options,
                              lsuv_stats **out);
void lsuv_stats_destroy(lsuv_stats *stats);

/* The statistics of count floats of input starting at float index first,
 * computed on the device and read back. */
lsuv_status lsuv_stats_compute(lsuv_stats *stats, const lsuv_buffer *input, uint64_t first,
                               uint64_t count, lsuv_moments *out);

/* A plan binds one input range to one result slot; recording it adds the
 * dispatches and barriers to a command buffer, as often as wanted, with no
 * readback. The result stays on the device for later kernels until read. */
lsuv_status lsuv_stats_plan_create(lsuv_stats *stats, const lsuv_buffer *input, uint64_t first,
                                   uint64_t count, lsuv_buffer *result, uint32_t result_slot,
                                   lsuv_stats_plan **out);
/* A plan that only merges count partials (LSUV_STATS_RESULT_BYTES each,
 * from index first of partials) that another kernel wrote, such as a
 * convolution with fused statistics. */
lsuv_status lsuv_stats_plan_create_merge(lsuv_stats *stats, const lsuv_buffer *partials,
                                         uint64_t first, uint64_t count, lsuv_buffer *result,
                                         uint32_t result_slot, lsuv_stats_plan **out);
void lsuv_stats_plan_destroy(lsuv_stats_plan *plan);
void lsuv_stats_plan_record(const lsuv_stats_plan *plan, lsuv_cmd *cmd);
/* Dispatches one recording makes (for counting hand-offs). */
uint32_t lsuv_stats_plan_dispatches(const lsuv_stats_plan *plan);
/* The same recording with each dispatch's group counts read from args, at
 * offset + 12 * (its index), so that a device which zeroes them skips the
 * plan; lsuv_stats_plan_groups writes the counts that belong there (3
 * uints per dispatch). */
void lsuv_stats_plan_record_indirect(const lsuv_stats_plan *plan, lsuv_cmd *cmd,
                                     const lsuv_buffer *args, uint64_t offset);
void lsuv_stats_plan_groups(const lsuv_stats_plan *plan, uint32_t *out);

/* Reads the moments stored at a result slot. */
lsuv_status lsuv_stats_result_read(const lsuv_stats *stats, const lsuv_buffer *result,
                                   uint32_t slot, lsuv_moments *out);

#ifdef __cplusplus
}
#endif
#endif
