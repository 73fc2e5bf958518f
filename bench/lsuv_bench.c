/* lsuv-bench --lsuv: every ordering on fastai's 07a network, and the same
 * experiment in PyTorch (bench/peers/fastai_lsuv.py) in the same run, from the
 * same initial weights and batch. */
#include "kernels.h"

#include "lsuv/lsuv.h"
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct order_times {
    double gpu[64], wall[64];
    lsuv_run last;
} order_times;

/* Runs bench/peers/fastai_lsuv.py with Debian's python3, where
 * python3-torch installs; returns its JSON or NULL (and says why). */
static cJSON *run_peer(const char *weights, const char *images, uint32_t repeats, FILE *table) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import torch' 2>/dev/null && /usr/bin/python3 %s --weights %s --images %s "
             "--repeats %u",
             LSUV_PEER_SCRIPT, weights, images, repeats);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    size_t got;
    while (text && (got = fread(text + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *grown = realloc(text, cap *= 2);
            if (!grown) break;
            text = grown;
        }
    }
    int status = pclose(p);
    cJSON *json = NULL;
    if (text) {
        text[n] = '\0';
        json = status == 0 ? cJSON_Parse(text) : NULL;
    }
    free(text);
    if (!json)
        fprintf(table, "PyTorch peer: not run (python3 with torch missing? make bench installs "
                       "python3-torch)\n");
    return json;
}

int bench_lsuv(lsuv_instance *inst, uint32_t index, const kernel_options *opt, FILE *table,
               cJSON *entries) {
    lsuv_device *dev = NULL;
    lsuv_net *net = NULL;
    lsuv_weights *w = NULL;
    lsuv_batch batch = {0};
    lsuv_forward *f = NULL;
    order_times *t = calloc(LSUV_ORDER_COUNT, sizeof *t);
    uint32_t R = opt->repeats < 64 ? opt->repeats : 64;
    char weights_path[] = "/tmp/lsuv-bench-XXXXXX.safetensors";
    lsuv_status s = t ? lsuv_device_create(inst, index, &dev) : LSUV_ERROR_OUT_OF_MEMORY;
    if (s == LSUV_OK) s = lsuv_net_load(LSUV_FASTAI_CFG, NULL, &net);
    if (s == LSUV_OK) s = lsuv_weights_init(net, LSUV_INIT_KAIMING, 0, &w);
    char spec[512];
    snprintf(spec, sizeof spec, "idx:%s", opt->images);
    lsuv_input_options io = {.spec = spec, .normalize = true};
    if (s == LSUV_OK) s = lsuv_input_load(&io, net, &batch);
    if (s == LSUV_OK) s = lsuv_forward_create(dev, net, w, NULL, &f);
    if (s == LSUV_OK) s = lsuv_forward_set_input(f, &batch);
    for (int o = 0; s == LSUV_OK && o < LSUV_ORDER_COUNT; ++o) {
        lsuv_options lo = {.order = (lsuv_order)o};
        for (uint32_t r = 0; s == LSUV_OK && r <= R; ++r) {
            lsuv_run run;
            s = lsuv_forward_reset(f, w);
            if (s == LSUV_OK) s = lsuv_initialize(f, &lo, &run);
            if (s != LSUV_OK) break;
            if (r > 0) {
                t[o].gpu[r - 1] = run.gpu_ms;
                t[o].wall[r - 1] = run.wall_ms;
            }
            lsuv_run_free(&t[o].last);
            t[o].last = run;
        }
    }
    int code = 0;
    if (s != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: %s\n", lsuv_error_message());
        code = 1;
    } else {
        const char *name = lsuv_device_get_info(dev)->name;
        fprintf(table, "\nLSUV on %s, batch %u, %s: 1 warm-up + %u runs; ms median (min-max)\n",
                LSUV_FASTAI_CFG, batch.n, name, R);
        fprintf(table, "%-12s %6s %11s %9s %22s %22s\n", "order", "passes", "submissions",
                "readback", "gpu ms", "wall ms");
        double wall_median[LSUV_ORDER_COUNT];
        for (int o = 0; o < LSUV_ORDER_COUNT; ++o) {
            summary g = summary_of(t[o].gpu, R), wl = summary_of(t[o].wall, R);
            wall_median[o] = wl.median;
            const lsuv_run *run = &t[o].last;
            fprintf(table, "%-12s %6u %11u %9llu %8.2f (%5.2f-%6.2f) %8.2f (%5.2f-%6.2f)\n",
                    lsuv_order_name((lsuv_order)o), run->passes, run->submissions,
                    (unsigned long long)run->readback_bytes, g.median, g.min, g.max, wl.median,
                    wl.min, wl.max);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", "lsuv");
            cJSON_AddStringToObject(e, "order", lsuv_order_name((lsuv_order)o));
            cJSON_AddStringToObject(e, "device", name);
            cJSON_AddNumberToObject(e, "passes", run->passes);
            cJSON_AddNumberToObject(e, "submissions", run->submissions);
            cJSON_AddNumberToObject(e, "readback_bytes", (double)run->readback_bytes);
            cJSON_AddNumberToObject(e, "gpu_ms", g.median);
            cJSON_AddNumberToObject(e, "wall_ms", wl.median);
            cJSON_AddNumberToObject(e, "wall_ms_min", wl.min);
            cJSON_AddNumberToObject(e, "wall_ms_max", wl.max);
            cJSON_AddItemToArray(entries, e);
        }
        /* The peer, from the same weights and images. */
        int fd = mkstemps(weights_path, 12);
        if (fd >= 0) close(fd);
        cJSON *peer = fd >= 0 && lsuv_weights_save(net, w, weights_path) == LSUV_OK
                          ? run_peer(weights_path, opt->images, R, table)
                          : NULL;
        unlink(weights_path);
        const cJSON *pr;
        if (peer) {
            fprintf(table, "PyTorch %s (%d threads) on the same CPU, same weights and batch:\n",
                    cJSON_GetObjectItem(peer, "torch")->valuestring,
                    cJSON_GetObjectItem(peer, "threads")->valueint);
            cJSON_ArrayForEach(pr, cJSON_GetObjectItem(peer, "runs")) {
                const char *variant = cJSON_GetObjectItem(pr, "variant")->valuestring;
                const char *order = cJSON_GetObjectItem(pr, "order")->valuestring;
                double ms = cJSON_GetObjectItem(pr, "median_ms")->valuedouble;
                lsuv_order o;
                lsuv_order_from_name(order, &o);
                fprintf(table,
                        "  %-11s %-10s %8.2f ms (%.2f-%.2f), %d passes; lsuv-vk wall / "
                        "this: %.2f\n",
                        variant, order, ms, cJSON_GetObjectItem(pr, "min_ms")->valuedouble,
                        cJSON_GetObjectItem(pr, "max_ms")->valuedouble,
                        cJSON_GetObjectItem(pr, "passes")->valueint, wall_median[o] / ms);
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "name", "lsuv_pytorch");
                cJSON_AddStringToObject(e, "variant", variant);
                cJSON_AddStringToObject(e, "order", order);
                cJSON_AddNumberToObject(e, "wall_ms", ms);
                cJSON_AddNumberToObject(e, "lsuv_vk_ratio", wall_median[o] / ms);
                cJSON_AddItemToArray(entries, e);
            }
            cJSON_Delete(peer);
        }
    }
    for (int o = 0; t && o < LSUV_ORDER_COUNT; ++o) lsuv_run_free(&t[o].last);
    free(t);
    lsuv_forward_destroy(f);
    lsuv_batch_free(&batch);
    lsuv_weights_destroy(w);
    lsuv_net_destroy(net);
    lsuv_device_destroy(dev);
    return code;
}
