/* Linked into sanitizer builds only. The Vulkan loader unloads drivers and
 * layers when an instance goes away; leaks that LeakSanitizer later finds in
 * them then have no module name, and the suppressions, which name those
 * libraries only, cannot match them. Opening the libraries once more with
 * RTLD_NODELETE keeps them mapped until exit. */
#include <dlfcn.h>

__attribute__((constructor)) static void keep_vulkan_libraries_loaded(void) {
    static const char *const names[] = {
        "libvulkan.so.1",
        "libvulkan_lvp.so",
        "libVkLayer_khronos_validation.so",
    };
    for (unsigned i = 0; i < sizeof names / sizeof *names; ++i)
        dlopen(names[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
}
