/* Input batches: what the network is initialized on. */
#ifndef LSUV_INPUT_H
#define LSUV_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lsuv/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n samples of c x h x w floats, NCHW. */
typedef struct lsuv_batch {
    uint32_t n, c, h, w;
    float *data;
} lsuv_batch;

typedef struct lsuv_input_options {
    /* "synthetic" (normal(0, 1), seeded), "idx:PATH" (MNIST-style images,
     * .gz read through zlib, scaled to [0, 1]) or "npy:PATH" (float32, C
     * order, N x C x H x W); each with "@START" to begin at sample START
     * (of the file, or of the synthetic stream) rather than at 0, so that
     * "@512" after a batch of 512 is the next, held-out batch. */
    const char *spec;
    uint32_t batch; /* samples, from START on */
    uint64_t seed;  /* for synthetic */
    bool normalize; /* shift and scale the batch to mean 0, std 1 */
} lsuv_input_options;

typedef enum lsuv_input_kind {
    LSUV_INPUT_SYNTHETIC,
    LSUV_INPUT_IDX,
    LSUV_INPUT_NPY,
} lsuv_input_kind;

/* An input spec taken apart. A trailing "@" and digits is a start; any
 * other "@" belongs to the path. */
typedef struct lsuv_input_source {
    lsuv_input_kind kind;
    char path[4096]; /* empty for synthetic */
    uint32_t start;
} lsuv_input_source;

lsuv_status lsuv_input_source_parse(const char *spec, lsuv_input_source *out);

/* Loads a batch that fits the network's input, or says why it does not. */
lsuv_status lsuv_input_load(const lsuv_input_options *options, const lsuv_net *net,
                            lsuv_batch *out);
void lsuv_batch_free(lsuv_batch *batch);

/* What --normalize shifts and scales by: the batch's mean and unbiased std,
 * in fp64. LSUV_ERROR_INVALID when every value is the same (`name`, the
 * input's spec, says which in the message). */
lsuv_status lsuv_batch_normalizer(const lsuv_batch *batch, const char *name, double *mean,
                                  double *std);
/* x = (x - mean) / std for every value: with the batch's own normalizer
 * what lsuv_input_load's normalize does; with another batch's, what a
 * dataset's normalizer does to a held-out batch. */
void lsuv_batch_normalize(lsuv_batch *batch, double mean, double std);

/* The parsers, from memory (gzip-compressed data is inflated first). The
 * whole file becomes the batch. */
lsuv_status lsuv_idx_parse(const char *name, const uint8_t *data, size_t size, uint32_t max_n,
                           lsuv_batch *out);
lsuv_status lsuv_npy_parse(const char *name, const uint8_t *data, size_t size, uint32_t max_n,
                           lsuv_batch *out);

#ifdef __cplusplus
}
#endif
#endif
