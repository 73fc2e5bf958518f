/* The epilogue over a layer's kept sums (epilogue.comp; see ops/sums.h): an
 * invocation per output position and block of samples, with the layer's
 * bias, state and activation, its statistics fused. */
#include "ops/conv.h"
#include "ops/sums.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

enum {
    EPILOGUE_PUSH_WORDS = sizeof(lsuv_epilogue_push) / 4,
    EPILOGUE_BINDINGS = 5,
};

struct ops_epilogue {
    const lsuv_pipeline *store; /* the same kernel, storing its outputs */
    lsuv_binding_set *sets;     /* one per dispatch */
    uint32_t n_dispatches;
    dispatch *dispatches; /* its statistics, a chunk of samples each */
    lsuv_buffer *partials;
    lsuv_stats_plan *stats; /* merges the partials into the layer's slot */
    lsuv_device *device;
    lsuv_buffer *all; /* indirect arguments dispatching every group */
};

/* The pipelines, made once per forward (f->epilogue). */
static lsuv_status epilogue_pipeline(lsuv_forward *f, lsuv_activation act, bool texel, bool store,
                                     uint32_t measure, const lsuv_pipeline **out) {
    lsuv_pipeline **p = &f->epilogue[act][texel][store][measure];
    *out = *p;
    if (*p) return LSUV_OK;
    /* [subgroup][texel][fp16] */
    static const lsuv_shader variants[2][2][2] = {
        {{LSUV_SHADER_EPILOGUE_SHARED, LSUV_SHADER_EPILOGUE_SHARED_FP16},
         {LSUV_SHADER_EPILOGUE_SHARED_TEXEL, LSUV_SHADER_EPILOGUE_SHARED_TEXEL_FP16}},
        {{LSUV_SHADER_EPILOGUE_SUBGROUP, LSUV_SHADER_EPILOGUE_SUBGROUP_FP16},
         {LSUV_SHADER_EPILOGUE_SUBGROUP_TEXEL, LSUV_SHADER_EPILOGUE_SUBGROUP_TEXEL_FP16}},
    };
    uint32_t spec[] = {f->cfg.conv_wg, f->cfg.epilogue_items, act, store, measure};
    lsuv_binding_kind kinds[EPILOGUE_BINDINGS] = {texel ? LSUV_BINDING_TEXEL
                                                        : LSUV_BINDING_STORAGE};
    lsuv_pipeline_desc desc = {
        .shader = variants[f->cfg.subgroup][texel][f->cfg.fp16],
        .bindings = EPILOGUE_BINDINGS,
        .kinds = kinds,
        .push_size = EPILOGUE_PUSH_WORDS * 4,
        .spec = spec,
        .spec_count = sizeof spec / sizeof *spec,
        .full_subgroups = f->cfg.subgroup,
    };
    lsuv_status s = lsuv_pipeline_create(f->device, &desc, p);
    *out = *p;
    return s;
}

/* Samples a dispatch: the convolution's chunks, within the device's
 * workgroup count too. */
static lsuv_status chunk_samples(const lsuv_forward *f, uint32_t i, uint32_t *out) {
    const lsuv_layer *l = &f->net->layers[i];
    uint32_t plane = l->out.h * l->out.w;
    uint64_t blocks = (uint64_t)f->cfg.max_groups_x * f->cfg.conv_wg / plane;
    if (blocks == 0)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: one sample's %u outputs per channel need more workgroups than "
                         "the device's %u",
                         i, plane, f->cfg.max_groups_x);
    *out = f->layers[i].samples;
    if (*out > blocks * f->cfg.epilogue_items) *out = (uint32_t)(blocks * f->cfg.epilogue_items);
    return LSUV_OK;
}

/* Binds dispatch d and fills its push words and group counts; n_partials:
 * the partials of the dispatches before it. */
static lsuv_status bind_dispatch(lsuv_forward *f, uint32_t i, ops_epilogue *e, uint32_t d,
                                 uint32_t samples, bool texel, const lsuv_buffer *sums,
                                 const lsuv_buffer *state, uint32_t n_partials) {
    const lsuv_layer *l = &f->net->layers[i];
    const layer_plan *lp = &f->layers[i];
    const forward_config *c = &f->cfg;
    dispatch *dp = &e->dispatches[d];
    uint64_t per = shape_count(l->out);
    uint32_t plane = l->out.h * l->out.w, oc = lsuv_layer_bias_count(l);
    uint32_t n0 = d * samples, n = c->batch - n0 < samples ? c->batch - n0 : samples;
    uint64_t first = (uint64_t)n0 * per, count = (uint64_t)n * per;
    lsuv_status s = LSUV_OK;
    uint32_t sums_off = texel ? ops_bind_texels(c, e->sets, d, 0, 1, sums, first, count, &s)
                              : ops_bind_values(c, e->sets, d, 0, false, sums, first, count, 4);
    if (s != LSUV_OK) return s;
    ops_bind(e->sets, d, 1, lp->bias);
    uint32_t out_off = ops_bind_floats(c, e->sets, d, 2, lp->out, first, count);
    ops_bind(e->sets, d, 3, state);
    float slope = l->slope, maxv = l->maxv; /* +Inf when unset, so Inf outputs stay Inf */
    lsuv_epilogue_push push = {.n = n,
                               .plane = plane,
                               .oc = oc,
                               .sums_off = sums_off,
                               .out_off = out_off,
                               .slope = slope,
                               .maxv = maxv,
                               .stats_base = n_partials};
    memcpy(dp->push, &push, sizeof push);
    dp->push_words = EPILOGUE_PUSH_WORDS;
    dp->first_sample = n0;
    /* An invocation per output position and block of epilogue_items samples. */
    dp->groups[0] = (uint32_t)lsuv_div_up(lsuv_div_up(n, c->epilogue_items) * plane, c->conv_wg);
    dp->groups[1] = oc;
    dp->groups[2] = 1;
    dp->partials = dp->groups[0] * dp->groups[1];
    return LSUV_OK;
}

lsuv_status ops_epilogue_create(lsuv_forward *f, uint32_t i, const lsuv_buffer *sums,
                                const lsuv_buffer *state, uint32_t measure, ops_epilogue **out) {
    const lsuv_layer *l = &f->net->layers[i];
    ops_epilogue *e = *out = calloc(1, sizeof *e);
    if (!e) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    e->device = f->device;
    uint32_t samples = 0;
    lsuv_status s = chunk_samples(f, i, &samples);
    if (s != LSUV_OK) return s;
    /* Sums as texels where the forward reads texels and a chunk fits a view. */
    bool texel =
        f->cfg.conv_kernel == LSUV_CONV_TEXEL &&
        samples * shape_count(l->out) + f->cfg.texel_align / 4 <= f->cfg.max_texel_elements;
    const lsuv_pipeline *pipe;
    s = epilogue_pipeline(f, l->activation, texel, false, measure, &pipe);
    /* What is stored does not depend on what is measured. */
    if (s == LSUV_OK)
        s = epilogue_pipeline(f, l->activation, texel, true, LSUV_C_MEASURE_POST, &e->store);
    if (s != LSUV_OK) return s;
    e->n_dispatches = (uint32_t)lsuv_div_up(f->cfg.batch, samples);
    s = ops_alloc_dispatches(e->n_dispatches, pipe, &e->sets, &e->dispatches);
    uint32_t n_partials = 0;
    for (uint32_t d = 0; s == LSUV_OK && d < e->n_dispatches; ++d) {
        s = bind_dispatch(f, i, e, d, samples, texel, sums, state, n_partials);
        n_partials += e->dispatches[d].partials;
    }
    if (s == LSUV_OK)
        s = lsuv_buffer_create(f->device, (uint64_t)n_partials * LSUV_STATS_RESULT_BYTES,
                               &e->partials);
    for (uint32_t d = 0; s == LSUV_OK && d < e->n_dispatches; ++d)
        ops_bind(e->sets, d, 4, e->partials);
    if (s == LSUV_OK)
        s = lsuv_stats_plan_create_merge(f->stats, e->partials, 0, n_partials, f->results, i,
                                         &e->stats);
    return s;
}

void ops_epilogue_destroy(ops_epilogue *e) {
    if (!e) return;
    lsuv_buffer_destroy(e->all);
    lsuv_buffer_destroy(e->partials);
    lsuv_stats_plan_destroy(e->stats);
    lsuv_binding_set_destroy(e->sets);
    free(e->dispatches);
    free(e);
}

uint32_t ops_epilogue_groups(const ops_epilogue *e, uint32_t *grid) {
    if (grid) {
        for (uint32_t j = 0; j < e->n_dispatches; ++j)
            memcpy(grid + 3 * j, e->dispatches[j].groups, sizeof e->dispatches[j].groups);
        lsuv_stats_plan_groups(e->stats, grid + 3 * e->n_dispatches);
    }
    return e->n_dispatches + lsuv_stats_plan_dispatches(e->stats);
}

void ops_epilogue_record_stats(const ops_epilogue *e, lsuv_cmd *cmd, const lsuv_buffer *args,
                               uint64_t offset) {
    lsuv_cmd_barrier(cmd);
    ops_record_dispatches(cmd, e->dispatches, e->sets, e->n_dispatches, NULL, true, args, offset);
    lsuv_stats_plan_record_indirect(e->stats, cmd, args, offset + 12ull * e->n_dispatches);
}

void ops_epilogue_record_store(const ops_epilogue *e, lsuv_cmd *cmd) {
    lsuv_cmd_barrier(cmd);
    ops_record_dispatches(cmd, e->dispatches, e->sets, e->n_dispatches, e->store, true, NULL, 0);
}

lsuv_status ops_epilogue_record_stats_all(ops_epilogue *e, lsuv_cmd *cmd) {
    if (!e->all) {
        uint32_t n = ops_epilogue_groups(e, NULL);
        uint32_t *grid = calloc(3 * (size_t)n, sizeof *grid);
        if (!grid) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
        ops_epilogue_groups(e, grid);
        lsuv_status s = lsuv_buffer_create(e->device, 12ull * n, &e->all);
        if (s == LSUV_OK) s = lsuv_buffer_write(e->all, 0, grid, 12ull * n);
        free(grid);
        if (s != LSUV_OK) return s;
    }
    ops_epilogue_record_stats(e, cmd, e->all, 0);
    return LSUV_OK;
}
