/* One submission per LSUV run, whatever the cap: every layer's passes
 * recorded at once give, bit for bit, what each layer's passes submitted on
 * their own give, and what a cap whose passes are each recorded gives; a run
 * stopped at a layer leaves the layers after it as they were; the progress
 * callback hears of each layer as the device finishes it. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/clock.h"
#include "lsuv/lsuv.h"
#include "ops/sums.h"
#include "support/gpu.h"
#include "support/setup.h"

static bool same_params(const lsuv_layer_params *a, const lsuv_layer_params *b) {
    return a->weight_count == b->weight_count && a->bias_count == b->bias_count &&
           memcmp(a->weight, b->weight, a->weight_count * 4) == 0 &&
           memcmp(a->bias, b->bias, (size_t)a->bias_count * 4) == 0 &&
           memcmp(&a->sub, &b->sub, sizeof a->sub) == 0;
}

/* The trace rows of one layer, from row *at on; *at moves past them. */
static void assert_same_rows(const lsuv_run *whole, uint32_t *at, const lsuv_run *alone,
                             uint32_t layer) {
    cr_assert_eq(alone->n_trace, alone->layers[0].passes);
    for (uint32_t r = 0; r < alone->n_trace; ++r, ++*at) {
        const lsuv_trace_row *a = &whole->trace[*at], *b = &alone->trace[r];
        cr_assert(a->layer == layer && b->layer == layer && a->pass == b->pass &&
                      a->step == b->step && memcmp(&a->mean, &b->mean, sizeof a->mean) == 0 &&
                      memcmp(&a->std, &b->std, sizeof a->std) == 0,
                  "layer %u, pass %u: %c %.9g %.9g, alone %c %.9g %.9g", layer, r, a->step, a->mean,
                  a->std, b->step, b->mean, b->std);
    }
}

GPU_TEST(submit, one_submission_is_each_layer_submitted_alone) {
    /* The reference is the engine's own layer-by-layer structure: lsuv=1 on
     * one layer at a time, each run going on from the state the run before
     * left, so each layer's passes are a submission of their own. */
    static const lsuv_order orders[] = {LSUV_ORDER_MEAN_FIRST, LSUV_ORDER_STD_FIRST,
                                        LSUV_ORDER_FIXED_POINT};
    setup s = setup_make(NULL, 64, 5, NULL);
    for (size_t o = 0; o < sizeof orders / sizeof *orders; ++o) {
        lsuv_options opt = {.order = orders[o], .tol_mean = 1e-5, .tol_std = 1e-5};
        lsuv_run whole, alone;
        TEST_OK(lsuv_forward_reset(s.forward, s.weights));
        TEST_OK(lsuv_initialize(s.forward, &opt, &whole));
        cr_assert_eq(whole.n_layers, 5);
        cr_assert_eq(whole.submissions, 1, "every layer in one submission");
        lsuv_weights *after_whole = setup_weights_now(&s);

        TEST_OK(lsuv_forward_reset(s.forward, s.weights));
        bool lsuv[64] = {0};
        for (uint32_t i = 0; i < s.net->n_layers; ++i) lsuv[i] = s.net->layers[i].lsuv;
        uint32_t row = 0, passes = 0;
        for (uint32_t k = 0; k < whole.n_layers; ++k) {
            const lsuv_layer_run *w = &whole.layers[k];
            for (uint32_t i = 0; i < s.net->n_layers; ++i) s.net->layers[i].lsuv = i == w->index;
            TEST_OK(lsuv_initialize(s.forward, &opt, &alone));
            const lsuv_layer_run *a = &alone.layers[0];
            cr_assert(alone.n_layers == 1 && a->index == w->index);
            cr_assert(a->passes == w->passes && memcmp(&a->mean, &w->mean, sizeof a->mean) == 0 &&
                          memcmp(&a->std, &w->std, sizeof a->std) == 0 &&
                          a->converged == w->converged,
                      "order %zu, layer %u: %u passes, %.9g %.9g; alone %u, %.9g %.9g", o, w->index,
                      w->passes, w->mean, w->std, a->passes, a->mean, a->std);
            assert_same_rows(&whole, &row, &alone, w->index);
            passes += a->passes;
            lsuv_run_free(&alone);
        }
        for (uint32_t i = 0; i < s.net->n_layers; ++i) s.net->layers[i].lsuv = lsuv[i];
        cr_assert(passes > 2 * whole.n_layers, "more than a step and a check per layer");
        cr_assert_eq(row, whole.n_trace);
        lsuv_weights *after_alone = setup_weights_now(&s);
        for (uint32_t i = 0; i < s.net->n_layers; ++i)
            if (after_whole->layers[i].weight)
                cr_assert(same_params(&after_whole->layers[i], &after_alone->layers[i]),
                          "order %zu: layer %u's weights differ", o, i);
        lsuv_weights_destroy(after_whole);
        lsuv_weights_destroy(after_alone);
        lsuv_run_free(&whole);
    }
    setup_free(&s);
}

GPU_TEST(submit, a_stopped_run_leaves_the_later_layers_alone) {
    /* Layer 2 dead, every output 3: the passes of layers 3 and 4, recorded
     * in the same submission, must not touch their weights, though their
     * inputs (3 everywhere) give outputs LSUV could work on. */
    setup s = setup_make(NULL, 32, 4, NULL);
    lsuv_layer_params *dead = &s.weights->layers[2];
    memset(dead->weight, 0, dead->weight_count * 4);
    for (uint32_t o = 0; o < dead->bias_count; ++o) dead->bias[o] = 3.0f;
    static const lsuv_order orders[] = {LSUV_ORDER_STD_FIRST, LSUV_ORDER_JOINT};
    for (size_t o = 0; o < 2; ++o) {
        lsuv_options opt = {.order = orders[o]};
        lsuv_run run;
        TEST_OK(lsuv_forward_reset(s.forward, s.weights));
        TEST_OK(lsuv_initialize(s.forward, &opt, &run));
        cr_assert_eq(run.hazard, LSUV_HAZARD_DEAD);
        cr_assert_eq(run.n_layers, 3);
        lsuv_weights *w = setup_weights_now(&s);
        for (uint32_t i = 0; i < s.net->n_layers; ++i) {
            if (!w->layers[i].weight) continue;
            bool same = same_params(&w->layers[i], &s.weights->layers[i]);
            cr_assert(i < 2 ? !same : same, "order %zu, layer %u: %s", o, i,
                      same ? "untouched" : "changed");
        }
        lsuv_weights_destroy(w);
        lsuv_run_free(&run);
    }
    setup_free(&s);
}

typedef struct heard {
    uint32_t calls, k[8], n[8], layer[8];
    double at[8];
} heard;

static void hear(void *ctx, uint32_t k, uint32_t n, uint32_t layer) {
    heard *h = ctx;
    if (h->calls < 8) {
        h->k[h->calls] = k;
        h->n[h->calls] = n;
        h->layer[h->calls] = layer;
        h->at[h->calls] = lsuv_wall_seconds();
    }
    h->calls++;
}

GPU_TEST(submit, progress_comes_as_each_layer_finishes) {
    /* Two heavy convolutions, a pooling layer between them. The callback for
     * a layer cannot come before the device has spent that layer's time, and
     * the second comes a layer's time after the first: not all at the end. */
    static const char cfg[] = "[net]\nheight=32\nwidth=32\nchannels=8\n"
                              "[convolutional]\nfilters=32\nsize=3\npad=1\nactivation=relu\n"
                              "[maxpool]\nsize=1\nstride=1\n"
                              "[convolutional]\nfilters=32\nsize=3\npad=1\nactivation=relu\n";
    setup s = setup_make(cfg, 32, 21, NULL);
    heard h = {0};
    lsuv_options opt = {.order = LSUV_ORDER_STD_FIRST};
    lsuv_run run;
    /* A first run builds the pipelines, which the timed one must not wait on. */
    TEST_OK(lsuv_initialize(s.forward, &opt, &run));
    lsuv_run_free(&run);
    TEST_OK(lsuv_forward_reset(s.forward, s.weights));
    opt.progress = hear;
    opt.progress_ctx = &h;
    double t0 = lsuv_wall_seconds();
    TEST_OK(lsuv_initialize(s.forward, &opt, &run));
    cr_assert_eq(run.n_layers, 2);
    cr_assert_eq(h.calls, 2);
    for (uint32_t c = 0; c < 2; ++c)
        cr_assert(h.k[c] == c + 1 && h.n[c] == 2 && h.layer[c] == run.layers[c].index,
                  "call %u: %u of %u, layer %u", c, h.k[c], h.n[c], h.layer[c]);
    double g0 = run.layers[0].gpu_ms, g1 = run.layers[1].gpu_ms;
    cr_assert(g0 > 0 && g1 > 0 && fabs(g0 + g1 - run.gpu_ms) <= 1e-9 * run.gpu_ms,
              "per-layer gpu ms %g + %g, run %g", g0, g1, run.gpu_ms);
    double first = (h.at[0] - t0) * 1e3, gap = (h.at[1] - h.at[0]) * 1e3;
    cr_assert_geq(first, 0.9 * g0, "layer 0 heard of %.2f ms in, its passes take %.2f", first, g0);
    cr_assert_geq(gap, 0.5 * g1, "layer 1 heard of %.2f ms after layer 0, its passes take %.2f",
                  gap, g1);
    lsuv_run_free(&run);
    setup_free(&s);
}

/* Runs opt from the setup's weights; *w gets the weights it left. */
static void run_from_start(setup *s, const lsuv_options *opt, lsuv_run *run, lsuv_weights **w) {
    TEST_OK(lsuv_forward_reset(s->forward, s->weights));
    TEST_OK(lsuv_initialize(s->forward, opt, run));
    *w = setup_weights_now(s);
}

/* a and b, runs of the same network, agree bit for bit: per layer, per
 * trace row, and the weights they left. */
static void assert_same_runs(const setup *s, const lsuv_run *a, const lsuv_weights *wa,
                             const lsuv_run *b, const lsuv_weights *wb, const char *what) {
    cr_assert(a->n_layers == b->n_layers && a->n_trace == b->n_trace, "%s", what);
    for (uint32_t k = 0; k < a->n_layers; ++k) {
        const lsuv_layer_run *x = &a->layers[k], *y = &b->layers[k];
        cr_assert(x->passes == y->passes && memcmp(&x->mean, &y->mean, sizeof x->mean) == 0 &&
                      memcmp(&x->std, &y->std, sizeof x->std) == 0 && x->capped == y->capped,
                  "%s, layer %u: %u passes %.9g %.9g, against %u %.9g %.9g", what, x->index,
                  x->passes, x->mean, x->std, y->passes, y->mean, y->std);
    }
    for (uint32_t r = 0; r < a->n_trace; ++r) {
        const lsuv_trace_row *x = &a->trace[r], *y = &b->trace[r];
        cr_assert(x->layer == y->layer && x->pass == y->pass && x->step == y->step &&
                      memcmp(&x->mean, &y->mean, sizeof x->mean) == 0 &&
                      memcmp(&x->std, &y->std, sizeof x->std) == 0,
                  "%s, trace row %u", what, r);
    }
    for (uint32_t i = 0; i < s->net->n_layers; ++i)
        if (wa->layers[i].weight)
            cr_assert(same_params(&wa->layers[i], &wb->layers[i]), "%s: layer %u's weights", what,
                      i);
}

GPU_TEST(submit, max_iters_1000_is_one_submission_with_the_same_bits) {
    /* --max-iters 1000 has std-first record 2003 passes a layer, most as
     * repeated executions of a recorded chunk, in the run's one submission.
     * No loop comes near either cap, so the results must be those of a cap
     * whose passes are each recorded on their own (14: 31 passes a layer,
     * fewer than two chunks), bit for bit. Fixed-point, 4 max_iters + 3
     * passes a layer, needs more than 7 (31 passes): 120 against 60, both
     * chunked. (Larger caps cost the validation layer minutes.) */
    setup s = setup_make(NULL, 64, 6, NULL);
    static const struct {
        lsuv_order order;
        uint32_t small, big;
    } cases[] = {{LSUV_ORDER_STD_FIRST, 14, 1000}, {LSUV_ORDER_FIXED_POINT, 60, 120}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; ++c) {
        lsuv_options small = {.order = cases[c].order,
                              .tol_mean = 1e-5,
                              .tol_std = 1e-5,
                              .max_iters = cases[c].small};
        lsuv_options big = small;
        heard h = {0};
        big.max_iters = cases[c].big;
        big.progress = hear;
        big.progress_ctx = &h;
        lsuv_run a, b;
        lsuv_weights *wa, *wb;
        run_from_start(&s, &small, &a, &wa);
        run_from_start(&s, &big, &b, &wb);
        const char *name = lsuv_order_name(cases[c].order);
        cr_assert_eq(a.n_layers, 5, "%s", name);
        for (uint32_t k = 0; k < 5; ++k)
            cr_assert(!a.layers[k].capped, "%s: layer %u capped at %u", name, a.layers[k].index,
                      cases[c].small);
        cr_assert(a.submissions == 1 && b.submissions == 1, "%s: %u and %u submissions", name,
                  a.submissions, b.submissions);
        cr_assert_eq(h.calls, 5, "%s: progress on each layer", name);
        for (uint32_t k = 0; k < 5; ++k)
            cr_assert(h.k[k] == k + 1 && h.n[k] == 5 && h.layer[k] == b.layers[k].index &&
                      b.layers[k].gpu_ms > 0);
        assert_same_runs(&s, &a, wa, &b, wb, name);
        lsuv_weights_destroy(wa);
        lsuv_weights_destroy(wb);
        lsuv_run_free(&a);
        lsuv_run_free(&b);
    }
    setup_free(&s);
}

GPU_TEST(submit, a_loop_capped_within_the_chunks_takes_every_step) {
    /* Tolerances of 1e-12, which only a mean of exactly 0 or an std of
     * exactly 1.0f meet: at --max-iters 40 mean-first's std loop takes all
     * its 40 steps on some layers (fastai on these images: layers 0 and 4),
     * most of its passes run from the chunk executions of the layer's 83.
     * Every layer's passes are its two loops' first passes and their steps,
     * and a layer is capped exactly when a loop took 40 steps. */
    setup s = setup_make(NULL, 64, 6, NULL);
    lsuv_options opt = {
        .order = LSUV_ORDER_MEAN_FIRST, .tol_mean = 1e-12, .tol_std = 1e-12, .max_iters = 40};
    lsuv_run run;
    TEST_OK(lsuv_forward_reset(s.forward, s.weights));
    TEST_OK(lsuv_initialize(s.forward, &opt, &run));
    cr_assert_eq(run.submissions, 1);
    cr_assert_eq(run.n_layers, 5);
    uint32_t row = 0, capped = 0;
    for (uint32_t k = 0; k < run.n_layers; ++k) {
        const lsuv_layer_run *l = &run.layers[k];
        uint32_t steps[2] = {0, 0}, first = row;
        for (; row < run.n_trace && run.trace[row].layer == l->index; ++row) {
            steps[0] += run.trace[row].step == 'm';
            steps[1] += run.trace[row].step == 's';
        }
        cr_assert(l->passes == row - first && l->passes == 2 + steps[0] + steps[1] &&
                      (steps[0] == 40 || steps[1] == 40) == l->capped,
                  "layer %u: capped %d, %u mean and %u std steps in %u passes", l->index, l->capped,
                  steps[0], steps[1], l->passes);
        capped += l->capped;
    }
    cr_assert_eq(row, run.n_trace);
    cr_assert_geq(capped, 1, "layers capped: %u", capped);
    lsuv_run_free(&run);
    setup_free(&s);
}

/* The forward's host-visible subs, against want (a float per layer). */
static void assert_subs(const setup *s, const lsuv_weights *want, const char *when) {
    float subs[64];
    cr_assert_leq(s->net->n_layers, 64);
    TEST_OK(lsuv_buffer_read(forward_subs(s->forward), 0, subs, 4ull * s->net->n_layers));
    for (uint32_t i = 0; i < s->net->n_layers; ++i)
        if (want->layers[i].weight)
            cr_assert(memcmp(&subs[i], &want->layers[i].sub, 4) == 0,
                      "%s, layer %u: sub %.9g, the device holds %.9g", when, i, subs[i],
                      want->layers[i].sub);
}

GPU_TEST(submit, the_subs_are_one_host_read_of_what_the_device_holds) {
    /* Before its passes a run reads each layer's sub once, from a
     * host-visible copy the forward writes on reset and each run's
     * submission updates: what it reads back is the control blocks up to
     * the last layer, the trace rows and a float per layer, no more. The
     * copy equals the device's state after reset and after mean-first
     * (whose mean steps move the subs), and a second run going on from the
     * first reads what the first left. */
    setup s = setup_make(NULL, 64, 5, NULL);
    uint64_t align = lsuv_device_get_info(gpu.device)->min_storage_buffer_offset_alignment;
    uint64_t stride = (48 + (align ? align : 4) - 1) / (align ? align : 4) * (align ? align : 4);
    TEST_OK(lsuv_forward_reset(s.forward, s.weights));
    assert_subs(&s, s.weights, "after reset");
    lsuv_options opt = {.order = LSUV_ORDER_MEAN_FIRST};
    for (int round = 0; round < 2; ++round) {
        lsuv_run run;
        TEST_OK(lsuv_initialize(s.forward, &opt, &run));
        cr_assert_eq(run.submissions, 1);
        uint32_t last = run.layers[run.n_layers - 1].index;
        uint64_t want = (last + 1) * stride + 16ull * run.n_trace + 4ull * s.net->n_layers;
        cr_assert_eq(run.readback_bytes, want, "round %d: %llu bytes read back, want %llu", round,
                     (unsigned long long)run.readback_bytes, (unsigned long long)want);
        lsuv_weights *now = setup_weights_now(&s);
        assert_subs(&s, now, round ? "after the second run" : "after the first run");
        uint32_t moved = 0;
        for (uint32_t i = 0; i < s.net->n_layers; ++i)
            moved += now->layers[i].weight && now->layers[i].sub != s.weights->layers[i].sub;
        cr_assert_geq(moved, 4, "mean steps moved %u subs", moved);
        lsuv_weights_destroy(now);
        lsuv_run_free(&run);
    }
    setup_free(&s);
}
