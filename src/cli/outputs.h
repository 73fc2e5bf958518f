/* The files a command writes, all or none: each named output is checked
 * before any work (its folder, its extension, standard output used once),
 * built in memory after the work, written to temporary files, and renamed
 * over its target only when every one of them was written. */
#ifndef LSUV_CLI_OUTPUTS_H
#define LSUV_CLI_OUTPUTS_H

#include <stddef.h>
#include <stdio.h>

#include "cli/fail.h"
#include "lsuv/net.h"
#include "lsuv/weights.h"

typedef struct cJSON cJSON;
typedef struct options options; /* cli/cli.h */

enum { OUTPUTS_MAX = 8 };

typedef struct output {
    const char *option; /* "--json", for messages */
    const char *path;   /* "-" or /dev/stdout: standard output */
    char *data;         /* owned; NULL: it could not be built */
    size_t size;
} output;

typedef struct outputs {
    output items[OUTPUTS_MAX];
    unsigned n;
} outputs;

/* Before any work: the outputs' paths and extensions, at most one output on
 * standard output, what --order none cannot write, and that the input files
 * named exist. Returns EXIT_OK, or EXIT_USAGE having said why. */
int outputs_check(const options *o);
/* Once the network and its starting weights are known, before LSUV: whether
 * --save-weights' format can hold the weights LSUV will leave. */
int outputs_check_weights(const options *o, const lsuv_net *net, const lsuv_weights *w);

/* Where the human-readable text goes: standard error when an output takes
 * standard output. */
FILE *outputs_text_stream(const options *o);

/* SIGINT and SIGTERM remove the temporary files being written, then end the
 * process as the signal would have. */
void outputs_handle_signals(void);

/* Adds an output, taking data (malloc'd; NULL when it could not be built). */
void outputs_add(outputs *set, const char *option, const char *path, char *data, size_t size);
/* Adds root, formatted, with a final newline; frees root. */
void outputs_add_json(outputs *set, const char *option, const char *path, cJSON *root);
/* Writes every output or none, and empties the set. Returns an exit code,
 * having said why on failure. */
int outputs_commit(outputs *set);
/* Writes root, formatted, to path ("-": standard output) and frees it: a set
 * of one. Returns an exit code, having said why on failure. */
int outputs_write_json(cJSON *root, const char *option, const char *path);
void outputs_free(outputs *set);

#endif
