/* Internal to src/vk/: the Vulkan objects behind the handles. */
#ifndef LSUV_VK_INTERNAL_H
#define LSUV_VK_INTERNAL_H

#include <volk.h>

#include "lsuv/device.h"
#include "vk/dispatch.h"

#define LSUV_VALIDATION_TEXT 2048

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
    VkBufferUsageFlags usage;
    uint32_t type; /* its memory's type */
    bool alias;    /* memory is its parent's (lsuv_buffer_create_alias) */
};

struct lsuv_cmd {
    lsuv_device *device;
    VkCommandBuffer buffer;
    VkFence fence;
    VkPipeline bound; /* the pipeline bound in this recording, if any */
    bool pending;     /* submitted, and not yet seen finished */
    bool secondary;   /* executed from a primary (lsuv_cmd_begin_secondary) */
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

/* A compute pipeline over one descriptor set. */
struct lsuv_pipeline {
    lsuv_device *device;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline; /* VK_NULL_HANDLE until compiled */
    uint32_t bindings;
    VkDescriptorType types[LSUV_MAX_BINDINGS];
    uint32_t push_size;
    /* What lsuv_pipeline_compile builds it from. */
    const char *shader; /* the variant's name, for messages */
    lsuv_shader variant;
    uint32_t spec[LSUV_MAX_SPEC];
    uint32_t spec_count;
    bool full_subgroups;
};

#endif
