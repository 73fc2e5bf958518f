#include "fuzz.h"
#include "lsuv/net.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lsuv_net *net = NULL;
    lsuv_net_options o = {.strip_bn = size > 0 && data[0] & 1};
    lsuv_error_clear();
    lsuv_status s = lsuv_net_parse("fuzz.cfg", (const char *)data, size, &o, &net);
    fuzz_check(s);
    lsuv_net_destroy(net);
    return 0;
}
