/* lsuv-bench: measured figures, as medians with their spread. */
#include "cli_args.h"
#include "files.h"
#include "kernels.h"
#include "output.h"
#include "study.h"
#include "study_run.h"
#include "suite.h"

#include "app/exit_codes.h"
#include "app/json.h"
#include "app/parse.h"
#include "core/file.h"
#include "lsuv/lsuv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each part of a comma list of selectors, in order. */
static int select_devices(lsuv_instance *inst, const char *selector, uint32_t **out,
                          uint32_t *count) {
    uint32_t n = lsuv_instance_device_count(inst);
    uint32_t *found = calloc(n ? n : 1, sizeof *found), part = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", selector);
    *count = 0;
    *out = NULL;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); found && t;
         t = strtok_r(NULL, ",", &save)) {
        if (lsuv_instance_select(inst, t, found, &part) != LSUV_OK) {
            fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
            free(found);
            free(*out);
            *out = NULL;
            return EXIT_USAGE;
        }
        uint32_t *grown = realloc(*out, (*count + part) * sizeof **out);
        if (!grown) break;
        memcpy(grown + *count, found, part * sizeof *found);
        *out = grown;
        *count += part;
    }
    free(found);
    if (!*count) {
        fprintf(stderr, "lsuv-bench: --device %s selects nothing\n", selector);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static cJSON *meta_json(int argc, char **argv, uint32_t repeats) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "lsuv_vk_version", lsuv_version());
    cJSON_AddStringToObject(m, "git_commit", lsuv_git_commit());
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    cJSON_AddStringToObject(m, "date", date);
    char *cmd = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cmd, &len);
    for (int i = 0; f && i < argc; ++i) {
        /* Absolute paths as bench_shown_path records them. */
        char word[PATH_MAX];
        snprintf(word, sizeof word, "%s", argv[i]);
        if (argv[i][0] == '/') bench_shown_path(argv[i], word, sizeof word);
        const char *quote = strpbrk(word, " \t'\"") ? "'" : "";
        fprintf(f, "%s%s%s%s", i ? " " : "", quote, word, quote);
    }
    if (f && fclose(f) != 0) {
        free(cmd);
        cmd = NULL;
    }
    cJSON_AddStringToObject(m, "command", cmd ? cmd : "");
    free(cmd);
    cJSON_AddNumberToObject(m, "repeats", repeats);
    return m;
}

/* --list-devices, for scripts: index, slug, type and name, tab-separated. */
static void list_devices(lsuv_instance *inst, const uint32_t *indices, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) {
        const lsuv_device_info *d = lsuv_instance_device_info(inst, indices[i]);
        char slug[256];
        app_device_slug(d, slug, sizeof slug);
        printf("%u\t%s\t%s\t%s\n", d->index, slug, lsuv_device_type_name(d->type), d->name);
    }
}

/* The kernels and the LSUV suite, as asked, into root and files. */
static int run_parts(const bench_args *a, lsuv_instance *inst, const uint32_t *indices,
                     uint32_t count, FILE *table, cJSON *root, bench_files *files,
                     results_csv *csv) {
    int code = EXIT_OK;
    if (a->kernels) {
        kernel_options ko = {.bytes = a->size_mib << 20,
                             .repeats = (uint32_t)a->repeats,
                             .conv_kernel = a->so.conv_kernel,
                             .gpu_case = a->gpu_case};
        fprintf(table,
                "kernels: %llu MiB buffer, 1 warm-up + %u runs, GPU timestamps; GB/s median, "
                "slowest, fastest; ms median\n",
                (unsigned long long)a->size_mib, ko.repeats);
        fprintf(table, "%-34s %-6s %9s %9s %9s %9s\n", "device", "kernel", "GB/s", "min", "max",
                "ms");
        cJSON *entries = cJSON_GetObjectItem(root, "kernels");
        for (uint32_t i = 0; !code && i < count; ++i)
            code = bench_kernels(inst, indices[i], &ko, table, entries);
    }
    if (!code && a->lsuv) {
        /* No prefix: the header and the case lines are CSV as they stand. */
        fputs("case,device,net,precision,order,batch,wall_ms,gpu_ms,passes\n", stderr);
        code = bench_suite(inst, indices, count, &a->so, table, root, files, csv);
    }
    return code;
}

/* --json: the results alone, to a file or standard output. */
static int write_json(const cJSON *root, const char *path) {
    char *text = cJSON_Print(root);
    lsuv_status w = LSUV_ERROR_OUT_OF_MEMORY;
    if (text && strcmp(path, "-") == 0)
        w = printf("%s\n", text) < 0 ? LSUV_ERROR_IO : LSUV_OK;
    else if (text)
        w = lsuv_file_write_text(path, text);
    if (w != LSUV_OK)
        fprintf(stderr, "lsuv-bench: %s\n",
                text ? lsuv_error_message() : "out of memory writing JSON");
    free(text);
    return w == LSUV_OK ? EXIT_OK : EXIT_RUNTIME;
}

/* --json, --out and --compare, once every case finished. */
static int write_results(const bench_args *a, const cJSON *root, bench_files *files,
                         results_csv *csv, FILE *table) {
    int code = a->json_path ? write_json(root, a->json_path) : EXIT_OK;
    if (!code && a->out_dir) {
        bench_files_add(files, "results.json", cJSON_Print(root));
        bench_files_add(files, "results.csv", results_csv_take(csv));
        if (a->kernels) bench_files_add(files, "kernels.csv", kernels_csv(root));
        code = bench_files_write(files, a->out_dir);
        if (!code) fprintf(table, "\nwrote %u files to %s\n", files->n, a->out_dir);
    }
    if (!code && a->compare) code = compare_results(root, a->compare, a->threshold / 100.0, table);
    return code;
}

/* The selected devices' figures, with what the results need to say where
 * they came from. */
static int bench_devices(int argc, char **argv, const bench_args *a, lsuv_instance *inst,
                         const uint32_t *indices, uint32_t count) {
    /* With JSON on stdout the table moves to stderr, so stdout stays parseable. */
    bool json_stdout = a->json_path && strcmp(a->json_path, "-") == 0;
    FILE *table = json_stdout ? stderr : stdout;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "meta", meta_json(argc, argv, (uint32_t)a->repeats));
    cJSON *devices = cJSON_AddArrayToObject(root, "devices");
    for (uint32_t i = 0; i < count; ++i)
        cJSON_AddItemToArray(devices,
                             app_device_info_json(lsuv_instance_device_info(inst, indices[i])));
    cJSON_AddArrayToObject(root, "kernels");
    bench_files files = {0};
    results_csv csv;
    results_csv_init(&csv, a->so.methods);
    int code = run_parts(a, inst, indices, count, table, root, &files, &csv);
    /* Checked before anything is written: a run with messages produced nothing. */
    if (a->validate && lsuv_instance_validation_count(inst) > 0) {
        fprintf(stderr, "lsuv-bench: %u validation messages; the first: %s\n",
                lsuv_instance_validation_count(inst), lsuv_instance_validation_first(inst));
        code = EXIT_RUNTIME;
    }
    if (!code) code = write_results(a, root, &files, &csv, table);
    results_csv_free(&csv);
    bench_files_free(&files);
    cJSON_Delete(root);
    return code;
}

/* --study on the selected devices. */
static int run_study(int argc, char **argv, const bench_args *a, lsuv_instance *inst,
                     const uint32_t *indices, uint32_t count) {
    static const uint64_t default_seeds[] = {1, 2, 3, 4, 5};
    study_options so = {.nets = a->so.nets,
                        .n_nets = a->so.n_nets,
                        .devices = indices,
                        .n_devices = count,
                        .seeds = a->seeds ? a->seeds : default_seeds,
                        .n_seeds = a->seeds ? a->n_seeds : 5,
                        .batches = a->batches,
                        .n_batches = a->n_batches,
                        .shard = a->shard,
                        .n_shards = a->n_shards,
                        .train_epochs = (uint32_t)a->train_epochs,
                        .images = a->images,
                        .out_dir = a->out_dir,
                        .conv_kernel = a->so.conv_kernel,
                        .strip_bn = a->so.strip_bn};
    unsigned orders = a->orders_given ? a->so.orders
                      : a->presets    ? 0
                                      : 1u << LSUV_ORDER_MEAN_FIRST | 1u << LSUV_ORDER_STD_FIRST;
    study_methods(orders, a->presets, so.methods, &so.n_methods);
    cJSON *meta = meta_json(argc, argv, 0);
    cJSON_DeleteItemFromObject(meta, "repeats");
    return study_run(inst, &so, meta, a->validate);
}

/* Every network named, parsed (each file checked) into nets. */
static int parse_nets(bench_args *a, suite_net *nets) {
    if (!a->n_specs && a->study) a->net_specs[a->n_specs++] = "fastai";
    if (!a->n_specs)
        for (; suite_net_name(a->n_specs); ++a->n_specs)
            a->net_specs[a->n_specs] = suite_net_name(a->n_specs);
    for (uint32_t i = 0; i < a->n_specs; ++i)
        if (!suite_net_parse(a->net_specs[i], a->images, &nets[i])) return EXIT_USAGE;
    return EXIT_OK;
}

static int bench_main(int argc, char **argv, bench_args *a) {
    /* The shards' files are the only arguments getopt left. */
    if (a->merge) return study_merge((const char *const *)argv + optind, argc - optind, a->out_dir);
    if (!a->kernels && !a->lsuv && !a->study) a->kernels = a->lsuv = true;
    suite_net nets[64];
    if (parse_nets(a, nets)) return EXIT_USAGE;
    a->so.nets = nets;
    a->so.n_nets = a->n_specs;
    a->so.repeats = (uint32_t)a->repeats;
    a->so.images = a->images;

    lsuv_instance *inst = NULL;
    lsuv_instance_options io = {.validation = a->validate};
    lsuv_status s = lsuv_instance_create(&io, &inst);
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
        return app_exit_code(s, APP_FAILED_CALL);
    }
    uint32_t *indices = NULL, count = 0;
    int code = select_devices(inst, a->device, &indices, &count);
    if (!code && a->list)
        list_devices(inst, indices, count);
    else if (!code && a->study)
        code = run_study(argc, argv, a, inst, indices, count);
    else if (!code)
        code = bench_devices(argc, argv, a, inst, indices, count);
    free(indices);
    lsuv_instance_destroy(inst);
    return code;
}

int main(int argc, char **argv) {
    bench_args a;
    int code = bench_args_parse(argc, argv, &a);
    if (code == EXIT_OK) code = bench_main(argc, argv, &a);
    free(a.seeds);
    free(a.batches);
    return code < 0 ? EXIT_OK : code; /* below 0: after --help or --version */
}
