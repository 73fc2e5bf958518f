#include "vk/internal.h"

#include "core/error.h"
#include "core/spirv.h"

#include <string.h>

#define MAX_SPEC 12

lsuv_status lsuv_pipeline_layout_create(lsuv_device *dev, const lsuv_pipeline_desc *desc,
                                        lsuv_pipeline *out) {
    memset(out, 0, sizeof *out);
    out->device = dev;
    out->bindings = desc->bindings;
    out->push_size = desc->push_size;
    if (!lsuv_spirv_find(desc->shader))
        return lsuv_fail(LSUV_ERROR_INVALID, "no embedded shader named %s", desc->shader);
    if (desc->bindings > LSUV_MAX_BINDINGS || desc->spec_count > MAX_SPEC)
        return lsuv_fail(LSUV_ERROR_INVALID, "shader %s: too many bindings or constants",
                         desc->shader);

    VkDescriptorSetLayoutBinding bindings[LSUV_MAX_BINDINGS];
    for (uint32_t i = 0; i < desc->bindings; ++i) {
        out->types[i] = desc->types ? desc->types[i] : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = out->types[i],
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    }
    VkDescriptorSetLayoutCreateInfo set_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = desc->bindings,
        .pBindings = bindings,
    };
    VkResult r =
        dev->vk.vkCreateDescriptorSetLayout(dev->device, &set_info, NULL, &out->set_layout);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkCreateDescriptorSetLayout");

    VkPushConstantRange push = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .size = desc->push_size,
    };
    VkPipelineLayoutCreateInfo layout_info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &out->set_layout,
        .pushConstantRangeCount = desc->push_size ? 1 : 0,
        .pPushConstantRanges = &push,
    };
    r = dev->vk.vkCreatePipelineLayout(dev->device, &layout_info, NULL, &out->layout);
    if (r != VK_SUCCESS) {
        lsuv_pipeline_destroy(out);
        return lsuv_vk_fail(r, "vkCreatePipelineLayout");
    }
    return LSUV_OK;
}

lsuv_status lsuv_pipeline_compile(lsuv_pipeline *out, const lsuv_pipeline_desc *desc) {
    if (out->pipeline) return LSUV_OK;
    lsuv_device *dev = out->device;
    const lsuv_spirv *spirv = lsuv_spirv_find(desc->shader);
    if (!spirv) return lsuv_fail(LSUV_ERROR_INVALID, "no embedded shader named %s", desc->shader);
    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = spirv->size,
        .pCode = spirv->code,
    };
    VkShaderModule module;
    VkResult r = dev->vk.vkCreateShaderModule(dev->device, &module_info, NULL, &module);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkCreateShaderModule");

    VkSpecializationMapEntry entries[MAX_SPEC];
    for (uint32_t i = 0; i < desc->spec_count; ++i)
        entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo spec = {
        .mapEntryCount = desc->spec_count,
        .pMapEntries = entries,
        .dataSize = desc->spec_count * 4,
        .pData = desc->spec,
    };
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .flags = desc->full_subgroups
                             ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT
                             : 0,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
                .pSpecializationInfo = desc->spec_count ? &spec : NULL,
            },
        .layout = out->layout,
    };
    r = dev->vk.vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1, &info, NULL,
                                         &out->pipeline);
    dev->vk.vkDestroyShaderModule(dev->device, module, NULL);
    if (r != VK_SUCCESS) {
        out->pipeline = VK_NULL_HANDLE;
        return lsuv_vk_fail(r, "vkCreateComputePipelines");
    }
    return LSUV_OK;
}

lsuv_status lsuv_pipeline_create(lsuv_device *dev, const lsuv_pipeline_desc *desc,
                                 lsuv_pipeline *out) {
    lsuv_status s = lsuv_pipeline_layout_create(dev, desc, out);
    if (s == LSUV_OK) s = lsuv_pipeline_compile(out, desc);
    if (s != LSUV_OK) lsuv_pipeline_destroy(out);
    return s;
}

void lsuv_pipeline_destroy(lsuv_pipeline *p) {
    lsuv_device *dev = p->device;
    if (!dev) return;
    if (p->pipeline) dev->vk.vkDestroyPipeline(dev->device, p->pipeline, NULL);
    if (p->layout) dev->vk.vkDestroyPipelineLayout(dev->device, p->layout, NULL);
    if (p->set_layout) dev->vk.vkDestroyDescriptorSetLayout(dev->device, p->set_layout, NULL);
    memset(p, 0, sizeof *p);
}
