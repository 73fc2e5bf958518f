/* A network's forward pass on a device: the ops' plans of its layers (see
 * ops/plan.h), walked in order. */
#include "lsuv/forward.h"
#include "ops/forward_internal.h"
#include "ops/plan.h"
#include "ops/pool.h"
#include "ops/weights_pack.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CONV_CI_T: the most input channels conv2d.comp takes per inner pass (its
 * CI_T). */
enum {
    CONV_PUSH_WORDS = 21,
    CONV_SUMS_OFF_WORD = 20, /* conv2d.comp's sums_off */
    EPILOGUE_PUSH_WORDS = 8,
    CONV_BINDINGS = 7,
    EPILOGUE_BINDINGS = 5,
    CONV_CI_T = 4,
};

/* How a convolution reads its weights and input: as storage; packed
 * weights from a uniform buffer; input and packed weights as texels (on a
 * CPU); or as storage with the sum over the inputs split across lanes
 * (connected layers at small batches). */
enum { CONV_STORAGE, CONV_UBO, CONV_TEXEL, CONV_KSPLIT, CONV_KINDS };

/* A convolution pipeline: its kind and specialization. */
typedef struct conv_variant {
    int kind;
    uint32_t act, tile_log2, px_log2, ci_t;
    uint32_t row_k, row_s; /* row tiles (CONV_TEXEL): kernel size and stride;
                              stride 0: none */
    bool sums;             /* stores the sums, for LSUV's passes */
    lsuv_pipeline *pipeline;
    struct conv_variant *next;
} conv_variant;

/* The largest power-of-two channel tile, up to the device's, that divides the
 * channels of a group (any tile does when there is one group), whose weights
 * fit one binding, and that is not twice the channels there are. */
static uint32_t channel_tile_log2(const lsuv_forward *f, const lsuv_layer *l) {
    uint32_t groups = l->type == LSUV_LAYER_CONVOLUTIONAL ? l->groups : 1;
    uint32_t og = lsuv_layer_bias_count(l) / groups;
    uint64_t room = (f->cfg.range - f->cfg.align) / f->cfg.es;
    uint32_t t = f->cfg.conv_tile_log2;
    while (t > 0 && ((groups > 1 && og % (1u << t)) || (lsuv_layer_fan_in(l) << t) > room ||
                     (1u << (t - 1)) >= lsuv_layer_bias_count(l)))
        --t;
    return t;
}

/* Bindings 0 and 1 (input, weights) by kind; the rest are storage buffers. */
static const lsuv_binding_kind conv_kinds[CONV_KINDS][CONV_BINDINGS] = {
    [CONV_UBO] = {LSUV_BINDING_STORAGE, LSUV_BINDING_UNIFORM},
    [CONV_TEXEL] = {LSUV_BINDING_TEXEL, LSUV_BINDING_TEXEL},
};

/* What lsuv_pipeline_create_deferred takes to make a variant. */
typedef struct conv_desc {
    char name[48];
    uint32_t spec[9];
    lsuv_pipeline_desc desc;
} conv_desc;

static void conv_desc_make(const lsuv_forward *f, const conv_variant *v, conv_desc *d) {
    static const char *const suffix[CONV_KINDS] = {"", "_ubo", "_texel", "_ksplit"};
    snprintf(d->name, sizeof d->name, "conv2d_%s%s%s", f->cfg.subgroup ? "subgroup" : "shared",
             suffix[v->kind], f->cfg.fp16 ? "_fp16" : "");
    uint32_t spec[] = {f->cfg.conv_wg, 0,        1u << v->tile_log2, 1u << v->px_log2, v->act,
                       v->ci_t,        v->row_k, v->row_s,           v->sums};
    memcpy(d->spec, spec, sizeof spec);
    d->desc = (lsuv_pipeline_desc){
        .shader = d->name,
        .bindings = CONV_BINDINGS,
        .kinds = conv_kinds[v->kind],
        .push_size = CONV_PUSH_WORDS * 4,
        .spec = d->spec,
        .spec_count = sizeof spec / sizeof *spec,
        .full_subgroups = f->cfg.subgroup,
    };
}

/* The variant `want`, made on first request with its layouts only: the
 * pipeline is built when a recording first needs it (lsuv_pipeline_compile). */
static lsuv_status conv_pipeline(lsuv_forward *f, conv_variant want, conv_variant **out) {
    for (conv_variant *v = f->conv; v; v = v->next)
        if (v->kind == want.kind && v->act == want.act && v->tile_log2 == want.tile_log2 &&
            v->px_log2 == want.px_log2 && v->ci_t == want.ci_t && v->row_k == want.row_k &&
            v->row_s == want.row_s && v->sums == want.sums) {
            *out = v;
            return LSUV_OK;
        }
    conv_variant *v = calloc(1, sizeof *v);
    if (!v) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    *v = want;
    conv_desc d;
    conv_desc_make(f, v, &d);
    lsuv_status s = lsuv_pipeline_create_deferred(f->device, &d.desc, &v->pipeline);
    if (s != LSUV_OK) {
        free(v);
        return s;
    }
    v->next = f->conv;
    f->conv = v;
    *out = v;
    return LSUV_OK;
}

static lsuv_status plan_weights_layer(lsuv_forward *f, uint32_t i, const lsuv_layer_params *p) {
    const lsuv_layer *l = &f->net->layers[i];
    layer_plan *lp = &f->layers[i];
    bool conv = l->type == LSUV_LAYER_CONVOLUTIONAL;
    uint32_t tile_log2 = channel_tile_log2(f, l), tile = 1u << tile_log2;
    uint32_t oc = lsuv_layer_bias_count(l);
    uint64_t per_oc = lsuv_layer_fan_in(l); /* weights of one output channel */
    uint64_t room = (f->cfg.range - f->cfg.align) / f->cfg.es;
    if (per_oc * tile > room)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: %u output channels' weights exceed the device's binding", i,
                         tile);
    uint32_t samples;
    lsuv_status s = ops_samples_per_chunk(&f->cfg, l, &samples);
    if (s != LSUV_OK) return s;
    /* A connected layer with fewer samples than a workgroup has lanes splits
     * its sums over the inputs across them, reading weights as storage. */
    bool ksplit = !conv && samples < f->cfg.conv_wg;
    /* Input channels a pass: CONV_CI_T, or the fewest powers of two that
     * cover a group's channels. */
    uint64_t cg = lsuv_layer_fan_in(l) / weights_taps(l);
    lp->ci_t = 1;
    while (lp->ci_t < CONV_CI_T && lp->ci_t < cg) lp->ci_t *= 2;
    /* On a CPU, input and weights go through texel buffers when a chunk of
     * the input and all the weights fit them. */
    const lsuv_device_info *info = lsuv_device_get_info(f->device);
    uint64_t in_chunk = (uint64_t)samples * shape_count(l->in) + f->cfg.texel_align / 4;
    uint64_t w_texels = lsuv_div_up(oc, tile) * tile * weights_packed_fan_in(l, lp->ci_t) / 4 +
                        f->cfg.texel_align / 16;
    bool texel = !ksplit && f->cfg.conv_kernel == LSUV_CONV_TEXEL && !f->cfg.fp16 &&
                 tile_log2 >= 2 && in_chunk <= info->max_texel_buffer_elements &&
                 w_texels <= info->max_texel_buffer_elements;
    /* Elsewhere weights go through a uniform buffer when a few dispatches'
     * worth of channel tiles fit it, with a smaller tile if that makes them
     * fit; the big layers read them as storage. */
    uint64_t ubo_room = f->cfg.ubo_range > f->cfg.ubo_align + 16
                            ? (f->cfg.ubo_range - f->cfg.ubo_align - 16) / 4
                            : 0;
    uint32_t ubo_tile_log2 = tile_log2, ubo_chunk = 0;
    bool ubo = false;
    bool ubo_allowed = !ksplit && f->cfg.conv_kernel == LSUV_CONV_UNIFORM;
    for (; ubo_allowed && ubo_tile_log2 >= 2 && !ubo; --ubo_tile_log2) {
        uint32_t t = 1u << ubo_tile_log2;
        ubo_chunk = (uint32_t)(ubo_room / weights_packed_fan_in(l, lp->ci_t) / t * t);
        ubo = !f->cfg.fp16 && ubo_chunk > 0 && lsuv_div_up(oc, ubo_chunk) <= 16 &&
              (ubo_tile_log2 >= 4 || t >= tile);
        if (ubo) tile_log2 = ubo_tile_log2;
        if (ubo_tile_log2 == 2) break;
    }
    bool packed = texel || ubo;
    /* Fewer pixels per invocation where a dispatch has few pixels (a
     * connected layer has one per sample), so lanes are not left idle; split
     * sums take up to 8 samples a workgroup, and at most 64 accumulators. */
    uint32_t px_log2 = f->cfg.conv_px_log2;
    uint64_t pixels_max = (uint64_t)samples * l->out.h * l->out.w;
    while (px_log2 > 0 && ((uint64_t)f->cfg.conv_wg << (px_log2 - 1)) >= pixels_max) --px_log2;
    if (ksplit) {
        for (px_log2 = 0; (1u << px_log2) < samples && px_log2 < 3;) ++px_log2;
        while (tile_log2 + px_log2 > 6) --tile_log2;
    }
    /* Row tiles where an output row holds a tile's pixels, and a pass of a
     * kernel row has at most 12 (tap, channel) pairs: alexnet's 11x11 first
     * layer, with 44, made its LSUV 701 ms instead of 617. */
    bool rows = texel && conv && l->groups == 1 && l->size > 1 && l->out.w >= (1u << px_log2) &&
                l->size * lp->ci_t <= 12;
    uint32_t px = 1u << px_log2;
    /* Fewer samples a chunk where a whole one would need more workgroups
     * than the device allows (a few wide images at a large batch). */
    uint64_t per_sample =
        rows ? (uint64_t)l->out.h * lsuv_div_up(l->out.w, px) * px : (uint64_t)l->out.h * l->out.w;
    uint64_t most = (uint64_t)info->max_workgroup_count_x * f->cfg.conv_wg * px / per_sample;
    if (!ksplit && most == 0)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: one sample's %llu outputs per channel need "
                         "more workgroups than "
                         "the device's %u",
                         i, (unsigned long long)per_sample, info->max_workgroup_count_x);
    if (!ksplit && samples > most) samples = (uint32_t)most;
    lp->samples = samples;
    tile = 1u << tile_log2;
    uint32_t oc_chunk = texel ? oc : ubo ? ubo_chunk : (uint32_t)(room / per_oc / tile * tile);
    if (oc_chunk > oc) oc_chunk = oc;
    int kind = ksplit ? CONV_KSPLIT : texel ? CONV_TEXEL : ubo ? CONV_UBO : CONV_STORAGE;
    lp->kind = kind;
    lp->packed_tile = packed ? tile : 0;
    conv_variant want = {.kind = kind,
                         .act = l->activation,
                         .tile_log2 = tile_log2,
                         .px_log2 = px_log2,
                         .ci_t = ksplit ? CONV_CI_T : lp->ci_t,
                         .row_k = rows ? l->size : 1,
                         .row_s = rows ? l->stride : 0};
    s = conv_pipeline(f, want, &lp->variant);
    if (s == LSUV_OK) s = weights_pack_upload(f, lp, l, p->weight);
    if (s != LSUV_OK) return s;
    uint32_t n_sample_chunks = (uint32_t)lsuv_div_up(f->cfg.batch, samples);
    uint32_t n_oc_chunks = (uint32_t)lsuv_div_up(oc, oc_chunk);
    lp->n_dispatches = n_sample_chunks * n_oc_chunks;
    s = ops_alloc_dispatches(lp->n_dispatches, lp->variant->pipeline, &lp->sets, &lp->dispatches);
    if (s != LSUV_OK) return s;

    /* A connected layer is a 1x1 convolution of a 1x1 image. */
    lsuv_shape in = conv ? l->in : (lsuv_shape){(uint32_t)shape_count(l->in), 1, 1};
    uint32_t k = conv ? l->size : 1, stride = conv ? l->stride : 1, pad = conv ? l->padding : 0;
    uint32_t groups = conv ? l->groups : 1;
    uint32_t d = 0;
    for (uint32_t sc = 0; sc < n_sample_chunks; ++sc) {
        uint32_t n0 = sc * samples, n = f->cfg.batch - n0 < samples ? f->cfg.batch - n0 : samples;
        for (uint32_t occ = 0; occ < n_oc_chunks; ++occ, ++d) {
            dispatch *dp = &lp->dispatches[d];
            uint32_t oc0 = occ * oc_chunk, oc1 = oc0 + oc_chunk < oc ? oc0 + oc_chunk : oc;
            uint64_t in_first = (uint64_t)n0 * shape_count(in),
                     in_count = (uint64_t)n * shape_count(in);
            uint32_t in_off = texel ? ops_bind_texels(&f->cfg, lp->sets, d, 0, 1, layer_input(f, i),
                                                      in_first, in_count, &s)
                                    : ops_bind_floats(&f->cfg, lp->sets, d, 0, layer_input(f, i),
                                                      in_first, in_count);
            if (s != LSUV_OK) return s;
            /* Packed weights come in whole tiles. */
            uint64_t w_per_oc = packed ? weights_packed_fan_in(l, lp->ci_t) : per_oc;
            uint64_t w_count =
                (packed ? lsuv_div_up(oc1 - oc0, tile) * tile : oc1 - oc0) * w_per_oc;
            uint32_t w_off = texel ? 4 * ops_bind_texels(&f->cfg, lp->sets, d, 1, 4, lp->weights,
                                                         oc0 * w_per_oc, w_count, &s)
                                   : ops_bind_values(&f->cfg, lp->sets, d, 1, ubo, lp->weights,
                                                     oc0 * w_per_oc, w_count, f->cfg.es);
            if (s != LSUV_OK) return s;
            ops_bind(lp->sets, d, 2, lp->bias);
            uint64_t out_first = (uint64_t)n0 * shape_count(l->out);
            uint64_t out_count = (uint64_t)n * shape_count(l->out);
            uint32_t out_off =
                ops_bind_floats(&f->cfg, lp->sets, d, 3, lp->out, out_first, out_count);
            ops_bind(lp->sets, d, 4, lp->state);
            /* Until LSUV's passes bind their sums there (forward_prepare_passes),
             * binding 6 holds the output chunk: no other binding reads it. */
            ops_bind_floats(&f->cfg, lp->sets, d, 6, lp->out, out_first, out_count);
            dp->first_sample = n0;
            uint64_t pixels = (uint64_t)n * l->out.h * l->out.w;
            uint64_t items =
                rows ? (uint64_t)n * l->out.h * lsuv_div_up(l->out.w, px) * px : pixels;
            dp->groups[0] =
                (uint32_t)lsuv_div_up(items, ksplit ? px : (uint64_t)f->cfg.conv_wg * px);
            dp->groups[1] = (oc1 - oc0 + tile - 1) / tile;
            dp->groups[2] = 1;
            dp->partials = dp->groups[0] * dp->groups[1];
            float slope = l->slope, maxv = l->maxv; /* +Inf when unset, so Inf outputs stay Inf */
            uint32_t push[CONV_PUSH_WORDS] = {
                n,      in.c,    in.h,  in.w,          oc,          l->out.h, l->out.w,
                k,      stride,  pad,   in.c / groups, oc / groups, 0,        0,
                in_off, out_off, w_off, oc0,           oc1,         0,        0};
            memcpy(&push[12], &slope, 4);
            memcpy(&push[13], &maxv, 4);
            memcpy(dp->push, push, sizeof push);
            dp->push_words = CONV_PUSH_WORDS;
            dp->stats_slot = 19;
            lp->n_partials += dp->partials;
        }
    }
    /* Partials: one per workgroup of every dispatch, in dispatch order. */
    s = lsuv_buffer_create(f->device, (uint64_t)lp->n_partials * LSUV_STATS_RESULT_BYTES,
                           &lp->partials);
    uint32_t base = 0;
    for (uint32_t j = 0; s == LSUV_OK && j < lp->n_dispatches; ++j) {
        ops_bind(lp->sets, j, 5, lp->partials);
        lp->dispatches[j].push[lp->dispatches[j].stats_slot] = base;
        base += lp->dispatches[j].partials;
    }
    return s;
}

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
    lsuv_status s = conv_pipeline(f, want, &v);
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
                         "layer %u: one sample's %u outputs per channel need more "
                         "workgroups than "
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

/* Each layer's dispatches, and the plan that puts its statistics in its slot.
 */
static lsuv_status create_layers(lsuv_forward *f, const lsuv_weights *w) {
    lsuv_status s = LSUV_OK;
    for (uint32_t i = 0; s == LSUV_OK && i < f->net->n_layers; ++i) {
        const lsuv_layer *l = &f->net->layers[i];
        layer_plan *lp = &f->layers[i];
        if (lsuv_layer_has_weights(l))
            s = plan_weights_layer(f, i, &w->layers[i]);
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
    for (conv_variant *v = f->conv, *next; v; v = next) {
        next = v->next;
        lsuv_pipeline_destroy(v->pipeline);
        free(v);
    }
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
