#include "support/json_read.h"

#include "core/file.h"

#include <criterion/criterion.h>
#include <stdlib.h>

cJSON *test_json_file(const char *path) {
    char *text;
    size_t n;
    cr_assert_eq(lsuv_file_read_all(path, 1 << 26, &text, &n), LSUV_OK, "%s", path);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root, "%s is not JSON", path);
    return root;
}

double test_json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    cr_assert(cJSON_IsNumber(v), "no number '%s'", key);
    return v->valuedouble;
}

const char *test_json_str(const cJSON *o, const char *key) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
    cr_assert_not_null(s, "no string '%s'", key);
    return s;
}
