/* bench/peers/train_fastai.py, the training-outcome peer of lsuv-bench
 * --study, through its command line as lsuv-bench calls it: on 512
 * Fashion-MNIST training images (one minibatch, so the shuffle cannot change
 * the first loss), its loss_1 for weights lsuv-vk wrote is the cross-entropy
 * of the fp64 reference's logits; the document's shape; and its refusals.
 * The first test is skipped where /usr/bin/python3 has no torch. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "lsuv/input.h"
#include "lsuv/net.h"
#include "lsuv/ref.h"
#include "lsuv/status.h"
#include "lsuv/weights.h"
#include "support/nets.h"
#include "support/spawn.h"

#define PYTHON  "/usr/bin/python3"
#define TRAINER LSUV_SOURCE_DIR "/bench/peers/train_fastai.py"
#define FASTAI  NETS "fastai-07a.cfg"
#define FASHION "/usr/share/datasets/fashion-mnist/"
enum { N_TRAIN = 512, N_TEST = 200, CLASSES = 10, PIXELS = 28 * 28, EPOCHS = 10 };

static uint8_t train_labels[N_TRAIN];

/* Finding torch is enough: importing it takes seconds. */
static void need_torch(void) {
    spawn_result r =
        spawn_run((const char *const[]){PYTHON, "-c",
                                        "import importlib.util, sys; "
                                        "sys.exit(importlib.util.find_spec('torch') is None)",
                                        NULL},
                  NULL);
    bool ok = r.exit_code == 0;
    spawn_result_free(&r);
    if (!ok)
        cr_skip_test("the trainer needs " PYTHON " with torch (Debian: python3-torch, which "
                     "scripts/setup-debian.sh peers installs)");
}

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/train-peer-%d-%s", LSUV_TEST_TMP, (int)getpid(), name);
}

static void put_be32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* The first n records of Fashion-MNIST's NAME (idx3 images or idx1
 * labels), written gzipped into dir; `keep` (when not NULL) receives them. */
static void copy_head(const char *dir, const char *name, bool images, uint32_t n, uint8_t *keep) {
    char src[512], dst[512];
    snprintf(src, sizeof src, FASHION "%s", name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    size_t header = images ? 16 : 8, record = images ? PIXELS : 1, size = header + n * record;
    uint8_t *buf = malloc(size);
    gzFile in = gzopen(src, "rb");
    cr_assert(buf && in, "%s", src);
    cr_assert_eq(gzread(in, buf, (unsigned)size), (int)size, "%s", src);
    gzclose(in);
    put_be32(buf + 4, n);
    gzFile out = gzopen(dst, "wb");
    cr_assert_not_null(out, "%s", dst);
    cr_assert_eq(gzwrite(out, buf, (unsigned)size), (int)size);
    cr_assert_eq(gzclose(out), Z_OK);
    if (keep) memcpy(keep, buf + header, n * record);
    free(buf);
}

static const char *const data_files[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

static void remove_data(const char *dir) {
    char path[512];
    for (size_t i = 0; i < sizeof data_files / sizeof *data_files; ++i) {
        snprintf(path, sizeof path, "%s/%s", dir, data_files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void make_data(const char *dir) {
    mkdir(dir, 0755);
    copy_head(dir, data_files[0], true, N_TRAIN, NULL);
    copy_head(dir, data_files[1], false, N_TRAIN, train_labels);
    copy_head(dir, data_files[2], true, N_TEST, NULL);
    copy_head(dir, data_files[3], false, N_TEST, NULL);
}

/* lsuv-vk's weights for cfg: LSUV with `order` on images, or (images NULL)
 * the initial weights. */
static void lsuv_weights_file(const char *cfg, const char *images, const char *order,
                              const char *out) {
    char input[600];
    snprintf(input, sizeof input, "idx:%s", images ? images : "");
    const char *argv[16] = {LSUV_VK_BIN, "--layers", cfg, "--save-weights", out, "--order", order};
    int n = 7;
    if (images) {
        const char *more[] = {"--input", input, "--normalize", "--keep", order};
        for (size_t i = 0; i < sizeof more / sizeof *more; ++i) argv[n++] = more[i];
    }
    argv[n] = NULL;
    spawn_result r = spawn_run(argv, NULL);
    cr_assert_eq(r.exit_code, 0, "lsuv-vk %s: %s", order, r.err);
    spawn_result_free(&r);
}

/* The mean cross-entropy over the batch of the fp64 reference's logits: the
 * loss of the trainer's first minibatch, which holds every training image
 * (normalized by their own statistics, as --normalize does). */
static double reference_loss(const char *weights, const char *images) {
    lsuv_net *net;
    lsuv_weights *w;
    lsuv_batch b;
    char spec[600];
    snprintf(spec, sizeof spec, "idx:%s", images);
    cr_assert_eq(lsuv_net_load(FASTAI, NULL, &net), LSUV_OK, "%s", lsuv_error_message());
    cr_assert_eq(lsuv_weights_load(net, weights, &w), LSUV_OK, "%s", lsuv_error_message());
    lsuv_input_options io = {.spec = spec, .batch = N_TRAIN, .normalize = true};
    cr_assert_eq(lsuv_input_load(&io, net, &b), LSUV_OK, "%s", lsuv_error_message());
    double *logits;
    cr_assert_eq(lsuv_ref_forward(net, w, &b, net->n_layers - 1, &logits), LSUV_OK);
    double sum = 0;
    for (uint32_t i = 0; i < N_TRAIN; ++i) {
        const double *z = logits + (size_t)i * CLASSES;
        double top = z[0], e = 0;
        for (int k = 1; k < CLASSES; ++k) top = fmax(top, z[k]);
        for (int k = 0; k < CLASSES; ++k) e += exp(z[k] - top);
        sum += top + log(e) - z[train_labels[i]];
    }
    free(logits);
    lsuv_batch_free(&b);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    return sum / N_TRAIN;
}

static double number(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

static void expect_case(const cJSON *c, const char *weights, double loss_1) {
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "weights")), weights);
    cr_expect_float_eq(number(c, "loss_1"), loss_1, 2e-5, "loss_1 %.7f, reference %.7f",
                       number(c, "loss_1"), loss_1);
    cr_expect(number(c, "loss_10") > 0);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(c, "diverged")), "finite losses, not diverged");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(c, "loss_100")), "loss_100 after 10 steps");
    /* Accuracies of whole counts: the last epoch's one batch, the test set. */
    double train = number(c, "train_acc") * N_TRAIN, test = number(c, "test_acc") * N_TEST;
    cr_expect(train >= 0 && train <= N_TRAIN && fabs(train - round(train)) < 1e-6, "%g", train);
    cr_expect(test >= 0 && test <= N_TEST && fabs(test - round(test)) < 1e-6, "%g", test);
    cr_expect(number(c, "seconds") > 0);
}

Test(train_peer, loss_1_is_the_reference_cross_entropy_for_each_file_in_order) {
    need_torch();
    char dir[256], images[400], mf[256], sf[256], out[256];
    tmp_path(dir, sizeof dir, "data");
    make_data(dir);
    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", dir);
    tmp_path(mf, sizeof mf, "mean-first.safetensors");
    tmp_path(sf, sizeof sf, "std-first.safetensors");
    tmp_path(out, sizeof out, "out.json");
    lsuv_weights_file(FASTAI, images, "mean-first", mf);
    lsuv_weights_file(FASTAI, images, "std-first", sf);
    spawn_result r =
        spawn_run((const char *const[]){PYTHON, TRAINER, "--data", dir, "--epochs", "10", "--seed",
                                        "7", "--out", out, sf, mf, NULL},
                  NULL);
    cr_assert_eq(r.exit_code, 0, "exit %d: %s", r.exit_code, r.err);
    spawn_result_free(&r);
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f, "%s", out);
    static char text[1 << 16];
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    cJSON *doc = cJSON_Parse(text);
    cr_assert_not_null(doc, "%s", text);
    cr_expect(cJSON_IsString(cJSON_GetObjectItem(doc, "torch")));
    const char *opt = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "optimizer"));
    cr_assert(opt && strstr(opt, "SGD") && strstr(opt, "0.6") && !strchr(opt, '\n'), "%s", opt);
    const cJSON *cases = cJSON_GetObjectItem(doc, "cases");
    cr_assert_eq(cJSON_GetArraySize(cases), 2);
    expect_case(cJSON_GetArrayItem(cases, 0), sf, reference_loss(sf, images));
    expect_case(cJSON_GetArrayItem(cases, 1), mf, reference_loss(mf, images));
    cJSON_Delete(doc);
    unlink(out);
    unlink(sf);
    unlink(mf);
    remove_data(dir);
}

static spawn_result trainer(const char *const *args, const char *const *env) {
    const char *argv[16] = {PYTHON, TRAINER};
    int n = 2;
    while (*args && n < 15) argv[n++] = *args++;
    argv[n] = NULL;
    return spawn_run(argv, env);
}

/* One line on stderr, containing `part`. */
static void expect_one_line(const spawn_result *r, const char *part) {
    cr_expect(strstr(r->err, part) != NULL, "stderr lacks '%s': %s", part, r->err);
    const char *nl = strchr(r->err, '\n');
    cr_expect(nl && nl[1] == '\0', "not one line: %s", r->err);
}

/* Refusals come before torch loads: they hold without it. */
Test(train_peer, other_networks_refused_with_exit_3_and_no_output) {
    char cfg[256], w[256], out[256];
    tmp_path(cfg, sizeof cfg, "narrow.cfg");
    tmp_path(w, sizeof w, "narrow.safetensors");
    tmp_path(out, sizeof out, "refused.json");
    /* 07a's layers and names with 4 filters in the first conv, not 8. */
    FILE *in = fopen(FASTAI, "r"), *o = fopen(cfg, "w");
    cr_assert(in && o);
    char line[256];
    bool first = true;
    while (fgets(line, sizeof line, in)) {
        if (first && strcmp(line, "filters=8\n") == 0) {
            strcpy(line, "filters=4\n");
            first = false;
        }
        fputs(line, o);
    }
    fclose(in);
    cr_assert_eq(fclose(o), 0);
    cr_assert_not(first);
    lsuv_weights_file(cfg, NULL, "none", w);
    spawn_result r = trainer((const char *const[]){"--data", FASHION, "--epochs", "1", "--seed",
                                                   "1", "--out", out, w, NULL},
                             NULL);
    cr_expect_eq(r.exit_code, 3, "exit %d: %s", r.exit_code, r.err);
    expect_one_line(&r, w);
    cr_expect(strstr(r.err, "layers.0.weight is [4, 1, 5, 5], not [8, 1, 5, 5]"), "%s", r.err);
    cr_expect_neq(access(out, F_OK), 0, "%s written", out);
    spawn_result_free(&r);
    unlink(cfg);
    unlink(w);
}

Test(train_peer, missing_torch_exits_3) {
    char dir[256], pkg[300], init[320], env_path[300], w[256], out[256];
    tmp_path(w, sizeof w, "initial.safetensors");
    tmp_path(out, sizeof out, "no-torch.json");
    lsuv_weights_file(FASTAI, NULL, "none", w);
    tmp_path(dir, sizeof dir, "no-torch");
    snprintf(pkg, sizeof pkg, "%s/torch", dir);
    snprintf(init, sizeof init, "%s/__init__.py", pkg);
    mkdir(dir, 0755);
    mkdir(pkg, 0755);
    FILE *f = fopen(init, "w");
    cr_assert_not_null(f);
    fputs("raise ImportError('no torch in this test')\n", f);
    cr_assert_eq(fclose(f), 0);
    snprintf(env_path, sizeof env_path, "PYTHONPATH=%s", dir);
    spawn_result r = trainer((const char *const[]){"--data", FASHION, "--epochs", "1", "--seed",
                                                   "1", "--out", out, w, NULL},
                             (const char *const[]){env_path, NULL});
    cr_expect_eq(r.exit_code, 3, "exit %d: %s", r.exit_code, r.err);
    expect_one_line(&r, "PyTorch");
    cr_expect_neq(access(out, F_OK), 0, "%s written", out);
    spawn_result_free(&r);
    unlink(init);
    rmdir(pkg);
    rmdir(dir);
    unlink(w);
}

Test(train_peer, bad_arguments_exit_2_and_missing_files_1_naming_them) {
    const char *const bad[][12] = {
        {"--data", FASHION, "--epochs", "1", "--seed", "1", "--out", "o.json", NULL},
        {"--data", FASHION, "--epochs", "0", "--seed", "1", "--out", "o.json", "w", NULL},
        {"--data", FASHION, "--epochs", "1", "--seed", "1", "w", NULL},
        {"--data", FASHION, "--epochs", "x", "--seed", "1", "--out", "o.json", "w", NULL},
        {"--data", FASHION, "--epochs", "1", "--seed", "1", "--out", "o.json", "--steps-per-epoch",
         "0", "w", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        spawn_result r = trainer(bad[i], NULL);
        cr_expect_eq(r.exit_code, 2, "case %zu: exit %d: %s", i, r.exit_code, r.err);
        spawn_result_free(&r);
    }
    char missing[256], out[256];
    tmp_path(missing, sizeof missing, "missing.safetensors");
    tmp_path(out, sizeof out, "never.json");
    spawn_result r = trainer((const char *const[]){"--data", FASHION, "--epochs", "1", "--seed",
                                                   "1", "--out", out, missing, NULL},
                             NULL);
    cr_expect_eq(r.exit_code, 1, "exit %d: %s", r.exit_code, r.err);
    expect_one_line(&r, missing);
    cr_expect_neq(access(out, F_OK), 0);
    spawn_result_free(&r);
}
