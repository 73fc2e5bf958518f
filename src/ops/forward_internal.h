/* Internal: what the LSUV engine records around a layer's forward pass. */
#ifndef LSUV_OPS_FORWARD_INTERNAL_H
#define LSUV_OPS_FORWARD_INTERNAL_H

#include "lsuv/forward.h"

/* Makes what LSUV's passes need, for every layer with weights and LSUV on:
 * a buffer for a layer's sums (W x, which no step of LSUV changes), and the
 * epilogue that makes a pass's output from them. Once per forward. */
lsuv_status forward_prepare_passes(lsuv_forward *forward);

/* A layer's first statistics pass: its convolution, storing its sums, with
 * the statistics of its outputs merged into the layer's result slot. It
 * also copies the argument template of the later passes over their active
 * copy, so they dispatch. */
void forward_record_first_pass(lsuv_forward *forward, lsuv_cmd *cmd, uint32_t layer);

/* A later statistics pass of a layer, from its sums: the statistics of the
 * epilogue's outputs with the layer's current state, indirect (from the
 * active copy of its arguments, which the device zeroes when the layer is
 * done), merged into the layer's result slot. */
void forward_record_pass(lsuv_forward *forward, lsuv_cmd *cmd, uint32_t layer);

/* Stores the epilogue's outputs with the layer's current state: the same
 * bits as the layer's whole forward, the next layer's input. */
void forward_record_store(lsuv_forward *forward, lsuv_cmd *cmd, uint32_t layer);

lsuv_buffer *forward_state(const lsuv_forward *forward, uint32_t layer);
lsuv_buffer *forward_args(const lsuv_forward *forward, uint32_t layer);
uint32_t forward_args_words(const lsuv_forward *forward, uint32_t layer);
/* A statistics slot per layer (slot = layer index). */
lsuv_buffer *forward_results(const lsuv_forward *forward);
lsuv_device *forward_device(const lsuv_forward *forward);

#endif
