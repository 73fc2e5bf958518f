/* Where the tests find networks: the repository's own cfgs, and darknet's
 * real files only where LSUV_DARKNET_CFG_DIR names a folder of them. */
#ifndef LSUV_TEST_NETS_H
#define LSUV_TEST_NETS_H

#define NETS LSUV_SOURCE_DIR "/nets/"

/* The path of darknet's NAME (e.g. "alexnet.cfg") in LSUV_DARKNET_CFG_DIR.
 * When the variable is unset or empty the calling test is skipped with that
 * reason: a clone without darknet's files still runs every other test. The
 * path stays valid until the next call. */
const char *darknet_cfg(const char *name);

#endif
