#version 450
// First pass of the statistics: each workgroup reads 4 * ITEMS *
// gl_WorkGroupSize.x consecutive floats and writes one Partial.
//
// An invocation owns the vec4s at group_base4 + i * gl_WorkGroupSize.x + lid,
// i < ITEMS, so neighbouring invocations read neighbouring memory. A full
// group whose range starts on a vec4 takes the fast path: whole vec4 loads, no
// bounds checks, four Welford accumulators sharing one count, so the 1/n of
// each step is one number. Anything else (the tail, a range that starts off a
// vec4, or an invocation that met a NaN or Inf) takes the careful path over the
// same elements, which gives the same partition and so a deterministic result.
//
// With LSUV_TEXEL the fast path reads through a uniform texel buffer of vec4s
// (binding 2, a view of the same memory). lavapipe fetches texels with vector
// gathers but storage-buffer loads lane by lane; measured on one core:
// 7.1 GB/s against 4.1.
//
// With LSUV_TWOPASS this is the second pass of the two-pass method: the naive
// sums of x - shift and its square, where the shift is the mean that the first
// pass (the naive kernels) left at slot pc.shift_slot of binding 3.
#extension GL_GOOGLE_include_directive : require
#if defined(LSUV_TWOPASS) && !defined(LSUV_NAIVE)
#define LSUV_NAIVE 1
#endif
#include "stats_common.glsl"

layout(set = 0, binding = 0) readonly buffer Input { float x[]; };
#ifdef LSUV_TEXEL
layout(set = 0, binding = 2) uniform samplerBuffer x4_texels;
#define LOAD_VEC4(i) texelFetch(x4_texels, int(i))
#else
layout(set = 0, binding = 0) readonly buffer Input4 { vec4 x4[]; };
#define LOAD_VEC4(i) x4[i]
#endif
layout(set = 0, binding = 1) writeonly buffer Output { Partial partials[]; };
#ifdef LSUV_TWOPASS
layout(set = 0, binding = 3) readonly buffer FirstPass { Partial first_pass[]; };
#endif

layout(push_constant) uniform Push { LSUV_C_STATS_PUSH_FIELDS } pc;

// Every input the invocation owns, one at a time, with bounds and finiteness
// checks.
Moments careful_path(uint group_base4, uint lid, float shift) {
    Moments m = moments_empty;
    for (uint i = 0u; i < ITEMS; ++i) {
        uint base = 4u * (group_base4 + i * gl_WorkGroupSize.x + lid);
        for (uint c = 0u; c < 4u; ++c) {
            uint idx = base + c;
            if (idx >= pc.count) break;
            float v = x[pc.first + idx];
            if (is_finite_bits(v))
                m = moments_push(m, v - shift);
            else
                m.nonfinite += 1u;
        }
    }
    return m;
}

void main() {
    uint lid = gl_LocalInvocationIndex;
    uint group_base4 = gl_WorkGroupID.x * gl_WorkGroupSize.x * ITEMS;
#if defined(LSUV_TWOPASS)
    // The first pass's mean, the same in every workgroup, so the combine
    // passes re-base by exactly 0.
    Partial first_sums = first_pass[pc.shift_slot];
    float shift = first_sums.n == 0u ? 0.0 : first_sums.mean / float(first_sums.n);
    if (!is_finite_bits(shift)) shift = 0.0;
#elif defined(LSUV_NAIVE)
    float shift = 0.0;
#else
    // The workgroup's first input, read by every invocation, serves as the
    // shift: data far from zero then loses no precision in the deltas.
    float shift = x[pc.first + 4u * group_base4];
    if (!is_finite_bits(shift)) shift = 0.0;
#endif
    bool fast = (pc.first & 3u) == 0u && 4u * (group_base4 + gl_WorkGroupSize.x * ITEMS) <= pc.count;
    Moments m = moments_empty;
    bool careful = !fast;
    if (fast) {
        uint base4 = pc.first / 4u + group_base4 + lid;
        vec4 mean = vec4(0.0), m2 = vec4(0.0);
        bool bad = false;
        for (uint i = 0u; i < ITEMS; ++i) {
            vec4 v = LOAD_VEC4(base4 + i * gl_WorkGroupSize.x);
            uvec4 bits = floatBitsToUint(v) & 0x7f800000u;
            bad = bad || any(equal(bits, uvec4(0x7f800000u)));
            vec4 y = v - shift;
#ifdef LSUV_NAIVE
            mean += y;
            m2 += y * y;
#else
            vec4 delta = y - mean;
            mean += delta * (1.0 / float(i + 1u));
            m2 += delta * (y - mean);
#endif
        }
        if (bad) {
            careful = true;
        } else {
            m = Moments(mean.x, m2.x, ITEMS, 0u);
            m = moments_merge(m, Moments(mean.y, m2.y, ITEMS, 0u));
            m = moments_merge(m, Moments(mean.z, m2.z, ITEMS, 0u));
            m = moments_merge(m, Moments(mean.w, m2.w, ITEMS, 0u));
        }
    }
    if (careful) m = careful_path(group_base4, lid, shift);
    m = workgroup_merge(m);
    if (lid == 0u)
        partials[pc.out_base + gl_WorkGroupID.x] = Partial(shift, m.mean, m.m2, m.n, m.nonfinite, 0u);
}
