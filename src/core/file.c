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
