#include "cli/outputs.h"

#include "cli/cli.h"
#include "core/file.h"
#include "lsuv/lsuv.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Standard output goes through stdio, in order with the rest printed there. */
static bool is_stdout(const char *path) {
    return strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0 ||
           strcmp(path, "/dev/fd/1") == 0 || strcmp(path, "/proc/self/fd/1") == 0;
}

static bool has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), m = strlen(ext);
    return n > m && strcasecmp(path + n - m, ext) == 0;
}

typedef struct planned {
    const char *option, *path;
    const char *ext[2];
    bool text; /* text makes sense on standard output or a device */
} planned;

static unsigned planned_outputs(const options *o, planned *p) {
    unsigned n = 0;
    if (o->json) p[n++] = (planned){"--json", o->json, {".json", NULL}, true};
    if (o->csv) p[n++] = (planned){"--csv", o->csv, {".csv", NULL}, true};
    if (o->trace) p[n++] = (planned){"--trace", o->trace, {".csv", NULL}, true};
    if (o->plot) p[n++] = (planned){"--plot", o->plot, {".svg", NULL}, true};
    if (o->save_weights)
        p[n++] = (planned){"--save-weights", o->save_weights, {".weights", ".safetensors"}, false};
    return n;
}

static int check_planned(const planned *p) {
    const char *exts = p->ext[1] ? "a .weights or .safetensors file" : NULL;
    char one[32];
    if (!exts) {
        snprintf(one, sizeof one, "a %s file", p->ext[0]);
        exts = one;
    }
    if (is_stdout(p->path)) {
        if (p->text) return EXIT_OK;
        fprintf(stderr, "lsuv-vk: %s %s: the format is chosen by extension; name %s\n", p->option,
                p->path, exts);
        return EXIT_USAGE;
    }
    bool direct = false;
    if (lsuv_file_check(p->path, &direct) != LSUV_OK) {
        fprintf(stderr, "lsuv-vk: %s: %s\n", p->option, lsuv_error_message());
        return EXIT_USAGE;
    }
    /* Weights are written the same way, so case matters as lsuv_weights_save's. */
    bool known = false;
    for (int k = 0; k < 2 && p->ext[k]; ++k) {
        size_t n = strlen(p->path), m = strlen(p->ext[k]);
        known |= p->text ? has_ext(p->path, p->ext[k])
                         : n > m && strcmp(p->path + n - m, p->ext[k]) == 0;
    }
    if (known || (direct && p->text)) return EXIT_OK;
    fprintf(stderr, "lsuv-vk: %s %s: expected %s%s\n", p->option, p->path, exts,
            p->text ? ", '-' for standard output, or a device" : "");
    return EXIT_USAGE;
}

static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (strcmp(a, b) == 0) return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino && S_ISREG(sa.st_mode);
}

static int check_outputs(const options *o) {
    planned p[OUTPUTS_MAX];
    unsigned n = planned_outputs(o, p);
    for (unsigned i = 0; i < n; ++i) {
        int code = check_planned(&p[i]);
        if (code != EXIT_OK) return code;
        for (unsigned j = 0; j < i; ++j) {
            bool both_stdout = is_stdout(p[i].path) && is_stdout(p[j].path);
            if (!both_stdout && !same_file(p[i].path, p[j].path)) continue;
            fprintf(stderr, "lsuv-vk: %s and %s both write to %s; give each its own file\n",
                    p[j].option, p[i].option, both_stdout ? "standard output" : p[i].path);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

/* A missing input is reported before weights are drawn or a device made. */
static int check_input(const char *option, const char *path) {
    struct stat st;
    if (!path) return EXIT_OK;
    int err = stat(path, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (!err && access(path, R_OK) != 0) err = errno;
    if (!err) return EXIT_OK;
    fprintf(stderr, "lsuv-vk: %s %s: %s\n", option, path, strerror(err));
    return EXIT_USAGE;
}

static int check_inputs(const options *o) {
    int code = check_input("--layers", o->layers);
    if (code == EXIT_OK) code = check_input("--weights-in", o->weights_in);
    lsuv_input_source src;
    if (code == EXIT_OK && o->input && lsuv_input_source_parse(o->input, &src) == LSUV_OK &&
        src.kind != LSUV_INPUT_SYNTHETIC)
        code = check_input("--input", src.path);
    if (code == EXIT_OK && o->eval_input &&
        lsuv_input_source_parse(o->eval_input, &src) == LSUV_OK && src.kind != LSUV_INPUT_SYNTHETIC)
        code = check_input("--eval-input", src.path);
    return code;
}

int outputs_check(const options *o) {
    if (o->layers && !o->list_devices && (o->summary || !o->orders)) {
        const char *what = o->json && !o->summary          ? "--json"
                           : o->csv                        ? "--csv"
                           : o->trace                      ? "--trace"
                           : o->plot                       ? "--plot"
                           : o->verify                     ? "--verify"
                           : o->eval_input                 ? "--eval-input"
                           : o->all_layers                 ? "--all-layers"
                           : o->summary && o->save_weights ? "--save-weights"
                                                           : NULL;
        if (what) {
            fprintf(stderr, "lsuv-vk: %s runs no LSUV, so %s has nothing to %s; drop it%s\n",
                    o->summary ? "--summary" : "--order none", what,
                    strcmp(what, "--verify") == 0       ? "check"
                    : strcmp(what, "--eval-input") == 0 ? "evaluate"
                    : strcmp(what, "--all-layers") == 0 ? "measure"
                                                        : "write",
                    o->summary ? "" : " or choose an ordering");
            return EXIT_USAGE;
        }
    }
    int code = check_outputs(o);
    return code == EXIT_OK ? check_inputs(o) : code;
}

int outputs_check_weights(const options *o, const lsuv_net *net, const lsuv_weights *w) {
    const char *path = o->save_weights;
    size_t n = path ? strlen(path) : 0;
    if (n < 8 || strcmp(path + n - 8, ".weights") != 0) return EXIT_OK;
    for (uint32_t i = 0; i < net->n_layers; ++i)
        if (w->layers[i].weight && w->layers[i].sub != 0.0f) {
            fprintf(stderr,
                    "lsuv-vk: --save-weights %s: layer %u starts with sub=%g, which darknet's "
                    ".weights cannot hold; save to a .safetensors file instead\n",
                    path, i, (double)w->layers[i].sub);
            return EXIT_USAGE;
        }
    /* Every ordering but std-only shifts sub when the mean is the sub's;
     * a layer measured conv shifts nothing. */
    if (!o->orders || o->keep == LSUV_ORDER_STD_ONLY) return EXIT_OK;
    for (uint32_t i = 0; i < net->n_layers; ++i) {
        const lsuv_layer *l = &net->layers[i];
        lsuv_measure m = lsuv_measure_resolve(o->measure, l);
        if (!lsuv_layer_has_weights(l) || !l->lsuv || m == LSUV_MEASURE_CONV ||
            lsuv_mean_param_resolve((lsuv_mean_param)o->mean_param, m) == LSUV_MEAN_BIAS)
            continue;
        fprintf(stderr,
                "lsuv-vk: --save-weights %s: LSUV's mean step shifts the sub of layer %u "
                "(--mean-param sub, or auto measured post, the default on a layer without "
                "batch norm), which darknet's .weights cannot hold; save to a .safetensors "
                "file, or shift the bias instead, measured before the activation: --measure "
                "pre\n",
                path, i);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

FILE *outputs_text_stream(const options *o) {
    const char *text[] = {o->json, o->csv, o->trace, o->plot};
    for (size_t i = 0; i < sizeof text / sizeof *text; ++i)
        if (text[i] && is_stdout(text[i])) return stderr;
    return stdout;
}

static void on_signal(int sig) {
    lsuv_file_remove_temps();
    /* The handler was reset on entry: this ends the process as sig does. */
    raise(sig);
}

void outputs_handle_signals(void) {
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; ++i) {
        struct sigaction old, sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
        sigemptyset(&sa.sa_mask);
        /* A signal ignored at start (nohup, a background job) stays ignored. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
}

void outputs_add(outputs *set, const char *option, const char *path, char *data, size_t size) {
    if (set->n == OUTPUTS_MAX) {
        free(data);
        return;
    }
    set->items[set->n++] = (output){option, path, data, size};
}

void outputs_add_json(outputs *set, const char *option, const char *path, cJSON *root) {
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    size_t n = text ? strlen(text) : 0;
    if (text) text[n++] = '\n'; /* replaces the NUL: written by length */
    outputs_add(set, option, path, text, n);
}

int outputs_write_json(cJSON *root, const char *option, const char *path) {
    outputs set = {0};
    outputs_add_json(&set, option, path, root);
    return outputs_commit(&set);
}

/* Standard output and devices first: they cannot be taken back, while the
 * renames that follow seldom fail. */
static int commit_all(outputs *set, lsuv_file_staged **staged) {
    for (int pass = 0; pass < 2; ++pass)
        for (unsigned i = 0; i < set->n; ++i) {
            const output *out = &set->items[i];
            if (pass == 0 && is_stdout(out->path)) {
                if (fwrite(out->data, 1, out->size, stdout) != out->size || fflush(stdout) != 0) {
                    fprintf(stderr, "lsuv-vk: %s: writing standard output failed: %s\n",
                            out->option, strerror(errno));
                    return EXIT_RUNTIME;
                }
            } else if (staged[i] && (pass == 1 || lsuv_file_staged_direct(staged[i]))) {
                lsuv_status s = lsuv_file_commit(staged[i]);
                staged[i] = NULL;
                if (s != LSUV_OK) return cli_fail(s);
            }
        }
    return EXIT_OK;
}

int outputs_commit(outputs *set) {
    lsuv_file_staged *staged[OUTPUTS_MAX] = {0};
    int code = EXIT_OK;
    for (unsigned i = 0; code == EXIT_OK && i < set->n; ++i) {
        const output *out = &set->items[i];
        if (!out->data) {
            fprintf(stderr, "lsuv-vk: %s: out of memory building %s\n", out->option, out->path);
            code = EXIT_RUNTIME;
        } else if (!is_stdout(out->path)) {
            lsuv_status s = lsuv_file_stage(out->path, out->data, out->size, &staged[i]);
            if (s != LSUV_OK) code = cli_fail(s);
        }
    }
    if (code == EXIT_OK) code = commit_all(set, staged);
    for (unsigned i = 0; i < set->n; ++i) lsuv_file_discard(staged[i]);
    outputs_free(set);
    return code;
}

void outputs_free(outputs *set) {
    for (unsigned i = 0; i < set->n; ++i) free(set->items[i].data);
    set->n = 0;
}
