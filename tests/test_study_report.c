/* The reporting of lsuv-bench --study: the summary's statistics against
 * closed forms, the files of study_finish, and --merge of shards against
 * the whole, on a small study made up here with known numbers (lsuv-bench
 * --study itself: test_study). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "lsuv/rng.h"
#include "study.h"
#include "study_stats.h"
#include "support/spawn.h"

TestSuite(study_report, .timeout = 300);

/* ---- the statistics ----------------------------------------------------- */

Test(study_report, quantiles_interpolate_the_order_statistics) {
    const double x[] = {1, 2, 4, 8};
    /* h = (n - 1) p; x[floor h] + frac(h) (x[floor h + 1] - x[floor h]) */
    cr_assert_float_eq(study_quantile(x, 4, 0.25), 1.75, 1e-12);
    cr_assert_float_eq(study_quantile(x, 4, 0.5), 3.0, 1e-12);
    cr_assert_float_eq(study_quantile(x, 4, 0.9), 6.8, 1e-12);
    cr_assert_float_eq(study_quantile(x, 4, 0), 1.0, 0);
    cr_assert_float_eq(study_quantile(x, 4, 1), 8.0, 0);
    cr_assert_float_eq(study_quantile(x, 1, 0.3), 1.0, 0);
}

Test(study_report, box_skips_nan_and_orders_the_values) {
    double x[] = {16, NAN, 1, 8, 2, 4, INFINITY};
    study_box b;
    cr_assert(study_box_of(x, 7, &b));
    cr_assert_eq(b.n, 5);
    cr_assert_float_eq(b.median, 4, 0);
    cr_assert_float_eq(b.q1, 2, 0);
    cr_assert_float_eq(b.q3, 8, 0);
    cr_assert_float_eq(b.min, 1, 0);
    cr_assert_float_eq(b.max, 16, 0);
    cr_assert(b.ci_lo <= 4 && 4 <= b.ci_hi && b.ci_lo >= 1 && b.ci_hi <= 16);
    double none[] = {NAN};
    cr_assert(study_box_of(none, 1, &b));
    cr_assert(b.n == 0 && isnan(b.median) && isnan(b.ci_lo));
}

Test(study_report, bootstrap_interval_closed_forms) {
    /* Resamples of {0, 1}: median 0 with probability 1/4, 1/2 with 1/2, 1
     * with 1/4, so 2000 draws put the 2.5% and 97.5% points at 0 and 1. */
    double lo, hi;
    const double two[] = {0, 1};
    cr_assert(study_bootstrap_median(two, 2, 2000, 7, 0.95, &lo, &hi));
    cr_assert_float_eq(lo, 0, 0);
    cr_assert_float_eq(hi, 1, 0);
    /* A 50% interval of the same: the quartiles of those medians. */
    cr_assert(study_bootstrap_median(two, 2, 2000, 7, 0.5, &lo, &hi));
    cr_assert(lo >= 0 && lo <= 0.5 && hi >= 0.5 && hi <= 1, "%g %g", lo, hi);
    const double same[] = {3, 3, 3};
    cr_assert(study_bootstrap_median(same, 3, 100, 7, 0.95, &lo, &hi));
    cr_assert(lo == 3 && hi == 3);
}

Test(study_report, bootstrap_is_reproducible_and_holds_the_median) {
    double x[41];
    for (int i = 0; i < 41; ++i) x[i] = pow(1.3, i % 17) * 1e-3 * (i % 3 + 1);
    study_box b;
    cr_assert(study_box_of(x, 41, &b)); /* x sorted after */
    double lo1, hi1, lo2, hi2;
    cr_assert(study_bootstrap_median(x, 41, 2000, STUDY_BOOT_SEED, 0.95, &lo1, &hi1));
    cr_assert(study_bootstrap_median(x, 41, 2000, STUDY_BOOT_SEED, 0.95, &lo2, &hi2));
    cr_assert(lo1 == lo2 && hi1 == hi2);
    cr_assert(b.ci_lo <= b.median && b.median <= b.ci_hi && b.ci_lo < b.ci_hi, "%g %g %g", b.ci_lo,
              b.median, b.ci_hi);
    cr_assert(b.ci_lo == lo1 && b.ci_hi == hi1, "study_box_of uses the fixed seed");
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The interval as its definition reads: each resample drawn from the seeded
 * generator (an index per uniform), sorted, its median taken. */
static void assert_bootstrap_by_sorting(const double *x, int n) {
    enum { R = 500 };
    double sorted[16], draw[16], medians[R];
    memcpy(sorted, x, (size_t)n * sizeof *x);
    qsort(sorted, (size_t)n, sizeof *sorted, by_value);
    lsuv_rng rng;
    lsuv_rng_seed(&rng, 99);
    for (int r = 0; r < R; ++r) {
        for (int i = 0; i < n; ++i) draw[i] = sorted[(int)(lsuv_rng_uniform(&rng) * n)];
        qsort(draw, (size_t)n, sizeof *draw, by_value);
        medians[r] = 0.5 * (draw[(n - 1) / 2] + draw[n / 2]);
    }
    qsort(medians, R, sizeof *medians, by_value);
    double lo, hi;
    cr_assert(study_bootstrap_median(x, (size_t)n, R, 99, 0.9, &lo, &hi));
    cr_assert_float_eq(lo, study_quantile(medians, R, 0.05), 0, "n = %d", n);
    cr_assert_float_eq(hi, study_quantile(medians, R, 0.95), 0, "n = %d", n);
}

Test(study_report, bootstrap_equals_sorting_each_resample) {
    const double x[] = {0.3, 1e-9, 0, 0.25, 0.7, 0.01, 0.3, 2, 0.05};
    assert_bootstrap_by_sorting(x, 9);
    assert_bootstrap_by_sorting(x, 8);
}

/* ---- a made-up study ---------------------------------------------------- */

/* 2 orders x 2 batches x 5 seeds, layers 0 and 2: case (o * 2 + b) * 5 +
 * seed - 1. Figures are binary fractions, so files print them exactly. */
#define DEVICE "llvmpipe (LLVM 15.0.6, 256 bits)"
static const char *const orders[] = {"mean-first", "std-first"};
static const double batches[] = {64, 512};
enum { SEEDS = 5, CASES = 20 };

static double mean_of(int o, int s, int l) {
    double m = (s % 2 ? 1 : -1) * ldexp(1, s - 1) / 1024 * (l + 1);
    if (o == 0) return m * 64;
    return l == 0 ? m * 1e-6 : 0; /* down to 1e-9, and exact zeros */
}

static cJSON *make_case(int c, bool training) {
    int o = c / 10, b = c / 5 % 2, s = c % 5 + 1;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "case", c);
    cJSON_AddStringToObject(e, "net", "fastai");
    cJSON_AddStringToObject(e, "device", DEVICE);
    cJSON_AddStringToObject(e, "order", orders[o]);
    cJSON_AddNumberToObject(e, "seed", s);
    cJSON_AddNumberToObject(e, "batch", batches[b]);
    cJSON_AddNumberToObject(e, "passes", 3);
    cJSON_AddNumberToObject(e, "ms", 1.5);
    if (training) {
        cJSON *t = cJSON_AddObjectToObject(e, "training");
        cJSON_AddNumberToObject(t, "loss_1", 2.5 - s / 8.0);
        cJSON_AddNumberToObject(t, "loss_10", 1.5 - s / 8.0);
        /* seed 5 diverges after step 10 */
        if (s == 5)
            cJSON_AddNullToObject(t, "loss_100");
        else
            cJSON_AddNumberToObject(t, "loss_100", 0.75 - s / 16.0);
        cJSON_AddBoolToObject(t, "diverged", s == 5);
        cJSON_AddNumberToObject(t, "train_acc", 0.75 + s / 64.0);
        cJSON_AddNumberToObject(t, "test_acc", 0.75 + s / 64.0 + o / 32.0);
    }
    return e;
}

static void add_rows(cJSON *rows, int c) {
    int o = c / 10, b = c / 5 % 2, s = c % 5 + 1;
    for (int l = 0; l <= 2; l += 2) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "case", c);
        cJSON_AddStringToObject(r, "net", "fastai");
        cJSON_AddStringToObject(r, "device", DEVICE);
        cJSON_AddStringToObject(r, "order", orders[o]);
        cJSON_AddNumberToObject(r, "seed", s);
        cJSON_AddNumberToObject(r, "batch", batches[b]);
        cJSON_AddNumberToObject(r, "layer", l);
        cJSON_AddNumberToObject(r, "mean", mean_of(o, s, l));
        cJSON_AddNumberToObject(r, "std", 1 + (s - 3) / 64.0);
        cJSON_AddNumberToObject(r, "eval_mean", -2 * mean_of(o, s, l));
        if (s == 5)
            cJSON_AddNullToObject(r, "eval_std");
        else
            cJSON_AddNumberToObject(r, "eval_std", 1 + (s - 1) / 8.0);
        cJSON_AddNumberToObject(r, "passes", 3);
        cJSON_AddBoolToObject(r, "within_tol", s != 2);
        cJSON_AddNumberToObject(r, "ms", 1.5);
        cJSON_AddItemToArray(rows, r);
    }
}

/* The cases with case % n == part (n = 1: the whole), as --shard makes them. */
static cJSON *make_study(int part, int n, bool training) {
    cJSON *doc = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(doc, "meta");
    cJSON_AddStringToObject(meta, "lsuv_vk_version", "0.0.0");
    cJSON_AddStringToObject(meta, "git_commit", "abc");
    cJSON_AddStringToObject(meta, "date", "2026-11-30T23:00:00Z");
    cJSON_AddStringToObject(meta, "command", "lsuv-bench --study");
    if (n > 1) {
        char shard[16];
        snprintf(shard, sizeof shard, "%d/%d", part + 1, n);
        cJSON_AddStringToObject(meta, "shard", shard);
    } else {
        cJSON_AddNullToObject(meta, "shard");
    }
    cJSON_AddNumberToObject(meta, "cases_total", CASES);
    cJSON_AddStringToObject(meta, "machine", "a test");
    cJSON *cases = cJSON_AddArrayToObject(doc, "cases"),
          *rows = cJSON_AddArrayToObject(doc, "rows");
    for (int c = 0; c < CASES; ++c) {
        if (c % n != part) continue;
        cJSON_AddItemToArray(cases, make_case(c, training));
        add_rows(rows, c);
    }
    if (training) {
        cJSON *t = cJSON_AddObjectToObject(doc, "training");
        cJSON_AddNumberToObject(t, "epochs", 1);
        cJSON_AddNullToObject(t, "skipped");
        cJSON_AddStringToObject(t, "optimizer", "SGD, lr 0.1");
    }
    return doc;
}

static char *tmp_dir(const char *name) {
    char *dir = malloc(512);
    snprintf(dir, 512, "%s/study-%s-%d", LSUV_TEST_TMP, name, (int)getpid());
    return dir;
}

static char *read_text(const char *dir, const char *name) {
    char path[1024], *text;
    size_t n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(lsuv_file_read_all(path, 1 << 26, &text, &n), LSUV_OK, "%s", path);
    return text;
}

static bool exists(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static cJSON *read_doc(const char *dir) {
    char *text = read_text(dir, "study.json");
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(doc);
    return doc;
}

static const cJSON *summary_entry(const cJSON *doc, const char *order, double batch, double layer) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "summary")) {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "order")), order) == 0 &&
            cJSON_GetObjectItem(e, "batch")->valuedouble == batch &&
            cJSON_GetObjectItem(e, "layer")->valuedouble == layer)
            return e;
    }
    cr_assert_fail("no summary entry %s %g %g", order, batch, layer);
    return NULL;
}

static void assert_box(const cJSON *e, const char *key, double n, double median, double q1,
                       double q3, double min, double max) {
    const cJSON *b = cJSON_GetObjectItem(e, key);
    cr_assert_not_null(b, "%s", key);
    const double want[] = {n, median, q1, q3, min, max};
    const char *names[] = {"n", "median", "q1", "q3", "min", "max"};
    for (int i = 0; i < 6; ++i)
        cr_assert_float_eq(cJSON_GetObjectItem(b, names[i])->valuedouble, want[i], 1e-15, "%s.%s",
                           key, names[i]);
    const cJSON *ci = cJSON_GetObjectItem(b, "ci95");
    double lo = cJSON_GetArrayItem(ci, 0)->valuedouble, hi = cJSON_GetArrayItem(ci, 1)->valuedouble;
    cr_assert(min <= lo && lo <= median && median <= hi && hi <= max, "%s: [%g, %g] %g", key, lo,
              hi, median);
}

/* ---- study_finish -------------------------------------------------------- */

Test(study_report, summary_matches_hand_computed_quartiles) {
    cJSON *doc = make_study(0, 1, false);
    char *dir = tmp_dir("summary");
    cr_assert_eq(study_finish(doc, dir), 0);
    cJSON *back = read_doc(dir);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(back, "summary")), 8);
    /* mean-first, layer 0: |mean| = 2^(s-1) / 16 over seeds 1..5 */
    const cJSON *e = summary_entry(back, "mean-first", 64, 0);
    assert_box(e, "abs_mean", 5, 0.25, 0.125, 0.5, 0.0625, 1);
    assert_box(e, "abs_eval_mean", 5, 0.5, 0.25, 1, 0.125, 2);
    /* |std - 1| = |s - 3| / 64 */
    assert_box(e, "abs_std_minus_1", 5, 1 / 64.0, 1 / 64.0, 2 / 64.0, 0, 2 / 64.0);
    /* (s - 1) / 8 over seeds 1..4, the fifth null: quartiles interpolated */
    assert_box(e, "abs_eval_std_minus_1", 4, 0.1875, 0.09375, 0.28125, 0, 0.375);
    /* layer 2: three times layer 0 */
    assert_box(summary_entry(back, "mean-first", 512, 2), "abs_mean", 5, 0.75, 0.375, 1.5, 0.1875,
               3);
    assert_box(summary_entry(back, "std-first", 64, 2), "abs_mean", 5, 0, 0, 0, 0, 0);
    /* The same study again: the same intervals. */
    char *again = tmp_dir("summary-again");
    cr_assert_eq(study_finish(doc, again), 0);
    char *a = read_text(dir, "study.json"), *b = read_text(again, "study.json");
    cr_assert_str_eq(a, b);
    free(a), free(b), free(again), free(dir);
    cJSON_Delete(back);
    cJSON_Delete(doc);
}

Test(study_report, csv_columns_and_rows) {
    cJSON *doc = make_study(0, 1, false);
    char *dir = tmp_dir("csv");
    cr_assert_eq(study_finish(doc, dir), 0);
    char *csv = read_text(dir, "study.csv");
    const char *head = "case,net,device,order,seed,batch,layer,mean,std,eval_mean,eval_std,"
                       "passes,within_tol,ms\n"
                       "0,fastai,\"" DEVICE "\",mean-first,1,64,0,0.0625,0.96875,-0.125,1,3,true,"
                       "1.5\n";
    cr_assert(strncmp(csv, head, strlen(head)) == 0, "%.300s", csv);
    /* seed 5: its eval_std is null, an empty field */
    cr_assert(strstr(csv, "\n4,fastai,\"" DEVICE "\",mean-first,5,64,0,1,1.03125,-2,,3,true,1.5\n"),
              "%s", csv);
    cr_assert(strstr(csv, "\n1,fastai,\"" DEVICE "\",mean-first,2,64,2,-0.375,"), "%s", csv);
    size_t lines = 0;
    for (const char *p = csv; *p; ++p) lines += *p == '\n';
    cr_assert_eq(lines, 1 + 2 * CASES);
    char *summary = read_text(dir, "summary.csv");
    const char *summary_head =
        "net,device,order,batch,layer,quantity,n,median,q1,q3,min,max,ci95_lo,ci95_hi\n"
        "fastai,\"" DEVICE "\",mean-first,64,0,abs_mean,5,0.25,0.125,0.5,0.0625,1,";
    cr_assert(strncmp(summary, summary_head, strlen(summary_head)) == 0, "%.300s", summary);
    free(summary), free(csv), free(dir);
    cJSON_Delete(doc);
}

Test(study_report, report_and_plots) {
    cJSON *doc = make_study(0, 1, true);
    char *dir = tmp_dir("report");
    cr_assert_eq(study_finish(doc, dir), 0);
    char *md = read_text(dir, "study.md");
    cr_assert(strstr(md, "2026-11-30T23:00:00Z") && strstr(md, "a test") &&
                  strstr(md, "`lsuv-bench --study`"),
              "%s", md);
    cr_assert(strstr(md, "| \\|mean\\| fitted | 0.25 ["), "%s", md);
    cr_assert(strstr(md, "| mean-first | std-first |"), "%s", md);
    /* training: loss after 1 step 2.5 - s/8, median at s = 3 */
    cr_assert(strstr(md, "| 64 | mean-first | 5 | 1 | 2.125 (2–2.25) |"), "%s", md);
    /* seed 5 diverged before step 100: the median of the other 4, 0.75 - s/16 */
    cr_assert(strstr(md, "| 0.5938 (0.5469–0.6406; 4 of 5) |"), "%s", md);
    const char *svgs[] = {"mean-fastai-b64.svg", "mean-fastai-b512.svg",  "std-fastai-b64.svg",
                          "batch-fastai.svg",    "batch-eval-fastai.svg", "accuracy-fastai.svg"};
    for (int i = 0; i < 6; ++i) {
        cr_assert(exists(dir, svgs[i]), "%s", svgs[i]);
        cr_assert(strstr(md, svgs[i]), "study.md links %s", svgs[i]);
    }
    /* std-first's exact zeros and 1e-9s on a log axis: a decade below the
     * smallest positive value (9.8e-10), the zeros on the bottom edge */
    char *svg = read_text(dir, "mean-fastai-b64.svg");
    cr_assert(strstr(svg, ">1e-10<") && !strstr(svg, ">1e-11<") && strstr(svg, "bottom edge"),
              "%.2000s", svg);
    cr_assert(!strstr(svg, "nan") && !strstr(svg, "inf"), "%s", svg);
    free(svg), free(md), free(dir);
    cJSON_Delete(doc);
}

Test(study_report, training_skipped_says_why) {
    cJSON *doc = make_study(0, 1, false), *t = cJSON_AddObjectToObject(doc, "training");
    cJSON_AddNumberToObject(t, "epochs", 1);
    cJSON_AddStringToObject(t, "skipped", "no module named torch");
    char *dir = tmp_dir("skipped");
    cr_assert_eq(study_finish(doc, dir), 0);
    char *md = read_text(dir, "study.md");
    cr_assert(strstr(md, "Training skipped: no module named torch"), "%s", md);
    cr_assert(!exists(dir, "accuracy-fastai.svg"));
    free(md), free(dir);
    cJSON_Delete(doc);
}

Test(study_report, no_file_when_one_cannot_be_written) {
    cJSON *doc = make_study(0, 1, false);
    char *dir = tmp_dir("blocked"), path[1024];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    mkdir(dir, 0777);
    cr_assert_eq(mkdir(path, 0777), 0, "%s", path); /* a folder where a file goes */
    cr_assert_neq(study_finish(doc, dir), 0);
    cr_assert(!exists(dir, "study.json") && !exists(dir, "study.csv") && !exists(dir, "study.md"));
    free(dir);
    cJSON_Delete(doc);
}

/* ---- --merge ------------------------------------------------------------ */

static char *write_doc(const char *name, cJSON *doc) {
    char *path = malloc(512);
    snprintf(path, 512, "%s/study-%s-%d.json", LSUV_TEST_TMP, name, (int)getpid());
    char *text = cJSON_Print(doc);
    cr_assert_eq(lsuv_file_write_text(path, text), LSUV_OK, "%s", path);
    free(text);
    cJSON_Delete(doc);
    return path;
}

Test(study_report, merged_shards_equal_the_whole) {
    char *a = write_doc("shard1", make_study(0, 2, true)),
         *b = write_doc("shard2", make_study(1, 2, true));
    char *merged = tmp_dir("merged"), *whole = tmp_dir("whole");
    /* in either order */
    cr_assert_eq(study_merge((const char *const[]){b, a}, 2, merged), 0);
    cJSON *doc = make_study(0, 1, true);
    cr_assert_eq(study_finish(doc, whole), 0);
    const char *same[] = {"study.csv", "summary.csv", "mean-fastai-b64.svg", "batch-fastai.svg",
                          "accuracy-fastai.svg"};
    for (int i = 0; i < 5; ++i) {
        char *x = read_text(merged, same[i]), *y = read_text(whole, same[i]);
        cr_assert_str_eq(x, y, "%s", same[i]);
        free(x), free(y);
    }
    cJSON *m = read_doc(merged), *w = read_doc(whole);
    const cJSON *meta = cJSON_GetObjectItem(m, "meta");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(meta, "shard")));
    const char *command = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "command"));
    cr_assert(strstr(command, "lsuv-bench --merge ") && strstr(command, " --out "), "%s", command);
    cJSON_DeleteItemFromObject(m, "meta");
    cJSON_DeleteItemFromObject(w, "meta");
    cr_assert(cJSON_Compare(m, w, true), "study.json differs beyond meta");
    cJSON_Delete(m), cJSON_Delete(w), cJSON_Delete(doc);
    unlink(a), unlink(b);
    free(a), free(b), free(merged), free(whole);
}

/* lsuv-bench --merge, its exit code and what it says. */
static spawn_result merge_run(const char *x, const char *y, const char *out) {
    return spawn_run((const char *const[]){LSUV_BENCH_BIN, "--merge", x, y, "--out", out, NULL},
                     NULL);
}

Test(study_report, merge_refuses_what_is_not_one_study) {
    char *a = write_doc("r1", make_study(0, 2, false)),
         *b = write_doc("r2", make_study(1, 2, false));
    char *a2 = write_doc("r1-again", make_study(0, 2, false));
    cJSON *other = make_study(1, 2, false);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(other, "meta"), "cases_total",
                              cJSON_CreateNumber(24));
    char *c = write_doc("r-other", other), *out = tmp_dir("refused");

    spawn_result r = merge_run(a, a2, out);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "case 0 is in both") && strstr(r.err, a) && strstr(r.err, a2), "%s",
              r.err);
    spawn_result_free(&r);

    r = spawn_run((const char *const[]){LSUV_BENCH_BIN, "--merge", a, "--out", out, NULL}, NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "10 of 20 cases are in no shard: 1, 3, 5, 7, 9, 11, 13, 15, 17, 19"),
              "%s", r.err);
    spawn_result_free(&r);

    r = merge_run(a, c, out);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, c) && strstr(r.err, "cases_total is 24") && strstr(r.err, a), "%s",
              r.err);
    spawn_result_free(&r);
    cr_assert(!exists(out, "study.json"));

    r = merge_run(a, b, out);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(exists(out, "study.md"));
    spawn_result_free(&r);
    unlink(a), unlink(b), unlink(a2), unlink(c);
    free(a), free(b), free(a2), free(c), free(out);
}

Test(study_report, merge_names_the_file_and_entry_at_fault) {
    cJSON *bad = make_study(1, 2, false);
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(bad, "rows"), 3), "layer");
    char *a = write_doc("f1", make_study(0, 2, false)), *b = write_doc("f2", bad);
    char *out = tmp_dir("fault");
    spawn_result r = merge_run(a, b, out);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, b) && strstr(r.err, "rows[3]: 'layer' is missing"), "%s", r.err);
    spawn_result_free(&r);
    unlink(a), unlink(b);
    free(a), free(b), free(out);
}

/* ---- scripts/readme-study.sh --splice-only ------------------------------- */

static spawn_result splice(const char *readme, const char *study_dir) {
    char env_readme[600], env_out[600];
    snprintf(env_readme, sizeof env_readme, "README=%s", readme);
    snprintf(env_out, sizeof env_out, "STUDY_OUT=%s", study_dir);
    return spawn_run((const char *const[]){"/bin/bash", LSUV_SOURCE_DIR "/scripts/readme-study.sh",
                                           "--splice-only", NULL},
                     (const char *const[]){env_readme, env_out, NULL});
}

Test(study_report, readme_splice_between_the_markers) {
    cJSON *doc = make_study(0, 1, false);
    char *dir = tmp_dir("splice"), readme[600];
    cr_assert_eq(study_finish(doc, dir), 0);
    snprintf(readme, sizeof readme, "%s/README.md", dir);
    cr_assert_eq(lsuv_file_write_text(readme, "# x\n\n<!-- study:begin -->\nold\n"
                                              "<!-- study:end -->\nafter\n"),
                 LSUV_OK);
    for (int twice = 0; twice < 2; ++twice) {
        spawn_result r = splice(readme, dir);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        spawn_result_free(&r);
    }
    char *text = read_text(dir, "README.md");
    cr_assert(strncmp(text, "# x\n\n<!-- study:begin -->\n<!-- generated by", 42) == 0, "%s", text);
    cr_assert(!strstr(text, "old") && !strstr(text, "# LSUV study"), "%s", text);
    cr_assert(strstr(text, "\n### fastai, batch 64, "), "headings a level down: %s", text);
    char link[700];
    snprintf(link, sizeof link, "](%s/mean-fastai-b64.svg)", dir);
    cr_assert(strstr(text, link), "%s", text);
    cr_assert(strstr(text, "\n<!-- study:end -->\nafter\n"), "%s", text);
    cr_assert(strstr(text, "](" LSUV_TEST_TMP), "the CSVs linked too: %s", text);
    free(text);

    cr_assert_eq(lsuv_file_write_text(readme, "# x\n<!-- study:begin -->\n"), LSUV_OK);
    spawn_result r = splice(readme, dir);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "needs exactly one line '<!-- study:begin -->' and one line "
                            "'<!-- study:end -->'"),
              "%s", r.err);
    spawn_result_free(&r);
    free(dir);
    cJSON_Delete(doc);
}
