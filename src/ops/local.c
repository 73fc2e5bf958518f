/* Locally connected layers: local.comp, an invocation per output value.
 * Their weights are uploaded as darknet orders them (nothing packs them:
 * each is read once per sample, so no tiling would reuse them), and LSUV
 * leaves them alone, so none of the convolution's fused statistics apply:
 * their statistics are taken from the output, as for layers without
 * weights. */
#include "ops/local.h"

#include "contract.h"
#include "core/error.h"
#include "ops/bn_fold.h"

#include <string.h>

enum { LOCAL_PUSH_WORDS = sizeof(lsuv_local_push) / 4 };
_Static_assert(sizeof(lsuv_local_push) <= DISPATCH_PUSH_MAX * 4, "local push exceeds a dispatch");

static lsuv_status local_pipeline(lsuv_forward *f) {
    if (f->local) return LSUV_OK;
    uint32_t spec[] = {f->cfg.pool_wg};
    lsuv_pipeline_desc desc = {.shader = f->cfg.fp16 ? LSUV_SHADER_LOCAL_FP16 : LSUV_SHADER_LOCAL,
                               .bindings = 4,
                               .push_size = LOCAL_PUSH_WORDS * 4,
                               .spec = spec,
                               .spec_count = 1};
    return lsuv_pipeline_create(f->device, &desc, &f->local);
}

static void fill(lsuv_forward *f, uint32_t i, uint32_t d, uint32_t n0, uint32_t n) {
    const lsuv_layer *l = &f->net->layers[i];
    const forward_config *c = &f->cfg;
    layer_plan *lp = &f->layers[i];
    dispatch *dp = &lp->dispatches[d];
    uint64_t in = shape_count(l->in), out = shape_count(l->out);
    lsuv_local_push p = {.n = n,
                         .c = l->in.c,
                         .h = l->in.h,
                         .w = l->in.w,
                         .oc = l->out.c,
                         .oh = l->out.h,
                         .ow = l->out.w,
                         .size = l->size,
                         .stride = l->stride,
                         .padding = l->padding,
                         .act = (uint32_t)l->activation,
                         .slope = l->slope};
    p.in_off = ops_bind_floats(c, lp->sets, d, 0, layer_input(f, i), n0 * in, n * in);
    ops_bind_floats(c, lp->sets, d, 1, lp->weights, 0, lsuv_layer_weight_count(l));
    ops_bind(lp->sets, d, 2, lp->bias);
    p.out_off = ops_bind_floats(c, lp->sets, d, 3, lp->out, n0 * out, n * out);
    memcpy(dp->push, &p, sizeof p);
    dp->push_words = LOCAL_PUSH_WORDS;
    uint64_t groups = lsuv_div_up((uint64_t)n * out, c->pool_wg);
    dp->groups[0] = groups < 65535 ? (uint32_t)groups : 65535;
    dp->groups[1] = (uint32_t)lsuv_div_up(groups, dp->groups[0]);
    dp->groups[2] = 1;
}

lsuv_status local_layer_create(lsuv_forward *f, uint32_t i, const lsuv_layer_params *params) {
    const lsuv_layer *l = &f->net->layers[i];
    const forward_config *c = &f->cfg;
    layer_plan *lp = &f->layers[i];
    uint64_t bytes = lsuv_layer_weight_count(l) * c->es;
    if (bytes > c->range)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u (local): its %llu bytes of weights exceed the device's binding "
                         "of %llu bytes",
                         i, (unsigned long long)bytes, (unsigned long long)c->range);
    uint32_t samples;
    lsuv_status s = local_pipeline(f);
    if (s == LSUV_OK) s = ops_samples_per_chunk(c, l, &samples);
    if (s == LSUV_OK) s = bn_layer_upload(f, lp, l, params); /* weights and bias */
    if (s != LSUV_OK) return s;
    uint32_t chunks = (uint32_t)lsuv_div_up(c->batch, samples);
    lp->n_dispatches = chunks;
    s = ops_alloc_dispatches(chunks, f->local, &lp->sets, &lp->dispatches);
    for (uint32_t d = 0; s == LSUV_OK && d < chunks; ++d) {
        uint32_t n0 = d * samples;
        fill(f, i, d, n0, c->batch - n0 < samples ? c->batch - n0 : samples);
    }
    return s;
}
