/* Writing files so that a failed run never leaves a half-written one. */
#ifndef LSUV_CORE_FILE_H
#define LSUV_CORE_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "lsuv/status.h"

/* Writes size bytes to path. A regular file (or a new one) is written to a
 * temporary file beside it, ".NAME.lsuv-tmp-PID-XXXXXX", synced and renamed
 * over it: readers see the old file or the whole new one. Through a symlink
 * the target is replaced and the link kept; a replaced file keeps its mode, a
 * new one gets 0666 less the umask. A character device, FIFO or /dev/stdout
 * (/dev/fd/N) is written directly. Temporary files this target's earlier
 * writers left behind when they died are removed. */
lsuv_status lsuv_file_write(const char *path, const void *data, size_t size);
lsuv_status lsuv_file_write_text(const char *path, const char *text);

/* Whether path can be written as lsuv_file_write would, without writing:
 * an existing folder we may write in, or a device we may open. *direct
 * (when not NULL) says whether it would be written directly. */
lsuv_status lsuv_file_check(const char *path, bool *direct);

/* lsuv_file_write in two steps, so that several files are written all or
 * none: stage writes the temporary file (a direct target only keeps data,
 * which must then stay valid until commit); commit renames it over the
 * target, or writes the device; discard removes it. Both free the handle. */
typedef struct lsuv_file_staged lsuv_file_staged;
lsuv_status lsuv_file_stage(const char *path, const void *data, size_t size,
                            lsuv_file_staged **out);
bool lsuv_file_staged_direct(const lsuv_file_staged *staged);
lsuv_status lsuv_file_commit(lsuv_file_staged *staged);
void lsuv_file_discard(lsuv_file_staged *staged);

/* Removes every temporary file being written now. Async-signal-safe: for a
 * SIGINT or SIGTERM handler, before the signal's default action. */
void lsuv_file_remove_temps(void);

/* Reads a whole file of at most max_size bytes into a new buffer (with a NUL
 * after the last byte); the caller frees *data. */
lsuv_status lsuv_file_read_all(const char *path, size_t max_size, char **data, size_t *size);

#endif
