/* The LSUV engine: the host records passes, the device decides. */
#include "lsuv/lsuv.h"

#include "contract.h"
#include "core/clock.h"
#include "core/error.h"
#include "lsuv/check.h"
#include "lsuv/passes.h"
#include "ops/sums.h"
#include "vk/dispatch.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const order_names[LSUV_ORDER_COUNT] = {"mean-first", "std-first", "alternating",
                                                          "joint",      "std-only",  "fixed-point"};
static const char *const measure_names[] = {"post", "pre", "conv", "auto"};

const char *lsuv_order_name(lsuv_order o) {
    return (unsigned)o < LSUV_ORDER_COUNT ? order_names[o] : "unknown";
}

bool lsuv_order_from_name(const char *name, lsuv_order *out) {
    for (unsigned i = 0; i < LSUV_ORDER_COUNT; ++i)
        if (strcmp(name, order_names[i]) == 0) {
            *out = (lsuv_order)i;
            return true;
        }
    return false;
}

const char *lsuv_measure_name(lsuv_measure m) {
    return (unsigned)m <= LSUV_MEASURE_AUTO ? measure_names[m] : "unknown";
}

bool lsuv_measure_from_name(const char *name, lsuv_measure *out) {
    for (unsigned i = 0; i <= LSUV_MEASURE_AUTO; ++i)
        if (strcmp(name, measure_names[i]) == 0) {
            *out = (lsuv_measure)i;
            return true;
        }
    return false;
}

lsuv_measure lsuv_measure_resolve(lsuv_measure m, const lsuv_layer *l) {
    if (m != LSUV_MEASURE_AUTO) return m;
    return l->batch_normalize ? LSUV_MEASURE_CONV : LSUV_MEASURE_POST;
}

lsuv_mean_param lsuv_mean_param_resolve(lsuv_mean_param p, lsuv_measure m) {
    if (p != LSUV_MEAN_AUTO) return p;
    return m == LSUV_MEASURE_PRE ? LSUV_MEAN_BIAS : LSUV_MEAN_SUB;
}

void lsuv_run_free(lsuv_run *run) {
    free(run->layers);
    free(run->trace);
    memset(run, 0, sizeof *run);
}

/* lsuv_step.comp's storage, laid out by contract.h. */
typedef lsuv_control control;
typedef lsuv_gpu_trace_row trace_gpu;

typedef struct engine {
    lsuv_forward *forward;
    lsuv_device *device;
    const lsuv_net *net;
    lsuv_options options;
    lsuv_passes *passes;
    lsuv_pipeline *step;
    lsuv_binding_set *sets; /* per layer */
    lsuv_buffer *control;   /* per layer, a control block */
    lsuv_buffer *trace;     /* per layer, trace_capacity rows */
    lsuv_buffer *progress;  /* host-visible: how many layers the device has done */
    lsuv_timer *timer;      /* a mark at the start, then one after each layer */
    lsuv_cmd **chunks;      /* per layer LSUV runs on, its later passes (record_chunk) */
    uint32_t *layers;       /* the layers LSUV runs on, in order */
    double *layer_ms;       /* per layer LSUV runs on, its GPU time */
    uint32_t n_lsuv;
    uint32_t trace_capacity;
    /* Per-layer strides in the control and trace buffers, aligned for
     * binding at an offset. */
    uint64_t control_stride, trace_stride;
} engine;

static void engine_destroy(engine *e) {
    lsuv_binding_set_destroy(e->sets);
    lsuv_pipeline_destroy(e->step);
    lsuv_buffer_destroy(e->control);
    lsuv_buffer_destroy(e->trace);
    lsuv_buffer_destroy(e->progress);
    lsuv_timer_destroy(e->timer);
    for (uint32_t k = 0; e->chunks && k < e->n_lsuv; ++k) lsuv_cmd_destroy(e->chunks[k]);
    free(e->chunks);
    free(e->layers);
    free(e->layer_ms);
}

/* More passes than a layer can take within the caps (lsuv.h), so the
 * shader's backstop at this count never cuts a run short: max_iters + 1 for
 * one loop, 2 max_iters + 2 for two, and for fixed-point, whose rounds after
 * the first each take a mean step, 4 max_iters + 2. */
static uint32_t trace_capacity(const lsuv_options *o) {
    uint32_t cap = o->max_iters;
    switch (o->order) {
    case LSUV_ORDER_MEAN_FIRST:
    case LSUV_ORDER_STD_FIRST:
        return 2 * cap + 3;
    case LSUV_ORDER_FIXED_POINT:
        return 4 * cap + 3;
    default:
        return cap + 2;
    }
}

static lsuv_status engine_create(engine *e, lsuv_forward *f, const lsuv_options *o) {
    memset(e, 0, sizeof *e);
    e->forward = f;
    e->device = forward_device(f);
    e->net = lsuv_forward_net(f);
    e->options = *o;
    if (e->options.tol_mean <= 0) e->options.tol_mean = 1e-3;
    if (e->options.tol_std <= 0) e->options.tol_std = 1e-3;
    if (e->options.max_iters == 0) e->options.max_iters = 50;
    e->trace_capacity = trace_capacity(&e->options);
    lsuv_device *dev = e->device;
    uint32_t n = e->net->n_layers;
    uint64_t align = lsuv_device_get_info(dev)->min_storage_buffer_offset_alignment;
    if (align == 0) align = 4;
    e->control_stride = lsuv_align_up(sizeof(control), align);
    e->trace_stride = lsuv_align_up((uint64_t)e->trace_capacity * sizeof(trace_gpu), align);
    lsuv_pipeline_desc desc = {
        .shader = LSUV_SHADER_LSUV_STEP, .bindings = 5, .push_size = sizeof(lsuv_step_push)};
    lsuv_status s = passes_get(f, e->options.measure, &e->passes);
    if (s == LSUV_OK) s = lsuv_pipeline_create(dev, &desc, &e->step);
    if (s == LSUV_OK) s = lsuv_buffer_create(dev, n * e->control_stride, &e->control);
    if (s == LSUV_OK) s = lsuv_buffer_create(dev, n * e->trace_stride, &e->trace);
    if (s == LSUV_OK) s = lsuv_buffer_create_host(dev, sizeof(uint32_t), &e->progress);
    if (s == LSUV_OK && (!(e->layers = calloc(n, sizeof *e->layers)) ||
                         !(e->layer_ms = calloc(n, sizeof *e->layer_ms)) ||
                         !(e->chunks = calloc(n, sizeof *e->chunks))))
        s = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; s == LSUV_OK && i < n; ++i)
        if (check_runs_on(&e->net->layers[i], &e->options)) e->layers[e->n_lsuv++] = i;
    if (s == LSUV_OK && lsuv_timer_create(dev, e->n_lsuv + 1, &e->timer) != LSUV_OK)
        e->timer = NULL;
    /* A set per layer, indexed by layer; those of layers LSUV skips stay unwritten. */
    if (s == LSUV_OK) s = lsuv_binding_set_create(e->step, n, &e->sets);
    for (uint32_t i = 0; s == LSUV_OK && i < n; ++i) {
        const lsuv_layer *l = &e->net->layers[i];
        if (!check_runs_on(l, &e->options)) continue;
        lsuv_binding_set_write_buffer(e->sets, i, 0, forward_results(f), 0, LSUV_WHOLE_SIZE);
        lsuv_binding_set_write_buffer(e->sets, i, 1, e->control, i * e->control_stride,
                                      sizeof(control));
        lsuv_binding_set_write_buffer(e->sets, i, 2, forward_state(f, i), 0, LSUV_WHOLE_SIZE);
        lsuv_binding_set_write_buffer(e->sets, i, 3, e->trace, i * e->trace_stride,
                                      (uint64_t)e->trace_capacity * sizeof(trace_gpu));
        lsuv_binding_set_write_buffer(e->sets, i, 4, passes_args(e->passes, i), 0, LSUV_WHOLE_SIZE);
    }
    return s;
}

/* What the step shifts for the mean, measured at m. */
static uint32_t step_mean_param(const lsuv_options *o, lsuv_measure m) {
    if (m == LSUV_MEASURE_CONV) return LSUV_C_MEAN_NONE;
    return lsuv_mean_param_resolve(o->mean_param, m) == LSUV_MEAN_BIAS ? LSUV_C_MEAN_BIAS
                                                                       : LSUV_C_MEAN_SUB;
}

static void record_step(engine *e, lsuv_cmd *cmd, uint32_t layer) {
    lsuv_measure m = lsuv_measure_resolve(e->options.measure, &e->net->layers[layer]);
    /* At conv nothing moves the mean: the std loop alone (lsuv.h). */
    lsuv_order order = m == LSUV_MEASURE_CONV ? LSUV_ORDER_STD_ONLY : e->options.order;
    lsuv_step_push push = {.order = order,
                           .mean_param = step_mean_param(&e->options, m),
                           .tol_mean = (float)e->options.tol_mean,
                           .tol_std = (float)e->options.tol_std,
                           .max_iters = e->options.max_iters,
                           .slot = layer,
                           .n_args = passes_args_words(e->passes, layer),
                           .trace_capacity = e->trace_capacity,
                           .estimator = e->options.estimator,
                           .update = e->options.update};
    lsuv_cmd_barrier(cmd);
    /* One group until the layer is done, then none. */
    lsuv_cmd_record_dispatch_indirect(cmd, e->step, e->sets, layer, &push, sizeof push,
                                      passes_args(e->passes, layer),
                                      passes_step_args(e->passes, layer));
}

/* Known before any dispatch: a layer whose output is a single value for the
 * whole batch has no std (it would read as 0, a dead layer). */
static lsuv_status check_values_per_batch(const lsuv_net *net, const lsuv_options *o,
                                          uint32_t batch) {
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        uint64_t values = (uint64_t)batch * l->out.c * l->out.h * l->out.w;
        if (check_runs_on(l, o) && values < 2)
            return lsuv_fail(LSUV_ERROR_INVALID,
                             "layer %u (%s): a batch of %u gives %llu output value, and the std "
                             "over one value is undefined; use a batch of at least 2",
                             i, lsuv_layer_type_name(l->type), batch, (unsigned long long)values);
    }
    return LSUV_OK;
}

/* Layer `to` starts done, so that none of its passes run, when layer `from`
 * stopped the run: from's status goes into to's done, and into its status
 * to pass it on. The host reads no further than from. */
static void record_gate(engine *e, lsuv_cmd *cmd, uint32_t from, uint32_t to) {
    uint64_t status = from * e->control_stride + offsetof(control, status);
    lsuv_cmd_barrier(cmd);
    lsuv_cmd_copy(cmd, e->control, status, e->control,
                  to * e->control_stride + offsetof(control, done), sizeof(uint32_t));
    lsuv_cmd_copy(cmd, e->control, status, e->control,
                  to * e->control_stride + offsetof(control, status), sizeof(uint32_t));
}

/* Later passes a secondary command buffer holds: recording a pass costs the
 * host more than running it empty costs the device (lavapipe: about 15 us
 * against 2), so a layer's later passes are this many recorded once and
 * executed over and over, not each recorded. */
enum { CHUNK_PASSES = 16 };

/* A later pass of layer i, with its step. */
static void record_pass(engine *e, lsuv_cmd *cmd, uint32_t i) {
    passes_record(e->passes, cmd, i);
    record_step(e, cmd, i);
}

/* The k-th layer's CHUNK_PASSES later passes, in a secondary. */
static lsuv_status record_chunk(engine *e, uint32_t k) {
    lsuv_status s = lsuv_cmd_begin_secondary(e->device, &e->chunks[k]);
    for (uint32_t p = 0; s == LSUV_OK && p < CHUNK_PASSES; ++p)
        record_pass(e, e->chunks[k], e->layers[k]);
    return s == LSUV_OK ? lsuv_cmd_end(e->chunks[k]) : s;
}

/* Records the passes of the k-th layer LSUV runs on: its input from the
 * layers before it that are not yet current, trace_capacity passes, each
 * with its step (more than it can take), the later ones as executions of
 * its chunk and the rest, and the store; then the timer's mark and the
 * count of layers done, for the host. */
static lsuv_status record_layer(engine *e, lsuv_cmd *cmd, uint32_t k, uint32_t *next_input) {
    uint32_t i = e->layers[k];
    if (k > 0) record_gate(e, cmd, e->layers[k - 1], i);
    if (*next_input < i) {
        lsuv_status s = lsuv_forward_record(e->forward, cmd, *next_input, i - 1, false);
        if (s != LSUV_OK) return s;
    }
    passes_record_first(e->passes, cmd, i);
    record_step(e, cmd, i);
    uint32_t later = e->trace_capacity - 1, chunks = later / CHUNK_PASSES;
    if (chunks > 1) {
        lsuv_status s = record_chunk(e, k);
        if (s != LSUV_OK) return s;
        for (uint32_t c = 0; c < chunks; ++c) lsuv_cmd_execute(cmd, e->chunks[k]);
        later -= chunks * CHUNK_PASSES;
    }
    for (uint32_t p = 0; p < later; ++p) record_pass(e, cmd, i);
    /* The layer's output, stored with its final state, is the next layer's
     * input; its final sub is what the host reads before the next run. */
    passes_record_store(e->passes, cmd, i);
    lsuv_cmd_copy(cmd, forward_state(e->forward, i), 0, forward_subs(e->forward), 4ull * i, 4);
    if (e->timer) lsuv_timer_mark(e->timer, cmd, k + 1);
    lsuv_cmd_barrier(cmd);
    lsuv_cmd_fill(cmd, e->progress, 0, sizeof(uint32_t), k + 1);
    lsuv_cmd_barrier_host(cmd);
    *next_input = i + 1;
    return LSUV_OK;
}

/* Waits for the submission; options.progress hears of each layer as the
 * device counts it done, the host polling that count. */
static lsuv_status wait_reporting(engine *e, lsuv_cmd *cmd) {
    const uint64_t poll_ns = 1000000; /* what a progress call lags the device by, at most */
    bool done = false;
    lsuv_status s = LSUV_OK;
    for (uint32_t told = 0; s == LSUV_OK && !done;) {
        s = lsuv_cmd_wait(cmd, e->options.progress ? poll_ns : UINT64_MAX, &done);
        uint32_t count = 0;
        if (s == LSUV_OK && e->options.progress)
            s = lsuv_buffer_read(e->progress, 0, &count, sizeof count);
        for (; s == LSUV_OK && told < count && told < e->n_lsuv; ++told)
            e->options.progress(e->options.progress_ctx, told + 1, e->n_lsuv, e->layers[told]);
    }
    return s;
}

/* Every layer's passes in one submission, whatever the cap: the device
 * decides each step and when each layer is done. */
static lsuv_status run_passes(engine *e, lsuv_cmd *cmd, lsuv_run *run) {
    uint32_t zero = 0, next_input = 0; /* the first layer whose output is not yet current */
    lsuv_status s = lsuv_buffer_write(e->progress, 0, &zero, sizeof zero);
    if (e->timer) {
        lsuv_timer_reset(e->timer, cmd);
        lsuv_timer_mark(e->timer, cmd, 0);
    }
    for (uint32_t k = 0; s == LSUV_OK && k < e->n_lsuv; ++k)
        s = record_layer(e, cmd, k, &next_input);
    if (s == LSUV_OK) s = lsuv_cmd_submit_async(cmd);
    if (s != LSUV_OK) return s;
    run->submissions++;
    s = wait_reporting(e, cmd);
    for (uint32_t k = 0; s == LSUV_OK && e->timer && k < e->n_lsuv; ++k) {
        double ns = 0;
        if (lsuv_timer_elapsed_ns(e->timer, k, k + 1, &ns) == LSUV_OK) e->layer_ms[k] = ns * 1e-6;
    }
    return s;
}

/* The control blocks of every layer up to the last LSUV runs on, in one
 * read. */
static lsuv_status read_controls(engine *e, lsuv_run *run, unsigned char **blocks) {
    uint64_t bytes = e->n_lsuv ? (e->layers[e->n_lsuv - 1] + 1) * e->control_stride : 0;
    if (!(*blocks = malloc(bytes ? bytes : 1)))
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    run->readback_bytes += bytes;
    return lsuv_buffer_read(e->control, 0, *blocks, bytes);
}

/* The trace of the passes layer i took, in one read. */
static lsuv_status read_trace(engine *e, uint32_t i, const control *ctl, lsuv_run *run) {
    uint32_t cap = e->trace_capacity;
    uint32_t rows = ctl->passes < cap ? ctl->passes : cap;
    trace_gpu *t = malloc((rows ? rows : 1) * sizeof *t);
    if (!t) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_status s = lsuv_buffer_read(e->trace, i * e->trace_stride, t, rows * sizeof *t);
    run->readback_bytes += rows * sizeof *t;
    static const char steps[] = "-msb";
    for (uint32_t r = 0; s == LSUV_OK && r < rows; ++r)
        run->trace[run->n_trace++] =
            (lsuv_trace_row){i, t[r].pass, steps[t[r].step & 3], t[r].mean, t[r].std};
    free(t);
    return s;
}

/* The run's arrays, and every layer's control block clear. */
static lsuv_status run_start(engine *e, lsuv_run *run) {
    uint32_t n = e->net->n_layers;
    if (!(run->layers = calloc(n, sizeof *run->layers)) ||
        !(run->trace = calloc((size_t)n * e->trace_capacity, sizeof *run->trace)))
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    void *zero = calloc(n, e->control_stride);
    lsuv_status s = zero ? lsuv_buffer_write(e->control, 0, zero, n * e->control_stride)
                         : lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    free(zero);
    return s;
}

/* The sub each layer starts from, as the forward holds it (--weights-in may
 * set one other than the cfg's; a run before this one may have moved it):
 * one read of the forward's host-visible copy. */
static lsuv_status read_subs(lsuv_forward *f, lsuv_run *run, float **out) {
    const lsuv_net *net = lsuv_forward_net(f);
    float *subs = *out = calloc(net->n_layers ? net->n_layers : 1, sizeof *subs);
    if (!subs) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    run->readback_bytes += 4ull * net->n_layers;
    return lsuv_buffer_read(forward_subs(f), 0, subs, 4ull * net->n_layers);
}

/* Before any pass: the options must suit the network and the batch; a layer
 * whose target is out of reach ends the run there, with no pass made (its
 * mean and std NaN), as LSUV_HAZARD_UNREACHABLE. */
/* Under --bn batch a layer's output is normalized by the batch's own
 * statistics: scaling W (the std step) is divided out, and the mean step's
 * bias comes after the normalization (lsuv.h). The passes, which replay a
 * layer's epilogue over its kept sums, have no batch norm in them either. */
static lsuv_status check_bn_batch(const lsuv_net *net) {
    for (uint32_t i = 0; i < net->n_layers; ++i)
        if (net->layers[i].bn_batch && net->layers[i].lsuv)
            return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                             "%s: layer %u (%s) normalizes with the batch's statistics (--bn "
                             "batch), which divide out LSUV's weight scale; run LSUV with --bn "
                             "inference (the default) or --bn strip",
                             net->path, i, lsuv_layer_type_name(net->layers[i].type));
    return LSUV_OK;
}

static lsuv_status check_before(lsuv_forward *f, const lsuv_options *o, lsuv_run *run) {
    const lsuv_net *net = lsuv_forward_net(f);
    float *subs = NULL;
    lsuv_status s = check_bn_batch(net);
    if (s == LSUV_OK) s = check_values_per_batch(net, o, lsuv_forward_batch(f));
    if (s == LSUV_OK) s = read_subs(f, run, &subs);
    if (s == LSUV_OK) s = check_options(net, o, subs);
    uint32_t layer = s == LSUV_OK ? check_unreachable(net, o, subs) : UINT32_MAX;
    free(subs);
    if (layer == UINT32_MAX) return s;
    if (!(run->layers = calloc(1, sizeof *run->layers)))
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    run->layers[0] =
        (lsuv_layer_run){.index = layer,
                         .measure = lsuv_measure_resolve(o->measure, &net->layers[layer]),
                         .mean = NAN,
                         .std = NAN};
    run->n_layers = 1;
    run->hazard = LSUV_HAZARD_UNREACHABLE;
    return LSUV_OK;
}

/* What the device's control block says of the layer it finished. */
static void finish_layer(const control *ctl, lsuv_layer_run *lr, lsuv_run *run) {
    lr->passes = ctl->passes;
    run->passes += ctl->passes;
    lr->capped = ctl->capped != 0;
    lr->within_tol = ctl->done && ctl->within_tol && ctl->status == LSUV_HAZARD_NONE;
    lr->converged = lr->within_tol;
    run->converged = run->converged && lr->within_tol;
    run->gpu_ms += lr->gpu_ms;
    run->hazard = (lsuv_hazard)ctl->status;
    lr->mean = ctl->mean;
    lr->std = ctl->std;
}

lsuv_status lsuv_initialize(lsuv_forward *f, const lsuv_options *options, lsuv_run *run) {
    memset(run, 0, sizeof *run);
    run->order = options->order;
    lsuv_status s = check_before(f, options, run);
    if (s != LSUV_OK || run->hazard != LSUV_HAZARD_NONE) {
        if (s != LSUV_OK) lsuv_run_free(run);
        return s;
    }
    engine e;
    s = engine_create(&e, f, options);
    run->converged = true;
    if (s == LSUV_OK) s = run_start(&e, run);
    lsuv_cmd *cmd = NULL;
    if (s == LSUV_OK) s = lsuv_cmd_begin(e.device, &cmd);
    double t0 = lsuv_wall_seconds();
    if (s == LSUV_OK) s = run_passes(&e, cmd, run);
    unsigned char *blocks = NULL;
    if (s == LSUV_OK) s = read_controls(&e, run, &blocks);
    for (uint32_t k = 0; s == LSUV_OK && k < e.n_lsuv && run->hazard == LSUV_HAZARD_NONE; ++k) {
        uint32_t i = e.layers[k];
        lsuv_layer_run *lr = &run->layers[run->n_layers++];
        lr->index = i;
        lr->measure = lsuv_measure_resolve(e.options.measure, &e.net->layers[i]);
        control ctl;
        memcpy(&ctl, blocks + i * e.control_stride, sizeof ctl);
        lr->gpu_ms = e.layer_ms[k];
        s = read_trace(&e, i, &ctl, run);
        if (s != LSUV_OK) break;
        finish_layer(&ctl, lr, run);
    }
    free(blocks);
    run->wall_ms = (lsuv_wall_seconds() - t0) * 1e3;
    lsuv_cmd_destroy(cmd);
    engine_destroy(&e);
    if (s != LSUV_OK) lsuv_run_free(run);
    return s;
}
