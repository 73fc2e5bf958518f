/* The exit codes of lsuv-vk and lsuv-bench, and the one mapping from a
 * library status to them. Application code: the library never exits. */
#ifndef LSUV_APP_EXIT_CODES_H
#define LSUV_APP_EXIT_CODES_H

#include "lsuv/status.h"

enum {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1,    /* a Vulkan call, memory, writing a file or a run failed */
    EXIT_USAGE = 2,      /* bad arguments or input; no loader or device */
    EXIT_HAZARD = 3,     /* lsuv-vk: LSUV stopped at a dead, non-finite or diverging layer */
    EXIT_REGRESSION = 3, /* lsuv-bench: a figure worse than --compare's baseline */
};

/* What failed decides what some statuses mean. */
typedef enum app_failure {
    APP_FAILED_CALL,   /* a library call: bad input and missing devices are EXIT_USAGE */
    APP_FAILED_INPUT,  /* reading what the user named: anything but memory is bad input */
    APP_FAILED_DEVICE, /* a measurement on a device: one that lacks a feature is the
                          wrong device for it (EXIT_USAGE), any other failure a run's */
} app_failure;

/* EXIT_OK for LSUV_OK, else the exit code of status failing where. */
int app_exit_code(lsuv_status status, app_failure where);

#endif
