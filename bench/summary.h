/* Medians with their spread, the only way lsuv-bench quotes a figure. */
#ifndef LSUV_BENCH_SUMMARY_H
#define LSUV_BENCH_SUMMARY_H

#include <stddef.h>

typedef struct summary {
    double median, min, max;
    size_t n;
} summary;

/* Sorts x in place. */
summary summary_of(double *x, size_t n);

#endif
