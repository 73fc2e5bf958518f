/* The fp64 reference of every forward op, written for clarity over speed:
 * darknet's definitions, NCHW. The heavy ops spread their outputs over
 * OpenMP's threads; each output is still one thread's sum in one order. */
#include "lsuv/ref.h"

#include "core/error.h"
#include "ref/ref_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double logistic(double x) {
    return 1.0 / (1.0 + exp(-x));
}

static double softplus(double x) {
    return x > 20 ? x : x < -20 ? exp(x) : log1p(exp(x));
}

/* darknet's stair: floor(x/2) where floor(x) is even, plus x's fraction
 * where it is odd. The parity is taken in floating point, as the shader
 * does, so it stays defined beyond int's range (darknet's cast is not). */
static double stair(double x) {
    double n = floor(x);
    return fmod(n, 2) == 0 ? floor(x / 2) : (x - n) + floor(x / 2);
}

static double activate(lsuv_activation a, double slope, double x) {
    /* NaN in, NaN out, as IEEE arithmetic has it: relu's x > 0 ? x : 0 would
     * make it 0, and the device's statistics must see the NaN. */
    if (isnan(x)) return x;
    switch (a) {
    case LSUV_ACT_LINEAR:
        return x;
    case LSUV_ACT_RELU:
        return x > 0 ? x : 0;
    case LSUV_ACT_LEAKY:
    case LSUV_ACT_RELIE:
        return x > 0 ? x : slope * x;
    case LSUV_ACT_RAMP:
        return (x > 0 ? x : 0) + slope * x;
    case LSUV_ACT_ELU:
        return x >= 0 ? x : exp(x) - 1;
    case LSUV_ACT_SELU:
        return x >= 0 ? 1.0507 * x : 1.0507 * 1.6732 * (exp(x) - 1);
    case LSUV_ACT_LOGISTIC:
        return logistic(x);
    case LSUV_ACT_TANH:
        return tanh(x);
    case LSUV_ACT_RELU6:
        return x < 0 ? 0 : x > 6 ? 6 : x;
    case LSUV_ACT_SWISH:
        return x * logistic(x);
    case LSUV_ACT_MISH:
        return x * tanh(softplus(x));
    case LSUV_ACT_GELU:
        return 0.5 * x * (1 + tanh(0.797885 * x + 0.035677 * x * x * x));
    case LSUV_ACT_HARDTAN:
        return x < -1 ? -1 : x > 1 ? 1 : x;
    case LSUV_ACT_LHTAN:
        return x < 0 ? 0.001 * x : x > 1 ? 0.001 * (x - 1) + 1 : x;
    case LSUV_ACT_PLSE:
        return x < -4 ? 0.01 * (x + 4) : x > 4 ? 0.01 * (x - 4) + 1 : 0.125 * x + 0.5;
    case LSUV_ACT_LOGGY:
        return 2 * logistic(x) - 1;
    case LSUV_ACT_STAIR:
        return stair(x);
    }
    return x;
}

/* With the sub of the layer's parameters: LSUV moves it away from the cfg's. */
static double epilogue(const lsuv_layer *l, double sub, double x) {
    double y = activate(l->activation, l->slope, x) - sub;
    return y > l->maxv ? l->maxv : y;
}

uint64_t lsuv_ref_layer_outputs(const lsuv_layer *l) {
    return (uint64_t)l->out.c * l->out.h * l->out.w;
}

/* The taps [*lo, *hi) of a kernel of size k at base (the output's position
 * less the padding) that fall inside an input of extent: the others read
 * darknet's zero padding, and are skipped as they always were. */
static void taps(long base, uint32_t k, uint32_t extent, long *lo, long *hi) {
    *lo = base < 0 ? -base : 0;
    *hi = (long)extent - base < (long)k ? (long)extent - base : (long)k;
}

/* One output plane (sample b, channel oc) of a convolution. Each output is
 * its bias, then every tap of every input channel of its group in (c, ky,
 * kx) order: the same sum whichever thread computes it. */
static void conv_plane(const lsuv_layer *l, const lsuv_layer_params *p, const double *in,
                       uint64_t b, uint32_t oc, double *out, double *mag) {
    const lsuv_shape is = l->in, os = l->out;
    uint32_t cg = is.c / l->groups, g = oc / (os.c / l->groups), k = l->size;
    const float *w = p->weight + (uint64_t)oc * cg * k * k;
    const double *x = in + (b * is.c + (uint64_t)g * cg) * is.h * is.w;
    uint64_t plane = (b * os.c + oc) * os.h * os.w;
    bool bn = l->batch_normalize; /* the sums alone: ref_batchnorm does the rest */
    for (uint32_t oy = 0; oy < os.h; ++oy) {
        long y0 = (long)(oy * l->stride) - (long)l->padding, ky0, ky1;
        taps(y0, k, is.h, &ky0, &ky1);
        for (uint32_t ox = 0; ox < os.w; ++ox) {
            long x0 = (long)(ox * l->stride) - (long)l->padding, kx0, kx1;
            taps(x0, k, is.w, &kx0, &kx1);
            double sum = bn ? 0 : p->bias[oc], abs_sum = bn ? 0 : fabs(p->bias[oc]);
            for (uint32_t c = 0; c < cg; ++c)
                for (long ky = ky0; ky < ky1; ++ky) {
                    const double *row = x + ((uint64_t)c * is.h + (uint64_t)(y0 + ky)) * is.w;
                    const float *wrow = w + ((uint64_t)c * k + (uint64_t)ky) * k;
                    for (long kx = kx0; kx < kx1; ++kx) {
                        double t = wrow[kx] * row[x0 + kx];
                        sum += t;
                        abs_sum += fabs(t);
                    }
                }
            uint64_t o = plane + (uint64_t)oy * os.w + ox;
            out[o] = bn ? sum : epilogue(l, p->sub, sum);
            if (mag) mag[o] = abs_sum;
        }
    }
}

/* Threads take whole output planes, never part of a sum, so the result is
 * bit for bit that of one thread. */
static void conv(const lsuv_layer *l, const lsuv_layer_params *p, const double *in, uint32_t n,
                 double *out, double *mag) {
    uint64_t planes = (uint64_t)n * l->out.c;
#pragma omp parallel for schedule(dynamic)
    for (uint64_t bo = 0; bo < planes; ++bo)
        conv_plane(l, p, in, bo / l->out.c, (uint32_t)(bo % l->out.c), out, mag);
}

static void connected(const lsuv_layer *l, const lsuv_layer_params *p, const double *in, uint32_t n,
                      double *out, double *mag) {
    uint64_t k = lsuv_layer_fan_in(l), outputs = (uint64_t)n * l->outputs;
    bool bn = l->batch_normalize;
#pragma omp parallel for schedule(static)
    for (uint64_t bo = 0; bo < outputs; ++bo) {
        uint64_t b = bo / l->outputs, o = bo % l->outputs;
        double sum = bn ? 0 : p->bias[o], abs_sum = bn ? 0 : fabs(p->bias[o]);
        for (uint64_t i = 0; i < k; ++i) {
            double t = p->weight[o * k + i] * in[b * k + i];
            sum += t;
            abs_sum += fabs(t);
        }
        out[bo] = bn ? sum : epilogue(l, p->sub, sum);
        if (mag) mag[bo] = abs_sum;
    }
}

/* darknet's forward_local_layer: per output position j, its own filters x
 * (c x k x k) matrix (weights from j x filters x c k k on) times the
 * column im2col makes of the input there, onto the biases, one per output
 * value (filter f's at f x positions + j); then the activation. */
static void local(const lsuv_layer *l, const lsuv_layer_params *p, const double *in, uint32_t n,
                  double *out, double *mag) {
    const lsuv_shape is = l->in, os = l->out;
    uint64_t positions = (uint64_t)os.h * os.w, cols = lsuv_layer_fan_in(l);
    uint32_t k = l->size;
#pragma omp parallel for schedule(dynamic)
    for (uint64_t bj = 0; bj < n * positions; ++bj) {
        uint64_t b = bj / positions, j = bj % positions;
        long y0 = (long)((j / os.w) * l->stride) - (long)l->padding;
        long x0 = (long)((j % os.w) * l->stride) - (long)l->padding;
        for (uint32_t f = 0; f < os.c; ++f) {
            const float *w = p->weight + (j * os.c + f) * cols;
            double sum = p->bias[f * positions + j], abs_sum = fabs(sum);
            for (uint64_t r = 0; r < cols; ++r) {
                long y = y0 + (long)(r / k % k), x = x0 + (long)(r % k);
                if (y < 0 || x < 0 || y >= (long)is.h || x >= (long)is.w) continue;
                double t =
                    w[r] * in[((b * is.c + r / (k * k)) * is.h + (uint64_t)y) * is.w + (uint64_t)x];
                sum += t;
                abs_sum += fabs(t);
            }
            uint64_t o = (b * os.c + f) * positions + j;
            out[o] = epilogue(l, p->sub, sum);
            if (mag) mag[o] = abs_sum;
        }
    }
}

/* darknet's maxpool: the window starts padding/2 before the output's
 * stride-scaled position; positions outside the input do not count. A NaN
 * in the window makes the max NaN (darknet's v > m would skip it). */
static void maxpool(const lsuv_layer *l, const double *in, uint32_t n, double *out) {
    const lsuv_shape is = l->in, os = l->out;
    long offset = -(long)(l->padding / 2);
    uint64_t planes = (uint64_t)n * os.c;
#pragma omp parallel for schedule(static)
    for (uint64_t bc = 0; bc < planes; ++bc)
        for (uint32_t oy = 0; oy < os.h; ++oy)
            for (uint32_t ox = 0; ox < os.w; ++ox) {
                double m = -FLT_MAX; /* darknet's value for an empty window */
                for (uint32_t ky = 0; ky < l->size; ++ky)
                    for (uint32_t kx = 0; kx < l->size; ++kx) {
                        long iy = offset + (long)(oy * l->stride + ky);
                        long ix = offset + (long)(ox * l->stride + kx);
                        if (iy < 0 || ix < 0 || iy >= is.h || ix >= is.w) continue;
                        double v = in[(bc * is.h + iy) * is.w + ix];
                        if (v > m || isnan(v)) m = v; /* and m stays NaN after */
                    }
                out[(bc * os.h + oy) * os.w + ox] = m;
            }
}

void lsuv_ref_layer(const lsuv_layer *l, const lsuv_layer_params *p, const double *in, uint32_t n,
                    double *out, double *mag) {
    const lsuv_shape is = l->in, os = l->out;
    uint64_t in_count = (uint64_t)n * is.c * is.h * is.w;
    switch (l->type) {
    case LSUV_LAYER_CONVOLUTIONAL:
        conv(l, p, in, n, out, mag);
        if (l->batch_normalize) ref_batchnorm(l, p, n, out, mag);
        return;
    case LSUV_LAYER_CONNECTED:
        connected(l, p, in, n, out, mag);
        if (l->batch_normalize) ref_batchnorm(l, p, n, out, mag);
        return;
    case LSUV_LAYER_LOCAL:
        local(l, p, in, n, out, mag);
        return;
    case LSUV_LAYER_MAXPOOL:
        maxpool(l, in, n, out);
        return;
    case LSUV_LAYER_AVGPOOL:
        for (uint64_t bc = 0; bc < (uint64_t)n * is.c; ++bc) {
            double sum = 0;
            for (uint64_t i = 0; i < (uint64_t)is.h * is.w; ++i) sum += in[bc * is.h * is.w + i];
            out[bc] = sum / ((double)is.h * is.w);
        }
        return;
    case LSUV_LAYER_CROP: {
        /* darknet's crop at test time: centred, no flip, and pixels taken
         * from [0, 1] to [-1, 1] unless noadjust=1. */
        uint32_t dy = (is.h - os.h) / 2, dx = (is.w - os.w) / 2;
        double scale = l->crop_noadjust ? 1 : 2, shift = l->crop_noadjust ? 0 : -1;
        for (uint64_t bc = 0; bc < (uint64_t)n * is.c; ++bc)
            for (uint32_t y = 0; y < os.h; ++y)
                for (uint32_t x = 0; x < os.w; ++x)
                    out[(bc * os.h + y) * os.w + x] =
                        in[(bc * is.h + y + dy) * is.w + x + dx] * scale + shift;
        return;
    }
    case LSUV_LAYER_DROPOUT:
    case LSUV_LAYER_SOFTMAX:
    case LSUV_LAYER_COST:
        memcpy(out, in, in_count * sizeof *out);
        return;
    case LSUV_LAYER_UPSAMPLE:
    case LSUV_LAYER_REORG:
    case LSUV_LAYER_YOLO:
    case LSUV_LAYER_REGION:
    case LSUV_LAYER_DETECTION:
        ref_graph_layer(NULL, l, &in, n, out);
        return;
    case LSUV_LAYER_ROUTE:
    case LSUV_LAYER_SHORTCUT: /* more than one input: lsuv_ref_layer_inputs */
        for (uint64_t i = 0; i < (uint64_t)n * os.c * os.h * os.w; ++i) out[i] = NAN;
        return;
    }
}

void lsuv_ref_layer_pre(const lsuv_layer *l, const lsuv_layer_params *p, const double *in,
                        uint32_t n, double *out) {
    if (!lsuv_layer_has_weights(l)) {
        lsuv_ref_layer(l, p, in, n, out, NULL);
        return;
    }
    /* The same sums, in the same order, through an epilogue that does
     * nothing: linear, sub 0, no clamp. */
    lsuv_layer linear = *l;
    linear.activation = LSUV_ACT_LINEAR;
    linear.maxv = INFINITY;
    lsuv_layer_params no_sub = *p;
    no_sub.sub = 0;
    lsuv_ref_layer(&linear, &no_sub, in, n, out, NULL);
}

void lsuv_ref_layer_conv(const lsuv_layer *l, const lsuv_layer_params *p, const double *in,
                         uint32_t n, double *out) {
    if (!l->batch_normalize) {
        lsuv_ref_layer_pre(l, p, in, n, out);
        return;
    }
    /* With batch norm these give the bare sums, ref_batchnorm the rest. */
    if (l->type == LSUV_LAYER_CONVOLUTIONAL)
        conv(l, p, in, n, out, NULL);
    else
        connected(l, p, in, n, out, NULL);
}

double ref_activate(lsuv_activation a, double slope, double x) {
    return activate(a, slope, x);
}

double ref_epilogue(const lsuv_layer *l, double sub, double x) {
    return epilogue(l, sub, x);
}

lsuv_status lsuv_ref_forward(const lsuv_net *net, const lsuv_weights *w, const lsuv_batch *batch,
                             uint32_t last, double **out) {
    *out = NULL;
    return ref_forward_walk(net, w, batch, last, LSUV_MEASURE_POST, NULL, NULL, NULL, out);
}

lsuv_status lsuv_ref_forward_each(const lsuv_net *net, const lsuv_weights *w,
                                  const lsuv_batch *batch, uint32_t last, lsuv_ref_visit visit,
                                  void *ctx) {
    return ref_forward_walk(net, w, batch, last, LSUV_MEASURE_POST, NULL, visit, ctx, NULL);
}

lsuv_status lsuv_ref_forward_each_pre(const lsuv_net *net, const lsuv_weights *w,
                                      const lsuv_batch *batch, uint32_t last, lsuv_ref_visit visit,
                                      void *ctx) {
    return ref_forward_walk(net, w, batch, last, LSUV_MEASURE_PRE, NULL, visit, ctx, NULL);
}

lsuv_status lsuv_ref_forward_each_at(const lsuv_net *net, const lsuv_weights *w,
                                     const lsuv_batch *batch, uint32_t last, const lsuv_measure *at,
                                     lsuv_ref_visit visit, void *ctx) {
    return ref_forward_walk(net, w, batch, last, LSUV_MEASURE_POST, at, visit, ctx, NULL);
}
