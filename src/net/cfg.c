#include "net/cfg.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_range(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

lsuv_status cfg_warn(cfg_warnings *w, const char *name, uint32_t line, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char **grown = realloc(w->text, (w->count + 1) * sizeof *grown);
    if (!grown) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    w->text = grown;
    size_t n = strlen(name) + strlen(text) + 32;
    if (!(w->text[w->count] = malloc(n)))
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    snprintf(w->text[w->count++], n, "%s:%u: %s", name, line, text);
    return LSUV_OK;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Shortens a line for a message, so a huge or binary line stays readable. */
static void quote(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src), keep = n < cap ? n : cap - 4;
    for (size_t i = 0; i < keep; ++i) dst[i] = (src[i] >= 32 && src[i] < 127) ? src[i] : '?';
    strcpy(dst + keep, n < cap ? "" : "...");
}

lsuv_status cfg_read(const char *name, const char *text, size_t size, cfg_file *out,
                     cfg_warnings *warnings) {
    memset(out, 0, sizeof *out);
    out->name = name;
    char *line = malloc(size + 1);
    if (!line) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_status status = LSUV_OK;
    uint32_t line_no = 0;
    size_t pos = 0;
    while (pos < size && status == LSUV_OK) {
        /* One line, every whitespace character dropped (as darknet's strip). */
        size_t n = 0;
        ++line_no;
        for (; pos < size && text[pos] != '\n'; ++pos)
            if (!is_space(text[pos])) line[n++] = text[pos];
        ++pos;
        line[n] = '\0';
        if (strlen(line) != n) {
            status = lsuv_fail(LSUV_ERROR_PARSE, "%s:%u: a NUL byte; is this a text file?", name,
                               line_no);
            break;
        }
        if (n == 0 || line[0] == '#' || line[0] == ';') continue;

        char shown[80];
        quote(shown, sizeof shown, line);
        if (line[0] == '[') {
            if (line[n - 1] != ']' || n < 3) {
                status = lsuv_fail(LSUV_ERROR_PARSE,
                                   "%s:%u: '%s': expected a section header such as [convolutional]",
                                   name, line_no, shown);
                break;
            }
            cfg_section *grown =
                realloc(out->sections, (out->n_sections + 1) * sizeof *out->sections);
            if (!grown) {
                status = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
                break;
            }
            out->sections = grown;
            cfg_section *s = &out->sections[out->n_sections++];
            memset(s, 0, sizeof *s);
            s->line = line_no;
            if (!(s->name = dup_range(line + 1, n - 2)))
                status = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq || eq == line) {
            status = lsuv_fail(LSUV_ERROR_PARSE, "%s:%u: '%s': expected key=value", name, line_no,
                               shown);
            break;
        }
        if (out->n_sections == 0) {
            status = lsuv_fail(LSUV_ERROR_PARSE,
                               "%s:%u: '%s': a key before the first section; expected [net] first",
                               name, line_no, shown);
            break;
        }
        cfg_section *s = &out->sections[out->n_sections - 1];
        size_t key_len = (size_t)(eq - line);
        const cfg_option *first = NULL;
        for (uint32_t i = 0; i < s->n_options && !first; ++i)
            if (strlen(s->options[i].key) == key_len &&
                memcmp(s->options[i].key, line, key_len) == 0)
                first = &s->options[i];
        if (first) {
            status = cfg_warn(warnings, name, line_no,
                              "'%s': %s is already set at line %u; the first value wins", shown,
                              first->key, first->line);
            continue;
        }
        cfg_option *grown = realloc(s->options, (s->n_options + 1) * sizeof *s->options);
        if (!grown) {
            status = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
            break;
        }
        s->options = grown;
        cfg_option *o = &s->options[s->n_options++];
        o->line = line_no;
        o->used = 0;
        o->key = dup_range(line, key_len);
        o->value = dup_range(eq + 1, strlen(eq + 1));
        if (!o->key || !o->value)
            status = lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    free(line);
    if (status != LSUV_OK) cfg_free(out);
    return status;
}

void cfg_free(cfg_file *cfg) {
    for (uint32_t i = 0; i < cfg->n_sections; ++i) {
        cfg_section *s = &cfg->sections[i];
        for (uint32_t j = 0; j < s->n_options; ++j) {
            free(s->options[j].key);
            free(s->options[j].value);
        }
        free(s->options);
        free(s->name);
    }
    free(cfg->sections);
    cfg->sections = NULL;
    cfg->n_sections = 0;
}
