#include "vk/internal.h"

#include "core/error.h"
#include "core/spirv.h"

#include <stdlib.h>
#include <string.h>

static VkDescriptorType descriptor_type(lsuv_binding_kind kind) {
    switch (kind) {
    case LSUV_BINDING_UNIFORM:
        return VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
    case LSUV_BINDING_TEXEL:
        return VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    default:
        return VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    }
}

/* Keeps what lsuv_pipeline_compile needs, so that a deferred pipeline is
 * built without its description at hand. */
static lsuv_status desc_copy(lsuv_pipeline *p, const lsuv_pipeline_desc *desc) {
    if (desc->shader <= LSUV_SHADER_NONE || desc->shader >= LSUV_SHADER_COUNT)
        return lsuv_fail(LSUV_ERROR_INVALID, "shader variant %d is not built", (int)desc->shader);
    p->variant = desc->shader;
    p->shader = lsuv_spirv_table[desc->shader].name;
    if (desc->bindings > LSUV_MAX_BINDINGS || desc->spec_count > LSUV_MAX_SPEC)
        return lsuv_fail(LSUV_ERROR_INVALID, "shader %s: too many bindings or constants",
                         p->shader);
    p->bindings = desc->bindings;
    p->push_size = desc->push_size;
    for (uint32_t i = 0; i < desc->bindings; ++i)
        p->types[i] = descriptor_type(desc->kinds ? desc->kinds[i] : LSUV_BINDING_STORAGE);
    if (desc->spec_count) memcpy(p->spec, desc->spec, desc->spec_count * sizeof *p->spec);
    p->spec_count = desc->spec_count;
    p->full_subgroups = desc->full_subgroups;
    return LSUV_OK;
}

static lsuv_status layouts_create(lsuv_pipeline *p) {
    lsuv_device *dev = p->device;
    VkDescriptorSetLayoutBinding bindings[LSUV_MAX_BINDINGS];
    for (uint32_t i = 0; i < p->bindings; ++i)
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = p->types[i],
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo set_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = p->bindings,
        .pBindings = bindings,
    };
    VkResult r = dev->vk.vkCreateDescriptorSetLayout(dev->device, &set_info, NULL, &p->set_layout);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkCreateDescriptorSetLayout");

    VkPushConstantRange push = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .size = p->push_size,
    };
    VkPipelineLayoutCreateInfo layout_info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &p->set_layout,
        .pushConstantRangeCount = p->push_size ? 1 : 0,
        .pPushConstantRanges = &push,
    };
    r = dev->vk.vkCreatePipelineLayout(dev->device, &layout_info, NULL, &p->layout);
    return r == VK_SUCCESS ? LSUV_OK : lsuv_vk_fail(r, "vkCreatePipelineLayout");
}

lsuv_status lsuv_pipeline_create_deferred(lsuv_device *dev, const lsuv_pipeline_desc *desc,
                                          lsuv_pipeline **out) {
    *out = NULL;
    lsuv_pipeline *p = calloc(1, sizeof *p);
    if (!p) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    p->device = dev;
    lsuv_status s = desc_copy(p, desc);
    if (s == LSUV_OK) s = layouts_create(p);
    if (s != LSUV_OK) {
        lsuv_pipeline_destroy(p);
        return s;
    }
    *out = p;
    return LSUV_OK;
}

lsuv_status lsuv_pipeline_compile(lsuv_pipeline *p) {
    if (p->pipeline) return LSUV_OK;
    lsuv_device *dev = p->device;
    const lsuv_spirv *spirv = &lsuv_spirv_table[p->variant];
    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = spirv->size,
        .pCode = spirv->code,
    };
    VkShaderModule module;
    VkResult r = dev->vk.vkCreateShaderModule(dev->device, &module_info, NULL, &module);
    if (r != VK_SUCCESS) return lsuv_vk_fail(r, "vkCreateShaderModule");

    VkSpecializationMapEntry entries[LSUV_MAX_SPEC];
    for (uint32_t i = 0; i < p->spec_count; ++i)
        entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo spec = {
        .mapEntryCount = p->spec_count,
        .pMapEntries = entries,
        .dataSize = p->spec_count * 4,
        .pData = p->spec,
    };
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .flags = p->full_subgroups
                             ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT
                             : 0,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
                .pSpecializationInfo = p->spec_count ? &spec : NULL,
            },
        .layout = p->layout,
    };
    r = dev->vk.vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1, &info, NULL,
                                         &p->pipeline);
    dev->vk.vkDestroyShaderModule(dev->device, module, NULL);
    if (r != VK_SUCCESS) {
        p->pipeline = VK_NULL_HANDLE;
        return lsuv_vk_fail(r, "vkCreateComputePipelines");
    }
    return LSUV_OK;
}

lsuv_status lsuv_pipeline_create(lsuv_device *dev, const lsuv_pipeline_desc *desc,
                                 lsuv_pipeline **out) {
    lsuv_status s = lsuv_pipeline_create_deferred(dev, desc, out);
    if (s == LSUV_OK) s = lsuv_pipeline_compile(*out);
    if (s != LSUV_OK) {
        lsuv_pipeline_destroy(*out);
        *out = NULL;
    }
    return s;
}

void lsuv_pipeline_destroy(lsuv_pipeline *p) {
    if (!p) return;
    lsuv_device *dev = p->device;
    if (p->pipeline) dev->vk.vkDestroyPipeline(dev->device, p->pipeline, NULL);
    if (p->layout) dev->vk.vkDestroyPipelineLayout(dev->device, p->layout, NULL);
    if (p->set_layout) dev->vk.vkDestroyDescriptorSetLayout(dev->device, p->set_layout, NULL);
    free(p);
}
