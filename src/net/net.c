/* Gives meaning to the sections of a .cfg: which sections a network may
 * have and in what order, its [net] section, and its totals; each layer's
 * own section is read in layer.c. */
#include "lsuv/net.h"

#include "core/error.h"
#include "core/file.h"
#include "net/cfg.h"
#include "net/section.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lsuv_layer_type_name(lsuv_layer_type type) {
    static const char *const names[] = {"convolutional", "connected", "maxpool",   "avgpool",
                                        "dropout",       "softmax",   "cost",      "crop",
                                        "route",         "shortcut",  "upsample",  "reorg",
                                        "yolo",          "region",    "detection", "local"};
    return (unsigned)type < sizeof names / sizeof *names ? names[type] : "unknown";
}

bool lsuv_layer_has_weights(const lsuv_layer *l) {
    return l->type == LSUV_LAYER_CONVOLUTIONAL || l->type == LSUV_LAYER_CONNECTED ||
           l->type == LSUV_LAYER_LOCAL;
}

bool lsuv_layer_is_graph(const lsuv_layer *l) {
    return l->n_inputs != 1 || l->inputs[0] != (int32_t)l->index - 1;
}

bool lsuv_net_is_sequential(const lsuv_net *net) {
    for (uint32_t i = 0; i < net->n_layers; ++i)
        if (lsuv_layer_is_graph(&net->layers[i])) return false;
    return true;
}

uint64_t lsuv_layer_fan_in(const lsuv_layer *l) {
    if (l->type == LSUV_LAYER_CONVOLUTIONAL)
        return (uint64_t)(l->in.c / l->groups) * l->size * l->size;
    if (l->type == LSUV_LAYER_CONNECTED) return (uint64_t)l->in.c * l->in.h * l->in.w;
    if (l->type == LSUV_LAYER_LOCAL) return (uint64_t)l->in.c * l->size * l->size;
    return 0;
}

uint32_t lsuv_layer_bias_count(const lsuv_layer *l) {
    if (l->type == LSUV_LAYER_CONVOLUTIONAL) return l->filters;
    if (l->type == LSUV_LAYER_CONNECTED) return l->outputs;
    if (l->type == LSUV_LAYER_LOCAL) return l->out.c * l->out.h * l->out.w;
    return 0;
}

uint64_t lsuv_layer_weight_count(const lsuv_layer *l) {
    return lsuv_layer_fan_in(l) * lsuv_layer_bias_count(l);
}

/* Keys darknet reads but that do not change a network's shape or forward
 * pass (training settings, augmentation): accepted silently. */
static const char *const net_keys[] = {
    "batch",    "subdivisions",  "height",      "width",  "channels",   "inputs",     "max_crop",
    "min_crop", "max_ratio",     "min_ratio",   "center", "clip",       "time_steps", "notruth",
    "random",   "learning_rate", "momentum",    "decay",  "adam",       "B1",         "B2",
    "eps",      "policy",        "burn_in",     "power",  "step",       "scale",      "steps",
    "scales",   "gamma",         "max_batches", "angle",  "aspect",     "saturation", "exposure",
    "hue",      "flip",          "mosaic",      "blur",   "letter_box", NULL};
static const char *const conv_keys[] = {
    "filters", "size", "stride",  "pad", "padding", "groups", "activation", "batch_normalize",
    "binary",  "xnor", "flipped", "dot", "leak",    "sub",    "maxv",       "lsuv",
    NULL};
static const char *const connected_keys[] = {
    "output", "activation", "batch_normalize", "leak", "sub", "maxv", "lsuv", NULL};
static const char *const maxpool_keys[] = {"size", "stride", "padding", NULL};
static const char *const local_keys[] = {"filters", "size", "stride", "pad", "activation", NULL};
static const char *const avgpool_keys[] = {NULL};
static const char *const dropout_keys[] = {"probability", NULL};
static const char *const softmax_keys[] = {"groups",  "temperature", "tree",
                                           "spatial", "noloss",      NULL};
static const char *const cost_keys[] = {"type", "scale", "ratio", "noobject_scale", "thresh", NULL};
static const char *const route_keys[] = {"layers", "groups", "group_id", NULL};
static const char *const shortcut_keys[] = {"from", "activation", "alpha", "beta", NULL};
static const char *const upsample_keys[] = {"stride", "scale", NULL};
static const char *const reorg_keys[] = {"stride", "reverse", "flatten", "extra", NULL};
/* The heads' training options are accepted silently, as [net]'s. */
static const char *const yolo_keys[] = {"mask",   "anchors",       "classes",      "num",    "max",
                                        "jitter", "ignore_thresh", "truth_thresh", "random", "map",
                                        NULL};
static const char *const region_keys[] = {
    "coords",      "classes",    "num",         "log",          "sqrt",           "softmax",
    "background",  "max",        "jitter",      "rescore",      "thresh",         "classfix",
    "absolute",    "random",     "coord_scale", "object_scale", "noobject_scale", "mask_scale",
    "class_scale", "bias_match", "tree",        "map",          "anchors",        NULL};
static const char *const detection_keys[] = {
    "coords", "classes",     "rescore", "num",          "side",           "softmax",     "sqrt",
    "max",    "coord_scale", "forced",  "object_scale", "noobject_scale", "class_scale", "jitter",
    "random", "reorg",       NULL};
static const char *const crop_keys[] = {"crop_height", "crop_width", "flip",
                                        "angle",       "saturation", "exposure",
                                        "shift",       "noadjust",   NULL};

typedef struct section_kind {
    const char *name;
    int type; /* lsuv_layer_type, -1 for [net] */
    const char *const *keys;
} section_kind;

static const section_kind kinds[] = {
    {"net", -1, net_keys},
    {"network", -1, net_keys},
    {"convolutional", LSUV_LAYER_CONVOLUTIONAL, conv_keys},
    {"conv", LSUV_LAYER_CONVOLUTIONAL, conv_keys},
    {"connected", LSUV_LAYER_CONNECTED, connected_keys},
    {"conn", LSUV_LAYER_CONNECTED, connected_keys},
    {"maxpool", LSUV_LAYER_MAXPOOL, maxpool_keys},
    {"max", LSUV_LAYER_MAXPOOL, maxpool_keys},
    {"avgpool", LSUV_LAYER_AVGPOOL, avgpool_keys},
    {"avg", LSUV_LAYER_AVGPOOL, avgpool_keys},
    {"dropout", LSUV_LAYER_DROPOUT, dropout_keys},
    {"softmax", LSUV_LAYER_SOFTMAX, softmax_keys},
    {"soft", LSUV_LAYER_SOFTMAX, softmax_keys},
    {"cost", LSUV_LAYER_COST, cost_keys},
    {"crop", LSUV_LAYER_CROP, crop_keys},
    {"route", LSUV_LAYER_ROUTE, route_keys},
    {"shortcut", LSUV_LAYER_SHORTCUT, shortcut_keys},
    {"upsample", LSUV_LAYER_UPSAMPLE, upsample_keys},
    {"reorg", LSUV_LAYER_REORG, reorg_keys},
    {"yolo", LSUV_LAYER_YOLO, yolo_keys},
    {"region", LSUV_LAYER_REGION, region_keys},
    {"detection", LSUV_LAYER_DETECTION, detection_keys},
    {"local", LSUV_LAYER_LOCAL, local_keys},
};

/* Sections darknet knows that lsuv-vk does not run. */
/* Recurrent sections: a step over time, which LSUV's one forward of a batch
 * does not model. */
static const char *const recurrent[] = {"rnn", "gru", "crnn", "lstm", "conv_lstm", NULL};
static const char *const unsupported[] = {"deconvolutional",
                                          "deconv",
                                          "iseg",
                                          "activation",
                                          "logistic",
                                          "l2norm",
                                          "normalization",
                                          "lrn",
                                          "batchnorm",
                                          "scale_channels",
                                          "sam",
                                          "reorg3d",
                                          "gaussian_yolo",
                                          "contrastive",
                                          "implicit_add",
                                          "implicit_mul",
                                          "empty",
                                          "silence",
                                          NULL};

static bool in_list(const char *const *list, const char *s) {
    for (; *list; ++list)
        if (strcmp(*list, s) == 0) return true;
    return false;
}

cfg_option *section_find(cfg_section *s, const char *key) {
    for (uint32_t i = 0; i < s->n_options; ++i)
        if (strcmp(s->options[i].key, key) == 0) return &s->options[i];
    return NULL;
}

lsuv_status section_get_int(parse_ctx *ctx, cfg_section *s, const char *key, long def, long min,
                            long max, long *out) {
    cfg_option *o = section_find(s, key);
    if (!o) {
        *out = def;
        return LSUV_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(o->value, &end, 10);
    if (errno || end == o->value || *end || v < min || v > max)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: '%s=%s': expected an integer from %ld to %ld for %s in [%s]",
                         ctx->name, o->line, key, o->value, min, max, key, s->name);
    *out = v;
    return LSUV_OK;
}

lsuv_status section_get_float(parse_ctx *ctx, cfg_section *s, const char *key, double def,
                              double min, double max, double *out) {
    cfg_option *o = section_find(s, key);
    if (!o) {
        *out = def;
        return LSUV_OK;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(o->value, &end);
    if (errno || end == o->value || *end || !isfinite(v) || v < min || v > max)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: '%s=%s': expected a number from %g to %g for %s in [%s]",
                         ctx->name, o->line, key, o->value, min, max, key, s->name);
    *out = v;
    return LSUV_OK;
}

/* Elements per sample must stay indexable by 32-bit shader arithmetic. */
static const uint64_t max_elements = 1ull << 31;
static lsuv_status check_keys(parse_ctx *ctx, cfg_section *s, const char *const *keys) {
    lsuv_status st = LSUV_OK;
    for (uint32_t i = 0; i < s->n_options && st == LSUV_OK; ++i)
        if (!in_list(keys, s->options[i].key))
            st = cfg_warn(&ctx->warnings, ctx->name, s->options[i].line,
                          "'%s=%s': unknown key in [%s], ignored", s->options[i].key,
                          s->options[i].value, s->name);
    return st;
}

/* The outputs of one sample must be indexable (max_elements), those of the
 * batch must fit one tensor, and the network's totals must not wrap. */
static lsuv_status tensor_fits(parse_ctx *ctx, const cfg_section *s, const char *what,
                               lsuv_shape shape, uint32_t batch) {
    uint64_t elements = (uint64_t)shape.c * shape.h * shape.w;
    if (elements < max_elements && elements * batch <= max_tensor_floats) return LSUV_OK;
    return lsuv_fail(LSUV_ERROR_PARSE,
                     "%s:%u: [%s] %s is too large: %ux%ux%u values per sample, x %u samples "
                     "(batch/subdivisions); expected under 2^31 per sample and 2^32 in all",
                     ctx->name, s->line, s->name, what, shape.c, shape.h, shape.w, batch);
}

static lsuv_status read_net(parse_ctx *ctx, cfg_section *s, lsuv_net *net) {
    long batch, subdivisions, h, w, c, inputs;
    lsuv_status st;
    if ((st = section_get_int(ctx, s, "batch", 1, 1, 1 << 24, &batch)) ||
        (st = section_get_int(ctx, s, "subdivisions", 1, 1, 1 << 24, &subdivisions)) ||
        (st = section_get_int(ctx, s, "height", 0, 0, 1 << 20, &h)) ||
        (st = section_get_int(ctx, s, "width", 0, 0, 1 << 20, &w)) ||
        (st = section_get_int(ctx, s, "channels", 0, 0, 1 << 20, &c)) ||
        (st = section_get_int(ctx, s, "inputs", h * w * c, 0, 1L << 31, &inputs)))
        return st;
    /* darknet runs batch/subdivisions samples at a time (net->batch); a
     * quotient of 0 would make it run none. */
    if (batch / subdivisions == 0)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: 'subdivisions=%ld': larger than batch=%ld; darknet runs "
                         "batch/subdivisions samples at a time, which would be none",
                         ctx->name, section_find(s, "subdivisions")->line, subdivisions, batch);
    net->batch = (uint32_t)(batch / subdivisions);
    if (h && w && c) {
        net->input = (lsuv_shape){(uint32_t)c, (uint32_t)h, (uint32_t)w};
    } else if (inputs > 0 && !h && !w && !c) {
        net->input = (lsuv_shape){(uint32_t)inputs, 1, 1};
    } else {
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: [%s] gives no input shape: expected height, width and channels "
                         "(or inputs alone)",
                         ctx->name, s->line, s->name);
    }
    if ((st = tensor_fits(ctx, s, "the input", net->input, net->batch))) return st;
    return check_keys(ctx, s, net_keys);
}

static lsuv_status add_layer(parse_ctx *ctx, const cfg_section *s, lsuv_net *net,
                             const lsuv_layer *l) {
    char what[32];
    snprintf(what, sizeof what, "layer %u's output", l->index);
    lsuv_status st = tensor_fits(ctx, s, what, l->out, net->batch);
    if (st != LSUV_OK) return st;
    if (__builtin_add_overflow(net->params, l->params, &net->params) ||
        __builtin_add_overflow(net->macs, l->macs, &net->macs))
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s:%u: [%s] layer %u: the network's parameters or multiply-adds "
                         "overflow 64 bits",
                         ctx->name, s->line, s->name, l->index);
    ++net->n_layers;
    return LSUV_OK;
}

static const section_kind *kind_of(const char *name) {
    for (unsigned i = 0; i < sizeof kinds / sizeof *kinds; ++i)
        if (strcmp(kinds[i].name, name) == 0) return &kinds[i];
    return NULL;
}

/* Every section after [net] names a layer lsuv-vk runs. */
static lsuv_status check_section_names(const char *name, const cfg_file *cfg) {
    lsuv_status st = LSUV_OK;
    for (uint32_t i = 1; st == LSUV_OK && i < cfg->n_sections; ++i) {
        const cfg_section *s = &cfg->sections[i];
        const section_kind *k = kind_of(s->name);
        if (k && k->type == -1)
            st = lsuv_fail(LSUV_ERROR_PARSE, "%s:%u: '[%s]': only the first section may be [%s]",
                           name, s->line, s->name, s->name);
        else if (!k && in_list(recurrent, s->name))
            st = lsuv_fail(LSUV_ERROR_PARSE,
                           "%s:%u: [%s] is a recurrent layer; recurrent layers (rnn, gru, crnn, "
                           "lstm) are not supported: lsuv-vk initializes feed-forward networks",
                           name, s->line, s->name);
        else if (!k && in_list(unsupported, s->name))
            st = lsuv_fail(LSUV_ERROR_PARSE,
                           "%s:%u: layer type [%s] at line %u is not supported yet; lsuv-vk runs "
                           "convolutional, connected, local, maxpool, avgpool, dropout, softmax, "
                           "cost, crop, route, shortcut, upsample, reorg, yolo, region and "
                           "detection layers",
                           name, s->line, s->name, s->line);
        else if (!k)
            st = lsuv_fail(LSUV_ERROR_PARSE, "%s:%u: '[%s]': unknown section", name, s->line,
                           s->name);
    }
    return st;
}

lsuv_status lsuv_net_parse(const char *name, const char *text, size_t size,
                           const lsuv_net_options *options, lsuv_net **out) {
    *out = NULL;
    static const lsuv_net_options defaults = {0};
    if (!options) options = &defaults;
    parse_ctx ctx = {.name = name};
    cfg_file cfg;
    lsuv_status st = cfg_read(name, text, size, &cfg, &ctx.warnings);
    lsuv_net *net = calloc(1, sizeof *net);
    if (st == LSUV_OK && !net) st = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (st == LSUV_OK && !(net->path = strdup(name)))
        st = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (st == LSUV_OK && cfg.n_sections == 0)
        st = lsuv_fail(LSUV_ERROR_PARSE, "%s: no sections; expected [net] and then layers", name);
    if (st == LSUV_OK) {
        const section_kind *k = kind_of(cfg.sections[0].name);
        if (!k || k->type != -1)
            st = lsuv_fail(LSUV_ERROR_PARSE,
                           "%s:%u: '[%s]': the first section must be [net] or [network]", name,
                           cfg.sections[0].line, cfg.sections[0].name);
        else
            st = read_net(&ctx, &cfg.sections[0], net);
    }
    if (st == LSUV_OK && cfg.n_sections < 2)
        st = lsuv_fail(LSUV_ERROR_PARSE, "%s: [net] is followed by no layer", name);
    if (st == LSUV_OK && !(net->layers = calloc(cfg.n_sections - 1, sizeof *net->layers)))
        st = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");

    /* Section names first: a network lsuv-vk cannot run is refused for that
     * before any detail of its layers. */
    if (st == LSUV_OK) st = check_section_names(name, &cfg);

    lsuv_shape shape = net->input;
    ctx.layers = net ? net->layers : NULL;
    for (uint32_t i = 1; st == LSUV_OK && i < cfg.n_sections; ++i) {
        cfg_section *s = &cfg.sections[i];
        const section_kind *k = kind_of(s->name);
        lsuv_layer *l = &net->layers[net->n_layers];
        l->type = (lsuv_layer_type)k->type;
        l->index = net->n_layers;
        l->line = s->line;
        l->in = shape;
        l->n_inputs = 1;
        l->inputs[0] = (int32_t)l->index - 1; /* LSUV_NET_INPUT for the first */
        l->maxv = INFINITY;
        st = section_read_layer(&ctx, s, l, options);
        if (st == LSUV_OK) st = check_keys(&ctx, s, k->keys);
        if (st == LSUV_OK) st = add_layer(&ctx, s, net, l);
        if (st == LSUV_OK) shape = l->out;
    }
    cfg_free(&cfg);
    if (net) {
        net->warnings = ctx.warnings.text;
        net->n_warnings = ctx.warnings.count;
    } else {
        for (uint32_t i = 0; i < ctx.warnings.count; ++i) free(ctx.warnings.text[i]);
        free(ctx.warnings.text);
    }
    if (st != LSUV_OK) {
        lsuv_net_destroy(net);
        return st;
    }
    *out = net;
    return LSUV_OK;
}

void lsuv_net_destroy(lsuv_net *net) {
    if (!net) return;
    for (uint32_t i = 0; i < net->n_warnings; ++i) free(net->warnings[i]);
    free(net->warnings);
    free(net->layers);
    free(net->path);
    free(net);
}

lsuv_status lsuv_net_load(const char *path, const lsuv_net_options *options, lsuv_net **out) {
    *out = NULL;
    char *text = NULL;
    size_t size = 0;
    lsuv_status st = lsuv_file_read_all(path, 1u << 26, &text, &size);
    if (st != LSUV_OK) return st;
    st = lsuv_net_parse(path, text, size, options, out);
    free(text);
    return st;
}
