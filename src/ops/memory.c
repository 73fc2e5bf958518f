/* The forward's activations by liveness (ops/memory.h), and what a forward
 * and LSUV on it take in all (lsuv_forward_memory). */
#include "ops/memory.h"

#include "core/error.h"
#include "ops/plan.h"

#include <stdlib.h>
#include <string.h>

bool memory_passes_input(const lsuv_layer *l) {
    switch (l->type) {
    case LSUV_LAYER_DROPOUT:
    case LSUV_LAYER_SOFTMAX:
    case LSUV_LAYER_COST:
    case LSUV_LAYER_YOLO:
    case LSUV_LAYER_REGION:
    case LSUV_LAYER_DETECTION:
        return true;
    default:
        return false;
    }
}

void memory_plan_free(memory_plan *p) {
    free(p->owner);
    free(p->offset);
    free(p->size);
    free(p->last);
    memset(p, 0, sizeof *p);
}

/* Owners, and each one's last reader. */
static void lifetimes(const lsuv_net *net, bool keep, memory_plan *p) {
    uint32_t n = net->n_layers;
    for (uint32_t i = 0; i < n; ++i) {
        const lsuv_layer *l = &net->layers[i];
        int32_t in = l->inputs[0];
        p->owner[i] =
            memory_passes_input(l) ? (in == LSUV_NET_INPUT ? in : p->owner[in]) : (int32_t)i;
        p->last[i] = keep || i + 1 == n ? n : i;
        for (uint32_t k = 0; k < l->n_inputs; ++k) {
            int32_t o = l->inputs[k] == LSUV_NET_INPUT ? LSUV_NET_INPUT : p->owner[l->inputs[k]];
            if (o != LSUV_NET_INPUT && p->last[o] < i) p->last[o] = i;
        }
    }
    /* What the network's last layer passes on is its output. */
    if (n && p->owner[n - 1] != LSUV_NET_INPUT) p->last[p->owner[n - 1]] = n;
}

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs) {
    return a < b + bs && b < a + as;
}

static bool together(const memory_plan *p, uint32_t i, uint32_t j) {
    return i <= p->last[j] && j <= p->last[i];
}

/* The lowest offset for owner i clear of the outputs already placed that
 * live at the same time as it: 0 or the end of one of them. */
static uint64_t place(const memory_plan *p, const uint32_t *placed, uint32_t n_placed, uint32_t i) {
    uint64_t best = UINT64_MAX;
    for (uint32_t c = 0; c <= n_placed; ++c) {
        uint32_t k = c < n_placed ? placed[c] : 0;
        if (c < n_placed && !together(p, i, k)) continue;
        uint64_t at = c < n_placed ? p->offset[k] + p->size[k] : 0;
        if (at >= best) continue;
        bool fits = true;
        for (uint32_t d = 0; fits && d < n_placed; ++d) {
            uint32_t j = placed[d];
            fits = !together(p, i, j) || !overlaps(at, p->size[i], p->offset[j], p->size[j]);
        }
        if (fits) best = at;
    }
    return best;
}

typedef struct sized {
    uint64_t size;
    uint32_t i;
} sized;

/* Largest first, then earliest: what TensorFlow Lite's arena planner calls
 * greedy by size, which reaches the liveness bound on chains, residual
 * blocks and routes alike, where placing in layer order need not. */
static int by_size(const void *a, const void *b) {
    const sized *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Sizes, then offsets by size; the live bytes at each layer. */
static lsuv_status place_all(const lsuv_net *net, uint32_t batch, uint32_t es, memory_plan *p) {
    uint32_t n = net->n_layers, count = 0;
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    sized *by = malloc((n ? n : 1) * sizeof *by);
    if (!order || !by) {
        free(order);
        free(by);
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    for (uint32_t i = 0; i < n; ++i) {
        if (p->owner[i] != (int32_t)i) continue;
        p->size[i] =
            lsuv_align_up((uint64_t)batch * shape_count(net->layers[i].out) * es, MEMORY_ALIGN);
        by[count++] = (sized){p->size[i], i};
    }
    qsort(by, count, sizeof *by, by_size);
    for (uint32_t c = 0; c < count; ++c) order[c] = by[c].i;
    free(by);
    for (uint32_t c = 0; c < count; ++c) {
        uint32_t i = order[c];
        p->offset[i] = place(p, order, c, i);
        if (p->offset[i] + p->size[i] > p->block) p->block = p->offset[i] + p->size[i];
    }
    for (uint32_t t = 0; t < n; ++t) {
        uint64_t live = 0;
        for (uint32_t c = 0; c < count; ++c)
            if (order[c] <= t && p->last[order[c]] >= t) live += p->size[order[c]];
        if (live > p->live) p->live = live;
    }
    free(order);
    return LSUV_OK;
}

lsuv_status memory_plan_make(const lsuv_net *net, uint32_t batch, uint32_t es, bool keep,
                             memory_plan *p) {
    uint32_t n = net->n_layers, cap = n ? n : 1;
    memset(p, 0, sizeof *p);
    p->owner = calloc(cap, sizeof *p->owner);
    p->offset = calloc(cap, sizeof *p->offset);
    p->size = calloc(cap, sizeof *p->size);
    p->last = calloc(cap, sizeof *p->last);
    lsuv_status s = LSUV_OK;
    if (!p->owner || !p->offset || !p->size || !p->last)
        s = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (s == LSUV_OK) {
        lifetimes(net, keep, p);
        s = place_all(net, batch, es, p);
    }
    if (s != LSUV_OK) memory_plan_free(p);
    return s;
}

int32_t memory_reused_by(const memory_plan *p, uint32_t n, int32_t o, uint32_t written) {
    if (o == LSUV_NET_INPUT) return -1;
    for (uint32_t j = p->last[o] + 1; j <= written && j < n; ++j)
        if (p->owner[j] == (int32_t)j &&
            overlaps(p->offset[j], p->size[j], p->offset[o], p->size[o]))
            return (int32_t)j;
    return -1;
}

lsuv_status lsuv_forward_memory(const lsuv_net *net, const lsuv_forward_options *options,
                                lsuv_memory *out) {
    memset(out, 0, sizeof *out);
    uint32_t batch = options && options->batch ? options->batch : net->batch;
    uint32_t es = options && options->precision == LSUV_PRECISION_FP16 ? 2 : 4;
    memory_plan p;
    lsuv_status s = memory_plan_make(net, batch, es, options && options->keep_outputs, &p);
    if (s != LSUV_OK) return s;
    out->input = (uint64_t)batch * shape_count(net->input) * es;
    out->activations = p.block;
    out->live = p.live;
    uint64_t most = 0;
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        if (!lsuv_layer_has_weights(l)) continue;
        /* weights as stored, biases (with batch norm, its 1 / a_c after them) and the state
         * {sub, wscale, bshift, bscale} as floats */
        uint64_t biases = lsuv_layer_bias_count(l) * (l->batch_normalize ? 2ull : 1ull);
        out->weights += lsuv_layer_weight_count(l) * es + biases * 4 + 16;
        uint64_t sums = (uint64_t)batch * shape_count(l->out) * 4;
        if (l->lsuv && sums > most) most = sums;
    }
    out->lsuv = most;
    out->forward_peak = out->input + out->activations + out->weights;
    out->lsuv_peak = out->forward_peak + out->lsuv;
    memory_plan_free(&p);
    return LSUV_OK;
}
