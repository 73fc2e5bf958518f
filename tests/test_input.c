/* Input batches: synthetic, IDX (plain and gzip) and .npy, against values
 * written here and Fashion-MNIST's published statistics. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "lsuv/input.h"
#include "lsuv/net.h"
#include "lsuv/ref.h"

#define FASHION_TRAIN "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

static lsuv_net *net_of(unsigned c, unsigned h, unsigned w, unsigned batch) {
    char text[256];
    snprintf(text, sizeof text,
             "[net]\nbatch=%u\nheight=%u\nwidth=%u\nchannels=%u\n[connected]\noutput=1\n", batch, h,
             w, c);
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_parse("t.cfg", text, strlen(text), NULL, &net), LSUV_OK);
    return net;
}

/* Three 2x2 images with pixels 0, 1, ..., 11. */
static size_t idx_bytes(uint8_t *out) {
    const uint8_t header[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    memcpy(out, header, 16);
    for (int i = 0; i < 12; ++i) out[16 + i] = (uint8_t)(i * 20);
    return 28;
}

static void assert_idx_batch(const lsuv_batch *b, uint32_t n) {
    cr_assert(b->n == n && b->c == 1 && b->h == 2 && b->w == 2);
    for (uint32_t i = 0; i < n * 4; ++i)
        cr_assert_float_eq(b->data[i], (float)(i * 20) / 255.0f, 1e-7, "pixel %u", i);
}

Test(idx, plain_and_gzip) {
    uint8_t raw[64], gz[256];
    size_t n = idx_bytes(raw);
    lsuv_batch b;
    cr_assert_eq(lsuv_idx_parse("a.idx", raw, n, 0, &b), LSUV_OK, "%s", lsuv_error_message());
    assert_idx_batch(&b, 3);
    lsuv_batch_free(&b);
    cr_assert_eq(lsuv_idx_parse("a.idx", raw, n, 2, &b), LSUV_OK);
    assert_idx_batch(&b, 2);
    lsuv_batch_free(&b);

    z_stream z = {0};
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = raw;
    z.avail_in = (uInt)n;
    z.next_out = gz;
    z.avail_out = sizeof gz;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t gz_size = sizeof gz - z.avail_out;
    deflateEnd(&z);
    cr_assert_eq(lsuv_idx_parse("a.idx.gz", gz, gz_size, 0, &b), LSUV_OK, "%s",
                 lsuv_error_message());
    assert_idx_batch(&b, 3);
    lsuv_batch_free(&b);
    cr_assert_eq(lsuv_idx_parse("a.idx.gz", gz, gz_size - 5, 0, &b), LSUV_ERROR_PARSE,
                 "a cut gzip stream is an error");
    cr_assert(strstr(lsuv_error_message(), "a.idx.gz"), "%s", lsuv_error_message());
    /* The first images inflate only what they need: the cut trailer is
     * never reached. */
    cr_assert_eq(lsuv_idx_parse("a.idx.gz", gz, gz_size - 5, 2, &b), LSUV_OK, "%s",
                 lsuv_error_message());
    assert_idx_batch(&b, 2);
    lsuv_batch_free(&b);
}

Test(idx, bad_files) {
    uint8_t raw[64];
    size_t n = idx_bytes(raw);
    lsuv_batch b;
    cr_assert_eq(lsuv_idx_parse("a.idx", raw, n - 1, 0, &b), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "truncated"), "%s", lsuv_error_message());
    raw[3] = 1; /* labels, not images */
    cr_assert_eq(lsuv_idx_parse("a.idx", raw, n, 0, &b), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "rank 1"), "%s", lsuv_error_message());
    raw[3] = 3;
    raw[2] = 0x0d; /* floats */
    cr_assert_eq(lsuv_idx_parse("a.idx", raw, n, 0, &b), LSUV_ERROR_PARSE);
    cr_assert_eq(lsuv_idx_parse("a.idx", (const uint8_t *)"PK", 2, 0, &b), LSUV_ERROR_PARSE);
}

/* A .npy file as numpy writes it (version 1.0, header padded to 64). */
static size_t npy_bytes(uint8_t *out, const char *descr, const char *shape, const float *x,
                        size_t count) {
    char header[128];
    int n = snprintf(header, sizeof header,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    int total = (10 + n + 1 + 63) / 64 * 64;
    memset(header + n, ' ', (size_t)(total - 10 - n - 1));
    header[total - 10 - 1] = '\n';
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (uint8_t)((total - 10) & 0xff);
    out[9] = (uint8_t)((total - 10) >> 8);
    memcpy(out + 10, header, (size_t)(total - 10));
    memcpy(out + total, x, count * 4);
    return (size_t)total + count * 4;
}

Test(npy, reads_float32_nchw) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, -8.5f};
    uint8_t buf[256];
    size_t n = npy_bytes(buf, "<f4", "(2, 1, 2, 2)", x, 8);
    lsuv_batch b;
    cr_assert_eq(lsuv_npy_parse("x.npy", buf, n, 0, &b), LSUV_OK, "%s", lsuv_error_message());
    cr_assert(b.n == 2 && b.c == 1 && b.h == 2 && b.w == 2);
    cr_assert(memcmp(b.data, x, sizeof x) == 0);
    lsuv_batch_free(&b);
    cr_assert_eq(lsuv_npy_parse("x.npy", buf, n - 1, 0, &b), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "truncated"), "%s", lsuv_error_message());
    n = npy_bytes(buf, "<f8", "(2, 1, 2, 1)", x, 8);
    cr_assert_eq(lsuv_npy_parse("x.npy", buf, n, 0, &b), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "'<f4'"), "%s", lsuv_error_message());
    n = npy_bytes(buf, "<f4", "(8,)", x, 8);
    cr_assert_eq(lsuv_npy_parse("x.npy", buf, n, 0, &b), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "4 dimensions"), "%s", lsuv_error_message());
}

Test(input, synthetic_is_seeded_normal) {
    lsuv_net *net = net_of(3, 8, 8, 64);
    lsuv_input_options o = {.spec = "synthetic", .seed = 5};
    lsuv_batch a, b;
    cr_assert_eq(lsuv_input_load(&o, net, &a), LSUV_OK);
    cr_assert(a.n == 64 && a.c == 3 && a.h == 8 && a.w == 8, "[net] batch and shape");
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_OK);
    cr_assert(memcmp(a.data, b.data, 64 * 192 * 4) == 0);
    lsuv_moments m;
    lsuv_ref_moments(a.data, 64 * 192, &m);
    cr_assert_lt(fabs(m.mean), 5 / sqrt(64 * 192.0));
    cr_assert_lt(fabs(m.std - 1), 5 / sqrt(2 * 64 * 192.0));
    lsuv_batch_free(&a);
    lsuv_batch_free(&b);
    lsuv_net_destroy(net);
}

Test(input, normalize_and_shape_checks) {
    lsuv_net *net = net_of(3, 8, 8, 16);
    lsuv_input_options o = {.spec = "synthetic", .seed = 1, .batch = 10, .normalize = true};
    lsuv_batch b;
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_OK);
    cr_assert_eq(b.n, 10, "--batch overrides [net] batch");
    lsuv_moments m;
    lsuv_ref_moments(b.data, 10 * 192, &m);
    cr_assert_lt(fabs(m.mean), 1e-6);
    cr_assert_lt(fabs(m.std - 1), 1e-6);
    lsuv_batch_free(&b);
    lsuv_net_destroy(net);

    net = net_of(1, 32, 32, 4);
    o = (lsuv_input_options){.spec = "idx:" FASHION_TRAIN};
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_ERROR_INVALID);
    cr_assert(strstr(lsuv_error_message(), "1x28x28") && strstr(lsuv_error_message(), "1x32x32"),
              "%s", lsuv_error_message());
    lsuv_net_destroy(net);
    net = net_of(1, 28, 28, 70000);
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_ERROR_INVALID, "more samples than the file");
    o.spec = "png:x";
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_ERROR_INVALID);
    o.spec = "idx:/nonexistent.idx";
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_ERROR_IO);
    lsuv_net_destroy(net);
}

Test(input, fashion_mnist_published_statistics, .timeout = 60) {
    /* The 60,000 training images, scaled to [0, 1]: mean 0.2860, std 0.3530,
     * the figures every Fashion-MNIST normalization uses. */
    lsuv_net *net = net_of(1, 28, 28, 60000);
    lsuv_input_options o = {.spec = "idx:" FASHION_TRAIN};
    lsuv_batch b;
    lsuv_status s = lsuv_input_load(&o, net, &b);
    cr_assert_eq(s, LSUV_OK, "%s (installed by scripts/setup-debian.sh: dataset-fashion-mnist)",
                 lsuv_error_message());
    cr_assert_eq(b.n, 60000);
    lsuv_moments m;
    lsuv_ref_moments(b.data, (size_t)60000 * 784, &m);
    cr_assert_lt(fabs(m.mean - 0.2860), 5e-5, "mean %.6f", m.mean);
    cr_assert_lt(fabs(m.std - 0.3530), 5e-5, "std %.6f", m.std);
    lsuv_batch_free(&b);
    lsuv_net_destroy(net);
}

/* numpy's own header for shape, then count zero floats. */
static uint8_t *npy_zeros(const char *shape, size_t count, size_t *size) {
    float *x = calloc(count ? count : 1, sizeof *x);
    uint8_t *buf = malloc(256 + count * 4);
    *size = npy_bytes(buf, "<f4", shape, x, count);
    free(x);
    return buf;
}

Test(npy, shapes_whose_size_wraps_are_refused) {
    /* 4294901761 * 65536 * 65537 = 2^64 + 65536: wrapped, the shape asks for
     * the 262,144 bytes that are there, and a batch of one sample copied
     * 16 GiB from them. */
    size_t size;
    uint8_t *buf = npy_zeros("(4294901761, 1, 65536, 65537)", 65536, &size);
    lsuv_batch b = {0};
    cr_assert_eq(lsuv_npy_parse("w.npy", buf, size, 1, &b), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "w.npy: truncated"), "%s", lsuv_error_message());
    cr_assert_null(b.data);
    free(buf);
    /* 2^31 * 2^33 wraps to 0: no data at all. */
    buf = npy_zeros("(2147483648, 2, 65536, 65536)", 0, &size);
    cr_assert_eq(lsuv_npy_parse("w.npy", buf, size, 1, &b), LSUV_ERROR_PARSE);
    cr_assert_null(b.data);
    free(buf);
}

Test(npy, header_length_must_end_at_its_newline) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t buf[256];
    size_t n = npy_bytes(buf, "<f4", "(2, 1, 2, 2)", x, 8);
    lsuv_batch b;
    /* Said 4 bytes too long, or too short, the header would swallow the
     * first value or hand the padding over as data. */
    for (int delta = -4; delta <= 4; delta += 8) {
        buf[8] = (uint8_t)(buf[8] + delta);
        cr_assert_eq(lsuv_npy_parse("x.npy", buf, n, 1, &b), LSUV_ERROR_PARSE, "length %+d", delta);
        cr_assert(strstr(lsuv_error_message(), "x.npy: the .npy header's stated length"), "%s",
                  lsuv_error_message());
        buf[8] = (uint8_t)(buf[8] - delta);
    }
    cr_assert_eq(lsuv_npy_parse("x.npy", buf, n, 1, &b), LSUV_OK, "%s", lsuv_error_message());
    cr_assert(memcmp(b.data, x, 16) == 0);
    lsuv_batch_free(&b);
}

Test(npy, non_finite_values_are_refused) {
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const char *name[3] = {"nan", "inf", "-inf"};
    for (int k = 0; k < 3; ++k) {
        float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        x[5] = bad[k];
        uint8_t buf[256];
        size_t n = npy_bytes(buf, "<f4", "(2, 1, 2, 2)", x, 8);
        lsuv_batch b = {0};
        cr_assert_eq(lsuv_npy_parse("x.npy", buf, n, 0, &b), LSUV_ERROR_PARSE, "%s", name[k]);
        char want[64];
        snprintf(want, sizeof want, "x.npy: value 5 (sample 1) is %s;", name[k]);
        cr_assert(strstr(lsuv_error_message(), want), "'%s' lacks '%s'", lsuv_error_message(),
                  want);
        cr_assert_null(b.data);
        /* The first sample alone is finite. */
        cr_assert_eq(lsuv_npy_parse("x.npy", buf, n, 1, &b), LSUV_OK);
        lsuv_batch_free(&b);
    }
}

/* gzip of the 16-byte IDX header n x h x w followed by zeros bytes of zeros,
 * its last 5 bytes (of the trailer) cut off. */
static uint8_t *idx_gz_cut(uint32_t n, uint32_t h, uint32_t w, size_t zeros, size_t *size) {
    uint8_t *raw = calloc(16 + zeros, 1);
    const uint32_t dims[3] = {n, h, w};
    raw[2] = 8;
    raw[3] = 3;
    for (int d = 0; d < 3; ++d)
        for (int i = 0; i < 4; ++i) raw[4 + 4 * d + i] = (uint8_t)(dims[d] >> (24 - 8 * i));
    size_t cap = 16 + zeros / 100 + 4096;
    uint8_t *gz = malloc(cap);
    z_stream z = {0};
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = raw;
    z.avail_in = (uInt)(16 + zeros);
    z.next_out = gz;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *size = cap - z.avail_out - 5;
    deflateEnd(&z);
    free(raw);
    return gz;
}

Test(idx, gzip_header_is_checked_before_the_rest_inflates) {
    /* A zero or wrapping size is refused from the header alone: the cut
     * stream behind it (which stands for a gzip bomb) is never inflated. */
    const uint32_t dims[][3] = {{100, 0, 28}, {0, 28, 28}, {4294967295u, 2147483648u, 2147483648u}};
    for (int k = 0; k < 3; ++k) {
        for (uint32_t max_n = 0; max_n <= 64; max_n += 64) {
            size_t size;
            uint8_t *gz = idx_gz_cut(dims[k][0], dims[k][1], dims[k][2], 1 << 20, &size);
            lsuv_batch b = {0};
            cr_assert_eq(lsuv_idx_parse("b.idx.gz", gz, size, max_n, &b), LSUV_ERROR_PARSE);
            const char *m = lsuv_error_message();
            cr_assert(strstr(m, "b.idx.gz") && !strstr(m, "gzip") &&
                          (strstr(m, "no zero size") || strstr(m, "more than 17179869184")),
                      "dims %u: %s", k, m);
            cr_assert_null(b.data);
            free(gz);
        }
    }
    /* A whole file inflates no further than its images and the trailer. */
    size_t size;
    uint8_t *gz = idx_gz_cut(1, 2, 2, 4 + (1 << 20), &size);
    lsuv_batch b = {0};
    cr_assert_eq(lsuv_idx_parse("c.idx.gz", gz, size, 0, &b), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "more than the 1 images of 2x2"), "%s",
              lsuv_error_message());
    cr_assert_eq(lsuv_idx_parse("c.idx.gz", gz, size, 1, &b), LSUV_OK, "%s", lsuv_error_message());
    cr_assert(b.n == 1 && b.h == 2 && b.w == 2);
    lsuv_batch_free(&b);
    free(gz);
}

Test(idx, sizes_whose_product_wraps_are_refused) {
    /* 111620 * 429509837 * 384773 = 2^64 + 4: wrapped, four bytes of pixels
     * passed for 111620 images of 429509837x384773. */
    const uint8_t raw[20] = {0,    0,    8,    3,    0,    1,    0xb4, 0x04, 0x19, 0x99,
                             0xcc, 0xcd, 0x00, 0x05, 0xdf, 0x05, 1,    2,    3,    4};
    lsuv_batch b = {0};
    cr_assert_eq(lsuv_idx_parse("d.idx", raw, sizeof raw, 0, &b), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "d.idx: 111620 images of 429509837x384773"), "%s",
              lsuv_error_message());
    cr_assert_null(b.data);
}

Test(input, directories_and_fifos_are_refused, .timeout = 30) {
    lsuv_net *net = net_of(1, 2, 2, 1);
    char dir[256], fifo[300];
    snprintf(dir, sizeof dir, "%s/input-dir-%d", LSUV_TEST_TMP, (int)getpid());
    cr_assert_eq(mkdir(dir, 0755), 0);
    char spec[320];
    snprintf(spec, sizeof spec, "npy:%s", dir);
    lsuv_input_options o = {.spec = spec};
    lsuv_batch b;
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_ERROR_IO);
    cr_assert(strstr(lsuv_error_message(), "is a directory"), "%s", lsuv_error_message());
    /* A FIFO with no writer would block a plain open for ever. */
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    snprintf(spec, sizeof spec, "idx:%s", fifo);
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_ERROR_IO);
    cr_assert(strstr(lsuv_error_message(), "not a regular file (a FIFO)"), "%s",
              lsuv_error_message());
    unlink(fifo);
    rmdir(dir);
    lsuv_net_destroy(net);
}

/* @START: the same samples a longer batch holds from START on, for the file
 * readers and the synthetic stream alike. */
Test(input, start_takes_the_samples_after_it) {
    const char *specs[][2] = {{"idx:" FASHION_TRAIN, "idx:" FASHION_TRAIN "@8"},
                              {"synthetic", "synthetic@8"}};
    lsuv_net *net = net_of(1, 28, 28, 16);
    for (int i = 0; i < 2; ++i) {
        lsuv_batch whole, tail;
        lsuv_input_options o = {.spec = specs[i][0], .seed = 5};
        cr_assert_eq(lsuv_input_load(&o, net, &whole), LSUV_OK, "%s", lsuv_error_message());
        o = (lsuv_input_options){.spec = specs[i][1], .seed = 5, .batch = 8};
        cr_assert_eq(lsuv_input_load(&o, net, &tail), LSUV_OK, "%s", lsuv_error_message());
        cr_assert_eq(tail.n, 8);
        cr_assert(memcmp(tail.data, whole.data + 8 * 784, 8 * 784 * sizeof(float)) == 0,
                  "%s: samples 8..15", specs[i][1]);
        cr_assert(memcmp(tail.data, whole.data, 784 * sizeof(float)) != 0, "not samples 0..7");
        lsuv_batch_free(&whole);
        lsuv_batch_free(&tail);
    }
    lsuv_batch b;
    lsuv_input_options o = {.spec = "idx:" FASHION_TRAIN "@59995", .batch = 8};
    cr_assert_eq(lsuv_input_load(&o, net, &b), LSUV_ERROR_INVALID);
    cr_assert(strstr(lsuv_error_message(), "holds 5 samples") &&
                  strstr(lsuv_error_message(), "from sample 59995"),
              "%s", lsuv_error_message());
    lsuv_net_destroy(net);
}

Test(input, source_specs_split_at_a_trailing_start) {
    lsuv_input_source s;
    cr_assert_eq(lsuv_input_source_parse("idx:a@b/c.gz@12", &s), LSUV_OK);
    cr_assert(s.kind == LSUV_INPUT_IDX && strcmp(s.path, "a@b/c.gz") == 0 && s.start == 12);
    cr_assert_eq(lsuv_input_source_parse("npy:x@", &s), LSUV_OK);
    cr_assert(s.kind == LSUV_INPUT_NPY && strcmp(s.path, "x@") == 0 && s.start == 0,
              "an @ without digits is the path's");
    cr_assert_eq(lsuv_input_source_parse("synthetic@7", &s), LSUV_OK);
    cr_assert(s.kind == LSUV_INPUT_SYNTHETIC && s.path[0] == '\0' && s.start == 7);
    const char *bad[] = {"idx:@5", "synthetic@x", "synthetics", "idx:f@4294967296", "png:x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i)
        cr_assert_eq(lsuv_input_source_parse(bad[i], &s), LSUV_ERROR_INVALID, "%s", bad[i]);
}
