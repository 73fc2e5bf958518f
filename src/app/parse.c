#include "app/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

bool app_parse_u64(const char *program, const char *what, const char *text, uint64_t min,
                   uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 10) : 0;
    if (!end || errno || *end || v < min) {
        fprintf(stderr, "%s: %s expects an integer of at least %llu, got '%s'\n", program, what,
                (unsigned long long)min, text);
        return false;
    }
    *out = v;
    return true;
}
