/* LSUV's passes (see passes.h), recorded through the ops' parts of a layer
 * (ops/sums.h). */
#include "lsuv/passes.h"

#include "contract.h"
#include "core/error.h"
#include "ops/sums.h"

#include <stdlib.h>
#include <string.h>

typedef struct layer_passes {
    ops_epilogue *epilogue;
    lsuv_buffer *args; /* indirect arguments (create_args) */
    uint32_t n_args;   /* dispatches they count: the epilogue's, the merge's, the step's */
} layer_passes;

struct lsuv_passes {
    lsuv_forward *forward;
    lsuv_measure measure; /* as the options say it, resolved per layer */
    lsuv_buffer *sums;    /* of the layer the passes run on */
    layer_passes *layers;
};

static bool runs_lsuv(const lsuv_layer *l) {
    return lsuv_layer_has_weights(l) && l->lsuv;
}

/* The indirect arguments of a pass, which the device zeroes when the layer
 * is done: a template of the group counts of the epilogue's dispatches, of
 * the merge of their statistics and of the step (one group), then the
 * active copy they read. The step's own are zeroed with the rest, so a done
 * layer's remaining passes are empty dispatches only. */
static lsuv_status create_args(lsuv_device *dev, layer_passes *lp) {
    uint32_t n = ops_epilogue_groups(lp->epilogue, NULL) + 1;
    uint32_t *grid = calloc(6 * (size_t)n, sizeof *grid);
    if (!grid) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    ops_epilogue_groups(lp->epilogue, grid);
    grid[3 * n - 3] = grid[3 * n - 2] = grid[3 * n - 1] = 1;
    memcpy(grid + 3 * n, grid, 12ull * n);
    lsuv_status s = lsuv_buffer_create(dev, 24ull * n, &lp->args);
    if (s == LSUV_OK) s = lsuv_buffer_write(lp->args, 0, grid, 24ull * n);
    free(grid);
    lp->n_args = n;
    return s;
}

static void passes_destroy(lsuv_passes *p) {
    if (!p) return;
    const lsuv_net *net = lsuv_forward_net(p->forward);
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        forward_drop_sums(p->forward, i);
        ops_epilogue_destroy(p->layers[i].epilogue);
        lsuv_buffer_destroy(p->layers[i].args);
    }
    lsuv_buffer_destroy(p->sums);
    free(p->layers);
    free(p);
}

/* The layer's measuring point as the shaders name it. A layer without
 * batch norm has no 1 / a_c after its biases for conv to read; one the run
 * leaves out (--lsuv-layers) may still get passes, never run: post. */
static uint32_t shader_measure(lsuv_measure measure, const lsuv_layer *l) {
    static const uint32_t at[] = {[LSUV_MEASURE_POST] = LSUV_C_MEASURE_POST,
                                  [LSUV_MEASURE_PRE] = LSUV_C_MEASURE_PRE,
                                  [LSUV_MEASURE_CONV] = LSUV_C_MEASURE_CONV};
    lsuv_measure m = lsuv_measure_resolve(measure, l);
    return m == LSUV_MEASURE_CONV && !l->batch_normalize ? LSUV_C_MEASURE_POST : at[m];
}

static lsuv_status passes_create(lsuv_forward *f, lsuv_measure measure, lsuv_passes **out) {
    const lsuv_net *net = lsuv_forward_net(f);
    lsuv_passes *p = *out = calloc(1, sizeof *p);
    if (!p || !(p->layers = calloc(net->n_layers, sizeof *p->layers))) {
        free(p);
        *out = NULL;
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    p->forward = f;
    p->measure = measure;
    uint64_t most = 0;
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        uint64_t count = (uint64_t)lsuv_forward_batch(f) * l->out.c * l->out.h * l->out.w;
        if (runs_lsuv(l) && count > most) most = count;
    }
    if (most == 0) return LSUV_OK;
    lsuv_device *dev = forward_device(f);
    lsuv_status s = lsuv_buffer_create(dev, most * 4, &p->sums);
    for (uint32_t i = 0; s == LSUV_OK && i < net->n_layers; ++i) {
        if (!runs_lsuv(&net->layers[i])) continue;
        uint32_t at = shader_measure(measure, &net->layers[i]);
        s = forward_keep_sums(f, i, p->sums, 0, at);
        if (s == LSUV_OK)
            s = ops_epilogue_create(f, i, p->sums, forward_state(f, i), at, &p->layers[i].epilogue);
        if (s == LSUV_OK) s = create_args(dev, &p->layers[i]);
    }
    if (s != LSUV_OK) {
        passes_destroy(p);
        *out = NULL;
    }
    return s;
}

static void passes_destroy_client(void *passes) {
    passes_destroy(passes);
}

lsuv_status passes_get(lsuv_forward *f, lsuv_measure measure, lsuv_passes **out) {
    lsuv_passes *kept = forward_client(f);
    if (kept && kept->measure == measure) {
        *out = kept;
        return LSUV_OK;
    }
    /* Their pipelines measure elsewhere: made anew rather than kept twice. */
    if (kept) {
        forward_set_client(f, NULL, NULL);
        passes_destroy(kept);
    }
    lsuv_status s = passes_create(f, measure, out);
    if (s == LSUV_OK) forward_set_client(f, *out, passes_destroy_client);
    return s;
}

void passes_keep_again(lsuv_forward *f) {
    const lsuv_passes *p = forward_client(f);
    if (!p) return;
    const lsuv_net *net = lsuv_forward_net(f);
    /* Binding the same buffer again, with pipelines already built: no
     * allocation, so nothing to fail. */
    for (uint32_t i = 0; i < net->n_layers; ++i)
        if (p->layers[i].epilogue)
            (void)forward_keep_sums(f, i, p->sums, 0, shader_measure(p->measure, &net->layers[i]));
}

void passes_record_first(const lsuv_passes *p, lsuv_cmd *cmd, uint32_t layer) {
    const layer_passes *lp = &p->layers[layer];
    forward_record_sums(p->forward, cmd, layer);
    uint64_t bytes = 12ull * lp->n_args;
    lsuv_cmd_copy(cmd, lp->args, 0, lp->args, bytes, bytes);
    forward_record_layer_stats(p->forward, cmd, layer);
}

void passes_record(const lsuv_passes *p, lsuv_cmd *cmd, uint32_t layer) {
    const layer_passes *lp = &p->layers[layer];
    ops_epilogue_record_stats(lp->epilogue, cmd, lp->args, 12ull * lp->n_args);
}

void passes_record_store(const lsuv_passes *p, lsuv_cmd *cmd, uint32_t layer) {
    ops_epilogue_record_store(p->layers[layer].epilogue, cmd);
}

lsuv_buffer *passes_args(const lsuv_passes *p, uint32_t layer) {
    return p->layers[layer].args;
}

uint64_t passes_step_args(const lsuv_passes *p, uint32_t layer) {
    return 12ull * (2 * p->layers[layer].n_args - 1);
}

uint32_t passes_args_words(const lsuv_passes *p, uint32_t layer) {
    return 3 * p->layers[layer].n_args;
}
