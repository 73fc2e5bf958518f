#include "lsuv/ref.h"

#include <math.h>

void lsuv_ref_moments(const float *x, size_t n, lsuv_moments *out) {
    size_t finite = 0;
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(x[i])) continue;
        sum += x[i];
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
        double d = (double)x[i] - mean;
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
