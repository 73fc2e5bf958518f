/* lsuv-bench --study --train-epochs: bench/peers/train_fastai.py, run once
 * for every trained case's weights, its figures into the study. */
#include "study_run.h"

#include "app/exit_codes.h"
#include "core/file.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The trainer's data loader takes the same data order for every case: the
 * cases then differ by their initial weights alone. */
#define TRAIN_SEED "0"

static void add_training(cJSON *study, uint32_t epochs, const char *skipped, const cJSON *out) {
    cJSON *t = cJSON_AddObjectToObject(study, "training");
    cJSON_AddNumberToObject(t, "epochs", epochs);
    if (skipped)
        cJSON_AddStringToObject(t, "skipped", skipped);
    else
        cJSON_AddNullToObject(t, "skipped");
    const char *opt = out ? cJSON_GetStringValue(cJSON_GetObjectItem(out, "optimizer")) : NULL;
    const char *torch = out ? cJSON_GetStringValue(cJSON_GetObjectItem(out, "torch")) : NULL;
    if (opt)
        cJSON_AddStringToObject(t, "optimizer", opt);
    else
        cJSON_AddNullToObject(t, "optimizer");
    if (torch) cJSON_AddStringToObject(t, "torch", torch);
}

/* Runs argv with its standard error passed through line by line; the last
 * non-empty line stays in last. Returns the exit status, -1 when it could
 * not run or died of a signal. */
static int spawn_trainer(char *const *argv, char *last, size_t cap) {
    int fds[2];
    last[0] = '\0';
    if (pipe(fds) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    FILE *in = err ? NULL : fdopen(fds[0], "r");
    if (!in) {
        close(fds[0]);
        if (err) snprintf(last, cap, "%s: %s", argv[0], strerror(err));
        if (err) return -1;
    }
    char line[4096];
    while (in && fgets(line, sizeof line, in)) {
        fputs(line, stderr);
        size_t n = strcspn(line, "\r\n");
        if (n) snprintf(last, cap, "%.*s", (int)n, line);
    }
    if (in) fclose(in);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static cJSON *case_of(cJSON *study, int index) {
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(study, "cases")) {
        if (cJSON_GetNumberValue(cJSON_GetObjectItem(c, "case")) == index) return c;
    }
    return NULL;
}

/* The trainer's entry for path, matched by the path, else by file name. */
static const cJSON *result_of(const cJSON *out, const char *path) {
    const cJSON *r;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(out, "cases")) {
        const char *w = cJSON_GetStringValue(cJSON_GetObjectItem(r, "weights"));
        const char *wb = w && strrchr(w, '/') ? strrchr(w, '/') + 1 : w;
        if (w && (strcmp(w, path) == 0 || strcmp(wb, base) == 0)) return r;
    }
    return NULL;
}

static const char *const figures[] = {"loss_1",    "loss_10",  "loss_100",
                                      "train_acc", "test_acc", "seconds"};

/* Each case's figures; false when the trainer left one out. */
static bool add_results(cJSON *study, const cJSON *out, const char *const *weights,
                        const int *case_index, uint32_t n, char *why, size_t cap) {
    for (uint32_t i = 0; i < n; ++i) {
        const cJSON *r = result_of(out, weights[i]);
        cJSON *c = case_of(study, case_index[i]);
        if (!r || !c) {
            snprintf(why, cap, "the trainer's JSON has no entry for %s", weights[i]);
            return false;
        }
        cJSON *t = cJSON_AddObjectToObject(c, "training");
        for (size_t f = 0; f < sizeof figures / sizeof *figures; ++f) {
            const cJSON *v = cJSON_GetObjectItem(r, figures[f]);
            cJSON_AddNumberToObject(t, figures[f], cJSON_IsNumber(v) ? v->valuedouble : NAN);
        }
        cJSON_AddBoolToObject(t, "diverged", cJSON_IsTrue(cJSON_GetObjectItem(r, "diverged")));
    }
    return true;
}

static cJSON *read_out(const char *path, char *why, size_t cap) {
    char *text = NULL;
    size_t size = 0;
    if (lsuv_file_read_all(path, (size_t)1 << 28, &text, &size) != LSUV_OK) {
        snprintf(why, cap, "the trainer wrote no %.3000s", path);
        return NULL;
    }
    cJSON *out = cJSON_Parse(text);
    free(text);
    if (!out) snprintf(why, cap, "%.3000s is not JSON", path);
    return out;
}

/* The trainer's command line: python, the script, the options, the files. */
static char **trainer_argv(const study_options *o, const char *out_json, char *epochs, char *data,
                           const char *const *weights, uint32_t n) {
    char **argv = calloc(n + 12, sizeof *argv);
    if (!argv) return NULL;
    snprintf(data, 4096, "%s", o->images);
    const char *fixed[] = {
        "/usr/bin/python3", LSUV_TRAIN_SCRIPT, "--data", dirname(data), "--epochs", epochs,
        "--seed",           TRAIN_SEED,        "--out",  out_json};
    size_t k = 0;
    for (; k < sizeof fixed / sizeof *fixed; ++k) argv[k] = (char *)fixed[k];
    for (uint32_t i = 0; i < n; ++i) argv[k++] = (char *)weights[i];
    return argv;
}

int study_train(cJSON *study, const study_options *o, const char *const *weights,
                const int *case_index, uint32_t n) {
    char why[4200] = "", out_json[4200], epochs[16], data[4096];
    if (!n) {
        add_training(study, o->train_epochs, "no fastai case: the trainer trains fastai 07a's net",
                     NULL);
        return EXIT_OK;
    }
    if (access(LSUV_TRAIN_SCRIPT, R_OK) != 0) {
        snprintf(why, sizeof why, "bench/peers/train_fastai.py: %s", strerror(errno));
        add_training(study, o->train_epochs, why, NULL);
        return EXIT_OK;
    }
    snprintf(out_json, sizeof out_json, "%s/weights/training.json", o->out_dir);
    snprintf(epochs, sizeof epochs, "%u", o->train_epochs);
    char **argv = trainer_argv(o, out_json, epochs, data, weights, n);
    int status = argv ? spawn_trainer(argv, why, sizeof why) : -1;
    free(argv);
    if (status == 3) { /* torch missing, or a net it cannot train: a skip, said why */
        add_training(study, o->train_epochs, why[0] ? why : "the trainer did not run", NULL);
        return EXIT_OK;
    }
    cJSON *out = status == 0 ? read_out(out_json, why, sizeof why) : NULL;
    bool ok = out && add_results(study, out, weights, case_index, n, why, sizeof why);
    if (!ok) {
        char failed[4400];
        snprintf(failed, sizeof failed, "the trainer failed (exit %d): %s", status,
                 why[0] ? why : "no reason given");
        fprintf(stderr, "lsuv-bench: %s\n", failed);
        add_training(study, o->train_epochs, failed, NULL);
    } else {
        add_training(study, o->train_epochs, NULL, out);
    }
    cJSON_Delete(out);
    return ok ? EXIT_OK : EXIT_RUNTIME;
}
