/*
 * door_generic.c - POST /api/v1/alerts (and `opsbell alert send`): opsbell's
 * own form, one object or an array of them:
 *
 *   {"service": "...", "integration_key": "...", "summary": "...",
 *    "severity": "critical|error|warning|info", "action":
 *    "trigger|resolve|acknowledge", "dedup_key": "...", "labels": {...},
 *    "annotations": {...}, "details": {...}, "source": "..."}
 *
 * Strict, since it is ours: unknown members are refused. summary is required
 * for a trigger; a resolve or acknowledge finds its alert by dedup_key or by
 * labels, so it needs one of them. severity defaults to error, action to
 * trigger, source to "generic".
 */
#include "ingest/door.h"
#include "ingest/door_internal.h"

#include "util/error.h"

#include <stdio.h>
#include <string.h>

#define GENERIC_DEFAULT_SOURCE "generic"

static const char *const generic_fields[] = {
    "service", "integration_key", "summary", "severity", "action", "dedup_key",
    "labels",  "annotations",     "details", "source",   NULL,
};

/* "prefix: " for messages about an element of an array, "" otherwise. */
static const char *where_sep(const char *prefix)
{
    return prefix[0] != '\0' ? ": " : "";
}

static int generic_known_fields(json_t *obj, const char *prefix, struct ob_error *err)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value)
    {
        int known = 0;
        for (const char *const *f = generic_fields; *f != NULL; f++) {
            if (strcmp(*f, key) == 0) {
                known = 1;
                break;
            }
        }
        if (!known)
            return ob_fail(err, OB_EINVAL, "%s%sunknown field '%.64s'", prefix, where_sep(prefix),
                           key);
    }
    return 0;
}

static int generic_action(json_t *obj, const char *prefix, struct alert_event *ev,
                          struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    const char *action;
    int rc = door_get_string(obj, prefix, "action", 32, &action, err);

    door_path(field, sizeof(field), prefix, "action");
    if (rc != 0)
        return ob_fail(err, OB_EINVAL, "%s must be trigger, resolve or acknowledge", field);
    ev->action = ALERT_TRIGGER;
    if (action == NULL || strcmp(action, "trigger") == 0)
        return 0;
    if (strcmp(action, "resolve") == 0)
        ev->action = ALERT_RESOLVE;
    else if (strcmp(action, "acknowledge") == 0)
        ev->action = ALERT_ACKNOWLEDGE;
    else
        return ob_fail(err, OB_EINVAL, "%s must be trigger, resolve or acknowledge, not '%s'",
                       field, action);
    return 0;
}

static int generic_severity(json_t *obj, const char *prefix, struct alert_event *ev,
                            struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    const char *severity;
    int rc = door_get_string(obj, prefix, "severity", 32, &severity, err);

    door_path(field, sizeof(field), prefix, "severity");
    if (rc != 0)
        return ob_fail(err, OB_EINVAL, "%s must be critical, error, warning or info", field);
    ev->severity = SEVERITY_ERROR;
    if (severity != NULL && alert_severity_parse(severity, &ev->severity) != 0)
        return ob_fail(err, OB_EINVAL, "%s must be critical, error, warning or info, not '%s'",
                       field, severity);
    return 0;
}

/* An optional string member copied into *dst; "" counts as absent. */
static int generic_copy(json_t *obj, const char *prefix, const char *key, size_t max_bytes,
                        char **dst, struct ob_error *err)
{
    const char *s;
    int rc = door_get_string(obj, prefix, key, max_bytes, &s, err);

    if (rc != 0 || s == NULL || s[0] == '\0')
        return rc;
    return door_strdup(s, dst, err);
}

static int generic_dedup_key(json_t *obj, const char *prefix, struct alert_event *ev,
                             struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    const char *key;
    int rc = door_get_string(obj, prefix, "dedup_key", ALERT_DEDUP_KEY_MAX * 4, &key, err);

    door_path(field, sizeof(field), prefix, "dedup_key");
    if (rc != 0 || key == NULL || key[0] == '\0')
        return rc == 0 ? 0
                       : ob_fail(err, OB_EINVAL, "%s must be a string of at most %d characters",
                                 field, ALERT_DEDUP_KEY_MAX);
    if (door_utf8_chars(key) > ALERT_DEDUP_KEY_MAX)
        return ob_fail(err, OB_EINVAL, "%s is longer than %d characters", field,
                       ALERT_DEDUP_KEY_MAX);
    return door_strdup(key, &ev->dedup_key, err);
}

static int generic_summary(json_t *obj, const char *prefix, struct alert_event *ev,
                           struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    const char *summary;
    /* Longer summaries are cut, not refused; the body cap bounds them. */
    int rc = door_get_string(obj, prefix, "summary", SIZE_MAX, &summary, err);

    if (rc != 0)
        return rc;
    if (ev->action == ALERT_TRIGGER && (summary == NULL || summary[0] == '\0')) {
        door_path(field, sizeof(field), prefix, "summary");
        return ob_fail(err, OB_EINVAL, "%s is required for a trigger", field);
    }
    return door_set_summary(ev, summary, err);
}

static int generic_details(json_t *obj, const char *prefix, struct alert_event *ev,
                           struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    json_t *details = json_object_get(obj, "details");

    if (details == NULL || json_is_null(details))
        return 0;
    door_path(field, sizeof(field), prefix, "details");
    if (!json_is_object(details))
        return ob_fail(err, OB_EINVAL, "%s must be an object", field);
    return door_dump_details(details, field, &ev->details_json, err);
}

/* One alert object at prefix into ev (zeroed by the caller, released by the
 * caller on failure). */
static int generic_parse_one(json_t *obj, const char *prefix, struct alert_event *ev,
                             struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    int rc;

    ev->source = SOURCE_GENERIC;
    if (!json_is_object(obj))
        return ob_fail(err, OB_EINVAL, "%s must be an object", prefix);
    rc = generic_known_fields(obj, prefix, err);
    if (rc == 0)
        rc = generic_action(obj, prefix, ev, err);
    if (rc == 0)
        rc = generic_severity(obj, prefix, ev, err);
    if (rc == 0)
        rc = generic_copy(obj, prefix, "service", DOOR_NAME_MAX, &ev->service, err);
    if (rc == 0)
        rc = generic_copy(obj, prefix, "integration_key", DOOR_NAME_MAX, &ev->integration_key, err);
    if (rc == 0)
        rc = generic_dedup_key(obj, prefix, ev, err);
    if (rc == 0)
        rc = generic_summary(obj, prefix, ev, err);
    if (rc == 0) {
        door_path(field, sizeof(field), prefix, "labels");
        rc = door_parse_set(json_object_get(obj, "labels"), field, DOOR_SET_LABELS, &ev->labels,
                            &ev->label_count, err);
    }
    if (rc == 0) {
        door_path(field, sizeof(field), prefix, "annotations");
        rc = door_parse_set(json_object_get(obj, "annotations"), field, DOOR_SET_ANNOTATIONS,
                            &ev->annotations, &ev->annotation_count, err);
    }
    if (rc == 0)
        rc = generic_details(obj, prefix, ev, err);
    if (rc == 0)
        rc = generic_copy(obj, prefix, "source", DOOR_TEXT_MAX, &ev->source_name, err);
    if (rc == 0 && ev->source_name == NULL)
        rc = door_strdup(GENERIC_DEFAULT_SOURCE, &ev->source_name, err);
    if (rc != 0)
        return rc;
    if (ev->action != ALERT_TRIGGER && ev->dedup_key == NULL && ev->label_count == 0)
        return ob_fail(err, OB_EINVAL, "%s%sa%s %s needs dedup_key or labels to find its alert",
                       prefix, where_sep(prefix), ev->action == ALERT_ACKNOWLEDGE ? "n" : "",
                       alert_action_name(ev->action));
    alert_fingerprint(ev->labels, ev->label_count, ev->fingerprint);
    return 0;
}

int door_parse_generic(const char *body, size_t len, int64_t now_ms, struct alert_batch *out,
                       struct ob_error *err)
{
    struct alert_batch batch = {NULL, 0};
    json_t *root = NULL;
    size_t n;
    int rc;

    out->events = NULL;
    out->count = 0;
    rc = door_json_load(body, len, &root, err);
    if (rc != 0)
        goto out;
    if (json_is_object(root)) {
        rc = door_batch_alloc(&batch, 1, err);
        if (rc == 0) {
            batch.count = 1;
            rc = generic_parse_one(root, "", &batch.events[0], err);
        }
        goto out;
    }
    if (!json_is_array(root)) {
        rc = ob_fail(err, OB_EINVAL, "body must be a JSON object or an array of objects");
        goto out;
    }
    n = json_array_size(root);
    if (n == 0) {
        rc = ob_fail(err, OB_EINVAL, "body is an empty array; at least one alert is expected");
        goto out;
    }
    rc = door_check_batch_size(n, "alerts", err);
    if (rc == 0)
        rc = door_batch_alloc(&batch, n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char prefix[DOOR_PATH_MAX];
        door_path_index(prefix, sizeof(prefix), "alerts", i);
        /* Counted before it is filled: a failed one is released below. */
        batch.count = i + 1;
        rc = generic_parse_one(json_array_get(root, i), prefix, &batch.events[i], err);
    }
out:
    if (rc == 0) {
        *out = batch;
    } else {
        alert_batch_release(&batch);
    }
    json_decref(root);
    return rc;
}
