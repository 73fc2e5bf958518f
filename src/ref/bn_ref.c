/* darknet's batch norm in fp64, from its definitions (batchnorm_layer.c's
 * forward, blas.c's mean, variance and normalize): per output channel over
 * every sample and position. */
#include "ref/ref_internal.h"

#include <math.h>

/* The channel's mean and variance over the batch, two passes; the variance
 * divides by count - 1, as darknet's variance_cpu (NaN for one value, where
 * darknet divides 0 by 0 too). */
static void batch_moments(const double *out, uint32_t n, uint64_t channels, uint64_t plane,
                          uint64_t c, double *mean, double *variance) {
    double sum = 0, sq = 0, count = (double)n * (double)plane;
    for (uint64_t b = 0; b < n; ++b)
        for (uint64_t i = 0; i < plane; ++i) sum += out[(b * channels + c) * plane + i];
    *mean = sum / count;
    for (uint64_t b = 0; b < n; ++b)
        for (uint64_t i = 0; i < plane; ++i) {
            double d = out[(b * channels + c) * plane + i] - *mean;
            sq += d * d;
        }
    *variance = sq / (count - 1);
}

void ref_batchnorm(const lsuv_layer *l, const lsuv_layer_params *p, uint32_t n, double *out,
                   double *mag) {
    uint64_t channels = l->out.c, plane = (uint64_t)l->out.h * l->out.w;
#pragma omp parallel for schedule(static)
    for (uint64_t c = 0; c < channels; ++c) {
        double mean = p->rolling_mean[c], variance = p->rolling_variance[c];
        if (l->bn_batch) batch_moments(out, n, channels, plane, c, &mean, &variance);
        double a = p->scales[c] / sqrt(variance + LSUV_BN_EPSILON);
        for (uint64_t b = 0; b < n; ++b)
            for (uint64_t i = 0; i < plane; ++i) {
                uint64_t o = (b * channels + c) * plane + i;
                out[o] = ref_epilogue(l, p->sub, a * (out[o] - mean) + p->bias[c]);
                /* The scale of an fp32 result's rounding: the sums scaled,
                 * the mean and the bias. */
                if (mag) mag[o] = fabs(a) * (mag[o] + fabs(mean)) + fabs(p->bias[c]);
            }
    }
}
