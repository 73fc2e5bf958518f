/* lsuv-bench --study as a user runs it: its cases against single lsuv-vk
 * runs of the same case, its shards against the whole, its errors. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "support/json_read.h"
#include "support/spawn.h"

TestSuite(study, .timeout = 900);

#define FASHION    "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#define BENCH(...) spawn_run((const char *const[]){LSUV_BENCH_BIN, __VA_ARGS__, NULL}, NULL)
#define STUDY(dir, ...)                                                                            \
    BENCH("--study", "--net", "fastai", "--seeds", "1-2", "--batches", "64", "--orders",           \
          "mean-first,std-first", "--device", "llvmpipe", "--out", dir, ##__VA_ARGS__)

static void study_dir(const char *name, char *dir, size_t cap) {
    snprintf(dir, cap, "%s/study-%s-%d", LSUV_TEST_TMP, name, (int)getpid());
}

/* A study into a fresh folder; its study.json. */
static cJSON *run_study(const char *name, const char *shard) {
    char dir[512], path[600];
    study_dir(name, dir, sizeof dir);
    spawn_result r = shard ? STUDY(dir, "--shard", shard) : STUDY(dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* Off a terminal: no progress line per case, only the closing figures. */
    cr_assert_null(strstr(r.err, "case 1/"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "per-case overhead"), "%s", r.err);
    spawn_result_free(&r);
    snprintf(path, sizeof path, "%s/study.json", dir);
    return test_json_file(path);
}

/* Case k of the documented enumeration: method (mean-first, std-first)
 * then seed (1, 2). */
static void assert_case(const cJSON *c, int k) {
    static const char *const orders[] = {"mean-first", "std-first"};
    cr_assert_eq(test_json_num(c, "case"), k);
    cr_assert_str_eq(test_json_str(c, "order"), orders[k / 2]);
    cr_assert_eq(test_json_num(c, "seed"), 1 + k % 2);
    cr_assert_eq(test_json_num(c, "batch"), 64);
    cr_assert_str_eq(test_json_str(c, "net"), "fastai");
    /* START = 2 B seed mod (60000 - 2 B + 1): 128 and 256 with B = 64. */
    char want[128];
    snprintf(want, sizeof want, "idx:train-images-idx3-ubyte.gz@%d", 128 * (1 + k % 2));
    cr_assert_str_eq(test_json_str(c, "input"), want);
    snprintf(want, sizeof want, "idx:train-images-idx3-ubyte.gz@%d", 128 * (1 + k % 2) + 64);
    cr_assert_str_eq(test_json_str(c, "eval_input"), want);
}

/* lsuv-vk on the case's specs, the file's name put back in its folder. */
static cJSON *lsuv_vk_case(const cJSON *c) {
    char input[600], eval[600], seed[32], json[512];
    snprintf(input, sizeof input, "idx:%s%s", FASHION, strchr(test_json_str(c, "input"), '@'));
    snprintf(eval, sizeof eval, "idx:%s%s", FASHION, strchr(test_json_str(c, "eval_input"), '@'));
    snprintf(seed, sizeof seed, "%d", (int)test_json_num(c, "seed"));
    snprintf(json, sizeof json, "%s/study-vk-%d-%d.json", LSUV_TEST_TMP, (int)getpid(),
             (int)test_json_num(c, "case"));
    spawn_result r = spawn_run(
        (const char *const[]){LSUV_VK_BIN, "--layers", LSUV_SOURCE_DIR "/nets/fastai-07a.cfg",
                              "--input", input, "--eval-input", eval, "--normalize", "--seed", seed,
                              "--batch", "64", "--order", test_json_str(c, "order"), "--device",
                              "llvmpipe", "--json", json, NULL},
        NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    cJSON *root = test_json_file(json);
    unlink(json);
    return root;
}

Test(study, cases_equal_single_lsuv_vk_runs) {
    cJSON *study = run_study("whole", NULL);
    const cJSON *meta = cJSON_GetObjectItem(study, "meta");
    cr_assert_eq(test_json_num(meta, "cases_total"), 4);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(meta, "shard")));
    const cJSON *cases = cJSON_GetObjectItem(study, "cases"),
                *rows = cJSON_GetObjectItem(study, "rows");
    cr_assert_eq(cJSON_GetArraySize(cases), 4);
    /* fastai 07a: five convolutions, every one an LSUV layer. */
    cr_assert_eq(cJSON_GetArraySize(rows), 4 * 5);
    for (int k = 0; k < 4; ++k) assert_case(cJSON_GetArrayItem(cases, k), k);
    /* The first and the last case: each ordering, each seed once. */
    for (int k = 0; k < 4; k += 3) {
        const cJSON *c = cJSON_GetArrayItem(cases, k);
        cJSON *vk = lsuv_vk_case(c);
        const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(vk, "runs"), 0);
        cr_assert_str_eq(test_json_str(run, "order"), test_json_str(c, "order"));
        cr_assert_eq(test_json_num(run, "passes"), test_json_num(c, "passes"));
        const cJSON *layers = cJSON_GetObjectItem(run, "layers");
        cr_assert_eq(cJSON_GetArraySize(layers), 5);
        for (int l = 0; l < 5; ++l) {
            const cJSON *row = cJSON_GetArrayItem(rows, k * 5 + l),
                        *want = cJSON_GetArrayItem(layers, l);
            cr_assert_eq(test_json_num(row, "case"), k);
            cr_assert_eq(test_json_num(row, "layer"), test_json_num(want, "index"));
            /* The same weights, batch and kernels: the same bits. */
            cr_assert_eq(test_json_num(row, "mean"), test_json_num(want, "mean"),
                         "case %d layer %d", k, l);
            cr_assert_eq(test_json_num(row, "std"), test_json_num(want, "std"), "case %d layer %d",
                         k, l);
            cr_assert_eq(test_json_num(row, "eval_mean"), test_json_num(want, "eval_mean"),
                         "case %d layer %d", k, l);
            cr_assert_eq(test_json_num(row, "eval_std"), test_json_num(want, "eval_std"),
                         "case %d layer %d", k, l);
            cr_assert_eq(test_json_num(row, "passes"), test_json_num(want, "passes"));
            cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(row, "within_tol")),
                         cJSON_IsTrue(cJSON_GetObjectItem(want, "within_tol")));
        }
        cJSON_Delete(vk);
    }
    cJSON_Delete(study);
}

/* Two JSON items equal but for their "ms". */
static void assert_same_but_ms(const cJSON *a, const cJSON *b) {
    cr_assert_eq(cJSON_GetArraySize(a), cJSON_GetArraySize(b));
    const cJSON *f;
    cJSON_ArrayForEach(f, a) {
        if (strcmp(f->string, "ms") == 0) continue;
        cr_assert(cJSON_Compare(f, cJSON_GetObjectItem(b, f->string), true), "%s differs",
                  f->string);
    }
}

Test(study, two_shards_hold_the_whole) {
    cJSON *whole = run_study("unsharded", NULL);
    cJSON *part[2] = {run_study("shard1", "1/2"), run_study("shard2", "2/2")};
    const cJSON *wc = cJSON_GetObjectItem(whole, "cases"), *wr = cJSON_GetObjectItem(whole, "rows");
    int seen_cases = 0, seen_rows = 0;
    for (int p = 0; p < 2; ++p) {
        const cJSON *meta = cJSON_GetObjectItem(part[p], "meta");
        cr_assert_eq(test_json_num(meta, "cases_total"), 4);
        cr_assert_str_eq(test_json_str(meta, "shard"), p ? "2/2" : "1/2");
        const cJSON *c, *r;
        /* Shard I/N holds the cases k with k mod N = I - 1. */
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(part[p], "cases")) {
            int k = (int)test_json_num(c, "case");
            cr_assert_eq(k % 2, p, "case %d in shard %d", k, p + 1);
            assert_same_but_ms(c, cJSON_GetArrayItem(wc, k));
            seen_cases++;
        }
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(part[p], "rows")) {
            int k = (int)test_json_num(r, "case"), l = (int)test_json_num(r, "layer");
            assert_same_but_ms(r, cJSON_GetArrayItem(wr, k * 5 + l));
            seen_rows++;
        }
    }
    cr_assert_eq(seen_cases, 4);
    cr_assert_eq(seen_rows, 20);
    /* --merge joins them into the whole, rows in case order. */
    char d1[512], d2[512], dm[512], p1[600], p2[600], pm[600];
    study_dir("shard1", d1, sizeof d1);
    study_dir("shard2", d2, sizeof d2);
    study_dir("merged", dm, sizeof dm);
    snprintf(p1, sizeof p1, "%s/study.json", d1);
    snprintf(p2, sizeof p2, "%s/study.json", d2);
    snprintf(pm, sizeof pm, "%s/study.json", dm);
    spawn_result r = BENCH("--merge", p2, p1, "--out", dm);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    spawn_result_free(&r);
    cJSON *merged = test_json_file(pm);
    const cJSON *mr = cJSON_GetObjectItem(merged, "rows");
    cr_assert_eq(cJSON_GetArraySize(mr), 20);
    for (int i = 0; i < 20; ++i)
        assert_same_but_ms(cJSON_GetArrayItem(mr, i), cJSON_GetArrayItem(wr, i));
    const cJSON *mc = cJSON_GetObjectItem(merged, "cases");
    cr_assert_eq(cJSON_GetArraySize(mc), 4);
    for (int i = 0; i < 4; ++i)
        assert_same_but_ms(cJSON_GetArrayItem(mc, i), cJSON_GetArrayItem(wc, i));
    cJSON_Delete(merged);
    cJSON_Delete(part[0]);
    cJSON_Delete(part[1]);
    cJSON_Delete(whole);
}

Test(study, bad_values_name_the_option) {
    static const char *const cases[][3] = {
        {"--seeds", "5-1", "--seeds: '5-1'"},
        {"--seeds", "1,,2", "--seeds '1,,2': an empty item"},
        {"--seeds", "1-3,2", "seed 2 is listed twice"},
        {"--batches", "0", "--batches: '0'"},
        {"--batches", "64,x", "--batches: 'x'"},
        {"--shard", "3/2", "--shard: '3/2'; expected I/N"},
        {"--shard", "0/2", "--shard: '0/2'"},
        {"--presets", "fastai", "--presets: 'fastai' is not one of"},
        {"--train-epochs", "0", "--train-epochs expects an integer of at least 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        spawn_result r =
            BENCH("--study", "--out", LSUV_TEST_TMP "/never", cases[i][0], cases[i][1]);
        cr_assert_eq(r.exit_code, 2, "%s %s: %d", cases[i][0], cases[i][1], r.exit_code);
        cr_assert_not_null(strstr(r.err, cases[i][2]), "%s", r.err);
        spawn_result_free(&r);
    }
    spawn_result r = BENCH("--study", "--seeds", "1");
    cr_assert_eq(r.exit_code, 2);
    cr_assert_not_null(strstr(r.err, "--study needs --out DIR"), "%s", r.err);
    spawn_result_free(&r);
    r = BENCH("--lsuv", "--seeds", "1");
    cr_assert_eq(r.exit_code, 2);
    cr_assert_not_null(strstr(r.err, "--seeds goes with --study"), "%s", r.err);
    spawn_result_free(&r);
    r = BENCH("--study", "--out", LSUV_TEST_TMP "/never", "--net", "fastai@16", "--batches", "64");
    cr_assert_eq(r.exit_code, 2);
    cr_assert_not_null(strstr(r.err, "--net fastai@16: a study with --batches"), "%s", r.err);
    spawn_result_free(&r);
    cr_assert_neq(access(LSUV_TEST_TMP "/never", F_OK), 0, "a refused study wrote its folder");
}
