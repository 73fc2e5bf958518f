/* How lsuv-vk reports a library failure: one line on standard error and
 * the exit code the status stands for. Depends on nothing else in src/cli,
 * so every file of the command line can fail through it. */
#ifndef LSUV_CLI_FAIL_H
#define LSUV_CLI_FAIL_H

#include "app/exit_codes.h"
#include "lsuv/status.h"

/* Prints "lsuv-vk: <the library's message>" and returns the exit code for
 * the status: bad input and missing devices give EXIT_USAGE. */
int cli_fail(lsuv_status status);
/* The same for a failure while reading what the user named: any error but
 * running out of memory is bad input. */
int cli_fail_input(lsuv_status status);

#endif
