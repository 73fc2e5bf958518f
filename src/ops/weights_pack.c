/* A layer's weights as its kernel reads them (see weights_pack.h), and back. */
#include "ops/weights_pack.h"

#include "core/error.h"

#include <stdlib.h>

uint64_t weights_taps(const lsuv_layer *l) {
    return l->type == LSUV_LAYER_CONVOLUTIONAL ? (uint64_t)l->size * l->size : 1;
}

uint64_t weights_packed_fan_in(const lsuv_layer *l, uint32_t ci_t) {
    uint64_t taps = weights_taps(l);
    return taps * lsuv_div_up(lsuv_layer_fan_in(l) / taps, ci_t) * ci_t;
}

/* Where weight r (darknet's [ci][ky][kx] order) of output channel o lies in
 * weights packed by channel tile. */
static uint64_t packed_index(const lsuv_layer *l, uint32_t tile, uint32_t ci_t, uint32_t o,
                             uint64_t r) {
    uint64_t taps = weights_taps(l), ci_pad = weights_packed_fan_in(l, ci_t) / taps;
    return (((uint64_t)(o / tile) * taps + r % taps) * ci_pad + r / taps) * tile + o % tile;
}

/* The floats a layer's weights take on the device. */
static uint64_t device_weight_count(const lsuv_layer *l, const layer_plan *lp) {
    uint32_t oc = lsuv_layer_bias_count(l), tile = lp->packed_tile;
    return tile ? lsuv_div_up(oc, tile) * tile * weights_packed_fan_in(l, lp->ci_t)
                : lsuv_layer_fan_in(l) * oc;
}

lsuv_status weights_pack_upload(lsuv_forward *f, layer_plan *lp, const lsuv_layer *l,
                                const float *weight) {
    uint32_t oc = lsuv_layer_bias_count(l), tile = lp->packed_tile;
    uint64_t per_oc = lsuv_layer_fan_in(l);
    uint64_t count = device_weight_count(l, lp);
    /* Room after the last weight for a uniform binding's whole vec4. */
    lsuv_status s =
        lp->weights ? LSUV_OK : lsuv_buffer_create(f->device, count * f->cfg.es + 16, &lp->weights);
    if (s != LSUV_OK || !tile)
        return s == LSUV_OK ? ops_upload_values(&f->cfg, lp->weights, weight, count) : s;
    float *packed = calloc(count, sizeof *packed);
    if (!packed) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t o = 0; o < oc; ++o)
        for (uint64_t r = 0; r < per_oc; ++r)
            packed[packed_index(l, tile, lp->ci_t, o, r)] = weight[o * per_oc + r];
    s = lsuv_buffer_write(lp->weights, 0, packed, count * 4);
    free(packed);
    return s;
}

lsuv_status weights_unpack_download(const lsuv_forward *f, const layer_plan *lp,
                                    const lsuv_layer *l, float *weight) {
    uint32_t oc = lsuv_layer_bias_count(l), tile = lp->packed_tile;
    uint64_t per_oc = lsuv_layer_fan_in(l);
    uint64_t count = device_weight_count(l, lp);
    float *raw = malloc(count * sizeof *raw);
    if (!raw) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_status s = ops_download_values(&f->cfg, lp->weights, raw, count);
    for (uint32_t o = 0; s == LSUV_OK && o < oc; ++o)
        for (uint64_t r = 0; r < per_oc; ++r)
            weight[o * per_oc + r] =
                tile ? raw[packed_index(l, tile, lp->ci_t, o, r)] : raw[o * per_oc + r];
    free(raw);
    return s;
}
