/* lsuv-bench --study: the cases run. A forward (pipelines and device
 * buffers) is made once per net, device and batch size and reused by every
 * method and seed: each case uploads its own weights and batches into it. */
#include "study.h"
#include "study_run.h"

#include "app/exit_codes.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"
#include "files.h"
#include "lsuv/input.h"
#include "lsuv/lsuv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A net's images: a file read once (fitted and held-out batches are cut
 * from it), or none for synthetic input, drawn per case. */
typedef struct source {
    bool file;
    lsuv_batch all;   /* every image of the file, unnormalized */
    char kind[8];     /* "idx:" or "npy:" */
    char shown[1100]; /* the file as results record it */
} source;

/* One net on one device at one batch size: the cases' shared forward. */
typedef struct group {
    const suite_net *sn;
    const lsuv_net *net;
    const source *src;
    lsuv_device *dev;
    const char *device;
    uint32_t batch;
    lsuv_forward *forward; /* made by the group's first case */
} group;

typedef struct study_ctx {
    const study_options *o;
    cJSON *cases, *rows;
    uint32_t total, mine, done; /* cases before sharding, this shard's, run so far */
    /* Seconds: images read and devices made; forwards made (n_forwards);
     * lsuv_initialize; whole cases, forwards included. */
    double t0, setup_s, forward_s, lsuv_s, eval_s, case_s;
    uint32_t n_forwards;
    bool tty;
    char **weights; /* trained cases' weight files */
    int *weight_case;
    uint32_t n_weights;
} study_ctx;

/* One case: the group, a method and a seed, with its index. */
typedef struct study_case {
    const group *g;
    const study_method *m;
    uint64_t seed;
    uint32_t index;
} study_case;

static const char *const hazard_names[] = {"none",     "dead",        "nonfinite", "diverged",
                                           "overflow", "unreachable", "stalled"};

static int fail_status(const char *what, lsuv_status s, app_failure where) {
    fprintf(stderr, "lsuv-bench: %s: %s\n", what, lsuv_error_message());
    return app_exit_code(s, where);
}

/* A file input read whole, once: a case's batches are then copies, where
 * lsuv_input_load would read and inflate the file twice per case. */
static int source_load(const suite_net *sn, source *src) {
    memset(src, 0, sizeof *src);
    lsuv_input_source in;
    lsuv_status s = lsuv_input_source_parse(sn->input, &in);
    if (s == LSUV_OK && in.kind == LSUV_INPUT_SYNTHETIC) return EXIT_OK;
    char *data = NULL;
    size_t size = 0;
    if (s == LSUV_OK) s = lsuv_file_read_all(in.path, (size_t)1 << 34, &data, &size);
    if (s == LSUV_OK)
        s = in.kind == LSUV_INPUT_IDX
                ? lsuv_idx_parse(in.path, (uint8_t *)data, size, 0, &src->all)
                : lsuv_npy_parse(in.path, (uint8_t *)data, size, 0, &src->all);
    free(data);
    if (s != LSUV_OK) return fail_status(sn->name, s, APP_FAILED_INPUT);
    src->file = true;
    snprintf(src->kind, sizeof src->kind, "%s", in.kind == LSUV_INPUT_IDX ? "idx:" : "npy:");
    const char *colon = strchr(sn->shown_input, ':');
    snprintf(src->shown, sizeof src->shown, "%s", colon ? colon + 1 : sn->shown_input);
    return EXIT_OK;
}

/* The case's fitted (which 0) or held-out (1) batch, and its spec for
 * lsuv-vk: images START + which B on of the file, or the seed's synthetic
 * stream from sample which B on. */
static lsuv_status case_batch(const study_case *c, int which, lsuv_batch *out, char *spec,
                              size_t cap) {
    const group *g = c->g;
    uint32_t B = g->batch;
    if (!g->src->file) {
        snprintf(spec, cap, which ? "synthetic@%u" : "synthetic", B);
        lsuv_input_options io = {.spec = spec, .batch = B, .seed = c->seed};
        return lsuv_input_load(&io, g->net, out);
    }
    const lsuv_batch *all = &g->src->all;
    uint32_t start = study_start(c->seed, B, all->n) + (which ? B : 0);
    snprintf(spec, cap, "%s%s@%u", g->src->kind, g->src->shown, start);
    size_t per = (size_t)all->c * all->h * all->w;
    *out = (lsuv_batch){B, all->c, all->h, all->w, malloc(B * per * sizeof(float))};
    if (!out->data) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    memcpy(out->data, all->data + start * per, B * per * sizeof(float));
    return LSUV_OK;
}

/* Both batches of a case; normalized (where the net's input is), both by
 * the fitted batch's mean and std, as lsuv-vk --normalize does with
 * --eval-input: a dataset's normalizer, which the held-out batch's own
 * would hide a shift from. */
static lsuv_status case_batches(const study_case *c, lsuv_batch *fit, lsuv_batch *eval, char *input,
                                char *eval_input, size_t cap) {
    lsuv_status s = case_batch(c, 0, fit, input, cap);
    if (s == LSUV_OK) s = case_batch(c, 1, eval, eval_input, cap);
    double mean, std;
    if (s == LSUV_OK && c->g->sn->normalize &&
        (s = lsuv_batch_normalizer(fit, input, &mean, &std)) == LSUV_OK) {
        lsuv_batch_normalize(fit, mean, std);
        lsuv_batch_normalize(eval, mean, std);
    }
    return s;
}

/* Each LSUV layer's moments on the held-out batch (which the forward holds)
 * with the run's final weights, at its measuring point, with its estimator:
 * lsuv_network_measure's, as lsuv-vk --eval-input takes them, so that a
 * case is bit for bit the single run. */
static lsuv_status eval_layers(lsuv_forward *f, const study_method *m, const lsuv_run *run,
                               double *mean, double *std) {
    const lsuv_net *net = lsuv_forward_net(f);
    lsuv_layer_stats *all = calloc(net->n_layers, sizeof *all);
    if (!all) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_status s = lsuv_network_measure(f, m->options.estimator, all);
    for (uint32_t k = 0; s == LSUV_OK && k < run->n_layers; ++k) {
        const lsuv_layer_stats *l = &all[run->layers[k].index];
        bool pre = run->layers[k].measure == LSUV_MEASURE_PRE;
        mean[k] = pre ? l->pre_mean : l->mean;
        std[k] = pre ? l->pre_std : l->std;
    }
    free(all);
    return s;
}

/* What names a case, in its entry and in each of its rows. */
static void add_keys(cJSON *o, const study_case *c) {
    cJSON_AddNumberToObject(o, "case", c->index);
    cJSON_AddStringToObject(o, "net", c->g->sn->name);
    cJSON_AddStringToObject(o, "device", c->g->device);
    cJSON_AddStringToObject(o, "order", c->m->name);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "batch", c->g->batch);
}

static void add_row(study_ctx *x, const study_case *c, const lsuv_layer_run *l, double eval_mean,
                    double eval_std) {
    cJSON *r = cJSON_CreateObject();
    add_keys(r, c);
    cJSON_AddNumberToObject(r, "layer", l->index);
    cJSON_AddNumberToObject(r, "mean", l->mean);
    cJSON_AddNumberToObject(r, "std", l->std);
    cJSON_AddNumberToObject(r, "eval_mean", eval_mean);
    cJSON_AddNumberToObject(r, "eval_std", eval_std);
    cJSON_AddNumberToObject(r, "passes", l->passes);
    cJSON_AddBoolToObject(r, "within_tol", l->within_tol);
    /* The layer's share of the run: its passes' GPU time. */
    cJSON_AddNumberToObject(r, "ms", l->gpu_ms);
    cJSON_AddItemToArray(x->rows, r);
}

static void add_case(study_ctx *x, const study_case *c, const lsuv_run *run, const char *input,
                     const char *eval_input) {
    cJSON *e = cJSON_CreateObject();
    add_keys(e, c);
    cJSON_AddStringToObject(e, "input", input);
    cJSON_AddStringToObject(e, "eval_input", eval_input);
    cJSON_AddNumberToObject(e, "passes", run->passes);
    cJSON_AddBoolToObject(e, "converged", run->converged);
    if (run->hazard == LSUV_HAZARD_NONE || (unsigned)run->hazard >= 7)
        cJSON_AddNullToObject(e, "hazard");
    else
        cJSON_AddStringToObject(e, "hazard", hazard_names[run->hazard]);
    cJSON_AddNumberToObject(e, "ms", run->wall_ms);
    cJSON_AddItemToArray(x->cases, e);
}

/* The final weights of a fastai case, for the trainer. */
static lsuv_status save_weights(study_ctx *x, const study_case *c, const lsuv_weights *initial) {
    const lsuv_net *net = c->g->net;
    lsuv_weights *final = NULL;
    lsuv_status s = lsuv_weights_create(net, &final);
    for (uint32_t i = 0; s == LSUV_OK && i < net->n_layers; ++i)
        final->layers[i].has_sub = initial->layers[i].has_sub;
    if (s == LSUV_OK) s = lsuv_forward_weights_read(c->g->forward, final);
    char path[4200];
    snprintf(path, sizeof path, "%s/weights/case-%u.safetensors", x->o->out_dir, c->index);
    if (s == LSUV_OK) s = lsuv_weights_save(net, final, path);
    lsuv_weights_destroy(final);
    char *copy = s == LSUV_OK ? strdup(path) : NULL;
    if (s == LSUV_OK && !copy) s = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    if (s != LSUV_OK) return s;
    x->weights[x->n_weights] = copy;
    x->weight_case[x->n_weights++] = (int)c->index;
    return LSUV_OK;
}

static bool trained(const study_ctx *x, const study_case *c) {
    return x->o->train_epochs && strcmp(c->g->sn->name, "fastai") == 0;
}

/* LSUV from the case's weights on its fitted batch, then the held-out
 * batch through the final weights. */
static lsuv_status run_lsuv(study_ctx *x, const study_case *c, const lsuv_weights *w,
                            const lsuv_batch *fit, const lsuv_batch *eval, lsuv_run *run,
                            double **em, double **es) {
    group *g = (group *)c->g;
    lsuv_status s = LSUV_OK;
    if (!g->forward) {
        double t = lsuv_wall_seconds();
        lsuv_forward_options fo = {.batch = g->batch, .conv_kernel = x->o->conv_kernel};
        s = lsuv_forward_create(g->dev, g->net, w, &fo, &g->forward);
        x->forward_s += lsuv_wall_seconds() - t;
        x->n_forwards++;
    }
    if (s == LSUV_OK) s = lsuv_forward_reset(g->forward, w);
    if (s == LSUV_OK) s = lsuv_forward_set_input(g->forward, fit);
    if (s != LSUV_OK) return s;
    double t = lsuv_wall_seconds();
    s = lsuv_initialize(g->forward, &c->m->options, run);
    x->lsuv_s += lsuv_wall_seconds() - t;
    if (s != LSUV_OK) return s;
    *em = calloc(run->n_layers + 1, sizeof **em);
    *es = calloc(run->n_layers + 1, sizeof **es);
    if (!*em || !*es) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    s = lsuv_forward_set_input(g->forward, eval);
    t = lsuv_wall_seconds();
    if (s == LSUV_OK) s = eval_layers(g->forward, c->m, run, *em, *es);
    x->eval_s += lsuv_wall_seconds() - t;
    if (s == LSUV_OK && trained(x, c)) s = save_weights(x, c, w);
    return s;
}

static int run_case(study_ctx *x, const study_case *c) {
    double t0 = lsuv_wall_seconds();
    lsuv_weights *w = NULL;
    lsuv_batch fit = {0}, eval = {0};
    char input[1200] = "", eval_input[1200] = "";
    lsuv_run run = {0};
    double *em = NULL, *es = NULL;
    lsuv_status s = lsuv_weights_init(c->g->net, c->m->init, c->seed, &w);
    if (s == LSUV_OK) s = case_batches(c, &fit, &eval, input, eval_input, sizeof input);
    if (s == LSUV_OK) s = run_lsuv(x, c, w, &fit, &eval, &run, &em, &es);
    int code = EXIT_OK;
    if (s != LSUV_OK) {
        char what[300];
        snprintf(what, sizeof what, "case %u (%s, %s, %s, seed %llu, batch %u)", c->index,
                 c->g->sn->name, c->g->device, c->m->name, (unsigned long long)c->seed,
                 c->g->batch);
        code = fail_status(what, s, APP_FAILED_DEVICE);
    } else {
        add_case(x, c, &run, input, eval_input);
        for (uint32_t k = 0; k < run.n_layers; ++k) add_row(x, c, &run.layers[k], em[k], es[k]);
    }
    free(em);
    free(es);
    lsuv_run_free(&run);
    lsuv_batch_free(&fit);
    lsuv_batch_free(&eval);
    lsuv_weights_destroy(w);
    x->case_s += lsuv_wall_seconds() - t0;
    return code;
}

static void progress(const study_ctx *x, const study_case *c) {
    if (!x->tty) return;
    char eta[32] = "-:--";
    if (x->done) {
        double left = x->case_s / x->done * (x->mine - x->done);
        snprintf(eta, sizeof eta, "%d:%02d", (int)(left / 60), (int)fmod(left, 60));
    }
    fprintf(stderr, "\rcase %u/%u  %s %s %llu %u  ETA %s   ", x->done + 1, x->mine, c->g->sn->name,
            c->m->name, (unsigned long long)c->seed, c->g->batch, eta);
    fflush(stderr);
}

static bool mine(const study_options *o, uint32_t k) {
    return !o->n_shards || k % o->n_shards == o->shard - 1;
}

/* Every method and seed of a group; first is the index of its first case. */
static int run_group(study_ctx *x, group *g, uint32_t first) {
    const study_options *o = x->o;
    int code = EXIT_OK;
    for (uint32_t m = 0; !code && m < o->n_methods; ++m)
        for (uint32_t s = 0; !code && s < o->n_seeds; ++s) {
            study_case c = {g, &o->methods[m], o->seeds[s], first + m * o->n_seeds + s};
            if (!mine(o, c.index)) continue;
            progress(x, &c);
            code = run_case(x, &c);
            x->done++;
        }
    lsuv_forward_destroy(g->forward);
    g->forward = NULL;
    return code;
}

static uint32_t n_batches(const study_options *o) {
    return o->batches ? o->n_batches : 1;
}

/* A group's cases: methods x seeds. */
static uint32_t group_cases(const study_options *o) {
    return o->n_methods * o->n_seeds;
}

/* The net on each device at each batch size. */
static int run_net(study_ctx *x, lsuv_instance *inst, const suite_net *sn, uint32_t first) {
    const study_options *o = x->o;
    lsuv_net_options no = {.strip_bn = o->strip_bn};
    lsuv_net *net = NULL;
    lsuv_status s = lsuv_net_load(sn->path, &no, &net);
    if (s != LSUV_OK) return fail_status(sn->name, s, APP_FAILED_INPUT);
    for (uint32_t i = 0; i < net->n_warnings; ++i)
        fprintf(stderr, "lsuv-bench: warning: %s\n", net->warnings[i]);
    int code = EXIT_OK;
    for (uint32_t m = 0; !code && m < o->n_methods; ++m)
        if ((s = lsuv_options_check(net, &o->methods[m].options)) != LSUV_OK) {
            char what[200];
            snprintf(what, sizeof what, "%s, %s", sn->name, o->methods[m].name);
            code = fail_status(what, s, APP_FAILED_CALL);
        }
    source src = {0};
    double t = lsuv_wall_seconds();
    if (!code) code = source_load(sn, &src);
    x->setup_s += lsuv_wall_seconds() - t;
    uint32_t per_device = n_batches(o) * group_cases(o);
    for (uint32_t d = 0; !code && d < o->n_devices; ++d) {
        group g = {.sn = sn, .net = net, .src = &src};
        t = lsuv_wall_seconds();
        if ((s = lsuv_device_create(inst, o->devices[d], &g.dev)) != LSUV_OK) {
            code = fail_status(sn->name, s, APP_FAILED_CALL);
            break;
        }
        x->setup_s += lsuv_wall_seconds() - t;
        g.device = lsuv_device_get_info(g.dev)->name;
        for (uint32_t b = 0; !code && b < n_batches(o); ++b) {
            g.batch = o->batches ? o->batches[b] : sn->batch;
            if (src.file && src.all.n < 2ull * g.batch) {
                fprintf(stderr,
                        "lsuv-bench: %s: batch %u needs %u images (fitted and held out); %s "
                        "holds %u\n",
                        sn->name, g.batch, 2 * g.batch, src.shown, src.all.n);
                code = EXIT_USAGE;
            } else {
                code = run_group(x, &g, first + d * per_device + b * group_cases(o));
            }
        }
        lsuv_device_destroy(g.dev);
    }
    if (src.file) lsuv_batch_free(&src.all);
    lsuv_net_destroy(net);
    return code;
}

/* Free text: the system, its CPUs and the devices, for a reader comparing
 * studies of different machines. */
static void add_machine(cJSON *meta, lsuv_instance *inst, const study_options *o) {
    struct utsname u;
    char text[2048];
    int n = uname(&u) == 0
                ? snprintf(text, sizeof text, "%s %s %s, ", u.sysname, u.release, u.machine)
                : 0;
    n += snprintf(text + n, sizeof text - (size_t)n, "%ld CPUs", sysconf(_SC_NPROCESSORS_ONLN));
    for (uint32_t d = 0; d < o->n_devices && n < (int)sizeof text; ++d)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s%s", d ? "; " : "; devices: ",
                      lsuv_instance_device_info(inst, o->devices[d])->name);
    cJSON_AddStringToObject(meta, "machine", text);
}

/* Where the time went, into meta and one line on stderr. The overhead is
 * what a case costs beyond lsuv_initialize, forwards apart: weights,
 * batches, uploads, the held-out pass, weight files and JSON. */
static void add_timing(const study_ctx *x, cJSON *meta, double train_s) {
    double wall = lsuv_wall_seconds() - x->t0;
    double overhead_ms = x->done ? (x->case_s - x->lsuv_s - x->forward_s) / x->done * 1e3 : 0;
    cJSON *t = cJSON_AddObjectToObject(meta, "timing");
    cJSON_AddNumberToObject(t, "cases", x->done);
    cJSON_AddNumberToObject(t, "wall_s", wall);
    cJSON_AddNumberToObject(t, "setup_s", x->setup_s);
    cJSON_AddNumberToObject(t, "forwards", x->n_forwards);
    cJSON_AddNumberToObject(t, "forwards_s", x->forward_s);
    cJSON_AddNumberToObject(t, "lsuv_s", x->lsuv_s);
    cJSON_AddNumberToObject(t, "eval_s", x->eval_s);
    cJSON_AddNumberToObject(t, "cases_s", x->case_s);
    cJSON_AddNumberToObject(t, "overhead_ms_per_case", overhead_ms);
    if (x->o->train_epochs) cJSON_AddNumberToObject(t, "training_s", train_s);
    fprintf(stderr,
            "lsuv-bench: study: %u cases in %.1f s: LSUV %.1f s; images and devices %.1f s; "
            "%u forwards made in %.1f s; per-case overhead %.1f ms, of which %.1f ms the held-out "
            "pass",
            x->done, wall, x->lsuv_s, x->setup_s, x->n_forwards, x->forward_s, overhead_ms,
            x->done ? x->eval_s / x->done * 1e3 : 0);
    if (x->o->train_epochs) fprintf(stderr, "; training %.1f s", train_s);
    fprintf(stderr, "\n");
}

static int run_all(study_ctx *x, lsuv_instance *inst) {
    const study_options *o = x->o;
    uint32_t per_net = o->n_devices * n_batches(o) * group_cases(o);
    int code = EXIT_OK;
    for (uint32_t n = 0; !code && n < o->n_nets; ++n)
        code = run_net(x, inst, &o->nets[n], n * per_net);
    if (x->tty) fprintf(stderr, "\r%100s\r", "");
    return code;
}

/* The trainer's share: weight files first, so that DIR/weights exists. */
static int prepare_training(study_ctx *x) {
    if (!x->o->train_epochs) return EXIT_OK;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/weights", x->o->out_dir);
    bench_files none = {0}; /* writing no files creates the folders */
    int code = bench_files_write(&none, dir);
    x->weights = calloc(x->mine + 1, sizeof *x->weights);
    x->weight_case = calloc(x->mine + 1, sizeof *x->weight_case);
    if (!code && (!x->weights || !x->weight_case)) {
        fprintf(stderr, "lsuv-bench: out of memory\n");
        code = EXIT_RUNTIME;
    }
    return code;
}

int study_run(lsuv_instance *inst, const study_options *o, cJSON *meta, bool validation) {
    study_ctx x = {.o = o, .tty = isatty(2) == 1};
    x.total = o->n_nets * o->n_devices * n_batches(o) * group_cases(o);
    for (uint32_t k = 0; k < x.total; ++k) x.mine += mine(o, k);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "meta", meta);
    char shard[32];
    snprintf(shard, sizeof shard, "%u/%u", o->shard, o->n_shards);
    if (o->n_shards)
        cJSON_AddStringToObject(meta, "shard", shard);
    else
        cJSON_AddNullToObject(meta, "shard");
    cJSON_AddNumberToObject(meta, "cases_total", x.total);
    add_machine(meta, inst, o);
    x.cases = cJSON_AddArrayToObject(doc, "cases");
    x.rows = cJSON_AddArrayToObject(doc, "rows");
    x.t0 = lsuv_wall_seconds();
    int code = prepare_training(&x);
    if (!code) code = run_all(&x, inst);
    if (!code && validation && lsuv_instance_validation_count(inst) > 0) {
        fprintf(stderr, "lsuv-bench: %u validation messages; the first: %s\n",
                lsuv_instance_validation_count(inst), lsuv_instance_validation_first(inst));
        code = EXIT_RUNTIME;
    }
    double train_s = 0;
    if (!code && o->train_epochs) {
        double t = lsuv_wall_seconds();
        code = study_train(doc, o, (const char *const *)x.weights, x.weight_case, x.n_weights);
        train_s = lsuv_wall_seconds() - t;
    }
    /* A failed training still leaves the study's files, its cause in "training". */
    if (!code || (o->train_epochs && cJSON_GetObjectItem(doc, "training"))) {
        add_timing(&x, meta, train_s);
        int written = study_finish(doc, o->out_dir);
        if (!code) code = written;
    }
    for (uint32_t i = 0; i < x.n_weights; ++i) free(x.weights[i]);
    free(x.weights);
    free(x.weight_case);
    cJSON_Delete(doc);
    return code;
}
