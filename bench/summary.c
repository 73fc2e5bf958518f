#include "summary.h"

#include <math.h>
#include <stdlib.h>

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

summary summary_of(double *x, size_t n) {
    summary s = {NAN, NAN, NAN, n};
    if (n == 0) return s;
    qsort(x, n, sizeof *x, compare_double);
    s.min = x[0];
    s.max = x[n - 1];
    s.median = n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
    return s;
}
