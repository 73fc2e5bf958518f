#include "timing.h"

#include "app/exit_codes.h"
#include "core/clock.h"

#include <stdio.h>

lsuv_status time_cases(lsuv_device *dev, uint32_t repeats, bench_case *cases, uint32_t n_cases) {
    lsuv_cmd *cmd = NULL;
    lsuv_timer *timer = NULL;
    lsuv_status s = lsuv_cmd_begin(dev, &cmd);
    if (s == LSUV_OK) s = lsuv_timer_create(dev, 2, &timer);
    for (uint32_t r = 0; s == LSUV_OK && r <= repeats; ++r) {
        for (uint32_t c = 0; s == LSUV_OK && c < n_cases; ++c) {
            lsuv_timer_reset(timer, cmd);
            lsuv_timer_mark(timer, cmd, 0);
            cases[c].record(cmd, cases[c].ctx);
            lsuv_timer_mark(timer, cmd, 1);
            double t0 = lsuv_wall_seconds();
            s = lsuv_cmd_submit(cmd);
            double t1 = lsuv_wall_seconds(), ns = 0.0;
            if (s == LSUV_OK) s = lsuv_timer_elapsed_ns(timer, 0, 1, &ns);
            if (s == LSUV_OK && r > 0) {
                cases[c].gpu_s[r - 1] = ns * 1e-9;
                cases[c].wall_s[r - 1] = t1 - t0;
            }
        }
    }
    lsuv_timer_destroy(timer);
    lsuv_cmd_destroy(cmd);
    return s;
}

int bench_fail(lsuv_device *dev, lsuv_status s) {
    fprintf(stderr, "lsuv-bench: %s: %s\n", lsuv_device_get_info(dev)->name, lsuv_error_message());
    return app_exit_code(s, APP_FAILED_DEVICE);
}

int bench_zero_time(lsuv_device *dev) {
    fprintf(stderr, "lsuv-bench: %s reported a zero GPU time; its timestamps cannot be used\n",
            lsuv_device_get_info(dev)->name);
    return EXIT_RUNTIME;
}
