/* The whole network's statistics (lsuv_network_measure): a forward that
 * keeps every layer's moments, and the pre-activation's of layers with
 * weights, in one submission. */
#include "lsuv/lsuv.h"
#include "lsuv/passes.h"
#include "lsuv/ref.h"

#include "contract.h"
#include "core/error.h"
#include "ops/sums.h"

#include <math.h>
#include <stdlib.h>

typedef struct measure {
    lsuv_forward *forward;
    const lsuv_net *net;
    lsuv_buffer **sums;      /* per layer with weights: its sums, W x */
    ops_epilogue **epilogue; /* per layer with weights: its output from its sums */
    lsuv_buffer *pre;        /* a statistics slot per layer: the pre-activation's */
} measure;

static uint64_t outputs(const measure *m, uint32_t i) {
    const lsuv_shape o = m->net->layers[i].out;
    return (uint64_t)lsuv_forward_batch(m->forward) * o.c * o.h * o.w;
}

static bool rectifier(const lsuv_layer *l) {
    switch (l->activation) {
    case LSUV_ACT_RELU:
    case LSUV_ACT_LEAKY:
    case LSUV_ACT_RELIE:
    case LSUV_ACT_RAMP:
    case LSUV_ACT_RELU6:
        return lsuv_layer_has_weights(l);
    default:
        return false;
    }
}

static lsuv_status measure_create(measure *m) {
    uint32_t n = m->net->n_layers;
    if (!(m->sums = calloc(n, sizeof *m->sums)) || !(m->epilogue = calloc(n, sizeof *m->epilogue)))
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_device *dev = forward_device(m->forward);
    lsuv_status s = lsuv_buffer_create(dev, (uint64_t)n * LSUV_STATS_RESULT_BYTES, &m->pre);
    for (uint32_t i = 0; s == LSUV_OK && i < n; ++i) {
        if (!lsuv_layer_has_weights(&m->net->layers[i])) continue;
        s = lsuv_buffer_create(dev, outputs(m, i) * 4, &m->sums[i]);
        if (s == LSUV_OK)
            s = ops_epilogue_create(m->forward, i, m->sums[i], forward_state(m->forward, i),
                                    LSUV_C_MEASURE_POST, &m->epilogue[i]);
    }
    return s;
}

static void measure_destroy(measure *m) {
    for (uint32_t i = 0; m->sums && m->epilogue && i < m->net->n_layers; ++i) {
        ops_epilogue_destroy(m->epilogue[i]);
        lsuv_buffer_destroy(m->sums[i]);
    }
    lsuv_buffer_destroy(m->pre);
    free(m->sums);
    free(m->epilogue);
}

/* A layer with weights: its convolution keeping the sums, with the
 * pre-activation's moments merged into its slot and copied out; then its
 * output made from the sums, as the forward's epilogue makes it, and the
 * output's moments, by a second epilogue that only measures (the storing
 * one computes none). Other layers as the forward runs them. */
static lsuv_status record(measure *m, lsuv_cmd *cmd) {
    lsuv_buffer *results = forward_results(m->forward);
    for (uint32_t i = 0; i < m->net->n_layers; ++i) {
        if (!m->epilogue[i]) {
            lsuv_status s = lsuv_forward_record(m->forward, cmd, i, i, true);
            if (s != LSUV_OK) return s;
            continue;
        }
        uint64_t slot = (uint64_t)i * LSUV_STATS_RESULT_BYTES;
        forward_record_sums(m->forward, cmd, i);
        forward_record_layer_stats(m->forward, cmd, i);
        lsuv_cmd_barrier(cmd);
        lsuv_cmd_copy(cmd, results, slot, m->pre, slot, LSUV_STATS_RESULT_BYTES);
        ops_epilogue_record_store(m->epilogue[i], cmd);
        lsuv_status s = ops_epilogue_record_stats_all(m->epilogue[i], cmd);
        if (s != LSUV_OK) return s;
    }
    return LSUV_OK;
}

static lsuv_status run(measure *m) {
    lsuv_status s = LSUV_OK;
    for (uint32_t i = 0; s == LSUV_OK && i < m->net->n_layers; ++i)
        if (lsuv_layer_has_weights(&m->net->layers[i]))
            s = forward_keep_sums(m->forward, i, m->sums[i], 0, LSUV_C_MEASURE_PRE);
    lsuv_cmd *cmd = NULL;
    if (s == LSUV_OK) s = lsuv_cmd_begin(forward_device(m->forward), &cmd);
    if (s == LSUV_OK) s = record(m, cmd);
    if (s == LSUV_OK) s = lsuv_cmd_submit(cmd);
    lsuv_cmd_destroy(cmd);
    /* LSUV's passes bind their own sums buffer to the same layers. */
    for (uint32_t i = 0; i < m->net->n_layers; ++i)
        if (lsuv_layer_has_weights(&m->net->layers[i])) forward_drop_sums(m->forward, i);
    passes_keep_again(m->forward);
    return s;
}

static double pick(const lsuv_moments *mo, lsuv_estimator e) {
    return e == LSUV_ESTIMATOR_POPULATION ? mo->std_population : mo->std;
}

/* The output's moments: the device's, or in fp16 for a layer without
 * weights (no statistics kernel reads halves) fp64 ones of its values. */
static lsuv_status post_moments(const measure *m, uint32_t i, lsuv_moments *out) {
    lsuv_status s = lsuv_forward_stats_read(m->forward, i, out);
    if (s != LSUV_ERROR_UNSUPPORTED || lsuv_layer_has_weights(&m->net->layers[i])) return s;
    uint64_t n = outputs(m, i);
    float *x = malloc(n * sizeof *x);
    if (!x) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    s = lsuv_forward_read(m->forward, i, x);
    if (s == LSUV_OK) lsuv_ref_moments(x, n, out);
    free(x);
    return s;
}

/* The fraction of pre-activation values > 0, each made from its sum as the
 * kernels make it, fma(sum, wscale, fma(bias, bscale, bshift)) in fp32. Its
 * sign is that of the exact sum * wscale + shift, which double arithmetic
 * keeps (the product is exact, and one rounding cannot cross 0), short of
 * values fp32 flushes to 0. */
static uint64_t count_active(const float *sums, uint64_t rows, uint32_t plane, const double *shift,
                             uint32_t oc, uint32_t channel, double wscale) {
    uint64_t active = 0;
    for (uint64_t r = 0; r < rows; ++r, sums += plane) { /* a row: a sample's channel */
        for (uint32_t p = 0; p < plane; ++p)
            active += (double)sums[p] * wscale + shift[channel] > 0.0;
        channel = channel + 1 == oc ? 0 : channel + 1;
    }
    return active;
}

/* Floats read back at a time: a fresh buffer of fastai's first layer's
 * 3 MB took 14 ms of page faults to fill, more than the rest together. */
enum { ACTIVE_CHUNK = 1 << 16 };

static lsuv_status active_fraction(const measure *m, uint32_t i, double *out) {
    const lsuv_layer *l = &m->net->layers[i];
    uint32_t oc = lsuv_layer_bias_count(l), plane = l->out.h * l->out.w;
    uint64_t rows = outputs(m, i) / plane, step = ACTIVE_CHUNK / plane ? ACTIVE_CHUNK / plane : 1;
    float state[4], *bias = malloc(oc * sizeof *bias), *sums = malloc(step * plane * sizeof *sums);
    double *shift = malloc(oc * sizeof *shift);
    lsuv_status s =
        bias && sums && shift ? LSUV_OK : lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (s == LSUV_OK) s = lsuv_buffer_read(forward_state(m->forward, i), 0, state, sizeof state);
    if (s == LSUV_OK) s = lsuv_buffer_read(forward_bias(m->forward, i), 0, bias, oc * sizeof *bias);
    for (uint32_t o = 0; s == LSUV_OK && o < oc; ++o) shift[o] = fmaf(bias[o], state[3], state[2]);
    uint64_t active = 0;
    for (uint64_t r = 0; s == LSUV_OK && r < rows; r += step) {
        uint64_t n = rows - r < step ? rows - r : step; /* rows r.. start at channel r % oc */
        s = lsuv_buffer_read(m->sums[i], r * plane * 4, sums, n * plane * 4);
        if (s == LSUV_OK) active += count_active(sums, n, plane, shift, oc, r % oc, state[1]);
    }
    if (s == LSUV_OK) *out = (double)active / (double)(rows * plane);
    free(shift);
    free(bias);
    free(sums);
    return s;
}

static lsuv_status layer_stats(const measure *m, uint32_t i, lsuv_estimator e,
                               lsuv_layer_stats *out) {
    const lsuv_layer *l = &m->net->layers[i];
    *out = (lsuv_layer_stats){.index = i, .pre_mean = NAN, .pre_std = NAN, .active = NAN};
    out->count = outputs(m, i);
    lsuv_moments mo;
    lsuv_status s = post_moments(m, i, &mo);
    if (s != LSUV_OK) return s;
    out->mean = mo.mean;
    out->std = pick(&mo, e);
    if (!lsuv_layer_has_weights(l)) return LSUV_OK;
    s = lsuv_stats_result_read(forward_stats(m->forward), m->pre, i, &mo);
    if (s != LSUV_OK) return s;
    out->pre_mean = mo.mean;
    out->pre_std = pick(&mo, e);
    return rectifier(l) ? active_fraction(m, i, &out->active) : LSUV_OK;
}

lsuv_status lsuv_network_measure(lsuv_forward *forward, lsuv_estimator estimator,
                                 lsuv_layer_stats *out) {
    if ((unsigned)estimator > LSUV_ESTIMATOR_POPULATION)
        return lsuv_fail(LSUV_ERROR_INVALID, "estimator %d: not one of lsuv_estimator's",
                         (int)estimator);
    measure m = {.forward = forward, .net = lsuv_forward_net(forward)};
    lsuv_status s = measure_create(&m);
    if (s == LSUV_OK) s = run(&m);
    for (uint32_t i = 0; s == LSUV_OK && i < m.net->n_layers; ++i)
        s = layer_stats(&m, i, estimator, &out[i]);
    measure_destroy(&m);
    return s;
}
