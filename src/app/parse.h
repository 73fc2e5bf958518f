/* The programs' command lines: strict numbers, and what a bad option was. */
#ifndef LSUV_APP_PARSE_H
#define LSUV_APP_PARSE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A whole decimal integer of at least min. Anything else (a sign, trailing
 * text, overflow) prints "PROGRAM: WHAT expects an integer of at least MIN,
 * got 'TEXT'" on standard error and returns false. */
bool app_parse_u64(const char *program, const char *what, const char *text, uint64_t min,
                   uint64_t *out);

/* What a long option's value is, for the message when it is missing. */
typedef struct app_option_hint {
    const char *name, *hint;
} app_option_hint;

typedef struct app_options {
    const char *program;
    const struct option *longs;
    const app_option_hint *hints;
    size_t n_hints;
} app_options;

/* The hint of the long option name ("a path" for those not listed). */
const char *app_option_hint_of(const app_options *o, const char *name);

/* After getopt_long returned '?' for word: says on standard error, in words,
 * what was wrong (an unknown option, a missing value with what it takes, a
 * value given to a flag) and returns EXIT_USAGE. */
int app_option_problem(const app_options *o, const char *word);

#endif
