/* Networks described in darknet's .cfg format: parsing, shapes, counts.
 *
 * The dialect is pjreddie/darknet's: `[section]` starts a layer, `key=value`
 * lines set its options, whitespace anywhere in a line is ignored, `#` and
 * `;` start comment lines, the first of duplicate keys wins, CRLF reads as
 * LF. Stricter than darknet, which fails silently: every malformed line is an
 * error naming file:line and the offending text; unknown keys are warnings. */
#ifndef LSUV_NET_H
#define LSUV_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lsuv/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lsuv_layer_type {
    LSUV_LAYER_CONVOLUTIONAL,
    LSUV_LAYER_CONNECTED,
    LSUV_LAYER_MAXPOOL,
    LSUV_LAYER_AVGPOOL,
    LSUV_LAYER_DROPOUT,
    LSUV_LAYER_SOFTMAX,
    LSUV_LAYER_COST,
    LSUV_LAYER_CROP,
    /* Layers of darknet's graphs: they read earlier outputs (inputs[]). */
    LSUV_LAYER_ROUTE,
    LSUV_LAYER_SHORTCUT,
    LSUV_LAYER_UPSAMPLE,
    LSUV_LAYER_REORG,
    /* Detection heads: terminal, without weights; their forward is the
     * identity here (darknet's logistic and softmax act on the loss side). */
    LSUV_LAYER_YOLO,
    LSUV_LAYER_REGION,
    LSUV_LAYER_DETECTION,
    /* Locally connected: a convolution with weights and a bias of its own
     * at every output position (darknet's local_layer.c); LSUV leaves it
     * as it is. */
    LSUV_LAYER_LOCAL,
} lsuv_layer_type;

/* darknet's section name: "convolutional", "connected", ... */
const char *lsuv_layer_type_name(lsuv_layer_type type);

typedef enum lsuv_activation {
    LSUV_ACT_LINEAR,
    LSUV_ACT_RELU,
    LSUV_ACT_LEAKY, /* slope 0.1, or leak= */
    LSUV_ACT_RELIE,
    LSUV_ACT_RAMP,
    LSUV_ACT_ELU,
    LSUV_ACT_SELU,
    LSUV_ACT_LOGISTIC,
    LSUV_ACT_TANH,
    LSUV_ACT_RELU6,
    LSUV_ACT_SWISH,
    LSUV_ACT_MISH,
    LSUV_ACT_GELU,
    LSUV_ACT_HARDTAN,
    LSUV_ACT_LHTAN,
    LSUV_ACT_PLSE,
    LSUV_ACT_LOGGY, /* 2 logistic(x) - 1 */
    LSUV_ACT_STAIR, /* darknet's staircase: flat on [2k, 2k+1), slope 1 on [2k+1, 2k+2) */
} lsuv_activation;

const char *lsuv_activation_name(lsuv_activation activation);
/* The gain of Kaiming's initialization for the activation with this
 * negative slope: sqrt(2 / (1 + slope^2)) for the rectifiers, 5/3 for tanh,
 * 3/4 for selu (as PyTorch's calculate_gain), 1 for the rest: none is
 * established for loggy (tanh(x/2)) or stair (slope 0 and 1 by turns), and
 * LSUV rescales every layer anyway. */
double lsuv_activation_gain(lsuv_activation activation, double slope);

typedef struct lsuv_shape {
    uint32_t c, h, w;
} lsuv_shape;

/* The most outputs one [route] may concatenate. */
#define LSUV_LAYER_MAX_INPUTS 16
/* inputs[] value naming the network's input rather than a layer. */
#define LSUV_NET_INPUT (-1)

typedef struct lsuv_layer {
    lsuv_layer_type type;
    /* The outputs it reads, as darknet resolves them: the previous layer's
     * for sequential layers; for [route] those of layers=, in order; for
     * [shortcut] the previous layer's, then from='s. */
    uint32_t n_inputs;
    int32_t inputs[LSUV_LAYER_MAX_INPUTS];
    uint32_t index; /* from 0; [net] is not counted */
    uint32_t line;  /* of the section header */
    lsuv_shape in, out;
    /* convolutional; local: filters, size, stride, padding (darknet's pad=,
     * taken as pixels as its im2col does) */
    uint32_t filters, size, stride, padding, groups;
    /* connected */
    uint32_t outputs;
    /* maxpool: size, stride and padding (darknet's total padding) above */
    /* crop */
    uint32_t crop_height, crop_width;
    bool crop_noadjust; /* noadjust=1: values kept; else 2x - 1, as darknet */
    /* convolutional, flipped=1: darknet's .weights hold the layer's weights
     * transposed, fan-in x filters */
    bool flipped;
    /* dropout */
    float probability;
    /* route: groups (above) and group_id, as AlexeyAB's darknet; each input
     * gives its group_id-th slice of c/groups channels */
    uint32_t group_id;
    /* shortcut: out = alpha x previous + beta x from, then the activation */
    float alpha, beta;
    /* upsample: stride (above), scale; reverse: stride=-k, a k x k sum */
    float scale;
    bool reverse; /* upsample with negative stride, reorg with reverse=1 */
    /* reorg, extra=: the input flattened, then this many zeros (darknet's
     * go.cfg appends the pass to its 19x19 moves) */
    uint32_t extra;
    /* yolo, region, detection */
    uint32_t classes, num, coords, side;
    /* convolutional and connected: the activation and fastai's GeneralRelu
     * extension keys */
    lsuv_activation activation;
    float slope;  /* negative slope of relu/leaky/relie/ramp: 0, 0.1, leak= */
    float sub;    /* subtracted after the activation */
    bool has_sub; /* the cfg sets sub= (even to 0) */
    float maxv;   /* clamp after the shift; +inf when absent */
    bool lsuv;    /* takes part in LSUV (lsuv=0 leaves it out) */
    bool bn_stripped;
    /* batch_normalize=1 kept: darknet's order, the sums without the bias,
     * normalized per output channel, times scales, plus the bias, then the
     * activation. With bn_batch (--bn batch) normalized by the batch's own
     * mean and variance (n - 1 divisor, as darknet's variance_cpu), else by
     * the rolling ones (--bn inference). Either way x_hat = (x - mean) /
     * sqrt(variance + LSUV_BN_EPSILON). */
    bool batch_normalize;
    bool bn_batch;
    uint64_t params; /* weights and biases */
    uint64_t macs;   /* multiply-adds per sample */
} lsuv_layer;

typedef struct lsuv_net {
    char *path;
    uint32_t batch; /* [net] batch / subdivisions, as darknet */
    lsuv_shape input;
    uint32_t n_layers;
    lsuv_layer *layers;
    uint64_t params, macs;
    uint32_t n_warnings;
    char **warnings; /* "file:line: text", one per unknown key or stripped BN */
} lsuv_net;

/* darknet's epsilon where it adds one inside the square root: its GPU
 * normalize_kernel and cuDNN's path. (Its CPU normalize_cpu divides by
 * sqrt(variance) + 1e-6 instead: the two differ by under 1e-5 relative for
 * variances near 1.) */
#define LSUV_BN_EPSILON 1e-5

typedef struct lsuv_net_options {
    /* Take batch_normalize=1 layers without their batch norm, with a
     * warning (--bn strip). Otherwise they keep it: by default applied with
     * the rolling statistics (--bn inference). */
    bool strip_bn;
    /* Kept batch norm normalizes with the batch's statistics (--bn batch). */
    bool bn_batch;
} lsuv_net_options;

/* Reads and checks a .cfg file. Errors name file:line; warnings are kept in
 * the result. */
lsuv_status lsuv_net_load(const char *path, const lsuv_net_options *options, lsuv_net **out);
/* The same from memory; name stands for the file in messages. */
lsuv_status lsuv_net_parse(const char *name, const char *text, size_t size,
                           const lsuv_net_options *options, lsuv_net **out);
void lsuv_net_destroy(lsuv_net *net);

/* Whether every layer reads only the output of the layer before it (or the
 * network's input, for the first). */
bool lsuv_net_is_sequential(const lsuv_net *net);
/* Whether the layer reads other than the previous output alone. */
bool lsuv_layer_is_graph(const lsuv_layer *layer);

/* Whether the layer has weights (convolutional, connected, local). */
bool lsuv_layer_has_weights(const lsuv_layer *layer);
/* Elements of the weight tensor: out x in/groups x k x k, out x in, or for
 * local out positions x filters x in x k x k. */
uint64_t lsuv_layer_weight_count(const lsuv_layer *layer);
/* Length of the bias vector: filters, outputs, or for local filters x out
 * positions (one per output value). */
uint32_t lsuv_layer_bias_count(const lsuv_layer *layer);
/* Inputs feeding one output: in/groups x k x k (local: in x k x k), or in. */
uint64_t lsuv_layer_fan_in(const lsuv_layer *layer);

#ifdef __cplusplus
}
#endif
#endif
