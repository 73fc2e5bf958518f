/* The whole network's statistics (lsuv_network_measure) against the fp64
 * reference run with the weights the forward holds: every layer's output,
 * the pre-activation of layers with weights and the rectifiers' active
 * fraction. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lsuv/lsuv.h"
#include "lsuv/ref.h"
#include "support/gpu.h"
#include "support/setup.h"

typedef struct expected {
    uint32_t n_layers;
    lsuv_moments *post, *pre;
    double *active; /* fraction of pre-activation values > 0 */
} expected;

static lsuv_status keep_post(void *ctx, uint32_t layer, const double *out, uint64_t count) {
    lsuv_ref_moments_f64(out, count, &((expected *)ctx)->post[layer]);
    return LSUV_OK;
}

static lsuv_status keep_pre(void *ctx, uint32_t layer, const double *out, uint64_t count) {
    expected *e = ctx;
    lsuv_ref_moments_f64(out, count, &e->pre[layer]);
    uint64_t on = 0;
    for (uint64_t k = 0; k < count; ++k) on += out[k] > 0.0;
    e->active[layer] = (double)on / (double)count;
    return LSUV_OK;
}

static expected reference(const setup *s, const lsuv_batch *batch) {
    expected e = {.n_layers = s->net->n_layers};
    cr_assert(e.post = calloc(e.n_layers, sizeof *e.post));
    cr_assert(e.pre = calloc(e.n_layers, sizeof *e.pre));
    cr_assert(e.active = calloc(e.n_layers, sizeof *e.active));
    lsuv_weights *w = setup_weights_now(s);
    TEST_OK(lsuv_ref_forward_each(s->net, w, batch, e.n_layers - 1, keep_post, &e));
    TEST_OK(lsuv_ref_forward_each_pre(s->net, w, batch, e.n_layers - 1, keep_pre, &e));
    lsuv_weights_destroy(w);
    return e;
}

static void expected_free(expected *e) {
    free(e->post);
    free(e->pre);
    free(e->active);
}

/* fp32 sums of a few hundred terms and merged moments: a few 1e-6 of the
 * spread. */
static void expect_moments(uint32_t i, const char *what, double mean, double std,
                           const lsuv_moments *ref, lsuv_estimator e) {
    double want_std = e == LSUV_ESTIMATOR_POPULATION ? ref->std_population : ref->std;
    double scale = fabs(ref->mean) + want_std;
    cr_expect_leq(fabs(mean - ref->mean), 2e-5 * scale, "layer %u %s mean %.9g, reference %.9g", i,
                  what, mean, ref->mean);
    cr_expect_leq(fabs(std - want_std), 2e-5 * scale, "layer %u %s std %.9g, reference %.9g", i,
                  what, std, want_std);
}

static void expect_network(const setup *s, lsuv_estimator estimator, const lsuv_batch *batch,
                           uint32_t rectifiers) {
    uint32_t n = s->net->n_layers, seen = 0;
    lsuv_layer_stats *got = calloc(n, sizeof *got);
    cr_assert(got);
    TEST_OK(lsuv_network_measure(s->forward, estimator, got));
    expected e = reference(s, batch);
    for (uint32_t i = 0; i < n; ++i) {
        const lsuv_layer *l = &s->net->layers[i];
        cr_expect_eq(got[i].index, i);
        cr_expect_eq(got[i].count, (uint64_t)batch->n * lsuv_ref_layer_outputs(l));
        expect_moments(i, "output", got[i].mean, got[i].std, &e.post[i], estimator);
        if (!lsuv_layer_has_weights(l)) {
            cr_expect(isnan(got[i].pre_mean) && isnan(got[i].pre_std) && isnan(got[i].active),
                      "layer %u has no weights", i);
            continue;
        }
        expect_moments(i, "pre-activation", got[i].pre_mean, got[i].pre_std, &e.pre[i], estimator);
        if (isnan(got[i].active)) continue;
        ++seen;
        /* A value within fp32 rounding of 0 may fall either side. */
        cr_expect_leq(fabs(got[i].active - e.active[i]), 1e-4, "layer %u active %.6f, ref %.6f", i,
                      got[i].active, e.active[i]);
    }
    cr_expect_eq(seen, rectifiers);
    expected_free(&e);
    free(got);
}

GPU_TEST(network, fastai_after_lsuv_every_layer_as_the_reference) {
    /* After mean-first LSUV measured pre (the weight scale and the biases'
     * shift moved, so the pre-activation's sign depends on both), on a
     * second batch set after the run, as a study measures its held-out
     * batch. */
    setup s = setup_make(NULL, 256, 3, NULL);
    lsuv_options o = {.order = LSUV_ORDER_MEAN_FIRST, .measure = LSUV_MEASURE_PRE, .max_iters = 50};
    o.tol_mean = o.tol_std = 1e-3;
    lsuv_run run = {0};
    TEST_OK(lsuv_initialize(s.forward, &o, &run));
    lsuv_input_options io = {.spec = TEST_FASHION "@256", .batch = 256, .normalize = true};
    lsuv_batch held = {0};
    TEST_OK(lsuv_input_load(&io, s.net, &held));
    TEST_OK(lsuv_forward_set_input(s.forward, &held));
    expect_network(&s, LSUV_ESTIMATOR_UNBIASED, &held, 5);
    lsuv_batch_free(&held);
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(network, pools_connected_softmax_as_the_reference) {
    /* Leaky with sub, relu6 and a rectified connected layer; pools, dropout
     * and softmax take the statistics pass. */
    const char *cfg = "[net]\nheight=16\nwidth=16\nchannels=3\n"
                      "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\nsub=0.1\n"
                      "[maxpool]\nsize=2\nstride=2\n"
                      "[convolutional]\nfilters=12\nsize=3\npad=1\nactivation=relu6\n"
                      "[avgpool]\n"
                      "[connected]\noutput=16\nactivation=relu\n"
                      "[dropout]\nprobability=0.5\n"
                      "[connected]\noutput=10\nactivation=linear\n"
                      "[softmax]\n";
    setup s = setup_make(cfg, 40, 9, NULL);
    /* Biases of either sign, so that a unit's activity depends on them. */
    for (uint32_t i = 0; i < s.net->n_layers; ++i) {
        lsuv_layer_params *p = &s.weights->layers[i];
        for (uint32_t o = 0; o < p->bias_count; ++o) p->bias[o] = 0.3f * (float)(o % 7) - 0.9f;
    }
    TEST_OK(lsuv_forward_reset(s.forward, s.weights));
    expect_network(&s, LSUV_ESTIMATOR_POPULATION, &s.batch, 3);
    setup_free(&s);
}

GPU_TEST(network, fp16_outputs_as_stored) {
    /* Stored as halves: no statistics kernel reads the pools', dropout's and
     * softmax's, so the host takes their moments; every layer's must be
     * those of the values the forward stored. */
    const char *cfg = "[net]\nheight=16\nwidth=16\nchannels=3\n"
                      "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n"
                      "[maxpool]\nsize=2\nstride=2\n"
                      "[avgpool]\n"
                      "[connected]\noutput=10\nactivation=relu\n"
                      "[softmax]\n";
    lsuv_forward_options fo = {.precision = LSUV_PRECISION_FP16, .keep_outputs = true};
    setup s = setup_make(cfg, 24, 2, &fo);
    lsuv_layer_stats got[5];
    TEST_OK(lsuv_network_measure(s.forward, LSUV_ESTIMATOR_UNBIASED, got));
    for (uint32_t i = 0; i < 5; ++i) {
        uint64_t n = 24 * lsuv_ref_layer_outputs(&s.net->layers[i]);
        float *x = malloc(n * sizeof *x);
        cr_assert(x);
        TEST_OK(lsuv_forward_read(s.forward, i, x));
        lsuv_moments ref;
        lsuv_ref_moments(x, n, &ref);
        expect_moments(i, "stored output", got[i].mean, got[i].std, &ref, LSUV_ESTIMATOR_UNBIASED);
        bool rect = i == 0 || i == 3;
        cr_expect(rect ? got[i].active > 0.2 && got[i].active < 0.8 : isnan(got[i].active),
                  "layer %u active %g", i, got[i].active);
        free(x);
    }
    setup_free(&s);
}

GPU_TEST(network, measuring_leaves_lsuv_runs_as_they_were) {
    /* measure binds its own sums to the layers LSUV's passes keep theirs on;
     * a run after it must see the passes' again. */
    setup s = setup_make(NULL, 128, 5, NULL);
    lsuv_options o = {.order = LSUV_ORDER_STD_FIRST, .max_iters = 50};
    o.tol_mean = o.tol_std = 1e-3;
    lsuv_run a = {0}, b = {0};
    lsuv_layer_stats got[7];
    TEST_OK(lsuv_initialize(s.forward, &o, &a));
    TEST_OK(lsuv_network_measure(s.forward, LSUV_ESTIMATOR_UNBIASED, got));
    TEST_OK(lsuv_forward_reset(s.forward, s.weights));
    TEST_OK(lsuv_initialize(s.forward, &o, &b));
    cr_assert_eq(a.n_layers, b.n_layers);
    cr_assert_eq(a.passes, b.passes);
    for (uint32_t i = 0; i < a.n_layers; ++i) {
        cr_expect_eq(a.layers[i].mean, b.layers[i].mean, "layer %u", i);
        cr_expect_eq(a.layers[i].std, b.layers[i].std, "layer %u", i);
        /* The run's own statistics of its final weights, measured again. */
        uint32_t at = a.layers[i].index;
        cr_expect_leq(fabs(got[at].mean - a.layers[i].mean), 1e-6, "layer %u", i);
        cr_expect_leq(fabs(got[at].std - a.layers[i].std), 1e-6, "layer %u", i);
    }
    lsuv_run_free(&a);
    lsuv_run_free(&b);
    setup_free(&s);
}
