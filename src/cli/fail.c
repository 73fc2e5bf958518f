#include "cli/fail.h"

#include <stdio.h>

int cli_fail(lsuv_status s) {
    fprintf(stderr, "lsuv-vk: %s\n", lsuv_error_message());
    switch (s) {
    case LSUV_OK:
        return EXIT_OK;
    case LSUV_ERROR_NO_LOADER:
    case LSUV_ERROR_NO_DEVICE:
    case LSUV_ERROR_MISSING_LAYER:
    case LSUV_ERROR_INVALID:
    case LSUV_ERROR_PARSE:
        return EXIT_USAGE;
    default:
        return EXIT_RUNTIME;
    }
}

int cli_fail_input(lsuv_status s) {
    int code = cli_fail(s);
    return s == LSUV_ERROR_OUT_OF_MEMORY ? code : EXIT_USAGE;
}
