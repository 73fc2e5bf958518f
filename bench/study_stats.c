#include "study_stats.h"

#include "lsuv/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

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

bool study_bootstrap_median(const double *x, size_t n, uint32_t resamples, uint64_t seed,
                            double level, double *lo, double *hi) {
    *lo = *hi = NAN;
    if (n == 0 || resamples == 0) return true;
    double *draw = malloc(n * sizeof *draw), *medians = malloc(resamples * sizeof *medians);
    if (!draw || !medians) {
        free(draw);
        free(medians);
        return false;
    }
    lsuv_rng rng;
    lsuv_rng_seed(&rng, seed);
    for (uint32_t r = 0; r < resamples; ++r) {
        for (size_t i = 0; i < n; ++i) {
            size_t k = (size_t)(lsuv_rng_uniform(&rng) * (double)n);
            draw[i] = x[k < n ? k : n - 1];
        }
        qsort(draw, n, sizeof *draw, compare_double);
        medians[r] = study_quantile(draw, n, 0.5);
    }
    qsort(medians, resamples, sizeof *medians, compare_double);
    *lo = study_quantile(medians, resamples, (1 - level) / 2);
    *hi = study_quantile(medians, resamples, (1 + level) / 2);
    free(draw);
    free(medians);
    return true;
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
