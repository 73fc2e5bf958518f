/* lsuv-bench's PyTorch peer. */
#ifndef LSUV_BENCH_PEER_H
#define LSUV_BENCH_PEER_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "lsuv/weights.h"

/* Runs bench/peers/fastai_lsuv.py from the weights w (saved to a temporary
 * .safetensors) on images: its JSON ({"torch", "threads", "runs"}), or NULL
 * having said in table that it did not run. */
cJSON *peer_run(const lsuv_net *net, const lsuv_weights *w, const char *images, uint32_t repeats,
                FILE *table);

#endif
