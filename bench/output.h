/* lsuv-bench's results as files and as ratios to a baseline. */
#ifndef LSUV_BENCH_OUTPUT_H
#define LSUV_BENCH_OUTPUT_H

#include <cjson/cJSON.h>
#include <stdio.h>

/* A CSV field as RFC 4180 has it: in double quotes, with quotes doubled,
 * when it holds a comma, a quote or a line break (device names hold
 * commas). Every CSV of lsuv-bench writes its text through it. */
void csv_field(FILE *f, const char *s);

/* results.csv: a row per layer of each LSUV case. NULL when out of memory. */
char *results_csv(const cJSON *root);
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
