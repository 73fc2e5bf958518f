/* The device every test runs on: lavapipe (or LSUV_TEST_DEVICE), with the
 * validation layer on. */
#ifndef LSUV_TEST_GPU_H
#define LSUV_TEST_GPU_H

#include "lsuv/device.h"

typedef struct test_gpu {
    lsuv_instance *instance;
    lsuv_device *device;
} test_gpu;

/* Opens the test device or fails the test. */
void test_gpu_open(test_gpu *gpu);
/* Fails the test if the validation layer reported anything, then closes. */
void test_gpu_close(test_gpu *gpu);

/* Fails the test with the library's message unless status is LSUV_OK. */
#define TEST_OK(call)                                                                              \
    do {                                                                                           \
        lsuv_status s_ = (call);                                                                   \
        cr_assert_eq(s_, LSUV_OK, "%s: %s (%s)", #call, lsuv_error_message(),                      \
                     lsuv_status_name(s_));                                                        \
    } while (0)

#endif
