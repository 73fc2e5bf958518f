/* The programs as a user runs them: exit codes, messages, JSON. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lsuv/weights.h"
#include "support/nets.h"
#include "support/spawn.h"

TestSuite(cli, .timeout = 120);

#define RUN(env, ...) spawn_run((const char *const[]){__VA_ARGS__, NULL}, env)

Test(cli, version_and_help) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--version");
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strncmp(r.out, "lsuv-vk ", 8) == 0, "%s", r.out);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--help");
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "usage: lsuv-vk") && strstr(r.out, "exit codes"), "%s", r.out);
    spawn_result_free(&r);
}

Test(cli, bad_arguments_exit_2) {
    const char *cases[][3] = {
        {"--no-such-option", NULL, "unknown"},
        {"--count", "ten", "--count expects an integer"},
        {"--count", "0", "--count expects an integer"},
        {"stray", NULL, "unexpected argument 'stray'"},
        {"--conv-kernel", "fast", "--conv-kernel expects auto, storage, uniform, texel or gemm"},
        {"--conv-kernel", "storage", "--conv-kernel goes with --layers"},
        {"--preset", "fastai", "--preset expects fastai-07a, lsuv-paper or lsuv-pytorch"},
        {"--measure", "middle", "--measure expects auto, post, pre or conv, got 'middle'"},
        {"--estimator", "biased", "--estimator expects unbiased or population"},
        {"--update", "scale", "--update expects std, variance or coef"},
        {"--lsuv-layers", "all", "--lsuv-layers expects weighted or convs"},
        {"--mean-param", "shift", "--mean-param expects auto, sub or bias"},
        {"--order", "fixed", "std-only, fixed-point, both, all or none, got 'fixed'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        spawn_result r = cases[i][1] ? RUN(NULL, LSUV_VK_BIN, cases[i][0], cases[i][1])
                                     : RUN(NULL, LSUV_VK_BIN, cases[i][0]);
        cr_assert_eq(r.exit_code, 2, "%s: exit %d", cases[i][0], r.exit_code);
        cr_assert(strstr(r.err, cases[i][2]), "%s: stderr '%s'", cases[i][0], r.err);
        spawn_result_free(&r);
    }
}

Test(cli, list_devices_json) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--list-devices", "--json");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert(cJSON_IsArray(root), "not a JSON array: %s", r.out);
    static const char *keys[] = {"index",
                                 "name",
                                 "type",
                                 "vendor_id",
                                 "driver",
                                 "api_version",
                                 "subgroup_size",
                                 "float64",
                                 "float16",
                                 "timestamp_valid_bits",
                                 "timestamp_period_ns",
                                 "max_storage_buffer_range"};
    bool lavapipe = false;
    const cJSON *d;
    cJSON_ArrayForEach(d, root) {
        for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k)
            cr_assert(cJSON_HasObjectItem(d, keys[k]), "missing key %s", keys[k]);
        const char *name = cJSON_GetObjectItem(d, "name")->valuestring;
        if (strstr(name, "llvmpipe")) {
            lavapipe = true;
            cr_assert_str_eq(cJSON_GetObjectItem(d, "type")->valuestring, "cpu");
            cr_assert_eq(cJSON_GetObjectItem(d, "max_storage_buffer_range")->valuedouble,
                         134217728.0);
        }
    }
    cr_assert(lavapipe, "llvmpipe missing from %s", r.out);
    cJSON_Delete(root);
    spawn_result_free(&r);
}

Test(cli, list_devices_text) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--list-devices");
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "llvmpipe") && strstr(r.out, "maxStorageBufferRange"), "%s", r.out);
    spawn_result_free(&r);
}

Test(cli, unknown_device_exits_2_and_lists_devices) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--device", "quantum");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "no Vulkan device matches 'quantum'") && strstr(r.err, "llvmpipe"),
              "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    spawn_result_free(&r);
}

Test(cli, no_driver_exits_2_and_says_what_to_install) {
    const char *env[] = {"VK_DRIVER_FILES=/nonexistent/icd.json",
                         "VK_ICD_FILENAMES=/nonexistent/icd.json", NULL};
    spawn_result r = RUN(env, LSUV_VK_BIN, "--list-devices");
    cr_assert_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "mesa-vulkan-drivers"), "%s", r.err);
    spawn_result_free(&r);
}

Test(cli, statistics_run_clean_under_validation) {
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--device", "llvmpipe", "--count", "300000", "--validate");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "fp64 ref") && strstr(r.out, "closed form"), "%s", r.out);
    spawn_result_free(&r);
}

Test(cli, bench_kernels_json) {
    spawn_result r = RUN(NULL, LSUV_BENCH_BIN, "--kernels", "--device", "llvmpipe", "--size-mib",
                         "4", "--repeats", "5", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert_not_null(root, "stdout is not JSON: %s", r.out);
    const cJSON *k, *stats = NULL;
    cJSON_ArrayForEach(k, cJSON_GetObjectItem(root, "kernels")) {
        if (strcmp(cJSON_GetObjectItem(k, "name")->valuestring, "stats") == 0) stats = k;
    }
    cr_assert_not_null(stats, "no stats entry: %s", r.out);
    cr_assert_gt(cJSON_GetObjectItem(stats, "gbps")->valuedouble, 0.0);
    cr_assert_gt(cJSON_GetObjectItem(stats, "copy_gbps")->valuedouble, 0.0);
    cJSON_Delete(root);
    spawn_result_free(&r);
}

#define FASTAI LSUV_SOURCE_DIR "/nets/fastai-07a.cfg"

Test(cli, summary_json) {
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--layers", NETS "alexnet.cfg", "--summary", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert_not_null(root, "not JSON: %s", r.out);
    cr_assert_eq(cJSON_GetObjectItem(root, "params")->valuedouble, 62378344.0);
    const cJSON *layers = cJSON_GetObjectItem(root, "layers");
    cr_assert_eq(cJSON_GetArraySize(layers), 14);
    const cJSON *first = cJSON_GetArrayItem(layers, 0);
    static const char *keys[] = {"index", "type", "in", "out", "params", "macs"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k)
        cr_assert(cJSON_HasObjectItem(first, keys[k]), "missing %s", keys[k]);
    cr_assert_str_eq(cJSON_GetObjectItem(first, "type")->valuestring, "convolutional");
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(first, "out"), 1)->valuedouble, 55.0);
    cJSON_Delete(root);
    spawn_result_free(&r);
}

Test(cli, summary_text) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "8x14x14") && strstr(r.out, "62090") && strstr(r.out, "lsuv=0"), "%s",
              r.out);
    spawn_result_free(&r);
}

/* Writes text to a file of the test's own in LSUV_TEST_TMP; returns its path. */
static const char *tmp_file(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%d-%s", LSUV_TEST_TMP, (int)getpid(), name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A residual block and a route: each layer's inputs, in the text and the JSON. */
static const char *const graph_cfg = "[net]\nheight=4\nwidth=4\nchannels=3\n"
                                     "[convolutional]\nfilters=4\nsize=3\npad=1\n"
                                     "[convolutional]\nfilters=4\nsize=3\npad=1\n"
                                     "[shortcut]\nfrom=-2\nactivation=leaky\n"
                                     "[route]\nlayers=-1,0\n";

Test(cli, summary_shows_inputs) {
    const char *path = tmp_file("graph.cfg", graph_cfg);
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", path, "--summary");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(
        strstr(r.out, "    0  convolutional  input      3x4x4") &&
            strstr(r.out, "    2  shortcut       1,0        4x4x4          4x4x4          leaky") &&
            strstr(r.out, "    3  route          2,0        8x4x4          8x4x4"),
        "%s", r.out);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", path, "--summary", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert_not_null(root, "not JSON: %s", r.out);
    const cJSON *layers = cJSON_GetObjectItem(root, "layers");
    static const int want[4][3] = {{1, -1}, {1, 0}, {2, 1, 0}, {2, 2, 0}};
    for (int i = 0; i < 4; ++i) {
        const cJSON *in = cJSON_GetObjectItem(cJSON_GetArrayItem(layers, i), "inputs");
        cr_assert_eq(cJSON_GetArraySize(in), want[i][0], "layer %d: %s", i, r.out);
        for (int k = 0; k < want[i][0]; ++k)
            cr_assert_eq(cJSON_GetArrayItem(in, k)->valueint, want[i][k + 1], "layer %d", i);
    }
    cJSON_Delete(root);
    spawn_result_free(&r);
    /* LSUV through the shortcut and the route, checked against the fp64
     * reference's walk. The convolutions are darknet's default logistic,
     * whose output cannot reach std 1: measured pre. */
    r = RUN(NULL, LSUV_VK_BIN, "--layers", path, "--device", "llvmpipe", "--order", "std-first",
            "--batch", "2", "--measure", "pre", "--verify");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *gap = strstr(r.out, "of final mean and std: ");
    cr_assert(gap && strstr(r.out, "within tolerance"), "%s", r.out);
    cr_assert_lt(strtod(gap + strlen("of final mean and std: "), NULL), 1e-6, "%s", r.out);
    spawn_result_free(&r);
    unlink(path);
}

/* Device memory at --batch 2, by hand: outputs of 512 bytes (4x4x4 floats
 * x 2), the route's 1024; layer 0 lives to 3 (the route reads it), 1 to 2,
 * 2 to 3, the route to the end: at most 512 + 512 + 1024 live, at the
 * route. Input 2 x 3x4x4 floats; weights (108 + 4) + (144 + 4) floats and
 * 16 bytes of state each; LSUV's sums of a 4x4x4 layer, 512. */
Test(cli, summary_memory) {
    const char *path = tmp_file("graph.cfg", graph_cfg);
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", path, "--summary", "--batch", "2");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "device memory at batch 2: forward 3504 bytes (input 384, activations "
                            "2048, weights 1072), LSUV 4016 bytes (its sums 512)"),
              "%s", r.out);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", path, "--summary", "--batch", "2", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    const cJSON *m = cJSON_GetObjectItem(root, "memory");
    cr_assert_eq(cJSON_GetObjectItem(m, "forward_peak")->valuedouble, 3504, "%s", r.out);
    cr_assert_eq(cJSON_GetObjectItem(m, "lsuv_peak")->valuedouble, 4016, "%s", r.out);
    cr_assert_eq(cJSON_GetObjectItem(m, "live")->valuedouble, 2048, "%s", r.out);
    cr_assert_eq(cJSON_GetObjectItem(m, "batch")->valuedouble, 2, "%s", r.out);
    cJSON_Delete(root);
    spawn_result_free(&r);
    unlink(path);
}

Test(cli, bad_networks_exit_2_with_file_and_line) {
    const char *rnn = tmp_file("rnn.cfg", "[net]\nheight=8\nwidth=8\nchannels=3\n"
                                          "[convolutional]\nfilters=4\nsize=3\n"
                                          "[rnn]\noutput=4\n");
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", rnn, "--summary");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "rnn.cfg:8: [rnn] is a recurrent layer; recurrent layers (rnn, gru, "
                            "crnn, lstm) are not supported"),
              "%s", r.err);
    spawn_result_free(&r);
    unlink(rnn);
    const char *bn = tmp_file("bn.cfg", "[net]\nheight=8\nwidth=8\nchannels=3\n"
                                        "[convolutional]\nbatch_normalize=1\nfilters=4\n"
                                        "size=3\nactivation=leaky\n");
    /* Batch norm is kept by default, with no warning; --bn names its modes. */
    r = RUN(NULL, LSUV_VK_BIN, "--layers", bn, "--summary");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(!strstr(r.err, "warning:"), "%s", r.err);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", bn, "--bn", "keep", "--summary");
    cr_assert_eq(r.exit_code, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--bn expects one of inference, batch, strip, got 'keep'"), "%s",
              r.err);
    spawn_result_free(&r);
    /* 4x3x3x3 weights and 4 biases: batch norm's scales, means and variances are gone. */
    r = RUN(NULL, LSUV_VK_BIN, "--layers", bn, "--bn", "strip", "--summary");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "warning:") && strstr(r.out, " 112 "), "%s", r.out);
    spawn_result_free(&r);
    unlink(bn);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", "/nonexistent.cfg");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "/nonexistent.cfg"), "%s", r.err);
    spawn_result_free(&r);
}

/* darknet's own files, as they come, where LSUV_DARKNET_CFG_DIR names them. */
Test(cli, darknet_files_as_darknet_wrote_them) {
    /* darknet prints layer 20 as "route 19 8": 128x26x26 upsampled and 256x26x26. */
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", darknet_cfg("yolov3-tiny.cfg"), "--bn",
                         "strip", "--summary");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "   20  route          19,8       384x26x26      384x26x26"), "%s",
              r.out);
    cr_assert(strstr(r.out, "   23  yolo           22         255x26x26      255x26x26"), "%s",
              r.out);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", darknet_cfg("cifar.cfg"), "--bn", "strip", "--summary");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "warning:") && strstr(r.out, "7678986"), "%s", r.err);
    spawn_result_free(&r);
}

Test(cli, weights_round_trip_through_files) {
    char path[256];
    snprintf(path, sizeof path, "%s/cli-%d.safetensors", LSUV_TEST_TMP, (int)getpid());
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--init", "orthonormal", "--seed",
                         "3", "--order", "none", "--save-weights", path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--weights-in", path, "--batch", "8", "--order",
            "std-first");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", NETS "alexnet.cfg", "--weights-in", path);
    cr_assert_eq(r.exit_code, 2, "weights for another network");
    cr_assert(strstr(r.err, "layers.0.weight"), "%s", r.err);
    spawn_result_free(&r);
    unlink(path);
}

Test(cli, fashion_mnist_batch) {
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--input",
            "idx:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "--normalize");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "512 x 1x28x28 normalized: mean -0.000000, std 1.000000") ||
                  strstr(r.out, "512 x 1x28x28 normalized: mean 0.000000, std 1.000000"),
              "%s", r.out);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--summary");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--summary goes with --layers"), "%s", r.err);
    spawn_result_free(&r);
}

Test(cli, conv_kernel_reaches_the_run) {
    /* Storage reads on lavapipe, where auto picks texels: the same passes. */
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "32", "--order",
                         "std-first", "--conv-kernel", "storage", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(run, "converged")), "%s", r.out);
    /* 4 a layer: each of the two loops evaluates before its first test. */
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(run, "passes")), 20, "%s", r.out);
    cJSON_Delete(root);
    spawn_result_free(&r);
}

Test(cli, order_none_saves_the_initial_weights) {
    char path[256];
    snprintf(path, sizeof path, "%s/init-%d.weights", LSUV_TEST_TMP, (int)getpid());
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--order", "none", "--seed", "5",
                         "--save-weights", path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "initial weights"), "%s", r.out);
    spawn_result_free(&r);
    /* The same bytes as the library's kaiming weights for seed 5. */
    lsuv_net *net;
    lsuv_weights *w, *back;
    cr_assert_eq(lsuv_net_load(FASTAI, NULL, &net), LSUV_OK);
    cr_assert_eq(lsuv_weights_init(net, LSUV_INIT_KAIMING, 5, &w), LSUV_OK);
    cr_assert_eq(lsuv_weights_load(net, path, &back), LSUV_OK, "%s", lsuv_error_message());
    for (uint32_t i = 0; i < net->n_layers; ++i)
        if (w->layers[i].weight)
            cr_assert(memcmp(w->layers[i].weight, back->layers[i].weight,
                             w->layers[i].weight_count * 4) == 0,
                      "layer %u", i);
    lsuv_weights_destroy(back);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    unlink(path);
}

/* ---- outputs: special files, modes, temporary files, all or nothing ---- */

/* A fresh folder of the test's own under the test tree. */
static void out_dir(char *dir, size_t cap, const char *name) {
    snprintf(dir, cap, "%s/outputs-%d-%s", LSUV_TEST_TMP, (int)getpid(), name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(mkdir(dir, 0755), 0, "%s", dir);
}

static void out_dir_remove(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static bool is_char_device(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

/* A private node of /dev/null or /dev/full, so that a writer that replaces
 * it cannot break the machine's; the real one where mknod is not allowed. */
static void device_node(char *path, size_t cap, const char *dir, const char *name, int minor) {
    snprintf(path, cap, "%s/%s", dir, name);
    if (mknod(path, S_IFCHR | 0666, makedev(1, minor)) != 0) snprintf(path, cap, "/dev/%s", name);
    cr_assert(is_char_device(path), "%s", path);
}

/* How many names in dir start with prefix and are not exactly keep. */
static int count_named(const char *dir, const char *part, const char *keep) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, part) && strcmp(e->d_name, keep) != 0;
    closedir(d);
    return n;
}

Test(cli, outputs_write_devices_in_place_and_follow_links) {
    char dir[512], null_path[600], full_path[600], link[600], target[600];
    out_dir(dir, sizeof dir, "devices");
    device_node(null_path, sizeof null_path, dir, "null", 3);
    device_node(full_path, sizeof full_path, dir, "full", 7);
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", null_path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(is_char_device(null_path), "%s was replaced", null_path);
    spawn_result_free(&r);
    /* A full device is a failed write, not a replaced device. */
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", full_path);
    cr_assert_eq(r.exit_code, 1, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, full_path) && strstr(r.err, "No space left"), "%s", r.err);
    cr_assert(is_char_device(full_path), "%s was replaced", full_path);
    spawn_result_free(&r);
    /* Through a symlink the target is replaced and the link stays. */
    snprintf(link, sizeof link, "%s/link.json", dir);
    snprintf(target, sizeof target, "%s/target.json", dir);
    cr_assert_eq(symlink("target.json", link), 0);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", link);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    struct stat st;
    cr_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
    cr_assert(stat(target, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 100);
    spawn_result_free(&r);
    out_dir_remove(dir);
}

Test(cli, outputs_to_dev_stdout_and_only_one_to_stdout) {
    struct stat before;
    cr_assert_eq(lstat("/dev/stdout", &before), 0);
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", "/dev/stdout");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert_not_null(root, "not JSON: '%s'", r.out);
    cr_assert_eq(cJSON_GetObjectItem(root, "params")->valuedouble, 62090.0);
    cJSON_Delete(root);
    struct stat after;
    cr_assert(lstat("/dev/stdout", &after) == 0 &&
              S_ISLNK(after.st_mode) == S_ISLNK(before.st_mode));
    spawn_result_free(&r);
    /* Two outputs on standard output would interleave: refused before the run. */
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", "--json", "-", "--trace", "-");
    cr_assert_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "--json and --trace both write to standard output"), "%s", r.err);
    cr_assert_str_eq(r.out, "");
    spawn_result_free(&r);
}

Test(cli, outputs_honour_the_umask_and_a_replaced_files_mode) {
    char dir[512], fresh[600], kept[600];
    out_dir(dir, sizeof dir, "modes");
    snprintf(fresh, sizeof fresh, "%s/fresh.json", dir);
    snprintf(kept, sizeof kept, "%s/kept.json", dir);
    FILE *f = fopen(kept, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(chmod(kept, 0640), 0);
    mode_t old = umask(027);
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", fresh);
    spawn_result r2 = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", kept);
    umask(old);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert_eq(r2.exit_code, 0, "%s", r2.err);
    struct stat st;
    cr_assert_eq(stat(fresh, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640, "new file mode %o under umask 027", st.st_mode & 0777);
    cr_assert_eq(chmod(kept, 0600), 0);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", kept);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(stat(kept, &st) == 0 && st.st_size > 100);
    cr_assert_eq(st.st_mode & 0777, 0600, "replaced file mode %o, was 0600", st.st_mode & 0777);
    spawn_result_free(&r);
    spawn_result_free(&r2);
    out_dir_remove(dir);
}

Test(cli, outputs_leave_no_temporary_file_when_terminated) {
    char dir[512], path[600];
    out_dir(dir, sizeof dir, "sigterm");
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(LSUV_VK_BIN, LSUV_VK_BIN, "--layers", NETS "alexnet.cfg", "--order", "none",
              "--save-weights", path, (char *)NULL);
        _exit(127);
    }
    /* 250 MB of weights: SIGTERM as soon as their temporary file shows. */
    int status = 0, seen = 0;
    while (!seen && waitpid(pid, &status, WNOHANG) == 0) {
        seen = count_named(dir, "big.safetensors", "big.safetensors");
        if (!seen) nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    cr_assert(seen, "the writer finished before a temporary file was seen");
    kill(pid, SIGTERM);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x", status);
    cr_assert_eq(count_named(dir, "big.safetensors", ""), 0, "a temporary file remains");
    out_dir_remove(dir);
}

Test(cli, outputs_remove_stale_temporary_files_of_dead_writers) {
    char dir[512], out[600], dead[600], live[600];
    out_dir(dir, sizeof dir, "stale");
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) _exit(0);
    cr_assert_eq(waitpid(child, NULL, 0), child);
    snprintf(out, sizeof out, "%s/out.json", dir);
    snprintf(dead, sizeof dead, "%s/.out.json.lsuv-tmp-%d-abcdef", dir, (int)child);
    snprintf(live, sizeof live, "%s/.out.json.lsuv-tmp-%d-abcdef", dir, (int)getpid());
    FILE *f = fopen(dead, "w");
    FILE *g = fopen(live, "w");
    cr_assert(f && g);
    fclose(f);
    fclose(g);
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", out);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert_neq(access(dead, F_OK), 0, "the dead writer's %s remains", dead);
    cr_assert_eq(access(live, F_OK), 0, "a live writer's temporary file was removed");
    spawn_result_free(&r);
    out_dir_remove(dir);
}

Test(cli, outputs_are_written_all_or_none) {
    char dir[512], ok[600], full[600];
    out_dir(dir, sizeof dir, "all");
    snprintf(ok, sizeof ok, "%s/ok.json", dir);
    /* A folder that does not exist: refused before the run. */
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", "--order",
                         "std-first", "--json", ok, "--csv", "/nonexistent/x.csv");
    cr_assert_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "/nonexistent/x.csv"), "%s", r.err);
    cr_assert_str_eq(r.out, "", "it ran first");
    cr_assert_neq(access(ok, F_OK), 0, "ok.json was written");
    spawn_result_free(&r);
    /* A write that fails after the run: nothing else is committed. */
    device_node(full, sizeof full, dir, "full", 7);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", "--order", "std-first", "--json",
            ok, "--csv", full);
    cr_assert_eq(r.exit_code, 1, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "No space left"), "%s", r.err);
    cr_assert_neq(access(ok, F_OK), 0, "ok.json was written");
    cr_assert(is_char_device(full));
    cr_assert_eq(count_named(dir, "lsuv-tmp", ""), 0, "a temporary file remains");
    spawn_result_free(&r);
    out_dir_remove(dir);
}

Test(cli, outputs_darknet_weights_and_a_shifted_sub_refused_before_the_run) {
    char dir[512], path[600];
    out_dir(dir, sizeof dir, "sub");
    snprintf(path, sizeof path, "%s/x.weights", dir);
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", "--save-weights", path);
    cr_assert_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, ".safetensors") && strstr(r.err, "--measure pre"), "%s", r.err);
    cr_assert(!strstr(r.out, "input:"), "refused after loading the input: %s", r.out);
    spawn_result_free(&r);
    /* The bias cannot steer the mean of a relu's output with sub 0 (a mean
     * of 0 there is a dead layer): refused before the run. (With --measure
     * pre it can, and darknet's format holds the sub of 0 it leaves.) */
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", "--mean-param", "bias",
            "--save-weights", path);
    cr_assert_eq(r.exit_code, 2, "%s", r.err);
    cr_assert(strstr(r.err, "layer 0") && strstr(r.err, "--measure pre"), "%s", r.err);
    cr_assert_neq(access(path, F_OK), 0, "nothing written");
    spawn_result_free(&r);
    out_dir_remove(dir);
}

/* Measured pre, the auto mean parameter is the bias: darknet's format holds
 * what LSUV leaves. Told to shift the sub, which cannot move a mean measured
 * pre, it refuses the run. */
Test(cli, outputs_darknet_weights_follow_the_resolved_mean_parameter) {
    char dir[512], path[600];
    out_dir(dir, sizeof dir, "auto");
    snprintf(path, sizeof path, "%s/x.weights", dir);
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", "--order", "mean-first",
            "--keep", "mean-first", "--max-iters", "2", "--measure", "pre", "--save-weights", path);
    cr_assert(r.exit_code != 2 && !strstr(r.err, "cannot hold"), "exit %d: %s", r.exit_code, r.err);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", "--order", "mean-first",
            "--keep", "mean-first", "--measure", "pre", "--mean-param", "sub", "--save-weights",
            path);
    cr_assert_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "cannot move the pre-activation mean"), "%s", r.err);
    spawn_result_free(&r);
    out_dir_remove(dir);
}

Test(cli, outputs_with_unknown_extensions_refused) {
    char dir[512];
    out_dir(dir, sizeof dir, "ext");
    const char *cases[][3] = {
        {"--plot", "p.png", "expected a .svg file"},
        {"--json", "r.txt", "expected a .json file"},
        {"--csv", "c.json", "expected a .csv file"},
        {"--trace", "t.svg", "expected a .csv file"},
        {"--save-weights", "w.bin", "expected a .weights or .safetensors file"},
        {"--save-weights", "-", "name a .weights or .safetensors file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        char path[600];
        if (strcmp(cases[i][1], "-") == 0)
            snprintf(path, sizeof path, "-");
        else
            snprintf(path, sizeof path, "%s/%s", dir, cases[i][1]);
        spawn_result r =
            RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", cases[i][0], path);
        cr_assert_eq(r.exit_code, 2, "%s %s: exit %d", cases[i][0], path, r.exit_code);
        cr_assert(strstr(r.err, cases[i][2]), "%s: %s", cases[i][0], r.err);
        cr_assert(strcmp(path, "-") == 0 || access(path, F_OK) != 0, "%s was written", path);
        spawn_result_free(&r);
    }
    out_dir_remove(dir);
}

Test(cli, order_none_refuses_what_it_cannot_write) {
    const char *cases[][2] = {
        {"--json", "-"}, {"--csv", "-"}, {"--trace", "-"}, {"--plot", "-"}, {"--verify", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        spawn_result r = cases[i][1] ? RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--order", "none",
                                           cases[i][0], cases[i][1])
                                     : RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--order", "none",
                                           cases[i][0]);
        cr_assert_eq(r.exit_code, 2, "%s: exit %d", cases[i][0], r.exit_code);
        cr_assert(strstr(r.err, "--order none") && strstr(r.err, cases[i][0]), "%s", r.err);
        spawn_result_free(&r);
    }
}

Test(cli, missing_input_files_reported_before_any_work) {
    /* vgg-16's 138M weights take about 14 s to draw here: an input checked
     * only after them shows in the time, even on a loaded machine, where the
     * check alone takes milliseconds. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", NETS "vgg-16.cfg", "--input",
                         "idx:/nonexistent/images.gz");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    cr_assert_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "/nonexistent/images.gz"), "%s", r.err);
    cr_assert_lt(s, 5.0, "reported after %.2f s", s);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--weights-in", "/nonexistent/w.weights");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "/nonexistent/w.weights"), "%s", r.err);
    spawn_result_free(&r);
}

Test(cli, outputs_write_a_fifo_in_place) {
    char dir[512], fifo[600];
    out_dir(dir, sizeof dir, "fifo");
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    /* Held open for reading and writing, the FIFO takes the JSON at once. */
    int fd = open(fifo, O_RDWR | O_NONBLOCK);
    cr_assert_geq(fd, 0);
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--summary", "--json", fifo);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    struct stat st;
    cr_assert(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO was replaced");
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    cr_assert_gt(n, 0, "nothing came through the FIFO");
    buf[n] = '\0';
    cJSON *root = cJSON_Parse(buf);
    cr_assert_not_null(root, "not JSON: %s", buf);
    cr_assert_eq(cJSON_GetObjectItem(root, "params")->valuedouble, 62090.0);
    cJSON_Delete(root);
    close(fd);
    spawn_result_free(&r);
    out_dir_remove(dir);
}

Test(cli, outputs_on_stdout_move_the_table_to_stderr) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", FASTAI, "--batch", "8", "--order",
                         "std-first", "--csv", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strncmp(r.out, "device,order,layer,", 19) == 0, "stdout: %s", r.out);
    cr_assert(strstr(r.err, "within tolerance") && strstr(r.err, "layers capped"), "the table: %s",
              r.err);
    spawn_result_free(&r);
}

Test(cli, outputs_darknet_weights_refused_for_a_cfg_sub_before_the_run) {
    char dir[512], cfg[600], path[600];
    out_dir(dir, sizeof dir, "cfgsub");
    snprintf(cfg, sizeof cfg, "%s/sub.cfg", dir);
    snprintf(path, sizeof path, "%s/x.weights", dir);
    FILE *f = fopen(cfg, "w");
    cr_assert_not_null(f);
    fputs("[net]\nbatch=8\nheight=8\nwidth=8\nchannels=1\n\n[convolutional]\nfilters=4\n"
          "size=3\nstride=1\npad=1\nactivation=relu\nsub=0.4\n",
          f);
    fclose(f);
    /* Shifting the bias leaves the cfg's sub=0.4, which .weights has no room for. */
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--layers", cfg, "--mean-param", "bias", "--save-weights", path);
    cr_assert_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "sub=0.4") && strstr(r.err, ".safetensors"), "%s", r.err);
    cr_assert(!strstr(r.out, "input:"), "refused after loading the input: %s", r.out);
    cr_assert_neq(access(path, F_OK), 0);
    spawn_result_free(&r);
    out_dir_remove(dir);
}

/* Whether text holds a control byte other than a newline or a tab. */
static bool has_control_byte(const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p; ++p)
        if (*p < 0x20 && *p != '\n' && *p != '\t') return true;
    return false;
}

Test(cli, option_problems_are_named_in_words) {
    /* A long option without its value once printed its getopt code as a
     * raw byte ("option \017 is unknown"); an empty --device selected
     * device 0; --keep without --save-weights did nothing. */
    const char *cases[][5] = {
        {"--order", NULL, NULL, NULL, "--order needs a value (one of mean-first, std-first"},
        {"--device", NULL, NULL, NULL, "--device needs a value (an index"},
        {"--save-weights", NULL, NULL, NULL, "--save-weights needs a value (a path)"},
        {"--validate=yes", NULL, NULL, NULL, "--validate takes no value"},
        {"--no-such-option", NULL, NULL, NULL, "option '--no-such-option' is unknown"},
        {"-x", NULL, NULL, NULL, "option -x is unknown"},
        {"--device", "", NULL, NULL, "--device needs a selector"},
        {"--layers", FASTAI, "--device", "", "--device needs a selector"},
        {"--layers", FASTAI, "--keep", "joint", "--keep chooses whose weights --save-weights"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        const char *argv[6] = {LSUV_VK_BIN};
        for (int k = 0; k < 4 && cases[i][k]; ++k) argv[k + 1] = cases[i][k];
        spawn_result r = spawn_run(argv, NULL);
        cr_assert_eq(r.exit_code, 2, "%s: exit %d", cases[i][0], r.exit_code);
        cr_assert(strstr(r.err, cases[i][4]), "case %zu: stderr '%s'", i, r.err);
        cr_assert(!has_control_byte(r.err), "case %zu: stderr '%s'", i, r.err);
        spawn_result_free(&r);
    }
}

/* Runs argv on a pseudo-terminal, as a user at a terminal does: what it
 * printed there, standard output and error together. */
static char *run_on_tty(const char *const *argv, int *exit_code) {
    int fd;
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    for (ssize_t n; text; len += (size_t)n) {
        if (len + 4096 > cap) text = realloc(text, cap *= 2);
        /* EIO once the program has exited and the terminal closed. */
        if (!text || (n = read(fd, text + len, cap - len - 1)) <= 0) break;
    }
    cr_assert_not_null(text);
    text[len] = '\0';
    close(fd);
    int status;
    waitpid(pid, &status, 0);
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return text;
}

Test(cli, verify_shows_progress_on_a_terminal) {
    /* The fp64 forward of --verify takes minutes on a big network: a
     * progress line per layer, as LSUV's passes have. */
    int code;
    char *text = run_on_tty((const char *const[]){LSUV_VK_BIN, "--layers", FASTAI, "--batch", "16",
                                                  "--order", "std-first", "--verify", NULL},
                            &code);
    cr_assert_eq(code, 0, "%s", text);
    cr_assert(strstr(text, "std-first: fp64 verification, layer 4 of 4 done"), "%s", text);
    cr_assert(strstr(text, "largest |device - fp64|"), "%s", text);
    free(text);
}

/* Bounded activations: measured post, std 1 is out of their reach and the
 * run stops before any pass (exit 3); measured pre, LSUV converges. */
static const char *const bounded_cfg = "[net]\nheight=28\nwidth=28\nchannels=1\n"
                                       "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\n"
                                       "activation=tanh\n"
                                       "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\n"
                                       "activation=logistic\n"
                                       "[connected]\noutput=10\nactivation=logistic\n";

Test(cli, bounded_activations_converge_measured_pre) {
    const char *path = tmp_file("bounded.cfg", bounded_cfg);
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", path, "--batch", "64", "--order",
                         "std-first", "--measure", "pre", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert_not_null(root, "%s", r.out);
    const cJSON *layers =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0), "layers");
    cr_assert_eq(cJSON_GetArraySize(layers), 3);
    const cJSON *l;
    cJSON_ArrayForEach(l, layers) {
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(l, "within_tol")));
        cr_assert_lt(fabs(cJSON_GetObjectItem(l, "std")->valuedouble - 1), 1e-3);
        cr_assert_str_eq(cJSON_GetObjectItem(l, "measure")->valuestring, "pre");
    }
    cJSON_Delete(root);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", path, "--batch", "64", "--order", "std-first");
    cr_assert_eq(r.exit_code, 3, "%s", r.err);
    cr_assert(strstr(r.err, "tanh") && strstr(r.err, "--measure pre"), "%s", r.err);
    spawn_result_free(&r);
    unlink(path);
}
