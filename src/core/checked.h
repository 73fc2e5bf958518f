/* Internal: the checks every file reader makes on sizes and values it read,
 * so that a product that wraps never passes for a small one. */
#ifndef LSUV_CORE_CHECKED_H
#define LSUV_CORE_CHECKED_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* *out = a * b; false (and *out unset) when the product needs more than 64
 * bits. */
static inline bool lsuv_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* The index of the first NaN or infinity in x, or n when there is none. */
static inline uint64_t lsuv_first_non_finite(const float *x, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i)
        if (!isfinite(x[i])) return i;
    return n;
}

#endif
