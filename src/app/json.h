/* Machine-readable forms of what the library measures, shared by lsuv-vk
 * and lsuv-bench so that their JSON agrees. */
#ifndef LSUV_APP_JSON_H
#define LSUV_APP_JSON_H

#include <stddef.h>

#include "lsuv/device.h"
#include "lsuv/lsuv.h"

typedef struct cJSON cJSON;

/* {"index", "name", "slug", "type", "vendor_id", "device_id", "driver",
 * "driver_info", "driver_version", "api_version", "subgroup_size", ...}. */
cJSON *app_device_info_json(const lsuv_device_info *info);

/* The device's name as a file name: lower-case letters and digits, every
 * other run of characters one '-' ("llvmpipe-llvm-15-0-6-256-bits"). */
void app_device_slug(const lsuv_device_info *info, char *out, size_t size);

/* Every layer of the run within tolerance, and no hazard: what "converged"
 * means in both programs' reports. */
bool app_run_within_tol(const lsuv_run *run);
/* How many of its layers had a loop hit the cap. */
uint32_t app_run_capped_layers(const lsuv_run *run);

/* GPU time per pass: ms / passes, NaN for no pass (a run stopped before
 * any). The GPU time holds every pass the device ran, the empty ones after
 * a layer is done too, and its input's forward. */
double app_ms_per_pass(double ms, uint32_t passes);
/* o's "gpu_ms_per_pass": app_ms_per_pass, null for NaN. */
void app_json_add_ms_per_pass(cJSON *o, double ms, uint32_t passes);

/* [{"index", "type", "measure", "passes", "mean", "std", "converged",
 * "within_tol", "capped", "gpu_ms", "gpu_ms_per_pass"}] of a run's layers:
 * mean and std at the measuring point, converged the same as within_tol. */
cJSON *app_run_layers_json(const lsuv_net *net, const lsuv_run *run);

#endif
