/* Internal: a growing text buffer for reports built in memory and written
 * whole, so that no reader ever sees half a file. */
#ifndef LSUV_CORE_TEXT_H
#define LSUV_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lsuv_text {
    char *data;
    size_t len, cap;
    bool failed; /* out of memory: later puts do nothing */
} lsuv_text;

void lsuv_text_put(lsuv_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text (the caller frees it), or NULL when a put failed or nothing was
 * put; t is empty afterwards. */
char *lsuv_text_take(lsuv_text *t);

#endif
