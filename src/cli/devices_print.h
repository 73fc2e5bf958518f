#ifndef LSUV_CLI_DEVICES_PRINT_H
#define LSUV_CLI_DEVICES_PRINT_H

#include <stdio.h>

#include "lsuv/device.h"

/* --list-devices: a block of text per device. */
void devices_print_text(const lsuv_instance *instance, FILE *out);
/* --list-devices --json: a JSON array of objects, to path ("-": standard
 * output). Returns an exit code, having said why on failure. */
int devices_print_json(const lsuv_instance *instance, const char *path);

#endif
