/*
 * yamlpos.c - one libyaml event pass over a configuration file: reports YAML
 * syntax errors and the constructs opsbell refuses, and records where every
 * node starts, by path, for the diagnostics of later checks (see yamlpos.h).
 */
#include "config/yamlpos.h"

#include "config/config.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct yamlpos_entry {
    size_t path_off; /* into arena while building */
    const char *path;
    unsigned line, col;
    unsigned char is_key;
    size_t order;
};

struct yamlpos {
    struct yamlpos_entry *items;
    size_t count, cap;
    struct strbuf arena; /* NUL-separated paths and keys */
};

/* A key seen in some mapping, kept to find duplicate keys once parsing ends. */
struct yamlpos_key {
    size_t map_id;
    size_t text_off;
    const char *text;
    unsigned line, col;
    size_t order;
};

/* One open mapping or sequence. */
struct yamlpos_frame {
    int is_map;
    int want_key;        /* mapping: the next node is a key */
    size_t key_off;      /* mapping: arena offset of the pending key */
    unsigned next_index; /* sequence: index of the next entry */
    size_t parent_len;   /* length of the path before this node's component */
    size_t map_id;
};

struct yamlpos_builder {
    struct yamlpos *pos;
    const char *file;
    struct config_diags *diags;
    struct strbuf path;
    struct yamlpos_frame frames[YAMLPOS_MAX_DEPTH + 1];
    unsigned depth;
    struct yamlpos_key *keys;
    size_t key_count, key_cap;
    size_t next_map_id;
    unsigned documents;
    int failed;
    int oom;
};

static void yamlpos_report(struct yamlpos_builder *b, unsigned line, unsigned col, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

static void yamlpos_report(struct yamlpos_builder *b, unsigned line, unsigned col, const char *fmt,
                           ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    b->failed = 1;
    if (config_diags_add(b->diags, b->file, line, col, "%s", msg) != 0)
        b->oom = 1;
}

static size_t yamlpos_arena_add(struct yamlpos *pos, const char *s, size_t len)
{
    size_t off = pos->arena.len;

    strbuf_add(&pos->arena, s, len);
    strbuf_addch(&pos->arena, '\0');
    return off;
}

static int yamlpos_add_entry(struct yamlpos_builder *b, const yaml_mark_t *mark, int is_key)
{
    struct yamlpos *pos = b->pos;
    struct yamlpos_entry *e;

    if (pos->count == pos->cap) {
        size_t cap = pos->cap == 0 ? 64 : pos->cap * 2;
        struct yamlpos_entry *items = realloc(pos->items, cap * sizeof(*items));
        if (items == NULL)
            return OB_ENOMEM;
        pos->items = items;
        pos->cap = cap;
    }
    e = &pos->items[pos->count];
    e->path_off = yamlpos_arena_add(pos, strbuf_str(&b->path), b->path.len);
    e->path = NULL;
    e->line = (unsigned)mark->line + 1;
    e->col = (unsigned)mark->column + 1;
    e->is_key = (unsigned char)is_key;
    e->order = pos->count;
    pos->count++;
    return 0;
}

static int yamlpos_add_key(struct yamlpos_builder *b, size_t map_id, size_t text_off,
                           const yaml_mark_t *mark)
{
    struct yamlpos_key *k;

    if (b->key_count == b->key_cap) {
        size_t cap = b->key_cap == 0 ? 64 : b->key_cap * 2;
        struct yamlpos_key *keys = realloc(b->keys, cap * sizeof(*keys));
        if (keys == NULL)
            return OB_ENOMEM;
        b->keys = keys;
        b->key_cap = cap;
    }
    k = &b->keys[b->key_count];
    k->map_id = map_id;
    k->text_off = text_off;
    k->text = NULL;
    k->line = (unsigned)mark->line + 1;
    k->col = (unsigned)mark->column + 1;
    k->order = b->key_count;
    b->key_count++;
    return 0;
}

static void yamlpos_truncate(struct yamlpos_builder *b, size_t len)
{
    strbuf_grow(&b->path, 0); /* the buffer exists even for the root's empty path */
    b->path.len = len;
    b->path.buf[len] = '\0';
}

static void yamlpos_append_component(struct yamlpos_builder *b, const char *text)
{
    if (b->path.len > 0)
        strbuf_addch(&b->path, '.');
    strbuf_adds(&b->path, text);
}

/* A mapping key: remember it (for the value that follows, and for the
 * duplicate check) and record where it is. */
static int yamlpos_key_event(struct yamlpos_builder *b, struct yamlpos_frame *parent,
                             const yaml_event_t *ev)
{
    size_t saved = b->path.len;
    size_t off;
    int rc;

    if (ev->type != YAML_SCALAR_EVENT) {
        yamlpos_report(b, (unsigned)ev->start_mark.line + 1, (unsigned)ev->start_mark.column + 1,
                       "mapping keys must be plain strings, not lists, mappings or aliases");
        return OB_EINVAL;
    }
    off = yamlpos_arena_add(b->pos, (const char *)ev->data.scalar.value, ev->data.scalar.length);
    parent->key_off = off;
    parent->want_key = 0;
    /* The key text may hold a NUL; the path then ends there, harmlessly. */
    yamlpos_append_component(b, b->pos->arena.buf + off);
    rc = yamlpos_add_entry(b, &ev->start_mark, 1);
    yamlpos_truncate(b, saved);
    if (rc != 0)
        return rc;
    return yamlpos_add_key(b, parent->map_id, off, &ev->start_mark);
}

/* Any node that is not a key: scalar, alias, or the start of a collection. */
static int yamlpos_node_event(struct yamlpos_builder *b, const yaml_event_t *ev)
{
    struct yamlpos_frame *parent = b->depth > 0 ? &b->frames[b->depth - 1] : NULL;
    size_t saved = b->path.len;
    int is_collection =
        ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT;
    int rc;

    if (parent != NULL && parent->is_map && parent->want_key)
        return yamlpos_key_event(b, parent, ev);
    if (parent != NULL && parent->is_map) {
        yamlpos_append_component(b, b->pos->arena.buf + parent->key_off);
        parent->want_key = 1;
    } else if (parent != NULL) {
        char index[16];
        snprintf(index, sizeof(index), "%u", parent->next_index);
        parent->next_index++;
        yamlpos_append_component(b, index);
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        yamlpos_report(
            b, (unsigned)ev->start_mark.line + 1, (unsigned)ev->start_mark.column + 1,
            "aliases (*%s) are not supported in opsbell configuration; write the value out",
            (const char *)ev->data.alias.anchor);
    }
    rc = yamlpos_add_entry(b, &ev->start_mark, 0);
    if (rc != 0)
        return rc;
    if (!is_collection) {
        yamlpos_truncate(b, saved);
        return 0;
    }
    if (b->depth == YAMLPOS_MAX_DEPTH) {
        yamlpos_report(b, (unsigned)ev->start_mark.line + 1, (unsigned)ev->start_mark.column + 1,
                       "nesting deeper than %d levels is not supported", YAMLPOS_MAX_DEPTH);
        return OB_EINVAL;
    }
    b->frames[b->depth] = (struct yamlpos_frame){
        .is_map = ev->type == YAML_MAPPING_START_EVENT,
        .want_key = 1,
        .parent_len = saved,
        .map_id = b->next_map_id++,
    };
    b->depth++;
    return 0;
}

static void yamlpos_end_event(struct yamlpos_builder *b)
{
    if (b->depth == 0)
        return;
    b->depth--;
    yamlpos_truncate(b, b->frames[b->depth].parent_len);
}

/* Turn libyaml's error into a diagnostic.  Reader errors (bad UTF-8) carry
 * a byte offset rather than a mark. */
static void yamlpos_parse_error(struct yamlpos_builder *b, const yaml_parser_t *parser,
                                const char *data, size_t len)
{
    unsigned line = (unsigned)parser->problem_mark.line + 1;
    unsigned col = (unsigned)parser->problem_mark.column + 1;
    const char *problem = parser->problem != NULL ? parser->problem : "syntax error";

    if (parser->error == YAML_READER_ERROR) {
        size_t end = parser->problem_offset < len ? parser->problem_offset : len;
        line = 1;
        col = 1;
        for (size_t i = 0; i < end; i++) {
            if (data[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
    }
    if (parser->context != NULL)
        yamlpos_report(b, line, col, "invalid YAML: %s (%s that starts at line %u, column %u)",
                       problem, parser->context, (unsigned)parser->context_mark.line + 1,
                       (unsigned)parser->context_mark.column + 1);
    else
        yamlpos_report(b, line, col, "invalid YAML: %s", problem);
}

static int yamlpos_key_cmp(const void *a, const void *b)
{
    const struct yamlpos_key *x = a, *y = b;
    int c;

    if (x->map_id != y->map_id)
        return x->map_id < y->map_id ? -1 : 1;
    c = strcmp(x->text, y->text);
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void yamlpos_check_duplicate_keys(struct yamlpos_builder *b)
{
    if (b->key_count < 2)
        return;
    for (size_t i = 0; i < b->key_count; i++)
        b->keys[i].text = b->pos->arena.buf + b->keys[i].text_off;
    qsort(b->keys, b->key_count, sizeof(*b->keys), yamlpos_key_cmp);
    for (size_t i = 1; i < b->key_count; i++) {
        const struct yamlpos_key *first = &b->keys[i - 1];
        const struct yamlpos_key *k = &b->keys[i];
        if (k->map_id != first->map_id || strcmp(k->text, first->text) != 0)
            continue;
        /* Point back at the first occurrence even for a third one. */
        while (first > b->keys && first[-1].map_id == k->map_id &&
               strcmp(first[-1].text, k->text) == 0)
            first--;
        yamlpos_report(b, k->line, k->col, "duplicate key '%s' (first given at line %u)", k->text,
                       first->line);
    }
}

static int yamlpos_entry_cmp(const void *a, const void *b)
{
    const struct yamlpos_entry *x = a, *y = b;
    int c = strcmp(x->path, y->path);

    if (c != 0)
        return c;
    if (x->is_key != y->is_key)
        return x->is_key < y->is_key ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Paths become pointers only now: the arena moves while it grows. */
static void yamlpos_finish(struct yamlpos *pos)
{
    for (size_t i = 0; i < pos->count; i++)
        pos->items[i].path = pos->arena.buf + pos->items[i].path_off;
    if (pos->count > 1)
        qsort(pos->items, pos->count, sizeof(*pos->items), yamlpos_entry_cmp);
}

static int yamlpos_dispatch(struct yamlpos_builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        b->documents++;
        if (b->documents > 1) {
            yamlpos_report(b, (unsigned)ev->start_mark.line + 1,
                           (unsigned)ev->start_mark.column + 1,
                           "only one YAML document per file is supported");
            return OB_EINVAL;
        }
        return 0;
    case YAML_SCALAR_EVENT:
    case YAML_ALIAS_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        return yamlpos_node_event(b, ev);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        yamlpos_end_event(b);
        return 0;
    default:
        return 0;
    }
}

int yamlpos_build(const char *data, size_t len, const char *file, struct yamlpos **out,
                  struct config_diags *diags)
{
    struct yamlpos_builder b = {0};
    yaml_parser_t parser;
    int parser_ready = 0;
    int done = 0;
    int rc = 0;

    *out = NULL;
    b.file = file;
    b.diags = diags;
    strbuf_init(&b.path);
    b.pos = calloc(1, sizeof(*b.pos));
    if (b.pos == NULL)
        return OB_ENOMEM;
    strbuf_init(&b.pos->arena);
    if (!yaml_parser_initialize(&parser)) {
        rc = OB_ENOMEM;
        goto out;
    }
    parser_ready = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = OB_ENOMEM;
                goto out;
            }
            yamlpos_parse_error(&b, &parser, data, len);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = yamlpos_dispatch(&b, &ev);
        yaml_event_delete(&ev);
        if (rc == OB_ENOMEM)
            goto out;
        if (rc != 0)
            break;
    }
    rc = 0;
    if (!b.failed)
        yamlpos_check_duplicate_keys(&b);
    if (b.oom) {
        rc = OB_ENOMEM;
        goto out;
    }
    if (b.failed) {
        rc = OB_EINVAL;
        goto out;
    }
    yamlpos_finish(b.pos);
    *out = b.pos;
    b.pos = NULL;
out:
    if (parser_ready)
        yaml_parser_delete(&parser);
    strbuf_release(&b.path);
    free(b.keys);
    yamlpos_free(b.pos);
    return rc;
}

static const struct yamlpos_entry *yamlpos_lookup(const struct yamlpos *pos, const char *path,
                                                  int is_key)
{
    size_t lo = 0, hi;

    if (pos == NULL)
        return NULL;
    hi = pos->count;
    /* Lower bound, so that the first of equal entries (the first
     * occurrence in the file) wins. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct yamlpos_entry *e = &pos->items[mid];
        int c = strcmp(e->path, path);
        if (c == 0)
            c = (int)e->is_key - is_key;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < pos->count && strcmp(pos->items[lo].path, path) == 0 &&
        pos->items[lo].is_key == is_key)
        return &pos->items[lo];
    return NULL;
}

int yamlpos_find(const struct yamlpos *pos, const char *path, unsigned *line, unsigned *col)
{
    const struct yamlpos_entry *e = yamlpos_lookup(pos, path, 0);

    if (e == NULL)
        return OB_ENOTFOUND;
    *line = e->line;
    *col = e->col;
    return 0;
}

int yamlpos_find_key(const struct yamlpos *pos, const char *path, unsigned *line, unsigned *col)
{
    const struct yamlpos_entry *e = yamlpos_lookup(pos, path, 1);

    if (e == NULL)
        return OB_ENOTFOUND;
    *line = e->line;
    *col = e->col;
    return 0;
}

void yamlpos_locate(const struct yamlpos *pos, const char *path, int want_key, unsigned *line,
                    unsigned *col)
{
    char buf[256];
    char *dot;

    *line = 0;
    *col = 0;
    if (pos == NULL || path == NULL)
        return;
    if (want_key && yamlpos_find_key(pos, path, line, col) == 0)
        return;
    snprintf(buf, sizeof(buf), "%s", path);
    for (;;) {
        if (yamlpos_find(pos, buf, line, col) == 0)
            return;
        if (buf[0] == '\0')
            return;
        dot = strrchr(buf, '.');
        if (dot != NULL)
            *dot = '\0';
        else
            buf[0] = '\0';
    }
}

void yamlpos_free(struct yamlpos *pos)
{
    if (pos == NULL)
        return;
    free(pos->items);
    strbuf_release(&pos->arena);
    free(pos);
}
