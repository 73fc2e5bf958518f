#include "vk/internal.h"

#include "core/error.h"

#include <stdlib.h>

/* Whether the device at index can run lsuv-vk's kernels at all. */
static lsuv_status device_check_usable(const lsuv_instance *inst, uint32_t index) {
    if (index >= inst->device_count)
        return lsuv_fail(LSUV_ERROR_INVALID, "device index %u is out of range (%u devices)", index,
                         inst->device_count);
    const lsuv_device_info *info = &inst->info[index];
    if (info->api_version < VK_API_VERSION_1_1)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED, "%s supports only Vulkan %u.%u; lsuv-vk needs 1.1",
                         info->name, VK_API_VERSION_MAJOR(info->api_version),
                         VK_API_VERSION_MINOR(info->api_version));
    if (inst->queue_family[index] == UINT32_MAX)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED, "%s has no compute queue", info->name);
    return LSUV_OK;
}

/* The VkDevice with its one compute queue and the features the kernels use. */
static lsuv_status device_open_vk(lsuv_device *dev) {
    const lsuv_device_info *info = dev->info;
    /* Full subgroups let the shuffle-based reductions assume every lane is
     * live; without them the kernels fall back to shared memory. */
    dev->full_subgroups = info->full_subgroups;
    VkPhysicalDeviceSubgroupSizeControlFeatures size_control = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
        .computeFullSubgroups = VK_TRUE,
    };
    /* 16-bit storage, for fp16 activations and weights, where there is. */
    VkPhysicalDevice16BitStorageFeatures storage16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .pNext = dev->full_subgroups ? &size_control : NULL,
        .storageBuffer16BitAccess = info->storage16,
    };
    const char *extensions[1];
    uint32_t extension_count = 0;
    if (dev->full_subgroups && info->api_version < VK_API_VERSION_1_3)
        extensions[extension_count++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = dev->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo create = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &storage16,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
        .enabledExtensionCount = extension_count,
        .ppEnabledExtensionNames = extensions,
    };
    VkResult r = vkCreateDevice(dev->physical, &create, NULL, &dev->device);
    if (r != VK_SUCCESS) {
        dev->device = VK_NULL_HANDLE; /* nothing for destroy to wait on */
        return lsuv_vk_fail(r, "vkCreateDevice");
    }
    volkLoadDeviceTable(&dev->vk, dev->device);
    dev->vk.vkGetDeviceQueue(dev->device, dev->queue_family, 0, &dev->queue);
    return LSUV_OK;
}

static lsuv_status device_create_pool(lsuv_device *dev) {
    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = dev->queue_family,
    };
    VkResult r = dev->vk.vkCreateCommandPool(dev->device, &pool, NULL, &dev->pool);
    return r == VK_SUCCESS ? LSUV_OK : lsuv_vk_fail(r, "vkCreateCommandPool");
}

lsuv_status lsuv_device_create(lsuv_instance *inst, uint32_t index, lsuv_device **out) {
    *out = NULL;
    lsuv_status s = device_check_usable(inst, index);
    if (s != LSUV_OK) return s;

    lsuv_device *dev = calloc(1, sizeof *dev);
    if (!dev) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    dev->instance = inst;
    dev->physical = inst->physical[index];
    dev->info = &inst->info[index];
    dev->queue_family = inst->queue_family[index];
    vkGetPhysicalDeviceMemoryProperties(dev->physical, &dev->memory);
    vkGetPhysicalDeviceProperties(dev->physical, &dev->properties);

    s = device_open_vk(dev);
    if (s == LSUV_OK) s = device_create_pool(dev);
    if (s == LSUV_OK) s = lsuv_pipeline_cache_open(dev);
    if (s != LSUV_OK) {
        lsuv_device_destroy(dev);
        return s;
    }
    *out = dev;
    return LSUV_OK;
}

void lsuv_device_destroy(lsuv_device *dev) {
    if (!dev) return;
    if (dev->device) {
        dev->vk.vkDeviceWaitIdle(dev->device);
        lsuv_pipeline_cache_close(dev);
        if (dev->pool) dev->vk.vkDestroyCommandPool(dev->device, dev->pool, NULL);
        dev->vk.vkDestroyDevice(dev->device, NULL);
    }
    free(dev);
}

const lsuv_device_info *lsuv_device_get_info(const lsuv_device *dev) {
    return dev->info;
}
