/* Runs one of the built programs and captures what it prints. */
#ifndef LSUV_TEST_SPAWN_H
#define LSUV_TEST_SPAWN_H

typedef struct spawn_result {
    int exit_code; /* -1 when killed by a signal */
    char *out, *err;
} spawn_result;

/* argv ends with NULL; env holds "NAME=value" entries set on top of this
 * process's environment (NULL for none). */
spawn_result spawn_run(const char *const *argv, const char *const *env);
void spawn_result_free(spawn_result *r);

#endif
