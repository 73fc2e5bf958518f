/* The fp64 CPU reference every device result is checked against. */
#ifndef LSUV_REF_H
#define LSUV_REF_H

#include <stddef.h>

#include "lsuv/input.h"
#include "lsuv/lsuv.h"
#include "lsuv/net.h"
#include "lsuv/stats.h"
#include "lsuv/weights.h"

/* Two passes in double precision: the mean, then the sum of squared
 * deviations (with the compensating term of Chan, Golub & LeVeque). NaN and Inf
 * values are counted and make the moments NaN, as on the device. */
void lsuv_ref_moments(const float *x, size_t n, lsuv_moments *out);
/* The same of doubles, such as the reference's own layer outputs. */
void lsuv_ref_moments_f64(const double *x, size_t n, lsuv_moments *out);

/* One layer's forward pass over n samples, NCHW, in fp64, with darknet's
 * activations and fastai's GeneralRelu epilogue (minus sub, clamped to at
 * most maxv): out holds n x out.c x out.h x out.w values. params is NULL for
 * layers without weights; for the others its sub (not the cfg's) is
 * subtracted. For convolutional and connected layers, magnitude (when not
 * NULL) receives, per output, |bias| + sum |w x|: the scale of the rounding
 * error an fp32 computation of that output may make. */
void lsuv_ref_layer(const lsuv_layer *layer, const lsuv_layer_params *params, const double *in,
                    uint32_t n, double *out, double *magnitude);

/* A convolutional or connected layer's pre-activation: its sums with the
 * bias, before the activation, sub and maxv (what LSUV_MEASURE_PRE
 * measures); other layers' output. */
void lsuv_ref_layer_pre(const lsuv_layer *layer, const lsuv_layer_params *params, const double *in,
                        uint32_t n, double *out);

/* A convolutional or connected layer with batch norm's sums before it, W x
 * (what LSUV_MEASURE_CONV measures); lsuv_ref_layer_pre for others. */
void lsuv_ref_layer_conv(const lsuv_layer *layer, const lsuv_layer_params *params, const double *in,
                         uint32_t n, double *out);

/* Layer `index` of the network, of any type: in[k] holds the outputs of
 * its k-th input (layer->inputs[k]) for the n samples. lsuv_ref_layer takes
 * only layers of one input, and gives NaN for [route] and [shortcut]. */
void lsuv_ref_layer_inputs(const lsuv_net *net, uint32_t index, const lsuv_layer_params *params,
                           const double *const *in, uint32_t n, double *out, double *magnitude);

/* Outputs per sample of a layer. */
uint64_t lsuv_ref_layer_outputs(const lsuv_layer *layer);

/* The whole network up to and including layer `last`, from a float batch;
 * *out (freed by the caller) holds that layer's outputs. Each output is kept
 * until the last layer that reads it has run. */
lsuv_status lsuv_ref_forward(const lsuv_net *net, const lsuv_weights *weights,
                             const lsuv_batch *batch, uint32_t last, double **out);

/* The same walk, calling visit with each layer's outputs (n x outputs per
 * sample) in turn, so that every layer's output costs one forward in all.
 * A visit that returns other than LSUV_OK stops the walk with its status. */
typedef lsuv_status (*lsuv_ref_visit)(void *ctx, uint32_t layer, const double *out, uint64_t count);
lsuv_status lsuv_ref_forward_each(const lsuv_net *net, const lsuv_weights *weights,
                                  const lsuv_batch *batch, uint32_t last, lsuv_ref_visit visit,
                                  void *ctx);
/* The same, but a layer with weights is visited with its pre-activation
 * (lsuv_ref_layer_pre); the walk goes on from its output. */
lsuv_status lsuv_ref_forward_each_pre(const lsuv_net *net, const lsuv_weights *weights,
                                      const lsuv_batch *batch, uint32_t last, lsuv_ref_visit visit,
                                      void *ctx);
/* The same, a layer with weights visited where at[layer] says (post, pre
 * or conv, as LSUV measured it: lsuv_layer_run.measure). */
lsuv_status lsuv_ref_forward_each_at(const lsuv_net *net, const lsuv_weights *weights,
                                     const lsuv_batch *batch, uint32_t last, const lsuv_measure *at,
                                     lsuv_ref_visit visit, void *ctx);

#endif
