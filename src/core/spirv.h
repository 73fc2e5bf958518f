/* SPIR-V embedded at build time (cmake/shaders.cmake writes the table). */
#ifndef LSUV_CORE_SPIRV_H
#define LSUV_CORE_SPIRV_H

#include <stddef.h>
#include <stdint.h>

typedef struct lsuv_spirv {
    const char *name;
    const uint32_t *code;
    size_t size; /* bytes */
} lsuv_spirv;

/* Ends with an entry whose name is NULL. */
extern const lsuv_spirv lsuv_spirv_table[];

/* NULL when no shader of that name was built. */
const lsuv_spirv *lsuv_spirv_find(const char *name);

#endif
