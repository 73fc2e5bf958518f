/* The contract between the host (C11) and the compute shaders (GLSL): the
 * numbers both sides must agree on, written once. Both languages read this
 * file through their preprocessors, so it holds #defines alone outside the
 * guarded sections; the C side checks in src/ops/contract_check.c that the
 * public enums still carry these values. */
#ifndef LSUV_CONTRACT_H
#define LSUV_CONTRACT_H

/* lsuv_activation (include/lsuv/net.h): activation.glsl switches on these. */
#define LSUV_C_ACT_LINEAR 0u
#define LSUV_C_ACT_RELU 1u
#define LSUV_C_ACT_LEAKY 2u
#define LSUV_C_ACT_RELIE 3u
#define LSUV_C_ACT_RAMP 4u
#define LSUV_C_ACT_ELU 5u
#define LSUV_C_ACT_SELU 6u
#define LSUV_C_ACT_LOGISTIC 7u
#define LSUV_C_ACT_TANH 8u
#define LSUV_C_ACT_RELU6 9u
#define LSUV_C_ACT_SWISH 10u
#define LSUV_C_ACT_MISH 11u
#define LSUV_C_ACT_GELU 12u
#define LSUV_C_ACT_HARDTAN 13u
#define LSUV_C_ACT_LHTAN 14u
#define LSUV_C_ACT_PLSE 15u
#define LSUV_C_ACT_LOGGY 16u
#define LSUV_C_ACT_STAIR 17u

/* lsuv_order (include/lsuv/lsuv.h): lsuv_step.comp's push constant order. */
#define LSUV_C_ORDER_MEAN_FIRST 0u
#define LSUV_C_ORDER_STD_FIRST 1u
#define LSUV_C_ORDER_ALTERNATING 2u
#define LSUV_C_ORDER_JOINT 3u
#define LSUV_C_ORDER_STD_ONLY 4u
#define LSUV_C_ORDER_FIXED_POINT 5u

/* lsuv_estimator and lsuv_update (include/lsuv/lsuv.h): lsuv_step.comp's
 * push constants estimator and update. */
#define LSUV_C_ESTIMATOR_UNBIASED 0u
#define LSUV_C_ESTIMATOR_POPULATION 1u
#define LSUV_C_UPDATE_STD 0u
#define LSUV_C_UPDATE_VARIANCE 1u
#define LSUV_C_UPDATE_COEF 2u

/* lsuv_hazard (include/lsuv/lsuv.h): lsuv_step.comp's Control.status, which
 * the host casts to lsuv_hazard. */
#define LSUV_C_HAZARD_NONE 0u
#define LSUV_C_HAZARD_DEAD 1u
#define LSUV_C_HAZARD_NONFINITE 2u
#define LSUV_C_HAZARD_DIVERGED 3u
#define LSUV_C_HAZARD_OVERFLOW 4u
#define LSUV_C_HAZARD_UNREACHABLE 5u
#define LSUV_C_HAZARD_STALLED 6u

/* lsuv_measure (include/lsuv/lsuv.h): the MEASURE specialization constant
 * of conv2d.comp (its SUMS variant, LSUV's first pass) and epilogue.comp
 * (LSUV's later passes), which values a workgroup's partials describe. */
#define LSUV_C_MEASURE_POST 0u /* the output as stored */
#define LSUV_C_MEASURE_PRE 1u  /* the pre-activation, in fp32 */
#define LSUV_C_MEASURE_CONV 2u /* W x before batch norm, in fp32 (conv_io.glsl) */

/* lsuv_step.comp's mean_param: what the mean steps shift. None where no
 * parameter acts at the measuring point (conv): the std step alone. */
#define LSUV_C_MEAN_SUB 0u
#define LSUV_C_MEAN_BIAS 1u
#define LSUV_C_MEAN_NONE 2u

/* Push constants: all 4-byte scalars, so std430's push-constant layout is
 * C's, with no padding on either side (src/ops/contract_check.c checks the
 * offsets). A field list rather than a struct, so GLSL can declare both its
 * push block and a struct of the same fields from it. */
#ifdef __STDC_VERSION__
#include <stdint.h>
#define LSUV_C_U32 uint32_t
#else
#define LSUV_C_U32 uint
#endif

/* conv2d.comp. */
#define LSUV_C_CONV_PUSH_FIELDS                                                             \
    LSUV_C_U32 n, c, h, w;     /* input: samples (of this chunk), channels, height, width */ \
    LSUV_C_U32 oc, oh, ow;     /* output channels, height, width */                          \
    LSUV_C_U32 k, stride, pad; /* square kernel */                                           \
    LSUV_C_U32 cg, og;         /* input and output channels per group */                     \
    float slope, maxv;                                                                       \
    LSUV_C_U32 in_off, out_off; /* first float of this chunk in the bound input and output */ \
    LSUV_C_U32 w_off; /* first float of output channel oc_begin in the bound weights */      \
    LSUV_C_U32 oc_begin, oc_end; /* the output channels of this dispatch */                  \
    LSUV_C_U32 stats_base; /* first Partial of this dispatch; ~0u: no statistics */          \
    LSUV_C_U32 sums_off;   /* first float of this chunk in the bound sums (with SUMS) */

/* epilogue.comp. */
#define LSUV_C_EPILOGUE_PUSH_FIELDS                                              \
    LSUV_C_U32 n;        /* samples in this chunk */                             \
    LSUV_C_U32 plane;    /* outputs of one channel of one sample: oh * ow */     \
    LSUV_C_U32 oc;       /* channels */                                          \
    LSUV_C_U32 sums_off; /* first sum of this chunk in the bound sums */         \
    LSUV_C_U32 out_off;  /* first value of this chunk in the bound output */     \
    float slope, maxv;                                                           \
    LSUV_C_U32 stats_base; /* first Partial of this dispatch */

/* stats_reduce.comp and stats_combine.comp (one block for both, so a plan's
 * stages take the same words whatever they run). */
#define LSUV_C_STATS_PUSH_FIELDS                                                       \
    LSUV_C_U32 first;      /* index of the first input in the bound range */         \
    LSUV_C_U32 count;      /* inputs in this dispatch */                              \
    LSUV_C_U32 out_base;   /* index of this dispatch's first Partial */               \
    LSUV_C_U32 shift_slot; /* two-pass second pass: the first pass's result (reduce) */

/* bn_batch.comp: batch norm with the batch's statistics, a workgroup per
 * output channel over n samples of oc x plane values from off. */
#define LSUV_C_BN_EPSILON 1e-5 /* LSUV_BN_EPSILON */
#define LSUV_C_BN_PUSH_FIELDS                                                  \
    LSUV_C_U32 n, oc, plane, off;                                             \
    float slope, maxv, sub;

/* pool.comp. */
#define LSUV_C_POOL_MAXPOOL 0u
#define LSUV_C_POOL_AVGPOOL 1u
#define LSUV_C_POOL_CROP_SCALE 2u /* crop, scaled to [-1, 1] */
#define LSUV_C_POOL_CROP 3u       /* crop, values as they are */
#define LSUV_C_POOL_PUSH_FIELDS                                                \
    LSUV_C_U32 mode; /* LSUV_C_POOL_* */                                      \
    LSUV_C_U32 n, c, h, w, oh, ow;                                            \
    LSUV_C_U32 size, stride, padding; /* maxpool */                           \
    LSUV_C_U32 in_off, out_off;

/* graph.comp: one invocation per value written. c, h, w are the output's
 * (a route's whole output); the input's shape follows from them, but for a
 * route's input (ic channels) and a shortcut's from= (fc x fh x fw). */
#define LSUV_C_GRAPH_ROUTE 0u          /* part channels from c_first to c_off */
#define LSUV_C_GRAPH_SHORTCUT 1u       /* alpha x input + beta x from, activated */
#define LSUV_C_GRAPH_UPSAMPLE 2u       /* alpha x the nearest of the input */
#define LSUV_C_GRAPH_UPSAMPLE_SUM 3u   /* alpha x each stride x stride block's sum */
#define LSUV_C_GRAPH_REORG 4u          /* darknet's reorg, reverse=0 */
#define LSUV_C_GRAPH_REORG_REVERSE 5u  /* and reverse=1 */
#define LSUV_C_GRAPH_REORG_EXTRA 6u    /* the ic values of a sample, then zeros */
#define LSUV_C_GRAPH_PUSH_FIELDS                                                   \
    LSUV_C_U32 mode; /* LSUV_C_GRAPH_* */                                          \
    LSUV_C_U32 n, c, h, w;                                                         \
    LSUV_C_U32 ic;           /* route: the input's channels; reorg extra=: values */ \
    LSUV_C_U32 fc, fh, fw;   /* shortcut: from='s shape */                         \
    LSUV_C_U32 stride;       /* upsample, reorg */                                 \
    LSUV_C_U32 act;          /* shortcut: lsuv_activation */                       \
    float slope, alpha, beta; /* shortcut; alpha is upsample's scale too */        \
    LSUV_C_U32 c_off, c_first, part; /* route */                                   \
    LSUV_C_U32 in_off, from_off, out_off;

/* local.comp: one invocation per output value; c, h, w the input's, oc,
 * oh, ow the output's; padding in pixels, as darknet's im2col takes pad=. */
#define LSUV_C_LOCAL_PUSH_FIELDS                                                \
    LSUV_C_U32 n, c, h, w, oc, oh, ow;                                          \
    LSUV_C_U32 size, stride, padding;                                           \
    LSUV_C_U32 act; /* lsuv_activation */                                       \
    float slope;                                                                \
    LSUV_C_U32 in_off, out_off;

/* lsuv_step.comp. */
#define LSUV_C_STEP_PUSH_FIELDS                                               \
    LSUV_C_U32 order;      /* lsuv_order, as LSUV_C_ORDER_* */                 \
    LSUV_C_U32 mean_param; /* LSUV_C_MEAN_* */                                 \
    float tol_mean, tol_std;                                                   \
    LSUV_C_U32 max_iters;                                                      \
    LSUV_C_U32 slot;           /* the layer's statistics slot */               \
    LSUV_C_U32 n_args;         /* uints of one copy of the arguments */        \
    LSUV_C_U32 trace_capacity; /* the most passes a layer may take */          \
    LSUV_C_U32 estimator;      /* lsuv_estimator, as LSUV_C_ESTIMATOR_* */      \
    LSUV_C_U32 update;         /* lsuv_update, as LSUV_C_UPDATE_* */

/* lsuv_step.comp's storage: a layer's control block and a trace row; both
 * of 4-byte scalars, so std430 lays them out as C does. */
#define LSUV_C_CONTROL_FIELDS                                              \
    LSUV_C_U32 phase; /* which loop of a two-loop ordering runs */          \
    LSUV_C_U32 done;                                                        \
    LSUV_C_U32 status; /* lsuv_hazard, as LSUV_C_HAZARD_* */                \
    LSUV_C_U32 passes; /* statistics passes taken */                        \
    LSUV_C_U32 iters0, iters1; /* steps taken in each loop */               \
    LSUV_C_U32 capped; /* a loop stopped at max_iters */                    \
    LSUV_C_U32 within_tol; /* the last pass met every tolerance that applies */ \
    float mean, std; /* the last pass's moments */                          \
    float anchor_wscale, anchor_std; /* STALLED's reference (0: none yet) */
#define LSUV_C_TRACE_ROW_FIELDS                                                     \
    LSUV_C_U32 pass;                                                                 \
    LSUV_C_U32 step; /* 0 none, 1 mean, 2 std, 3 both (joint or alternating) */      \
    float mean, std;

/* One workgroup's statistics (stats_common.glsl's Partial),
 * LSUV_STATS_RESULT_BYTES of include/lsuv/stats.h. */
#define LSUV_C_PARTIAL_FIELDS                                                    \
    float shift;                                                                  \
    float mean;                                                                   \
    float m2;                                                                     \
    LSUV_C_U32 n;                                                                 \
    LSUV_C_U32 nonfinite; /* NaN and Inf inputs: counted, kept out of the moments */ \
    LSUV_C_U32 pad;

#ifdef __STDC_VERSION__
typedef struct lsuv_conv_push {
    LSUV_C_CONV_PUSH_FIELDS
} lsuv_conv_push;
typedef struct lsuv_epilogue_push {
    LSUV_C_EPILOGUE_PUSH_FIELDS
} lsuv_epilogue_push;
typedef struct lsuv_stats_push {
    LSUV_C_STATS_PUSH_FIELDS
} lsuv_stats_push;
typedef struct lsuv_bn_push {
    LSUV_C_BN_PUSH_FIELDS
} lsuv_bn_push;
typedef struct lsuv_pool_push {
    LSUV_C_POOL_PUSH_FIELDS
} lsuv_pool_push;
typedef struct lsuv_graph_push {
    LSUV_C_GRAPH_PUSH_FIELDS
} lsuv_graph_push;
typedef struct lsuv_local_push {
    LSUV_C_LOCAL_PUSH_FIELDS
} lsuv_local_push;
typedef struct lsuv_step_push {
    LSUV_C_STEP_PUSH_FIELDS
} lsuv_step_push;
typedef struct lsuv_partial {
    LSUV_C_PARTIAL_FIELDS
} lsuv_partial;
typedef struct lsuv_control {
    LSUV_C_CONTROL_FIELDS
} lsuv_control;
typedef struct lsuv_gpu_trace_row {
    LSUV_C_TRACE_ROW_FIELDS
} lsuv_gpu_trace_row;
#endif

#endif
