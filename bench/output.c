#include "output.h"

#include "app/exit_codes.h"
#include "core/file.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; ++s) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

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

char *results_csv(const cJSON *root) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    /* The statistics methods of the study, from the first layer that has them. */
    const char *methods[3];
    int n_methods = 0;
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "lsuv"), 0);
    const cJSON *err = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(first, "layers"), 0), "error_eps");
    const cJSON *m;
    cJSON_ArrayForEach(m, err) if (strcmp(m->string, "engine") != 0 && n_methods < 3)
        methods[n_methods++] = m->string;
    fputs("device,net,batch,precision,order,converged,passes,submissions,readback_bytes,"
          "gpu_ms_median,gpu_ms_min,gpu_ms_max,wall_ms_median,wall_ms_min,wall_ms_max,"
          "first_wall_ms,layer,type,layer_passes,mean,std,abs_mean,abs_std_minus_1,"
          "engine_mean_err_eps,engine_std_err_eps",
          f);
    for (int k = 0; k < n_methods; ++k)
        fprintf(f, ",%s_mean_err_eps,%s_std_err_eps", methods[k], methods[k]);
    fputc('\n', f);
    const cJSON *e, *l;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "lsuv")) {
        cJSON_ArrayForEach(l, cJSON_GetObjectItem(e, "layers")) {
            csv_field(f, str(e, "device"));
            fputc(',', f);
            csv_field(f, str(e, "net"));
            fprintf(f, ",%.0f,", num(e, "batch"));
            csv_field(f, str(e, "precision"));
            fputc(',', f);
            csv_field(f, str(e, "order"));
            fprintf(f, ",%d,%.0f,%.0f,%.0f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,",
                    cJSON_IsTrue(cJSON_GetObjectItem(e, "converged")), num(e, "passes"),
                    num(e, "submissions"), num(e, "readback_bytes"), num2(e, "gpu_ms", "median"),
                    num2(e, "gpu_ms", "min"), num2(e, "gpu_ms", "max"),
                    num2(e, "wall_ms", "median"), num2(e, "wall_ms", "min"),
                    num2(e, "wall_ms", "max"), num(e, "first_wall_ms"));
            const cJSON *ee = cJSON_GetObjectItem(l, "error_eps");
            fprintf(f, "%.0f,", num(l, "index"));
            csv_field(f, str(l, "type"));
            fprintf(f, ",%.0f,%.9g,%.9g,%.9g,%.9g,%.4g,%.4g", num(l, "passes"), num(l, "mean"),
                    num(l, "std"), num(l, "abs_mean"), num(l, "abs_std_minus_1"),
                    num2(ee, "engine", "mean"), num2(ee, "engine", "std"));
            for (int k = 0; k < n_methods; ++k)
                fprintf(f, ",%.4g,%.4g", num2(ee, methods[k], "mean"), num2(ee, methods[k], "std"));
            fputc('\n', f);
        }
    }
    return close_text(f, &text);
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
