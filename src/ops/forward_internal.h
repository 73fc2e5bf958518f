/* Internal: what the LSUV engine records around a layer's forward pass. */
#ifndef LSUV_OPS_FORWARD_INTERNAL_H
#define LSUV_OPS_FORWARD_INTERNAL_H

#include "lsuv/forward.h"

/* One statistics pass of a layer with weights: its dispatches, indirect
 * (from the active copy of its arguments, which the device may zero), with
 * fused statistics, then their merge into the layer's result slot. */
void forward_record_pass(lsuv_forward *forward, lsuv_cmd *cmd, uint32_t layer);

/* Copies the layer's argument template over the active copy, so its next
 * passes dispatch again. */
void forward_record_arm(lsuv_forward *forward, lsuv_cmd *cmd, uint32_t layer);

lsuv_buffer *forward_state(const lsuv_forward *forward, uint32_t layer);
lsuv_buffer *forward_args(const lsuv_forward *forward, uint32_t layer);
uint32_t forward_args_words(const lsuv_forward *forward, uint32_t layer);
/* A statistics slot per layer (slot = layer index). */
lsuv_buffer *forward_results(const lsuv_forward *forward);
lsuv_device *forward_device(const lsuv_forward *forward);

#endif
