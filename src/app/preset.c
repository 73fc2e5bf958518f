#include "app/preset.h"

#include <string.h>

/* Each row is what its source does, not what would be best: the point of a
 * preset is to reproduce that source (see bench/peers/lsuv_presets.py). */
static const app_preset presets[] = {
    /* course-v3 notebook 07a_lsuv, lsuv_module: a mean loop (sub += mean),
     * then a std loop (W /= std), on GeneralRelu's output, torch's unbiased
     * std; the notebook has no cap. Its init is init_cnn's. */
    {"fastai-07a", "fastai course-v3, notebook 07a_lsuv (lsuv_module)", LSUV_INIT_FASTAI,
     1u << LSUV_ORDER_MEAN_FIRST, LSUV_MEASURE_POST, LSUV_ESTIMATOR_UNBIASED, LSUV_UPDATE_STD,
     LSUV_LAYERS_CONVS, 1e-3, 1e-3, 50},
    /* LSUVinit tools/extra/lsuv_init.py (OrthonormalLSUV): while |var - 1| >
     * 0.02, W /= sqrt(var), np.var of the blob before the nonlinearity; it
     * breaks once its counter passes max_iter = 20, so 21 corrections. */
    {"lsuv-paper", "ducha-aiki/LSUVinit, tools/extra/lsuv_init.py", LSUV_INIT_ORTHONORMAL,
     1u << LSUV_ORDER_STD_ONLY, LSUV_MEASURE_PRE, LSUV_ESTIMATOR_POPULATION, LSUV_UPDATE_VARIANCE,
     LSUV_LAYERS_WEIGHTED, 1e-3, 0.02, 21},
    /* LSUV-pytorch LSUV.py: while |std - 1| > 0.1, coef = 1/(std + 1e-8),
     * W *= coef, b -= mean * coef, from a hook on the Conv2d/Linear output;
     * max_attempts = 10 breaks after the 11th correction. */
    {"lsuv-pytorch", "ducha-aiki/LSUV-pytorch, LSUV.py", LSUV_INIT_ORTHONORMAL,
     1u << LSUV_ORDER_STD_ONLY, LSUV_MEASURE_PRE, LSUV_ESTIMATOR_POPULATION, LSUV_UPDATE_COEF,
     LSUV_LAYERS_WEIGHTED, 1e-3, 0.1, 11},
};

const app_preset *app_preset_find(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof *presets; ++i)
        if (strcmp(name, presets[i].name) == 0) return &presets[i];
    return NULL;
}

const char *app_preset_names(void) {
    return "fastai-07a, lsuv-paper or lsuv-pytorch";
}

lsuv_options app_preset_options(const app_preset *p, lsuv_order order) {
    return (lsuv_options){.order = order,
                          .mean_param = LSUV_MEAN_AUTO,
                          .measure = p->measure,
                          .estimator = p->estimator,
                          .update = p->update,
                          .layers = p->layers,
                          .tol_mean = p->tol_mean,
                          .tol_std = p->tol_std,
                          .max_iters = p->max_iters};
}

lsuv_order app_preset_order(const app_preset *p) {
    unsigned o = 0;
    while (o + 1 < LSUV_ORDER_COUNT && !(p->orders & (1u << o))) ++o;
    return (lsuv_order)o;
}

static const char *const estimator_names[] = {"unbiased", "population"};
static const char *const update_names[] = {"std", "variance", "coef"};
static const char *const layer_set_names[] = {"weighted", "convs"};
static const char *const mean_param_names[] = {"auto", "sub", "bias"};

#define COUNT(a) (sizeof a / sizeof *a)

static const char *name_of(const char *const *names, size_t n, unsigned v) {
    return v < n ? names[v] : "unknown";
}

static bool index_of(const char *const *names, size_t n, const char *name, unsigned *out) {
    for (unsigned i = 0; i < n; ++i)
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return true;
        }
    return false;
}

const char *app_estimator_name(lsuv_estimator e) {
    return name_of(estimator_names, COUNT(estimator_names), (unsigned)e);
}

const char *app_update_name(lsuv_update u) {
    return name_of(update_names, COUNT(update_names), (unsigned)u);
}

const char *app_layer_set_name(lsuv_layer_set s) {
    return name_of(layer_set_names, COUNT(layer_set_names), (unsigned)s);
}

const char *app_mean_param_name(lsuv_mean_param p) {
    return name_of(mean_param_names, COUNT(mean_param_names), (unsigned)p);
}

bool app_estimator_from_name(const char *name, lsuv_estimator *out) {
    unsigned i;
    if (!index_of(estimator_names, COUNT(estimator_names), name, &i)) return false;
    *out = (lsuv_estimator)i;
    return true;
}

bool app_update_from_name(const char *name, lsuv_update *out) {
    unsigned i;
    if (!index_of(update_names, COUNT(update_names), name, &i)) return false;
    *out = (lsuv_update)i;
    return true;
}

bool app_layer_set_from_name(const char *name, lsuv_layer_set *out) {
    unsigned i;
    if (!index_of(layer_set_names, COUNT(layer_set_names), name, &i)) return false;
    *out = (lsuv_layer_set)i;
    return true;
}

bool app_mean_param_from_name(const char *name, lsuv_mean_param *out) {
    unsigned i;
    if (!index_of(mean_param_names, COUNT(mean_param_names), name, &i)) return false;
    *out = (lsuv_mean_param)i;
    return true;
}
