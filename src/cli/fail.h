/* How lsuv-vk reports a library failure: one line on standard error and
 * the exit code the status stands for. Depends on nothing else in src/cli,
 * so every file of the command line can fail through it. */
#ifndef LSUV_CLI_FAIL_H
#define LSUV_CLI_FAIL_H

#include "lsuv/status.h"

/* Exit codes. */
enum {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1, /* a Vulkan call, memory or writing a file failed */
    EXIT_USAGE = 2,   /* bad arguments or input; no loader or device */
    EXIT_HAZARD = 3,  /* LSUV stopped at a dead, non-finite or diverging layer */
};

/* Prints "lsuv-vk: <the library's message>" and returns the exit code for
 * the status: bad input and missing devices give EXIT_USAGE. */
int cli_fail(lsuv_status status);
/* The same for a failure while reading what the user named: any error but
 * running out of memory is bad input. */
int cli_fail_input(lsuv_status status);

#endif
