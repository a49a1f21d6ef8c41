/*
 * door_common.c - the parts every door shares (see door_internal.h).
 */
#include "ingest/door_internal.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting depth of containers: 0 for a scalar, 1 for a flat object or array.
 * Stops descending past limit, so that the recursion is bounded. */
static int json_depth(json_t *value, int limit)
{
    int deepest = 0;

    if (!json_is_object(value) && !json_is_array(value))
        return 0;
    if (limit <= 0)
        return 1;
    if (json_is_object(value)) {
        const char *key;
        json_t *member;
        json_object_foreach(value, key, member)
        {
            int d = json_depth(member, limit - 1);
            if (d > deepest)
                deepest = d;
        }
    } else {
        size_t i;
        json_t *member;
        json_array_foreach(value, i, member)
        {
            int d = json_depth(member, limit - 1);
            if (d > deepest)
                deepest = d;
        }
    }
    return deepest + 1;
}

int door_json_load(const char *body, size_t len, json_t **out, struct ob_error *err)
{
    json_error_t jerr;
    json_t *root;

    *out = NULL;
    if (body == NULL || len == 0)
        return ob_fail(err, OB_EINVAL, "request body is empty; JSON is expected");
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return ob_fail(err, OB_EINVAL, "malformed JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    if (json_depth(root, DOOR_JSON_MAX_DEPTH + 1) > DOOR_JSON_MAX_DEPTH) {
        json_decref(root);
        return ob_fail(err, OB_EINVAL, "JSON nested deeper than %d levels", DOOR_JSON_MAX_DEPTH);
    }
    *out = root;
    return 0;
}

void door_path(char *buf, size_t cap, const char *prefix, const char *field)
{
    if (prefix == NULL || prefix[0] == '\0')
        snprintf(buf, cap, "%.100s", field);
    else
        snprintf(buf, cap, "%s.%.100s", prefix, field);
}

void door_path_index(char *buf, size_t cap, const char *prefix, size_t index)
{
    snprintf(buf, cap, "%s[%zu]", prefix, index);
}

size_t door_utf8_chars(const char *text)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if ((*p & 0xc0) != 0x80)
            n++;
    }
    return n;
}

void door_utf8_truncate(char *text, size_t max_bytes)
{
    size_t len = strlen(text);

    if (len <= max_bytes)
        return;
    len = max_bytes;
    /* Back off over continuation bytes to the start of the cut sequence. */
    while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
        len--;
    text[len] = '\0';
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool door_label_name_valid(const char *name)
{
    if (name == NULL || !is_name_start(name[0]))
        return false;
    for (const char *p = name + 1; *p != '\0'; p++) {
        if (!is_name_start(*p) && !(*p >= '0' && *p <= '9'))
            return false;
    }
    return true;
}

int door_strdup(const char *s, char **out, struct ob_error *err)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    *out = strdup(s);
    if (*out == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    return 0;
}

int door_get_string(json_t *obj, const char *prefix, const char *key, size_t max_bytes,
                    const char **out, struct ob_error *err)
{
    json_t *value = json_object_get(obj, key);
    char path[DOOR_PATH_MAX];

    *out = NULL;
    if (value == NULL || json_is_null(value))
        return 0;
    door_path(path, sizeof(path), prefix, key);
    if (!json_is_string(value))
        return ob_fail(err, OB_EINVAL, "%s must be a string", path);
    /* jansson refuses \u0000 without JSON_ALLOW_NUL; checked all the same. */
    if (strlen(json_string_value(value)) != json_string_length(value))
        return ob_fail(err, OB_EINVAL, "%s contains a NUL character", path);
    if (json_string_length(value) > max_bytes)
        return ob_fail(err, OB_EINVAL, "%s is longer than %zu bytes", path, max_bytes);
    *out = json_string_value(value);
    return 0;
}

void door_labels_free(struct alert_label *labels, size_t count)
{
    if (labels == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free(labels[i].name);
        free(labels[i].value);
    }
    free(labels);
}

static int label_cmp(const void *a, const void *b)
{
    const struct alert_label *la = a;
    const struct alert_label *lb = b;

    return strcmp(la->name, lb->name);
}

void door_labels_sort(struct alert_label *labels, size_t count)
{
    if (count > 1)
        qsort(labels, count, sizeof(*labels), label_cmp);
}

int door_parse_set(json_t *value, const char *path, enum door_set_kind kind,
                   struct alert_label **out, size_t *count, struct ob_error *err)
{
    const char *what = kind == DOOR_SET_LABELS ? "labels" : "annotations";
    size_t max_count = kind == DOOR_SET_LABELS ? ALERT_MAX_LABELS : ALERT_MAX_ANNOTATIONS;
    size_t value_max = kind == DOOR_SET_LABELS ? ALERT_LABEL_VALUE_MAX : ALERT_ANNOTATION_VALUE_MAX;
    struct alert_label *items = NULL;
    size_t n = 0;
    size_t size;
    const char *key;
    json_t *member;
    int rc = 0;

    *out = NULL;
    *count = 0;
    if (value == NULL || json_is_null(value))
        return 0;
    if (!json_is_object(value))
        return ob_fail(err, OB_EINVAL, "%s must be an object of strings", path);
    size = json_object_size(value);
    /* Checked before anything is copied: a body with 100,000 labels costs
     * one count. */
    if (size > max_count)
        return ob_fail(err, OB_EINVAL, "%s has %zu %s; at most %zu are allowed", path, size, what,
                       max_count);
    if (size == 0)
        return 0;
    items = calloc(size, sizeof(*items));
    if (items == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    json_object_foreach(value, key, member)
    {
        size_t key_len = strlen(key);
        if (key_len > ALERT_LABEL_NAME_MAX) {
            rc = ob_fail(err, OB_EINVAL, "%s: name '%.64s...' is longer than %d bytes", path, key,
                         ALERT_LABEL_NAME_MAX);
            goto out;
        }
        if (!door_label_name_valid(key)) {
            rc = ob_fail(err, OB_EINVAL,
                         "%s: invalid name '%.64s' (names must match [a-zA-Z_][a-zA-Z0-9_]*)", path,
                         key);
            goto out;
        }
        if (!json_is_string(member)) {
            rc = ob_fail(err, OB_EINVAL, "%s.%s must be a string", path, key);
            goto out;
        }
        if (strlen(json_string_value(member)) != json_string_length(member)) {
            rc = ob_fail(err, OB_EINVAL, "%s.%s contains a NUL character", path, key);
            goto out;
        }
        if (json_string_length(member) > value_max) {
            rc = ob_fail(err, OB_EINVAL, "%s.%s is longer than %zu bytes", path, key, value_max);
            goto out;
        }
        items[n].name = strdup(key);
        items[n].value = strdup(json_string_value(member));
        n++;
        if (items[n - 1].name == NULL || items[n - 1].value == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
    }
    /* Names of one JSON object are unique (JSON_REJECT_DUPLICATES). */
    door_labels_sort(items, n);
    *out = items;
    *count = n;
    items = NULL;
out:
    if (items != NULL)
        door_labels_free(items, n);
    return rc;
}

int door_check_start(int64_t starts_ms, int64_t now_ms, const char *what, struct ob_error *err)
{
    if (starts_ms == 0)
        return 0;
    if (starts_ms < DOOR_TIME_MIN_MS)
        return ob_fail(err, OB_EINVAL, "%s is before 2000-01-01", what);
    if (starts_ms > now_ms && starts_ms - now_ms > DOOR_FUTURE_MAX_MS)
        return ob_fail(err, OB_EINVAL, "%s is more than 24 hours in the future", what);
    return 0;
}

int door_dump_details(json_t *value, const char *what, char **out, struct ob_error *err)
{
    char *text;

    *out = NULL;
    /* 15 significant digits print what senders wrote (0.07, not jansson's
     * default 0.070000000000000007); details are for people to read. */
    text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (text == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    if (strlen(text) > ALERT_DETAILS_MAX) {
        free(text);
        return ob_fail(err, OB_EINVAL, "%s is larger than %d bytes as compact JSON", what,
                       ALERT_DETAILS_MAX);
    }
    *out = text;
    return 0;
}

int door_set_summary(struct alert_event *ev, const char *text, struct ob_error *err)
{
    int rc = door_strdup(text != NULL ? text : "", &ev->summary, err);

    if (rc == 0)
        door_utf8_truncate(ev->summary, ALERT_SUMMARY_MAX);
    return rc;
}

int door_batch_alloc(struct alert_batch *batch, size_t count, struct ob_error *err)
{
    batch->events = NULL;
    batch->count = 0;
    if (count == 0)
        return 0;
    batch->events = calloc(count, sizeof(*batch->events));
    if (batch->events == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    return 0;
}

int door_check_batch_size(size_t count, const char *what, struct ob_error *err)
{
    if (count > ALERT_BATCH_MAX)
        return ob_fail(err, OB_EINVAL, "%zu %s in one request; at most %d are allowed", count, what,
                       ALERT_BATCH_MAX);
    return 0;
}
