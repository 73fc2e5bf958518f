// darknet's activations, numbered as lsuv_activation in include/lsuv/net.h
// (contract.h's LSUV_C_ACT_*),
// and fastai's GeneralRelu epilogue. Callers pass act as a specialization
// constant, so the switch folds away when the pipeline is built.

#include "contract.h"

float act_logistic(float x) { return 1.0 / (1.0 + exp(-x)); }

float act_softplus(float x) { return x > 20.0 ? x : (x < -20.0 ? exp(x) : log(1.0 + exp(x))); }

// darknet's stair. The parity of floor(x) is taken in float: GLSL leaves %
// of a negative int undefined, and int(x) beyond its range.
float act_stair(float x) {
    float n = floor(x), half_floor = floor(x * 0.5);
    return n - 2.0 * floor(n * 0.5) == 0.0 ? half_floor : (x - n) + half_floor;
}

float activate(uint act, float slope, float x) {
    switch (act) {
    case LSUV_C_ACT_LINEAR: return x;
    case LSUV_C_ACT_RELU: return max(x, 0.0);
    case LSUV_C_ACT_LEAKY:
    case LSUV_C_ACT_RELIE: return x > 0.0 ? x : slope * x;
    case LSUV_C_ACT_RAMP: return max(x, 0.0) + slope * x;
    case LSUV_C_ACT_ELU: return x >= 0.0 ? x : exp(x) - 1.0;
    case LSUV_C_ACT_SELU: return x >= 0.0 ? 1.0507 * x : 1.0507 * 1.6732 * (exp(x) - 1.0);
    case LSUV_C_ACT_LOGISTIC: return act_logistic(x);
    case LSUV_C_ACT_TANH: return tanh(x);
    case LSUV_C_ACT_RELU6: return clamp(x, 0.0, 6.0);
    case LSUV_C_ACT_SWISH: return x * act_logistic(x);
    case LSUV_C_ACT_MISH: return x * tanh(act_softplus(x));
    case LSUV_C_ACT_GELU: return 0.5 * x * (1.0 + tanh(0.797885 * x + 0.035677 * x * x * x));
    case LSUV_C_ACT_HARDTAN: return clamp(x, -1.0, 1.0);
    case LSUV_C_ACT_LHTAN: return x < 0.0 ? 0.001 * x : (x > 1.0 ? 0.001 * (x - 1.0) + 1.0 : x);
    case LSUV_C_ACT_PLSE: return x < -4.0 ? 0.01 * (x + 4.0) : (x > 4.0 ? 0.01 * (x - 4.0) + 1.0 : 0.125 * x + 0.5);
    case LSUV_C_ACT_LOGGY: return 2.0 * act_logistic(x) - 1.0;
    case LSUV_C_ACT_STAIR: return act_stair(x);
    }
    return x;
}

bool is_nan_bits(float x) {
    // A bit test rather than isnan, which a driver may fold away.
    return (floatBitsToUint(x) & 0x7fffffffu) > 0x7f800000u;
}

// The activation with NaN kept NaN, as IEEE arithmetic keeps it, whichever
// the activation: GLSL leaves max, min and clamp of a NaN to the driver
// (lavapipe's max(NaN, 0.0) is 0), and a NaN turned into a number would hide
// from the statistics. A select, not a branch, so no lane waits on another.
float activate_keep_nan(uint act, float slope, float x) {
    float y = activate(act, slope, x);
    return is_nan_bits(x) ? x : y;
}
