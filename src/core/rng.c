#include "lsuv/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void lsuv_rng_seed(lsuv_rng *rng, uint64_t seed) {
    for (int i = 0; i < 4; ++i) rng->s[i] = splitmix64(&seed);
    rng->has_spare = 0;
    rng->spare = 0.0;
}

uint64_t lsuv_rng_next(lsuv_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double lsuv_rng_uniform(lsuv_rng *rng) {
    return (double)(lsuv_rng_next(rng) >> 11) * 0x1.0p-53;
}

double lsuv_rng_normal(lsuv_rng *rng) {
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    /* 1 - u keeps the logarithm's argument in (0, 1]. */
    double r = sqrt(-2.0 * log(1.0 - lsuv_rng_uniform(rng)));
    double theta = 6.283185307179586 * lsuv_rng_uniform(rng); /* 2 pi */
    rng->spare = r * sin(theta);
    rng->has_spare = 1;
    return r * cos(theta);
}

void lsuv_rng_fill_normal(lsuv_rng *rng, float *out, size_t n, double mean, double std) {
    for (size_t i = 0; i < n; ++i) out[i] = (float)(mean + std * lsuv_rng_normal(rng));
}
