/* Internal: what net.c (the network, its [net] section and the order of its
 * sections) and layer.c (one layer's section) share to read a .cfg. */
#ifndef LSUV_NET_SECTION_H
#define LSUV_NET_SECTION_H

#include "lsuv/net.h"
#include "net/cfg.h"

typedef struct parse_ctx {
    const char *name;
    cfg_warnings warnings;
    const lsuv_layer *layers; /* those read so far: [route] and [shortcut] name them */
} parse_ctx;

/* The most floats one tensor may hold (a layer's weights, or its outputs for
 * the whole batch): 2^32, 16 GiB in fp32, more than the largest single
 * allocation of the devices lsuv-vk runs on. Checked before any product is
 * formed, it also keeps every count (MACs: weights x output pixels < 2^63)
 * within 64 bits. */
static const uint64_t max_tensor_floats = 1ull << 32;

/* The option key of s, or NULL. */
cfg_option *section_find(cfg_section *s, const char *key);
/* An integer option in [min, max], or def when absent. */
lsuv_status section_get_int(parse_ctx *ctx, cfg_section *s, const char *key, long def, long min,
                            long max, long *out);
/* A finite real option in [min, max], or def when absent. */
lsuv_status section_get_float(parse_ctx *ctx, cfg_section *s, const char *key, double def,
                              double min, double max, double *out);

/* The activation= option into l (slope too), or def when absent. */
lsuv_status section_get_activation(parse_ctx *ctx, cfg_section *s, const char *def, lsuv_layer *l);

/* l's options, output shape and inputs for the layers of graphs
 * (graph.c): route, shortcut, upsample, reorg and the detection heads. */
lsuv_status section_read_graph_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l);

/* l's options, output shape and counts from its section s; l->type, index,
 * line and in are set. */
lsuv_status section_read_layer(parse_ctx *ctx, cfg_section *s, lsuv_layer *l,
                               const lsuv_net_options *options);

#endif
