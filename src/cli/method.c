#include "cli/method.h"

#include "app/preset.h"

#include <stdio.h>
#include <string.h>

static void apply_preset(options *o, const app_preset *p, bool keep_given) {
    o->preset = p->name;
    o->init = p->init;
    o->orders = p->orders;
    if (!keep_given) o->keep = (int)app_preset_order(p);
    o->measure = p->measure;
    o->mean_param = LSUV_MEAN_AUTO;
    o->estimator = p->estimator;
    o->update = p->update;
    o->lsuv_layers = p->layers;
    o->tol_mean = p->tol_mean;
    o->tol_std = p->tol_std;
    o->max_iters = p->max_iters;
}

static const struct {
    const char *name, *values;
} values[] = {
    {"preset", "fastai-07a, lsuv-paper or lsuv-pytorch"},
    {"measure", "auto, post, pre or conv"},
    {"estimator", "unbiased or population"},
    {"update", "std, variance or coef"},
    {"lsuv-layers", "weighted or convs"},
    {"mean-param", "auto, sub or bias"},
};

const char *method_hint(const char *name) {
    for (size_t i = 0; i < sizeof values / sizeof *values; ++i)
        if (strcmp(name, values[i].name) == 0) return values[i].values;
    return NULL;
}

/* Each setter takes a name and says whether it knew it. */
static bool set_value(options *o, const char *name, const char *arg, bool keep_given) {
    if (strcmp(name, "preset") == 0) {
        const app_preset *p = app_preset_find(arg);
        if (p) apply_preset(o, p, keep_given);
        return p != NULL;
    }
    if (strcmp(name, "measure") == 0) return lsuv_measure_from_name(arg, &o->measure);
    if (strcmp(name, "estimator") == 0) return app_estimator_from_name(arg, &o->estimator);
    if (strcmp(name, "update") == 0) return app_update_from_name(arg, &o->update);
    if (strcmp(name, "lsuv-layers") == 0) return app_layer_set_from_name(arg, &o->lsuv_layers);
    lsuv_mean_param p;
    if (!app_mean_param_from_name(arg, &p)) return false;
    o->mean_param = (int)p;
    return true;
}

int method_option(options *o, const char *name, const char *arg, bool keep_given) {
    if (set_value(o, name, arg, keep_given)) return EXIT_OK;
    fprintf(stderr, "lsuv-vk: --%s expects %s, got '%s'\n", name, method_hint(name), arg);
    return EXIT_USAGE;
}
