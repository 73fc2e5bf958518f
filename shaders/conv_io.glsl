// What every convolution kernel (conv2d.comp, conv_gemm.comp) shares: the
// bias, output, statistics and sums bindings, the push constants and the
// epilogue; conv_emit.glsl, after it, stores an output and the statistics.
// The includer declares bindings 0 and 1, STORED, ACT, SUMS and MEASURE, and
// includes stats_common.glsl and activation.glsl first.
layout(set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) writeonly buffer Output { STORED y[]; };
layout(set = 0, binding = 5) writeonly buffer Stats { Partial partials[]; };
// With SUMS the kernel stores its sums (W x) here instead of its outputs, for
// LSUV's later passes to apply the epilogue to (epilogue.comp): none of
// LSUV's steps changes W.
layout(set = 0, binding = 6) writeonly buffer Sums { float sums[]; };

#include "contract.h"
#define LSUV_PUSH_FIELDS LSUV_C_CONV_PUSH_FIELDS
layout(push_constant) uniform Push { LSUV_PUSH_FIELDS } pc;
// The push constants as values, copied once at the top of main: inside a
// branch or a loop lavapipe loads a push constant lane by lane, every time
// (reading them and the biases so in the epilogue, LSUV's first pass over
// fastai's first layer took 5.6 ms instead of 4.0).
struct Params { LSUV_PUSH_FIELDS };
Params P;

void params_load() {
    P = Params(pc.n, pc.c, pc.h, pc.w, pc.oc, pc.oh, pc.ow, pc.k, pc.stride, pc.pad, pc.cg, pc.og,
               pc.slope, pc.maxv, pc.in_off, pc.out_off, pc.w_off, pc.oc_begin, pc.oc_end,
               pc.stats_base, pc.sums_off);
}

#define LSUV_STATE_BINDING 4
#include "epilogue.glsl"

// A channel's factor from a sum to W x (epilogue_measured), which the host
// puts after the biases of a layer with batch norm; only MEASURE conv reads
// it, so other layers' bias buffers need not hold it.
float unfold_load(uint ch) {
    return MEASURE == LSUV_C_MEASURE_CONV ? bias[P.oc + ch] : 1.0;
}
