/* The sections that make a network a graph: [route] and [shortcut], which
 * read earlier layers' outputs, [upsample] and [reorg], and the detection
 * heads. Shapes follow darknet's layer code; where darknet would index past
 * a buffer or assert, the cfg is refused with the reason. */
#include "lsuv/net.h"

#include "core/error.h"
#include "net/cfg.h"
#include "net/section.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A comma-separated list of integers, at most cap of them. */
static lsuv_status int_list(parse_ctx *ctx, const cfg_section *s, const cfg_option *o, long *v,
                            uint32_t cap, uint32_t *n) {
    const char *p = o->value;
    *n = 0;
    for (;;) {
        char *end = NULL;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || (*end && *end != ','))
            return lsuv_fail(LSUV_ERROR_PARSE,
                             "%s:%u: '%s=%s': expected integers separated by commas in [%s]",
                             ctx->name, o->line, o->key, o->value, s->name);
        if (*n == cap)
            return lsuv_fail(LSUV_ERROR_PARSE, "%s:%u: '%s=%s': more than %u values in [%s]",
                             ctx->name, o->line, o->key, o->value, cap, s->name);
        v[(*n)++] = x;
        if (!*end) return LSUV_OK;
        p = end + 1;
    }
}

/* darknet's reading of a layer index: negative counts back from this layer. */
static lsuv_status resolve_index(parse_ctx *ctx, const cfg_section *s, const cfg_option *o,
                                 const lsuv_layer *l, long v, int32_t *out) {
    long index = v < 0 ? (long)l->index + v : v;
    if (l->index == 0)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: '%s=%s': [%s] is the first layer; expected an earlier layer "
                         "to read",
                         ctx->name, o->line, o->key, o->value, s->name);
    if (index < 0 || index >= (long)l->index)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: '%s=%s': %ld names layer %ld, which is not an earlier layer; "
                         "[%s] layer %u can read layers 0 to %u, or -1 to -%u counted back from "
                         "itself",
                         ctx->name, o->line, o->key, o->value, v, index, s->name, l->index,
                         l->index - 1, l->index);
    *out = (int32_t)index;
    return LSUV_OK;
}

static const cfg_option *required(parse_ctx *ctx, cfg_section *s, const char *key, const char *what,
                                  lsuv_status *st) {
    const cfg_option *o = section_find(s, key);
    if (!o)
        *st = lsuv_fail(LSUV_ERROR_PARSE, "%s:%u: [%s] has no %s=: expected %s", ctx->name, s->line,
                        s->name, key, what);
    return o;
}

/* A shape formed from c x h x w in 64 bits, refused before it can wrap: the
 * values of one sample must stay indexable in 32 bits (net.c checks the
 * batch against the same bound once the shape is formed). */
static lsuv_status shape_of(parse_ctx *ctx, const cfg_section *s, const lsuv_layer *l, uint64_t c,
                            uint64_t h, uint64_t w, lsuv_shape *out) {
    if (c >= 1ull << 31 || h >= 1ull << 31 || w >= 1ull << 31 || c * h * w >= 1ull << 31)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: [%s] layer %u is too large: %llux%llux%llu values per sample; "
                         "expected under 2^31",
                         ctx->name, s->line, s->name, l->index, (unsigned long long)c,
                         (unsigned long long)h, (unsigned long long)w);
    *out = (lsuv_shape){(uint32_t)c, (uint32_t)h, (uint32_t)w};
    return LSUV_OK;
}

static void shape_str(char *out, size_t cap, lsuv_shape s) {
    snprintf(out, cap, "%ux%ux%u", s.c, s.h, s.w);
}

/* Concatenates channels; darknet leaves a 0x0x0 output when heights or
 * widths differ, which breaks every later layer, so that is refused. */
static lsuv_status read_route(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    lsuv_status st = LSUV_OK;
    const cfg_option *o =
        required(ctx, s, "layers", "the indices of the layers to concatenate", &st);
    long v[LSUV_LAYER_MAX_INPUTS], groups, group_id;
    if (!o || (st = int_list(ctx, s, o, v, LSUV_LAYER_MAX_INPUTS, &l->n_inputs)) ||
        (st = section_get_int(ctx, s, "groups", 1, 1, 1 << 20, &groups)) ||
        (st = section_get_int(ctx, s, "group_id", 0, 0, groups - 1, &group_id)))
        return st;
    l->groups = (uint32_t)groups;
    l->group_id = (uint32_t)group_id;
    lsuv_shape first = {0};
    uint64_t channels = 0;
    for (uint32_t i = 0; i < l->n_inputs; ++i) {
        if ((st = resolve_index(ctx, s, o, l, v[i], &l->inputs[i]))) return st;
        lsuv_shape x = ctx->layers[l->inputs[i]].out;
        char a[48], b[48];
        shape_str(a, sizeof a, first);
        shape_str(b, sizeof b, x);
        if (i == 0) first = x;
        if (x.h != first.h || x.w != first.w)
            return lsuv_fail(LSUV_ERROR_PARSE,
                             "%s:%u: 'layers=%s': layer %d's output is %s, layer %d's %s; "
                             "expected the same height and width to concatenate channels",
                             ctx->name, o->line, o->value, l->inputs[0], a, l->inputs[i], b);
        if (x.c % l->groups)
            return lsuv_fail(LSUV_ERROR_PARSE,
                             "%s:%u: [route] layer %u: groups=%u does not divide the %u channels "
                             "of layer %d",
                             ctx->name, s->line, l->index, l->groups, x.c, l->inputs[i]);
        channels += x.c;
    }
    if ((st = shape_of(ctx, s, l, channels, first.h, first.w, &l->in))) return st;
    l->out = (lsuv_shape){l->in.c / l->groups, l->in.h, l->in.w};
    return LSUV_OK;
}

/* darknet's shortcut_cpu walks the smaller extent of each axis, striding
 * through the larger of from= and the output by the integer ratio of their
 * widths, and asserts the heights have the same ratio. */
static lsuv_status read_shortcut(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    lsuv_status st = LSUV_OK;
    const cfg_option *o = required(ctx, s, "from", "the index of the layer to add", &st);
    long v[1];
    uint32_t n;
    double alpha, beta;
    if (!o || (st = int_list(ctx, s, o, v, 1, &n)) ||
        (st = section_get_activation(ctx, s, "linear", l)) ||
        (st = section_get_float(ctx, s, "alpha", 1, -1e30, 1e30, &alpha)) ||
        (st = section_get_float(ctx, s, "beta", 1, -1e30, 1e30, &beta)) ||
        (st = resolve_index(ctx, s, o, l, v[0], &l->inputs[1])))
        return st;
    l->n_inputs = 2;
    l->alpha = (float)alpha;
    l->beta = (float)beta;
    l->out = l->in;
    lsuv_shape f = ctx->layers[l->inputs[1]].out, t = l->out;
    if (f.w / t.w != f.h / t.h || t.w / f.w != t.h / f.h) {
        char a[48], b[48];
        shape_str(a, sizeof a, f);
        shape_str(b, sizeof b, t);
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: 'from=%s': layer %d's output %s and the previous layer's %s "
                         "have different ratios of widths and of heights; darknet's shortcut "
                         "expects one integer ratio for both",
                         ctx->name, o->line, o->value, l->inputs[1], a, b);
    }
    return LSUV_OK;
}

static lsuv_status read_upsample(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    long stride;
    double scale;
    lsuv_status st;
    if ((st = section_get_int(ctx, s, "stride", 2, -4096, 4096, &stride)) ||
        (st = section_get_float(ctx, s, "scale", 1, -1e30, 1e30, &scale)))
        return st;
    const cfg_option *o = section_find(s, "stride");
    if (stride == 0)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: 'stride=0': expected k > 0 to upsample k times, or -k to sum "
                         "k x k blocks",
                         ctx->name, o->line);
    l->scale = (float)scale;
    l->reverse = stride < 0;
    l->stride = (uint32_t)(stride < 0 ? -stride : stride);
    const lsuv_shape in = l->in;
    if (!l->reverse)
        return shape_of(ctx, s, l, in.c, (uint64_t)in.h * l->stride, (uint64_t)in.w * l->stride,
                        &l->out);
    /* darknet reads the input as out_w x stride wide: a remainder would
     * shift every row. */
    if (in.h % l->stride || in.w % l->stride)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: 'stride=%ld': the %ux%u input is not a whole number of %ux%u "
                         "blocks; expected height and width divisible by %u",
                         ctx->name, o->line, stride, in.h, in.w, l->stride, l->stride, l->stride);
    l->out = (lsuv_shape){in.c, in.h / l->stride, in.w / l->stride};
    return LSUV_OK;
}

/* darknet's reorg_cpu permutes w x h x c values with out_c = c / stride^2
 * either way; anything not divisible makes it index past its buffers. */
static lsuv_status read_reorg(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    long stride, reverse, flatten, extra;
    lsuv_status st;
    if ((st = section_get_int(ctx, s, "stride", 1, 1, 4096, &stride)) ||
        (st = section_get_int(ctx, s, "reverse", 0, 0, 1, &reverse)) ||
        (st = section_get_int(ctx, s, "flatten", 0, 0, 1, &flatten)) ||
        (st = section_get_int(ctx, s, "extra", 0, 0, 1 << 20, &extra)))
        return st;
    if (flatten)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: [reorg] layer %u: flatten= is not supported; expected the "
                         "stride= and reverse= reorganization, or extra=",
                         ctx->name, s->line, l->index);
    const lsuv_shape in = l->in;
    /* darknet's make_reorg_layer: with extra= the output has no shape, only
     * inputs + extra values, the input's copied and the rest left zero. */
    if (extra) {
        l->extra = (uint32_t)extra;
        return shape_of(ctx, s, l, (uint64_t)in.c * in.h * in.w + (uint64_t)extra, 1, 1, &l->out);
    }
    uint32_t k = (uint32_t)stride;
    l->stride = k;
    l->reverse = reverse != 0;
    if (in.c % (k * k) || (!l->reverse && (in.h % k || in.w % k)))
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: [reorg] layer %u: input %ux%ux%u with stride %u; expected "
                         "channels divisible by %u%s",
                         ctx->name, s->line, l->index, in.c, in.h, in.w, k, k * k,
                         l->reverse ? "" : ", height and width by the stride");
    l->out = l->reverse ? (lsuv_shape){in.c / (k * k), in.h * k, in.w * k}
                        : (lsuv_shape){in.c * k * k, in.h / k, in.w / k};
    return LSUV_OK;
}

/* The heads pass their input through; darknet's parsers assert that the
 * input has exactly the values the head's options describe. */
static lsuv_status head_fits(parse_ctx *ctx, const cfg_section *s, const lsuv_layer *l,
                             uint64_t want, const char *how) {
    /* yolo and region compare h x w x their channels with h x w x c */
    uint64_t have =
        l->type == LSUV_LAYER_DETECTION ? (uint64_t)l->in.c * l->in.h * l->in.w : l->in.c;
    if (have == want) return LSUV_OK;
    return lsuv_fail(
        LSUV_ERROR_PARSE, "%s:%u: [%s] layer %u: its input is %ux%ux%u; expected %llu %s (%s)",
        ctx->name, s->line, s->name, l->index, l->in.c, l->in.h, l->in.w, (unsigned long long)want,
        l->type == LSUV_LAYER_DETECTION ? "values" : "channels", how);
}

static lsuv_status read_head(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    long v[4], mask[256];
    lsuv_status st;
    bool yolo = l->type == LSUV_LAYER_YOLO, det = l->type == LSUV_LAYER_DETECTION;
    if ((st = section_get_int(ctx, s, "classes",
                              yolo  ? 20
                              : det ? 1
                                    : 20,
                              0, 1 << 20, &v[0])) ||
        (st = section_get_int(ctx, s, "num", 1, 1, 1 << 16, &v[1])) ||
        (st = section_get_int(ctx, s, "coords", det ? 1 : 4, 0, 1 << 16, &v[2])) ||
        (st = section_get_int(ctx, s, "side", 7, 1, 1 << 16, &v[3])))
        return st;
    l->classes = (uint32_t)v[0];
    l->num = (uint32_t)v[1];
    l->coords = yolo ? 4 : (uint32_t)v[2];
    l->side = (uint32_t)v[3];
    l->out = l->in;
    char how[96];
    if (yolo) {
        const cfg_option *o = section_find(s, "mask");
        uint32_t n = l->num;
        if (o && (st = int_list(ctx, s, o, mask, 256, &n))) return st;
        snprintf(how, sizeof how, "%u boxes x (4 + 1 + classes=%u)", n, l->classes);
        return head_fits(ctx, s, l, (uint64_t)n * (5 + l->classes), how);
    }
    if (det) {
        snprintf(how, sizeof how, "side=%u squared x ((1 + coords=%u) x num=%u + classes=%u)",
                 l->side, l->coords, l->num, l->classes);
        return head_fits(
            ctx, s, l,
            (uint64_t)l->side * l->side * ((uint64_t)(1 + l->coords) * l->num + l->classes), how);
    }
    snprintf(how, sizeof how, "num=%u x (coords=%u + 1 + classes=%u)", l->num, l->coords,
             l->classes);
    return head_fits(ctx, s, l, (uint64_t)l->num * (l->coords + 1 + l->classes), how);
}

lsuv_status section_read_graph_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    switch (l->type) {
    case LSUV_LAYER_ROUTE:
        return read_route(ctx, s, l);
    case LSUV_LAYER_SHORTCUT:
        return read_shortcut(ctx, s, l);
    case LSUV_LAYER_UPSAMPLE:
        return read_upsample(ctx, s, l);
    case LSUV_LAYER_REORG:
        return read_reorg(ctx, s, l);
    default:
        return read_head(ctx, s, l);
    }
}
