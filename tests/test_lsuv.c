/* The LSUV engine on fastai's 07a network and Fashion-MNIST: the orderings
 * do what the notebook and its critics say, with closed forms from the
 * engine's own trace. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "lsuv/lsuv.h"
#include "support/gpu.h"
#include "support/setup.h"
#include "support/spawn.h"

#define FASTAI  TEST_FASTAI
#define FASHION TEST_FASHION

static setup make_with(uint32_t batch, uint64_t seed, lsuv_precision precision,
                       lsuv_conv_kernel kernel, uint64_t max_chunk_bytes, bool keep) {
    lsuv_forward_options fo = {.precision = precision,
                               .conv_kernel = kernel,
                               .max_chunk_bytes = max_chunk_bytes,
                               .keep_outputs = keep};
    return setup_make(NULL, batch, seed, &fo);
}

static setup make_as(uint32_t batch, uint64_t seed, lsuv_precision precision) {
    return make_with(batch, seed, precision, LSUV_CONV_AUTO, 0, false);
}

static setup make(uint32_t batch, uint64_t seed) {
    return make_as(batch, seed, LSUV_PRECISION_FP32);
}

static lsuv_run run_order(setup *s, lsuv_order order) {
    lsuv_options o = {.order = order};
    lsuv_run run;
    TEST_OK(lsuv_forward_reset(s->forward, s->weights));
    TEST_OK(lsuv_initialize(s->forward, &o, &run));
    cr_assert_eq(run.hazard, LSUV_HAZARD_NONE);
    cr_assert_eq(run.n_layers, 5, "the five convolutions; the classifier has lsuv=0");
    return run;
}

GPU_TEST(lsuv, mean_first_keeps_a_mean_std_first_does_not) {
    setup s = make(128, 0);
    lsuv_run mf = run_order(&s, LSUV_ORDER_MEAN_FIRST), sf = run_order(&s, LSUV_ORDER_STD_FIRST);
    int far = 0;
    for (uint32_t l = 0; l < 5; ++l) {
        const lsuv_layer_run *a = &mf.layers[l], *b = &sf.layers[l];
        cr_assert(!a->capped && !b->capped, "layer %u", l);
        cr_assert(b->within_tol && b->converged, "layer %u", l);
        cr_assert_leq(fabs(a->std - 1), 1e-3, "mean-first layer %u std %g", l, a->std);
        cr_assert_eq(a->within_tol, fabs(a->mean) <= 1e-3, "mean-first layer %u mean %g", l,
                     a->mean);
        far += fabs(a->mean) > 0.01;
        cr_assert_leq(fabs(b->std - 1), 1e-3, "std-first layer %u std %g", l, b->std);
        cr_assert_leq(fabs(b->mean), 1e-5, "std-first layer %u mean %g", l, b->mean);
    }
    cr_assert_geq(far, 3, "mean-first should leave most means far above the tolerance");
    cr_assert(!mf.converged && sf.converged, "converged means every layer within tolerance");
    /* One submission per run, reading back small blocks. */
    cr_assert_eq(mf.submissions, 1);
    cr_assert_eq(sf.submissions, 1);
    cr_assert_lt(mf.readback_bytes, 1024);
    lsuv_run_free(&mf);
    lsuv_run_free(&sf);
    setup_free(&s);
}

GPU_TEST(lsuv, fixed_point_ends_within_both_tolerances) {
    /* Mean-first stops with the means its std loop moved (0.1 to 0.2 here,
     * against 1e-3), not capped; fixed-point goes back to the mean loop
     * until both hold. Every loop starts with a pass of its own: passes are
     * 2 per round plus the steps. */
    setup s = make(128, 0);
    lsuv_run mf = run_order(&s, LSUV_ORDER_MEAN_FIRST), fp = run_order(&s, LSUV_ORDER_FIXED_POINT);
    for (uint32_t l = 0; l < 5; ++l) {
        const lsuv_layer_run *a = &mf.layers[l], *b = &fp.layers[l];
        cr_assert(!a->capped && !a->within_tol, "mean-first layer %u: mean %g", l, a->mean);
        cr_assert(b->within_tol && !b->capped, "fixed-point layer %u: mean %g, std %g", l, b->mean,
                  b->std);
        cr_assert_leq(fabs(b->mean), 1e-3);
        cr_assert_leq(fabs(b->std - 1), 1e-3);
        uint32_t steps = 0, rounds = 0;
        char last = 0;
        for (uint32_t i = 0; i < fp.n_trace; ++i) {
            const lsuv_trace_row *t = &fp.trace[i];
            if (t->layer != b->index) continue;
            steps += t->step != '-';
            rounds += t->step == 'm' && last != 'm';
            last = t->step;
        }
        cr_assert_geq(rounds, 2, "layer %u: the std loop moved the mean", l);
        cr_assert_eq(b->passes, 2 * rounds + steps, "layer %u", l);
    }
    cr_assert(fp.converged && !mf.converged);
    lsuv_run_free(&mf);
    lsuv_run_free(&fp);
    setup_free(&s);
}

GPU_TEST(lsuv, mean_first_final_mean_is_the_closed_form) {
    /* With relu and zero bias, rescaling W by 1/sigma after the mean loop set
     * sub to mu leaves the mean at m0/sigma + mu (1/sigma - 1), where m0 is
     * the mean when the std loop began and sigma the product of its steps. */
    setup s = make(128, 1);
    lsuv_run run = run_order(&s, LSUV_ORDER_MEAN_FIRST);
    for (uint32_t l = 0; l < 5; ++l) {
        uint32_t index = run.layers[l].index;
        double mu = 0, sigma = 1, m0 = NAN;
        for (uint32_t i = 0; i < run.n_trace; ++i) {
            const lsuv_trace_row *t = &run.trace[i];
            if (t->layer != index) continue;
            if (t->step == 'm') mu += t->mean;
            if (t->step == 's') {
                if (isnan(m0)) m0 = t->mean;
                sigma *= t->std;
            }
        }
        cr_assert(!isnan(m0), "layer %u took no std step", index);
        double predicted = m0 / sigma + mu * (1 / sigma - 1);
        cr_assert(fabs(run.layers[l].mean - predicted) <= 1e-5 * (1 + fabs(predicted)),
                  "layer %u: final mean %.9g, closed form %.9g (mu %g, sigma %g)", index,
                  run.layers[l].mean, predicted, mu, sigma);
    }
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(lsuv, joint_is_exact_in_one_step_for_relu) {
    setup s = make(64, 2);
    lsuv_run run = run_order(&s, LSUV_ORDER_JOINT);
    for (uint32_t l = 0; l < 5; ++l) {
        cr_assert_eq(run.layers[l].passes, 2, "layer %u: one step, one check", l);
        cr_assert_leq(fabs(run.layers[l].mean), 1e-5);
        cr_assert_leq(fabs(run.layers[l].std - 1), 1e-3);
    }
    lsuv_run_free(&run);
    run = run_order(&s, LSUV_ORDER_STD_ONLY);
    for (uint32_t l = 0; l < 5; ++l) {
        cr_assert_leq(fabs(run.layers[l].std - 1), 1e-3);
        cr_assert_gt(run.layers[l].mean, 0.1, "relu outputs keep a positive mean without sub");
    }
    lsuv_run_free(&run);
    run = run_order(&s, LSUV_ORDER_ALTERNATING);
    cr_assert(run.converged);
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(lsuv, passes_store_the_bits_of_a_whole_forward) {
    /* A pass applies the epilogue to the sums that the first pass kept; what
     * the layer stores at the end must be, bit for bit, what a whole forward
     * with the final weights computes. Batch 100: a whole block of samples
     * and a partial one; with 20 KiB bindings, chunks of 3 to 19 samples. */
    static const struct {
        lsuv_precision precision;
        lsuv_conv_kernel kernel;
        uint64_t max_chunk_bytes;
    } cases[] = {{LSUV_PRECISION_FP32, LSUV_CONV_STORAGE, 0},
                 {LSUV_PRECISION_FP32, LSUV_CONV_UNIFORM, 0},
                 {LSUV_PRECISION_FP32, LSUV_CONV_TEXEL, 0},
                 {LSUV_PRECISION_FP16, LSUV_CONV_AUTO, 0},
                 {LSUV_PRECISION_FP32, LSUV_CONV_AUTO, 20 << 10},
                 {LSUV_PRECISION_FP32, LSUV_CONV_GEMM, 0},
                 {LSUV_PRECISION_FP16, LSUV_CONV_GEMM, 0},
                 {LSUV_PRECISION_FP32, LSUV_CONV_GEMM, 20 << 10}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; ++c) {
        setup s =
            make_with(100, 5, cases[c].precision, cases[c].kernel, cases[c].max_chunk_bytes, true);
        lsuv_run run = run_order(&s, c % 2 ? LSUV_ORDER_MEAN_FIRST : LSUV_ORDER_STD_FIRST);
        setup_expect_stored_as_whole(&s, &run, c);
        lsuv_run_free(&run);
        setup_free(&s);
    }
}

GPU_TEST(lsuv, wide_images_stay_within_the_workgroup_count) {
    /* 70 images of 256x256: the convolution's and the epilogue's dispatches
     * stay within maxComputeWorkGroupCount (the validation layer reports
     * one past it). */
    static const char cfg[] = "[net]\nbatch=70\nheight=256\nwidth=256\nchannels=1\n"
                              "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\n";
    lsuv_net *net = NULL;
    lsuv_weights *w = NULL;
    lsuv_batch b = {0};
    lsuv_forward *f = NULL;
    TEST_OK(lsuv_net_parse("wide.cfg", cfg, strlen(cfg), NULL, &net));
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, 6, &w));
    lsuv_input_options io = {.spec = "synthetic", .seed = 6};
    TEST_OK(lsuv_input_load(&io, net, &b));
    TEST_OK(lsuv_forward_create(gpu.device, net, w, NULL, &f));
    TEST_OK(lsuv_forward_set_input(f, &b));
    lsuv_options o = {.order = LSUV_ORDER_STD_FIRST};
    lsuv_run run;
    TEST_OK(lsuv_initialize(f, &o, &run));
    cr_assert(run.converged);
    cr_assert_leq(fabs(run.layers[0].std - 1), 1e-3);
    lsuv_run_free(&run);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

GPU_TEST(lsuv, same_start_same_result) {
    /* Identical initial weights give the same passes and statistics, run
     * after run, whatever ran in between. */
    setup s = make(64, 3);
    lsuv_run a = run_order(&s, LSUV_ORDER_STD_FIRST);
    lsuv_run other = run_order(&s, LSUV_ORDER_MEAN_FIRST);
    lsuv_run b = run_order(&s, LSUV_ORDER_STD_FIRST);
    for (uint32_t l = 0; l < 5; ++l) {
        cr_assert_eq(a.layers[l].passes, b.layers[l].passes);
        cr_assert_leq(fabs(a.layers[l].mean - b.layers[l].mean), 1e-5);
        cr_assert_leq(fabs(a.layers[l].std - b.layers[l].std), 1e-5);
    }
    lsuv_run_free(&a);
    lsuv_run_free(&other);
    lsuv_run_free(&b);
    setup_free(&s);
}

GPU_TEST(lsuv, dead_layer_stops_the_run) {
    setup s = make(32, 4);
    /* All-zero weights and biases: every output of layer 0 is 0. */
    memset(s.weights->layers[0].weight, 0, s.weights->layers[0].weight_count * 4);
    lsuv_options o = {.order = LSUV_ORDER_STD_FIRST};
    lsuv_run run;
    TEST_OK(lsuv_forward_reset(s.forward, s.weights));
    TEST_OK(lsuv_initialize(s.forward, &o, &run));
    cr_assert_eq(run.hazard, LSUV_HAZARD_DEAD);
    cr_assert_eq(run.n_layers, 1, "the run stops at the dead layer");
    cr_assert_eq(run.layers[0].std, 0.0);
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(lsuv, weights_in_reproduce_the_run) {
    /* Through the command line: initial weights saved, then loaded twice. */
    char w[256], j1[256], j2[256];
    snprintf(w, sizeof w, "%s/lsuv-%d.safetensors", LSUV_TEST_TMP, (int)getpid());
    snprintf(j1, sizeof j1, "%s/lsuv-%d-1.json", LSUV_TEST_TMP, (int)getpid());
    snprintf(j2, sizeof j2, "%s/lsuv-%d-2.json", LSUV_TEST_TMP, (int)getpid());
    spawn_result r;
    lsuv_net *net;
    lsuv_weights *init;
    TEST_OK(lsuv_net_load(FASTAI, NULL, &net));
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_ORTHONORMAL, 9, &init));
    TEST_OK(lsuv_weights_save(net, init, w));
    const char *paths[2] = {j1, j2};
    for (int k = 0; k < 2; ++k) {
        r = spawn_run((const char *const[]){LSUV_VK_BIN, "--layers", FASTAI, "--batch", "64",
                                            "--input", FASHION, "--normalize", "--weights-in", w,
                                            "--order", "both", "--json", paths[k], NULL},
                      NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        spawn_result_free(&r);
    }
    char *a, *b;
    size_t na, nb;
    TEST_OK(lsuv_file_read_all(j1, 1 << 20, &a, &na));
    TEST_OK(lsuv_file_read_all(j2, 1 << 20, &b, &nb));
    /* Everything but the times agrees; compare the layers' passes and moments. */
    for (const char *p = a, *q = b;
         (p = strstr(p, "\"passes\":")) && (q = strstr(q, "\"passes\":")); ++p, ++q)
        cr_assert_eq(atoi(p + 9), atoi(q + 9));
    for (const char *p = a, *q = b; (p = strstr(p, "\"mean\":")) && (q = strstr(q, "\"mean\":"));
         ++p, ++q)
        cr_assert_leq(fabs(atof(p + 7) - atof(q + 7)), 1e-5);
    free(a);
    free(b);
    unlink(w);
    unlink(j1);
    unlink(j2);
    lsuv_weights_destroy(init);
    lsuv_net_destroy(net);
}

GPU_TEST(lsuv, hazard_exits_3_and_writes_nothing) {
    char w[256], json[256], saved[256];
    snprintf(w, sizeof w, "%s/dead-%d.safetensors", LSUV_TEST_TMP, (int)getpid());
    snprintf(json, sizeof json, "%s/dead-%d.json", LSUV_TEST_TMP, (int)getpid());
    snprintf(saved, sizeof saved, "%s/dead-%d-out.safetensors", LSUV_TEST_TMP, (int)getpid());
    lsuv_net *net;
    lsuv_weights *dead;
    TEST_OK(lsuv_net_load(FASTAI, NULL, &net));
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, 1, &dead));
    memset(dead->layers[2].weight, 0, dead->layers[2].weight_count * 4);
    TEST_OK(lsuv_weights_save(net, dead, w));
    spawn_result r = spawn_run((const char *const[]){LSUV_VK_BIN, "--layers", FASTAI, "--batch",
                                                     "32", "--weights-in", w, "--json", json,
                                                     "--save-weights", saved, NULL},
                               NULL);
    cr_assert_eq(r.exit_code, 3, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "layer 2") && strstr(r.err, "mean-first") && strstr(r.err, "dead"),
              "%s", r.err);
    cr_assert_neq(access(json, F_OK), 0, "no partial JSON");
    cr_assert_neq(access(saved, F_OK), 0, "no partial weights");
    spawn_result_free(&r);
    unlink(w);
    lsuv_weights_destroy(dead);
    lsuv_net_destroy(net);
}

static double number(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    cr_assert(cJSON_IsNumber(v), "no number '%s'", key);
    return v->valuedouble;
}

/* Every run's and every layer's gpu_ms_per_pass is its gpu_ms over its
 * passes (cJSON prints 15 digits where they read back within an epsilon). */
static void assert_ms_per_pass(const char *json) {
    cJSON *root = cJSON_Parse(json);
    const cJSON *run, *layer;
    int runs = 0;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(root, "runs")) {
        ++runs;
        double want = number(run, "gpu_ms") / number(run, "passes");
        cr_assert(number(run, "passes") > 0 &&
                  fabs(number(run, "gpu_ms_per_pass") - want) <= 1e-14 * want);
        cJSON_ArrayForEach(layer, cJSON_GetObjectItem(run, "layers")) {
            double per = number(layer, "gpu_ms_per_pass");
            double want_layer = number(layer, "gpu_ms") / number(layer, "passes");
            cr_assert(per > 0 && fabs(per - want_layer) <= 1e-14 * want_layer,
                      "layer %g: %g ms a pass", number(layer, "index"), per);
        }
    }
    cr_assert_eq(runs, 6);
    cJSON_Delete(root);
}

GPU_TEST(lsuv, reports_have_their_keys) {
    char json[256], csv[256], trace[256], svg[256];
    snprintf(json, sizeof json, "%s/rep-%d.json", LSUV_TEST_TMP, (int)getpid());
    snprintf(csv, sizeof csv, "%s/rep-%d.csv", LSUV_TEST_TMP, (int)getpid());
    snprintf(trace, sizeof trace, "%s/rep-%d.trace.csv", LSUV_TEST_TMP, (int)getpid());
    snprintf(svg, sizeof svg, "%s/rep-%d.svg", LSUV_TEST_TMP, (int)getpid());
    spawn_result r = spawn_run(
        (const char *const[]){LSUV_VK_BIN, "--layers", FASTAI,        "--batch",  "32",
                              "--input",   FASHION,    "--normalize", "--order",  "all",
                              "--json",    json,       "--csv",       csv,        "--trace",
                              trace,       "--plot",   svg,           "--verify", NULL},
        NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    char *text;
    size_t n;
    TEST_OK(lsuv_file_read_all(json, 1 << 22, &text, &n));
    static const char *keys[] = {
        "\"device\"",         "\"net\"",    "\"batch\"",     "\"input\"",  "\"seed\"",
        "\"runs\"",           "\"order\"",  "\"converged\"", "\"passes\"", "\"submissions\"",
        "\"readback_bytes\"", "\"gpu_ms\"", "\"wall_ms\"",   "\"layers\"", "\"index\"",
        "\"type\"",           "\"mean\"",   "\"std\"",       "\"joint\"",  "\"std-only\"",
        "\"alternating\""};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k)
        cr_assert(strstr(text, keys[k]), "JSON lacks %s", keys[k]);
    assert_ms_per_pass(text);
    free(text);
    TEST_OK(lsuv_file_read_all(trace, 1 << 22, &text, &n));
    cr_assert(strncmp(text, "order,layer,pass,step,mean,std,measure\n", 39) == 0, "%.60s", text);
    free(text);
    TEST_OK(lsuv_file_read_all(svg, 1 << 22, &text, &n));
    cr_assert(strstr(text, "<svg") && strstr(text, "std-first") && strstr(text, "layer 4"));
    free(text);
    unlink(json);
    unlink(csv);
    unlink(trace);
    unlink(svg);
}

GPU_TEST(lsuv, fp16_storage_reaches_the_same_tolerances) {
    /* fp16 outputs carry 11 bits; the statistics of 100k of them are still
     * good to far better than the 1e-3 tolerances. */
    setup s = make_as(128, 0, LSUV_PRECISION_FP16);
    lsuv_run run = run_order(&s, LSUV_ORDER_STD_FIRST);
    for (uint32_t l = 0; l < 5; ++l) {
        cr_assert(run.layers[l].converged, "layer %u", l);
        cr_assert_leq(fabs(run.layers[l].std - 1), 1e-3);
        cr_assert_leq(fabs(run.layers[l].mean), 1e-3);
    }
    lsuv_run_free(&run);
    setup_free(&s);
}

/* Runs std-first from the setup's weights; the run must stop at `layer`
 * with `hazard`. */
static void expect_hazard(setup *s, lsuv_hazard hazard, uint32_t layer, const char *what) {
    lsuv_options o = {.order = LSUV_ORDER_STD_FIRST};
    lsuv_run run;
    TEST_OK(lsuv_forward_reset(s->forward, s->weights));
    TEST_OK(lsuv_initialize(s->forward, &o, &run));
    cr_assert_eq(run.hazard, hazard, "%s: hazard %d, expected %d (mean %g, std %g)", what,
                 run.hazard, hazard, run.n_layers ? run.layers[run.n_layers - 1].mean : 0.0,
                 run.n_layers ? run.layers[run.n_layers - 1].std : 0.0);
    cr_assert_eq(run.layers[run.n_layers - 1].index, layer, "%s", what);
    cr_assert(!run.converged);
    lsuv_run_free(&run);
}

GPU_TEST(lsuv, nan_in_the_input_is_nonfinite_not_dead) {
    /* fastai's relu first layer: relu(NaN) must stay NaN for the statistics
     * to see it (it was 0, and the run went on). */
    setup s = make(32, 7);
    s.batch.data[300] = NAN;
    TEST_OK(lsuv_forward_set_input(s.forward, &s.batch));
    expect_hazard(&s, LSUV_HAZARD_NONFINITE, 0, "fastai, relu");
    setup_free(&s);
    /* Linear and relu6 first layers too: linear was reported dead with a
     * mean of 1.7e36, the unset maxv's clamp having turned NaN into FLT_MAX. */
    static const char *acts[] = {"linear", "relu", "relu6"};
    for (size_t a = 0; a < sizeof acts / sizeof *acts; ++a) {
        /* Stopped at the convolution, or (lsuv=0 there) at the connected
         * layer after it: NaN crosses a whole forward too. */
        for (uint32_t conn = 0; conn < 2; ++conn) {
            char cfg[256];
            snprintf(cfg, sizeof cfg,
                     "[net]\nheight=8\nwidth=8\nchannels=2\n"
                     "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=%s\nlsuv=%u\n"
                     "[connected]\noutput=6\nactivation=%s\n",
                     acts[a], 1 - conn, acts[a]);
            s = setup_make(cfg, 5, 8 + a, NULL);
            s.batch.data[77] = NAN;
            TEST_OK(lsuv_forward_set_input(s.forward, &s.batch));
            expect_hazard(&s, LSUV_HAZARD_NONFINITE, conn, acts[a]);
            setup_free(&s);
        }
    }
}

GPU_TEST(lsuv, nonfinite_weights_are_nonfinite_not_dead) {
    setup s = make(32, 11);
    /* Inf times the background's negative inputs gives -Inf, which relu
     * makes 0; times the foreground +Inf (which the clamp made FLT_MAX). */
    s.weights->layers[0].weight[12] = INFINITY;
    expect_hazard(&s, LSUV_HAZARD_NONFINITE, 0, "an Inf weight in layer 0");
    s.weights->layers[0].weight[12] = 0.1f;
    s.weights->layers[2].weight[40] = NAN;
    expect_hazard(&s, LSUV_HAZARD_NONFINITE, 2, "a NaN weight in layer 2");
    setup_free(&s);
}

GPU_TEST(lsuv, dead_means_finite_and_equal) {
    /* Zero weights and a bias of 3: every output of layer 1 is exactly 3
     * (relu), finite and equal, so dead. */
    setup s = make(16, 12);
    lsuv_layer_params *p = &s.weights->layers[1];
    memset(p->weight, 0, p->weight_count * 4);
    for (uint32_t i = 0; i < p->bias_count; ++i) p->bias[i] = 3.0f;
    lsuv_options o = {.order = LSUV_ORDER_MEAN_FIRST};
    lsuv_run run;
    TEST_OK(lsuv_forward_reset(s.forward, s.weights));
    TEST_OK(lsuv_initialize(s.forward, &o, &run));
    cr_assert_eq(run.hazard, LSUV_HAZARD_DEAD);
    cr_assert_eq(run.n_layers, 2);
    cr_assert_eq(run.layers[1].std, 0.0);
    cr_assert_eq(run.layers[1].mean, 3.0);
    lsuv_run_free(&run);
    setup_free(&s);
}

GPU_TEST(lsuv, moments_beyond_fp32_are_an_overflow) {
    /* Outputs near 1e21 are finite, but their squares are not: the std is
     * out of fp32's reach, which is neither NaN in the output nor dead. */
    setup s = make(32, 13);
    lsuv_layer_params *p = &s.weights->layers[0];
    for (uint64_t i = 0; i < p->weight_count; ++i) p->weight[i] *= 1e21f;
    expect_hazard(&s, LSUV_HAZARD_OVERFLOW, 0, "weights times 1e21");
    setup_free(&s);
}

GPU_TEST(lsuv, one_value_per_batch_is_refused_up_front) {
    /* A batch of 1 through a layer with one output per sample: the std of
     * one value is undefined (it was reported as a dead layer). */
    static const char *cfgs[] = {
        "[net]\nheight=3\nwidth=3\nchannels=2\n[connected]\noutput=4\nactivation=linear\n"
        "[connected]\noutput=1\nactivation=linear\n",
        "[net]\nheight=3\nwidth=3\nchannels=2\n[connected]\noutput=4\nactivation=linear\n"
        "[convolutional]\nfilters=1\nsize=1\nactivation=linear\n"};
    for (size_t c = 0; c < 2; ++c) {
        /* The convolution sees a 4x1x1 input: lsuv_net_parse shapes a
         * connected layer's output as c x 1 x 1. */
        setup s = setup_make(cfgs[c], 1, 14, NULL);
        lsuv_options o = {.order = LSUV_ORDER_STD_FIRST};
        lsuv_run run;
        lsuv_error_clear();
        cr_assert_eq(lsuv_initialize(s.forward, &o, &run), LSUV_ERROR_INVALID, "case %zu", c);
        const char *m = lsuv_error_message();
        cr_assert(strstr(m, "layer 1") && strstr(m, "batch of at least 2"), "%s", m);
        setup_free(&s);
        /* A batch of 2 gives two values: one std step and one mean step
         * make them exactly -1 and 1. */
        s = setup_make(cfgs[c], 2, 14, NULL);
        TEST_OK(lsuv_initialize(s.forward, &o, &run));
        cr_assert_eq(run.hazard, LSUV_HAZARD_NONE, "case %zu: hazard %d", c, run.hazard);
        cr_assert_eq(run.n_layers, 2);
        cr_assert_leq(fabs(run.layers[1].std - 1), 1e-3);
        cr_assert_leq(fabs(run.layers[1].mean), 1e-3);
        lsuv_run_free(&run);
        setup_free(&s);
    }
}

/* Runs lsuv-vk on fastai with the weights of `w`; returns its result. */
static spawn_result run_cli_with(const lsuv_net *net, const lsuv_weights *w, const char *path,
                                 const char *json) {
    TEST_OK(lsuv_weights_save(net, w, path));
    return spawn_run((const char *const[]){LSUV_VK_BIN, "--layers", FASTAI, "--batch", "32",
                                           "--input", FASHION, "--normalize", "--weights-in", path,
                                           "--json", json, NULL},
                     NULL);
}

GPU_TEST(lsuv, cli_names_the_hazard) {
    char w[256], json[256];
    snprintf(w, sizeof w, "%s/haz-%d.safetensors", LSUV_TEST_TMP, (int)getpid());
    snprintf(json, sizeof json, "%s/haz-%d.json", LSUV_TEST_TMP, (int)getpid());
    lsuv_net *net;
    lsuv_weights *big;
    TEST_OK(lsuv_net_load(FASTAI, NULL, &net));
    TEST_OK(lsuv_weights_init(net, LSUV_INIT_KAIMING, 1, &big));
    /* Finite weights whose sums overflow to Inf inside layer 1. */
    lsuv_layer_params *p = &big->layers[1];
    for (uint64_t i = 0; i < p->weight_count; ++i) p->weight[i] = 1e38f;
    spawn_result r = run_cli_with(net, big, w, json);
    cr_assert_eq(r.exit_code, 3, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "layer 1") && strstr(r.err, "NaN or Inf") && !strstr(r.err, "dead"),
              "%s", r.err);
    cr_assert_neq(access(json, F_OK), 0, "no partial JSON");
    spawn_result_free(&r);
    /* Finite outputs whose squares are not. */
    for (uint64_t i = 0; i < p->weight_count; ++i) p->weight[i] = 1e21f * (i % 2 ? 1 : -1);
    r = run_cli_with(net, big, w, json);
    cr_assert_eq(r.exit_code, 3, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "layer 1") && strstr(r.err, "fp32") && !strstr(r.err, "NaN"), "%s",
              r.err);
    cr_assert_neq(access(json, F_OK), 0, "no partial JSON");
    spawn_result_free(&r);
    unlink(w);
    lsuv_weights_destroy(big);
    lsuv_net_destroy(net);
}
