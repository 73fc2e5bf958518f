/* Internal to src/ops: batch norm with the batch's statistics (--bn batch),
 * bn_batch.comp over a layer's sums. The layer's convolution then stores its
 * sums alone (linear, bias 0, sub 0, no clamp); this op normalizes each
 * channel with the batch's mean and variance, scales, adds the bias and
 * applies the activation, sub and maxv in place. fp32 only. */
#ifndef LSUV_OPS_BN_BATCH_H
#define LSUV_OPS_BN_BATCH_H

#include "lsuv/weights.h"
#include "ops/plan.h"

/* Whether layer i's convolution stores its bare sums for this op. */
static inline bool bn_batch_raw(const lsuv_layer *l) {
    return l->batch_normalize && l->bn_batch;
}

/* The op of layer i (lp->out made already); its scales and bias from p. */
lsuv_status bn_batch_create(lsuv_forward *f, uint32_t i, const lsuv_layer_params *p);
/* Writes p's scales and bias to the op's buffers (a forward's reset). */
lsuv_status bn_batch_upload(layer_plan *lp, const lsuv_layer_params *p);
void bn_batch_record(const layer_plan *lp, lsuv_cmd *cmd);
void bn_batch_destroy(layer_plan *lp);

#endif
