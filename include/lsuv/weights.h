/* The parameters of a network: per layer with weights, a weight tensor, a
 * bias vector and the scalar `sub` of fastai's GeneralRelu; with batch norm
 * kept, its scales and rolling statistics too. */
#ifndef LSUV_WEIGHTS_H
#define LSUV_WEIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "lsuv/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lsuv_layer_params {
    float *weight;         /* out x in/groups x k x k, or out x in; NULL without weights */
    float *bias;           /* out */
    uint64_t weight_count; /* lsuv_layer_weight_count */
    uint32_t bias_count;
    float sub;
    bool has_sub; /* the cfg sets sub= (even to 0), or LSUV changed it */
    /* Batch norm kept (lsuv_layer.batch_normalize): bias_count each, as
     * darknet names them; NULL otherwise. A fresh layer's are the identity:
     * scales 1, mean 0, variance 1. */
    float *scales, *rolling_mean, *rolling_variance;
} lsuv_layer_params;

typedef struct lsuv_weights {
    uint32_t n_layers; /* as the network's; layers without weights stay empty */
    lsuv_layer_params *layers;
} lsuv_weights;

typedef enum lsuv_init {
    LSUV_INIT_KAIMING,         /* normal, std gain/sqrt(fan_in) */
    LSUV_INIT_KAIMING_UNIFORM, /* uniform, bound gain*sqrt(3/fan_in) */
    LSUV_INIT_ORTHONORMAL,     /* the LSUV paper's pre-init: QR of a Gaussian matrix */
    LSUV_INIT_DARKNET,         /* darknet's: conv normal sqrt(2/fan_in), connected uniform */
    LSUV_INIT_FASTAI,          /* course-v3's init_cnn: conv kaiming normal with a = 0.1 whatever
                                  the activation, bias 0; connected as torch's nn.Linear: weight
                                  and bias uniform on +-1/sqrt(fan_in) */
} lsuv_init;

/* "kaiming", "kaiming-uniform", "orthonormal", "darknet", "fastai"; false
 * if unknown. */
bool lsuv_init_from_name(const char *name, lsuv_init *out);
const char *lsuv_init_name(lsuv_init init);

/* Zeroed parameters shaped for the network (sub taken from the cfg), batch
 * norm the identity. */
lsuv_status lsuv_weights_create(const lsuv_net *net, lsuv_weights **out);
void lsuv_weights_destroy(lsuv_weights *weights);

/* Fresh weights for every layer: biases 0 (but fastai's connected layers),
 * sub from the cfg, weights drawn
 * on the host from lsuv_rng. Layer i draws from its own stream, seeded with
 * seed + 0x9e3779b97f4a7c15 * (i + 1), so a layer's weights do not depend
 * on the layers before it; the same seed gives the same weights everywhere. */
lsuv_status lsuv_weights_init(const lsuv_net *net, lsuv_init init, uint64_t seed,
                              lsuv_weights **out);

/* By extension: .weights (darknet's format) or .safetensors. A layer with
 * batch norm kept holds its scales, rolling mean and rolling variance:
 * .weights in darknet's order (convolutional: biases, the three, weights;
 * connected: biases, weights, the three), .safetensors as
 * layers.N.scales, layers.N.rolling_mean, layers.N.rolling_variance. A
 * negative variance is refused (darknet would take its square root). */
lsuv_status lsuv_weights_load(const lsuv_net *net, const char *path, lsuv_weights **out);
/* Written to a temporary file and renamed: never half-written. */
lsuv_status lsuv_weights_save(const lsuv_net *net, const lsuv_weights *weights, const char *path);
/* The bytes lsuv_weights_save writes, in the format path's extension names
 * (caller frees *data). */
lsuv_status lsuv_weights_encode(const lsuv_net *net, const lsuv_weights *weights, const char *path,
                                uint8_t **data, size_t *size);

/* The same from and to memory, for tests and fuzzing. */
lsuv_status lsuv_weights_parse_darknet(const lsuv_net *net, const char *name, const uint8_t *data,
                                       size_t size, lsuv_weights **out);
lsuv_status lsuv_weights_parse_safetensors(const lsuv_net *net, const char *name,
                                           const uint8_t *data, size_t size, lsuv_weights **out);

#ifdef __cplusplus
}
#endif
#endif
