/* Shared by the libFuzzer targets: a rejected input must say why. */
#ifndef LSUV_FUZZ_H
#define LSUV_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#include "lsuv/status.h"

static inline void fuzz_check(lsuv_status s) {
    if (s != LSUV_OK && lsuv_error_message()[0] == '\0') {
        fprintf(stderr, "rejected (%s) without a message\n", lsuv_status_name(s));
        abort();
    }
}

#endif
