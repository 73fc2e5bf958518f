/* Convolutional and connected layers: the choice of kernel, tile and chunks
 * (pure, see conv.h), the pipelines, and the bindings of each dispatch. */
#include "ops/conv.h"

#include "core/error.h"
#include "ops/sums.h"
#include "ops/bn_batch.h"
#include "ops/bn_fold.h"
#include "ops/weights_pack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The largest power-of-two channel tile, up to the device's, that divides the channels
 * of a group (any tile does when there is one group), whose weights fit one
 * binding, and that is not twice the channels there are. */
static uint32_t channel_tile_log2(const forward_config *c, const lsuv_layer *l) {
    uint32_t groups = l->type == LSUV_LAYER_CONVOLUTIONAL ? l->groups : 1;
    uint32_t og = lsuv_layer_bias_count(l) / groups;
    uint64_t room = (c->range - c->align) / c->es;
    uint32_t t = c->conv_tile_log2;
    while (t > 0 && ((groups > 1 && og % (1u << t)) || (lsuv_layer_fan_in(l) << t) > room ||
                     (1u << (t - 1)) >= lsuv_layer_bias_count(l)))
        --t;
    return t;
}

/* Input channels a pass: CONV_CI_T, or the fewest powers of two that cover a
 * group's channels. */
static uint32_t pass_channels(const lsuv_layer *l) {
    uint64_t cg = lsuv_layer_fan_in(l) / weights_taps(l);
    uint32_t ci_t = 1;
    while (ci_t < CONV_CI_T && ci_t < cg) ci_t *= 2;
    return ci_t;
}

/* On a CPU, input and weights go through texel buffers when a chunk of the
 * input and all the weights fit them. */
static bool texel_fits(const forward_config *c, const lsuv_layer *l, uint32_t samples,
                       uint32_t tile_log2, uint32_t ci_t) {
    uint32_t oc = lsuv_layer_bias_count(l), tile = 1u << tile_log2;
    uint64_t in_chunk = (uint64_t)samples * shape_count(l->in) + c->texel_align / 4;
    uint64_t w_texels =
        lsuv_div_up(oc, tile) * tile * weights_packed_fan_in(l, ci_t) / 4 + c->texel_align / 16;
    return c->conv_kernel == LSUV_CONV_TEXEL && !c->fp16 && tile_log2 >= 2 &&
           in_chunk <= c->max_texel_elements && w_texels <= c->max_texel_elements;
}

/* Elsewhere weights go through a uniform buffer when a few dispatches' worth
 * of channel tiles fit it, with a smaller tile (of at least 16 channels) if
 * that makes them fit; the big layers read them as storage. On success the
 * tile and the output channels a dispatch are set. */
static bool ubo_fits(const forward_config *c, const lsuv_layer *l, uint32_t ci_t,
                     uint32_t *tile_log2, uint32_t *chunk) {
    if (c->conv_kernel != LSUV_CONV_UNIFORM || c->fp16) return false;
    uint64_t room = c->ubo_range > c->ubo_align + 16 ? (c->ubo_range - c->ubo_align - 16) / 4 : 0;
    uint32_t oc = lsuv_layer_bias_count(l);
    for (uint32_t t2 = *tile_log2; t2 >= 2; --t2) {
        uint32_t t = 1u << t2;
        uint32_t ch = (uint32_t)(room / weights_packed_fan_in(l, ci_t) / t * t);
        if (ch > 0 && lsuv_div_up(oc, ch) <= 16 && (t2 >= 4 || t2 == *tile_log2)) {
            *tile_log2 = t2;
            *chunk = ch;
            return true;
        }
    }
    return false;
}

/* Fewer pixels per invocation where a dispatch has few pixels (a connected
 * layer has one per sample), so lanes are not left idle; split sums take up
 * to 8 samples a workgroup, and at most 64 accumulators. */
static void invocation_shape(const forward_config *c, const lsuv_layer *l, bool ksplit,
                             uint32_t samples, conv_plan *p) {
    uint64_t pixels_max = (uint64_t)samples * l->out.h * l->out.w;
    p->px_log2 = c->conv_px_log2;
    while (p->px_log2 > 0 && ((uint64_t)c->conv_wg << (p->px_log2 - 1)) >= pixels_max) --p->px_log2;
    if (ksplit) {
        for (p->px_log2 = 0; (1u << p->px_log2) < samples && p->px_log2 < 3;) ++p->px_log2;
        while (p->tile_log2 + p->px_log2 > 6) --p->tile_log2;
    }
}

/* Fewer samples a chunk where a whole one would need more workgroups than
 * the device allows (a few wide images at a large batch). */
static lsuv_status fit_group_count(const forward_config *c, const lsuv_layer *l, bool rows,
                                   bool ksplit, conv_plan *p) {
    uint32_t px = 1u << p->px_log2;
    uint64_t per_sample =
        rows ? (uint64_t)l->out.h * lsuv_div_up(l->out.w, px) * px : (uint64_t)l->out.h * l->out.w;
    uint64_t most = (uint64_t)c->max_groups_x * c->conv_wg * px / per_sample;
    if (!ksplit && most == 0)
        return lsuv_fail(
            LSUV_ERROR_UNSUPPORTED,
            "layer %u: one sample's %llu outputs per channel need more workgroups than "
            "the device's %u",
            l->index, (unsigned long long)per_sample, c->max_groups_x);
    if (!ksplit && p->samples > most) p->samples = (uint32_t)most;
    return LSUV_OK;
}

/* The gemm kind's tile, picked from the device's limits as ncnn and
 * uVkCompute pick theirs. The candidates, largest first (bm x bn x bk,
 * tm x tn an invocation, invocations, shared memory with the statistics'
 * merge):
 *   128x128x16, 8x8, 256, 36 KiB: the classic SGEMM shape on NVIDIA and AMD,
 *     64 accumulators and 16 loads from shared memory for 64 FMAs;
 *   64x64x16, 4x4, 256, 20 KiB;  64x64x8, 4x4, 256, 12 KiB;
 *   32x32x8, 4x4, 64, 5 KiB;  16x16x8, 2x2, 64, 3 KiB (within any Vulkan
 *     device's required limits: 128 invocations, 16 KiB).
 * The first is taken whose workgroup the device allows
 * (maxComputeWorkGroupInvocations, maxComputeWorkGroupSize.x) and whose two
 * stages of both tiles, the Moments of each invocation and the origin fit
 * maxComputeSharedMemorySize. A CPU starts at the fourth: lavapipe runs the
 * kind far below its texels whatever the tile (standard case, loaded
 * machine: 32x32x8 0.56 GFLOP/s, 64x64x16 0.25, 16x16x8 0.19, texels 4.7),
 * and its pipelines build in time that grows with the unrolled tile.
 * Statistics merge by subgroups as conv2d.comp's do, where the workgroup is
 * whole subgroups of the largest size. */
void conv_gemm_tile_choose(const lsuv_device_info *info, conv_gemm_tile *out) {
    static const conv_gemm_tile tiles[] = {{128, 128, 16, 8, 8, 256, false},
                                           {64, 64, 16, 4, 4, 256, false},
                                           {64, 64, 8, 4, 4, 256, false},
                                           {32, 32, 8, 4, 4, 64, false},
                                           {16, 16, 8, 2, 2, 64, false}};
    enum { N_TILES = sizeof tiles / sizeof *tiles };
    uint32_t t = info->type == LSUV_DEVICE_CPU ? 3 : 0;
    for (; t + 1 < N_TILES; ++t) {
        const conv_gemm_tile *g = &tiles[t];
        uint64_t shared = 4ull * 2 * g->bk * (g->bm + g->bn) + 16ull * g->wg + 4;
        if (g->wg <= info->max_workgroup_invocations && g->wg <= info->max_workgroup_size_x &&
            shared <= info->max_shared_memory)
            break;
    }
    *out = tiles[t];
    out->subgroup = info->full_subgroups && info->subgroup_shuffle && info->max_subgroup_size &&
                    out->wg % info->max_subgroup_size == 0;
}

/* The gemm kind's chunks: output channels by whole groups a dispatch (its
 * tiles never straddle two), samples within the workgroup count. False
 * where one group's weights exceed a binding, or K reaches 2^22 (the
 * shader's division by a float reciprocal is exact below it): storage runs
 * the layer then. */
static bool gemm_plan(const forward_config *c, const lsuv_layer *l, conv_plan *p) {
    uint32_t groups = l->type == LSUV_LAYER_CONVOLUTIONAL ? l->groups : 1;
    uint32_t oc = lsuv_layer_bias_count(l), og = oc / groups;
    uint64_t chunk = (c->range - c->align) / c->es / lsuv_layer_fan_in(l);
    if (groups > 1) chunk = chunk / og * og;
    uint64_t most = (uint64_t)c->max_groups_x * c->gemm.bn / ((uint64_t)l->out.h * l->out.w);
    if (chunk == 0 || most == 0 || lsuv_layer_fan_in(l) >= (1u << 22)) return false;
    if (p->samples > most) p->samples = (uint32_t)most;
    p->kind = CONV_GEMM;
    p->oc_chunk = chunk < oc ? (uint32_t)chunk : oc;
    p->tile_log2 = p->px_log2 = p->kernel_ci_t = p->packed_tile = 0;
    p->row_k = 1;
    return true;
}

static void plan_counts(const forward_config *c, const lsuv_layer *l, conv_plan *p) {
    p->n_sample_chunks = (uint32_t)lsuv_div_up(c->batch, p->samples);
    p->n_oc_chunks = (uint32_t)lsuv_div_up(lsuv_layer_bias_count(l), p->oc_chunk);
    p->n_dispatches = p->n_sample_chunks * p->n_oc_chunks;
}

lsuv_status conv_plan_make(const forward_config *c, const lsuv_layer *l, conv_plan *out) {
    conv_plan *p = out;
    memset(p, 0, sizeof *p);
    bool conv = l->type == LSUV_LAYER_CONVOLUTIONAL;
    uint32_t oc = lsuv_layer_bias_count(l);
    uint64_t per_oc = lsuv_layer_fan_in(l); /* weights of one output channel */
    uint64_t room = (c->range - c->align) / c->es;
    p->tile_log2 = channel_tile_log2(c, l);
    if (per_oc << p->tile_log2 > room)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: %u output channels' weights exceed the device's binding",
                         l->index, 1u << p->tile_log2);
    lsuv_status s = ops_samples_per_chunk(c, l, &p->samples);
    if (s != LSUV_OK) return s;
    /* A connected layer with fewer samples than a workgroup has lanes splits
     * its sums over the inputs across them, reading weights as storage. */
    bool ksplit = !conv && p->samples < c->conv_wg;
    p->ci_t = pass_channels(l);
    if (!ksplit && c->conv_kernel == LSUV_CONV_GEMM && gemm_plan(c, l, p)) {
        plan_counts(c, l, p);
        return LSUV_OK;
    }
    bool texel = !ksplit && texel_fits(c, l, p->samples, p->tile_log2, p->ci_t);
    uint32_t ubo_chunk = 0;
    bool ubo = !ksplit && ubo_fits(c, l, p->ci_t, &p->tile_log2, &ubo_chunk);
    invocation_shape(c, l, ksplit, p->samples, p);
    /* Row tiles where an output row holds a tile's pixels, and a pass of a
     * kernel row has at most 12 (tap, channel) pairs: alexnet's 11x11 first
     * layer, with 44, made its LSUV 701 ms instead of 617. */
    bool rows = texel && conv && l->groups == 1 && l->size > 1 && l->out.w >= (1u << p->px_log2) &&
                l->size * p->ci_t <= 12;
    if ((s = fit_group_count(c, l, rows, ksplit, p)) != LSUV_OK) return s;
    uint32_t tile = 1u << p->tile_log2;
    p->oc_chunk = texel ? oc : ubo ? ubo_chunk : (uint32_t)(room / per_oc / tile * tile);
    if (p->oc_chunk > oc) p->oc_chunk = oc;
    p->kind = ksplit ? CONV_KSPLIT : texel ? CONV_TEXEL : ubo ? CONV_UBO : CONV_STORAGE;
    p->packed_tile = texel || ubo ? tile : 0;
    p->kernel_ci_t = ksplit ? CONV_CI_T : p->ci_t;
    p->row_k = rows ? l->size : 1;
    p->row_s = rows ? l->stride : 0;
    plan_counts(c, l, p);
    return LSUV_OK;
}

void conv_plan_dispatch(const forward_config *c, const lsuv_layer *l, const conv_plan *p,
                        uint32_t d, conv_dispatch *out) {
    bool conv = l->type == LSUV_LAYER_CONVOLUTIONAL;
    /* A connected layer is a 1x1 convolution of a 1x1 image. */
    lsuv_shape in = conv ? l->in : (lsuv_shape){(uint32_t)shape_count(l->in), 1, 1};
    uint32_t k = conv ? l->size : 1, stride = conv ? l->stride : 1, pad = conv ? l->padding : 0;
    uint32_t groups = conv ? l->groups : 1, oc = lsuv_layer_bias_count(l);
    uint32_t tile = 1u << p->tile_log2, px = 1u << p->px_log2;
    uint32_t n0 = d / p->n_oc_chunks * p->samples, oc0 = d % p->n_oc_chunks * p->oc_chunk;
    uint32_t n = c->batch - n0 < p->samples ? c->batch - n0 : p->samples;
    uint32_t oc1 = oc0 + p->oc_chunk < oc ? oc0 + p->oc_chunk : oc;
    /* Packed weights come in whole tiles. */
    uint64_t w_per_oc = p->packed_tile ? weights_packed_fan_in(l, p->ci_t) : lsuv_layer_fan_in(l);
    *out = (conv_dispatch){
        .n0 = n0,
        .n = n,
        .oc0 = oc0,
        .oc1 = oc1,
        .in_first = (uint64_t)n0 * shape_count(in),
        .in_count = (uint64_t)n * shape_count(in),
        .w_first = oc0 * w_per_oc,
        .w_count = (p->packed_tile ? lsuv_div_up(oc1 - oc0, tile) * tile : oc1 - oc0) * w_per_oc,
        .out_first = (uint64_t)n0 * shape_count(l->out),
        .out_count = (uint64_t)n * shape_count(l->out),
    };
    uint64_t items = p->row_k > 1 ? (uint64_t)n * l->out.h * lsuv_div_up(l->out.w, px) * px
                                  : (uint64_t)n * l->out.h * l->out.w;
    bool ksplit = p->kind == CONV_KSPLIT;
    out->groups[0] = (uint32_t)lsuv_div_up(items, ksplit ? px : (uint64_t)c->conv_wg * px);
    out->groups[1] = (oc1 - oc0 + tile - 1) / tile;
    out->groups[2] = 1;
    if (p->kind == CONV_GEMM) {
        /* BM-row tiles of each group's channels (conv_gemm.comp's segments). */
        uint32_t og = oc / groups, seg = og < oc1 - oc0 ? og : oc1 - oc0;
        out->groups[0] = (uint32_t)lsuv_div_up(items, c->gemm.bn);
        out->groups[1] = (oc1 - oc0) / seg * lsuv_div_up(seg, c->gemm.bm);
    }
    /* +Inf when unset, so Inf outputs stay Inf; and for bare sums. */
    float slope = l->slope, maxv = bn_batch_raw(l) ? INFINITY : l->maxv;
    out->pc = (lsuv_conv_push){.n = n,
                               .c = in.c,
                               .h = in.h,
                               .w = in.w,
                               .oc = oc,
                               .oh = l->out.h,
                               .ow = l->out.w,
                               .k = k,
                               .stride = stride,
                               .pad = pad,
                               .cg = in.c / groups,
                               .og = oc / groups,
                               .slope = slope,
                               .maxv = maxv,
                               .oc_begin = oc0,
                               .oc_end = oc1};
}

/* Bindings 0 and 1 (input, weights) by kind; the rest are storage buffers. */
static const lsuv_binding_kind conv_kinds[CONV_KINDS][CONV_BINDINGS] = {
    [CONV_UBO] = {LSUV_BINDING_STORAGE, LSUV_BINDING_UNIFORM},
    [CONV_TEXEL] = {LSUV_BINDING_TEXEL, LSUV_BINDING_TEXEL},
};

/* What lsuv_pipeline_create_deferred takes to make a variant. */
typedef struct conv_desc {
    uint32_t spec[10];
    lsuv_pipeline_desc desc;
} conv_desc;

static void conv_desc_make(const forward_config *c, const conv_variant *v, conv_desc *d) {
    /* [subgroup][kind][fp16]; fp16 has no weights in uniform or texel
     * buffers: texel_fits and ubo_fits refuse it. */
    static const lsuv_shader variants[2][CONV_KINDS][2] = {
        {
            [CONV_STORAGE] = {LSUV_SHADER_CONV2D_SHARED, LSUV_SHADER_CONV2D_SHARED_FP16},
            [CONV_UBO] = {LSUV_SHADER_CONV2D_SHARED_UBO, LSUV_SHADER_NONE},
            [CONV_TEXEL] = {LSUV_SHADER_CONV2D_SHARED_TEXEL, LSUV_SHADER_NONE},
            [CONV_KSPLIT] = {LSUV_SHADER_CONV2D_SHARED_KSPLIT,
                             LSUV_SHADER_CONV2D_SHARED_KSPLIT_FP16},
        },
        {
            [CONV_STORAGE] = {LSUV_SHADER_CONV2D_SUBGROUP, LSUV_SHADER_CONV2D_SUBGROUP_FP16},
            [CONV_UBO] = {LSUV_SHADER_CONV2D_SUBGROUP_UBO, LSUV_SHADER_NONE},
            [CONV_TEXEL] = {LSUV_SHADER_CONV2D_SUBGROUP_TEXEL, LSUV_SHADER_NONE},
            [CONV_KSPLIT] = {LSUV_SHADER_CONV2D_SUBGROUP_KSPLIT,
                             LSUV_SHADER_CONV2D_SUBGROUP_KSPLIT_FP16},
        },
    };
    uint32_t spec[] = {c->conv_wg, 0,        1u << v->tile_log2, 1u << v->px_log2, v->act,
                       v->ci_t,    v->row_k, v->row_s,           v->sums,          v->measure};
    bool subgroup = c->subgroup;
    lsuv_shader shader = variants[subgroup][v->kind][c->fp16];
    if (v->kind == CONV_GEMM) {
        /* conv_gemm.comp's ids: 0 wg, 2 bm, 3 bn, 5 bk, 6 tm, 7 tn. */
        const conv_gemm_tile *g = &c->gemm;
        uint32_t gemm[] = {g->wg, 0,     g->bm, g->bn,   v->act,
                           g->bk, g->tm, g->tn, v->sums, v->measure};
        memcpy(spec, gemm, sizeof spec);
        subgroup = g->subgroup;
        static const lsuv_shader gemm_variants[2][2] = {
            {LSUV_SHADER_CONV_GEMM_SHARED, LSUV_SHADER_CONV_GEMM_SHARED_FP16},
            {LSUV_SHADER_CONV_GEMM_SUBGROUP, LSUV_SHADER_CONV_GEMM_SUBGROUP_FP16}};
        shader = gemm_variants[subgroup][c->fp16];
    }
    memcpy(d->spec, spec, sizeof spec);
    d->desc = (lsuv_pipeline_desc){
        .shader = shader,
        .bindings = CONV_BINDINGS,
        .kinds = conv_kinds[v->kind],
        .push_size = CONV_PUSH_WORDS * 4,
        .spec = d->spec,
        .spec_count = sizeof spec / sizeof *spec,
        .full_subgroups = subgroup,
    };
}

lsuv_status conv_variant_get(lsuv_forward *f, conv_variant want, conv_variant **out) {
    for (conv_variant *v = f->conv; v; v = v->next)
        if (v->kind == want.kind && v->act == want.act && v->tile_log2 == want.tile_log2 &&
            v->px_log2 == want.px_log2 && v->ci_t == want.ci_t && v->row_k == want.row_k &&
            v->row_s == want.row_s && v->sums == want.sums && v->measure == want.measure) {
            *out = v;
            return LSUV_OK;
        }
    conv_variant *v = calloc(1, sizeof *v);
    if (!v) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    *v = want;
    conv_desc d;
    conv_desc_make(&f->cfg, v, &d);
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

void conv_variants_destroy(lsuv_forward *f) {
    for (conv_variant *v = f->conv, *next; v; v = next) {
        next = v->next;
        lsuv_pipeline_destroy(v->pipeline);
        free(v);
    }
    f->conv = NULL;
}

/* Binds dispatch d of layer i's plan and fills its push words. */
static lsuv_status bind_dispatch(lsuv_forward *f, uint32_t i, const conv_plan *p, uint32_t d) {
    const forward_config *c = &f->cfg;
    const lsuv_layer *l = &f->net->layers[i];
    layer_plan *lp = &f->layers[i];
    dispatch *dp = &lp->dispatches[d];
    conv_dispatch cd;
    conv_plan_dispatch(c, l, p, d, &cd);
    bool texel = p->kind == CONV_TEXEL, ubo = p->kind == CONV_UBO;
    lsuv_status s = LSUV_OK;
    const lsuv_buffer *in = layer_input(f, i);
    cd.pc.in_off = texel ? ops_bind_texels(c, lp->sets, d, 0, 1, in, cd.in_first, cd.in_count, &s)
                         : ops_bind_floats(c, lp->sets, d, 0, in, cd.in_first, cd.in_count);
    if (s != LSUV_OK) return s;
    cd.pc.w_off =
        texel ? 4 * ops_bind_texels(c, lp->sets, d, 1, 4, lp->weights, cd.w_first, cd.w_count, &s)
              : ops_bind_values(c, lp->sets, d, 1, ubo, lp->weights, cd.w_first, cd.w_count, c->es);
    if (s != LSUV_OK) return s;
    ops_bind(lp->sets, d, 2, lp->bias);
    cd.pc.out_off = ops_bind_floats(c, lp->sets, d, 3, lp->out, cd.out_first, cd.out_count);
    ops_bind(lp->sets, d, 4, lp->state);
    /* Until a client keeps the sums there (forward_keep_sums), binding 6
     * holds the output chunk: no other binding reads it. */
    ops_bind_floats(c, lp->sets, d, 6, lp->out, cd.out_first, cd.out_count);
    memcpy(dp->push, cd.push, sizeof cd.push);
    memcpy(dp->groups, cd.groups, sizeof cd.groups);
    dp->push_words = CONV_PUSH_WORDS;
    dp->stats_slot = CONV_STATS_BASE_WORD;
    dp->first_sample = cd.n0;
    dp->partials = cd.groups[0] * cd.groups[1];
    lp->n_partials += dp->partials;
    return LSUV_OK;
}

lsuv_status conv_layer_create(lsuv_forward *f, uint32_t i, const lsuv_layer_params *params) {
    const lsuv_layer *l = &f->net->layers[i];
    layer_plan *lp = &f->layers[i];
    conv_plan p;
    lsuv_status s = conv_plan_make(&f->cfg, l, &p);
    if (s != LSUV_OK) return s;
    lp->ci_t = p.ci_t;
    lp->samples = p.samples;
    lp->kind = p.kind;
    lp->packed_tile = p.packed_tile;
    conv_variant want = {.kind = p.kind,
                         .act = bn_batch_raw(l) ? LSUV_ACT_LINEAR : l->activation,
                         .tile_log2 = p.tile_log2,
                         .px_log2 = p.px_log2,
                         .ci_t = p.kernel_ci_t,
                         .row_k = p.row_k,
                         .row_s = p.row_s};
    s = conv_variant_get(f, want, &lp->variant);
    if (s == LSUV_OK) s = bn_layer_upload(f, lp, l, params);
    if (s != LSUV_OK) return s;
    lp->n_dispatches = p.n_dispatches;
    s = ops_alloc_dispatches(lp->n_dispatches, lp->variant->pipeline, &lp->sets, &lp->dispatches);
    for (uint32_t d = 0; s == LSUV_OK && d < lp->n_dispatches; ++d) s = bind_dispatch(f, i, &p, d);
    if (s != LSUV_OK) return s;
    /* Partials: one per workgroup of every dispatch, in dispatch order. */
    s = lsuv_buffer_create(f->device, (uint64_t)lp->n_partials * LSUV_STATS_RESULT_BYTES,
                           &lp->partials);
    uint32_t base = 0;
    for (uint32_t j = 0; s == LSUV_OK && j < lp->n_dispatches; ++j) {
        ops_bind(lp->sets, j, 5, lp->partials);
        lp->dispatches[j].push[CONV_STATS_BASE_WORD] = base;
        base += lp->dispatches[j].partials;
    }
    return s;
}

lsuv_status forward_keep_sums(lsuv_forward *f, uint32_t i, const lsuv_buffer *sums, uint64_t first,
                              uint32_t measure) {
    const lsuv_layer *l = &f->net->layers[i];
    layer_plan *lp = &f->layers[i];
    conv_variant want = *lp->variant, *v;
    want.sums = true;
    want.measure = measure;
    lsuv_status s = conv_variant_get(f, want, &v);
    if (s == LSUV_OK) s = lsuv_pipeline_compile(v->pipeline);
    if (s != LSUV_OK) return s;
    uint64_t per = shape_count(l->out);
    uint32_t samples = lp->samples; /* the convolution's chunks */
    if ((uint64_t)samples * per * 4 > f->cfg.range - f->cfg.align)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u: the sums of %u samples exceed the device's binding of %llu "
                         "bytes, and they are kept in fp32",
                         i, samples, (unsigned long long)f->cfg.range);
    lp->sums = v->pipeline;
    for (uint32_t d = 0; d < lp->n_dispatches; ++d) {
        dispatch *dp = &lp->dispatches[d];
        uint32_t n0 = dp->first_sample;
        uint32_t n = f->cfg.batch - n0 < samples ? f->cfg.batch - n0 : samples;
        dp->push[CONV_SUMS_OFF_WORD] = ops_bind_values(
            &f->cfg, lp->sets, d, 6, false, sums, first + (uint64_t)n0 * per, (uint64_t)n * per, 4);
    }
    return LSUV_OK;
}

void forward_drop_sums(lsuv_forward *f, uint32_t i) {
    const lsuv_layer *l = &f->net->layers[i];
    layer_plan *lp = &f->layers[i];
    if (!lp->sums) return;
    uint64_t per = shape_count(l->out);
    for (uint32_t d = 0; d < lp->n_dispatches; ++d) {
        dispatch *dp = &lp->dispatches[d];
        uint32_t n0 = dp->first_sample;
        uint32_t n = f->cfg.batch - n0 < lp->samples ? f->cfg.batch - n0 : lp->samples;
        /* As conv_layer_create left it: the output chunk, which no other
         * binding reads. */
        ops_bind_floats(&f->cfg, lp->sets, d, 6, lp->out, (uint64_t)n0 * per, (uint64_t)n * per);
        dp->push[CONV_SUMS_OFF_WORD] = 0;
    }
    lp->sums = NULL;
}

void forward_record_sums(lsuv_forward *f, lsuv_cmd *cmd, uint32_t i) {
    const layer_plan *lp = &f->layers[i];
    lsuv_cmd_barrier(cmd);
    ops_record_dispatches(cmd, lp->dispatches, lp->sets, lp->n_dispatches, lp->sums, true, NULL, 0);
    forward_note_written(f, i); /* the passes then store its output */
}

void forward_record_layer_stats(lsuv_forward *f, lsuv_cmd *cmd, uint32_t i) {
    lsuv_stats_plan_record(f->layers[i].stats, cmd);
}
