/* Internal to src/ops: batch norm kept with its rolling statistics (--bn
 * inference), folded into the weights and bias the device computes with
 * (see bn_fold.c). */
#ifndef LSUV_OPS_BN_FOLD_H
#define LSUV_OPS_BN_FOLD_H

#include "lsuv/weights.h"
#include "ops/plan.h"

/* Uploads a layer's weights and bias (lp->bias made already), folded with
 * its batch norm when it keeps one, whose vectors it keeps in lp->bn. With
 * --bn batch nothing is folded: the bias goes to bn_batch's buffer, the
 * convolution's is 0. */
lsuv_status bn_layer_upload(lsuv_forward *f, layer_plan *lp, const lsuv_layer *l,
                            const lsuv_layer_params *p);

/* The inverse on weights and bias read from the device (and with LSUV's
 * state applied): darknet's weights and bias, and the kept batch norm into
 * p's vectors. A weight unfolded is within an ulp of the one uploaded.
 * (--bn batch: the vectors alone; the caller reads the bias.) */
void bn_layer_unfold(const layer_plan *lp, const lsuv_layer *l, lsuv_layer_params *p);

#endif
