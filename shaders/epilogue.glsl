// The epilogue of a layer with weights, shared by conv2d.comp (fused after
// the sums) and epilogue.comp (over sums kept from an earlier dispatch), so
// that both give the same bits: LSUV's scales and shift, the activation, minus
// sub, the clamp, rounded as stored. The includer defines STORED, ACT,
// MEASURE (which values the statistics describe) and LSUV_STATE_BINDING.

// What LSUV adjusts, on the device: the shift after the activation, a scale
// of the weights, and a scale and shift of the biases (so a pass need not
// rewrite W): pre = wscale * (W x) + bscale * bias + bshift.
layout(set = 0, binding = LSUV_STATE_BINDING) readonly buffer LayerState {
    float sub;
    float wscale;
    float bshift;
    float bscale;
} state;

// The layer's state and the activation's constants, read once per
// invocation at the top level: inside a branch or a loop lavapipe loads a
// value lane by lane, every time (read inside the unrolled epilogue, the
// state cost the standard case a fifth of its speed).
struct Scales {
    float sub, wscale, bshift, bscale, slope, maxv;
};

Scales scales_load(float slope, float maxv) {
    return Scales(state.sub, state.wscale, state.bshift, state.bscale, slope, maxv);
}

// The part of pre that depends on the output channel alone.
float epilogue_shift(Scales sc, float bias) {
    return fma(bias, sc.bscale, sc.bshift);
}

#ifdef LSUV_FP16
// v rounded to the nearest half (ties to even), as a float: what the output
// buffer holds, which the statistics must describe. Spelled out rather than
// float(float16_t(v)): on an H200 (driver 580.159) the statistics of that
// pair of conversions, and of unpackHalf2x16(packHalf2x16(v)), came out
// 1e-5 relative off the stored tensor's, as if the pair had been folded
// away. Scaling by powers of two is exact, so only roundEven rounds.
float as_stored(float v) {
    if (!is_finite_bits(v)) return v;
    if (abs(v) >= 65520.0) /* rounds past half's largest: infinity, as stored */
        return uintBitsToFloat((floatBitsToUint(v) & 0x80000000u) | 0x7f800000u);
    int e;
    frexp(v, e);               /* |v| in [2^(e-1), 2^e) */
    int spacing = max(e - 1, -14) - 10; /* a half's step there; subnormals below 2^-14 */
    return ldexp(roundEven(ldexp(v, -spacing)), spacing);
}
#else
float as_stored(float v) {
    return v;
}
#endif

// The pre-activation of a sum: after the bias and LSUV's scales and shift.
float epilogue_pre(Scales sc, float sum, float shift) {
    return fma(sum, sc.wscale, shift);
}

// The output of a sum, as stored. The clamp keeps NaN (min's choice for NaN
// is the driver's), and an unset maxv is +Inf, so Inf stays Inf too.
float epilogue_value(Scales sc, float sum, float shift) {
    float v = activate_keep_nan(ACT, sc.slope, epilogue_pre(sc, sum, shift)) - sc.sub;
    return as_stored(is_nan_bits(v) ? v : min(v, sc.maxv));
}

// What the statistics of a sum describe: its output as stored, or with
// MEASURE pre its pre-activation as computed, in fp32 even where outputs are
// stored in fp16. With MEASURE conv, the convolution's own output before
// batch norm: the device's weights hold W scaled by batch norm's a_c, so
// the sum times unfold (1 / a_c, the channel's) is W x, scaled by LSUV.
float epilogue_measured(Scales sc, float sum, float shift, float unfold) {
    if (MEASURE == LSUV_C_MEASURE_CONV) return sum * sc.wscale * unfold;
    if (MEASURE == LSUV_C_MEASURE_PRE) return epilogue_pre(sc, sum, shift);
    return epilogue_value(sc, sum, shift);
}

// Adds an output to the statistics, about origin (the workgroup's first
// value, so that data far from zero keeps its precision in the deltas); NaN
// and Inf are counted apart.
Moments moments_add_output(Moments m, float v, float origin) {
    if (is_finite_bits(v)) return moments_push(m, v - origin);
    m.nonfinite += 1u;
    return m;
}

// The origin of a workgroup's moments from its first value: 0 where that is
// NaN or Inf, which the moments leave out.
float moments_origin(float first) {
    return is_finite_bits(first) ? first : 0.0;
}
