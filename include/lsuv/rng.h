/* The seeded generator behind every synthetic tensor and initial weight.
 *
 * xoshiro256** (Blackman & Vigna, 2018) with its state filled from the seed by
 * splitmix64; a uniform double takes the top 53 bits of one output; a normal
 * pair comes from the Box-Muller transform of two uniforms. The same seed gives
 * the same numbers on every machine, whatever Vulkan device runs afterwards. */
#ifndef LSUV_RNG_H
#define LSUV_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct lsuv_rng {
    uint64_t s[4];
    double spare; /* the second normal of the last Box-Muller pair */
    int has_spare;
} lsuv_rng;

void lsuv_rng_seed(lsuv_rng *rng, uint64_t seed);
uint64_t lsuv_rng_next(lsuv_rng *rng);
/* Uniform on [0, 1). */
double lsuv_rng_uniform(lsuv_rng *rng);
/* Standard normal. */
double lsuv_rng_normal(lsuv_rng *rng);
/* Fills out[0..n) with mean + std * normal. */
void lsuv_rng_fill_normal(lsuv_rng *rng, float *out, size_t n, double mean, double std);

#endif
