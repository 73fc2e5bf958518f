#include "vk/internal.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* The first memory type allowed by bits that has all of need, preferring one
 * that also has all of want. */
static uint32_t find_memory_type(const VkPhysicalDeviceMemoryProperties *mem, uint32_t bits,
                                 VkMemoryPropertyFlags need, VkMemoryPropertyFlags want) {
    uint32_t fallback = UINT32_MAX;
    for (uint32_t i = 0; i < mem->memoryTypeCount; ++i) {
        if (!(bits & (1u << i))) continue;
        VkMemoryPropertyFlags f = mem->memoryTypes[i].propertyFlags;
        if ((f & need) != need) continue;
        if ((f & want) == want) return i;
        if (fallback == UINT32_MAX) fallback = i;
    }
    return fallback;
}

/* b's VkBuffer, of b->size bytes for b->usage, and what memory it needs;
 * b is freed when it cannot be made. */
static lsuv_status buffer_handle_create(lsuv_device *dev, lsuv_buffer *b,
                                        VkMemoryRequirements *req) {
    VkBufferCreateInfo info = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                               .size = b->size,
                               .usage = b->usage,
                               .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = dev->vk.vkCreateBuffer(dev->device, &info, NULL, &b->buffer);
    if (r != VK_SUCCESS) {
        free(b);
        return lsuv_vk_fail(r, "vkCreateBuffer");
    }
    dev->vk.vkGetBufferMemoryRequirements(dev->device, b->buffer, req);
    return LSUV_OK;
}

lsuv_status lsuv_buffer_create_with(lsuv_device *dev, uint64_t size, VkBufferUsageFlags usage,
                                    bool host, lsuv_buffer **out) {
    *out = NULL;
    if (size == 0) return lsuv_fail(LSUV_ERROR_INVALID, "a buffer of 0 bytes was asked for");
    lsuv_buffer *b = calloc(1, sizeof *b);
    if (!b) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    b->device = dev;
    b->size = size;
    b->usage = usage;
    VkMemoryRequirements req;
    lsuv_status s = buffer_handle_create(dev, b, &req);
    if (s != LSUV_OK) return s;

    const VkMemoryPropertyFlags visible =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type;
    if (host) {
        type = find_memory_type(&dev->memory, req.memoryTypeBits, visible,
                                VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    } else {
        /* Where device memory is the host's (a CPU or an integrated GPU), map
         * it and skip the staging copies; on a discrete GPU keep tensors in
         * memory the host cannot see, which is the fast kind there. */
        bool unified =
            dev->info->type == LSUV_DEVICE_CPU || dev->info->type == LSUV_DEVICE_INTEGRATED;
        type = find_memory_type(&dev->memory, req.memoryTypeBits,
                                VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, unified ? visible : 0);
        if (type == UINT32_MAX) type = find_memory_type(&dev->memory, req.memoryTypeBits, 0, 0);
    }
    if (type == UINT32_MAX) {
        lsuv_buffer_destroy(b);
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED, "no memory type fits a buffer of %llu bytes",
                         (unsigned long long)size);
    }
    b->type = type;
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    VkResult r = dev->vk.vkAllocateMemory(dev->device, &alloc, NULL, &b->memory);
    if (r == VK_SUCCESS) r = dev->vk.vkBindBufferMemory(dev->device, b->buffer, b->memory, 0);
    if (r == VK_SUCCESS && (dev->memory.memoryTypes[type].propertyFlags & visible) == visible)
        r = dev->vk.vkMapMemory(dev->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
    if (r != VK_SUCCESS) {
        lsuv_buffer_destroy(b);
        return lsuv_vk_fail(r, "allocating a buffer");
    }
    *out = b;
    return LSUV_OK;
}

lsuv_status lsuv_buffer_create(lsuv_device *dev, uint64_t size, lsuv_buffer **out) {
    return lsuv_buffer_create_with(
        dev, size,
        VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
            VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT |
            VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        false, out);
}

lsuv_status lsuv_buffer_create_host(lsuv_device *dev, uint64_t size, lsuv_buffer **out) {
    return lsuv_buffer_create_with(dev, size,
                                   VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                   true, out);
}

void lsuv_buffer_destroy(lsuv_buffer *b) {
    if (!b) return;
    lsuv_device *dev = b->device;
    if (b->buffer) dev->vk.vkDestroyBuffer(dev->device, b->buffer, NULL);
    if (b->memory && !b->alias) dev->vk.vkFreeMemory(dev->device, b->memory, NULL);
    free(b);
}

lsuv_status lsuv_buffer_create_alias(lsuv_buffer *parent, uint64_t offset, uint64_t size,
                                     lsuv_buffer **out) {
    *out = NULL;
    lsuv_device *dev = parent->device;
    if (size == 0 || offset > parent->size || size > parent->size - offset)
        return lsuv_fail(LSUV_ERROR_INVALID,
                         "an alias of bytes %llu..%llu of a buffer of %llu bytes was asked for",
                         (unsigned long long)offset, (unsigned long long)(offset + size),
                         (unsigned long long)parent->size);
    lsuv_buffer *b = calloc(1, sizeof *b);
    if (!b) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    *b = (lsuv_buffer){.device = dev,
                       .size = size,
                       .usage = parent->usage,
                       .type = parent->type,
                       .memory = parent->memory,
                       .alias = true};
    VkMemoryRequirements req;
    lsuv_status s = buffer_handle_create(dev, b, &req);
    if (s != LSUV_OK) return s;
    /* The same usage asks for the same memory types; the offset is the
     * caller's to align, and a size rounded up past the parent's end would
     * make the device read beyond its memory. */
    if (!(req.memoryTypeBits & (1u << parent->type)) || offset % req.alignment ||
        req.size > parent->size - offset) {
        lsuv_buffer_destroy(b);
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED,
                         "bytes %llu..%llu of a buffer cannot hold a buffer of their own (it "
                         "needs alignment %llu and %llu bytes)",
                         (unsigned long long)offset, (unsigned long long)(offset + size),
                         (unsigned long long)req.alignment, (unsigned long long)req.size);
    }
    VkResult r = dev->vk.vkBindBufferMemory(dev->device, b->buffer, parent->memory, offset);
    if (r != VK_SUCCESS) {
        lsuv_buffer_destroy(b);
        return lsuv_vk_fail(r, "binding a buffer to its parent's memory");
    }
    if (parent->mapped) b->mapped = (char *)parent->mapped + offset;
    *out = b;
    return LSUV_OK;
}

uint64_t lsuv_buffer_size(const lsuv_buffer *b) {
    return b->size;
}

static lsuv_status check_range(const lsuv_buffer *b, uint64_t offset, uint64_t size) {
    if (offset > b->size || size > b->size - offset)
        return lsuv_fail(LSUV_ERROR_INVALID, "bytes %llu..%llu are outside a buffer of %llu bytes",
                         (unsigned long long)offset, (unsigned long long)(offset + size),
                         (unsigned long long)b->size);
    return LSUV_OK;
}

/* Copies between a device buffer and the host through a host-visible buffer. */
static lsuv_status staged_copy(lsuv_buffer *device_buffer, uint64_t offset, void *host,
                               uint64_t size, bool to_device) {
    lsuv_device *dev = device_buffer->device;
    lsuv_buffer *staging = NULL;
    lsuv_cmd *cmd = NULL;
    lsuv_status s = lsuv_buffer_create_with(
        dev, size, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, true,
        &staging);
    if (s == LSUV_OK) s = lsuv_cmd_begin(dev, &cmd);
    if (s == LSUV_OK) {
        if (to_device) {
            memcpy(staging->mapped, host, size);
            lsuv_cmd_copy(cmd, staging, 0, device_buffer, offset, size);
        } else {
            lsuv_cmd_copy(cmd, device_buffer, offset, staging, 0, size);
        }
        s = lsuv_cmd_submit(cmd);
    }
    if (s == LSUV_OK && !to_device) memcpy(host, staging->mapped, size);
    lsuv_cmd_destroy(cmd);
    lsuv_buffer_destroy(staging);
    return s;
}

lsuv_status lsuv_buffer_write(lsuv_buffer *b, uint64_t offset, const void *data, uint64_t size) {
    lsuv_status s = check_range(b, offset, size);
    if (s != LSUV_OK || size == 0) return s;
    if (b->mapped) {
        memcpy((char *)b->mapped + offset, data, size);
        return LSUV_OK;
    }
    return staged_copy(b, offset, (void *)data, size, true);
}

lsuv_status lsuv_buffer_read(const lsuv_buffer *b, uint64_t offset, void *data, uint64_t size) {
    lsuv_status s = check_range(b, offset, size);
    if (s != LSUV_OK || size == 0) return s;
    if (b->mapped) {
        memcpy(data, (const char *)b->mapped + offset, size);
        return LSUV_OK;
    }
    return staged_copy((lsuv_buffer *)b, offset, data, size, false);
}
