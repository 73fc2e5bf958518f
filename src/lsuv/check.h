/* Internal to src/lsuv: what the options ask of the network, checked before
 * a run (lsuv_options_check) and the targets no weights can reach. */
#ifndef LSUV_LSUV_CHECK_H
#define LSUV_LSUV_CHECK_H

#include "lsuv/lsuv.h"

/* The layer takes part in a run with these options. */
bool check_runs_on(const lsuv_layer *layer, const lsuv_options *options);

/* lsuv_options_check, with the sub each layer starts from (NULL: the cfg's). */
lsuv_status check_options(const lsuv_net *net, const lsuv_options *options, const float *subs);

/* The first layer the run takes part in whose target std is out of the
 * reach of its output's range (see LSUV_HAZARD_UNREACHABLE), or UINT32_MAX. */
uint32_t check_unreachable(const lsuv_net *net, const lsuv_options *options, const float *subs);

#endif
