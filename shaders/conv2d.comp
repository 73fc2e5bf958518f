#version 450
#ifdef LSUV_FP16
// Activations and weights stored as fp16, arithmetic in fp32.
#extension GL_EXT_shader_16bit_storage : require
#define STORED float16_t
#else
#define STORED float
#endif
// Convolution forward, NCHW, with a fused epilogue: bias, activation, minus
// sub, clamp to maxv; and optionally the Welford partials of its own output
// (with MEASURE pre, of its pre-activation), so forward plus statistics is
// one pass over memory. A connected layer runs here too, as a 1x1
// convolution of a 1x1 image with C = its inputs. With SUMS (LSUV's first
// pass over a layer) it stores the sums before the epilogue instead of the
// outputs, for epilogue.comp's later passes.
//
// An invocation computes OC_T output channels for PX_T output pixels (a
// register tile: each input value loaded is used OC_T times, each weight
// PX_T times). The channel tile is fixed per workgroup (gl_WorkGroupID.y), so
// every weight load has one address across the workgroup. Pixel p of an
// invocation is group_base + p * gl_WorkGroupSize.x + lid, so neighbouring
// lanes read neighbouring pixels; with row tiles (main_rows, on a CPU) an
// invocation's pixels are neighbours in one output row instead.
//
// With LSUV_KSPLIT (connected layers with fewer samples than a workgroup has
// invocations) the lanes split the sum over the inputs instead: a workgroup
// computes OC_T outputs for PX_T samples, each lane every
// gl_WorkGroupSize.x-th input, and a fixed-order tree in shared memory adds
// the lanes' sums. The pixel-parallel kernel would leave all but n lanes
// idle there and read each weight once per lane group (alexnet's connected
// layers at batch 2 ran at 0.2 GFLOP/s).
#extension GL_GOOGLE_include_directive : require
#include "stats_common.glsl"
#include "activation.glsl"

layout(constant_id = 2) const uint OC_T = 8;
layout(constant_id = 3) const uint PX_T = 4;
// The activation (lsuv_activation), a specialization constant: lavapipe runs
// every branch of an if under a lane mask, so a switch on a push constant
// would evaluate all sixteen activations for every output (measured: 28% of
// the standard case's time in its epilogue).
layout(constant_id = 4) const uint ACT = 0;
layout(constant_id = 8) const bool SUMS = false;
// Which values the statistics describe (with SUMS: LSUV_C_MEASURE_*).
layout(constant_id = 9) const uint MEASURE = LSUV_C_MEASURE_POST;

// Where the input and weights come from. Packed weights (LSUV_UBO_WEIGHTS,
// LSUV_TEXELS) are laid out [tile][ky][kx][channel][OC_T] by the host, each
// group's channels padded to a multiple of CI_T, and read as vec4s.
#if defined(LSUV_TEXELS)
// The CPU's kind: both through uniform texel buffers. Inside a loop lavapipe
// loads every other kind of value lane by lane, eight scalar loads and
// inserts, however uniform its address; a texel fetch is one vector gather,
// and an RGBA texel brings four weights (measured on the standard case: the
// input as texels 17.5 -> 22.5 GFLOP/s, then the weights 27 -> 33).
#define LSUV_PACKED_WEIGHTS
layout(set = 0, binding = 0) uniform samplerBuffer x_texels;
#define LOAD_INPUT(i) texelFetch(x_texels, int(i)).x
layout(set = 0, binding = 1) uniform samplerBuffer w_texels;
#define LOAD_W4(i) texelFetch(w_texels, int(i))
#else
layout(set = 0, binding = 0) readonly buffer Input { STORED x[]; };
#define LOAD_INPUT(i) float(x[i])
#if defined(LSUV_UBO_WEIGHTS)
// Weights in a uniform buffer, which GPUs serve from a constant cache: every
// weight a workgroup loads has one address across it.
#define LSUV_PACKED_WEIGHTS
layout(set = 0, binding = 1, std140) uniform Weights { vec4 wts4[4096]; };
#define LOAD_W4(i) wts4[i]
#else
layout(set = 0, binding = 1) readonly buffer Weights { STORED wts[]; };
#endif
#endif
#include "conv_io.glsl"

// The epilogue's constants of the tile's channels from oc0, read at the top
// level for the reason params_load is (conv_io.glsl).
void shifts_load(Scales sc, uint oc0, out float shift[OC_T], out float unfold[OC_T]) {
    for (uint j = 0u; j < OC_T; ++j) {
        uint ch = min(oc0 + j, P.oc_end - 1u);
        shift[j] = epilogue_shift(sc, bias[ch]);
        unfold[j] = unfold_load(ch);
    }
}

#include "conv_emit.glsl"

#ifndef LSUV_KSPLIT
// Input channels per inner-loop pass (1, 2 or 4: fewer only for layers with
// fewer channels a group). lavapipe keeps loop-carried values in memory and
// blends every write to them with the execution mask, so an accumulator
// updated once per pass costs a load, a blend and a store; four FMAs to each
// per pass, not one, took the standard case from 31 to 56 GFLOP/s with the
// loads taken out (eight: slower). The host pads each group's channels to a
// multiple of it in packed weights.
layout(constant_id = 5) const uint CI_T = 4;

#ifdef LSUV_TEXELS
// Row tiles, when ROW_S (the stride) is not 0: an invocation's PX_T
// pixels are neighbours in one output row, so for each kernel row and
// channel it fetches the (PX_T - 1) * ROW_S + ROW_K input values their
// windows span once, not PX_T per tap. ROW_K is the kernel size. Groups = 1.
layout(constant_id = 6) const uint ROW_K = 1;
layout(constant_id = 7) const uint ROW_S = 0;
const uint ROW_R = (PX_T - 1u) * ROW_S + ROW_K;

void main_rows() {
    uint x_chunks = (P.ow + PX_T - 1u) / PX_T;
    uint item = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationIndex;
    uint items = P.n * P.oh * x_chunks;
    uint it = min(item, items - 1u);
    uint ox0 = (it % x_chunks) * PX_T, t = it / x_chunks;
    uint oy = t % P.oh, b = t / P.oh;
    uint oc0 = P.oc_begin + gl_WorkGroupID.y * OC_T;
    uint plane = P.h * P.w;
    uint ci_pad = (P.cg + CI_T - 1u) / CI_T * CI_T;
    int ix0 = int(ox0 * ROW_S) - int(P.pad);

    float acc[OC_T][PX_T];
    for (uint j = 0u; j < OC_T; ++j)
        for (uint p = 0u; p < PX_T; ++p) acc[j][p] = 0.0;
    for (uint ky = 0u; ky < ROW_K; ++ky) {
        int iy = int(oy * ROW_S + ky) - int(P.pad);
        bool row = iy >= 0 && iy < int(P.h);
        uint base = P.in_off + b * P.c * plane + uint(max(iy, 0)) * P.w;
        uint w_row = (gl_WorkGroupID.y * ROW_K + ky) * ROW_K * ci_pad;
        for (uint ci = 0u; ci < P.cg; ci += CI_T) {
            float xr[CI_T][ROW_R];
            float wv[ROW_K][CI_T][OC_T];
            for (uint cc = 0u; cc < CI_T; ++cc) {
                bool channel = row && ci + cc < P.cg;
                for (uint r = 0u; r < ROW_R; ++r) {
                    int ix = ix0 + int(r);
                    xr[cc][r] = channel && ix >= 0 && ix < int(P.w)
                                    ? LOAD_INPUT(base + (ci + cc) * plane + uint(ix))
                                    : 0.0;
                }
                for (uint kx = 0u; kx < ROW_K; ++kx) {
                    uint wi = P.w_off / 4u + (w_row + kx * ci_pad + ci + cc) * (OC_T / 4u);
                    for (uint q = 0u; q < OC_T / 4u; ++q) {
                        vec4 w4 = LOAD_W4(wi + q);
                        wv[kx][cc][4u * q] = w4.x;
                        wv[kx][cc][4u * q + 1u] = w4.y;
                        wv[kx][cc][4u * q + 2u] = w4.z;
                        wv[kx][cc][4u * q + 3u] = w4.w;
                    }
                }
            }
            for (uint j = 0u; j < OC_T; ++j)
                for (uint p = 0u; p < PX_T; ++p) {
                    float a = acc[j][p];
                    for (uint kx = 0u; kx < ROW_K; ++kx)
                        for (uint cc = 0u; cc < CI_T; ++cc)
                            a = fma(wv[kx][cc][j], xr[cc][p * ROW_S + kx], a);
                    acc[j][p] = a;
                }
        }
    }

    bool stats = P.stats_base != 0xffffffffu;
    Moments m = moments_empty;
    Scales sc = scales_load(P.slope, P.maxv);
    float shift[OC_T], unfold[OC_T];
    shifts_load(sc, oc0, shift, unfold);
    float origin = workgroup_origin(stats, sc, shift[0], unfold[0], acc[0][0]);
    uint out_plane = P.oh * P.ow;
    uint at0 = (b * P.oc + oc0) * out_plane + oy * P.ow + ox0;
    for (uint j = 0u; j < OC_T; ++j)
        for (uint p = 0u; p < PX_T; ++p)
            if (oc0 + j < P.oc_end && item < items && ox0 + p < P.ow)
                emit(sc, shift[j], unfold[j], at0 + j * out_plane + p, acc[j][p], stats, origin, m);
    write_partial(stats, origin, m);
}
#endif

void main() {
    params_load();
#ifdef LSUV_TEXELS
    if (ROW_S != 0u) {
        main_rows();
        return;
    }
#endif
    uint lid = gl_LocalInvocationIndex;
    uint pixels = P.n * P.oh * P.ow;
    uint oc0 = P.oc_begin + gl_WorkGroupID.y * OC_T;
    // A tile never straddles two groups: the host picks OC_T dividing og
    // whenever there is more than one group.
    uint ci0 = (oc0 / P.og) * P.cg;
    uint px_base = gl_WorkGroupID.x * gl_WorkGroupSize.x * PX_T + lid;

    float acc[OC_T][PX_T];
    for (uint j = 0u; j < OC_T; ++j)
        for (uint p = 0u; p < PX_T; ++p) acc[j][p] = 0.0;
    // Per pixel: the input offset of its sample and channel 0 of the group,
    // and the top-left corner of its window.
    uint in_base[PX_T], out_at[PX_T];
    int iy0[PX_T], ix0[PX_T];
    for (uint p = 0u; p < PX_T; ++p) {
        uint px = min(px_base + p * gl_WorkGroupSize.x, pixels - 1u);
        uint ox = px % P.ow, t = px / P.ow;
        uint oy = t % P.oh, b = t / P.oh;
        in_base[p] = P.in_off + (b * P.c + ci0) * P.h * P.w;
        out_at[p] = ((b * P.oc + oc0) * P.oh + oy) * P.ow + ox; // for channel oc0
        iy0[p] = int(oy * P.stride) - int(P.pad);
        ix0[p] = int(ox * P.stride) - int(P.pad);
    }
    uint plane = P.h * P.w;
#ifdef LSUV_PACKED_WEIGHTS
    uint ci_pad = (P.cg + CI_T - 1u) / CI_T * CI_T;
    uint w_tile = gl_WorkGroupID.y * P.k;
#else
    uint kk = P.k * P.k;
#endif
    for (uint ky = 0u; ky < P.k; ++ky) {
        for (uint kx = 0u; kx < P.k; ++kx) {
            // This tap's input offset per pixel, ~0u where it falls in the padding.
            uint at[PX_T];
            for (uint p = 0u; p < PX_T; ++p) {
                int iy = iy0[p] + int(ky), ix = ix0[p] + int(kx);
                bool inside = iy >= 0 && ix >= 0 && iy < int(P.h) && ix < int(P.w);
                at[p] = inside ? in_base[p] + uint(iy) * P.w + uint(ix) : 0xffffffffu;
            }
#ifdef LSUV_PACKED_WEIGHTS
            uint w_tap = ((w_tile + ky) * P.k + kx) * ci_pad;
#endif
            for (uint ci = 0u; ci < P.cg; ci += CI_T) {
                float xv[CI_T][PX_T], wv[CI_T][OC_T];
                for (uint cc = 0u; cc < CI_T; ++cc) {
                    bool channel = ci + cc < P.cg;
                    for (uint p = 0u; p < PX_T; ++p)
                        xv[cc][p] = channel && at[p] != 0xffffffffu
                                        ? LOAD_INPUT(at[p] + (ci + cc) * plane)
                                        : 0.0;
#ifdef LSUV_PACKED_WEIGHTS
                    uint wi = P.w_off / 4u + (w_tap + ci + cc) * (OC_T / 4u);
                    for (uint q = 0u; q < OC_T / 4u; ++q) {
                        vec4 w4 = LOAD_W4(wi + q);
                        wv[cc][4u * q] = w4.x;
                        wv[cc][4u * q + 1u] = w4.y;
                        wv[cc][4u * q + 2u] = w4.z;
                        wv[cc][4u * q + 3u] = w4.w;
                    }
#else
                    uint wi = P.w_off + ((oc0 - P.oc_begin) * P.cg + ci + cc) * kk +
                              ky * P.k + kx;
                    for (uint j = 0u; j < OC_T; ++j)
                        wv[cc][j] = channel && oc0 + j < P.oc_end
                                        ? float(wts[wi + j * P.cg * kk])
                                        : 0.0;
#endif
                }
                // Accumulator by accumulator, so each is loaded and stored once a pass.
                for (uint j = 0u; j < OC_T; ++j)
                    for (uint p = 0u; p < PX_T; ++p) {
                        float a = acc[j][p];
                        for (uint cc = 0u; cc < CI_T; ++cc) a = fma(wv[cc][j], xv[cc][p], a);
                        acc[j][p] = a;
                    }
            }
        }
    }

    bool stats = P.stats_base != 0xffffffffu;
    Moments m = moments_empty;
    Scales sc = scales_load(P.slope, P.maxv);
    float shift[OC_T], unfold[OC_T];
    shifts_load(sc, oc0, shift, unfold);
    float origin = workgroup_origin(stats, sc, shift[0], unfold[0], acc[0][0]);
    uint out_plane = P.oh * P.ow;
    for (uint j = 0u; j < OC_T; ++j)
        for (uint p = 0u; p < PX_T; ++p) {
            uint px = px_base + p * gl_WorkGroupSize.x;
            if (oc0 + j < P.oc_end && px < pixels)
                emit(sc, shift[j], unfold[j], out_at[p] + j * out_plane, acc[j][p], stats, origin, m);
        }
    write_partial(stats, origin, m);
}
#else
shared float lane_sums[gl_WorkGroupSize.x];

// The sum of v over the workgroup, added in a fixed order so that every run
// gives the same bits; every invocation gets it.
float workgroup_sum(float v) {
    uint lid = gl_LocalInvocationIndex;
    lane_sums[lid] = v;
    barrier();
    uint half_size = 1u;
    while (half_size * 2u < gl_WorkGroupSize.x) half_size <<= 1;
    for (; half_size > 0u; half_size >>= 1) {
        if (lid < half_size && lid + half_size < gl_WorkGroupSize.x)
            lane_sums[lid] += lane_sums[lid + half_size];
        barrier();
    }
    float total = lane_sums[0];
    barrier(); // read by all before the next sum overwrites it
    return total;
}

void main() {
    params_load();
    uint lid = gl_LocalInvocationIndex;
    uint oc0 = P.oc_begin + gl_WorkGroupID.y * OC_T;
    uint px0 = gl_WorkGroupID.x * PX_T; // a connected layer: a pixel per sample
    float acc[OC_T][PX_T];
    for (uint j = 0u; j < OC_T; ++j)
        for (uint p = 0u; p < PX_T; ++p) acc[j][p] = 0.0;
    for (uint ci = lid; ci < P.cg; ci += gl_WorkGroupSize.x) {
        float xv[PX_T];
        for (uint p = 0u; p < PX_T; ++p)
            xv[p] = LOAD_INPUT(P.in_off + min(px0 + p, P.n - 1u) * P.c + ci);
        uint wi = P.w_off + (oc0 - P.oc_begin) * P.cg + ci;
        for (uint j = 0u; j < OC_T; ++j) {
            float wv = oc0 + j < P.oc_end ? float(wts[wi + j * P.cg]) : 0.0;
            for (uint p = 0u; p < PX_T; ++p) acc[j][p] = fma(wv, xv[p], acc[j][p]);
        }
    }
    bool stats = P.stats_base != 0xffffffffu;
    Moments m = moments_empty;
    Scales sc = scales_load(P.slope, P.maxv);
    float shift[OC_T], unfold[OC_T];
    shifts_load(sc, oc0, shift, unfold);
    // Output (j, p) goes to lane (j * PX_T + p) mod the workgroup's size.
    // Every lane has every total, so each takes the first output (0, 0),
    // always inside the layer, as the origin of the moments.
    float origin = 0.0;
    for (uint j = 0u; j < OC_T; ++j)
        for (uint p = 0u; p < PX_T; ++p) {
            float total = workgroup_sum(acc[j][p]);
            if (j == 0u && p == 0u)
                origin = moments_origin(epilogue_measured(sc, total, shift[0], unfold[0]));
            if ((j * PX_T + p) % gl_WorkGroupSize.x == lid && oc0 + j < P.oc_end &&
                px0 + p < P.n)
                emit(sc, shift[j], unfold[j], (px0 + p) * P.oc + oc0 + j, total, stats, origin, m);
        }
    write_partial(stats, origin, m);
}
#endif
