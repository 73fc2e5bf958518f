/* lsuv-bench as a user runs it: the suite's files, their figures against
 * what LSUV and the statistics must give, and --compare's verdicts. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "support/json_read.h"
#include "support/spawn.h"

TestSuite(bench, .timeout = 900);

#define RUN(...) spawn_run((const char *const[]){LSUV_BENCH_BIN, __VA_ARGS__, NULL}, NULL)
#define FASTAI16 "fastai@16"

static void assert_spread(const cJSON *e, const char *key) {
    const cJSON *s = cJSON_GetObjectItem(e, key);
    double lo = test_json_num(s, "min"), mid = test_json_num(s, "median"),
           hi = test_json_num(s, "max");
    cr_assert(lo > 0 && lo <= mid && mid <= hi && isfinite(hi), "%s: %g %g %g", key, lo, mid, hi);
}

static size_t count_lines(const char *path) {
    char *text;
    size_t n, lines = 0;
    cr_assert_eq(lsuv_file_read_all(path, 1 << 26, &text, &n), LSUV_OK, "%s", path);
    for (size_t i = 0; i < n; ++i) lines += text[i] == '\n';
    free(text);
    return lines;
}

static bool file_has(const char *path, const char *needle) {
    char *text;
    size_t n;
    if (lsuv_file_read_all(path, 1 << 26, &text, &n) != LSUV_OK) return false;
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* The fields of one CSV line as RFC 4180 has them: a field in double
 * quotes may hold commas and doubled quotes. Returns their count, or -1
 * when a quote is out of place. */
static int csv_split(const char *line, char fields[][256], int max) {
    int n = 0;
    for (const char *p = line;; ++p) {
        char *f = fields[n < max ? n : max - 1];
        size_t k = 0;
        if (*p == '"') {
            for (++p; *p != '"' || p[1] == '"'; ++p) {
                if (!*p) return -1;
                p += *p == '"';
                if (k < 255) f[k++] = *p;
            }
            ++p;
        } else {
            for (; *p && *p != ','; ++p) {
                if (*p == '"') return -1;
                if (k < 255) f[k++] = *p;
            }
        }
        f[k] = '\0';
        ++n;
        if (*p != ',') return *p ? -1 : n;
    }
}

/* Every line of a CSV text has as many fields as its first, the header. */
static int csv_rows(const char *text, const char *what) {
    char *copy = strdup(text), fields[32][256];
    int width = 0, rows = 0;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int n = csv_split(l, fields, 32);
        if (!width) width = n;
        cr_assert(n > 1 && n == width, "%s: %d fields, the header %d: %s", what, n, width, l);
        rows += 1;
    }
    free(copy);
    return rows - 1;
}

/* lsuv-bench's progress lines on stderr: the header, then the cases. */
static void assert_progress(const char *err, int cases) {
    const char *header = "case,device,net,precision,order,batch,wall_ms,gpu_ms,passes\n";
    const char *lines = strstr(err, header);
    cr_assert(lines && (lines == err || lines[-1] == '\n'), "%s", err);
    cr_assert_eq(csv_rows(lines, "progress"), cases, "%s", err);
    char fields[32][256];
    const char *l = lines;
    for (int k = 1; k <= cases; ++k) {
        l = strchr(l, '\n') + 1;
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(strchr(l, '\n') - l), l);
        cr_assert_eq(csv_split(line, fields, 32), 9, "%s", line);
        cr_assert_eq(atoi(fields[0]), k, "%s", line);
        cr_assert(strncmp(fields[1], "llvmpipe", 8) == 0 && !strcmp(fields[2], "fastai"), "%s",
                  line);
        cr_assert(!strcmp(fields[3], "fp32") && !strcmp(fields[5], "16"), "%s", line);
    }
}

Test(bench, suite_on_one_device_twice) {
    /* lavapipe selected twice: every figure of the cross-device study must
     * be exactly 0, as the kernels merge in a fixed order. */
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/bench-%d", LSUV_TEST_TMP, (int)getpid());
    spawn_result r = RUN("--lsuv", "--no-peer", "--validate", "--net", FASTAI16, "--device",
                         "llvmpipe,llvmpipe", "--repeats", "5", "--out", dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* A progress line per case: 6 orderings on 2 devices, after the header,
     * as CSV (lavapipe's name holds a comma, once left unquoted). */
    assert_progress(r.err, 12);
    spawn_result_free(&r);

    snprintf(path, sizeof path, "%s/results.json", dir);
    cJSON *root = test_json_file(path);
    const cJSON *meta = cJSON_GetObjectItem(root, "meta");
    cr_assert(strlen(test_json_str(meta, "git_commit")) > 0 &&
              strlen(test_json_str(meta, "lsuv_vk_version")) > 0);
    /* Results name no folder of the machine that ran them: the cfg relative
     * to the repository, files elsewhere by name. */
    const char *command = test_json_str(meta, "command");
    cr_assert(strstr(command, "--out") && command[0] != '/' && !strstr(command, " /"), "%s",
              command);
    cr_assert(strlen(test_json_str(meta, "date")) == 20, "%s", test_json_str(meta, "date"));
    const cJSON *devices = cJSON_GetObjectItem(root, "devices"), *d;
    cr_assert_eq(cJSON_GetArraySize(devices), 2);
    cJSON_ArrayForEach(d, devices) {
        cr_assert(strncmp(test_json_str(d, "slug"), "llvmpipe-", 9) == 0, "%s",
                  test_json_str(d, "slug"));
        cr_assert(strlen(test_json_str(d, "driver")) > 0 &&
                  strlen(test_json_str(d, "api_version")) > 0);
    }
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "compiles")), 2);

    const cJSON *e, *l;
    int entries = 0, layers = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "lsuv")) {
        ++entries;
        const char *order = test_json_str(e, "order");
        cr_assert_str_eq(test_json_str(e, "cfg"), "nets/fastai-07a.cfg");
        cr_assert_str_eq(test_json_str(e, "input"), "idx:train-images-idx3-ubyte.gz");
        cr_assert_eq(test_json_num(e, "batch"), 16);
        cr_assert_eq(test_json_num(e, "repeats"), 5);
        assert_spread(e, "gpu_ms");
        assert_spread(e, "wall_ms");
        /* The engine's promise: one submission per run. */
        cr_assert_eq(test_json_num(e, "submissions"), 1, "%s", order);
        /* GPU time per pass, of the median run (cJSON prints 15 digits
         * where they read back within an epsilon). */
        double median = test_json_num(cJSON_GetObjectItem(e, "gpu_ms"), "median");
        double per = median / test_json_num(e, "passes");
        cr_assert(test_json_num(e, "passes") > 0 && median > 0 &&
                      fabs(test_json_num(e, "gpu_ms_per_pass") - per) <= 1e-14 * per,
                  "%s: %g ms a pass, %g ms over %g passes", order,
                  test_json_num(e, "gpu_ms_per_pass"), median, test_json_num(e, "passes"));
        cr_assert_gt(test_json_num(e, "readback_bytes"), 0);
        double worst_mean = 0;
        cJSON_ArrayForEach(l, cJSON_GetObjectItem(e, "layers")) {
            ++layers;
            double layer_per = test_json_num(l, "gpu_ms") / test_json_num(l, "passes");
            cr_assert(test_json_num(l, "passes") > 0 &&
                      fabs(test_json_num(l, "gpu_ms_per_pass") - layer_per) <= 1e-14 * layer_per);
            double abs_mean = test_json_num(l, "abs_mean"),
                   abs_std = test_json_num(l, "abs_std_minus_1");
            cr_assert_eq(abs_mean, fabs(test_json_num(l, "mean")));
            worst_mean = fmax(worst_mean, abs_mean);
            if (strcmp(order, "std-first") == 0)
                cr_assert(abs_std <= 1e-3 && abs_mean <= 1e-5, "std-first layer %g: %g %g",
                          test_json_num(l, "index"), abs_mean, abs_std);
            /* Welford over the device's output, and the engine's fused
             * statistics against the fp64 forward: within the bound of the
             * statistics tests, 0.5 log2(n) eps of the spread, with n the
             * layer's outputs (at most 16 x 8 x 14 x 14). */
            const cJSON *err = cJSON_GetObjectItem(l, "error_eps");
            double bound = 0.5 * log2(16.0 * 8 * 14 * 14);
            const char *checked[] = {"welford", "engine"};
            for (int k = 0; k < 2; ++k) {
                const cJSON *m = cJSON_GetObjectItem(err, checked[k]);
                cr_assert(test_json_num(m, "mean") <= bound && test_json_num(m, "std") <= bound,
                          "%s, layer %g, %s: %g %g eps > %g", order, test_json_num(l, "index"),
                          checked[k], test_json_num(m, "mean"), test_json_num(m, "std"), bound);
            }
            cr_assert(isfinite(test_json_num(cJSON_GetObjectItem(err, "naive"), "std")));
            cr_assert(isfinite(test_json_num(cJSON_GetObjectItem(err, "twopass"), "std")));
        }
        /* The notebook's order leaves means far above the tolerance. */
        if (strcmp(order, "mean-first") == 0) cr_assert_gt(worst_mean, 1e-2);
    }
    cr_assert_eq(entries, 12);
    cr_assert_eq(layers, 60);
    int pairs = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "across_devices")) {
        ++pairs;
        cr_assert_eq(test_json_num(e, "max_mean_diff"), 0.0, "%s", test_json_str(e, "order"));
        cr_assert_eq(test_json_num(e, "max_std_diff"), 0.0);
        cr_assert_eq(test_json_num(e, "max_weight_rel_diff"), 0.0);
    }
    cr_assert_eq(pairs, 6);
    cJSON_Delete(root);

    /* The CSV: a header and a row per layer of each case. */
    snprintf(path, sizeof path, "%s/results.csv", dir);
    cr_assert_eq(count_lines(path), 61);
    char *text;
    size_t size;
    cr_assert_eq(lsuv_file_read_all(path, 1 << 26, &text, &size), LSUV_OK);
    cr_assert_eq(csv_rows(text, path), 60);
    free(text);
    cr_assert(file_has(path, "device,net,batch,precision,order,"));
    snprintf(path, sizeof path, "%s/time-fastai.svg", dir);
    cr_assert(file_has(path, "<svg") && file_has(path, "std-only") && file_has(path, "</svg>"));
    for (int k = 0; k < 2; ++k) {
        snprintf(path, sizeof path, "%s/convergence-fastai-%d-llvmpipe-", dir, k);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "cat %s*.svg | grep -c '<polyline'", path);
        FILE *p = popen(cmd, "r");
        int lines = 0;
        cr_assert(p && fscanf(p, "%d", &lines) == 1);
        pclose(p);
        /* Two lines (|mean|, |std - 1|) per layer per ordering. */
        cr_assert_eq(lines, 2 * 5 * 6, "%s", path);
    }
}

/* Copies base with every LSUV time multiplied by factor. */
static void write_scaled(const char *from, const char *to, double factor) {
    cJSON *root = test_json_file(from);
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "lsuv")) {
        const char *keys[] = {"wall_ms", "gpu_ms"};
        for (int k = 0; k < 2; ++k) {
            cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(e, keys[k]), "median");
            cJSON_SetNumberValue(m, m->valuedouble * factor);
        }
    }
    char *text = cJSON_Print(root);
    cr_assert_eq(lsuv_file_write_text(to, text), LSUV_OK);
    free(text);
    cJSON_Delete(root);
}

Test(bench, compare_against_a_baseline) {
    char dir[256], base[512], slower[512], faster[512];
    snprintf(dir, sizeof dir, "%s/compare-%d", LSUV_TEST_TMP, (int)getpid());
    snprintf(base, sizeof base, "%s/results.json", dir);
    snprintf(slower, sizeof slower, "%s/slower.json", dir);
    snprintf(faster, sizeof faster, "%s/faster.json", dir);
    spawn_result r = RUN("--lsuv", "--no-peer", "--net", FASTAI16, "--orders", "joint", "--stats",
                         "welford", "--device", "llvmpipe", "--repeats", "5", "--out", dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    /* A baseline 100 times slower: no regression. One 100 times faster:
     * both times regress past 10%. */
    write_scaled(base, slower, 100);
    write_scaled(base, faster, 0.01);
    r = RUN("--lsuv", "--no-peer", "--net", FASTAI16, "--orders", "joint", "--stats", "welford",
            "--device", "llvmpipe", "--repeats", "5", "--compare", slower);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "2 figures compared, 0 regressions"), "%s", r.out);
    spawn_result_free(&r);
    r = RUN("--lsuv", "--no-peer", "--net", FASTAI16, "--orders", "joint", "--stats", "welford",
            "--device", "llvmpipe", "--repeats", "5", "--compare", faster, "--threshold", "10");
    cr_assert_eq(r.exit_code, 3, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "2 figures compared, 2 regressions") && strstr(r.out, "REGRESSION"),
              "%s", r.out);
    spawn_result_free(&r);
    /* Not a results file: exit 2, naming it. */
    r = RUN("--lsuv", "--no-peer", "--net", FASTAI16, "--orders", "joint", "--stats", "welford",
            "--device", "llvmpipe", "--repeats", "5", "--compare", LSUV_SOURCE_DIR "/README.md");
    cr_assert_eq(r.exit_code, 2, "%s", r.err);
    cr_assert(strstr(r.err, "README.md"), "%s", r.err);
    spawn_result_free(&r);
}

Test(bench, bad_arguments_exit_2) {
    const char *cases[][3] = {
        {"--net", "nosuch", "expected fastai, vgg, jnet-conv, alexnet, resnet20 or a .cfg path"},
        {"--net", "fastai@0", "expected NAME[@BATCH]"},
        {"--net", "/nonexistent/x.cfg", "/nonexistent/x.cfg"},
        {"--orders", "sideways", "'sideways' is not one of"},
        {"--stats", "kahan", "'kahan' is not one of"},
        {"--precision", "fp8", "'fp8' is not one of"},
        {"--repeats", "3", "--repeats"},
        {"--device", "no-such-device", "no-such-device"},
        {"--conv-kernel", "fast", "'fast' is not one of"},
        {"--device", "", "--device '': an empty selector"},
        {"--device", "llvmpipe,", "an empty selector"},
        {"--bn", "keep", "--bn expects 'inference' or 'strip', got 'keep'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        spawn_result r = RUN("--lsuv", "--no-peer", cases[i][0], cases[i][1]);
        cr_assert_eq(r.exit_code, 2, "%s %s: exit %d", cases[i][0], cases[i][1], r.exit_code);
        cr_assert(strstr(r.err, cases[i][2]), "%s %s: stderr '%s'", cases[i][0], cases[i][1],
                  r.err);
        spawn_result_free(&r);
    }
}

/* A missing file anywhere in the list fails before the first network runs. */
Test(bench, missing_net_fails_before_any_work) {
    spawn_result r = RUN("--lsuv", "--no-peer", "--net", FASTAI16, "--net", "/nonexistent/y.cfg",
                         "--orders", "joint", "--repeats", "5");
    cr_assert_eq(r.exit_code, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--net /nonexistent/y.cfg") && strstr(r.err, "No such file"), "%s",
              r.err);
    cr_assert(!strstr(r.out, "fastai") && !strstr(r.err, "fastai"), "ran first: %s", r.out);
    spawn_result_free(&r);
}

Test(bench, kernels_measure_under_their_peak) {
    /* With validation on. Exit 0 also says the FMA peak kernel computed the
     * closed form of its chains, so it ran every FMA it is counted for (it
     * once ran half, and reported twice the device's peak). */
    spawn_result r =
        RUN("--kernels", "--validate", "--size-mib", "4", "--repeats", "5", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert_not_null(root, "not JSON: %s", r.out);
    const cJSON *e;
    int convs = 0, kinds = 0;
    double peak = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "kernels")) {
        const char *name = test_json_str(e, "name");
        if (!strcmp(name, "fma_peak")) peak = test_json_num(e, "gflops");
        if (strncmp(name, "conv2d", 6)) continue;
        ++convs;
        /* Rates against the peak of the same run: a convolution far above it
         * would mean one of the two counts its FLOPs wrong (the peak once
         * counted twice the FMAs it ran). Not 1: on a loaded machine the
         * peak's rounds can meet more of the load than a convolution's, and
         * up to 1.38 of it was seen; speed itself is the bench's to judge. */
        double g = test_json_num(e, "gflops"), ratio = test_json_num(e, "ratio_to_peak");
        cr_assert(g > 0 && test_json_num(e, "peak_gflops") == peak, "%s", test_json_str(e, "case"));
        cr_assert(ratio > 0 && ratio < 2, "%s: %g of the peak", test_json_str(e, "case"), ratio);
        /* Not checked: that ratio is near g / peak. ratio is the median of
         * each round's rate over that round's peak, g / peak a ratio of two
         * medians, and on this shared machine they part: under the
         * sanitizers fastai's layer 2 had a ratio of 0.147 and a g / peak
         * more than 50% away from it. A kind's row is timed against the
         * peak of its own rounds besides. */
        /* lavapipe is a CPU: its convolutions read texels, but in the rows
         * of every kind side by side ("standard: gemm"), which run the kind
         * they name; a CPU leaves out the GPU-sized case unless asked. */
        const char *kind = strstr(test_json_str(e, "case"), ": ");
        if (!strcmp(name, "conv2d_kind")) {
            cr_assert(kind && !strncmp(test_json_str(e, "case"), "standard: ", 10), "%s",
                      test_json_str(e, "case"));
            cr_assert_str_eq(test_json_str(e, "kernel"), kind + 2);
            ++kinds;
        } else {
            cr_assert_str_eq(test_json_str(e, "kernel"), "texel", "%s", test_json_str(e, "case"));
        }
    }
    cr_assert(peak > 0 && convs == 16 && kinds == 4, "peak %g, %d convolution cases, %d kinds",
              peak, convs, kinds);
    cJSON_Delete(root);
    spawn_result_free(&r);
}

Test(bench, list_devices_for_scripts) {
    spawn_result r = RUN("--list-devices", "--device", "llvmpipe");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    unsigned index;
    char slug[128], type[16];
    cr_assert_eq(sscanf(r.out, "%u\t%127s\t%15s\t", &index, slug, type), 3, "%s", r.out);
    cr_assert(strncmp(slug, "llvmpipe-llvm-", 14) == 0, "%s", slug);
    cr_assert_str_eq(type, "cpu");
    spawn_result_free(&r);
}

Test(bench, option_problems_are_named_in_words) {
    const char *cases[][2] = {
        {"--orders", "--orders needs a value (a comma list of mean-first"},
        {"--device", "--device needs a value (an index"},
        {"--out", "--out needs a value (a folder)"},
        {"--no-peer=yes", "--no-peer takes no value"},
        {"--preset", "--preset needs a value (one of fastai-07a, lsuv-paper, lsuv-pytorch)"},
        {"--sideways", "option '--sideways' is unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        spawn_result r = RUN("--lsuv", cases[i][0]);
        cr_assert_eq(r.exit_code, 2, "%s: exit %d", cases[i][0], r.exit_code);
        cr_assert(strstr(r.err, cases[i][1]), "%s: stderr '%s'", cases[i][0], r.err);
        spawn_result_free(&r);
    }
}

Test(bench, batch_norm_cfgs_kept_or_stripped) {
    /* lsuv-bench takes a batch-norm cfg as lsuv-vk does: kept, or --bn strip. */
    char cfg[256], spec[300];
    snprintf(cfg, sizeof cfg, "%s/bn-%d.cfg", LSUV_TEST_TMP, (int)getpid());
    cr_assert_eq(lsuv_file_write_text(cfg, "[net]\nheight=8\nwidth=8\nchannels=2\n\n"
                                           "[convolutional]\nbatch_normalize=1\nfilters=4\n"
                                           "size=3\npad=1\nactivation=relu\n"),
                 LSUV_OK);
    snprintf(spec, sizeof spec, "%s@8", cfg);
    /* Kept by default (with the rolling statistics), without a warning. */
    spawn_result r = RUN("--lsuv", "--no-peer", "--net", spec, "--orders", "joint", "--stats",
                         "welford", "--device", "llvmpipe", "--repeats", "5");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(!strstr(r.err, "batch norm stripped"), "%s", r.err);
    spawn_result_free(&r);
    r = RUN("--lsuv", "--no-peer", "--net", spec, "--orders", "joint", "--stats", "welford",
            "--device", "llvmpipe", "--repeats", "5", "--bn", "strip", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "lsuv-bench: warning: ") && strstr(r.err, "batch norm stripped"), "%s",
              r.err);
    cJSON *root = cJSON_Parse(r.out);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "lsuv"), 0);
    cr_assert_not_null(e, "%s", r.out);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(e, "converged")), "%s", r.out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(e, "layers")), 1);
    cJSON_Delete(root);
    spawn_result_free(&r);
    r = RUN("--help");
    cr_assert(strstr(r.out, "--bn MODE"), "%s", r.out);
    spawn_result_free(&r);
    unlink(cfg);
}

Test(bench, preset_reaches_the_runs_and_layers_say_within_tol_and_capped) {
    spawn_result r =
        RUN("--lsuv", "--no-peer", "--net", FASTAI16, "--preset", "lsuv-pytorch", "--stats",
            "welford", "--device", "llvmpipe", "--repeats", "5", "--json", "-");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    const cJSON *lsuv = cJSON_GetObjectItem(root, "lsuv");
    cr_assert_eq(cJSON_GetArraySize(lsuv), 1, "the preset's one ordering: %s", r.out);
    const cJSON *e = cJSON_GetArrayItem(lsuv, 0);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "preset")), "lsuv-pytorch");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "order")), "std-only");
    cr_assert(cJSON_HasObjectItem(e, "within_tol") && cJSON_HasObjectItem(e, "capped_layers"));
    const cJSON *l = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "layers"), 0);
    static const char *keys[] = {"measure", "within_tol", "capped"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k)
        cr_assert(cJSON_HasObjectItem(l, keys[k]), "layer lacks %s", keys[k]);
    cJSON_Delete(root);
    spawn_result_free(&r);
}
