/* A network's forward pass on a device: the ops' plans of its layers (see
 * ops/plan.h), walked in order. */
#include "lsuv/forward.h"
#include "ops/bn_batch.h"
#include "ops/bn_fold.h"
#include "ops/conv.h"
#include "ops/graph_ops.h"
#include "ops/local.h"
#include "ops/plan.h"
#include "ops/pool.h"
#include "ops/sums.h"
#include "ops/weights_pack.h"

#include "core/error.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A layer's output: for those that pass their input on, their input's
 * buffer; for the rest, their part of the block of activations. */
static lsuv_status create_output(lsuv_forward *f, uint32_t i) {
    layer_plan *lp = &f->layers[i];
    int32_t o = f->memory.owner[i];
    if (o != (int32_t)i) {
        lp->out = o == LSUV_NET_INPUT ? f->input : f->layers[o].out;
        return LSUV_OK;
    }
    lp->owns_out = true;
    return lsuv_buffer_create_alias(f->activations, f->memory.offset[i], f->memory.size[i],
                                    &lp->out);
}

/* Buffers: the input, the block of activations and every output in it,
 * and weights, biases and state for layers with weights. */
static lsuv_status create_buffers(lsuv_forward *f, const lsuv_weights *w, bool keep) {
    const lsuv_net *net = f->net;
    lsuv_device *dev = f->device;
    uint32_t batch = f->cfg.batch, es = f->cfg.es;
    lsuv_status s =
        lsuv_buffer_create(dev, (uint64_t)batch * shape_count(net->input) * es, &f->input);
    if (s == LSUV_OK) s = memory_plan_make(net, batch, es, keep, &f->memory);
    if (s == LSUV_OK && f->memory.block)
        s = lsuv_buffer_create(dev, f->memory.block, &f->activations);
    for (uint32_t i = 0; s == LSUV_OK && i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        layer_plan *lp = &f->layers[i];
        s = create_output(f, i);
        if (s == LSUV_OK && lsuv_layer_has_weights(l)) {
            const lsuv_layer_params *p = &w->layers[i];
            float state[4] = {p->sub, 1.0f, 0.0f, 1.0f}; /* sub, wscale, bshift, bscale */
            /* conv_layer_create fills it; a layer with batch norm keeps
             * 1 / a_c after its biases (bn_fold.c), for the statistics of
             * W x. */
            uint64_t floats = p->bias_count * (l->batch_normalize ? 2ull : 1ull);
            s = lsuv_buffer_create(dev, floats * 4, &lp->bias);
            if (s == LSUV_OK) s = lsuv_buffer_create(dev, sizeof state, &lp->state);
            if (s == LSUV_OK) s = lsuv_buffer_write(lp->state, 0, state, sizeof state);
        }
    }
    if (s == LSUV_OK)
        s = lsuv_buffer_create(dev, (uint64_t)net->n_layers * LSUV_STATS_RESULT_BYTES, &f->results);
    if (s == LSUV_OK) s = lsuv_buffer_create_host(dev, (uint64_t)net->n_layers * 4, &f->subs);
    for (uint32_t i = 0; s == LSUV_OK && i < net->n_layers; ++i)
        if (f->layers[i].state) s = lsuv_buffer_write(f->subs, 4ull * i, &w->layers[i].sub, 4);
    return s;
}

/* Each layer's dispatches, and the plan that puts its statistics in its slot. */
static lsuv_status create_layers(lsuv_forward *f, const lsuv_weights *w) {
    lsuv_status s = LSUV_OK;
    for (uint32_t i = 0; s == LSUV_OK && i < f->net->n_layers; ++i) {
        const lsuv_layer *l = &f->net->layers[i];
        layer_plan *lp = &f->layers[i];
        bool local = l->type == LSUV_LAYER_LOCAL;
        if (local)
            s = local_layer_create(f, i, &w->layers[i]);
        else if (lsuv_layer_has_weights(l))
            s = conv_layer_create(f, i, &w->layers[i]);
        else if (graph_op_runs(l))
            s = graph_layer_create(f, i);
        else if (lp->owns_out)
            s = pool_layer_create(f, i);
        if (s != LSUV_OK) break;
        if (bn_batch_raw(l)) s = bn_batch_create(f, i, &w->layers[i]);
        if (s != LSUV_OK) break;
        /* The fused statistics describe the sums; bn_batch's output is read. */
        if (lsuv_layer_has_weights(l) && !bn_batch_raw(l) && !local)
            s = lsuv_stats_plan_create_merge(f->stats, lp->partials, 0, lp->n_partials, f->results,
                                             i, &lp->stats);
        else if (!f->cfg.fp16) /* the statistics kernel reads floats */
            s = lsuv_stats_plan_create(f->stats, lp->out, 0,
                                       (uint64_t)f->cfg.batch * shape_count(l->out), f->results, i,
                                       &lp->stats);
    }
    return s;
}

static bool has_graph_ops(const lsuv_net *net) {
    for (uint32_t i = 0; i < net->n_layers; ++i)
        if (graph_op_runs(&net->layers[i])) return true;
    return false;
}

lsuv_status lsuv_forward_create(lsuv_device *dev, const lsuv_net *net, const lsuv_weights *w,
                                const lsuv_forward_options *options, lsuv_forward **out) {
    *out = NULL;
    lsuv_forward *f = calloc(1, sizeof *f);
    if (!f) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    f->device = dev;
    f->net = net;
    f->written = UINT32_MAX;
    lsuv_status s = forward_config_make(lsuv_device_get_info(dev), net, options, &f->cfg);
    if (s == LSUV_OK && !(f->layers = calloc(net->n_layers, sizeof *f->layers)))
        s = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (s == LSUV_OK) s = pool_pipeline_create(f);
    if (s == LSUV_OK && has_graph_ops(net)) s = graph_pipeline_create(f);
    if (s == LSUV_OK) s = lsuv_stats_create(dev, NULL, &f->stats);
    if (s == LSUV_OK) s = create_buffers(f, w, options && options->keep_outputs);
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
    if (f->client_destroy) f->client_destroy(f->client); /* it holds the layers' bindings */
    for (uint32_t i = 0; f->layers && i < f->net->n_layers; ++i) {
        layer_plan *lp = &f->layers[i];
        if (lp->owns_out) lsuv_buffer_destroy(lp->out);
        lsuv_buffer_destroy(lp->weights);
        lsuv_buffer_destroy(lp->bias);
        lsuv_buffer_destroy(lp->state);
        free(lp->bn);
        bn_batch_destroy(lp);
        lsuv_buffer_destroy(lp->partials);
        lsuv_stats_plan_destroy(lp->stats);
        lsuv_binding_set_destroy(lp->sets);
        free(lp->dispatches);
    }
    free(f->layers);
    lsuv_buffer_destroy(f->activations);
    memory_plan_free(&f->memory);
    conv_variants_destroy(f);
    for (int a = 0; a < ACTIVATIONS; ++a)
        for (int t = 0; t < 12; ++t) lsuv_pipeline_destroy(f->epilogue[a][t / 6][t / 3 % 2][t % 3]);
    for (int a = 0; a < ACTIVATIONS; ++a) lsuv_pipeline_destroy(f->bn_batch[a]);
    lsuv_pipeline_destroy(f->pool);
    lsuv_pipeline_destroy(f->graph);
    lsuv_pipeline_destroy(f->local);
    lsuv_stats_destroy(f->stats);
    lsuv_buffer_destroy(f->subs);
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
        bn_batch_record(lp, cmd);
        forward_note_written(f, i);
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
    int32_t by = f->written == UINT32_MAX ? -1
                                          : memory_reused_by(&f->memory, f->net->n_layers,
                                                             f->memory.owner[layer], f->written);
    if (by >= 0)
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "layer %u's output is gone: once its last reader had run, its memory "
                         "went to layer %d's; make the forward with keep_outputs to read it",
                         layer, by);
    return ops_download_values(&f->cfg, f->layers[layer].out, out,
                               (uint64_t)f->cfg.batch * shape_count(l->out));
}

const char *lsuv_conv_kernel_name(lsuv_conv_kernel kernel) {
    static const char *const names[] = {"auto", "storage", "uniform", "texel", "gemm"};
    return (unsigned)kernel < sizeof names / sizeof *names ? names[kernel] : NULL;
}

bool lsuv_conv_kernel_from_name(const char *name, lsuv_conv_kernel *out) {
    for (int k = LSUV_CONV_AUTO; k <= LSUV_CONV_GEMM; ++k)
        if (strcmp(name, lsuv_conv_kernel_name((lsuv_conv_kernel)k)) == 0) {
            *out = (lsuv_conv_kernel)k;
            return true;
        }
    return false;
}

const char *lsuv_forward_conv_kernel(const lsuv_forward *f, uint32_t layer) {
    static const char *const names[CONV_KINDS] = {"storage", "uniform", "texel", "split-sum",
                                                  "gemm"};
    return layer < f->net->n_layers && f->layers[layer].weights &&
                   f->net->layers[layer].type != LSUV_LAYER_LOCAL
               ? names[f->layers[layer].kind]
               : NULL;
}

uint32_t lsuv_forward_dispatches(const lsuv_forward *f, uint32_t layer) {
    return layer < f->net->n_layers ? f->layers[layer].n_dispatches : 0;
}

void forward_note_written(lsuv_forward *f, uint32_t layer) {
    if (f->written == UINT32_MAX || layer > f->written) f->written = layer;
}

lsuv_buffer *forward_state(const lsuv_forward *f, uint32_t layer) {
    return f->layers[layer].state;
}

lsuv_buffer *forward_bias(const lsuv_forward *f, uint32_t layer) {
    return f->layers[layer].bias;
}

const lsuv_stats *forward_stats(const lsuv_forward *f) {
    return f->stats;
}

lsuv_buffer *forward_subs(const lsuv_forward *f) {
    return f->subs;
}

lsuv_buffer *forward_results(const lsuv_forward *f) {
    return f->results;
}

void *forward_client(const lsuv_forward *f) {
    return f->client;
}

void forward_set_client(lsuv_forward *f, void *client, void (*destroy)(void *client)) {
    f->client = client;
    f->client_destroy = destroy;
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
        /* sub, wscale, bshift, bscale; --bn batch's sub is bn_batch's */
        float state[4] = {bn_batch_raw(&f->net->layers[i]) ? 0.0f : p->sub, 1.0f, 0.0f, 1.0f};
        s = bn_layer_upload(f, lp, &f->net->layers[i], p);
        if (s == LSUV_OK) s = lsuv_buffer_write(lp->state, 0, state, sizeof state);
        if (s == LSUV_OK) s = lsuv_buffer_write(f->subs, 4ull * i, &state[0], 4);
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
        bn_layer_unfold(lp, l, p);
        if (bn_batch_raw(l)) { /* its bias and sub are bn_batch's, LSUV does not run */
            s = lsuv_buffer_read(lp->bn_bias, 0, p->bias, p->bias_count * 4);
            memcpy(&state[0], lp->bn_dispatch->push + offsetof(lsuv_bn_push, sub) / 4, 4);
        }
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
