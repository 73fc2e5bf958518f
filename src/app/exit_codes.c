#include "app/exit_codes.h"

int app_exit_code(lsuv_status s, app_failure where) {
    if (s == LSUV_OK) return EXIT_OK;
    switch (where) {
    case APP_FAILED_INPUT:
        return s == LSUV_ERROR_OUT_OF_MEMORY ? EXIT_RUNTIME : EXIT_USAGE;
    case APP_FAILED_DEVICE:
        return s == LSUV_ERROR_UNSUPPORTED ? EXIT_USAGE : EXIT_RUNTIME;
    case APP_FAILED_CALL:
        break;
    }
    switch (s) {
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
