#include "lsuv/file.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

lsuv_status lsuv_file_read_all(const char *path, size_t max_size, char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lsuv_fail(LSUV_ERROR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    lsuv_status st = buf ? LSUV_OK : lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    while (st == LSUV_OK) {
        if (n == cap) {
            if (cap >= max_size) {
                st = lsuv_fail(LSUV_ERROR_IO, "%s: larger than %zu bytes", path, max_size);
                break;
            }
            cap = cap * 2 > max_size ? max_size : cap * 2;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                st = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
                break;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) st = lsuv_fail(LSUV_ERROR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st != LSUV_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return LSUV_OK;
}
