/* A network's forward pass on a device: weights uploaded once, activations
 * kept on the device, every layer recorded into command buffers. */
#ifndef LSUV_FORWARD_H
#define LSUV_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "lsuv/device.h"
#include "lsuv/input.h"
#include "lsuv/net.h"
#include "lsuv/stats.h"
#include "lsuv/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lsuv_forward lsuv_forward;

typedef enum lsuv_precision {
    LSUV_PRECISION_FP32,
    /* Activations and weights stored as fp16, arithmetic in fp32; needs the
     * device's storageBuffer16BitAccess. Weights are then read as storage. */
    LSUV_PRECISION_FP16,
} lsuv_precision;

/* How convolutional and connected layers read their input and weights. */
typedef enum lsuv_conv_kernel {
    /* Texels on a CPU (lavapipe), gemm on a discrete GPU, else uniform-buffer
     * weights where a layer's fit a few bindings, else storage. */
    LSUV_CONV_AUTO,
    LSUV_CONV_STORAGE,
    LSUV_CONV_UNIFORM, /* weights from a uniform buffer, input as storage */
    LSUV_CONV_TEXEL,   /* input and weights from uniform texel buffers */
    /* An implicit GEMM, input and weight tiles staged in shared memory: the
     * GPU's kind, and AUTO's on a discrete GPU. */
    LSUV_CONV_GEMM,
} lsuv_conv_kernel;

/* "auto", "storage", "uniform", "texel", "gemm"; NULL outside the enum. */
const char *lsuv_conv_kernel_name(lsuv_conv_kernel kernel);
/* The kind so named; false for any other name. */
bool lsuv_conv_kernel_from_name(const char *name, lsuv_conv_kernel *out);

typedef struct lsuv_forward_options {
    uint32_t batch;           /* samples; 0 takes the network's [net] batch */
    uint64_t max_chunk_bytes; /* most bytes one binding spans; 0: maxStorageBufferRange */
    lsuv_precision precision;
    /* A kind other than AUTO is used wherever the layer fits it, storage
     * elsewhere. Connected layers with fewer samples than a workgroup has
     * invocations always split their sums across it, reading storage. */
    lsuv_conv_kernel conv_kernel;
    /* Every layer's output stays readable after a run (lsuv_forward_read of
     * any layer). Otherwise an output's memory goes to a later layer once
     * its last reader has run; the network's output is always kept. */
    bool keep_outputs;
} lsuv_forward_options;

/* The device memory of a forward, and of LSUV on it, in bytes of tensors
 * (not counting the device's padding, descriptors, statistics partials and
 * LSUV's per-layer control blocks and traces: a few KiB a layer). */
typedef struct lsuv_memory {
    uint64_t input;        /* the batch */
    uint64_t activations;  /* the block the layers' outputs are placed in, each for its lifetime */
    uint64_t live;         /* the most bytes of outputs live at once: the block's lower bound */
    uint64_t weights;      /* weights as stored, biases and each such layer's state, as floats */
    uint64_t lsuv;         /* LSUV's own: the fp32 sums of the largest layer it initializes */
    uint64_t forward_peak; /* input + activations + weights */
    uint64_t lsuv_peak;    /* forward_peak + lsuv */
} lsuv_memory;

/* What lsuv_forward_create with these options (batch, precision,
 * keep_outputs) takes, without a device. */
lsuv_status lsuv_forward_memory(const lsuv_net *net, const lsuv_forward_options *options,
                                lsuv_memory *out);

lsuv_status lsuv_forward_create(lsuv_device *device, const lsuv_net *net,
                                const lsuv_weights *weights, const lsuv_forward_options *options,
                                lsuv_forward **out);
void lsuv_forward_destroy(lsuv_forward *forward);
const lsuv_net *lsuv_forward_net(const lsuv_forward *forward);
uint32_t lsuv_forward_batch(const lsuv_forward *forward);

/* Uploads the batch (as many samples as the forward was made for). */
lsuv_status lsuv_forward_set_input(lsuv_forward *forward, const lsuv_batch *batch);

/* Records layers first..last. With stats, the statistics of layer last's
 * output are computed too: in the same dispatch for convolutional and
 * connected layers (then merged), by a statistics pass for the others. They
 * stay on the device until lsuv_forward_stats_read. A layer's pipeline is
 * built the first time it is recorded; when that fails, nothing is. */
lsuv_status lsuv_forward_record(lsuv_forward *forward, lsuv_cmd *cmd, uint32_t first, uint32_t last,
                                bool stats);
/* Records, submits and waits. */
lsuv_status lsuv_forward_run(lsuv_forward *forward, uint32_t first, uint32_t last, bool stats);
/* The statistics of a layer's output that the last recording with stats made
 * (in fp16, of layers with weights only: their kernels compute them). */
lsuv_status lsuv_forward_stats_read(const lsuv_forward *forward, uint32_t layer, lsuv_moments *out);

/* Uploads these weights again and resets what LSUV adjusted, for another
 * run from the same start. */
lsuv_status lsuv_forward_reset(lsuv_forward *forward, const lsuv_weights *weights);
/* The weights the device computes with now (after LSUV's adjustments), into
 * weights shaped for the network. */
lsuv_status lsuv_forward_weights_read(const lsuv_forward *forward, lsuv_weights *weights);

/* The output of a layer for the whole batch, n x c x h x w floats. Fails
 * when a later layer recorded since has been given its memory (see
 * keep_outputs). */
lsuv_status lsuv_forward_read(const lsuv_forward *forward, uint32_t layer, float *out);
/* Dispatches one recording of layer makes. */
uint32_t lsuv_forward_dispatches(const lsuv_forward *forward, uint32_t layer);
/* The kernel a layer with weights runs: "storage", "uniform", "texel",
 * "gemm" or "split-sum"; NULL for other layers. */
const char *lsuv_forward_conv_kernel(const lsuv_forward *forward, uint32_t layer);

#ifdef __cplusplus
}
#endif
#endif
