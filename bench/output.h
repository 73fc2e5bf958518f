/* lsuv-bench's results as files and as ratios to a baseline. */
#ifndef LSUV_BENCH_OUTPUT_H
#define LSUV_BENCH_OUTPUT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "csv.h"
#include "lsuv/lsuv.h"
#include "suite.h"
#include "summary.h"

/* One LSUV case as results.csv has it: a row per layer of run. */
typedef struct results_case {
    const char *device, *net, *precision;
    uint32_t batch;
    const lsuv_net *layers; /* the network, for the layers' types */
    const lsuv_run *run;
    summary gpu_ms, wall_ms;
    double first_wall_ms;
    const layer_error *errors; /* per layer of run */
} results_case;

/* results.csv, built from the cases' figures as they finish. */
typedef struct results_csv {
    FILE *rows; /* a memory stream; NULL when it could not be opened */
    char *text;
    size_t size;
    unsigned methods;    /* the study's methods (1 << lsuv_stats_method): two columns each */
    bool started;        /* a case was added */
    bool method_columns; /* the first case had layers: the methods' columns are there */
} results_csv;

/* An empty table; methods as suite_options.methods. */
void results_csv_init(results_csv *csv, unsigned methods);
void results_csv_add(results_csv *csv, const results_case *c);
/* The header and the rows (the caller frees), or NULL when out of memory;
 * the table is empty after. */
char *results_csv_take(results_csv *csv);
void results_csv_free(results_csv *csv);
/* kernels.csv: a row per figure of each kernel entry (name, case, device,
 * figure, value). */
char *kernels_csv(const cJSON *root);

/* Prints each figure of root that base (a results.json of an earlier run)
 * also has, as a ratio to it: times of the LSUV cases (lower is better) and
 * rates of the kernels (higher is better). Returns 0, 3 when a figure is
 * worse than the baseline by more than threshold (0.1: 10%), or 2 when
 * base cannot be read, having said why. */
int compare_results(const cJSON *root, const char *base_path, double threshold, FILE *out);

#endif
