#include "support/spawn.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(FILE *f) {
    fflush(f);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    char *text = malloc((size_t)n + 1);
    cr_assert_not_null(text);
    rewind(f);
    size_t got = fread(text, 1, (size_t)n, f);
    text[got] = '\0';
    fclose(f);
    return text;
}

spawn_result spawn_run(const char *const *argv, const char *const *env) {
    FILE *out = tmpfile(), *err = tmpfile();
    cr_assert(out && err, "tmpfile failed");
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        for (const char *const *e = env; e && *e; ++e) putenv((char *)*e);
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    spawn_result r = {WIFEXITED(status) ? WEXITSTATUS(status) : -1, NULL, NULL};
    fseek(out, 0, SEEK_END);
    fseek(err, 0, SEEK_END);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

void spawn_result_free(spawn_result *r) {
    free(r->out);
    free(r->err);
}
