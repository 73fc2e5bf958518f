/* lsuv-vk: the command line. Only src/cli prints and exits. */
#include "app/parse.h"
#include "cli/cli.h"
#include "cli/devices_print.h"
#include "cli/fail.h"
#include "cli/method.h"
#include "cli/outputs.h"
#include "lsuv/lsuv.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: lsuv-vk [options]\n"
    "       lsuv-vk --layers NET.cfg [options]\n"
    "       lsuv-vk --list-devices [--json [PATH]]\n"
    "\n"
    "Layer-sequential unit-variance initialization on Vulkan devices.\n"
    "\n"
    "network (darknet .cfg):\n"
    "  --layers NET        the network to initialize\n"
    "  --summary           print its layers, shapes, parameters, MACs and device memory\n"
    "                      (at --batch, --precision), and exit\n"
    "  --bn MODE           batch_normalize=1 layers: inference (default: the rolling\n"
    "                      statistics), batch (the batch's own, as in training;\n"
    "                      LSUV refuses it) or strip (without their batch norm)\n"
    "  --init SCHEME       kaiming (default), kaiming-uniform, orthonormal, darknet,\n"
    "                      fastai (course-v3's init_cnn: conv kaiming a = 0.1)\n"
    "  --seed N            seed of the weights and of synthetic input (default 0)\n"
    "  --weights-in PATH   start from these weights (.weights or .safetensors)\n"
    "  --save-weights PATH write the weights (.weights or .safetensors)\n"
    "  --input SPEC        synthetic (default), idx:PATH (MNIST-style, .gz too)\n"
    "                      or npy:PATH (float32, N x C x H x W); @START after\n"
    "                      any of them begins at sample START (idx:PATH@512)\n"
    "  --batch N           samples (default: [net] batch), the first of a file\n"
    "  --normalize         shift and scale the batch to mean 0, std 1\n"
    "  --eval-input SPEC   a held-out batch, in --input's forms (idx:PATH@512 after\n"
    "                      a batch of 512 from idx:PATH is the next one): each\n"
    "                      ordering's final weights are evaluated on it (eval_mean,\n"
    "                      eval_std per layer, where --measure says); with\n"
    "                      --normalize it is normalized with the fitted batch's mean\n"
    "                      and std, as a dataset's normalizer would, not its own\n"
    "  --all-layers        after each ordering, every layer's output statistics\n"
    "                      (mean, std, the fraction of units a rectifier passes),\n"
    "                      skipped layers and logits too, on the fitted batch and\n"
    "                      on --eval-input's; JSON key \"network\"\n"
    "\n"
    "LSUV (runs unless --summary):\n"
    "  --preset NAME       one published LSUV, as its source does it: fastai-07a\n"
    "                      (notebook 07a's lsuv_module), lsuv-paper (LSUVinit's\n"
    "                      lsuv_init.py) or lsuv-pytorch (LSUV-pytorch's LSUV.py);\n"
    "                      sets --init, --order, --measure, --estimator, --update,\n"
    "                      --lsuv-layers, the tolerances and --max-iters, each\n"
    "                      overridden by a later flag (--weights-in replaces --init)\n"
    "  --order ORDER       mean-first, std-first, alternating, joint, std-only,\n"
    "                      fixed-point, both (default: mean-first and std-first),\n"
    "                      all, or none (no LSUV: --save-weights writes the\n"
    "                      initial weights)\n"
    "  --measure M         where a layer's statistics are taken: auto (default:\n"
    "                      conv on a layer with batch norm, post elsewhere), post\n"
    "                      (its output, after the activation, sub and maxv), pre\n"
    "                      (after the bias, before the activation) or conv (the\n"
    "                      convolution's output W x before batch norm, where the\n"
    "                      mean step does not run; layers with batch norm only)\n"
    "  --estimator E       unbiased (default: n - 1, as torch.std) or population\n"
    "                      (n, as np.var)\n"
    "  --update U          the std step: std (default: W /= std), variance (tests\n"
    "                      |var - 1| against --tol-std, W /= sqrt(var)) or coef\n"
    "                      (c = 1/(std + 1e-8); W *= c, bias -= mean * c)\n"
    "  --lsuv-layers SET   weighted (default: every convolutional and connected\n"
    "                      layer) or convs; a layer with lsuv=0 is always left out\n"
    "  --mean-param P      what the mean step shifts: auto (default: the sub for\n"
    "                      post, the bias for pre), sub or bias\n"
    "  --tol T             both tolerances (default 1e-3); --tol-mean, --tol-std\n"
    "  --max-iters N       corrections per loop (default 50); a loop that hits it is\n"
    "                      reported capped\n"
    "  --keep ORDER        whose weights --save-weights writes (default std-first,\n"
    "                      or the preset's ordering)\n"
    "  --csv PATH          per ordering and layer: measure, passes, mean, std,\n"
    "                      within_tol, capped, ms\n"
    "  --trace PATH        CSV of every pass: order, layer, pass, step, mean, std,\n"
    "                      measure\n"
    "  --plot PATH.svg     |mean| and |std - 1| per pass, a panel per ordering\n"
    "  --verify            recompute the final statistics with the fp64 reference\n"
    "  --precision P       fp32 (default) or fp16: activations and weights stored\n"
    "                      as fp16, arithmetic in fp32 (needs 16-bit storage)\n"
    "  --conv-kernel K     how convolutions read input and weights: auto (default:\n"
    "                      texels on a CPU, gemm on a discrete GPU, uniform-buffer\n"
    "                      weights elsewhere), storage, uniform, texel or gemm (an\n"
    "                      implicit GEMM tiled in shared memory), where a layer\n"
    "                      fits it\n"
    "\n"
    "devices:\n"
    "  --list-devices      list every Vulkan device and its limits\n"
    "  --device SEL        an index, a case-insensitive part of the name, or\n"
    "                      'all' (default: the first non-CPU device, else the CPU)\n"
    "  --validate          enable VK_LAYER_KHRONOS_validation; any message it\n"
    "                      reports makes the exit code 1\n"
    "\n"
    "output:\n"
    "  --json [PATH]       JSON instead of text, to PATH or standard output ('-')\n"
    "\n"
    "Without --layers or --list-devices, computes the statistics of a seeded\n"
    "synthetic activation tensor, relu(normal(0, 1)), of --count N floats\n"
    "(default 4194304) on each selected device, against the fp64 reference.\n"
    "\n"
    "  -h, --help          print this help and exit\n"
    "  -V, --version       print the version and exit\n"
    "\n"
    "exit codes: 0 success; 1 a Vulkan, memory or write failure; 2 bad arguments\n"
    "or input, no Vulkan loader, or no matching device; 3 LSUV stopped at a dead,\n"
    "NaN, diverging, unreachable or stalled layer (nothing is written then).\n";

static int parse_u64(const char *flag, const char *text, uint64_t min, uint64_t *out) {
    return app_parse_u64("lsuv-vk", flag, text, min, out) ? 0 : -1;
}

/* What a long option's value is, for the message when it is missing. */
static const app_option_hint hints[] = {
    {"device", "an index, part of a device's name, or all"},
    {"count", "an integer of at least 1"},
    {"seed", "an integer"},
    {"layers", "a darknet .cfg"},
    {"bn", "one of inference, batch, strip"},
    {"init", "one of kaiming, kaiming-uniform, orthonormal, darknet, fastai"},
    {"input", "synthetic, idx:PATH or npy:PATH, each with an optional @START"},
    {"eval-input", "synthetic, idx:PATH or npy:PATH, each with an optional @START"},
    {"batch", "an integer of at least 1"},
    {"order", "one of mean-first, std-first, alternating, joint, std-only, fixed-point, both, "
              "all, none"},
    {"preset", "one of fastai-07a, lsuv-paper, lsuv-pytorch"},
    {"measure", "one of auto, post, pre, conv"},
    {"estimator", "one of unbiased, population"},
    {"update", "one of std, variance, coef"},
    {"lsuv-layers", "one of weighted, convs"},
    {"mean-param", "one of auto, sub, bias"},
    {"tol", "a number between 0 and 1"},
    {"tol-mean", "a number between 0 and 1"},
    {"tol-std", "a number between 0 and 1"},
    {"max-iters", "an integer from 1 to 10000"},
    {"keep", "one of mean-first, std-first, alternating, joint, std-only, fixed-point"},
    {"precision", "one of fp32, fp16"},
    {"conv-kernel", "one of auto, storage, uniform, texel, gemm"},
};

/* Each long option; getopt_long returns OPT_BASE plus it, above any character. */
enum { OPT_BASE = 256 };
enum {
    OPT_LIST,
    OPT_JSON,
    OPT_DEVICE,
    OPT_COUNT,
    OPT_SEED,
    OPT_VALIDATE,
    OPT_LAYERS,
    OPT_SUMMARY,
    OPT_BN,
    OPT_INIT,
    OPT_WEIGHTS_IN,
    OPT_SAVE,
    OPT_INPUT,
    OPT_BATCH,
    OPT_NORMALIZE,
    OPT_ORDER,
    OPT_MEAN_PARAM,
    OPT_TOL,
    OPT_TOL_MEAN,
    OPT_TOL_STD,
    OPT_MAX_ITERS,
    OPT_CSV,
    OPT_TRACE,
    OPT_PLOT,
    OPT_KEEP,
    OPT_VERIFY,
    OPT_PRECISION,
    OPT_CONV_KERNEL,
    OPT_PRESET,
    OPT_MEASURE,
    OPT_ESTIMATOR,
    OPT_UPDATE,
    OPT_LSUV_LAYERS,
    OPT_EVAL_INPUT,
    OPT_ALL_LAYERS,
    OPT_END,
};

static const struct option longs[] = {
    {"list-devices", no_argument, 0, OPT_BASE + OPT_LIST},
    {"json", optional_argument, 0, OPT_BASE + OPT_JSON},
    {"device", required_argument, 0, OPT_BASE + OPT_DEVICE},
    {"count", required_argument, 0, OPT_BASE + OPT_COUNT},
    {"seed", required_argument, 0, OPT_BASE + OPT_SEED},
    {"validate", no_argument, 0, OPT_BASE + OPT_VALIDATE},
    {"layers", required_argument, 0, OPT_BASE + OPT_LAYERS},
    {"summary", no_argument, 0, OPT_BASE + OPT_SUMMARY},
    {"bn", required_argument, 0, OPT_BASE + OPT_BN},
    {"init", required_argument, 0, OPT_BASE + OPT_INIT},
    {"weights-in", required_argument, 0, OPT_BASE + OPT_WEIGHTS_IN},
    {"save-weights", required_argument, 0, OPT_BASE + OPT_SAVE},
    {"input", required_argument, 0, OPT_BASE + OPT_INPUT},
    {"batch", required_argument, 0, OPT_BASE + OPT_BATCH},
    {"normalize", no_argument, 0, OPT_BASE + OPT_NORMALIZE},
    {"order", required_argument, 0, OPT_BASE + OPT_ORDER},
    {"mean-param", required_argument, 0, OPT_BASE + OPT_MEAN_PARAM},
    {"tol", required_argument, 0, OPT_BASE + OPT_TOL},
    {"tol-mean", required_argument, 0, OPT_BASE + OPT_TOL_MEAN},
    {"tol-std", required_argument, 0, OPT_BASE + OPT_TOL_STD},
    {"max-iters", required_argument, 0, OPT_BASE + OPT_MAX_ITERS},
    {"csv", required_argument, 0, OPT_BASE + OPT_CSV},
    {"trace", required_argument, 0, OPT_BASE + OPT_TRACE},
    {"plot", required_argument, 0, OPT_BASE + OPT_PLOT},
    {"keep", required_argument, 0, OPT_BASE + OPT_KEEP},
    {"verify", no_argument, 0, OPT_BASE + OPT_VERIFY},
    {"precision", required_argument, 0, OPT_BASE + OPT_PRECISION},
    {"conv-kernel", required_argument, 0, OPT_BASE + OPT_CONV_KERNEL},
    {"preset", required_argument, 0, OPT_BASE + OPT_PRESET},
    {"measure", required_argument, 0, OPT_BASE + OPT_MEASURE},
    {"estimator", required_argument, 0, OPT_BASE + OPT_ESTIMATOR},
    {"update", required_argument, 0, OPT_BASE + OPT_UPDATE},
    {"lsuv-layers", required_argument, 0, OPT_BASE + OPT_LSUV_LAYERS},
    {"eval-input", required_argument, 0, OPT_BASE + OPT_EVAL_INPUT},
    {"all-layers", no_argument, 0, OPT_BASE + OPT_ALL_LAYERS},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

static const app_options command_line = {"lsuv-vk", longs, hints, sizeof hints / sizeof *hints};

/* What the handlers share: the options being filled in, and what the checks
 * after the last option need to know. */
typedef struct parse_state {
    options *o;
    bool keep_given;
    int argc;
    char **argv;
} parse_state;

/* Each handler takes one option of its group and returns EXIT_OK, or
 * EXIT_USAGE having said why. */
typedef int (*option_handler)(parse_state *st, int opt, const char *arg);

/* --list-devices, --device, --count, --validate. */
static int device_option(parse_state *st, int opt, const char *arg) {
    options *o = st->o;
    switch (opt) {
    case OPT_LIST:
        o->list_devices = true;
        break;
    case OPT_DEVICE:
        /* The library reads an empty selector as "the default device";
         * typed out, it is more likely an unset shell variable. */
        if (!*arg) {
            fprintf(stderr, "lsuv-vk: --device needs a selector (%s), not an empty word\n",
                    app_option_hint_of(&command_line, "device"));
            return EXIT_USAGE;
        }
        o->device = arg;
        break;
    case OPT_COUNT:
        if (parse_u64("--count", arg, 1, &o->count)) return EXIT_USAGE;
        break;
    default: /* OPT_VALIDATE */
        o->validate = true;
        break;
    }
    return EXIT_OK;
}

/* The network, its weights and its input batch. */
static int network_option(parse_state *st, int opt, const char *arg) {
    options *o = st->o;
    switch (opt) {
    case OPT_SEED:
        return parse_u64("--seed", arg, 0, &o->seed) ? EXIT_USAGE : EXIT_OK;
    case OPT_LAYERS:
        o->layers = arg;
        break;
    case OPT_SUMMARY:
        o->summary = true;
        break;
    case OPT_BN:
        if (strcmp(arg, "strip") != 0 && strcmp(arg, "inference") != 0 &&
            strcmp(arg, "batch") != 0) {
            fprintf(stderr, "lsuv-vk: --bn expects one of inference, batch, strip, got '%s'\n",
                    arg);
            return EXIT_USAGE;
        }
        o->bn_given = true;
        o->bn_strip = strcmp(arg, "strip") == 0;
        o->bn_batch = strcmp(arg, "batch") == 0;
        break;
    case OPT_INIT:
        if (!lsuv_init_from_name(arg, &o->init)) {
            fprintf(stderr,
                    "lsuv-vk: --init expects kaiming, kaiming-uniform, orthonormal, darknet "
                    "or fastai, got '%s'\n",
                    arg);
            return EXIT_USAGE;
        }
        break;
    case OPT_WEIGHTS_IN:
        o->weights_in = arg;
        break;
    case OPT_INPUT:
        o->input = arg;
        break;
    case OPT_EVAL_INPUT: {
        lsuv_input_source src;
        if (lsuv_input_source_parse(arg, &src) != LSUV_OK) {
            fprintf(stderr, "lsuv-vk: --eval-input: %s\n", lsuv_error_message());
            return EXIT_USAGE;
        }
        o->eval_input = arg;
        break;
    }
    case OPT_BATCH:
        if (parse_u64("--batch", arg, 1, &o->batch)) return EXIT_USAGE;
        if (o->batch > (1u << 24)) {
            fprintf(stderr, "lsuv-vk: --batch %s is more than 16777216 samples\n", arg);
            return EXIT_USAGE;
        }
        break;
    default: /* OPT_NORMALIZE */
        o->normalize = true;
        break;
    }
    return EXIT_OK;
}

/* --order and --keep: which orderings run, and whose weights are saved. */
static int order_option(parse_state *st, int opt, const char *arg) {
    options *o = st->o;
    lsuv_order order;
    if (opt == OPT_KEEP) {
        if (!lsuv_order_from_name(arg, &order)) {
            fprintf(stderr, "lsuv-vk: --keep expects an ordering such as std-first, got '%s'\n",
                    arg);
            return EXIT_USAGE;
        }
        o->keep = (int)order;
        st->keep_given = true;
    } else if (strcmp(arg, "both") == 0) {
        o->orders = 1u << LSUV_ORDER_MEAN_FIRST | 1u << LSUV_ORDER_STD_FIRST;
    } else if (strcmp(arg, "all") == 0) {
        o->orders = (1u << LSUV_ORDER_COUNT) - 1;
    } else if (strcmp(arg, "none") == 0) {
        o->orders = 0;
    } else if (lsuv_order_from_name(arg, &order)) {
        o->orders = 1u << order;
    } else {
        fprintf(stderr,
                "lsuv-vk: --order expects mean-first, std-first, alternating, joint, "
                "std-only, fixed-point, both, all or none, got '%s'\n",
                arg);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Which LSUV runs: a preset and its settings, taken by name (cli/method.c). */
static int method_flag(parse_state *st, int opt, const char *arg) {
    const struct option *l = longs;
    while (l->name && l->val != OPT_BASE + opt) ++l;
    return method_option(st->o, l->name, arg, st->keep_given);
}

/* How LSUV runs: its tolerances, cap, precision and kernels. */
static int lsuv_option(parse_state *st, int opt, const char *arg) {
    options *o = st->o;
    switch (opt) {
    case OPT_TOL:
    case OPT_TOL_MEAN:
    case OPT_TOL_STD: {
        char *end = NULL;
        double v = strtod(arg, &end);
        if (end == arg || *end || !(v > 0) || v >= 1) {
            fprintf(stderr, "lsuv-vk: %s expects a number between 0 and 1, got '%s'\n",
                    opt == OPT_TOL        ? "--tol"
                    : opt == OPT_TOL_MEAN ? "--tol-mean"
                                          : "--tol-std",
                    arg);
            return EXIT_USAGE;
        }
        if (opt != OPT_TOL_STD) o->tol_mean = v;
        if (opt != OPT_TOL_MEAN) o->tol_std = v;
        break;
    }
    case OPT_MAX_ITERS:
        if (parse_u64("--max-iters", arg, 1, &o->max_iters)) return EXIT_USAGE;
        if (o->max_iters > 10000) {
            fprintf(stderr, "lsuv-vk: --max-iters %s is more than 10000\n", arg);
            return EXIT_USAGE;
        }
        break;
    case OPT_PRECISION:
        if (strcmp(arg, "fp32") && strcmp(arg, "fp16")) {
            fprintf(stderr, "lsuv-vk: --precision expects fp32 or fp16, got '%s'\n", arg);
            return EXIT_USAGE;
        }
        o->fp16 = strcmp(arg, "fp16") == 0;
        break;
    default: /* OPT_CONV_KERNEL */
        if (!lsuv_conv_kernel_from_name(arg, &o->conv_kernel)) {
            fprintf(stderr,
                    "lsuv-vk: --conv-kernel expects auto, storage, uniform, texel or gemm, got "
                    "'%s'\n",
                    arg);
            return EXIT_USAGE;
        }
        break;
    }
    return EXIT_OK;
}

/* What is written: --json, --csv, --trace, --plot, --save-weights, --verify. */
static int output_option(parse_state *st, int opt, const char *arg) {
    options *o = st->o;
    switch (opt) {
    case OPT_JSON:
        /* --json alone writes to standard output; a following word that is
         * not an option (or is '-') names the file. */
        o->json = arg ? arg : "-";
        if (!arg && optind < st->argc &&
            (st->argv[optind][0] != '-' || strcmp(st->argv[optind], "-") == 0))
            o->json = st->argv[optind++];
        break;
    case OPT_SAVE:
        o->save_weights = arg;
        break;
    case OPT_CSV:
        o->csv = arg;
        break;
    case OPT_TRACE:
        o->trace = arg;
        break;
    case OPT_PLOT:
        o->plot = arg;
        break;
    case OPT_ALL_LAYERS:
        o->all_layers = true;
        break;
    default: /* OPT_VERIFY */
        o->verify = true;
        break;
    }
    return EXIT_OK;
}

/* A line per group of options: packed by the formatter, the groups would blur. */
/* clang-format off */
static const option_handler handlers[OPT_END] = {
    [OPT_LIST] = device_option, [OPT_DEVICE] = device_option, [OPT_COUNT] = device_option,
    [OPT_VALIDATE] = device_option,
    [OPT_SEED] = network_option, [OPT_LAYERS] = network_option, [OPT_SUMMARY] = network_option,
    [OPT_BN] = network_option, [OPT_INIT] = network_option, [OPT_WEIGHTS_IN] = network_option,
    [OPT_INPUT] = network_option, [OPT_BATCH] = network_option, [OPT_NORMALIZE] = network_option,
    [OPT_EVAL_INPUT] = network_option,
    [OPT_ORDER] = order_option, [OPT_KEEP] = order_option,
    [OPT_PRESET] = method_flag, [OPT_MEASURE] = method_flag, [OPT_ESTIMATOR] = method_flag,
    [OPT_UPDATE] = method_flag, [OPT_LSUV_LAYERS] = method_flag, [OPT_MEAN_PARAM] = method_flag,
    [OPT_TOL] = lsuv_option, [OPT_TOL_MEAN] = lsuv_option,
    [OPT_TOL_STD] = lsuv_option, [OPT_MAX_ITERS] = lsuv_option, [OPT_PRECISION] = lsuv_option,
    [OPT_CONV_KERNEL] = lsuv_option,
    [OPT_JSON] = output_option, [OPT_SAVE] = output_option, [OPT_CSV] = output_option,
    [OPT_TRACE] = output_option, [OPT_PLOT] = output_option, [OPT_VERIFY] = output_option,
    [OPT_ALL_LAYERS] = output_option,
};
/* clang-format on */

/* The first option given that only means something with --layers, or NULL. */
static const char *needs_layers(const options *o) {
    const char *needs = o->summary        ? "--summary"
                        : o->bn_given     ? "--bn"
                        : o->weights_in   ? "--weights-in"
                        : o->save_weights ? "--save-weights"
                        : o->input        ? "--input"
                        : o->eval_input   ? "--eval-input"
                        : o->batch        ? "--batch"
                        : o->normalize    ? "--normalize"
                                          : NULL;
    if (!needs && o->fp16) needs = "--precision";
    if (!needs && o->conv_kernel != LSUV_CONV_AUTO) needs = "--conv-kernel";
    if (!needs && (o->csv || o->trace || o->plot || o->verify))
        needs = o->csv ? "--csv" : o->trace ? "--trace" : o->plot ? "--plot" : "--verify";
    if (!needs && o->all_layers) needs = "--all-layers";
    return needs;
}

/* Options that are fine alone but not together. */
static int check_combinations(const options *o, bool keep_given) {
    const char *needs = needs_layers(o);
    if (needs && !o->layers) {
        fprintf(stderr, "lsuv-vk: %s goes with --layers NET.cfg\n", needs);
        return EXIT_USAGE;
    }
    if (keep_given && !o->save_weights) {
        fprintf(stderr, "lsuv-vk: --keep chooses whose weights --save-weights writes; "
                        "without --save-weights PATH it does nothing\n");
        return EXIT_USAGE;
    }
    if (o->save_weights && o->orders && !(o->orders & (1u << o->keep))) {
        fprintf(stderr, "lsuv-vk: --save-weights keeps %s (--keep), which --order does not run\n",
                lsuv_order_name((lsuv_order)o->keep));
        return EXIT_USAGE;
    }
    if (o->json && !o->list_devices && !o->layers) {
        fprintf(stderr, "lsuv-vk: --json goes with --list-devices or --layers\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Returns EXIT_OK, EXIT_USAGE, or -1 after --help or --version. */
static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.count = 1u << 22,
                   .init = LSUV_INIT_KAIMING,
                   .orders = 1u << LSUV_ORDER_MEAN_FIRST | 1u << LSUV_ORDER_STD_FIRST,
                   .tol_mean = 1e-3,
                   .tol_std = 1e-3,
                   .max_iters = 50,
                   .keep = LSUV_ORDER_STD_FIRST,
                   .measure = LSUV_MEASURE_AUTO,
                   .mean_param = LSUV_MEAN_AUTO};
    parse_state st = {.o = o, .argc = argc, .argv = argv};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hV", longs, NULL)) != -1) {
        if (c >= OPT_BASE && c < OPT_BASE + OPT_END) {
            int code = handlers[c - OPT_BASE](&st, c - OPT_BASE, optarg);
            if (code != EXIT_OK) return code;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else if (c == 'V') {
            printf("lsuv-vk %s (%s)\n", lsuv_version(), lsuv_git_commit());
            return -1;
        } else {
            return app_option_problem(&command_line, argv[optind - 1]);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lsuv-vk: unexpected argument '%s'; try 'lsuv-vk --help'\n", argv[optind]);
        return EXIT_USAGE;
    }
    return check_combinations(o, st.keep_given);
}

static int list_devices(const options *o) {
    lsuv_instance *inst = NULL;
    lsuv_instance_options io = {.validation = o->validate};
    lsuv_status s = lsuv_instance_create(&io, &inst);
    if (s != LSUV_OK) return cli_fail(s);
    int code = EXIT_OK;
    if (o->device) {
        fprintf(stderr, "lsuv-vk: --list-devices lists every device; drop --device\n");
        code = EXIT_USAGE;
    } else if (o->json) {
        code = devices_print_json(inst, o->json);
    } else {
        devices_print_text(inst, stdout);
    }
    lsuv_instance_destroy(inst);
    return code;
}

static int stats_main(const options *o) {
    lsuv_instance *inst = NULL;
    lsuv_instance_options io = {.validation = o->validate};
    lsuv_status s = lsuv_instance_create(&io, &inst);
    if (s != LSUV_OK) return cli_fail(s);
    uint32_t *indices = calloc(lsuv_instance_device_count(inst), sizeof *indices);
    uint32_t selected = 0;
    int code;
    if (!indices)
        code = cli_fail(LSUV_ERROR_OUT_OF_MEMORY);
    else if ((s = lsuv_instance_select(inst, o->device, indices, &selected)) != LSUV_OK)
        code = cli_fail(s);
    else
        code = stats_demo(inst, o, indices, selected);
    free(indices);
    if (o->validate && lsuv_instance_validation_count(inst) > 0) {
        fprintf(stderr, "lsuv-vk: %u validation messages; the first: %s\n",
                lsuv_instance_validation_count(inst), lsuv_instance_validation_first(inst));
        if (code == EXIT_OK) code = EXIT_RUNTIME;
    }
    lsuv_instance_destroy(inst);
    return code;
}

int main(int argc, char **argv) {
    options o;
    int code = parse_args(argc, argv, &o);
    if (code < 0) return EXIT_OK; /* --help or --version */
    if (code != EXIT_OK) return code;
    if ((code = outputs_check(&o)) != EXIT_OK) return code;
    outputs_handle_signals();

    if (o.list_devices)
        code = list_devices(&o);
    else if (o.layers)
        code = net_run(&o);
    else
        code = stats_main(&o);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "lsuv-vk: writing standard output failed\n");
        if (code == EXIT_OK) code = EXIT_RUNTIME;
    }
    return code;
}
