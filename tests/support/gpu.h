/* The device every test runs on: lavapipe (or LSUV_TEST_DEVICE), with the
 * validation layer on. */
#ifndef LSUV_TEST_GPU_H
#define LSUV_TEST_GPU_H

#include "lsuv/device.h"
#include "lsuv/forward.h"

typedef struct test_gpu {
    lsuv_instance *instance;
    lsuv_device *device;
} test_gpu;

/* Opens the test device or fails the test. */
void test_gpu_open(test_gpu *g);
/* Fails the test if the validation layer reported anything, then closes. */
void test_gpu_close(test_gpu *g);

/* The kind the forward suites ask for where a test names none: the one
 * LSUV_TEST_CONV_KERNEL names (ctest's forward_gemm and graph_forward_gemm
 * set gemm, so every shape of those suites runs with it), else auto. */
lsuv_conv_kernel test_conv_kernel(void);

/* The device of the running GPU_TEST. */
extern test_gpu gpu;

/* A Criterion test that runs its body between test_gpu_open and
 * test_gpu_close on the global gpu. The check of validation messages lives
 * in the test itself, not in a .fini, because Criterion does not fail a test
 * for an assertion in its teardown. */
#define GPU_TEST(suite, name)                                                                      \
    static void suite##_##name##_body(void);                                                       \
    Test(suite, name, .timeout = 900) {                                                            \
        test_gpu_open(&gpu);                                                                       \
        suite##_##name##_body();                                                                   \
        test_gpu_close(&gpu);                                                                      \
    }                                                                                              \
    static void suite##_##name##_body(void)

/* Fails the test with the library's message unless status is LSUV_OK. */
#define TEST_OK(call)                                                                              \
    do {                                                                                           \
        lsuv_status s_ = (call);                                                                   \
        cr_assert_eq(s_, LSUV_OK, "%s: %s (%s)", #call, lsuv_error_message(),                      \
                     lsuv_status_name(s_));                                                        \
    } while (0)

#endif
