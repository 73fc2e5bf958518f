/* Batch norm as darknet stores and applies it: .weights laid out as its
 * loader reads them (sizes counted by hand and darknet's published files),
 * both weights formats round trip it, the fp64 reference against closed
 * forms, and the device's folded inference batch norm against the
 * reference. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "lsuv/forward.h"
#include "lsuv/lsuv.h"
#include "lsuv/ref.h"
#include "lsuv/rng.h"
#include "support/gpu.h"
#include "support/nets.h"
#include "support/json_read.h"
#include "support/spawn.h"

static lsuv_net *parse_with(const char *text, const lsuv_net_options *o) {
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_parse("bn.cfg", text, strlen(text), o, &net);
    cr_assert_eq(s, LSUV_OK, "%s", lsuv_error_message());
    return net;
}

/* 8x8x3 -> conv 4 filters 3x3 pad 1, BN -> maxpool 2 -> connected 5, BN. */
static const char small_cfg[] = "[net]\nheight=8\nwidth=8\nchannels=3\n"
                                "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\n"
                                "activation=leaky\n"
                                "[maxpool]\nsize=2\nstride=2\n"
                                "[connected]\nbatch_normalize=1\noutput=5\nactivation=leaky\n";

/* Non-trivial parameters everywhere, variances positive. */
static lsuv_weights *bn_weights(const lsuv_net *net, uint64_t seed) {
    lsuv_weights *w = NULL;
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, seed, &w));
    lsuv_rng rng;
    lsuv_rng_seed(&rng, seed ^ 0xb7);
    for (uint32_t i = 0; i < w->n_layers; ++i) {
        lsuv_layer_params *p = &w->layers[i];
        if (!p->weight) continue;
        lsuv_rng_fill_normal(&rng, p->bias, p->bias_count, 0, 0.5);
        if (!p->scales) continue;
        lsuv_rng_fill_normal(&rng, p->scales, p->bias_count, 1, 0.3);
        lsuv_rng_fill_normal(&rng, p->rolling_mean, p->bias_count, 0, 0.4);
        for (uint32_t c = 0; c < p->bias_count; ++c)
            p->rolling_variance[c] = 0.25f + 2.0f * (float)lsuv_rng_uniform(&rng);
    }
    return w;
}

static size_t encoded_size(const lsuv_net *net, const lsuv_weights *w, const char *name) {
    uint8_t *data = NULL;
    size_t size = 0;
    TEST_OK(lsuv_weights_encode(net, w, name, &data, &size));
    free(data);
    return size;
}

Test(bn_files, fresh_batch_norm_is_the_identity) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    cr_assert(net->layers[0].batch_normalize && net->layers[2].batch_normalize);
    cr_assert(!net->layers[0].bn_batch);
    lsuv_weights *w = NULL;
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, 3, &w));
    for (uint32_t i = 0; i < 3; i += 2)
        for (uint32_t c = 0; c < w->layers[i].bias_count; ++c)
            cr_assert(w->layers[i].scales[c] == 1.0f && w->layers[i].rolling_mean[c] == 0.0f &&
                      w->layers[i].rolling_variance[c] == 1.0f);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(bn_files, darknet_size_counted_by_hand) {
    /* Header 3 x int32 + 64-bit seen = 20 bytes. conv: 4 biases + 3 x 4
     * batch norm + 4x3x3x3 = 108 weights = 124 floats; connected from
     * 4x4x4 = 64 inputs: 5 biases + 320 weights + 3 x 5 = 340 floats. */
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 5);
    cr_assert_eq(encoded_size(net, w, "x.weights"), 20 + 4 * (124 + 340));
    lsuv_net_destroy(net);
    lsuv_net_options strip = {.strip_bn = true};
    net = parse_with(small_cfg, &strip);
    lsuv_weights_destroy(w);
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, 3, &w));
    cr_assert_eq(encoded_size(net, w, "x.weights"), 20 + 4 * (112 + 325));
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(bn_files, darknet_order) {
    /* conv: biases, scales, rolling_mean, rolling_variance, weights;
     * connected: biases, weights, then the three. */
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 9);
    uint8_t *d = NULL;
    size_t size = 0;
    TEST_OK(lsuv_weights_encode(net, w, "x.weights", &d, &size));
    const lsuv_layer_params *c = &w->layers[0], *f = &w->layers[2];
    size_t at = 20;
    const struct {
        const float *v;
        size_t n;
        const char *what;
    } want[] = {{c->bias, 4, "conv biases"},      {c->scales, 4, "conv scales"},
                {c->rolling_mean, 4, "mean"},     {c->rolling_variance, 4, "variance"},
                {c->weight, 108, "conv weights"}, {f->bias, 5, "fc biases"},
                {f->weight, 320, "fc weights"},   {f->scales, 5, "fc scales"},
                {f->rolling_mean, 5, "fc mean"},  {f->rolling_variance, 5, "fc variance"}};
    for (unsigned k = 0; k < sizeof want / sizeof *want; ++k) {
        cr_assert(memcmp(d + at, want[k].v, want[k].n * 4) == 0, "%s at byte %zu", want[k].what,
                  at);
        at += want[k].n * 4;
    }
    cr_assert_eq(at, size);
    free(d);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

static void round_trip(const char *file) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 11), *back = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/%d-%s", LSUV_TEST_TMP, (int)getpid(), file);
    TEST_OK(lsuv_weights_save(net, w, path));
    TEST_OK(lsuv_weights_load(net, path, &back));
    for (uint32_t i = 0; i < 3; i += 2) {
        const lsuv_layer_params *x = &w->layers[i], *y = &back->layers[i];
        size_t b = x->bias_count * 4;
        cr_assert(memcmp(x->weight, y->weight, x->weight_count * 4) == 0, "layer %u weights", i);
        cr_assert(memcmp(x->bias, y->bias, b) == 0, "layer %u biases", i);
        cr_assert(memcmp(x->scales, y->scales, b) == 0, "layer %u scales", i);
        cr_assert(memcmp(x->rolling_mean, y->rolling_mean, b) == 0, "layer %u mean", i);
        cr_assert(memcmp(x->rolling_variance, y->rolling_variance, b) == 0, "layer %u var", i);
    }
    lsuv_weights_destroy(back);
    /* A negative variance is refused, naming it. */
    w->layers[2].rolling_variance[3] = -0.5f;
    TEST_OK(lsuv_weights_save(net, w, path));
    cr_assert_eq(lsuv_weights_load(net, path, &back), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "rolling_variance") &&
                  strstr(lsuv_error_message(), "-0.5"),
              "%s", lsuv_error_message());
    unlink(path);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(bn_files, darknet_round_trip) {
    round_trip("bn.weights");
}

Test(bn_files, safetensors_round_trip) {
    round_trip("bn.safetensors");
}

Test(bn_files, a_file_without_batch_norm_is_refused) {
    /* Written with --bn strip, read for the cfg with batch norm: the conv's
     * first weights land where its variances belong, and this seed's first
     * is negative (darknet would take its square root). */
    lsuv_net_options strip = {.strip_bn = true};
    lsuv_net *stripped = parse_with(small_cfg, &strip), *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = NULL, *back = NULL;
    TEST_OK(lsuv_weights_init(stripped, LSUV_INIT_KAIMING, 3, &w));
    uint8_t *d = NULL;
    size_t size = 0;
    TEST_OK(lsuv_weights_encode(stripped, w, "x.weights", &d, &size));
    cr_assert_eq(lsuv_weights_parse_darknet(net, "x.weights", d, size, &back), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "layer 0 (convolutional): rolling_variance[0] is -"),
              "%s", lsuv_error_message());
    /* And the other way round: bytes left. */
    free(d);
    lsuv_weights_destroy(w);
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, 3, &w));
    TEST_OK(lsuv_weights_encode(net, w, "x.weights", &d, &size));
    cr_assert_eq(lsuv_weights_parse_darknet(stripped, "x.weights", d, size, &back),
                 LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "--bn strip"), "%s", lsuv_error_message());
    free(d);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    lsuv_net_destroy(stripped);
}

static size_t darknet_file_size(const char *cfg, bool strip) {
    lsuv_net *net = NULL;
    lsuv_net_options o = {.strip_bn = strip};
    TEST_OK(lsuv_net_load(cfg, &o, &net));
    lsuv_weights *w = NULL;
    TEST_OK(lsuv_weights_create(net, &w));
    size_t size = encoded_size(net, w, "x.weights");
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    return size;
}

/* pjreddie's published yolov3-tiny.weights is 35,434,956 bytes; darknet's
 * loader reads 29,293,940 for darknet.cfg (issue 16), which --bn strip
 * writes 24,384 bytes short (3 x 8,128 batch norm floats). */
Test(bn_files, darknets_published_sizes) {
    cr_assert_eq(darknet_file_size(darknet_cfg("yolov3-tiny.cfg"), false), 35434956);
    cr_assert_eq(darknet_file_size(darknet_cfg("darknet.cfg"), false), 29293940);
    cr_assert_eq(darknet_file_size(darknet_cfg("darknet.cfg"), true), 29269556);
}

/* Our own YOLOv3 (nets/yolov3.cfg, written from the paper): the size of
 * the published yolov3.weights, 248,007,048 bytes, a fact independent of
 * this parser: 20 bytes of header and 62,001,757 floats. */
Test(bn_files, yolov3_is_the_published_size) {
    cr_assert_eq(darknet_file_size(LSUV_SOURCE_DIR "/nets/yolov3.cfg", false), 248007048);
}

/* ---- the reference against closed forms ------------------------------- */

/* One channel, 1x1 convolution of weight 2 over a 1x2 input, batch 2:
 * sums 2 x {1, 2, 3, 5} = {2, 4, 6, 10}; scale 3, bias 0.5, rolling mean 1,
 * rolling variance 4, linear. */
static void one_channel(bool batch, double want[4]) {
    lsuv_net_options o = {.bn_batch = batch};
    lsuv_net *net = parse_with("[net]\nheight=1\nwidth=2\nchannels=1\n[convolutional]\n"
                               "batch_normalize=1\nfilters=1\nsize=1\nactivation=linear\n",
                               &o);
    lsuv_weights *w = NULL;
    TEST_OK(lsuv_weights_create(net, &w));
    lsuv_layer_params *p = &w->layers[0];
    p->weight[0] = 2;
    p->bias[0] = 0.5f;
    p->scales[0] = 3;
    p->rolling_mean[0] = 1;
    p->rolling_variance[0] = 4;
    const double in[4] = {1, 2, 3, 5};
    double out[4];
    lsuv_ref_layer(&net->layers[0], p, in, 2, out, NULL);
    for (int i = 0; i < 4; ++i)
        cr_assert(fabs(out[i] - want[i]) <= 1e-14 * (fabs(want[i]) + 1), "%d: %.17g, want %.17g", i,
                  out[i], want[i]);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(bn_ref, inference_uses_the_rolling_statistics) {
    double d = sqrt(4 + 1e-5), want[4];
    const double x[4] = {2, 4, 6, 10};
    for (int i = 0; i < 4; ++i) want[i] = 3 * (x[i] - 1) / d + 0.5;
    one_channel(false, want);
}

Test(bn_ref, batch_uses_the_batchs_with_n_minus_1) {
    /* mean 5.5; squared deviations 12.25 + 2.25 + 0.25 + 20.25 = 35, / 3. */
    double d = sqrt(35.0 / 3 + 1e-5), want[4];
    const double x[4] = {2, 4, 6, 10};
    for (int i = 0; i < 4; ++i) want[i] = 3 * (x[i] - 5.5) / d + 0.5;
    one_channel(true, want);
}

/* ---- the device against the reference --------------------------------- */

/* As the forward suite's bound: an fp32 sum of K terms and a bias errs by
 * at most (K + 1) u times their magnitudes (which the reference gives with
 * the batch norm's factor, mean and bias in), the activation's few ulps on
 * top. */
static double bound_for(uint64_t k, double magnitude, double ref) {
    const double u = 0x1p-24;
    return 1.25 * (double)(k + 1) * u * magnitude + 64 * u * (fabs(ref) + 1);
}

/* Layer `layer` on the device against the reference from `in`; returns the
 * device's outputs (the next layer's input), as doubles. */
static double *compare(const lsuv_net *net, const lsuv_weights *w, lsuv_forward *f, uint32_t layer,
                       const double *in, uint32_t n) {
    const lsuv_layer *l = &net->layers[layer];
    uint64_t count = (uint64_t)n * lsuv_ref_layer_outputs(l);
    float *dev = malloc(count * sizeof *dev);
    double *ref = malloc(count * sizeof *ref), *mag = malloc(count * sizeof *mag);
    double *out = malloc(count * sizeof *out), worst = 0;
    TEST_OK(lsuv_forward_read(f, layer, dev));
    lsuv_ref_layer(l, &w->layers[layer], in, n, ref, mag);
    for (uint64_t i = 0; i < count; ++i) {
        double b =
            lsuv_layer_has_weights(l) ? bound_for(lsuv_layer_fan_in(l), mag[i], ref[i]) : 0.0;
        double err = fabs(dev[i] - ref[i]);
        cr_assert(err <= b, "layer %u output %llu: device %.9g, reference %.9g, bound %.3g", layer,
                  (unsigned long long)i, dev[i], ref[i], b);
        worst = b > 0 && err / b > worst ? err / b : worst;
        out[i] = dev[i];
    }
    cr_log_info("layer %u: worst error %.3f of the bound", layer, worst);
    free(dev);
    free(ref);
    free(mag);
    return out;
}

/* small_cfg's whole forward over a batch of 6 normal(mean, std) samples
 * from the seed, every output kept; *x the batch as doubles. */
static lsuv_forward *forward_on_noise(const lsuv_net *net, const lsuv_weights *w, uint64_t seed,
                                      float mean, float std, bool stats, double **x,
                                      lsuv_conv_kernel kernel) {
    const uint32_t n = 6;
    lsuv_batch b = {n, 3, 8, 8, malloc((size_t)n * 192 * sizeof(float))};
    cr_assert(b.data);
    lsuv_rng rng;
    lsuv_rng_seed(&rng, seed);
    lsuv_rng_fill_normal(&rng, b.data, (uint64_t)n * 192, mean, std);
    lsuv_forward *f = NULL;
    /* every layer is read */
    lsuv_forward_options o = {.batch = n, .keep_outputs = true, .conv_kernel = kernel};
    TEST_OK(lsuv_forward_create(gpu.device, net, w, &o, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    TEST_OK(lsuv_forward_run(f, 0, net->n_layers - 1, stats));
    *x = malloc((size_t)n * 192 * sizeof **x);
    cr_assert(*x);
    for (uint64_t i = 0; i < (uint64_t)n * 192; ++i) (*x)[i] = b.data[i];
    lsuv_batch_free(&b);
    return f;
}

GPU_TEST(bn_device, inference_folds_into_the_epilogue) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 21);
    const uint32_t n = 6;
    double *x;
    lsuv_forward *f = forward_on_noise(net, w, 5, 0, 1, false, &x, LSUV_CONV_AUTO);
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        double *y = compare(net, w, f, i, x, n);
        free(x);
        x = y;
    }
    free(x);
    /* Read back: darknet's weights and bias again (within an ulp of the
     * fold's round trip), the batch norm as given. */
    lsuv_weights *back = NULL;
    TEST_OK(lsuv_weights_create(net, &back));
    TEST_OK(lsuv_forward_weights_read(f, back));
    for (uint32_t i = 0; i < 3; i += 2) {
        const lsuv_layer_params *p = &w->layers[i], *q = &back->layers[i];
        for (uint64_t r = 0; r < p->weight_count; ++r)
            cr_assert(fabs(q->weight[r] - p->weight[r]) <= 0x1p-22 * fabs(p->weight[r]),
                      "layer %u weight %llu: %.9g, was %.9g", i, (unsigned long long)r,
                      q->weight[r], p->weight[r]);
        for (uint32_t c = 0; c < p->bias_count; ++c)
            cr_assert(fabs(q->bias[c] - p->bias[c]) <= 1e-6 * (fabs(p->bias[c]) + 1));
        cr_assert(memcmp(q->scales, p->scales, p->bias_count * 4) == 0);
        cr_assert(memcmp(q->rolling_mean, p->rolling_mean, p->bias_count * 4) == 0);
        cr_assert(memcmp(q->rolling_variance, p->rolling_variance, p->bias_count * 4) == 0);
    }
    lsuv_weights_destroy(back);
    lsuv_forward_destroy(f);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* --bn batch: the device's fp32 mean and variance of count values err by
 * about (count / 128 + 7) u relative (a strided sum of count / 128 terms per
 * invocation, then a tree of 7 levels) on top of the sums' own error;
 * normalized, that is at most a few units of it times (|x_hat| + 1), which
 * |ref| + |bias| + |scales| bounds with the slopes here (at most 1). */
static double *compare_batch(const lsuv_net *net, const lsuv_weights *w, lsuv_forward *f,
                             uint32_t layer, const double *in, uint32_t n) {
    const lsuv_layer *l = &net->layers[layer];
    const lsuv_layer_params *p = &w->layers[layer];
    uint64_t per = lsuv_ref_layer_outputs(l), count = (uint64_t)n * per;
    uint64_t plane = (uint64_t)l->out.h * l->out.w;
    float *dev = malloc(count * sizeof *dev);
    double *ref = malloc(count * sizeof *ref), *mag = malloc(count * sizeof *mag);
    double *out = malloc(count * sizeof *out), worst = 0;
    TEST_OK(lsuv_forward_read(f, layer, dev));
    lsuv_ref_layer(l, p, in, n, ref, mag);
    for (uint64_t i = 0; i < count; ++i) {
        uint32_t c = (uint32_t)(i % per / plane);
        double stat = 8.0 * ((double)(n * plane) / 128 + 7) * 0x1p-24 *
                      (fabs(ref[i]) + fabs(p->bias[c]) + fabs(p->scales[c]));
        double b = bound_for(lsuv_layer_fan_in(l), mag[i], ref[i]) + stat;
        double err = fabs(dev[i] - ref[i]);
        cr_assert(err <= b, "layer %u output %llu: device %.9g, reference %.9g, bound %.3g", layer,
                  (unsigned long long)i, dev[i], ref[i], b);
        worst = err / b > worst ? err / b : worst;
        out[i] = dev[i];
    }
    cr_log_info("batch: layer %u: worst error %.3f of the bound", layer, worst);
    free(dev);
    free(ref);
    free(mag);
    return out;
}

GPU_TEST(bn_device, batch_normalizes_with_the_batchs_statistics) {
    lsuv_net_options bo = {.bn_batch = true};
    lsuv_net *net = parse_with(small_cfg, &bo);
    lsuv_weights *w = bn_weights(net, 23);
    w->layers[0].sub = 0.25f; /* the op's sub too */
    const uint32_t n = 6;
    double *x;
    lsuv_forward *f = forward_on_noise(net, w, 7, 0.5, 2, true, &x, LSUV_CONV_AUTO);
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        double *y = i == 1 ? compare(net, w, f, i, x, n) : compare_batch(net, w, f, i, x, n);
        free(x);
        x = y;
    }
    /* The statistics of the last layer are of its output, after the op:
     * the connected layer's 6 x 5 values as read back. */
    lsuv_moments m;
    TEST_OK(lsuv_forward_stats_read(f, 2, &m));
    double mean = 0;
    for (int i = 0; i < 30; ++i) mean += x[i] / 30;
    cr_assert(fabs(m.mean - mean) <= 1e-6 * (fabs(mean) + 1), "mean %.9g, want %.9g", m.mean, mean);
    free(x);
    lsuv_weights *back = NULL;
    TEST_OK(lsuv_weights_create(net, &back));
    TEST_OK(lsuv_forward_weights_read(f, back));
    for (uint32_t i = 0; i < 3; i += 2) {
        const lsuv_layer_params *p = &w->layers[i], *q = &back->layers[i];
        cr_assert(memcmp(q->weight, p->weight, p->weight_count * 4) == 0, "layer %u", i);
        cr_assert(memcmp(q->bias, p->bias, p->bias_count * 4) == 0, "layer %u", i);
        cr_assert(memcmp(q->scales, p->scales, p->bias_count * 4) == 0, "layer %u", i);
        cr_assert(memcmp(&q->sub, &p->sub, 4) == 0, "layer %u sub %g", i, (double)q->sub);
    }
    lsuv_weights_destroy(back);
    /* LSUV under --bn batch is refused by name (lsuv.h says why). */
    lsuv_options lo = {.order = LSUV_ORDER_STD_FIRST};
    lsuv_run run;
    cr_assert_eq(lsuv_initialize(f, &lo, &run), LSUV_ERROR_UNSUPPORTED);
    cr_assert(strstr(lsuv_error_message(), "layer 0 (convolutional)") &&
                  strstr(lsuv_error_message(), "--bn batch"),
              "%s", lsuv_error_message());
    lsuv_forward_destroy(f);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* What LSUV could do under --bn batch, measured on the reference: scaling a
 * layer's weights by k (LSUV's std step) scales the sums batch norm sees by
 * k, yet its output moves only through epsilon (sqrt(k^2 var + eps) against
 * k sqrt(var + eps)); the mean step's bias comes after the normalization. So
 * LSUV refuses --bn batch (engine.c) rather than iterate on a scale the
 * layer divides out. */
static void moments_of(const double *x, uint64_t n, double *mean, double *std) {
    double s = 0, q = 0;
    for (uint64_t i = 0; i < n; ++i) s += x[i];
    *mean = s / (double)n;
    for (uint64_t i = 0; i < n; ++i) q += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(q / (double)(n - 1));
}

Test(bn_ref, batch_divides_out_the_weight_scale) {
    lsuv_net_options bo = {.bn_batch = true};
    lsuv_net *net = parse_with(small_cfg, &bo);
    lsuv_weights *w = bn_weights(net, 31);
    const lsuv_layer *l = &net->layers[0];
    lsuv_layer_params *p = &w->layers[0];
    const uint32_t n = 16;
    uint64_t in_count = (uint64_t)n * 192, count = (uint64_t)n * lsuv_ref_layer_outputs(l);
    double *in = malloc(in_count * sizeof *in), *sums = malloc(count * sizeof *sums);
    double *out = malloc(count * sizeof *out), *base = malloc(count * sizeof *base);
    lsuv_rng rng;
    lsuv_rng_seed(&rng, 3);
    for (uint64_t i = 0; i < in_count; ++i) in[i] = lsuv_rng_normal(&rng);
    /* The sums before batch norm: the same layer without it, bias 0. */
    lsuv_layer bare = *l;
    bare.batch_normalize = false;
    lsuv_layer_params no_bias = *p;
    float *zero = calloc(p->bias_count, sizeof *zero);
    no_bias.bias = zero;
    float *w0 = malloc(p->weight_count * sizeof *w0);
    memcpy(w0, p->weight, p->weight_count * sizeof *w0);
    double base_std = 0;
    static const double ks[3] = {0.5, 2, 10};
    for (int t = -1; t < 3; ++t) {
        double k = t < 0 ? 1 : ks[t], m, sd, om, osd;
        for (uint64_t r = 0; r < p->weight_count; ++r) p->weight[r] = (float)(k * w0[r]);
        lsuv_ref_layer_pre(&bare, &no_bias, in, n, sums);
        moments_of(sums, count, &m, &sd);
        lsuv_ref_layer(l, p, in, n, t < 0 ? base : out, NULL);
        moments_of(t < 0 ? base : out, count, &om, &osd);
        if (t < 0) {
            base_std = sd;
            cr_log_info("--bn batch, W x 1: pre-BN std %.6f, output mean %.6f std %.6f", sd, om,
                        osd);
            continue;
        }
        double moved = 0;
        for (uint64_t i = 0; i < count; ++i) moved = fmax(moved, fabs(out[i] - base[i]));
        cr_log_info("--bn batch, W x %g: pre-BN std %.6f (x %.4f), output mean %.6f std %.6f, "
                    "largest output change %.3g",
                    k, sd, sd / base_std, om, osd, moved);
        cr_assert(fabs(sd / base_std - k) < 1e-6 * k, "pre-BN std x %g, want x %g", sd / base_std,
                  k);
        /* Only epsilon moves the output: a channel's factor changes by
         * |1 - k sqrt(v + eps) / sqrt(k^2 v + eps)|, about eps / 2v for the
         * smaller of v and k^2 v: 1e-4 here, where W x k moves the sums by
         * (k - 1) x. */
        cr_assert(moved < 1e-3 * osd, "W x %g moved an output by %g", k, moved);
    }
    for (uint64_t r = 0; r < p->weight_count; ++r) p->weight[r] = w0[r];
    free(w0);
    free(zero);
    free(in);
    free(sums);
    free(out);
    free(base);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* lsuv-vk keeps a net's batch norm through LSUV: the weights it saves hold
 * the batch norm it read, not a fresh identity. */
Test(bn_cli, lsuv_saves_the_batch_norm_it_read) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 41), *back = NULL;
    /* Channels' shifts (bias - a mean) spread less than the target std, so
     * one weight scale and one shift can reach it. */
    for (uint32_t i = 0; i < 3; i += 2)
        for (uint32_t c = 0; c < w->layers[i].bias_count; ++c) {
            w->layers[i].bias[c] = 0;
            w->layers[i].rolling_mean[c] *= 0.1f;
        }
    char cfg[256], in[256], out[256];
    snprintf(cfg, sizeof cfg, "%s/%d-bn.cfg", LSUV_TEST_TMP, (int)getpid());
    snprintf(in, sizeof in, "%s/%d-bn-in.weights", LSUV_TEST_TMP, (int)getpid());
    snprintf(out, sizeof out, "%s/%d-bn-out.safetensors", LSUV_TEST_TMP, (int)getpid());
    TEST_OK(lsuv_file_write_text(cfg, small_cfg));
    TEST_OK(lsuv_weights_save(net, w, in));
    const char *const argv[] = {
        LSUV_VK_BIN, "--layers",  cfg,   "--weights-in",   in,  "--batch", "8", "--device",
        "llvmpipe",  "--measure", "pre", "--save-weights", out, NULL};
    spawn_result r = spawn_run(argv, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    TEST_OK(lsuv_weights_load(net, out, &back));
    for (uint32_t i = 0; i < 3; i += 2) {
        size_t b = w->layers[i].bias_count * 4;
        cr_assert(memcmp(back->layers[i].scales, w->layers[i].scales, b) == 0, "layer %u", i);
        cr_assert(memcmp(back->layers[i].rolling_mean, w->layers[i].rolling_mean, b) == 0);
        cr_assert(memcmp(back->layers[i].rolling_variance, w->layers[i].rolling_variance, b) == 0);
        /* And LSUV moved the weights. */
        cr_assert(memcmp(back->layers[i].weight, w->layers[i].weight, 16) != 0, "layer %u", i);
    }
    unlink(cfg);
    unlink(in);
    unlink(out);
    lsuv_weights_destroy(back);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* ---- LSUV measured before batch norm (lsuv_measure conv) ---------------- */

/* LSUV on small_cfg's net from w over forward_on_noise's batch (seed 9)
 * with the kernel kind given: the weights it ends with read back, and the
 * batch as floats. */
static lsuv_run bn_lsuv(const lsuv_net *net, const lsuv_weights *w, const lsuv_options *o,
                        lsuv_conv_kernel kernel, lsuv_weights **back, lsuv_batch *batch) {
    double *x;
    lsuv_forward *f = forward_on_noise(net, w, 9, 0, 1, false, &x, kernel);
    lsuv_run run;
    TEST_OK(lsuv_initialize(f, o, &run));
    cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
    TEST_OK(lsuv_weights_create(net, back));
    TEST_OK(lsuv_forward_weights_read(f, *back));
    lsuv_forward_destroy(f);
    *batch = (lsuv_batch){6, 3, 8, 8, malloc(6 * 192 * sizeof(float))};
    cr_assert(batch->data);
    for (int i = 0; i < 6 * 192; ++i) batch->data[i] = (float)x[i];
    free(x);
    return run;
}

static lsuv_status keep_moments(void *ctx, uint32_t layer, const double *out, uint64_t count) {
    lsuv_ref_moments_f64(out, count, &((lsuv_moments *)ctx)[layer]);
    return LSUV_OK;
}

/* The fp64 moments of small_cfg's layers 0 and 2 at `at`, with weights w. */
static void ref_at(const lsuv_net *net, const lsuv_weights *w, const lsuv_batch *b, lsuv_measure at,
                   lsuv_moments m[3]) {
    const lsuv_measure each[3] = {at, LSUV_MEASURE_POST, at};
    TEST_OK(lsuv_ref_forward_each_at(net, w, b, 2, each, keep_moments, m));
}

/* The device's moments against the reference's: fp32 sums of at most 36
 * terms over a few hundred values. */
static void expect_moments(double mean, double std, const lsuv_moments *ref, const char *what) {
    cr_expect(fabs(std - ref->std) <= 1e-5 * ref->std, "%s: std %.9g, fp64 %.9g", what, std,
              ref->std);
    cr_expect(fabs(mean - ref->mean) <= 1e-5 * ref->std, "%s: mean %.9g, fp64 %.9g", what, mean,
              ref->mean);
}

/* The run's first trace row of layer i: the pass before any step. */
static const lsuv_trace_row *first_row(const lsuv_run *run, uint32_t i) {
    for (uint32_t r = 0; r < run->n_trace; ++r)
        if (run->trace[r].layer == i) return &run->trace[r];
    cr_assert_fail("no pass of layer %u", i);
    return NULL;
}

/* Layer 0 from back, layer 2 from w: the weights layer 2's first pass saw. */
static lsuv_weights *first_pass_weights(const lsuv_net *net, const lsuv_weights *w,
                                        const lsuv_weights *back) {
    lsuv_weights *mix = NULL;
    TEST_OK(lsuv_weights_create(net, &mix));
    for (uint32_t i = 0; i < 3; i += 2) {
        const lsuv_layer_params *p = i == 0 ? &back->layers[0] : &w->layers[2];
        lsuv_layer_params *q = &mix->layers[i];
        memcpy(q->weight, p->weight, p->weight_count * 4);
        memcpy(q->bias, p->bias, p->bias_count * 4);
        memcpy(q->scales, p->scales, p->bias_count * 4);
        memcpy(q->rolling_mean, p->rolling_mean, p->bias_count * 4);
        memcpy(q->rolling_variance, p->rolling_variance, p->bias_count * 4);
        q->sub = p->sub;
    }
    return mix;
}

/* The batch norm's factors a_c of layer i differ by more than `ratio`
 * across channels, so W x and the folded sums are told apart. */
static void assert_factors_spread(const lsuv_layer_params *p, double ratio) {
    double lo = INFINITY, hi = 0;
    for (uint32_t c = 0; c < p->bias_count; ++c) {
        double a = fabs(p->scales[c]) / sqrt((double)p->rolling_variance[c] + 1e-5);
        lo = fmin(lo, a);
        hi = fmax(hi, a);
    }
    cr_assert(hi > ratio * lo, "a_c from %g to %g", lo, hi);
}

/* Each layer's first pass against W x of the weights it started from,
 * after the layers before it were done. */
static void expect_first_passes(const lsuv_net *net, const lsuv_weights *w,
                                const lsuv_weights *back, const lsuv_batch *b,
                                const lsuv_run *run) {
    lsuv_weights *mix = first_pass_weights(net, w, back);
    lsuv_moments m[3], m0[3];
    ref_at(net, w, b, LSUV_MEASURE_CONV, m0);
    ref_at(net, mix, b, LSUV_MEASURE_CONV, m);
    m[0] = m0[0];
    for (uint32_t i = 0; i < 3; i += 2) {
        const lsuv_trace_row *t = first_row(run, i);
        cr_log_info("layer %u first pass: mean %.9g std %.9g; fp64 W x: %.9g %.9g", i, t->mean,
                    t->std, m[i].mean, m[i].std);
        expect_moments(t->mean, t->std, &m[i], "first pass");
    }
    lsuv_weights_destroy(mix);
}

static void auto_on(lsuv_conv_kernel kind);

/* On every kernel kind (each fuses the first pass's statistics its own
 * way; the later passes are epilogue.comp's). */
GPU_TEST(bn_lsuv, auto_measures_w_x_before_batch_norm) {
    static const lsuv_conv_kernel kinds[] = {LSUV_CONV_STORAGE, LSUV_CONV_UNIFORM, LSUV_CONV_TEXEL,
                                             LSUV_CONV_GEMM};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; ++k) {
        cr_log_info("kind %d", (int)kinds[k]);
        auto_on(kinds[k]);
    }
}

static void auto_on(lsuv_conv_kernel kind) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 51), *back = NULL;
    assert_factors_spread(&w->layers[0], 1.5);
    assert_factors_spread(&w->layers[2], 1.5);
    lsuv_options o = {.order = LSUV_ORDER_STD_FIRST, .measure = LSUV_MEASURE_AUTO};
    lsuv_batch b;
    lsuv_run run = bn_lsuv(net, w, &o, kind, &back, &b);
    cr_assert_eq(run.n_layers, 2);
    expect_first_passes(net, w, back, &b, &run);
    /* With the weights saved: W x at std 1, within the tolerance. */
    lsuv_moments m[3];
    ref_at(net, back, &b, LSUV_MEASURE_CONV, m);
    for (uint32_t l = 0; l < run.n_layers; ++l) {
        const lsuv_layer_run *lr = &run.layers[l];
        uint32_t i = lr->index;
        cr_assert_eq(lr->measure, LSUV_MEASURE_CONV, "layer %u", i);
        cr_assert(lr->within_tol, "layer %u", i);
        expect_moments(lr->mean, lr->std, &m[i], "final");
        cr_expect(fabs(m[i].std - 1) <= 1e-3 + 1e-5, "layer %u: fp64 std of W x %.9g", i, m[i].std);
    }
    /* The std loop alone: every step a std step, passes one more than them. */
    for (uint32_t r = 0; r < run.n_trace; ++r)
        cr_assert(run.trace[r].step == 's' || run.trace[r].step == '-', "row %u: step %c", r,
                  run.trace[r].step);
    /* W / std, one factor for the whole layer, and batch norm untouched. */
    for (uint32_t i = 0; i < 3; i += 2) {
        const lsuv_layer_params *p = &w->layers[i], *q = &back->layers[i];
        double k = (double)q->weight[0] / p->weight[0];
        for (uint64_t r = 0; r < p->weight_count; ++r)
            cr_assert(fabs(q->weight[r] - k * p->weight[r]) <= 0x1p-21 * fabs(k * p->weight[r]),
                      "layer %u weight %llu: %.9g, want %.9g", i, (unsigned long long)r,
                      q->weight[r], k * p->weight[r]);
        for (uint32_t c = 0; c < p->bias_count; ++c)
            cr_assert(fabs(q->bias[c] - p->bias[c]) <= 1e-6 * (fabs(p->bias[c]) + 1));
        cr_assert(memcmp(q->scales, p->scales, p->bias_count * 4) == 0);
        cr_assert(memcmp(q->rolling_mean, p->rolling_mean, p->bias_count * 4) == 0);
        cr_assert(memcmp(q->rolling_variance, p->rolling_variance, p->bias_count * 4) == 0);
    }
    lsuv_batch_free(&b);
    lsuv_run_free(&run);
    lsuv_weights_destroy(back);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* Asked for, post measures the layer's output, after batch norm, as before
 * conv existed: both loops, and the output's mean and std within tolerance. */
GPU_TEST(bn_lsuv, post_measures_after_batch_norm) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 51), *back = NULL;
    lsuv_options o = {.order = LSUV_ORDER_STD_FIRST, .measure = LSUV_MEASURE_POST};
    lsuv_batch b;
    lsuv_run run = bn_lsuv(net, w, &o, LSUV_CONV_AUTO, &back, &b);
    lsuv_moments m[3];
    ref_at(net, back, &b, LSUV_MEASURE_POST, m);
    bool mean_steps = false;
    for (uint32_t r = 0; r < run.n_trace; ++r) mean_steps |= run.trace[r].step == 'm';
    cr_assert(mean_steps, "the mean loop ran");
    for (uint32_t l = 0; l < run.n_layers; ++l) {
        const lsuv_layer_run *lr = &run.layers[l];
        cr_assert_eq(lr->measure, LSUV_MEASURE_POST);
        cr_assert(lr->within_tol, "layer %u", lr->index);
        expect_moments(lr->mean, lr->std, &m[lr->index], "post");
        cr_expect(fabs(m[lr->index].mean) <= 1e-3 + 1e-5 && fabs(m[lr->index].std - 1) <= 1.01e-3,
                  "layer %u: fp64 output mean %.9g std %.9g", lr->index, m[lr->index].mean,
                  m[lr->index].std);
    }
    lsuv_batch_free(&b);
    lsuv_run_free(&run);
    lsuv_weights_destroy(back);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* The program's JSON for small_cfg's batch-norm net from bn_weights(61),
 * std-first, with the fp64 verification and the measuring point given. */
static cJSON *cli_bn_run(const char *measure) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 61);
    char cfg[256], in[256], json[256];
    snprintf(cfg, sizeof cfg, "%s/%d-bnm.cfg", LSUV_TEST_TMP, (int)getpid());
    snprintf(in, sizeof in, "%s/%d-bnm.weights", LSUV_TEST_TMP, (int)getpid());
    snprintf(json, sizeof json, "%s/%d-bnm.json", LSUV_TEST_TMP, (int)getpid());
    TEST_OK(lsuv_file_write_text(cfg, small_cfg));
    TEST_OK(lsuv_weights_save(net, w, in));
    const char *argv[] = {LSUV_VK_BIN, "--layers", cfg,        "--weights-in", in,
                          "--batch",   "8",        "--device", "llvmpipe",     "--order",
                          "std-first", "--verify", "--json",   json,           NULL,
                          NULL,        NULL};
    if (measure) {
        argv[14] = "--measure";
        argv[15] = measure;
    }
    spawn_result r = spawn_run(argv, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    cJSON *root = test_json_file(json);
    unlink(cfg);
    unlink(in);
    unlink(json);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    return root;
}

/* Each layer's measuring point in the JSON; the fp64 check of the final
 * moments there (W x for conv) agrees with the device. */
static void expect_cli_measured(const cJSON *root, const char *want) {
    const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0);
    cr_assert(run, "no run");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(run, "converged")));
    double diff = test_json_num(run, "verify_max_diff");
    cr_expect(diff <= 1e-4, "verify_max_diff %g", diff);
    const cJSON *layers = cJSON_GetObjectItem(run, "layers");
    cr_assert_eq(cJSON_GetArraySize(layers), 2);
    for (const cJSON *l = layers->child; l; l = l->next)
        cr_assert_str_eq(test_json_str(l, "measure"), want);
}

Test(bn_cli, measures_w_x_by_default_and_post_when_asked) {
    cJSON *root = cli_bn_run(NULL);
    expect_cli_measured(root, "conv");
    cJSON_Delete(root);
    root = cli_bn_run("post");
    expect_cli_measured(root, "post");
    cJSON_Delete(root);
}

/* Without batch norm there is no W x before it: conv is refused before
 * any run, naming the layer. */
Test(bn_cli, conv_without_batch_norm_is_refused) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s/%d-nobn.cfg", LSUV_TEST_TMP, (int)getpid());
    TEST_OK(lsuv_file_write_text(cfg, "[net]\nheight=8\nwidth=8\nchannels=3\n"
                                      "[convolutional]\nfilters=4\nsize=3\npad=1\n"
                                      "activation=leaky\n"));
    const char *const argv[] = {LSUV_VK_BIN, "--layers", cfg,         "--batch", "8",
                                "--device",  "llvmpipe", "--measure", "conv",    NULL};
    spawn_result r = spawn_run(argv, NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.err);
    cr_assert(strstr(r.err, "layer 0 (convolutional) has no batch norm"), "%s", r.err);
    spawn_result_free(&r);
    unlink(cfg);
}

/* LSUV-pytorch's coef update shifts the bias by -mean coef with each std
 * step; measured at conv nothing moves W x's mean, so the step scales W
 * alone and darknet's bias stays as read. */
GPU_TEST(bn_lsuv, coef_at_conv_leaves_the_bias) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 53), *back = NULL;
    lsuv_options o = {.order = LSUV_ORDER_STD_ONLY,
                      .measure = LSUV_MEASURE_CONV,
                      .update = LSUV_UPDATE_COEF,
                      .estimator = LSUV_ESTIMATOR_POPULATION};
    lsuv_batch b;
    lsuv_run run = bn_lsuv(net, w, &o, LSUV_CONV_AUTO, &back, &b);
    lsuv_moments m[3];
    ref_at(net, back, &b, LSUV_MEASURE_CONV, m);
    for (uint32_t l = 0; l < run.n_layers; ++l) {
        uint32_t i = run.layers[l].index;
        cr_assert(run.layers[l].within_tol, "layer %u", i);
        cr_expect(fabs(m[i].std_population - 1) <= 1e-3 + 1e-5, "layer %u: fp64 std %.9g", i,
                  m[i].std_population);
        cr_assert(fabs(m[i].mean) > 1e-3, "layer %u: W x's mean %g, left where it was", i,
                  m[i].mean);
        for (uint32_t c = 0; c < w->layers[i].bias_count; ++c)
            cr_assert(fabs(back->layers[i].bias[c] - w->layers[i].bias[c]) <=
                          1e-6 * (fabs(w->layers[i].bias[c]) + 1),
                      "layer %u bias %u: %.9g, was %.9g", i, c, back->layers[i].bias[c],
                      w->layers[i].bias[c]);
    }
    lsuv_batch_free(&b);
    lsuv_run_free(&run);
    lsuv_weights_destroy(back);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

static lsuv_status keep_layer(void *ctx, uint32_t layer, const double *out, uint64_t count) {
    double **keep = ctx;
    if (!keep[layer]) keep[layer] = malloc(count * sizeof *out);
    cr_assert(keep[layer]);
    memcpy(keep[layer], out, count * sizeof *out);
    return LSUV_OK;
}

/* The reference's W x of a batch-norm layer is what batch norm maps to its
 * pre-activation, a_c z + bias_c - a_c mean_c, value for value; the walk
 * visits it at conv and goes on from the layer's whole output. */
Test(bn_ref, conv_is_the_sums_batch_norm_maps_to_pre) {
    lsuv_net *net = parse_with(small_cfg, NULL);
    lsuv_weights *w = bn_weights(net, 57);
    lsuv_batch b = {2, 3, 8, 8, malloc(2 * 192 * sizeof(float))};
    lsuv_rng rng;
    lsuv_rng_seed(&rng, 4);
    lsuv_rng_fill_normal(&rng, b.data, 2 * 192, 0, 1);
    double *conv[3] = {0}, *pre[3] = {0}, *out1 = NULL;
    const lsuv_measure at[3] = {LSUV_MEASURE_CONV, LSUV_MEASURE_POST, LSUV_MEASURE_CONV};
    TEST_OK(lsuv_ref_forward_each_at(net, w, &b, 2, at, keep_layer, conv));
    TEST_OK(lsuv_ref_forward_each_pre(net, w, &b, 2, keep_layer, pre));
    TEST_OK(lsuv_ref_forward(net, w, &b, 1, &out1));
    for (uint32_t i = 0; i < 3; i += 2) {
        const lsuv_layer *l = &net->layers[i];
        const lsuv_layer_params *p = &w->layers[i];
        uint64_t per = lsuv_ref_layer_outputs(l), plane = (uint64_t)l->out.h * l->out.w;
        for (uint64_t k = 0; k < 2 * per; ++k) {
            uint32_t c = (uint32_t)(k % per / plane);
            double a = p->scales[c] / sqrt((double)p->rolling_variance[c] + 1e-5);
            double want = a * conv[i][k] + p->bias[c] - a * p->rolling_mean[c];
            cr_assert(fabs(pre[i][k] - want) <= 1e-12 * (fabs(want) + 1),
                      "layer %u value %llu: pre %.17g, from W x %.17g", i, (unsigned long long)k,
                      pre[i][k], want);
        }
    }
    /* Layer 2's W x from layer 1's whole output, not from its own sums. */
    double *direct = malloc(2 * 5 * sizeof *direct);
    lsuv_ref_layer_conv(&net->layers[2], &w->layers[2], out1, 2, direct);
    cr_assert(memcmp(direct, conv[2], 2 * 5 * sizeof *direct) == 0);
    free(direct);
    free(out1);
    for (int i = 0; i < 3; ++i) {
        free(conv[i]);
        free(pre[i]);
    }
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* Measured at conv LSUV shifts no sub, so darknet's .weights can hold what
 * it saves; measured post the mean step shifts sub, which they cannot. */
Test(bn_cli, conv_saves_darknet_weights) {
    char cfg[256], out[256];
    snprintf(cfg, sizeof cfg, "%s/%d-bns.cfg", LSUV_TEST_TMP, (int)getpid());
    snprintf(out, sizeof out, "%s/%d-bns.weights", LSUV_TEST_TMP, (int)getpid());
    TEST_OK(lsuv_file_write_text(cfg, small_cfg));
    const char *argv[] = {LSUV_VK_BIN, "--layers", cfg,       "--batch", "8",
                          "--device",  "llvmpipe", "--order", "both",    "--save-weights",
                          out,         NULL,       NULL,      NULL};
    spawn_result r = spawn_run(argv, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "saved the std-first weights"), "%s", r.out);
    spawn_result_free(&r);
    argv[11] = "--measure";
    argv[12] = "post";
    r = spawn_run(argv, NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.err);
    cr_assert(strstr(r.err, "shifts the sub of layer 0"), "%s", r.err);
    spawn_result_free(&r);
    unlink(cfg);
    unlink(out);
}
