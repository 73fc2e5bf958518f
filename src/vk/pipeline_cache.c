/* A VkPipelineCache kept on disk between runs, so a second process does not
 * compile its shaders again (lavapipe's LLVM takes 0.1 to 2 s a pipeline).
 *
 * File: $XDG_CACHE_HOME/lsuv-vk/<device UUID>-<driver version>.bin (else
 * ~/.cache/lsuv-vk/), a header of our own (magic, UUID, driver version, data
 * size, FNV-1a hash of the data) and then what vkGetPipelineCacheData gave.
 * Anything that does not check out is ignored with a warning, never handed
 * to the driver. */
#include "vk/internal.h"

#include "core/error.h"
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "LSUVPC01"

typedef struct cache_header {
    char magic[8];
    uint8_t uuid[16];
    uint32_t driver_version;
    uint32_t reserved;
    uint64_t size;
    uint64_t hash;
} cache_header;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

/* The cache file's path, or false when there is no home to put it in. */
static bool cache_path(const lsuv_device *dev, char *out, size_t cap, bool make_dir) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[1024];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/lsuv-vk", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/lsuv-vk", home);
    else
        return false;
    if (make_dir) {
        /* The parent (~/.cache) may not exist yet either. */
        char *slash = strrchr(dir, '/');
        *slash = '\0';
        mkdir(dir, 0755);
        *slash = '/';
        mkdir(dir, 0755);
    }
    int n = snprintf(out, cap, "%s/", dir);
    for (int i = 0; i < 16; ++i)
        n += snprintf(out + n, cap - (size_t)n, "%02x", dev->info->device_uuid[i]);
    snprintf(out + n, cap - (size_t)n, "-%08x.bin", dev->info->driver_version);
    return true;
}

static void warn(lsuv_device *dev, const char *path, const char *why) {
    snprintf(dev->cache_warning, sizeof dev->cache_warning, "pipeline cache %s ignored: %s", path,
             why);
}

/* What to hand the driver from the file, or NULL. */
static void *load(lsuv_device *dev, const char *path, size_t *size) {
    char *data = NULL;
    size_t n = 0;
    *size = 0;
    if (lsuv_file_read_all(path, (size_t)1 << 30, &data, &n) != LSUV_OK) {
        /* No file is the first run's usual case; anything else at the path
         * (a FIFO, a directory) is worth a word, without the repeated path. */
        if (access(path, F_OK) == 0) {
            const char *why = lsuv_error_message();
            size_t k = strlen(path);
            warn(dev, path, strncmp(why, path, k) == 0 && why[k] == ':' ? why + k + 2 : why);
        }
        return NULL;
    }
    cache_header h;
    const VkPhysicalDeviceProperties *p = &dev->properties;
    const char *why = NULL;
    if (n < sizeof h)
        why = "truncated";
    else {
        memcpy(&h, data, sizeof h);
        const uint8_t *body = (const uint8_t *)data + sizeof h;
        uint32_t vk_header[4] = {0};
        if (memcmp(h.magic, CACHE_MAGIC, 8) != 0)
            why = "not a cache file of lsuv-vk";
        else if (memcmp(h.uuid, dev->info->device_uuid, 16) != 0 ||
                 h.driver_version != dev->info->driver_version)
            why = "written for another device or driver";
        else if (h.size != n - sizeof h)
            why = "truncated";
        else if (fnv1a(body, h.size) != h.hash)
            why = "corrupt (hash mismatch)";
        else if (h.size < 16 + VK_UUID_SIZE)
            why = "too short for a Vulkan cache header";
        else {
            memcpy(vk_header, body, sizeof vk_header);
            /* Vulkan's own header: length, version, vendor, device, UUID. */
            if (vk_header[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE ||
                vk_header[2] != p->vendorID || vk_header[3] != p->deviceID ||
                memcmp(body + 16, p->pipelineCacheUUID, VK_UUID_SIZE) != 0)
                why = "its Vulkan header does not match the device";
        }
    }
    if (why) {
        warn(dev, path, why);
        free(data);
        return NULL;
    }
    memmove(data, data + sizeof h, h.size);
    *size = h.size;
    return data;
}

lsuv_status lsuv_pipeline_cache_open(lsuv_device *dev) {
    char path[1200];
    size_t size = 0;
    void *data = cache_path(dev, path, sizeof path, false) ? load(dev, path, &size) : NULL;
    VkPipelineCacheCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = size,
        .pInitialData = data,
    };
    VkResult r = dev->vk.vkCreatePipelineCache(dev->device, &info, NULL, &dev->pipeline_cache);
    free(data);
    dev->cache_loaded_bytes = size;
    return r == VK_SUCCESS ? LSUV_OK : lsuv_vk_fail(r, "vkCreatePipelineCache");
}

void lsuv_pipeline_cache_close(lsuv_device *dev) {
    if (!dev->pipeline_cache) return;
    size_t size = 0;
    char path[1200];
    const struct VolkDeviceTable *vk = &dev->vk;
    /* Write only what grew: an unchanged cache is left as it is. */
    if (vk->vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, NULL) == VK_SUCCESS &&
        size > dev->cache_loaded_bytes && cache_path(dev, path, sizeof path, true)) {
        uint8_t *buf = malloc(sizeof(cache_header) + size);
        if (buf && vk->vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size,
                                              buf + sizeof(cache_header)) == VK_SUCCESS) {
            cache_header h = {.driver_version = dev->info->driver_version, .size = size};
            memcpy(h.magic, CACHE_MAGIC, 8);
            memcpy(h.uuid, dev->info->device_uuid, 16);
            h.hash = fnv1a(buf + sizeof h, size);
            memcpy(buf, &h, sizeof h);
            /* A cache that cannot be written costs time, not correctness.
             * Only a file is replaced: a FIFO or a device at the path (which
             * lsuv_file_write would write in place, and a FIFO with no reader
             * would hang) is left alone, as load() left it unread. */
            bool direct = true;
            if (lsuv_file_check(path, &direct) == LSUV_OK && !direct)
                (void)lsuv_file_write(path, buf, sizeof h + size);
        }
        free(buf);
    }
    vk->vkDestroyPipelineCache(dev->device, dev->pipeline_cache, NULL);
    dev->pipeline_cache = VK_NULL_HANDLE;
}

const char *lsuv_device_cache_warning(const lsuv_device *dev) {
    return dev->cache_warning[0] ? dev->cache_warning : NULL;
}

uint64_t lsuv_device_cache_loaded(const lsuv_device *dev) {
    return dev->cache_loaded_bytes;
}
