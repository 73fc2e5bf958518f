#version 450
#ifdef LSUV_FP16
#extension GL_EXT_shader_16bit_storage : require
#define STORED float16_t
#else
#define STORED float
#endif
// The layers without weights that change a tensor: darknet's maxpool, the
// global average pool and the centre crop. One invocation per output value.
#extension GL_GOOGLE_include_directive : require
#include "contract.h"

layout(local_size_x_id = 0) in;

layout(set = 0, binding = 0) readonly buffer Input { STORED x[]; };
layout(set = 0, binding = 1) writeonly buffer Output { STORED y[]; };

layout(push_constant) uniform Push { LSUV_C_POOL_PUSH_FIELDS } pc;

// The larger of m and v, NaN if either is: a NaN in a window makes its max
// NaN, as in the reference. GLSL's max of a NaN may be either operand.
float max_keep_nan(float m, float v) {
    bool v_nan = (floatBitsToUint(v) & 0x7fffffffu) > 0x7f800000u;
    return v_nan || v > m ? v : m;
}

void main() {
    uint i = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
             gl_GlobalInvocationID.x;
    uint total = pc.n * pc.c * pc.oh * pc.ow;
    if (i >= total) return;
    uint ox = i % pc.ow, t = i / pc.ow;
    uint oy = t % pc.oh, bc = t / pc.oh;
    uint plane = pc.in_off + bc * pc.h * pc.w;
    float v;
    if (pc.mode == LSUV_C_POOL_MAXPOOL) {
        // darknet: the window starts padding/2 before oy*stride, and
        // positions outside the input do not count.
        int y0 = int(oy * pc.stride) - int(pc.padding / 2u);
        int x0 = int(ox * pc.stride) - int(pc.padding / 2u);
        v = -3.402823466e38;
        for (uint ky = 0u; ky < pc.size; ++ky) {
            for (uint kx = 0u; kx < pc.size; ++kx) {
                int iy = y0 + int(ky), ix = x0 + int(kx);
                if (iy >= 0 && ix >= 0 && iy < int(pc.h) && ix < int(pc.w))
                    v = max_keep_nan(v, float(x[plane + uint(iy) * pc.w + uint(ix)]));
            }
        }
    } else if (pc.mode == LSUV_C_POOL_AVGPOOL) {
        float sum = 0.0;
        for (uint j = 0u; j < pc.h * pc.w; ++j) sum += float(x[plane + j]);
        v = sum / float(pc.h * pc.w);
    } else {
        uint dy = (pc.h - pc.oh) / 2u, dx = (pc.w - pc.ow) / 2u;
        v = float(x[plane + (oy + dy) * pc.w + ox + dx]);
        // darknet's crop takes pixels in [0, 1] to [-1, 1] unless noadjust=1.
        if (pc.mode == LSUV_C_POOL_CROP_SCALE) v = 2.0 * v - 1.0;
    }
    y[pc.out_off + i] = STORED(v);
}
