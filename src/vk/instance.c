#include "vk/internal.h"

#include "core/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const validation_layer = "VK_LAYER_KHRONOS_validation";

const char *lsuv_vk_result_name(VkResult result) {
    switch (result) {
#define NAME(r)                                                                                    \
    case r:                                                                                        \
        return #r;
        NAME(VK_SUCCESS)
        NAME(VK_NOT_READY)
        NAME(VK_TIMEOUT)
        NAME(VK_INCOMPLETE)
        NAME(VK_ERROR_OUT_OF_HOST_MEMORY)
        NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        NAME(VK_ERROR_INITIALIZATION_FAILED)
        NAME(VK_ERROR_DEVICE_LOST)
        NAME(VK_ERROR_MEMORY_MAP_FAILED)
        NAME(VK_ERROR_LAYER_NOT_PRESENT)
        NAME(VK_ERROR_EXTENSION_NOT_PRESENT)
        NAME(VK_ERROR_FEATURE_NOT_PRESENT)
        NAME(VK_ERROR_INCOMPATIBLE_DRIVER)
        NAME(VK_ERROR_TOO_MANY_OBJECTS)
        NAME(VK_ERROR_FORMAT_NOT_SUPPORTED)
        NAME(VK_ERROR_FRAGMENTED_POOL)
        NAME(VK_ERROR_OUT_OF_POOL_MEMORY)
        NAME(VK_ERROR_INVALID_SHADER_NV)
#undef NAME
    default:
        return "VK_ERROR_UNKNOWN";
    }
}

lsuv_status lsuv_vk_fail(VkResult result, const char *what) {
    lsuv_status status = LSUV_ERROR_VULKAN;
    if (result == VK_ERROR_OUT_OF_HOST_MEMORY || result == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        status = LSUV_ERROR_OUT_OF_MEMORY;
    return lsuv_fail(status, "%s failed: %s", what, lsuv_vk_result_name(result));
}

const char *lsuv_device_type_name(lsuv_device_type type) {
    switch (type) {
    case LSUV_DEVICE_INTEGRATED:
        return "integrated";
    case LSUV_DEVICE_DISCRETE:
        return "discrete";
    case LSUV_DEVICE_VIRTUAL:
        return "virtual";
    case LSUV_DEVICE_CPU:
        return "cpu";
    case LSUV_DEVICE_OTHER:
        break;
    }
    return "other";
}

void lsuv_version_string(uint32_t v, char *out, unsigned size) {
    snprintf(out, size, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
             VK_API_VERSION_PATCH(v));
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
              const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    (void)severity;
    (void)type;
    lsuv_instance *inst = user;
    if (inst->validation_count++ == 0)
        snprintf(inst->validation_first, sizeof inst->validation_first, "%s",
                 data->pMessage ? data->pMessage : "(no text)");
    return VK_FALSE;
}

static bool layer_available(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS) return false;
    VkLayerProperties *layers = calloc(n ? n : 1, sizeof *layers);
    if (!layers) return false;
    bool found = false;
    if (vkEnumerateInstanceLayerProperties(&n, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; ++i) found = strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

static bool has_extension(const VkExtensionProperties *ext, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; ++i)
        if (strcmp(ext[i].extensionName, name) == 0) return true;
    return false;
}

static lsuv_device_type type_from_vk(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return LSUV_DEVICE_INTEGRATED;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return LSUV_DEVICE_DISCRETE;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return LSUV_DEVICE_VIRTUAL;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return LSUV_DEVICE_CPU;
    default:
        return LSUV_DEVICE_OTHER;
    }
}

/* What a device tells beyond the Vulkan 1.0 properties, read through one
 * pNext chain of properties and one of features. The chains point into this
 * struct, so it is filled in place and never copied. */
typedef struct {
    uint32_t api;
    bool has_driver_props, has_size_control, has_float16;
    VkPhysicalDeviceProperties base;
    VkPhysicalDeviceSubgroupProperties subgroup;
    VkPhysicalDeviceIDProperties id;
    VkPhysicalDeviceDriverProperties driver;
    VkPhysicalDeviceSubgroupSizeControlProperties size_control;
    VkPhysicalDeviceProperties2 props;
    VkPhysicalDevice16BitStorageFeatures storage16;
    VkPhysicalDeviceShaderFloat16Int8Features float16;
    VkPhysicalDeviceSubgroupSizeControlFeatures size_features;
    VkPhysicalDeviceFeatures2 features;
} device_query;

/* Which optional structs the device can fill: core in its version, or an
 * extension it lists. */
static void device_query_extensions(VkPhysicalDevice pd, device_query *q) {
    uint32_t next = 0;
    vkEnumerateDeviceExtensionProperties(pd, NULL, &next, NULL);
    VkExtensionProperties *ext = calloc(next ? next : 1, sizeof *ext);
    if (ext)
        vkEnumerateDeviceExtensionProperties(pd, NULL, &next, ext);
    else
        next = 0;
    q->has_driver_props = q->api >= VK_API_VERSION_1_2 ||
                          has_extension(ext, next, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
    q->has_size_control = q->api >= VK_API_VERSION_1_3 ||
                          has_extension(ext, next, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    q->has_float16 = q->api >= VK_API_VERSION_1_2 ||
                     has_extension(ext, next, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    free(ext);
}

static void device_query_run(VkPhysicalDevice pd, device_query *q) {
    memset(q, 0, sizeof *q);
    vkGetPhysicalDeviceProperties(pd, &q->base);
    q->api = q->base.apiVersion;
    device_query_extensions(pd, q);

    q->subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
    q->id.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES;
    q->driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
    q->size_control.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES;
    q->props.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
    q->storage16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
    q->float16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
    q->size_features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES;
    q->features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;

    /* Vulkan 1.1 is the floor (subgroups, properties2); older devices are
     * listed with what 1.0 tells. */
    if (q->api < VK_API_VERSION_1_1) {
        vkGetPhysicalDeviceFeatures(pd, &q->features.features);
        return;
    }
    q->subgroup.pNext = &q->id;
    q->props.pNext = &q->subgroup;
    void **tail = &q->id.pNext;
    if (q->has_driver_props) {
        *tail = &q->driver;
        tail = &q->driver.pNext;
    }
    if (q->has_size_control) *tail = &q->size_control;
    vkGetPhysicalDeviceProperties2(pd, &q->props);

    q->features.pNext = &q->storage16;
    tail = &q->storage16.pNext;
    if (q->has_float16) {
        *tail = &q->float16;
        tail = &q->float16.pNext;
    }
    if (q->has_size_control) *tail = &q->size_features;
    vkGetPhysicalDeviceFeatures2(pd, &q->features);
}

static void info_fill_identity(const device_query *q, lsuv_device_info *info) {
    snprintf(info->name, sizeof info->name, "%s", q->base.deviceName);
    info->type = type_from_vk(q->base.deviceType);
    info->vendor_id = q->base.vendorID;
    info->device_id = q->base.deviceID;
    info->api_version = q->api;
    info->driver_version = q->base.driverVersion;
    if (q->has_driver_props) {
        snprintf(info->driver_name, sizeof info->driver_name, "%s", q->driver.driverName);
        snprintf(info->driver_info, sizeof info->driver_info, "%s", q->driver.driverInfo);
    } else {
        snprintf(info->driver_name, sizeof info->driver_name, "unknown");
    }
    memcpy(info->device_uuid, q->id.deviceUUID, sizeof info->device_uuid);
}

static void info_fill_features(const device_query *q, lsuv_device_info *info) {
    const VkPhysicalDeviceSubgroupProperties *sg = &q->subgroup;
    info->subgroup_size = sg->subgroupSize;
    info->min_subgroup_size =
        q->has_size_control ? q->size_control.minSubgroupSize : sg->subgroupSize;
    info->max_subgroup_size =
        q->has_size_control ? q->size_control.maxSubgroupSize : sg->subgroupSize;
    info->subgroup_shuffle = (sg->supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                             (sg->supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    info->full_subgroups = q->has_size_control && q->size_features.computeFullSubgroups;
    info->float64 = q->features.features.shaderFloat64;
    info->float16 = q->has_float16 && q->float16.shaderFloat16;
    info->storage16 = q->api >= VK_API_VERSION_1_1 && q->storage16.storageBuffer16BitAccess;
}

static void info_fill_limits(VkPhysicalDevice pd, const device_query *q, lsuv_device_info *info) {
    const VkPhysicalDeviceLimits *lim = &q->base.limits;
    info->timestamp_period_ns = lim->timestampPeriod;
    info->max_storage_buffer_range = lim->maxStorageBufferRange;
    info->min_storage_buffer_offset_alignment = (uint32_t)lim->minStorageBufferOffsetAlignment;
    info->max_uniform_buffer_range = lim->maxUniformBufferRange;
    info->min_uniform_buffer_offset_alignment = (uint32_t)lim->minUniformBufferOffsetAlignment;
    info->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
    info->max_workgroup_size_x = lim->maxComputeWorkGroupSize[0];
    info->max_workgroup_count_x = lim->maxComputeWorkGroupCount[0];
    info->max_shared_memory = lim->maxComputeSharedMemorySize;
    info->max_texel_buffer_elements = lim->maxTexelBufferElements;
    info->min_texel_buffer_offset_alignment = (uint32_t)lim->minTexelBufferOffsetAlignment;
    VkFormatProperties vec4_format;
    vkGetPhysicalDeviceFormatProperties(pd, VK_FORMAT_R32G32B32A32_SFLOAT, &vec4_format);
    info->texel_vec4 =
        (vec4_format.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) != 0;

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t h = 0; h < mem.memoryHeapCount; ++h)
        if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info->device_local_bytes += mem.memoryHeaps[h].size;
}

/* Prefer a compute family with timestamps, and among those one without
 * graphics (a dedicated compute queue). */
static uint32_t queue_pick_compute(VkPhysicalDevice pd, lsuv_device_info *info) {
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
    VkQueueFamilyProperties *q = calloc(nq ? nq : 1, sizeof *q);
    uint32_t best = UINT32_MAX;
    int best_score = -1;
    if (q) {
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, q);
        for (uint32_t f = 0; f < nq; ++f) {
            if (!(q[f].queueFlags & VK_QUEUE_COMPUTE_BIT) || q[f].queueCount == 0) continue;
            int score = (q[f].timestampValidBits ? 2 : 0) +
                        ((q[f].queueFlags & VK_QUEUE_GRAPHICS_BIT) ? 0 : 1);
            if (score > best_score) {
                best_score = score;
                best = f;
            }
        }
        if (best != UINT32_MAX) info->timestamp_valid_bits = q[best].timestampValidBits;
        free(q);
    }
    return best;
}

/* Fills info from the device's properties, features and queues; returns the
 * compute queue family, or UINT32_MAX when there is none. */
static uint32_t describe_device(VkPhysicalDevice pd, uint32_t index, lsuv_device_info *info) {
    memset(info, 0, sizeof *info);
    info->index = index;
    device_query q;
    device_query_run(pd, &q);
    info_fill_identity(&q, info);
    info_fill_features(&q, info);
    info_fill_limits(pd, &q, info);
    return queue_pick_compute(pd, info);
}

/* A loader that offers Vulkan 1.1, and the validation layer when asked. */
static lsuv_status loader_check(bool validation, uint32_t *loader_version) {
    if (volkInitialize() != VK_SUCCESS)
        return lsuv_fail(LSUV_ERROR_NO_LOADER,
                         "no Vulkan loader (libvulkan.so.1) could be opened; install it and a "
                         "driver: apt-get install libvulkan1 mesa-vulkan-drivers");

    *loader_version = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion) vkEnumerateInstanceVersion(loader_version);
    if (*loader_version < VK_API_VERSION_1_1)
        return lsuv_fail(LSUV_ERROR_NO_LOADER,
                         "the Vulkan loader only offers Vulkan 1.0; lsuv-vk needs 1.1 or newer");

    if (validation && !layer_available(validation_layer))
        return lsuv_fail(LSUV_ERROR_MISSING_LAYER,
                         "%s is not installed; apt-get install vulkan-validationlayers",
                         validation_layer);
    return LSUV_OK;
}

/* The VkInstance, with the validation layer and its messenger when asked.
 * The messenger is also chained into the create info, so that messages from
 * vkCreateInstance itself are counted. */
static lsuv_status instance_open_vk(lsuv_instance *inst, bool validation) {
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "lsuv-vk",
        .applicationVersion = VK_MAKE_API_VERSION(0, 0, 1, 0),
        .pEngineName = "lsuv-vk",
        .apiVersion = inst->api_version,
    };
    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_validation,
        .pUserData = inst,
    };
    /* Synchronization validation catches a missing barrier between two
     * dispatches, the mistake the plain checks cannot see. */
    VkValidationFeatureEnableEXT enables[] = {
        VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT features = {
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
        .pNext = &messenger_info,
        .enabledValidationFeatureCount = 1,
        .pEnabledValidationFeatures = enables,
    };
    const char *extensions[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? &features : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = &validation_layer,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = extensions,
    };
    VkResult r = vkCreateInstance(&info, NULL, &inst->instance);
    if (r != VK_SUCCESS) inst->instance = VK_NULL_HANDLE; /* nothing for destroy to free */
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return lsuv_fail(LSUV_ERROR_NO_DEVICE,
                         "no Vulkan driver found; install one: apt-get install "
                         "mesa-vulkan-drivers (lavapipe, on the CPU) or your GPU vendor's driver");
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkCreateInstance");
    volkLoadInstanceOnly(inst->instance);

    if (!validation) return LSUV_OK;
    r = vkCreateDebugUtilsMessengerEXT(inst->instance, &messenger_info, NULL, &inst->messenger);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkCreateDebugUtilsMessengerEXT");
    return LSUV_OK;
}

/* The physical devices, each described, with its compute queue family. */
static lsuv_status instance_list_devices(lsuv_instance *inst) {
    VkResult r = vkEnumeratePhysicalDevices(inst->instance, &inst->device_count, NULL);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkEnumeratePhysicalDevices");
    if (inst->device_count == 0)
        return lsuv_fail(LSUV_ERROR_NO_DEVICE,
                         "no Vulkan device found; install a driver: apt-get install "
                         "mesa-vulkan-drivers (lavapipe, on the CPU) or your GPU vendor's driver");
    uint32_t n = inst->device_count;
    inst->physical = calloc(n, sizeof *inst->physical);
    inst->info = calloc(n, sizeof *inst->info);
    inst->queue_family = calloc(n, sizeof *inst->queue_family);
    if (!inst->physical || !inst->info || !inst->queue_family)
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    r = vkEnumeratePhysicalDevices(inst->instance, &n, inst->physical);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) return lsuv_vk_fail(r, "vkEnumeratePhysicalDevices");
    inst->device_count = n;
    for (uint32_t i = 0; i < n; ++i)
        inst->queue_family[i] = describe_device(inst->physical[i], i, &inst->info[i]);
    return LSUV_OK;
}

lsuv_status lsuv_instance_create(const lsuv_instance_options *options, lsuv_instance **out) {
    *out = NULL;
    bool validation = options && options->validation;
    uint32_t loader_version = VK_API_VERSION_1_0;
    lsuv_status status = loader_check(validation, &loader_version);
    if (status != LSUV_OK) return status;

    lsuv_instance *inst = calloc(1, sizeof *inst);
    if (!inst) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    inst->api_version = loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : loader_version;
    status = instance_open_vk(inst, validation);
    if (status == LSUV_OK) status = instance_list_devices(inst);
    if (status != LSUV_OK) {
        lsuv_instance_destroy(inst);
        return status;
    }
    *out = inst;
    return LSUV_OK;
}

void lsuv_instance_destroy(lsuv_instance *inst) {
    if (!inst) return;
    if (inst->messenger) vkDestroyDebugUtilsMessengerEXT(inst->instance, inst->messenger, NULL);
    if (inst->instance) vkDestroyInstance(inst->instance, NULL);
    free(inst->physical);
    free(inst->info);
    free(inst->queue_family);
    free(inst);
}

uint32_t lsuv_instance_device_count(const lsuv_instance *inst) {
    return inst->device_count;
}

const lsuv_device_info *lsuv_instance_device_info(const lsuv_instance *inst, uint32_t index) {
    return index < inst->device_count ? &inst->info[index] : NULL;
}

uint32_t lsuv_instance_validation_count(const lsuv_instance *inst) {
    return inst->validation_count;
}

const char *lsuv_instance_validation_first(const lsuv_instance *inst) {
    return inst->validation_first;
}

static bool contains_nocase(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (; *haystack; ++haystack) {
        size_t i = 0;
        while (i < n && haystack[i] &&
               tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i]))
            ++i;
        if (i == n) return true;
    }
    return n == 0;
}

lsuv_status lsuv_instance_select(const lsuv_instance *inst, const char *selector, uint32_t *indices,
                                 uint32_t *count) {
    *count = 0;
    uint32_t n = inst->device_count;
    if (!selector || !*selector) {
        uint32_t pick = 0;
        for (uint32_t i = 0; i < n; ++i)
            if (inst->info[i].type != LSUV_DEVICE_CPU) {
                pick = i;
                break;
            }
        indices[(*count)++] = pick;
        return LSUV_OK;
    }
    if (strcmp(selector, "all") == 0) {
        for (uint32_t i = 0; i < n; ++i) indices[(*count)++] = i;
        return LSUV_OK;
    }
    char *end = NULL;
    unsigned long index = strtoul(selector, &end, 10);
    if (isdigit((unsigned char)selector[0]) && *end == '\0') {
        if (index < n) {
            indices[(*count)++] = (uint32_t)index;
            return LSUV_OK;
        }
    } else {
        for (uint32_t i = 0; i < n; ++i)
            if (contains_nocase(inst->info[i].name, selector)) indices[(*count)++] = i;
        if (*count) return LSUV_OK;
    }
    char list[1024] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < n && used < sizeof list; ++i)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%u: %s", i ? ", " : "", i,
                                 inst->info[i].name);
    return lsuv_fail(LSUV_ERROR_NO_DEVICE, "no Vulkan device matches '%s'; the devices are %s",
                     selector, list);
}
