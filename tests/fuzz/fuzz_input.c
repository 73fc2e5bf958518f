/* The IDX reader (plain and gzip), or the .npy one when built with FUZZ_NPY. */
#include "fuzz.h"
#include "lsuv/input.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lsuv_batch b = {0};
    lsuv_error_clear();
#ifdef FUZZ_NPY
    lsuv_status s = lsuv_npy_parse("fuzz.npy", data, size, 64, &b);
#else
    lsuv_status s = lsuv_idx_parse("fuzz.idx", data, size, 64, &b);
#endif
    fuzz_check(s);
    lsuv_batch_free(&b);
    return 0;
}
