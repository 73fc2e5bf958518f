/* Internal to src/ops: where each layer's output lives in the forward's
 * block of activations. An output is placed for its lifetime, from its layer
 * to the last layer that reads it (directly or through layers that pass
 * their input on unchanged); outputs whose lifetimes do not overlap share
 * bytes. The layers run in index order, in a forward as in LSUV, which
 * runs each layer's passes where the forward would run it: a layer's inputs
 * are then still live, as it reads them. */
#ifndef LSUV_OPS_MEMORY_H
#define LSUV_OPS_MEMORY_H

#include "lsuv/forward.h"

/* Every placement's offset and size are multiples of this, which meets
 * every device's alignment for a buffer of its own. */
enum { MEMORY_ALIGN = 256 };

typedef struct memory_plan {
    /* Per layer: the layer whose buffer holds its output, itself unless it
     * passes its input on (memory_passes_input), LSUV_NET_INPUT for the
     * network's input. */
    int32_t *owner;
    uint64_t *offset, *size; /* per owning layer: its bytes in the block */
    uint32_t *last;          /* per owning layer: its last reader; n_layers: kept to the end */
    uint64_t block;          /* bytes of the block */
    uint64_t live;           /* the most bytes of outputs live at once */
} memory_plan;

/* Layers whose output is their input: dropout, softmax, cost, the heads. */
bool memory_passes_input(const lsuv_layer *l);

/* With keep, every output lives to the end. */
lsuv_status memory_plan_make(const lsuv_net *net, uint32_t batch, uint32_t es, bool keep,
                             memory_plan *out);
void memory_plan_free(memory_plan *plan);
/* Whether owner o's bytes were given to a layer after its last reader, up
 * to layer `written`: which one, else -1. */
int32_t memory_reused_by(const memory_plan *plan, uint32_t n_layers, int32_t o, uint32_t written);

#endif
