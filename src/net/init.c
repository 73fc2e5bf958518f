/* Initial weights, generated on the host so every device starts the same. */
#include "lsuv/weights.h"

#include "core/error.h"
#include "lsuv/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const init_names[] = {"kaiming", "kaiming-uniform", "orthonormal", "darknet",
                                         "fastai"};

bool lsuv_init_from_name(const char *name, lsuv_init *out) {
    for (unsigned i = 0; i < sizeof init_names / sizeof *init_names; ++i)
        if (strcmp(name, init_names[i]) == 0) {
            *out = (lsuv_init)i;
            return true;
        }
    return false;
}

const char *lsuv_init_name(lsuv_init init) {
    return (unsigned)init < sizeof init_names / sizeof *init_names ? init_names[init] : "unknown";
}

lsuv_status lsuv_weights_create(const lsuv_net *net, lsuv_weights **out) {
    *out = NULL;
    lsuv_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->layers = calloc(net->n_layers ? net->n_layers : 1, sizeof *w->layers))) {
        free(w);
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    w->n_layers = net->n_layers;
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        if (!lsuv_layer_has_weights(l)) continue;
        lsuv_layer_params *p = &w->layers[i];
        p->weight_count = lsuv_layer_weight_count(l);
        p->bias_count = lsuv_layer_bias_count(l);
        p->weight = calloc(p->weight_count, sizeof *p->weight);
        p->bias = calloc(p->bias_count, sizeof *p->bias);
        p->sub = l->sub;
        p->has_sub = l->has_sub;
        bool bn_ok = true;
        if (l->batch_normalize) {
            p->scales = malloc(p->bias_count * sizeof *p->scales);
            p->rolling_mean = calloc(p->bias_count, sizeof *p->rolling_mean);
            p->rolling_variance = malloc(p->bias_count * sizeof *p->rolling_variance);
            bn_ok = p->scales && p->rolling_mean && p->rolling_variance;
            for (uint32_t c = 0; bn_ok && c < p->bias_count; ++c)
                p->scales[c] = p->rolling_variance[c] = 1.0f;
        }
        if (!p->weight || !p->bias || !bn_ok) {
            lsuv_weights_destroy(w);
            return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY,
                             "out of host memory for layer %u's %llu weights", i,
                             (unsigned long long)p->weight_count);
        }
    }
    *out = w;
    return LSUV_OK;
}

void lsuv_weights_destroy(lsuv_weights *w) {
    if (!w) return;
    for (uint32_t i = 0; i < w->n_layers; ++i) {
        free(w->layers[i].weight);
        free(w->layers[i].bias);
        free(w->layers[i].scales);
        free(w->layers[i].rolling_mean);
        free(w->layers[i].rolling_variance);
    }
    free(w->layers);
    free(w);
}

/* Rows of an out x fan_in matrix made orthonormal (or its columns, when it
 * is tall): modified Gram-Schmidt in fp64 on a Gaussian matrix, which is the
 * Q of its QR decomposition up to signs. */
static lsuv_status orthonormal_fill(lsuv_rng *rng, float *dst, uint64_t rows, uint64_t cols) {
    bool tall = rows > cols;
    uint64_t m = tall ? cols : rows, n = tall ? rows : cols; /* m vectors of length n */
    double *v = malloc(m * n * sizeof *v);
    if (!v) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    for (uint64_t i = 0; i < m * n; ++i) v[i] = lsuv_rng_normal(rng);
    for (uint64_t i = 0; i < m; ++i) {
        double *vi = v + i * n;
        for (uint64_t j = 0; j < i; ++j) {
            const double *vj = v + j * n;
            double dot = 0.0;
            for (uint64_t k = 0; k < n; ++k) dot += vi[k] * vj[k];
            for (uint64_t k = 0; k < n; ++k) vi[k] -= dot * vj[k];
        }
        double norm = 0.0;
        for (uint64_t k = 0; k < n; ++k) norm += vi[k] * vi[k];
        norm = sqrt(norm);
        for (uint64_t k = 0; k < n; ++k) vi[k] /= norm;
    }
    for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t c = 0; c < cols; ++c)
            dst[r * cols + c] = (float)(tall ? v[c * n + r] : v[r * n + c]);
    free(v);
    return LSUV_OK;
}

/* The notebook's init_cnn calls kaiming_normal_(w, a=0.1) on every Conv2d,
 * so the gain is leaky relu's at 0.1 even before a plain relu; it leaves
 * nn.Linear as torch makes it, kaiming_uniform_(a=sqrt(5)) for the weight
 * (bound 1/sqrt(fan_in)) and the same bound for the bias. */
static void fastai_fill(lsuv_rng *rng, const lsuv_layer *l, lsuv_layer_params *p, double fan_in) {
    if (l->type == LSUV_LAYER_CONVOLUTIONAL) {
        lsuv_rng_fill_normal(rng, p->weight, p->weight_count, 0.0,
                             sqrt(2.0 / (1.0 + 0.1 * 0.1)) / sqrt(fan_in));
        return;
    }
    double bound = 1.0 / sqrt(fan_in);
    for (uint64_t k = 0; k < p->weight_count; ++k)
        p->weight[k] = (float)(bound * (2.0 * lsuv_rng_uniform(rng) - 1.0));
    for (uint32_t k = 0; k < p->bias_count; ++k)
        p->bias[k] = (float)(bound * (2.0 * lsuv_rng_uniform(rng) - 1.0));
}

lsuv_status lsuv_weights_init(const lsuv_net *net, lsuv_init init, uint64_t seed,
                              lsuv_weights **out) {
    lsuv_status st = lsuv_weights_create(net, out);
    for (uint32_t i = 0; st == LSUV_OK && i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        lsuv_layer_params *p = &(*out)->layers[i];
        if (!p->weight) continue;
        lsuv_rng rng;
        lsuv_rng_seed(&rng, seed + 0x9e3779b97f4a7c15u * (i + 1));
        double fan_in = (double)lsuv_layer_fan_in(l);
        double gain = lsuv_activation_gain(l->activation, l->slope);
        switch (init) {
        case LSUV_INIT_KAIMING:
            lsuv_rng_fill_normal(&rng, p->weight, p->weight_count, 0.0, gain / sqrt(fan_in));
            break;
        case LSUV_INIT_KAIMING_UNIFORM: {
            double bound = gain * sqrt(3.0 / fan_in);
            for (uint64_t k = 0; k < p->weight_count; ++k)
                p->weight[k] = (float)(bound * (2.0 * lsuv_rng_uniform(&rng) - 1.0));
            break;
        }
        case LSUV_INIT_ORTHONORMAL:
            st = orthonormal_fill(&rng, p->weight, p->bias_count, p->weight_count / p->bias_count);
            break;
        case LSUV_INIT_FASTAI:
            fastai_fill(&rng, l, p, fan_in);
            break;
        case LSUV_INIT_DARKNET: {
            /* darknet: make_convolutional_layer and make_connected_layer. */
            double scale = sqrt(2.0 / fan_in);
            if (l->type == LSUV_LAYER_CONVOLUTIONAL)
                lsuv_rng_fill_normal(&rng, p->weight, p->weight_count, 0.0, scale);
            else
                for (uint64_t k = 0; k < p->weight_count; ++k)
                    p->weight[k] = (float)(scale * (2.0 * lsuv_rng_uniform(&rng) - 1.0));
            break;
        }
        }
    }
    if (st != LSUV_OK) {
        lsuv_weights_destroy(*out);
        *out = NULL;
    }
    return st;
}
