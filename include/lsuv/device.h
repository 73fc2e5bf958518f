/* Vulkan plumbing: the instance, its devices, buffers, command recording and
 * GPU timing. One VolkDeviceTable per device, so several devices can be driven
 * from one process. Functions return a status and never abort; the detail of a
 * failure is in lsuv_error_message(). */
#ifndef LSUV_DEVICE_H
#define LSUV_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "lsuv/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lsuv_instance lsuv_instance;
typedef struct lsuv_device lsuv_device;
typedef struct lsuv_buffer lsuv_buffer;
typedef struct lsuv_cmd lsuv_cmd;
typedef struct lsuv_timer lsuv_timer;

typedef enum lsuv_device_type {
    LSUV_DEVICE_OTHER,
    LSUV_DEVICE_INTEGRATED,
    LSUV_DEVICE_DISCRETE,
    LSUV_DEVICE_VIRTUAL,
    LSUV_DEVICE_CPU,
} lsuv_device_type;

/* "discrete", "integrated", "virtual", "cpu" or "other". */
const char *lsuv_device_type_name(lsuv_device_type type);

typedef struct lsuv_device_info {
    uint32_t index; /* position in the instance's enumeration */
    char name[256];
    lsuv_device_type type;
    uint32_t vendor_id, device_id;
    char driver_name[256], driver_info[256];
    uint32_t api_version, driver_version;
    uint8_t device_uuid[16];
    /* Subgroups, as seen by compute shaders. */
    uint32_t subgroup_size, min_subgroup_size, max_subgroup_size;
    bool subgroup_shuffle; /* shuffle operations in compute shaders */
    bool full_subgroups;   /* computeFullSubgroups can be enabled */
    bool float64, float16, storage16;
    /* The compute queue's timestamps. */
    uint32_t timestamp_valid_bits; /* 0: no timestamps on that queue */
    float timestamp_period_ns;
    uint64_t max_storage_buffer_range;
    uint32_t min_storage_buffer_offset_alignment;
    uint32_t max_uniform_buffer_range, min_uniform_buffer_offset_alignment;
    uint32_t max_workgroup_invocations, max_workgroup_size_x, max_workgroup_count_x;
    uint32_t max_shared_memory;
    /* Uniform texel buffers of R32G32B32A32_SFLOAT. */
    bool texel_vec4;
    uint32_t max_texel_buffer_elements, min_texel_buffer_offset_alignment;
    uint64_t device_local_bytes;
} lsuv_device_info;

typedef struct lsuv_instance_options {
    /* Enable VK_LAYER_KHRONOS_validation (with synchronization validation) and
     * count every message it reports. */
    bool validation;
} lsuv_instance_options;

lsuv_status lsuv_instance_create(const lsuv_instance_options *options, lsuv_instance **out);
void lsuv_instance_destroy(lsuv_instance *instance);

uint32_t lsuv_instance_device_count(const lsuv_instance *instance);
const lsuv_device_info *lsuv_instance_device_info(const lsuv_instance *instance, uint32_t index);

/* Validation messages (warnings and errors) reported so far, and the first. */
uint32_t lsuv_instance_validation_count(const lsuv_instance *instance);
const char *lsuv_instance_validation_first(const lsuv_instance *instance);

/* Resolves a selector to device indices: "all", an index, or a
 * case-insensitive substring of the name; NULL or "" picks the default, the
 * first device that is not a CPU, else the CPU. indices must hold
 * lsuv_instance_device_count() entries. */
lsuv_status lsuv_instance_select(const lsuv_instance *instance, const char *selector,
                                 uint32_t *indices, uint32_t *count);

lsuv_status lsuv_device_create(lsuv_instance *instance, uint32_t index, lsuv_device **out);
void lsuv_device_destroy(lsuv_device *device);
const lsuv_device_info *lsuv_device_get_info(const lsuv_device *device);
/* Compiled pipelines persist in $XDG_CACHE_HOME/lsuv-vk/ (else
 * ~/.cache/lsuv-vk/), per device UUID and driver version. A cache file that
 * does not check out is ignored: then this says why (NULL otherwise). */
const char *lsuv_device_cache_warning(const lsuv_device *device);
/* Bytes of pipeline cache loaded from disk when the device was made. */
uint64_t lsuv_device_cache_loaded(const lsuv_device *device);

/* A storage buffer in device memory. read and write go through a mapping when
 * the memory is host-visible and through a staging copy otherwise. */
lsuv_status lsuv_buffer_create(lsuv_device *device, uint64_t size, lsuv_buffer **out);
/* A buffer of its own over bytes [offset, offset + size) of parent's memory,
 * so that tensors whose lifetimes do not overlap share memory; offset must
 * meet the device's alignment for buffers (256 does everywhere known). The
 * parent must outlive it; the memory is the parent's to free. */
lsuv_status lsuv_buffer_create_alias(lsuv_buffer *parent, uint64_t offset, uint64_t size,
                                     lsuv_buffer **out);
void lsuv_buffer_destroy(lsuv_buffer *buffer);
uint64_t lsuv_buffer_size(const lsuv_buffer *buffer);
lsuv_status lsuv_buffer_write(lsuv_buffer *buffer, uint64_t offset, const void *data,
                              uint64_t size);
lsuv_status lsuv_buffer_read(const lsuv_buffer *buffer, uint64_t offset, void *data, uint64_t size);
/* A buffer in host-visible, host-coherent memory on every device, so the
 * host may read what the device wrote while a submission still runs (a
 * progress word it polls); it takes fills, copies and shader writes. */
lsuv_status lsuv_buffer_create_host(lsuv_device *device, uint64_t size, lsuv_buffer **out);

/* One primary command buffer: begin, record, submit and wait. */
lsuv_status lsuv_cmd_begin(lsuv_device *device, lsuv_cmd **out);
/* Ends recording, submits and waits for completion; the cmd is then begun
 * again, so it can record the next batch. */
lsuv_status lsuv_cmd_submit(lsuv_cmd *cmd);
/* lsuv_cmd_submit in two halves, for a host that watches a long submission:
 * ends recording and submits without waiting; then lsuv_cmd_wait waits up
 * to timeout_ns and says in *done whether it finished. Once it has, the cmd
 * is begun again. Destroying a cmd still running waits for it first. */
lsuv_status lsuv_cmd_submit_async(lsuv_cmd *cmd);
lsuv_status lsuv_cmd_wait(lsuv_cmd *cmd, uint64_t timeout_ns, bool *done);
void lsuv_cmd_destroy(lsuv_cmd *cmd);
/* A secondary command buffer: recorded once, then executed by primaries
 * any number of times, several times in one recording too (the same
 * commands again, for the cost of one). It starts with nothing bound. */
lsuv_status lsuv_cmd_begin_secondary(lsuv_device *device, lsuv_cmd **out);
/* Ends a secondary's recording; it may then be executed. */
lsuv_status lsuv_cmd_end(lsuv_cmd *secondary);
/* Records the execution of an ended secondary into cmd. Destroy the
 * secondary only once every submission of cmd that executes it is done. */
void lsuv_cmd_execute(lsuv_cmd *cmd, const lsuv_cmd *secondary);
/* Makes earlier shader and transfer writes visible to later shader and
 * transfer reads and to indirect dispatch arguments. */
void lsuv_cmd_barrier(lsuv_cmd *cmd);
void lsuv_cmd_copy(lsuv_cmd *cmd, const lsuv_buffer *src, uint64_t src_offset, lsuv_buffer *dst,
                   uint64_t dst_offset, uint64_t size);
void lsuv_cmd_fill(lsuv_cmd *cmd, lsuv_buffer *dst, uint64_t offset, uint64_t size, uint32_t value);
/* Makes earlier transfer and shader writes available to the host as soon as
 * they are done, before the submission ends (for lsuv_buffer_create_host's
 * buffers; the end of a submission does this for everything). */
void lsuv_cmd_barrier_host(lsuv_cmd *cmd);

/* Timestamps written by the compute queue. */
lsuv_status lsuv_timer_create(lsuv_device *device, uint32_t slots, lsuv_timer **out);
void lsuv_timer_destroy(lsuv_timer *timer);
/* Resets every slot; record before the first mark of a submission. */
void lsuv_timer_reset(lsuv_timer *timer, lsuv_cmd *cmd);
void lsuv_timer_mark(lsuv_timer *timer, lsuv_cmd *cmd, uint32_t slot);
/* Nanoseconds between two marks of a finished submission. */
lsuv_status lsuv_timer_elapsed_ns(const lsuv_timer *timer, uint32_t from, uint32_t to, double *ns);

/* The difference of two raw timestamps of which only the low valid_bits count
 * (so it survives one wrap-around), scaled by period_ns. */
double lsuv_timestamp_delta_ns(uint64_t from, uint64_t to, uint32_t valid_bits, float period_ns);

/* "1.3.230" */
void lsuv_version_string(uint32_t version, char *out, unsigned size);

#ifdef __cplusplus
}
#endif
#endif
