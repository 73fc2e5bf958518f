/* The fp64 CPU reference every device result is checked against. */
#ifndef LSUV_REF_H
#define LSUV_REF_H

#include <stddef.h>

#include "lsuv/stats.h"

/* Two passes in double precision: the mean, then the sum of squared
 * deviations (with the compensating term of Chan, Golub & LeVeque). NaN and Inf
 * values are counted and make the moments NaN, as on the device. */
void lsuv_ref_moments(const float *x, size_t n, lsuv_moments *out);

#endif
