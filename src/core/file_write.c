/* Writing output files. A regular file (or a new one) is written to a
 * temporary file beside it and renamed over it, so readers never see half of
 * it; through a symlink that is its target's folder, so the link survives.
 * Character devices, FIFOs and open descriptors (/dev/stdout) cannot be
 * replaced: they are written directly. */
#include "core/file.h"

#include "core/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the live temporary files, for signal handlers --------------------- */

/* A fixed table, so that the cleanup needs no allocation or lock: a slot is
 * 0 free, 1 being filled, 2 naming a live temporary file. */
enum { TEMP_SLOTS = 32, TEMP_PATH_MAX = 4096 };
static atomic_int temp_state[TEMP_SLOTS];
static char temp_paths[TEMP_SLOTS][TEMP_PATH_MAX];

/* A file that finds no slot is still removed by the next write beside it. */
static int temp_register(const char *path) {
    if (strlen(path) >= TEMP_PATH_MAX) return -1;
    for (int i = 0; i < TEMP_SLOTS; ++i) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&temp_state[i], &expected, 1)) {
            memcpy(temp_paths[i], path, strlen(path) + 1);
            atomic_store(&temp_state[i], 2);
            return i;
        }
    }
    return -1;
}

static void temp_unregister(int slot) {
    if (slot >= 0) atomic_store(&temp_state[slot], 0);
}

void lsuv_file_remove_temps(void) {
    for (int i = 0; i < TEMP_SLOTS; ++i)
        if (atomic_load(&temp_state[i]) == 2) unlink(temp_paths[i]);
}

/* ---- what a path names ------------------------------------------------- */

typedef enum target_kind {
    TARGET_NEW,     /* nothing there yet */
    TARGET_REGULAR, /* replaced through a temporary file */
    TARGET_DEVICE,  /* a character device or FIFO, opened and written */
    TARGET_FD,      /* /dev/stdout and the like: an open descriptor */
} target_kind;

typedef struct target {
    char *path; /* the symlinks followed; NULL for TARGET_FD */
    target_kind kind;
    int fd;         /* TARGET_FD */
    struct stat st; /* TARGET_REGULAR: its mode and owner are kept */
} target;

/* The descriptor that /dev/stdout, /dev/fd/N or /proc/self/fd/N stand for,
 * or -1. Following their links would name a pipe or a deleted file. */
static int fd_alias(const char *p) {
    if (strcmp(p, "/dev/stdout") == 0) return 1;
    if (strcmp(p, "/dev/stderr") == 0) return 2;
    const char *n = strncmp(p, "/dev/fd/", 8) == 0          ? p + 8
                    : strncmp(p, "/proc/self/fd/", 14) == 0 ? p + 14
                                                            : NULL;
    if (!n || *n < '0' || *n > '9') return -1;
    char *end;
    long fd = strtol(n, &end, 10);
    return *end || fd > 1 << 20 ? -1 : (int)fd;
}

/* The folder part of path, with its slash ("" for none), then more. */
static char *join_dir(const char *path, const char *more) {
    const char *slash = strrchr(path, '/');
    size_t d = slash ? (size_t)(slash - path) + 1 : 0, m = strlen(more);
    char *out = malloc(d + m + 1);
    if (out) {
        memcpy(out, path, d);
        memcpy(out + d, more, m + 1);
    }
    return out;
}

/* Follows the last component's symlinks; a dangling one names a new file. */
static lsuv_status follow_links(const char *path, char **out, int *fd) {
    char *cur = strdup(path);
    for (int hops = 0; cur && hops < 40; ++hops) {
        struct stat st;
        if ((*fd = fd_alias(cur)) >= 0 || lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            *out = cur;
            return LSUV_OK;
        }
        char link[4096];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) {
            lsuv_status s = lsuv_fail(LSUV_ERROR_IO, "%s: %s", path, strerror(errno));
            free(cur);
            return s;
        }
        link[n] = '\0';
        char *next = link[0] == '/' ? strdup(link) : join_dir(cur, link);
        free(cur);
        cur = next;
    }
    if (!cur) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    free(cur);
    return lsuv_fail(LSUV_ERROR_IO, "%s: %s", path, strerror(ELOOP));
}

static lsuv_status classify(const char *path, target *t) {
    struct stat st;
    if (t->kind == TARGET_FD)
        return fstat(t->fd, &st) == 0
                   ? LSUV_OK
                   : lsuv_fail(LSUV_ERROR_IO, "%s: descriptor %d is not open", path, t->fd);
    if (stat(t->path, &st) == 0) {
        if (S_ISREG(st.st_mode)) {
            t->kind = TARGET_REGULAR;
            t->st = st;
        } else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
            t->kind = TARGET_DEVICE;
            if (access(t->path, W_OK) != 0)
                return lsuv_fail(LSUV_ERROR_IO, "%s: %s", path, strerror(errno));
            return LSUV_OK;
        } else {
            return lsuv_fail(LSUV_ERROR_IO, "%s: %s, not a file to write", path,
                             S_ISDIR(st.st_mode) ? "a folder" : "a block device or socket");
        }
    } else if (errno != ENOENT) {
        return lsuv_fail(LSUV_ERROR_IO, "%s: %s", path, strerror(errno));
    }
    /* A new or replaced file is a new entry in the folder. */
    char *dir = join_dir(t->path, ".");
    if (!dir) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_status s = LSUV_OK;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        s = lsuv_fail(LSUV_ERROR_IO, "%s: its folder does not exist", path);
    else if (access(dir, W_OK | X_OK) != 0)
        s = lsuv_fail(LSUV_ERROR_IO, "%s: cannot write in its folder: %s", path, strerror(errno));
    free(dir);
    return s;
}

static lsuv_status target_find(const char *path, target *t) {
    *t = (target){.kind = TARGET_NEW, .fd = -1};
    lsuv_status s = follow_links(path, &t->path, &t->fd);
    if (s == LSUV_OK && t->fd >= 0) t->kind = TARGET_FD;
    if (s == LSUV_OK) s = classify(path, t);
    if (s != LSUV_OK) {
        free(t->path);
        t->path = NULL;
    }
    return s;
}

lsuv_status lsuv_file_check(const char *path, bool *direct) {
    target t;
    lsuv_status s = target_find(path, &t);
    if (direct) *direct = s == LSUV_OK && (t.kind == TARGET_DEVICE || t.kind == TARGET_FD);
    free(t.path);
    return s;
}

/* ---- temporary files --------------------------------------------------- */

/* ".NAME.lsuv-tmp-" beside the target; the pid and six letters follow. */
static char *temp_prefix(const char *dest) {
    const char *slash = strrchr(dest, '/');
    const char *base = slash ? slash + 1 : dest;
    char name[256];
    /* Room for the pid and the letters within a 255-byte file name. */
    snprintf(name, sizeof name, ".%.200s.lsuv-tmp-", base);
    return join_dir(dest, name);
}

/* Removes temporary files of this target left by processes that died. */
static void remove_stale(const char *prefix) {
    const char *slash = strrchr(prefix, '/');
    const char *start = slash ? slash + 1 : prefix;
    char *dir_path = join_dir(prefix, ".");
    DIR *dir = dir_path ? opendir(dir_path) : NULL;
    size_t n = strlen(start);
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (strncmp(e->d_name, start, n) != 0) continue;
        char *end;
        long pid = strtol(e->d_name + n, &end, 10);
        if (pid <= 0 || *end != '-' || strlen(end + 1) != 6 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) unlinkat(dirfd(dir), e->d_name, 0);
    }
    if (dir) closedir(dir);
    free(dir_path);
}

/* Created with 0666 so that the umask (and a default ACL) applies, and
 * registered before it exists: a signal may come right after the open. The
 * name holds our pid, so no other live writer's file can be named so. */
static int temp_create(const char *prefix, char **out, int *slot) {
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static atomic_uint counter;
    size_t cap = strlen(prefix) + 32;
    char *path = malloc(cap);
    if (!path) return errno = ENOMEM, -1;
    for (int tries = 0; tries < 100; ++tries) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long v =
            (unsigned long)ts.tv_nsec * 2654435761u + (atomic_fetch_add(&counter, 1) + 1) * 40503u;
        char tail[7];
        for (int i = 0; i < 6; ++i, v /= 62) tail[i] = letters[v % 62];
        tail[6] = '\0';
        snprintf(path, cap, "%s%ld-%s", prefix, (long)getpid(), tail);
        *slot = temp_register(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *out = path;
            return fd;
        }
        int err = errno;
        temp_unregister(*slot);
        if (err != EEXIST) {
            free(path);
            return errno = err, -1;
        }
    }
    free(path);
    return errno = EEXIST, -1;
}

static int write_all(int fd, const void *data, size_t size) {
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

/* ---- staging and committing -------------------------------------------- */

struct lsuv_file_staged {
    char *name; /* as the caller named it, for messages */
    target t;
    char *temp; /* TARGET_NEW and TARGET_REGULAR */
    int slot;
    const void *data; /* TARGET_DEVICE and TARGET_FD: written at commit */
    size_t size;
};

static void staged_free(lsuv_file_staged *f) {
    free(f->name);
    free(f->t.path);
    free(f->temp);
    free(f);
}

/* An existing file keeps its owner (where we may set it) and its mode. */
static int fill_temp(lsuv_file_staged *f, int fd) {
    int err = write_all(fd, f->data, f->size);
    if (!err && f->t.kind == TARGET_REGULAR) {
        if (fchown(fd, f->t.st.st_uid, f->t.st.st_gid) != 0) {
            /* not ours to give away: the new file is the writer's */
        }
        if (fchmod(fd, f->t.st.st_mode & 07777) != 0) err = errno;
    }
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    return err;
}

static lsuv_status stage_temp(lsuv_file_staged *f) {
    char *prefix = temp_prefix(f->t.path);
    if (!prefix) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    remove_stale(prefix);
    int fd = temp_create(prefix, &f->temp, &f->slot);
    free(prefix);
    if (fd < 0)
        return lsuv_fail(LSUV_ERROR_IO, "%s: cannot create a file beside it: %s", f->name,
                         strerror(errno));
    int err = fill_temp(f, fd);
    if (err) {
        unlink(f->temp);
        temp_unregister(f->slot);
        return lsuv_fail(LSUV_ERROR_IO, "%s: %s", f->name, strerror(err));
    }
    return LSUV_OK;
}

lsuv_status lsuv_file_stage(const char *path, const void *data, size_t size,
                            lsuv_file_staged **out) {
    *out = NULL;
    lsuv_file_staged *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strdup(path))) {
        free(f);
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    f->slot = -1;
    f->data = data;
    f->size = size;
    lsuv_status s = target_find(path, &f->t);
    if (s == LSUV_OK && (f->t.kind == TARGET_NEW || f->t.kind == TARGET_REGULAR)) s = stage_temp(f);
    if (s != LSUV_OK) {
        staged_free(f);
        return s;
    }
    *out = f;
    return LSUV_OK;
}

bool lsuv_file_staged_direct(const lsuv_file_staged *f) {
    return !f->temp;
}

lsuv_status lsuv_file_commit(lsuv_file_staged *f) {
    int err = 0;
    if (f->temp) {
        if (rename(f->temp, f->t.path) != 0) {
            err = errno;
            unlink(f->temp);
        }
        temp_unregister(f->slot);
    } else if (f->t.kind == TARGET_FD) {
        err = write_all(f->t.fd, f->data, f->size);
    } else {
        int fd = open(f->t.path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        err = fd < 0 ? errno : write_all(fd, f->data, f->size);
        if (fd >= 0 && close(fd) != 0 && !err) err = errno;
    }
    lsuv_status s = err ? lsuv_fail(LSUV_ERROR_IO, "%s: %s", f->name, strerror(err)) : LSUV_OK;
    staged_free(f);
    return s;
}

void lsuv_file_discard(lsuv_file_staged *f) {
    if (!f) return;
    if (f->temp) {
        unlink(f->temp);
        temp_unregister(f->slot);
    }
    staged_free(f);
}

lsuv_status lsuv_file_write(const char *path, const void *data, size_t size) {
    lsuv_file_staged *f;
    lsuv_status s = lsuv_file_stage(path, data, size, &f);
    return s == LSUV_OK ? lsuv_file_commit(f) : s;
}

lsuv_status lsuv_file_write_text(const char *path, const char *text) {
    return lsuv_file_write(path, text, strlen(text));
}
