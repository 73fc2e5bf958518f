/* Networks as darknet's graphs: [route], [shortcut], [upsample], [reorg] and
 * the detection heads, their shapes and inputs against darknet's layer code
 * worked by hand, and their fp64 reference against closed forms. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsuv/forward.h"
#include "lsuv/net.h"
#include "lsuv/ref.h"
#include "lsuv/weights.h"
#include "support/nets.h"

static lsuv_net *parse(const char *text) {
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_parse("g.cfg", text, strlen(text), NULL, &net);
    cr_assert_eq(s, LSUV_OK, "%s\n%s", lsuv_error_message(), text);
    return net;
}

static void parse_fails(const char *text, const char *fragment, const char *fragment2) {
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_parse("g.cfg", text, strlen(text), NULL, &net);
    cr_assert_eq(s, LSUV_ERROR_PARSE, "accepted: %s", text);
    cr_assert_null(net);
    const char *m = lsuv_error_message();
    cr_assert(strstr(m, fragment), "'%s' lacks '%s'", m, fragment);
    if (fragment2) cr_assert(strstr(m, fragment2), "'%s' lacks '%s'", m, fragment2);
}

static void assert_shape(lsuv_shape s, uint32_t c, uint32_t h, uint32_t w) {
    cr_assert(s.c == c && s.h == h && s.w == w, "%ux%ux%u, expected %ux%ux%u", s.c, s.h, s.w, c, h,
              w);
}

static void assert_inputs(const lsuv_layer *l, uint32_t n, const int32_t *want) {
    cr_assert_eq(l->n_inputs, n, "layer %u reads %u outputs, expected %u", l->index, l->n_inputs,
                 n);
    for (uint32_t k = 0; k < n; ++k)
        cr_assert_eq(l->inputs[k], want[k], "layer %u input %u: %d, expected %d", l->index, k,
                     l->inputs[k], want[k]);
}

/* yolov3-tiny's second head in miniature: layer 4 is the first route's -4,
 * layer 7 concatenates the upsampled 4 with layer 1. */
static const char *const tiny_yolo = "[net]\nheight=8\nwidth=8\nchannels=3\n"
                                     "[convolutional]\nfilters=4\nsize=3\npad=1\n" /* 0: 4x8x8 */
                                     "[maxpool]\nsize=2\nstride=2\n"               /* 1: 4x4x4 */
                                     "[convolutional]\nfilters=8\nsize=3\npad=1\n" /* 2: 8x4x4 */
                                     "[maxpool]\nsize=2\nstride=2\n"               /* 3: 8x2x2 */
                                     "[convolutional]\nfilters=18\nsize=1\n"       /* 4 */
                                     "[yolo]\nmask=0,1\nclasses=4\nnum=3\n"        /* 5 */
                                     "[route]\nlayers = -3\n"                      /* 6: 3 */
                                     "[upsample]\nstride=2\n"                      /* 7: 8x4x4 */
                                     "[route]\nlayers=-1, 1\n"                     /* 8 */
                                     "[convolutional]\nfilters=27\nsize=1\n"       /* 9 */
                                     "[yolo]\nmask=0,1,2\nclasses=4\nnum=3\n";     /* 10 */

Test(graph, routes_resolve_as_darknet) {
    lsuv_net *net = parse(tiny_yolo);
    cr_assert_eq(net->n_layers, 11);
    assert_inputs(&net->layers[0], 1, (int32_t[]){LSUV_NET_INPUT});
    assert_inputs(&net->layers[1], 1, (int32_t[]){0});
    assert_shape(net->layers[5].out, 18, 2, 2); /* 2 boxes x (4 + 1 + 4) */
    assert_inputs(&net->layers[6], 1, (int32_t[]){3});
    assert_shape(net->layers[6].out, 8, 2, 2);
    assert_inputs(&net->layers[7], 1, (int32_t[]){6});
    assert_shape(net->layers[7].out, 8, 4, 4);
    assert_inputs(&net->layers[8], 2, (int32_t[]){7, 1});
    assert_shape(net->layers[8].in, 12, 4, 4);
    assert_shape(net->layers[8].out, 12, 4, 4);
    assert_shape(net->layers[9].in, 12, 4, 4);
    assert_shape(net->layers[10].out, 27, 4, 4);
    cr_assert(!lsuv_net_is_sequential(net));
    cr_assert(!lsuv_layer_is_graph(&net->layers[7]));
    cr_assert(lsuv_layer_is_graph(&net->layers[8]));
    /* Only the convolutions have parameters: 4x3x9+4, 8x4x9+8, 18x8+18, 27x12+27. */
    cr_assert_eq(net->params, 112 + 296 + 162 + 351);
    lsuv_net_destroy(net);
}

Test(graph, route_groups_take_one_slice) {
    lsuv_net *net = parse("[net]\nheight=2\nwidth=2\nchannels=3\n"
                          "[convolutional]\nfilters=4\nsize=1\n"
                          "[convolutional]\nfilters=6\nsize=1\n"
                          "[route]\nlayers=0,1\ngroups=2\ngroup_id=1\n");
    assert_shape(net->layers[2].in, 10, 2, 2);
    assert_shape(net->layers[2].out, 5, 2, 2);
    lsuv_net_destroy(net);
    parse_fails("[net]\nheight=2\nwidth=2\nchannels=3\n[convolutional]\nfilters=3\nsize=1\n"
                "[route]\nlayers=0\ngroups=2\n",
                "g.cfg:", "groups=2 does not divide the 3 channels of layer 0");
    parse_fails("[net]\nheight=2\nwidth=2\nchannels=3\n[convolutional]\nfilters=4\nsize=1\n"
                "[route]\nlayers=0\ngroups=2\ngroup_id=2\n",
                "g.cfg:11: 'group_id=2'", "from 0 to 1");
}

static const char *const two_convs = "[net]\nheight=4\nwidth=4\nchannels=3\n"
                                     "[convolutional]\nfilters=4\nsize=1\n"
                                     "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\n";

static void fails_after(const char *tail, const char *fragment, const char *fragment2) {
    char text[1024];
    snprintf(text, sizeof text, "%s%s", two_convs, tail);
    parse_fails(text, fragment, fragment2);
}

Test(graph, route_errors_name_file_line_and_range) {
    /* The route is layer 2, on line 13: it can read layers 0 and 1. */
    fails_after("[route]\nlayers=-3\n", "g.cfg:14: 'layers=-3': -3 names layer -1",
                "layers 0 to 1, or -1 to -2");
    fails_after("[route]\nlayers=2\n", "g.cfg:14: 'layers=2'", "not an earlier layer");
    fails_after("[route]\nlayers=0,-1\n", "g.cfg:14: 'layers=0,-1': layer 0's output is 4x4x4",
                "layer 1's 4x2x2; expected the same height and width");
    fails_after("[route]\n", "g.cfg:13: [route] has no layers=", NULL);
    fails_after("[route]\nlayers=0,,1\n", "g.cfg:14: 'layers=0,,1': expected integers", NULL);
    fails_after("[route]\nlayers=0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n", "more than 16 values", NULL);
    parse_fails("[net]\nheight=4\nwidth=4\nchannels=3\n[route]\nlayers=-1\n",
                "g.cfg:6: 'layers=-1': [route] is the first layer", NULL);
}

/* darknet's shortcut keeps the previous layer's shape; from= may be larger
 * or smaller by one integer ratio of widths and heights. */
Test(graph, shortcut_shapes_follow_darknet) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=3\n"
                          "[convolutional]\nfilters=4\nsize=1\n"
                          "[convolutional]\nfilters=4\nsize=1\n"
                          "[shortcut]\nfrom=-2\nactivation=leaky\n"
                          "[convolutional]\nfilters=2\nsize=3\nstride=2\npad=1\n"
                          "[shortcut]\nfrom=0\n"
                          "[upsample]\nstride=2\n"
                          "[shortcut]\nfrom=3\nalpha=0.5\nbeta=2\n");
    assert_inputs(&net->layers[2], 2, (int32_t[]){1, 0});
    assert_shape(net->layers[2].out, 4, 4, 4);
    cr_assert_eq(net->layers[2].activation, LSUV_ACT_LEAKY);
    cr_assert_eq(net->layers[4].activation, LSUV_ACT_LINEAR); /* darknet's default here */
    assert_inputs(&net->layers[4], 2, (int32_t[]){3, 0});
    assert_shape(net->layers[4].out, 2, 2, 2);
    assert_shape(net->layers[6].out, 2, 4, 4);
    cr_assert_eq(net->layers[6].alpha, 0.5f);
    cr_assert_eq(net->layers[6].beta, 2.0f);
    cr_assert_eq(net->layers[6].params, 0);
    lsuv_net_destroy(net);
    /* 4x4 from onto 4x2: a width ratio of 1, a height ratio of 2. */
    parse_fails("[net]\nheight=4\nwidth=4\nchannels=1\n[maxpool]\nsize=1\n"
                "[crop]\ncrop_height=2\ncrop_width=4\nnoadjust=1\n[shortcut]\nfrom=0\n",
                "g.cfg:12: 'from=0': layer 0's output 1x4x4 and the previous layer's 1x2x4",
                "one integer ratio");
    parse_fails("[net]\nheight=4\nwidth=4\nchannels=1\n[maxpool]\nsize=1\n[shortcut]\n",
                "g.cfg:7: [shortcut] has no from=", NULL);
    parse_fails("[net]\nheight=4\nwidth=4\nchannels=1\n[maxpool]\nsize=1\n[shortcut]\nfrom=0,0\n",
                "'from=0,0': more than 1 values", NULL);
}

Test(graph, upsample_and_reorg_shapes) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=6\nchannels=8\n"
                          "[upsample]\nstride=3\n"              /* 8x12x18 */
                          "[upsample]\nstride=-2\nscale=0.25\n" /* 8x6x9 */
                          "[reorg]\nstride=1\n"
                          "[maxpool]\nsize=1\n");
    assert_shape(net->layers[0].out, 8, 12, 18);
    assert_shape(net->layers[1].out, 8, 6, 9);
    cr_assert(net->layers[1].reverse);
    cr_assert_eq(net->layers[1].stride, 2);
    cr_assert_eq(net->layers[1].scale, 0.25f);
    lsuv_net_destroy(net);
    net = parse("[net]\nheight=4\nwidth=6\nchannels=8\n[reorg]\nstride=2\n"
                "[reorg]\nstride=2\nreverse=1\n");
    assert_shape(net->layers[0].out, 32, 2, 3);
    assert_shape(net->layers[1].out, 8, 4, 6);
    lsuv_net_destroy(net);
    parse_fails("[net]\nheight=4\nwidth=4\nchannels=1\n[upsample]\nstride=0\n",
                "g.cfg:6: 'stride=0'", NULL);
    parse_fails("[net]\nheight=5\nwidth=4\nchannels=1\n[upsample]\nstride=-2\n",
                "g.cfg:6: 'stride=-2': the 5x4 input", "divisible by 2");
    parse_fails("[net]\nheight=4\nwidth=4\nchannels=2\n[reorg]\nstride=2\nreverse=1\n",
                "g.cfg:5: [reorg] layer 0: input 2x4x4", "divisible by 4");
    parse_fails("[net]\nheight=3\nwidth=4\nchannels=4\n[reorg]\nstride=2\n", "input 4x3x4",
                "height and width by the stride");
    parse_fails("[net]\nheight=4\nwidth=4\nchannels=4\n[reorg]\nflatten=1\n",
                "flatten= is not supported", NULL);
    /* 2^20 x 4096 rows would wrap 32 bits to an empty output. */
    parse_fails("[net]\nheight=1048576\nwidth=1\nchannels=1\n[upsample]\nstride=4096\n",
                "g.cfg:5: [upsample] layer 0 is too large: 1x4294967296x4096", NULL);
}

Test(graph, heads_check_their_input) {
    parse_fails("[net]\nheight=2\nwidth=2\nchannels=17\n[yolo]\nmask=0,1\nclasses=4\nnum=3\n",
                "g.cfg:5: [yolo] layer 0: its input is 17x2x2; expected 18 channels", NULL);
    lsuv_net *net = parse("[net]\nheight=3\nwidth=3\nchannels=125\n"
                          "[region]\nclasses=20\ncoords=4\nnum=5\nsoftmax=1\n");
    assert_shape(net->layers[0].out, 125, 3, 3);
    lsuv_net_destroy(net);
    parse_fails("[net]\nheight=3\nwidth=3\nchannels=120\n[region]\nclasses=20\nnum=5\n",
                "expected 125 channels (num=5 x (coords=4 + 1 + classes=20))", NULL);
    /* yolov1's head: 7 x 7 x ((1 + 4) x 3 + 20) = 1715 values from a connected layer. */
    net = parse("[net]\ninputs=10\n[connected]\noutput=1715\n"
                "[detection]\nclasses=20\ncoords=4\nnum=3\nside=7\n");
    assert_shape(net->layers[1].out, 1715, 1, 1);
    lsuv_net_destroy(net);
    parse_fails("[net]\ninputs=10\n[connected]\noutput=1714\n[detection]\nclasses=20\ncoords=4\n"
                "num=3\nside=7\n",
                "expected 1715 values", NULL);
}

Test(graph, recurrent_layers_stay_refused) {
    static const char *const names[] = {"rnn", "gru", "crnn", "lstm"};
    for (unsigned i = 0; i < 4; ++i) {
        char text[256];
        snprintf(text, sizeof text,
                 "[net]\nheight=2\nwidth=2\nchannels=1\n[maxpool]\nsize=1\n[%s]\n", names[i]);
        char want[96];
        snprintf(want, sizeof want, "g.cfg:7: [%s] is a recurrent layer", names[i]);
        parse_fails(text, want, "recurrent layers (rnn, gru, crnn, lstm) are not supported");
    }
}

/* darknet's own yolov3-tiny.cfg: darknet prints "route 13" for layer 17
 * and "route 19 8" for layer 20; its 13x13 and 26x26 heads see 255 = 3 x
 * (80 + 5) channels. With batch norm stripped, its 8,858,734 stored values
 * (35,434,956 bytes less the 20-byte header, over 4) lose 3 x 3184 of batch
 * norm's scales, means and variances. */
Test(darknet, yolov3_tiny_graph) {
    lsuv_net_options o = {.strip_bn = true};
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_load(darknet_cfg("yolov3-tiny.cfg"), &o, &net);
    cr_assert_eq(s, LSUV_OK, "%s", lsuv_error_message());
    cr_assert_eq(net->n_layers, 24);
    assert_inputs(&net->layers[17], 1, (int32_t[]){13});
    assert_inputs(&net->layers[20], 2, (int32_t[]){19, 8});
    assert_shape(net->layers[20].out, 384, 26, 26);
    assert_shape(net->layers[16].out, 255, 13, 13);
    assert_shape(net->layers[23].out, 255, 26, 26);
    cr_assert_eq(net->params, (35434956 - 20) / 4 - 3 * 3184);
    lsuv_net_destroy(net);
}

/* The last layer's outputs from the reference, for n samples of values. */
static double *ref_run(const lsuv_net *net, const float *values, uint32_t n, uint32_t last) {
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_weights_init(net, LSUV_INIT_KAIMING, 7, &w), LSUV_OK, "%s",
                 lsuv_error_message());
    uint64_t count = (uint64_t)n * net->input.c * net->input.h * net->input.w;
    lsuv_batch b = {n, net->input.c, net->input.h, net->input.w, malloc(count * sizeof(float))};
    memcpy(b.data, values, count * sizeof(float));
    double *out = NULL;
    cr_assert_eq(lsuv_ref_forward(net, w, &b, last, &out), LSUV_OK, "%s", lsuv_error_message());
    free(b.data);
    lsuv_weights_destroy(w);
    return out;
}

static void assert_values(const double *got, const double *want, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i)
        cr_assert_eq(got[i], want[i], "value %u: %g, expected %g", i, got[i], want[i]);
}

static void iota(float *v, uint32_t n, float from) {
    for (uint32_t i = 0; i < n; ++i) v[i] = from + (float)i;
}

/* 4 channels of 2x2 holding 0..15 are, read as darknet's reorg_cpu reads
 * them, one 4x4 channel; reorg takes its 2x2 subsamplings at offsets (0,0),
 * (0,1), (1,0), (1,1) as channels: 0 2 8 10 | 1 3 9 11 | 4 6 12 14 | 5 7
 * 13 15. reverse=1 is the inverse permutation. The second sample is the
 * first plus 16. */
Test(graph_ref, reorg_is_darknets_permutation) {
    static const double fwd[16] = {0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15};
    static const double rev[16] = {0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15};
    float x[32];
    iota(x, 32, 0);
    for (int reverse = 0; reverse < 2; ++reverse) {
        lsuv_net *net =
            parse(reverse ? "[net]\nheight=2\nwidth=2\nchannels=4\n[reorg]\nstride=2\n"
                            "reverse=1\n"
                          : "[net]\nheight=2\nwidth=2\nchannels=4\n[reorg]\nstride=2\n");
        double *y = ref_run(net, x, 2, 0);
        const double *want = reverse ? rev : fwd;
        double second[16];
        for (int i = 0; i < 16; ++i) second[i] = want[i] + 16;
        assert_values(y, want, 16);
        assert_values(y + 16, second, 16);
        free(y);
        lsuv_net_destroy(net);
    }
}

/* Nearest upsampling times scale; stride=-2 sums each 2x2 block of 0..15:
 * 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15. */
Test(graph_ref, upsample_repeats_and_reverse_sums) {
    lsuv_net *net =
        parse("[net]\nheight=2\nwidth=2\nchannels=1\n[upsample]\nstride=2\nscale=0.5\n");
    float x[16] = {1, 2, 3, 4};
    double *y = ref_run(net, x, 1, 0);
    assert_values(y, (double[]){.5, .5, 1, 1, .5, .5, 1, 1, 1.5, 1.5, 2, 2, 1.5, 1.5, 2, 2}, 16);
    free(y);
    lsuv_net_destroy(net);
    net = parse("[net]\nheight=4\nwidth=4\nchannels=1\n[upsample]\nstride=-2\n");
    iota(x, 16, 0);
    y = ref_run(net, x, 1, 0);
    assert_values(y, (double[]){10, 18, 42, 50}, 4);
    free(y);
    lsuv_net_destroy(net);
}

/* Channels x = (1 2 | 3 4): layer 0 is x (a 1x1 maxpool), layer 1 is 10 x. */
static const char *const two_outputs = "[net]\nheight=1\nwidth=2\nchannels=2\n"
                                       "[maxpool]\nsize=1\n"
                                       "[upsample]\nstride=1\nscale=10\n";

static double *after_two_outputs(const char *tail, uint32_t last) {
    char text[512];
    snprintf(text, sizeof text, "%s%s", two_outputs, tail);
    lsuv_net *net = parse(text);
    double *y = ref_run(net, (float[]){1, 2, 3, 4}, 1, last);
    lsuv_net_destroy(net);
    return y;
}

Test(graph_ref, route_concatenates_in_order) {
    double *y = after_two_outputs("[route]\nlayers=1,0\n", 2);
    assert_values(y, (double[]){10, 20, 30, 40, 1, 2, 3, 4}, 8);
    free(y);
    /* groups=2: each input's second channel. */
    y = after_two_outputs("[route]\nlayers=0,-1\ngroups=2\ngroup_id=1\n", 2);
    assert_values(y, (double[]){3, 4, 30, 40}, 4);
    free(y);
}

Test(graph_ref, shortcut_adds_then_activates) {
    /* x + 10x, leaky: all positive. */
    double *y = after_two_outputs("[shortcut]\nfrom=0\nactivation=leaky\n", 2);
    assert_values(y, (double[]){11, 22, 33, 44}, 4);
    free(y);
    /* 0.5 x 10x - 6x = -x, then leaky's slope, 0.1 in float as darknet's. */
    y = after_two_outputs("[shortcut]\nfrom=-2\nalpha=0.5\nbeta=-6\nactivation=leaky\n", 2);
    const double s = 0.1f;
    assert_values(y, (double[]){-s, -2 * s, -3 * s, -4 * s}, 4);
    free(y);
}

/* from= larger: 0..31 as 2x4x4; the 2x2 maxpool of channel 0 is 5 7 13 15,
 * and darknet adds from's channel 0 at (2j, 2i): 0, 2, 8, 10. */
Test(graph_ref, shortcut_from_a_larger_output) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=2\n"
                          "[maxpool]\nsize=1\n"
                          "[maxpool]\nsize=2\nstride=2\n"
                          "[route]\nlayers=1\ngroups=2\n"
                          "[shortcut]\nfrom=0\n");
    float x[32];
    iota(x, 32, 0);
    double *y = ref_run(net, x, 1, 3);
    assert_values(y, (double[]){5, 9, 21, 25}, 4);
    free(y);
    lsuv_net_destroy(net);
}

/* from= smaller: 1 2 3 4 as 1x2x2, upsampled to 4x4 and routed twice into
 * 2x4x4; darknet adds from at (2j, 2i) of channel 0 only. */
Test(graph_ref, shortcut_from_a_smaller_output) {
    lsuv_net *net = parse("[net]\nheight=2\nwidth=2\nchannels=1\n"
                          "[maxpool]\nsize=1\n"
                          "[upsample]\nstride=2\n"
                          "[route]\nlayers=1,1\n"
                          "[shortcut]\nfrom=0\n");
    double *y = ref_run(net, (float[]){1, 2, 3, 4}, 1, 3);
    static const double up[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    assert_values(y, (double[]){2, 1, 4, 2, 1, 1, 2, 2, 6, 3, 8, 4, 3, 3, 4, 4}, 16);
    assert_values(y + 16, up, 16);
    free(y);
    lsuv_net_destroy(net);
}

Test(graph_ref, heads_pass_their_input) {
    lsuv_net *net = parse("[net]\nheight=1\nwidth=1\nchannels=9\n[yolo]\nmask=0\nclasses=4\n");
    float x[9];
    iota(x, 9, -4);
    double *y = ref_run(net, x, 1, 0);
    assert_values(y, (double[]){-4, -3, -2, -1, 0, 1, 2, 3, 4}, 9);
    free(y);
    lsuv_net_destroy(net);
}

/* The walk keeps layer 1's output past layers 2 to 7 for the route at 8:
 * its value there is the upsampled layer 3 and then layer 1, each as the
 * reference computes them alone. */
Test(graph_ref, route_reads_outputs_kept_from_earlier) {
    lsuv_net *net = parse(tiny_yolo);
    float x[2 * 3 * 8 * 8];
    for (uint32_t i = 0; i < sizeof x / sizeof *x; ++i) x[i] = (float)sin(i * 0.37);
    double *l1 = ref_run(net, x, 2, 1), *l3 = ref_run(net, x, 2, 3), *l8 = ref_run(net, x, 2, 8);
    for (uint32_t b = 0; b < 2; ++b)
        for (uint32_t c = 0; c < 12; ++c)
            for (uint32_t p = 0; p < 16; ++p) {
                uint32_t y = p / 4, xx = p % 4;
                double want = c < 8 ? l3[(b * 8 + c) * 4 + (y / 2) * 2 + xx / 2]
                                    : l1[(b * 4 + c - 8) * 16 + p];
                cr_assert_eq(l8[(b * 12 + c) * 16 + p], want, "sample %u channel %u pixel %u", b, c,
                             p);
            }
    free(l1);
    free(l3);
    free(l8);
    lsuv_net_destroy(net);
}

/* Memory by liveness, worked by hand for batch 1, fp32 (every output a
 * multiple of the 256-byte placement unit): outputs live from their layer to
 * their last reader, the network's output to the end.
 *   0 conv 4x4x4   256 B, read by 1, 2, 4: lives 0..4
 *   1 conv 4x4x4   256 B, read by 2:       lives 1..2
 *   2 route 1,0    512 B, read by 3:       lives 2..3
 *   3 conv 4x4x4   256 B, read by 4:       lives 3..4
 *   4 shortcut 0   256 B, the output:      lives 4..
 * Live at each layer: 256, 512, 1024, 1024, 768: at most 1024 bytes, and
 * placing each output where the fewest bytes are added reaches that (3
 * takes 1's place, 4 the route's). */
Test(graph, memory_follows_liveness) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=2\n"
                          "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\n"
                          "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\n"
                          "[route]\nlayers=-1,-2\n"
                          "[convolutional]\nfilters=4\nsize=1\nactivation=relu\n"
                          "[shortcut]\nfrom=0\n");
    lsuv_memory m;
    lsuv_forward_options o = {.batch = 1};
    cr_assert_eq(lsuv_forward_memory(net, &o, &m), LSUV_OK, "%s", lsuv_error_message());
    cr_assert_eq(m.live, 1024, "%llu", (unsigned long long)m.live);
    cr_assert_eq(m.activations, 1024, "%llu", (unsigned long long)m.activations);
    cr_assert_eq(m.input, 2 * 16 * 4);
    /* 4x2x3x3 + 4, 4x4x3x3 + 4, 4x8x1x1 + 4 floats, and 16 bytes of state each */
    uint64_t weights = (76 + 148 + 36) * 4 + 3 * 16;
    cr_assert_eq(m.weights, weights, "%llu", (unsigned long long)m.weights);
    cr_assert_eq(m.forward_peak, 128 + 1024 + weights);
    cr_assert_eq(m.lsuv, 64 * 4, "the sums of one 4x4x4 layer"); /* fp32 */
    cr_assert_eq(m.lsuv_peak, m.forward_peak + 256);
    /* Kept, every output lives to the end: 256 x 4 + 512. */
    o.keep_outputs = true;
    cr_assert_eq(lsuv_forward_memory(net, &o, &m), LSUV_OK);
    cr_assert_eq(m.activations, 1536, "%llu", (unsigned long long)m.activations);
    cr_assert_eq(m.live, 1536);
    /* Batch 3 in fp16: a 384-byte output rounds up to 512, the route's 768
     * stays; at layers 2 and 3, 512 + 512 + 768 are live. */
    o = (lsuv_forward_options){.batch = 3, .precision = LSUV_PRECISION_FP16};
    cr_assert_eq(lsuv_forward_memory(net, &o, &m), LSUV_OK);
    cr_assert_eq(m.activations, 1792, "%llu", (unsigned long long)m.activations);
    cr_assert_eq(m.live, 1792);
    cr_assert_eq(m.input, 3 * 32 * 2);
    lsuv_net_destroy(net);
}

/* A chain: each output lives while the next layer reads it, so two places
 * take turns, however long the chain. */
Test(graph, memory_of_a_chain_is_two_outputs) {
    lsuv_net *net = parse("[net]\nheight=8\nwidth=8\nchannels=1\n"
                          "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=relu\n"
                          "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=relu\n"
                          "[dropout]\n"
                          "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=relu\n"
                          "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=relu\n"
                          "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=relu\n");
    lsuv_memory m;
    lsuv_forward_options o = {.batch = 2};
    cr_assert_eq(lsuv_forward_memory(net, &o, &m), LSUV_OK);
    cr_assert_eq(m.activations, 2 * 1024, "%llu", (unsigned long long)m.activations);
    cr_assert_eq(m.live, 2 * 1024);
    lsuv_net_destroy(net);
}

/* [local], as darknet's make_local_layer sizes it: (h - 1) / stride + 1
 * with pad=, (h - size) / stride + 1 without; weights per output position
 * (positions x filters x c x k x k) and a bias per output value. */
Test(graph, local_shapes_and_counts) {
    lsuv_net *net = parse("[net]\nheight=9\nwidth=11\nchannels=2\n"
                          "[local]\nfilters=5\nsize=3\nstride=2\nactivation=leaky\n"
                          "[local]\nfilters=3\nsize=3\npad=1\n");
    const lsuv_layer *a = &net->layers[0], *b = &net->layers[1];
    cr_assert(a->out.c == 5 && a->out.h == 4 && a->out.w == 5);
    cr_assert_eq(a->params, 20 * 5 * 18 + 100, "%llu", (unsigned long long)a->params);
    cr_assert_eq(lsuv_layer_bias_count(a), 100);
    cr_assert(b->out.c == 3 && b->out.h == 4 && b->out.w == 5);
    cr_assert_eq(b->params, 20 * 3 * 45 + 60, "%llu", (unsigned long long)b->params);
    cr_assert_eq(b->activation, LSUV_ACT_LOGISTIC, "darknet's default");
    cr_assert(!a->lsuv && !b->lsuv, "LSUV leaves local layers alone");
    cr_assert_eq(net->params, 1900 + 2760);
    lsuv_net_destroy(net);
    /* yolov1's: 3x3, pad=1, 256 filters on 1024x7x7. */
    net = parse("[net]\nheight=7\nwidth=7\nchannels=1024\n"
                "[local]\nsize=3\nstride=1\npad=1\nfilters=256\nactivation=leaky\n");
    cr_assert_eq(net->params, 49ull * 256 * 9216 + 49 * 256);
    lsuv_net_destroy(net);
}

/* darknet pads its im2col by pad= pixels but sizes the output as if that
 * were size / 2: with size 5 the matrix it multiplies was not filled. */
Test(graph, local_refuses_what_darknet_cannot_run) {
    static const char text[] = "[net]\nheight=9\nwidth=9\nchannels=2\n"
                               "[local]\nfilters=2\nsize=5\npad=1\n";
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_parse("g.cfg", text, strlen(text), NULL, &net), LSUV_ERROR_PARSE);
    cr_assert(strstr(lsuv_error_message(), "g.cfg:5: [local] layer 0: pad=1 with size=5") &&
                  strstr(lsuv_error_message(), "9x9 but pads its input for 7x7"),
              "%s", lsuv_error_message());
}

/* darknet's .weights for [local]: its biases (one per output value), then
 * its weights, as load_weights_upto reads them. */
Test(graph, local_weights_in_darknet_order) {
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=1\n"
                          "[local]\nfilters=2\nsize=3\nstride=1\n");
    lsuv_weights *w = NULL;
    cr_assert_eq(lsuv_weights_create(net, &w), LSUV_OK);
    lsuv_layer_params *p = &w->layers[0];
    cr_assert_eq(p->bias_count, 8); /* 2 filters x 2x2 positions */
    cr_assert_eq(p->weight_count, 4 * 2 * 9);
    for (uint32_t k = 0; k < p->bias_count; ++k) p->bias[k] = (float)k;
    for (uint64_t k = 0; k < p->weight_count; ++k) p->weight[k] = -(float)k;
    uint8_t *data = NULL;
    size_t size = 0;
    cr_assert_eq(lsuv_weights_encode(net, w, "x.weights", &data, &size), LSUV_OK, "%s",
                 lsuv_error_message());
    cr_assert_eq(size, 20 + 4 * (8 + 72), "%zu", size);
    float v[80];
    memcpy(v, data + 20, sizeof v);
    for (int k = 0; k < 8; ++k) cr_assert_eq(v[k], (float)k, "bias %d", k);
    for (int k = 0; k < 72; ++k) cr_assert_eq(v[8 + k], -(float)k, "weight %d", k);
    free(data);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
}

/* darknet's go.cfg: [reorg] extra=1 after a 1x19x19 convolution makes 362
 * values without a shape, the board's moves then the pass, which darknet
 * leaves at calloc's zero. */
Test(graph, reorg_extra_appends_zeros) {
    lsuv_net *net = parse("[net]\nheight=2\nwidth=3\nchannels=2\n"
                          "[reorg]\nextra=2\nstride=1\n[softmax]\n");
    assert_shape(net->layers[0].out, 14, 1, 1);
    assert_shape(net->layers[1].out, 14, 1, 1);
    float values[24];
    iota(values, 24, 1);
    double *out = ref_run(net, values, 2, 0);
    for (uint32_t b = 0; b < 2; ++b)
        for (uint32_t i = 0; i < 14; ++i)
            cr_assert_eq(out[b * 14 + i], i < 12 ? 1 + b * 12 + i : 0, "sample %u value %u", b, i);
    free(out);
    lsuv_net_destroy(net);
}
