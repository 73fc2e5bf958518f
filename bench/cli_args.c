/* lsuv-bench's command line: its options, their checks, and --help. */
#include "cli_args.h"
#include "study_run.h"

#include "app/exit_codes.h"
#include "app/parse.h"
#include "lsuv/lsuv.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: lsuv-bench [--kernels] [--lsuv] [options]\n"
    "       lsuv-bench --study --out DIR [--net ...] [--seeds ...] [--batches ...]\n"
    "                  [--orders ...] [--presets ...] [--shard I/N] [--train-epochs N]\n"
    "\n"
    "With neither --kernels nor --lsuv (nor --study), both run.\n"
    "  --kernels          the statistics kernel against vkCmdCopyBuffer, the\n"
    "                     convolutions against the measured FMA peak, and every\n"
    "                     conv kind side by side at the standard case and, on a\n"
    "                     GPU, at a GPU-sized one (batch 256, 64->64, 56x56, 3x3)\n"
    "  --kernels-gpu-case the GPU-sized case on a CPU too (3 runs; lavapipe takes\n"
    "                     seconds a run)\n"
    "  --lsuv             every LSUV ordering on each network, with the precision\n"
    "                     and cross-device studies, and PyTorch beside fastai\n"
    "  --net NAME[@BATCH] a network (repeatable): fastai (nets/fastai-07a.cfg, 512\n"
    "                     Fashion-MNIST images), vgg (nets/vgg-bench.cfg, 16),\n"
    "                     jnet-conv (64), alexnet (2) or resnet20\n"
    "                     (nets/resnet20-bench.cfg, 8) from nets/, or a .cfg\n"
    "                     path on synthetic input; default: all five names\n"
    "  --orders LIST      comma-separated orderings (mean-first, std-first,\n"
    "                     alternating, joint, std-only, fixed-point), or all (default)\n"
    "  --preset NAME      fastai-07a, lsuv-paper or lsuv-pytorch, as lsuv-vk's:\n"
    "                     its orderings (a later --orders overrides them), measuring\n"
    "                     point, estimator, update, layer set, tolerances and cap; the\n"
    "                     initial weights stay kaiming\n"
    "  --stats LIST       statistics methods of the precision study: welford, naive,\n"
    "                     twopass, or all (default)\n"
    "  --precision LIST   fp32, fp16, or both (default fp32)\n"
    "  --conv-kernel K    how convolutions read input and weights: auto (default),\n"
    "                     storage, uniform, texel or gemm, where a layer fits it\n"
    "  --bn MODE          batch_normalize=1 layers: inference (default: with their\n"
    "                     rolling statistics) or strip (without their batch norm)\n"
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
    "  --merge            the other arguments are the study.json files of a study's\n"
    "                     shards (--study --shard I/N): join them and write the\n"
    "                     study's files into --out DIR\n"
    "  --compare BASE     print each figure as a ratio to BASE (a results.json)\n"
    "  --threshold PCT    a figure worse than BASE by more than PCT percent is a\n"
    "                     regression (default 10)\n"
    "  --study            LSUV over networks x devices x batch sizes x orderings and\n"
    "                     presets x seeds, each case fitted on one batch and measured\n"
    "                     on the next; writes study.json and its reports into --out\n"
    "                     (--net defaults to fastai alone)\n"
    "  --seeds LIST       the study's seeds: A-B or a comma list of seeds and ranges\n"
    "                     (default 1-5)\n"
    "  --batches LIST     the study's batch sizes, e.g. 64,512,4096 (default: each\n"
    "                     --net's own)\n"
    "  --presets LIST     comma list of fastai-07a, lsuv-paper, lsuv-pytorch: study\n"
    "                     cases with the preset's init and settings, named after it\n"
    "                     (with neither --orders nor --presets: mean-first,std-first)\n"
    "  --shard I/N        run only the study's cases k (from 0) with k mod N = I - 1\n"
    "  --train-epochs N   train each fastai case's final weights for N epochs with\n"
    "                     bench/peers/train_fastai.py (PyTorch; skipped, and said so\n"
    "                     in study.json, without it)\n"
    "  -h, --help, -V, --version\n"
    "\n"
    "Times are medians with the fastest and slowest run; GPU times come from\n"
    "timestamps, wall times from submit to fence. Precision errors are in units of\n"
    "fp32 epsilon: of the mean relative to the fp64 std, of the std relative to\n"
    "itself. A progress line per finished case goes to standard error as CSV\n"
    "(RFC 4180), after its header: case,device,net,precision,order,batch,wall_ms,\n"
    "gpu_ms,passes, where case counts the cases from 1.\n"
    "A study's cases are taken net by net, then device, batch size, method (the\n"
    "orderings in the order above, then the presets in theirs) and seed. A case's\n"
    "weights come from its seed (kaiming, or the preset's init); with Fashion-MNIST\n"
    "it is fitted on the B images from START = 2 B seed mod (N - 2 B + 1) of the N\n"
    "in the file and measured on the B after them; synthetic input is the seed's\n"
    "stream from 0, then from B. Its \"input\" and \"eval_input\" are the specs\n"
    "that reproduce it: lsuv-vk --layers CFG --input SPEC --eval-input SPEC2\n"
    "--normalize (Fashion-MNIST only) --seed S --batch B --order O (or --preset P).\n"
    "On a terminal a progress line with an ETA is rewritten as cases finish.\n"
    "exit codes: 0 success; 1 a Vulkan, memory or run failure; 2 bad arguments, a\n"
    "missing file or no device; 3 a regression past the threshold of --compare.\n";

static int parse_u64(const char *flag, const char *text, uint64_t min, uint64_t *out) {
    return app_parse_u64("lsuv-bench", flag, text, min, out) ? 0 : -1;
}

/* What a long option's value is, for the message when it is missing. */
static const app_option_hint hints[] = {
    {"net", "fastai, vgg, jnet-conv, alexnet, resnet20 or a .cfg path, with @BATCH or not"},
    {"orders", "a comma list of mean-first, std-first, alternating, joint, std-only, "
               "fixed-point, or all"},
    {"preset", "one of fastai-07a, lsuv-paper, lsuv-pytorch"},
    {"stats", "a comma list of welford, naive, twopass, or all"},
    {"precision", "fp32, fp16 or both"},
    {"device", "an index, part of a device's name, all, or a comma list"},
    {"size-mib", "an integer of at least 1"},
    {"repeats", "an integer from 5 to 1000"},
    {"threshold", "a percentage"},
    {"conv-kernel", "one of auto, storage, uniform, texel, gemm"},
    {"bn", "inference or strip"},
    {"json", "a path or -"},
    {"out", "a folder"},
    {"seeds", "A-B or a comma list of seeds and ranges"},
    {"batches", "a comma list of batch sizes"},
    {"presets", "a comma list of fastai-07a, lsuv-paper, lsuv-pytorch"},
    {"shard", "I/N, e.g. 1/4"},
    {"train-epochs", "an integer of at least 1"},
};

static const app_options command_line; /* defined below the option table */

/* The library takes an empty selector for "the default device", and
 * strtok_r skips empty parts of a list: both more likely a mistake. */
static bool device_list_ok(const char *list) {
    size_t n = strlen(list);
    if (n && list[0] != ',' && list[n - 1] != ',' && !strstr(list, ",,")) return true;
    fprintf(stderr, "lsuv-bench: --device '%s': an empty selector; expected %s\n", list,
            app_option_hint_of(&command_line, "device"));
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

/* Each long option; getopt_long returns OPT_BASE plus it, above any character. */
enum { OPT_BASE = 256 };
enum {
    OPT_KERNELS,
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
    OPT_GPU_CASE,
    OPT_CONV_KERNEL,
    OPT_BN,
    OPT_PRESET,
    OPT_MERGE,
    OPT_STUDY,
    OPT_SEEDS,
    OPT_BATCHES,
    OPT_PRESETS,
    OPT_SHARD,
    OPT_TRAIN_EPOCHS,
};

static const struct option longs[] = {
    {"kernels", no_argument, 0, OPT_BASE + OPT_KERNELS},
    {"lsuv", no_argument, 0, OPT_BASE + OPT_LSUV},
    {"net", required_argument, 0, OPT_BASE + OPT_NET},
    {"orders", required_argument, 0, OPT_BASE + OPT_ORDERS},
    {"stats", required_argument, 0, OPT_BASE + OPT_STATS},
    {"precision", required_argument, 0, OPT_BASE + OPT_PRECISION},
    {"no-peer", no_argument, 0, OPT_BASE + OPT_NO_PEER},
    {"images", required_argument, 0, OPT_BASE + OPT_IMAGES},
    {"device", required_argument, 0, OPT_BASE + OPT_DEVICE},
    {"list-devices", no_argument, 0, OPT_BASE + OPT_LIST},
    {"size-mib", required_argument, 0, OPT_BASE + OPT_SIZE},
    {"repeats", required_argument, 0, OPT_BASE + OPT_REPEATS},
    {"json", required_argument, 0, OPT_BASE + OPT_JSON},
    {"out", required_argument, 0, OPT_BASE + OPT_OUT},
    {"compare", required_argument, 0, OPT_BASE + OPT_COMPARE},
    {"threshold", required_argument, 0, OPT_BASE + OPT_THRESHOLD},
    {"validate", no_argument, 0, OPT_BASE + OPT_VALIDATE},
    {"kernels-gpu-case", no_argument, 0, OPT_BASE + OPT_GPU_CASE},
    {"conv-kernel", required_argument, 0, OPT_BASE + OPT_CONV_KERNEL},
    {"bn", required_argument, 0, OPT_BASE + OPT_BN},
    {"preset", required_argument, 0, OPT_BASE + OPT_PRESET},
    {"merge", no_argument, 0, OPT_BASE + OPT_MERGE},
    {"study", no_argument, 0, OPT_BASE + OPT_STUDY},
    {"seeds", required_argument, 0, OPT_BASE + OPT_SEEDS},
    {"batches", required_argument, 0, OPT_BASE + OPT_BATCHES},
    {"presets", required_argument, 0, OPT_BASE + OPT_PRESETS},
    {"shard", required_argument, 0, OPT_BASE + OPT_SHARD},
    {"train-epochs", required_argument, 0, OPT_BASE + OPT_TRAIN_EPOCHS},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

static const app_options command_line = {"lsuv-bench", longs, hints, sizeof hints / sizeof *hints};

/* The networks and what the suite does with them. Returns EXIT_OK, or
 * EXIT_USAGE having said why. */
static int suite_option(bench_args *a, int opt, const char *arg) {
    const char *order_names[LSUV_ORDER_COUNT];
    for (int i = 0; i < LSUV_ORDER_COUNT; ++i) order_names[i] = lsuv_order_name((lsuv_order)i);
    suite_options *so = &a->so;
    switch (opt) {
    case OPT_NET:
        if (a->n_specs == 64) {
            fprintf(stderr, "lsuv-bench: at most 64 --net\n");
            return EXIT_USAGE;
        }
        a->net_specs[a->n_specs++] = arg;
        return EXIT_OK;
    case OPT_ORDERS:
        a->orders_given = true;
        return parse_names("--orders", arg, order_names, LSUV_ORDER_COUNT, &so->orders) ? EXIT_USAGE
                                                                                        : EXIT_OK;
    case OPT_STATS:
        return parse_names("--stats", arg, suite_method_names, METHOD_COUNT, &so->methods)
                   ? EXIT_USAGE
                   : EXIT_OK;
    case OPT_PRECISION:
        return parse_names("--precision", arg, suite_precision_names, PRECISION_COUNT,
                           &so->precisions)
                   ? EXIT_USAGE
                   : EXIT_OK;
    case OPT_NO_PEER:
        so->peer = false;
        return EXIT_OK;
    case OPT_IMAGES:
        a->images = arg;
        return EXIT_OK;
    case OPT_CONV_KERNEL:
        if (lsuv_conv_kernel_from_name(arg, &so->conv_kernel)) return EXIT_OK;
        fprintf(stderr,
                "lsuv-bench: --conv-kernel: '%s' is not one of: auto storage uniform texel gemm\n",
                arg);
        return EXIT_USAGE;
    case OPT_PRESET:
        if (!(so->preset = app_preset_find(arg))) {
            fprintf(stderr, "lsuv-bench: --preset expects %s, got '%s'\n", app_preset_names(), arg);
            return EXIT_USAGE;
        }
        so->orders = so->preset->orders;
        return EXIT_OK;
    default: /* OPT_BN */
        if (strcmp(arg, "strip") != 0 && strcmp(arg, "inference") != 0) {
            fprintf(stderr, "lsuv-bench: --bn expects 'inference' or 'strip', got '%s'\n", arg);
            return EXIT_USAGE;
        }
        so->strip_bn = strcmp(arg, "strip") == 0;
        return EXIT_OK;
    }
}

/* Which parts run, on which devices, how often, and where results go. */
static int run_option(bench_args *a, int opt, const char *arg) {
    switch (opt) {
    case OPT_KERNELS:
        a->kernels = true;
        break;
    case OPT_LSUV:
        a->lsuv = true;
        break;
    case OPT_DEVICE:
        if (!device_list_ok(arg)) return EXIT_USAGE;
        a->device = arg;
        break;
    case OPT_LIST:
        a->list = true;
        break;
    case OPT_VALIDATE:
        a->validate = true;
        break;
    case OPT_GPU_CASE:
        a->gpu_case = true;
        break;
    case OPT_SIZE:
        return parse_u64("--size-mib", arg, 1, &a->size_mib) ? EXIT_USAGE : EXIT_OK;
    case OPT_REPEATS:
        if (parse_u64("--repeats", arg, 5, &a->repeats)) return EXIT_USAGE;
        if (a->repeats > 1000) {
            fprintf(stderr, "lsuv-bench: --repeats: at most 1000\n");
            return EXIT_USAGE;
        }
        break;
    case OPT_JSON:
        a->json_path = arg;
        break;
    case OPT_OUT:
        a->out_dir = arg;
        break;
    case OPT_COMPARE:
        a->compare = arg;
        break;
    case OPT_MERGE:
        a->merge = true;
        break;
    default: /* OPT_THRESHOLD */
        return parse_u64("--threshold", arg, 0, &a->threshold) ? EXIT_USAGE : EXIT_OK;
    }
    return EXIT_OK;
}

/* --study and its lists. */
static int study_option(bench_args *a, int opt, const char *arg) {
    switch (opt) {
    case OPT_STUDY:
        a->study = true;
        return EXIT_OK;
    case OPT_SEEDS:
        free(a->seeds);
        return study_parse_seeds(arg, &a->seeds, &a->n_seeds);
    case OPT_BATCHES:
        free(a->batches);
        return study_parse_batches(arg, &a->batches, &a->n_batches);
    case OPT_PRESETS:
        return study_parse_presets(arg, &a->presets);
    case OPT_SHARD:
        return study_parse_shard(arg, &a->shard, &a->n_shards);
    default: /* OPT_TRAIN_EPOCHS */
        if (parse_u64("--train-epochs", arg, 1, &a->train_epochs)) return EXIT_USAGE;
        if (a->train_epochs <= 10000) return EXIT_OK;
        fprintf(stderr, "lsuv-bench: --train-epochs: at most 10000\n");
        return EXIT_USAGE;
    }
}

/* What --study takes and refuses, and what only it takes. */
static int check_study_args(const bench_args *a) {
    static const char *const only[] = {"--seeds", "--batches", "--presets", "--shard",
                                       "--train-epochs"};
    const bool given[] = {a->seeds, a->batches, a->presets, a->n_shards, a->train_epochs};
    for (size_t i = 0; !a->study && i < sizeof only / sizeof *only; ++i)
        if (given[i]) {
            fprintf(stderr, "lsuv-bench: %s goes with --study\n", only[i]);
            return EXIT_USAGE;
        }
    if (!a->study) return EXIT_OK;
    const char *clash = a->merge                ? "--merge"
                        : a->kernels            ? "--kernels"
                        : a->lsuv               ? "--lsuv"
                        : a->so.preset          ? "--preset (a study takes --presets)"
                        : a->json_path          ? "--json (a study writes DIR/study.json)"
                        : a->compare            ? "--compare"
                        : a->so.precisions != 1 ? "--precision (a study runs fp32)"
                                                : NULL;
    if (clash) {
        fprintf(stderr, "lsuv-bench: --study does not go with %s\n", clash);
        return EXIT_USAGE;
    }
    if (!a->out_dir) {
        fprintf(stderr, "lsuv-bench: --study needs --out DIR, where study.json goes\n");
        return EXIT_USAGE;
    }
    for (uint32_t i = 0; a->batches && i < a->n_specs; ++i)
        if (strchr(a->net_specs[i], '@')) {
            fprintf(stderr, "lsuv-bench: --net %s: a study with --batches takes no @BATCH\n",
                    a->net_specs[i]);
            return EXIT_USAGE;
        }
    return EXIT_OK;
}

/* Returns EXIT_OK, EXIT_USAGE having said why, or -1 after --help or
 * --version. */
int bench_args_parse(int argc, char **argv, bench_args *a) {
    *a = (bench_args){
        .device = "all",
        .images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
        .size_mib = 64,
        .repeats = 7,
        .threshold = 10,
        .so = {.orders = (1u << LSUV_ORDER_COUNT) - 1, .methods = 7, .precisions = 1, .peer = true},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hV", longs, NULL)) != -1) {
        int opt = c - OPT_BASE, code;
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else if (c == 'V') {
            printf("lsuv-bench %s (%s)\n", lsuv_version(), lsuv_git_commit());
            return -1;
        } else if (c < OPT_BASE || opt > OPT_TRAIN_EPOCHS) {
            return app_option_problem(&command_line, argv[optind - 1]);
        }
        bool suite =
            (opt >= OPT_NET && opt <= OPT_IMAGES) || (opt >= OPT_CONV_KERNEL && opt <= OPT_PRESET);
        code = opt >= OPT_STUDY ? study_option(a, opt, optarg)
               : suite          ? suite_option(a, opt, optarg)
                                : run_option(a, opt, optarg);
        if (code != EXIT_OK) return code;
    }
    if (optind < argc && !a->merge) {
        fprintf(stderr, "lsuv-bench: unexpected argument '%s'; try --help\n", argv[optind]);
        return EXIT_USAGE;
    }
    return check_study_args(a);
}
