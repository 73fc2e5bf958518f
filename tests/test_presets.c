/* --preset: the settings it makes and what overrides them; then each preset
 * against bench/peers/lsuv_presets.py, an independent numpy implementation
 * of its source in fp64: from the same initial weights and batch, every
 * LSUV'd layer's final mean and std within 1e-5 and the same number of
 * statistics evaluations. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsuv/rng.h"
#include "lsuv/weights.h"
#include "support/nets.h"
#include "support/spawn.h"

/* The lsuv-paper and lsuv-pytorch cases, and fastai-07a with its connected
 * layer in the cfg, need --measure pre, the update rules and the layer set
 * in the engine (the #14 measuring and loop branches): set this to false once
 * they are merged. */
#define AWAITING_ENGINE false

#define PYTHON    "/usr/bin/python3"
#define REFERENCE LSUV_SOURCE_DIR "/bench/peers/lsuv_presets.py"
#define FASTAI    NETS "fastai-07a.cfg"
enum { BATCH = 64 };
#define BATCH_TEXT "64"

static void need_numpy(void) {
    spawn_result r = spawn_run((const char *const[]){PYTHON, "-c", "import numpy", NULL}, NULL);
    bool ok = r.exit_code == 0;
    spawn_result_free(&r);
    if (!ok)
        cr_skip_test("the reference needs " PYTHON " with numpy (Debian: python3-numpy, which "
                     "scripts/setup-debian.sh installs)");
}

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/presets-%d-%s", LSUV_TEST_TMP, (int)getpid(), name);
}

/* A float32 N x 1 x 28 x 28 .npy of 0.5 + 1.5 N(0, 1): not already unit. */
static void write_batch(const char *path) {
    char header[128];
    int n = snprintf(header, sizeof header,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1, 28, 28), }", BATCH);
    /* Magic, version and length are 10 bytes; the header pads to 64 with a newline. */
    int len = ((10 + n + 1 + 63) / 64) * 64 - 10;
    memset(header + n, ' ', (size_t)(len - n - 1));
    header[len - 1] = '\n';
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    uint8_t l16[2] = {(uint8_t)(len & 255), (uint8_t)(len >> 8)};
    fwrite(l16, 1, 2, f);
    fwrite(header, 1, (size_t)len, f);
    static float x[BATCH * 28 * 28];
    lsuv_rng rng;
    lsuv_rng_seed(&rng, 11);
    lsuv_rng_fill_normal(&rng, x, sizeof x / sizeof *x, 0.5, 1.5);
    fwrite(x, sizeof *x, sizeof x / sizeof *x, f);
    cr_assert_eq(fclose(f), 0);
}

/* fastai-07a.cfg with LSUV allowed on its connected layer. */
static void write_connected_cfg(const char *path) {
    FILE *in = fopen(FASTAI, "r"), *out = fopen(path, "w");
    cr_assert(in && out);
    char line[256];
    while (fgets(line, sizeof line, in))
        if (strncmp(line, "lsuv=0", 6) != 0) fputs(line, out);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

static cJSON *parse_or_fail(const spawn_result *r, const char *what) {
    cr_assert_eq(r->exit_code, 0, "%s: exit %d: %s", what, r->exit_code, r->err);
    cJSON *root = cJSON_Parse(r->out);
    cr_assert_not_null(root, "%s: not JSON: %s", what, r->out);
    return root;
}

/* lsuv-vk and the reference on cfg under preset (and order, when not
 * NULL), from the preset's own initial weights; compared layer by layer. */
static void compare(const char *cfg, const char *preset, const char *order) {
    need_numpy();
    char batch[256], weights[256], input[300];
    tmp_path(batch, sizeof batch, "batch.npy");
    tmp_path(weights, sizeof weights, "init.safetensors");
    snprintf(input, sizeof input, "npy:%s", batch);
    write_batch(batch);
    spawn_result r =
        spawn_run((const char *const[]){LSUV_VK_BIN, "--layers", cfg, "--preset", preset, "--seed",
                                        "7", "--order", "none", "--save-weights", weights, NULL},
                  NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    const char *vk[20] = {LSUV_VK_BIN,    "--layers", cfg,       "--preset", preset,
                          "--weights-in", weights,    "--input", input,      "--batch",
                          BATCH_TEXT,     "--json",   "-",       NULL};
    const char *ref[16] = {PYTHON,    REFERENCE, "--cfg",    cfg,    "--weights", weights,
                           "--input", batch,     "--preset", preset, NULL};
    if (order) { /* after each list's NULL, which the rest of the array follows */
        vk[13] = "--order";
        vk[14] = order;
        ref[10] = "--order";
        ref[11] = order;
    }
    r = spawn_run(vk, NULL);
    cJSON *got = parse_or_fail(&r, "lsuv-vk");
    spawn_result_free(&r);
    r = spawn_run(ref, NULL);
    cJSON *want = parse_or_fail(&r, "the reference");
    spawn_result_free(&r);
    const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(got, "runs"), 0);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(run, "preset")), preset);
    const cJSON *gl = cJSON_GetObjectItem(run, "layers"), *wl = cJSON_GetObjectItem(want, "layers");
    cr_assert_eq(cJSON_GetArraySize(gl), cJSON_GetArraySize(wl), "layers LSUV'd: %d, reference %d",
                 cJSON_GetArraySize(gl), cJSON_GetArraySize(wl));
    for (int k = 0; k < cJSON_GetArraySize(wl); ++k) {
        const cJSON *g = cJSON_GetArrayItem(gl, k), *w = cJSON_GetArrayItem(wl, k);
        double num[2][4];
        static const char *keys[] = {"index", "passes", "mean", "std"};
        for (int j = 0; j < 4; ++j) {
            num[0][j] = cJSON_GetNumberValue(cJSON_GetObjectItem(g, keys[j]));
            num[1][j] = cJSON_GetNumberValue(cJSON_GetObjectItem(w, keys[j]));
        }
        cr_log_info("%s %s layer %g: passes %g / %g, |dmean| %.3g, |dstd| %.3g", preset,
                    order ? order : "", num[1][0], num[0][1], num[1][1],
                    fabs(num[0][2] - num[1][2]), fabs(num[0][3] - num[1][3]));
        cr_assert_eq(num[0][0], num[1][0], "entry %d: layer %g, reference %g", k, num[0][0],
                     num[1][0]);
        cr_expect_eq(num[0][1], num[1][1], "layer %g: %g passes, reference %g", num[0][0],
                     num[0][1], num[1][1]);
        cr_expect_leq(fabs(num[0][2] - num[1][2]), 1e-5, "layer %g: mean %.9g, reference %.9g",
                      num[0][0], num[0][2], num[1][2]);
        cr_expect_leq(fabs(num[0][3] - num[1][3]), 1e-5, "layer %g: std %.9g, reference %.9g",
                      num[0][0], num[0][3], num[1][3]);
        /* The engine reports capped from the loop branch on. */
        bool capped = cJSON_IsTrue(cJSON_GetObjectItem(g, "capped")),
             want_capped = cJSON_IsTrue(cJSON_GetObjectItem(w, "capped"));
        if (!AWAITING_ENGINE)
            cr_expect_eq(capped, want_capped, "layer %g: capped %d, reference %d", num[0][0],
                         capped, want_capped);
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
    unlink(batch);
    unlink(weights);
}

TestSuite(presets, .timeout = 300);

/* ---- the options a preset sets, and what overrides them ---- */

/* The JSON of a run of lsuv-vk with these arguments after --layers FASTAI. */
static cJSON *run_json(const char *const *args) {
    const char *argv[32] = {LSUV_VK_BIN, "--layers", FASTAI, "--batch", "16", "--json", "-"};
    size_t n = 7;
    while (*args) argv[n++] = *args++;
    argv[n] = NULL;
    spawn_result r = spawn_run(argv, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert_not_null(root, "not JSON: %s", r.out);
    spawn_result_free(&r);
    return root;
}

static const char *run_str(const cJSON *run, const char *key) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(run, key));
    cr_assert_not_null(v, "no %s", key);
    return v;
}

Test(presets, preset_sets_the_method_and_later_flags_override_it) {
    cJSON *root = run_json((const char *const[]){"--preset", "lsuv-pytorch", NULL});
    const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "runs")), 1);
    cr_assert_str_eq(run_str(run, "preset"), "lsuv-pytorch");
    cr_assert_str_eq(run_str(run, "order"), "std-only");
    cr_assert_str_eq(run_str(run, "estimator"), "population");
    cr_assert_str_eq(run_str(run, "update"), "coef");
    cr_assert_str_eq(run_str(run, "lsuv_layers"), "weighted");
    cr_assert_eq(cJSON_GetObjectItem(run, "tol_std")->valuedouble, 0.1);
    cr_assert_eq(cJSON_GetObjectItem(run, "max_iters")->valuedouble, 11);
    /* The connected layer has lsuv=0 in the cfg: out under every layer set. */
    const cJSON *layers = cJSON_GetObjectItem(run, "layers");
    cr_assert_eq(cJSON_GetArraySize(layers), 5);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(layers, 4), "index")->valuedouble, 4);
    const cJSON *layer = cJSON_GetArrayItem(layers, 0);
    static const char *keys[] = {"mean", "std", "measure", "passes", "within_tol", "capped"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k)
        cr_assert(cJSON_HasObjectItem(layer, keys[k]), "layer lacks %s", keys[k]);
    cJSON_Delete(root);
    root = run_json((const char *const[]){"--preset", "lsuv-paper", "--order", "fixed-point",
                                          "--estimator", "unbiased", "--update", "std",
                                          "--lsuv-layers", "convs", "--max-iters", "7", NULL});
    run = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0);
    cr_assert_str_eq(run_str(run, "preset"), "lsuv-paper");
    cr_assert_str_eq(run_str(run, "order"), "fixed-point");
    cr_assert_str_eq(run_str(run, "estimator"), "unbiased");
    cr_assert_str_eq(run_str(run, "update"), "std");
    cr_assert_str_eq(run_str(run, "lsuv_layers"), "convs");
    cr_assert_eq(cJSON_GetObjectItem(run, "max_iters")->valuedouble, 7);
    cr_assert_eq(cJSON_GetObjectItem(run, "tol_std")->valuedouble, 0.02);
    cJSON_Delete(root);
    /* No preset: no "preset" key, and the defaults. */
    root = run_json((const char *const[]){"--order", "std-first", NULL});
    run = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0);
    cr_assert(!cJSON_HasObjectItem(run, "preset"));
    cr_assert_str_eq(run_str(run, "mean_param"), "auto");
    cr_assert_str_eq(run_str(run, "estimator"), "unbiased");
    cJSON_Delete(root);
}

/* The preset's init is the pre-init: the weights saved under --order none
 * are the library's orthonormal ones; a later --init replaces it. */
Test(presets, preset_sets_the_init_and_a_later_init_overrides_it) {
    char path[256];
    snprintf(path, sizeof path, "%s/preset-%d.safetensors", LSUV_TEST_TMP, (int)getpid());
    static const struct {
        const char *preset, *init; /* init: a later --init, or "" */
        lsuv_init want;
    } cases[] = {{"lsuv-paper", "", LSUV_INIT_ORTHONORMAL},
                 {"lsuv-pytorch", "", LSUV_INIT_ORTHONORMAL},
                 {"fastai-07a", "", LSUV_INIT_FASTAI},
                 {"lsuv-paper", "kaiming", LSUV_INIT_KAIMING}};
    lsuv_net *net;
    cr_assert_eq(lsuv_net_load(FASTAI, NULL, &net), LSUV_OK);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        const char *argv[16] = {LSUV_VK_BIN, "--layers", FASTAI,   "--preset", cases[k].preset,
                                "--order",   "none",     "--seed", "4",        "--save-weights",
                                path,        NULL};
        if (*cases[k].init) {
            argv[11] = "--init";
            argv[12] = cases[k].init;
        }
        spawn_result r = spawn_run(argv, NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        spawn_result_free(&r);
        lsuv_weights *w, *back;
        cr_assert_eq(lsuv_weights_init(net, cases[k].want, 4, &w), LSUV_OK);
        cr_assert_eq(lsuv_weights_load(net, path, &back), LSUV_OK, "%s", lsuv_error_message());
        for (uint32_t l = 0; l < net->n_layers; ++l)
            if (w->layers[l].weight)
                cr_assert(memcmp(w->layers[l].weight, back->layers[l].weight,
                                 w->layers[l].weight_count * 4) == 0,
                          "case %zu, layer %u", k, l);
        lsuv_weights_destroy(back);
        lsuv_weights_destroy(w);
    }
    lsuv_net_destroy(net);
    unlink(path);
}

/* The notebook's network as it is: its connected layer has lsuv=0. */
Test(presets, fastai_07a) {
    compare(FASTAI, "fastai-07a", NULL);
}

/* The same loops in the other orders: the reference's, not the notebook's. */
Test(presets, fastai_07a_std_first) {
    compare(FASTAI, "fastai-07a", "std-first");
}

Test(presets, fastai_07a_fixed_point) {
    compare(FASTAI, "fastai-07a", "fixed-point");
}

/* fastai-07a.cfg with maxv=2 on every GeneralRelu: clipped, neither step
 * lands in one go, and each loop takes many passes (16 to 60 here). */
static void write_clipped_cfg(const char *path) {
    FILE *in = fopen(FASTAI, "r"), *out = fopen(path, "w");
    cr_assert(in && out);
    char line[256];
    while (fgets(line, sizeof line, in)) {
        fputs(line, out);
        if (strcmp(line, "sub=0\n") == 0) fputs("maxv=2\n", out);
    }
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

Test(presets, fastai_07a_clipped_in_each_order) {
    char cfg[256];
    tmp_path(cfg, sizeof cfg, "clipped.cfg");
    write_clipped_cfg(cfg);
    static const char *const orders[] = {"mean-first", "std-first", "fixed-point"};
    for (int k = 0; k < 3; ++k) compare(cfg, "fastai-07a", orders[k]);
    unlink(cfg);
}

/* The connected layer allowed in the cfg: fastai-07a's layer set (convs)
 * leaves it out, the other two take it. */
static void compare_connected(const char *preset) {
    char cfg[256];
    tmp_path(cfg, sizeof cfg, "connected.cfg");
    write_connected_cfg(cfg);
    compare(cfg, preset, NULL);
    unlink(cfg);
}

Test(presets, fastai_07a_connected_left_out, .disabled = AWAITING_ENGINE) {
    compare_connected("fastai-07a");
}

Test(presets, lsuv_paper, .disabled = AWAITING_ENGINE) {
    compare_connected("lsuv-paper");
}

Test(presets, lsuv_pytorch, .disabled = AWAITING_ENGINE) {
    compare_connected("lsuv-pytorch");
}
