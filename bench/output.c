#include "output.h"

#include "app/exit_codes.h"
#include "app/json.h"
#include "core/file.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const cJSON *o, const char *key) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
    return s ? s : "";
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double num2(const cJSON *o, const char *key, const char *sub) {
    return num(cJSON_GetObjectItem(o, key), sub);
}

/* Closes a memory stream; its buffer moves on every write, so it is read
 * only after the close. */
static char *close_text(FILE *f, char **text) {
    bool failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(*text);
        return NULL;
    }
    return *text;
}

void results_csv_init(results_csv *csv, unsigned methods) {
    *csv = (results_csv){.methods = methods};
    csv->rows = open_memstream(&csv->text, &csv->size);
}

void results_csv_add(results_csv *csv, const results_case *c) {
    if (!csv->started) csv->method_columns = c->run->n_layers > 0;
    csv->started = true;
    FILE *f = csv->rows;
    const lsuv_run *run = c->run;
    for (uint32_t k = 0; f && k < run->n_layers; ++k) {
        const lsuv_layer_run *lr = &run->layers[k];
        const layer_error *er = &c->errors[k];
        csv_field(f, c->device);
        fputc(',', f);
        csv_field(f, c->net);
        fprintf(f, ",%u,", c->batch);
        csv_field(f, c->precision);
        fputc(',', f);
        csv_field(f, lsuv_order_name(run->order));
        fprintf(f, ",%d,%u,%u,%llu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,", app_run_within_tol(run),
                run->passes, run->submissions, (unsigned long long)run->readback_bytes,
                c->gpu_ms.median, c->gpu_ms.min, c->gpu_ms.max, c->wall_ms.median, c->wall_ms.min,
                c->wall_ms.max, c->first_wall_ms);
        fprintf(f, "%u,", lr->index);
        csv_field(f, lsuv_layer_type_name(c->layers->layers[lr->index].type));
        fprintf(f, ",%s,%u,%.9g,%.9g,%d,%d,%.9g,%.9g,%.4g,%.4g", lsuv_measure_name(lr->measure),
                lr->passes, lr->mean, lr->std, lr->within_tol, lr->capped, fabs(lr->mean),
                fabs(lr->std - 1), er->engine_mean, er->engine_std);
        for (int m = 0; csv->method_columns && m < METHOD_COUNT; ++m)
            if (csv->methods & (1u << m))
                fprintf(f, ",%.4g,%.4g", er->method_mean[m], er->method_std[m]);
        fputc('\n', f);
    }
}

char *results_csv_take(results_csv *csv) {
    char *rows = csv->rows ? close_text(csv->rows, &csv->text) : NULL;
    csv->rows = NULL;
    csv->text = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = rows ? open_memstream(&text, &len) : NULL;
    if (f) {
        fputs("device,net,batch,precision,order,converged,passes,submissions,readback_bytes,"
              "gpu_ms_median,gpu_ms_min,gpu_ms_max,wall_ms_median,wall_ms_min,wall_ms_max,"
              "first_wall_ms,layer,type,measure,layer_passes,mean,std,within_tol,capped,abs_mean,"
              "abs_std_minus_1,"
              "engine_mean_err_eps,engine_std_err_eps",
              f);
        for (int m = 0; csv->method_columns && m < METHOD_COUNT; ++m)
            if (csv->methods & (1u << m))
                fprintf(f, ",%s_mean_err_eps,%s_std_err_eps", suite_method_names[m],
                        suite_method_names[m]);
        fprintf(f, "\n%s", rows);
    }
    free(rows);
    results_csv_free(csv);
    return f ? close_text(f, &text) : NULL;
}

void results_csv_free(results_csv *csv) {
    if (csv->rows) fclose(csv->rows);
    free(csv->text);
    *csv = (results_csv){.methods = csv->methods};
}

char *kernels_csv(const cJSON *root) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    fputs("name,case,device,figure,value\n", f);
    const cJSON *e, *v;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "kernels")) {
        cJSON_ArrayForEach(v, e) {
            if (!cJSON_IsNumber(v)) continue;
            csv_field(f, str(e, "name"));
            fputc(',', f);
            csv_field(f, str(e, "case"));
            fputc(',', f);
            csv_field(f, str(e, "device"));
            fputc(',', f);
            csv_field(f, v->string);
            fprintf(f, ",%.6g\n", v->valuedouble);
        }
    }
    return close_text(f, &text);
}

/* The identity of an entry, to find it again in the baseline. */
static void entry_key(const cJSON *e, bool lsuv, char *out, size_t size) {
    if (lsuv)
        snprintf(out, size, "%s|%s|%.0f|%s|%s", str(e, "device"), str(e, "net"), num(e, "batch"),
                 str(e, "precision"), str(e, "order"));
    else
        snprintf(out, size, "%s|%s|%s", str(e, "name"), str(e, "case"), str(e, "device"));
}

static const cJSON *find_entry(const cJSON *entries, const char *key, bool lsuv) {
    const cJSON *e;
    char k[1024];
    cJSON_ArrayForEach(e, entries) {
        entry_key(e, lsuv, k, sizeof k);
        if (strcmp(k, key) == 0) return e;
    }
    return NULL;
}

int compare_results(const cJSON *root, const char *base_path, double threshold, FILE *out) {
    char *text = NULL;
    size_t size = 0;
    if (lsuv_file_read_all(base_path, 1 << 28, &text, &size) != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: --compare: %s\n", lsuv_error_message());
        return EXIT_USAGE;
    }
    cJSON *base = cJSON_ParseWithLength(text, size);
    free(text);
    if (!cJSON_IsObject(base) || !cJSON_IsObject(cJSON_GetObjectItem(base, "meta"))) {
        fprintf(stderr, "lsuv-bench: --compare: %s is not the results.json of lsuv-bench\n",
                base_path);
        cJSON_Delete(base);
        return EXIT_USAGE;
    }
    fprintf(out,
            "\ncompared with %s (lsuv-bench %s, %s); worse by more than %.0f%% is a "
            "regression\n",
            base_path, str(cJSON_GetObjectItem(base, "meta"), "git_commit"),
            str(cJSON_GetObjectItem(base, "meta"), "date"), threshold * 100);
    fprintf(out, "%-72s %10s %10s %8s\n", "figure", "baseline", "now", "now/base");
    static const struct {
        const char *array, *figure, *sub;
        bool lower_is_better;
    } figures[] = {
        {"lsuv", "wall_ms", "median", true},
        {"lsuv", "gpu_ms", "median", true},
        {"kernels", "gbps", NULL, false},
        {"kernels", "gflops", NULL, false},
    };
    int regressions = 0, compared = 0;
    for (size_t i = 0; i < sizeof figures / sizeof *figures; ++i) {
        bool lsuv = strcmp(figures[i].array, "lsuv") == 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, figures[i].array)) {
            char key[1024];
            entry_key(e, lsuv, key, sizeof key);
            const cJSON *b = find_entry(cJSON_GetObjectItem(base, figures[i].array), key, lsuv);
            double now = figures[i].sub ? num2(e, figures[i].figure, figures[i].sub)
                                        : num(e, figures[i].figure);
            double was = !b               ? NAN
                         : figures[i].sub ? num2(b, figures[i].figure, figures[i].sub)
                                          : num(b, figures[i].figure);
            if (isnan(now)) continue;
            char label[1100];
            snprintf(label, sizeof label, "%s %s", key, figures[i].figure);
            if (!(was > 0)) {
                fprintf(out, "%-72.72s %10s %10.4g %8s\n", label, "-", now, "new");
                continue;
            }
            double ratio = now / was;
            bool worse =
                figures[i].lower_is_better ? ratio > 1 + threshold : ratio < 1 / (1 + threshold);
            regressions += worse;
            compared++;
            fprintf(out, "%-72.72s %10.4g %10.4g %8.3f%s\n", label, was, now, ratio,
                    worse ? "  REGRESSION" : "");
        }
    }
    cJSON_Delete(base);
    fprintf(out, "%d figures compared, %d regressions\n", compared, regressions);
    return regressions ? EXIT_REGRESSION : EXIT_OK;
}
