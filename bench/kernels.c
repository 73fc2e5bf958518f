#include "kernels.h"

#include "lsuv/clock.h"
#include "lsuv/rng.h"
#include "lsuv/stats.h"
#include "summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct timing {
    summary gpu_s;  /* per run, from timestamps */
    summary wall_s; /* per run, submit to fence */
} timing;

typedef void (*record_fn)(lsuv_cmd *cmd, void *ctx);

/* One warm-up, then repeats runs, each its own submission bracketed by two
 * timestamps. */
static lsuv_status time_runs(lsuv_device *dev, uint32_t repeats, record_fn record, void *ctx,
                             timing *out) {
    lsuv_cmd *cmd = NULL;
    lsuv_timer *timer = NULL;
    double *gpu = calloc(repeats, sizeof *gpu), *wall = calloc(repeats, sizeof *wall);
    lsuv_status s = gpu && wall ? LSUV_OK : LSUV_ERROR_OUT_OF_MEMORY;
    if (s == LSUV_OK) s = lsuv_cmd_begin(dev, &cmd);
    if (s == LSUV_OK) s = lsuv_timer_create(dev, 2, &timer);
    for (uint32_t r = 0; s == LSUV_OK && r <= repeats; ++r) {
        lsuv_timer_reset(timer, cmd);
        lsuv_timer_mark(timer, cmd, 0);
        record(cmd, ctx);
        lsuv_timer_mark(timer, cmd, 1);
        double t0 = lsuv_wall_seconds();
        s = lsuv_cmd_submit(cmd);
        double t1 = lsuv_wall_seconds();
        double ns = 0.0;
        if (s == LSUV_OK) s = lsuv_timer_elapsed_ns(timer, 0, 1, &ns);
        if (s == LSUV_OK && r > 0) {
            gpu[r - 1] = ns * 1e-9;
            wall[r - 1] = t1 - t0;
        }
    }
    if (s == LSUV_OK) {
        out->gpu_s = summary_of(gpu, repeats);
        out->wall_s = summary_of(wall, repeats);
    }
    lsuv_timer_destroy(timer);
    lsuv_cmd_destroy(cmd);
    free(gpu);
    free(wall);
    return s;
}

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

int bench_kernels(lsuv_instance *inst, uint32_t index, const kernel_options *opt, FILE *table,
                  cJSON *entries) {
    lsuv_device *dev = NULL;
    lsuv_buffer *src = NULL, *dst = NULL, *result = NULL;
    lsuv_stats *stats = NULL;
    lsuv_stats_plan *plan = NULL;
    float *host = NULL;
    uint64_t n = opt->bytes / sizeof(float);
    timing copy_t, stats_t;

    lsuv_status s = lsuv_device_create(inst, index, &dev);
    if (s == LSUV_OK) s = lsuv_buffer_create(dev, n * sizeof(float), &src);
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
    if (s == LSUV_OK) s = time_runs(dev, opt->repeats, record_copy, &copy, &copy_t);
    if (s == LSUV_OK) s = time_runs(dev, opt->repeats, record_stats, plan, &stats_t);

    int code = 0;
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s: %s\n", lsuv_instance_device_info(inst, index)->name,
                lsuv_error_message());
        code = s == LSUV_ERROR_UNSUPPORTED ? 2 : 1;
    } else if (!(copy_t.gpu_s.min > 0.0) || !(stats_t.gpu_s.min > 0.0)) {
        fprintf(stderr, "lsuv-bench: %s reported a zero GPU time; its timestamps cannot be used\n",
                lsuv_instance_device_info(inst, index)->name);
        code = 1;
    } else {
        const char *name = lsuv_device_get_info(dev)->name;
        uint64_t bytes = n * sizeof(float);
        summary copy_rate = rate_of(&copy_t.gpu_s, bytes);
        summary stats_rate = rate_of(&stats_t.gpu_s, bytes);
        fprintf(table, "%-34.34s %-6s %9.2f %9.2f %9.2f %9.3f\n", name, "copy", copy_rate.median,
               copy_rate.min, copy_rate.max, copy_t.gpu_s.median * 1e3);
        fprintf(table, "%-34s %-6s %9.2f %9.2f %9.2f %9.3f   %.2f of copy\n", "", "stats",
               stats_rate.median, stats_rate.min, stats_rate.max, stats_t.gpu_s.median * 1e3,
               stats_rate.median / copy_rate.median);
        entry_add(entries, "copy", name, &copy_rate, &copy_t, bytes);
        cJSON *e = entry_add(entries, "stats", name, &stats_rate, &stats_t, bytes);
        cJSON_AddNumberToObject(e, "copy_gbps", copy_rate.median);
        cJSON_AddNumberToObject(e, "dispatches", lsuv_stats_plan_dispatches(plan));
    }
    free(host);
    lsuv_stats_plan_destroy(plan);
    lsuv_stats_destroy(stats);
    lsuv_buffer_destroy(result);
    lsuv_buffer_destroy(dst);
    lsuv_buffer_destroy(src);
    lsuv_device_destroy(dev);
    return code;
}
