#include "core/spirv.h"

#include <string.h>

const lsuv_spirv *lsuv_spirv_find(const char *name) {
    for (const lsuv_spirv *s = lsuv_spirv_table; s->name; ++s)
        if (strcmp(s->name, name) == 0) return s;
    return NULL;
}
