/* lsuv-bench: measured figures, as medians with their spread. */
#include "kernels.h"
#include "lsuv/file.h"
#include "lsuv/parse.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: lsuv-bench --kernels|--lsuv [options]\n"
    "\n"
    "  --kernels          the statistics kernel against vkCmdCopyBuffer, the\n"
    "                     convolutions against the measured FMA peak\n"
    "  --lsuv             every LSUV ordering on nets/fastai-07a.cfg, batch 512 of\n"
    "                     Fashion-MNIST, and the same in PyTorch on the CPU\n"
    "  --images PATH      the IDX images of --lsuv (default: Debian's Fashion-MNIST)\n"
    "  --device SEL       an index, part of a name, or 'all' (default: all)\n"
    "  --size-mib N       buffer size in MiB (default 64)\n"
    "  --repeats N        timed runs after one warm-up (default 7, at least 5)\n"
    "  --json PATH        also write the figures as JSON ('-': standard output,\n"
    "                     and the table goes to standard error)\n"
    "  -h, --help, -V, --version\n"
    "\n"
    "GB/s is the buffer's size over the GPU time between two timestamps, for the\n"
    "copy as for the statistics: both read the buffer once.\n"
    "exit codes: 0 success; 1 a Vulkan or memory failure; 2 bad arguments or no device.\n";

static int parse_u64(const char *flag, const char *text, uint64_t min, uint64_t *out) {
    if (lsuv_parse_u64(flag, text, min, out) == LSUV_OK) return 0;
    fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
    return -1;
}

int main(int argc, char **argv) {
    enum { OPT_KERNELS = 256, OPT_LSUV, OPT_IMAGES, OPT_DEVICE, OPT_SIZE, OPT_REPEATS, OPT_JSON };
    static const struct option longs[] = {
        {"kernels", no_argument, 0, OPT_KERNELS},
        {"lsuv", no_argument, 0, OPT_LSUV},
        {"images", required_argument, 0, OPT_IMAGES},
        {"device", required_argument, 0, OPT_DEVICE},
        {"size-mib", required_argument, 0, OPT_SIZE},
        {"repeats", required_argument, 0, OPT_REPEATS},
        {"json", required_argument, 0, OPT_JSON},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    bool kernels = false, lsuv = false;
    const char *device = "all", *json_path = NULL;
    const char *images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    uint64_t size_mib = 64, repeats = 7;
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
        case OPT_IMAGES:
            images = optarg;
            break;
        case OPT_DEVICE:
            device = optarg;
            break;
        case OPT_SIZE:
            if (parse_u64("--size-mib", optarg, 1, &size_mib)) return 2;
            break;
        case OPT_REPEATS:
            if (parse_u64("--repeats", optarg, 5, &repeats)) return 2;
            break;
        case OPT_JSON:
            json_path = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'V':
            printf("lsuv-bench %s (%s)\n", lsuv_version(), lsuv_git_commit());
            return 0;
        default:
            fprintf(stderr, "lsuv-bench: option '%s' is unknown or lacks its value; try --help\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc || !(kernels || lsuv)) {
        fprintf(stderr,
                "lsuv-bench: nothing to do; try 'lsuv-bench --kernels', --lsuv or --help\n");
        return 2;
    }
    /* With JSON on stdout the table moves to stderr, so stdout stays parseable. */
    bool json_stdout = json_path && strcmp(json_path, "-") == 0;
    FILE *table = json_stdout ? stderr : stdout;

    lsuv_instance *inst = NULL;
    lsuv_status s = lsuv_instance_create(NULL, &inst);
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
        return s == LSUV_ERROR_VULKAN || s == LSUV_ERROR_OUT_OF_MEMORY ? 1 : 2;
    }
    uint32_t *indices = calloc(lsuv_instance_device_count(inst), sizeof *indices), count = 0;
    if (!indices || (s = lsuv_instance_select(inst, device, indices, &count)) != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
        free(indices);
        lsuv_instance_destroy(inst);
        return 2;
    }

    cJSON *root = cJSON_CreateObject();
    cJSON *entries = cJSON_AddArrayToObject(root, "kernels");
    kernel_options ko = {.bytes = size_mib << 20, .repeats = (uint32_t)repeats, .images = images};
    if (kernels) {
        fprintf(table,
                "kernels: %llu MiB buffer, 1 warm-up + %u runs, GPU timestamps; GB/s median, "
                "slowest, fastest; ms median\n",
                (unsigned long long)size_mib, ko.repeats);
        fprintf(table, "%-34s %-6s %9s %9s %9s %9s\n", "device", "kernel", "GB/s", "min", "max",
                "ms");
    }
    int code = 0;
    for (uint32_t i = 0; i < count; ++i) {
        int r = kernels ? bench_kernels(inst, indices[i], &ko, table, entries) : 0;
        if (r && !code) code = r;
        r = lsuv ? bench_lsuv(inst, indices[i], &ko, table, entries) : 0;
        if (r && !code) code = r;
    }

    if (json_path) {
        char *text = cJSON_Print(root);
        lsuv_status w = LSUV_ERROR_OUT_OF_MEMORY;
        if (text && json_stdout)
            w = printf("%s\n", text) < 0 ? LSUV_ERROR_IO : LSUV_OK;
        else if (text)
            w = lsuv_file_write_text(json_path, text);
        if (w != LSUV_OK) {
            fprintf(stderr, "lsuv-bench: %s\n",
                    text ? lsuv_error_message() : "out of memory writing JSON");
            code = 1;
        }
        free(text);
    }
    cJSON_Delete(root);
    free(indices);
    lsuv_instance_destroy(inst);
    return code;
}
