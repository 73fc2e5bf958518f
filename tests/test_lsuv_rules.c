/* LSUV's update rules, estimators, caps, layer sets, hazards and refusals,
 * each on a network small enough for a closed form: a linear convolution
 * scales its output's spread exactly with its weights, and keeps its biases'
 * mean in its output's mean. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsuv/lsuv.h"
#include "lsuv/ref.h"
#include "support/gpu.h"
#include "support/setup.h"
#include "support/spawn.h"

/* 2 samples x 4 channels x 4x4: 128 values, few enough that n and n - 1
 * differ by 0.8%. */
#define LINEAR                                                                                     \
    "[net]\nheight=4\nwidth=4\nchannels=3\n"                                                       \
    "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear\n"
#define VALUES 128

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

static const lsuv_trace_row *trace_row(const lsuv_run *run, uint32_t layer, uint32_t pass) {
    for (uint32_t i = 0; i < run->n_trace; ++i)
        if (run->trace[i].layer == layer && run->trace[i].pass == pass) return &run->trace[i];
    cr_assert_fail("no trace row for layer %u, pass %u", layer, pass);
    return NULL;
}

GPU_TEST(rules, variance_rule_makes_the_population_variance_one_in_a_step) {
    /* Zero biases: W / sqrt(var) divides the variance by var exactly. */
    setup s = setup_make(LINEAR, 2, 21, NULL);
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
    lsuv_weights *w = setup_weights_now(&s);
    for (uint64_t i = 0; i < w->layers[0].weight_count; i += 7) {
        double want = s.weights->layers[0].weight[i] / m0.std_population;
        cr_assert(fabs(w->layers[0].weight[i] - want) <= 1e-5 * (fabs(want) + 1e-3),
                  "weight %llu: %.9g, W / sqrt(var) %.9g", (unsigned long long)i,
                  w->layers[0].weight[i], want);
    }
    lsuv_weights_destroy(w);
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(rules, variance_rule_tests_the_variance_not_the_std) {
    /* Population std 1.015: |std - 1| = 0.015 is within 0.02, |var - 1| =
     * 0.030 is not. */
    setup s = setup_make(LINEAR, 2, 22, NULL);
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
    setup_free(&s);
}

GPU_TEST(rules, coef_rule_scales_w_and_shifts_the_bias_unscaled) {
    /* LSUV-pytorch: W *= coef, b += -mean * coef. With B the mean of the
     * bias term, the step leaves the mean at (1 - coef) B; the biases end
     * at b0 - sum mean_k coef_k, the weights at W0 prod coef_k. */
    setup s = setup_make(LINEAR, 2, 23, NULL);
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
    lsuv_weights *w = setup_weights_now(&s);
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
    setup_free(&s);
}

GPU_TEST(rules, each_loop_of_two_starts_with_its_own_pass) {
    /* Mean-first on a linear layer with biases 0.5: one mean step makes the
     * mean 0, one std step the std 1. The notebook's two `while mdl(xb)`
     * loops evaluate (1 + 1) + (1 + 1) times: m, then the std loop's own
     * pass, s, then the check. */
    setup s = setup_make(LINEAR, 2, 24, NULL);
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
    setup_free(&s);
}

/* Biases +-3 by channel: the std is at least 3 whatever W, so the std
 * steps only shrink W. */
static setup make_bias_spread(uint64_t seed) {
    setup s = setup_make(LINEAR, 2, seed, NULL);
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
    setup_free(&s);
}

GPU_TEST(rules, stalled_stops_weights_shrinking_to_nothing) {
    /* Without the hazard, 50 steps of W /= 3 leave W at 1e-24 of itself. */
    setup s = make_bias_spread(26);
    lsuv_options o = {.order = LSUV_ORDER_STD_ONLY};
    lsuv_run run = run_with(&s, o);
    cr_assert_eq(run.hazard, LSUV_HAZARD_STALLED, "hazard %d after %u passes, std %g", run.hazard,
                 run.layers[0].passes, run.layers[0].std);
    cr_assert_leq(run.layers[0].passes, 6);
    cr_assert(!run.converged && !run.layers[0].within_tol);
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(rules, stalled_stops_weights_growing_without_end) {
    /* relu clamped at maxv 1 has a std of 0.5 at most while sub stays 0:
     * std-first's std loop doubles W or more each step. sub moves later, so
     * the clamp's bound is not certain before the run. */
    setup s = setup_make("[net]\nheight=8\nwidth=8\nchannels=3\n"
                         "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=relu\nmaxv=1\n",
                         4, 27, NULL);
    lsuv_options o = {.order = LSUV_ORDER_STD_FIRST};
    lsuv_run run = run_with(&s, o);
    cr_assert_eq(run.hazard, LSUV_HAZARD_STALLED, "hazard %d after %u passes, std %g", run.hazard,
                 run.layers[0].passes, run.layers[0].std);
    lsuv_weights *w = setup_weights_now(&s);
    double grown = 0;
    for (uint64_t i = 0; i < w->layers[0].weight_count; ++i)
        if (s.weights->layers[0].weight[i] != 0)
            grown = fmax(grown, fabs(w->layers[0].weight[i] / s.weights->layers[0].weight[i]));
    cr_assert_leq(grown, 1e4, "the weights grew %g times", grown);
    lsuv_weights_destroy(w);
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(rules, bounded_output_measured_post_is_unreachable_before_any_pass) {
    static const char *acts[] = {"logistic", "tanh", "hardtan", "loggy"};
    for (size_t a = 0; a < sizeof acts / sizeof *acts; ++a) {
        char cfg[256];
        snprintf(cfg, sizeof cfg,
                 "[net]\nheight=4\nwidth=4\nchannels=3\n"
                 "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
                 "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=%s\n",
                 acts[a]);
        setup s = setup_make(cfg, 2, 28, NULL);
        lsuv_run run = run_with(&s, (lsuv_options){.order = LSUV_ORDER_MEAN_FIRST});
        cr_assert_eq(run.hazard, LSUV_HAZARD_UNREACHABLE, "%s: hazard %d", acts[a], run.hazard);
        cr_assert_eq(run.n_layers, 1);
        cr_assert_eq(run.layers[0].index, 1, "%s", acts[a]);
        cr_assert_eq(run.layers[0].passes, 0, "%s", acts[a]);
        cr_assert(!run.converged);
        /* Nothing ran: the leaky layer before it is untouched too. */
        lsuv_weights *w = setup_weights_now(&s);
        cr_assert(memcmp(w->layers[0].weight, s.weights->layers[0].weight,
                         w->layers[0].weight_count * 4) == 0);
        lsuv_weights_destroy(w);
        lsuv_run_free(&run);
        /* Measured pre, the range is the sums', unbounded. */
        run =
            run_with(&s, (lsuv_options){.order = LSUV_ORDER_STD_ONLY, .measure = LSUV_MEASURE_PRE});
        cr_assert_neq(run.hazard, LSUV_HAZARD_UNREACHABLE, "%s", acts[a]);
        lsuv_run_free(&run);
        setup_free(&s);
    }
    /* relu6 reaches 3; relu with maxv 2 and sub fixed (std-only) reaches 1
     * only saturated. */
    setup s = setup_make("[net]\nheight=4\nwidth=4\nchannels=3\n"
                         "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\nmaxv=2\n",
                         2, 29, NULL);
    lsuv_run run = run_with(&s, (lsuv_options){.order = LSUV_ORDER_STD_ONLY});
    cr_assert_eq(run.hazard, LSUV_HAZARD_UNREACHABLE);
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(rules, convs_leave_connected_layers_alone) {
    setup s = setup_make("[net]\nheight=4\nwidth=4\nchannels=3\n"
                         "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\n"
                         "[connected]\noutput=6\nactivation=linear\n",
                         4, 30, NULL);
    lsuv_run run = run_with(&s, (lsuv_options){.order = LSUV_ORDER_STD_FIRST});
    cr_assert_eq(run.n_layers, 2, "every weighted layer by default");
    lsuv_run_free(&run);
    run = run_with(&s, (lsuv_options){.order = LSUV_ORDER_STD_FIRST, .layers = LSUV_LAYERS_CONVS});
    cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
    cr_assert_eq(run.n_layers, 1);
    cr_assert_eq(run.layers[0].index, 0);
    lsuv_weights *w = setup_weights_now(&s);
    const lsuv_layer_params *was = &s.weights->layers[1], *now = &w->layers[1];
    cr_assert(memcmp(now->weight, was->weight, was->weight_count * 4) == 0);
    cr_assert(memcmp(now->bias, was->bias, was->bias_count * 4) == 0);
    lsuv_weights_destroy(w);
    lsuv_run_free(&run);
    setup_free(&s);
}

/* lsuv_options_check's verdict on one cfg layer; *message its message. */
static lsuv_status check_on(const char *layer, lsuv_options o, const char **message) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "[net]\nheight=4\nwidth=4\nchannels=3\n[convolutional]\n%s\n", layer);
    lsuv_net *net;
    TEST_OK(lsuv_net_parse("check.cfg", cfg, strlen(cfg), NULL, &net));
    lsuv_error_clear();
    lsuv_status s = lsuv_options_check(net, &o);
    *message = lsuv_error_message();
    lsuv_net_destroy(net);
    return s;
}

Test(rules, options_that_cannot_converge_are_refused) {
    const char *m;
    static const char relu[] = "filters=4\nsize=3\nactivation=relu";
    lsuv_options bias_post = {.order = LSUV_ORDER_MEAN_FIRST, .mean_param = LSUV_MEAN_BIAS};
    cr_assert_eq(check_on(relu, bias_post, &m), LSUV_ERROR_INVALID);
    cr_assert(strstr(m, "layer 0") && strstr(m, "bias") && strstr(m, "--measure pre"), "%s", m);
    cr_assert_eq(check_on("filters=4\nsize=3\nactivation=logistic", bias_post, &m),
                 LSUV_ERROR_INVALID);
    cr_assert_eq(check_on("filters=4\nsize=3\nactivation=relu6", bias_post, &m),
                 LSUV_ERROR_INVALID);
    /* 0 inside the range: leaky, or relu with sub > 0. */
    cr_assert_eq(check_on("filters=4\nsize=3\nactivation=leaky", bias_post, &m), LSUV_OK, "%s", m);
    cr_assert_eq(check_on("filters=4\nsize=3\nactivation=relu\nsub=0.4", bias_post, &m), LSUV_OK,
                 "%s", m);
    /* Measured pre the bias acts before the measuring point; sub after it. */
    bias_post.measure = LSUV_MEASURE_PRE;
    cr_assert_eq(check_on(relu, bias_post, &m), LSUV_OK, "%s", m);
    lsuv_options sub_pre = {
        .order = LSUV_ORDER_MEAN_FIRST, .mean_param = LSUV_MEAN_SUB, .measure = LSUV_MEASURE_PRE};
    cr_assert_eq(check_on(relu, sub_pre, &m), LSUV_ERROR_INVALID);
    cr_assert(strstr(m, "sub") && strstr(m, "pre"), "%s", m);
    sub_pre.order = LSUV_ORDER_STD_ONLY; /* no mean to move */
    cr_assert_eq(check_on(relu, sub_pre, &m), LSUV_OK, "%s", m);
    lsuv_options coef = {.order = LSUV_ORDER_JOINT, .update = LSUV_UPDATE_COEF};
    cr_assert_eq(check_on(relu, coef, &m), LSUV_ERROR_INVALID);
    cr_assert(strstr(m, "coef") && strstr(m, "std-only"), "%s", m);
    coef.order = LSUV_ORDER_STD_ONLY;
    cr_assert_eq(check_on(relu, coef, &m), LSUV_OK, "%s", m);
    lsuv_options bad = {.estimator = (lsuv_estimator)7};
    cr_assert_eq(check_on(relu, bad, &m), LSUV_ERROR_INVALID);
}

GPU_TEST(rules, initialize_refuses_with_the_sub_the_forward_holds) {
    /* The cfg's sub is 0.4, which a bias shift can steer around; the
     * weights' sub of 0 is not. */
    setup s = setup_make("[net]\nheight=4\nwidth=4\nchannels=3\n"
                         "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\nsub=0.4\n",
                         2, 31, NULL);
    lsuv_options o = {.order = LSUV_ORDER_MEAN_FIRST, .mean_param = LSUV_MEAN_BIAS};
    cr_assert_eq(lsuv_options_check(s.net, &o), LSUV_OK, "%s", lsuv_error_message());
    s.weights->layers[0].sub = 0;
    lsuv_run run;
    TEST_OK(lsuv_forward_reset(s.forward, s.weights));
    cr_assert_eq(lsuv_initialize(s.forward, &o, &run), LSUV_ERROR_INVALID);
    cr_assert(strstr(lsuv_error_message(), "layer 0"), "%s", lsuv_error_message());
    setup_free(&s);
}

GPU_TEST(rules, cli_names_unreachable_and_what_to_use) {
    char cfg[256], json[256];
    snprintf(cfg, sizeof cfg, "%s/unreach-%d.cfg", LSUV_TEST_TMP, (int)getpid());
    snprintf(json, sizeof json, "%s/unreach-%d.json", LSUV_TEST_TMP, (int)getpid());
    FILE *f = fopen(cfg, "w");
    cr_assert(f);
    fputs("[net]\nbatch=4\nheight=8\nwidth=8\nchannels=3\n"
          "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=logistic\n",
          f);
    fclose(f);
    spawn_result r =
        spawn_run((const char *const[]){LSUV_VK_BIN, "--layers", cfg, "--json", json, NULL}, NULL);
    cr_assert_eq(r.exit_code, 3, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "layer 0") && strstr(r.err, "logistic") &&
                  strstr(r.err, "--measure pre") && strstr(r.err, "nothing was written"),
              "%s", r.err);
    cr_assert_neq(access(json, F_OK), 0, "no JSON");
    spawn_result_free(&r);
    unlink(cfg);
}
