#version 450
// --bn batch: darknet's batch norm with the batch's own statistics, over a
// layer's sums as conv2d.comp stored them (linear, without bias, sub or
// clamp: ops/bn_batch.c asks it so). A workgroup takes one output channel:
// its mean over every sample and position, then the sum of squared
// deviations about that mean (two passes, as the reference), divided by
// count - 1 as darknet's variance_cpu; then it rewrites the channel as
// activate(scales (x - mean) / sqrt(variance + eps) + bias) - sub, at most
// maxv.
#extension GL_GOOGLE_include_directive : require
#include "contract.h"
#include "activation.glsl"

layout(local_size_x_id = 0) in; // a power of two
layout(constant_id = 1) const uint ACT = 0; // lsuv_activation

layout(set = 0, binding = 0) buffer Values { float y[]; };
layout(set = 0, binding = 1) readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 2) readonly buffer Scales { float scales[]; };

layout(push_constant) uniform Push { LSUV_C_BN_PUSH_FIELDS } pc;

shared float wg_sum[gl_WorkGroupSize.x];

// Every invocation's v summed, a tree in shared memory; every invocation
// gets the total.
float workgroup_sum(float v) {
    uint lid = gl_LocalInvocationIndex;
    wg_sum[lid] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1u) {
        if (lid < s) wg_sum[lid] += wg_sum[lid + s];
        barrier();
    }
    float total = wg_sum[0];
    barrier();
    return total;
}

// Value i (sample i / plane, position i % plane) of channel c.
uint value_at(uint i, uint c) {
    return pc.off + ((i / pc.plane) * pc.oc + c) * pc.plane + i % pc.plane;
}

void main() {
    uint c = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (c >= pc.oc) return; // the whole workgroup: its barriers stay uniform
    uint count = pc.n * pc.plane, step = gl_WorkGroupSize.x;
    float s = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < count; i += step) s += y[value_at(i, c)];
    float mean = workgroup_sum(s) / float(count);
    float q = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < count; i += step) {
        float d = y[value_at(i, c)] - mean;
        q += d * d;
    }
    // One value: 0 / 0, NaN, as darknet's.
    float variance = workgroup_sum(q) / float(count - 1u);
    float a = scales[c] / sqrt(variance + LSUV_C_BN_EPSILON), b = bias[c];
    for (uint i = gl_LocalInvocationIndex; i < count; i += step) {
        uint at = value_at(i, c);
        float v = activate_keep_nan(ACT, pc.slope, fma(a, y[at] - mean, b)) - pc.sub;
        y[at] = isnan(v) ? v : min(v, pc.maxv);
    }
}
