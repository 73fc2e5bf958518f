/* The programs as a user runs them: exit codes, messages, JSON. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsuv/weights.h"
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
        {"--conv-kernel", "fast", "--conv-kernel expects auto, storage, uniform or texel"},
        {"--conv-kernel", "storage", "--conv-kernel goes with --layers"},
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

#define FASTAI  LSUV_SOURCE_DIR "/nets/fastai-07a.cfg"
#define DARKNET LSUV_SHARED_DIR "/nets/darknet/"

Test(cli, summary_json) {
    spawn_result r =
        RUN(NULL, LSUV_VK_BIN, "--layers", DARKNET "alexnet.cfg", "--summary", "--json", "-");
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

Test(cli, bad_networks_exit_2_with_file_and_line) {
    spawn_result r = RUN(NULL, LSUV_VK_BIN, "--layers", DARKNET "yolov3-tiny.cfg", "--summary");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "yolov3-tiny.cfg:") && strstr(r.err, "not supported yet"), "%s", r.err);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", DARKNET "cifar.cfg", "--summary");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--bn strip"), "%s", r.err);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", DARKNET "cifar.cfg", "--bn", "strip", "--summary");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "warning:") && strstr(r.out, "7678986"), "%s", r.err);
    spawn_result_free(&r);
    r = RUN(NULL, LSUV_VK_BIN, "--layers", "/nonexistent.cfg");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "/nonexistent.cfg"), "%s", r.err);
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
    r = RUN(NULL, LSUV_VK_BIN, "--layers", DARKNET "alexnet.cfg", "--weights-in", path);
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
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(run, "passes")), 15, "%s", r.out);
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
