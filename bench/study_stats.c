#include "study_stats.h"

#include "lsuv/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double study_quantile(const double *sorted, size_t n, double p) {
    double h = (double)(n - 1) * p;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n) return sorted[n - 1];
    return sorted[i] + (h - (double)i) * (sorted[i + 1] - sorted[i]);
}

/* The median of a resample of sorted[0..n): count how often each index was
 * drawn and walk the counts to the middle ranks, O(n) with no sorting. */
static double resample_median(const double *sorted, size_t n, lsuv_rng *rng, uint32_t *count) {
    memset(count, 0, n * sizeof *count);
    for (size_t i = 0; i < n; ++i) {
        size_t k = (size_t)(lsuv_rng_uniform(rng) * (double)n);
        ++count[k < n ? k : n - 1];
    }
    size_t lo_rank = (n - 1) / 2, hi_rank = n / 2, seen = 0;
    double lo = NAN;
    for (size_t k = 0; k < n; ++k) {
        seen += count[k];
        if (isnan(lo) && seen > lo_rank) lo = sorted[k];
        if (seen > hi_rank) return 0.5 * (lo + sorted[k]);
    }
    return lo;
}

bool study_bootstrap_median(const double *x, size_t n, uint32_t resamples, uint64_t seed,
                            double level, double *lo, double *hi) {
    *lo = *hi = NAN;
    if (n == 0 || resamples == 0) return true;
    double *sorted = malloc(n * sizeof *sorted), *medians = malloc(resamples * sizeof *medians);
    uint32_t *count = malloc(n * sizeof *count);
    bool ok = sorted && medians && count;
    if (ok) {
        memcpy(sorted, x, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, compare_double);
        lsuv_rng rng;
        lsuv_rng_seed(&rng, seed);
        for (uint32_t r = 0; r < resamples; ++r)
            medians[r] = resample_median(sorted, n, &rng, count);
        qsort(medians, resamples, sizeof *medians, compare_double);
        *lo = study_quantile(medians, resamples, (1 - level) / 2);
        *hi = study_quantile(medians, resamples, (1 + level) / 2);
    }
    free(sorted);
    free(medians);
    free(count);
    return ok;
}

bool study_box_of(double *x, size_t n, study_box *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; ++i)
        if (isfinite(x[i])) x[m++] = x[i];
    *out = (study_box){m, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    if (m == 0) return true;
    qsort(x, m, sizeof *x, compare_double);
    out->median = study_quantile(x, m, 0.5);
    out->q1 = study_quantile(x, m, 0.25);
    out->q3 = study_quantile(x, m, 0.75);
    out->min = x[0];
    out->max = x[m - 1];
    return study_bootstrap_median(x, m, STUDY_BOOT_RESAMPLES, STUDY_BOOT_SEED, STUDY_BOOT_LEVEL,
                                  &out->ci_lo, &out->ci_hi);
}
