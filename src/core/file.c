#include "lsuv/file.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

lsuv_status lsuv_file_write(const char *path, const void *data, size_t size) {
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    snprintf(tmp, len + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        lsuv_status s = lsuv_fail(LSUV_ERROR_IO, "%s: cannot create a file beside it: %s", path,
                                  strerror(errno));
        free(tmp);
        return s;
    }
    const char *p = data;
    size_t left = size;
    int err = 0;
    while (left > 0 && !err) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            err = w < 0 ? errno : EIO;
        else {
            p += w;
            left -= (size_t)w;
        }
    }
    if (!err && fsync(fd) != 0) err = errno;
    /* mkstemp makes the file 0600; a result file should read like any other. */
    if (!err && fchmod(fd, 0644) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        free(tmp);
        return lsuv_fail(LSUV_ERROR_IO, "%s: %s", path, strerror(err));
    }
    free(tmp);
    return LSUV_OK;
}

lsuv_status lsuv_file_write_text(const char *path, const char *text) {
    return lsuv_file_write(path, text, strlen(text));
}

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
