#include "app/parse.h"

#include "app/exit_codes.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool app_parse_u64(const char *program, const char *what, const char *text, uint64_t min,
                   uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 10) : 0;
    if (!end || errno || *end || v < min) {
        fprintf(stderr, "%s: %s expects an integer of at least %llu, got '%s'\n", program, what,
                (unsigned long long)min, text);
        return false;
    }
    *out = v;
    return true;
}

const char *app_option_hint_of(const app_options *o, const char *name) {
    for (size_t i = 0; i < o->n_hints; ++i)
        if (strcmp(name, o->hints[i].name) == 0) return o->hints[i].hint;
    return "a path";
}

/* A long option's problem leaves optopt at the option's value (above 255 for
 * ours), which is no character to print. */
int app_option_problem(const app_options *o, const char *word) {
    const struct option *l = o->longs;
    while (l->name && l->val != optopt) ++l;
    if (optopt && l->name && strncmp(word, "--", 2) == 0) {
        if (strchr(word, '='))
            fprintf(stderr, "%s: --%s takes no value\n", o->program, l->name);
        else
            fprintf(stderr, "%s: --%s needs a value (%s)\n", o->program, l->name,
                    app_option_hint_of(o, l->name));
    } else if (optopt) {
        fprintf(stderr, "%s: option -%c is unknown; try '%s --help'\n", o->program, optopt,
                o->program);
    } else {
        fprintf(stderr, "%s: option '%s' is unknown; try '%s --help'\n", o->program, word,
                o->program);
    }
    return EXIT_USAGE;
}
