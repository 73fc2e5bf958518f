#version 450
#ifdef LSUV_FP16
#extension GL_EXT_shader_16bit_storage : require
#define STORED float16_t
#else
#define STORED float
#endif
// The layers of darknet's graphs that move values rather than compute them:
// route, shortcut, upsample and reorg, each darknet's index mapping written
// per output value (src/ref/graph_ref.c follows darknet's loops instead, so
// the two are independent). One invocation per value written.
#extension GL_GOOGLE_include_directive : require
#include "contract.h"
#include "activation.glsl"

layout(local_size_x_id = 0) in;

layout(set = 0, binding = 0) readonly buffer Input { STORED x[]; };
layout(set = 0, binding = 1) readonly buffer From { STORED f[]; };
layout(set = 0, binding = 2) writeonly buffer Output { STORED y[]; };

layout(push_constant) uniform Push { LSUV_C_GRAPH_PUSH_FIELDS } pc;

float in_at(uint i) { return float(x[pc.in_off + i]); }

// darknet's shortcut_cpu adds from= where the output's position is a
// multiple of spread (its `sample`: the output is wider than from=) and
// reads from= at multiples of stride (from= is wider), over the smaller
// extent of each axis; elsewhere the output is the input as it is.
float shortcut(uint b, uint k, uint yy, uint xx, uint o) {
    float v = in_at(o);
    uint stride = max(pc.fw / pc.w, 1u), spread = max(pc.w / pc.fw, 1u);
    uint minw = min(pc.fw, pc.w), minh = min(pc.fh, pc.h), minc = min(pc.fc, pc.c);
    uint j = yy / spread, i = xx / spread;
    if (k < minc && yy % spread == 0u && xx % spread == 0u && j < minh && i < minw) {
        uint a = ((b * pc.fc + k) * pc.fh + j * stride) * pc.fw + i * stride;
        v = pc.alpha * v + pc.beta * float(f[pc.from_off + a]);
    }
    return activate_keep_nan(pc.act, pc.slope, v);
}

// reorg_cpu over the layer's input w x h x c: value A = i + w (j + h k)
// and value B of the same memory as c / s^2 channels of (h s) x (w s).
// reverse=0 writes out[A] = in[B], reverse=1 out[B] = in[A]; o is the
// output's index within its sample.
uint reorg_source(uint o) {
    uint s = pc.stride;
    if (pc.mode == LSUV_C_GRAPH_REORG) {
        // The input is ci channels of hi x wi; darknet's out_c is ci / s^2.
        uint wi = pc.w * s, hi = pc.h * s, ci = pc.c / (s * s), out_c = ci / (s * s);
        uint i = o % wi, j = (o / wi) % hi, k = o / (wi * hi);
        uint c2 = k % out_c, offset = k / out_c;
        uint w2 = i * s + offset % s, h2 = j * s + offset / s;
        return w2 + wi * s * (h2 + hi * s * c2);
    }
    uint wi = pc.w / s, hi = pc.h / s;
    uint w2 = o % pc.w, h2 = (o / pc.w) % pc.h, c2 = o / (pc.w * pc.h);
    uint offset = (h2 % s) * s + w2 % s, k = offset * pc.c + c2;
    return w2 / s + wi * (h2 / s + hi * k);
}

void main() {
    uint t = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
             gl_GlobalInvocationID.x;
    uint hw = pc.h * pc.w;
    if (pc.mode == LSUV_C_GRAPH_ROUTE) {
        if (t >= pc.n * pc.part * hw) return;
        uint p = t % hw, k = (t / hw) % pc.part, b = t / (hw * pc.part);
        y[pc.out_off + (b * pc.c + pc.c_off + k) * hw + p] =
            x[pc.in_off + (b * pc.ic + pc.c_first + k) * hw + p];
        return;
    }
    uint per = pc.c * hw;
    if (t >= pc.n * per) return;
    uint b = t / per, o = t % per;
    uint k = o / hw, yy = (o / pc.w) % pc.h, xx = o % pc.w;
    float v;
    if (pc.mode == LSUV_C_GRAPH_SHORTCUT) {
        v = shortcut(b, k, yy, xx, t);
    } else if (pc.mode == LSUV_C_GRAPH_UPSAMPLE) {
        uint s = pc.stride, sw = pc.w / s, sh = pc.h / s;
        v = pc.alpha * in_at(((b * pc.c + k) * sh + yy / s) * sw + xx / s);
    } else if (pc.mode == LSUV_C_GRAPH_UPSAMPLE_SUM) {
        // darknet adds alpha x each value of the block, rows first.
        uint s = pc.stride, bw = pc.w * s, bh = pc.h * s;
        v = 0.0;
        for (uint dy = 0u; dy < s; ++dy)
            for (uint dx = 0u; dx < s; ++dx)
                v += pc.alpha * in_at(((b * pc.c + k) * bh + yy * s + dy) * bw + xx * s + dx);
    } else if (pc.mode == LSUV_C_GRAPH_REORG_EXTRA) {
        v = o < pc.ic ? in_at(b * pc.ic + o) : 0.0;
    } else {
        v = in_at(b * per + reorg_source(o));
    }
    y[pc.out_off + t] = STORED(v);
}
