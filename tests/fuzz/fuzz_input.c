/* The IDX reader (plain and gzip), or the .npy one when built with FUZZ_NPY;
 * the input is a 4-byte batch limit and then the file. */
#include "fuzz.h"
#include "lsuv/input.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The first 4 bytes (little-endian) are the batch limit, 0 for all: with
     * the limit fixed at 64, a .npy shape whose size wrapped past 2^64 was
     * out of reach, as it overran only with a batch of 1. */
    if (size < 4) return 0;
    uint32_t max_n = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                     (uint32_t)data[3] << 24;
    data += 4;
    size -= 4;
    lsuv_batch b = {0};
    lsuv_error_clear();
#ifdef FUZZ_NPY
    lsuv_status s = lsuv_npy_parse("fuzz.npy", data, size, max_n, &b);
#else
    lsuv_status s = lsuv_idx_parse("fuzz.idx", data, size, max_n, &b);
#endif
    fuzz_check(s);
    lsuv_batch_free(&b);
    return 0;
}
