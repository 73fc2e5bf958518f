/* Strict number parsing for command lines and input files. */
#ifndef LSUV_PARSE_H
#define LSUV_PARSE_H

#include <stdint.h>

#include "lsuv/status.h"

/* A whole decimal integer of at least min; anything else (a sign, trailing
 * text, overflow) is LSUV_ERROR_INVALID with "WHAT expects an integer of at
 * least MIN, got 'TEXT'" as the message. */
lsuv_status lsuv_parse_u64(const char *what, const char *text, uint64_t min, uint64_t *out);

#endif
