/* Strict number parsing for the programs' command lines. */
#ifndef LSUV_APP_PARSE_H
#define LSUV_APP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* A whole decimal integer of at least min. Anything else (a sign, trailing
 * text, overflow) prints "PROGRAM: WHAT expects an integer of at least MIN,
 * got 'TEXT'" on standard error and returns false. */
bool app_parse_u64(const char *program, const char *what, const char *text, uint64_t min,
                   uint64_t *out);

#endif
