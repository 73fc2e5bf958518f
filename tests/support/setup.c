#include "support/setup.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/gpu.h"

setup setup_make(const char *cfg, uint32_t batch, uint64_t seed, const lsuv_forward_options *fo) {
    setup s = {0};
    if (cfg)
        TEST_OK(lsuv_net_parse("test.cfg", cfg, strlen(cfg), NULL, &s.net));
    else
        TEST_OK(lsuv_net_load(TEST_FASTAI, NULL, &s.net));
    TEST_OK(lsuv_weights_init(s.net, LSUV_INIT_KAIMING, seed, &s.weights));
    lsuv_input_options io = {
        .spec = cfg ? "synthetic" : TEST_FASHION, .batch = batch, .seed = seed, .normalize = !cfg};
    TEST_OK(lsuv_input_load(&io, s.net, &s.batch));
    lsuv_forward_options o = fo ? *fo : (lsuv_forward_options){0};
    o.batch = batch;
    TEST_OK(lsuv_forward_create(gpu.device, s.net, s.weights, &o, &s.forward));
    TEST_OK(lsuv_forward_set_input(s.forward, &s.batch));
    return s;
}

void setup_free(setup *s) {
    lsuv_forward_destroy(s->forward);
    lsuv_batch_free(&s->batch);
    lsuv_weights_destroy(s->weights);
    lsuv_net_destroy(s->net);
}

lsuv_weights *setup_weights_now(const setup *s) {
    lsuv_weights *w = NULL;
    TEST_OK(lsuv_weights_create(s->net, &w));
    TEST_OK(lsuv_forward_weights_read(s->forward, w));
    return w;
}

void setup_expect_stored_as_whole(const setup *s, const lsuv_run *run, size_t what) {
    float *kept[5], *whole = NULL;
    size_t counts[5];
    uint32_t n = s->batch.n;
    for (uint32_t l = 0; l < 5; ++l) {
        const lsuv_layer *layer = &s->net->layers[run->layers[l].index];
        counts[l] = (size_t)n * layer->out.c * layer->out.h * layer->out.w;
        cr_assert(kept[l] = malloc(counts[l] * sizeof **kept));
        TEST_OK(lsuv_forward_read(s->forward, run->layers[l].index, kept[l]));
    }
    TEST_OK(lsuv_forward_run(s->forward, 0, run->layers[4].index, false));
    for (uint32_t l = 0; l < 5; ++l) {
        cr_assert(whole = realloc(whole, counts[l] * sizeof *whole));
        TEST_OK(lsuv_forward_read(s->forward, run->layers[l].index, whole));
        size_t differ = 0;
        for (size_t k = 0; k < counts[l]; ++k) differ += memcmp(&kept[l][k], &whole[k], 4) != 0;
        cr_assert_eq(differ, 0, "case %zu, layer %u: %zu of %zu outputs differ", what, l, differ,
                     counts[l]);
        free(kept[l]);
    }
    free(whole);
}
