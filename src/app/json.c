#include "app/json.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>

void app_device_slug(const lsuv_device_info *info, char *out, size_t size) {
    size_t n = 0;
    bool dash = false;
    for (const char *c = info->name; *c && n + 1 < size; ++c) {
        if (isalnum((unsigned char)*c)) {
            if (dash && n > 0 && n + 2 < size) out[n++] = '-';
            out[n++] = (char)tolower((unsigned char)*c);
            dash = false;
        } else {
            dash = true;
        }
    }
    if (size) out[n] = '\0';
}

cJSON *app_device_info_json(const lsuv_device_info *d) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char api[32], slug[256];
    lsuv_version_string(d->api_version, api, sizeof api);
    app_device_slug(d, slug, sizeof slug);
    cJSON_AddNumberToObject(o, "index", d->index);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "slug", slug);
    cJSON_AddStringToObject(o, "type", lsuv_device_type_name(d->type));
    cJSON_AddNumberToObject(o, "vendor_id", d->vendor_id);
    cJSON_AddNumberToObject(o, "device_id", d->device_id);
    cJSON_AddStringToObject(o, "driver", d->driver_name);
    cJSON_AddStringToObject(o, "driver_info", d->driver_info);
    cJSON_AddNumberToObject(o, "driver_version", d->driver_version);
    cJSON_AddStringToObject(o, "api_version", api);
    cJSON_AddNumberToObject(o, "subgroup_size", d->subgroup_size);
    cJSON_AddBoolToObject(o, "float64", d->float64);
    cJSON_AddBoolToObject(o, "float16", d->float16);
    cJSON_AddBoolToObject(o, "storage16", d->storage16);
    cJSON_AddNumberToObject(o, "timestamp_valid_bits", d->timestamp_valid_bits);
    cJSON_AddNumberToObject(o, "timestamp_period_ns", d->timestamp_period_ns);
    cJSON_AddNumberToObject(o, "max_storage_buffer_range", (double)d->max_storage_buffer_range);
    cJSON_AddNumberToObject(o, "max_workgroup_invocations", d->max_workgroup_invocations);
    cJSON_AddNumberToObject(o, "device_local_bytes", (double)d->device_local_bytes);
    return o;
}

bool app_run_within_tol(const lsuv_run *run) {
    for (uint32_t l = 0; l < run->n_layers; ++l)
        if (!run->layers[l].within_tol) return false;
    return run->hazard == LSUV_HAZARD_NONE;
}

uint32_t app_run_capped_layers(const lsuv_run *run) {
    uint32_t n = 0;
    for (uint32_t l = 0; l < run->n_layers; ++l) n += run->layers[l].capped;
    return n;
}

double app_ms_per_pass(double ms, uint32_t passes) {
    return passes ? ms / passes : NAN;
}

void app_json_add_ms_per_pass(cJSON *o, double ms, uint32_t passes) {
    double per = app_ms_per_pass(ms, passes);
    if (isnan(per))
        cJSON_AddNullToObject(o, "gpu_ms_per_pass");
    else
        cJSON_AddNumberToObject(o, "gpu_ms_per_pass", per);
}

cJSON *app_run_layers_json(const lsuv_net *net, const lsuv_run *run) {
    cJSON *layers = cJSON_CreateArray();
    for (uint32_t l = 0; layers && l < run->n_layers; ++l) {
        const lsuv_layer_run *lr = &run->layers[l];
        cJSON *lj = cJSON_CreateObject();
        if (!lj) break;
        cJSON_AddItemToArray(layers, lj);
        cJSON_AddNumberToObject(lj, "index", lr->index);
        cJSON_AddStringToObject(lj, "type", lsuv_layer_type_name(net->layers[lr->index].type));
        cJSON_AddStringToObject(lj, "measure", lsuv_measure_name(lr->measure));
        cJSON_AddNumberToObject(lj, "passes", lr->passes);
        cJSON_AddNumberToObject(lj, "mean", lr->mean);
        cJSON_AddNumberToObject(lj, "std", lr->std);
        /* Converged means within tolerance, as the table's "tol" column. */
        cJSON_AddBoolToObject(lj, "converged", lr->within_tol);
        cJSON_AddBoolToObject(lj, "within_tol", lr->within_tol);
        cJSON_AddBoolToObject(lj, "capped", lr->capped);
        cJSON_AddNumberToObject(lj, "gpu_ms", lr->gpu_ms);
        app_json_add_ms_per_pass(lj, lr->gpu_ms, lr->passes);
    }
    return layers;
}
