/* The LSUV engine: layer-sequential unit-variance initialization, with the
 * loops run on the device.
 *
 * For each layer LSUV takes part in (lsuv_options.layers; never one with
 * lsuv=0), in network order, its input is computed once from the
 * already-initialized layers before it; then each pass runs that layer's
 * forward with fused statistics at the measuring point (the whole tensor,
 * with the chosen estimator), and a one-invocation shader decides and
 * applies the next step. Every layer's passes, as many as its loops may
 * take whatever max_iters is, go into one submission for the whole
 * network, most as repeated executions of a chunk of passes recorded once;
 * once a layer is done its passes, step included, are dispatched
 * indirectly with zero groups, so the rest cost next to nothing.
 *
 * Passes, steps and the cap. A pass is one evaluation of the layer's
 * statistics; a step is one adjustment. Every loop is `while the test fails
 * and fewer than max_iters steps were taken: step, then a pass`, after a
 * pass of its own before its first test, so:
 *   - std-only, alternating, joint (one loop): at most max_iters steps and
 *     passes = 1 + steps. LSUVinit's lsuv_init.py (`iter_num > max_iter`
 *     after each step, max_iter = 20) makes at most 21 corrections and 22
 *     evaluations: max_iters 21. LSUV-pytorch's LSUV.py (`attempts >
 *     max_attempts`, max_attempts = 10) at most 11 and 12: max_iters 11.
 *   - mean-first, std-first (two loops, as the notebook's two `while
 *     mdl(xb) is not None and ...`, each running the network before its
 *     test): passes = (1 + mean steps) + (1 + std steps); the second loop's
 *     first pass measures the state the first left. Each loop at most
 *     max_iters steps.
 *   - fixed-point: rounds of the mean loop then the std loop, each loop with
 *     its first pass, while the std loop ends with the std in tolerance and
 *     the mean not; each loop's steps count over all rounds against
 *     max_iters: passes = sum over rounds of 2 + steps, at most
 *     4 max_iters + 2.
 * A layer is `capped` when a loop ended at max_iters steps with its test
 * still failing (fixed-point also when it ends with the mean out of
 * tolerance and no mean steps left).
 *
 * Batch norm (batch_normalize=1; see lsuv_layer.batch_normalize). Under
 * --bn inference (the default) a layer computes
 *   act(a_c (W_c x) + bias_c - a_c mean_c),  a_c = scales_c / sqrt(var_c + eps)
 * with the rolling statistics, an affine map of W x; the device folds a_c
 * into the weights and bias it holds (ops/bn_fold.c). So the std step, which
 * scales W, scales the normalized pre-activation by the same factor; the
 * mean step shifts the bias (or sub), which in darknet's order comes after
 * the normalization and the scales. With --measure auto (the program's
 * default; lsuv_options' zero value is post) such a layer is measured at
 * conv, the convolution's output W x before batch norm, as LSUV-pytorch's
 * hook on the convolution sees it: the std step scales W, and so W x, by
 * 1 / std; no parameter moves the mean of W x, so the mean loop does not
 * run there. --measure pre measures the
 * pre-activation, after batch norm; --measure post the layer's output. A
 * fresh net's identity batch norm makes a_c = 1 / sqrt(1 + 1e-5) for every
 * channel, so pre there sees W x scaled by 0.999995.
 *
 * Under --bn batch a layer normalizes with the batch's own statistics, and
 * LSUV refuses to run (LSUV_ERROR_UNSUPPORTED): scaling W scales the sums
 * batch norm sees and is then divided out, up to epsilon. Measured on the
 * fp64 reference (test_bn, batch_divides_out_the_weight_scale; an 8x8x3
 * batch of 16 through a 4-filter 3x3 leaky conv): W x 0.5, x 2 and x 10
 * move the pre-batch-norm std from 1.3235 to 0.6617, 2.6469 and 13.2345,
 * while the layer's output std stays 0.62604 and no output moves by more
 * than 3.3e-5; the mean step's bias comes after the normalization, where
 * the scales and bias alone set the output's moments. */
#ifndef LSUV_LSUV_H
#define LSUV_LSUV_H

#include <stdbool.h>
#include <stdint.h>

#include "lsuv/forward.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lsuv_order {
    LSUV_ORDER_MEAN_FIRST,  /* fastai 07a: the mean loop, then the std loop */
    LSUV_ORDER_STD_FIRST,   /* the same loops swapped */
    LSUV_ORDER_ALTERNATING, /* a mean step and a std step per pass */
    LSUV_ORDER_JOINT,       /* W /= std and sub <- (sub + mean) / std together */
    LSUV_ORDER_STD_ONLY,    /* the LSUV paper's Algorithm 1 */
    LSUV_ORDER_FIXED_POINT, /* mean loop, std loop, again, until both hold at once */
} lsuv_order;

enum { LSUV_ORDER_COUNT = 6 };

/* "mean-first", "std-first", "alternating", "joint", "std-only",
 * "fixed-point". */
const char *lsuv_order_name(lsuv_order order);
bool lsuv_order_from_name(const char *name, lsuv_order *out);

/* Where a layer's statistics are taken. */
typedef enum lsuv_measure {
    LSUV_MEASURE_POST, /* the layer's output: after the activation, sub and maxv */
    LSUV_MEASURE_PRE,  /* its pre-activation: after the bias, before the activation */
    /* The convolution's own output before batch norm, W x (scaled by LSUV),
     * in fp32: only on a layer with batch norm (lsuv_options_check refuses
     * it on others). There no mean parameter acts (the bias and the rolling
     * mean come after; darknet's batch-norm layers have no bias of their
     * own), so the layer runs the std loop alone, whatever the order: its
     * passes are 1 + std steps and within_tol tests the std only. */
    LSUV_MEASURE_CONV,
    /* Per layer: conv on a layer with batch norm (where LSUV-pytorch's hook
     * on the convolution measures), post elsewhere. lsuv_layer_run.measure
     * says which. */
    LSUV_MEASURE_AUTO,
} lsuv_measure;

/* "post", "pre", "conv", "auto". */
const char *lsuv_measure_name(lsuv_measure measure);
bool lsuv_measure_from_name(const char *name, lsuv_measure *out);
/* Where a layer is measured: AUTO resolved for it, others as they are. */
lsuv_measure lsuv_measure_resolve(lsuv_measure measure, const lsuv_layer *layer);

typedef enum lsuv_mean_param {
    /* The parameter acting at the measuring point: sub post, bias pre; at
     * conv none acts, and the mean is left alone (LSUV_MEASURE_CONV). */
    LSUV_MEAN_AUTO,
    LSUV_MEAN_SUB,  /* shift the post-activation sub (fastai) */
    LSUV_MEAN_BIAS, /* shift the pre-activation bias */
} lsuv_mean_param;

/* LSUV_MEAN_SUB or LSUV_MEAN_BIAS: AUTO resolved for the measuring point
 * (post, pre; at conv the mean step does not run). */
lsuv_mean_param lsuv_mean_param_resolve(lsuv_mean_param param, lsuv_measure measure);

/* How the std is estimated from a layer's n values. */
typedef enum lsuv_estimator {
    LSUV_ESTIMATOR_UNBIASED,   /* sum of squares / (n - 1), as torch.std (fastai) */
    LSUV_ESTIMATOR_POPULATION, /* sum of squares / n, as np.var (LSUVinit, LSUV-pytorch) */
} lsuv_estimator;

/* What a std step tests and does. */
typedef enum lsuv_update {
    LSUV_UPDATE_STD,      /* while |std - 1| > tol_std: W /= std (fastai) */
    LSUV_UPDATE_VARIANCE, /* while |var - 1| > tol_std: W /= sqrt(var), the mean parameter
                             untouched (LSUVinit); var = std^2 of the estimator */
    LSUV_UPDATE_COEF,     /* while |std - 1| > tol_std: coef = 1 / (std + 1e-8),
                             W *= coef, b -= mean * coef, the bias shifted, not rescaled
                             (LSUV-pytorch); with the sub mean parameter, sub += mean * coef.
                             A layer within tolerance keeps its mean. Not with joint or
                             alternating. */
} lsuv_update;

/* Which layers with weights LSUV adjusts (a layer with lsuv=0 never). */
typedef enum lsuv_layer_set {
    LSUV_LAYERS_WEIGHTED, /* every convolutional and connected layer */
    LSUV_LAYERS_CONVS,    /* convolutional layers only (fastai's lsuv_module) */
} lsuv_layer_set;

typedef struct lsuv_options {
    lsuv_order order;
    lsuv_mean_param mean_param;
    lsuv_measure measure;
    lsuv_estimator estimator;
    lsuv_update update;
    lsuv_layer_set layers;
    double tol_mean, tol_std; /* default 1e-3 each */
    uint32_t max_iters;       /* steps per loop (see the top of this file); default 50 */
    /* Called as the device finishes each layer (k of n), while the run's one
     * submission goes on, when set. */
    void (*progress)(void *ctx, uint32_t k, uint32_t n, uint32_t layer);
    void *progress_ctx;
} lsuv_options;

/* Why a run stopped at a layer. */
typedef enum lsuv_hazard {
    LSUV_HAZARD_NONE,
    LSUV_HAZARD_DEAD,      /* std 0: every output finite and equal */
    LSUV_HAZARD_NONFINITE, /* NaN or Inf in the output */
    LSUV_HAZARD_DIVERGED,  /* the weight scale left the finite numbers */
    LSUV_HAZARD_OVERFLOW,  /* every output finite, but the moments beyond fp32 */
    /* Measured post, the output's range [lo, hi] (the activation's, with
     * maxv where sub stays put) bounds its std by (hi - lo) / 2; where that
     * is 1 or less (logistic, tanh, hardtan, loggy, a tight maxv), std 1 is
     * out of reach or needs every output saturated. Found before any pass:
     * the run holds that layer alone, with 0 passes and NaN moments. */
    LSUV_HAZARD_UNREACHABLE,
    /* Since its last reference point the weight scale moved by a factor of
     * 16 or more (either way) while the std moved by less than a tenth as
     * much (in log terms), outside the tolerances: the std does not follow
     * the weights (a saturating output, or a std that is the biases'
     * spread), and the steps would run the weights to 1e15 or to 0. */
    LSUV_HAZARD_STALLED,
} lsuv_hazard;

typedef struct lsuv_trace_row {
    uint32_t layer, pass;
    char step; /* 'm' mean, 's' std, 'b' both, '-' none */
    double mean, std;
} lsuv_trace_row;

typedef struct lsuv_layer_run {
    uint32_t index; /* the layer's cfg index */
    uint32_t passes;
    lsuv_measure measure; /* where it was measured: post, pre or conv, never auto */
    double mean, std;     /* at the measuring point, with the final weights */
    bool converged;       /* within_tol, kept for the reports until they read within_tol */
    /* The last pass met every tolerance of the loops that ran: the std's
     * (the variance's, with LSUV_UPDATE_VARIANCE) for std-only; the mean's
     * and the std's for the others. False with a hazard. */
    bool within_tol;
    bool capped; /* a loop ended at max_iters steps (see the top of this file) */
    double gpu_ms;
} lsuv_layer_run;

typedef struct lsuv_run {
    lsuv_order order;
    bool converged; /* every layer within_tol, and no hazard */
    uint32_t passes, submissions;
    uint64_t readback_bytes;
    double gpu_ms, wall_ms;
    uint32_t n_layers; /* layers initialized (or the one that stopped the run) */
    lsuv_layer_run *layers;
    uint32_t n_trace;
    lsuv_trace_row *trace;
    lsuv_hazard hazard; /* not NONE: the last layer stopped the run */
} lsuv_run;

void lsuv_run_free(lsuv_run *run);

/* LSUV_ERROR_INVALID, with a message saying why and what to use instead,
 * for options that cannot converge on this network whatever the weights:
 *   - the coef update with joint or alternating (two mean shifts from one
 *     pass's statistics);
 *   - sub as the mean parameter measured pre (sub acts after the measuring
 *     point, so it cannot move a pre-activation mean);
 *   - the bias as the mean parameter measured post, with a mean loop, on a
 *     layer whose output range (activation, sub, maxv) does not hold 0
 *     strictly inside: relu, relu6 or logistic with sub <= 0, where a mean
 *     of 0 needs every output equal (a dead layer). With the cfg's sub;
 *     lsuv_initialize checks again with the sub the forward holds.
 * Enums out of range are refused too. */
lsuv_status lsuv_options_check(const lsuv_net *net, const lsuv_options *options);

/* Runs one ordering from the weights the forward holds (lsuv_forward_reset
 * puts them there) on its input batch, after lsuv_options_check. The
 * adjusted weights stay in the forward (lsuv_forward_weights_read). A hazard
 * is not an error: the run stops at that layer and says so in run->hazard. */
lsuv_status lsuv_initialize(lsuv_forward *forward, const lsuv_options *options, lsuv_run *run);

/* One layer's statistics over the whole batch (lsuv_network_measure). */
typedef struct lsuv_layer_stats {
    uint32_t index;           /* the layer's cfg index */
    double mean, std;         /* its output */
    double pre_mean, pre_std; /* layers with weights: the pre-activation (after the bias,
                                 before the activation); NaN for others */
    /* Layers with weights and a rectifier (relu, leaky, relie, ramp, relu6;
     * fastai's GeneralRelu is relu then sub): the fraction of pre-activation
     * values > 0, the units the rectifier passes; NaN for others. */
    double active;
    uint64_t count; /* the output's values (batch x outputs per sample) */
} lsuv_layer_stats;

/* Runs the whole network on the forward's current input with what it holds
 * now (the weights, and LSUV's adjustments: scales, shifts, sub) and fills
 * out[0 .. n_layers - 1], every layer: those LSUV skips, pools, the logits.
 * std and pre_std with the estimator given. One submission: each layer with
 * weights runs its convolution once, keeping its sums with the fused
 * statistics of the pre-activation, then its epilogue over them stores its
 * output with the output's; the moments are the device's, the active
 * fraction is counted on the host from the sums read back (the layer's
 * outputs in fp32). About one forward's time and a readback of every layer
 * with weights' sums. In fp16 no statistics kernel reads a layer without
 * weights: the host takes its moments from its stored values, so make the
 * forward with keep_outputs, or their memory may have gone to later layers
 * (LSUV_ERROR_INVALID says which). */
lsuv_status lsuv_network_measure(lsuv_forward *forward, lsuv_estimator estimator,
                                 lsuv_layer_stats *out);

#ifdef __cplusplus
}
#endif
#endif
