/* lsuv-bench: measured figures, as medians with their spread. */
#include "files.h"
#include "kernels.h"
#include "output.h"
#include "suite.h"

#include "app/exit_codes.h"
#include "app/json.h"
#include "app/parse.h"
#include "core/file.h"
#include "lsuv/lsuv.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: lsuv-bench [--kernels] [--lsuv] [options]\n"
    "\n"
    "With neither --kernels nor --lsuv, both run.\n"
    "  --kernels          the statistics kernel against vkCmdCopyBuffer, the\n"
    "                     convolutions against the measured FMA peak\n"
    "  --lsuv             every LSUV ordering on each network, with the precision\n"
    "                     and cross-device studies, and PyTorch beside fastai\n"
    "  --net NAME[@BATCH] a network (repeatable): fastai (nets/fastai-07a.cfg, 512\n"
    "                     Fashion-MNIST images), vgg (nets/vgg-bench.cfg, 16),\n"
    "                     jnet-conv (64) or alexnet (2) from nets/, or a\n"
    "                     .cfg path on synthetic input; default: all four names\n"
    "  --orders LIST      comma-separated orderings, or all (default)\n"
    "  --stats LIST       statistics methods of the precision study: welford, naive,\n"
    "                     twopass, or all (default)\n"
    "  --precision LIST   fp32, fp16, or both (default fp32)\n"
    "  --conv-kernel K    how convolutions read input and weights: auto (default),\n"
    "                     storage, uniform or texel, where a layer fits it\n"
    "  --bn strip         take batch_normalize=1 layers without their batch norm\n"
    "  --no-peer          skip the PyTorch peer\n"
    "  --images PATH      the IDX images of fastai (default: Debian's Fashion-MNIST)\n"
    "  --device SEL       an index, part of a name, 'all' (default), or a comma list\n"
    "  --list-devices     print each device's index, slug and name, and exit\n"
    "  --validate         run with the Khronos validation layer; any message fails\n"
    "  --size-mib N       buffer size of --kernels in MiB (default 64)\n"
    "  --repeats N        timed runs after one warm-up (default 7, at least 5)\n"
    "  --json PATH        the results as JSON ('-': standard output, and the table\n"
    "                     goes to standard error)\n"
    "  --out DIR          write results.json, results.csv, kernels.csv and the SVG\n"
    "                     plots there, only when every case finished\n"
    "  --compare BASE     print each figure as a ratio to BASE (a results.json)\n"
    "  --threshold PCT    a figure worse than BASE by more than PCT percent is a\n"
    "                     regression (default 10)\n"
    "  -h, --help, -V, --version\n"
    "\n"
    "Times are medians with the fastest and slowest run; GPU times come from\n"
    "timestamps, wall times from submit to fence. Precision errors are in units of\n"
    "fp32 epsilon: of the mean relative to the fp64 std, of the std relative to\n"
    "itself. A progress line per finished case goes to standard error as CSV\n"
    "(RFC 4180), after its header: case,device,net,precision,order,batch,wall_ms,\n"
    "gpu_ms,passes, where case counts the cases from 1.\n"
    "exit codes: 0 success; 1 a Vulkan, memory or run failure; 2 bad arguments, a\n"
    "missing file or no device; 3 a regression past the threshold of --compare.\n";

static int parse_u64(const char *flag, const char *text, uint64_t min, uint64_t *out) {
    return app_parse_u64("lsuv-bench", flag, text, min, out) ? 0 : -1;
}

/* What a long option's value is, for the message when it is missing. */
static const char *value_hint(const char *name) {
    static const char *const hints[][2] = {
        {"net", "fastai, vgg, jnet-conv, alexnet or a .cfg path, with @BATCH or not"},
        {"orders", "a comma list of mean-first, std-first, alternating, joint, std-only, or all"},
        {"stats", "a comma list of welford, naive, twopass, or all"},
        {"precision", "fp32, fp16 or both"},
        {"device", "an index, part of a device's name, all, or a comma list"},
        {"size-mib", "an integer of at least 1"},
        {"repeats", "an integer from 5 to 1000"},
        {"threshold", "a percentage"},
        {"conv-kernel", "one of auto, storage, uniform, texel"},
        {"bn", "strip"},
        {"json", "a path or -"},
        {"out", "a folder"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof *hints; ++i)
        if (strcmp(name, hints[i][0]) == 0) return hints[i][1];
    return "a path";
}

/* After getopt_long's '?'. A long option's problem leaves optopt at the
 * option's value (above 255 for ours), which is no character to print. */
static int bad_option(const struct option *longs, const char *word) {
    const struct option *l = longs;
    while (l->name && l->val != optopt) ++l;
    if (optopt && l->name && strncmp(word, "--", 2) == 0) {
        if (strchr(word, '='))
            fprintf(stderr, "lsuv-bench: --%s takes no value\n", l->name);
        else
            fprintf(stderr, "lsuv-bench: --%s needs a value (%s)\n", l->name, value_hint(l->name));
    } else if (optopt) {
        fprintf(stderr, "lsuv-bench: option -%c is unknown; try --help\n", optopt);
    } else {
        fprintf(stderr, "lsuv-bench: option '%s' is unknown; try --help\n", word);
    }
    return EXIT_USAGE;
}

/* The library takes an empty selector for "the default device", and
 * strtok_r skips empty parts of a list: both more likely a mistake. */
static bool device_list_ok(const char *list) {
    size_t n = strlen(list);
    if (n && list[0] != ',' && list[n - 1] != ',' && !strstr(list, ",,")) return true;
    fprintf(stderr, "lsuv-bench: --device '%s': an empty selector; expected %s\n", list,
            value_hint("device"));
    return false;
}

/* A comma list of names into a bit mask; "all" is every name. */
static int parse_names(const char *flag, const char *text, const char *const *names, int n,
                       unsigned *mask) {
    *mask = 0;
    if (strcmp(text, "all") == 0) {
        *mask = (1u << n) - 1;
        return 0;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < n && strcmp(t, names[i]) != 0) ++i;
        if (i == n) {
            fprintf(stderr, "lsuv-bench: %s: '%s' is not one of:", flag, t);
            for (i = 0; i < n; ++i) fprintf(stderr, " %s", names[i]);
            fprintf(stderr, ", all\n");
            return -1;
        }
        *mask |= 1u << i;
    }
    if (!*mask) {
        fprintf(stderr, "lsuv-bench: %s expects a comma-separated list\n", flag);
        return -1;
    }
    return 0;
}

/* Each part of a comma list of selectors, in order. */
static int select_devices(lsuv_instance *inst, const char *selector, uint32_t **out,
                          uint32_t *count) {
    uint32_t n = lsuv_instance_device_count(inst);
    uint32_t *found = calloc(n ? n : 1, sizeof *found), part = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", selector);
    *count = 0;
    *out = NULL;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); found && t;
         t = strtok_r(NULL, ",", &save)) {
        if (lsuv_instance_select(inst, t, found, &part) != LSUV_OK) {
            fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
            free(found);
            free(*out);
            *out = NULL;
            return EXIT_USAGE;
        }
        uint32_t *grown = realloc(*out, (*count + part) * sizeof **out);
        if (!grown) break;
        memcpy(grown + *count, found, part * sizeof *found);
        *out = grown;
        *count += part;
    }
    free(found);
    if (!*count) {
        fprintf(stderr, "lsuv-bench: --device %s selects nothing\n", selector);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static cJSON *meta_json(int argc, char **argv, uint32_t repeats) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "lsuv_vk_version", lsuv_version());
    cJSON_AddStringToObject(m, "git_commit", lsuv_git_commit());
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    cJSON_AddStringToObject(m, "date", date);
    char *cmd = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cmd, &len);
    for (int i = 0; f && i < argc; ++i) {
        /* Absolute paths as bench_shown_path records them. */
        char word[PATH_MAX];
        snprintf(word, sizeof word, "%s", argv[i]);
        if (argv[i][0] == '/') bench_shown_path(argv[i], word, sizeof word);
        const char *quote = strpbrk(word, " \t'\"") ? "'" : "";
        fprintf(f, "%s%s%s%s", i ? " " : "", quote, word, quote);
    }
    if (f && fclose(f) != 0) {
        free(cmd);
        cmd = NULL;
    }
    cJSON_AddStringToObject(m, "command", cmd ? cmd : "");
    free(cmd);
    cJSON_AddNumberToObject(m, "repeats", repeats);
    return m;
}

int main(int argc, char **argv) {
    enum {
        OPT_KERNELS = 256,
        OPT_LSUV,
        OPT_NET,
        OPT_ORDERS,
        OPT_STATS,
        OPT_PRECISION,
        OPT_NO_PEER,
        OPT_IMAGES,
        OPT_DEVICE,
        OPT_LIST,
        OPT_SIZE,
        OPT_REPEATS,
        OPT_JSON,
        OPT_OUT,
        OPT_COMPARE,
        OPT_THRESHOLD,
        OPT_VALIDATE,
        OPT_CONV_KERNEL,
        OPT_BN,
    };
    static const struct option longs[] = {
        {"kernels", no_argument, 0, OPT_KERNELS},
        {"lsuv", no_argument, 0, OPT_LSUV},
        {"net", required_argument, 0, OPT_NET},
        {"orders", required_argument, 0, OPT_ORDERS},
        {"stats", required_argument, 0, OPT_STATS},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"no-peer", no_argument, 0, OPT_NO_PEER},
        {"images", required_argument, 0, OPT_IMAGES},
        {"device", required_argument, 0, OPT_DEVICE},
        {"list-devices", no_argument, 0, OPT_LIST},
        {"size-mib", required_argument, 0, OPT_SIZE},
        {"repeats", required_argument, 0, OPT_REPEATS},
        {"json", required_argument, 0, OPT_JSON},
        {"out", required_argument, 0, OPT_OUT},
        {"compare", required_argument, 0, OPT_COMPARE},
        {"threshold", required_argument, 0, OPT_THRESHOLD},
        {"validate", no_argument, 0, OPT_VALIDATE},
        {"conv-kernel", required_argument, 0, OPT_CONV_KERNEL},
        {"bn", required_argument, 0, OPT_BN},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    const char *order_names[LSUV_ORDER_COUNT];
    for (int i = 0; i < LSUV_ORDER_COUNT; ++i) order_names[i] = lsuv_order_name((lsuv_order)i);
    bool kernels = false, lsuv = false, list = false, validate = false;
    lsuv_conv_kernel conv_kernel = LSUV_CONV_AUTO;
    const char *device = "all", *json_path = NULL, *out_dir = NULL, *compare = NULL;
    const char *images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    const char *net_specs[64];
    uint32_t n_specs = 0;
    uint64_t size_mib = 64, repeats = 7, threshold = 10;
    suite_options so = {
        .orders = (1u << LSUV_ORDER_COUNT) - 1, .methods = 7, .precisions = 1, .peer = true};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hV", longs, NULL)) != -1) {
        switch (c) {
        case OPT_KERNELS:
            kernels = true;
            break;
        case OPT_LSUV:
            lsuv = true;
            break;
        case OPT_NET:
            if (n_specs == 64) {
                fprintf(stderr, "lsuv-bench: at most 64 --net\n");
                return EXIT_USAGE;
            }
            net_specs[n_specs++] = optarg;
            break;
        case OPT_ORDERS:
            if (parse_names("--orders", optarg, order_names, LSUV_ORDER_COUNT, &so.orders))
                return EXIT_USAGE;
            break;
        case OPT_STATS:
            if (parse_names("--stats", optarg, suite_method_names, METHOD_COUNT, &so.methods))
                return EXIT_USAGE;
            break;
        case OPT_PRECISION:
            if (parse_names("--precision", optarg, suite_precision_names, PRECISION_COUNT,
                            &so.precisions))
                return EXIT_USAGE;
            break;
        case OPT_NO_PEER:
            so.peer = false;
            break;
        case OPT_IMAGES:
            images = optarg;
            break;
        case OPT_DEVICE:
            if (!device_list_ok(optarg)) return EXIT_USAGE;
            device = optarg;
            break;
        case OPT_LIST:
            list = true;
            break;
        case OPT_VALIDATE:
            validate = true;
            break;
        case OPT_CONV_KERNEL:
            if (!lsuv_conv_kernel_from_name(optarg, &conv_kernel)) {
                fprintf(stderr,
                        "lsuv-bench: --conv-kernel: '%s' is not one of: auto storage uniform "
                        "texel\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_BN:
            if (strcmp(optarg, "strip") != 0) {
                fprintf(stderr, "lsuv-bench: --bn expects 'strip', got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            so.strip_bn = true;
            break;
        case OPT_SIZE:
            if (parse_u64("--size-mib", optarg, 1, &size_mib)) return EXIT_USAGE;
            break;
        case OPT_REPEATS:
            if (parse_u64("--repeats", optarg, 5, &repeats)) return EXIT_USAGE;
            if (repeats > 1000) {
                fprintf(stderr, "lsuv-bench: --repeats: at most 1000\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_JSON:
            json_path = optarg;
            break;
        case OPT_OUT:
            out_dir = optarg;
            break;
        case OPT_COMPARE:
            compare = optarg;
            break;
        case OPT_THRESHOLD:
            if (parse_u64("--threshold", optarg, 0, &threshold)) return EXIT_USAGE;
            break;
        case 'h':
            fputs(usage, stdout);
            return EXIT_OK;
        case 'V':
            printf("lsuv-bench %s (%s)\n", lsuv_version(), lsuv_git_commit());
            return EXIT_OK;
        default:
            return bad_option(longs, argv[optind - 1]);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lsuv-bench: unexpected argument '%s'; try --help\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!kernels && !lsuv) kernels = lsuv = true;
    if (!n_specs)
        for (; suite_net_name(n_specs); ++n_specs) net_specs[n_specs] = suite_net_name(n_specs);
    suite_net nets[64];
    for (uint32_t i = 0; i < n_specs; ++i)
        if (!suite_net_parse(net_specs[i], images, &nets[i])) return EXIT_USAGE;
    so.nets = nets;
    so.n_nets = n_specs;
    so.repeats = (uint32_t)repeats;
    so.images = images;
    so.conv_kernel = conv_kernel;

    lsuv_instance *inst = NULL;
    lsuv_instance_options io = {.validation = validate};
    lsuv_status s = lsuv_instance_create(&io, &inst);
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
        return app_exit_code(s, APP_FAILED_CALL);
    }
    uint32_t *indices = NULL, count = 0;
    int code = select_devices(inst, device, &indices, &count);
    if (!code && list) {
        /* For scripts: index, slug, type and name, tab-separated. */
        for (uint32_t i = 0; i < count; ++i) {
            const lsuv_device_info *d = lsuv_instance_device_info(inst, indices[i]);
            char slug[256];
            lsuv_device_slug(d, slug, sizeof slug);
            printf("%u\t%s\t%s\t%s\n", d->index, slug, lsuv_device_type_name(d->type), d->name);
        }
        free(indices);
        lsuv_instance_destroy(inst);
        return EXIT_OK;
    }
    /* With JSON on stdout the table moves to stderr, so stdout stays parseable. */
    bool json_stdout = json_path && strcmp(json_path, "-") == 0;
    FILE *table = json_stdout ? stderr : stdout;

    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "meta", meta_json(argc, argv, (uint32_t)repeats));
    cJSON *devices = cJSON_AddArrayToObject(root, "devices");
    for (uint32_t i = 0; i < count; ++i)
        cJSON_AddItemToArray(devices,
                             lsuv_device_info_json(lsuv_instance_device_info(inst, indices[i])));
    cJSON *entries = cJSON_AddArrayToObject(root, "kernels");
    bench_files files = {0};
    if (!code && kernels) {
        kernel_options ko = {
            .bytes = size_mib << 20, .repeats = (uint32_t)repeats, .conv_kernel = conv_kernel};
        fprintf(table,
                "kernels: %llu MiB buffer, 1 warm-up + %u runs, GPU timestamps; GB/s median, "
                "slowest, fastest; ms median\n",
                (unsigned long long)size_mib, ko.repeats);
        fprintf(table, "%-34s %-6s %9s %9s %9s %9s\n", "device", "kernel", "GB/s", "min", "max",
                "ms");
        for (uint32_t i = 0; !code && i < count; ++i)
            code = bench_kernels(inst, indices[i], &ko, table, entries);
    }
    if (!code && lsuv) {
        /* No prefix: the header and the case lines are CSV as they stand. */
        fputs("case,device,net,precision,order,batch,wall_ms,gpu_ms,passes\n", stderr);
        code = bench_suite(inst, indices, count, &so, table, root, &files);
    }
    /* Checked before anything is written: a run with messages produced nothing. */
    if (validate && lsuv_instance_validation_count(inst) > 0) {
        fprintf(stderr, "lsuv-bench: %u validation messages; the first: %s\n",
                lsuv_instance_validation_count(inst), lsuv_instance_validation_first(inst));
        code = EXIT_RUNTIME;
    }
    if (!code && json_path) {
        char *text = cJSON_Print(root);
        lsuv_status w = LSUV_ERROR_OUT_OF_MEMORY;
        if (text && json_stdout)
            w = printf("%s\n", text) < 0 ? LSUV_ERROR_IO : LSUV_OK;
        else if (text)
            w = lsuv_file_write_text(json_path, text);
        if (w != LSUV_OK) {
            fprintf(stderr, "lsuv-bench: %s\n",
                    text ? lsuv_error_message() : "out of memory writing JSON");
            code = EXIT_RUNTIME;
        }
        free(text);
    }
    if (!code && out_dir) {
        bench_files_add(&files, "results.json", cJSON_Print(root));
        bench_files_add(&files, "results.csv", results_csv(root));
        if (kernels) bench_files_add(&files, "kernels.csv", kernels_csv(root));
        code = bench_files_write(&files, out_dir);
        if (!code) fprintf(table, "\nwrote %u files to %s\n", files.n, out_dir);
    }
    if (!code && compare) code = compare_results(root, compare, threshold / 100.0, table);
    bench_files_free(&files);
    cJSON_Delete(root);
    free(indices);
    lsuv_instance_destroy(inst);
    return code;
}
