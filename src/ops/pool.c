/* maxpool, avgpool and crop: pool.comp, an invocation per output value. */
#include "ops/pool.h"

#include "contract.h"

#include <string.h>

enum { POOL_PUSH_WORDS = sizeof(lsuv_pool_push) / 4 };

lsuv_status pool_pipeline_create(lsuv_forward *f) {
    uint32_t spec[] = {f->cfg.pool_wg};
    lsuv_pipeline_desc desc = {.shader = f->cfg.fp16 ? LSUV_SHADER_POOL_FP16 : LSUV_SHADER_POOL,
                               .bindings = 2,
                               .push_size = POOL_PUSH_WORDS * 4,
                               .spec = spec,
                               .spec_count = 1};
    return lsuv_pipeline_create(f->device, &desc, &f->pool);
}

lsuv_status pool_layer_create(lsuv_forward *f, uint32_t i) {
    const lsuv_layer *l = &f->net->layers[i];
    const forward_config *c = &f->cfg;
    layer_plan *lp = &f->layers[i];
    uint32_t samples;
    lsuv_status s = ops_samples_per_chunk(c, l, &samples);
    if (s != LSUV_OK) return s;
    lp->n_dispatches = (uint32_t)lsuv_div_up(c->batch, samples);
    if ((s = ops_alloc_dispatches(lp->n_dispatches, f->pool, &lp->sets, &lp->dispatches)) !=
        LSUV_OK)
        return s;
    uint32_t mode = l->type == LSUV_LAYER_MAXPOOL   ? LSUV_C_POOL_MAXPOOL
                    : l->type == LSUV_LAYER_AVGPOOL ? LSUV_C_POOL_AVGPOOL
                    : l->crop_noadjust              ? LSUV_C_POOL_CROP
                                                    : LSUV_C_POOL_CROP_SCALE;
    for (uint32_t d = 0; d < lp->n_dispatches; ++d) {
        dispatch *dp = &lp->dispatches[d];
        uint32_t n0 = d * samples, n = c->batch - n0 < samples ? c->batch - n0 : samples;
        uint32_t in_off =
            ops_bind_floats(c, lp->sets, d, 0, layer_input(f, i), (uint64_t)n0 * shape_count(l->in),
                            (uint64_t)n * shape_count(l->in));
        uint32_t out_off =
            ops_bind_floats(c, lp->sets, d, 1, lp->out, (uint64_t)n0 * shape_count(l->out),
                            (uint64_t)n * shape_count(l->out));
        lsuv_pool_push push = {.mode = mode,
                               .n = n,
                               .c = l->in.c,
                               .h = l->in.h,
                               .w = l->in.w,
                               .oh = l->out.h,
                               .ow = l->out.w,
                               .size = l->size,
                               .stride = l->stride,
                               .padding = l->padding,
                               .in_off = in_off,
                               .out_off = out_off};
        memcpy(dp->push, &push, sizeof push);
        dp->push_words = POOL_PUSH_WORDS;
        uint64_t groups = lsuv_div_up((uint64_t)n * shape_count(l->out), c->pool_wg);
        dp->groups[0] = groups < 65535 ? (uint32_t)groups : 65535;
        dp->groups[1] = (uint32_t)lsuv_div_up(groups, dp->groups[0]);
        dp->groups[2] = 1;
    }
    return LSUV_OK;
}
