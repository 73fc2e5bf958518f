// The epilogue of a layer with weights, shared by conv2d.comp (fused after
// the sums) and epilogue.comp (over sums kept from an earlier dispatch), so
// that both give the same bits: LSUV's scales and shift, the activation, minus
// sub, the clamp, rounded as stored. The includer defines STORED, ACT and
// LSUV_STATE_BINDING.

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

// The output of a sum, as stored. The clamp keeps NaN (min's choice for NaN
// is the driver's), and an unset maxv is +Inf, so Inf stays Inf too.
float epilogue_value(Scales sc, float sum, float shift) {
    float pre = fma(sum, sc.wscale, shift);
    float v = activate_keep_nan(ACT, sc.slope, pre) - sc.sub;
    return float(STORED(is_nan_bits(v) ? v : min(v, sc.maxv)));
}

// Adds an output to the statistics; NaN and Inf are counted apart.
Moments moments_add_output(Moments m, float v) {
    if (is_finite_bits(v)) return moments_push(m, v);
    m.nonfinite += 1u;
    return m;
}
