/* Internal to src/lsuv: what the options ask of the network. */
#ifndef LSUV_LSUV_CHECK_H
#define LSUV_LSUV_CHECK_H

#include "lsuv/lsuv.h"

/* The layer takes part in a run with these options. */
bool check_runs_on(const lsuv_layer *layer, const lsuv_options *options);

#endif
