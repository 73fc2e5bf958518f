/* What the options ask of the network, before a run: combinations that
 * cannot converge (refused) and targets out of reach (a hazard). */
#include "lsuv/check.h"

#include "core/error.h"

#include <math.h>

bool check_runs_on(const lsuv_layer *l, const lsuv_options *o) {
    if (!lsuv_layer_has_weights(l) || !l->lsuv) return false;
    return o->layers != LSUV_LAYERS_CONVS || l->type == LSUV_LAYER_CONVOLUTIONAL;
}

/* Bounds of the activation's output for finite inputs, each rounded outward
 * where it is not exact, so that a refusal drawn from them is certain. */
static void activation_range(lsuv_activation a, float slope, double *lo, double *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    switch (a) {
    case LSUV_ACT_RELU:
        *lo = 0;
        break;
    case LSUV_ACT_LEAKY:
    case LSUV_ACT_RELIE:
    case LSUV_ACT_RAMP:
        *lo = slope > 0 ? -INFINITY : 0;
        break;
    case LSUV_ACT_ELU:
        *lo = -1;
        break;
    case LSUV_ACT_SELU:
        *lo = -1.0507 * 1.6732;
        break;
    case LSUV_ACT_LOGISTIC:
        *lo = 0, *hi = 1;
        break;
    case LSUV_ACT_TANH:
    case LSUV_ACT_HARDTAN:
    case LSUV_ACT_LOGGY:
        *lo = -1, *hi = 1;
        break;
    case LSUV_ACT_RELU6:
        *lo = 0, *hi = 6;
        break;
    case LSUV_ACT_SWISH:
        *lo = -0.2785;
        break; /* x sigmoid(x) at x = -1.278 */
    case LSUV_ACT_MISH:
        *lo = -0.3089;
        break; /* at x = -1.192 */
    case LSUV_ACT_GELU:
        *lo = -0.1701;
        break; /* at x = -0.752 */
    default:
        break; /* linear, lhtan, plse, stair */
    }
}

/* The mean parameter takes part: a mean loop, a joint step or the coef rule. */
static bool moves_mean(const lsuv_options *o) {
    return o->order != LSUV_ORDER_STD_ONLY || o->update == LSUV_UPDATE_COEF;
}

/* sub stays where the run starts it. */
static bool sub_fixed(const lsuv_options *o) {
    return !moves_mean(o) || lsuv_mean_param_resolve(o->mean_param, o->measure) == LSUV_MEAN_BIAS;
}

/* The output's range at the measuring point post, y = min(act(pre) - sub,
 * maxv), for a layer whose sub stays at `sub`. */
static void post_range(const lsuv_layer *l, float sub, double *lo, double *hi) {
    activation_range(l->activation, l->slope, lo, hi);
    *lo -= sub;
    *hi = fmin(*hi - sub, l->maxv);
}

static lsuv_status check_enums(const lsuv_options *o) {
    if ((unsigned)o->order >= LSUV_ORDER_COUNT || (unsigned)o->measure > LSUV_MEASURE_AUTO ||
        (unsigned)o->mean_param > LSUV_MEAN_BIAS ||
        (unsigned)o->estimator > LSUV_ESTIMATOR_POPULATION ||
        (unsigned)o->update > LSUV_UPDATE_COEF || (unsigned)o->layers > LSUV_LAYERS_CONVS)
        return lsuv_fail(LSUV_ERROR_INVALID, "LSUV options out of their enums");
    return LSUV_OK;
}

/* The bias acts before the activation: at post it can steer the mean only
 * where 0 lies strictly inside the output's range. A rectifier's output with
 * sub <= 0 (relu, relu6, logistic) is >= 0, with a mean of 0 only when
 * every output is 0: the steps shift the bias down until the layer dies or
 * the cap. */
static lsuv_status check_bias_post(const lsuv_net *net, const lsuv_options *o, const float *subs) {
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        if (!check_runs_on(l, o) || lsuv_measure_resolve(o->measure, l) != LSUV_MEASURE_POST)
            continue;
        double lo, hi;
        post_range(l, subs ? subs[i] : l->sub, &lo, &hi);
        if (lo < 0 && hi > 0) continue;
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "layer %u (%s, %s): measured post, its output lies in [%g, %g], where "
                         "a mean of 0 needs every output equal (std 0); the bias shift cannot "
                         "steer that mean: shift sub (--mean-param sub) or measure the "
                         "pre-activation (--measure pre)",
                         i, lsuv_layer_type_name(l->type), lsuv_activation_name(l->activation), lo,
                         hi);
    }
    return LSUV_OK;
}

/* W x before batch norm exists only on a layer with batch norm; elsewhere
 * conv would be a silent synonym for pre without the bias, so it is
 * refused, naming the layer. */
static lsuv_status check_conv(const lsuv_net *net, const lsuv_options *o) {
    if (o->measure != LSUV_MEASURE_CONV) return LSUV_OK;
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        if (!check_runs_on(l, o) || l->batch_normalize) continue;
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "layer %u (%s) has no batch norm: --measure conv measures a "
                         "convolution's output before batch norm; use --measure auto (conv "
                         "where there is batch norm, post elsewhere), post or pre",
                         i, lsuv_layer_type_name(l->type));
    }
    return LSUV_OK;
}

lsuv_status check_options(const lsuv_net *net, const lsuv_options *o, const float *subs) {
    lsuv_status s = check_enums(o);
    if (s == LSUV_OK) s = check_conv(net, o);
    if (s != LSUV_OK) return s;
    if (o->update == LSUV_UPDATE_COEF &&
        (o->order == LSUV_ORDER_JOINT || o->order == LSUV_ORDER_ALTERNATING))
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "the coef update (LSUV-pytorch) shifts the mean with every std step; "
                         "with %s a second mean shift from the same statistics would follow it: "
                         "use std-only (LSUV-pytorch's loop), or the std update",
                         lsuv_order_name(o->order));
    lsuv_mean_param p = lsuv_mean_param_resolve(o->mean_param, o->measure);
    if (moves_mean(o) && p == LSUV_MEAN_SUB && o->measure == LSUV_MEASURE_PRE)
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "sub is subtracted after the activation, past the measuring point "
                         "pre: shifting it cannot move the pre-activation mean; shift the bias "
                         "(--mean-param bias or auto) or measure post");
    bool post = o->measure == LSUV_MEASURE_POST || o->measure == LSUV_MEASURE_AUTO;
    if (o->order != LSUV_ORDER_STD_ONLY && p == LSUV_MEAN_BIAS && post)
        return check_bias_post(net, o, subs);
    return LSUV_OK;
}

lsuv_status lsuv_options_check(const lsuv_net *net, const lsuv_options *o) {
    return check_options(net, o, NULL);
}

/* A std of values in [lo, hi] is at most (hi - lo) / 2, reached only with
 * half of them at each end. Where that bound is 1 or less (logistic: 0.5;
 * tanh, hardtan, loggy: 1), std 1 is beyond the range or needs every output
 * saturated at an end, where the activation passes no gradient: LSUV's steps
 * grow the weights without end instead. The unbiased estimator over n values
 * can exceed the bound by sqrt(n / (n - 1)), which only a handful of values
 * makes matter; the check leaves it out. */
uint32_t check_unreachable(const lsuv_net *net, const lsuv_options *o, const float *subs) {
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        if (!check_runs_on(l, o) || lsuv_measure_resolve(o->measure, l) != LSUV_MEASURE_POST)
            continue;
        double lo, hi;
        if (sub_fixed(o))
            post_range(l, subs ? subs[i] : l->sub, &lo, &hi);
        else /* sub moves: maxv's clamp may widen the range, the activation's cannot */
            activation_range(l->activation, l->slope, &lo, &hi);
        if ((hi - lo) / 2 <= 1) return i;
    }
    return UINT32_MAX;
}
