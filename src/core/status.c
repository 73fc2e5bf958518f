#include "core/error.h"

#include "lsuv_git_commit.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *lsuv_version(void) {
    return LSUV_VERSION;
}

const char *lsuv_git_commit(void) {
    return LSUV_GIT_COMMIT;
}

const char *lsuv_status_name(lsuv_status status) {
    switch (status) {
    case LSUV_OK:
        return "ok";
    case LSUV_ERROR_NO_LOADER:
        return "no-loader";
    case LSUV_ERROR_NO_DEVICE:
        return "no-device";
    case LSUV_ERROR_MISSING_LAYER:
        return "missing-layer";
    case LSUV_ERROR_UNSUPPORTED:
        return "unsupported";
    case LSUV_ERROR_INVALID:
        return "invalid";
    case LSUV_ERROR_OUT_OF_MEMORY:
        return "out-of-memory";
    case LSUV_ERROR_VULKAN:
        return "vulkan";
    case LSUV_ERROR_IO:
        return "io";
    case LSUV_ERROR_PARSE:
        return "parse";
    }
    return "unknown";
}

const char *lsuv_error_message(void) {
    return last_error;
}

void lsuv_error_clear(void) {
    last_error[0] = '\0';
}

lsuv_status lsuv_fail(lsuv_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
