/* Internal: the Vulkan objects behind the public handles, for the ops that
 * record their own dispatches. */
#ifndef LSUV_VK_INTERNAL_H
#define LSUV_VK_INTERNAL_H

#include <volk.h>

#include "lsuv/device.h"
#include "vk/dispatch.h"

#define LSUV_VALIDATION_TEXT 2048
#define LSUV_MAX_BINDINGS    8

struct lsuv_instance {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    uint32_t api_version; /* what the instance was created with */
    uint32_t device_count;
    VkPhysicalDevice *physical;
    lsuv_device_info *info;
    uint32_t *queue_family; /* per device: the compute family used */
    uint32_t validation_count;
    char validation_first[LSUV_VALIDATION_TEXT];
};

struct lsuv_device {
    lsuv_instance *instance;
    VkPhysicalDevice physical;
    const lsuv_device_info *info;
    VkDevice device;
    struct VolkDeviceTable vk;
    uint32_t queue_family;
    VkQueue queue;
    VkCommandPool pool;
    VkPhysicalDeviceMemoryProperties memory;
    bool full_subgroups; /* computeFullSubgroups was enabled */
    VkPhysicalDeviceProperties properties;
    VkPipelineCache pipeline_cache;
    uint64_t cache_loaded_bytes;
    char cache_warning[1400];
};

struct lsuv_buffer {
    lsuv_device *device;
    VkBuffer buffer;
    VkDeviceMemory memory;
    uint64_t size;
    void *mapped; /* non-NULL when host-visible and coherent */
};

struct lsuv_cmd {
    lsuv_device *device;
    VkCommandBuffer buffer;
    VkFence fence;
    VkPipeline bound; /* the pipeline bound in this recording, if any */
};

/* "vkCreateDevice failed: VK_ERROR_..." as a status; out-of-memory results map
 * to LSUV_ERROR_OUT_OF_MEMORY. */
lsuv_status lsuv_vk_fail(VkResult result, const char *what);
const char *lsuv_vk_result_name(VkResult result);

/* A storage buffer with chosen memory properties, for staging. */
lsuv_status lsuv_buffer_create_with(lsuv_device *device, uint64_t size, VkBufferUsageFlags usage,
                                    bool host, lsuv_buffer **out);

/* The on-disk pipeline cache (src/vk/pipeline_cache.c): opened when the
 * device is made, written back when it is destroyed. */
lsuv_status lsuv_pipeline_cache_open(lsuv_device *device);
void lsuv_pipeline_cache_close(lsuv_device *device);

/* A compute pipeline over one descriptor set of storage buffers. */
typedef struct lsuv_pipeline {
    lsuv_device *device;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    uint32_t bindings;
    VkDescriptorType types[LSUV_MAX_BINDINGS];
    uint32_t push_size;
} lsuv_pipeline;

typedef struct lsuv_pipeline_desc {
    const char *shader;            /* name in the embedded SPIR-V table */
    uint32_t bindings;             /* bindings 0..bindings-1 in set 0 */
    const VkDescriptorType *types; /* per binding; NULL: all storage buffers */
    uint32_t push_size;            /* bytes of push constants */
    const uint32_t *spec;          /* specialization constants 0..spec_count-1 */
    uint32_t spec_count;
    bool full_subgroups; /* require full subgroups */
} lsuv_pipeline_desc;

lsuv_status lsuv_pipeline_create(lsuv_device *device, const lsuv_pipeline_desc *desc,
                                 lsuv_pipeline *out);
/* The two halves of lsuv_pipeline_create, for a pipeline built only when
 * first needed: its layouts (enough to allocate descriptor sets), then the
 * pipeline itself (nothing when it is built already). lavapipe spends most
 * of a run building pipelines. */
lsuv_status lsuv_pipeline_layout_create(lsuv_device *device, const lsuv_pipeline_desc *desc,
                                        lsuv_pipeline *out);
lsuv_status lsuv_pipeline_compile(lsuv_pipeline *pipeline, const lsuv_pipeline_desc *desc);
void lsuv_pipeline_destroy(lsuv_pipeline *pipeline);

#endif
