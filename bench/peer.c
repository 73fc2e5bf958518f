/* The PyTorch peer: bench/peers/fastai_lsuv.py, run on the CPU from the
 * weights lsuv-bench starts from. */
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static cJSON *run_peer(const char *weights, const char *images, uint32_t repeats, FILE *table) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import torch' 2>/dev/null && /usr/bin/python3 '%s' --weights "
             "'%s' --images '%s' --repeats %u",
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

cJSON *peer_run(const lsuv_net *net, const lsuv_weights *w, const char *images, uint32_t repeats,
                FILE *table) {
    char path[] = "/tmp/lsuv-bench-XXXXXX.safetensors";
    int fd = mkstemps(path, 12);
    if (fd >= 0) close(fd);
    cJSON *peer = fd >= 0 && lsuv_weights_save(net, w, path) == LSUV_OK
                      ? run_peer(path, images, repeats, table)
                      : NULL;
    if (fd >= 0) unlink(path);
    return peer;
}
