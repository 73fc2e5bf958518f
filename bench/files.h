/* The files of --out, built in memory during the run and written only when
 * every case finished: a failed run leaves no partial results. */
#ifndef LSUV_BENCH_FILES_H
#define LSUV_BENCH_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_file {
    char *name, *text;
} bench_file;

typedef struct bench_files {
    bench_file *items;
    uint32_t n;
    bool failed; /* out of memory building one */
} bench_files;

/* Takes text (NULL: it could not be built, which fails the set). */
void bench_files_add(bench_files *files, const char *name, char *text);
/* Creates dir if needed and writes the files all or none: each is staged
 * beside its target and renamed over it only once every one is staged.
 * Returns an exit code, having said why on failure. */
int bench_files_write(const bench_files *files, const char *dir);
void bench_files_free(bench_files *files);

/* A path as results record it: relative to the repository, else the file
 * name alone, so that results carry no folder of the machine that ran
 * them. */
void bench_shown_path(const char *path, char *out, size_t size);

#endif
