#include "core/file.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

/* Opens path for reading if it is a regular file. O_NONBLOCK keeps a FIFO
 * with no writer from hanging the open; fstat then refuses it, a directory
 * (whose read fails with a bare EISDIR) and any device or socket. */
static lsuv_status open_regular(const char *path, size_t max_size, int *fd_out) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return lsuv_fail(LSUV_ERROR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    lsuv_status st = LSUV_OK;
    if (fstat(fd, &sb) != 0)
        st = lsuv_fail(LSUV_ERROR_IO, "%s: %s", path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        st = lsuv_fail(LSUV_ERROR_IO, "%s: is a directory; expected a file", path);
    else if (!S_ISREG(sb.st_mode))
        st = lsuv_fail(LSUV_ERROR_IO, "%s: not a regular file (a %s); expected a file", path,
                       S_ISFIFO(sb.st_mode)   ? "FIFO"
                       : S_ISSOCK(sb.st_mode) ? "socket"
                                              : "device");
    else if (sb.st_size > 0 && (size_t)sb.st_size > max_size)
        st = lsuv_fail(LSUV_ERROR_IO, "%s: larger than %zu bytes", path, max_size);
    if (st != LSUV_OK) {
        close(fd);
        return st;
    }
    *fd_out = fd;
    return LSUV_OK;
}

lsuv_status lsuv_file_read_all(const char *path, size_t max_size, char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    int fd = -1;
    lsuv_status st = open_regular(path, max_size, &fd);
    if (st != LSUV_OK) return st;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) st = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
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
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) st = lsuv_fail(LSUV_ERROR_IO, "%s: read error: %s", path, strerror(errno));
        if (got <= 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (st != LSUV_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return LSUV_OK;
}
