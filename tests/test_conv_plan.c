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
        bool gemm = p->kind == CONV_GEMM;
        uint32_t tile = gemm ? c->gemm.bm : 1u << p->tile_log2, px = 1u << p->px_log2;
        cr_assert_geq((uint64_t)cd.groups[1] * tile, cd.oc1 - cd.oc0);
        uint64_t lanes = p->kind == CONV_KSPLIT ? 1 : gemm ? c->gemm.bn : c->conv_wg;
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
    /* auto's choice on a GPU that is not discrete. */
    lsuv_device_info info = gpu_info();
    info.type = LSUV_DEVICE_INTEGRATED;
    forward_config c = config(info, 512, 0, LSUV_PRECISION_FP32, LSUV_CONV_AUTO);
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
        for (lsuv_conv_kernel k = LSUV_CONV_AUTO; k <= LSUV_CONV_GEMM; ++k) {
            forward_config c = config(infos[d], 512, 0, LSUV_PRECISION_FP16, k);
            for (uint32_t i = 0; i < net->n_layers; ++i) {
                if (!lsuv_layer_has_weights(&net->layers[i])) continue;
                conv_plan p = plan_of(&c, &net->layers[i]);
                /* gemm (auto's on the discrete GPU) reads storage too. */
                int want = c.conv_kernel == LSUV_CONV_GEMM ? CONV_GEMM : CONV_STORAGE;
                cr_assert_eq(p.kind, want, "device %d kernel %d layer %u", d, k, i);
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
        for (lsuv_conv_kernel k = LSUV_CONV_AUTO; k <= LSUV_CONV_GEMM; ++k) {
            forward_config c = config(infos[d], 4, 64u << 20, LSUV_PRECISION_FP32, k);
            for (uint32_t i = 0; i < net->n_layers; ++i) {
                if (!lsuv_layer_has_weights(&net->layers[i])) continue;
                conv_plan p = plan_of(&c, &net->layers[i]);
                if (k == LSUV_CONV_STORAGE) cr_assert_neq(p.kind, CONV_UBO);
                if (k == LSUV_CONV_GEMM && p.kind != CONV_KSPLIT)
                    cr_assert_eq(p.kind, CONV_GEMM, "layer %u", i);
                if (k != LSUV_CONV_TEXEL && (k != LSUV_CONV_AUTO || d == 1))
                    cr_assert_neq(p.kind, CONV_TEXEL);
                check_dispatches(&c, &net->layers[i], &p);
            }
        }
    lsuv_net_destroy(net);
}

/* Limits like an H200's (NVIDIA 580): 48 KiB of shared memory, 1024
 * invocations, subgroups of 32. */
static lsuv_device_info h200_info(void) {
    lsuv_device_info i = gpu_info();
    i.max_workgroup_invocations = 1024;
    i.max_workgroup_size_x = 1024;
    i.max_shared_memory = 48u << 10;
    return i;
}

static void assert_tile(const conv_gemm_tile *g, uint32_t bm, uint32_t bn, uint32_t bk, uint32_t tm,
                        uint32_t tn, uint32_t wg) {
    cr_assert(g->bm == bm && g->bn == bn && g->bk == bk && g->tm == tm && g->tn == tn &&
                  g->wg == wg,
              "%ux%ux%u, %ux%u, %u", g->bm, g->bn, g->bk, g->tm, g->tn, g->wg);
    cr_assert_eq(g->wg, (g->bm / g->tm) * (g->bn / g->tn));
}

Test(conv_plan, gemm_tile_from_the_limits) {
    conv_gemm_tile g;
    lsuv_device_info h200 = h200_info();
    conv_gemm_tile_choose(&h200, &g);
    assert_tile(&g, 128, 128, 16, 8, 8, 256);
    cr_assert(g.subgroup);
    /* lavapipe's limits: 1024 invocations, 32 KiB; a CPU starts lower. */
    lsuv_device_info cpu = cpu_info();
    cpu.max_workgroup_invocations = cpu.max_workgroup_size_x = 1024;
    cpu.max_shared_memory = 32u << 10;
    conv_gemm_tile_choose(&cpu, &g);
    assert_tile(&g, 32, 32, 8, 4, 4, 64);
    /* Vulkan's required minimum: 128 invocations, 16 KiB. */
    lsuv_device_info small = h200;
    small.max_workgroup_invocations = small.max_workgroup_size_x = 128;
    small.max_shared_memory = 16u << 10;
    conv_gemm_tile_choose(&small, &g);
    assert_tile(&g, 32, 32, 8, 4, 4, 64);
    /* 20 KiB of shared memory leaves out the 20.004 KiB of 64x64x16. */
    small.max_workgroup_invocations = small.max_workgroup_size_x = 256;
    small.max_shared_memory = 20u << 10;
    conv_gemm_tile_choose(&small, &g);
    assert_tile(&g, 64, 64, 8, 4, 4, 256);
}

Test(conv_plan, discrete_gpu_runs_gemm) {
    lsuv_net *net = load(NETS "alexnet.cfg");
    lsuv_precision precisions[] = {LSUV_PRECISION_FP32, LSUV_PRECISION_FP16};
    for (int fp16 = 0; fp16 < 2; ++fp16) {
        forward_config c = config(h200_info(), 128, 0, precisions[fp16], LSUV_CONV_AUTO);
        cr_assert_eq(c.conv_kernel, LSUV_CONV_GEMM);
        for (uint32_t i = 0; i < net->n_layers; ++i) {
            if (!lsuv_layer_has_weights(&net->layers[i])) continue;
            conv_plan p = plan_of(&c, &net->layers[i]);
            cr_assert_eq(p.kind, CONV_GEMM, "layer %u", i);
            cr_assert_eq(p.packed_tile, 0);
            check_dispatches(&c, &net->layers[i], &p);
        }
    }
    lsuv_net_destroy(net);
}

Test(conv_plan, gemm_chunks_by_whole_groups) {
    /* 64 -> 40 channels in 4 groups of 10, 16 x 9 weights a channel: a
     * 16 KiB binding holds 28 channels' weights, so a dispatch takes two
     * groups (20), never part of one; and 3 samples. */
    lsuv_net *net = parse("[net]\nheight=4\nwidth=4\nchannels=64\n"
                          "[convolutional]\nfilters=40\nsize=3\npad=1\ngroups=4\n"
                          "activation=relu\n");
    forward_config c = config(h200_info(), 7, 16384, LSUV_PRECISION_FP32, LSUV_CONV_GEMM);
    conv_plan p = plan_of(&c, &net->layers[0]);
    cr_assert_eq(p.kind, CONV_GEMM);
    cr_assert_eq(p.oc_chunk, 20);
    cr_assert_eq(p.samples, 3);
    cr_assert_eq(p.n_dispatches, 3 * 2);
    conv_dispatch cd;
    conv_plan_dispatch(&c, &net->layers[0], &p, 1, &cd);
    cr_assert_eq(cd.groups[1], 2, "one 128-row tile for each of 2 groups");
    cr_assert_eq(cd.groups[0], 1, "3 samples x 16 pixels in one 128-column tile");
    check_dispatches(&c, &net->layers[0], &p);
    lsuv_net_destroy(net);
}
