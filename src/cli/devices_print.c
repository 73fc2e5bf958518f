#include "cli/devices_print.h"
#include "cli/outputs.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "app/json.h"

static const char *yes_no(bool b) {
    return b ? "yes" : "no";
}

void devices_print_text(const lsuv_instance *inst, FILE *out) {
    for (uint32_t i = 0; i < lsuv_instance_device_count(inst); ++i) {
        const lsuv_device_info *d = lsuv_instance_device_info(inst, i);
        char api[32];
        lsuv_version_string(d->api_version, api, sizeof api);
        fprintf(out, "device %u: %s\n", d->index, d->name);
        fprintf(out, "  type                      %s\n", lsuv_device_type_name(d->type));
        fprintf(out, "  vendor id                 0x%04x\n", d->vendor_id);
        fprintf(out, "  driver                    %s (%s)\n", d->driver_name, d->driver_info);
        fprintf(out, "  api version               %s\n", api);
        fprintf(out, "  subgroup size             %u (min %u, max %u, shuffle %s)\n",
                d->subgroup_size, d->min_subgroup_size, d->max_subgroup_size,
                yes_no(d->subgroup_shuffle));
        fprintf(out, "  shaderFloat64             %s\n", yes_no(d->float64));
        fprintf(out, "  shaderFloat16             %s\n", yes_no(d->float16));
        fprintf(out, "  16-bit storage            %s\n", yes_no(d->storage16));
        fprintf(out, "  timestamp valid bits      %u\n", d->timestamp_valid_bits);
        fprintf(out, "  timestamp period          %g ns\n", (double)d->timestamp_period_ns);
        fprintf(out, "  maxStorageBufferRange     %llu bytes\n",
                (unsigned long long)d->max_storage_buffer_range);
        fprintf(out, "  maxComputeWorkGroupInvocations %u\n", d->max_workgroup_invocations);
        fprintf(out, "  device-local memory       %.1f MiB\n",
                (double)d->device_local_bytes / (1024.0 * 1024.0));
    }
}

int devices_print_json(const lsuv_instance *inst, const char *path) {
    cJSON *array = cJSON_CreateArray();
    if (!array) return -1;
    for (uint32_t i = 0; i < lsuv_instance_device_count(inst); ++i) {
        const lsuv_device_info *d = lsuv_instance_device_info(inst, i);
        cJSON *o = app_device_info_json(d);
        if (!o) break;
        cJSON_AddItemToArray(array, o);
    }
    return outputs_write_json(array, "--json", path);
}
