/* Status codes and error detail shared by every lsuv-vk function. */
#ifndef LSUV_STATUS_H
#define LSUV_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lsuv_status {
    LSUV_OK = 0,
    LSUV_ERROR_NO_LOADER,     /* the Vulkan loader could not be opened */
    LSUV_ERROR_NO_DEVICE,     /* no Vulkan device, or none matches the selector */
    LSUV_ERROR_MISSING_LAYER, /* validation was asked for and the layer is absent */
    LSUV_ERROR_UNSUPPORTED,   /* the device lacks what the operation needs */
    LSUV_ERROR_INVALID,       /* a bad argument from the caller */
    LSUV_ERROR_OUT_OF_MEMORY, /* host or device memory */
    LSUV_ERROR_VULKAN,        /* any other failing Vulkan call */
    LSUV_ERROR_IO,            /* reading or writing a file */
    LSUV_ERROR_PARSE,         /* a malformed input file */
} lsuv_status;

/* "0.1.0" and the git commit the build was configured at. */
const char *lsuv_version(void);
const char *lsuv_git_commit(void);

/* A stable name for the code, e.g. "no-device". */
const char *lsuv_status_name(lsuv_status status);

/* The detail of the last failure on this thread: what failed and, where it
 * helps, what to do about it. Never NULL; empty when nothing failed yet. */
const char *lsuv_error_message(void);
/* Empties this thread's message, so a caller can tell a fresh one. */
void lsuv_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
