/* Presets: the settings that make a run follow one published LSUV, read
 * from its source, shared by lsuv-vk and lsuv-bench. A preset is applied
 * where it stands on the command line, so a later flag overrides any of
 * its settings. */
#ifndef LSUV_APP_PRESET_H
#define LSUV_APP_PRESET_H

#include <stdint.h>

#include "lsuv/lsuv.h"
#include "lsuv/weights.h"

typedef struct app_preset {
    const char *name;
    const char *source;   /* where its semantics were read, for --help and the README */
    lsuv_init init;       /* the pre-init; --weights-in replaces it */
    unsigned orders;      /* bit per lsuv_order; the lowest is the one --save-weights keeps */
    lsuv_measure measure; /* the mean parameter is auto: the one acting there */
    lsuv_estimator estimator;
    lsuv_update update;
    lsuv_layer_set layers;
    double tol_mean, tol_std;
    uint32_t max_iters; /* corrections per loop */
} app_preset;

/* The preset of that name, or NULL. */
const app_preset *app_preset_find(const char *name);

/* "fastai-07a, lsuv-paper or lsuv-pytorch", for messages. */
const char *app_preset_names(void);

/* The library's options for one ordering under the preset. */
lsuv_options app_preset_options(const app_preset *preset, lsuv_order order);

/* The lowest ordering of the preset's set. */
lsuv_order app_preset_order(const app_preset *preset);

/* "unbiased", "population"; "std", "variance", "coef"; "weighted", "convs". */
const char *app_estimator_name(lsuv_estimator estimator);
const char *app_update_name(lsuv_update update);
const char *app_layer_set_name(lsuv_layer_set set);
const char *app_mean_param_name(lsuv_mean_param param);
/* False for an unknown name; *out is then untouched. */
bool app_estimator_from_name(const char *name, lsuv_estimator *out);
bool app_update_from_name(const char *name, lsuv_update *out);
bool app_layer_set_from_name(const char *name, lsuv_layer_set *out);
bool app_mean_param_from_name(const char *name, lsuv_mean_param *out);

#endif
