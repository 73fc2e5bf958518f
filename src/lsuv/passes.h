/* Internal to src/lsuv: LSUV's passes over a layer. Its convolution runs
 * once, keeping its sums; each pass takes the statistics of the epilogue
 * over them with the layer's current state, the group counts read from
 * indirect arguments that the device zeroes when the layer is done; the
 * epilogue's outputs are stored once, the next layer's input. */
#ifndef LSUV_LSUV_PASSES_H
#define LSUV_LSUV_PASSES_H

#include "lsuv/lsuv.h"

typedef struct lsuv_passes lsuv_passes;

/* The forward's passes for every layer with weights and LSUV on, their
 * statistics where measure (resolved per layer) says: made on the first run
 * and kept with the forward (forward_set_client), made anew when a run
 * measures elsewhere than the last. The forward owns them. */
lsuv_status passes_get(lsuv_forward *forward, lsuv_measure measure, lsuv_passes **out);

/* Binds the kept passes' sums to their layers again (when the forward holds
 * passes), after another client of forward_keep_sums (lsuv_network_measure)
 * bound its own and dropped them. */
void passes_keep_again(lsuv_forward *forward);

/* The first pass: the convolution, storing its sums, with the statistics of
 * its outputs merged into the layer's result slot; it also copies the
 * argument template of the later passes over their active copy, so they
 * dispatch. */
void passes_record_first(const lsuv_passes *passes, lsuv_cmd *cmd, uint32_t layer);
/* A later pass, from the sums, indirect (from the active copy). */
void passes_record(const lsuv_passes *passes, lsuv_cmd *cmd, uint32_t layer);
/* Stores the epilogue's outputs with the layer's current state: the same
 * bits as the layer's whole forward. */
void passes_record_store(const lsuv_passes *passes, lsuv_cmd *cmd, uint32_t layer);

/* The layer's indirect arguments: the template, then the active copy, of
 * args_words words each; the last three words of each are the step's (one
 * group), at passes_step_args in the active copy. */
lsuv_buffer *passes_args(const lsuv_passes *passes, uint32_t layer);
uint64_t passes_step_args(const lsuv_passes *passes, uint32_t layer);
uint32_t passes_args_words(const lsuv_passes *passes, uint32_t layer);

#endif
