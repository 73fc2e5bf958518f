/* Internal to src/ops: darknet's locally connected layers (local.comp). */
#ifndef LSUV_OPS_LOCAL_H
#define LSUV_OPS_LOCAL_H

#include "ops/plan.h"

/* Layer i's weights, as given, and its dispatches, a chunk of samples
 * each; the pipeline (f->local) is made with the first such layer. */
lsuv_status local_layer_create(lsuv_forward *f, uint32_t i, const lsuv_layer_params *params);

#endif
