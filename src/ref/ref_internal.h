/* Internal: what the reference's files share. */
#ifndef LSUV_REF_INTERNAL_H
#define LSUV_REF_INTERNAL_H

#include "lsuv/ref.h"

/* darknet's activation of x (ops_ref.c). */
double ref_activate(lsuv_activation activation, double slope, double x);

/* A layer with weights' epilogue of its pre-activation x (ops_ref.c). */
double ref_epilogue(const lsuv_layer *layer, double sub, double x);

/* A layer with batch norm kept, from its sums without the bias in out (and
 * their sums of magnitudes in mag, when not NULL): normalized per channel
 * with the rolling or (bn_batch) the n samples' statistics, times scales,
 * plus the bias, then the epilogue (bn_ref.c). */
void ref_batchnorm(const lsuv_layer *layer, const lsuv_layer_params *params, uint32_t n,
                   double *out, double *mag);

/* Whether graph_ref.c computes the layer: route, shortcut, upsample, reorg
 * and the heads. */
static inline bool ref_is_graph_op(const lsuv_layer *l) {
    return l->type >= LSUV_LAYER_ROUTE && l->type <= LSUV_LAYER_DETECTION;
}

/* One such layer; in[k] is the output of l->inputs[k]. net may be NULL for
 * the layers of one input. */
void ref_graph_layer(const lsuv_net *net, const lsuv_layer *l, const double *const *in, uint32_t n,
                     double *out);

/* The network's walk up to layer last (graph_ref.c), visiting each output
 * (a layer with weights where at[i] says, or all where at is NULL); with
 * keep, the last output goes to the caller. */
lsuv_status ref_forward_walk(const lsuv_net *net, const lsuv_weights *w, const lsuv_batch *batch,
                             uint32_t last, lsuv_measure all, const lsuv_measure *at,
                             lsuv_ref_visit visit, void *ctx, double **keep);

#endif
