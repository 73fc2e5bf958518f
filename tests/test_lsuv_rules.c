/* LSUV's update rules, estimators, caps, layer sets, hazards and refusals,
 * each on a network small enough for a closed form: a linear convolution
 * scales its output's spread exactly with its weights, and keeps its biases'
 * mean in its output's mean. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsuv/lsuv.h"
#include "lsuv/ref.h"
#include "support/gpu.h"

/* 2 samples x 4 channels x 4x4: 128 values, few enough that n and n - 1
 * differ by 0.8%. */
#define LINEAR                                                                                     \
    "[net]\nheight=4\nwidth=4\nchannels=3\n"                                                       \
    "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear\n"
#define VALUES 128

typedef struct setup {
    lsuv_net *net;
    lsuv_weights *weights;
    lsuv_batch batch;
    lsuv_forward *forward;
} setup;

static setup make(const char *cfg, uint32_t batch, uint64_t seed) {
    setup s = {0};
    TEST_OK(lsuv_net_parse("rules.cfg", cfg, strlen(cfg), NULL, &s.net));
    TEST_OK(lsuv_weights_init(s.net, LSUV_INIT_KAIMING, seed, &s.weights));
    lsuv_input_options io = {.spec = "synthetic", .batch = batch, .seed = seed};
    TEST_OK(lsuv_input_load(&io, s.net, &s.batch));
    lsuv_forward_options fo = {.batch = batch};
    TEST_OK(lsuv_forward_create(gpu.device, s.net, s.weights, &fo, &s.forward));
    TEST_OK(lsuv_forward_set_input(s.forward, &s.batch));
    return s;
}

static void unmake(setup *s) {
    lsuv_forward_destroy(s->forward);
    lsuv_batch_free(&s->batch);
    lsuv_weights_destroy(s->weights);
    lsuv_net_destroy(s->net);
}

/* A run from s->weights as they are now. */
static lsuv_run run_with(setup *s, lsuv_options o) {
    lsuv_run run;
    TEST_OK(lsuv_forward_reset(s->forward, s->weights));
    TEST_OK(lsuv_initialize(s->forward, &o, &run));
    return run;
}

/* The fp64 reference's moments of layer 0's output from s->weights. */
static lsuv_moments ref_moments(const setup *s) {
    double *out = NULL;
    TEST_OK(lsuv_ref_forward(s->net, s->weights, &s->batch, 0, &out));
    const lsuv_layer *l = &s->net->layers[0];
    lsuv_moments m;
    lsuv_ref_moments_f64(out, (size_t)s->batch.n * l->out.c * l->out.h * l->out.w, &m);
    free(out);
    return m;
}

static void scale_weights(setup *s, uint32_t layer, double by) {
    lsuv_layer_params *p = &s->weights->layers[layer];
    for (uint64_t i = 0; i < p->weight_count; ++i) p->weight[i] = (float)(p->weight[i] * by);
}

/* The weights the forward holds now. */
static lsuv_weights *read_weights(const setup *s) {
    lsuv_weights *w;
    TEST_OK(lsuv_weights_create(s->net, &w));
    TEST_OK(lsuv_forward_weights_read(s->forward, w));
    return w;
}

static const lsuv_trace_row *trace_row(const lsuv_run *run, uint32_t layer, uint32_t pass) {
    for (uint32_t i = 0; i < run->n_trace; ++i)
        if (run->trace[i].layer == layer && run->trace[i].pass == pass) return &run->trace[i];
    cr_assert_fail("no trace row for layer %u, pass %u", layer, pass);
    return NULL;
}

GPU_TEST(rules, variance_rule_makes_the_population_variance_one_in_a_step) {
    /* Zero biases: W / sqrt(var) divides the variance by var exactly. */
    setup s = make(LINEAR, 2, 21);
    lsuv_moments m0 = ref_moments(&s);
    lsuv_options o = {.order = LSUV_ORDER_STD_ONLY,
                      .estimator = LSUV_ESTIMATOR_POPULATION,
                      .update = LSUV_UPDATE_VARIANCE,
                      .tol_std = 0.02};
    lsuv_run run = run_with(&s, o);
    cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
    const lsuv_trace_row *first = trace_row(&run, 0, 0);
    cr_assert(fabs(first->std - m0.std_population) <= 1e-5 * m0.std_population,
              "first pass std %.9g, population std %.9g (unbiased %.9g)", first->std,
              m0.std_population, m0.std);
    cr_assert(fabs(m0.std_population * m0.std_population - 1) > 0.02, "the test needs a step");
    cr_assert_eq(run.layers[0].passes, 2, "one step, one pass after it");
    cr_assert(fabs(run.layers[0].std - 1) <= 1e-5, "std %.9g", run.layers[0].std);
    cr_assert(run.layers[0].within_tol && !run.layers[0].capped && run.converged);
    lsuv_weights *w = read_weights(&s);
    for (uint64_t i = 0; i < w->layers[0].weight_count; i += 7) {
        double want = s.weights->layers[0].weight[i] / m0.std_population;
        cr_assert(fabs(w->layers[0].weight[i] - want) <= 1e-5 * (fabs(want) + 1e-3),
                  "weight %llu: %.9g, W / sqrt(var) %.9g", (unsigned long long)i,
                  w->layers[0].weight[i], want);
    }
    lsuv_weights_destroy(w);
    lsuv_run_free(&run);
    unmake(&s);
}

GPU_TEST(rules, variance_rule_tests_the_variance_not_the_std) {
    /* Population std 1.015: |std - 1| = 0.015 is within 0.02, |var - 1| =
     * 0.030 is not. */
    setup s = make(LINEAR, 2, 22);
    scale_weights(&s, 0, 1.015 / ref_moments(&s).std_population);
    lsuv_options o = {.order = LSUV_ORDER_STD_ONLY,
                      .estimator = LSUV_ESTIMATOR_POPULATION,
                      .update = LSUV_UPDATE_VARIANCE,
                      .tol_std = 0.02};
    lsuv_run run = run_with(&s, o);
    cr_assert_eq(run.layers[0].passes, 2, "variance rule: one step");
    cr_assert(fabs(run.layers[0].std - 1) <= 1e-5, "std %.9g", run.layers[0].std);
    lsuv_run_free(&run);
    o.update = LSUV_UPDATE_STD;
    run = run_with(&s, o);
    cr_assert_eq(run.layers[0].passes, 1, "std rule: already within tolerance");
    cr_assert(fabs(run.layers[0].std - 1.015) <= 1e-5, "std %.9g", run.layers[0].std);
    lsuv_run_free(&run);
    unmake(&s);
}

GPU_TEST(rules, coef_rule_scales_w_and_shifts_the_bias_unscaled) {
    /* LSUV-pytorch: W *= coef, b += -mean * coef. With B the mean of the
     * bias term, the step leaves the mean at (1 - coef) B; the biases end
     * at b0 - sum mean_k coef_k, the weights at W0 prod coef_k. */
    setup s = make(LINEAR, 2, 23);
    static const float b0[4] = {0.5f, -0.2f, 0.3f, 0.1f};
    memcpy(s.weights->layers[0].bias, b0, sizeof b0);
    scale_weights(&s, 0, 3.0);
    lsuv_options o = {.order = LSUV_ORDER_STD_ONLY,
                      .measure = LSUV_MEASURE_PRE, /* linear, sub 0: pre is post */
                      .estimator = LSUV_ESTIMATOR_POPULATION,
                      .update = LSUV_UPDATE_COEF,
                      .tol_std = 0.1};
    lsuv_run run = run_with(&s, o);
    cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
    uint32_t steps = run.layers[0].passes - 1;
    cr_assert_geq(steps, 1);
    double bias_mean = (b0[0] + b0[1] + b0[2] + b0[3]) / 4.0, scale = 1, shift = 0;
    for (uint32_t k = 0; k < steps; ++k) {
        const lsuv_trace_row *t = trace_row(&run, 0, k), *next = trace_row(&run, 0, k + 1);
        cr_assert_eq(t->step, 's');
        double coef = 1.0 / ((float)t->std + 1e-8);
        double predicted = (1 - coef) * bias_mean;
        cr_assert(fabs(next->mean - predicted) <= 1e-5, "pass %u: mean %.9g, closed form %.9g",
                  k + 1, next->mean, predicted);
        bias_mean -= t->mean * coef;
        shift -= t->mean * coef;
        scale *= coef;
    }
    lsuv_weights *w = read_weights(&s);
    for (uint32_t c = 0; c < 4; ++c)
        cr_assert(fabs(w->layers[0].bias[c] - (b0[c] + shift)) <= 1e-5,
                  "bias %u: %.9g, b0 + shifts %.9g (rescaled: %.9g)", c, w->layers[0].bias[c],
                  b0[c] + shift, b0[c] * scale + shift);
    for (uint64_t i = 0; i < w->layers[0].weight_count; i += 5) {
        double want = s.weights->layers[0].weight[i] * scale;
        cr_assert(fabs(w->layers[0].weight[i] - want) <= 1e-5 * (fabs(want) + 1e-3));
    }
    lsuv_weights_destroy(w);
    lsuv_run_free(&run);
    /* Within tolerance from the start (std 1.05, biases 0.5): no step, the
     * mean kept. */
    for (uint32_t c = 0; c < 4; ++c) s.weights->layers[0].bias[c] = 0.5f;
    scale_weights(&s, 0, 1.05 / ref_moments(&s).std_population);
    lsuv_moments m0 = ref_moments(&s);
    run = run_with(&s, o);
    cr_assert_eq(run.layers[0].passes, 1);
    cr_assert(fabs(run.layers[0].mean - m0.mean) <= 1e-5, "mean %.9g, initial %.9g",
              run.layers[0].mean, m0.mean);
    lsuv_run_free(&run);
    unmake(&s);
}

GPU_TEST(rules, each_loop_of_two_starts_with_its_own_pass) {
    /* Mean-first on a linear layer with biases 0.5: one mean step makes the
     * mean 0, one std step the std 1. The notebook's two `while mdl(xb)`
     * loops evaluate (1 + 1) + (1 + 1) times: m, then the std loop's own
     * pass, s, then the check. */
    setup s = make(LINEAR, 2, 24);
    for (uint32_t c = 0; c < 4; ++c) s.weights->layers[0].bias[c] = 0.5f;
    scale_weights(&s, 0, 3.0);
    lsuv_options o = {.order = LSUV_ORDER_MEAN_FIRST};
    lsuv_run run = run_with(&s, o);
    cr_assert_eq(run.layers[0].passes, 4);
    static const char steps[] = "m-s-";
    for (uint32_t p = 0; p < 4; ++p)
        cr_assert_eq(trace_row(&run, 0, p)->step, steps[p], "pass %u", p);
    cr_assert_eq(trace_row(&run, 0, 1)->mean, trace_row(&run, 0, 2)->mean, "the same state");
    lsuv_run_free(&run);
    /* Std-only: passes = 1 + steps. */
    o.order = LSUV_ORDER_STD_ONLY;
    run = run_with(&s, o);
    cr_assert_eq(run.layers[0].passes, 2);
    lsuv_run_free(&run);
    unmake(&s);
}

/* Biases +-3 by channel: the std is at least 3 whatever W, so the std
 * steps only shrink W. */
static setup make_bias_spread(uint64_t seed) {
    setup s = make(LINEAR, 2, seed);
    for (uint32_t c = 0; c < 4; ++c) s.weights->layers[0].bias[c] = c % 2 ? -3.0f : 3.0f;
    return s;
}

GPU_TEST(rules, max_iters_caps_steps_and_passes_are_one_more) {
    setup s = make_bias_spread(25);
    lsuv_options o = {.order = LSUV_ORDER_STD_ONLY, .max_iters = 2};
    lsuv_run run = run_with(&s, o);
    cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
    cr_assert_eq(run.layers[0].passes, 3, "2 steps, 3 evaluations");
    cr_assert(run.layers[0].capped && !run.layers[0].within_tol && !run.converged);
    cr_assert_eq(trace_row(&run, 0, 2)->step, '-');
    lsuv_run_free(&run);
    unmake(&s);
}

GPU_TEST(rules, convs_leave_connected_layers_alone) {
    setup s = make("[net]\nheight=4\nwidth=4\nchannels=3\n"
                   "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\n"
                   "[connected]\noutput=6\nactivation=linear\n",
                   4, 30);
    lsuv_run run = run_with(&s, (lsuv_options){.order = LSUV_ORDER_STD_FIRST});
    cr_assert_eq(run.n_layers, 2, "every weighted layer by default");
    lsuv_run_free(&run);
    run = run_with(&s, (lsuv_options){.order = LSUV_ORDER_STD_FIRST, .layers = LSUV_LAYERS_CONVS});
    cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
    cr_assert_eq(run.n_layers, 1);
    cr_assert_eq(run.layers[0].index, 0);
    lsuv_weights *w = read_weights(&s);
    const lsuv_layer_params *was = &s.weights->layers[1], *now = &w->layers[1];
    cr_assert(memcmp(now->weight, was->weight, was->weight_count * 4) == 0);
    cr_assert(memcmp(now->bias, was->bias, was->bias_count * 4) == 0);
    lsuv_weights_destroy(w);
    lsuv_run_free(&run);
    unmake(&s);
}
