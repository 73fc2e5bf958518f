/* lsuv-bench --study's lists: seeds, batch sizes, presets and the shard. */
#include "study_run.h"

#include "app/exit_codes.h"
#include "app/preset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough for any study one machine or one job array runs. */
enum { MAX_SEEDS = 100000, MAX_BATCHES = 64 };

static const char *const preset_names[STUDY_PRESET_COUNT] = {"fastai-07a", "lsuv-paper",
                                                             "lsuv-pytorch"};

/* A whole decimal number, no sign, at the start of text; *end after it. */
static bool read_number(const char *text, const char **end, uint64_t *out) {
    if (*text < '0' || *text > '9') return false;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(text, &e, 10);
    if (errno) return false;
    *out = v;
    *end = e;
    return true;
}

static bool seen_seed(const uint64_t *seeds, uint32_t n, uint64_t s) {
    for (uint32_t i = 0; i < n; ++i)
        if (seeds[i] == s) return true;
    return false;
}

/* One part of --seeds, "S" or "A-B", appended to seeds. */
static int add_seed_part(const char *part, uint64_t *seeds, uint32_t *n) {
    const char *end;
    uint64_t a, b;
    if (!read_number(part, &end, &a)) goto bad;
    b = a;
    if (*end == '-' && !read_number(end + 1, &end, &b)) goto bad;
    if (*end || b < a) goto bad;
    if (b - a >= (uint64_t)(MAX_SEEDS - *n)) {
        fprintf(stderr, "lsuv-bench: --seeds: at most %d seeds\n", MAX_SEEDS);
        return EXIT_USAGE;
    }
    for (uint64_t s = a;; ++s) {
        if (seen_seed(seeds, *n, s)) {
            fprintf(stderr, "lsuv-bench: --seeds: seed %llu is listed twice\n",
                    (unsigned long long)s);
            return EXIT_USAGE;
        }
        seeds[(*n)++] = s;
        if (s == b) return EXIT_OK;
    }
bad:
    fprintf(stderr,
            "lsuv-bench: --seeds: '%s' is not a seed or a range; expected A-B or a comma list "
            "of seeds and ranges (1-20, 1,2,5 or 1-5,9)\n",
            part);
    return EXIT_USAGE;
}

/* Calls add for each part of a comma list; an empty part is an error. */
static int each_part(const char *flag, const char *text,
                     int (*add)(const char *, void *, uint32_t *), void *items, uint32_t *n) {
    size_t len = strlen(text);
    if (!len || text[0] == ',' || text[len - 1] == ',' || strstr(text, ",,")) {
        fprintf(stderr, "lsuv-bench: %s '%s': an empty item in the list\n", flag, text);
        return EXIT_USAGE;
    }
    char *buf = strdup(text);
    int code = buf ? EXIT_OK : EXIT_RUNTIME;
    for (char *save = NULL, *t = buf ? strtok_r(buf, ",", &save) : NULL; t && !code;
         t = strtok_r(NULL, ",", &save))
        code = add(t, items, n);
    free(buf);
    return code;
}

static int seed_part(const char *part, void *items, uint32_t *n) {
    return add_seed_part(part, items, n);
}

int study_parse_seeds(const char *text, uint64_t **out, uint32_t *n) {
    *n = 0;
    *out = malloc(MAX_SEEDS * sizeof **out);
    if (!*out) return EXIT_RUNTIME;
    return each_part("--seeds", text, seed_part, *out, n);
}

static int batch_part(const char *part, void *items, uint32_t *n) {
    uint32_t *batches = items;
    const char *end;
    uint64_t b;
    if (!read_number(part, &end, &b) || *end || b < 1 || b > (1u << 20)) {
        fprintf(stderr,
                "lsuv-bench: --batches: '%s' is not a batch size; expected a comma list of "
                "integers from 1 to 1048576\n",
                part);
        return EXIT_USAGE;
    }
    for (uint32_t i = 0; i < *n; ++i)
        if (batches[i] == b) {
            fprintf(stderr, "lsuv-bench: --batches: %s is listed twice\n", part);
            return EXIT_USAGE;
        }
    if (*n == MAX_BATCHES) {
        fprintf(stderr, "lsuv-bench: --batches: at most %d sizes\n", MAX_BATCHES);
        return EXIT_USAGE;
    }
    batches[(*n)++] = (uint32_t)b;
    return EXIT_OK;
}

int study_parse_batches(const char *text, uint32_t **out, uint32_t *n) {
    *n = 0;
    *out = malloc(MAX_BATCHES * sizeof **out);
    if (!*out) return EXIT_RUNTIME;
    return each_part("--batches", text, batch_part, *out, n);
}

int study_parse_shard(const char *text, uint32_t *shard, uint32_t *n_shards) {
    const char *end;
    uint64_t i, n;
    if (read_number(text, &end, &i) && *end == '/' && read_number(end + 1, &end, &n) && !*end &&
        i >= 1 && i <= n && n <= UINT32_MAX) {
        *shard = (uint32_t)i;
        *n_shards = (uint32_t)n;
        return EXIT_OK;
    }
    fprintf(stderr,
            "lsuv-bench: --shard: '%s'; expected I/N with 1 <= I <= N (2/8: the second of 8)\n",
            text);
    return EXIT_USAGE;
}

static int preset_part(const char *part, void *items, uint32_t *n) {
    unsigned *mask = items;
    for (int i = 0; i < STUDY_PRESET_COUNT; ++i)
        if (strcmp(part, preset_names[i]) == 0) {
            *mask |= 1u << i;
            ++*n;
            return EXIT_OK;
        }
    fprintf(stderr,
            "lsuv-bench: --presets: '%s' is not one of: fastai-07a lsuv-paper lsuv-pytorch\n",
            part);
    return EXIT_USAGE;
}

int study_parse_presets(const char *text, unsigned *mask) {
    uint32_t n = 0;
    *mask = 0;
    return each_part("--presets", text, preset_part, mask, &n);
}

void study_methods(unsigned orders, unsigned presets, study_method *out, uint32_t *n) {
    *n = 0;
    for (int o = 0; o < LSUV_ORDER_COUNT; ++o) {
        if (!(orders & (1u << o))) continue;
        /* lsuv-vk's defaults, so that its --order alone reproduces the case. */
        out[(*n)++] = (study_method){.name = lsuv_order_name((lsuv_order)o),
                                     .init = LSUV_INIT_KAIMING,
                                     .options = {.order = (lsuv_order)o,
                                                 .mean_param = LSUV_MEAN_AUTO,
                                                 .measure = LSUV_MEASURE_POST,
                                                 .estimator = LSUV_ESTIMATOR_UNBIASED,
                                                 .update = LSUV_UPDATE_STD,
                                                 .layers = LSUV_LAYERS_WEIGHTED,
                                                 .tol_mean = 1e-3,
                                                 .tol_std = 1e-3,
                                                 .max_iters = 50}};
    }
    for (int i = 0; i < STUDY_PRESET_COUNT; ++i) {
        if (!(presets & (1u << i))) continue;
        const app_preset *p = app_preset_find(preset_names[i]);
        out[(*n)++] = (study_method){.name = p->name,
                                     .preset = p->name,
                                     .init = p->init,
                                     .options = app_preset_options(p, app_preset_order(p))};
    }
}

uint32_t study_start(uint64_t seed, uint32_t batch, uint32_t n_file) {
    uint64_t room = (uint64_t)n_file - 2ull * batch + 1;
    /* 2 B s mod room without overflow: (2 B mod room) (s mod room) fits 128 bits
     * only, so it is reduced step by step. */
    uint64_t step = (2ull * batch) % room, s = seed % room, r = 0;
    for (; s; s >>= 1, step = (step * 2) % room)
        if (s & 1) r = (r + step) % room;
    return (uint32_t)r;
}
