/* The device forward of darknet's graph layers (route, shortcut, upsample,
 * reorg, the heads) against the fp64 reference, each layer from the
 * device's own outputs of the layers it reads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsuv/forward.h"
#include "lsuv/lsuv.h"
#include "lsuv/ref.h"
#include "lsuv/rng.h"
#include "support/gpu.h"

static lsuv_net *parse(const char *text) {
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_parse("g.cfg", text, strlen(text), NULL, &net), LSUV_OK, "%s",
                 lsuv_error_message());
    return net;
}

static double *device_output(lsuv_forward *f, const lsuv_net *net, const lsuv_batch *b,
                             int32_t index) {
    lsuv_shape s = index == LSUV_NET_INPUT ? net->input : net->layers[index].out;
    uint64_t count = (uint64_t)b->n * s.c * s.h * s.w;
    float *x = malloc(count * sizeof *x);
    double *y = malloc(count * sizeof *y);
    if (index == LSUV_NET_INPUT)
        memcpy(x, b->data, count * sizeof *x);
    else
        TEST_OK(lsuv_forward_read(f, (uint32_t)index, x));
    for (uint64_t i = 0; i < count; ++i) y[i] = x[i];
    free(x);
    return y;
}

/* Moves are exact; a shortcut's alpha a + beta b and its activation round
 * two or three times, a scaled upsample once, a block sum stride^2 times. */
static double bound_fp32(const lsuv_layer *l, double ref) {
    if (l->type == LSUV_LAYER_SHORTCUT) return 0x1p-20 * (1 + fabs(ref));
    if (l->type == LSUV_LAYER_UPSAMPLE && l->reverse)
        return l->stride * l->stride * 0x1p-20 * (1 + fabs(ref));
    if (l->type == LSUV_LAYER_UPSAMPLE && l->scale != 1.0f) return 0x1p-23 * fabs(ref);
    return 0;
}

static double bound(const lsuv_layer *l, double ref, bool fp16) {
    /* fp16 storage rounds what is computed once more: half an ulp. */
    double store = fp16 && (l->type == LSUV_LAYER_SHORTCUT || l->type == LSUV_LAYER_UPSAMPLE)
                       ? 0x1p-11 * fabs(ref) + 0x1p-24
                       : 0;
    return store + bound_fp32(l, ref);
}

static void compare_graph_layer(lsuv_forward *f, const lsuv_net *net, const lsuv_weights *w,
                                const lsuv_batch *b, uint32_t i, bool fp16) {
    const lsuv_layer *l = &net->layers[i];
    double *in[LSUV_LAYER_MAX_INPUTS];
    for (uint32_t k = 0; k < l->n_inputs; ++k) in[k] = device_output(f, net, b, l->inputs[k]);
    uint64_t count = (uint64_t)b->n * lsuv_ref_layer_outputs(l);
    double *ref = malloc(count * sizeof *ref);
    lsuv_ref_layer_inputs(net, i, &w->layers[i], (const double *const *)in, b->n, ref, NULL);
    double *dev = device_output(f, net, b, (int32_t)i);
    for (uint64_t j = 0; j < count; ++j)
        cr_assert(fabs(dev[j] - ref[j]) <= bound(l, ref[j], fp16),
                  "layer %u (%s) output %llu: device %.9g, reference %.9g", i,
                  lsuv_layer_type_name(l->type), (unsigned long long)j, dev[j], ref[j]);
    for (uint32_t k = 0; k < l->n_inputs; ++k) free(in[k]);
    free(ref);
    free(dev);
}

/* Runs the whole net on n samples and checks every layer without weights. */
static lsuv_forward *run_net(const lsuv_net *net, uint32_t n, uint64_t chunk, bool fp16,
                             lsuv_weights **w, lsuv_batch *b) {
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, 5, w));
    *b = (lsuv_batch){n, net->input.c, net->input.h, net->input.w, NULL};
    uint64_t count = (uint64_t)n * b->c * b->h * b->w;
    b->data = malloc(count * sizeof *b->data);
    lsuv_rng rng;
    lsuv_rng_seed(&rng, 11);
    lsuv_rng_fill_normal(&rng, b->data, count, 0, 1);
    lsuv_forward *f = NULL;
    lsuv_forward_options o = {.batch = n,
                              .max_chunk_bytes = chunk,
                              .precision = fp16 ? LSUV_PRECISION_FP16 : LSUV_PRECISION_FP32,
                              .conv_kernel = test_conv_kernel(),
                              .keep_outputs = true};
    TEST_OK(lsuv_forward_create(gpu.device, net, *w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, b));
    TEST_OK(lsuv_forward_run(f, 0, net->n_layers - 1, false));
    for (uint32_t i = 0; i < net->n_layers; ++i)
        if (!lsuv_layer_has_weights(&net->layers[i])) compare_graph_layer(f, net, *w, b, i, fp16);
    return f;
}

/* Every graph op and both shortcut shape cases: 4 is from= larger (4x8x8
 * onto 2x4x4), 6 from= smaller (2x4x4 onto 2x8x8). */
static const char *const residual =
    "[net]\nheight=8\nwidth=8\nchannels=3\n"
    "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"            /* 0: 4x8x8 */
    "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"            /* 1 */
    "[shortcut]\nfrom=-2\nactivation=leaky\nalpha=0.5\nbeta=2\n"               /* 2 */
    "[convolutional]\nfilters=2\nsize=3\nstride=2\npad=1\nactivation=linear\n" /* 3: 2x4x4 */
    "[shortcut]\nfrom=0\n"                                                     /* 4 */
    "[upsample]\nstride=2\n"                                                   /* 5: 2x8x8 */
    "[shortcut]\nfrom=3\nactivation=relu\n"                                    /* 6 */
    "[route]\nlayers=2,6,6\ngroups=2\ngroup_id=1\n"                            /* 7: 4x8x8 */
    "[reorg]\nstride=2\n"                                                      /* 8: 16x4x4 */
    "[reorg]\nstride=2\nreverse=1\n"                                           /* 9: 4x8x8 */
    "[upsample]\nstride=-2\nscale=0.5\n"                                       /* 10: 4x4x4 */
    "[convolutional]\nfilters=18\nsize=1\nactivation=linear\n"                 /* 11 */
    "[yolo]\nmask=0,1\nclasses=4\nnum=2\n";                                    /* 12 */

GPU_TEST(graph_forward, residual_and_routed_ops_match_the_reference) {
    lsuv_net *net = parse(residual);
    lsuv_weights *w = NULL;
    lsuv_batch b;
    lsuv_forward *f = run_net(net, 3, 0, false, &w, &b);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* Bindings of about one sample: each op runs a dispatch per sample, a
 * route one per input of each. */
GPU_TEST(graph_forward, chunked_by_sample) {
    lsuv_net *net = parse(residual);
    lsuv_weights *w = NULL;
    lsuv_batch b;
    lsuv_forward *f = run_net(net, 3, 1536, false, &w, &b);
    cr_assert_eq(lsuv_forward_dispatches(f, 7), 9, "%u", lsuv_forward_dispatches(f, 7));
    cr_assert_eq(lsuv_forward_dispatches(f, 2), 3, "%u", lsuv_forward_dispatches(f, 2));
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* Stored as fp16: moves stay exact, computed values round once more. */
GPU_TEST(graph_forward, fp16_storage) {
    lsuv_net *net = parse(residual);
    lsuv_weights *w = NULL;
    lsuv_batch b;
    lsuv_forward *f = run_net(net, 2, 0, true, &w, &b);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* The residual net's output with outputs sharing memory by liveness: bit
 * for bit that of a forward keeping every output, and the fp64 reference's
 * within fp32 rounding; an output whose memory went on is not read. */
GPU_TEST(graph_forward, memory_by_liveness_keeps_the_output) {
    lsuv_net *net = parse(residual);
    lsuv_weights *w = NULL;
    lsuv_batch b;
    lsuv_forward *kept = run_net(net, 3, 0, false, &w, &b), *f = NULL;
    lsuv_forward_options o = {.batch = 3, .conv_kernel = test_conv_kernel()};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    TEST_OK(lsuv_forward_run(f, 0, net->n_layers - 1, false));
    uint32_t last = net->n_layers - 1;
    uint64_t count = 3ull * lsuv_ref_layer_outputs(&net->layers[last]);
    float *got = malloc(count * sizeof *got), *want = malloc(count * sizeof *want);
    TEST_OK(lsuv_forward_read(f, last, got));
    TEST_OK(lsuv_forward_read(kept, last, want));
    cr_assert_eq(memcmp(got, want, count * sizeof *got), 0);
    double *ref = NULL, err = 0, norm = 0;
    TEST_OK(lsuv_ref_forward(net, w, &b, last, &ref));
    for (uint64_t j = 0; j < count; ++j) {
        err += (got[j] - ref[j]) * (got[j] - ref[j]);
        norm += ref[j] * ref[j];
    }
    cr_assert(sqrt(err / norm) < 1e-6, "relative error %g", sqrt(err / norm));
    /* Layer 1 is read by 2 alone; 3 takes its place. */
    cr_assert_neq(lsuv_forward_read(f, 1, got), LSUV_OK);
    free(ref);
    free(got);
    free(want);
    lsuv_forward_destroy(f);
    lsuv_forward_destroy(kept);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* LSUV initializes a layer from its inputs' final outputs, which may be
 * several layers back (a shortcut, a route): with memory by liveness it
 * must leave, bit for bit, the weights and trace it leaves with every
 * output kept. */
GPU_TEST(graph_forward, lsuv_with_memory_by_liveness) {
    lsuv_net *net = parse(residual);
    lsuv_weights *w = NULL, *got[2];
    lsuv_batch b;
    lsuv_forward *f[2] = {run_net(net, 3, 0, false, &w, &b), NULL};
    lsuv_forward_options o = {.batch = 3, .conv_kernel = test_conv_kernel()};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f[1]));
    TEST_OK(lsuv_forward_set_input(f[1], &b));
    lsuv_options lo = {.order = LSUV_ORDER_STD_FIRST, .measure = LSUV_MEASURE_PRE};
    lsuv_run run[2];
    for (int k = 0; k < 2; ++k) {
        TEST_OK(lsuv_initialize(f[k], &lo, &run[k]));
        cr_assert(run[k].converged);
        TEST_OK(lsuv_weights_create(net, &got[k]));
        TEST_OK(lsuv_forward_weights_read(f[k], got[k]));
    }
    cr_assert_eq(run[0].n_trace, run[1].n_trace);
    cr_assert_eq(run[0].n_layers, 4, "%u", run[0].n_layers);
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer_params *a = &got[0]->layers[i], *c = &got[1]->layers[i];
        if (!a->weight) continue;
        cr_assert_eq(memcmp(a->weight, c->weight, a->weight_count * 4), 0, "layer %u", i);
        cr_assert_eq(memcmp(a->bias, c->bias, a->bias_count * 4), 0, "layer %u", i);
    }
    for (int k = 0; k < 2; ++k) {
        lsuv_run_free(&run[k]);
        lsuv_weights_destroy(got[k]);
        lsuv_forward_destroy(f[k]);
    }
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* [reorg] extra=, as darknet's go.cfg has it: the input's values, then
 * zeros, whatever the memory held before (the first forward's output of
 * the block went to other layers first). */
GPU_TEST(graph_forward, reorg_extra) {
    lsuv_net *net = parse("[net]\nheight=5\nwidth=5\nchannels=2\n"
                          "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
                          "[convolutional]\nfilters=1\nsize=1\nactivation=linear\n"
                          "[reorg]\nextra=1\nstride=1\n[softmax]\n");
    lsuv_weights *w = NULL;
    lsuv_batch b;
    lsuv_forward *f = run_net(net, 3, 0, false, &w, &b);
    float out[3 * 26];
    TEST_OK(lsuv_forward_read(f, 2, out));
    for (int s = 0; s < 3; ++s) cr_assert_eq(out[s * 26 + 25], 0.0f, "sample %d", s);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}
