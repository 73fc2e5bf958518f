#include "lsuv/ref.h"

#include <math.h>
#include <stdbool.h>

/* One body for float and double data: the reference must not differ by
 * type in anything but the input's rounding. */
static double value_at(const void *x, bool is_double, size_t i) {
    return is_double ? ((const double *)x)[i] : (double)((const float *)x)[i];
}

static void moments_of(const void *x, bool is_double, size_t n, lsuv_moments *out) {
    size_t finite = 0;
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double v = value_at(x, is_double, i);
        if (!isfinite(v)) continue;
        sum += v;
        ++finite;
    }
    out->count = finite;
    out->nonfinite = n - finite;
    if (finite == 0 || finite != n) {
        out->mean = out->std = out->std_population = NAN;
        return;
    }
    double mean = sum / (double)n;
    double ss = 0.0, comp = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double d = value_at(x, is_double, i) - mean;
        ss += d * d;
        comp += d;
    }
    /* comp is n times the first pass's error in the mean. */
    ss -= comp * comp / (double)n;
    if (ss < 0.0) ss = 0.0;
    out->mean = mean + comp / (double)n;
    out->std_population = sqrt(ss / (double)n);
    out->std = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
}

void lsuv_ref_moments(const float *x, size_t n, lsuv_moments *out) {
    moments_of(x, false, n, out);
}

void lsuv_ref_moments_f64(const double *x, size_t n, lsuv_moments *out) {
    moments_of(x, true, n, out);
}
