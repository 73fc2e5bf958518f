/* The fp64 reference of the graph layers, following darknet's forward code
 * index for index, and the walk of a network that keeps each output until
 * its last reader has run. */
#include "lsuv/ref.h"

#include "core/error.h"
#include "ref/ref_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t count_of(lsuv_shape s) {
    return (uint64_t)s.c * s.h * s.w;
}

static lsuv_shape input_shape(const lsuv_net *net, int32_t index) {
    return index == LSUV_NET_INPUT ? net->input : net->layers[index].out;
}

/* Each input's group_id-th slice of c/groups channels, in layers= order. */
static void route(const lsuv_net *net, const lsuv_layer *l, const double *const *in, uint32_t n,
                  double *out) {
    uint64_t hw = (uint64_t)l->out.h * l->out.w, per_sample = count_of(l->out);
    for (uint64_t b = 0; b < n; ++b) {
        double *dst = out + b * per_sample;
        for (uint32_t k = 0; k < l->n_inputs; ++k) {
            uint32_t c = input_shape(net, l->inputs[k]).c, part = c / l->groups;
            const double *src = in[k] + (b * c + (uint64_t)l->group_id * part) * hw;
            memcpy(dst, src, part * hw * sizeof *dst);
            dst += part * hw;
        }
    }
}

/* darknet's shortcut_cpu: over the smaller extent of each axis, the output
 * (a copy of the previous layer's) at i x sample becomes alpha x itself +
 * beta x from's value at i x stride; everything else keeps the copy. Then
 * the activation, over all of it. */
static void shortcut(const lsuv_net *net, const lsuv_layer *l, const double *const *in, uint32_t n,
                     double *out) {
    const lsuv_shape t = l->out, f = input_shape(net, l->inputs[1]);
    uint32_t stride = f.w / t.w ? f.w / t.w : 1, sample = t.w / f.w ? t.w / f.w : 1;
    uint32_t minw = f.w < t.w ? f.w : t.w, minh = f.h < t.h ? f.h : t.h;
    uint32_t minc = f.c < t.c ? f.c : t.c;
    memcpy(out, in[0], n * count_of(t) * sizeof *out);
    for (uint64_t b = 0; b < n; ++b)
        for (uint64_t k = 0; k < minc; ++k)
            for (uint64_t j = 0; j < minh; ++j)
                for (uint64_t i = 0; i < minw; ++i) {
                    uint64_t o = i * sample + t.w * (j * sample + t.h * (k + t.c * b));
                    uint64_t a = i * stride + f.w * (j * stride + f.h * (k + f.c * b));
                    out[o] = l->alpha * out[o] + l->beta * in[1][a];
                }
    for (uint64_t i = 0; i < n * count_of(t); ++i)
        out[i] = ref_activate(l->activation, l->slope, out[i]);
}

/* Nearest-neighbour upsampling times scale; reversed, the sum of each
 * stride x stride block times scale (darknet adds the block, it does not
 * average it). */
static void upsample(const lsuv_layer *l, const double *in, uint32_t n, double *out) {
    const lsuv_shape small = l->reverse ? l->out : l->in;
    const uint32_t s = l->stride, bw = small.w * s, bh = small.h * s;
    if (l->reverse) memset(out, 0, n * count_of(l->out) * sizeof *out);
    for (uint64_t bc = 0; bc < (uint64_t)n * small.c; ++bc)
        for (uint32_t y = 0; y < bh; ++y)
            for (uint32_t x = 0; x < bw; ++x) {
                uint64_t si = (bc * small.h + y / s) * small.w + x / s;
                uint64_t bi = (bc * bh + y) * bw + x;
                if (l->reverse)
                    out[si] += l->scale * in[bi];
                else
                    out[bi] = l->scale * in[si];
            }
}

/* darknet's reorg_cpu over the layer's input dimensions w x h x c: value A
 * = i + w (j + h k) and value B of the same memory read as c/stride^2
 * channels of (h stride) x (w stride). reverse=0 takes out[A] = in[B] (so
 * reorg moves the input viewed as fewer, larger channels into more, smaller
 * ones), reverse=1 takes out[B] = in[A]. */
static void reorg(const lsuv_layer *l, const double *in, uint32_t n, double *out) {
    if (l->extra) {
        uint64_t from = count_of(l->in), to = count_of(l->out);
        for (uint64_t b = 0; b < n; ++b)
            for (uint64_t i = 0; i < to; ++i) out[b * to + i] = i < from ? in[b * from + i] : 0;
        return;
    }
    const uint32_t w = l->in.w, h = l->in.h, c = l->in.c, s = l->stride;
    const uint32_t out_c = c / (s * s);
    for (uint64_t b = 0; b < n; ++b)
        for (uint32_t k = 0; k < c; ++k)
            for (uint32_t j = 0; j < h; ++j)
                for (uint32_t i = 0; i < w; ++i) {
                    uint64_t a = i + (uint64_t)w * (j + (uint64_t)h * (k + c * b));
                    uint32_t c2 = k % out_c, offset = k / out_c;
                    uint64_t w2 = (uint64_t)i * s + offset % s, h2 = (uint64_t)j * s + offset / s;
                    uint64_t bi = w2 + (uint64_t)w * s * (h2 + (uint64_t)h * s * (c2 + out_c * b));
                    if (l->reverse)
                        out[bi] = in[a];
                    else
                        out[a] = in[bi];
                }
}

void ref_graph_layer(const lsuv_net *net, const lsuv_layer *l, const double *const *in, uint32_t n,
                     double *out) {
    switch (l->type) {
    case LSUV_LAYER_ROUTE:
        route(net, l, in, n, out);
        return;
    case LSUV_LAYER_SHORTCUT:
        shortcut(net, l, in, n, out);
        return;
    case LSUV_LAYER_UPSAMPLE:
        upsample(l, in[0], n, out);
        return;
    case LSUV_LAYER_REORG:
        reorg(l, in[0], n, out);
        return;
    default: /* the heads: identity, as their darknet forward before the loss */
        memcpy(out, in[0], n * count_of(l->out) * sizeof *out);
        return;
    }
}

void lsuv_ref_layer_inputs(const lsuv_net *net, uint32_t index, const lsuv_layer_params *p,
                           const double *const *in, uint32_t n, double *out, double *magnitude) {
    const lsuv_layer *l = &net->layers[index];
    if (ref_is_graph_op(l))
        ref_graph_layer(net, l, in, n, out);
    else
        lsuv_ref_layer(l, p, in[0], n, out, magnitude);
}

/* walk.outs[0] is the input, walk.outs[i + 1] layer i's output, freed once
 * the last layer that reads it (last_use) has run. */
typedef struct walk {
    double **outs;
    uint32_t *last_use;
} walk;

static lsuv_status walk_begin(const lsuv_net *net, const lsuv_batch *batch, uint32_t last,
                              walk *wk) {
    wk->outs = calloc(last + 2, sizeof *wk->outs);
    wk->last_use = calloc(last + 2, sizeof *wk->last_use);
    uint64_t count = (uint64_t)batch->n * batch->c * batch->h * batch->w;
    if (wk->outs && wk->last_use) wk->outs[0] = malloc(count * sizeof **wk->outs);
    if (!wk->outs || !wk->last_use || !wk->outs[0])
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    for (uint64_t i = 0; i < count; ++i) wk->outs[0][i] = batch->data[i];
    for (uint32_t i = 0; i <= last; ++i) {
        wk->last_use[i + 1] = i; /* unread: freed once visited */
        const lsuv_layer *l = &net->layers[i];
        for (uint32_t k = 0; k < l->n_inputs; ++k) wk->last_use[l->inputs[k] + 1] = i;
    }
    wk->last_use[last + 1] = UINT32_MAX; /* the caller may keep it */
    return LSUV_OK;
}

static void walk_release(walk *wk, uint32_t upto, uint32_t done) {
    for (uint32_t j = 0; j <= upto; ++j)
        if (wk->outs[j] && wk->last_use[j] <= done) {
            free(wk->outs[j]);
            wk->outs[j] = NULL;
        }
}

/* Layer i's output into the walk; measured pre, a layer with weights'
 * output is its pre-activation's epilogue (the bits lsuv_ref_layer gives),
 * and the pre-activation is visited rather than the output; measured conv,
 * its sums before batch norm are visited, then its output made whole. */
static lsuv_status walk_layer(const lsuv_net *net, const lsuv_weights *w, uint32_t n, walk *wk,
                              uint32_t i, lsuv_measure at, lsuv_ref_visit visit, void *ctx) {
    const lsuv_layer *l = &net->layers[i];
    const double *in[LSUV_LAYER_MAX_INPUTS];
    for (uint32_t k = 0; k < l->n_inputs; ++k) in[k] = wk->outs[l->inputs[k] + 1];
    uint64_t count = (uint64_t)n * count_of(l->out);
    double *out = malloc(count * sizeof *out);
    if (!out) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    wk->outs[i + 1] = out;
    const lsuv_layer_params *p = &w->layers[i];
    bool weights = lsuv_layer_has_weights(l);
    if (weights && at == LSUV_MEASURE_CONV) {
        lsuv_ref_layer_conv(l, p, in[0], n, out);
        lsuv_status s = visit ? visit(ctx, i, out, count) : LSUV_OK;
        lsuv_ref_layer_inputs(net, i, p, in, n, out, NULL);
        return s;
    }
    if (!(at == LSUV_MEASURE_PRE && weights)) {
        lsuv_ref_layer_inputs(net, i, p, in, n, out, NULL);
        return visit ? visit(ctx, i, out, count) : LSUV_OK;
    }
    lsuv_ref_layer_pre(l, p, in[0], n, out);
    lsuv_status s = visit ? visit(ctx, i, out, count) : LSUV_OK;
    for (uint64_t k = 0; k < count; ++k) out[k] = ref_epilogue(l, p->sub, out[k]);
    return s;
}

lsuv_status ref_forward_walk(const lsuv_net *net, const lsuv_weights *w, const lsuv_batch *batch,
                             uint32_t last, lsuv_measure all, const lsuv_measure *at,
                             lsuv_ref_visit visit, void *ctx, double **keep) {
    if (last >= net->n_layers)
        return lsuv_fail(LSUV_ERROR_INVALID, "layer %u: the network has %u", last, net->n_layers);
    walk wk = {0};
    lsuv_status s = walk_begin(net, batch, last, &wk);
    for (uint32_t i = 0; s == LSUV_OK && i <= last; ++i) {
        s = walk_layer(net, w, batch->n, &wk, i, at ? at[i] : all, visit, ctx);
        if (s == LSUV_OK) walk_release(&wk, i + 1, i);
    }
    if (s == LSUV_OK && keep) {
        *keep = wk.outs[last + 1];
        wk.outs[last + 1] = NULL;
    }
    for (uint32_t j = 0; wk.outs && j <= last + 1; ++j) free(wk.outs[j]);
    free(wk.outs);
    free(wk.last_use);
    return s;
}
