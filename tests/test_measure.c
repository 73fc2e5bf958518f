/* Where LSUV takes a layer's statistics (lsuv_options.measure), and how
 * precisely: the device's moments against fp64 ones of the same values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsuv/lsuv.h"
#include "lsuv/ref.h"
#include "lsuv/rng.h"
#include "support/gpu.h"
#include "support/setup.h"

/* One layer that passes its input through, linear with bias 0: a 1x1
 * convolution of 1; a 3x3 one with 1 at its centre and zeros around it (the
 * row-tiled kernel on a CPU); size 0: a connected layer of one input, whose
 * few samples split their sums across lanes. Every other weight is an exact
 * 0, so the sums are the input's bits. */
static setup make_identity(uint32_t size, lsuv_conv_kernel kernel, const lsuv_batch *in) {
    setup s = {0};
    char layer[128], cfg[256];
    if (size)
        snprintf(layer, sizeof layer, "[convolutional]\nfilters=1\nsize=%u\npad=%u\n", size,
                 size / 2);
    else
        snprintf(layer, sizeof layer, "[connected]\noutput=1\n");
    snprintf(cfg, sizeof cfg, "[net]\nheight=%u\nwidth=%u\nchannels=1\n%sactivation=linear\n",
             in->h, in->w, layer);
    TEST_OK(lsuv_net_parse("identity.cfg", cfg, strlen(cfg), NULL, &s.net));
    TEST_OK(lsuv_weights_init(s.net, LSUV_INIT_KAIMING, 1, &s.weights));
    lsuv_layer_params *p = &s.weights->layers[0];
    memset(p->weight, 0, p->weight_count * sizeof *p->weight);
    p->weight[p->weight_count / 2] = 1.0f;
    p->bias[0] = 0.0f;
    lsuv_forward_options fo = {.batch = in->n, .conv_kernel = kernel};
    TEST_OK(lsuv_forward_create(gpu.device, s.net, s.weights, &fo, &s.forward));
    TEST_OK(lsuv_forward_set_input(s.forward, in));
    if (size == 0) cr_assert_str_eq(lsuv_forward_conv_kernel(s.forward, 0), "split-sum");
    return s;
}

/* The fp64 moments of the layer's values with weight scale w: the device's
 * fma(x, w, 0), a product rounded once to fp32. */
static lsuv_moments scaled_moments(const lsuv_batch *in, float w) {
    size_t n = (size_t)in->n * in->c * in->h * in->w;
    float *y = malloc(n * sizeof *y);
    cr_assert(y);
    for (size_t i = 0; i < n; ++i) y[i] = (float)((double)in->data[i] * w);
    lsuv_moments m;
    lsuv_ref_moments(y, n, &m);
    free(y);
    return m;
}

static double rel(double a, double b) {
    return fabs(a - b) / fabs(b);
}

GPU_TEST(measure, shifted_partials_keep_data_far_from_zero) {
    /* 1e4 + 1e-2 N(0, 1): unshifted fp32 Welford partials gave a std
     * 5.6-6.0e-3 relative off. One std step then makes it 1e6 + N(0, 1).
     * Pass 0 is the convolution's fused partials, pass 1 the epilogue's. */
    lsuv_batch in = {64, 1, 32, 32, NULL};
    size_t n = (size_t)in.n * in.h * in.w;
    cr_assert(in.data = malloc(n * sizeof *in.data));
    lsuv_rng rng;
    lsuv_rng_seed(&rng, 14);
    lsuv_rng_fill_normal(&rng, in.data, n, 1e4, 1e-2);
    /* The first 7 values as 7 samples of one: the connected layer's, fewer
     * than a workgroup has lanes. */
    lsuv_batch few = {7, 1, 1, 1, in.data};
    static const lsuv_conv_kernel kernels[] = {LSUV_CONV_STORAGE, LSUV_CONV_UNIFORM,
                                               LSUV_CONV_TEXEL, LSUV_CONV_AUTO};
    double worst[2] = {0, 0};
    for (int c = 0; c < 14; ++c) {
        uint32_t size = c >= 12 ? 0 : c % 2 ? 3 : 1;
        lsuv_measure measure = (size ? c / 2 % 2 : c % 2) ? LSUV_MEASURE_PRE : LSUV_MEASURE_POST;
        const lsuv_batch *b = size ? &in : &few;
        setup s = make_identity(size, kernels[c / 4], b);
        lsuv_options o = {.order = LSUV_ORDER_STD_ONLY, .measure = measure, .max_iters = 1};
        lsuv_run run;
        TEST_OK(lsuv_initialize(s.forward, &o, &run));
        cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
        cr_assert_eq(run.n_trace, 2, "case %d: a std step and its check", c);
        lsuv_weights *w = setup_weights_now(&s);
        float scale[2] = {1.0f, w->layers[0].weight[w->layers[0].weight_count / 2]};
        cr_assert_eq(w->layers[0].bias[0], 0.0f);
        for (int r = 0; r < 2; ++r) {
            lsuv_moments ref = scaled_moments(b, scale[r]);
            const lsuv_trace_row *t = &run.trace[r];
            double e = rel(t->std, ref.std);
            if (e > worst[r]) worst[r] = e;
            cr_log_info("case %d (%ux%u, %s) pass %d: std %.9g, fp64 %.9g, %.2e relative", c, size,
                        size, lsuv_measure_name(measure), r, t->std, ref.std, e);
            cr_expect_leq(e, 1e-4, "case %d pass %d: std %.9g, fp64 %.9g", c, r, t->std, ref.std);
            /* The mean is an fp32 sum of shift and mean: two roundings. */
            cr_expect_leq(fabs(t->mean - ref.mean), 0x1p-23 * fabs(ref.mean) + 1e-4 * ref.std,
                          "case %d pass %d: mean %.9g, fp64 %.9g", c, r, t->mean, ref.mean);
        }
        lsuv_weights_destroy(w);
        lsuv_run_free(&run);
        setup_free(&s);
    }
    cr_log_info("worst std error: pass 0 %.2e, pass 1 %.2e relative", worst[0], worst[1]);
    free(in.data);
}

static setup make_fastai(uint32_t batch, uint64_t seed, lsuv_precision precision,
                         lsuv_conv_kernel kernel, bool keep) {
    lsuv_forward_options fo = {.precision = precision, .conv_kernel = kernel, .keep_outputs = keep};
    return setup_make(NULL, batch, seed, &fo);
}

static lsuv_run run_measured(setup *s, lsuv_measure measure) {
    lsuv_options o = {.order = LSUV_ORDER_STD_FIRST, .measure = measure};
    lsuv_run run;
    TEST_OK(lsuv_forward_reset(s->forward, s->weights));
    TEST_OK(lsuv_initialize(s->forward, &o, &run));
    cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
    cr_assert_eq(run.n_layers, 5, "the five convolutions; the classifier has lsuv=0");
    for (uint32_t l = 0; l < run.n_layers; ++l) cr_assert_eq(run.layers[l].measure, measure);
    return run;
}

typedef struct ref_check {
    const lsuv_run *run;
    uint32_t next;
    double worst;
} ref_check;

static lsuv_status check_layer(void *ctx, uint32_t layer, const double *out, uint64_t count) {
    ref_check *c = ctx;
    if (c->next >= c->run->n_layers || c->run->layers[c->next].index != layer) return LSUV_OK;
    const lsuv_layer_run *lr = &c->run->layers[c->next++];
    lsuv_moments m;
    lsuv_ref_moments_f64(out, count, &m);
    double d = fmax(fabs(m.mean - lr->mean), fabs(m.std - lr->std));
    cr_log_info("layer %u: mean %.9g (fp64 %.9g), std %.9g (fp64 %.9g)", layer, lr->mean, m.mean,
                lr->std, m.std);
    if (d > c->worst) c->worst = d;
    return LSUV_OK;
}

/* The largest difference between the run's final moments and the fp64
 * reference's at the same point, from the weights the run ended with. */
static double reference_gap(const setup *s, const lsuv_run *run, bool pre) {
    lsuv_weights *w = setup_weights_now(s);
    ref_check c = {.run = run};
    uint32_t last = run->layers[run->n_layers - 1].index;
    TEST_OK(pre ? lsuv_ref_forward_each_pre(s->net, w, &s->batch, last, check_layer, &c)
                : lsuv_ref_forward_each(s->net, w, &s->batch, last, check_layer, &c));
    cr_assert_eq(c.next, run->n_layers);
    lsuv_weights_destroy(w);
    return c.worst;
}

GPU_TEST(measure, pre_is_the_reference_pre_activation) {
    /* A post run first, so the passes the forward keeps are made for post:
     * the pre run must not measure through them, nor the post run after it
     * through the pre run's. */
    setup s = make_fastai(64, 21, LSUV_PRECISION_FP32, LSUV_CONV_AUTO, false);
    lsuv_run post = run_measured(&s, LSUV_MEASURE_POST);
    double post_gap = reference_gap(&s, &post, false);
    lsuv_run pre = run_measured(&s, LSUV_MEASURE_PRE);
    double pre_gap = reference_gap(&s, &pre, true);
    double pre_as_post = reference_gap(&s, &pre, false);
    lsuv_run again = run_measured(&s, LSUV_MEASURE_POST);
    cr_log_info("gaps: post %.3g, pre %.3g, pre against post %.3g", post_gap, pre_gap, pre_as_post);
    cr_assert_leq(post_gap, 1e-6, "post: %g from the fp64 output", post_gap);
    cr_assert_leq(pre_gap, 1e-6, "pre: %g from the fp64 pre-activation", pre_gap);
    cr_assert_gt(pre_as_post, 0.1, "relu's output is not the pre-activation");
    for (uint32_t l = 0; l < 5; ++l) {
        cr_assert_leq(fabs(pre.layers[l].std - 1), 1e-3, "layer %u", l);
        cr_assert_leq(fabs(pre.layers[l].mean), 1e-3, "layer %u", l);
        cr_assert_eq(post.layers[l].passes, again.layers[l].passes);
        cr_assert_leq(fabs(post.layers[l].mean - again.layers[l].mean), 1e-6, "layer %u", l);
        cr_assert_leq(fabs(post.layers[l].std - again.layers[l].std), 1e-6, "layer %u", l);
    }
    lsuv_run_free(&post);
    lsuv_run_free(&pre);
    lsuv_run_free(&again);
    setup_free(&s);
}

GPU_TEST(measure, pre_stores_the_bits_of_a_whole_forward) {
    /* Measuring pre changes what the partials describe, never what a layer
     * stores: its outputs after the run are, bit for bit, a whole forward's
     * with the final weights; fp16 too, where pre is not rounded to half. */
    static const struct {
        lsuv_precision precision;
        lsuv_conv_kernel kernel;
    } cases[] = {{LSUV_PRECISION_FP32, LSUV_CONV_STORAGE},
                 {LSUV_PRECISION_FP32, LSUV_CONV_TEXEL},
                 {LSUV_PRECISION_FP16, LSUV_CONV_AUTO}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; ++c) {
        setup s = make_fastai(100, 22, cases[c].precision, cases[c].kernel, true);
        lsuv_run run = run_measured(&s, LSUV_MEASURE_PRE);
        setup_expect_stored_as_whole(&s, &run, c);
        lsuv_run_free(&run);
        setup_free(&s);
    }
}
