#version 450
#ifdef LSUV_FP16
#extension GL_EXT_shader_16bit_storage : require
#define STORED float16_t
#else
#define STORED float
#endif
// darknet's locally connected layer, one invocation per output value: its
// bias, then every tap of its own filter at its position in (c, ky, kx)
// order, taps in the padding skipped, then the activation. The weights are
// darknet's: position-major, each position's filters x (c x k x k).
#extension GL_GOOGLE_include_directive : require
#include "contract.h"
#include "activation.glsl"

layout(local_size_x_id = 0) in;

layout(set = 0, binding = 0) readonly buffer Input { STORED x[]; };
layout(set = 0, binding = 1) readonly buffer Weights { STORED wt[]; };
layout(set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) writeonly buffer Output { STORED y[]; };

layout(push_constant) uniform Push { LSUV_C_LOCAL_PUSH_FIELDS } pc;

void main() {
    uint t = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
             gl_GlobalInvocationID.x;
    uint positions = pc.oh * pc.ow, per = pc.oc * positions;
    if (t >= pc.n * per) return;
    uint b = t / per, f = (t % per) / positions, j = t % positions;
    int y0 = int((j / pc.ow) * pc.stride) - int(pc.padding);
    int x0 = int((j % pc.ow) * pc.stride) - int(pc.padding);
    uint k = pc.size, cols = pc.c * k * k;
    uint wbase = (j * pc.oc + f) * cols;
    float sum = bias[f * positions + j];
    for (uint c = 0; c < pc.c; ++c) {
        uint plane = pc.in_off + (b * pc.c + c) * pc.h * pc.w;
        for (uint ky = 0; ky < k; ++ky) {
            int yy = y0 + int(ky);
            if (yy < 0 || yy >= int(pc.h)) continue;
            for (uint kx = 0; kx < k; ++kx) {
                int xx = x0 + int(kx);
                if (xx < 0 || xx >= int(pc.w)) continue;
                sum += float(wt[wbase + (c * k + ky) * k + kx]) *
                       float(x[plane + uint(yy) * pc.w + uint(xx)]);
            }
        }
    }
    y[pc.out_off + t] = STORED(activate_keep_nan(pc.act, pc.slope, sum));
}
