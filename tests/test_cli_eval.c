/* lsuv-vk --eval-input and --all-layers: a held-out batch and the whole
 * network, checked against the run's own numbers and the fp64 reference. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsuv/input.h"
#include "lsuv/ref.h"
#include "lsuv/weights.h"
#include "support/json_read.h"
#include "support/spawn.h"

TestSuite(cli_eval, .timeout = 300);

#define RUN(env, ...) spawn_run((const char *const[]){__VA_ARGS__, NULL}, env)
#define FASTAI        LSUV_SOURCE_DIR "/nets/fastai-07a.cfg"
#define FASHION       "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

static cJSON *run_json(const spawn_result *r) {
    cr_assert_eq(r->exit_code, 0, "%s", r->err);
    cJSON *root = cJSON_Parse(r->out);
    cr_assert_not_null(root, "%s", r->out);
    return root;
}

/* Evaluated on the batch it was fitted to, every layer gives back the run's
 * own final moments, at its measuring point; --all-layers' fitted and eval
 * sides agree, and its LSUV layers' output moments are the run's (post). */
static void expect_eval_is_the_run(const char *measure) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--input", "idx:" FASHION,
                         "--eval-input", "idx:" FASHION, "--normalize", "--batch", "128", "--order",
                         "both", "--measure", measure, "--all-layers", "--json", "-");
    cJSON *root = run_json(&r);
    const cJSON *run;
    int runs = 0;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(root, "runs")) {
        ++runs;
        const cJSON *l, *net = cJSON_GetObjectItem(run, "network");
        cr_assert_eq(cJSON_GetArraySize(net), 7);
        cJSON_ArrayForEach(l, cJSON_GetObjectItem(run, "layers")) {
            cr_assert_leq(fabs(test_json_num(l, "eval_mean") - test_json_num(l, "mean")), 1e-6,
                          "%s", r.out);
            cr_assert_leq(fabs(test_json_num(l, "eval_std") - test_json_num(l, "std")), 1e-6, "%s",
                          r.out);
            const cJSON *all = cJSON_GetArrayItem(net, (int)test_json_num(l, "index"));
            const char *at = strcmp(measure, "pre") == 0 ? "pre_mean" : "mean";
            cr_assert_leq(fabs(test_json_num(all, at) - test_json_num(l, "mean")), 1e-6, "%s",
                          r.out);
        }
        cJSON_ArrayForEach(l, net) {
            cr_assert_eq(test_json_num(l, "eval_mean"), test_json_num(l, "mean"));
            cr_assert_eq(test_json_num(l, "eval_std"), test_json_num(l, "std"));
            if (cJSON_IsNumber(cJSON_GetObjectItem(l, "active")))
                cr_assert_eq(test_json_num(l, "eval_active"), test_json_num(l, "active"));
        }
    }
    cr_assert_eq(runs, 2);
    cJSON_Delete(root);
    spawn_result_free(&r);
}

Test(cli_eval, the_fitted_batch_evaluates_to_the_run_itself) {
    expect_eval_is_the_run("post");
    expect_eval_is_the_run("pre");
}

typedef struct expected {
    lsuv_moments post[7];
    double active[7];
} expected;

static lsuv_status keep_post(void *ctx, uint32_t layer, const double *out, uint64_t count) {
    lsuv_ref_moments_f64(out, count, &((expected *)ctx)->post[layer]);
    return LSUV_OK;
}

static lsuv_status keep_active(void *ctx, uint32_t layer, const double *out, uint64_t count) {
    uint64_t on = 0;
    for (uint64_t k = 0; k < count; ++k) on += out[k] > 0.0;
    ((expected *)ctx)->active[layer] = (double)on / (double)count;
    return LSUV_OK;
}

/* Samples 128..255 of the file scaled by samples 0..127's mean and std,
 * computed here in fp64. */
static lsuv_batch held_out_batch(const lsuv_net *net) {
    lsuv_batch fit, held;
    lsuv_input_options io = {.spec = "idx:" FASHION, .batch = 128};
    cr_assert_eq(lsuv_input_load(&io, net, &fit), LSUV_OK);
    io.spec = "idx:" FASHION "@128";
    cr_assert_eq(lsuv_input_load(&io, net, &held), LSUV_OK);
    size_t n = (size_t)128 * 28 * 28;
    double sum = 0, ss = 0;
    for (size_t i = 0; i < n; ++i) sum += fit.data[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; ++i) ss += (fit.data[i] - mean) * (fit.data[i] - mean);
    double std = sqrt(ss / (double)(n - 1));
    for (size_t i = 0; i < n; ++i) held.data[i] = (float)((held.data[i] - mean) / std);
    lsuv_batch_free(&fit);
    return held;
}

Test(cli_eval, a_held_out_batch_matches_the_reference_with_the_saved_weights) {
    char path[256];
    snprintf(path, sizeof path, "%s/eval-%d.safetensors", LSUV_TEST_TMP, (int)getpid());
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--input", "idx:" FASHION, "--eval-input",
            "idx:" FASHION "@128", "--normalize", "--batch", "128", "--seed", "4", "--order",
            "std-first", "--all-layers", "--save-weights", path, "--json", "-");
    cJSON *root = run_json(&r);
    cr_assert(strstr(r.err, "normalized with the fitted batch's mean"), "%s", r.err);
    lsuv_net *net = NULL;
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_net_load(FASTAI, NULL, &net), LSUV_OK);
    cr_assert_eq(lsuv_weights_load(net, path, &w), LSUV_OK);
    lsuv_batch held = held_out_batch(net);
    expected e;
    cr_assert_eq(lsuv_ref_forward_each(net, w, &held, 6, keep_post, &e), LSUV_OK);
    cr_assert_eq(lsuv_ref_forward_each_pre(net, w, &held, 6, keep_active, &e), LSUV_OK);
    const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0), *l;
    double moved = 0;
    cJSON_ArrayForEach(l, cJSON_GetObjectItem(run, "layers")) {
        const lsuv_moments *m = &e.post[(int)test_json_num(l, "index")];
        cr_expect_leq(fabs(test_json_num(l, "eval_mean") - m->mean), 1e-5, "%s", r.out);
        cr_expect_leq(fabs(test_json_num(l, "eval_std") - m->std), 1e-5, "%s", r.out);
        /* Std-first ends each layer at mean 0 on the fitted batch: the
         * held-out batch's is the sampling error. */
        cr_expect_leq(fabs(test_json_num(l, "mean")), 1e-6);
        moved = fmax(moved, fabs(test_json_num(l, "eval_mean")));
    }
    cr_expect_gt(moved, 1e-3, "the held-out means look like the fitted ones: %s", r.out);
    int i = 0;
    cJSON_ArrayForEach(l, cJSON_GetObjectItem(run, "network")) {
        cr_expect_leq(fabs(test_json_num(l, "eval_mean") - e.post[i].mean), 1e-5, "layer %d", i);
        cr_expect_leq(fabs(test_json_num(l, "eval_std") - e.post[i].std), 1e-5, "layer %d", i);
        if (i < 5)
            cr_expect_leq(fabs(test_json_num(l, "eval_active") - e.active[i]), 1e-4, "layer %d", i);
        ++i;
    }
    cr_assert_eq(i, 7);
    lsuv_batch_free(&held);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    cJSON_Delete(root);
    spawn_result_free(&r);
    unlink(path);
}

Test(cli_eval, without_eval_input_the_reports_are_unchanged) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "32", "--order",
                         "std-first", "--json", "-");
    cJSON *root = run_json(&r);
    const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0);
    cr_assert_null(cJSON_GetObjectItem(run, "network"));
    cr_assert_null(cJSON_GetObjectItem(root, "eval_input"));
    cr_assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(run, "layers"), 0),
                                       "eval_mean"));
    cJSON_Delete(root);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "32", "--order", "std-first");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "eval mean"), "%s", r.out);
    cr_assert_null(strstr(r.out, "every layer"), "%s", r.out);
    spawn_result_free(&r);
}

Test(cli_eval, the_table_shows_eval_columns_and_every_layer) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "32", "--order",
                         "std-first", "--eval-input", "synthetic@32", "--all-layers");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "eval mean") && strstr(r.out, "eval std"), "%s", r.out);
    cr_assert(strstr(r.out, "every layer after std-first, fitted batch | eval batch"), "%s", r.out);
    cr_assert(strstr(r.out, "\n6     connected"), "%s", r.out);
    spawn_result_free(&r);
}

Test(cli_eval, bad_eval_inputs_name_the_option) {
    static const char *const specs[] = {"png:/tmp/x", "idx:", "synthetic@x",
                                        "idx:/nonexistent/images.gz", "idx:" FASHION "@59990"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; ++i) {
        spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "32", "--order",
                             "std-first", "--eval-input", specs[i]);
        cr_assert_eq(r.exit_code, 2, "%s: exit %d, %s", specs[i], r.exit_code, r.err);
        cr_assert(strstr(r.err, "--eval-input"), "%s: %s", specs[i], r.err);
        spawn_result_free(&r);
    }
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--eval-input", "synthetic");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--eval-input goes with --layers"), "%s", r.err);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--order", "none", "--all-layers");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--all-layers has nothing to measure"), "%s", r.err);
    spawn_result_free(&r);
}
