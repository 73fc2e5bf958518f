/* lsuv-bench's networks: the known names, NAME[@BATCH] and PATH[@BATCH]
 * specs, and the names of the study's methods and precisions. */
#include "files.h"
#include "suite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const suite_method_names[METHOD_COUNT] = {"welford", "naive", "twopass"};
const char *const suite_precision_names[PRECISION_COUNT] = {"fp32", "fp16"};

/* The networks known by name, in the order of the default list. */
static const struct {
    const char *name, *dir, *file;
    uint32_t batch;
    bool fashion;
} known[] = {
    {"fastai", LSUV_SOURCE_DIR "/nets", "fastai-07a.cfg", 512, true},
    {"vgg", LSUV_SOURCE_DIR "/nets", "vgg-bench.cfg", 16, false},
    {"jnet-conv", LSUV_SOURCE_DIR "/nets", "jnet-conv.cfg", 64, false},
    {"alexnet", LSUV_SOURCE_DIR "/nets", "alexnet.cfg", 2, false},
    /* residual: each block's second convolution reads one output and its
     * shortcut another */
    {"resnet20", LSUV_SOURCE_DIR "/nets", "resnet20-bench.cfg", 8, false},
};

const char *suite_net_name(uint32_t i) {
    return i < sizeof known / sizeof *known ? known[i].name : NULL;
}

/* Every --net is checked before the first is run, so that a missing file
 * fails at once rather than after the networks before it. */
static bool net_file_readable(const char *spec, const char *path) {
    if (access(path, R_OK) == 0) return true;
    fprintf(stderr, "lsuv-bench: --net %s: %s: %s\n", spec, path, strerror(errno));
    return false;
}

static bool parse_spec(const char *spec, const char *images, suite_net *out) {
    memset(out, 0, sizeof *out);
    char base[1024];
    if (snprintf(base, sizeof base, "%s", spec) >= (int)sizeof base) {
        fprintf(stderr, "lsuv-bench: --net: a path of at most 1023 bytes\n");
        return false;
    }
    char *at = strrchr(base, '@');
    if (at) {
        char *end;
        unsigned long b = strtoul(at + 1, &end, 10);
        if (at[1] == '\0' || *end || b == 0 || b > 1u << 20) {
            fprintf(stderr,
                    "lsuv-bench: --net %s: expected NAME[@BATCH] with a batch of 1 or "
                    "more\n",
                    spec);
            return false;
        }
        out->batch = (uint32_t)b;
        *at = '\0';
    }
    for (size_t i = 0; i < sizeof known / sizeof *known; ++i) {
        if (strcmp(base, known[i].name) != 0) continue;
        snprintf(out->name, sizeof out->name, "%s", known[i].name);
        snprintf(out->path, sizeof out->path, "%s/%s", known[i].dir, known[i].file);
        if (!out->batch) out->batch = known[i].batch;
        snprintf(out->input, sizeof out->input, "%s%s", known[i].fashion ? "idx:" : "synthetic",
                 known[i].fashion ? images : "");
        out->normalize = known[i].fashion;
        return net_file_readable(spec, out->path);
    }
    if (!strchr(base, '/') && !strstr(base, ".cfg")) {
        fprintf(
            stderr,
            "lsuv-bench: --net %s: expected fastai, vgg, jnet-conv, alexnet, resnet20 or a .cfg "
            "path\n",
            spec);
        return false;
    }
    const char *slash = strrchr(base, '/');
    snprintf(out->name, sizeof out->name, "%.63s", slash ? slash + 1 : base);
    char *dot = strstr(out->name, ".cfg");
    if (dot) *dot = '\0';
    snprintf(out->path, sizeof out->path, "%s", base);
    snprintf(out->input, sizeof out->input, "synthetic");
    return net_file_readable(spec, out->path);
}

bool suite_net_parse(const char *spec, const char *images, suite_net *out) {
    if (!parse_spec(spec, images, out)) return false;
    bench_shown_path(out->path, out->shown_path, sizeof out->shown_path);
    /* An input spec is KIND:PATH, or a kind alone. */
    const char *colon = strchr(out->input, ':');
    char rest[1024];
    if (colon) bench_shown_path(colon + 1, rest, sizeof rest);
    snprintf(out->shown_input, sizeof out->shown_input, "%.*s%s",
             colon ? (int)(colon + 1 - out->input) : (int)strlen(out->input), out->input,
             colon ? rest : "");
    return true;
}
