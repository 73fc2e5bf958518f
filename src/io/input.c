/* Input batches: synthetic, IDX (MNIST-style) and .npy files. */
#include "lsuv/input.h"

#include "core/checked.h"
#include "core/error.h"
#include "core/file.h"
#include "lsuv/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Inflated data larger than this is refused: 4 GiB. */
static const size_t max_inflated = (size_t)1 << 32;

/* Inflates gzip data into a new buffer, stopping once it holds limit bytes
 * (0: all of it); *out is NULL when data is not gzip. */
static lsuv_status gunzip(const char *name, const uint8_t *data, size_t size, size_t limit,
                          uint8_t **out, size_t *out_size) {
    *out = NULL;
    *out_size = 0;
    if (size < 2 || data[0] != 0x1f || data[1] != 0x8b) return LSUV_OK;
    z_stream z = {0};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of memory for zlib");
    size_t cap = size * 4 + 1024, n = 0;
    if (limit && limit < cap) cap = limit;
    uint8_t *buf = malloc(cap);
    lsuv_status st = buf ? LSUV_OK : lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    z.next_in = (Bytef *)data;
    int r = Z_OK;
    while (st == LSUV_OK && r != Z_STREAM_END && (limit == 0 || n < limit)) {
        if (n == cap) {
            if (cap >= max_inflated) {
                st = lsuv_fail(LSUV_ERROR_PARSE, "%s: inflates to more than %zu bytes", name,
                               max_inflated);
                break;
            }
            cap = cap * 2 > max_inflated ? max_inflated : cap * 2;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) {
                st = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
                break;
            }
            buf = grown;
        }
        /* zlib counts in uInt: feed at most 1 GiB per call. */
        size_t in_left = size - (size_t)(z.next_in - data);
        z.avail_in = (uInt)(in_left > (1u << 30) ? (1u << 30) : in_left);
        size_t room = cap - n;
        z.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
        z.next_out = buf + n;
        r = inflate(&z, Z_NO_FLUSH);
        n = (size_t)(z.next_out - buf);
        if (r == Z_BUF_ERROR && z.avail_in == 0 && in_left == 0) r = Z_DATA_ERROR;
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
            st = lsuv_fail(LSUV_ERROR_PARSE, "%s: corrupt gzip data (%s)", name,
                           z.msg ? z.msg : "truncated");
    }
    inflateEnd(&z);
    if (st != LSUV_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_size = n;
    return LSUV_OK;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The most values a batch may hold: 2^34, 64 GiB of floats. */
static const uint64_t max_batch_values = (uint64_t)1 << 34;

static lsuv_status batch_alloc(lsuv_batch *b, uint32_t n, uint32_t c, uint32_t h, uint32_t w) {
    *b = (lsuv_batch){n, c, h, w, NULL};
    uint64_t count = (uint64_t)n * c;
    if (count == 0 || !lsuv_mul_u64(count, h, &count) || !lsuv_mul_u64(count, w, &count) ||
        count == 0 || count > max_batch_values)
        return lsuv_fail(LSUV_ERROR_PARSE, "a batch of %ux%ux%ux%u is empty or too large", n, c, h,
                         w);
    if (!(b->data = malloc(count * sizeof *b->data)))
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory for the batch");
    return LSUV_OK;
}

/* What an IDX header declares, with n cut to the batch; bytes: what those
 * images take after the 16-byte header. */
typedef struct idx_header {
    uint32_t n, h, w;
    uint64_t bytes;
} idx_header;

/* Needs only the first 16 bytes, so that a gzipped file's header is checked
 * before anything behind it is inflated. */
static lsuv_status idx_header_parse(const char *name, const uint8_t *d, size_t size, uint32_t max_n,
                                    idx_header *out) {
    /* Magic: two zero bytes, the type (0x08: unsigned byte), the rank. */
    if (size < 4 || d[0] || d[1])
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: not an IDX file (bad magic)", name);
    if (d[2] != 0x08)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: IDX element type 0x%02x; expected unsigned bytes (0x08)", name, d[2]);
    if (d[3] != 3)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: IDX rank %u; expected images: rank 3 (count, rows, columns)", name,
                         d[3]);
    if (size < 16) return lsuv_fail(LSUV_ERROR_PARSE, "%s: truncated IDX header", name);
    uint32_t n = be32(d + 4), h = be32(d + 8), w = be32(d + 12);
    if (!n || !h || !w)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: the IDX header declares %u images of %ux%u; expected no zero size",
                         name, n, h, w);
    if (max_n && n > max_n) n = max_n;
    uint64_t bytes = (uint64_t)n * h;
    if (!lsuv_mul_u64(bytes, w, &bytes) || bytes > max_batch_values)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: %u images of %ux%u are more than %llu values", name,
                         n, h, w, (unsigned long long)max_batch_values);
    *out = (idx_header){n, h, w, bytes};
    return LSUV_OK;
}

static lsuv_status idx_parse_raw(const char *name, const uint8_t *d, size_t size, uint32_t max_n,
                                 lsuv_batch *out) {
    idx_header x;
    lsuv_status st = idx_header_parse(name, d, size, max_n, &x);
    if (st != LSUV_OK) return st;
    if (x.bytes > size - 16)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: truncated: %u images of %ux%u need %llu bytes, found %zu", name, x.n,
                         x.h, x.w, (unsigned long long)x.bytes, size - 16);
    st = batch_alloc(out, x.n, 1, x.h, x.w);
    if (st != LSUV_OK) return st;
    for (uint64_t i = 0; i < x.bytes; ++i) out->data[i] = (float)d[16 + i] / 255.0f;
    return LSUV_OK;
}

lsuv_status lsuv_idx_parse(const char *name, const uint8_t *data, size_t size, uint32_t max_n,
                           lsuv_batch *out) {
    uint8_t *inflated = NULL;
    size_t inflated_size = 0;
    lsuv_status st = gunzip(name, data, size, 16, &inflated, &inflated_size);
    if (st != LSUV_OK) return st;
    if (!inflated) return idx_parse_raw(name, data, size, max_n, out);
    /* The header is checked before anything else is inflated, and then only
     * the images asked for are: Fashion-MNIST's 47 MB took 0.17 s for 512,
     * and a zero size in front of a gzip bomb costs nothing. A whole file
     * inflates one byte more, so that its end (and CRC) is reached and data
     * beyond its images is refused. */
    idx_header x;
    st = idx_header_parse(name, inflated, inflated_size, max_n, &x);
    free(inflated);
    if (st != LSUV_OK) return st;
    size_t want = 16 + (size_t)x.bytes;
    st = gunzip(name, data, size, want + (max_n == 0), &inflated, &inflated_size);
    if (st == LSUV_OK && inflated_size > want)
        st = lsuv_fail(LSUV_ERROR_PARSE,
                       "%s: inflates to more than the %u images of %ux%u its "
                       "header declares",
                       name, x.n, x.h, x.w);
    if (st == LSUV_OK) st = idx_parse_raw(name, inflated, inflated_size, max_n, out);
    free(inflated);
    return st;
}

/* The value of 'key' in a .npy header dict, e.g. "'<f4'" or "(2, 3)". */
static const char *npy_field(const char *header, const char *key, char *value, size_t cap) {
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s':", key);
    const char *p = strstr(header, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ') ++p;
    size_t n = 0;
    char close = *p == '(' ? ')' : *p == '\'' ? '\'' : ',';
    if (*p == '(' || *p == '\'') value[n++] = *p++;
    while (*p && *p != close && n + 2 < cap) value[n++] = *p++;
    if (*p != close && close != ',') return NULL;
    if (close != ',') value[n++] = close;
    value[n] = '\0';
    return value;
}

/* The header's place: it starts after the magic, version and length, and
 * ends, as numpy writes it, with the dict's '}', spaces and a newline as its
 * last stated byte. A length that is off would read the data shifted. */
static lsuv_status npy_preamble(const char *name, const uint8_t *d, size_t size, size_t *start,
                                size_t *hlen) {
    static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (size < 10 || memcmp(d, magic, 6) != 0)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: not a .npy file (bad magic)", name);
    uint8_t major = d[6];
    if (major == 1) {
        *hlen = (size_t)d[8] | (size_t)d[9] << 8;
        *start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return lsuv_fail(LSUV_ERROR_PARSE, "%s: truncated .npy header", name);
        *hlen = (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
        *start = 12;
    } else {
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: .npy version %u; expected 1, 2 or 3", name, major);
    }
    if (*hlen > size - *start || *hlen > (1u << 20))
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: truncated .npy header", name);
    const uint8_t *h = d + *start;
    size_t end = *hlen;
    bool newline = end > 0 && h[end - 1] == '\n';
    if (newline)
        for (--end; end > 0 && h[end - 1] == ' ';) --end;
    if (!newline || end == 0 || h[end - 1] != '}')
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: the .npy header's stated length (%zu bytes) does not end after its "
                         "dict, spaces and a newline",
                         name, *hlen);
    return LSUV_OK;
}

/* Reads descr, fortran_order and a 4-dimensional shape from the header. */
static lsuv_status npy_dims(const char *name, const char *header, uint64_t dims[4]) {
    char descr[32], order[16], shape[128];
    if (!npy_field(header, "descr", descr, sizeof descr) ||
        !npy_field(header, "fortran_order", order, sizeof order) ||
        !npy_field(header, "shape", shape, sizeof shape))
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: .npy header lacks descr, fortran_order or shape: %.100s", name,
                         header);
    if (strcmp(descr, "'<f4'") != 0)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: dtype %s; expected little-endian float32 ('<f4')",
                         name, descr);
    if (strcmp(order, "False") != 0)
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: Fortran order; expected C order", name);
    int rank = 0;
    const char *p = shape + 1; /* after '(' */
    while (rank < 5) {
        while (*p == ' ') ++p;
        if (*p == ')') break;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || rank == 4) {
            rank = -1;
            break;
        }
        dims[rank++] = v;
        p = end;
        while (*p == ' ') ++p;
        if (*p == ',') ++p;
    }
    if (rank != 4 || shape[0] != '(')
        return lsuv_fail(LSUV_ERROR_PARSE, "%s: shape %s; expected 4 dimensions, N x C x H x W",
                         name, shape);
    for (int i = 0; i < 4; ++i)
        if (dims[i] == 0 || dims[i] > UINT32_MAX)
            return lsuv_fail(LSUV_ERROR_PARSE, "%s: dimension %d of the shape is %llu", name, i,
                             (unsigned long long)dims[i]);
    return LSUV_OK;
}

lsuv_status lsuv_npy_parse(const char *name, const uint8_t *d, size_t size, uint32_t max_n,
                           lsuv_batch *out) {
    size_t start = 0, hlen = 0;
    lsuv_status st = npy_preamble(name, d, size, &start, &hlen);
    if (st != LSUV_OK) return st;
    char *header = malloc(hlen + 1);
    if (!header) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    memcpy(header, d + start, hlen);
    header[hlen] = '\0';
    uint64_t dims[4] = {0};
    st = npy_dims(name, header, dims);
    free(header);
    if (st != LSUV_OK) return st;
    /* Every product is checked: a shape whose size wraps past 2^64 would
     * otherwise pass for a small one. */
    uint64_t per_sample = dims[1] * dims[2], total, bytes;
    size_t body = start + hlen;
    if (!lsuv_mul_u64(per_sample, dims[3], &per_sample) || per_sample > max_batch_values ||
        !lsuv_mul_u64(dims[0], per_sample, &total) || !lsuv_mul_u64(total, 4, &bytes) ||
        bytes > size - body)
        return lsuv_fail(LSUV_ERROR_PARSE,
                         "%s: truncated: shape (%llu, %llu, %llu, %llu) needs more than the %zu "
                         "bytes found",
                         name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                         (unsigned long long)dims[2], (unsigned long long)dims[3], size - body);
    uint32_t n = (uint32_t)dims[0];
    if (max_n && n > max_n) n = max_n;
    st = batch_alloc(out, n, (uint32_t)dims[1], (uint32_t)dims[2], (uint32_t)dims[3]);
    if (st != LSUV_OK) return st;
    uint64_t count = n * per_sample, bad;
    memcpy(out->data, d + body, count * sizeof(float));
    if ((bad = lsuv_first_non_finite(out->data, count)) < count) {
        st = lsuv_fail(LSUV_ERROR_PARSE,
                       "%s: value %llu (sample %llu) is %g; inputs must be finite numbers", name,
                       (unsigned long long)bad, (unsigned long long)(bad / per_sample),
                       (double)out->data[bad]);
        lsuv_batch_free(out);
    }
    return st;
}

void lsuv_batch_free(lsuv_batch *b) {
    free(b->data);
    b->data = NULL;
}

lsuv_status lsuv_input_source_parse(const char *spec, lsuv_input_source *out) {
    memset(out, 0, sizeof *out);
    const char *path = NULL;
    if (strncmp(spec, "synthetic", 9) == 0 && (spec[9] == '\0' || spec[9] == '@')) {
        out->kind = LSUV_INPUT_SYNTHETIC;
        path = spec + 9;
    } else if (strncmp(spec, "idx:", 4) == 0 || strncmp(spec, "npy:", 4) == 0) {
        out->kind = spec[0] == 'i' ? LSUV_INPUT_IDX : LSUV_INPUT_NPY;
        path = spec + 4;
    } else {
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "input '%s': expected synthetic, idx:PATH or npy:PATH, each optionally "
                         "with @START",
                         spec);
    }
    size_t len = strlen(path), digits = 0;
    while (digits < len && path[len - 1 - digits] >= '0' && path[len - 1 - digits] <= '9') ++digits;
    if (digits > 0 && digits < len && path[len - 1 - digits] == '@') {
        unsigned long long start = strtoull(path + len - digits, NULL, 10);
        if (digits > 10 || start > UINT32_MAX)
            return lsuv_fail(LSUV_ERROR_INVALID, "input '%s': start %s is past 2^32 samples", spec,
                             path + len - digits);
        out->start = (uint32_t)start;
        len -= digits + 1;
    }
    if (out->kind == LSUV_INPUT_SYNTHETIC ? len != 0 : len == 0)
        return lsuv_fail(LSUV_ERROR_INVALID, "input '%s': expected %s", spec,
                         out->kind == LSUV_INPUT_SYNTHETIC ? "synthetic or synthetic@START"
                                                           : "a path after the colon");
    if (len >= sizeof out->path)
        return lsuv_fail(LSUV_ERROR_INVALID, "input '%.64s...': the path is too long", spec);
    memcpy(out->path, path, len);
    out->path[len] = '\0';
    return LSUV_OK;
}

/* Samples start.. start+n-1 of a file: the parser reads start + n, and the
 * first start are dropped. */
static lsuv_status load_file(const lsuv_input_source *src, uint32_t n, lsuv_batch *out) {
    char *data = NULL;
    size_t size = 0;
    uint32_t max_n = src->start + n;
    if (max_n < n)
        return lsuv_fail(LSUV_ERROR_INVALID, "%s: start %u and batch %u pass 2^32 samples",
                         src->path, src->start, n);
    lsuv_status st = lsuv_file_read_all(src->path, (size_t)1 << 34, &data, &size);
    if (st != LSUV_OK) return st;
    st = src->kind == LSUV_INPUT_IDX
             ? lsuv_idx_parse(src->path, (const uint8_t *)data, size, max_n, out)
             : lsuv_npy_parse(src->path, (const uint8_t *)data, size, max_n, out);
    free(data);
    if (st != LSUV_OK || src->start == 0) return st;
    uint64_t per = (uint64_t)out->c * out->h * out->w;
    uint32_t kept = out->n > src->start ? out->n - src->start : 0;
    memmove(out->data, out->data + (uint64_t)(out->n - kept) * per, kept * per * sizeof(float));
    out->n = kept;
    return LSUV_OK;
}

static lsuv_status load_synthetic(const lsuv_input_source *src, uint32_t n, uint64_t seed,
                                  const lsuv_shape in, lsuv_batch *out) {
    lsuv_status st = batch_alloc(out, n, in.c, in.h, in.w);
    if (st != LSUV_OK) return st;
    lsuv_rng rng;
    lsuv_rng_seed(&rng, seed);
    uint64_t per = (uint64_t)in.c * in.h * in.w;
    /* The samples before start are drawn and dropped, a batch at a time. */
    for (uint64_t skip = (uint64_t)src->start * per; skip > 0;) {
        uint64_t k = skip < (uint64_t)n * per ? skip : (uint64_t)n * per;
        lsuv_rng_fill_normal(&rng, out->data, k, 0.0, 1.0);
        skip -= k;
    }
    lsuv_rng_fill_normal(&rng, out->data, (uint64_t)n * per, 0.0, 1.0);
    return LSUV_OK;
}

lsuv_status lsuv_input_load(const lsuv_input_options *o, const lsuv_net *net, lsuv_batch *out) {
    memset(out, 0, sizeof *out);
    const char *spec = o->spec ? o->spec : "synthetic";
    uint32_t n = o->batch ? o->batch : net->batch;
    const lsuv_shape in = net->input;
    lsuv_input_source src;
    lsuv_status st = lsuv_input_source_parse(spec, &src);
    if (st != LSUV_OK) return st;
    st = src.kind == LSUV_INPUT_SYNTHETIC ? load_synthetic(&src, n, o->seed, in, out)
                                          : load_file(&src, n, out);
    if (st != LSUV_OK) return st;
    if (out->c != in.c || out->h != in.h || out->w != in.w || out->n < n) {
        st = lsuv_fail(LSUV_ERROR_INVALID,
                       "input %s holds %u samples of %ux%ux%u from sample %u on; %s needs %u of "
                       "%ux%ux%u (C x H x W)",
                       spec, out->n, out->c, out->h, out->w, src.start, net->path, n, in.c, in.h,
                       in.w);
        lsuv_batch_free(out);
        return st;
    }
    if (o->normalize) {
        /* fastai's normalize_to, with the batch's own statistics (fp64). */
        double mean = 0, std = 0;
        st = lsuv_batch_normalizer(out, spec, &mean, &std);
        if (st != LSUV_OK) {
            lsuv_batch_free(out);
            return st;
        }
        lsuv_batch_normalize(out, mean, std);
    }
    return LSUV_OK;
}

lsuv_status lsuv_batch_normalizer(const lsuv_batch *b, const char *name, double *mean,
                                  double *std) {
    uint64_t count = (uint64_t)b->n * b->c * b->h * b->w;
    double sum = 0, ss = 0;
    for (uint64_t i = 0; i < count; ++i) sum += b->data[i];
    *mean = count ? sum / (double)count : 0.0;
    for (uint64_t i = 0; i < count; ++i) ss += (b->data[i] - *mean) * (b->data[i] - *mean);
    *std = count > 1 ? sqrt(ss / (double)(count - 1)) : 0.0;
    if (!(*std > 0.0))
        return lsuv_fail(LSUV_ERROR_INVALID, "input %s: every value is %g; it cannot be normalized",
                         name, *mean);
    return LSUV_OK;
}

void lsuv_batch_normalize(lsuv_batch *b, double mean, double std) {
    uint64_t count = (uint64_t)b->n * b->c * b->h * b->w;
    for (uint64_t i = 0; i < count; ++i) b->data[i] = (float)((b->data[i] - mean) / std);
}
