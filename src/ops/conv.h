/* Internal to src/ops: convolutional and connected layers (conv2d.comp). A
 * connected layer is a 1x1 convolution of a 1x1 image. The choice of kernel,
 * tile and chunks (conv_plan_make) is a pure function of the layer and the
 * forward's configuration, so it is tested without a device. */
#ifndef LSUV_OPS_CONV_H
#define LSUV_OPS_CONV_H

#include "contract.h"
#include "ops/plan.h"

#include <stddef.h>

/* CONV_CI_T: the most input channels conv2d.comp takes per inner pass (its CI_T). */
enum {
    CONV_PUSH_WORDS = sizeof(lsuv_conv_push) / 4,
    /* Words of lsuv_conv_push that the generic dispatch code and LSUV write. */
    CONV_STATS_BASE_WORD = offsetof(lsuv_conv_push, stats_base) / 4,
    CONV_SUMS_OFF_WORD = offsetof(lsuv_conv_push, sums_off) / 4,
    CONV_BINDINGS = 7,
    CONV_CI_T = 4,
};

/* How a convolution reads its weights and input: as storage; packed
 * weights from a uniform buffer; input and packed weights as texels (on a
 * CPU); as storage with the sum over the inputs split across lanes
 * (connected layers at small batches); or as an implicit GEMM
 * (conv_gemm.comp) with forward_config's gemm tile. */
enum { CONV_STORAGE, CONV_UBO, CONV_TEXEL, CONV_KSPLIT, CONV_GEMM, CONV_KINDS };

/* A layer's plan: its kernel and how its dispatches split the work. */
typedef struct conv_plan {
    int kind;                    /* CONV_* */
    uint32_t tile_log2, px_log2; /* output channels and pixels of an invocation */
    uint32_t ci_t;               /* input channels a pass: the packing's */
    uint32_t kernel_ci_t;        /* the kernel's CI_T: ci_t, or CONV_CI_T when split */
    uint32_t row_k, row_s;       /* row tiles: kernel size and stride; stride 0: none */
    uint32_t packed_tile;        /* weights packed by this channel tile; 0: as given */
    uint32_t samples;            /* a chunk's */
    uint32_t oc_chunk;           /* output channels a dispatch */
    uint32_t n_sample_chunks, n_oc_chunks, n_dispatches; /* dispatch d: chunk d / n_oc_chunks */
} conv_plan;

/* One dispatch of a plan: what it binds (in stored values) and records. Its
 * push constants leave the binding offsets (in_off, out_off, w_off),
 * stats_base and sums_off at 0. */
typedef struct conv_dispatch {
    uint32_t n0, n, oc0, oc1; /* samples and output channels */
    uint64_t in_first, in_count, w_first, w_count, out_first, out_count;
    union { /* the fields, and the words a dispatch record copies */
        lsuv_conv_push pc;
        uint32_t push[CONV_PUSH_WORDS];
    };
    uint32_t groups[3];
} conv_dispatch;

lsuv_status conv_plan_make(const forward_config *c, const lsuv_layer *l, conv_plan *out);
void conv_plan_dispatch(const forward_config *c, const lsuv_layer *l, const conv_plan *p,
                        uint32_t d, conv_dispatch *out);

/* A convolution pipeline: its kind and specialization. */
typedef struct conv_variant {
    int kind;
    uint32_t act, tile_log2, px_log2, ci_t;
    uint32_t row_k, row_s; /* row tiles (CONV_TEXEL): kernel size and stride; stride 0: none */
    bool sums;             /* stores the sums, for LSUV's passes */
    uint32_t measure;      /* with sums, what its statistics describe: LSUV_C_MEASURE_* */
    lsuv_pipeline *pipeline;
    struct conv_variant *next;
} conv_variant;

/* The variant `want`, made on first request with its layouts only: the
 * pipeline is built when a recording first needs it (lsuv_pipeline_compile). */
lsuv_status conv_variant_get(lsuv_forward *f, conv_variant want, conv_variant **out);
void conv_variants_destroy(lsuv_forward *f);

/* Layer i's plan, weights, dispatches and bindings, and the partials its
 * fused statistics write. */
lsuv_status conv_layer_create(lsuv_forward *f, uint32_t i, const lsuv_layer_params *params);

#endif
