/* --layers: a network, its weights and the batch it is initialized on. */
#include "cli/cli.h"
#include "cli/outputs.h"
#include "lsuv/forward.h"
#include "lsuv/input.h"
#include "lsuv/net.h"
#include "lsuv/ref.h"
#include "lsuv/weights.h"

#include "core/error.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void shape_text(char *out, size_t cap, lsuv_shape s) {
    snprintf(out, cap, "%ux%ux%u", s.c, s.h, s.w);
}

/* "relu", "leaky(0.2) sub=0.4 maxv=6 lsuv=0"; "-" for layers without one. */
static void activation_text(char *out, size_t cap, const lsuv_layer *l) {
    if (!lsuv_layer_has_weights(l) && l->type != LSUV_LAYER_SHORTCUT) {
        snprintf(out, cap, "-");
        return;
    }
    int n = snprintf(out, cap, "%s", lsuv_activation_name(l->activation));
    if (l->activation == LSUV_ACT_LEAKY && l->slope != 0.1f)
        n += snprintf(out + n, cap - (size_t)n, "(%g)", (double)l->slope);
    if (l->sub != 0.0f) n += snprintf(out + n, cap - (size_t)n, " sub=%g", (double)l->sub);
    if (isfinite(l->maxv)) n += snprintf(out + n, cap - (size_t)n, " maxv=%g", (double)l->maxv);
    if (!l->lsuv) snprintf(out + n, cap - (size_t)n, " lsuv=0");
}

/* The layers read, "input" for the network's: "8", "13,8", "input". */
static void inputs_text(char *out, size_t cap, const lsuv_layer *l) {
    size_t n = 0;
    out[0] = 0;
    for (uint32_t k = 0; k < l->n_inputs && n < cap; ++k) {
        if (l->inputs[k] == LSUV_NET_INPUT)
            n += (size_t)snprintf(out + n, cap - n, "%sinput", k ? "," : "");
        else
            n += (size_t)snprintf(out + n, cap - n, "%s%d", k ? "," : "", l->inputs[k]);
    }
}

/* The device memory at the batch and precision asked for. */
static int summary_memory(const options *o, const lsuv_net *net, lsuv_memory *m, uint32_t *batch) {
    lsuv_forward_options fo = {.batch = (uint32_t)o->batch,
                               .precision = o->fp16 ? LSUV_PRECISION_FP16 : LSUV_PRECISION_FP32};
    *batch = fo.batch ? fo.batch : net->batch;
    lsuv_status s = lsuv_forward_memory(net, &fo, m);
    return s == LSUV_OK ? EXIT_OK : cli_fail(s);
}

static void summary_text(const lsuv_net *net, const lsuv_memory *m, uint32_t batch) {
    char in[48], out[48], act[96], from[LSUV_LAYER_MAX_INPUTS * 12];
    shape_text(in, sizeof in, net->input);
    printf("%s: %u layers, input %s, batch %u\n", net->path, net->n_layers, in, net->batch);
    printf("%5s  %-14s %-10s %-14s %-14s %-26s %14s %16s\n", "layer", "type", "inputs", "input",
           "output", "activation", "parameters", "MACs/sample");
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        shape_text(in, sizeof in, l->in);
        shape_text(out, sizeof out, l->out);
        activation_text(act, sizeof act, l);
        inputs_text(from, sizeof from, l);
        printf("%5u  %-14s %-10s %-14s %-14s %-26s %14llu %16llu\n", l->index,
               lsuv_layer_type_name(l->type), from, in, out, act, (unsigned long long)l->params,
               (unsigned long long)l->macs);
    }
    printf("%5s  %-14s %-10s %-14s %-14s %-26s %14llu %16llu\n", "total", "", "", "", "", "",
           (unsigned long long)net->params, (unsigned long long)net->macs);
    printf("device memory at batch %u: forward %llu bytes (input %llu, activations %llu, "
           "weights %llu), LSUV %llu bytes (its sums %llu)\n",
           batch, (unsigned long long)m->forward_peak, (unsigned long long)m->input,
           (unsigned long long)m->activations, (unsigned long long)m->weights,
           (unsigned long long)m->lsuv_peak, (unsigned long long)m->lsuv);
}

/* The layers read, -1 for the network's input. */
static cJSON *inputs_json(const lsuv_layer *l) {
    cJSON *a = cJSON_CreateArray();
    for (uint32_t k = 0; a && k < l->n_inputs; ++k)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(l->inputs[k]));
    return a;
}

static cJSON *shape_json(lsuv_shape s) {
    const double v[3] = {s.c, s.h, s.w};
    return cJSON_CreateDoubleArray(v, 3);
}

static cJSON *memory_json(const lsuv_memory *m, uint32_t batch) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "batch", batch);
    cJSON_AddNumberToObject(o, "forward_peak", (double)m->forward_peak);
    cJSON_AddNumberToObject(o, "lsuv_peak", (double)m->lsuv_peak);
    cJSON_AddNumberToObject(o, "input", (double)m->input);
    cJSON_AddNumberToObject(o, "activations", (double)m->activations);
    cJSON_AddNumberToObject(o, "live", (double)m->live);
    cJSON_AddNumberToObject(o, "weights", (double)m->weights);
    cJSON_AddNumberToObject(o, "lsuv", (double)m->lsuv);
    return o;
}

static int summary_json(const lsuv_net *net, const lsuv_memory *m, uint32_t batch,
                        const char *path) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "net", net->path);
    cJSON_AddNumberToObject(root, "batch", net->batch);
    cJSON_AddItemToObject(root, "input", shape_json(net->input));
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", l->index);
        cJSON_AddStringToObject(o, "type", lsuv_layer_type_name(l->type));
        cJSON_AddItemToObject(o, "inputs", inputs_json(l));
        cJSON_AddItemToObject(o, "in", shape_json(l->in));
        cJSON_AddItemToObject(o, "out", shape_json(l->out));
        if (lsuv_layer_has_weights(l) || l->type == LSUV_LAYER_SHORTCUT)
            cJSON_AddStringToObject(o, "activation", lsuv_activation_name(l->activation));
        if (lsuv_layer_has_weights(l)) cJSON_AddBoolToObject(o, "lsuv", l->lsuv);
        cJSON_AddNumberToObject(o, "params", (double)l->params);
        cJSON_AddNumberToObject(o, "macs", (double)l->macs);
        cJSON_AddItemToArray(layers, o);
    }
    cJSON_AddNumberToObject(root, "params", (double)net->params);
    cJSON_AddNumberToObject(root, "macs", (double)net->macs);
    cJSON_AddItemToObject(root, "memory", memory_json(m, batch));
    return outputs_write_json(root, "--json", path);
}

static int summary(const options *o, const lsuv_net *net) {
    lsuv_memory m;
    uint32_t batch;
    int code = summary_memory(o, net, &m, &batch);
    if (code != EXIT_OK) return code;
    if (o->json) return summary_json(net, &m, batch, o->json);
    summary_text(net, &m, batch);
    return EXIT_OK;
}

static int save_initial(const options *o, const lsuv_net *net, const lsuv_weights *w, FILE *text) {
    uint8_t *data = NULL;
    size_t size = 0;
    lsuv_status s = lsuv_weights_encode(net, w, o->save_weights, &data, &size);
    if (s != LSUV_OK) return cli_fail(s);
    outputs set = {0};
    outputs_add(&set, "--save-weights", o->save_weights, (char *)data, size);
    int code = outputs_commit(&set);
    if (code == EXIT_OK) fprintf(text, "saved the initial weights: %s\n", o->save_weights);
    return code;
}

/* The fitted batch and, with --eval-input, the held-out one; with
 * --normalize both by the fitted batch's mean and std (norm), as a
 * dataset's normalizer would: the held-out batch's own would hide a shift
 * between the two. Messages name the option whose batch failed. */
static lsuv_status load_batches(const options *o, const lsuv_net *net, lsuv_batch *batch,
                                lsuv_batch *eval, double norm[2]) {
    lsuv_input_options io = {.spec = o->input, .batch = (uint32_t)o->batch, .seed = o->seed};
    lsuv_status s = lsuv_input_load(&io, net, batch);
    if (s == LSUV_OK && o->normalize)
        s = lsuv_batch_normalizer(batch, o->input ? o->input : "synthetic", &norm[0], &norm[1]);
    if (s == LSUV_OK && o->normalize) lsuv_batch_normalize(batch, norm[0], norm[1]);
    if (s != LSUV_OK) lsuv_batch_free(batch);
    if (s != LSUV_OK || !eval) return s;
    io.spec = o->eval_input;
    io.batch = batch->n;
    s = lsuv_input_load(&io, net, eval);
    if (s != LSUV_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", lsuv_error_message());
        lsuv_batch_free(batch);
        return lsuv_fail(s, "--eval-input: %s", why);
    }
    if (o->normalize) lsuv_batch_normalize(eval, norm[0], norm[1]);
    return LSUV_OK;
}

static int run_with_net(const options *o, const lsuv_net *net) {
    if (o->summary) return summary(o, net);
    int code = cli_check_orders(o, net);
    if (code != EXIT_OK) return code;
    lsuv_weights *w = NULL;
    lsuv_batch batch = {0};
    lsuv_status s = o->weights_in ? lsuv_weights_load(net, o->weights_in, &w)
                                  : lsuv_weights_init(net, o->init, o->seed, &w);
    if (s != LSUV_OK) return o->weights_in ? cli_fail_input(s) : cli_fail(s);
    code = outputs_check_weights(o, net, w);
    if (code != EXIT_OK) {
        lsuv_weights_destroy(w);
        return code;
    }
    lsuv_batch eval = {0};
    double norm[2] = {0, 0};
    s = load_batches(o, net, &batch, o->eval_input ? &eval : NULL, norm);
    if (s != LSUV_OK) {
        lsuv_weights_destroy(w);
        return cli_fail_input(s);
    }

    FILE *text = outputs_text_stream(o);
    if (o->weights_in)
        fprintf(text, "%s: weights %s\n", net->path, o->weights_in);
    else
        fprintf(text, "%s: weights %s, seed %llu\n", net->path, lsuv_init_name(o->init),
                (unsigned long long)o->seed);
    lsuv_moments m;
    lsuv_ref_moments(batch.data, (size_t)batch.n * batch.c * batch.h * batch.w, &m);
    fprintf(text, "input: %s, %u x %ux%ux%u%s: mean %.6f, std %.6f\n",
            o->input ? o->input : "synthetic", batch.n, batch.c, batch.h, batch.w,
            o->normalize ? " normalized" : "", m.mean, m.std);
    if (o->eval_input) {
        lsuv_ref_moments(eval.data, (size_t)eval.n * eval.c * eval.h * eval.w, &m);
        fprintf(text, "eval input: %s, %u x %ux%ux%u", o->eval_input, eval.n, eval.c, eval.h,
                eval.w);
        if (o->normalize)
            fprintf(text, " normalized with the fitted batch's mean %.6f and std %.6f", norm[0],
                    norm[1]);
        fprintf(text, ": mean %.6f, std %.6f\n", m.mean, m.std);
    }
    if (o->orders)
        code = lsuv_cli_run(o, net, w, &batch, o->eval_input ? &eval : NULL);
    else if (o->save_weights)
        code = save_initial(o, net, w, text);
    lsuv_batch_free(&eval);
    lsuv_batch_free(&batch);
    lsuv_weights_destroy(w);
    return code;
}

int net_run(const options *o) {
    lsuv_net_options no = {.strip_bn = o->bn_strip, .bn_batch = o->bn_batch};
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_load(o->layers, &no, &net);
    if (s != LSUV_OK) return cli_fail_input(s);
    for (uint32_t i = 0; i < net->n_warnings; ++i)
        fprintf(stderr, "lsuv-vk: warning: %s\n", net->warnings[i]);
    int code = run_with_net(o, net);
    lsuv_net_destroy(net);
    return code;
}
