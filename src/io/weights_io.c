/* Weights files: darknet's .weights and .safetensors. Readers check every
 * size against the network and name the layer, the expected and the found
 * size; writers go through lsuv_file_write, so no file is half-written. */
#include "lsuv/weights.h"

#include "core/checked.h"
#include "core/error.h"
#include "core/file.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weights files are little-endian; this reader assumes a little-endian host"
#endif

/* Files larger than this are refused before reading: 16 GiB. */
static const size_t max_weights_file = (size_t)1 << 34;

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- darknet ---------------------------------------------------------- */

/* A flipped=1 layer's weights as darknet's .weights holds them: the
 * fan-in x filters transpose of lsuv-vk's filters x fan-in (darknet's
 * load_convolutional_weights transposes them back on reading). */
static void flip_copy(const lsuv_layer *l, const float *src, float *dst, bool to_file) {
    uint64_t fan_in = lsuv_layer_fan_in(l), filters = lsuv_layer_bias_count(l);
    for (uint64_t f = 0; f < filters; ++f)
        for (uint64_t k = 0; k < fan_in; ++k)
            if (to_file)
                dst[k * filters + f] = src[f * fan_in + k];
            else
                dst[f * fan_in + k] = src[k * filters + f];
}

static lsuv_status unflip(const lsuv_layer *l, float *weight) {
    uint64_t n = lsuv_layer_weight_count(l);
    float *file = malloc(n * sizeof *file);
    if (!file) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    memcpy(file, weight, n * sizeof *file);
    flip_copy(l, file, weight, false);
    free(file);
    return LSUV_OK;
}

typedef struct reader {
    const char *name;
    const uint8_t *data;
    size_t size, pos;
} reader;

static lsuv_status read_floats(reader *r, const lsuv_layer *l, const char *what, float *dst,
                               uint64_t count) {
    uint64_t bytes;
    if (!lsuv_mul_u64(count, sizeof(float), &bytes) || r->size - r->pos < bytes)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: truncated in layer %u (%s): expected %llu %s (%llu bytes) at byte "
                         "%zu, found %zu bytes",
                         r->name, l->index, lsuv_layer_type_name(l->type),
                         (unsigned long long)count, what, (unsigned long long)count * 4, r->pos,
                         r->size - r->pos);
    memcpy(dst, r->data + r->pos, bytes);
    uint64_t bad = lsuv_first_non_finite(dst, count);
    if (bad < count)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: layer %u (%s): %s[%llu] is %g; weights must be finite numbers",
                         r->name, l->index, lsuv_layer_type_name(l->type), what,
                         (unsigned long long)bad, (double)dst[bad]);
    r->pos += bytes;
    return LSUV_OK;
}

/* A batch norm's vectors, in darknet's order and by its names. */
static const char *const bn_names[3] = {"scales", "rolling_mean", "rolling_variance"};

static float *bn_vector(const lsuv_layer_params *p, int k) {
    return k == 0 ? p->scales : k == 1 ? p->rolling_mean : p->rolling_variance;
}

/* A batch norm's three vectors, in darknet's order; a negative variance
 * would give darknet a NaN square root. */
static lsuv_status read_batchnorm(reader *r, const lsuv_layer *l, lsuv_layer_params *p) {
    lsuv_status st = read_floats(r, l, "scales", p->scales, p->bias_count);
    if (st == LSUV_OK) st = read_floats(r, l, "rolling_mean", p->rolling_mean, p->bias_count);
    if (st == LSUV_OK)
        st = read_floats(r, l, "rolling_variance", p->rolling_variance, p->bias_count);
    for (uint32_t c = 0; st == LSUV_OK && c < p->bias_count; ++c)
        if (p->rolling_variance[c] < 0)
            st = lsuv_fail(LSUV_ERROR_PARSE,
                           "%s: layer %u (%s): rolling_variance[%u] is %g; a variance is at least "
                           "0",
                           r->name, l->index, lsuv_layer_type_name(l->type), c,
                           (double)p->rolling_variance[c]);
    return st;
}

/* darknet's load_convolutional_weights and load_connected_weights: the
 * batch norm before a convolution's weights, after a connected layer's. */
static lsuv_status read_darknet_layer(reader *r, const lsuv_layer *l, lsuv_layer_params *p) {
    bool conv = l->type == LSUV_LAYER_CONVOLUTIONAL;
    lsuv_status st = read_floats(r, l, "biases", p->bias, p->bias_count);
    if (st == LSUV_OK && conv && p->scales) st = read_batchnorm(r, l, p);
    if (st == LSUV_OK) st = read_floats(r, l, "weights", p->weight, p->weight_count);
    if (st == LSUV_OK && l->flipped) st = unflip(l, p->weight);
    if (st == LSUV_OK && !conv && p->scales) st = read_batchnorm(r, l, p);
    return st;
}

lsuv_status lsuv_weights_parse_darknet(const lsuv_net *net, const char *name, const uint8_t *data,
                                       size_t size, lsuv_weights **out) {
    *out = NULL;
    int32_t header[3];
    if (size < sizeof header)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: truncated: expected a 12-byte header (major, minor, revision), "
                         "found %zu bytes",
                         name, size);
    memcpy(header, data, sizeof header);
    int32_t major = header[0], minor = header[1];
    if (major < 0 || minor < 0 || major >= 1000 || minor >= 1000)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: version %d.%d: expected a darknet .weights file (transposed "
                         "connected layers are not read)",
                         name, major, minor);
    /* darknet: a 64-bit `seen` from version 0.2 on, 32-bit before. */
    size_t seen_bytes = major * 10 + minor >= 2 ? 8 : 4;
    if (size < sizeof header + seen_bytes)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: truncated in its header", name);
    reader r = {name, data, size, sizeof header + seen_bytes};
    lsuv_status st = lsuv_weights_create(net, out);
    for (uint32_t i = 0; st == LSUV_OK && i < net->n_layers; ++i) {
        lsuv_layer_params *p = &(*out)->layers[i];
        if (p->weight) st = read_darknet_layer(&r, &net->layers[i], p);
    }
    if (st == LSUV_OK && r.pos != size)
        st = lsuv_fail(LSUV_ERROR_PARSE,
                       "%s: %zu bytes left after the last layer: written for another network "
                       "(or with batch norm where this one has none: --bn strip?)",
                       name, size - r.pos);
    if (st != LSUV_OK) {
        lsuv_weights_destroy(*out);
        *out = NULL;
    }
    return st;
}

static size_t put_floats(uint8_t *buf, size_t pos, const float *src, uint64_t count) {
    memcpy(buf + pos, src, count * sizeof(float));
    return pos + count * sizeof(float);
}

/* darknet's save_convolutional_weights and save_connected_weights: the
 * order read_darknet_layer reads. */
static size_t write_darknet_layer(const lsuv_layer *l, const lsuv_layer_params *p, uint8_t *buf,
                                  size_t pos) {
    bool conv = l->type == LSUV_LAYER_CONVOLUTIONAL;
    pos = put_floats(buf, pos, p->bias, p->bias_count);
    for (int k = 0; conv && p->scales && k < 3; ++k)
        pos = put_floats(buf, pos, bn_vector(p, k), p->bias_count);
    if (l->flipped)
        flip_copy(l, p->weight, (float *)(buf + pos), true);
    else
        memcpy(buf + pos, p->weight, p->weight_count * sizeof(float));
    pos += p->weight_count * sizeof(float);
    for (int k = 0; !conv && p->scales && k < 3; ++k)
        pos = put_floats(buf, pos, bn_vector(p, k), p->bias_count);
    return pos;
}

static lsuv_status encode_darknet(const lsuv_net *net, const lsuv_weights *w, const char *path,
                                  uint8_t **out, size_t *out_size) {
    size_t size = 3 * sizeof(int32_t) + sizeof(uint64_t);
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer_params *p = &w->layers[i];
        if (!p->weight) continue;
        if (p->sub != 0.0f)
            return lsuv_fail(LSUV_ERROR_INVALID,
                             "%s: layer %u has sub=%g, which darknet's .weights cannot hold; save "
                             "to a .safetensors file instead",
                             path, i, (double)p->sub);
        size += (p->bias_count * (p->scales ? 4 : 1) + p->weight_count) * sizeof(float);
    }
    uint8_t *buf = malloc(size);
    if (!buf) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    int32_t header[3] = {0, 2, 0};
    uint64_t seen = 0;
    size_t pos = 0;
    memcpy(buf, header, sizeof header);
    pos += sizeof header;
    memcpy(buf + pos, &seen, sizeof seen);
    pos += sizeof seen;
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer_params *p = &w->layers[i];
        if (!p->weight) continue;
        pos = write_darknet_layer(&net->layers[i], p, buf, pos);
    }
    *out = buf;
    *out_size = size;
    return LSUV_OK;
}

/* ---- safetensors ------------------------------------------------------ */

/* The JSON header is capped, as the format's reference reader does. */
static const uint64_t max_header = 100u << 20;

typedef struct tensor_ref {
    const float *data; /* unaligned: copied with memcpy */
    uint64_t count;
} tensor_ref;

/* A tensor's data_offsets, when they are a range inside the data. */
static bool offsets_of(const cJSON *t, uint64_t data_size, uint64_t *begin, uint64_t *end) {
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    const cJSON *b = cJSON_GetArrayItem(off, 0), *e = cJSON_GetArrayItem(off, 1);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !cJSON_IsNumber(b) ||
        !cJSON_IsNumber(e) || b->valuedouble < 0 || e->valuedouble < b->valuedouble ||
        e->valuedouble > (double)data_size || floor(b->valuedouble) != b->valuedouble ||
        floor(e->valuedouble) != e->valuedouble)
        return false;
    *begin = (uint64_t)b->valuedouble;
    *end = (uint64_t)e->valuedouble;
    return true;
}

/* Finds name in the header and checks it is F32 of the expected shape. */
static lsuv_status find_tensor(const char *file, const cJSON *header, const char *name,
                               const uint64_t *shape, int dims, const uint8_t *base,
                               uint64_t data_size, bool optional, tensor_ref *out) {
    out->data = NULL;
    out->count = 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(header, name);
    if (!t) {
        if (optional) return LSUV_OK;
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: no tensor %s", file, name);
    }
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
    if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "F32") != 0)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: tensor %s: expected dtype F32, found %s", file,
                         name, cJSON_IsString(dtype) ? dtype->valuestring : "none");
    char want[96] = "", found[96] = "";
    uint64_t count = 1;
    bool fits = true;
    for (int i = 0; i < dims; ++i) {
        fits = fits && lsuv_mul_u64(count, shape[i], &count);
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", i ? ", " : "",
                 (unsigned long long)shape[i]);
    }
    bool same = cJSON_IsArray(sh) && cJSON_GetArraySize(sh) == dims;
    int k = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, sh) {
        double v = cJSON_IsNumber(d) ? d->valuedouble : -1;
        if (k < dims && v != (double)shape[k]) same = false;
        snprintf(found + strlen(found), sizeof found - strlen(found), "%s%.0f", k ? ", " : "", v);
        ++k;
    }
    if (!same)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: tensor %s: expected shape [%s], found [%s]", file,
                         name, want, found);
    uint64_t begin, end, bytes;
    if (!offsets_of(t, data_size, &begin, &end))
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: tensor %s: data_offsets are not a range inside the %llu data bytes",
                         file, name, (unsigned long long)data_size);
    if (!fits || !lsuv_mul_u64(count, sizeof(float), &bytes) || end - begin != bytes)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: tensor %s: expected %llu bytes for shape [%s], found %llu", file,
                         name, (unsigned long long)(count * sizeof(float)), want,
                         (unsigned long long)(end - begin));
    out->data = (const float *)(base + begin);
    out->count = count;
    return LSUV_OK;
}

/* Copies a tensor found by find_tensor into dst, refusing NaN and infinity. */
static lsuv_status copy_finite(const char *file, const char *name, const tensor_ref *t,
                               float *dst) {
    memcpy(dst, t->data, t->count * sizeof(float));
    uint64_t bad = lsuv_first_non_finite(dst, t->count);
    if (bad < t->count)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: tensor %s: element %llu is %g; weights must be finite numbers", file,
                         name, (unsigned long long)bad, (double)dst[bad]);
    return LSUV_OK;
}

typedef struct span {
    const char *name;
    uint64_t begin, end;
} span;

static int span_by_name(const void *a, const void *b) {
    return strcmp(((const span *)a)->name, ((const span *)b)->name);
}

static int span_by_begin(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Checks the spans, sorted by where they begin, tile [0, data_size). */
static lsuv_status check_tiling(const char *file, const span *s, size_t n, uint64_t data_size) {
    uint64_t at = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i].begin < at)
            return lsuv_fail(LSUV_ERROR_PARSE,
                             "%s: tensor %s: data_offsets [%llu, %llu] overlap those of tensor %s",
                             file, s[i].name, (unsigned long long)s[i].begin,
                             (unsigned long long)s[i].end, s[i - 1].name);
        if (s[i].begin > at)
            return lsuv_fail(LSUV_ERROR_PARSE,
                             "%s: tensor %s: the %llu bytes before its data belong to no tensor",
                             file, s[i].name, (unsigned long long)(s[i].begin - at));
        at = s[i].end;
    }
    if (at != data_size)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: %llu bytes after the data of the last tensor%s%s",
                         file, (unsigned long long)(data_size - at), n ? ", " : "",
                         n ? s[n - 1].name : "");
    return LSUV_OK;
}

/* As the format's own reader does: names are unique and the tensors' data
 * tile the data bytes exactly, with no overlap, gap or trailing bytes, so
 * that no byte loads as two tensors, or as none. */
static lsuv_status check_layout(const char *file, const cJSON *header, uint64_t data_size) {
    size_t n = (size_t)cJSON_GetArraySize(header);
    const cJSON *t;
    span *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_status st = LSUV_OK;
    n = 0;
    cJSON_ArrayForEach(t, header) {
        if (strcmp(t->string, "__metadata__") == 0) continue;
        s[n] = (span){t->string, 0, 0};
        if (!offsets_of(t, data_size, &s[n].begin, &s[n].end)) {
            st = lsuv_fail(LSUV_ERROR_PARSE,
                           "%s: tensor %s: data_offsets are not a range inside the %llu data "
                           "bytes",
                           file, t->string, (unsigned long long)data_size);
            break;
        }
        ++n;
    }
    if (st == LSUV_OK) {
        qsort(s, n, sizeof *s, span_by_name);
        for (size_t i = 1; i < n && st == LSUV_OK; ++i)
            if (strcmp(s[i - 1].name, s[i].name) == 0)
                st = lsuv_fail(LSUV_ERROR_PARSE, "%s: tensor %s appears twice in the header", file,
                               s[i].name);
    }
    if (st == LSUV_OK) {
        qsort(s, n, sizeof *s, span_by_begin);
        st = check_tiling(file, s, n, data_size);
    }
    free(s);
    return st;
}

static void layer_shapes(const lsuv_layer *l, uint64_t *weight, int *dims) {
    if (l->type == LSUV_LAYER_CONVOLUTIONAL) {
        weight[0] = l->filters;
        weight[1] = l->in.c / l->groups;
        weight[2] = weight[3] = l->size;
        *dims = 4;
    } else if (l->type == LSUV_LAYER_LOCAL) {
        /* darknet's order: per output position, filters x (c x k x k) */
        weight[0] = (uint64_t)l->out.h * l->out.w;
        weight[1] = l->filters;
        weight[2] = lsuv_layer_fan_in(l);
        *dims = 3;
    } else {
        weight[0] = l->outputs;
        weight[1] = lsuv_layer_fan_in(l);
        *dims = 2;
    }
}

static lsuv_status read_safetensors_bn(const char *name, const cJSON *header, const uint8_t *base,
                                       uint64_t data_size, uint32_t i, lsuv_layer_params *p) {
    uint64_t shape[1] = {p->bias_count};
    lsuv_status st = LSUV_OK;
    for (int k = 0; k < 3 && st == LSUV_OK; ++k) {
        char key[64];
        tensor_ref t;
        snprintf(key, sizeof key, "layers.%u.%s", i, bn_names[k]);
        st = find_tensor(name, header, key, shape, 1, base, data_size, false, &t);
        if (st == LSUV_OK) st = copy_finite(name, key, &t, bn_vector(p, k));
    }
    for (uint32_t c = 0; st == LSUV_OK && c < p->bias_count; ++c)
        if (p->rolling_variance[c] < 0)
            st = lsuv_fail(LSUV_ERROR_PARSE,
                           "%s: tensor layers.%u.rolling_variance: element %u is %g; a variance is "
                           "at least 0",
                           name, i, c, (double)p->rolling_variance[c]);
    return st;
}

lsuv_status lsuv_weights_parse_safetensors(const lsuv_net *net, const char *name,
                                           const uint8_t *data, size_t size, lsuv_weights **out) {
    *out = NULL;
    uint64_t n = 0;
    if (size < 8)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: truncated: no 8-byte header length", name);
    memcpy(&n, data, 8);
    if (n > max_header || n > size - 8)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: header length %llu does not fit the file's %zu bytes", name,
                         (unsigned long long)n, size);
    cJSON *header = cJSON_ParseWithLength((const char *)data + 8, (size_t)n);
    if (!cJSON_IsObject(header)) {
        cJSON_Delete(header);
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: the header is not a JSON object", name);
    }
    const uint8_t *base = data + 8 + n;
    uint64_t data_size = size - 8 - n;
    lsuv_status st = check_layout(name, header, data_size);
    if (st == LSUV_OK) st = lsuv_weights_create(net, out);
    for (uint32_t i = 0; st == LSUV_OK && i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        lsuv_layer_params *p = &(*out)->layers[i];
        if (!p->weight) continue;
        uint64_t wshape[4], bshape[1] = {p->bias_count};
        int dims;
        layer_shapes(l, wshape, &dims);
        char key[64];
        tensor_ref t;
        snprintf(key, sizeof key, "layers.%u.weight", i);
        st = find_tensor(name, header, key, wshape, dims, base, data_size, false, &t);
        if (st == LSUV_OK) st = copy_finite(name, key, &t, p->weight);
        snprintf(key, sizeof key, "layers.%u.bias", i);
        if (st == LSUV_OK)
            st = find_tensor(name, header, key, bshape, 1, base, data_size, false, &t);
        if (st == LSUV_OK) st = copy_finite(name, key, &t, p->bias);
        snprintf(key, sizeof key, "layers.%u.sub", i);
        if (st == LSUV_OK) st = find_tensor(name, header, key, NULL, 0, base, data_size, true, &t);
        if (st == LSUV_OK && t.data) {
            st = copy_finite(name, key, &t, &p->sub);
            p->has_sub = true;
        }
        if (st == LSUV_OK && p->scales)
            st = read_safetensors_bn(name, header, base, data_size, i, p);
    }
    cJSON_Delete(header);
    if (st != LSUV_OK) {
        lsuv_weights_destroy(*out);
        *out = NULL;
    }
    return st;
}

typedef struct blob {
    const void *data;
    uint64_t bytes;
} blob;

/* The file: the header's length, the header padded with spaces so that the
 * data starts 8-aligned, then the tensors' bytes (data_size in all). */
static lsuv_status pack_safetensors(const char *json, const blob *blobs, size_t n_blobs,
                                    uint64_t data_size, uint8_t **out, size_t *out_size) {
    uint64_t hlen = strlen(json), padded = (hlen + 7) / 8 * 8;
    size_t size = 8 + padded + data_size;
    uint8_t *buf = malloc(size);
    if (!buf) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    memcpy(buf, &padded, 8);
    memcpy(buf + 8, json, hlen);
    memset(buf + 8 + hlen, ' ', padded - hlen);
    size_t pos = 8 + padded;
    for (size_t b = 0; b < n_blobs; ++b) {
        memcpy(buf + pos, blobs[b].data, blobs[b].bytes);
        pos += blobs[b].bytes;
    }
    *out = buf;
    *out_size = size;
    return LSUV_OK;
}

typedef struct tensor_part {
    const char *what;
    const float *data;
    uint64_t count;
    const uint64_t *shape;
    int dims;
} tensor_part;

static lsuv_status encode_safetensors(const lsuv_net *net, const lsuv_weights *w, uint8_t **out,
                                      size_t *out_size) {
    cJSON *header = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(header, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddStringToObject(meta, "producer", "lsuv-vk");
    cJSON_AddStringToObject(meta, "net", net->path);
    blob *blobs = calloc(6 * (size_t)net->n_layers + 1, sizeof *blobs);
    size_t n_blobs = 0;
    uint64_t offset = 0;
    bool ok = header && meta && blobs;
    for (uint32_t i = 0; ok && i < net->n_layers; ++i) {
        const lsuv_layer_params *p = &w->layers[i];
        if (!p->weight) continue;
        uint64_t wshape[4];
        int dims;
        layer_shapes(&net->layers[i], wshape, &dims);
        const uint64_t vshape[1] = {p->bias_count};
        tensor_part parts[6] = {
            {"weight", p->weight, p->weight_count, wshape, dims},
            {"bias", p->bias, p->bias_count, vshape, 1},
            {"sub", &p->sub, 1, NULL, 0},
        };
        int n_parts = p->has_sub ? 3 : 2;
        for (int k = 0; p->scales && k < 3; ++k)
            parts[n_parts++] =
                (tensor_part){bn_names[k], bn_vector(p, k), p->bias_count, vshape, 1};
        for (int k = 0; k < n_parts && ok; ++k) {
            char key[64];
            snprintf(key, sizeof key, "layers.%u.%s", i, parts[k].what);
            cJSON *t = cJSON_AddObjectToObject(header, key);
            cJSON *shape = cJSON_CreateArray();
            cJSON *offs = cJSON_CreateArray();
            ok = t && shape && offs;
            if (!ok) {
                cJSON_Delete(shape);
                cJSON_Delete(offs);
                break;
            }
            for (int d = 0; d < parts[k].dims; ++d)
                cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)parts[k].shape[d]));
            uint64_t bytes = parts[k].count * sizeof(float);
            cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
            cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + bytes)));
            cJSON_AddStringToObject(t, "dtype", "F32");
            cJSON_AddItemToObject(t, "shape", shape);
            cJSON_AddItemToObject(t, "data_offsets", offs);
            blobs[n_blobs++] = (blob){parts[k].data, bytes};
            offset += bytes;
        }
    }
    char *json = ok ? cJSON_PrintUnformatted(header) : NULL;
    cJSON_Delete(header);
    lsuv_status st = json ? pack_safetensors(json, blobs, n_blobs, offset, out, out_size)
                          : lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    free(json);
    free(blobs);
    return st;
}

/* ---- by extension ------------------------------------------------------ */

lsuv_status lsuv_weights_load(const lsuv_net *net, const char *path, lsuv_weights **out) {
    *out = NULL;
    bool darknet = ends_with(path, ".weights"), st_file = ends_with(path, ".safetensors");
    if (!darknet && !st_file)
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "%s: unknown weights format; expected a .weights or .safetensors file",
                         path);
    char *data = NULL;
    size_t size = 0;
    lsuv_status s = lsuv_file_read_all(path, max_weights_file, &data, &size);
    if (s != LSUV_OK) return s;
    s = darknet ? lsuv_weights_parse_darknet(net, path, (const uint8_t *)data, size, out)
                : lsuv_weights_parse_safetensors(net, path, (const uint8_t *)data, size, out);
    free(data);
    return s;
}

lsuv_status lsuv_weights_encode(const lsuv_net *net, const lsuv_weights *w, const char *path,
                                uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    if (ends_with(path, ".weights")) return encode_darknet(net, w, path, data, size);
    if (ends_with(path, ".safetensors")) return encode_safetensors(net, w, data, size);
    return lsuv_fail(LSUV_ERROR_INVALID,
                     "%s: unknown weights format; expected a .weights or .safetensors file", path);
}

lsuv_status lsuv_weights_save(const lsuv_net *net, const lsuv_weights *w, const char *path) {
    uint8_t *data;
    size_t size;
    lsuv_status st = lsuv_weights_encode(net, w, path, &data, &size);
    if (st == LSUV_OK) st = lsuv_file_write(path, data, size);
    free(data);
    return st;
}
