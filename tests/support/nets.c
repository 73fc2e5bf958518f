#include "support/nets.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

const char *darknet_cfg(const char *name) {
    static char path[4096];
    const char *dir = getenv("LSUV_DARKNET_CFG_DIR");
    if (!dir || !*dir)
        cr_skip_test("LSUV_DARKNET_CFG_DIR is unset: no folder of darknet's own cfgs to compare "
                     "against");
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert(n > 0 && (size_t)n < sizeof path, "LSUV_DARKNET_CFG_DIR is too long");
    return path;
}
