/* lsuv-bench --merge: the shards of one study joined into the whole. */
#include "study.h"
#include "study_report.h"

#include "app/exit_codes.h"
#include "core/file.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where each case of the whole study comes from. */
typedef struct merge_state {
    cJSON **docs;
    int n_docs;
    size_t total;
    int *owner;          /* per case: the shard holding it, -1 none */
    const cJSON **cases; /* per case */
    cJSON **rows;        /* per case: an array of its rows, in the shard's order */
} merge_state;

static cJSON *load(const char *path) {
    char *text;
    size_t size;
    if (lsuv_file_read_all(path, (size_t)1 << 31, &text, &size) != LSUV_OK) {
        fprintf(stderr, "lsuv-bench: --merge: %s\n", lsuv_error_message());
        return NULL;
    }
    cJSON *doc = cJSON_ParseWithLength(text, size);
    if (!doc) {
        const char *at = cJSON_GetErrorPtr();
        fprintf(stderr, "lsuv-bench: --merge: %s: not JSON (at byte %td)\n", path,
                at && at >= text && at <= text + size ? at - text : (ptrdiff_t)0);
    }
    free(text);
    if (doc && !study_check(doc, path)) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

static size_t cases_total(const cJSON *doc) {
    return (size_t)cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "meta"), "cases_total")
        ->valuedouble;
}

static size_t index_of(const cJSON *o) {
    return (size_t)cJSON_GetObjectItem(o, "case")->valuedouble;
}

/* Shard s's cases into the table: refused when one is out of range or
 * already there. */
static int take_cases(merge_state *m, int s, const char *const *paths) {
    for (const cJSON *c = cJSON_GetObjectItem(m->docs[s], "cases")->child; c; c = c->next) {
        size_t i = index_of(c);
        if (i >= m->total) {
            fprintf(stderr, "lsuv-bench: --merge: %s: case %zu is past meta.cases_total (%zu)\n",
                    paths[s], i, m->total);
            return EXIT_USAGE;
        }
        if (m->owner[i] >= 0) {
            fprintf(stderr, "lsuv-bench: --merge: case %zu is in both %s and %s\n", i,
                    paths[m->owner[i]], paths[s]);
            return EXIT_USAGE;
        }
        m->owner[i] = s;
        m->cases[i] = c;
    }
    return EXIT_OK;
}

/* Shard s's rows by case: each must belong to one of the shard's cases. */
static int take_rows(merge_state *m, int s, const char *const *paths) {
    int k = 0;
    for (const cJSON *r = cJSON_GetObjectItem(m->docs[s], "rows")->child; r; r = r->next, ++k) {
        size_t i = index_of(r);
        if (i >= m->total || m->owner[i] != s) {
            fprintf(stderr, "lsuv-bench: --merge: %s: rows[%d] is of case %zu, which %s has not\n",
                    paths[s], k, i, paths[s]);
            return EXIT_USAGE;
        }
        if (!m->rows[i] && !(m->rows[i] = cJSON_CreateArray())) return EXIT_RUNTIME;
        cJSON_AddItemReferenceToArray(m->rows[i], (cJSON *)r);
    }
    return EXIT_OK;
}

static int check_complete(const merge_state *m) {
    size_t missing = 0;
    for (size_t i = 0; i < m->total; ++i) missing += m->owner[i] < 0;
    if (!missing) return EXIT_OK;
    fprintf(stderr, "lsuv-bench: --merge: %zu of %zu cases are in no shard:", missing, m->total);
    size_t shown = 0;
    for (size_t i = 0; i < m->total && shown < 10; ++i)
        if (m->owner[i] < 0) fprintf(stderr, "%s %zu", shown++ ? "," : "", i);
    fprintf(stderr, "%s\n", missing > shown ? ", ..." : "");
    return EXIT_USAGE;
}

/* lsuv-bench --merge A.json ... --out DIR, as results record commands. */
static char *merge_command(const char *const *paths, int n, const char *out_dir) {
    char *cmd = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cmd, &len);
    for (int i = -1; f && i <= n; ++i) {
        const char *word = i < 0 ? "lsuv-bench --merge" : i < n ? paths[i] : out_dir;
        char shown[PATH_MAX];
        snprintf(shown, sizeof shown, "%s", word);
        if (word[0] == '/') bench_shown_path(word, shown, sizeof shown);
        const char *quote = i >= 0 && strpbrk(shown, " \t'\"") ? "'" : "";
        fprintf(f, "%s%s%s%s%s", i < 0 ? "" : " ", i == n ? "--out " : "", quote, shown, quote);
    }
    if (f && fclose(f) != 0) {
        free(cmd);
        cmd = NULL;
    }
    return cmd;
}

/* In place where key is there, else at the end. */
static void set_item(cJSON *o, const char *key, cJSON *item) {
    if (cJSON_HasObjectItem(o, key))
        cJSON_ReplaceItemInObject(o, key, item);
    else
        cJSON_AddItemToObject(o, key, item);
}

/* The whole study: the first shard's other keys (or a later shard's, where
 * the first lacks one), the cases and their rows in case order. */
static cJSON *merged(const merge_state *m, const char *command) {
    cJSON *doc = cJSON_CreateObject();
    for (int s = 0; s < m->n_docs; ++s)
        for (const cJSON *item = m->docs[s]->child; item; item = item->next) {
            const char *key = item->string;
            if (strcmp(key, "cases") && strcmp(key, "rows") && strcmp(key, "summary") &&
                !cJSON_HasObjectItem(doc, key))
                cJSON_AddItemToObject(doc, key, cJSON_Duplicate(item, true));
        }
    cJSON *meta = cJSON_GetObjectItem(doc, "meta");
    set_item(meta, "shard", cJSON_CreateNull());
    set_item(meta, "command", cJSON_CreateString(command));
    cJSON *cases = cJSON_AddArrayToObject(doc, "cases"),
          *rows = cJSON_AddArrayToObject(doc, "rows");
    for (size_t i = 0; i < m->total; ++i) {
        cJSON_AddItemToArray(cases, cJSON_Duplicate(m->cases[i], true));
        for (const cJSON *r = m->rows[i] ? m->rows[i]->child : NULL; r; r = r->next)
            cJSON_AddItemToArray(rows, cJSON_Duplicate(r, true));
    }
    return doc;
}

static int join(merge_state *m, const char *const *paths) {
    for (int s = 0; s < m->n_docs; ++s) {
        if (!(m->docs[s] = load(paths[s]))) return EXIT_USAGE;
        size_t total = cases_total(m->docs[s]);
        if (s > 0 && total != m->total) {
            fprintf(stderr,
                    "lsuv-bench: --merge: %s: meta.cases_total is %zu, but %s's is %zu: not "
                    "shards of one study\n",
                    paths[s], total, paths[0], m->total);
            return EXIT_USAGE;
        }
        if (s == 0) {
            m->total = total;
            m->owner = malloc((total ? total : 1) * sizeof *m->owner);
            m->cases = calloc(total ? total : 1, sizeof *m->cases);
            m->rows = calloc(total ? total : 1, sizeof *m->rows);
            if (!m->owner || !m->cases || !m->rows) return EXIT_RUNTIME;
            for (size_t i = 0; i < total; ++i) m->owner[i] = -1;
        }
        int code = take_cases(m, s, paths);
        if (!code) code = take_rows(m, s, paths);
        if (code) return code;
    }
    return check_complete(m);
}

int study_merge(const char *const *paths, int n_paths, const char *out_dir) {
    if (n_paths < 1 || !out_dir) {
        fprintf(stderr, "lsuv-bench: --merge expects shards' study.json files and --out DIR\n");
        return EXIT_USAGE;
    }
    merge_state m = {.docs = calloc((size_t)n_paths, sizeof *m.docs), .n_docs = n_paths};
    int code = m.docs ? join(&m, paths) : EXIT_RUNTIME;
    if (code == EXIT_RUNTIME) fprintf(stderr, "lsuv-bench: --merge: out of memory\n");
    char *command = code ? NULL : merge_command(paths, n_paths, out_dir);
    cJSON *doc = command ? merged(&m, command) : NULL;
    if (!code) code = doc ? study_finish(doc, out_dir) : EXIT_RUNTIME;
    cJSON_Delete(doc);
    free(command);
    for (size_t i = 0; m.rows && i < m.total; ++i) cJSON_Delete(m.rows[i]);
    for (int s = 0; m.docs && s < n_paths; ++s) cJSON_Delete(m.docs[s]);
    free(m.docs);
    free(m.owner);
    free(m.cases);
    free(m.rows);
    return code;
}
