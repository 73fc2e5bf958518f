/* Internal: the .cfg text as sections of key=value options, before any
 * meaning is given to them. */
#ifndef LSUV_NET_CFG_H
#define LSUV_NET_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "lsuv/status.h"

typedef struct cfg_option {
    char *key, *value;
    uint32_t line;
    int used;
} cfg_option;

typedef struct cfg_section {
    char *name; /* without the brackets */
    uint32_t line;
    uint32_t n_options;
    cfg_option *options;
} cfg_section;

typedef struct cfg_warnings {
    uint32_t count;
    char **text;
} cfg_warnings;

typedef struct cfg_file {
    const char *name;
    uint32_t n_sections;
    cfg_section *sections;
    uint64_t key_compares; /* work of the duplicate check, for tests */
} cfg_file;

/* Splits text into sections; duplicate keys keep the first and warn. */
lsuv_status cfg_read(const char *name, const char *text, size_t size, cfg_file *out,
                     cfg_warnings *warnings);
void cfg_free(cfg_file *cfg);

/* Appends "name:line: text" to the warnings. */
lsuv_status cfg_warn(cfg_warnings *w, const char *name, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
