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

/* The keys of the section being read, hashed so a duplicate is found in a
 * few probes: comparing each key with every earlier one took 15 s for a
 * section of 50,000 keys. Open addressing, linear probing, at most half
 * full. */
typedef struct key_index {
    uint32_t *slots;      /* an option's index + 1; 0 is empty */
    uint32_t n_slots;     /* a power of two */
    uint32_t options_cap; /* allocated options of the section */
} key_index;

static uint32_t hash_key(const char *key, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; ++i) h = (h ^ (uint8_t)key[i]) * 16777619u;
    return h;
}

/* The option of s with this key, or the empty slot where it would go. */
static uint32_t *probe(const key_index *ix, const cfg_section *s, const char *key, size_t n,
                       uint64_t *compares) {
    uint32_t mask = ix->n_slots - 1;
    for (uint32_t i = hash_key(key, n) & mask;; i = (i + 1) & mask) {
        if (!ix->slots[i]) return &ix->slots[i];
        const char *k = s->options[ix->slots[i] - 1].key;
        ++*compares;
        if (strncmp(k, key, n) == 0 && k[n] == '\0') return &ix->slots[i];
    }
}

/* Room for one more option in s, and slots to keep the index half full. */
static lsuv_status index_reserve(key_index *ix, cfg_section *s) {
    if (s->n_options == ix->options_cap) {
        uint32_t cap = ix->options_cap ? ix->options_cap * 2 : 16;
        cfg_option *grown = realloc(s->options, (size_t)cap * sizeof *grown);
        if (!grown) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
        s->options = grown;
        ix->options_cap = cap;
    }
    if ((uint64_t)(s->n_options + 1) * 2 <= ix->n_slots) return LSUV_OK;
    uint32_t n_slots = ix->n_slots ? ix->n_slots * 2 : 32;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    free(ix->slots);
    *ix = (key_index){slots, n_slots, ix->options_cap};
    uint64_t ignored = 0;
    for (uint32_t i = 0; i < s->n_options; ++i) {
        const char *k = s->options[i].key;
        *probe(ix, s, k, strlen(k), &ignored) = i + 1;
    }
    return LSUV_OK;
}

/* Adds key=value (the key is line[0, key_len)) to the last section, or warns
 * that the key is already set there. */
static lsuv_status add_option(cfg_file *out, key_index *ix, const char *line, size_t key_len,
                              uint32_t line_no, const char *shown, cfg_warnings *warnings) {
    cfg_section *s = &out->sections[out->n_sections - 1];
    lsuv_status status = index_reserve(ix, s);
    if (status != LSUV_OK) return status;
    uint32_t *slot = probe(ix, s, line, key_len, &out->key_compares);
    if (*slot) {
        const cfg_option *first = &s->options[*slot - 1];
        return cfg_warn(warnings, out->name, line_no,
                        "'%s': %s is already set at line %u; the first value wins", shown,
                        first->key, first->line);
    }
    cfg_option *o = &s->options[s->n_options];
    o->line = line_no;
    o->used = 0;
    o->key = dup_range(line, key_len);
    o->value = dup_range(line + key_len + 1, strlen(line + key_len + 1));
    if (!o->key || !o->value) {
        free(o->key);
        free(o->value);
        return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    *slot = ++s->n_options;
    return LSUV_OK;
}

lsuv_status cfg_read(const char *name, const char *text, size_t size, cfg_file *out,
                     cfg_warnings *warnings) {
    memset(out, 0, sizeof *out);
    out->name = name;
    char *line = malloc(size + 1);
    if (!line) return lsuv_fail(LSUV_ERROR_OUT_OF_MEMORY, "out of host memory");
    lsuv_status status = LSUV_OK;
    key_index ix = {0};
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
            free(ix.slots);
            ix = (key_index){0};
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
        status = add_option(out, &ix, line, (size_t)(eq - line), line_no, shown, warnings);
    }
    free(ix.slots);
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
