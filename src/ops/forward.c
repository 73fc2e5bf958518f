/* A network's forward pass on a device: the ops' plans of its layers (see
 * ops/plan.h), walked in order. */
#include "lsuv/forward.h"
#include "ops/conv.h"
#include "ops/forward_internal.h"
#include "ops/plan.h"
#include "ops/pool.h"
#include "ops/weights_pack.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    EPILOGUE_PUSH_WORDS = 8,
    EPILOGUE_BINDINGS = 5,
};

static void pass_plan_destroy(pass_plan *pp) {
    lsuv_buffer_destroy(pp->args);
    lsuv_buffer_destroy(pp->partials);
    lsuv_stats_plan_destroy(pp->stats);
    lsuv_binding_set_destroy(pp->sets);
    free(pp->dispatches);
    memset(pp, 0, sizeof *pp);
}

/* The indirect arguments of a pass, which the device zeroes when the layer
 * is done: a template of the group counts of the epilogue's dispatches and
 * of the merge of their statistics, then the active copy they read. */
static lsuv_status create_args(lsuv_forward *f, pass_plan *pp) {
    uint32_t n = pp->n_dispatches + lsuv_stats_plan_dispatches(pp->stats);
    uint32_t *grid = calloc(6 * (size_t)n, sizeof *grid);
    if (!grid) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t j = 0; j < pp->n_dispatches; ++j)
        memcpy(grid + 3 * j, pp->dispatches[j].groups, sizeof pp->dispatches[j].groups);
    lsuv_stats_plan_groups(pp->stats, grid + 3 * pp->n_dispatches);
    memcpy(grid + 3 * n, grid, 12ull * n);
    lsuv_status s = lsuv_buffer_create(f->device, 24ull * n, &pp->args);
    if (s == LSUV_OK) s = lsuv_buffer_write(pp->args, 0, grid, 24ull * n);
    free(grid);
    pp->n_args = n;
    return s;
}

static lsuv_status epilogue_pipeline(lsuv_forward *f, lsuv_activation act, bool texel, bool store,
                                     const lsuv_pipeline **out) {
    lsuv_pipeline **p = &f->epilogue[act][texel][store];
    *out = *p;
    if (*p) return LSUV_OK;
    char name[40];
    snprintf(name, sizeof name, "epilogue_%s%s%s", f->cfg.subgroup ? "subgroup" : "shared",
             texel ? "_texel" : "", f->cfg.fp16 ? "_fp16" : "");
    uint32_t spec[] = {f->cfg.conv_wg, f->cfg.epilogue_items, act, store};
    lsuv_binding_kind kinds[EPILOGUE_BINDINGS] = {texel ? LSUV_BINDING_TEXEL
                                                        : LSUV_BINDING_STORAGE};
    lsuv_pipeline_desc desc = {
        .shader = name,
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

/* LSUV's passes over layer i (see pass_plan): its convolution's dispatches
 * store their sums in f->sums, and an epilogue dispatch per chunk of
 * samples reads them. */
static lsuv_status plan_passes(lsuv_forward *f, uint32_t i) {
    const lsuv_layer *l = &f->net->layers[i];
    layer_plan *lp = &f->layers[i];
    pass_plan *pp = &lp->passes;
    conv_variant want = *lp->variant;
    want.sums = true;
    conv_variant *v;
    lsuv_status s = conv_variant_get(f, want, &v);
    if (s == LSUV_OK) s = lsuv_pipeline_compile(v->pipeline);
    if (s != LSUV_OK) return s;
    pp->sums = v->pipeline;
    uint64_t per = shape_count(l->out);
    uint32_t samples = lp->samples; /* the convolution's chunks */
    if ((uint64_t)samples * per * 4 > f->cfg.range - f->cfg.align)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: the sums of %u samples exceed the device's binding of %llu "
                         "bytes, and LSUV keeps them in fp32",
                         i, samples, (unsigned long long)f->cfg.range);
    for (uint32_t d = 0; d < lp->n_dispatches; ++d) {
        dispatch *dp = &lp->dispatches[d];
        uint32_t n0 = dp->first_sample,
                 n = f->cfg.batch - n0 < samples ? f->cfg.batch - n0 : samples;
        dp->push[CONV_SUMS_OFF_WORD] = ops_bind_values(&f->cfg, lp->sets, d, 6, false, f->sums,
                                                       (uint64_t)n0 * per, (uint64_t)n * per, 4);
    }

    /* The epilogue's chunks: within the device's workgroup count too. */
    const lsuv_device_info *info = lsuv_device_get_info(f->device);
    uint32_t plane = l->out.h * l->out.w, oc = lsuv_layer_bias_count(l), n_partials = 0;
    uint64_t blocks = (uint64_t)info->max_workgroup_count_x * f->cfg.conv_wg / plane;
    if (blocks == 0)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: one sample's %u outputs per channel need more workgroups than "
                         "the device's %u",
                         i, plane, info->max_workgroup_count_x);
    if (samples > blocks * f->cfg.epilogue_items)
        samples = (uint32_t)(blocks * f->cfg.epilogue_items);
    /* Sums as texels where the forward reads texels and a chunk fits a view. */
    bool texel = f->cfg.conv_kernel == LSUV_CONV_TEXEL &&
                 samples * per + f->cfg.texel_align / 4 <= info->max_texel_buffer_elements;
    const lsuv_pipeline *pipe;
    s = epilogue_pipeline(f, l->activation, texel, false, &pipe);
    if (s == LSUV_OK) s = epilogue_pipeline(f, l->activation, texel, true, &pp->store);
    if (s != LSUV_OK) return s;
    pp->n_dispatches = (uint32_t)lsuv_div_up(f->cfg.batch, samples);
    s = ops_alloc_dispatches(pp->n_dispatches, pipe, &pp->sets, &pp->dispatches);
    if (s != LSUV_OK) return s;
    float slope = l->slope, maxv = l->maxv; /* +Inf when unset, so Inf outputs stay Inf */
    for (uint32_t d = 0; d < pp->n_dispatches; ++d) {
        dispatch *dp = &pp->dispatches[d];
        uint32_t n0 = d * samples, n = f->cfg.batch - n0 < samples ? f->cfg.batch - n0 : samples;
        uint64_t first = (uint64_t)n0 * per, count = (uint64_t)n * per;
        uint32_t sums_off =
            texel ? ops_bind_texels(&f->cfg, pp->sets, d, 0, 1, f->sums, first, count, &s)
                  : ops_bind_values(&f->cfg, pp->sets, d, 0, false, f->sums, first, count, 4);
        if (s != LSUV_OK) return s;
        ops_bind(pp->sets, d, 1, lp->bias);
        uint32_t out_off = ops_bind_floats(&f->cfg, pp->sets, d, 2, lp->out, first, count);
        ops_bind(pp->sets, d, 3, lp->state);
        uint32_t push[EPILOGUE_PUSH_WORDS] = {n, plane, oc, sums_off, out_off, 0, 0, n_partials};
        memcpy(&push[5], &slope, 4);
        memcpy(&push[6], &maxv, 4);
        memcpy(dp->push, push, sizeof push);
        dp->push_words = EPILOGUE_PUSH_WORDS;
        dp->first_sample = n0;
        /* An invocation per output position and block of epilogue_items samples. */
        dp->groups[0] =
            (uint32_t)lsuv_div_up(lsuv_div_up(n, f->cfg.epilogue_items) * plane, f->cfg.conv_wg);
        dp->groups[1] = oc;
        dp->groups[2] = 1;
        dp->partials = dp->groups[0] * dp->groups[1];
        n_partials += dp->partials;
    }
    s = lsuv_buffer_create(f->device, (uint64_t)n_partials * LSUV_STATS_RESULT_BYTES,
                           &pp->partials);
    for (uint32_t d = 0; s == LSUV_OK && d < pp->n_dispatches; ++d)
        ops_bind(pp->sets, d, 4, pp->partials);
    if (s == LSUV_OK)
        s = lsuv_stats_plan_create_merge(f->stats, pp->partials, 0, n_partials, f->results, i,
                                         &pp->stats);
    return s == LSUV_OK ? create_args(f, pp) : s;
}

lsuv_status forward_prepare_passes(lsuv_forward *f) {
    if (f->sums) return LSUV_OK;
    uint64_t most = 0;
    for (uint32_t i = 0; i < f->net->n_layers; ++i) {
        const lsuv_layer *l = &f->net->layers[i];
        uint64_t count = (uint64_t)f->cfg.batch * shape_count(l->out);
        if (lsuv_layer_has_weights(l) && l->lsuv && count > most) most = count;
    }
    if (most == 0) return LSUV_OK;
    lsuv_status s = lsuv_buffer_create(f->device, most * 4, &f->sums);
    for (uint32_t i = 0; s == LSUV_OK && i < f->net->n_layers; ++i) {
        const lsuv_layer *l = &f->net->layers[i];
        if (lsuv_layer_has_weights(l) && l->lsuv) s = plan_passes(f, i);
    }
    if (s != LSUV_OK) {
        for (uint32_t i = 0; i < f->net->n_layers; ++i) pass_plan_destroy(&f->layers[i].passes);
        lsuv_buffer_destroy(f->sums);
        f->sums = NULL;
    }
    return s;
}

/* Buffers: the input, every layer's output (identity layers reuse their
 * input's), and weights, biases and state for layers with weights. */
static lsuv_status create_buffers(lsuv_forward *f, const lsuv_weights *w) {
    const lsuv_net *net = f->net;
    lsuv_device *dev = f->device;
    uint32_t batch = f->cfg.batch, es = f->cfg.es;
    lsuv_status s =
        lsuv_buffer_create(dev, (uint64_t)batch * shape_count(net->input) * es, &f->input);
    for (uint32_t i = 0; s == LSUV_OK && i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        layer_plan *lp = &f->layers[i];
        bool identity = l->type == LSUV_LAYER_DROPOUT || l->type == LSUV_LAYER_SOFTMAX ||
                        l->type == LSUV_LAYER_COST;
        if (identity) {
            lp->out = (lsuv_buffer *)layer_input(f, i);
            continue;
        }
        lp->owns_out = true;
        s = lsuv_buffer_create(dev, (uint64_t)batch * shape_count(l->out) * es, &lp->out);
        if (s == LSUV_OK && lsuv_layer_has_weights(l)) {
            const lsuv_layer_params *p = &w->layers[i];
            float state[4] = {p->sub, 1.0f, 0.0f, 1.0f}; /* sub, wscale, bshift, bscale */
            s = lsuv_buffer_create(dev, p->bias_count * 4, &lp->bias);
            if (s == LSUV_OK) s = lsuv_buffer_write(lp->bias, 0, p->bias, p->bias_count * 4);
            if (s == LSUV_OK) s = lsuv_buffer_create(dev, sizeof state, &lp->state);
            if (s == LSUV_OK) s = lsuv_buffer_write(lp->state, 0, state, sizeof state);
        }
    }
    if (s == LSUV_OK)
        s = lsuv_buffer_create(dev, (uint64_t)net->n_layers * LSUV_STATS_RESULT_BYTES, &f->results);
    return s;
}

/* Each layer's dispatches, and the plan that puts its statistics in its slot. */
static lsuv_status create_layers(lsuv_forward *f, const lsuv_weights *w) {
    lsuv_status s = LSUV_OK;
    for (uint32_t i = 0; s == LSUV_OK && i < f->net->n_layers; ++i) {
        const lsuv_layer *l = &f->net->layers[i];
        layer_plan *lp = &f->layers[i];
        if (lsuv_layer_has_weights(l))
            s = conv_layer_create(f, i, &w->layers[i]);
        else if (lp->owns_out)
            s = pool_layer_create(f, i);
        if (s != LSUV_OK) break;
        if (lsuv_layer_has_weights(l))
            s = lsuv_stats_plan_create_merge(f->stats, lp->partials, 0, lp->n_partials, f->results,
                                             i, &lp->stats);
        else if (!f->cfg.fp16) /* the statistics kernel reads floats */
            s = lsuv_stats_plan_create(f->stats, lp->out, 0,
                                       (uint64_t)f->cfg.batch * shape_count(l->out), f->results, i,
                                       &lp->stats);
    }
    return s;
}

lsuv_status lsuv_forward_create(lsuv_device *dev, const lsuv_net *net, const lsuv_weights *w,
                                const lsuv_forward_options *options, lsuv_forward **out) {
    *out = NULL;
    lsuv_forward *f = calloc(1, sizeof *f);
    if (!f) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    f->device = dev;
    f->net = net;
    lsuv_status s = forward_config_make(lsuv_device_get_info(dev), net, options, &f->cfg);
    if (s == LSUV_OK && !(f->layers = calloc(net->n_layers, sizeof *f->layers)))
        s = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (s == LSUV_OK) s = pool_pipeline_create(f);
    if (s == LSUV_OK) s = lsuv_stats_create(dev, NULL, &f->stats);
    if (s == LSUV_OK) s = create_buffers(f, w);
    if (s == LSUV_OK) s = create_layers(f, w);
    if (s != LSUV_OK) {
        lsuv_forward_destroy(f);
        return s;
    }
    *out = f;
    return LSUV_OK;
}

void lsuv_forward_destroy(lsuv_forward *f) {
    if (!f) return;
    for (uint32_t i = 0; f->layers && i < f->net->n_layers; ++i) {
        layer_plan *lp = &f->layers[i];
        if (lp->owns_out) lsuv_buffer_destroy(lp->out);
        lsuv_buffer_destroy(lp->weights);
        lsuv_buffer_destroy(lp->bias);
        lsuv_buffer_destroy(lp->state);
        lsuv_buffer_destroy(lp->partials);
        lsuv_stats_plan_destroy(lp->stats);
        pass_plan_destroy(&lp->passes);
        lsuv_binding_set_destroy(lp->sets);
        free(lp->dispatches);
    }
    free(f->layers);
    conv_variants_destroy(f);
    for (int a = 0; a < ACTIVATIONS; ++a)
        for (int t = 0; t < 4; ++t) lsuv_pipeline_destroy(f->epilogue[a][t / 2][t % 2]);
    lsuv_buffer_destroy(f->sums);
    lsuv_pipeline_destroy(f->pool);
    lsuv_stats_destroy(f->stats);
    lsuv_buffer_destroy(f->results);
    lsuv_buffer_destroy(f->input);
    free(f);
}

lsuv_status lsuv_forward_set_input(lsuv_forward *f, const lsuv_batch *b) {
    const lsuv_shape in = f->net->input;
    if (b->c != in.c || b->h != in.h || b->w != in.w || b->n < f->cfg.batch)
        return lsuv_fail(LSUV_ERROR_INVALID, "a batch of %u x %ux%ux%u does not fit %u x %ux%ux%u",
                         b->n, b->c, b->h, b->w, f->cfg.batch, in.c, in.h, in.w);
    return ops_upload_values(&f->cfg, f->input, b->data, (uint64_t)f->cfg.batch * shape_count(in));
}

lsuv_status lsuv_forward_record(lsuv_forward *f, lsuv_cmd *cmd, uint32_t first, uint32_t last,
                                bool stats) {
    for (uint32_t i = first; i <= last && i < f->net->n_layers; ++i) {
        const conv_variant *v = f->layers[i].variant;
        lsuv_status s = v ? lsuv_pipeline_compile(v->pipeline) : LSUV_OK;
        if (s != LSUV_OK) return s;
    }
    for (uint32_t i = first; i <= last && i < f->net->n_layers; ++i) {
        const layer_plan *lp = &f->layers[i];
        lsuv_cmd_barrier(cmd);
        ops_record_dispatches(cmd, lp->dispatches, lp->sets, lp->n_dispatches, NULL,
                              stats && i == last, NULL, 0);
    }
    /* The statistics plan starts with its own barrier. */
    if (stats && last < f->net->n_layers && f->layers[last].stats)
        lsuv_stats_plan_record(f->layers[last].stats, cmd);
    return LSUV_OK;
}

lsuv_status lsuv_forward_run(lsuv_forward *f, uint32_t first, uint32_t last, bool stats) {
    lsuv_cmd *cmd = NULL;
    lsuv_status s = lsuv_cmd_begin(f->device, &cmd);
    if (s == LSUV_OK) s = lsuv_forward_record(f, cmd, first, last, stats);
    if (s == LSUV_OK) s = lsuv_cmd_submit(cmd);
    lsuv_cmd_destroy(cmd);
    return s;
}

lsuv_status lsuv_forward_stats_read(const lsuv_forward *f, uint32_t layer, lsuv_moments *out) {
    if (layer >= f->net->n_layers)
        return lsuv_fail(LSUV_ERROR_INVALID, "layer %u: the network has %u", layer,
                         f->net->n_layers);
    if (!f->layers[layer].stats)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: statistics of an fp16 layer without weights", layer);
    return lsuv_stats_result_read(f->stats, f->results, layer, out);
}

lsuv_status lsuv_forward_read(const lsuv_forward *f, uint32_t layer, float *out) {
    if (layer >= f->net->n_layers)
        return lsuv_fail(LSUV_ERROR_INVALID, "layer %u: the network has %u", layer,
                         f->net->n_layers);
    const lsuv_layer *l = &f->net->layers[layer];
    return ops_download_values(&f->cfg, f->layers[layer].out, out,
                               (uint64_t)f->cfg.batch * shape_count(l->out));
}

const char *lsuv_conv_kernel_name(lsuv_conv_kernel kernel) {
    static const char *const names[] = {"auto", "storage", "uniform", "texel"};
    return (unsigned)kernel < sizeof names / sizeof *names ? names[kernel] : NULL;
}

bool lsuv_conv_kernel_from_name(const char *name, lsuv_conv_kernel *out) {
    for (int k = LSUV_CONV_AUTO; k <= LSUV_CONV_TEXEL; ++k)
        if (strcmp(name, lsuv_conv_kernel_name((lsuv_conv_kernel)k)) == 0) {
            *out = (lsuv_conv_kernel)k;
            return true;
        }
    return false;
}

const char *lsuv_forward_conv_kernel(const lsuv_forward *f, uint32_t layer) {
    static const char *const names[CONV_KINDS] = {"storage", "uniform", "texel", "split-sum"};
    return layer < f->net->n_layers && f->layers[layer].weights ? names[f->layers[layer].kind]
                                                                : NULL;
}

uint32_t lsuv_forward_dispatches(const lsuv_forward *f, uint32_t layer) {
    return layer < f->net->n_layers ? f->layers[layer].n_dispatches : 0;
}

void forward_record_first_pass(lsuv_forward *f, lsuv_cmd *cmd, uint32_t layer) {
    const layer_plan *lp = &f->layers[layer];
    const pass_plan *pp = &lp->passes;
    lsuv_cmd_barrier(cmd);
    ops_record_dispatches(cmd, lp->dispatches, lp->sets, lp->n_dispatches, pp->sums, true, NULL, 0);
    uint64_t bytes = 12ull * pp->n_args;
    lsuv_cmd_copy(cmd, pp->args, 0, pp->args, bytes, bytes);
    lsuv_stats_plan_record(lp->stats, cmd);
}

void forward_record_pass(lsuv_forward *f, lsuv_cmd *cmd, uint32_t layer) {
    const pass_plan *pp = &f->layers[layer].passes;
    lsuv_cmd_barrier(cmd);
    uint64_t active = 12ull * pp->n_args;
    ops_record_dispatches(cmd, pp->dispatches, pp->sets, pp->n_dispatches, NULL, true, pp->args,
                          active);
    lsuv_stats_plan_record_indirect(pp->stats, cmd, pp->args, active + 12ull * pp->n_dispatches);
}

void forward_record_store(lsuv_forward *f, lsuv_cmd *cmd, uint32_t layer) {
    const pass_plan *pp = &f->layers[layer].passes;
    lsuv_cmd_barrier(cmd);
    ops_record_dispatches(cmd, pp->dispatches, pp->sets, pp->n_dispatches, pp->store, true, NULL,
                          0);
}

lsuv_buffer *forward_state(const lsuv_forward *f, uint32_t layer) {
    return f->layers[layer].state;
}

lsuv_buffer *forward_args(const lsuv_forward *f, uint32_t layer) {
    return f->layers[layer].passes.args;
}

uint32_t forward_args_words(const lsuv_forward *f, uint32_t layer) {
    return 3 * f->layers[layer].passes.n_args;
}

lsuv_buffer *forward_results(const lsuv_forward *f) {
    return f->results;
}

lsuv_device *forward_device(const lsuv_forward *f) {
    return f->device;
}

lsuv_status lsuv_forward_reset(lsuv_forward *f, const lsuv_weights *w) {
    lsuv_status s = LSUV_OK;
    for (uint32_t i = 0; s == LSUV_OK && i < f->net->n_layers; ++i) {
        layer_plan *lp = &f->layers[i];
        const lsuv_layer_params *p = &w->layers[i];
        if (!lp->weights) continue;
        float state[4] = {p->sub, 1.0f, 0.0f, 1.0f}; /* sub, wscale, bshift, bscale */
        s = weights_pack_upload(f, lp, &f->net->layers[i], p->weight);
        if (s == LSUV_OK) s = lsuv_buffer_write(lp->bias, 0, p->bias, p->bias_count * 4);
        if (s == LSUV_OK) s = lsuv_buffer_write(lp->state, 0, state, sizeof state);
    }
    return s;
}

lsuv_status lsuv_forward_weights_read(const lsuv_forward *f, lsuv_weights *w) {
    lsuv_status s = LSUV_OK;
    for (uint32_t i = 0; s == LSUV_OK && i < f->net->n_layers; ++i) {
        const layer_plan *lp = &f->layers[i];
        lsuv_layer_params *p = &w->layers[i];
        if (!lp->weights || !p->weight) continue;
        const lsuv_layer *l = &f->net->layers[i];
        uint32_t oc = lsuv_layer_bias_count(l);
        uint64_t count = lsuv_layer_fan_in(l) * oc;
        float state[4];
        s = weights_unpack_download(f, lp, l, p->weight);
        if (s == LSUV_OK) s = lsuv_buffer_read(lp->bias, 0, p->bias, p->bias_count * 4);
        if (s == LSUV_OK) s = lsuv_buffer_read(lp->state, 0, state, sizeof state);
        if (s != LSUV_OK) break;
        /* What the device computes with: W * wscale, bias * bscale + bshift. */
        for (uint64_t r = 0; r < count; ++r) p->weight[r] *= state[1];
        for (uint32_t o = 0; o < oc; ++o) p->bias[o] = p->bias[o] * state[3] + state[2];
        if (p->sub != state[0]) p->has_sub = true;
        p->sub = state[0];
    }
    return s;
}

const lsuv_net *lsuv_forward_net(const lsuv_forward *f) {
    return f->net;
}

uint32_t lsuv_forward_batch(const lsuv_forward *f) {
    return f->cfg.batch;
}
