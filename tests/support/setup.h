/* A network on the test device, ready for LSUV: the parsed cfg, kaiming
 * weights, an input batch and a forward with that input set. */
#ifndef LSUV_TEST_SETUP_H
#define LSUV_TEST_SETUP_H

#include "lsuv/forward.h"
#include "lsuv/input.h"
#include "lsuv/lsuv.h"
#include "lsuv/net.h"
#include "lsuv/weights.h"

#define TEST_FASTAI  LSUV_SOURCE_DIR "/nets/fastai-07a.cfg"
#define TEST_FASHION "idx:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

typedef struct setup {
    lsuv_net *net;
    lsuv_weights *weights;
    lsuv_batch batch;
    lsuv_forward *forward;
} setup;

/* cfg is a cfg's text, run on seeded synthetic input; NULL is
 * nets/fastai-07a.cfg on normalized Fashion-MNIST. fo sets the forward's
 * options (NULL: the defaults); its batch is always `batch`. Kaiming weights
 * drawn with seed. Fails the test on any error. */
setup setup_make(const char *cfg, uint32_t batch, uint64_t seed, const lsuv_forward_options *fo);
void setup_free(setup *s);
/* The outputs a run stored for its first 5 layers are, bit for bit, those
 * of a whole forward with its final weights (`what` names the case). */
void setup_expect_stored_as_whole(const setup *s, const lsuv_run *run, size_t what);
/* The weights the forward holds now (caller destroys). */
lsuv_weights *setup_weights_now(const setup *s);

#endif
