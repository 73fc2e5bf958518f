#version 450
#ifdef LSUV_FP16
#extension GL_EXT_shader_16bit_storage : require
#define STORED float16_t
#else
#define STORED float
#endif
// LSUV's passes over a layer whose sums (W x) conv2d.comp kept. LSUV's
// steps change only the layer's state (the weights' scale, the bias's scale
// and shift, sub), so the sums of one convolution serve every pass. A pass
// is this kernel computing the Welford partials of the epilogue's outputs
// (with MEASURE pre, of its pre-activations) with the current state; once
// the layer is done, the kernel with STORE stores the outputs, the next
// layer's input. Each output is the same bits a whole forward gives: the
// epilogue is shared (epilogue.glsl).
//
// A workgroup covers one output channel (gl_WorkGroupID.y), so its bias term
// is computed once. An invocation takes one output position of that channel
// in a block of ITEMS consecutive samples, so its outputs are a constant
// stride apart; neighbouring lanes take neighbouring positions.
#extension GL_GOOGLE_include_directive : require
#include "stats_common.glsl"
#include "activation.glsl"

layout(constant_id = 2) const uint ACT = 0; // lsuv_activation
layout(constant_id = 3) const bool STORE = false;
layout(constant_id = 4) const uint MEASURE = LSUV_C_MEASURE_POST; // without STORE

#ifdef LSUV_TEXELS
// On a CPU: lavapipe loads storage buffers lane by lane inside a loop, but
// fetches texels with one vector gather.
layout(set = 0, binding = 0) uniform samplerBuffer sums_texels;
#define LOAD_SUM(i) texelFetch(sums_texels, int(i)).x
#else
layout(set = 0, binding = 0) readonly buffer Sums { float sums[]; };
#define LOAD_SUM(i) sums[i]
#endif
layout(set = 0, binding = 1) readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 2) writeonly buffer Output { STORED y[]; };
layout(set = 0, binding = 4) writeonly buffer Stats { Partial partials[]; };

layout(push_constant) uniform Push { LSUV_C_EPILOGUE_PUSH_FIELDS } pc;

#define LSUV_STATE_BINDING 3
#include "epilogue.glsl"

float output_at(Scales sc, float shift, uint at) {
    return epilogue_value(sc, LOAD_SUM(at), shift);
}

// unfold: with MEASURE conv, the channel's factor from a sum to W x, after
// the biases (epilogue.glsl).
float measured_at(Scales sc, float shift, float unfold, uint at) {
    return epilogue_measured(sc, LOAD_SUM(at), shift, unfold);
}

void main() {
    uint c = gl_WorkGroupID.y;
    // Push constants as values, read before any branch (see epilogue.glsl).
    Scales sc = scales_load(pc.slope, pc.maxv);
    uint n = pc.n, plane = pc.plane, sums_off = pc.sums_off, out_off = pc.out_off;
    float shift = epilogue_shift(sc, bias[c]);
    float unfold = MEASURE == LSUV_C_MEASURE_CONV ? bias[pc.oc + c] : 1.0;
    uint t = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationIndex;
    uint b0 = t / plane * ITEMS;
    uint items = b0 < n ? min(ITEMS, n - b0) : 0u;
    uint stride = pc.oc * plane; // from one sample's output to the next's
    uint at = (b0 * pc.oc + c) * plane + t % plane; // the first output's index
    uint sum_at = sums_off + at;                     // and its sum's
    if (STORE) {
        for (uint i = 0u; i < ITEMS; ++i)
            if (i < items)
                y[out_off + at + i * stride] =
                    STORED(output_at(sc, shift, sum_at + i * stride));
        return;
    }
    // The moments are about the workgroup's first measured value (its first
    // invocation's first), which every invocation computes from the same
    // sum: no barrier, and the same bits in each.
    uint t0 = gl_WorkGroupID.x * gl_WorkGroupSize.x;
    uint first_at = sums_off + t0 / plane * ITEMS * stride + c * plane + t0 % plane;
    float origin = moments_origin(measured_at(sc, shift, unfold, first_at));
    // A whole block takes the fast path, as stats_reduce.comp's does: four
    // outputs a step into four Welford accumulators that share one count, so
    // a step divides once. A partial block, or one that met a NaN or Inf,
    // takes the careful path over the same outputs.
    Moments m = moments_empty;
    bool careful = items < ITEMS;
    if (!careful) {
        vec4 mean = vec4(0.0), m2 = vec4(0.0);
        bool bad = false;
        for (uint i = 0u; i < ITEMS / 4u; ++i) {
            uint a = sum_at + 4u * i * stride;
            vec4 v = vec4(measured_at(sc, shift, unfold, a),
                          measured_at(sc, shift, unfold, a + stride),
                          measured_at(sc, shift, unfold, a + 2u * stride),
                          measured_at(sc, shift, unfold, a + 3u * stride));
            bad = bad || any(equal(floatBitsToUint(v) & 0x7f800000u, uvec4(0x7f800000u)));
            v -= origin;
            vec4 delta = v - mean;
            mean += delta * (1.0 / float(i + 1u));
            m2 += delta * (v - mean);
        }
        careful = bad;
        if (!bad) {
            uint q = ITEMS / 4u;
            m = Moments(mean.x, m2.x, q, 0u);
            m = moments_merge(m, Moments(mean.y, m2.y, q, 0u));
            m = moments_merge(m, Moments(mean.z, m2.z, q, 0u));
            m = moments_merge(m, Moments(mean.w, m2.w, q, 0u));
        }
    }
    if (careful) {
        m = moments_empty;
        for (uint i = 0u; i < items; ++i)
            m = moments_add_output(m, measured_at(sc, shift, unfold, sum_at + i * stride), origin);
    }
    m = workgroup_merge(m);
    if (gl_LocalInvocationIndex == 0u)
        partials[pc.stats_base + gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x] =
            Partial(origin, m.mean, m.m2, m.n, m.nonfinite, 0u);
}
