#include "vk/internal.h"

#include "core/error.h"

#include <stdlib.h>

struct lsuv_timer {
    lsuv_device *device;
    VkQueryPool pool;
    uint32_t slots;
};

double lsuv_timestamp_delta_ns(uint64_t from, uint64_t to, uint32_t valid_bits, float period_ns) {
    uint64_t mask = valid_bits >= 64 ? ~0ull : (1ull << valid_bits) - 1;
    /* Modular subtraction in the valid bits: right across one wrap-around. */
    uint64_t ticks = (to - from) & mask;
    return (double)ticks * (double)period_ns;
}

lsuv_status lsuv_timer_create(lsuv_device *dev, uint32_t slots, lsuv_timer **out) {
    *out = NULL;
    if (dev->info->timestamp_valid_bits == 0)
        return lsuv_fail(LSUV_ERROR_UNSUPPORTED, "%s has no timestamps on its compute queue",
                         dev->info->name);
    lsuv_timer *t = calloc(1, sizeof *t);
    if (!t) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    t->device = dev;
    t->slots = slots;
    VkQueryPoolCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = slots,
    };
    VkResult r = dev->vk.vkCreateQueryPool(dev->device, &info, NULL, &t->pool);
    if (r != VK_SUCCESS) {
        free(t);
        return lsuv_vk_fail(r, "vkCreateQueryPool");
    }
    *out = t;
    return LSUV_OK;
}

void lsuv_timer_destroy(lsuv_timer *t) {
    if (!t) return;
    t->device->vk.vkDestroyQueryPool(t->device->device, t->pool, NULL);
    free(t);
}

void lsuv_timer_reset(lsuv_timer *t, lsuv_cmd *cmd) {
    t->device->vk.vkCmdResetQueryPool(cmd->buffer, t->pool, 0, t->slots);
}

void lsuv_timer_mark(lsuv_timer *t, lsuv_cmd *cmd, uint32_t slot) {
    /* Bottom of pipe: the mark lands once all earlier work has finished. */
    t->device->vk.vkCmdWriteTimestamp(cmd->buffer, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, t->pool,
                                      slot);
}

lsuv_status lsuv_timer_elapsed_ns(const lsuv_timer *t, uint32_t from, uint32_t to, double *ns) {
    if (from >= t->slots || to >= t->slots)
        return lsuv_fail(LSUV_ERROR_INVALID, "timer slot out of range (%u slots)", t->slots);
    uint64_t stamp[2];
    VkResult r = t->device->vk.vkGetQueryPoolResults(
        t->device->device, t->pool, from, 1, sizeof stamp[0], &stamp[0], sizeof stamp[0],
        VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_SUCCESS)
        r = t->device->vk.vkGetQueryPoolResults(t->device->device, t->pool, to, 1, sizeof stamp[1],
                                                &stamp[1], sizeof stamp[1],
                                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkGetQueryPoolResults");
    const lsuv_device_info *info = t->device->info;
    *ns = lsuv_timestamp_delta_ns(stamp[0], stamp[1], info->timestamp_valid_bits,
                                  info->timestamp_period_ns);
    return LSUV_OK;
}
