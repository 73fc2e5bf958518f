/* Internal to src/ops: the layers of darknet's graphs that graph.comp runs
 * (route, shortcut, upsample, reorg). A layer's output stays on the device
 * until its last reader has run (ops/memory.h). */
#ifndef LSUV_OPS_GRAPH_OPS_H
#define LSUV_OPS_GRAPH_OPS_H

#include "ops/plan.h"

/* Whether graph.comp runs the layer. */
bool graph_op_runs(const lsuv_layer *l);
/* The pipeline those layers share (f->graph), made only for networks that
 * have one: lavapipe spends most of a run building pipelines. */
lsuv_status graph_pipeline_create(lsuv_forward *f);
/* Layer i's dispatches: a chunk of samples each, and for a route one per
 * input in each chunk. */
lsuv_status graph_layer_create(lsuv_forward *f, uint32_t i);

#endif
