/* The options that say which LSUV runs: a preset, and each of its settings
 * on its own (a later flag overrides what an earlier preset set). */
#ifndef LSUV_CLI_METHOD_H
#define LSUV_CLI_METHOD_H

#include <stdbool.h>

#include "cli/cli.h"

/* --preset, --measure, --estimator, --update, --lsuv-layers or --mean-param
 * (name without the dashes) with its value. A preset leaves --keep alone
 * when keep_given. Returns EXIT_OK, or EXIT_USAGE having said why. */
int method_option(options *o, const char *name, const char *arg, bool keep_given);

/* The values each takes, for the message when one is missing. */
const char *method_hint(const char *name);

#endif
