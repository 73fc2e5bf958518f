/* Inference batch norm on the device, folded into the layer's weights and
 * bias on the host so that no kernel changes: with a_c = scales_c /
 * sqrt(rolling_variance_c + eps), darknet's
 *   scales_c (W_c x - mean_c) / sqrt(var_c + eps) + bias_c
 * is (a_c W_c) x + (bias_c - a_c mean_c). LSUV's state then scales the
 * folded weights (the same as scaling W) and shifts the folded bias (a shift
 * after the normalization, where darknet's bias is). */
#include "ops/bn_fold.h"
#include "ops/bn_batch.h"
#include "ops/weights_pack.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double factor(const float *bn, uint32_t oc, uint32_t c) {
    return bn[c] / sqrt((double)bn[2 * oc + c] + LSUV_BN_EPSILON);
}

/* The layer's scales, rolling mean and rolling variance, kept to unfold
 * what the device holds. */
static lsuv_status keep_bn(layer_plan *lp, const lsuv_layer_params *p) {
    uint32_t oc = p->bias_count;
    if (!lp->bn && !(lp->bn = malloc(3ull * oc * sizeof *lp->bn)))
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    memcpy(lp->bn, p->scales, oc * sizeof *lp->bn);
    memcpy(lp->bn + oc, p->rolling_mean, oc * sizeof *lp->bn);
    memcpy(lp->bn + 2 * oc, p->rolling_variance, oc * sizeof *lp->bn);
    return LSUV_OK;
}

/* --bn batch: the weights as they are and a zero bias, so the convolution
 * stores its bare sums; bn_batch.comp applies the bias after normalizing. */
static lsuv_status upload_raw(lsuv_forward *f, layer_plan *lp, const lsuv_layer *l,
                              const lsuv_layer_params *p) {
    float *zero = calloc(p->bias_count, sizeof *zero);
    lsuv_status s =
        zero ? keep_bn(lp, p) : lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (s == LSUV_OK) s = weights_pack_upload(f, lp, l, p->weight);
    if (s == LSUV_OK) s = lsuv_buffer_write(lp->bias, 0, zero, p->bias_count * 4);
    if (s == LSUV_OK && lp->bn_bias) s = bn_batch_upload(lp, p);
    free(zero);
    return s;
}

lsuv_status bn_layer_upload(lsuv_forward *f, layer_plan *lp, const lsuv_layer *l,
                            const lsuv_layer_params *p) {
    if (!l->batch_normalize) {
        lsuv_status s = weights_pack_upload(f, lp, l, p->weight);
        return s == LSUV_OK ? lsuv_buffer_write(lp->bias, 0, p->bias, p->bias_count * 4) : s;
    }
    if (bn_batch_raw(l)) return upload_raw(f, lp, l, p);
    uint32_t oc = p->bias_count;
    uint64_t per_oc = p->weight_count / oc;
    lsuv_status s = keep_bn(lp, p);
    float *w = s == LSUV_OK ? malloc(p->weight_count * sizeof *w) : NULL;
    float *b = w ? malloc(2ull * oc * sizeof *b) : NULL;
    if (s == LSUV_OK && !b) s = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t c = 0; s == LSUV_OK && c < oc; ++c) {
        double a = factor(lp->bn, oc, c);
        for (uint64_t r = 0; r < per_oc; ++r)
            w[c * per_oc + r] = (float)(a * p->weight[c * per_oc + r]);
        b[c] = (float)((double)p->bias[c] - a * lp->bn[oc + c]);
        /* LSUV measuring the convolution's output, W x, from the folded
         * sums (a_c W) x divides by a_c there (epilogue.glsl). */
        b[oc + c] = (float)(1.0 / a);
    }
    if (s == LSUV_OK) s = weights_pack_upload(f, lp, l, w);
    if (s == LSUV_OK) s = lsuv_buffer_write(lp->bias, 0, b, 2ull * oc * 4);
    free(w);
    free(b);
    return s;
}

void bn_layer_unfold(const layer_plan *lp, const lsuv_layer *l, lsuv_layer_params *p) {
    if (!l->batch_normalize || !lp->bn) return;
    uint32_t oc = p->bias_count;
    uint64_t per_oc = p->weight_count / oc;
    for (uint32_t c = 0; !bn_batch_raw(l) && c < oc; ++c) {
        double a = factor(lp->bn, oc, c);
        for (uint64_t r = 0; r < per_oc; ++r)
            p->weight[c * per_oc + r] = (float)(p->weight[c * per_oc + r] / a);
        p->bias[c] = (float)((double)p->bias[c] + a * lp->bn[oc + c]);
    }
    if (p->scales) {
        memcpy(p->scales, lp->bn, oc * sizeof *lp->bn);
        memcpy(p->rolling_mean, lp->bn + oc, oc * sizeof *lp->bn);
        memcpy(p->rolling_variance, lp->bn + 2 * oc, oc * sizeof *lp->bn);
    }
}
