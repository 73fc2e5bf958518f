/* lsuv-bench --study, the running half: the command line's lists, the cases
 * they enumerate, and the run that fills study.json (study.h) with them. */
#ifndef LSUV_BENCH_STUDY_RUN_H
#define LSUV_BENCH_STUDY_RUN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "lsuv/lsuv.h"
#include "suite.h"

/* What a case's "order" names: an ordering under lsuv-vk's defaults (kaiming
 * weights, measured post, unbiased std, tolerances 1e-3, 50 steps a loop),
 * or a preset with its own init and settings (lsuv-vk --preset NAME). */
typedef struct study_method {
    const char *name;
    const char *preset; /* NULL for an ordering */
    lsuv_init init;
    lsuv_options options;
} study_method;

enum { STUDY_PRESET_COUNT = 3, STUDY_METHOD_MAX = LSUV_ORDER_COUNT + STUDY_PRESET_COUNT };

/* The study as the command line asks for it. Cases are enumerated net x
 * device x batch x method x seed, each list in its own order: nets and
 * devices as given, batches and seeds as listed, the orderings in
 * lsuv_order's order (mean-first, std-first, alternating, joint, std-only,
 * fixed-point) then the presets in that of --presets' help (fastai-07a,
 * lsuv-paper, lsuv-pytorch). Case k (from 0) belongs to shard k % n + 1. */
typedef struct study_options {
    const suite_net *nets;
    uint32_t n_nets;
    const uint32_t *devices; /* instance indices */
    uint32_t n_devices;
    const uint64_t *seeds;
    uint32_t n_seeds;
    const uint32_t *batches; /* NULL: each net's own batch */
    uint32_t n_batches;
    study_method methods[STUDY_METHOD_MAX];
    uint32_t n_methods;
    uint32_t shard, n_shards; /* shard of n_shards, from 1; n_shards 0: every case */
    uint32_t train_epochs;    /* 0: no training */
    const char *images;       /* fastai's IDX images; the trainer reads their folder */
    const char *out_dir;
    lsuv_conv_kernel conv_kernel;
    bool strip_bn;
} study_options;

/* "A-B" or a comma list of seeds and ranges ("1-5,9"); no seed twice.
 * Return EXIT_OK, or EXIT_USAGE having said why; the caller frees *out. */
int study_parse_seeds(const char *text, uint64_t **out, uint32_t *n);
/* A comma list of batch sizes from 1 to 2^20; no size twice. */
int study_parse_batches(const char *text, uint32_t **out, uint32_t *n);
/* "I/N" with 1 <= I <= N. */
int study_parse_shard(const char *text, uint32_t *shard, uint32_t *n_shards);
/* A comma list of preset names into a bit mask (bit i: the i-th of the
 * order above). */
int study_parse_presets(const char *text, unsigned *mask);
/* The methods of the orderings (1 << lsuv_order) and presets masks, in the
 * enumeration's order. */
void study_methods(unsigned orders, unsigned presets, study_method *out, uint32_t *n);

/* Where a case's images start in a file of n_file images, for batch B and
 * seed s: (2 B s) mod (n_file - 2 B + 1), so that the fitted batch
 * [START, START + B) and the held-out one [START + B, START + 2 B) fit, and
 * neighbouring seeds take disjoint windows until they wrap. */
uint32_t study_start(uint64_t seed, uint32_t batch, uint32_t n_file);

/* Runs the study's cases (this shard's), trains them when asked, and hands
 * the document to study_finish. meta is study.json's "meta" so far (taken);
 * validation: the instance runs with the validation layer and any message
 * fails the study. Returns an exit code, having said why. */
int study_run(lsuv_instance *instance, const study_options *options, cJSON *meta, bool validation);

/* bench/study_train.c: each trained case's weights are in
 * DIR/weights/case-K.safetensors. Runs bench/peers/train_fastai.py once for
 * them all and puts its figures into cases[k].training and the top-level
 * "training" of study. Returns EXIT_OK (also when training was skipped, as
 * "training" says) or EXIT_RUNTIME when the trainer failed. */
int study_train(cJSON *study, const study_options *options, const char *const *weights,
                const int *case_index, uint32_t n);

#endif
