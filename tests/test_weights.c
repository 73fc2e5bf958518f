/* Initial weights against their closed-form moments; weights files round
 * trip exactly and refuse what does not fit. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "lsuv/net.h"
#include "lsuv/weights.h"

#define FASTAI LSUV_SOURCE_DIR "/nets/fastai-07a.cfg"

static lsuv_net *load_net(const char *path) {
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_load(path, NULL, &net), LSUV_OK, "%s", lsuv_error_message());
    return net;
}

static lsuv_net *parse_net(const char *text) {
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_parse("t.cfg", text, strlen(text), NULL, &net), LSUV_OK, "%s",
                 lsuv_error_message());
    return net;
}

static lsuv_weights *init(const lsuv_net *net, lsuv_init scheme, uint64_t seed) {
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_weights_init(net, scheme, seed, &w), LSUV_OK, "%s", lsuv_error_message());
    return w;
}

static void moments(const float *x, uint64_t n, double *mean, double *std) {
    double s = 0, ss = 0;
    for (uint64_t i = 0; i < n; ++i) s += x[i];
    *mean = s / (double)n;
    for (uint64_t i = 0; i < n; ++i) ss += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(ss / (double)(n - 1));
}

/* Sample std within 5 standard errors (1/sqrt(2n) relative) of want, mean
 * within 5 standard errors of 0. */
static void assert_spread(const lsuv_layer_params *p, double want_std, const char *what) {
    double mean, std;
    moments(p->weight, p->weight_count, &mean, &std);
    double n = (double)p->weight_count;
    cr_assert(fabs(std / want_std - 1) < 5 / sqrt(2 * n), "%s: std %g, want %g (n=%g)", what, std,
              want_std, n);
    cr_assert(fabs(mean) < 5 * want_std / sqrt(n), "%s: mean %g", what, mean);
    for (uint32_t i = 0; i < p->bias_count; ++i) cr_assert_eq(p->bias[i], 0.0f);
}

Test(init, kaiming_normal_uses_the_activation_gain) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *w = init(net, LSUV_INIT_KAIMING, 0);
    assert_spread(&w->layers[4], sqrt(2.0 / 576), "conv 64x64x3x3, relu"); /* gain sqrt 2 */
    assert_spread(&w->layers[3], sqrt(2.0 / 288), "conv 64x32x3x3, relu");
    assert_spread(&w->layers[6], 1.0 / 8.0, "connected 10x64, linear"); /* gain 1 */
    cr_assert_null(w->layers[5].weight, "avgpool has no weights");
    cr_assert(w->layers[0].has_sub && w->layers[0].sub == 0.0f, "sub from the cfg");
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(init, kaiming_uniform_and_darknet) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *w = init(net, LSUV_INIT_KAIMING_UNIFORM, 3);
    double bound = sqrt(2.0) * sqrt(3.0 / 576);
    for (uint64_t i = 0; i < w->layers[4].weight_count; ++i)
        cr_assert_leq(fabs(w->layers[4].weight[i]), bound);
    assert_spread(&w->layers[4], bound / sqrt(3.0), "uniform: std = bound/sqrt(3)");
    lsuv_weights_destroy(w);

    /* darknet: convolutions normal with std sqrt(2/fan_in), connected
     * uniform on +-sqrt(2/fan_in). */
    w = init(net, LSUV_INIT_DARKNET, 3);
    assert_spread(&w->layers[4], sqrt(2.0 / 576), "darknet conv");
    double scale = sqrt(2.0 / 64);
    for (uint64_t i = 0; i < w->layers[6].weight_count; ++i)
        cr_assert_leq(fabs(w->layers[6].weight[i]), scale);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* course-v3's init_cnn: kaiming normal with a = 0.1 on the convolutions
 * (not the relu's gain sqrt 2), torch's nn.Linear default on the rest. */
Test(init, fastai_is_init_cnn) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *w = init(net, LSUV_INIT_FASTAI, 5), *k = init(net, LSUV_INIT_KAIMING, 5);
    assert_spread(&w->layers[4], sqrt(2.0 / 1.01 / 576), "conv 64x64x3x3");
    /* The same draws as kaiming's for a relu (gain sqrt 2), scaled by the
     * ratio of the gains: too fine for a sample std to tell apart. */
    for (uint32_t l = 0; l < 5; ++l)
        for (uint64_t i = 0; i < w->layers[l].weight_count; ++i)
            cr_assert_float_eq(w->layers[l].weight[i], k->layers[l].weight[i] / sqrt(1.01), 1e-6,
                               "layer %u, weight %llu", l, (unsigned long long)i);
    lsuv_weights_destroy(k);
    const lsuv_layer_params *fc = &w->layers[6];
    double bound = 1.0 / 8.0, mean, std;
    moments(fc->weight, fc->weight_count, &mean, &std);
    cr_assert(fabs(std / (bound / sqrt(3.0)) - 1) < 5 / sqrt(2 * 640.0), "linear std %g", std);
    bool nonzero = false;
    for (uint32_t i = 0; i < fc->bias_count; ++i) {
        cr_assert_leq(fabs(fc->bias[i]), bound);
        nonzero |= fc->bias[i] != 0.0f;
    }
    for (uint64_t i = 0; i < fc->weight_count; ++i) cr_assert_leq(fabs(fc->weight[i]), bound);
    cr_assert(nonzero, "nn.Linear's bias is drawn, not zero");
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* The Gram matrix of the rows (or columns) of an r x c matrix is the
 * identity within fp32 rounding. */
static void assert_orthonormal(const float *m, uint64_t r, uint64_t c, bool rows) {
    uint64_t k = rows ? r : c, len = rows ? c : r;
    for (uint64_t i = 0; i < k; ++i)
        for (uint64_t j = 0; j <= i; ++j) {
            double dot = 0;
            for (uint64_t t = 0; t < len; ++t)
                dot += (double)(rows ? m[i * c + t] : m[t * c + i]) *
                       (rows ? m[j * c + t] : m[t * c + j]);
            cr_assert(fabs(dot - (i == j)) < 1e-5, "gram[%llu][%llu] = %.8f", (unsigned long long)i,
                      (unsigned long long)j, dot);
        }
}

Test(init, orthonormal_is_orthonormal) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *w = init(net, LSUV_INIT_ORTHONORMAL, 1);
    assert_orthonormal(w->layers[4].weight, 64, 576, true);
    assert_orthonormal(w->layers[6].weight, 10, 64, true);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    /* More filters than inputs: the columns are orthonormal. */
    net = parse_net("[net]\nheight=2\nwidth=2\nchannels=3\n[convolutional]\nfilters=16\nsize=1\n");
    w = init(net, LSUV_INIT_ORTHONORMAL, 1);
    assert_orthonormal(w->layers[0].weight, 16, 3, false);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(init, seeded_and_reproducible) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *a = init(net, LSUV_INIT_KAIMING, 42), *b = init(net, LSUV_INIT_KAIMING, 42),
                 *c = init(net, LSUV_INIT_KAIMING, 43);
    const lsuv_layer_params *pa = &a->layers[2], *pb = &b->layers[2], *pc = &c->layers[2];
    cr_assert(memcmp(pa->weight, pb->weight, pa->weight_count * 4) == 0);
    cr_assert(memcmp(pa->weight, pc->weight, pa->weight_count * 4) != 0);
    lsuv_weights_destroy(a);
    lsuv_weights_destroy(b);
    lsuv_weights_destroy(c);
    lsuv_net_destroy(net);
}

/* A file name in the build tree's test folder, unique to this process. */
static char *temp_path(const char *name) {
    char *p = malloc(strlen(LSUV_TEST_TMP) + strlen(name) + 32);
    sprintf(p, "%s/%d-%s", LSUV_TEST_TMP, (int)getpid(), name);
    return p;
}

static void assert_same(const lsuv_weights *a, const lsuv_weights *b) {
    cr_assert_eq(a->n_layers, b->n_layers);
    for (uint32_t i = 0; i < a->n_layers; ++i) {
        const lsuv_layer_params *x = &a->layers[i], *y = &b->layers[i];
        cr_assert_eq(x->weight_count, y->weight_count);
        if (!x->weight) continue;
        cr_assert(memcmp(x->weight, y->weight, x->weight_count * 4) == 0, "layer %u weights", i);
        cr_assert(memcmp(x->bias, y->bias, x->bias_count * 4) == 0, "layer %u biases", i);
        cr_assert(memcmp(&x->sub, &y->sub, 4) == 0, "layer %u sub", i);
    }
}

static void round_trip(const char *file) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *w = init(net, LSUV_INIT_KAIMING, 7), *back = NULL;
    for (uint32_t i = 0; i < 7; ++i)
        if (w->layers[i].bias) w->layers[i].bias[0] = 0.125f * (float)i; /* not all zero */
    if (strstr(file, "safetensors")) w->layers[1].sub = 0.3f;
    char *path = temp_path(file);
    cr_assert_eq(lsuv_weights_save(net, w, path), LSUV_OK, "%s", lsuv_error_message());
    cr_assert_eq(lsuv_weights_load(net, path, &back), LSUV_OK, "%s", lsuv_error_message());
    assert_same(w, back);
    lsuv_weights_destroy(back);
    lsuv_weights_destroy(w);
    free(path);
    lsuv_net_destroy(net);
}

Test(files, darknet_round_trip_is_exact) {
    round_trip("rt.weights");
}

Test(files, safetensors_round_trip_is_exact) {
    round_trip("rt.safetensors");
}

Test(files, darknet_layout_is_darknets) {
    /* Header 0.2.0, a 64-bit seen, then per layer biases and weights. */
    lsuv_net *net = parse_net("[net]\nheight=1\nwidth=1\nchannels=2\n[connected]\noutput=3\n");
    lsuv_weights *w = init(net, LSUV_INIT_KAIMING, 1);
    char *path = temp_path("layout.weights");
    cr_assert_eq(lsuv_weights_save(net, w, path), LSUV_OK);
    char *data;
    size_t size;
    cr_assert_eq(lsuv_file_read_all(path, 1 << 20, &data, &size), LSUV_OK);
    cr_assert_eq(size, 12 + 8 + (3 + 6) * 4);
    int32_t header[3];
    memcpy(header, data, 12);
    cr_assert(header[0] == 0 && header[1] == 2 && header[2] == 0);
    cr_assert(memcmp(data + 20, w->layers[0].bias, 12) == 0, "biases first");
    cr_assert(memcmp(data + 32, w->layers[0].weight, 24) == 0, "then weights, out x in");
    free(data);
    free(path);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

static void assert_load_fails(const lsuv_net *net, const char *path, const char *f1,
                              const char *f2) {
    lsuv_weights *w = NULL;
    lsuv_status s = lsuv_weights_load(net, path, &w);
    cr_assert_neq(s, LSUV_OK, "%s loaded", path);
    cr_assert_null(w);
    cr_assert(strstr(lsuv_error_message(), f1) && (!f2 || strstr(lsuv_error_message(), f2)),
              "'%s' lacks '%s' or '%s'", lsuv_error_message(), f1, f2 ? f2 : "");
}

Test(files, truncated_and_oversized_darknet_files) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *w = init(net, LSUV_INIT_KAIMING, 7);
    char *path = temp_path("cut.weights");
    cr_assert_eq(lsuv_weights_save(net, w, path), LSUV_OK);
    char *data;
    size_t size;
    cr_assert_eq(lsuv_file_read_all(path, 1 << 24, &data, &size), LSUV_OK);
    cr_assert_eq(lsuv_file_write(path, data, size - 10), LSUV_OK);
    assert_load_fails(net, path, "truncated in layer 6 (connected)", "expected 640 weights");
    char *bigger = malloc(size + 8);
    memcpy(bigger, data, size);
    memset(bigger + size, 0, 8);
    cr_assert_eq(lsuv_file_write(path, bigger, size + 8), LSUV_OK);
    assert_load_fails(net, path, "8 bytes left", NULL);
    free(bigger);
    free(data);
    free(path);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(files, safetensors_shape_and_missing_tensor) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_net *other = parse_net("[net]\nheight=28\nwidth=28\nchannels=1\n"
                                "[convolutional]\nfilters=4\nsize=5\nstride=2\npad=1\n");
    lsuv_weights *w = init(other, LSUV_INIT_KAIMING, 7);
    char *path = temp_path("other.safetensors");
    cr_assert_eq(lsuv_weights_save(other, w, path), LSUV_OK);
    assert_load_fails(net, path, "layers.0.weight",
                      "expected shape [8, 1, 5, 5], found [4, 1, 5, 5]");
    lsuv_weights_destroy(w);
    /* The first layer fits; the second is missing. */
    lsuv_net *one = parse_net("[net]\nheight=28\nwidth=28\nchannels=1\n"
                              "[convolutional]\nfilters=8\nsize=5\nstride=2\npad=1\nsub=0\n");
    w = init(one, LSUV_INIT_KAIMING, 7);
    cr_assert_eq(lsuv_weights_save(one, w, path), LSUV_OK);
    assert_load_fails(net, path, "no tensor layers.1.weight", NULL);
    lsuv_weights_destroy(w);
    free(path);
    lsuv_net_destroy(one);
    lsuv_net_destroy(other);
    lsuv_net_destroy(net);
}

Test(files, darknet_format_cannot_hold_sub) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *w = init(net, LSUV_INIT_KAIMING, 7);
    w->layers[2].sub = 0.5f;
    char *path = temp_path("sub.weights");
    cr_assert_eq(lsuv_weights_save(net, w, path), LSUV_ERROR_INVALID);
    cr_assert(strstr(lsuv_error_message(), ".safetensors"), "%s", lsuv_error_message());
    cr_assert_neq(access(path, F_OK), 0, "nothing was written");
    cr_assert_eq(lsuv_weights_save(net, w, "/tmp/x.pt"), LSUV_ERROR_INVALID);
    free(path);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

Test(files, writes_are_atomic) {
    lsuv_net *net = load_net(FASTAI);
    lsuv_weights *w = init(net, LSUV_INIT_KAIMING, 7);
    cr_assert_eq(lsuv_weights_save(net, w, "/nonexistent-dir/w.safetensors"), LSUV_ERROR_IO);
    char *path = temp_path("atomic.safetensors");
    cr_assert_eq(lsuv_weights_save(net, w, path), LSUV_OK);
    /* No temporary file is left beside the result. */
    DIR *d = opendir(LSUV_TEST_TMP);
    struct dirent *e;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%d-atomic.safetensors.tmp-", (int)getpid());
    while ((e = readdir(d)))
        cr_assert_null(strstr(e->d_name, prefix), "left behind: %s", e->d_name);
    closedir(d);
    free(path);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* A connected layer of 3 outputs from 2 inputs: weight [3, 2], bias [3]. */
#define SMALL_NET "[net]\nheight=1\nwidth=1\nchannels=2\n[connected]\noutput=3\n"

/* A .safetensors file of the JSON header and data_size bytes of data whose
 * float k is k + 1; parsed for the small network. */
static lsuv_status parse_st(const char *json, size_t data_size, lsuv_weights **w) {
    lsuv_net *net = parse_net(SMALL_NET);
    uint64_t n = strlen(json);
    uint8_t *buf = malloc(8 + n + data_size);
    memcpy(buf, &n, 8);
    memcpy(buf + 8, json, n);
    for (size_t k = 0; k < data_size / 4; ++k) {
        float v = (float)(k + 1);
        memcpy(buf + 8 + n + 4 * k, &v, 4);
    }
    lsuv_status s = lsuv_weights_parse_safetensors(net, "t.safetensors", buf, 8 + n + data_size, w);
    free(buf);
    lsuv_net_destroy(net);
    return s;
}

#define ST_W(b, e)                                                                                 \
    "\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[" b "," e "]}"
#define ST_B(b, e)                                                                                 \
    "\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[" b "," e "]}"

static void assert_st_fails(const char *json, size_t data_size, const char *want) {
    lsuv_weights *w = NULL;
    cr_assert_eq(parse_st(json, data_size, &w), LSUV_ERROR_PARSE, "%s loaded", json);
    cr_assert_null(w);
    cr_assert(strstr(lsuv_error_message(), want), "'%s' lacks '%s'", lsuv_error_message(), want);
}

Test(files, safetensors_data_must_tile_the_buffer) {
    lsuv_weights *w = NULL;
    cr_assert_eq(parse_st("{" ST_B("24", "36") "," ST_W("0", "24") "}", 36, &w), LSUV_OK, "%s",
                 lsuv_error_message());
    cr_assert(w->layers[0].weight[5] == 6.0f && w->layers[0].bias[0] == 7.0f);
    lsuv_weights_destroy(w);
    /* The bias reading the weight's last three floats. */
    assert_st_fails("{" ST_W("0", "24") "," ST_B("12", "24") "}", 24,
                    "t.safetensors: tensor layers.0.bias: data_offsets [12, 24] overlap those of "
                    "tensor layers.0.weight");
    /* The second weight, which would never be read. */
    assert_st_fails("{" ST_W("0", "24") "," ST_B("24", "36") "," ST_W("36", "60") "}", 60,
                    "t.safetensors: tensor layers.0.weight appears twice");
    assert_st_fails("{" ST_W("0", "24") "," ST_B("24", "36") "}", 40,
                    "t.safetensors: 4 bytes after the data of the last tensor, layers.0.bias");
    assert_st_fails("{" ST_W("4", "28") "," ST_B("28", "40") "}", 40,
                    "t.safetensors: tensor layers.0.weight: the 4 bytes before its data");
    assert_st_fails("{\"__metadata__\":{}}", 4, "t.safetensors: 4 bytes after the data");
}

Test(files, non_finite_weights_are_refused) {
    /* safetensors: float k of the data is k + 1, but for the fifth. */
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const char *name[3] = {"nan", "inf", "-inf"};
    lsuv_net *net = parse_net(SMALL_NET);
    const char *json = "{" ST_W("0", "24") "," ST_B("24", "36") "}";
    uint64_t n = strlen(json);
    uint8_t buf[256];
    memcpy(buf, &n, 8);
    memcpy(buf + 8, json, n);
    for (int k = 0; k < 3; ++k) {
        for (int i = 0; i < 9; ++i) {
            float v = i == 4 ? bad[k] : (float)(i + 1);
            memcpy(buf + 8 + n + 4 * i, &v, 4);
        }
        lsuv_weights *w = NULL;
        cr_assert_eq(lsuv_weights_parse_safetensors(net, "t.safetensors", buf, 8 + n + 36, &w),
                     LSUV_ERROR_PARSE);
        cr_assert_null(w);
        char want[96];
        snprintf(want, sizeof want, "t.safetensors: tensor layers.0.weight: element 4 is %s;",
                 name[k]);
        cr_assert(strstr(lsuv_error_message(), want), "'%s' lacks '%s'", lsuv_error_message(),
                  want);
    }
    /* darknet: header 0.2.0, a 64-bit seen, 3 biases and 6 weights. */
    uint8_t dk[20 + 36] = {0, 0, 0, 0, 2};
    for (int i = 0; i < 9; ++i) {
        float v = i == 5 ? INFINITY : 0.5f;
        memcpy(dk + 20 + 4 * i, &v, 4);
    }
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_weights_parse_darknet(net, "t.weights", dk, sizeof dk, &w), LSUV_ERROR_PARSE);
    cr_assert_null(w);
    cr_assert(strstr(lsuv_error_message(), "t.weights: layer 0 (connected): weights[2] is inf;"),
              "%s", lsuv_error_message());
    lsuv_net_destroy(net);
}
