#version 450
// One LSUV decision, on the device, after each statistics pass of a layer:
// read the layer's output moments, record them in the trace, test the
// tolerances of the current loop, and adjust sub, the weight scale or the
// bias shift. When the layer is finished the indirect dispatch arguments of
// its passes, this step's among them, are zeroed, so the passes recorded
// after it cost nothing.
#extension GL_GOOGLE_include_directive : require
#include "stats_common.glsl"
#include "contract.h"

layout(local_size_x = 1) in;

layout(set = 0, binding = 0) readonly buffer Result { Partial result[]; };
layout(set = 0, binding = 1) buffer Control { LSUV_C_CONTROL_FIELDS } ctl;
layout(set = 0, binding = 2) buffer State {
    float sub;
    float wscale;
    float bshift;
    float bscale;
} state;
struct TraceRow { LSUV_C_TRACE_ROW_FIELDS };
layout(set = 0, binding = 3) writeonly buffer Trace { TraceRow trace[]; };
layout(set = 0, binding = 4) buffer Args { uint args[]; }; // template, then active

layout(push_constant) uniform Push { LSUV_C_STEP_PUSH_FIELDS } pc;

void mean_step(float mean) {
    if (pc.mean_param == 0u) state.sub += mean;
    else state.bshift -= mean;
}

void std_step(float std) {
    state.wscale /= std;
}

void joint_step(float mean, float std) {
    state.wscale /= std;
    if (pc.mean_param == 0u) {
        state.sub = (state.sub + mean) / std;
    } else {
        state.bscale /= std;
        state.bshift = (state.bshift - mean) / std;
    }
}

void main() {
    // Done before its first step: a layer after one that stopped the run
    // (the host copies that status into its done), so none of its passes
    // run, its step's own arguments zeroed with the rest.
    if (ctl.done != 0u) {
        for (uint i = 0u; i < pc.n_args; ++i) args[pc.n_args + i] = 0u;
        return;
    }
    Partial r = result[pc.slot];
    float mean = r.shift + r.mean;
    // An m2 of NaN (Inf less Inf, once the squares overflowed) stays NaN:
    // max(NaN, 0.0) may be 0, and a std of 0 would call the layer dead.
    float m2 = is_finite_bits(r.m2) ? max(r.m2, 0.0) : r.m2;
    float std = r.n > 1u ? sqrt(m2 / float(r.n - 1u)) : 0.0;
    uint pass = ctl.passes++;
    ctl.mean = mean;
    ctl.std = std;
    uint step = 0u;
    if (r.nonfinite != 0u) {
        ctl.status = LSUV_C_HAZARD_NONFINITE;
        ctl.done = 1u;
    } else if (!is_finite_bits(mean) || !is_finite_bits(std)) {
        // Every output finite, but too large for fp32 moments.
        ctl.status = LSUV_C_HAZARD_OVERFLOW;
        ctl.done = 1u;
    } else if (std == 0.0) {
        ctl.status = LSUV_C_HAZARD_DEAD;
        ctl.done = 1u;
    } else {
        bool mean_ok = abs(mean) <= pc.tol_mean, std_ok = abs(std - 1.0) <= pc.tol_std;
        if (pc.order <= LSUV_C_ORDER_STD_FIRST || pc.order == LSUV_C_ORDER_FIXED_POINT) {
            // Two loops: mean then std, or std then mean. A loop that ends
            // hands the same moments to the next, as the notebook does.
            // Fixed-point goes back to its mean loop while the std loop's
            // steps moved the mean out of tolerance; each loop's steps count
            // over all its rounds, against one cap.
            bool fixed_point = pc.order == LSUV_C_ORDER_FIXED_POINT;
            for (uint loop = ctl.phase; loop < 2u && step == 0u && ctl.done == 0u; ++loop) {
                ctl.phase = loop;
                bool mean_loop = (loop == 0u) == (pc.order != LSUV_C_ORDER_STD_FIRST);
                bool ok = mean_loop ? mean_ok : std_ok;
                uint iters = loop == 0u ? ctl.iters0 : ctl.iters1;
                if (ok) {
                    if (loop == 1u && fixed_point && !mean_ok && ctl.iters0 < pc.max_iters) {
                        ctl.phase = 0u;
                        mean_step(mean);
                        step = 1u;
                        ctl.iters0++;
                    } else if (loop == 1u) {
                        ctl.done = 1u;
                        if (fixed_point && !mean_ok) ctl.capped = 1u;
                    }
                } else if (iters >= pc.max_iters) {
                    ctl.capped = 1u;
                    if (loop == 1u) ctl.done = 1u;
                } else {
                    if (mean_loop) {
                        mean_step(mean);
                        step = 1u;
                    } else {
                        std_step(std);
                        step = 2u;
                    }
                    if (loop == 0u) ctl.iters0++;
                    else ctl.iters1++;
                }
            }
        } else if (pc.order == LSUV_C_ORDER_STD_ONLY ? std_ok : mean_ok && std_ok) {
            ctl.done = 1u;
        } else if (ctl.iters0 >= pc.max_iters) {
            ctl.capped = 1u;
            ctl.done = 1u;
        } else {
            ctl.iters0++;
            if (pc.order == LSUV_C_ORDER_ALTERNATING) { // alternating: a mean step, then a std step
                if (!mean_ok) mean_step(mean);
                if (!std_ok) std_step(std);
                step = (mean_ok ? 0u : 1u) | (std_ok ? 0u : 2u);
            } else if (pc.order == LSUV_C_ORDER_JOINT) {
                joint_step(mean, std);
                step = 3u;
            } else {
                std_step(std);
                step = 2u;
            }
        }
        if (!is_finite_bits(state.wscale) || state.wscale == 0.0 || !is_finite_bits(state.sub) ||
            !is_finite_bits(state.bshift)) {
            ctl.status = LSUV_C_HAZARD_DIVERGED;
            ctl.done = 1u;
        }
    }
    if (pass < pc.trace_capacity) trace[pass] = TraceRow(pass, step, mean, std);
    for (uint i = 0u; i < pc.n_args; ++i) args[pc.n_args + i] = ctl.done != 0u ? 0u : args[i];
}
