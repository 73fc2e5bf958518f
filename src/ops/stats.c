#include "lsuv/stats.h"

#include "contract.h"
#include "core/error.h"
#include "vk/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* stats_common.glsl's Partial, laid out by contract.h. */
typedef lsuv_partial partial;
_Static_assert(sizeof(partial) == LSUV_STATS_RESULT_BYTES, "Partial layout");

struct lsuv_stats {
    lsuv_device *device;
    lsuv_stats_options options;
    lsuv_pipeline *reduce, *reduce_texel, *combine;
    /* LSUV_STATS_TWOPASS: the second pass's reduce; the first pass is naive. */
    lsuv_pipeline *reduce2, *reduce2_texel;
    bool texel;              /* reduce_texel exists: full chunks read texels */
    uint64_t align;          /* offset alignment of every input binding */
    uint32_t workgroup;      /* invocations per workgroup */
    uint32_t reduce_items;   /* vec4s of input per invocation */
    uint32_t combine_items;  /* partials per invocation */
    uint64_t chunk_elements; /* most inputs one reduce dispatch binds */
};

typedef struct stage {
    const lsuv_pipeline *pipeline;
    lsuv_stats_push push;
    uint32_t groups;
    bool barrier_before;
} stage;

struct lsuv_stats_plan {
    lsuv_stats *stats;
    lsuv_binding_set *sets; /* one per stage */
    lsuv_buffer *scratch;
    uint32_t stage_count;
    stage *stages;
};

static uint32_t floor_pow2(uint32_t x) {
    uint32_t p = 1;
    while (p * 2 <= x) p *= 2;
    return p;
}

/* The bindings of stats_reduce.comp; a variant has the first 2, 3 (_texel) or
 * 4 (twopass, whose storage variant leaves binding 2 unused). */
static const lsuv_binding_kind reduce_kinds[] = {
    LSUV_BINDING_STORAGE, /* input floats */
    LSUV_BINDING_STORAGE, /* partials out */
    LSUV_BINDING_TEXEL,   /* input vec4s */
    LSUV_BINDING_STORAGE, /* the first pass's result */
};

/* The statistics algorithm of a variant; the two-pass method's first pass is
 * the naive one. */
typedef enum stats_algo { ALGO_WELFORD, ALGO_NAIVE, ALGO_TWOPASS } stats_algo;

/* [algo][subgroup][texel] */
static const lsuv_shader reduce_variants[3][2][2] = {
    [ALGO_WELFORD] = {{LSUV_SHADER_STATS_REDUCE_WELFORD_SHARED,
                       LSUV_SHADER_STATS_REDUCE_WELFORD_SHARED_TEXEL},
                      {LSUV_SHADER_STATS_REDUCE_WELFORD_SUBGROUP,
                       LSUV_SHADER_STATS_REDUCE_WELFORD_SUBGROUP_TEXEL}},
    [ALGO_NAIVE] = {{LSUV_SHADER_STATS_REDUCE_NAIVE_SHARED,
                     LSUV_SHADER_STATS_REDUCE_NAIVE_SHARED_TEXEL},
                    {LSUV_SHADER_STATS_REDUCE_NAIVE_SUBGROUP,
                     LSUV_SHADER_STATS_REDUCE_NAIVE_SUBGROUP_TEXEL}},
    [ALGO_TWOPASS] = {{LSUV_SHADER_STATS_REDUCE_TWOPASS_SHARED,
                       LSUV_SHADER_STATS_REDUCE_TWOPASS_SHARED_TEXEL},
                      {LSUV_SHADER_STATS_REDUCE_TWOPASS_SUBGROUP,
                       LSUV_SHADER_STATS_REDUCE_TWOPASS_SUBGROUP_TEXEL}},
};

/* [algo][subgroup]: the two-pass method combines its passes' partials as
 * the naive one does. */
static const lsuv_shader combine_variants[2][2] = {
    [ALGO_WELFORD] = {LSUV_SHADER_STATS_COMBINE_WELFORD_SHARED,
                      LSUV_SHADER_STATS_COMBINE_WELFORD_SUBGROUP},
    [ALGO_NAIVE] = {LSUV_SHADER_STATS_COMBINE_NAIVE_SHARED,
                    LSUV_SHADER_STATS_COMBINE_NAIVE_SUBGROUP},
};

/* A reduce variant, and its texel twin where texels are read. */
static lsuv_status reduce_create(lsuv_stats *s, stats_algo algo, bool subgroup,
                                 lsuv_pipeline **plain, lsuv_pipeline **texel) {
    bool twopass = algo == ALGO_TWOPASS;
    uint32_t spec[] = {s->workgroup, s->reduce_items};
    lsuv_pipeline_desc desc = {
        .shader = reduce_variants[algo][subgroup][false],
        .bindings = twopass ? 4 : 2,
        .kinds = reduce_kinds,
        .push_size = sizeof(lsuv_stats_push),
        .spec = spec,
        .spec_count = 2,
        .full_subgroups = subgroup,
    };
    lsuv_status st = lsuv_pipeline_create(s->device, &desc, plain);
    if (st == LSUV_OK && s->texel) {
        desc.shader = reduce_variants[algo][subgroup][true];
        desc.bindings = twopass ? 4 : 3;
        st = lsuv_pipeline_create(s->device, &desc, texel);
    }
    return st;
}

/* The shape of the work follows the kind of device. A GPU wants wide
 * workgroups and short runs per invocation, so that thousands of
 * workgroups fill it. A CPU (lavapipe) runs a workgroup as a loop over
 * SIMD batches of one subgroup each, every batch to its end before the
 * next: there a workgroup of one subgroup that walks a long contiguous
 * run keeps the loads streaming and pays no barrier hand-offs (measured
 * on a 2-core machine: 8 GB/s against 1.5 GB/s for 256 x 64). */
static void stats_choose_shape(lsuv_stats *s, const lsuv_device_info *info) {
    uint32_t wg = 256;
    if (info->type == LSUV_DEVICE_CPU && info->subgroup_size > 0) {
        wg = info->max_subgroup_size;
        s->reduce_items = 256;
        s->combine_items = 64;
    } else {
        s->reduce_items = 4;
        s->combine_items = 8;
    }
    if (info->max_workgroup_invocations < wg) wg = info->max_workgroup_invocations;
    if (info->max_workgroup_size_x < wg) wg = info->max_workgroup_size_x;
    while (wg > 1 && wg * 16 > info->max_shared_memory) wg /= 2;
    s->workgroup = floor_pow2(wg);
}

/* Texels where asked, or by default on a CPU; an explicit ask the device
 * cannot meet is an error, a default quietly falls back to storage. */
static lsuv_status stats_choose_input(lsuv_stats *s, const lsuv_device_info *info) {
    s->texel = s->options.input == LSUV_STATS_INPUT_TEXEL ||
               (s->options.input == LSUV_STATS_INPUT_AUTO && info->type == LSUV_DEVICE_CPU);
    if (s->texel && !info->texel_vec4) {
        if (s->options.input == LSUV_STATS_INPUT_TEXEL)
            return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                             "%s has no uniform texel buffers of R32G32B32A32_SFLOAT", info->name);
        s->texel = false;
    }
    return LSUV_OK;
}

static lsuv_status stats_create_pipelines(lsuv_stats *s, const lsuv_device_info *info) {
    bool subgroup = !s->options.force_shared && info->full_subgroups && info->subgroup_shuffle &&
                    info->max_subgroup_size > 0 && s->workgroup % info->max_subgroup_size == 0;
    stats_algo algo = s->options.method == LSUV_STATS_WELFORD ? ALGO_WELFORD : ALGO_NAIVE;
    lsuv_status st = reduce_create(s, algo, subgroup, &s->reduce, &s->reduce_texel);
    if (st == LSUV_OK && s->options.method == LSUV_STATS_TWOPASS)
        st = reduce_create(s, ALGO_TWOPASS, subgroup, &s->reduce2, &s->reduce2_texel);
    if (st != LSUV_OK) return st;
    uint32_t spec_combine[] = {s->workgroup, s->combine_items};
    lsuv_pipeline_desc desc = {
        .shader = combine_variants[algo][subgroup],
        .bindings = 2,
        .push_size = sizeof(lsuv_stats_push),
        .spec = spec_combine,
        .spec_count = 2,
        .full_subgroups = subgroup,
    };
    return lsuv_pipeline_create(s->device, &desc, &s->combine);
}

/* A chunk is what one descriptor can bind, less the slack for aligning
 * its offset, in whole workgroups, within the dispatch limit. */
static lsuv_status stats_choose_chunk(lsuv_stats *s, const lsuv_device_info *info) {
    s->align =
        info->min_storage_buffer_offset_alignment ? info->min_storage_buffer_offset_alignment : 4;
    uint64_t range = info->max_storage_buffer_range;
    if (s->texel) {
        if (info->min_texel_buffer_offset_alignment > s->align)
            s->align = info->min_texel_buffer_offset_alignment;
        if ((uint64_t)info->max_texel_buffer_elements * 16 < range)
            range = (uint64_t)info->max_texel_buffer_elements * 16;
    }
    if (s->options.max_chunk_bytes && s->options.max_chunk_bytes < range)
        range = s->options.max_chunk_bytes;
    uint64_t span = (uint64_t)s->workgroup * s->reduce_items * 4;
    uint64_t usable = range > s->align ? (range - s->align) / 4 : 0;
    uint64_t chunk = usable / span * span;
    uint64_t dispatch_limit = (uint64_t)info->max_workgroup_count_x * span;
    if (chunk > dispatch_limit) chunk = dispatch_limit;
    if (chunk > UINT32_MAX / span * span) chunk = UINT32_MAX / span * span;
    if (chunk == 0)
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "a chunk of %llu bytes cannot hold one workgroup's %llu floats",
                         (unsigned long long)range, (unsigned long long)span);
    s->chunk_elements = chunk;
    return LSUV_OK;
}

lsuv_status lsuv_stats_create(lsuv_device *dev, const lsuv_stats_options *options,
                              lsuv_stats **out) {
    *out = NULL;
    lsuv_stats *s = calloc(1, sizeof *s);
    if (!s) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    s->device = dev;
    if (options) s->options = *options;
    const lsuv_device_info *info = lsuv_device_get_info(dev);
    stats_choose_shape(s, info);
    lsuv_status st = stats_choose_input(s, info);
    if (st == LSUV_OK) st = stats_create_pipelines(s, info);
    if (st == LSUV_OK) st = stats_choose_chunk(s, info);
    if (st != LSUV_OK) {
        lsuv_stats_destroy(s);
        return st;
    }
    *out = s;
    return LSUV_OK;
}

void lsuv_stats_destroy(lsuv_stats *s) {
    if (!s) return;
    lsuv_pipeline_destroy(s->reduce);
    lsuv_pipeline_destroy(s->reduce_texel);
    lsuv_pipeline_destroy(s->reduce2);
    lsuv_pipeline_destroy(s->reduce2_texel);
    lsuv_pipeline_destroy(s->combine);
    free(s);
}

/* Points binding 0 of set i at [in_offset, in_offset + in_range) of in, and
 * binding 1 at [out_offset, out_offset + out_range) of out. */
static void write_set(lsuv_binding_set *sets, uint32_t i, const lsuv_buffer *in, uint64_t in_offset,
                      uint64_t in_range, const lsuv_buffer *out, uint64_t out_offset,
                      uint64_t out_range) {
    lsuv_binding_set_write_buffer(sets, i, 0, in, in_offset, in_range);
    lsuv_binding_set_write_buffer(sets, i, 1, out, out_offset, out_range);
}

/* A plan's request and what follows from it, shared by plan_build's steps. */
typedef struct plan_shape {
    const lsuv_buffer *input;
    uint64_t first, count;
    bool merge_only, twopass;
    lsuv_buffer *result;
    uint32_t result_slot;
    uint64_t reduce_span, combine_span; /* what one workgroup reads */
    uint64_t chunks, partials;          /* reduce dispatches, partials they write */
    uint32_t levels, pass_stages;       /* combine levels; stages of one pass */
    uint64_t a_bytes, b_bytes;          /* the two scratch regions */
} plan_shape;

static lsuv_status plan_check_request(const plan_shape *sh) {
    if (sh->count == 0) return lsuv_fail(LSUV_ERROR_INVALID, "statistics of an empty range");
    if (sh->count > UINT32_MAX)
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "statistics of %llu floats: at most 2^32-1 in one range",
                         (unsigned long long)sh->count);
    const uint64_t item = sh->merge_only ? sizeof(partial) : 4;
    const uint64_t items = lsuv_buffer_size(sh->input) / item;
    if (sh->first > items || sh->count > items - sh->first)
        return lsuv_fail(LSUV_ERROR_INVALID, "items %llu..%llu are outside a buffer of %llu",
                         (unsigned long long)sh->first, (unsigned long long)(sh->first + sh->count),
                         (unsigned long long)items);
    if ((uint64_t)(sh->result_slot + 1) * LSUV_STATS_RESULT_BYTES > lsuv_buffer_size(sh->result))
        return lsuv_fail(LSUV_ERROR_INVALID, "result slot %u is outside the result buffer",
                         sh->result_slot);
    return LSUV_OK;
}

/* Inputs of the reduce stage j: whole chunks, the last one what is left. */
static uint64_t plan_chunk_count(const lsuv_stats *s, const plan_shape *sh, uint64_t j) {
    return j + 1 < sh->chunks ? s->chunk_elements : sh->count - j * s->chunk_elements;
}

/* How many reduce dispatches, partials and combine levels; the sizes of the
 * scratch regions: A holds the first pass's partials and every even combine
 * level, B the odd levels. */
static lsuv_status plan_count_stages(const lsuv_stats *s, plan_shape *sh) {
    const lsuv_device_info *info = lsuv_device_get_info(s->device);
    sh->twopass = s->options.method == LSUV_STATS_TWOPASS;
    sh->reduce_span = (uint64_t)s->workgroup * s->reduce_items * 4;
    sh->combine_span = (uint64_t)s->workgroup * s->combine_items;
    sh->chunks = sh->merge_only ? 0 : lsuv_div_up(sh->count, s->chunk_elements);
    sh->partials = sh->merge_only ? sh->count : 0;
    for (uint64_t c = 0; c < sh->chunks; ++c)
        sh->partials += lsuv_div_up(plan_chunk_count(s, sh, c), sh->reduce_span);
    sh->levels = 0;
    for (uint64_t p = sh->partials; p > 1; p = lsuv_div_up(p, sh->combine_span)) ++sh->levels;
    /* One combine moves a lone partial to the result slot: a merge-only plan
     * has no other pass, and a two-pass plan's second reduce must not write
     * the slot it reads the mean from. */
    if ((sh->merge_only || sh->twopass) && sh->levels == 0) sh->levels = 1;
    if (sh->partials * sizeof(partial) > info->max_storage_buffer_range)
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "%llu floats need more partials than one binding holds",
                         (unsigned long long)sh->count);
    sh->pass_stages = (uint32_t)sh->chunks + sh->levels;
    sh->a_bytes = lsuv_align_up(sh->partials * sizeof(partial), s->align);
    sh->b_bytes =
        lsuv_align_up(lsuv_div_up(sh->partials, sh->combine_span) * sizeof(partial), s->align);
    return LSUV_OK;
}

/* Which pipeline each stage runs, and a binding set for each: a chunk holding
 * at least one full workgroup reads texels where the device is set up for
 * them. */
static lsuv_status plan_choose_pipelines(const lsuv_stats *s, const plan_shape *sh,
                                         lsuv_stats_plan *plan) {
    const lsuv_pipeline **layouts = calloc(plan->stage_count, sizeof *layouts);
    if (!layouts) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < plan->stage_count; ++i) {
        uint32_t j = i % sh->pass_stages; /* the stage within its pass */
        bool second = i >= sh->pass_stages;
        bool texel = s->texel && plan_chunk_count(s, sh, j) >= sh->reduce_span;
        const lsuv_pipeline *p = second ? (texel ? s->reduce2_texel : s->reduce2)
                                        : (texel ? s->reduce_texel : s->reduce);
        if (j >= sh->chunks) p = s->combine;
        plan->stages[i].pipeline = layouts[i] = p;
    }
    lsuv_status st = lsuv_binding_set_create_each(layouts, plan->stage_count, &plan->sets);
    free(layouts);
    return st;
}

/* Where a stage writes: a scratch region, or the result slot. */
typedef struct stage_out {
    const lsuv_buffer *buffer;
    uint64_t offset, range;
    uint32_t base;
} stage_out;

/* Reduce stage i (chunk j of its pass) writes its partials after the
 * out_partial ones of the chunks before it. */
static lsuv_status plan_write_reduce(const lsuv_stats *s, const plan_shape *sh,
                                     lsuv_stats_plan *plan, uint32_t i, uint32_t j,
                                     const stage_out *out, uint64_t *out_partial) {
    stage *sg = &plan->stages[i];
    lsuv_status st = LSUV_OK;
    uint64_t start = sh->first + j * s->chunk_elements;
    uint64_t n = plan_chunk_count(s, sh, j);
    uint64_t byte = start * 4, aligned = byte / s->align * s->align;
    write_set(plan->sets, i, sh->input, aligned, byte - aligned + n * 4, out->buffer, out->offset,
              out->range);
    /* The texels: the whole vec4s of the chunk's binding. */
    if (sg->pipeline == s->reduce_texel || sg->pipeline == s->reduce2_texel)
        st = lsuv_binding_set_write_texels(plan->sets, i, 2, sh->input, aligned,
                                           (byte - aligned + n * 4) / 16 * 16, 4);
    if (sg->pipeline == s->reduce2 || sg->pipeline == s->reduce2_texel)
        lsuv_binding_set_write_buffer(plan->sets, i, 3, sh->result, 0, LSUV_WHOLE_SIZE);
    if (j == 0) *out_partial = 0;
    sg->groups = (uint32_t)lsuv_div_up(n, sh->reduce_span);
    sg->push.first = (uint32_t)((byte - aligned) / 4);
    sg->push.count = (uint32_t)n;
    sg->push.out_base = out->base + (uint32_t)*out_partial;
    *out_partial += sg->groups;
    /* The second pass reads the first's result and rewrites its scratch. */
    sg->barrier_before = i > 0 && j == 0;
    return st;
}

/* Combine stage i at level (from 1) folds the out_partial partials the stage
 * before it wrote. Level k reads what level k-1 wrote: A for odd k, B for
 * even; a merge-only plan's first level reads the caller's partials. */
static void plan_write_combine(const plan_shape *sh, lsuv_stats_plan *plan, uint32_t i,
                               uint32_t level, const stage_out *out, uint64_t *out_partial) {
    stage *sg = &plan->stages[i];
    bool external = sh->merge_only && level == 1;
    uint64_t in_offset = external || level % 2 == 1 ? 0 : sh->a_bytes;
    uint64_t in_range = external ? LSUV_WHOLE_SIZE : level % 2 == 1 ? sh->a_bytes : sh->b_bytes;
    uint64_t n = external ? sh->count : *out_partial;
    write_set(plan->sets, i, external ? sh->input : plan->scratch, in_offset, in_range, out->buffer,
              out->offset, out->range);
    sg->groups = (uint32_t)lsuv_div_up(n, sh->combine_span);
    sg->push.first = external ? (uint32_t)sh->first : 0;
    sg->push.count = (uint32_t)n;
    sg->push.out_base = out->base;
    *out_partial = sg->groups;
    sg->barrier_before = true;
}

/* Each stage's bindings, push constants and workgroup count. */
static lsuv_status plan_write_stages(const lsuv_stats *s, const plan_shape *sh,
                                     lsuv_stats_plan *plan) {
    lsuv_status st = LSUV_OK;
    uint64_t out_partial = 0;
    for (uint32_t i = 0; st == LSUV_OK && i < plan->stage_count; ++i) {
        uint32_t j = i % sh->pass_stages;
        bool last = j + 1 == sh->pass_stages;
        bool reduce = j < sh->chunks;
        uint32_t level = reduce ? 0 : j - (uint32_t)sh->chunks + 1; /* 0: the reduce */
        stage_out out = {
            .buffer = last ? sh->result : plan->scratch,
            .offset = last ? 0 : (level % 2 == 0 ? 0 : sh->a_bytes),
            .range = last ? LSUV_WHOLE_SIZE : (level % 2 == 0 ? sh->a_bytes : sh->b_bytes),
            .base = last ? sh->result_slot : 0,
        };
        plan->stages[i].push.shift_slot =
            sh->result_slot; /* read by the second pass's reduce alone */
        if (reduce)
            st = plan_write_reduce(s, sh, plan, i, j, &out, &out_partial);
        else
            plan_write_combine(sh, plan, i, level, &out, &out_partial);
    }
    return st;
}

/* The plan of both kinds: over count floats of input from first, or, with
 * merge_only, over count Partials of input from first that another kernel
 * wrote (then only the combine passes run). A pass is the reduce of every
 * chunk, then the combine levels down to the result slot; the two-pass
 * method runs two, the second reading the first's mean from the result slot
 * and reusing its scratch. */
static lsuv_status plan_build(lsuv_stats *s, const lsuv_buffer *input, uint64_t first,
                              uint64_t count, bool merge_only, lsuv_buffer *result,
                              uint32_t result_slot, lsuv_stats_plan **out) {
    *out = NULL;
    plan_shape sh = {.input = input,
                     .first = first,
                     .count = count,
                     .merge_only = merge_only,
                     .result = result,
                     .result_slot = result_slot};
    lsuv_status st = plan_check_request(&sh);
    if (st == LSUV_OK) st = plan_count_stages(s, &sh);
    if (st != LSUV_OK) return st;

    lsuv_stats_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    plan->stats = s;
    plan->stage_count = (sh.twopass ? 2 : 1) * sh.pass_stages;
    plan->stages = calloc(plan->stage_count, sizeof *plan->stages);
    st = plan->stages ? LSUV_OK : lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (st == LSUV_OK && (merge_only ? sh.levels > 1 : sh.levels > 0))
        st = lsuv_buffer_create(s->device, sh.a_bytes + sh.b_bytes, &plan->scratch);
    if (st == LSUV_OK) st = plan_choose_pipelines(s, &sh, plan);
    if (st == LSUV_OK) st = plan_write_stages(s, &sh, plan);
    if (st != LSUV_OK) {
        lsuv_stats_plan_destroy(plan);
        return st;
    }
    *out = plan;
    return LSUV_OK;
}

lsuv_status lsuv_stats_plan_create(lsuv_stats *s, const lsuv_buffer *input, uint64_t first,
                                   uint64_t count, lsuv_buffer *result, uint32_t result_slot,
                                   lsuv_stats_plan **out) {
    return plan_build(s, input, first, count, false, result, result_slot, out);
}

lsuv_status lsuv_stats_plan_create_merge(lsuv_stats *s, const lsuv_buffer *partials, uint64_t first,
                                         uint64_t count, lsuv_buffer *result, uint32_t result_slot,
                                         lsuv_stats_plan **out) {
    *out = NULL;
    if (s->options.method == LSUV_STATS_TWOPASS)
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "two-pass statistics cannot merge partials: their second pass reads "
                         "the input again, and a merge has only the partials");
    return plan_build(s, partials, first, count, true, result, result_slot, out);
}

void lsuv_stats_plan_destroy(lsuv_stats_plan *plan) {
    if (!plan) return;
    lsuv_binding_set_destroy(plan->sets);
    lsuv_buffer_destroy(plan->scratch);
    free(plan->stages);
    free(plan);
}

uint32_t lsuv_stats_plan_dispatches(const lsuv_stats_plan *plan) {
    return plan->stage_count;
}

static void plan_record(const lsuv_stats_plan *plan, lsuv_cmd *cmd, const lsuv_buffer *args,
                        uint64_t offset) {
    /* Earlier work may have written the input, or still be reading the
     * scratch from the last recording of this plan. */
    lsuv_cmd_barrier(cmd);
    for (uint32_t i = 0; i < plan->stage_count; ++i) {
        const stage *sg = &plan->stages[i];
        if (sg->barrier_before) lsuv_cmd_barrier(cmd);
        if (args) {
            lsuv_cmd_record_dispatch_indirect(cmd, sg->pipeline, plan->sets, i, &sg->push,
                                              sizeof sg->push, args, offset + 12ull * i);
        } else {
            const uint32_t groups[3] = {sg->groups, 1, 1};
            lsuv_cmd_record_dispatch(cmd, sg->pipeline, plan->sets, i, &sg->push, sizeof sg->push,
                                     groups);
        }
    }
}

void lsuv_stats_plan_record(const lsuv_stats_plan *plan, lsuv_cmd *cmd) {
    plan_record(plan, cmd, NULL, 0);
}

void lsuv_stats_plan_record_indirect(const lsuv_stats_plan *plan, lsuv_cmd *cmd,
                                     const lsuv_buffer *args, uint64_t offset) {
    plan_record(plan, cmd, args, offset);
}

void lsuv_stats_plan_groups(const lsuv_stats_plan *plan, uint32_t *out) {
    for (uint32_t i = 0; i < plan->stage_count; ++i) {
        out[3 * i] = plan->stages[i].groups;
        out[3 * i + 1] = out[3 * i + 2] = 1;
    }
}

lsuv_status lsuv_stats_result_read(const lsuv_stats *s, const lsuv_buffer *result, uint32_t slot,
                                   lsuv_moments *out) {
    partial p;
    lsuv_status st = lsuv_buffer_read(result, (uint64_t)slot * sizeof p, &p, sizeof p);
    if (st != LSUV_OK) return st;
    out->count = p.n;
    out->nonfinite = p.nonfinite;
    if (p.nonfinite || p.n == 0) {
        out->mean = out->std = out->std_population = NAN;
        return LSUV_OK;
    }
    double n = p.n, mean, m2;
    if (s->options.method == LSUV_STATS_WELFORD) {
        mean = (double)p.shift + p.mean;
        m2 = p.m2;
    } else {
        /* Sums of d = x - shift (shift 0 for the naive method): the mean is
         * shift + sum d / n, and m2 = sum d^2 - (sum d)^2 / n, which for the
         * two-pass method is the corrected formula of Chan, Golub & LeVeque. */
        mean = (double)p.shift + p.mean / n;
        m2 = p.m2 - (double)p.mean * p.mean / n;
        if (m2 < 0.0) m2 = 0.0;
    }
    out->mean = mean;
    out->std_population = sqrt(m2 / n);
    out->std = p.n > 1 ? sqrt(m2 / (n - 1.0)) : NAN;
    return LSUV_OK;
}

lsuv_status lsuv_stats_compute(lsuv_stats *s, const lsuv_buffer *input, uint64_t first,
                               uint64_t count, lsuv_moments *out) {
    lsuv_buffer *result = NULL;
    lsuv_stats_plan *plan = NULL;
    lsuv_cmd *cmd = NULL;
    lsuv_status st = lsuv_buffer_create(s->device, LSUV_STATS_RESULT_BYTES, &result);
    if (st == LSUV_OK) st = lsuv_stats_plan_create(s, input, first, count, result, 0, &plan);
    if (st == LSUV_OK) st = lsuv_cmd_begin(s->device, &cmd);
    if (st == LSUV_OK) {
        lsuv_stats_plan_record(plan, cmd);
        st = lsuv_cmd_submit(cmd);
    }
    if (st == LSUV_OK) st = lsuv_stats_result_read(s, result, 0, out);
    lsuv_cmd_destroy(cmd);
    lsuv_stats_plan_destroy(plan);
    lsuv_buffer_destroy(result);
    return st;
}
