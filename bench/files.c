#include "files.h"

#include "app/exit_codes.h"
#include "core/file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* With *rest the part of path below dir (resolved), when it is below. */
static bool below(const char *path, const char *dir, const char **rest) {
    char real[PATH_MAX];
    if (!realpath(dir, real)) return false;
    size_t n = strlen(real);
    if (strncmp(path, real, n) != 0 || path[n] != '/') return false;
    *rest = path + n + 1;
    return true;
}

void bench_shown_path(const char *path, char *out, size_t size) {
    char real[PATH_MAX];
    /* A folder --out has yet to create does not resolve; it is taken as given. */
    const char *p = realpath(path, real) ? real : path, *rest;
    if (below(p, LSUV_SOURCE_DIR, &rest)) {
        snprintf(out, size, "%s", rest);
    } else {
        const char *slash = strrchr(p, '/');
        snprintf(out, size, "%s", slash && slash[1] ? slash + 1 : p);
    }
}

void bench_files_add(bench_files *f, const char *name, char *text) {
    bench_file *grown = text ? realloc(f->items, (f->n + 1) * sizeof *grown) : NULL;
    char *copy = grown ? strdup(name) : NULL;
    if (!copy) {
        if (grown) f->items = grown;
        free(text);
        f->failed = true;
        return;
    }
    f->items = grown;
    f->items[f->n++] = (bench_file){copy, text};
}

/* mkdir -p. */
static bool make_dirs(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return false;
    for (char *p = path + 1;; ++p) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) return false;
            if (end) return true;
            *p = '/';
        }
    }
}

int bench_files_write(const bench_files *f, const char *dir) {
    if (f->failed) {
        fprintf(stderr, "lsuv-bench: out of memory building the files of --out\n");
        return EXIT_RUNTIME;
    }
    if (!make_dirs(dir)) {
        fprintf(stderr, "lsuv-bench: cannot create the directory %s: %s\n", dir, strerror(errno));
        return EXIT_RUNTIME;
    }
    /* Every file staged before any is renamed into place: one that cannot be
     * written leaves none of the set behind. */
    lsuv_file_staged **staged = calloc(f->n ? f->n : 1, sizeof *staged);
    if (!staged) {
        fprintf(stderr, "lsuv-bench: out of memory writing the files of --out\n");
        return EXIT_RUNTIME;
    }
    lsuv_status s = LSUV_OK;
    uint32_t n = 0;
    for (; s == LSUV_OK && n < f->n; ++n) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, f->items[n].name);
        s = lsuv_file_stage(path, f->items[n].text, strlen(f->items[n].text), &staged[n]);
    }
    for (uint32_t i = 0; i < n; ++i) {
        if (s == LSUV_OK)
            s = lsuv_file_commit(staged[i]);
        else
            lsuv_file_discard(staged[i]);
    }
    free(staged);
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

void bench_files_free(bench_files *f) {
    for (uint32_t i = 0; i < f->n; ++i) {
        free(f->items[i].name);
        free(f->items[i].text);
    }
    free(f->items);
    *f = (bench_files){0};
}
