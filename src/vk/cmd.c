#include "vk/internal.h"

#include "core/error.h"

#include <stdlib.h>

static lsuv_status cmd_start(lsuv_cmd *cmd) {
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    cmd->bound = VK_NULL_HANDLE;
    VkResult r = cmd->device->vk.vkBeginCommandBuffer(cmd->buffer, &begin);
    return r == VK_SUCCESS ? LSUV_OK : lsuv_vk_fail(r, "vkBeginCommandBuffer");
}

static lsuv_status cmd_allocate(lsuv_device *dev, VkCommandBufferLevel level, lsuv_cmd **out) {
    *out = NULL;
    lsuv_cmd *cmd = calloc(1, sizeof *cmd);
    if (!cmd) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    cmd->device = dev;
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = dev->pool,
        .level = level,
        .commandBufferCount = 1,
    };
    VkResult r = dev->vk.vkAllocateCommandBuffers(dev->device, &alloc, &cmd->buffer);
    if (r != VK_SUCCESS) {
        free(cmd);
        return lsuv_vk_fail(r, "vkAllocateCommandBuffers");
    }
    *out = cmd;
    return LSUV_OK;
}

lsuv_status lsuv_cmd_begin_secondary(lsuv_device *dev, lsuv_cmd **out) {
    lsuv_cmd *cmd;
    lsuv_status s = cmd_allocate(dev, VK_COMMAND_BUFFER_LEVEL_SECONDARY, &cmd);
    if (s != LSUV_OK) return s;
    cmd->secondary = true;
    VkCommandBufferInheritanceInfo inherit = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_INHERITANCE_INFO};
    /* Simultaneous use: a primary may execute it many times over. */
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT,
        .pInheritanceInfo = &inherit,
    };
    VkResult r = dev->vk.vkBeginCommandBuffer(cmd->buffer, &begin);
    if (r != VK_SUCCESS) {
        lsuv_cmd_destroy(cmd);
        return lsuv_vk_fail(r, "vkBeginCommandBuffer");
    }
    *out = cmd;
    return LSUV_OK;
}

lsuv_status lsuv_cmd_end(lsuv_cmd *secondary) {
    if (!secondary->secondary)
        return lsuv_fail(LSUV_ERROR_INVALID, "ending a primary command buffer unsubmitted");
    VkResult r = secondary->device->vk.vkEndCommandBuffer(secondary->buffer);
    return r == VK_SUCCESS ? LSUV_OK : lsuv_vk_fail(r, "vkEndCommandBuffer");
}

void lsuv_cmd_execute(lsuv_cmd *cmd, const lsuv_cmd *secondary) {
    cmd->device->vk.vkCmdExecuteCommands(cmd->buffer, 1, &secondary->buffer);
    /* The secondary leaves the primary's bindings undefined. */
    cmd->bound = VK_NULL_HANDLE;
}

lsuv_status lsuv_cmd_begin(lsuv_device *dev, lsuv_cmd **out) {
    lsuv_cmd *cmd;
    lsuv_status s = cmd_allocate(dev, VK_COMMAND_BUFFER_LEVEL_PRIMARY, &cmd);
    if (s != LSUV_OK) return s;
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r = dev->vk.vkCreateFence(dev->device, &fence, NULL, &cmd->fence);
    if (r != VK_SUCCESS) {
        lsuv_cmd_destroy(cmd);
        return lsuv_vk_fail(r, "vkCreateFence");
    }
    s = cmd_start(cmd);
    if (s != LSUV_OK) {
        lsuv_cmd_destroy(cmd);
        return s;
    }
    *out = cmd;
    return LSUV_OK;
}

void lsuv_cmd_barrier_host(lsuv_cmd *cmd) {
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    cmd->device->vk.vkCmdPipelineBarrier(
        cmd->buffer, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
        VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, NULL, 0, NULL);
}

lsuv_status lsuv_cmd_submit_async(lsuv_cmd *cmd) {
    lsuv_device *dev = cmd->device;
    if (cmd->secondary)
        return lsuv_fail(LSUV_ERROR_INVALID, "submitting a secondary command buffer");
    /* Whatever the batch wrote, the host may read once the fence signals. */
    lsuv_cmd_barrier_host(cmd);
    VkResult r = dev->vk.vkEndCommandBuffer(cmd->buffer);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkEndCommandBuffer");
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd->buffer,
    };
    r = dev->vk.vkQueueSubmit(dev->queue, 1, &submit, cmd->fence);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkQueueSubmit");
    cmd->pending = true;
    return LSUV_OK;
}

lsuv_status lsuv_cmd_wait(lsuv_cmd *cmd, uint64_t timeout_ns, bool *done) {
    lsuv_device *dev = cmd->device;
    *done = false;
    if (!cmd->pending) return lsuv_fail(LSUV_ERROR_INVALID, "waiting on a cmd never submitted");
    VkResult r = dev->vk.vkWaitForFences(dev->device, 1, &cmd->fence, VK_TRUE, timeout_ns);
    if (r == VK_TIMEOUT) return LSUV_OK;
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkWaitForFences");
    cmd->pending = false;
    *done = true;
    r = dev->vk.vkResetFences(dev->device, 1, &cmd->fence);
    if (r == VK_SUCCESS) r = dev->vk.vkResetCommandBuffer(cmd->buffer, 0);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "resetting a command buffer");
    return cmd_start(cmd);
}

lsuv_status lsuv_cmd_submit(lsuv_cmd *cmd) {
    bool done;
    lsuv_status s = lsuv_cmd_submit_async(cmd);
    return s == LSUV_OK ? lsuv_cmd_wait(cmd, UINT64_MAX, &done) : s;
}

void lsuv_cmd_destroy(lsuv_cmd *cmd) {
    if (!cmd) return;
    lsuv_device *dev = cmd->device;
    /* A submission still running reads the buffer and signals the fence. */
    if (cmd->pending) dev->vk.vkWaitForFences(dev->device, 1, &cmd->fence, VK_TRUE, UINT64_MAX);
    if (cmd->fence) dev->vk.vkDestroyFence(dev->device, cmd->fence, NULL);
    if (cmd->buffer) dev->vk.vkFreeCommandBuffers(dev->device, dev->pool, 1, &cmd->buffer);
    free(cmd);
}

void lsuv_cmd_barrier(lsuv_cmd *cmd) {
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                         VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                         VK_ACCESS_INDIRECT_COMMAND_READ_BIT,
    };
    const VkPipelineStageFlags src =
        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    /* Indirect dispatches read arguments that shaders wrote. */
    const VkPipelineStageFlags dst = src | VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT;
    cmd->device->vk.vkCmdPipelineBarrier(cmd->buffer, src, dst, 0, 1, &barrier, 0, NULL, 0, NULL);
}

void lsuv_cmd_copy(lsuv_cmd *cmd, const lsuv_buffer *src, uint64_t src_offset, lsuv_buffer *dst,
                   uint64_t dst_offset, uint64_t size) {
    VkBufferCopy region = {.srcOffset = src_offset, .dstOffset = dst_offset, .size = size};
    cmd->device->vk.vkCmdCopyBuffer(cmd->buffer, src->buffer, dst->buffer, 1, &region);
}

void lsuv_cmd_fill(lsuv_cmd *cmd, lsuv_buffer *dst, uint64_t offset, uint64_t size,
                   uint32_t value) {
    cmd->device->vk.vkCmdFillBuffer(cmd->buffer, dst->buffer, offset, size, value);
}
