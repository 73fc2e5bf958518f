#include "kernels.h"

#include "app/exit_codes.h"
#include "core/clock.h"
#include "lsuv/rng.h"
#include "lsuv/stats.h"
#include "summary.h"
#include "timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct copy_ctx {
    lsuv_buffer *src, *dst;
    uint64_t bytes;
} copy_ctx;

static void record_copy(lsuv_cmd *cmd, void *p) {
    copy_ctx *c = p;
    lsuv_cmd_barrier(cmd);
    lsuv_cmd_copy(cmd, c->src, 0, c->dst, 0, c->bytes);
}

static void record_stats(lsuv_cmd *cmd, void *p) {
    lsuv_stats_plan_record(p, cmd);
}

/* GB/s of a buffer of bytes moved in each run time; the median rate comes
 * from the median time, the slowest rate from the longest. */
static summary rate_of(const summary *seconds, uint64_t bytes) {
    summary r = {bytes / seconds->median * 1e-9, bytes / seconds->max * 1e-9,
                 bytes / seconds->min * 1e-9, seconds->n};
    return r;
}

static cJSON *entry_add(cJSON *entries, const char *name, const char *device, const summary *rate,
                        const timing *t, uint64_t bytes) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "device", device);
    cJSON_AddNumberToObject(o, "gbps", rate->median);
    cJSON_AddNumberToObject(o, "gbps_min", rate->min);
    cJSON_AddNumberToObject(o, "gbps_max", rate->max);
    cJSON_AddNumberToObject(o, "gpu_ms", t->gpu_s.median * 1e3);
    cJSON_AddNumberToObject(o, "wall_ms", t->wall_s.median * 1e3);
    cJSON_AddNumberToObject(o, "bytes", (double)bytes);
    cJSON_AddNumberToObject(o, "repeats", (double)rate->n);
    cJSON_AddItemToArray(entries, o);
    return o;
}

/* The statistics kernel against vkCmdCopyBuffer on one buffer. */
static int bench_memory(lsuv_device *dev, const kernel_options *opt, FILE *table, cJSON *entries) {
    lsuv_buffer *src = NULL, *dst = NULL, *result = NULL;
    lsuv_stats *stats = NULL;
    lsuv_stats_plan *plan = NULL;
    float *host = NULL;
    uint64_t n = opt->bytes / sizeof(float);

    lsuv_status s = lsuv_buffer_create(dev, n * sizeof(float), &src);
    if (s == LSUV_OK) s = lsuv_buffer_create(dev, n * sizeof(float), &dst);
    if (s == LSUV_OK) s = lsuv_buffer_create(dev, LSUV_STATS_RESULT_BYTES, &result);
    if (s == LSUV_OK && !(host = malloc(n * sizeof *host))) s = LSUV_ERROR_OUT_OF_MEMORY;
    if (s == LSUV_OK) {
        lsuv_rng rng;
        lsuv_rng_seed(&rng, 1);
        lsuv_rng_fill_normal(&rng, host, n, 0.0, 1.0);
        s = lsuv_buffer_write(src, 0, host, n * sizeof(float));
    }
    if (s == LSUV_OK) s = lsuv_stats_create(dev, NULL, &stats);
    if (s == LSUV_OK) s = lsuv_stats_plan_create(stats, src, 0, n, result, 0, &plan);
    copy_ctx copy = {src, dst, n * sizeof(float)};
    uint32_t R = opt->repeats;
    double *samples = calloc(5 * (size_t)R, sizeof *samples);
    if (s == LSUV_OK && !samples) s = LSUV_ERROR_OUT_OF_MEMORY;
    bench_case cases[2] = {
        {record_copy, &copy, samples, samples + R},
        {record_stats, plan, samples + 2 * R, samples + 3 * R},
    };
    if (s == LSUV_OK) s = time_cases(dev, R, cases, 2);
    timing copy_t = {0}, stats_t = {0};
    summary ratio = {0};
    if (s == LSUV_OK) {
        /* The stats/copy rate ratio of each round, before the sorts below. */
        double *ratios = samples + 4 * R;
        for (uint32_t r = 0; r < R; ++r) ratios[r] = cases[0].gpu_s[r] / cases[1].gpu_s[r];
        ratio = summary_of(ratios, R);
        copy_t = (timing){summary_of(cases[0].gpu_s, R), summary_of(cases[0].wall_s, R)};
        stats_t = (timing){summary_of(cases[1].gpu_s, R), summary_of(cases[1].wall_s, R)};
    }

    int code = EXIT_OK;
    if (s != LSUV_OK) {
        code = bench_fail(dev, s);
    } else if (!(copy_t.gpu_s.min > 0.0) || !(stats_t.gpu_s.min > 0.0)) {
        code = bench_zero_time(dev);
    } else {
        const char *name = lsuv_device_get_info(dev)->name;
        uint64_t bytes = n * sizeof(float);
        summary copy_rate = rate_of(&copy_t.gpu_s, bytes);
        summary stats_rate = rate_of(&stats_t.gpu_s, bytes);
        fprintf(table, "%-34.34s %-6s %9.2f %9.2f %9.2f %9.3f\n", name, "copy", copy_rate.median,
                copy_rate.min, copy_rate.max, copy_t.gpu_s.median * 1e3);
        fprintf(table, "%-34s %-6s %9.2f %9.2f %9.2f %9.3f   %.2f of copy (%.2f-%.2f)\n", "",
                "stats", stats_rate.median, stats_rate.min, stats_rate.max,
                stats_t.gpu_s.median * 1e3, ratio.median, ratio.min, ratio.max);
        entry_add(entries, "copy", name, &copy_rate, &copy_t, bytes);
        cJSON *e = entry_add(entries, "stats", name, &stats_rate, &stats_t, bytes);
        cJSON_AddNumberToObject(e, "copy_gbps", copy_rate.median);
        cJSON_AddNumberToObject(e, "ratio_to_copy", ratio.median);
        cJSON_AddNumberToObject(e, "ratio_to_copy_min", ratio.min);
        cJSON_AddNumberToObject(e, "ratio_to_copy_max", ratio.max);
        cJSON_AddNumberToObject(e, "dispatches", lsuv_stats_plan_dispatches(plan));
    }
    free(samples);
    free(host);
    lsuv_stats_plan_destroy(plan);
    lsuv_stats_destroy(stats);
    lsuv_buffer_destroy(result);
    lsuv_buffer_destroy(dst);
    lsuv_buffer_destroy(src);
    return code;
}

int bench_kernels(lsuv_instance *inst, uint32_t index, const kernel_options *opt, FILE *table,
                  cJSON *entries) {
    lsuv_device *dev = NULL;
    lsuv_status s = lsuv_device_create(inst, index, &dev);
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s: %s\n", lsuv_instance_device_info(inst, index)->name,
                lsuv_error_message());
        return app_exit_code(s, APP_FAILED_DEVICE);
    }
    if (lsuv_device_cache_warning(dev))
        fprintf(stderr, "lsuv-bench: warning: %s\n", lsuv_device_cache_warning(dev));
    int code = bench_memory(dev, opt, table, entries);
    int compute = bench_compute(dev, opt, table, entries);
    lsuv_device_destroy(dev);
    return code ? code : compute;
}
