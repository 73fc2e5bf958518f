/* lsuv-bench's command line: its options, their checks, and --help. */
#ifndef LSUV_BENCH_CLI_ARGS_H
#define LSUV_BENCH_CLI_ARGS_H

#include "suite.h"

#include <stdbool.h>
#include <stdint.h>

/* What the command line asks for. */
typedef struct bench_args {
    bool kernels, lsuv, list, validate, merge, study, orders_given, gpu_case;
    uint64_t *seeds;
    uint32_t n_seeds, *batches, n_batches, shard, n_shards;
    unsigned presets;
    uint64_t train_epochs;
    const char *device, *json_path, *out_dir, *compare, *images;
    const char *net_specs[64];
    uint32_t n_specs;
    uint64_t size_mib, repeats, threshold;
    suite_options so;
} bench_args;

/* Fills *a from argv. Returns EXIT_OK; -1 after --help or --version (exit
 * 0); or another exit code, having said why on stderr. */
int bench_args_parse(int argc, char **argv, bench_args *a);

#endif
