/* SPIR-V embedded at build time: cmake/shaders.cmake writes the variants'
 * enum (shader_variants.h) and this table, indexed by it. */
#ifndef LSUV_CORE_SPIRV_H
#define LSUV_CORE_SPIRV_H

#include <stddef.h>
#include <stdint.h>

#include "shader_variants.h"

typedef struct lsuv_spirv {
    const char *name; /* for messages */
    const uint32_t *code;
    size_t size; /* bytes */
} lsuv_spirv;

/* Entry LSUV_SHADER_NONE is all zeros. */
extern const lsuv_spirv lsuv_spirv_table[LSUV_SHADER_COUNT];

#endif
