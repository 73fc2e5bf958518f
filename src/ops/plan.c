/* What every op's plan uses: the forward's configuration, dispatches and
 * their bindings. */
#include "ops/plan.h"

#include "core/error.h"
#include "core/half.h"

#include <stdlib.h>
#include <string.h>

/* The limits of a binding of each kind. */
static void config_limits(const lsuv_device_info *info, const lsuv_forward_options *options,
                          forward_config *c) {
    c->range = info->max_storage_buffer_range;
    if (options && options->max_chunk_bytes && options->max_chunk_bytes < c->range)
        c->range = options->max_chunk_bytes;
    c->align =
        info->min_storage_buffer_offset_alignment ? info->min_storage_buffer_offset_alignment : 4;
    c->ubo_range = info->max_uniform_buffer_range < 65536 ? info->max_uniform_buffer_range : 65536;
    if (c->ubo_range > c->range) c->ubo_range = c->range;
    c->ubo_align = info->min_uniform_buffer_offset_alignment > 16
                       ? info->min_uniform_buffer_offset_alignment
                       : 16;
    c->texel_align = info->min_texel_buffer_offset_alignment > c->align
                         ? info->min_texel_buffer_offset_alignment
                         : c->align;
    c->max_texel_elements = info->max_texel_buffer_elements;
    c->max_groups_x = info->max_workgroup_count_x;
}

lsuv_status forward_config_make(const lsuv_device_info *info, const lsuv_net *net,
                                const lsuv_forward_options *options, forward_config *out) {
    forward_config *c = out;
    memset(c, 0, sizeof *c);
    c->batch = options && options->batch ? options->batch : net->batch;
    c->fp16 = options && options->precision == LSUV_PRECISION_FP16;
    c->es = c->fp16 ? 2 : 4;
    if (c->fp16 && !info->storage16)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "%s has no 16-bit storage (storageBuffer16BitAccess): fp16 needs it; "
                         "use fp32",
                         info->name);
    config_limits(info, options, c);
    /* On a CPU a workgroup of one subgroup, each invocation a tile of up to
     * 32 channels by 8 pixels; on a GPU 64 invocations of 16 by 4. lavapipe
     * builds a pipeline (its NIR passes, which no cache skips) in time that
     * grows with the unrolled tile, in every process. With the texel kernel,
     * standard case: 32x16 36.1 GFLOP/s against 34.2 for 32x8, but lsuv-vk's
     * whole run of fastai 07a takes 0.95 s instead of 0.61 s, and LSUV makes
     * too few passes to earn that back. (With the earlier kernel, one channel
     * a pass from a uniform buffer: 32x16 19.4, 32x8 17.6, 16x16 15.3, 16x8
     * 14.3, 8x16 10.3; 2.6 s to build 32x16, 0.7-0.9 s for 32x8.) */
    bool cpu = info->type == LSUV_DEVICE_CPU;
    c->conv_wg = cpu && info->max_subgroup_size ? info->max_subgroup_size : 64;
    c->conv_px_log2 = cpu ? 3 : 2;
    c->conv_kernel = options ? options->conv_kernel : LSUV_CONV_AUTO;
    if (c->conv_kernel == LSUV_CONV_AUTO)
        c->conv_kernel = cpu                                  ? LSUV_CONV_TEXEL
                         : info->type == LSUV_DEVICE_DISCRETE ? LSUV_CONV_GEMM
                                                              : LSUV_CONV_UNIFORM;
    c->conv_tile_log2 = cpu ? 5 : 4;
    c->pool_wg = 64;
    c->epilogue_items = cpu ? 64 : 8;
    c->subgroup =
        info->full_subgroups && info->subgroup_shuffle && c->conv_wg % info->max_subgroup_size == 0;
    conv_gemm_tile_choose(info, &c->gemm);
    return LSUV_OK;
}

lsuv_status ops_samples_per_chunk(const forward_config *c, const lsuv_layer *l, uint32_t *out) {
    uint64_t per =
        shape_count(l->in) > shape_count(l->out) ? shape_count(l->in) : shape_count(l->out);
    uint64_t room = (c->range - c->align) / c->es;
    if (per > room)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: one sample's %llu floats exceed the device's binding of %llu "
                         "bytes",
                         l->index, (unsigned long long)per, (unsigned long long)c->range);
    uint64_t n = room / per;
    *out = n < c->batch ? (uint32_t)n : c->batch;
    return LSUV_OK;
}

lsuv_status ops_alloc_dispatches(uint32_t count, const lsuv_pipeline *p, lsuv_binding_set **sets,
                                 dispatch **out) {
    dispatch *ds = *out = calloc(count, sizeof *ds);
    if (!ds) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t d = 0; d < count; ++d) ds[d].pipeline = p;
    return lsuv_binding_set_create(p, count, sets);
}

void ops_bind(lsuv_binding_set *set, uint32_t d, uint32_t binding, const lsuv_buffer *b) {
    lsuv_binding_set_write_buffer(set, d, binding, b, 0, LSUV_WHOLE_SIZE);
}

uint32_t ops_bind_values(const forward_config *c, lsuv_binding_set *set, uint32_t d,
                         uint32_t binding, bool ubo, const lsuv_buffer *b, uint64_t first,
                         uint64_t count, uint32_t es) {
    uint64_t align = ubo ? c->ubo_align : c->align;
    uint64_t byte = first * es, aligned = byte / align * align;
    uint64_t range = byte - aligned + count * es;
    if (ubo) range = lsuv_align_up(range, 16);
    lsuv_binding_set_write_buffer(set, d, binding, b, aligned, range);
    return (uint32_t)((byte - aligned) / es);
}

uint32_t ops_bind_floats(const forward_config *c, lsuv_binding_set *set, uint32_t d,
                         uint32_t binding, const lsuv_buffer *b, uint64_t first, uint64_t count) {
    return ops_bind_values(c, set, d, binding, false, b, first, count, c->es);
}

uint32_t ops_bind_texels(const forward_config *c, lsuv_binding_set *set, uint32_t d,
                         uint32_t binding, uint32_t lanes, const lsuv_buffer *b, uint64_t first,
                         uint64_t count, lsuv_status *status) {
    uint64_t align = c->texel_align > 4u * lanes ? c->texel_align : 4u * lanes;
    uint64_t byte = first * 4, aligned = byte / align * align;
    uint64_t range = lsuv_align_up(byte - aligned + count * 4, 4u * lanes);
    *status = lsuv_binding_set_write_texels(set, d, binding, b, aligned, range, lanes);
    return (uint32_t)((byte - aligned) / (4u * lanes));
}

lsuv_status ops_upload_values(const forward_config *c, lsuv_buffer *b, const float *x, uint64_t n) {
    if (!c->fp16) return lsuv_buffer_write(b, 0, x, n * 4);
    uint16_t *h = malloc(n * sizeof *h);
    if (!h) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_half_from_floats(h, x, n);
    lsuv_status s = lsuv_buffer_write(b, 0, h, n * sizeof *h);
    free(h);
    return s;
}

lsuv_status ops_download_values(const forward_config *c, const lsuv_buffer *b, float *x,
                                uint64_t n) {
    if (!c->fp16) return lsuv_buffer_read(b, 0, x, n * 4);
    uint16_t *h = malloc(n * sizeof *h);
    if (!h) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_status s = lsuv_buffer_read(b, 0, h, n * sizeof *h);
    if (s == LSUV_OK) lsuv_half_to_floats(x, h, n);
    free(h);
    return s;
}

void ops_record_dispatches(lsuv_cmd *cmd, const dispatch *ds, const lsuv_binding_set *sets,
                           uint32_t n, const lsuv_pipeline *pipeline, bool stats,
                           const lsuv_buffer *args, uint64_t args_offset) {
    for (uint32_t d = 0; d < n; ++d) {
        const dispatch *dp = &ds[d];
        const lsuv_pipeline *p = pipeline ? pipeline : dp->pipeline;
        uint32_t push[DISPATCH_PUSH_MAX];
        memcpy(push, dp->push, sizeof push);
        if (dp->stats_slot && !stats) push[dp->stats_slot] = 0xffffffffu;
        if (args)
            lsuv_cmd_record_dispatch_indirect(cmd, p, sets, d, push, dp->push_words * 4, args,
                                              args_offset + 12ull * d);
        else
            lsuv_cmd_record_dispatch(cmd, p, sets, d, push, dp->push_words * 4, dp->groups);
    }
}
