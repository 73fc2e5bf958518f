/* The statistics of a study's summary: quartiles as the linear
 * interpolation of the order statistics (R's type 7, numpy's default) and a
 * percentile bootstrap interval of the median. */
#ifndef LSUV_BENCH_STUDY_STATS_H
#define LSUV_BENCH_STUDY_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The summary is reproducible: every group's bootstrap starts from this
 * seed, whichever other groups the study holds. */
enum { STUDY_BOOT_RESAMPLES = 2000 };
#define STUDY_BOOT_SEED  20261130u
#define STUDY_BOOT_LEVEL 0.95

typedef struct study_box {
    size_t n; /* the finite values; the rest are NaN when it is 0 */
    double median, q1, q3, min, max;
    double ci_lo, ci_hi; /* of the median */
} study_box;

/* The p-quantile (0 <= p <= 1) of sorted[0..n), n > 0. */
double study_quantile(const double *sorted, size_t n, double p);

/* The level interval of the median of x[0..n) (finite values) from
 * resamples draws with replacement, seeded with seed. Returns false when out
 * of memory. */
bool study_bootstrap_median(const double *x, size_t n, uint32_t resamples, uint64_t seed,
                            double level, double *lo, double *hi);

/* The box of x's finite values, with its bootstrap interval as above
 * (STUDY_BOOT_*); x is reordered. Returns false when out of memory. */
bool study_box_of(double *x, size_t n, study_box *out);

#endif
