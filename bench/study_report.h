/* Internal to the reporting of a study (study_report.c, study_md.c,
 * study_merge.c): study.json's rows read once and grouped as the summary
 * has them. */
#ifndef LSUV_BENCH_STUDY_REPORT_H
#define LSUV_BENCH_STUDY_REPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "files.h"
#include "study_stats.h"

/* |mean|, eval |mean|, |std - 1| and eval |std - 1|, as the summary names
 * them. */
enum { STUDY_QUANTITIES = 4 };
extern const char *const study_quantity_names[STUDY_QUANTITIES];

typedef struct study_row {
    const char *net, *device, *order;
    double case_index, seed, batch, layer, mean, std, eval_mean, eval_std, passes, ms;
    bool within_tol;
} study_row;

/* One (net, device, order, batch, layer). */
typedef struct study_group {
    const char *net, *device, *order;
    double batch, layer;
    study_box q[STUDY_QUANTITIES];
} study_group;

/* Distinct strings in the order the rows first name them. */
typedef struct study_names {
    const char **items;
    size_t n;
} study_names;

typedef struct study_view {
    const cJSON *doc;
    study_row *rows;
    size_t n_rows;
    study_group *groups; /* in the order the rows first name them */
    size_t n_groups;
    study_names nets, devices, orders;
    double *batches, *layers; /* ascending */
    size_t n_batches, n_layers;
} study_view;

/* Whether doc has a study's shape (meta, cases and rows with the fields the
 * report reads); prints why not, naming name (a file) and the entry. */
bool study_check(const cJSON *doc, const char *name);
/* Reads and groups doc's rows (study_check first); false when out of
 * memory. */
bool study_view_build(const cJSON *doc, study_view *v);
void study_view_free(study_view *v);
const study_group *study_view_find(const study_view *v, const char *net, const char *device,
                                   const char *order, double batch, double layer);

/* study.md and the SVG plots. */
void study_report_add(const study_view *v, bench_files *files);

/* A number as the CSVs write it: exact (the shortest of %.15g and %.17g
 * that reads back the same), empty for NaN. */
void study_number(char *out, size_t size, double v);

#endif
