/* Internal: recording the detail of a failure for lsuv_error_message(). */
#ifndef LSUV_CORE_ERROR_H
#define LSUV_CORE_ERROR_H

#include "lsuv/status.h"

/* Formats the message, stores it for this thread and returns status, so a
 * failing path reads `return lsuv_fail(LSUV_ERROR_INVALID, "...", ...);`. */
lsuv_status lsuv_fail(lsuv_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
