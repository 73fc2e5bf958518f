/* study.md and the study's SVG plots. */
#include "study_report.h"

#include "app/plot.h"
#include "core/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void labels_free(char **labels, size_t n) {
    for (size_t i = 0; labels && i < n; ++i) free(labels[i]);
    free(labels);
}

/* Names as file names: lower-case letters and digits, '-' for the rest. */
static void slug(const char *s, char *out, size_t size) {
    size_t n = 0;
    for (; *s && n + 1 < size; ++s) {
        char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (keep)
            out[n++] = c;
        else if (n && out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n && out[n - 1] == '-') --n;
    out[n] = '\0';
}

/* NET, or NET-DEVICE when the study ran on more than one device. */
static void file_stem(const study_view *v, const char *net, const char *device, char *out,
                      size_t size) {
    char a[128], b[128];
    slug(net, a, sizeof a);
    slug(device, b, sizeof b);
    if (v->devices.n > 1)
        snprintf(out, size, "%s-%s", a, b);
    else
        snprintf(out, size, "%s", a);
}

static const char *meta_text(const study_view *v, const char *key) {
    const char *s =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(v->doc, "meta"), key));
    return s ? s : "unknown";
}

static void put_ci(lsuv_text *t, const study_group *g, int q) {
    if (!g || g->q[q].n == 0) {
        lsuv_text_put(t, " – |");
        return;
    }
    const study_box *b = &g->q[q];
    lsuv_text_put(t, " %.3g [%.3g, %.3g] |", b->median, b->ci_lo, b->ci_hi);
}

static const char *const quantity_labels[STUDY_QUANTITIES] = {
    "\\|mean\\| fitted", "\\|mean\\| held-out", "\\|std − 1\\| fitted", "\\|std − 1\\| held-out"};

/* A table per layer: the quantities down, the orders across. */
static void put_layer_tables(lsuv_text *t, const study_view *v, const char *net, const char *device,
                             double batch) {
    for (size_t l = 0; l < v->n_layers; ++l) {
        lsuv_text_put(t, "\n**layer %g**\n\n|  |", v->layers[l]);
        for (size_t o = 0; o < v->orders.n; ++o) lsuv_text_put(t, " %s |", v->orders.items[o]);
        lsuv_text_put(t, "\n|---|");
        for (size_t o = 0; o < v->orders.n; ++o) lsuv_text_put(t, "---|");
        lsuv_text_put(t, "\n");
        for (int q = 0; q < STUDY_QUANTITIES; ++q) {
            lsuv_text_put(t, "| %s |", quantity_labels[q]);
            for (size_t o = 0; o < v->orders.n; ++o)
                put_ci(t, study_view_find(v, net, device, v->orders.items[o], batch, v->layers[l]),
                       q);
            lsuv_text_put(t, "\n");
        }
    }
}

static size_t seeds_of(const study_view *v, const char *net, const char *device, double batch) {
    size_t n = 0;
    for (size_t k = 0; k < v->n_groups; ++k) {
        const study_group *g = &v->groups[k];
        if (g->batch == batch && strcmp(g->net, net) == 0 && strcmp(g->device, device) == 0 &&
            g->q[0].n > n)
            n = g->q[0].n;
    }
    return n;
}

static void put_head(lsuv_text *t, const study_view *v) {
    const cJSON *meta = cJSON_GetObjectItem(v->doc, "meta");
    lsuv_text_put(t, "# LSUV study\n\n- date: %s\n- machine: %s\n- command: `%s`\n",
                  meta_text(v, "date"), meta_text(v, "machine"), meta_text(v, "command"));
    lsuv_text_put(t, "- lsuv-vk %s (%s); %d cases of %g, %zu rows\n",
                  meta_text(v, "lsuv_vk_version"), meta_text(v, "git_commit"),
                  cJSON_GetArraySize(cJSON_GetObjectItem(v->doc, "cases")),
                  cJSON_GetObjectItem(meta, "cases_total")->valuedouble, v->n_rows);
    const char *shard = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "shard"));
    if (shard) lsuv_text_put(t, "- shard %s: a part of the study; merge the shards\n", shard);
    lsuv_text_put(t,
                  "\nEach figure is the median over the seeds with a 95%% interval of the "
                  "median (percentile bootstrap, %d resamples, fixed seed). *Fitted*: on the "
                  "batch LSUV fitted the weights to; *held-out*: on the next batch. Every "
                  "figure: [summary.csv](summary.csv); every layer of every case: "
                  "[study.csv](study.csv).\n",
                  STUDY_BOOT_RESAMPLES);
}

static app_plot_box plot_box(const study_group *g, int q) {
    if (!g || g->q[q].n == 0) return (app_plot_box){NAN, NAN, NAN, NAN, NAN};
    const study_box *b = &g->q[q];
    return (app_plot_box){b->q1, b->median, b->q3, b->min, b->max};
}

/* "PREFIX VALUE" for each value, as plots label them; the caller frees (with
 * labels_free); NULL when out of memory. */
static char **labels_of(const char *prefix, const double *values, size_t n) {
    char **labels = calloc(n ? n : 1, sizeof *labels);
    bool ok = labels != NULL;
    for (size_t i = 0; ok && i < n; ++i) {
        ok = (labels[i] = malloc(32)) != NULL;
        if (ok) snprintf(labels[i], 32, "%s %g", prefix, values[i]);
    }
    if (!ok) labels_free(labels, n);
    return ok ? labels : NULL;
}

/* Fitted and held-out |mean| (quantity 0) or |std - 1| (2) of each layer,
 * the orders side by side. */
static char *box_plot(const study_view *v, char **labels, const char *net, const char *device,
                      double batch, int q) {
    size_t per = v->n_layers * v->orders.n;
    app_plot_box *boxes = malloc((per ? 2 * per : 1) * sizeof *boxes);
    if (!boxes) return NULL;
    for (int p = 0; p < 2; ++p)
        for (size_t l = 0; l < v->n_layers; ++l)
            for (size_t o = 0; o < v->orders.n; ++o)
                boxes[p * per + l * v->orders.n + o] = plot_box(
                    study_view_find(v, net, device, v->orders.items[o], batch, v->layers[l]),
                    q + p);
    char title[512];
    snprintf(title, sizeof title, "%s, batch %g, %s: %s after LSUV over %zu seeds", net, batch,
             device, q ? "|std - 1|" : "|mean|", seeds_of(v, net, device, batch));
    app_plot_boxes_desc d = {.title = title,
                             .unit = q ? "|std - 1|" : "|mean|",
                             .panels = (const char *const[]){"fitted batch", "held-out batch"},
                             .n_panels = 2,
                             .groups = (const char *const *)labels,
                             .n_groups = (uint32_t)v->n_layers,
                             .series = v->orders.items,
                             .n_series = (uint32_t)v->orders.n,
                             .boxes = boxes,
                             .log_y = true};
    char *svg = app_plot_boxes(&d);
    free(boxes);
    return svg;
}

/* The median fitted (held_out false) or held-out |mean| of each layer
 * against the batch size. */
static char *batch_plot(const study_view *v, char **labels, const char *net, const char *device,
                        bool held_out) {
    size_t n = v->n_layers * v->orders.n * v->n_batches;
    double *y = malloc((n ? n : 1) * sizeof *y);
    if (!y) return NULL;
    for (size_t l = 0; l < v->n_layers; ++l)
        for (size_t o = 0; o < v->orders.n; ++o)
            for (size_t b = 0; b < v->n_batches; ++b) {
                const study_group *g = study_view_find(v, net, device, v->orders.items[o],
                                                       v->batches[b], v->layers[l]);
                y[(l * v->orders.n + o) * v->n_batches + b] = g ? g->q[held_out].median : NAN;
            }
    char title[512];
    snprintf(title, sizeof title, "%s, %s: median |mean| after LSUV on the %s batch, by batch size",
             net, device, held_out ? "held-out" : "fitted");
    app_plot_lines_desc d = {.title = title,
                             .x_label = "batch size",
                             .y_label = held_out ? "median |mean|, held-out batch"
                                                 : "median |mean|, fitted batch",
                             .panels = (const char *const *)labels,
                             .n_panels = (uint32_t)v->n_layers,
                             .series = v->orders.items,
                             .n_series = (uint32_t)v->orders.n,
                             .x = v->batches,
                             .n_x = (uint32_t)v->n_batches,
                             .y = y};
    char *svg = app_plot_lines(&d);
    free(y);
    return svg;
}

/* A section per net, device and batch: the plots and a table per layer. */
static void put_sections(lsuv_text *t, const study_view *v, bench_files *files, char **labels) {
    for (size_t n = 0; n < v->nets.n; ++n)
        for (size_t d = 0; d < v->devices.n; ++d) {
            const char *net = v->nets.items[n], *device = v->devices.items[d];
            char stem[300], name[400];
            file_stem(v, net, device, stem, sizeof stem);
            for (size_t b = 0; b < v->n_batches; ++b) {
                size_t seeds = seeds_of(v, net, device, v->batches[b]);
                if (!seeds) continue;
                lsuv_text_put(t, "\n## %s, batch %g, %s\n\n%zu seeds.\n\n", net, v->batches[b],
                              device, seeds);
                for (int q = 0; q < 2; ++q) {
                    snprintf(name, sizeof name, "%s-%s-b%g.svg", q ? "std" : "mean", stem,
                             v->batches[b]);
                    bench_files_add(files, name,
                                    box_plot(v, labels, net, device, v->batches[b], 2 * q));
                    lsuv_text_put(t, "![%s per layer, fitted and held-out](%s)\n",
                                  q ? "|std − 1|" : "|mean|", name);
                }
                put_layer_tables(t, v, net, device, v->batches[b]);
            }
            lsuv_text_put(t, "\n## %s, %s: the residual against the batch size\n\n", net, device);
            for (int h = 0; h < 2; ++h) {
                snprintf(name, sizeof name, "batch-%s%s.svg", h ? "eval-" : "", stem);
                bench_files_add(files, name, batch_plot(v, labels, net, device, h));
                lsuv_text_put(t, "![median |mean| against the batch size, %s batch](%s)\n",
                              h ? "held-out" : "fitted", name);
            }
        }
}

/* ---- training ---------------------------------------------------------- */

static const char *const training_keys[] = {"loss_1", "loss_10", "loss_100", "train_acc",
                                            "test_acc"};
enum { TRAINING_KEYS = 5 };

static bool case_in(const cJSON *c, const char *net, const char *device, const char *order,
                    double batch) {
    const cJSON *b = cJSON_GetObjectItem(c, "batch");
    return cJSON_IsObject(cJSON_GetObjectItem(c, "training")) && cJSON_IsNumber(b) &&
           b->valuedouble == batch &&
           strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "net")), net) == 0 &&
           strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "device")), device) == 0 &&
           strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "order")), order) == 0;
}

/* The boxes of each training figure over the cases of one net, device,
 * order and batch; false when out of memory. */
static bool training_boxes(const study_view *v, const char *net, const char *device,
                           const char *order, double batch, study_box *boxes) {
    const cJSON *cases = cJSON_GetObjectItem(v->doc, "cases");
    double *x = malloc(((size_t)cJSON_GetArraySize(cases) + 1) * sizeof *x);
    bool ok = x != NULL;
    for (int k = 0; ok && k < TRAINING_KEYS; ++k) {
        size_t n = 0;
        for (const cJSON *c = cases->child; c; c = c->next) {
            if (!case_in(c, net, device, order, batch)) continue;
            const cJSON *f =
                cJSON_GetObjectItem(cJSON_GetObjectItem(c, "training"), training_keys[k]);
            x[n++] = cJSON_IsNumber(f) ? f->valuedouble : NAN;
        }
        ok = study_box_of(x, n, &boxes[k]);
    }
    free(x);
    return ok;
}

/* A figure over the cases where it is finite, saying how many those are
 * when some diverged. */
static void put_iqr(lsuv_text *t, const study_box *b, size_t cases) {
    if (b->n == 0)
        lsuv_text_put(t, " – |");
    else if (b->n < cases)
        lsuv_text_put(t, " %.4g (%.4g–%.4g; %zu of %zu) |", b->median, b->q1, b->q3, b->n, cases);
    else
        lsuv_text_put(t, " %.4g (%.4g–%.4g) |", b->median, b->q1, b->q3);
}

/* The cases of one net, device, order and batch, and how many diverged. */
static size_t count_cases(const study_view *v, const char *net, const char *device,
                          const char *order, double batch, size_t *diverged) {
    size_t n = 0;
    *diverged = 0;
    for (const cJSON *c = cJSON_GetObjectItem(v->doc, "cases")->child; c; c = c->next)
        if (case_in(c, net, device, order, batch)) {
            ++n;
            *diverged +=
                cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "training"), "diverged"));
        }
    return n;
}

/* The table of one net and device, and the boxes of its test accuracy
 * (batch-major, then order) for the plot. */
static bool put_training_table(lsuv_text *t, const study_view *v, const char *net,
                               const char *device, app_plot_box *acc) {
    lsuv_text_put(t,
                  "\n### %s, %s\n\n| batch | order | cases | diverged | loss after 1 step | "
                  "10 steps | 100 steps | train accuracy | test accuracy |\n|---|---|---|---|---|"
                  "---|---|---|---|\n",
                  net, device);
    for (size_t b = 0; b < v->n_batches; ++b)
        for (size_t o = 0; o < v->orders.n; ++o) {
            study_box boxes[TRAINING_KEYS];
            if (!training_boxes(v, net, device, v->orders.items[o], v->batches[b], boxes))
                return false;
            const study_box *a = &boxes[TRAINING_KEYS - 1];
            acc[b * v->orders.n + o] = a->n
                                           ? (app_plot_box){a->q1, a->median, a->q3, a->min, a->max}
                                           : (app_plot_box){NAN, NAN, NAN, NAN, NAN};
            size_t diverged,
                cases = count_cases(v, net, device, v->orders.items[o], v->batches[b], &diverged);
            if (cases == 0) continue;
            lsuv_text_put(t, "| %g | %s | %zu | %zu |", v->batches[b], v->orders.items[o], cases,
                          diverged);
            for (int k = 0; k < TRAINING_KEYS; ++k) put_iqr(t, &boxes[k], cases);
            lsuv_text_put(t, "\n");
        }
    return true;
}

static char *accuracy_plot(const study_view *v, const char *net, const char *device,
                           const app_plot_box *acc) {
    char **groups = labels_of("batch", v->batches, v->n_batches);
    char title[512];
    snprintf(title, sizeof title, "%s, %s: test accuracy after training", net, device);
    app_plot_boxes_desc d = {.title = title,
                             .unit = "test accuracy",
                             .panels = (const char *const[]){"by the batch LSUV fitted to"},
                             .n_panels = 1,
                             .groups = (const char *const *)groups,
                             .n_groups = (uint32_t)v->n_batches,
                             .series = v->orders.items,
                             .n_series = (uint32_t)v->orders.n,
                             .boxes = acc};
    char *svg = groups ? app_plot_boxes(&d) : NULL;
    labels_free(groups, v->n_batches);
    return svg;
}

static bool any_trained(const study_view *v) {
    for (const cJSON *c = cJSON_GetObjectItem(v->doc, "cases")->child; c; c = c->next)
        if (cJSON_IsObject(cJSON_GetObjectItem(c, "training"))) return true;
    return false;
}

static void put_training(lsuv_text *t, const study_view *v, bench_files *files) {
    const cJSON *tr = cJSON_GetObjectItem(v->doc, "training");
    if (!cJSON_IsObject(tr) && !any_trained(v)) return;
    lsuv_text_put(t, "\n## Training\n\n");
    const char *skipped = cJSON_GetStringValue(cJSON_GetObjectItem(tr, "skipped"));
    if (skipped) {
        lsuv_text_put(t, "Training skipped: %s\n", skipped);
        return;
    }
    const cJSON *epochs = cJSON_GetObjectItem(tr, "epochs");
    const char *optimizer = cJSON_GetStringValue(cJSON_GetObjectItem(tr, "optimizer"));
    if (cJSON_IsNumber(epochs))
        lsuv_text_put(t, "%g epoch%s", epochs->valuedouble, epochs->valuedouble == 1 ? "" : "s");
    if (optimizer) lsuv_text_put(t, "%s%s", cJSON_IsNumber(epochs) ? "; " : "", optimizer);
    lsuv_text_put(t,
                  "%sEach figure: the median over the seeds (the quartiles in brackets), of the "
                  "cases where it is finite (how many, when not all). *Diverged*: the cases "
                  "where a minibatch's loss was Inf or NaN.\n",
                  cJSON_IsNumber(epochs) || optimizer ? ".\n\n" : "");
    size_t n = v->n_batches * v->orders.n;
    app_plot_box *acc = malloc((n ? n : 1) * sizeof *acc);
    for (size_t i = 0; acc && i < v->nets.n; ++i)
        for (size_t d = 0; d < v->devices.n; ++d) {
            const char *net = v->nets.items[i], *device = v->devices.items[d];
            char stem[300], name[400];
            file_stem(v, net, device, stem, sizeof stem);
            if (!put_training_table(t, v, net, device, acc)) files->failed = true;
            snprintf(name, sizeof name, "accuracy-%s.svg", stem);
            bench_files_add(files, name, accuracy_plot(v, net, device, acc));
            lsuv_text_put(t, "\n![test accuracy per order](%s)\n", name);
        }
    if (!acc) files->failed = true;
    free(acc);
}

void study_report_add(const study_view *v, bench_files *files) {
    lsuv_text t = {0};
    char **labels = labels_of("layer", v->layers, v->n_layers);
    if (!labels) files->failed = true;
    put_head(&t, v);
    if (labels) put_sections(&t, v, files, labels);
    put_training(&t, v, files);
    labels_free(labels, v->n_layers);
    bench_files_add(files, "study.md", lsuv_text_take(&t));
}
