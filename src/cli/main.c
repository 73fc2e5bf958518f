/* lsuv-vk: the command line. The only place that prints and exits. */
#include "cli/devices_print.h"
#include "lsuv/clock.h"
#include "lsuv/device.h"
#include "lsuv/parse.h"
#include "lsuv/ref.h"
#include "lsuv/rng.h"
#include "lsuv/stats.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exit codes. */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_RUNTIME = 1, /* a Vulkan call, memory or I/O failed */
    EXIT_USAGE = 2,           /* bad arguments or input; no loader or device */
};

static const char usage[] =
    "usage: lsuv-vk [options]\n"
    "\n"
    "Layer-sequential unit-variance initialization on Vulkan devices.\n"
    "Without --list-devices, computes the statistics of a seeded synthetic\n"
    "activation tensor, relu(normal(0, 1)), on each selected device and\n"
    "checks them against the fp64 reference and the closed form.\n"
    "\n"
    "options:\n"
    "  --list-devices      list every Vulkan device and its limits\n"
    "  --json              with --list-devices: print a JSON array\n"
    "  --device SEL        an index, a case-insensitive part of the name, or\n"
    "                      'all' (default: the first non-CPU device, else the CPU)\n"
    "  --count N           floats in the synthetic tensor (default 4194304)\n"
    "  --seed N            seed of the generator (default 0)\n"
    "  --validate          enable VK_LAYER_KHRONOS_validation; any message it\n"
    "                      reports makes the exit code 1\n"
    "  -h, --help          print this help and exit\n"
    "  -V, --version       print the version and exit\n"
    "\n"
    "exit codes: 0 success; 1 a Vulkan, memory or I/O failure; 2 bad arguments,\n"
    "no Vulkan loader, or no matching device.\n";

typedef struct options {
    bool list_devices, json, validate;
    const char *device;
    uint64_t count, seed;
} options;

static int exit_code_for(lsuv_status s) {
    switch (s) {
    case LSUV_OK:
        return EXIT_OK;
    case LSUV_ERROR_NO_LOADER:
    case LSUV_ERROR_NO_DEVICE:
    case LSUV_ERROR_MISSING_LAYER:
    case LSUV_ERROR_INVALID:
    case LSUV_ERROR_PARSE:
        return EXIT_USAGE;
    default:
        return EXIT_FAILURE_RUNTIME;
    }
}

static int fail(lsuv_status s) {
    fprintf(stderr, "lsuv-vk: %s\n", lsuv_error_message());
    return exit_code_for(s);
}

static int parse_u64(const char *flag, const char *text, uint64_t min, uint64_t *out) {
    if (lsuv_parse_u64(flag, text, min, out) == LSUV_OK) return 0;
    fprintf(stderr, "lsuv-vk: %s\n", lsuv_error_message());
    return -1;
}

static int parse_args(int argc, char **argv, options *o) {
    enum { OPT_LIST = 256, OPT_JSON, OPT_DEVICE, OPT_COUNT, OPT_SEED, OPT_VALIDATE };
    static const struct option longs[] = {
        {"list-devices", no_argument, 0, OPT_LIST},
        {"json", no_argument, 0, OPT_JSON},
        {"device", required_argument, 0, OPT_DEVICE},
        {"count", required_argument, 0, OPT_COUNT},
        {"seed", required_argument, 0, OPT_SEED},
        {"validate", no_argument, 0, OPT_VALIDATE},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    *o = (options){.count = 1u << 22};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hV", longs, NULL)) != -1) {
        switch (c) {
        case OPT_LIST:
            o->list_devices = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_DEVICE:
            o->device = optarg;
            break;
        case OPT_COUNT:
            if (parse_u64("--count", optarg, 1, &o->count)) return EXIT_USAGE;
            break;
        case OPT_SEED:
            if (parse_u64("--seed", optarg, 0, &o->seed)) return EXIT_USAGE;
            break;
        case OPT_VALIDATE:
            o->validate = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        case 'V':
            printf("lsuv-vk %s (%s)\n", lsuv_version(), lsuv_git_commit());
            return -1;
        default:
            if (optopt)
                fprintf(stderr, "lsuv-vk: option -%c is unknown or lacks its value\n", optopt);
            else
                fprintf(stderr, "lsuv-vk: option '%s' is unknown or lacks its value\n",
                        argv[optind - 1]);
            fputs("try 'lsuv-vk --help'\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lsuv-vk: unexpected argument '%s'; try 'lsuv-vk --help'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (o->json && !o->list_devices) {
        fprintf(stderr, "lsuv-vk: --json goes with --list-devices\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

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
        code = fail(s);
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

static int stats_demo(lsuv_instance *inst, const options *o, const uint32_t *indices,
                      uint32_t count) {
    float *x = malloc(o->count * sizeof *x);
    if (!x) {
        fprintf(stderr, "lsuv-vk: cannot allocate %llu floats\n", (unsigned long long)o->count);
        return EXIT_FAILURE_RUNTIME;
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

int main(int argc, char **argv) {
    options o;
    int code = parse_args(argc, argv, &o);
    if (code < 0) return EXIT_OK; /* --help or --version */
    if (code != EXIT_OK) return code;

    lsuv_instance *inst = NULL;
    lsuv_instance_options io = {.validation = o.validate};
    lsuv_status s = lsuv_instance_create(&io, &inst);
    if (s != LSUV_OK) return fail(s);

    uint32_t *indices = calloc(lsuv_instance_device_count(inst), sizeof *indices);
    uint32_t selected = 0;
    if (!indices) {
        fprintf(stderr, "lsuv-vk: out of memory\n");
        code = EXIT_FAILURE_RUNTIME;
    } else if (o.list_devices && !o.device) {
        if (o.json) {
            if (devices_print_json(inst, stdout)) code = EXIT_FAILURE_RUNTIME;
        } else {
            devices_print_text(inst, stdout);
        }
    } else if ((s = lsuv_instance_select(inst, o.device, indices, &selected)) != LSUV_OK) {
        code = fail(s);
    } else if (o.list_devices) {
        fprintf(stderr, "lsuv-vk: --list-devices lists every device; drop --device\n");
        code = EXIT_USAGE;
    } else {
        code = stats_demo(inst, &o, indices, selected);
    }
    free(indices);

    if (o.validate && lsuv_instance_validation_count(inst) > 0) {
        fprintf(stderr, "lsuv-vk: %u validation messages; the first: %s\n",
                lsuv_instance_validation_count(inst), lsuv_instance_validation_first(inst));
        if (code == EXIT_OK) code = EXIT_FAILURE_RUNTIME;
    }
    lsuv_instance_destroy(inst);
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, "lsuv-vk: writing standard output failed\n");
        if (code == EXIT_OK) code = EXIT_FAILURE_RUNTIME;
    }
    return code;
}
