/* The statistics kernel against the fp64 reference, on the test device. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsuv/ref.h"
#include "lsuv/rng.h"
#include "lsuv/stats.h"
#include "support/gpu.h"

/* Error allowed for a pairwise merge over n values: the tree has log2(n)
 * levels and each adds at most about one rounding of eps * (|mean| + std).
 * The sequential runs inside an invocation (up to 256 values per
 * accumulator) stay within it in practice. Measured on lavapipe: the worst
 * case of these tests is 0.24 * log2(n) * eps * (|mean| + std), so C = 0.5
 * leaves a factor of two. */
static const double C = 0.5;
static double bound_for(size_t n, const lsuv_moments *ref) {
    double levels = n > 2 ? log2((double)n) : 1.0;
    return C * levels * FLT_EPSILON * (fabs(ref->mean) + ref->std_population);
}

/* The two-pass method in the same model, s the population std. Its first
 * pass is the naive fp32 sum: the mean m it leaves is off by delta, within
 * bound_for plus the 2.5 ulp of the shader's division (Vulkan's precision
 * of OpFDiv). The second pass sums d = x - m and d^2, within C log2(n) eps of
 * the sums of their magnitudes, n sqrt(s^2 + delta^2) and n (s^2 + delta^2),
 * as sum d = -n delta. So the mean m + sum d / n is off by at most
 * C log2(n) eps sqrt(s^2 + delta^2), and M2 = sum d^2 - (sum d)^2 / n by
 * C log2(n) eps n s^2 (r + sqrt(1 + r^2))^2 with r = delta / s: the std
 * (either) by half that relatively. r is small unless the data's mean
 * dwarfs its std by some 1 / (C log2(n) eps). */
static void twopass_bounds(size_t n, const lsuv_moments *ref, double *mean_bound,
                           double *std_relative_bound) {
    double levels = n > 2 ? log2((double)n) : 1.0;
    double s = ref->std_population;
    double delta = bound_for(n, ref) + 2.5 * FLT_EPSILON * fabs(ref->mean);
    double r = delta / s, growth = r + sqrt(1.0 + r * r);
    *mean_bound = C * levels * FLT_EPSILON * sqrt(s * s + delta * delta);
    *std_relative_bound = 0.5 * C * levels * FLT_EPSILON * growth * growth;
}

/* Moments of x[0..n) placed at float offset first of a device buffer. */
static lsuv_moments device_moments(const lsuv_stats_options *opt, const float *x, size_t n,
                                   size_t first, uint32_t *dispatches) {
    lsuv_stats *stats = NULL;
    lsuv_buffer *input = NULL, *result = NULL;
    lsuv_stats_plan *plan = NULL;
    lsuv_cmd *cmd = NULL;
    lsuv_moments m;
    TEST_OK(lsuv_stats_create(gpu.device, opt, &stats));
    TEST_OK(lsuv_buffer_create(gpu.device, (first + n) * sizeof(float), &input));
    TEST_OK(lsuv_buffer_write(input, first * sizeof(float), x, n * sizeof(float)));
    TEST_OK(lsuv_buffer_create(gpu.device, 2 * LSUV_STATS_RESULT_BYTES, &result));
    TEST_OK(lsuv_stats_plan_create(stats, input, first, n, result, 1, &plan));
    if (dispatches) *dispatches = lsuv_stats_plan_dispatches(plan);
    TEST_OK(lsuv_cmd_begin(gpu.device, &cmd));
    lsuv_stats_plan_record(plan, cmd);
    TEST_OK(lsuv_cmd_submit(cmd));
    TEST_OK(lsuv_stats_result_read(stats, result, 1, &m));
    lsuv_cmd_destroy(cmd);
    lsuv_stats_plan_destroy(plan);
    lsuv_buffer_destroy(result);
    lsuv_buffer_destroy(input);
    lsuv_stats_destroy(stats);
    return m;
}

static float *normal_data(size_t n, uint64_t seed, double mean, double std) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    cr_assert_not_null(x);
    lsuv_rng rng;
    lsuv_rng_seed(&rng, seed);
    lsuv_rng_fill_normal(&rng, x, n, mean, std);
    return x;
}

static void assert_close(const char *what, double got, double want, double bound, size_t n) {
    cr_assert(fabs(got - want) <= bound,
              "n=%zu %s: device %.9g, reference %.9g, error %.3g > bound %.3g", n, what, got, want,
              fabs(got - want), bound);
}

static void check_length(const lsuv_stats_options *opt, size_t n, size_t first) {
    float *x = normal_data(n, 1000 + n, 0.5, 2.0);
    lsuv_moments ref, got = device_moments(opt, x, n, first, NULL);
    lsuv_ref_moments(x, n, &ref);
    cr_assert_eq(got.count, n);
    cr_assert_eq(got.nonfinite, 0);
    double bound = bound_for(n, &ref);
    assert_close("mean", got.mean, ref.mean, bound, n);
    assert_close("population std", got.std_population, ref.std_population, bound, n);
    if (n > 1)
        assert_close("std", got.std, ref.std, bound, n);
    else
        cr_assert(isnan(got.std), "the unbiased std of one value is NaN, as in torch");
    free(x);
}

static void check_lengths(const lsuv_stats_options *opt) {
    static const size_t lengths[] = {1, 2, 7, 255, 256, 257, 1000003};
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; ++i) check_length(opt, lengths[i], 0);
}

GPU_TEST(stats, lengths_subgroup_merge_texel_input) {
    /* lavapipe's own choices: subgroup shuffles, input through texels. */
    lsuv_stats_options opt = {.input = LSUV_STATS_INPUT_TEXEL};
    check_lengths(&opt);
}

GPU_TEST(stats, lengths_shared_memory_merge) {
    lsuv_stats_options opt = {.force_shared = true};
    check_lengths(&opt);
}

GPU_TEST(stats, lengths_storage_input) {
    /* The input path a GPU takes. */
    lsuv_stats_options opt = {.input = LSUV_STATS_INPUT_STORAGE};
    check_lengths(&opt);
}

GPU_TEST(stats, range_not_on_a_vec4) {
    /* A range starting off a 16-byte boundary takes the careful path and an
     * aligned-down descriptor. */
    lsuv_stats_options opt = {0};
    check_length(&opt, 100003, 3);
    check_length(&opt, 77, 1);
}

static void check_chunked(lsuv_stats_input input) {
    /* 64 KiB chunks: a million floats span dozens of dispatches whose
     * partials merge with the same formula. */
    lsuv_stats_options opt = {.max_chunk_bytes = 64 << 10, .input = input};
    size_t n = 1000003;
    float *x = normal_data(n, 7, -3.0, 0.5);
    uint32_t dispatches = 0;
    lsuv_moments ref, got = device_moments(&opt, x, n, 8, &dispatches);
    lsuv_ref_moments(x, n, &ref);
    cr_assert_geq(dispatches, n * 4 / (64 << 10), "only %u dispatches: not chunked", dispatches);
    double bound = bound_for(n, &ref);
    assert_close("mean", got.mean, ref.mean, bound, n);
    assert_close("std", got.std, ref.std, bound, n);
    free(x);
}

GPU_TEST(stats, chunked_texel_input) {
    check_chunked(LSUV_STATS_INPUT_TEXEL);
}

GPU_TEST(stats, chunked_storage_input) {
    check_chunked(LSUV_STATS_INPUT_STORAGE);
}

GPU_TEST(stats, twopass_lengths) {
    /* From one value (a lone workgroup: each pass still ends in a combine,
     * so the second never writes the slot it reads) to many workgroups. */
    lsuv_stats_options opt = {.method = LSUV_STATS_TWOPASS};
    check_lengths(&opt);
}

GPU_TEST(stats, twopass_chunked) {
    /* As check_chunked, within the two-pass bound: both passes span the
     * same dozens of dispatches. */
    static const lsuv_stats_input inputs[] = {LSUV_STATS_INPUT_TEXEL, LSUV_STATS_INPUT_STORAGE};
    size_t n = 1000003;
    float *x = normal_data(n, 7, -3.0, 0.5);
    lsuv_moments ref;
    lsuv_ref_moments(x, n, &ref);
    double mean_bound, std_bound;
    twopass_bounds(n, &ref, &mean_bound, &std_bound);
    for (int i = 0; i < 2; ++i) {
        lsuv_stats_options opt = {.max_chunk_bytes = 64 << 10, .input = inputs[i]};
        uint32_t naive_dispatches = 0, dispatches = 0;
        opt.method = LSUV_STATS_NAIVE;
        device_moments(&opt, x, n, 8, &naive_dispatches);
        opt.method = LSUV_STATS_TWOPASS;
        lsuv_moments got = device_moments(&opt, x, n, 8, &dispatches);
        cr_assert_geq(naive_dispatches, n * 4 / (64 << 10), "only %u dispatches: not chunked",
                      naive_dispatches);
        cr_assert_eq(dispatches, 2 * naive_dispatches, "%u dispatches, not twice naive's %u",
                     dispatches, naive_dispatches);
        cr_assert_eq(got.count, n);
        assert_close("mean", got.mean, ref.mean, mean_bound, n);
        assert_close("std", got.std, ref.std, std_bound * ref.std, n);
        assert_close("population std", got.std_population, ref.std_population,
                     std_bound * ref.std_population, n);
    }
    free(x);
}

GPU_TEST(stats, constant_input_has_zero_std) {
    size_t n = 100000;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; ++i) x[i] = 3.25f;
    lsuv_stats_options opt = {0};
    lsuv_moments got = device_moments(&opt, x, n, 0, NULL);
    cr_assert_eq(got.mean, 3.25);
    cr_assert_eq(got.std, 0.0, "std %.9g, not exactly 0", got.std);
    cr_assert_eq(got.std_population, 0.0);
    free(x);
}

/* Mean about 1e4, std 1e-2: the relative error of the std must stay below
 * 1e-3. */
static double large_offset_std_error(lsuv_stats_method method, double mean, lsuv_moments *ref) {
    size_t n = 1000000;
    float *x = normal_data(n, 11, mean, 1e-2);
    lsuv_stats_options opt = {.method = method};
    lsuv_moments got = device_moments(&opt, x, n, 0, NULL);
    lsuv_ref_moments(x, n, ref);
    free(x);
    cr_log_info("method %d, mean %.9g: std %.9g, reference %.9g", (int)method, mean, got.std,
                ref->std);
    return fabs(got.std - ref->std) / ref->std;
}

GPU_TEST(stats, large_offset_welford_keeps_precision) {
    lsuv_moments ref;
    double err = large_offset_std_error(LSUV_STATS_WELFORD, 1e4, &ref);
    cr_assert_lt(err, 1e-3, "relative std error %.3g", err);
}

GPU_TEST(stats, large_offset_naive_loses_it) {
    /* The fp32 sum of squares cancels catastrophically here: this is why
     * the kernel is Welford's. */
    lsuv_moments ref;
    double err = large_offset_std_error(LSUV_STATS_NAIVE, 1e4, &ref);
    cr_assert_gt(err, 1e-3, "naive sums unexpectedly precise: relative std error %.3g", err);
}

GPU_TEST(stats, large_offset_twopass_keeps_precision) {
    /* The second pass sums deviations from the first pass's mean m, off
     * from the data's by a fraction of the std: the naive sums' cancellation
     * is gone. At mean 1e4, m lands within 0.002 std of it (1e4 is a float);
     * half an ulp of 1e4 higher, m is a float 0.05 std away, so that the
     * correction -(sum d)^2 / n matters (1.3e-3 of the std without it).
     * Measured on lavapipe: 0.12 and 0.08 eps, against a bound of 53. */
    static const double means[] = {1e4, 1e4 + 0x1p-11};
    for (int i = 0; i < 2; ++i) {
        lsuv_moments ref;
        double err = large_offset_std_error(LSUV_STATS_TWOPASS, means[i], &ref);
        double mean_bound, std_bound;
        twopass_bounds(1000000, &ref, &mean_bound, &std_bound);
        cr_assert_leq(err, std_bound,
                      "mean %.9g: relative std error %.3g (%.3g eps) > bound %.3g (%.3g eps)",
                      means[i], err, err / FLT_EPSILON, std_bound, std_bound / FLT_EPSILON);
    }
}

static void check_nonfinite(const lsuv_stats_options *opt) {
    size_t n = 300001;
    float *x = normal_data(n, 3, 0.0, 1.0);
    /* One in a full group (the fast path), one in the tail (careful path). */
    x[1234] = NAN;
    x[n - 2] = INFINITY;
    lsuv_moments got = device_moments(opt, x, n, 0, NULL);
    cr_assert_eq(got.nonfinite, 2);
    cr_assert_eq(got.count, n - 2);
    cr_assert(isnan(got.mean) && isnan(got.std), "moments of data with NaN must be NaN");
    free(x);
}

GPU_TEST(stats, nonfinite_values_are_reported) {
    lsuv_stats_options opt = {0};
    check_nonfinite(&opt);
}

GPU_TEST(stats, twopass_nonfinite_values_are_reported) {
    /* Counted once, by the second pass, and kept out of the first's mean. */
    lsuv_stats_options opt = {.method = LSUV_STATS_TWOPASS, .input = LSUV_STATS_INPUT_TEXEL};
    check_nonfinite(&opt);
    opt.input = LSUV_STATS_INPUT_STORAGE;
    check_nonfinite(&opt);
}

GPU_TEST(stats, bit_identical_runs) {
    size_t n = 1 << 20;
    float *x = normal_data(n, 5, 1.0, 3.0);
    lsuv_stats_options opt = {0};
    lsuv_moments a = device_moments(&opt, x, n, 0, NULL);
    lsuv_moments b = device_moments(&opt, x, n, 0, NULL);
    cr_assert(memcmp(&a, &b, sizeof a) == 0, "two runs differ: %.17g/%.17g vs %.17g/%.17g", a.mean,
              a.std, b.mean, b.std);
    free(x);
}

GPU_TEST(stats, plan_recorded_twice_in_one_submission) {
    /* Recording a plan again must wait for the last recording's reads of its
     * scratch: synchronization validation checks the barriers. */
    size_t n = 200000;
    float *x = normal_data(n, 9, 2.0, 1.0);
    lsuv_stats *stats;
    lsuv_buffer *input, *result;
    lsuv_stats_plan *plan;
    lsuv_cmd *cmd;
    TEST_OK(lsuv_stats_create(gpu.device, NULL, &stats));
    TEST_OK(lsuv_buffer_create(gpu.device, n * sizeof(float), &input));
    TEST_OK(lsuv_buffer_write(input, 0, x, n * sizeof(float)));
    TEST_OK(lsuv_buffer_create(gpu.device, LSUV_STATS_RESULT_BYTES, &result));
    TEST_OK(lsuv_stats_plan_create(stats, input, 0, n, result, 0, &plan));
    TEST_OK(lsuv_cmd_begin(gpu.device, &cmd));
    lsuv_stats_plan_record(plan, cmd);
    lsuv_stats_plan_record(plan, cmd);
    TEST_OK(lsuv_cmd_submit(cmd));
    lsuv_moments ref, got;
    TEST_OK(lsuv_stats_result_read(stats, result, 0, &got));
    lsuv_ref_moments(x, n, &ref);
    assert_close("mean", got.mean, ref.mean, bound_for(n, &ref), n);
    lsuv_cmd_destroy(cmd);
    lsuv_stats_plan_destroy(plan);
    lsuv_buffer_destroy(result);
    lsuv_buffer_destroy(input);
    lsuv_stats_destroy(stats);
    free(x);
}

GPU_TEST(stats, bad_ranges_are_refused) {
    lsuv_stats *stats;
    lsuv_buffer *input, *result;
    lsuv_stats_plan *plan = NULL;
    TEST_OK(lsuv_stats_create(gpu.device, NULL, &stats));
    TEST_OK(lsuv_buffer_create(gpu.device, 400, &input));
    TEST_OK(lsuv_buffer_create(gpu.device, LSUV_STATS_RESULT_BYTES, &result));
    cr_assert_eq(lsuv_stats_plan_create(stats, input, 0, 0, result, 0, &plan), LSUV_ERROR_INVALID);
    cr_assert_eq(lsuv_stats_plan_create(stats, input, 50, 51, result, 0, &plan),
                 LSUV_ERROR_INVALID);
    cr_assert(strstr(lsuv_error_message(), "outside"), "message: %s", lsuv_error_message());
    cr_assert_eq(lsuv_stats_plan_create(stats, input, 0, 100, result, 1, &plan),
                 LSUV_ERROR_INVALID);
    cr_assert_null(plan);
    lsuv_buffer_destroy(result);
    lsuv_buffer_destroy(input);
    lsuv_stats_destroy(stats);
}

GPU_TEST(stats, twopass_merge_is_refused) {
    /* A merge has only partials: there is no input to read a second time. */
    lsuv_stats *stats, *welford;
    lsuv_buffer *partials, *result;
    lsuv_stats_plan *plan = NULL;
    lsuv_stats_options opt = {.method = LSUV_STATS_TWOPASS};
    TEST_OK(lsuv_stats_create(gpu.device, &opt, &stats));
    TEST_OK(lsuv_stats_create(gpu.device, NULL, &welford));
    TEST_OK(lsuv_buffer_create(gpu.device, 4 * LSUV_STATS_RESULT_BYTES, &partials));
    TEST_OK(lsuv_buffer_create(gpu.device, LSUV_STATS_RESULT_BYTES, &result));
    /* The same merge is fine for the default method. */
    TEST_OK(lsuv_stats_plan_create_merge(welford, partials, 0, 4, result, 0, &plan));
    lsuv_stats_plan_destroy(plan);
    cr_assert_eq(lsuv_stats_plan_create_merge(stats, partials, 0, 4, result, 0, &plan),
                 LSUV_ERROR_INVALID);
    cr_assert_null(plan);
    cr_assert(strstr(lsuv_error_message(), "two-pass"), "message: %s", lsuv_error_message());
    lsuv_buffer_destroy(result);
    lsuv_buffer_destroy(partials);
    lsuv_stats_destroy(welford);
    lsuv_stats_destroy(stats);
}
