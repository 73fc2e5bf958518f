/* The device forward of darknet's graph layers (route, shortcut, upsample,
 * reorg, the heads) against the fp64 reference, each layer from the
 * device's own outputs of the layers it reads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsuv/forward.h"
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
                              .conv_kernel = test_conv_kernel()};
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
