/* Writing files so that a failed run never leaves a half-written one. */
#ifndef LSUV_FILE_H
#define LSUV_FILE_H

#include <stddef.h>

#include "lsuv/status.h"

/* Writes size bytes to a temporary file beside path, syncs it and renames it
 * over path: readers see the old file or the whole new one. */
lsuv_status lsuv_file_write(const char *path, const void *data, size_t size);
lsuv_status lsuv_file_write_text(const char *path, const char *text);

/* Reads a whole file of at most max_size bytes into a new buffer (with a NUL
 * after the last byte); the caller frees *data. */
lsuv_status lsuv_file_read_all(const char *path, size_t max_size, char **data, size_t *size);

#endif
