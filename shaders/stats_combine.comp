#version 450
// Later passes of the statistics: each workgroup merges gl_WorkGroupSize.x *
// ITEMS consecutive Partials into one, in a fixed order.
#extension GL_GOOGLE_include_directive : require
#include "stats_common.glsl"

layout(set = 0, binding = 0) readonly buffer Input { Partial inputs[]; };
layout(set = 0, binding = 1) writeonly buffer Output { Partial partials[]; };

layout(push_constant) uniform Push { LSUV_C_STATS_PUSH_FIELDS } pc;

void main() {
    uint lid = gl_LocalInvocationIndex;
    uint group_base = gl_WorkGroupID.x * gl_WorkGroupSize.x * ITEMS;
    // Re-base every partial onto the group's first shift. Shifts of one data
    // set are close, so their difference is exact or nearly so.
    float shift = inputs[pc.first + group_base].shift;
    Moments m = moments_empty;
    for (uint i = 0u; i < ITEMS; ++i) {
        uint idx = group_base + i * gl_WorkGroupSize.x + lid;
        if (idx < pc.count) {
            Partial p = inputs[pc.first + idx];
            m = moments_merge(m, Moments((p.shift - shift) + p.mean, p.m2, p.n, p.nonfinite));
        }
    }
    m = workgroup_merge(m);
    if (lid == 0u)
        partials[pc.out_base + gl_WorkGroupID.x] = Partial(shift, m.mean, m.m2, m.n, m.nonfinite, 0u);
}
