/* The .cfg dialect and shapes, against darknet's own files and counts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsuv/net.h"
#include "lsuv/weights.h"
#include "net/cfg.h"
#include "support/nets.h"

static lsuv_net *load(const char *path, bool strip_bn) {
    lsuv_net_options o = {.strip_bn = strip_bn};
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_load(path, &o, &net);
    cr_assert_eq(s, LSUV_OK, "%s: %s", path, lsuv_error_message());
    return net;
}

static lsuv_net *parse(const char *text) {
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_parse("t.cfg", text, strlen(text), NULL, &net);
    cr_assert_eq(s, LSUV_OK, "%s", lsuv_error_message());
    return net;
}

/* Parsing must fail with a message that contains each of the fragments. */
static void parse_fails(const char *text, const char *fragment, const char *fragment2) {
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_parse("t.cfg", text, strlen(text), NULL, &net);
    cr_assert_eq(s, LSUV_ERROR_PARSE, "accepted: %s", text);
    cr_assert_null(net);
    cr_assert(strstr(lsuv_error_message(), fragment), "'%s' lacks '%s'", lsuv_error_message(),
              fragment);
    if (fragment2)
        cr_assert(strstr(lsuv_error_message(), fragment2), "'%s' lacks '%s'", lsuv_error_message(),
                  fragment2);
}

static void assert_net(const char *file, bool strip, uint64_t params, lsuv_shape out) {
    lsuv_net *net = load(file, strip);
    const lsuv_layer *last = &net->layers[net->n_layers - 1];
    cr_assert_eq(net->params, params, "%s: %llu parameters", file, (unsigned long long)net->params);
    cr_assert(last->out.c == out.c && last->out.h == out.h && last->out.w == out.w,
              "%s: output %ux%ux%u", file, last->out.c, last->out.h, last->out.w);
    lsuv_net_destroy(net);
}

/* The repository's own cfgs of the standard architectures: the parameter
 * counts are the papers' layer sizes summed by hand, and darknet's README
 * gives the same figures for its files. */
Test(nets, alexnet) {
    /* conv 96x3x11x11, 256x96x5x5, 384x256x3x3, 384x384x3x3, 256x384x3x3 and
     * connected 9216->4096->4096->1000, each with its biases. */
    uint64_t params = 96 * (3 * 121 + 1) + 256 * (96 * 25 + 1) + 384 * (256 * 9 + 1) +
                      384 * (384 * 9 + 1) + 256 * (384 * 9 + 1) + 4096 * (9216 + 1) +
                      4096 * (4096 + 1) + 1000 * (4096 + 1);
    cr_assert_eq(params, 62378344);
    assert_net(NETS "alexnet.cfg", false, params, (lsuv_shape){1000, 1, 1});
}
Test(nets, vgg16) {
    /* Thirteen 3x3 convolutions 3-64-64-128-128-256x3-512x6, then
     * 25088->4096->4096->1000. */
    static const unsigned ch[] = {3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
    uint64_t params = 0;
    for (unsigned i = 0; i < 13; ++i) params += (uint64_t)ch[i + 1] * (ch[i] * 9 + 1);
    params += 4096ull * (512 * 7 * 7 + 1) + 4096ull * (4096 + 1) + 1000ull * (4096 + 1);
    cr_assert_eq(params, 138357544);
    assert_net(NETS "vgg-16.cfg", false, params, (lsuv_shape){1000, 1, 1});
}
Test(nets, jnet_conv) {
    /* Six blocks of two 3x3 convolutions, 32 to 1024 filters. */
    uint64_t params = 0;
    for (unsigned in = 3, f = 32; f <= 1024; in = f, f *= 2)
        params += f * (in * 9 + 1) + f * (f * 9 + 1);
    cr_assert_eq(params, 18870048);
    assert_net(NETS "jnet-conv.cfg", false, params, (lsuv_shape){1024, 1, 1});
}

/* darknet's own files, where LSUV_DARKNET_CFG_DIR names them; the expected
 * figures are darknet's, from its README. */
Test(darknet, alexnet) {
    assert_net(darknet_cfg("alexnet.cfg"), false, 62378344, (lsuv_shape){1000, 1, 1});
}
Test(darknet, vgg16) {
    assert_net(darknet_cfg("vgg-16.cfg"), false, 138357544, (lsuv_shape){1000, 1, 1});
}
Test(darknet, jnet_conv) {
    assert_net(darknet_cfg("jnet-conv.cfg"), false, 18870048, (lsuv_shape){1024, 1, 1});
}
Test(darknet, cifar_with_bn_stripped) {
    assert_net(darknet_cfg("cifar.cfg"), true, 7678986, (lsuv_shape){10, 1, 1});
}
Test(darknet, darknet_with_bn_stripped) {
    assert_net(darknet_cfg("darknet.cfg"), true, 7317384, (lsuv_shape){1000, 1, 1});
}

/* Our cfgs describe the same networks as darknet's, layer by layer. */
Test(darknet, our_cfgs_match_darknets) {
    static const char *names[] = {"alexnet.cfg", "vgg-16.cfg", "jnet-conv.cfg"};
    for (unsigned n = 0; n < sizeof names / sizeof *names; ++n) {
        char ours[1024];
        snprintf(ours, sizeof ours, NETS "%s", names[n]);
        lsuv_net *a = load(ours, false), *b = load(darknet_cfg(names[n]), false);
        cr_assert_eq(a->n_layers, b->n_layers, "%s", names[n]);
        for (uint32_t i = 0; i < a->n_layers; ++i) {
            const lsuv_layer *x = &a->layers[i], *y = &b->layers[i];
            cr_assert(x->type == y->type && x->activation == y->activation &&
                          x->params == y->params && x->out.c == y->out.c && x->out.h == y->out.h &&
                          x->out.w == y->out.w,
                      "%s: layer %u differs", names[n], i);
        }
        lsuv_net_destroy(a);
        lsuv_net_destroy(b);
    }
}

Test(nets, alexnet_shapes) {
    /* 227 -> conv 11/4 -> 55 -> max 3/2 pad 0 -> 27 -> conv 5 pad -> 27 -> 13 ... */
    lsuv_net *net = load(NETS "alexnet.cfg", false);
    static const lsuv_shape want[] = {{96, 55, 55},  {96, 27, 27},  {256, 27, 27}, {256, 13, 13},
                                      {384, 13, 13}, {384, 13, 13}, {256, 13, 13}, {256, 6, 6}};
    for (unsigned i = 0; i < sizeof want / sizeof *want; ++i)
        cr_assert(net->layers[i].out.c == want[i].c && net->layers[i].out.h == want[i].h &&
                      net->layers[i].out.w == want[i].w,
                  "layer %u: %ux%ux%u", i, net->layers[i].out.c, net->layers[i].out.h,
                  net->layers[i].out.w);
    cr_assert_eq(net->layers[0].activation, LSUV_ACT_RELU);
    cr_assert_eq(net->input.c, 3);
    cr_assert_eq(net->batch, 1);
    lsuv_net_destroy(net);
}

Test(nets, vgg16_crops_first) {
    lsuv_net *net = load(NETS "vgg-16.cfg", false);
    cr_assert_eq(net->layers[0].type, LSUV_LAYER_CROP);
    cr_assert_eq(net->layers[0].out.h, 224);
    cr_assert_eq(net->layers[1].in.w, 224);
    lsuv_net_destroy(net);
}

Test(darknet, batch_norm_kept_unless_stripped) {
    lsuv_net *net = load(darknet_cfg("cifar.cfg"), false);
    cr_assert_eq(net->n_warnings, 0);
    cr_assert(net->layers[0].batch_normalize && !net->layers[0].bn_stripped);
    lsuv_net_destroy(net);
    net = load(darknet_cfg("cifar.cfg"), true);
    cr_assert_gt(net->n_warnings, 0);
    cr_assert(strstr(net->warnings[0], "batch norm stripped"), "%s", net->warnings[0]);
    cr_assert(!net->layers[0].batch_normalize && net->layers[0].bn_stripped);
    lsuv_net_destroy(net);
}

Test(fastai, summary_of_07a) {
    lsuv_net *net = load(LSUV_SOURCE_DIR "/nets/fastai-07a.cfg", false);
    cr_assert_eq(net->batch, 512);
    cr_assert_eq(net->n_layers, 7);
    static const lsuv_shape want[] = {{8, 14, 14}, {16, 7, 7}, {32, 4, 4}, {64, 2, 2},
                                      {64, 1, 1},  {64, 1, 1}, {10, 1, 1}};
    for (unsigned i = 0; i < 7; ++i) {
        const lsuv_layer *l = &net->layers[i];
        cr_assert(l->out.c == want[i].c && l->out.h == want[i].h && l->out.w == want[i].w,
                  "layer %u: %ux%ux%u", i, l->out.c, l->out.h, l->out.w);
        if (i < 5) {
            cr_assert_eq(l->activation, LSUV_ACT_RELU);
            cr_assert(l->has_sub && l->sub == 0.0f && l->lsuv && l->stride == 2);
            cr_assert_eq(l->padding, l->size / 2);
        }
    }
    cr_assert_eq(net->layers[0].size, 5);
    cr_assert_not(net->layers[6].lsuv, "the classifier is left out of LSUV");
    cr_assert_eq(net->layers[6].activation, LSUV_ACT_LINEAR);
    /* 8*25+8 + 16*72+16 + 32*144+32 + 64*288+64 + 64*576+64 + 64*10+10 */
    cr_assert_eq(net->params, 62090);
    cr_assert_eq(net->n_warnings, 0);
    lsuv_net_destroy(net);
}

Test(dialect, whitespace_comments_crlf_and_aliases) {
    lsuv_net *net = parse("# a comment\r\n"
                          "[network]\r\n"
                          " hei ght = 8 \r\n"
                          "width=8\r\nchannels=\t2\r\n"
                          "; another comment\r\n"
                          "\r\n"
                          "[conv]\r\n"
                          "filters = 4\r\nsize=3\r\npad=1\r\nactivation=leaky\r\n"
                          "[max]\r\n"
                          "[conn]\r\noutput=3\r\n");
    cr_assert_eq(net->input.h, 8, "whitespace inside a key is dropped");
    cr_assert_eq(net->n_layers, 3);
    const lsuv_layer *conv = &net->layers[0];
    cr_assert_eq(conv->type, LSUV_LAYER_CONVOLUTIONAL);
    cr_assert(conv->out.c == 4 && conv->out.h == 8 && conv->out.w == 8);
    cr_assert_float_eq(conv->slope, 0.1f, 1e-7, "leaky's slope is 0.1");
    /* maxpool: stride 1, size = stride, padding = size - 1: shape kept. */
    cr_assert_eq(net->layers[1].out.h, 8);
    cr_assert_eq(net->layers[2].type, LSUV_LAYER_CONNECTED);
    cr_assert_eq(net->layers[2].activation, LSUV_ACT_LOGISTIC, "darknet's default");
    cr_assert_eq(net->layers[2].params, 4 * 8 * 8 * 3 + 3);
    lsuv_net_destroy(net);
}

Test(dialect, first_duplicate_wins_with_a_warning) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=1\n"
                          "[convolutional]\nfilters=2\nfilters=7\nsize=1\nactivation=linear\n");
    cr_assert_eq(net->layers[0].filters, 2);
    cr_assert_eq(net->n_warnings, 1);
    cr_assert(strstr(net->warnings[0], "t.cfg:7:") && strstr(net->warnings[0], "first value"), "%s",
              net->warnings[0]);
    lsuv_net_destroy(net);
}

Test(dialect, unknown_key_is_a_warning) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=1\nlearning_rate=0.1\n"
                          "[convolutional]\nfilters=2\nsize=1\nfilterz=3\nactivation=relu\n");
    cr_assert_eq(net->n_warnings, 1, "training keys are known; filterz is not");
    cr_assert(strstr(net->warnings[0], "t.cfg:9:") && strstr(net->warnings[0], "filterz"), "%s",
              net->warnings[0]);
    lsuv_net_destroy(net);
}

Test(dialect, fastai_extension_keys) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=1\n"
                          "[convolutional]\nfilters=2\nsize=1\nactivation=relu\nleak=0.2\n"
                          "sub=0.4\nmaxv=6\nlsuv=0\n");
    const lsuv_layer *l = &net->layers[0];
    cr_assert_eq(l->activation, LSUV_ACT_LEAKY, "relu with a leak is leaky");
    cr_assert_float_eq(l->slope, 0.2f, 1e-7);
    cr_assert_float_eq(l->sub, 0.4f, 1e-7);
    cr_assert_float_eq(l->maxv, 6.0f, 1e-7);
    cr_assert_not(l->lsuv);
    lsuv_net_destroy(net);
}

Test(dialect, errors_name_file_line_and_text) {
    const char *head = "[net]\nheight=8\nwidth=8\nchannels=1\n";
    char text[512];
    struct {
        const char *body, *fragment, *fragment2;
    } cases[] = {
        {"[convolutional]\nfilters=abc\n", "t.cfg:6:", "filters=abc"},
        {"[convolutional]\nfilters=0\n", "t.cfg:6:", "from 1"},
        {"[convolutional]\nsize=3\nactivation=sigmoidal\n", "t.cfg:7:", "unknown activation"},
        {"[convolutional]\nsize\n", "t.cfg:6:", "expected key=value"},
        {"[frobnicate]\n", "t.cfg:5:", "unknown section"},
        {"[lstm]\noutput=4\n", "t.cfg:5: [lstm] is a recurrent layer",
         "recurrent layers (rnn, gru, crnn, lstm) are not supported"},
        {"[deconvolutional]\n", "layer type [deconvolutional] at line 5 is not supported yet",
         NULL},
        {"[convolutional]\nsize=9\n", "t.cfg:5:", "empty output"},
        {"[maxpool]\nsize=9\npadding=0\n", "t.cfg:5:", "empty output"},
        {"[crop]\ncrop_height=9\ncrop_width=2\n", "t.cfg:5:", "does not fit"},
        {"[convolutional]\nfilters=3\ngroups=2\n", "t.cfg:5:", "groups=2"},
        {"[convolutional]\nleak=0.1\nactivation=tanh\n", "t.cfg:6:", "leak"},
        {"[convolutional]\nsize=1\nbatch_normalize=2\n", "t.cfg:7:", "batch_normalize"},
        {"[net]\n", "t.cfg:5:", "only the first section"},
        {"[convolutional\n", "t.cfg:5:", "section header"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; ++i) {
        snprintf(text, sizeof text, "%s%s", head, cases[i].body);
        parse_fails(text, cases[i].fragment, cases[i].fragment2);
    }
    parse_fails("filters=3\n[net]\n", "t.cfg:1:", "before the first section");
    parse_fails("[convolutional]\n", "t.cfg:1:", "must be [net]");
    parse_fails("[net]\nbatch=2\n[convolutional]\n", "t.cfg:1:", "no input shape");
    parse_fails("[net]\nheight=2\nwidth=2\nchannels=1\n", "t.cfg", "no layer");
    parse_fails("", "t.cfg", "no sections");
}

Test(dialect, nul_bytes_are_refused) {
    lsuv_net *net = NULL;
    const char text[] = "[net]\nheight=2\0\nwidth=2\n";
    cr_assert_eq(lsuv_net_parse("t.cfg", text, sizeof text - 1, NULL, &net), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "t.cfg:2:"), "%s", lsuv_error_message());
}

Test(dialect, missing_file) {
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_load("/nonexistent/x.cfg", NULL, &net), LSUV_ERROR_IO);
    cr_assert(strstr(lsuv_error_message(), "/nonexistent/x.cfg"), "%s", lsuv_error_message());
}

Test(dialect, batch_is_divided_by_subdivisions) {
    /* darknet: net->batch = batch / subdivisions. */
    lsuv_net *net = parse("[net]\nbatch=128\nsubdivisions=4\nheight=2\nwidth=2\nchannels=1\n"
                          "[maxpool]\n");
    cr_assert_eq(net->batch, 32);
    lsuv_net_destroy(net);
    net = parse("[net]\nbatch=10\nsubdivisions=3\nheight=2\nwidth=2\nchannels=1\n[maxpool]\n");
    cr_assert_eq(net->batch, 3, "integer division, as darknet");
    lsuv_net_destroy(net);
    parse_fails("[net]\nbatch=8\nsubdivisions=0\nheight=2\nwidth=2\nchannels=1\n[maxpool]\n",
                "t.cfg:3:", "from 1");
    parse_fails("[net]\nbatch=4\nsubdivisions=8\nheight=2\nwidth=2\nchannels=1\n[maxpool]\n",
                "t.cfg:3:", "subdivisions=8");
}

Test(dialect, crop_noadjust) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=1\n"
                          "[crop]\ncrop_height=2\ncrop_width=2\n"
                          "[crop]\ncrop_height=2\ncrop_width=2\nnoadjust=1\n");
    cr_assert_not(net->layers[0].crop_noadjust, "darknet's default scales to [-1, 1]");
    cr_assert(net->layers[1].crop_noadjust);
    cr_assert_eq(net->n_warnings, 0);
    lsuv_net_destroy(net);
    parse_fails("[net]\nheight=4\nwidth=4\nchannels=1\n[crop]\nnoadjust=2\n",
                "t.cfg:6:", "noadjust=2");
}

Test(dialect, loggy_and_stair_are_read) {
    lsuv_net *net = parse("[net]\nheight=1\nwidth=1\nchannels=1\n"
                          "[connected]\noutput=1\nactivation=loggy\n"
                          "[connected]\noutput=1\nactivation=stair\n");
    cr_assert_eq(net->layers[0].activation, LSUV_ACT_LOGGY);
    cr_assert_eq(net->layers[1].activation, LSUV_ACT_STAIR);
    cr_assert_str_eq(lsuv_activation_name(LSUV_ACT_STAIR), "stair");
    lsuv_net_destroy(net);
}

Test(dialect, counts_that_overflow_are_refused) {
    /* 2^20 channels x 4096^2 x 2^20 filters is 2^64 weights: 0 once wrapped. */
    parse_fails("[net]\nheight=1\nwidth=1\nchannels=1048576\n"
                "[convolutional]\nfilters=1048576\nsize=4096\npadding=2048\nactivation=linear\n",
                "t.cfg:5:", "over 2^32 weights");
    /* 2^16 x (2^16 + 1): over the cap without wrapping. */
    parse_fails("[net]\nheight=1\nwidth=1\nchannels=65536\n"
                "[connected]\noutput=65537\nactivation=linear\n",
                "t.cfg:5:", "over 2^32 weights");
    /* 2^21 values per sample x 2^12 samples, at the input and at a layer. */
    parse_fails("[net]\nbatch=4096\nheight=1024\nwidth=1024\nchannels=2\n[maxpool]\n",
                "t.cfg:1:", "x 4096 samples");
    parse_fails("[net]\nbatch=4096\nheight=1\nwidth=1\nchannels=1\n"
                "[connected]\noutput=2097152\nactivation=linear\n",
                "t.cfg:6:", "layer 0's output");
    /* The largest that fits is taken: 2^16 x 2^16 weights. */
    lsuv_net *net = parse("[net]\nheight=1\nwidth=1\nchannels=65536\n"
                          "[connected]\noutput=65536\nactivation=linear\n");
    cr_assert_eq(net->params, (1ull << 32) + 65536);
    lsuv_net_destroy(net);
}

Test(dialect, duplicate_check_is_linear_in_keys) {
    /* 50,000 distinct keys in one section, then three repeated: each must be
     * found (first value wins, warned at its line) in a bounded number of
     * comparisons per key; comparing with every earlier key took 1.25e9
     * comparisons and 15 s. */
    enum { N = 50000 };
    size_t cap = (size_t)N * 16 + 256, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "[net]\n");
    for (int i = 0; i < N; ++i) n += (size_t)snprintf(text + n, cap - n, "k%d=%d\n", i, i);
    n += (size_t)snprintf(text + n, cap - n, "k7=x\nk49999=y\nk0=z\n[maxpool]\nk7=1\n");
    cfg_file cfg;
    cfg_warnings w = {0};
    cr_assert_eq(cfg_read("t.cfg", text, n, &cfg, &w), LSUV_OK, "%s", lsuv_error_message());
    cr_assert_eq(cfg.n_sections, 2);
    cr_assert_eq(cfg.sections[0].n_options, N);
    cr_assert_str_eq(cfg.sections[0].options[7].value, "7", "the first value wins");
    cr_assert_eq(cfg.sections[1].n_options, 1, "a new section has its own keys");
    cr_assert_eq(w.count, 3);
    cr_assert(strstr(w.text[0], "t.cfg:50002:") && strstr(w.text[0], "already set at line 9"), "%s",
              w.text[0]);
    cr_assert(strstr(w.text[1], "t.cfg:50003:") && strstr(w.text[1], "line 50001"), "%s",
              w.text[1]);
    cr_assert(strstr(w.text[2], "t.cfg:50004:") && strstr(w.text[2], "line 2"), "%s", w.text[2]);
    cr_assert_leq(cfg.key_compares, 4ull * N, "%llu comparisons for %d keys",
                  (unsigned long long)cfg.key_compares, N);
    cfg_free(&cfg);
    for (uint32_t i = 0; i < w.count; ++i) free(w.text[i]);
    free(w.text);
    free(text);
}

Test(dialect, binary_xnor_and_dot_are_named_as_ignored) {
    lsuv_net *net = parse("[net]\nheight=2\nwidth=2\nchannels=1\n"
                          "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
                          "binary=1\nxnor=1\ndot=0.5\nflipped=0\n"
                          "[convolutional]\nfilters=2\nsize=1\nactivation=linear\nbinary=0\n");
    cr_assert_eq(net->n_warnings, 3, "binary=0 changes nothing");
    static const char *want[][2] = {
        {"t.cfg:9:", "'binary=1'"}, {"t.cfg:10:", "'xnor=1'"}, {"t.cfg:11:", "'dot=0.5'"}};
    for (unsigned i = 0; i < 3; ++i)
        cr_assert(strstr(net->warnings[i], want[i][0]) && strstr(net->warnings[i], want[i][1]) &&
                      strstr(net->warnings[i], "ignored"),
                  "%s", net->warnings[i]);
    cr_assert_not(net->layers[0].flipped);
    lsuv_net_destroy(net);
    parse_fails("[net]\nheight=2\nwidth=2\nchannels=2\n"
                "[convolutional]\nfilters=2\nsize=1\ngroups=2\nflipped=1\n",
                "t.cfg:9:", "groups=2");
}

/* darknet's load_convolutional_weights transposes a flipped=1 layer's
 * weights: the file holds them fan-in x filters. */
Test(weights, flipped_layers_are_stored_transposed) {
    const char *text = "[net]\nheight=3\nwidth=3\nchannels=2\n"
                       "[convolutional]\nfilters=3\nsize=1\nactivation=linear\nflipped=1\n";
    lsuv_net *net = parse(text);
    cr_assert(net->layers[0].flipped);
    /* header 0.2.0, 64-bit seen, 3 biases, then file[k * 3 + f] = 10 f + k. */
    uint8_t file[20 + 9 * 4];
    int32_t header[3] = {0, 2, 0};
    uint64_t seen = 0;
    float values[9] = {1, 2, 3};
    for (int k = 0; k < 2; ++k)
        for (int f = 0; f < 3; ++f) values[3 + k * 3 + f] = (float)(10 * f + k);
    memcpy(file, header, 12);
    memcpy(file + 12, &seen, 8);
    memcpy(file + 20, values, sizeof values);
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_weights_parse_darknet(net, "t.weights", file, sizeof file, &w), LSUV_OK, "%s",
                 lsuv_error_message());
    for (int f = 0; f < 3; ++f)
        for (int k = 0; k < 2; ++k)
            cr_assert_eq(w->layers[0].weight[f * 2 + k], 10 * f + k, "filter %d, input %d: %g", f,
                         k, (double)w->layers[0].weight[f * 2 + k]);
    /* Written back as darknet reads it: the same bytes. */
    char path[256];
    snprintf(path, sizeof path, "%s/%d-flipped.weights", LSUV_TEST_TMP, (int)getpid());
    cr_assert_eq(lsuv_weights_save(net, w, path), LSUV_OK, "%s", lsuv_error_message());
    FILE *fp = fopen(path, "rb");
    uint8_t back[sizeof file + 1];
    size_t n = fp ? fread(back, 1, sizeof back, fp) : 0;
    if (fp) fclose(fp);
    remove(path);
    cr_assert_eq(n, sizeof file);
    cr_assert(memcmp(back + 20, file + 20, sizeof file - 20) == 0, "not written as read");
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* Parameters as the papers count them: the stripped net's weights and
 * biases (batch norm's shift is darknet's bias) plus a batch-norm scale per
 * channel of each layer that had batch norm. */
static uint64_t params_with_bn_scales(const lsuv_net *net) {
    uint64_t p = net->params;
    for (uint32_t i = 0; i < net->n_layers; ++i)
        if (net->layers[i].bn_stripped) p += lsuv_layer_bias_count(&net->layers[i]);
    return p;
}

static void assert_out(const lsuv_net *net, uint32_t i, uint32_t c, uint32_t h, uint32_t w) {
    lsuv_shape s = net->layers[i].out;
    cr_assert(s.c == c && s.h == h && s.w == w, "layer %u: %ux%ux%u, expected %ux%ux%u", i, s.c,
              s.h, s.w, c, h, w);
}

/* He et al. 2015: ResNet-18 has 11.69M parameters (torchvision counts
 * 11,689,512), 1.8 GFLOPs (multiply-adds) at 224x224. */
Test(nets, resnet18) {
    lsuv_net *net = load(LSUV_SOURCE_DIR "/nets/resnet18.cfg", true);
    cr_assert_eq(params_with_bn_scales(net), 11689512, "%llu",
                 (unsigned long long)params_with_bn_scales(net));
    cr_assert_eq(net->params, 11684712);
    cr_assert(net->macs > 1800000000ull && net->macs < 1830000000ull, "%llu",
              (unsigned long long)net->macs);
    assert_out(net, 1, 64, 56, 56); /* after the max pool */
    assert_out(net, net->n_layers - 1, 1000, 1, 1);
    uint32_t shortcuts = 0, projections = 0;
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        shortcuts += l->type == LSUV_LAYER_SHORTCUT;
        /* a projection's input is the block's: a route back past its two convolutions */
        projections += l->type == LSUV_LAYER_ROUTE && l->inputs[0] == (int32_t)i - 3;
    }
    cr_assert_eq(shortcuts, 8);
    cr_assert_eq(projections, 3);
    lsuv_net_destroy(net);
}

/* He et al. 2015, section 4.2: ResNet-20 on CIFAR-10, 0.27M parameters
 * (269,722 with option A shortcuts). */
Test(nets, resnet20_cifar) {
    lsuv_net *net = load(LSUV_SOURCE_DIR "/nets/resnet20-cifar.cfg", true);
    cr_assert_eq(params_with_bn_scales(net), 269722, "%llu",
                 (unsigned long long)params_with_bn_scales(net));
    uint32_t weighted = 0;
    for (uint32_t i = 0; i < net->n_layers; ++i)
        weighted += lsuv_layer_has_weights(&net->layers[i]);
    cr_assert_eq(weighted, 20);
    /* the stages' last outputs, and option A onto a smaller, wider output */
    assert_out(net, 9, 16, 32, 32);
    assert_out(net, 18, 32, 16, 16);
    assert_out(net, 27, 64, 8, 8);
    cr_assert_eq(net->layers[12].type, LSUV_LAYER_SHORTCUT);
    cr_assert_eq(net->layers[12].inputs[1], 9);
    assert_out(net, net->n_layers - 1, 10, 1, 1);
    lsuv_net_destroy(net);
    /* The benchmark's copy without batch norm: the same graph. */
    net = load(LSUV_SOURCE_DIR "/nets/resnet20-bench.cfg", false);
    cr_assert_eq(net->params, 269034);
    cr_assert_eq(net->n_layers, 31);
    lsuv_net_destroy(net);
}

/* The YOLO-style detector's counts, worked out in its file. */
Test(nets, yolo_small) {
    lsuv_net *net = load(LSUV_SOURCE_DIR "/nets/yolo-small.cfg", true);
    cr_assert_eq(net->params, 958346, "%llu", (unsigned long long)net->params);
    cr_assert_eq(params_with_bn_scales(net), 958346 + 1072);
    cr_assert_eq(net->layers[12].type, LSUV_LAYER_YOLO);
    assert_out(net, 12, 21, 10, 10);
    cr_assert_eq(net->layers[16].n_inputs, 2);
    cr_assert(net->layers[16].inputs[0] == 15 && net->layers[16].inputs[1] == 6);
    assert_out(net, 16, 192, 20, 20);
    cr_assert_eq(net->layers[19].type, LSUV_LAYER_YOLO);
    assert_out(net, 19, 21, 20, 20);
    lsuv_net_destroy(net);
}
