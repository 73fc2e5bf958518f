/* Internal to src/ops: what every op's plan is made from and of. A layer
 * becomes a list of dispatches, made once: a dispatch covers a chunk of
 * samples (so no binding spans more than the device allows) and, for layers
 * with weights, a range of output channels (so no weight binding does
 * either). Ops fill a layer_plan; forward.c walks them. */
#ifndef LSUV_OPS_PLAN_H
#define LSUV_OPS_PLAN_H

#include "contract.h"
#include "lsuv/forward.h"
#include "ops/memory.h"
#include "vk/dispatch.h"

enum {
    /* The most push words an op's kernel takes: conv2d.comp's (contract_check.c). */
    DISPATCH_PUSH_MAX = sizeof(lsuv_conv_push) / 4,
    ACTIVATIONS = LSUV_ACT_STAIR + 1,
};

/* conv_gemm.comp's specialization: a workgroup of wg invocations computes
 * bm output channels by bn outputs in steps of bk inputs, each invocation
 * tm by tn of them. */
typedef struct conv_gemm_tile {
    uint32_t bm, bn, bk, tm, tn, wg;
    bool subgroup; /* its statistics merge with subgroup shuffles */
} conv_gemm_tile;

/* The tile for a device (conv.c says how it is chosen). */
void conv_gemm_tile_choose(const lsuv_device_info *info, conv_gemm_tile *out);

/* The device's limits and the options, resolved once per forward: all a
 * plan depends on besides the layer, so plans are made without a device. */
typedef struct forward_config {
    uint32_t batch;
    uint64_t range; /* most bytes one binding spans */
    uint64_t align;
    uint64_t ubo_range, ubo_align; /* the uniform buffer's limits */
    uint64_t texel_align;
    uint32_t max_texel_elements, max_groups_x;
    bool fp16;                    /* activations and weights stored as fp16 */
    uint32_t es;                  /* their bytes each: 4 or 2 */
    lsuv_conv_kernel conv_kernel; /* what the options ask for; AUTO resolved */
    bool subgroup;
    uint32_t conv_wg, conv_px_log2, conv_tile_log2, pool_wg, epilogue_items;
    conv_gemm_tile gemm;
} forward_config;

/* Fails where fp16 is asked for and the device has no 16-bit storage. */
lsuv_status forward_config_make(const lsuv_device_info *info, const lsuv_net *net,
                                const lsuv_forward_options *options, forward_config *out);

typedef struct dispatch {
    const lsuv_pipeline *pipeline;
    uint32_t push[DISPATCH_PUSH_MAX];
    uint32_t push_words;
    uint32_t groups[3];
    uint32_t first_sample; /* of its chunk */
    uint32_t stats_slot;   /* conv: push index of stats_base; 0: none to switch off */
    uint32_t partials;     /* conv and epilogue: Partials it writes (groups[0] * groups[1]) */
} dispatch;

typedef struct layer_plan {
    lsuv_buffer *out; /* the layer's output; layers passing it on share their input's */
    bool owns_out;
    lsuv_buffer *weights, *bias, *state; /* layers with weights */
    float *bn; /* batch norm kept: scales, rolling mean, rolling variance (ops/bn_fold.h) */
    /* --bn batch (ops/bn_batch.h): the bias and scales it applies after the
     * sums, and its one dispatch. */
    lsuv_buffer *bn_bias, *bn_scales;
    lsuv_binding_set *bn_sets;
    dispatch *bn_dispatch;
    uint32_t packed_tile;  /* weights packed by this channel tile; 0: as given */
    uint32_t ci_t;         /* input channels a pass of its kernel takes */
    uint32_t samples;      /* layers with weights: a chunk's */
    int kind;              /* layers with weights: CONV_* */
    lsuv_buffer *partials; /* their fused statistics */
    uint32_t n_partials;
    lsuv_stats_plan *stats; /* merges the partials (or reads the output) into its slot */
    lsuv_binding_set *sets; /* one per dispatch */
    uint32_t n_dispatches;
    dispatch *dispatches;
    struct conv_variant *variant; /* layers with weights: their convolution's */
    const lsuv_pipeline *sums;    /* the same, storing its sums (forward_keep_sums) */
} layer_plan;

struct lsuv_forward {
    lsuv_device *device;
    const lsuv_net *net;
    forward_config cfg;
    lsuv_buffer *input;
    lsuv_buffer *activations; /* the block every owned output aliases a part of */
    memory_plan memory;
    uint32_t written; /* the last layer whose output a recording has written; UINT32_MAX: none */
    struct conv_variant *conv; /* the convolution pipelines made so far */
    lsuv_pipeline *pool;
    lsuv_pipeline *graph; /* graph_ops.c's; NULL for networks without such layers */
    lsuv_pipeline *local; /* local.c's; the same */
    lsuv_stats *stats;
    lsuv_buffer *results; /* a statistics slot per layer */
    lsuv_buffer *subs;    /* host-visible, a float per layer: forward_subs */
    layer_plan *layers;
    /* The epilogue over kept sums (ops/sums.h), by activation, texel sums,
     * store, and what the statistics describe (LSUV_C_MEASURE_*; post with
     * store). */
    lsuv_pipeline *epilogue[ACTIVATIONS][2][2][3];
    lsuv_pipeline *bn_batch[ACTIVATIONS]; /* ops/bn_batch.h, by activation */
    void *client;                         /* forward_set_client's */
    void (*client_destroy)(void *client);
};

static inline const lsuv_buffer *layer_input(const lsuv_forward *f, uint32_t i) {
    return i == 0 ? f->input : f->layers[i - 1].out;
}

static inline uint64_t shape_count(lsuv_shape s) {
    return (uint64_t)s.c * s.h * s.w;
}

/* Samples per chunk: as many as keep each of the layer's bindings within the
 * range, less the slack of aligning an offset. */
lsuv_status ops_samples_per_chunk(const forward_config *c, const lsuv_layer *l, uint32_t *out);

/* count dispatches of pipeline p, each with its set of the binding set. */
lsuv_status ops_alloc_dispatches(uint32_t count, const lsuv_pipeline *p, lsuv_binding_set **sets,
                                 dispatch **out);

/* Binds the whole of b to binding of set d. */
void ops_bind(lsuv_binding_set *set, uint32_t d, uint32_t binding, const lsuv_buffer *b);
/* Binds values of es bytes [first, first + count) of b to binding of set d,
 * from an aligned offset; returns the index of value first within the
 * binding. A uniform buffer's binding is rounded up to whole vec4s (the
 * weights buffer has room for it). */
uint32_t ops_bind_values(const forward_config *c, lsuv_binding_set *set, uint32_t d,
                         uint32_t binding, bool ubo, const lsuv_buffer *b, uint64_t first,
                         uint64_t count, uint32_t es);
/* Binds stored values: floats, or halves in fp16. */
uint32_t ops_bind_floats(const forward_config *c, lsuv_binding_set *set, uint32_t d,
                         uint32_t binding, const lsuv_buffer *b, uint64_t first, uint64_t count);
/* Binding 0 or 1 of set d as a texel view of floats [first, first + count)
 * of b, in texels of `lanes` floats (first a multiple of lanes); returns the
 * index of float first's texel in the view. */
uint32_t ops_bind_texels(const forward_config *c, lsuv_binding_set *set, uint32_t d,
                         uint32_t binding, uint32_t lanes, const lsuv_buffer *b, uint64_t first,
                         uint64_t count, lsuv_status *status);

/* Writes n floats to b as they are stored: floats, or fp16 halves. */
lsuv_status ops_upload_values(const forward_config *c, lsuv_buffer *b, const float *x, uint64_t n);
/* Reads n stored values of b into floats. */
lsuv_status ops_download_values(const forward_config *c, const lsuv_buffer *b, float *x,
                                uint64_t n);

/* Records dispatches, each with its own pipeline or all with `pipeline`; with
 * stats off, convolutions compute none; with args, the group counts are read
 * from the active copy there. */
void ops_record_dispatches(lsuv_cmd *cmd, const dispatch *ds, const lsuv_binding_set *sets,
                           uint32_t n, const lsuv_pipeline *pipeline, bool stats,
                           const lsuv_buffer *args, uint64_t args_offset);

#endif
