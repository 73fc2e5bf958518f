#version 450
// One LSUV decision, on the device, after each statistics pass of a layer:
// read the layer's moments at the measuring point, record them in the trace,
// test the tolerances of the current loop, and adjust sub, the weight scale
// or the bias shift. When the layer is finished the indirect dispatch
// arguments of its passes, this step's among them, are zeroed, so the passes
// recorded after it cost nothing. The semantics (what a pass, a step and the
// cap are) are lsuv_options' in include/lsuv/lsuv.h.
#extension GL_GOOGLE_include_directive : require
#include "stats_common.glsl"
#include "contract.h"

layout(local_size_x = 1) in;

layout(set = 0, binding = 0) readonly buffer Result {
    Partial result[];
};
layout(set = 0, binding = 1) buffer Control{LSUV_C_CONTROL_FIELDS} ctl;
layout(set = 0, binding = 2) buffer State {
    float sub;
    float wscale;
    float bshift;
    float bscale;
}
state;
struct TraceRow {
    LSUV_C_TRACE_ROW_FIELDS
};
layout(set = 0, binding = 3) writeonly buffer Trace {
    TraceRow trace[];
};
layout(set = 0, binding = 4) buffer Args {
    uint args[];
}; // template, then active

layout(push_constant) uniform Push{LSUV_C_STEP_PUSH_FIELDS} pc;

// STALLED: the weight scale moved by this factor since the reference point
// while the std moved by less than this fraction of it (both in log terms).
// A layer whose std follows its weights (linear, the rectifiers) moves its std
// by about as much as its weight scale; one that saturates (a bounded output)
// or whose std is the biases' spread barely moves it, and would otherwise
// run its weights to 1e15 or to 0 before the cap.
const float STALL_FACTOR = 16.0;
const float STALL_RESPONSE = 0.1;

void mean_step(float mean) {
    if (pc.mean_param == LSUV_C_MEAN_SUB)
        state.sub += mean;
    else if (pc.mean_param == LSUV_C_MEAN_BIAS)
        state.bshift -= mean;
}

void std_step(float mean, float std) {
    if (pc.update == LSUV_C_UPDATE_COEF) {
        // LSUV-pytorch: W *= coef and b += -mean * coef, the bias shifted,
        // not rescaled (sub, when it is the mean parameter, likewise).
        float coef = 1.0 / (std + 1e-8);
        state.wscale *= coef;
        if (pc.mean_param == LSUV_C_MEAN_SUB)
            state.sub += mean * coef;
        else if (pc.mean_param == LSUV_C_MEAN_BIAS)
            state.bshift -= mean * coef;
    } else {
        state.wscale /= std; // the variance rule's W / sqrt(var): std is sqrt(var)
    }
}

void joint_step(float mean, float std) {
    state.wscale /= std;
    if (pc.mean_param == LSUV_C_MEAN_SUB) {
        state.sub = (state.sub + mean) / std;
    } else if (pc.mean_param == LSUV_C_MEAN_BIAS) {
        state.bscale /= std;
        state.bshift = (state.bshift - mean) / std;
    }
}

// The std test of the update rule: the variance rule tests var, not std.
bool std_within(float var, float std) {
    return abs((pc.update == LSUV_C_UPDATE_VARIANCE ? var : std) - 1.0) <= pc.tol_std;
}

// True when the weight scale moved by STALL_FACTOR since the reference point
// and the std hardly followed; the reference moves on each time the scale
// has moved that far.
bool stalled(float std) {
    float w = state.wscale;
    if (ctl.anchor_wscale == 0.0) {
        ctl.anchor_wscale = w;
        ctl.anchor_std = std;
        return false;
    }
    float moved = abs(log(w / ctl.anchor_wscale));
    if (moved < log(STALL_FACTOR)) return false;
    float followed = abs(log(std / ctl.anchor_std));
    ctl.anchor_wscale = w;
    ctl.anchor_std = std;
    return followed < STALL_RESPONSE * moved;
}

// Mean-first, std-first and fixed-point: `while not ok: step; measure` per
// loop, each loop starting with a pass of its own (the notebook's `while
// mdl(xb) is not None and ...` runs the network before every test, the
// first of the next loop's too), so a loop that ends makes no step: the next
// pass measures the same state for the next loop. Fixed-point starts another
// round (with its own pass) while the std loop ends with the std in
// tolerance and the mean not; each loop's steps count over its rounds,
// against one cap. Returns the step: 0 none, 1 mean, 2 std.
uint two_loops(float mean, float std, bool mean_ok, bool std_ok) {
    uint loop = ctl.phase;
    bool mean_loop = (loop == 0u) == (pc.order != LSUV_C_ORDER_STD_FIRST);
    bool ok = mean_loop ? mean_ok : std_ok;
    uint iters = loop == 0u ? ctl.iters0 : ctl.iters1;
    if (!ok && iters < pc.max_iters) {
        if (loop == 0u)
            ctl.iters0++;
        else
            ctl.iters1++;
        if (mean_loop)
            mean_step(mean);
        else
            std_step(mean, std);
        return mean_loop ? 1u : 2u;
    }
    if (!ok) ctl.capped = 1u;
    if (loop == 0u) {
        ctl.phase = 1u;
        return 0u;
    }
    bool fixed_point = pc.order == LSUV_C_ORDER_FIXED_POINT;
    if (fixed_point && ok && !mean_ok) {
        if (ctl.iters0 < pc.max_iters) {
            ctl.phase = 0u;
            return 0u;
        }
        ctl.capped = 1u;
    }
    ctl.done = 1u;
    return 0u;
}

// Alternating, joint and std-only: one loop, `while not ok: step; measure`.
uint one_loop(float mean, float std, bool mean_ok, bool std_ok) {
    if (pc.order == LSUV_C_ORDER_STD_ONLY ? std_ok : mean_ok && std_ok) {
        ctl.done = 1u;
        return 0u;
    }
    if (ctl.iters0 >= pc.max_iters) {
        ctl.capped = 1u;
        ctl.done = 1u;
        return 0u;
    }
    ctl.iters0++;
    if (pc.order == LSUV_C_ORDER_ALTERNATING) { // a mean step, then a std step
        if (!mean_ok) mean_step(mean);
        if (!std_ok) std_step(mean, std);
        return (mean_ok ? 0u : 1u) | (std_ok ? 0u : 2u);
    }
    if (pc.order == LSUV_C_ORDER_JOINT) {
        joint_step(mean, std);
        return 3u;
    }
    std_step(mean, std);
    return 2u;
}

bool two_loop_order() {
    return pc.order <= LSUV_C_ORDER_STD_FIRST || pc.order == LSUV_C_ORDER_FIXED_POINT;
}

// The hazard of this pass's moments, or NONE.
uint hazard_of(Partial r, float mean, float std) {
    if (r.nonfinite != 0u) return LSUV_C_HAZARD_NONFINITE;
    // Every output finite, but too large for fp32 moments.
    if (!is_finite_bits(mean) || !is_finite_bits(std)) return LSUV_C_HAZARD_OVERFLOW;
    if (std == 0.0) return LSUV_C_HAZARD_DEAD;
    return LSUV_C_HAZARD_NONE;
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
    uint dof = pc.estimator == LSUV_C_ESTIMATOR_POPULATION ? r.n : r.n - 1u;
    float var = r.n > 1u ? m2 / float(dof) : 0.0;
    float std = sqrt(var);
    uint pass = ctl.passes++;
    ctl.mean = mean;
    ctl.std = std;
    ctl.within_tol = 0u;
    uint step = 0u;
    ctl.status = hazard_of(r, mean, std);
    if (ctl.status != LSUV_C_HAZARD_NONE) {
        ctl.done = 1u;
    } else {
        bool mean_ok = abs(mean) <= pc.tol_mean, std_ok = std_within(var, std);
        bool within = pc.order == LSUV_C_ORDER_STD_ONLY ? std_ok : mean_ok && std_ok;
        ctl.within_tol = within ? 1u : 0u;
        if (stalled(std) && !within) {
            ctl.status = LSUV_C_HAZARD_STALLED;
            ctl.done = 1u;
        } else if (pass + 1u >= pc.trace_capacity) {
            // Beyond what the caps allow (lsuv.h); no step, so the last
            // pass still describes the state the layer ends with.
            ctl.capped = 1u;
            ctl.done = 1u;
        } else {
            step = two_loop_order() ? two_loops(mean, std, mean_ok, std_ok)
                                    : one_loop(mean, std, mean_ok, std_ok);
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
