/* study_finish: the summary of a study's rows, and its files. */
#include "study.h"
#include "study_report.h"

#include "app/exit_codes.h"
#include "csv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const study_quantity_names[STUDY_QUANTITIES] = {
    "abs_mean", "abs_eval_mean", "abs_std_minus_1", "abs_eval_std_minus_1"};

static const char *const row_strings[] = {"net", "device", "order"};
static const char *const row_ints[] = {"case", "seed", "batch", "layer"};
/* null where the runner had no figure (cJSON writes NaN so) */
static const char *const row_figures[] = {"mean", "std", "eval_mean", "eval_std", "passes", "ms"};

static bool is_index(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble == floor(v->valuedouble) &&
           v->valuedouble < 9007199254740992.0;
}

static bool row_ok(const cJSON *row, const char *name, int i) {
    const char *bad = NULL, *want = NULL;
    for (size_t k = 0; !bad && k < sizeof row_strings / sizeof *row_strings; ++k)
        if (!cJSON_IsString(cJSON_GetObjectItem(row, row_strings[k])))
            bad = row_strings[k], want = "a string";
    for (size_t k = 0; !bad && k < sizeof row_ints / sizeof *row_ints; ++k)
        if (!is_index(cJSON_GetObjectItem(row, row_ints[k])))
            bad = row_ints[k], want = "an integer of at least 0";
    for (size_t k = 0; !bad && k < sizeof row_figures / sizeof *row_figures; ++k) {
        const cJSON *v = cJSON_GetObjectItem(row, row_figures[k]);
        if (!cJSON_IsNumber(v) && !cJSON_IsNull(v)) bad = row_figures[k], want = "a number or null";
    }
    if (!bad && !cJSON_IsBool(cJSON_GetObjectItem(row, "within_tol")))
        bad = "within_tol", want = "true or false";
    if (bad)
        fprintf(stderr, "lsuv-bench: %s: rows[%d]: '%s' is missing or not %s\n", name, i, bad,
                want);
    return !bad;
}

static bool case_ok(const cJSON *c, const char *name, int i) {
    const char *bad = NULL, *want = "a string";
    if (!is_index(cJSON_GetObjectItem(c, "case"))) bad = "case", want = "an integer of at least 0";
    for (size_t k = 0; !bad && k < sizeof row_strings / sizeof *row_strings; ++k)
        if (!cJSON_IsString(cJSON_GetObjectItem(c, row_strings[k]))) bad = row_strings[k];
    const cJSON *t = cJSON_GetObjectItem(c, "training");
    if (!bad && t && !cJSON_IsObject(t)) bad = "training", want = "an object";
    if (bad)
        fprintf(stderr, "lsuv-bench: %s: cases[%d]: '%s' is missing or not %s\n", name, i, bad,
                want);
    return !bad;
}

bool study_check(const cJSON *doc, const char *name) {
    const cJSON *meta = cJSON_GetObjectItem(doc, "meta");
    const cJSON *cases = cJSON_GetObjectItem(doc, "cases"),
                *rows = cJSON_GetObjectItem(doc, "rows");
    const char *bad = !cJSON_IsObject(doc)    ? "is not a JSON object"
                      : !cJSON_IsObject(meta) ? "has no object 'meta'"
                      : !is_index(cJSON_GetObjectItem(meta, "cases_total"))
                          ? "has no meta.cases_total (an integer of at least 0)"
                      : !cJSON_IsArray(cases) ? "has no array 'cases'"
                      : !cJSON_IsArray(rows)  ? "has no array 'rows'"
                                              : NULL;
    if (bad) {
        fprintf(stderr, "lsuv-bench: %s %s: not a study.json of lsuv-bench --study\n", name, bad);
        return false;
    }
    int i = 0;
    for (const cJSON *c = cases->child; c; c = c->next, ++i)
        if (!case_ok(c, name, i)) return false;
    i = 0;
    for (const cJSON *r = rows->child; r; r = r->next, ++i)
        if (!row_ok(r, name, i)) return false;
    return true;
}

static double figure(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static study_row row_read(const cJSON *r) {
    return (study_row){
        .net = cJSON_GetStringValue(cJSON_GetObjectItem(r, "net")),
        .device = cJSON_GetStringValue(cJSON_GetObjectItem(r, "device")),
        .order = cJSON_GetStringValue(cJSON_GetObjectItem(r, "order")),
        .case_index = figure(r, "case"),
        .seed = figure(r, "seed"),
        .batch = figure(r, "batch"),
        .layer = figure(r, "layer"),
        .mean = figure(r, "mean"),
        .std = figure(r, "std"),
        .eval_mean = figure(r, "eval_mean"),
        .eval_std = figure(r, "eval_std"),
        .passes = figure(r, "passes"),
        .ms = figure(r, "ms"),
        .within_tol = cJSON_IsTrue(cJSON_GetObjectItem(r, "within_tol")),
    };
}

static bool names_add(study_names *names, const char *s) {
    for (size_t i = 0; i < names->n; ++i)
        if (strcmp(names->items[i], s) == 0) return true;
    const char **grown = realloc(names->items, (names->n + 1) * sizeof *grown);
    if (!grown) return false;
    names->items = grown;
    names->items[names->n++] = s;
    return true;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The distinct values of the rows' field at offset, ascending. */
static double *distinct(const study_row *rows, size_t n, size_t offset, size_t *count) {
    double *out = malloc((n ? n : 1) * sizeof *out);
    *count = 0;
    for (size_t i = 0; out && i < n; ++i)
        out[i] = *(const double *)((const char *)&rows[i] + offset);
    if (!out) return NULL;
    qsort(out, n, sizeof *out, compare_double);
    for (size_t i = 0; i < n; ++i)
        if (*count == 0 || out[*count - 1] != out[i]) out[(*count)++] = out[i];
    return out;
}

const study_group *study_view_find(const study_view *v, const char *net, const char *device,
                                   const char *order, double batch, double layer) {
    for (size_t i = 0; i < v->n_groups; ++i) {
        const study_group *g = &v->groups[i];
        if (g->batch == batch && g->layer == layer && strcmp(g->order, order) == 0 &&
            strcmp(g->net, net) == 0 && strcmp(g->device, device) == 0)
            return g;
    }
    return NULL;
}

static double quantity(const study_row *r, int q) {
    switch (q) {
    case 0:
        return fabs(r->mean);
    case 1:
        return fabs(r->eval_mean);
    case 2:
        return fabs(r->std - 1);
    default:
        return fabs(r->eval_std - 1);
    }
}

/* Each group's boxes, from the rows it holds: the rows sorted by group
 * (counting sort, stable) so that each group is read once. */
static bool groups_fill(study_view *v) {
    size_t n = v->n_rows ? v->n_rows : 1;
    size_t *member = malloc(n * sizeof *member), *order = malloc(n * sizeof *order);
    size_t *start = calloc(v->n_groups + 1, sizeof *start);
    double *x = malloc(n * sizeof *x);
    bool ok = member && order && start && x;
    for (size_t i = 0; ok && i < v->n_rows; ++i) {
        const study_row *r = &v->rows[i];
        member[i] = (size_t)(study_view_find(v, r->net, r->device, r->order, r->batch, r->layer) -
                             v->groups);
        ++start[member[i] + 1];
    }
    for (size_t k = 0; ok && k < v->n_groups; ++k) start[k + 1] += start[k];
    for (size_t i = 0, *next = start; ok && i < v->n_rows; ++i) order[next[member[i]]++] = i;
    /* next ran each start up to its group's end: start[k] is now group k+1's */
    for (size_t k = 0; ok && k < v->n_groups; ++k) {
        size_t from = k ? start[k - 1] : 0, to = start[k];
        for (int q = 0; ok && q < STUDY_QUANTITIES; ++q) {
            for (size_t i = from; i < to; ++i) x[i - from] = quantity(&v->rows[order[i]], q);
            ok = study_box_of(x, to - from, &v->groups[k].q[q]);
        }
    }
    free(member);
    free(order);
    free(start);
    free(x);
    return ok;
}

static bool group_add(study_view *v, const study_row *r) {
    if (study_view_find(v, r->net, r->device, r->order, r->batch, r->layer)) return true;
    study_group *grown = realloc(v->groups, (v->n_groups + 1) * sizeof *grown);
    if (!grown) return false;
    v->groups = grown;
    v->groups[v->n_groups++] = (study_group){.net = r->net,
                                             .device = r->device,
                                             .order = r->order,
                                             .batch = r->batch,
                                             .layer = r->layer};
    return names_add(&v->nets, r->net) && names_add(&v->devices, r->device) &&
           names_add(&v->orders, r->order);
}

bool study_view_build(const cJSON *doc, study_view *v) {
    *v = (study_view){.doc = doc};
    const cJSON *rows = cJSON_GetObjectItem(doc, "rows");
    size_t n = (size_t)cJSON_GetArraySize(rows);
    v->rows = malloc((n ? n : 1) * sizeof *v->rows);
    bool ok = v->rows != NULL;
    for (const cJSON *r = rows->child; ok && r; r = r->next) {
        v->rows[v->n_rows] = row_read(r);
        ok = group_add(v, &v->rows[v->n_rows++]);
    }
    ok = ok &&
         (v->batches = distinct(v->rows, v->n_rows, offsetof(study_row, batch), &v->n_batches));
    ok = ok && (v->layers = distinct(v->rows, v->n_rows, offsetof(study_row, layer), &v->n_layers));
    return ok && groups_fill(v);
}

void study_view_free(study_view *v) {
    free(v->rows);
    free(v->groups);
    free(v->nets.items);
    free(v->devices.items);
    free(v->orders.items);
    free(v->batches);
    free(v->layers);
    *v = (study_view){0};
}

void study_number(char *out, size_t size, double v) {
    if (isnan(v)) {
        snprintf(out, size, "%s", "");
        return;
    }
    snprintf(out, size, "%.15g", v);
    if (strtod(out, NULL) != v) snprintf(out, size, "%.17g", v);
}

static cJSON *box_json(const study_box *b) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)b->n);
    cJSON_AddNumberToObject(o, "median", b->median);
    cJSON_AddNumberToObject(o, "q1", b->q1);
    cJSON_AddNumberToObject(o, "q3", b->q3);
    cJSON_AddNumberToObject(o, "min", b->min);
    cJSON_AddNumberToObject(o, "max", b->max);
    const double ci[2] = {b->ci_lo, b->ci_hi};
    cJSON_AddItemToObject(o, "ci95", cJSON_CreateDoubleArray(ci, 2));
    return o;
}

static cJSON *summary_json(const study_view *v) {
    cJSON *summary = cJSON_CreateArray();
    for (size_t k = 0; k < v->n_groups; ++k) {
        const study_group *g = &v->groups[k];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "net", g->net);
        cJSON_AddStringToObject(e, "device", g->device);
        cJSON_AddStringToObject(e, "order", g->order);
        cJSON_AddNumberToObject(e, "batch", g->batch);
        cJSON_AddNumberToObject(e, "layer", g->layer);
        for (int q = 0; q < STUDY_QUANTITIES; ++q)
            cJSON_AddItemToObject(e, study_quantity_names[q], box_json(&g->q[q]));
        cJSON_AddItemToArray(summary, e);
    }
    return summary;
}

static void put_numbers(FILE *f, const double *x, int n) {
    for (int i = 0; i < n; ++i) {
        char buf[40];
        study_number(buf, sizeof buf, x[i]);
        fprintf(f, ",%s", buf);
    }
}

/* Closes a memory stream; its buffer moves on every write, so it is read
 * only after the close. */
static char *stream_take(FILE *f, char **text) {
    if (!f) return NULL;
    bool failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(*text);
        return NULL;
    }
    return *text;
}

static void put_key(FILE *f, const char *net, const char *device, const char *order) {
    csv_field(f, net);
    fputc(',', f);
    csv_field(f, device);
    fputc(',', f);
    csv_field(f, order);
}

static char *study_csv(const study_view *v) {
    char *text = NULL;
    size_t size;
    FILE *f = open_memstream(&text, &size);
    if (!f) return NULL;
    fputs("case,net,device,order,seed,batch,layer,mean,std,eval_mean,eval_std,passes,"
          "within_tol,ms\n",
          f);
    for (size_t i = 0; i < v->n_rows; ++i) {
        const study_row *r = &v->rows[i];
        char buf[40];
        study_number(buf, sizeof buf, r->case_index);
        fprintf(f, "%s,", buf);
        put_key(f, r->net, r->device, r->order);
        put_numbers(f,
                    (const double[]){r->seed, r->batch, r->layer, r->mean, r->std, r->eval_mean,
                                     r->eval_std, r->passes},
                    8);
        fprintf(f, ",%s", r->within_tol ? "true" : "false");
        put_numbers(f, &r->ms, 1);
        fputc('\n', f);
    }
    return stream_take(f, &text);
}

static char *summary_csv(const study_view *v) {
    char *text = NULL;
    size_t size;
    FILE *f = open_memstream(&text, &size);
    if (!f) return NULL;
    fputs("net,device,order,batch,layer,quantity,n,median,q1,q3,min,max,ci95_lo,ci95_hi\n", f);
    for (size_t k = 0; k < v->n_groups; ++k) {
        const study_group *g = &v->groups[k];
        for (int q = 0; q < STUDY_QUANTITIES; ++q) {
            const study_box *b = &g->q[q];
            put_key(f, g->net, g->device, g->order);
            put_numbers(f, (const double[]){g->batch, g->layer}, 2);
            fprintf(f, ",%s,%zu", study_quantity_names[q], b->n);
            put_numbers(
                f, (const double[]){b->median, b->q1, b->q3, b->min, b->max, b->ci_lo, b->ci_hi},
                7);
            fputc('\n', f);
        }
    }
    return stream_take(f, &text);
}

int study_finish(cJSON *study, const char *out_dir) {
    if (!study_check(study, "the study")) return EXIT_RUNTIME;
    study_view v;
    bench_files files = {0};
    if (study_view_build(study, &v)) {
        cJSON_DeleteItemFromObject(study, "summary");
        cJSON_AddItemToObject(study, "summary", summary_json(&v));
        bench_files_add(&files, "study.json", cJSON_Print(study));
        bench_files_add(&files, "study.csv", study_csv(&v));
        bench_files_add(&files, "summary.csv", summary_csv(&v));
        study_report_add(&v, &files);
    } else {
        files.failed = true;
    }
    int code = bench_files_write(&files, out_dir);
    study_view_free(&v);
    bench_files_free(&files);
    return code;
}
