/* route, shortcut, upsample and reorg: graph.comp, an invocation per value
 * written. One shader with a mode, as pool.comp: the four are index
 * mappings over the same bindings, push block and chunking, a dozen lines
 * each, and one pipeline serves them all. */
#include "ops/graph_ops.h"

#include "contract.h"

#include <stddef.h>
#include <string.h>

enum { GRAPH_PUSH_WORDS = sizeof(lsuv_graph_push) / 4 };
_Static_assert(sizeof(lsuv_graph_push) <= DISPATCH_PUSH_MAX * 4, "graph push exceeds a dispatch");
_Static_assert(offsetof(lsuv_graph_push, stride) == 9 * 4, "graph push: stride");
_Static_assert(offsetof(lsuv_graph_push, slope) == 11 * 4, "graph push: slope");
_Static_assert(offsetof(lsuv_graph_push, c_off) == 14 * 4, "graph push: c_off");
_Static_assert(offsetof(lsuv_graph_push, out_off) == 19 * 4, "graph push: out_off");

bool graph_op_runs(const lsuv_layer *l) {
    return l->type == LSUV_LAYER_ROUTE || l->type == LSUV_LAYER_SHORTCUT ||
           l->type == LSUV_LAYER_UPSAMPLE || l->type == LSUV_LAYER_REORG;
}

lsuv_status graph_pipeline_create(lsuv_forward *f) {
    uint32_t spec[] = {f->cfg.pool_wg};
    lsuv_pipeline_desc desc = {.shader = f->cfg.fp16 ? LSUV_SHADER_GRAPH_FP16 : LSUV_SHADER_GRAPH,
                               .bindings = 3,
                               .push_size = GRAPH_PUSH_WORDS * 4,
                               .spec = spec,
                               .spec_count = 1};
    return lsuv_pipeline_create(f->device, &desc, &f->graph);
}

static const lsuv_buffer *input_buffer(const lsuv_forward *f, int32_t index) {
    return index == LSUV_NET_INPUT ? f->input : f->layers[index].out;
}

static lsuv_shape input_shape(const lsuv_forward *f, int32_t index) {
    return index == LSUV_NET_INPUT ? f->net->input : f->net->layers[index].out;
}

/* Samples per chunk: every tensor a dispatch binds must fit the range (a
 * route's in, the inputs side by side, is never bound whole). */
static lsuv_status chunk_samples(const lsuv_forward *f, const lsuv_layer *l, uint32_t *out) {
    lsuv_layer widest = *l;
    if (l->type == LSUV_LAYER_ROUTE) widest.in = l->out;
    for (uint32_t k = 0; k < l->n_inputs; ++k) {
        lsuv_shape s = input_shape(f, l->inputs[k]);
        if (shape_count(s) > shape_count(widest.in)) widest.in = s;
    }
    return ops_samples_per_chunk(&f->cfg, &widest, out);
}

static uint32_t mode_of(const lsuv_layer *l) {
    switch (l->type) {
    case LSUV_LAYER_ROUTE:
        return LSUV_C_GRAPH_ROUTE;
    case LSUV_LAYER_SHORTCUT:
        return LSUV_C_GRAPH_SHORTCUT;
    case LSUV_LAYER_UPSAMPLE:
        return l->reverse ? LSUV_C_GRAPH_UPSAMPLE_SUM : LSUV_C_GRAPH_UPSAMPLE;
    default:
        if (l->extra) return LSUV_C_GRAPH_REORG_EXTRA;
        return l->reverse ? LSUV_C_GRAPH_REORG_REVERSE : LSUV_C_GRAPH_REORG;
    }
}

/* Dispatch d: samples [n0, n0 + n) of input k (0 but for a route), which
 * starts at channel c_off of the output. */
static void fill(lsuv_forward *f, uint32_t i, uint32_t d, uint32_t k, uint32_t n0, uint32_t n,
                 uint32_t c_off) {
    const lsuv_layer *l = &f->net->layers[i];
    const forward_config *c = &f->cfg;
    layer_plan *lp = &f->layers[i];
    dispatch *dp = &lp->dispatches[d];
    lsuv_shape is = input_shape(f, l->inputs[k]);
    lsuv_shape fs = l->type == LSUV_LAYER_SHORTCUT ? input_shape(f, l->inputs[1]) : is;
    const lsuv_buffer *from = input_buffer(f, l->inputs[l->type == LSUV_LAYER_SHORTCUT ? 1 : k]);
    lsuv_graph_push p = {
        .mode = mode_of(l),
        .n = n,
        .c = l->out.c,
        .h = l->out.h,
        .w = l->out.w,
        .ic = l->extra ? (uint32_t)shape_count(is) : is.c,
        .fc = fs.c,
        .fh = fs.h,
        .fw = fs.w,
        .stride = l->stride,
        .act = (uint32_t)l->activation,
        .slope = l->slope,
        .alpha = l->type == LSUV_LAYER_UPSAMPLE ? l->scale : l->alpha,
        .beta = l->beta,
        .c_off = c_off,
        .c_first = l->group_id * (is.c / (l->groups ? l->groups : 1)),
        .part = is.c / (l->groups ? l->groups : 1),
    };
    p.in_off = ops_bind_floats(c, lp->sets, d, 0, input_buffer(f, l->inputs[k]),
                               (uint64_t)n0 * shape_count(is), (uint64_t)n * shape_count(is));
    p.from_off = ops_bind_floats(c, lp->sets, d, 1, from, (uint64_t)n0 * shape_count(fs),
                                 (uint64_t)n * shape_count(fs));
    p.out_off = ops_bind_floats(c, lp->sets, d, 2, lp->out, (uint64_t)n0 * shape_count(l->out),
                                (uint64_t)n * shape_count(l->out));
    memcpy(dp->push, &p, sizeof p);
    dp->push_words = GRAPH_PUSH_WORDS;
    uint64_t values = l->type == LSUV_LAYER_ROUTE ? (uint64_t)n * p.part * l->out.h * l->out.w
                                                  : (uint64_t)n * shape_count(l->out);
    uint64_t groups = lsuv_div_up(values, c->pool_wg);
    dp->groups[0] = groups < 65535 ? (uint32_t)groups : 65535;
    dp->groups[1] = (uint32_t)lsuv_div_up(groups, dp->groups[0]);
    dp->groups[2] = 1;
}

lsuv_status graph_layer_create(lsuv_forward *f, uint32_t i) {
    const lsuv_layer *l = &f->net->layers[i];
    const forward_config *c = &f->cfg;
    layer_plan *lp = &f->layers[i];
    uint32_t samples;
    lsuv_status s = chunk_samples(f, l, &samples);
    if (s != LSUV_OK) return s;
    uint32_t chunks = (uint32_t)lsuv_div_up(c->batch, samples);
    uint32_t per_chunk = l->type == LSUV_LAYER_ROUTE ? l->n_inputs : 1;
    lp->n_dispatches = chunks * per_chunk;
    s = ops_alloc_dispatches(lp->n_dispatches, f->graph, &lp->sets, &lp->dispatches);
    for (uint32_t d = 0; s == LSUV_OK && d < chunks; ++d) {
        uint32_t n0 = d * samples, n = c->batch - n0 < samples ? c->batch - n0 : samples;
        uint32_t c_off = 0;
        for (uint32_t k = 0; k < per_chunk; ++k) {
            fill(f, i, d * per_chunk + k, k, n0, n, c_off);
            c_off += input_shape(f, l->inputs[k]).c / (l->groups ? l->groups : 1);
        }
    }
    return s;
}
