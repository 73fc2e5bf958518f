/* --bn batch on the device: bn_batch.comp, a workgroup per output channel
 * (see ops/bn_batch.h). */
#include "ops/bn_batch.h"

#include "contract.h"
#include "core/error.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { BN_PUSH_WORDS = sizeof(lsuv_bn_push) / 4, BN_WG = 128 /* Vulkan's least maximum */ };

static lsuv_status bn_pipeline(lsuv_forward *f, lsuv_activation act, const lsuv_pipeline **out) {
    lsuv_pipeline **p = &f->bn_batch[act];
    lsuv_status s = LSUV_OK;
    if (!*p) {
        uint32_t spec[] = {BN_WG, act};
        lsuv_pipeline_desc desc = {.shader = LSUV_SHADER_BN_BATCH,
                                   .bindings = 3,
                                   .push_size = BN_PUSH_WORDS * 4,
                                   .spec = spec,
                                   .spec_count = 2};
        s = lsuv_pipeline_create(f->device, &desc, p);
    }
    *out = *p;
    return s;
}

lsuv_status bn_batch_upload(layer_plan *lp, const lsuv_layer_params *p) {
    if (lp->bn_dispatch) /* made: its sub may have changed */
        memcpy(lp->bn_dispatch->push + offsetof(lsuv_bn_push, sub) / 4, &p->sub, 4);
    lsuv_status s = lsuv_buffer_write(lp->bn_bias, 0, p->bias, p->bias_count * 4);
    return s == LSUV_OK ? lsuv_buffer_write(lp->bn_scales, 0, p->scales, p->bias_count * 4) : s;
}

lsuv_status bn_batch_create(lsuv_forward *f, uint32_t i, const lsuv_layer_params *p) {
    const lsuv_layer *l = &f->net->layers[i];
    layer_plan *lp = &f->layers[i];
    const forward_config *c = &f->cfg;
    if (c->fp16)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "layer %u (%s): --bn batch runs in fp32 only; its statistics would "
                         "read fp16 sums",
                         i, lsuv_layer_type_name(l->type));
    const lsuv_pipeline *pipe;
    uint32_t oc = lsuv_layer_bias_count(l);
    lsuv_status s = bn_pipeline(f, l->activation, &pipe);
    if (s == LSUV_OK) s = lsuv_buffer_create(f->device, oc * 4ull, &lp->bn_bias);
    if (s == LSUV_OK) s = lsuv_buffer_create(f->device, oc * 4ull, &lp->bn_scales);
    if (s == LSUV_OK) s = bn_batch_upload(lp, p);
    if (s == LSUV_OK) s = ops_alloc_dispatches(1, pipe, &lp->bn_sets, &lp->bn_dispatch);
    if (s != LSUV_OK) return s;
    dispatch *dp = lp->bn_dispatch;
    uint32_t plane = l->out.h * l->out.w;
    uint32_t off =
        ops_bind_floats(c, lp->bn_sets, 0, 0, lp->out, 0, (uint64_t)c->batch * shape_count(l->out));
    ops_bind(lp->bn_sets, 0, 1, lp->bn_bias);
    ops_bind(lp->bn_sets, 0, 2, lp->bn_scales);
    lsuv_bn_push push = {.n = c->batch,
                         .oc = oc,
                         .plane = plane,
                         .off = off,
                         .slope = l->slope,
                         .maxv = l->maxv,
                         .sub = p->sub};
    memcpy(dp->push, &push, sizeof push);
    dp->push_words = BN_PUSH_WORDS;
    dp->groups[0] = oc < c->max_groups_x ? oc : c->max_groups_x;
    dp->groups[1] = (uint32_t)lsuv_div_up(oc, dp->groups[0]);
    dp->groups[2] = 1;
    return LSUV_OK;
}

void bn_batch_record(const layer_plan *lp, lsuv_cmd *cmd) {
    if (!lp->bn_dispatch) return;
    lsuv_cmd_barrier(cmd);
    ops_record_dispatches(cmd, lp->bn_dispatch, lp->bn_sets, 1, NULL, false, NULL, 0);
}

void bn_batch_destroy(layer_plan *lp) {
    lsuv_buffer_destroy(lp->bn_bias);
    lsuv_buffer_destroy(lp->bn_scales);
    lsuv_binding_set_destroy(lp->bn_sets);
    free(lp->bn_dispatch);
}
