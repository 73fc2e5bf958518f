#include "lsuv/parse.h"

#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

lsuv_status lsuv_parse_u64(const char *what, const char *text, uint64_t min, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 10) : 0;
    if (!end || errno || *end || v < min)
        return lsuv_fail(LSUV_ERROR_INVALID, "%s expects an integer of at least %llu, got '%s'",
                         what, (unsigned long long)min, text);
    *out = v;
    return LSUV_OK;
}
