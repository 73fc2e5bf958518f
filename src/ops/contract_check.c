/* The shaders read activations, orderings and hazards as shaders/contract.h's
 * numbers; the public enums must keep them, or a shader would switch on the
 * wrong case without any error. */
#include "contract.h"
#include "lsuv/lsuv.h"
#include "lsuv/net.h"
#include "ops/plan.h"

#include <stddef.h>

#define CONTRACT_SAME(c_value, contract)                                                           \
    _Static_assert((unsigned)(c_value) == (contract), #c_value " differs from " #contract)

CONTRACT_SAME(LSUV_ACT_LINEAR, LSUV_C_ACT_LINEAR);
CONTRACT_SAME(LSUV_ACT_RELU, LSUV_C_ACT_RELU);
CONTRACT_SAME(LSUV_ACT_LEAKY, LSUV_C_ACT_LEAKY);
CONTRACT_SAME(LSUV_ACT_RELIE, LSUV_C_ACT_RELIE);
CONTRACT_SAME(LSUV_ACT_RAMP, LSUV_C_ACT_RAMP);
CONTRACT_SAME(LSUV_ACT_ELU, LSUV_C_ACT_ELU);
CONTRACT_SAME(LSUV_ACT_SELU, LSUV_C_ACT_SELU);
CONTRACT_SAME(LSUV_ACT_LOGISTIC, LSUV_C_ACT_LOGISTIC);
CONTRACT_SAME(LSUV_ACT_TANH, LSUV_C_ACT_TANH);
CONTRACT_SAME(LSUV_ACT_RELU6, LSUV_C_ACT_RELU6);
CONTRACT_SAME(LSUV_ACT_SWISH, LSUV_C_ACT_SWISH);
CONTRACT_SAME(LSUV_ACT_MISH, LSUV_C_ACT_MISH);
CONTRACT_SAME(LSUV_ACT_GELU, LSUV_C_ACT_GELU);
CONTRACT_SAME(LSUV_ACT_HARDTAN, LSUV_C_ACT_HARDTAN);
CONTRACT_SAME(LSUV_ACT_LHTAN, LSUV_C_ACT_LHTAN);
CONTRACT_SAME(LSUV_ACT_PLSE, LSUV_C_ACT_PLSE);
CONTRACT_SAME(LSUV_ACT_LOGGY, LSUV_C_ACT_LOGGY);
CONTRACT_SAME(LSUV_ACT_STAIR, LSUV_C_ACT_STAIR);

CONTRACT_SAME(LSUV_ORDER_MEAN_FIRST, LSUV_C_ORDER_MEAN_FIRST);
CONTRACT_SAME(LSUV_ORDER_STD_FIRST, LSUV_C_ORDER_STD_FIRST);
CONTRACT_SAME(LSUV_ORDER_ALTERNATING, LSUV_C_ORDER_ALTERNATING);
CONTRACT_SAME(LSUV_ORDER_JOINT, LSUV_C_ORDER_JOINT);
CONTRACT_SAME(LSUV_ORDER_STD_ONLY, LSUV_C_ORDER_STD_ONLY);
CONTRACT_SAME(LSUV_ORDER_FIXED_POINT, LSUV_C_ORDER_FIXED_POINT);
CONTRACT_SAME(LSUV_ORDER_COUNT, LSUV_C_ORDER_FIXED_POINT + 1u);

CONTRACT_SAME(LSUV_ESTIMATOR_UNBIASED, LSUV_C_ESTIMATOR_UNBIASED);
CONTRACT_SAME(LSUV_ESTIMATOR_POPULATION, LSUV_C_ESTIMATOR_POPULATION);
CONTRACT_SAME(LSUV_UPDATE_STD, LSUV_C_UPDATE_STD);
CONTRACT_SAME(LSUV_UPDATE_VARIANCE, LSUV_C_UPDATE_VARIANCE);
CONTRACT_SAME(LSUV_UPDATE_COEF, LSUV_C_UPDATE_COEF);

CONTRACT_SAME(LSUV_HAZARD_NONE, LSUV_C_HAZARD_NONE);
CONTRACT_SAME(LSUV_HAZARD_DEAD, LSUV_C_HAZARD_DEAD);
CONTRACT_SAME(LSUV_HAZARD_NONFINITE, LSUV_C_HAZARD_NONFINITE);
CONTRACT_SAME(LSUV_HAZARD_DIVERGED, LSUV_C_HAZARD_DIVERGED);
CONTRACT_SAME(LSUV_HAZARD_OVERFLOW, LSUV_C_HAZARD_OVERFLOW);
CONTRACT_SAME(LSUV_HAZARD_UNREACHABLE, LSUV_C_HAZARD_UNREACHABLE);
CONTRACT_SAME(LSUV_HAZARD_STALLED, LSUV_C_HAZARD_STALLED);

CONTRACT_SAME(LSUV_MEASURE_POST, LSUV_C_MEASURE_POST);
CONTRACT_SAME(LSUV_MEASURE_PRE, LSUV_C_MEASURE_PRE);
CONTRACT_SAME(LSUV_MEASURE_CONV, LSUV_C_MEASURE_CONV);

/* Push constants: each field at its index times 4 bytes, as std430 lays out
 * a block of 4-byte scalars; any padding in C would shift the shader's view. */
#define CONTRACT_AT(type, field, word)                                                             \
    _Static_assert(offsetof(type, field) == (word)*4, #type "." #field " is not at word " #word)

CONTRACT_AT(lsuv_conv_push, n, 0);
CONTRACT_AT(lsuv_conv_push, c, 1);
CONTRACT_AT(lsuv_conv_push, h, 2);
CONTRACT_AT(lsuv_conv_push, w, 3);
CONTRACT_AT(lsuv_conv_push, oc, 4);
CONTRACT_AT(lsuv_conv_push, oh, 5);
CONTRACT_AT(lsuv_conv_push, ow, 6);
CONTRACT_AT(lsuv_conv_push, k, 7);
CONTRACT_AT(lsuv_conv_push, stride, 8);
CONTRACT_AT(lsuv_conv_push, pad, 9);
CONTRACT_AT(lsuv_conv_push, cg, 10);
CONTRACT_AT(lsuv_conv_push, og, 11);
CONTRACT_AT(lsuv_conv_push, slope, 12);
CONTRACT_AT(lsuv_conv_push, maxv, 13);
CONTRACT_AT(lsuv_conv_push, in_off, 14);
CONTRACT_AT(lsuv_conv_push, out_off, 15);
CONTRACT_AT(lsuv_conv_push, w_off, 16);
CONTRACT_AT(lsuv_conv_push, oc_begin, 17);
CONTRACT_AT(lsuv_conv_push, oc_end, 18);
CONTRACT_AT(lsuv_conv_push, stats_base, 19);
CONTRACT_AT(lsuv_conv_push, sums_off, 20);
_Static_assert(sizeof(lsuv_conv_push) == 21 * 4, "lsuv_conv_push has padding");

CONTRACT_AT(lsuv_epilogue_push, n, 0);
CONTRACT_AT(lsuv_epilogue_push, plane, 1);
CONTRACT_AT(lsuv_epilogue_push, oc, 2);
CONTRACT_AT(lsuv_epilogue_push, sums_off, 3);
CONTRACT_AT(lsuv_epilogue_push, out_off, 4);
CONTRACT_AT(lsuv_epilogue_push, slope, 5);
CONTRACT_AT(lsuv_epilogue_push, maxv, 6);
CONTRACT_AT(lsuv_epilogue_push, stats_base, 7);

CONTRACT_AT(lsuv_stats_push, first, 0);
CONTRACT_AT(lsuv_stats_push, count, 1);
CONTRACT_AT(lsuv_stats_push, out_base, 2);
CONTRACT_AT(lsuv_stats_push, shift_slot, 3);

CONTRACT_AT(lsuv_bn_push, n, 0);
CONTRACT_AT(lsuv_bn_push, oc, 1);
CONTRACT_AT(lsuv_bn_push, plane, 2);
CONTRACT_AT(lsuv_bn_push, off, 3);
CONTRACT_AT(lsuv_bn_push, slope, 4);
CONTRACT_AT(lsuv_bn_push, maxv, 5);
CONTRACT_AT(lsuv_bn_push, sub, 6);
CONTRACT_AT(lsuv_pool_push, mode, 0);
CONTRACT_AT(lsuv_pool_push, n, 1);
CONTRACT_AT(lsuv_pool_push, c, 2);
CONTRACT_AT(lsuv_pool_push, h, 3);
CONTRACT_AT(lsuv_pool_push, w, 4);
CONTRACT_AT(lsuv_pool_push, oh, 5);
CONTRACT_AT(lsuv_pool_push, ow, 6);
CONTRACT_AT(lsuv_pool_push, size, 7);
CONTRACT_AT(lsuv_pool_push, stride, 8);
CONTRACT_AT(lsuv_pool_push, padding, 9);
CONTRACT_AT(lsuv_pool_push, in_off, 10);
CONTRACT_AT(lsuv_pool_push, out_off, 11);
_Static_assert(sizeof(lsuv_epilogue_push) == 8 * 4, "lsuv_epilogue_push has padding");

CONTRACT_AT(lsuv_step_push, order, 0);
CONTRACT_AT(lsuv_step_push, mean_param, 1);
CONTRACT_AT(lsuv_step_push, tol_mean, 2);
CONTRACT_AT(lsuv_step_push, tol_std, 3);
CONTRACT_AT(lsuv_step_push, max_iters, 4);
CONTRACT_AT(lsuv_step_push, slot, 5);
CONTRACT_AT(lsuv_step_push, n_args, 6);
CONTRACT_AT(lsuv_step_push, trace_capacity, 7);
CONTRACT_AT(lsuv_step_push, estimator, 8);
CONTRACT_AT(lsuv_step_push, update, 9);
_Static_assert(sizeof(lsuv_step_push) == 10 * 4, "lsuv_step_push has padding");

CONTRACT_AT(lsuv_control, phase, 0);
CONTRACT_AT(lsuv_control, done, 1);
CONTRACT_AT(lsuv_control, status, 2);
CONTRACT_AT(lsuv_control, passes, 3);
CONTRACT_AT(lsuv_control, iters0, 4);
CONTRACT_AT(lsuv_control, iters1, 5);
CONTRACT_AT(lsuv_control, capped, 6);
CONTRACT_AT(lsuv_control, within_tol, 7);
CONTRACT_AT(lsuv_control, mean, 8);
CONTRACT_AT(lsuv_control, std, 9);
CONTRACT_AT(lsuv_control, anchor_wscale, 10);
CONTRACT_AT(lsuv_control, anchor_std, 11);
_Static_assert(sizeof(lsuv_control) == 12 * 4, "lsuv_control has padding");

CONTRACT_AT(lsuv_gpu_trace_row, pass, 0);
CONTRACT_AT(lsuv_gpu_trace_row, step, 1);
CONTRACT_AT(lsuv_gpu_trace_row, mean, 2);
CONTRACT_AT(lsuv_gpu_trace_row, std, 3);
_Static_assert(sizeof(lsuv_gpu_trace_row) == 4 * 4, "lsuv_gpu_trace_row has padding");

CONTRACT_AT(lsuv_partial, shift, 0);
CONTRACT_AT(lsuv_partial, mean, 1);
CONTRACT_AT(lsuv_partial, m2, 2);
CONTRACT_AT(lsuv_partial, n, 3);
CONTRACT_AT(lsuv_partial, nonfinite, 4);
CONTRACT_AT(lsuv_partial, pad, 5);

/* Both fit the generic dispatch record's words. */
_Static_assert(sizeof(lsuv_conv_push) <= DISPATCH_PUSH_MAX * 4, "conv push exceeds a dispatch");
_Static_assert(sizeof(lsuv_epilogue_push) <= DISPATCH_PUSH_MAX * 4,
               "epilogue push exceeds a dispatch");
