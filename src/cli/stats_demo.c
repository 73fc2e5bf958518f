#include "cli/cli.h"
#include "core/clock.h"
#include "lsuv/ref.h"
#include "lsuv/rng.h"
#include "lsuv/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* relu of a standard normal: mean 1/sqrt(2 pi), variance 1/2 - 1/(2 pi). */
static const double relu_normal_mean = 0.3989422804014327;
static const double relu_normal_std = 0.5838348623742219;

static int run_stats(lsuv_instance *inst, uint32_t index, const float *x, uint64_t n,
                     const lsuv_moments *ref) {
    lsuv_device *dev = NULL;
    lsuv_buffer *input = NULL, *result = NULL;
    lsuv_stats *stats = NULL;
    lsuv_stats_plan *plan = NULL;
    lsuv_cmd *cmd = NULL;
    lsuv_timer *timer = NULL;
    lsuv_moments gpu;
    double gpu_ns = NAN, wall = 0.0;

    lsuv_status s = lsuv_device_create(inst, index, &dev);
    if (s == LSUV_OK && lsuv_device_cache_warning(dev))
        fprintf(stderr, "lsuv-vk: warning: %s\n", lsuv_device_cache_warning(dev));
    if (s == LSUV_OK) s = lsuv_buffer_create(dev, n * sizeof(float), &input);
    if (s == LSUV_OK) s = lsuv_buffer_write(input, 0, x, n * sizeof(float));
    if (s == LSUV_OK) s = lsuv_buffer_create(dev, LSUV_STATS_RESULT_BYTES, &result);
    if (s == LSUV_OK) s = lsuv_stats_create(dev, NULL, &stats);
    if (s == LSUV_OK) s = lsuv_stats_plan_create(stats, input, 0, n, result, 0, &plan);
    if (s == LSUV_OK) s = lsuv_cmd_begin(dev, &cmd);
    bool timed = s == LSUV_OK && lsuv_timer_create(dev, 2, &timer) == LSUV_OK;
    if (s == LSUV_OK) {
        if (timed) {
            lsuv_timer_reset(timer, cmd);
            lsuv_timer_mark(timer, cmd, 0);
        }
        lsuv_stats_plan_record(plan, cmd);
        if (timed) lsuv_timer_mark(timer, cmd, 1);
        double t0 = lsuv_wall_seconds();
        s = lsuv_cmd_submit(cmd);
        wall = lsuv_wall_seconds() - t0;
    }
    if (s == LSUV_OK && timed) s = lsuv_timer_elapsed_ns(timer, 0, 1, &gpu_ns);
    if (s == LSUV_OK) s = lsuv_stats_result_read(stats, result, 0, &gpu);

    int code = EXIT_OK;
    if (s != LSUV_OK) {
        code = cli_fail(s);
    } else {
        const lsuv_device_info *d = lsuv_device_get_info(dev);
        double scale = fabs(ref->mean) + ref->std;
        double err = fmax(fabs(gpu.mean - ref->mean), fabs(gpu.std - ref->std)) / scale;
        printf("device %u: %s [%s]\n", d->index, d->name, lsuv_device_type_name(d->type));
        printf("  %-12s %14s %14s %14s\n", "", "mean", "std (n-1)", "std (n)");
        printf("  %-12s %14.8f %14.8f %14.8f\n", "device", gpu.mean, gpu.std, gpu.std_population);
        printf("  %-12s %14.8f %14.8f %14.8f\n", "fp64 ref", ref->mean, ref->std,
               ref->std_population);
        printf("  %-12s %14.8f %14.8f\n", "closed form", relu_normal_mean, relu_normal_std);
        printf("  largest error against the reference: %.3g fp32 eps of (|mean| + std)\n",
               err / 0x1p-23);
        printf("  %u dispatches; gpu %.3f ms (timestamps), wall %.3f ms (submit to fence)\n",
               lsuv_stats_plan_dispatches(plan), gpu_ns * 1e-6, wall * 1e3);
    }
    lsuv_timer_destroy(timer);
    lsuv_cmd_destroy(cmd);
    lsuv_stats_plan_destroy(plan);
    lsuv_stats_destroy(stats);
    lsuv_buffer_destroy(result);
    lsuv_buffer_destroy(input);
    lsuv_device_destroy(dev);
    return code;
}

int stats_demo(lsuv_instance *inst, const options *o, const uint32_t *indices, uint32_t count) {
    float *x = malloc(o->count * sizeof *x);
    if (!x) {
        fprintf(stderr, "lsuv-vk: cannot allocate %llu floats\n", (unsigned long long)o->count);
        return EXIT_RUNTIME;
    }
    lsuv_rng rng;
    lsuv_rng_seed(&rng, o->seed);
    lsuv_rng_fill_normal(&rng, x, o->count, 0.0, 1.0);
    for (uint64_t i = 0; i < o->count; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    lsuv_moments ref;
    lsuv_ref_moments(x, o->count, &ref);
    printf("synthetic activations relu(normal(0, 1)): %llu floats, seed %llu\n",
           (unsigned long long)o->count, (unsigned long long)o->seed);
    int code = EXIT_OK;
    for (uint32_t i = 0; i < count && code == EXIT_OK; ++i)
        code = run_stats(inst, indices[i], x, o->count, &ref);
    free(x);
    return code;
}
