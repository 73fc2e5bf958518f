/* The forward kernels against the fp64 reference, on the test device. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "lsuv/forward.h"
#include "lsuv/ref.h"
#include "lsuv/rng.h"
#include "support/gpu.h"

static lsuv_net *parse(const char *text) {
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_parse("t.cfg", text, strlen(text), NULL, &net), LSUV_OK, "%s\n%s",
                 lsuv_error_message(), text);
    return net;
}

/* Weights with non-zero biases, so the bias path is checked too. */
static lsuv_weights *weights_for(const lsuv_net *net, uint64_t seed) {
    lsuv_weights *w = NULL;
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, seed, &w));
    lsuv_rng rng;
    lsuv_rng_seed(&rng, seed ^ 0xb1a5);
    for (uint32_t i = 0; i < w->n_layers; ++i)
        if (w->layers[i].bias)
            lsuv_rng_fill_normal(&rng, w->layers[i].bias, w->layers[i].bias_count, 0, 0.5);
    return w;
}

static lsuv_batch batch_for(const lsuv_net *net, uint32_t n, uint64_t seed) {
    lsuv_batch b = {n, net->input.c, net->input.h, net->input.w, NULL};
    uint64_t count = (uint64_t)n * b.c * b.h * b.w;
    b.data = malloc(count * sizeof *b.data);
    lsuv_rng rng;
    lsuv_rng_seed(&rng, seed);
    lsuv_rng_fill_normal(&rng, b.data, count, 0, 1);
    return b;
}

/* The bound on one output: an fp32 sum of K terms and a bias errs by at most
 * (K + 1) u times the sum of their magnitudes (u = 2^-24, the unit
 * roundoff); the activation scales that by its slope (at most 1.25 here) and
 * adds its own few ulps, which the second term covers with room for the
 * transcendental ones (Vulkan allows exp 3 + 2|x| ulp). */
static double bound_for(uint64_t k, double magnitude, double ref, double sub) {
    const double u = 0x1p-24;
    return 1.25 * (double)(k + 1) * u * magnitude + 64 * u * (fabs(ref) + fabs(sub) + 1);
}

typedef struct check {
    double worst; /* largest error / bound */
} check;

/* Runs layer `layer` of net on the device from `input` (the layer's input as
 * the device holds it) and compares every output with the reference. */
static check compare_layer_as(const lsuv_net *net, const lsuv_weights *w, lsuv_forward *f,
                              uint32_t layer, const double *input, uint32_t n, bool fp16) {
    const lsuv_layer *l = &net->layers[layer];
    uint64_t count = (uint64_t)n * lsuv_ref_layer_outputs(l);
    float *dev = malloc(count * sizeof *dev);
    double *ref = malloc(count * sizeof *ref), *mag = malloc(count * sizeof *mag);
    TEST_OK(lsuv_forward_read(f, layer, dev));
    lsuv_ref_layer(l, &w->layers[layer], input, n, ref, mag);
    check c = {0};
    uint64_t k = lsuv_layer_fan_in(l);
    for (uint64_t i = 0; i < count; ++i) {
        double b = lsuv_layer_has_weights(l) ? bound_for(k, mag[i], ref[i], l->sub) : 0.0;
        double err = fabs(dev[i] - ref[i]);
        /* Layers without weights move values without arithmetic (avgpool
         * sums: h*w terms), so they are held to their own reduction. */
        if (l->type == LSUV_LAYER_AVGPOOL)
            b = (double)(l->in.h * l->in.w + 1) * 0x1p-24 * (fabs(ref[i]) + 4);
        /* crop's 2x - 1 rounds once. */
        if (l->type == LSUV_LAYER_CROP) b = 0x1p-24 * fabs(ref[i]);
        /* fp16 storage rounds the output once more: half an ulp, 2^-11
         * relative (2^-24 absolute below the normal range). */
        if (fp16) b += 0x1p-11 * fabs(ref[i]) + 0x1p-24;
        cr_assert(err <= b,
                  "layer %u (%s) output %llu: device %.9g, reference %.9g, error %.3g > bound %.3g",
                  layer, lsuv_layer_type_name(l->type), (unsigned long long)i, dev[i], ref[i], err,
                  b);
        if (b > 0 && err / b > c.worst) c.worst = err / b;
    }
    free(dev);
    free(ref);
    free(mag);
    return c;
}

static check compare_layer(const lsuv_net *net, const lsuv_weights *w, lsuv_forward *f,
                           uint32_t layer, const double *input, uint32_t n) {
    return compare_layer_as(net, w, f, layer, input, n, false);
}

/* The values as fp16 stores them. */
static void round_to_half(float *x, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) x[i] = lsuv_half_to_float(lsuv_half_from_float(x[i]));
}

/* One layer network from a cfg body, on a random batch, its convolution run
 * by the kernel asked for (NULL: whichever the device picks). */
static check one_layer_with(const char *net_line, const char *layer_text, uint32_t n,
                            uint64_t chunk, uint32_t min_dispatches, lsuv_conv_kernel kernel,
                            const char *expect_kernel) {
    char text[1024];
    snprintf(text, sizeof text, "[net]\n%s\n%s\n", net_line, layer_text);
    lsuv_net *net = parse(text);
    lsuv_weights *w = weights_for(net, n * 31 + strlen(text));
    lsuv_batch b = batch_for(net, n, strlen(text));
    lsuv_forward *f = NULL;
    lsuv_forward_options o = {.batch = n, .max_chunk_bytes = chunk, .conv_kernel = kernel};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    cr_assert_geq(lsuv_forward_dispatches(f, 0), min_dispatches, "not chunked: %u dispatches",
                  lsuv_forward_dispatches(f, 0));
    if (expect_kernel)
        cr_assert_str_eq(lsuv_forward_conv_kernel(f, 0), expect_kernel, "%s", layer_text);
    TEST_OK(lsuv_forward_set_input(f, &b));
    TEST_OK(lsuv_forward_run(f, 0, 0, false));
    uint64_t count = (uint64_t)n * b.c * b.h * b.w;
    double *in = malloc(count * sizeof *in);
    for (uint64_t i = 0; i < count; ++i) in[i] = b.data[i];
    check c = compare_layer(net, w, f, 0, in, n);
    free(in);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    return c;
}

static check one_layer(const char *net_line, const char *layer_text, uint32_t n, uint64_t chunk,
                       uint32_t min_dispatches) {
    return one_layer_with(net_line, layer_text, n, chunk, min_dispatches, test_conv_kernel(), NULL);
}

GPU_TEST(forward, conv_shapes) {
    /* Odd sizes, every kernel size, strides 1, 2, 4, padding 0 to 3,
     * groups, batch 1 and 33. */
    static const struct {
        const char *net, *layer;
        uint32_t n;
    } cases[] = {
        {"height=7\nwidth=5\nchannels=3", "[convolutional]\nfilters=5\nsize=1\nactivation=linear",
         1},
        {"height=9\nwidth=11\nchannels=4",
         "[convolutional]\nfilters=7\nsize=3\npad=1\nactivation=relu", 33},
        {"height=13\nwidth=12\nchannels=3",
         "[convolutional]\nfilters=16\nsize=5\nstride=2\npadding=2\nactivation=leaky", 2},
        {"height=17\nwidth=17\nchannels=2",
         "[convolutional]\nfilters=9\nsize=7\nstride=4\npadding=3\nactivation=linear", 3},
        {"height=8\nwidth=8\nchannels=6",
         "[convolutional]\nfilters=4\nsize=3\nstride=2\npadding=0\ngroups=2\nactivation=relu", 5},
        {"height=6\nwidth=6\nchannels=8",
         "[convolutional]\nfilters=8\nsize=3\npad=1\ngroups=8\nactivation=linear", 2},
        {"height=10\nwidth=10\nchannels=3",
         "[convolutional]\nfilters=33\nsize=3\nstride=1\npadding=1\nactivation=relu\nleak=0.2\nsub="
         "0.3\nmaxv=1.5",
         4},
        {"height=28\nwidth=28\nchannels=1",
         "[convolutional]\nfilters=8\nsize=5\nstride=2\npad=1\nactivation=relu\nsub=0.1", 33},
    };
    /* Every kernel: each reads its weights in its own layout. A forced
     * kernel runs wherever the layer fits it: texels and uniform buffers
     * need a channel tile of 4 or more, which the grouped cases here, with
     * 2 and 1 output channels a group, do not have; gemm takes any groups. */
    static const struct {
        lsuv_conv_kernel kernel;
        const char *name;
    } kernels[] = {{LSUV_CONV_STORAGE, "storage"},
                   {LSUV_CONV_UNIFORM, "uniform"},
                   {LSUV_CONV_TEXEL, "texel"},
                   {LSUV_CONV_GEMM, "gemm"}};
    /* A run for one kind (LSUV_TEST_CONV_KERNEL) checks that kind alone. */
    lsuv_conv_kernel only = test_conv_kernel();
    for (unsigned k = 0; k < sizeof kernels / sizeof *kernels; ++k)
        for (unsigned i = 0; i < sizeof cases / sizeof *cases; ++i) {
            if (only != LSUV_CONV_AUTO && kernels[k].kernel != only) continue;
            bool tiny_groups =
                strstr(cases[i].layer, "groups=") != NULL && kernels[k].kernel != LSUV_CONV_GEMM;
            check c = one_layer_with(cases[i].net, cases[i].layer, cases[i].n, 0, 1,
                                     kernels[k].kernel, tiny_groups ? "storage" : kernels[k].name);
            cr_log_info("%s, case %u: worst error %.3f of its bound", kernels[k].name, i, c.worst);
        }
}

GPU_TEST(forward, gemm_edge_tiles) {
    /* The gemm kind where M (channels), N (samples x pixels) and K (a
     * group's channels x taps) are not multiples of its tile (32 x 32 x 8
     * on lavapipe), and across groups, strides, 1x1 and 7x7, a connected
     * layer, and chunks of samples and of whole groups. */
    static const struct {
        const char *net, *layer;
        uint32_t n;
        uint64_t chunk;
        uint32_t min_dispatches;
    } cases[] = {
        {"height=9\nwidth=11\nchannels=5", /* K 45, N 297, M 7 */
         "[convolutional]\nfilters=7\nsize=3\npad=1\nactivation=relu", 3, 0, 1},
        {"height=6\nwidth=6\nchannels=17", /* M 130: five row tiles, the last of 2 */
         "[convolutional]\nfilters=130\nsize=1\nactivation=leaky", 5, 0, 1},
        {"height=23\nwidth=23\nchannels=3", /* 7x7 stride 2: K 147 */
         "[convolutional]\nfilters=10\nsize=7\nstride=2\npadding=3\nactivation=linear", 2, 0, 1},
        {"height=9\nwidth=9\nchannels=12", /* 3 groups of 4 -> 6, stride 2 */
         "[convolutional]\nfilters=18\nsize=3\nstride=2\npad=1\ngroups=3\nactivation=relu", 4, 0,
         1},
        {"height=7\nwidth=7\nchannels=16", /* depthwise: a channel a group */
         "[convolutional]\nfilters=16\nsize=3\npad=1\ngroups=16\nactivation=linear", 3, 0, 1},
        {"height=8\nwidth=7\nchannels=6", /* 1x1 stride 2 */
         "[convolutional]\nfilters=9\nsize=1\nstride=2\nactivation=relu", 3, 0, 1},
        {"height=3\nwidth=5\nchannels=7", /* a connected layer: a pixel a sample */
         "[connected]\noutput=70\nactivation=linear", 65, 0, 1},
        {"height=4\nwidth=4\nchannels=64", /* 3 samples and 2 of 4 groups a dispatch */
         "[convolutional]\nfilters=40\nsize=3\npad=1\ngroups=4\nactivation=relu", 7, 16384, 6},
        {"height=4\nwidth=4\nchannels=64", /* 7 of 40 channels a dispatch */
         "[convolutional]\nfilters=40\nsize=3\npad=1\nactivation=relu", 7, 16384, 18},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; ++i) {
        check c = one_layer_with(cases[i].net, cases[i].layer, cases[i].n, cases[i].chunk,
                                 cases[i].min_dispatches, LSUV_CONV_GEMM, "gemm");
        cr_log_info("gemm edge case %u: worst error %.3f of its bound", i, c.worst);
    }
}

GPU_TEST(forward, every_activation) {
    static const char *acts[] = {"linear", "relu",     "leaky", "relie", "ramp",  "elu",
                                 "selu",   "logistic", "tanh",  "relu6", "swish", "mish",
                                 "gelu",   "hardtan",  "lhtan", "plse",  "loggy", "stair"};
    for (unsigned i = 0; i < sizeof acts / sizeof *acts; ++i) {
        char layer[256];
        snprintf(layer, sizeof layer,
                 "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=%s\nsub=0.25", acts[i]);
        one_layer("height=6\nwidth=7\nchannels=3", layer, 3, 0, 1);
    }
}

/* Runs the one-layer network `text` on the device on n samples of x, every
 * weight 1 and every bias 0 (a 1x1 convolution passes x to its activation
 * exactly), and returns the layer's outputs. */
static float *run_exact(const char *text, const float *x, uint32_t n) {
    lsuv_net *net = parse(text);
    lsuv_weights *w = NULL;
    TEST_OK(lsuv_weights_create(net, &w));
    for (uint32_t i = 0; i < w->n_layers; ++i)
        for (uint64_t k = 0; k < w->layers[i].weight_count; ++k) w->layers[i].weight[k] = 1.0f;
    lsuv_batch b = {n, net->input.c, net->input.h, net->input.w, NULL};
    uint64_t count = (uint64_t)n * b.c * b.h * b.w;
    b.data = malloc(count * sizeof *b.data);
    memcpy(b.data, x, count * sizeof *b.data);
    lsuv_forward *f = NULL;
    lsuv_forward_options o = {.batch = n, .conv_kernel = test_conv_kernel()};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    TEST_OK(lsuv_forward_run(f, 0, 0, false));
    float *out = malloc((size_t)n * lsuv_ref_layer_outputs(&net->layers[0]) * sizeof *out);
    TEST_OK(lsuv_forward_read(f, 0, out));
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    return out;
}

/* darknet's stair, written as its two pieces: flat at k on [2k, 2k+1), then
 * rising with slope 1 on [2k+1, 2k+2). */
static double stair_closed(double x) {
    double k = floor(x / 2), r = x - 2 * k;
    return r < 1 ? k : k + (r - 1);
}

GPU_TEST(forward, loggy_and_stair_closed_form) {
    enum { N = 160 };
    float x[N];
    /* Both signs, integers and the odd/even boundaries, fractions, and
     * values far from 0 where exp saturates. */
    for (int i = 0; i < 120; ++i) x[i] = -15.0f + 0.25f * (float)i;
    static const float far[] = {-1000.5f, -100.75f, -40.0f, -17.1f, -3.999f, -1e-3f, -0.0f,
                                1e-3f,    2.999f,   3.001f, 17.9f,  40.0f,   99.5f,  1000.25f};
    for (int i = 120; i < N; ++i) x[i] = far[(i - 120) % (sizeof far / sizeof *far)];
    const char *layer = "[net]\nheight=1\nwidth=%u\nchannels=1\n"
                        "[convolutional]\nfilters=1\nsize=1\nactivation=%s\n";
    char text[256];
    snprintf(text, sizeof text, layer, N, "loggy");
    float *y = run_exact(text, x, 1);
    for (int i = 0; i < N; ++i) {
        /* 2 / (1 + e^-x) - 1 is tanh(x / 2); the shader's exp may err by
         * 3 + 2|x| ulp, which logistic's slope (at most 1/4) shrinks. */
        double want = tanh(x[i] / 2.0);
        cr_assert(fabs(y[i] - want) <= 64 * 0x1p-24, "loggy(%.9g): device %.9g, want %.9g", x[i],
                  y[i], want);
    }
    free(y);
    snprintf(text, sizeof text, layer, N, "stair");
    y = run_exact(text, x, 1);
    for (int i = 0; i < N; ++i) {
        double want = stair_closed(x[i]);
        cr_assert(fabs(y[i] - want) <= 0x1p-23 * (fabs(want) + 1),
                  "stair(%.9g): device %.9g, want %.9g", x[i], y[i], want);
    }
    free(y);
}

/* A ramp in [0, 1] through a crop: darknet takes the centre window (the
 * offset rounded down) and maps it to [-1, 1] unless noadjust=1. */
GPU_TEST(forward, crop_closed_form) {
    enum { B = 2, C = 3, H = 7, W = 6, CH = 4, CW = 3 };
    float x[B * C * H * W];
    for (int i = 0; i < B * C * H * W; ++i) x[i] = (float)i / (B * C * H * W - 1);
    for (int adjust = 0; adjust < 2; ++adjust) {
        char text[256];
        snprintf(text, sizeof text,
                 "[net]\nheight=%d\nwidth=%d\nchannels=%d\n[crop]\ncrop_height=%d\ncrop_width="
                 "%d\nnoadjust=%d\n",
                 H, W, C, CH, CW, !adjust);
        float *y = run_exact(text, x, B);
        for (int bc = 0; bc < B * C; ++bc)
            for (int i = 0; i < CH; ++i)
                for (int j = 0; j < CW; ++j) {
                    /* (7 - 4) / 2 = 1 row and (6 - 3) / 2 = 1 column off. */
                    double v = x[(bc * H + i + 1) * W + j + 1];
                    double want = adjust ? 2 * v - 1 : v;
                    float got = y[(bc * CH + i) * CW + j];
                    cr_assert(fabs(got - want) <= 0x1p-24 * 2,
                              "adjust %d, plane %d (%d, %d): %.9g, want %.9g", adjust, bc, i, j,
                              got, want);
                }
        free(y);
    }
}

GPU_TEST(forward, connected_odd_sizes) {
    one_layer("height=3\nwidth=5\nchannels=7", "[connected]\noutput=13\nactivation=linear", 1, 0,
              1);
    one_layer("height=1\nwidth=1\nchannels=1001",
              "[connected]\noutput=17\nactivation=relu\nsub=0.5", 33, 0, 1);
    one_layer("height=2\nwidth=2\nchannels=3", "[connected]\noutput=1\nactivation=tanh", 5, 0, 1);
}

GPU_TEST(forward, pools_and_crop) {
    one_layer("height=9\nwidth=7\nchannels=3", "[maxpool]\nsize=2\nstride=2", 3, 0, 1);
    one_layer("height=9\nwidth=9\nchannels=2", "[maxpool]\nsize=3\nstride=2\npadding=0", 33, 0, 1);
    one_layer("height=8\nwidth=8\nchannels=2", "[maxpool]\nsize=3\nstride=1\npadding=2", 2, 0, 1);
    one_layer("height=7\nwidth=5\nchannels=4", "[avgpool]", 3, 0, 1);
    one_layer("height=9\nwidth=8\nchannels=3", "[crop]\ncrop_height=4\ncrop_width=5", 2, 0, 1);
    one_layer("height=9\nwidth=8\nchannels=3", "[crop]\ncrop_height=4\ncrop_width=5\nnoadjust=1", 2,
              0, 1);
}

GPU_TEST(forward, chunked) {
    /* Small bindings: a sample or a few per dispatch, and a connected
     * layer's weights split across output channels. */
    one_layer("height=9\nwidth=9\nchannels=3",
              "[convolutional]\nfilters=20\nsize=3\npad=1\nactivation=relu", 9, 8192, 9);
    one_layer("height=4\nwidth=4\nchannels=40", "[connected]\noutput=50\nactivation=linear", 7,
              16384, 20);
    one_layer("height=12\nwidth=12\nchannels=4", "[maxpool]\nsize=2\nstride=2", 9, 4096, 9);
    /* Wide images at a large batch: within maxComputeWorkGroupCount (the
     * validation layer reports a dispatch past it; lavapipe's 65535 splits
     * these 70 samples in two). */
    one_layer("height=256\nwidth=256\nchannels=1",
              "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu", 70, 0, 1);
}

GPU_TEST(forward, alexnet_batch_2) {
    /* alexnet, every layer checked on the device's own input to it
     * (so each layer meets its bound), and the output against the fp64
     * forward from the image. Under the sanitizers it would take minutes of
     * LLVM compiling and fp64 loops and add no coverage the smaller cases
     * and the chunked one lack, so that build skips it. */
#ifdef LSUV_SANITIZED
    cr_skip_test("alexnet is checked by make test; the sanitizer build skips it");
#endif
    lsuv_net *net = NULL;
    TEST_OK(lsuv_net_load(LSUV_SOURCE_DIR "/nets/alexnet.cfg", NULL, &net));
    lsuv_weights *w = weights_for(net, 11);
    lsuv_batch b = batch_for(net, 2, 12);
    lsuv_forward *f = NULL;
    lsuv_forward_options o = {.batch = 2,
                              .conv_kernel = test_conv_kernel(),
                              .keep_outputs = true}; /* every layer is read */
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    TEST_OK(lsuv_forward_run(f, 0, net->n_layers - 1, false));
    uint64_t in_count = 2ull * b.c * b.h * b.w;
    double *in = malloc(in_count * sizeof *in);
    for (uint64_t i = 0; i < in_count; ++i) in[i] = b.data[i];
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        compare_layer(net, w, f, i, in, 2);
        /* The next layer's input: this layer's output as the device has it. */
        uint64_t count = 2 * lsuv_ref_layer_outputs(&net->layers[i]);
        float *dev = malloc(count * sizeof *dev);
        TEST_OK(lsuv_forward_read(f, i, dev));
        free(in);
        in = malloc(count * sizeof *in);
        for (uint64_t j = 0; j < count; ++j) in[j] = dev[j];
        free(dev);
    }
    /* End to end: the relative 2-norm error of the 2 x 1000 outputs. Each
     * layer adds at most its (K + 1) u relative error (K up to 9216 here, so
     * 5.5e-4 for one layer in the worst case); rounding errors mostly cancel,
     * and 1e-4 is already 20 times the typical growth. */
    double *ref = NULL;
    TEST_OK(lsuv_ref_forward(net, w, &b, net->n_layers - 1, &ref));
    double num = 0, den = 0;
    for (int i = 0; i < 2000; ++i) {
        num += (in[i] - ref[i]) * (in[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    cr_assert_lt(sqrt(num / den), 1e-4, "relative error %.3g", sqrt(num / den));
    cr_log_info("alexnet end-to-end relative error %.3g", sqrt(num / den));
    free(ref);
    free(in);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

GPU_TEST(forward, fused_statistics_match_the_output) {
    /* The statistics a convolution computes of its own output, against the
     * fp64 moments of that output as read back; a maxpool's come from a
     * statistics pass over its output. */
    lsuv_net *net =
        parse("[net]\nheight=28\nwidth=28\nchannels=1\n"
              "[convolutional]\nfilters=8\nsize=5\nstride=2\npad=1\nactivation=relu\nsub=0.2\n"
              "[maxpool]\nsize=2\nstride=2\n"
              "[connected]\noutput=10\nactivation=linear\n");
    lsuv_weights *w = weights_for(net, 5);
    lsuv_batch b = batch_for(net, 33, 6);
    lsuv_forward *f = NULL;
    lsuv_forward_options o = {.batch = 33, .conv_kernel = test_conv_kernel()};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    for (uint32_t layer = 0; layer < 3; ++layer) {
        TEST_OK(lsuv_forward_run(f, 0, layer, true));
        uint64_t count = 33 * lsuv_ref_layer_outputs(&net->layers[layer]);
        float *out = malloc(count * sizeof *out);
        TEST_OK(lsuv_forward_read(f, layer, out));
        lsuv_moments got, ref;
        TEST_OK(lsuv_forward_stats_read(f, layer, &got));
        lsuv_ref_moments(out, count, &ref);
        double bound = 0.5 * log2((double)count) * FLT_EPSILON * (fabs(ref.mean) + ref.std);
        cr_assert_eq(got.count, count);
        cr_assert(fabs(got.mean - ref.mean) <= bound && fabs(got.std - ref.std) <= bound,
                  "layer %u: mean %.9g/%.9g std %.9g/%.9g, bound %.3g", layer, got.mean, ref.mean,
                  got.std, ref.std, bound);
        free(out);
    }
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* In fp16 the inputs and weights are what fp16 holds; the reference takes
 * them rounded, so the bound adds only the output's own rounding. */
static void one_layer_fp16(const char *net_line, const char *layer_text, uint32_t n) {
    char text[1024];
    snprintf(text, sizeof text, "[net]\n%s\n%s\n", net_line, layer_text);
    lsuv_net *net = parse(text);
    lsuv_weights *w = weights_for(net, n * 7 + strlen(text));
    lsuv_batch b = batch_for(net, n, strlen(text) + 1);
    uint64_t count = (uint64_t)n * b.c * b.h * b.w;
    round_to_half(b.data, count);
    for (uint32_t i = 0; i < w->n_layers; ++i)
        if (w->layers[i].weight) round_to_half(w->layers[i].weight, w->layers[i].weight_count);
    lsuv_forward *f = NULL;
    lsuv_forward_options o = {
        .batch = n, .precision = LSUV_PRECISION_FP16, .conv_kernel = test_conv_kernel()};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    TEST_OK(lsuv_forward_run(f, 0, 0, true));
    double *in = malloc(count * sizeof *in);
    for (uint64_t i = 0; i < count; ++i) in[i] = b.data[i];
    compare_layer_as(net, w, f, 0, in, n, true);
    /* A local layer's statistics are a statistics pass's, which reads floats. */
    if (lsuv_layer_has_weights(&net->layers[0]) && net->layers[0].type != LSUV_LAYER_LOCAL) {
        /* The fused statistics describe the fp16 tensor as stored. */
        uint64_t out_count = n * lsuv_ref_layer_outputs(&net->layers[0]);
        float *out = malloc(out_count * sizeof *out);
        TEST_OK(lsuv_forward_read(f, 0, out));
        lsuv_moments got, ref;
        TEST_OK(lsuv_forward_stats_read(f, 0, &got));
        lsuv_ref_moments(out, out_count, &ref);
        double bound = 0.5 * log2((double)out_count) * FLT_EPSILON * (fabs(ref.mean) + ref.std);
        cr_assert(fabs(got.mean - ref.mean) <= bound && fabs(got.std - ref.std) <= bound,
                  "fp16 stats: mean %.9g/%.9g std %.9g/%.9g", got.mean, ref.mean, got.std, ref.std);
        free(out);
    }
    free(in);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* Locally connected layers (darknet's [local]) against the fp64 reference,
 * each from the device's own input: strided without padding, padded, 1x1,
 * on a non-square input, after a convolution. */
GPU_TEST(forward, local_layers) {
    lsuv_net *net = parse("[net]\nheight=9\nwidth=11\nchannels=2\n"
                          "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\n"
                          "[local]\nfilters=5\nsize=3\nstride=2\nactivation=leaky\n"
                          "[local]\nfilters=3\nsize=3\npad=1\nactivation=tanh\n"
                          "[local]\nfilters=2\nsize=1\nactivation=linear\n");
    cr_assert_eq(net->layers[1].out.h, 4);
    cr_assert_eq(net->layers[1].out.w, 5);
    lsuv_weights *w = weights_for(net, 21);
    lsuv_batch b = batch_for(net, 3, 22);
    lsuv_forward *f = NULL;
    lsuv_forward_options o = {.batch = 3, .keep_outputs = true};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    TEST_OK(lsuv_forward_run(f, 0, net->n_layers - 1, false));
    uint64_t count = 3ull * b.c * b.h * b.w;
    double *in = malloc(count * sizeof *in);
    for (uint64_t i = 0; i < count; ++i) in[i] = b.data[i];
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        check c = compare_layer(net, w, f, i, in, 3);
        cr_log_info("layer %u: worst error %.3f of its bound", i, c.worst);
        count = 3 * lsuv_ref_layer_outputs(&net->layers[i]);
        float *dev = malloc(count * sizeof *dev);
        TEST_OK(lsuv_forward_read(f, i, dev));
        free(in);
        in = malloc(count * sizeof *in);
        for (uint64_t j = 0; j < count; ++j) in[j] = dev[j];
        free(dev);
    }
    free(in);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

GPU_TEST(forward, fp16_storage) {
    one_layer_fp16("height=9\nwidth=11\nchannels=4",
                   "[convolutional]\nfilters=7\nsize=3\npad=1\nactivation=relu\nsub=0.1", 5);
    one_layer_fp16("height=13\nwidth=12\nchannels=3",
                   "[convolutional]\nfilters=16\nsize=5\nstride=2\npadding=2\nactivation=tanh", 2);
    one_layer_fp16("height=2\nwidth=3\nchannels=40", "[connected]\noutput=17\nactivation=linear",
                   9);
    one_layer_fp16("height=9\nwidth=7\nchannels=3", "[maxpool]\nsize=2\nstride=2", 3);
    one_layer_fp16("height=7\nwidth=5\nchannels=4", "[avgpool]", 3);
    one_layer_fp16("height=6\nwidth=5\nchannels=3",
                   "[local]\nfilters=4\nsize=3\npad=1\nactivation=leaky", 2);
}

/* One layer on the device with `poison` (NaN or Inf) at two inputs, against
 * the reference: an output is NaN, or is an infinity, exactly where the
 * reference's is, and the rest meet the usual bound. Returns the NaN count. */
static uint64_t poisoned_layer(const char *net_line, const char *layer_text, uint32_t n,
                               float poison) {
    char text[1024];
    snprintf(text, sizeof text, "[net]\n%s\n%s\n", net_line, layer_text);
    lsuv_net *net = parse(text);
    lsuv_weights *w = weights_for(net, 21);
    lsuv_batch b = batch_for(net, n, 22);
    uint64_t in_count = (uint64_t)n * b.c * b.h * b.w;
    b.data[in_count / 3] = poison;
    b.data[in_count - 2] = poison;
    lsuv_forward *f = NULL;
    lsuv_forward_options o = {.batch = n, .conv_kernel = test_conv_kernel()};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    TEST_OK(lsuv_forward_run(f, 0, 0, false));
    const lsuv_layer *l = &net->layers[0];
    uint64_t count = (uint64_t)n * lsuv_ref_layer_outputs(l), nans = 0;
    float *dev = malloc(count * sizeof *dev);
    double *in = malloc(in_count * sizeof *in), *ref = malloc(count * sizeof *ref),
           *mag = malloc(count * sizeof *mag);
    for (uint64_t i = 0; i < in_count; ++i) in[i] = b.data[i];
    TEST_OK(lsuv_forward_read(f, 0, dev));
    lsuv_ref_layer(l, &w->layers[0], in, n, ref, mag);
    for (uint64_t i = 0; i < count; ++i) {
        nans += isnan(ref[i]);
        if (isnan(ref[i]) || isinf(ref[i])) {
            cr_assert(isnan(ref[i]) ? isnan(dev[i]) : dev[i] == ref[i],
                      "%s output %llu: device %g, reference %g", layer_text, (unsigned long long)i,
                      dev[i], ref[i]);
            continue;
        }
        /* As compare_layer_as bounds them. */
        double bound = lsuv_layer_has_weights(l)
                           ? bound_for(lsuv_layer_fan_in(l), mag[i], ref[i], l->sub)
                           : (double)(l->in.h * l->in.w + 1) * 0x1p-24 * (fabs(ref[i]) + 4);
        cr_assert(fabs(dev[i] - ref[i]) <= bound, "%s output %llu: device %.9g, reference %.9g",
                  layer_text, (unsigned long long)i, dev[i], ref[i]);
    }
    free(dev);
    free(in);
    free(ref);
    free(mag);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    return nans;
}

GPU_TEST(forward, nan_stays_nan) {
    /* Every activation the cfg knows (the list ends at "unknown"): NaN in,
     * NaN out of each window that holds it (relu's max(NaN, 0) was 0). */
    const char *shape = "height=6\nwidth=7\nchannels=3";
    for (unsigned a = 0; strcmp(lsuv_activation_name((lsuv_activation)a), "unknown") != 0; ++a) {
        char layer[256];
        snprintf(layer, sizeof layer,
                 "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=%s\nsub=0.25",
                 lsuv_activation_name((lsuv_activation)a));
        cr_assert_gt(poisoned_layer(shape, layer, 3, NAN), 0, "%s", layer);
    }
    /* The clamp to maxv keeps NaN; a connected layer, summed across lanes. */
    cr_assert_eq(poisoned_layer(shape, "[connected]\noutput=5\nactivation=relu\nmaxv=0.5", 3, NAN),
                 2 * 5);
    cr_assert_eq(poisoned_layer(shape, "[connected]\noutput=5\nactivation=linear", 1, NAN), 5);
    /* A window with a NaN has a NaN max, wherever the NaN is in it. */
    cr_assert_eq(poisoned_layer(shape, "[maxpool]\nsize=2\nstride=2", 3, NAN), 2);
    cr_assert_gt(poisoned_layer(shape, "[maxpool]\nsize=3\nstride=1\npadding=2", 3, NAN), 2);
    cr_assert_eq(poisoned_layer(shape, "[avgpool]", 3, NAN), 2);
}

GPU_TEST(forward, inf_stays_inf) {
    /* An infinite input makes each sum over it infinite; an unset maxv
     * keeps it so (it was clamped to FLT_MAX), a set one clamps it. */
    const char *shape = "height=5\nwidth=4\nchannels=2";
    static const char *layers[] = {
        "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear",
        "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu",
        "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky",
        "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu6",
        "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\nmaxv=1.5",
        "[connected]\noutput=3\nactivation=linear",
        "[maxpool]\nsize=2\nstride=2"};
    for (size_t i = 0; i < sizeof layers / sizeof *layers; ++i)
        cr_assert_eq(poisoned_layer(shape, layers[i], 2, INFINITY), 0, "%s", layers[i]);
}
