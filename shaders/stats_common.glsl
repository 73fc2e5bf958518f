// Moments of a set of floats and their merge, shared by the statistics kernels.
//
// Built in two algorithms (cmake/shaders.cmake picks one with a define):
//   LSUV_WELFORD: (n, mean, M2) merged with Chan, Golub & LeVeque's pairwise
//                 formula; values are taken relative to a shift so that data
//                 far from zero keeps its precision.
//   LSUV_NAIVE:   fp32 sum and sum of squares, kept only to show how it fails.
//                 The second pass of the two-pass method (LSUV_TWOPASS, in
//                 stats_reduce.comp) uses it on values less the first pass's
//                 mean.
// and two workgroup merges:
//   LSUV_SUBGROUP: a butterfly of subgroup shuffles, then shared memory across
//                  subgroups; needs full subgroups.
//   otherwise:     a tree in shared memory alone.
// Every merge happens in a fixed order, so the result is bit-identical from
// run to run on one device: no float atomics anywhere.

#ifdef LSUV_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ITEMS = 16; // inputs per invocation

// One partial result as stored between dispatches. The moments are about
// `shift`: the data's mean is shift + mean. For LSUV_NAIVE, mean holds the sum
// and m2 the sum of squares of the values less shift, which is 0 but in the
// second pass of LSUV_TWOPASS.
#include "contract.h"
struct Partial { LSUV_C_PARTIAL_FIELDS };

struct Moments {
    float mean;
    float m2;
    uint n;
    uint nonfinite;
};

const Moments moments_empty = Moments(0.0, 0.0, 0u, 0u);

bool is_finite_bits(float x) {
    // A bit test rather than isnan/isinf, which a driver may fold away.
    return (floatBitsToUint(x) & 0x7f800000u) != 0x7f800000u;
}

Moments moments_merge(Moments a, Moments b) {
#ifdef LSUV_NAIVE
    return Moments(a.mean + b.mean, a.m2 + b.m2, a.n + b.n, a.nonfinite + b.nonfinite);
#else
    uint n = a.n + b.n;
    float fb = n == 0u ? 0.0 : float(b.n) / float(n);
    float delta = b.mean - a.mean;
    return Moments(a.mean + delta * fb, a.m2 + b.m2 + delta * delta * float(a.n) * fb, n,
                   a.nonfinite + b.nonfinite);
#endif
}

// Adds one input value y (already relative to the shift).
Moments moments_push(Moments m, float y) {
#ifdef LSUV_NAIVE
    return Moments(m.mean + y, m.m2 + y * y, m.n + 1u, m.nonfinite);
#else
    m.n += 1u;
    float delta = y - m.mean;
    m.mean += delta / float(m.n);
    m.m2 += delta * (y - m.mean);
    return m;
#endif
}

shared Moments wg_moments[gl_WorkGroupSize.x];

// Merges the moments of every invocation of the workgroup; the result is valid
// in invocation 0.
Moments workgroup_merge(Moments m) {
    uint lid = gl_LocalInvocationIndex;
#ifdef LSUV_SUBGROUP
    for (uint lane = 1u; lane < gl_SubgroupSize; lane <<= 1) {
        Moments other = Moments(subgroupShuffleXor(m.mean, lane), subgroupShuffleXor(m.m2, lane),
                                subgroupShuffleXor(m.n, lane),
                                subgroupShuffleXor(m.nonfinite, lane));
        // Both lanes of a pair merge lower-then-upper, so they agree bit for bit.
        m = (gl_SubgroupInvocationID & lane) == 0u ? moments_merge(m, other)
                                                   : moments_merge(other, m);
    }
    if (gl_SubgroupInvocationID == 0u) wg_moments[gl_SubgroupID] = m;
    uint count = gl_NumSubgroups;
#else
    wg_moments[lid] = m;
    uint count = gl_WorkGroupSize.x;
#endif
    barrier();
    uint half_size = 1u;
    while (half_size * 2u < count) half_size <<= 1;
    for (; half_size > 0u; half_size >>= 1) {
        if (lid < half_size && lid + half_size < count)
            wg_moments[lid] = moments_merge(wg_moments[lid], wg_moments[lid + half_size]);
        barrier();
    }
    return wg_moments[0];
}
