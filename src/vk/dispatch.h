/* Internal: the one way the ops make and record compute work. A pipeline is
 * a compute shader over one set of bindings; a binding set is a descriptor
 * pool with its sets, each laid out for a pipeline, and the texel views its
 * bindings point at; a dispatch is recorded as a pipeline, one set of a
 * binding set, push constants and a group count (or indirect arguments).
 * Only src/vk/ calls Vulkan: the ops see none of its types. */
#ifndef LSUV_VK_DISPATCH_H
#define LSUV_VK_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "lsuv/device.h"
#include "shader_variants.h"

/* VK_WHOLE_SIZE: a binding from its offset to the end of the buffer. */
#define LSUV_WHOLE_SIZE   (~0ull)
#define LSUV_MAX_BINDINGS 8
#define LSUV_MAX_SPEC     12

typedef struct lsuv_pipeline lsuv_pipeline;
typedef struct lsuv_binding_set lsuv_binding_set;

static inline uint64_t lsuv_div_up(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

static inline uint64_t lsuv_align_up(uint64_t a, uint64_t b) {
    return lsuv_div_up(a, b) * b;
}

/* What a binding holds: a storage buffer, a uniform buffer, or a uniform
 * texel buffer. */
typedef enum lsuv_binding_kind {
    LSUV_BINDING_STORAGE,
    LSUV_BINDING_UNIFORM,
    LSUV_BINDING_TEXEL,
} lsuv_binding_kind;

typedef struct lsuv_pipeline_desc {
    lsuv_shader shader;             /* the variant, in the generated enum */
    uint32_t bindings;              /* bindings 0..bindings-1 in set 0 */
    const lsuv_binding_kind *kinds; /* per binding; NULL: all storage buffers */
    uint32_t push_size;             /* bytes of push constants */
    const uint32_t *spec;           /* specialization constants 0..spec_count-1 */
    uint32_t spec_count;
    bool full_subgroups; /* require full subgroups */
} lsuv_pipeline_desc;

lsuv_status lsuv_pipeline_create(lsuv_device *device, const lsuv_pipeline_desc *desc,
                                 lsuv_pipeline **out);
/* lsuv_pipeline_create in two halves, for a pipeline built only when first
 * needed: its layouts now (enough for binding sets), the pipeline itself at
 * lsuv_pipeline_compile (nothing when it is built already). lavapipe spends
 * most of a run building pipelines. */
lsuv_status lsuv_pipeline_create_deferred(lsuv_device *device, const lsuv_pipeline_desc *desc,
                                          lsuv_pipeline **out);
lsuv_status lsuv_pipeline_compile(lsuv_pipeline *pipeline);
void lsuv_pipeline_destroy(lsuv_pipeline *pipeline);

/* count descriptor sets laid out for pipeline, in a pool sized for them. */
lsuv_status lsuv_binding_set_create(const lsuv_pipeline *pipeline, uint32_t count,
                                    lsuv_binding_set **out);
/* count descriptor sets, set i laid out for pipelines[i]. */
lsuv_status lsuv_binding_set_create_each(const lsuv_pipeline *const *pipelines, uint32_t count,
                                         lsuv_binding_set **out);
/* Frees the pool, its sets and every texel view they were given. */
void lsuv_binding_set_destroy(lsuv_binding_set *set);

/* Points binding of set index at [offset, offset + range) of buffer, as the
 * storage or uniform buffer the pipeline's layout says it is. */
void lsuv_binding_set_write_buffer(lsuv_binding_set *set, uint32_t index, uint32_t binding,
                                   const lsuv_buffer *buffer, uint64_t offset, uint64_t range);
/* Points a uniform texel binding at a view of [offset, offset + range) of
 * buffer, in texels of `lanes` floats (1: R32_SFLOAT, 4: R32G32B32A32_SFLOAT;
 * range a whole number of them). The set owns the view. */
lsuv_status lsuv_binding_set_write_texels(lsuv_binding_set *set, uint32_t index, uint32_t binding,
                                          const lsuv_buffer *buffer, uint64_t offset,
                                          uint64_t range, uint32_t lanes);

/* Records a dispatch of groups[0] x groups[1] x groups[2] workgroups of
 * pipeline, with set index of set bound and push_size bytes of push
 * constants. The pipeline is bound only when it is not bound already. */
void lsuv_cmd_record_dispatch(lsuv_cmd *cmd, const lsuv_pipeline *pipeline,
                              const lsuv_binding_set *set, uint32_t index, const void *push,
                              uint32_t push_size, const uint32_t groups[3]);
/* The same, with the group counts read at run time from the three words at
 * offset of args. */
void lsuv_cmd_record_dispatch_indirect(lsuv_cmd *cmd, const lsuv_pipeline *pipeline,
                                       const lsuv_binding_set *set, uint32_t index,
                                       const void *push, uint32_t push_size,
                                       const lsuv_buffer *args, uint64_t offset);

#endif
