/* Internal to src/ops: the layers without weights that pool.comp runs
 * (maxpool, avgpool, crop). */
#ifndef LSUV_OPS_POOL_H
#define LSUV_OPS_POOL_H

#include "ops/plan.h"

/* The pipeline every such layer shares (f->pool). */
lsuv_status pool_pipeline_create(lsuv_forward *f);
/* Layer i's dispatches, a chunk of samples each. */
lsuv_status pool_layer_create(lsuv_forward *f, uint32_t i);

#endif
