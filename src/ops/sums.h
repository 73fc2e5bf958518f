/* Internal: a layer with weights recorded in parts, for a client that runs
 * its epilogue many times over one convolution (LSUV's passes, src/lsuv/).
 * The convolution keeps its sums (W x, before bias, the layer's state and
 * its activation) in a buffer the client owns; the epilogue makes the
 * layer's output, or only its statistics, from them with a state buffer
 * {sub, wscale, bshift, bscale}. Both write the layer's statistics into its
 * slot of the forward's results. */
#ifndef LSUV_OPS_SUMS_H
#define LSUV_OPS_SUMS_H

#include "lsuv/forward.h"

lsuv_device *forward_device(const lsuv_forward *forward);
/* A recording wrote the layer's output: earlier outputs whose memory it
 * took can no longer be read (lsuv_forward_read). */
void forward_note_written(lsuv_forward *forward, uint32_t layer);
/* A statistics slot per layer (slot = layer index). */
lsuv_buffer *forward_results(const lsuv_forward *forward);
/* The state the layer's kernels apply, {sub, wscale, bshift, bscale}: the
 * forward makes it from the weights (lsuv_forward_create, _reset) and folds
 * it into what lsuv_forward_weights_read returns. */
lsuv_buffer *forward_state(const lsuv_forward *forward, uint32_t layer);
/* A layer's biases, as uploaded (the state scales and shifts them). */
lsuv_buffer *forward_bias(const lsuv_forward *forward, uint32_t layer);
/* The statistics pipelines, to read moments from a result buffer. */
const lsuv_stats *forward_stats(const lsuv_forward *forward);
/* Host-visible and host-coherent, a float per layer: the sub of each layer
 * with weights as its state holds it, where the host wrote it (create,
 * reset) and a client that changes a state copies it, so the host reads
 * the subs from mapped memory with no staging copy or submission. */
lsuv_buffer *forward_subs(const lsuv_forward *forward);

/* A client's object kept with the forward and destroyed first with it: LSUV's
 * passes are made once per forward, not per run (made per run, their fresh
 * sums buffers cost fastai's std-first 15% of its GPU time on lavapipe). */
void *forward_client(const lsuv_forward *forward);
void forward_set_client(lsuv_forward *forward, void *client, void (*destroy)(void *client));

/* From now on layer's convolution can store its sums, as fp32, in sums
 * (batch x its outputs, from float index first), and its pipeline for that
 * is built, its statistics those of what measure (LSUV_C_MEASURE_*) names;
 * conv only on a layer with inference batch norm. Until forward_drop_sums,
 * sums must outlive the forward's recordings. */
lsuv_status forward_keep_sums(lsuv_forward *forward, uint32_t layer, const lsuv_buffer *sums,
                              uint64_t first, uint32_t measure);
void forward_drop_sums(lsuv_forward *forward, uint32_t layer);
/* Records the layer's convolution, storing its sums, with its fused
 * statistics as partials. */
void forward_record_sums(lsuv_forward *forward, lsuv_cmd *cmd, uint32_t layer);
/* Records the merge of the layer's partials into its statistics slot. */
void forward_record_layer_stats(lsuv_forward *forward, lsuv_cmd *cmd, uint32_t layer);

/* The epilogue over a layer's kept sums with a state buffer: its dispatches,
 * a chunk of samples each, with the merge of their statistics (of what
 * measure, LSUV_C_MEASURE_*, names) into the layer's slot. */
typedef struct ops_epilogue ops_epilogue;
lsuv_status ops_epilogue_create(lsuv_forward *forward, uint32_t layer, const lsuv_buffer *sums,
                                const lsuv_buffer *state, uint32_t measure, ops_epilogue **out);
void ops_epilogue_destroy(ops_epilogue *epilogue);
/* Dispatches it records for its statistics (its own and the merge's); with
 * grid, their group counts, three words each, in that order. */
uint32_t ops_epilogue_groups(const ops_epilogue *epilogue, uint32_t *grid);
/* Records its statistics, the group counts read from args at offset (as
 * ops_epilogue_groups lays them out): a dispatch with zero groups is skipped. */
void ops_epilogue_record_stats(const ops_epilogue *epilogue, lsuv_cmd *cmd, const lsuv_buffer *args,
                               uint64_t offset);
/* Records the layer's output: the same bits as its whole forward. */
void ops_epilogue_record_store(const ops_epilogue *epilogue, lsuv_cmd *cmd);
/* Records its statistics with every group dispatched: the indirect
 * recording, from arguments it makes on first use. */
lsuv_status ops_epilogue_record_stats_all(ops_epilogue *epilogue, lsuv_cmd *cmd);

#endif
