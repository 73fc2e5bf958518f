/* JSON the programs wrote, read in tests: each getter fails the test,
 * naming the key, when the value is missing or of another type. */
#ifndef LSUV_TEST_JSON_READ_H
#define LSUV_TEST_JSON_READ_H

#include <cjson/cJSON.h>

/* The whole file parsed; the caller deletes it. */
cJSON *test_json_file(const char *path);
double test_json_num(const cJSON *o, const char *key);
const char *test_json_str(const cJSON *o, const char *key);

#endif
