/* What the options ask of the network. */
#include "lsuv/check.h"

bool check_runs_on(const lsuv_layer *l, const lsuv_options *o) {
    if (!lsuv_layer_has_weights(l) || !l->lsuv) return false;
    return o->layers != LSUV_LAYERS_CONVS || l->type == LSUV_LAYER_CONVOLUTIONAL;
}
