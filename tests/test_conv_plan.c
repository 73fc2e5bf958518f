/* The convolution's plan (ops/conv.h), made without a device: the kernel,
 * tile and chunks the policy picks for a CPU's and a GPU's limits. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"
#include "ops/conv.h"
#include "support/nets.h"

/* Limits like lavapipe's on an AVX2 machine: subgroups of 8. */
static lsuv_device_info cpu_info(void) {
    lsuv_device_info i = {.type = LSUV_DEVICE_CPU,
                          .max_subgroup_size = 8,
                          .subgroup_shuffle = true,
                          .full_subgroups = true,
                          .storage16 = true,
                          .max_storage_buffer_range = 1u << 27,
                          .min_storage_buffer_offset_alignment = 16,
                          .max_uniform_buffer_range = 65536,
                          .min_uniform_buffer_offset_alignment = 16,
                          .max_workgroup_count_x = 65535,
                          .max_texel_buffer_elements = 1u << 27,
                          .min_texel_buffer_offset_alignment = 16};
    strcpy(i.name, "cpu");
    return i;
}

static lsuv_device_info gpu_info(void) {
    lsuv_device_info i = cpu_info();
    i.type = LSUV_DEVICE_DISCRETE;
    i.max_subgroup_size = 32;
    i.max_storage_buffer_range = 0xffffffffu;
    i.min_uniform_buffer_offset_alignment = 64;
    i.max_workgroup_count_x = 0x7fffffffu;
    strcpy(i.name, "gpu");
    return i;
}

static forward_config config(lsuv_device_info info, uint32_t batch, uint64_t chunk,
                             lsuv_precision precision, lsuv_conv_kernel kernel) {
    lsuv_net net = {.batch = batch};
    lsuv_forward_options o = {
        .max_chunk_bytes = chunk, .precision = precision, .conv_kernel = kernel};
    forward_config c;
    cr_assert_eq(forward_config_make(&info, &net, &o, &c), LSUV_OK, "%s", lsuv_error_message());
    return c;
}

static lsuv_net *load(const char *path) {
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_load(path, NULL, &net), LSUV_OK, "%s", lsuv_error_message());
    return net;
}

static lsuv_net *parse(const char *text) {
    lsuv_net *net = NULL;
    cr_assert_eq(lsuv_net_parse("t.cfg", text, strlen(text), NULL, &net), LSUV_OK, "%s",
                 lsuv_error_message());
    return net;
}

static conv_plan plan_of(const forward_config *c, const lsuv_layer *l) {
    conv_plan p;
    cr_assert_eq(conv_plan_make(c, l, &p), LSUV_OK, "%s", lsuv_error_message());
    return p;
}

/* Every sample and output channel in exactly one dispatch, every binding
 * within the range, every group count within the device's, and enough
 * invocations for every output. */
static void check_dispatches(const forward_config *c, const lsuv_layer *l, const conv_plan *p) {
    uint32_t oc = lsuv_layer_bias_count(l);
    uint64_t covered = 0, room = c->range - c->align;
    for (uint32_t d = 0; d < p->n_dispatches; ++d) {
        conv_dispatch cd;
        conv_plan_dispatch(c, l, p, d, &cd);
        cr_assert(cd.n > 0 && cd.oc1 > cd.oc0 && cd.oc1 <= oc);
        covered += (uint64_t)cd.n * (cd.oc1 - cd.oc0);
        cr_assert_leq(cd.in_count * c->es, room, "layer %u dispatch %u", l->index, d);
        cr_assert_leq(cd.out_count * c->es, room, "layer %u dispatch %u", l->index, d);
        if (p->kind != CONV_TEXEL)
            cr_assert_leq(cd.w_count * c->es,
                          p->kind == CONV_UBO ? c->ubo_range - c->ubo_align - 16 : room);
        cr_assert_leq(cd.groups[0], c->max_groups_x, "layer %u dispatch %u", l->index, d);
        uint32_t tile = 1u << p->tile_log2, px = 1u << p->px_log2;
        cr_assert_geq((uint64_t)cd.groups[1] * tile, cd.oc1 - cd.oc0);
        uint64_t lanes = p->kind == CONV_KSPLIT ? 1 : c->conv_wg;
        cr_assert_geq((uint64_t)cd.groups[0] * lanes * px, (uint64_t)cd.n * l->out.h * l->out.w);
        cr_assert_eq(cd.push[0], cd.n);
        cr_assert_eq(cd.push[17], cd.oc0);
        cr_assert_eq(cd.push[18], cd.oc1);
    }
    cr_assert_eq(covered, (uint64_t)c->batch * oc, "layer %u", l->index);
}

Test(conv_plan, cpu_reads_texels_in_row_tiles) {
    lsuv_net *net = load(NETS "fastai-07a.cfg");
    forward_config c = config(cpu_info(), 512, 0, LSUV_PRECISION_FP32, LSUV_CONV_AUTO);
    cr_assert_eq(c.conv_kernel, LSUV_CONV_TEXEL);
    /* 1 -> 8 channels, 5x5 stride 2: 13x13 outputs, one channel a pass. */
    conv_plan p = plan_of(&c, &net->layers[0]);
    cr_assert_eq(p.kind, CONV_TEXEL);
    cr_assert_eq(p.tile_log2, 3); /* 8 channels: a tile of 16 would be half idle */
    cr_assert_eq(p.px_log2, 3);
    cr_assert_eq(p.ci_t, 1);
    cr_assert_eq(p.packed_tile, 8);
    cr_assert_eq(p.row_k, 5);
    cr_assert_eq(p.row_s, 2);
    cr_assert_eq(p.n_dispatches, 1);
    check_dispatches(&c, &net->layers[0], &p);
    /* 8 -> 16 channels, 3x3: four a pass. */
    p = plan_of(&c, &net->layers[1]);
    cr_assert_eq(p.kind, CONV_TEXEL);
    cr_assert_eq(p.ci_t, 4);
    cr_assert_eq(p.row_k, 1, "3 taps x 4 channels is 12: row tiles at most");
    lsuv_net_destroy(net);
}

Test(conv_plan, gpu_reads_uniform_weights) {
    lsuv_net *net = load(NETS "fastai-07a.cfg");
    forward_config c = config(gpu_info(), 512, 0, LSUV_PRECISION_FP32, LSUV_CONV_AUTO);
    cr_assert_eq(c.conv_kernel, LSUV_CONV_UNIFORM);
    for (uint32_t i = 0; i < 5; ++i) {
        conv_plan p = plan_of(&c, &net->layers[i]);
        cr_assert_eq(p.kind, CONV_UBO, "layer %u", i);
        cr_assert_eq(p.packed_tile, 1u << p.tile_log2);
        cr_assert_eq(p.row_k, 1);
        check_dispatches(&c, &net->layers[i], &p);
    }
    /* The connected layer at 512 samples, more than a workgroup's 64 lanes:
     * its sums are not split, and its weights are uniform too. */
    conv_plan p = plan_of(&c, &net->layers[6]);
    cr_assert_eq(p.kind, CONV_UBO);
    lsuv_net_destroy(net);
}

Test(conv_plan, fp16_reads_storage) {
    lsuv_net *net = load(NETS "fastai-07a.cfg");
    lsuv_device_info infos[] = {cpu_info(), gpu_info()};
    for (int d = 0; d < 2; ++d)
        for (lsuv_conv_kernel k = LSUV_CONV_AUTO; k <= LSUV_CONV_TEXEL; ++k) {
            forward_config c = config(infos[d], 512, 0, LSUV_PRECISION_FP16, k);
            for (uint32_t i = 0; i < net->n_layers; ++i) {
                if (!lsuv_layer_has_weights(&net->layers[i])) continue;
                conv_plan p = plan_of(&c, &net->layers[i]);
                cr_assert_eq(p.kind, CONV_STORAGE, "device %d kernel %d layer %u", d, k, i);
                cr_assert_eq(p.packed_tile, 0);
                check_dispatches(&c, &net->layers[i], &p);
            }
        }
    lsuv_net_destroy(net);
}

Test(conv_plan, small_batch_splits_connected_sums) {
    lsuv_net *net = load(NETS "fastai-07a.cfg");
    /* 7 samples, fewer than a workgroup's 8 lanes on the CPU. */
    forward_config c = config(cpu_info(), 7, 0, LSUV_PRECISION_FP32, LSUV_CONV_AUTO);
    conv_plan p = plan_of(&c, &net->layers[6]);
    cr_assert_eq(p.kind, CONV_KSPLIT);
    cr_assert_eq(p.kernel_ci_t, CONV_CI_T);
    cr_assert_eq(p.px_log2, 3); /* 8 samples a workgroup cover the 7 */
    cr_assert_leq(p.tile_log2 + p.px_log2, 6);
    check_dispatches(&c, &net->layers[6], &p);
    lsuv_net_destroy(net);
}

Test(conv_plan, chunks_within_the_group_count) {
    /* 70 images of 256x256 on a count of 65535: a sample takes 256 rows of
     * 32 row tiles of 8 pixels, 65536 / (8 lanes x 8 pixels) = 1024 groups,
     * so a chunk holds 63 samples and the batch takes two. */
    lsuv_net *net = parse("[net]\nheight=256\nwidth=256\nchannels=1\n"
                          "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\n");
    forward_config c = config(cpu_info(), 70, 0, LSUV_PRECISION_FP32, LSUV_CONV_AUTO);
    conv_plan p = plan_of(&c, &net->layers[0]);
    cr_assert_eq(p.kind, CONV_TEXEL);
    cr_assert_eq(p.samples, 63);
    cr_assert_eq(p.n_sample_chunks, 2);
    check_dispatches(&c, &net->layers[0], &p);
    lsuv_net_destroy(net);
}

Test(conv_plan, small_bindings_split_samples_and_channels) {
    lsuv_net *net = load(NETS "alexnet.cfg");
    lsuv_device_info infos[] = {cpu_info(), gpu_info()};
    for (int d = 0; d < 2; ++d)
        for (lsuv_conv_kernel k = LSUV_CONV_AUTO; k <= LSUV_CONV_TEXEL; ++k) {
            forward_config c = config(infos[d], 4, 64u << 20, LSUV_PRECISION_FP32, k);
            for (uint32_t i = 0; i < net->n_layers; ++i) {
                if (!lsuv_layer_has_weights(&net->layers[i])) continue;
                conv_plan p = plan_of(&c, &net->layers[i]);
                if (k == LSUV_CONV_STORAGE) cr_assert_neq(p.kind, CONV_UBO);
                if (k != LSUV_CONV_TEXEL && (k != LSUV_CONV_AUTO || d == 1))
                    cr_assert_neq(p.kind, CONV_TEXEL);
                check_dispatches(&c, &net->layers[i], &p);
            }
        }
    lsuv_net_destroy(net);
}
