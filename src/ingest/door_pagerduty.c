/*
 * door_pagerduty.c - POST /v2/enqueue, PagerDuty Events API v2 "Send an
 * Alert Event": {routing_key, event_action, dedup_key, payload {summary,
 * source, severity, timestamp, component, group, class, custom_details},
 * images, links, client, client_url}.
 *
 * Like PagerDuty, every problem of an event is reported at once, as the
 * strings of the "errors" array of the 400 reply {"status": "invalid event",
 * "message": "Event object is invalid", "errors": [...]}; err gets the first.
 * Unknown members are ignored, as PagerDuty ignores them.
 *
 * The event's labels are payload.class, payload.component and payload.group
 * (those present and not empty), so that routing matchers can use them; its
 * details_json holds component, group, class, custom_details, client,
 * client_url, links and images (those present).
 */
#include "ingest/door.h"
#include "ingest/door_internal.h"

#include "util/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PD_ROUTING_KEY_CHARS   32
#define PD_SUMMARY_MAX_CHARS   1024 /* PagerDuty's documented limit, in characters */
#define PD_DEDUP_KEY_MAX_CHARS ALERT_DEDUP_KEY_MAX
#define PD_TIME_TEXT_MAX       256

/* Errors collected over one event. */
struct pd_errors {
    json_t *list; /* JSON array of strings; NULL when it could not be allocated */
    struct ob_error *err;
    size_t count;
};

static void pd_error(struct pd_errors *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pd_error(struct pd_errors *e, const char *fmt, ...)
{
    char msg[OB_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Messages quote input: one line, as ob_fail makes err's, and valid
     * UTF-8 even when cut inside a sequence, since they go into JSON. */
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    ob_utf8_sanitize(msg);
    if (e->count == 0)
        ob_fail(e->err, OB_EINVAL, "%s", msg);
    e->count++;
    if (e->list != NULL)
        json_array_append_new(e->list, json_string(msg));
}

/*
 * Member key of obj as a string: 1 with *out set (borrowed from obj), 0 when
 * absent or null, -1 when of another type (reported, naming path).
 */
static int pd_string(struct pd_errors *e, json_t *obj, const char *path, const char *key,
                     const char **out)
{
    json_t *value = json_object_get(obj, key);

    *out = NULL;
    if (value == NULL || json_is_null(value))
        return 0;
    /* jansson refuses \u0000 without JSON_ALLOW_NUL; checked all the same. */
    if (!json_is_string(value) || strlen(json_string_value(value)) != json_string_length(value)) {
        pd_error(e, "'%s' must be a string", path);
        return -1;
    }
    *out = json_string_value(value);
    return 1;
}

/* pd_string with a cap in bytes; over it is reported and gives -1. */
static int pd_capped(struct pd_errors *e, json_t *obj, const char *path, const char *key,
                     size_t max_bytes, const char **out)
{
    int r = pd_string(e, obj, path, key, out);

    if (r == 1 && strlen(*out) > max_bytes) {
        pd_error(e, "'%s' is too long (maximum is %zu bytes)", path, max_bytes);
        *out = NULL;
        return -1;
    }
    return r;
}

/* An optional array member (links, images). */
static void pd_array(struct pd_errors *e, json_t *obj, const char *key)
{
    json_t *value = json_object_get(obj, key);

    if (value != NULL && !json_is_null(value) && !json_is_array(value))
        pd_error(e, "'%s' must be an array", key);
}

/* What the validation pass found, all borrowed from the parsed body. */
struct pd_event {
    const char *routing_key;
    enum alert_action action;
    bool action_valid;
    const char *dedup_key; /* NULL when absent or blank */
    json_t *payload;
    const char *summary;
    const char *source;
    enum alert_severity severity;
    int64_t starts_at_ms;
    const char *component;
    const char *group;
    const char *class_;
};

static void pd_check_action(struct pd_errors *e, json_t *root, struct pd_event *pe)
{
    const char *action;
    int r = pd_string(e, root, "event_action", "event_action", &action);

    if (r == 0) {
        pd_error(e, "'event_action' is missing");
        return;
    }
    if (r < 0)
        return;
    pe->action_valid = true;
    if (strcmp(action, "trigger") == 0) {
        pe->action = ALERT_TRIGGER;
    } else if (strcmp(action, "acknowledge") == 0) {
        pe->action = ALERT_ACKNOWLEDGE;
    } else if (strcmp(action, "resolve") == 0) {
        pe->action = ALERT_RESOLVE;
    } else {
        pe->action_valid = false;
        pd_error(e, "'event_action' must be one of trigger, acknowledge or resolve, not '%.64s'",
                 action);
    }
}

static void pd_check_top(struct pd_errors *e, json_t *root, struct pd_event *pe)
{
    const char *text;
    int r;

    r = pd_string(e, root, "routing_key", "routing_key", &pe->routing_key);
    if (r == 0)
        pd_error(e, "'routing_key' is missing");
    else if (r > 0 && door_utf8_chars(pe->routing_key) != PD_ROUTING_KEY_CHARS)
        pd_error(e, "Length of 'routing_key' is incorrect (should be %d characters)",
                 PD_ROUTING_KEY_CHARS);

    pd_check_action(e, root, pe);

    r = pd_string(e, root, "dedup_key", "dedup_key", &pe->dedup_key);
    if (r > 0 && door_utf8_chars(pe->dedup_key) > PD_DEDUP_KEY_MAX_CHARS) {
        pd_error(e, "'dedup_key' is too long (maximum is %d characters)", PD_DEDUP_KEY_MAX_CHARS);
    } else if (r >= 0 && (pe->dedup_key == NULL || pe->dedup_key[0] == '\0')) {
        pe->dedup_key = NULL;
        if (pe->action_valid && pe->action != ALERT_TRIGGER)
            pd_error(e, "'dedup_key' is required for %s events", alert_action_name(pe->action));
    }

    pd_array(e, root, "links");
    pd_array(e, root, "images");
    pd_capped(e, root, "client", "client", DOOR_TEXT_MAX, &text);
    pd_capped(e, root, "client_url", "client_url", DOOR_URL_MAX, &text);
}

/* A member that a trigger requires: present, a string and not empty. */
static void pd_required(struct pd_errors *e, int r, const char *value, bool trigger,
                        const char *path)
{
    if (trigger && (r == 0 || (r > 0 && value[0] == '\0')))
        pd_error(e, "'%s' is missing or blank", path);
}

static void pd_check_payload(struct pd_errors *e, json_t *root, int64_t now_ms, struct pd_event *pe)
{
    bool trigger = pe->action_valid && pe->action == ALERT_TRIGGER;
    json_t *payload = json_object_get(root, "payload");
    const char *severity;
    const char *timestamp;
    int r;

    pe->severity = SEVERITY_ERROR;
    if (payload == NULL || json_is_null(payload)) {
        if (trigger)
            pd_error(e, "'payload' is missing");
        return;
    }
    if (!json_is_object(payload)) {
        pd_error(e, "'payload' must be an object");
        return;
    }
    pe->payload = payload;

    r = pd_string(e, payload, "payload.summary", "summary", &pe->summary);
    if (r > 0 && door_utf8_chars(pe->summary) > PD_SUMMARY_MAX_CHARS)
        pd_error(e, "'payload.summary' is too long (maximum is %d characters)",
                 PD_SUMMARY_MAX_CHARS);
    pd_required(e, r, pe->summary, trigger, "payload.summary");

    r = pd_capped(e, payload, "payload.source", "source", DOOR_TEXT_MAX, &pe->source);
    pd_required(e, r, pe->source, trigger, "payload.source");

    r = pd_string(e, payload, "payload.severity", "severity", &severity);
    if (r > 0 && alert_severity_parse(severity, &pe->severity) != 0)
        pd_error(e,
                 "'payload.severity' must be one of critical, error, warning or info, not "
                 "'%.64s'",
                 severity);
    else if (r == 0 && trigger)
        pd_error(e, "'payload.severity' is missing");

    r = pd_capped(e, payload, "payload.timestamp", "timestamp", PD_TIME_TEXT_MAX, &timestamp);
    if (r > 0) {
        struct ob_error window;
        /* PagerDuty's own example writes "2015-07-17T08:42:58.315+0000". */
        if (door_parse_time_ex(timestamp, DOOR_TIME_BASIC_OFFSET, &pe->starts_at_ms) != 0)
            pd_error(e, "'payload.timestamp' is not a valid timestamp: '%.64s'", timestamp);
        else if (door_check_start(pe->starts_at_ms, now_ms, "'payload.timestamp'", &window) != 0)
            pd_error(e, "%s", window.msg);
    }

    pd_capped(e, payload, "payload.component", "component", DOOR_TEXT_MAX, &pe->component);
    pd_capped(e, payload, "payload.group", "group", DOOR_TEXT_MAX, &pe->group);
    pd_capped(e, payload, "payload.class", "class", DOOR_TEXT_MAX, &pe->class_);
}

/* {component, group, class, custom_details, client, client_url, links,
 * images} as present, as compact JSON; NULL when none is. */
static int pd_details(json_t *root, json_t *payload, char **out, struct ob_error *err)
{
    static const char *const payload_keys[] = {"component", "group", "class", "custom_details"};
    static const char *const top_keys[] = {"client", "client_url", "links", "images"};
    json_t *details = json_object();
    int rc = 0;

    *out = NULL;
    if (details == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (size_t i = 0; payload != NULL && i < sizeof(payload_keys) / sizeof(payload_keys[0]); i++) {
        json_t *v = json_object_get(payload, payload_keys[i]);
        if (v != NULL && !json_is_null(v) && json_object_set(details, payload_keys[i], v) != 0)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++) {
        json_t *v = json_object_get(root, top_keys[i]);
        if (v != NULL && !json_is_null(v) && json_object_set(details, top_keys[i], v) != 0)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
    if (rc == 0 && json_object_size(details) > 0)
        rc = door_dump_details(details, "event details (custom_details, links, images, ...)", out,
                               err);
    json_decref(details);
    return rc;
}

/* Labels class, component, group (sorted by name) from those present. */
static int pd_labels(const struct pd_event *pe, struct alert_event *ev, struct ob_error *err)
{
    const struct {
        const char *name;
        const char *value;
    } parts[] = {{"class", pe->class_}, {"component", pe->component}, {"group", pe->group}};
    size_t n = 0;

    ev->labels = calloc(3, sizeof(*ev->labels));
    if (ev->labels == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (size_t i = 0; i < 3; i++) {
        if (parts[i].value == NULL || parts[i].value[0] == '\0')
            continue;
        ev->labels[n].name = strdup(parts[i].name);
        ev->labels[n].value = strdup(parts[i].value);
        n++;
        ev->label_count = n;
        if (ev->labels[n - 1].name == NULL || ev->labels[n - 1].value == NULL)
            return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    if (n == 0) {
        free(ev->labels);
        ev->labels = NULL;
    }
    return 0;
}

static int pd_build(json_t *root, const struct pd_event *pe, struct alert_event *ev,
                    struct ob_error *err)
{
    int rc;

    ev->source = SOURCE_PAGERDUTY;
    ev->action = pe->action;
    ev->severity = pe->severity;
    ev->starts_at_ms = pe->starts_at_ms;
    rc = door_strdup(pe->routing_key, &ev->integration_key, err);
    if (rc == 0)
        rc = door_strdup(pe->dedup_key, &ev->dedup_key, err);
    if (rc == 0)
        rc = door_set_summary(ev, pe->summary, err);
    if (rc == 0)
        rc = door_strdup(pe->source != NULL && pe->source[0] != '\0' ? pe->source : "pagerduty",
                         &ev->source_name, err);
    if (rc == 0)
        rc = pd_labels(pe, ev, err);
    if (rc == 0)
        rc = pd_details(root, pe->payload, &ev->details_json, err);
    if (rc == 0)
        alert_fingerprint(ev->labels, ev->label_count, ev->fingerprint);
    return rc;
}

int door_parse_pagerduty(const char *body, size_t len, int64_t now_ms, struct alert_batch *out,
                         json_t **errors, struct ob_error *err)
{
    struct pd_errors e = {json_array(), err, 0};
    struct alert_batch batch = {NULL, 0};
    struct pd_event pe;
    struct ob_error local;
    json_t *root = NULL;
    int rc;

    out->events = NULL;
    out->count = 0;
    if (errors != NULL)
        *errors = NULL;
    memset(&pe, 0, sizeof(pe));
    rc = door_json_load(body, len, &root, &local);
    if (rc != 0) {
        pd_error(&e, "%s", local.msg);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = OB_EINVAL;
        pd_error(&e, "Event must be a JSON object");
        goto out;
    }
    pd_check_top(&e, root, &pe);
    pd_check_payload(&e, root, now_ms, &pe);
    if (e.count > 0) {
        rc = OB_EINVAL;
        goto out;
    }
    rc = door_batch_alloc(&batch, 1, &local);
    if (rc == 0) {
        batch.count = 1;
        rc = pd_build(root, &pe, &batch.events[0], &local);
    }
    if (rc != 0) {
        /* Too large details, or out of memory: one more error of the event. */
        pd_error(&e, "%s", local.msg);
        if (err != NULL)
            err->code = rc;
        goto out;
    }
    *out = batch;
    batch.events = NULL;
    batch.count = 0;
out:
    alert_batch_release(&batch);
    json_decref(root);
    if (rc != 0 && errors != NULL) {
        *errors = e.list;
        e.list = NULL;
    }
    json_decref(e.list);
    return rc;
}
