/* Device enumeration, selection, buffers and timing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "lsuv/device.h"
#include "lsuv/stats.h"
#include "support/gpu.h"

GPU_TEST(device, lavapipe_is_listed) {
    uint32_t n = lsuv_instance_device_count(gpu.instance);
    cr_assert_geq(n, 1);
    bool found = false;
    for (uint32_t i = 0; i < n; ++i) {
        const lsuv_device_info *d = lsuv_instance_device_info(gpu.instance, i);
        cr_assert_eq(d->index, i);
        if (!strstr(d->name, "llvmpipe")) continue;
        found = true;
        cr_assert_eq(d->type, LSUV_DEVICE_CPU);
        cr_assert_eq(d->vendor_id, 0x10005, "Mesa's vendor id");
        cr_assert_str_eq(d->driver_name, "llvmpipe");
        cr_assert_geq(d->api_version, (1u << 22) | (1u << 12), "Vulkan 1.1 or newer");
        cr_assert_gt(d->subgroup_size, 0);
        cr_assert_gt(d->timestamp_valid_bits, 0);
        cr_assert_gt(d->max_storage_buffer_range, 0);
        cr_assert_gt(d->max_workgroup_invocations, 0);
    }
    cr_assert(found, "llvmpipe not listed: is mesa-vulkan-drivers installed?");
}

static uint32_t select_count(const char *selector, lsuv_status *status, uint32_t *first) {
    uint32_t indices[16], count = 99;
    *status = lsuv_instance_select(gpu.instance, selector, indices, &count);
    if (count > 0 && count < 16) *first = indices[0];
    return count;
}

GPU_TEST(device, selectors) {
    lsuv_status s;
    uint32_t first = 99, n = lsuv_instance_device_count(gpu.instance);
    cr_assert_eq(select_count("all", &s, &first), n);
    cr_assert_eq(select_count("0", &s, &first), 1);
    cr_assert_eq(first, 0);
    cr_assert_geq(select_count("LLVMPIPE", &s, &first), 1, "names match without case");
    cr_assert_eq(select_count(NULL, &s, &first), 1, "the default is one device");
    const lsuv_device_info *d = lsuv_instance_device_info(gpu.instance, first);
    bool any_gpu = false;
    for (uint32_t i = 0; i < n; ++i)
        any_gpu |= lsuv_instance_device_info(gpu.instance, i)->type != LSUV_DEVICE_CPU;
    cr_assert_eq(d->type != LSUV_DEVICE_CPU, any_gpu, "the default prefers a GPU to the CPU");
}

GPU_TEST(device, selector_matching_nothing_names_the_devices) {
    lsuv_status s;
    uint32_t first;
    cr_assert_eq(select_count("no-such-device", &s, &first), 0);
    cr_assert_eq(s, LSUV_ERROR_NO_DEVICE);
    cr_assert(strstr(lsuv_error_message(), "no-such-device"), "%s", lsuv_error_message());
    cr_assert(strstr(lsuv_error_message(), "llvmpipe"), "%s", lsuv_error_message());
    cr_assert_eq(select_count("4096", &s, &first), 0);
    cr_assert_eq(s, LSUV_ERROR_NO_DEVICE);
}

GPU_TEST(device, buffer_round_trip_and_bounds) {
    lsuv_buffer *b;
    TEST_OK(lsuv_buffer_create(gpu.device, 4096, &b));
    char in[100], out[100];
    for (int i = 0; i < 100; ++i) in[i] = (char)(i * 7);
    TEST_OK(lsuv_buffer_write(b, 3000, in, sizeof in));
    TEST_OK(lsuv_buffer_read(b, 3000, out, sizeof out));
    cr_assert_arr_eq(in, out, sizeof in);
    cr_assert_eq(lsuv_buffer_write(b, 4000, in, sizeof in), LSUV_ERROR_INVALID);
    cr_assert_eq(lsuv_buffer_read(b, UINT64_MAX - 10, out, sizeof out), LSUV_ERROR_INVALID);
    lsuv_buffer_destroy(b);
}

GPU_TEST(device, copy_and_fill_commands) {
    lsuv_buffer *a, *b;
    lsuv_cmd *cmd;
    TEST_OK(lsuv_buffer_create(gpu.device, 1024, &a));
    TEST_OK(lsuv_buffer_create(gpu.device, 1024, &b));
    TEST_OK(lsuv_cmd_begin(gpu.device, &cmd));
    lsuv_cmd_fill(cmd, a, 0, 1024, 0x3f800000u); /* 1.0f */
    lsuv_cmd_barrier(cmd);
    lsuv_cmd_copy(cmd, a, 512, b, 0, 512);
    TEST_OK(lsuv_cmd_submit(cmd));
    float f[128];
    TEST_OK(lsuv_buffer_read(b, 0, f, sizeof f));
    for (int i = 0; i < 128; ++i) cr_assert_eq(f[i], 1.0f);
    lsuv_cmd_destroy(cmd);
    lsuv_buffer_destroy(a);
    lsuv_buffer_destroy(b);
}

GPU_TEST(device, a_host_buffer_shows_writes_while_the_submission_runs) {
    /* A word filled before a long fill is seen by the host polling while the
     * submission still runs, and the words land in order: the one filled
     * after the long fills is never seen without the first. (It may be seen
     * before the fence signals: the last fill can land between a wait that
     * says "running" and the read after it.) */
    lsuv_buffer *host, *big;
    lsuv_cmd *cmd;
    TEST_OK(lsuv_buffer_create_host(gpu.device, 8, &host));
    TEST_OK(lsuv_buffer_create(gpu.device, 256u << 20, &big));
    TEST_OK(lsuv_cmd_begin(gpu.device, &cmd));
    bool done = true;
    cr_assert_eq(lsuv_cmd_wait(cmd, 0, &done), LSUV_ERROR_INVALID, "nothing submitted");
    cr_assert(!done);
    uint32_t words[2] = {0, 0};
    TEST_OK(lsuv_buffer_write(host, 0, words, sizeof words));
    lsuv_cmd_fill(cmd, host, 0, 4, 1);
    lsuv_cmd_barrier_host(cmd);
    for (int k = 0; k < 6; ++k) {
        lsuv_cmd_barrier(cmd);
        lsuv_cmd_fill(cmd, big, 0, 256u << 20, (uint32_t)k);
    }
    lsuv_cmd_barrier(cmd);
    lsuv_cmd_fill(cmd, host, 4, 4, 2);
    TEST_OK(lsuv_cmd_submit_async(cmd));
    int early = 0, polls = 0;
    for (done = false; !done; ++polls) {
        TEST_OK(lsuv_cmd_wait(cmd, 1000000, &done));
        TEST_OK(lsuv_buffer_read(host, 0, words, sizeof words));
        cr_assert(words[1] == 0 || words[0] == 1, "the last fill landed before the first");
        if (!done) early += words[0] == 1 && words[1] == 0;
    }
    cr_assert_gt(early, 0, "the first word never showed while the fills ran (%d polls)", polls);
    cr_assert(words[0] == 1 && words[1] == 2);
    /* Begun again: it records and submits as a fresh one; destroyed while
     * running, it waits (the validation layer reports a fence in use). */
    lsuv_cmd_fill(cmd, big, 0, 256u << 20, 7);
    TEST_OK(lsuv_cmd_submit_async(cmd));
    lsuv_cmd_destroy(cmd);
    lsuv_buffer_destroy(big);
    lsuv_buffer_destroy(host);
}

GPU_TEST(device, timestamps_measure_work) {
    lsuv_buffer *b;
    lsuv_cmd *cmd;
    lsuv_timer *t;
    TEST_OK(lsuv_buffer_create(gpu.device, 64 << 20, &b));
    TEST_OK(lsuv_cmd_begin(gpu.device, &cmd));
    TEST_OK(lsuv_timer_create(gpu.device, 2, &t));
    lsuv_timer_reset(t, cmd);
    lsuv_timer_mark(t, cmd, 0);
    lsuv_cmd_fill(cmd, b, 0, 64 << 20, 0);
    lsuv_timer_mark(t, cmd, 1);
    TEST_OK(lsuv_cmd_submit(cmd));
    double ns = 0;
    TEST_OK(lsuv_timer_elapsed_ns(t, 0, 1, &ns));
    /* Filling 64 MiB takes more than a microsecond and less than 10 s
     * anywhere. */
    cr_assert(ns > 1e3 && ns < 1e10, "fill of 64 MiB took %g ns", ns);
    cr_assert_eq(lsuv_timer_elapsed_ns(t, 0, 2, &ns), LSUV_ERROR_INVALID);
    lsuv_timer_destroy(t);
    lsuv_cmd_destroy(cmd);
    lsuv_buffer_destroy(b);
}

Test(timestamp, delta_masks_and_scales) {
    /* 36 valid bits: the counter wraps at 2^36; 10 ticks before the wrap
     * to 5 after is 15 ticks. */
    uint64_t wrap = 1ull << 36;
    cr_assert_eq(lsuv_timestamp_delta_ns(wrap - 10, 5, 36, 1.0f), 15.0);
    /* High bits beyond the valid ones are ignored. */
    cr_assert_eq(lsuv_timestamp_delta_ns(0xff00000000000000ull | 100, 300, 36, 1.0f), 200.0);
    /* A fractional period scales the ticks. */
    cr_assert_float_eq(lsuv_timestamp_delta_ns(0, 1000, 64, 0.52083f), 520.83, 1e-3);
    cr_assert_eq(lsuv_timestamp_delta_ns(UINT64_MAX, 1, 64, 2.0f), 4.0);
}

Test(validation, messages_reach_the_counter) {
    /* The harness's promise, that any validation message fails a test, holds
     * only if messages arrive: an unaligned fill must produce one. */
    lsuv_instance_options options = {.validation = true};
    lsuv_instance *inst;
    lsuv_device *dev;
    lsuv_buffer *b;
    lsuv_cmd *cmd;
    uint32_t index[16], count;
    TEST_OK(lsuv_instance_create(&options, &inst));
    TEST_OK(lsuv_instance_select(inst, "llvmpipe", index, &count));
    TEST_OK(lsuv_device_create(inst, index[0], &dev));
    TEST_OK(lsuv_buffer_create(dev, 64, &b));
    TEST_OK(lsuv_cmd_begin(dev, &cmd));
    cr_assert_eq(lsuv_instance_validation_count(inst), 0);
    lsuv_cmd_fill(cmd, b, 2, 8, 0); /* offsets must be multiples of 4 */
    cr_assert_gt(lsuv_instance_validation_count(inst), 0);
    cr_assert(strstr(lsuv_instance_validation_first(inst), "dstOffset"), "%s",
              lsuv_instance_validation_first(inst));
    lsuv_cmd_destroy(cmd);
    lsuv_buffer_destroy(b);
    lsuv_device_destroy(dev);
    lsuv_instance_destroy(inst);
}

/* The pipeline cache file this device uses under dir. */
static void cache_file(const lsuv_device_info *d, const char *dir, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/lsuv-vk/", dir);
    for (int i = 0; i < 16; ++i) n += snprintf(out + n, cap - (size_t)n, "%02x", d->device_uuid[i]);
    snprintf(out + n, cap - (size_t)n, "-%08x.bin", d->driver_version);
}

/* Makes a device with its pipeline cache under dir, builds a pipeline (the
 * statistics kernel) and destroys it; returns the bytes it loaded. */
static uint64_t device_round(const char *dir, char *warning, size_t cap) {
    setenv("XDG_CACHE_HOME", dir, 1);
    lsuv_device *dev;
    lsuv_stats *stats;
    TEST_OK(lsuv_device_create(gpu.instance, lsuv_device_get_info(gpu.device)->index, &dev));
    TEST_OK(lsuv_stats_create(dev, NULL, &stats));
    const char *w = lsuv_device_cache_warning(dev);
    snprintf(warning, cap, "%s", w ? w : "");
    uint64_t loaded = lsuv_device_cache_loaded(dev);
    lsuv_stats_destroy(stats);
    lsuv_device_destroy(dev);
    return loaded;
}

GPU_TEST(device, pipeline_cache_round_trip_and_corruption) {
    char dir[256], path[512], warning[2048];
    snprintf(dir, sizeof dir, "%s/cache-%d", LSUV_TEST_TMP, (int)getpid());
    cache_file(lsuv_device_get_info(gpu.device), dir, path, sizeof path);
    cr_assert_eq(device_round(dir, warning, sizeof warning), 0, "nothing to load the first time");
    cr_assert_str_empty(warning);
    cr_assert_eq(access(path, F_OK), 0, "the cache was written to %s", path);
    cr_assert_gt(device_round(dir, warning, sizeof warning), 0, "the second device loads it");
    cr_assert_str_empty(warning);

    /* A flipped byte in the data: the hash catches it. */
    char *data;
    size_t size;
    TEST_OK(lsuv_file_read_all(path, 1 << 30, &data, &size));
    data[size - 1] ^= 0x55;
    TEST_OK(lsuv_file_write(path, data, size));
    cr_assert_eq(device_round(dir, warning, sizeof warning), 0, "a corrupt cache is not used");
    cr_assert(strstr(warning, "corrupt") && strstr(warning, path), "%s", warning);
    /* Cut short, or not ours at all. */
    TEST_OK(lsuv_file_write(path, data, 20));
    cr_assert_eq(device_round(dir, warning, sizeof warning), 0);
    cr_assert(strstr(warning, "truncated"), "%s", warning);
    TEST_OK(lsuv_file_write(path,
                            "\x7f"
                            "ELF and more bytes than a header holds, surely........",
                            56));
    cr_assert_eq(device_round(dir, warning, sizeof warning), 0);
    cr_assert(strstr(warning, "not a cache file"), "%s", warning);
    free(data);
}

/* Not a GPU_TEST: a FIFO that hangs the open must fail in a minute, not 15. */
Test(device, pipeline_cache_fifo_is_no_cache) {
    test_gpu_open(&gpu);
    char dir[256], sub[300], path[512], warning[2048];
    snprintf(dir, sizeof dir, "%s/cache-fifo-%d", LSUV_TEST_TMP, (int)getpid());
    snprintf(sub, sizeof sub, "%s/lsuv-vk", dir);
    cr_assert(mkdir(dir, 0755) == 0 && mkdir(sub, 0755) == 0);
    cache_file(lsuv_device_get_info(gpu.device), dir, path, sizeof path);
    cr_assert_eq(mkfifo(path, 0644), 0);
    cr_assert_eq(device_round(dir, warning, sizeof warning), 0, "a FIFO is no cache");
    cr_assert(strstr(warning, path) && strstr(warning, "not a regular file (a FIFO)"), "%s",
              warning);
    test_gpu_close(&gpu);
}
