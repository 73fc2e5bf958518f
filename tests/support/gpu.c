#include "support/gpu.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

test_gpu gpu;

void test_gpu_open(test_gpu *g) {
    const char *want = getenv("LSUV_TEST_DEVICE");
    if (!want || !*want) want = "llvmpipe";
    lsuv_instance_options options = {.validation = true};
    lsuv_status s = lsuv_instance_create(&options, &g->instance);
    cr_assert_eq(s, LSUV_OK, "no Vulkan instance: %s", lsuv_error_message());
    uint32_t indices[16], count = 0;
    cr_assert_leq(lsuv_instance_device_count(g->instance), 16);
    s = lsuv_instance_select(g->instance, want, indices, &count);
    cr_assert_eq(s, LSUV_OK, "no test device: %s", lsuv_error_message());
    s = lsuv_device_create(g->instance, indices[0], &g->device);
    cr_assert_eq(s, LSUV_OK, "device: %s", lsuv_error_message());
}

lsuv_conv_kernel test_conv_kernel(void) {
    const char *name = getenv("LSUV_TEST_CONV_KERNEL");
    lsuv_conv_kernel k = LSUV_CONV_AUTO;
    if (name && *name)
        cr_assert(lsuv_conv_kernel_from_name(name, &k), "LSUV_TEST_CONV_KERNEL=%s: not a kind",
                  name);
    return k;
}

void test_gpu_close(test_gpu *g) {
    lsuv_device_destroy(g->device);
    g->device = NULL;
    uint32_t messages = lsuv_instance_validation_count(g->instance);
    char first[2048];
    snprintf(first, sizeof first, "%s", lsuv_instance_validation_first(g->instance));
    lsuv_instance_destroy(g->instance);
    g->instance = NULL;
    cr_assert_eq(messages, 0, "%u validation messages; the first: %s", messages, first);
}
