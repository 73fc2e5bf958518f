/* A weights reader against a small network (batch norm in its second
 * convolution and its connected layer): darknet's .weights, or
 * .safetensors when built with FUZZ_SAFETENSORS. */
#include "fuzz.h"
#include "lsuv/weights.h"

#include <stdint.h>
#include <string.h>

static const char cfg[] =
    "[net]\nheight=28\nwidth=28\nchannels=1\n"
    "[convolutional]\nfilters=8\nsize=5\nstride=2\npad=1\nactivation=relu\nsub=0\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=relu\n"
    "[avgpool]\n[connected]\nbatch_normalize=1\noutput=3\nactivation=linear\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static lsuv_net *net;
    if (!net && lsuv_net_parse("fuzz.cfg", cfg, strlen(cfg), NULL, &net) != LSUV_OK) abort();
    lsuv_weights *w = NULL;
    lsuv_error_clear();
#ifdef FUZZ_SAFETENSORS
    lsuv_status s = lsuv_weights_parse_safetensors(net, "fuzz", data, size, &w);
#else
    lsuv_status s = lsuv_weights_parse_darknet(net, "fuzz", data, size, &w);
#endif
    fuzz_check(s);
    lsuv_weights_destroy(w);
    return 0;
}
