/* One layer's section of a .cfg: its options with darknet's defaults, its
 * output shape, and its parameter and multiply-add counts. */
#include "lsuv/net.h"

#include "core/error.h"
#include "net/cfg.h"
#include "net/section.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const activation_names[] = {
    "linear", "relu",  "leaky", "relie", "ramp",    "elu",   "selu", "logistic", "tanh",
    "relu6",  "swish", "mish",  "gelu",  "hardtan", "lhtan", "plse", "loggy",    "stair",
};

const char *lsuv_activation_name(lsuv_activation a) {
    return (unsigned)a < sizeof activation_names / sizeof *activation_names ? activation_names[a]
                                                                            : "unknown";
}

double lsuv_activation_gain(lsuv_activation a, double slope) {
    switch (a) {
    case LSUV_ACT_RELU:
    case LSUV_ACT_LEAKY:
    case LSUV_ACT_RELIE:
    case LSUV_ACT_RELU6:
    case LSUV_ACT_ELU:
    case LSUV_ACT_SWISH:
    case LSUV_ACT_MISH:
    case LSUV_ACT_GELU:
        return sqrt(2.0 / (1.0 + slope * slope));
    case LSUV_ACT_RAMP:
        return sqrt(2.0 / (1.1 * 1.1 + slope * slope));
    case LSUV_ACT_TANH:
        return 5.0 / 3.0;
    case LSUV_ACT_SELU:
        return 0.75;
    default:
        return 1.0;
    }
}

lsuv_status section_get_activation(parse_ctx *ctx, cfg_section *s, const char *def, lsuv_layer *l) {
    cfg_option *o = section_find(s, "activation");
    const char *name = o ? o->value : def;
    for (unsigned i = 0; i < sizeof activation_names / sizeof *activation_names; ++i)
        if (strcmp(name, activation_names[i]) == 0) {
            l->activation = (lsuv_activation)i;
            l->slope = l->activation == LSUV_ACT_LEAKY   ? 0.1f
                       : l->activation == LSUV_ACT_RELIE ? 0.01f
                       : l->activation == LSUV_ACT_RAMP  ? 0.1f
                                                         : 0.0f;
            return LSUV_OK;
        }
    char known[256] = "";
    for (unsigned i = 0; i < sizeof activation_names / sizeof *activation_names; ++i) {
        strcat(known, i ? ", " : "");
        strcat(known, activation_names[i]);
    }
    return lsuv_fail(LSUV_ERROR_PARSE,
                     "%s:%u: 'activation=%s': unknown activation; expected one of %s", ctx->name,
                     o->line, o->value, known);
}

/* The options shared by convolutional and connected layers. */
static lsuv_status read_neuron_options(parse_ctx *ctx, cfg_section *s, lsuv_layer *l,
                                       const lsuv_net_options *options) {
    lsuv_status st = section_get_activation(ctx, s, "logistic", l); /* darknet's default */
    long bn = 0, lsuv = 1;
    double leak = 0, sub = 0, maxv = 0;
    if (st == LSUV_OK) st = section_get_int(ctx, s, "batch_normalize", 0, 0, 1, &bn);
    if (st == LSUV_OK) st = section_get_int(ctx, s, "lsuv", 1, 0, 1, &lsuv);
    if (st == LSUV_OK) st = section_get_float(ctx, s, "leak", 0, 0, 1e6, &leak);
    if (st == LSUV_OK) st = section_get_float(ctx, s, "sub", 0, -1e30, 1e30, &sub);
    if (st == LSUV_OK) st = section_get_float(ctx, s, "maxv", 0, -1e30, 1e30, &maxv);
    if (st != LSUV_OK) return st;
    if (section_find(s, "leak")) {
        if (l->activation == LSUV_ACT_RELU) l->activation = LSUV_ACT_LEAKY;
        if (l->activation != LSUV_ACT_LEAKY)
            return lsuv_fail(LSUV_ERROR_PARSE,
                             "%s:%u: 'leak=%s': leak applies to relu and leaky, not %s", ctx->name,
                             section_find(s, "leak")->line, section_find(s, "leak")->value,
                             lsuv_activation_name(l->activation));
        l->slope = (float)leak;
    }
    l->sub = (float)sub;
    l->has_sub = section_find(s, "sub") != NULL;
    l->maxv = section_find(s, "maxv") ? (float)maxv : INFINITY;
    l->lsuv = lsuv != 0;
    if (bn) {
        if (!options->strip_bn) {
            l->batch_normalize = true;
            l->bn_batch = options->bn_batch;
            return LSUV_OK;
        }
        l->bn_stripped = true;
        return cfg_warn(&ctx->warnings, ctx->name, section_find(s, "batch_normalize")->line,
                        "[%s] layer %u: batch norm stripped (--bn strip)", s->name, l->index);
    }
    return LSUV_OK;
}

/* darknet's convolutional keys beyond the shape: flipped changes how its
 * .weights are stored; binary and xnor change its forward pass and dot its
 * training, none of which lsuv-vk does, so they are named in a warning. */
static lsuv_status read_conv_darknet_keys(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    long flipped;
    lsuv_status st = section_get_int(ctx, s, "flipped", 0, 0, 1, &flipped);
    if (st != LSUV_OK) return st;
    l->flipped = flipped != 0;
    /* darknet transposes in.c * size^2 x filters weights: more than a
     * grouped layer has. */
    if (l->flipped && l->groups > 1)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: 'flipped=1' with groups=%u: darknet transposes more weights "
                         "than a grouped layer holds; expected groups=1",
                         ctx->name, section_find(s, "flipped")->line, l->groups);
    static const char *const ignored[][2] = {
        {"binary", "binarizes the weights in its forward pass"},
        {"xnor", "binarizes the weights and inputs in its forward pass"},
        {"dot", "adds a penalty in training"},
    };
    for (unsigned i = 0; i < sizeof ignored / sizeof *ignored && st == LSUV_OK; ++i) {
        const cfg_option *o = section_find(s, ignored[i][0]);
        if (o && strcmp(o->value, "0") != 0)
            st = cfg_warn(&ctx->warnings, ctx->name, o->line,
                          "'%s=%s': darknet %s; lsuv-vk does not, ignored", o->key, o->value,
                          ignored[i][1]);
    }
    return st;
}

/* Refuses weights beyond max_tensor_floats before their count is formed, so
 * it cannot wrap (2^20 channels x 2^20 filters x 4096^2 is 2^64). */
static lsuv_status weights_fit(parse_ctx *ctx, const cfg_section *s, const lsuv_layer *l) {
    uint64_t fan_in = lsuv_layer_fan_in(l), out = lsuv_layer_bias_count(l);
    if (fan_in <= max_tensor_floats / out) return LSUV_OK;
    return lsuv_fail(LSUV_ERROR_PARSE,
                     "%s:%u: [%s] layer %u is too large: %llu inputs per output x %llu outputs "
                     "is over 2^32 weights",
                     ctx->name, s->line, s->name, l->index, (unsigned long long)fan_in,
                     (unsigned long long)out);
}

static lsuv_status empty_output(parse_ctx *ctx, const cfg_section *s, const lsuv_layer *l,
                                const char *why) {
    return lsuv_fail(LSUV_ERROR_PARSE,
                     "%s:%u: [%s] layer %u would have an empty output from input %ux%ux%u (%s)",
                     ctx->name, s->line, s->name, l->index, l->in.c, l->in.h, l->in.w, why);
}

static lsuv_status read_conv_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l,
                                   const lsuv_net_options *options) {
    long v[6];
    lsuv_status st = LSUV_OK;
    const lsuv_shape in = l->in;
    char why[160];
    long dilation = 1;
    if ((st = section_get_int(ctx, s, "filters", 1, 1, 1 << 20, &v[0])) ||
        (st = section_get_int(ctx, s, "size", 1, 1, 4096, &v[1])) ||
        (st = section_get_int(ctx, s, "stride", 1, 1, 4096, &v[2])) ||
        (st = section_get_int(ctx, s, "pad", 0, 0, 1 << 20, &v[3])) ||
        (st = section_get_int(ctx, s, "padding", 0, 0, 4096, &v[4])) ||
        (st = section_get_int(ctx, s, "groups", 1, 1, 1 << 20, &v[5])) ||
        (st = section_get_int(ctx, s, "dilation", 1, 1, 1, &dilation)) ||
        (st = read_neuron_options(ctx, s, l, options)))
        return st;
    l->filters = (uint32_t)v[0];
    l->size = (uint32_t)v[1];
    l->stride = (uint32_t)v[2];
    l->padding = v[3] ? l->size / 2 : (uint32_t)v[4];
    l->groups = (uint32_t)v[5];
    if ((st = read_conv_darknet_keys(ctx, s, l))) return st;
    if (in.c % l->groups || l->filters % l->groups)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: [%s] layer %u: groups=%u must divide its %u input channels "
                         "and its %u filters",
                         ctx->name, s->line, s->name, l->index, l->groups, in.c, l->filters);
    uint64_t h = (uint64_t)in.h + 2 * l->padding, w = (uint64_t)in.w + 2 * l->padding;
    snprintf(why, sizeof why, "size %u, stride %u, padding %u", l->size, l->stride, l->padding);
    if (h < l->size || w < l->size) return empty_output(ctx, s, l, why);
    l->out = (lsuv_shape){l->filters, (uint32_t)((h - l->size) / l->stride + 1),
                          (uint32_t)((w - l->size) / l->stride + 1)};
    if ((st = weights_fit(ctx, s, l))) return st;
    l->params = lsuv_layer_weight_count(l) + l->filters;
    l->macs = lsuv_layer_weight_count(l) * l->out.h * l->out.w;
    return LSUV_OK;
}

static lsuv_status read_connected_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l,
                                        const lsuv_net_options *options) {
    long outputs;
    lsuv_status st = LSUV_OK;
    if ((st = section_get_int(ctx, s, "output", 1, 1, 1 << 24, &outputs)) ||
        (st = read_neuron_options(ctx, s, l, options)))
        return st;
    l->outputs = (uint32_t)outputs;
    l->out = (lsuv_shape){l->outputs, 1, 1};
    if ((st = weights_fit(ctx, s, l))) return st;
    l->params = lsuv_layer_weight_count(l) + l->outputs;
    l->macs = lsuv_layer_weight_count(l);
    return LSUV_OK;
}

/* darknet's make_local_layer sizes its output as (h - 1) / stride + 1 with
 * pad=, else (h - size) / stride + 1, while its im2col pads by pad=
 * pixels: where the two disagree, darknet multiplies a matrix it did not
 * fill, so only cfgs where they agree are taken. */
static lsuv_status read_local_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    long v[4];
    lsuv_status st = LSUV_OK;
    const lsuv_shape in = l->in;
    if ((st = section_get_int(ctx, s, "filters", 1, 1, 1 << 20, &v[0])) ||
        (st = section_get_int(ctx, s, "size", 1, 1, 4096, &v[1])) ||
        (st = section_get_int(ctx, s, "stride", 1, 1, 4096, &v[2])) ||
        (st = section_get_int(ctx, s, "pad", 0, 0, 4096, &v[3])) ||
        (st = section_get_activation(ctx, s, "logistic", l)))
        return st;
    l->filters = (uint32_t)v[0];
    l->size = (uint32_t)v[1];
    l->stride = (uint32_t)v[2];
    l->padding = (uint32_t)v[3];
    l->maxv = INFINITY;
    l->lsuv = false;
    uint64_t cut = l->padding ? 1 : l->size, padded = 2ull * l->padding;
    char why[160];
    snprintf(why, sizeof why, "size %u, stride %u, pad %u", l->size, l->stride, l->padding);
    if (in.h < cut || in.w < cut || in.h + padded < l->size || in.w + padded < l->size)
        return empty_output(ctx, s, l, why);
    uint64_t oh = (in.h - cut) / l->stride + 1, ow = (in.w - cut) / l->stride + 1;
    if (oh != (in.h + padded - l->size) / l->stride + 1 ||
        ow != (in.w + padded - l->size) / l->stride + 1)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: [local] layer %u: pad=%u with size=%u: darknet sizes the output "
                         "%llux%llu but pads its input for %llux%llu; expected pad=0, or pad=1 "
                         "with size=3",
                         ctx->name, s->line, l->index, l->padding, l->size, (unsigned long long)oh,
                         (unsigned long long)ow,
                         (unsigned long long)((in.h + padded - l->size) / l->stride + 1),
                         (unsigned long long)((in.w + padded - l->size) / l->stride + 1));
    if ((uint64_t)l->filters * oh * ow >= 1ull << 31)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: [local] layer %u is too large: %ux%llux%llu values per sample; "
                         "expected under 2^31",
                         ctx->name, s->line, l->index, l->filters, (unsigned long long)oh,
                         (unsigned long long)ow);
    l->out = (lsuv_shape){l->filters, (uint32_t)oh, (uint32_t)ow};
    if ((st = weights_fit(ctx, s, l))) return st;
    l->params = lsuv_layer_weight_count(l) + lsuv_layer_bias_count(l);
    l->macs = lsuv_layer_weight_count(l);
    return LSUV_OK;
}

static lsuv_status read_maxpool_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    long v[3];
    lsuv_status st = LSUV_OK;
    const lsuv_shape in = l->in;
    char why[160];
    if ((st = section_get_int(ctx, s, "stride", 1, 1, 4096, &v[0]))) return st;
    if ((st = section_get_int(ctx, s, "size", v[0], 1, 4096, &v[1]))) return st;
    if ((st = section_get_int(ctx, s, "padding", v[1] - 1, 0, 4096, &v[2]))) return st;
    l->stride = (uint32_t)v[0];
    l->size = (uint32_t)v[1];
    l->padding = (uint32_t)v[2];
    uint64_t h = (uint64_t)in.h + l->padding, w = (uint64_t)in.w + l->padding;
    snprintf(why, sizeof why, "size %u, stride %u, padding %u", l->size, l->stride, l->padding);
    if (h < l->size || w < l->size) return empty_output(ctx, s, l, why);
    l->out = (lsuv_shape){in.c, (uint32_t)((h - l->size) / l->stride + 1),
                          (uint32_t)((w - l->size) / l->stride + 1)};
    return LSUV_OK;
}

static lsuv_status read_dropout_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    double p;
    lsuv_status st = section_get_float(ctx, s, "probability", 0.5, 0.0, 1.0, &p);
    if (st) return st;
    l->probability = (float)p;
    l->out = l->in;
    return LSUV_OK;
}

static lsuv_status read_crop_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l) {
    long v[3];
    lsuv_status st = LSUV_OK;
    const lsuv_shape in = l->in;
    /* flip, angle, saturation, exposure and shift act only in training. */
    if ((st = section_get_int(ctx, s, "crop_height", 1, 1, 1 << 20, &v[0])) ||
        (st = section_get_int(ctx, s, "crop_width", 1, 1, 1 << 20, &v[1])) ||
        (st = section_get_int(ctx, s, "noadjust", 0, 0, 1, &v[2])))
        return st;
    l->crop_height = (uint32_t)v[0];
    l->crop_width = (uint32_t)v[1];
    l->crop_noadjust = v[2] != 0;
    if (l->crop_height > in.h || l->crop_width > in.w)
        return lsuv_fail(
            LSUV_ERROR_PARSE, "%s:%u: [%s] layer %u: a %ux%u crop does not fit its %ux%u input",
            ctx->name, s->line, s->name, l->index, l->crop_height, l->crop_width, in.h, in.w);
    l->out = (lsuv_shape){in.c, l->crop_height, l->crop_width};
    return LSUV_OK;
}

lsuv_status section_read_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l,
                               const lsuv_net_options *options) {
    switch (l->type) {
    case LSUV_LAYER_CONVOLUTIONAL:
        return read_conv_layer(ctx, s, l, options);
    case LSUV_LAYER_CONNECTED:
        return read_connected_layer(ctx, s, l, options);
    case LSUV_LAYER_MAXPOOL:
        return read_maxpool_layer(ctx, s, l);
    case LSUV_LAYER_AVGPOOL:
        l->out = (lsuv_shape){l->in.c, 1, 1};
        return LSUV_OK;
    case LSUV_LAYER_DROPOUT:
        return read_dropout_layer(ctx, s, l);
    case LSUV_LAYER_SOFTMAX:
    case LSUV_LAYER_COST:
        l->out = l->in;
        return LSUV_OK;
    case LSUV_LAYER_CROP:
        return read_crop_layer(ctx, s, l);
    case LSUV_LAYER_LOCAL:
        return read_local_layer(ctx, s, l);
    case LSUV_LAYER_ROUTE:
    case LSUV_LAYER_SHORTCUT:
    case LSUV_LAYER_UPSAMPLE:
    case LSUV_LAYER_REORG:
    case LSUV_LAYER_YOLO:
    case LSUV_LAYER_REGION:
    case LSUV_LAYER_DETECTION:
        return section_read_graph_layer(ctx, s, l);
    }
    return LSUV_OK;
}
