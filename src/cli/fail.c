#include "cli/fail.h"

#include <stdio.h>

int cli_fail(lsuv_status s) {
    fprintf(stderr, "lsuv-vk: %s\n", lsuv_error_message());
    return app_exit_code(s, APP_FAILED_CALL);
}

int cli_fail_input(lsuv_status s) {
    fprintf(stderr, "lsuv-vk: %s\n", lsuv_error_message());
    return app_exit_code(s, APP_FAILED_INPUT);
}
