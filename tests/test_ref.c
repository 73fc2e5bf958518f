/* The fp64 reference and the generator, against closed forms. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "support/nets.h"
#include "lsuv/input.h"
#include "lsuv/net.h"
#include "lsuv/weights.h"
#include "lsuv/ref.h"
#include "lsuv/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

Test(ref, integers_one_to_n) {
    /* 1..n: mean (n+1)/2, population variance (n^2-1)/12. */
    size_t n = 1001;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; ++i) x[i] = (float)(i + 1);
    lsuv_moments m;
    lsuv_ref_moments(x, n, &m);
    double nn = (double)n;
    cr_assert_float_eq(m.mean, (nn + 1) / 2, 1e-12);
    cr_assert_float_eq(m.std_population, sqrt((nn * nn - 1) / 12), 1e-12);
    cr_assert_float_eq(m.std, sqrt(nn * (nn + 1) / 12), 1e-12);
    free(x);
}

Test(ref, large_offset_two_values) {
    /* 1e6 +- 0.5: std exactly 0.5 (population), no cancellation in fp64. */
    float x[] = {1e6f - 0.5f, 1e6f + 0.5f};
    lsuv_moments m;
    lsuv_ref_moments(x, 2, &m);
    cr_assert_eq(m.mean, 1e6);
    cr_assert_eq(m.std_population, 0.5);
    cr_assert_float_eq(m.std, sqrt(0.5), 1e-15);
}

Test(ref, nan_is_counted) {
    float x[] = {1.0f, NAN, 2.0f, -INFINITY};
    lsuv_moments m;
    lsuv_ref_moments(x, 4, &m);
    cr_assert_eq(m.nonfinite, 2);
    cr_assert_eq(m.count, 2);
    cr_assert(isnan(m.mean));
}

Test(ref, f64_moments_match_float_moments) {
    /* The same values as float and as double: identical moments. */
    size_t n = 777;
    float *x = malloc(n * sizeof *x);
    double *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; ++i) y[i] = x[i] = (float)(1e3 + sin((double)i));
    lsuv_moments a, b;
    lsuv_ref_moments(x, n, &a);
    lsuv_ref_moments_f64(y, n, &b);
    cr_assert_eq(a.mean, b.mean);
    cr_assert_eq(a.std, b.std);
    free(x);
    free(y);
}

typedef struct walk {
    const lsuv_net *net;
    const lsuv_weights *w;
    const lsuv_batch *batch;
    uint32_t visits, stop_at;
} walk;

static lsuv_status check_layer(void *p, uint32_t layer, const double *out, uint64_t count) {
    /* Each visit sees exactly what a walk that ends at that layer returns. */
    walk *k = p;
    cr_assert_eq(layer, k->visits++);
    double *whole = NULL;
    cr_assert_eq(lsuv_ref_forward(k->net, k->w, k->batch, layer, &whole), LSUV_OK);
    cr_assert_eq(count, (uint64_t)k->batch->n * lsuv_ref_layer_outputs(&k->net->layers[layer]));
    for (uint64_t i = 0; i < count; ++i) cr_assert_eq(out[i], whole[i], "layer %u, %lu", layer, i);
    free(whole);
    return layer == k->stop_at ? LSUV_ERROR_INVALID : LSUV_OK;
}

Test(ref, forward_each_visits_every_layer_once) {
    lsuv_net *net = NULL;
    lsuv_weights *w = NULL;
    lsuv_batch batch = {0};
    cr_assert_eq(lsuv_net_load(LSUV_SOURCE_DIR "/nets/fastai-07a.cfg", NULL, &net), LSUV_OK);
    cr_assert_eq(lsuv_weights_init(net, LSUV_INIT_KAIMING, 5, &w), LSUV_OK);
    lsuv_input_options io = {.spec = "synthetic", .batch = 3, .seed = 9};
    cr_assert_eq(lsuv_input_load(&io, net, &batch), LSUV_OK);
    walk k = {net, w, &batch, 0, UINT32_MAX};
    uint32_t last = net->n_layers - 1;
    cr_assert_eq(lsuv_ref_forward_each(net, w, &batch, last, check_layer, &k), LSUV_OK);
    cr_assert_eq(k.visits, net->n_layers);
    /* A visit's status stops the walk. */
    k = (walk){net, w, &batch, 0, 1};
    cr_assert_eq(lsuv_ref_forward_each(net, w, &batch, last, check_layer, &k), LSUV_ERROR_INVALID);
    cr_assert_eq(k.visits, 2);
    lsuv_batch_free(&batch);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

typedef struct pre_walk {
    const lsuv_weights *w;
    const lsuv_batch *batch;
    uint32_t visits;
} pre_walk;

/* Layer 0, a 1x1 convolution of one channel: its pre-activation is w x + b
 * exactly. Layer 1 (a connected layer without lsuv) is reached from layer
 * 0's output, relu(w x + b) - sub clamped to maxv. */
static lsuv_status check_pre(void *p, uint32_t layer, const double *out, uint64_t count) {
    pre_walk *k = p;
    const lsuv_layer_params *c = &k->w->layers[0], *fc = &k->w->layers[1];
    cr_assert_eq(layer, k->visits++);
    if (layer == 0) {
        cr_assert_eq(count, (uint64_t)k->batch->n * 4 * 2);
        for (uint64_t i = 0; i < count; ++i) {
            uint32_t o = (uint32_t)(i / 4 % 2);
            double x = k->batch->data[i / 8 * 4 + i % 4];
            cr_assert_eq(out[i], (double)c->weight[o] * x + c->bias[o], "output %lu", i);
        }
        return LSUV_OK;
    }
    for (uint32_t b = 0; b < k->batch->n; ++b) {
        double sum = fc->bias[0];
        for (uint32_t j = 0; j < 8; ++j) {
            double pre = (double)c->weight[j / 4] * k->batch->data[b * 4 + j % 4] + c->bias[j / 4];
            double y = (pre > 0 ? pre : 0) - c->sub;
            sum += (double)fc->weight[j] * (y > 0.5 ? 0.5 : y);
        }
        cr_assert_float_eq(out[b], sum, 1e-12, "sample %u", b);
    }
    return LSUV_OK;
}

Test(ref, pre_activation_is_the_sums_with_bias) {
    static const char cfg[] = "[net]\nheight=2\nwidth=2\nchannels=1\n"
                              "[convolutional]\nfilters=2\nsize=1\nactivation=relu\nsub=0.25\n"
                              "maxv=0.5\n[connected]\noutput=1\nactivation=linear\nlsuv=0\n";
    lsuv_net *net = NULL;
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_net_parse("pre.cfg", cfg, strlen(cfg), NULL, &net), LSUV_OK, "%s",
                 lsuv_error_message());
    cr_assert_eq(lsuv_weights_init(net, LSUV_INIT_KAIMING, 3, &w), LSUV_OK);
    w->layers[0].bias[0] = 0.125f;
    w->layers[0].bias[1] = -0.375f;
    w->layers[0].sub = 0.25f;
    lsuv_input_options io = {.spec = "synthetic", .batch = 5, .seed = 4};
    lsuv_batch batch = {0};
    cr_assert_eq(lsuv_input_load(&io, net, &batch), LSUV_OK);
    pre_walk k = {w, &batch, 0};
    cr_assert_eq(lsuv_ref_forward_each_pre(net, w, &batch, 1, check_pre, &k), LSUV_OK);
    cr_assert_eq(k.visits, 2);
    lsuv_batch_free(&batch);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* Each layer's output, and a convolution's magnitudes, as threads computes them. */
static void forward_with_threads(const lsuv_net *net, const lsuv_weights *w, const lsuv_batch *b,
                                 int threads, double **outs, double **mag) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    for (uint32_t i = 0; i < net->n_layers; ++i)
        cr_assert_eq(lsuv_ref_forward(net, w, b, i, &outs[i]), LSUV_OK, "%s", lsuv_error_message());
    const lsuv_layer *l = &net->layers[1];
    *mag = malloc(b->n * lsuv_ref_layer_outputs(l) * sizeof **mag);
    double *out = malloc(b->n * lsuv_ref_layer_outputs(l) * sizeof *out);
    lsuv_ref_layer(l, &w->layers[1], outs[0], b->n, out, *mag);
    cr_assert(memcmp(out, outs[1], b->n * lsuv_ref_layer_outputs(l) * sizeof *out) == 0);
    free(out);
}

Test(ref, threads_give_the_bits_of_one_thread) {
#ifndef _OPENMP
    cr_skip_test("built without OpenMP: the reference has one thread");
#endif
    /* Padded, strided and grouped convolutions, a pool and a connected
     * layer: every output must be the same sum in the same order. */
    static const char cfg[] = "[net]\nheight=9\nwidth=11\nchannels=4\n"
                              "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n"
                              "[convolutional]\nfilters=6\nsize=3\nstride=2\npad=1\ngroups=2\n"
                              "activation=relu\n"
                              "[maxpool]\nsize=2\nstride=2\n"
                              "[connected]\noutput=10\nactivation=linear\n";
    lsuv_net *net = NULL;
    lsuv_weights *w = NULL;
    lsuv_batch batch = {0};
    cr_assert_eq(lsuv_net_parse("threads.cfg", cfg, sizeof cfg - 1, NULL, &net), LSUV_OK, "%s",
                 lsuv_error_message());
    cr_assert_eq(lsuv_weights_init(net, LSUV_INIT_KAIMING, 3, &w), LSUV_OK);
    for (uint32_t i = 0; i < net->n_layers; ++i) /* kaiming's biases are 0 */
        for (uint64_t k = 0; w->layers[i].weight && k < w->layers[i].bias_count; ++k)
            w->layers[i].bias[k] = 0.1f * (float)(k % 7) - 0.3f;
    lsuv_input_options io = {.spec = "synthetic", .batch = 5, .seed = 4};
    cr_assert_eq(lsuv_input_load(&io, net, &batch), LSUV_OK);
    double *one[8], *many[8], *mag_one, *mag_many;
    cr_assert_leq(net->n_layers, 8);
    forward_with_threads(net, w, &batch, 1, one, &mag_one);
    forward_with_threads(net, w, &batch, 4, many, &mag_many);
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        uint64_t count = batch.n * lsuv_ref_layer_outputs(&net->layers[i]);
        cr_assert(memcmp(one[i], many[i], count * sizeof **one) == 0, "layer %u", i);
        free(one[i]);
        free(many[i]);
    }
    uint64_t count = batch.n * lsuv_ref_layer_outputs(&net->layers[1]);
    cr_assert(memcmp(mag_one, mag_many, count * sizeof *mag_one) == 0);
    free(mag_one);
    free(mag_many);
    lsuv_batch_free(&batch);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(rng, same_seed_same_numbers) {
    lsuv_rng a, b, c;
    lsuv_rng_seed(&a, 42);
    lsuv_rng_seed(&b, 42);
    lsuv_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; ++i) {
        uint64_t x = lsuv_rng_next(&a);
        cr_assert_eq(x, lsuv_rng_next(&b));
        differ += x != lsuv_rng_next(&c);
    }
    cr_assert_gt(differ, 990);
}

Test(rng, normal_moments) {
    /* A million standard normals: the sample mean's standard error is 1e-3,
     * the sample std's about 7e-4; five of each, for a fixed seed. */
    size_t n = 1000000;
    float *x = malloc(n * sizeof *x);
    lsuv_rng rng;
    lsuv_rng_seed(&rng, 0);
    lsuv_rng_fill_normal(&rng, x, n, 0.0, 1.0);
    lsuv_moments m;
    lsuv_ref_moments(x, n, &m);
    cr_assert_lt(fabs(m.mean), 5e-3, "mean %g", m.mean);
    cr_assert_lt(fabs(m.std - 1.0), 3.5e-3, "std %g", m.std);
    free(x);
}

Test(rng, uniform_range) {
    lsuv_rng rng;
    lsuv_rng_seed(&rng, 1);
    double lo = 1, hi = 0;
    for (int i = 0; i < 100000; ++i) {
        double u = lsuv_rng_uniform(&rng);
        cr_assert(u >= 0.0 && u < 1.0);
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    cr_assert_lt(lo, 1e-3);
    cr_assert_gt(hi, 1 - 1e-3);
}

Test(half, round_trip_and_rounding) {
    /* Every half survives the trip through float; floats round to nearest
     * even: 1 + 2^-11 is a tie between 1 and 1 + 2^-10 and goes to 1. */
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = lsuv_half_to_float((uint16_t)h);
        if (f != f) continue; /* NaN */
        cr_assert_eq(lsuv_half_from_float(f), h, "half %04x", h);
    }
    cr_assert_eq(lsuv_half_from_float(1.0f + 0x1p-11f), 0x3c00);
    cr_assert_eq(lsuv_half_from_float(1.0f + 3 * 0x1p-11f), 0x3c02);
    cr_assert_eq(lsuv_half_from_float(65520.0f), 0x7c00, "rounds up to infinity");
    cr_assert_eq(lsuv_half_from_float(0x1p-25f), 0x0000, "a tie below the smallest subnormal");
    cr_assert_eq(lsuv_half_from_float(-0x1p-24f), 0x8001);
    cr_assert_eq(lsuv_half_to_float(0x3555), 0.333251953125f);
}

/* One layer from cfg text, weights 1 and biases 0, run by the reference on
 * `in`. */
static void ref_one_layer(const char *cfg, const double *in, uint32_t n, double *out) {
    lsuv_net *net = NULL;
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_net_parse("nan.cfg", cfg, strlen(cfg), NULL, &net), LSUV_OK, "%s: %s", cfg,
                 lsuv_error_message());
    cr_assert_eq(lsuv_weights_create(net, &w), LSUV_OK);
    lsuv_layer_params *p = &w->layers[0];
    for (uint64_t i = 0; p->weight && i < p->weight_count; ++i) p->weight[i] = 1.0f;
    lsuv_ref_layer(&net->layers[0], p, in, n, out, NULL);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(ref, every_activation_of_nan_is_nan) {
    /* Every activation the cfg knows (the list ends at "unknown"), after
     * a connected layer that passes its input through: NaN stays NaN, and a
     * finite input stays finite. */
    unsigned count = 0;
    for (unsigned a = 0; strcmp(lsuv_activation_name((lsuv_activation)a), "unknown") != 0; ++a) {
        char cfg[160];
        snprintf(cfg, sizeof cfg,
                 "[net]\nheight=1\nwidth=1\nchannels=1\n"
                 "[connected]\noutput=1\nactivation=%s\n",
                 lsuv_activation_name((lsuv_activation)a));
        double in[2] = {NAN, 0.5}, out[2];
        ref_one_layer(cfg, in, 2, out);
        cr_assert(isnan(out[0]), "%s(NaN) = %g", lsuv_activation_name((lsuv_activation)a), out[0]);
        cr_assert(isfinite(out[1]), "%s(0.5) = %g", lsuv_activation_name((lsuv_activation)a),
                  out[1]);
        ++count;
    }
    cr_assert_geq(count, 16);
    /* maxv clamps numbers, never NaN; Inf above it, it clamps. */
    double in[3] = {NAN, INFINITY, 7}, out[3];
    ref_one_layer("[net]\nheight=1\nwidth=1\nchannels=1\n"
                  "[connected]\noutput=1\nactivation=relu\nmaxv=2\n",
                  in, 3, out);
    cr_assert(isnan(out[0]));
    cr_assert_eq(out[1], 2.0);
    cr_assert_eq(out[2], 2.0);
}

Test(ref, maxpool_of_a_window_with_nan_is_nan) {
    /* 2x2 windows, stride 2, on a 4x4 plane: NaN first, last or in the
     * middle of a window, and a window without one. */
    double in[16] = {NAN, 1, 2,   3,   /* */
                     5,   4, 6,   NAN, /* */
                     9,   8, -1,  -2,  /* */
                     7,   6, NAN, -3};
    double out[4];
    ref_one_layer("[net]\nheight=4\nwidth=4\nchannels=1\n[maxpool]\nsize=2\nstride=2\n", in, 1,
                  out);
    cr_assert(isnan(out[0]), "%g", out[0]);
    cr_assert(isnan(out[1]), "%g", out[1]);
    cr_assert_eq(out[2], 9.0);
    cr_assert(isnan(out[3]), "%g", out[3]);
}

static lsuv_net *parse_net(const char *text) {
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_parse("t.cfg", text, strlen(text), NULL, &net), LSUV_OK, "%s",
                 lsuv_error_message());
    return net;
}

/* Layer 0 of `text` through the reference on x, its weights all 1 and its
 * biases 0. */
static double *ref_exact(const char *text, const double *x, uint32_t n) {
    lsuv_net *net = parse_net(text);
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_weights_create(net, &w), LSUV_OK);
    for (uint64_t k = 0; k < w->layers[0].weight_count; ++k) w->layers[0].weight[k] = 1.0f;
    double *y = malloc((size_t)n * lsuv_ref_layer_outputs(&net->layers[0]) * sizeof *y);
    lsuv_ref_layer(&net->layers[0], &w->layers[0], x, n, y, NULL);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    return y;
}

Test(ref, loggy_and_stair_closed_form) {
    enum { N = 97 };
    double x[N];
    for (int i = 0; i < N; ++i) x[i] = -12.0 + 0.25 * i - (i % 3 ? 0.0 : 1e-9);
    const char *layer = "[net]\nheight=1\nwidth=97\nchannels=1\n"
                        "[convolutional]\nfilters=1\nsize=1\nactivation=%s\n";
    char text[256];
    snprintf(text, sizeof text, layer, "loggy");
    double *y = ref_exact(text, x, 1);
    for (int i = 0; i < N; ++i)
        cr_assert_float_eq(y[i], tanh(x[i] / 2), 1e-15, "loggy(%.17g): %.17g", x[i], y[i]);
    free(y);
    snprintf(text, sizeof text, layer, "stair");
    y = ref_exact(text, x, 1);
    for (int i = 0; i < N; ++i) {
        /* Flat at k on [2k, 2k+1), slope 1 on [2k+1, 2k+2). */
        double k = floor(x[i] / 2), r = x[i] - 2 * k;
        double want = r < 1 ? k : k + r - 1;
        cr_assert_float_eq(y[i], want, 1e-12, "stair(%.17g): %.17g, want %.17g", x[i], y[i], want);
    }
    /* Some by hand from darknet's definition: floor(-3.5) = -4 is even, so
     * floor(-1.75) = -2; floor(-2.5) = -3 is odd, so 0.5 + floor(-1.25). */
    static const double pts[][2] = {{-3.5, -2}, {-2.5, -1.5}, {-1, -1}, {-0.5, -0.5},
                                    {0, 0},     {0.5, 0},     {1, 0},   {1.5, 0.5},
                                    {2.25, 1},  {3.75, 1.75}};
    for (unsigned i = 0; i < sizeof pts / sizeof *pts; ++i) {
        double v = pts[i][0], *z = ref_exact("[net]\nheight=1\nwidth=1\nchannels=1\n"
                                             "[connected]\noutput=1\nactivation=stair\n",
                                             &v, 1);
        cr_assert_eq(*z, pts[i][1], "stair(%g) = %g, want %g", v, *z, pts[i][1]);
        free(z);
    }
    free(y);
}

Test(ref, crop_closed_form) {
    /* 2 samples x 2 channels of 5x6, a ramp in [0, 1]; a 2x3 crop starts at
     * row (5 - 2) / 2 = 1 and column (6 - 3) / 2 = 1, and maps to [-1, 1]
     * unless noadjust=1. */
    double x[2 * 2 * 5 * 6];
    for (int i = 0; i < 120; ++i) x[i] = i / 119.0;
    for (int adjust = 0; adjust < 2; ++adjust) {
        char text[160];
        snprintf(text, sizeof text,
                 "[net]\nheight=5\nwidth=6\nchannels=2\n[crop]\ncrop_height=2\ncrop_width=3\n"
                 "noadjust=%d\n",
                 !adjust);
        double *y = ref_exact(text, x, 2);
        for (int bc = 0; bc < 4; ++bc)
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 3; ++j) {
                    double v = x[(bc * 5 + i + 1) * 6 + j + 1];
                    cr_assert_float_eq(y[(bc * 2 + i) * 3 + j], adjust ? 2 * v - 1 : v, 1e-15);
                }
        free(y);
    }
}

Test(ref, vgg16_crop_is_darknets) {
    /* A checkerboard of 0.25 and 1.25 (mean 0.75, std 0.5) through
     * vgg-16's crop: darknet maps it to -0.5 and 1.5, mean 0.5, std 1. */
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_load(NETS "vgg-16.cfg", NULL, &net), LSUV_OK, "%s", lsuv_error_message());
    const lsuv_layer *crop = &net->layers[0];
    cr_assert_eq(crop->type, LSUV_LAYER_CROP);
    cr_assert_not(crop->crop_noadjust);
    uint64_t n_in = (uint64_t)crop->in.c * crop->in.h * crop->in.w;
    uint64_t n_out = lsuv_ref_layer_outputs(crop);
    double *x = malloc(n_in * sizeof *x), *y = malloc(n_out * sizeof *y);
    for (uint64_t i = 0; i < n_in; ++i) {
        uint64_t row = i / crop->in.w, col = i % crop->in.w;
        x[i] = (row + col) % 2 ? 1.25 : 0.25;
    }
    lsuv_ref_layer(crop, NULL, x, 1, y, NULL);
    lsuv_moments m;
    lsuv_ref_moments_f64(y, n_out, &m);
    cr_assert_float_eq(m.mean, 0.5, 1e-12);
    cr_assert_float_eq(m.std_population, 1.0, 1e-12);
    free(x);
    free(y);
    lsuv_net_destroy(net);
}
