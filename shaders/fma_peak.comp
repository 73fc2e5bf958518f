#version 450
// The device's FMA throughput: 32 independent chains per invocation, so the
// latency of one FMA hides behind the others (lavapipe runs a workgroup's
// SIMD batches one after the other, so the chains of one invocation are all
// it can overlap). FLOPs = 2 * 32 * 4 * iterations per invocation.
layout(local_size_x_id = 0) in;
layout(set = 0, binding = 0) writeonly buffer Output { float sink[]; };
layout(push_constant) uniform Push {
    uint iterations;
    float a; // near 1, so the chains neither vanish nor overflow
} pc;

void main() {
    float b = float(gl_GlobalInvocationID.x) * 1e-6;
    float x[32];
    for (uint c = 0u; c < 32u; ++c) x[c] = b + 0.01 * float(c);
    for (uint i = 0u; i < pc.iterations; ++i) {
        for (uint u = 0u; u < 4u; ++u) {
            for (uint c = 0u; c < 32u; ++c) x[c] = fma(x[c], pc.a, b);
        }
    }
    float sum = 0.0;
    for (uint c = 0u; c < 32u; ++c) sum += x[c];
    sink[gl_GlobalInvocationID.x] = sum;
}
