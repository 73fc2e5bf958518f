#version 450
// First pass of the statistics: each workgroup reads gl_WorkGroupSize.x * ITEMS
// consecutive floats and writes one Partial.
#extension GL_GOOGLE_include_directive : require
#include "stats_common.glsl"

layout(set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Output { Partial partials[]; };

layout(push_constant) uniform Push {
    uint first;    // index of the first input in the bound range
    uint count;    // inputs in this dispatch
    uint out_base; // index of this dispatch's first Partial
} pc;

void main() {
    uint lid = gl_LocalInvocationIndex;
    uint group_base = gl_WorkGroupID.x * gl_WorkGroupSize.x * ITEMS;
#ifdef LSUV_NAIVE
    float shift = 0.0;
#else
    // The workgroup's first input, read by every invocation, serves as the
    // shift: data far from zero then loses no precision in the deltas.
    float shift = x[pc.first + group_base];
    if (!is_finite_bits(shift)) shift = 0.0;
#endif
    Moments m = moments_empty;
    // Invocations read neighbouring floats on each step, for coalescing.
    for (uint i = 0u; i < ITEMS; ++i) {
        uint idx = group_base + i * gl_WorkGroupSize.x + lid;
        if (idx < pc.count) {
            float v = x[pc.first + idx];
            if (is_finite_bits(v))
                m = moments_push(m, v - shift);
            else
                m.nonfinite += 1u;
        }
    }
    m = workgroup_merge(m);
    if (lid == 0u)
        partials[pc.out_base + gl_WorkGroupID.x] = Partial(shift, m.mean, m.m2, m.n, m.nonfinite, 0u);
}
