#include "core/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void lsuv_text_put(lsuv_text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n =
            vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->data && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *grown = realloc(t->data, cap);
        if (!grown) {
            t->failed = true;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
}

char *lsuv_text_take(lsuv_text *t) {
    char *data = t->failed ? NULL : t->data;
    if (t->failed) free(t->data);
    *t = (lsuv_text){0};
    return data;
}
