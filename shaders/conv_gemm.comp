#version 450
#ifdef LSUV_FP16
// Activations and weights stored as fp16, staged and accumulated in fp32.
#extension GL_EXT_shader_16bit_storage : require
#define STORED float16_t
#else
#define STORED float
#endif
// Convolution forward as an implicit GEMM, the GPU's kind: C[M][N] = A[M][K]
// B[K][N] with M the output channels (of one group), N the dispatch's
// (sample, output pixel) pairs and K a group's input channels x kh x kw. A
// is the weights as stored ([oc][ci][ky][kx], a row per channel); B is the
// input unfolded (im2col), gathered on the fly, never written out.
//
// A workgroup computes a BM x BN tile of C in steps of BK along K. Each step
// stages the A and B tiles in shared memory, where every value is then read
// BN / TN (A) or BM / TM (B) times; the stage is double-buffered, so the
// global loads of step t + 1 are issued before step t's arithmetic, kept in
// registers, and stored to the other buffer after it: one barrier a step.
// Each invocation accumulates a TM x TN micro-tile in registers; its rows and
// columns are strided by BM / TM and BN / TN so that neighbouring lanes read
// neighbouring shared words and write neighbouring outputs.
//
// Every tile size is a specialization constant the host picks from the
// device's limits (conv.c, conv_gemm_tile). The epilogue, SUMS and the fused
// statistics (one Partial per workgroup) are conv2d.comp's (conv_io.glsl,
// conv_emit.glsl).
#extension GL_GOOGLE_include_directive : require
#include "stats_common.glsl"
#include "activation.glsl"

// The ids of conv2d.comp's constants where they mean the same (4, 8, 9), so
// the host fills one specialization array for both.
layout(constant_id = 2) const uint BM = 64; // output channels a workgroup
layout(constant_id = 3) const uint BN = 64; // outputs (sample, pixel) a workgroup
layout(constant_id = 4) const uint ACT = 0;
layout(constant_id = 5) const uint BK = 16; // K a step
layout(constant_id = 6) const uint TM = 4;  // an invocation's rows
layout(constant_id = 7) const uint TN = 4;  // and columns
layout(constant_id = 8) const bool SUMS = false;
layout(constant_id = 9) const uint MEASURE = LSUV_C_MEASURE_POST;

layout(set = 0, binding = 0) readonly buffer Input { STORED x[]; };
layout(set = 0, binding = 1) readonly buffer Weights { STORED wts[]; };
#include "conv_io.glsl"
#include "conv_emit.glsl"

// The host makes gl_WorkGroupSize.x (BM / TM) x (BN / TN), a multiple of BN,
// and BM x BK and BK x BN multiples of it.
const uint BMT = BM / TM, BNT = BN / TN;
const uint A_LOADS = BM * BK / gl_WorkGroupSize.x;
const uint B_LOADS = BK * BN / gl_WorkGroupSize.x;
const uint B_ROWS = gl_WorkGroupSize.x / BN; // B rows a pass of the workgroup loads

shared float a_tile[2u * BK * BM]; // [buffer][k][m]
shared float b_tile[2u * BK * BN]; // [buffer][k][n]

// a / d for a < 2^22 and d >= 1, inv = 1 / d: a float product off by at most
// one, then corrected. The gather divides twice per value it loads; a CPU
// has no vector integer division (lavapipe divides lane by lane: with udiv
// the standard case ran at 0.34 GFLOP/s on lavapipe's tile, 0.56 without, on
// a loaded machine), and a GPU's takes a dozen instructions or more.
uint div_by(uint a, uint d, float inv) {
    uint q = uint(float(a) * inv);
    if (q * d > a) q -= 1u;
    if ((q + 1u) * d <= a) q += 1u;
    return q;
}

// The tile's geometry, fixed for the whole K loop.
struct Tile {
    uint m0, m_end; // its first channel, and the end of its group's (or dispatch's)
    uint kdim;      // K
    uint kk;        // kernel taps
    float inv_kk, inv_k;
    // This invocation's B column (lid % BN, the same every step): where its
    // sample's group starts in the input, its window's top-left corner, and
    // whether it lies inside N (one past it loads zeros).
    uint in_base;
    int iy0, ix0;
    bool column;
};

Tile tile_make(uint lid) {
    Tile t;
    uint plane = P.oh * P.ow;
    // The output channels split into segments of one group each (or the
    // dispatch's channels, with one group); gl_WorkGroupID.y counts
    // segment-major BM-row tiles, so no tile straddles two groups.
    uint seg = min(P.og, P.oc_end - P.oc_begin);
    uint m_tiles = (seg + BM - 1u) / BM;
    uint s = gl_WorkGroupID.y / m_tiles;
    t.m0 = P.oc_begin + s * seg + (gl_WorkGroupID.y % m_tiles) * BM;
    t.m_end = min(P.oc_begin + (s + 1u) * seg, P.oc_end);
    t.kk = P.k * P.k;
    t.inv_kk = 1.0 / float(t.kk);
    t.inv_k = 1.0 / float(P.k);
    t.kdim = P.cg * t.kk;
    uint n = gl_WorkGroupID.x * BN + lid % BN;
    t.column = n < P.n * plane;
    n = min(n, P.n * plane - 1u);
    uint b = n / plane, p = n % plane;
    t.in_base = P.in_off + (b * P.c + (t.m0 / P.og) * P.cg) * P.h * P.w;
    t.iy0 = int((p / P.ow) * P.stride) - int(P.pad);
    t.ix0 = int((p % P.ow) * P.stride) - int(P.pad);
    return t;
}

// Step k0's values of this invocation's share of A and B, from memory.
void tiles_load(Tile t, uint lid, uint k0, out float ar[A_LOADS], out float br[B_LOADS]) {
    for (uint i = 0u; i < A_LOADS; ++i) {
        uint e = lid + i * gl_WorkGroupSize.x;
        uint m = t.m0 + e / BK, k = k0 + e % BK;
        ar[i] = m < t.m_end && k < t.kdim
                    ? float(wts[P.w_off + (m - P.oc_begin) * t.kdim + k])
                    : 0.0;
    }
    for (uint i = 0u; i < B_LOADS; ++i) {
        uint k = k0 + lid / BN + i * B_ROWS;
        uint ci = div_by(k, t.kk, t.inv_kk), r = k - ci * t.kk;
        uint ky = div_by(r, P.k, t.inv_k);
        int iy = t.iy0 + int(ky), ix = t.ix0 + int(r - ky * P.k);
        bool inside = t.column && k < t.kdim && iy >= 0 && ix >= 0 && iy < int(P.h) &&
                      ix < int(P.w);
        br[i] = inside ? float(x[t.in_base + (ci * P.h + uint(iy)) * P.w + uint(ix)]) : 0.0;
    }
}

void tiles_store(uint lid, uint buf, float ar[A_LOADS], float br[B_LOADS]) {
    for (uint i = 0u; i < A_LOADS; ++i) {
        uint e = lid + i * gl_WorkGroupSize.x;
        a_tile[(buf * BK + e % BK) * BM + e / BK] = ar[i];
    }
    for (uint i = 0u; i < B_LOADS; ++i)
        b_tile[(buf * BK + lid / BN + i * B_ROWS) * BN + lid % BN] = br[i];
}

void main() {
    params_load();
    uint lid = gl_LocalInvocationIndex;
    uint tx = lid % BNT, ty = lid / BNT;
    Tile t = tile_make(lid);

    float acc[TM][TN];
    for (uint i = 0u; i < TM; ++i)
        for (uint j = 0u; j < TN; ++j) acc[i][j] = 0.0;
    float ar[A_LOADS], br[B_LOADS];
    tiles_load(t, lid, 0u, ar, br);
    tiles_store(lid, 0u, ar, br);
    barrier();
    uint steps = (t.kdim + BK - 1u) / BK;
    for (uint step = 0u; step < steps; ++step) {
        uint buf = step & 1u;
        bool more = step + 1u < steps;
        if (more) tiles_load(t, lid, (step + 1u) * BK, ar, br);
        for (uint k = 0u; k < BK; ++k) {
            float a[TM], b[TN];
            for (uint i = 0u; i < TM; ++i) a[i] = a_tile[(buf * BK + k) * BM + ty + i * BMT];
            for (uint j = 0u; j < TN; ++j) b[j] = b_tile[(buf * BK + k) * BN + tx + j * BNT];
            for (uint i = 0u; i < TM; ++i)
                for (uint j = 0u; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        // The other buffer was last read in step - 1, before the barrier
        // that ended it; this step's barrier publishes it for step + 1.
        if (more) tiles_store(lid, buf ^ 1u, ar, br);
        barrier();
    }

    bool stats = P.stats_base != 0xffffffffu;
    Moments m = moments_empty;
    Scales sc = scales_load(P.slope, P.maxv);
    float shift[TM], unfold[TM];
    for (uint i = 0u; i < TM; ++i) {
        uint ch = min(t.m0 + ty + i * BMT, P.oc_end - 1u);
        shift[i] = epilogue_shift(sc, bias[ch]);
        unfold[i] = unfold_load(ch);
    }
    // Invocation 0's first output is (m0, the tile's first column): inside.
    float origin = workgroup_origin(stats, sc, shift[0], unfold[0], acc[0][0]);
    uint plane = P.oh * P.ow, pixels = P.n * plane;
    for (uint j = 0u; j < TN; ++j) {
        uint n = gl_WorkGroupID.x * BN + tx + j * BNT;
        uint at = (n / plane) * P.oc * plane + n % plane; // channel 0's
        for (uint i = 0u; i < TM; ++i) {
            uint ch = t.m0 + ty + i * BMT;
            if (ch < t.m_end && n < pixels)
                emit(sc, shift[i], unfold[i], at + ch * plane, acc[i][j], stats, origin, m);
        }
    }
    write_partial(stats, origin, m);
}
