/* The LSUV engine: layer-sequential unit-variance initialization, with the
 * loops run on the device.
 *
 * For each layer with lsuv on, in network order, its input is computed once
 * from the already-initialized layers before it; then each pass runs that
 * layer's forward with fused statistics of its output (after activation, sub
 * and maxv; the whole tensor; unbiased std), and a one-invocation shader
 * decides and applies the next step. Every layer's passes, as many as its
 * loops may take, are recorded into one submission for the whole network;
 * once a layer is done its passes, step included, are dispatched indirectly
 * with zero groups, so the rest cost next to nothing. */
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
} lsuv_measure;

/* "post", "pre". */
const char *lsuv_measure_name(lsuv_measure measure);
bool lsuv_measure_from_name(const char *name, lsuv_measure *out);

typedef enum lsuv_mean_param {
    LSUV_MEAN_AUTO, /* the parameter acting at the measuring point: sub post, bias pre */
    LSUV_MEAN_SUB,  /* shift the post-activation sub (fastai) */
    LSUV_MEAN_BIAS, /* shift the pre-activation bias */
} lsuv_mean_param;

/* LSUV_MEAN_SUB or LSUV_MEAN_BIAS: AUTO resolved for the measuring point. */
lsuv_mean_param lsuv_mean_param_resolve(lsuv_mean_param param, lsuv_measure measure);

/* How the std is estimated from a layer's n values. */
typedef enum lsuv_estimator {
    LSUV_ESTIMATOR_UNBIASED,   /* sum of squares / (n - 1), as torch.std (fastai) */
    LSUV_ESTIMATOR_POPULATION, /* sum of squares / n, as np.var (LSUVinit, LSUV-pytorch) */
} lsuv_estimator;

/* What a std step tests and does. */
typedef enum lsuv_update {
    LSUV_UPDATE_STD,      /* while |std - 1| > tol_std: W /= std (fastai) */
    LSUV_UPDATE_VARIANCE, /* while |var - 1| > tol_std: W /= sqrt(var) (LSUVinit) */
    LSUV_UPDATE_COEF,     /* while |std - 1| > tol_std: coef = 1 / (std + 1e-8),
                             W *= coef, b -= mean * coef (LSUV-pytorch) */
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
    uint32_t max_iters;       /* per loop; default 50 */
    /* Called as the device finishes each layer (k of n), while the run's one
     * submission goes on, when set. */
    void (*progress)(void *ctx, uint32_t k, uint32_t n, uint32_t layer);
    void *progress_ctx;
} lsuv_options;

/* Why a run stopped at a layer. */
typedef enum lsuv_hazard {
    LSUV_HAZARD_NONE,
    LSUV_HAZARD_DEAD,        /* std 0: every output finite and equal */
    LSUV_HAZARD_NONFINITE,   /* NaN or Inf in the output */
    LSUV_HAZARD_DIVERGED,    /* the weight scale left the finite numbers */
    LSUV_HAZARD_OVERFLOW,    /* every output finite, but the moments beyond fp32 */
    LSUV_HAZARD_UNREACHABLE, /* the activation's range cannot give the target std */
    LSUV_HAZARD_STALLED,     /* the weight scale keeps growing, the std does not move */
} lsuv_hazard;

typedef struct lsuv_trace_row {
    uint32_t layer, pass;
    char step; /* 'm' mean, 's' std, 'b' both, '-' none */
    double mean, std;
} lsuv_trace_row;

typedef struct lsuv_layer_run {
    uint32_t index; /* the layer's cfg index */
    uint32_t passes;
    lsuv_measure measure;
    double mean, std; /* at the measuring point, with the final weights */
    bool converged;   /* no loop hit max_iters (to become within_tol) */
    bool within_tol;  /* the final mean and std meet every tolerance of the loops that ran */
    bool capped;      /* a loop hit max_iters */
    double gpu_ms;
} lsuv_layer_run;

typedef struct lsuv_run {
    lsuv_order order;
    bool converged;
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

/* Runs one ordering from the weights the forward holds (lsuv_forward_reset
 * puts them there) on its input batch. The adjusted weights stay in the
 * forward (lsuv_forward_weights_read). A hazard is not an error: the run
 * stops at that layer and says so in run->hazard. */
lsuv_status lsuv_initialize(lsuv_forward *forward, const lsuv_options *options, lsuv_run *run);

#ifdef __cplusplus
}
#endif
#endif
