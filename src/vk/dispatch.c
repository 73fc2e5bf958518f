#include "vk/dispatch.h"

#include "core/error.h"
#include "vk/internal.h"

#include <stdlib.h>

_Static_assert(LSUV_WHOLE_SIZE == VK_WHOLE_SIZE, "LSUV_WHOLE_SIZE is VK_WHOLE_SIZE");

struct lsuv_binding_set {
    lsuv_device *device;
    VkDescriptorPool pool;
    uint32_t count;
    const lsuv_pipeline **layouts; /* per set: the pipeline it is laid out for */
    VkDescriptorSet *sets;
    /* Per set, per binding: the texel view it points at. NULL when no
     * pipeline has a texel binding. */
    VkBufferView *views;
};

/* Pool sizes: exactly the descriptors of each type the sets' layouts hold. */
static VkResult pool_create(lsuv_binding_set *set) {
    static const VkDescriptorType kinds[] = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                             VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER,
                                             VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER};
    VkDescriptorPoolSize sizes[3];
    uint32_t n_sizes = 0;
    for (uint32_t k = 0; k < 3; ++k) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < set->count; ++i)
            for (uint32_t b = 0; b < set->layouts[i]->bindings; ++b)
                n += set->layouts[i]->types[b] == kinds[k];
        if (n) sizes[n_sizes++] = (VkDescriptorPoolSize){kinds[k], n};
    }
    VkDescriptorPoolCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = set->count,
        .poolSizeCount = n_sizes,
        .pPoolSizes = sizes,
    };
    lsuv_device *dev = set->device;
    VkResult r = dev->vk.vkCreateDescriptorPool(dev->device, &info, NULL, &set->pool);
    for (uint32_t i = 0; r == VK_SUCCESS && i < set->count; ++i) {
        VkDescriptorSetAllocateInfo alloc = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = set->pool,
            .descriptorSetCount = 1,
            .pSetLayouts = &set->layouts[i]->set_layout,
        };
        r = dev->vk.vkAllocateDescriptorSets(dev->device, &alloc, &set->sets[i]);
    }
    return r;
}

/* pipelines[i * step] lays out set i. */
static lsuv_status binding_set_make(const lsuv_pipeline *const *pipelines, size_t step,
                                    uint32_t count, lsuv_binding_set **out) {
    *out = NULL;
    if (count == 0) return lsuv_fail(LSUV_ERROR_INVALID, "a binding set of no sets");
    lsuv_binding_set *set = calloc(1, sizeof *set);
    if (!set) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    set->device = pipelines[0]->device;
    set->count = count;
    set->layouts = calloc(count, sizeof *set->layouts);
    set->sets = calloc(count, sizeof *set->sets);
    bool texel = false;
    for (uint32_t i = 0; set->layouts && i < count; ++i) {
        set->layouts[i] = pipelines[i * step];
        for (uint32_t b = 0; b < set->layouts[i]->bindings; ++b)
            texel |= set->layouts[i]->types[b] == VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    }
    if (texel && set->layouts)
        set->views = calloc((size_t)count * LSUV_MAX_BINDINGS, sizeof *set->views);
    if (!set->layouts || !set->sets || (texel && !set->views)) {
        lsuv_binding_set_destroy(set);
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    VkResult r = pool_create(set);
    if (r != VK_SUCCESS) {
        lsuv_binding_set_destroy(set);
        return lsuv_vk_fail(r, "allocating descriptor sets");
    }
    *out = set;
    return LSUV_OK;
}

lsuv_status lsuv_binding_set_create(const lsuv_pipeline *pipeline, uint32_t count,
                                    lsuv_binding_set **out) {
    return binding_set_make(&pipeline, 0, count, out);
}

lsuv_status lsuv_binding_set_create_each(const lsuv_pipeline *const *pipelines, uint32_t count,
                                         lsuv_binding_set **out) {
    return binding_set_make(pipelines, 1, count, out);
}

void lsuv_binding_set_destroy(lsuv_binding_set *set) {
    if (!set) return;
    lsuv_device *dev = set->device;
    if (set->pool) dev->vk.vkDestroyDescriptorPool(dev->device, set->pool, NULL);
    for (size_t v = 0; set->views && v < (size_t)set->count * LSUV_MAX_BINDINGS; ++v)
        if (set->views[v]) dev->vk.vkDestroyBufferView(dev->device, set->views[v], NULL);
    free(set->views);
    free(set->sets);
    free(set->layouts);
    free(set);
}

void lsuv_binding_set_write_buffer(lsuv_binding_set *set, uint32_t index, uint32_t binding,
                                   const lsuv_buffer *buffer, uint64_t offset, uint64_t range) {
    VkDescriptorBufferInfo info = {.buffer = buffer->buffer, .offset = offset, .range = range};
    VkWriteDescriptorSet w = {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set->sets[index],
        .dstBinding = binding,
        .descriptorCount = 1,
        .descriptorType = set->layouts[index]->types[binding],
        .pBufferInfo = &info,
    };
    set->device->vk.vkUpdateDescriptorSets(set->device->device, 1, &w, 0, NULL);
}

lsuv_status lsuv_binding_set_write_texels(lsuv_binding_set *set, uint32_t index, uint32_t binding,
                                          const lsuv_buffer *buffer, uint64_t offset,
                                          uint64_t range, uint32_t lanes) {
    lsuv_device *dev = set->device;
    const lsuv_pipeline *p = set->layouts[index];
    if (binding >= p->bindings || p->types[binding] != VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER)
        return lsuv_fail(LSUV_ERROR_INVALID, "%s: binding %u is no texel binding", p->shader,
                         binding);
    VkBufferView *view = &set->views[(size_t)index * LSUV_MAX_BINDINGS + binding];
    /* A rewritten binding's old view is no longer read by anything. */
    if (*view) dev->vk.vkDestroyBufferView(dev->device, *view, NULL);
    *view = VK_NULL_HANDLE;
    VkBufferViewCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
        .buffer = buffer->buffer,
        .format = lanes == 4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT,
        .offset = offset,
        .range = range,
    };
    VkResult r = dev->vk.vkCreateBufferView(dev->device, &info, NULL, view);
    if (r != VK_SUCCESS) {
        *view = VK_NULL_HANDLE;
        return lsuv_vk_fail(r, "vkCreateBufferView");
    }
    VkWriteDescriptorSet w = {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set->sets[index],
        .dstBinding = binding,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
        .pTexelBufferView = view,
    };
    dev->vk.vkUpdateDescriptorSets(dev->device, 1, &w, 0, NULL);
    return LSUV_OK;
}

/* What a dispatch of either kind records before the dispatch itself. */
static void record_bind(lsuv_cmd *cmd, const lsuv_pipeline *p, const lsuv_binding_set *set,
                        uint32_t index, const void *push, uint32_t push_size) {
    const struct VolkDeviceTable *vk = &cmd->device->vk;
    if (cmd->bound != p->pipeline) {
        vk->vkCmdBindPipeline(cmd->buffer, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
        cmd->bound = p->pipeline;
    }
    vk->vkCmdBindDescriptorSets(cmd->buffer, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1,
                                &set->sets[index], 0, NULL);
    if (push_size)
        vk->vkCmdPushConstants(cmd->buffer, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size,
                               push);
}

void lsuv_cmd_record_dispatch(lsuv_cmd *cmd, const lsuv_pipeline *pipeline,
                              const lsuv_binding_set *set, uint32_t index, const void *push,
                              uint32_t push_size, const uint32_t groups[3]) {
    record_bind(cmd, pipeline, set, index, push, push_size);
    cmd->device->vk.vkCmdDispatch(cmd->buffer, groups[0], groups[1], groups[2]);
}

void lsuv_cmd_record_dispatch_indirect(lsuv_cmd *cmd, const lsuv_pipeline *pipeline,
                                       const lsuv_binding_set *set, uint32_t index,
                                       const void *push, uint32_t push_size,
                                       const lsuv_buffer *args, uint64_t offset) {
    record_bind(cmd, pipeline, set, index, push, push_size);
    cmd->device->vk.vkCmdDispatchIndirect(cmd->buffer, args->buffer, offset);
}
