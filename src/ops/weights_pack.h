/* Internal to src/ops: a layer's weights as its kernel reads them, and back.
 * Packed weights are laid out by channel tile, [tile][ky][kx][ci, padded to
 * the kernel's CI_T][channel in tile], so a workgroup reads one tile's
 * contiguously; unpacked ones are darknet's [o][ci][ky][kx]. */
#ifndef LSUV_OPS_WEIGHTS_PACK_H
#define LSUV_OPS_WEIGHTS_PACK_H

#include "ops/plan.h"

/* Kernel taps of a layer with weights: a connected layer has one. */
uint64_t weights_taps(const lsuv_layer *l);

/* Weights of one output channel when packed: each tap's channels padded to
 * a multiple of ci_t with zeros. */
uint64_t weights_packed_fan_in(const lsuv_layer *l, uint32_t ci_t);

/* Uploads a layer's weights: as they are, or packed when lp->packed_tile is
 * set. The buffer is made on the first upload and rewritten by later ones. */
lsuv_status weights_pack_upload(lsuv_forward *f, layer_plan *lp, const lsuv_layer *l,
                                const float *weight);

/* The inverse: the weights on the device, in darknet's order, into weight
 * (fan-in times output channels floats). */
lsuv_status weights_unpack_download(const lsuv_forward *f, const layer_plan *lp,
                                    const lsuv_layer *l, float *weight);

#endif
