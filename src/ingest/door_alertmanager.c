/*
 * door_alertmanager.c - the two Alertmanager-shaped doors:
 *
 *   POST /api/v2/alerts: what Prometheus sends to an Alertmanager, a JSON
 *   array of postableAlert {labels, annotations, startsAt, endsAt,
 *   generatorURL} (Alertmanager's api/v2/openapi.yaml). Unknown members are
 *   ignored, as Alertmanager ignores them.
 *
 *   POST /api/v1/integrations/alertmanager/{key}: Alertmanager's webhook
 *   receiver payload, version "4": {version, groupKey, truncatedAlerts,
 *   status, receiver, groupLabels, commonLabels, commonAnnotations,
 *   externalURL, alerts: [{status, labels, annotations, startsAt, endsAt,
 *   generatorURL, fingerprint}]}. Each alert carries its complete label set,
 *   so the group-level members are not needed; the sender's fingerprint is
 *   ignored (we compute the same one ourselves).
 */
#include "ingest/door.h"
#include "ingest/door_internal.h"

#include "util/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 3339 text longer than this is not a timestamp anyone sends. */
#define AM_TIME_TEXT_MAX 256

struct am_door {
    enum alert_source source;
    const char *source_name;
    bool webhook; /* action from each alert's status rather than from endsAt */
};

static const struct am_door am_api = {SOURCE_ALERTMANAGER_API, "alertmanager-api", false};
static const struct am_door am_webhook = {SOURCE_ALERTMANAGER_WEBHOOK, "alertmanager", true};

/* Prometheus severity labels as people write them, onto PagerDuty's four. */
static const struct {
    const char *label;
    enum alert_severity severity;
} severity_aliases[] = {
    {"critical", SEVERITY_CRITICAL}, {"page", SEVERITY_CRITICAL}, {"p1", SEVERITY_CRITICAL},
    {"error", SEVERITY_ERROR},       {"high", SEVERITY_ERROR},    {"p2", SEVERITY_ERROR},
    {"warning", SEVERITY_WARNING},   {"warn", SEVERITY_WARNING},  {"medium", SEVERITY_WARNING},
    {"p3", SEVERITY_WARNING},        {"info", SEVERITY_INFO},     {"low", SEVERITY_INFO},
    {"none", SEVERITY_INFO},         {"p4", SEVERITY_INFO},       {"p5", SEVERITY_INFO},
};

static enum alert_severity am_severity(const char *label)
{
    if (label == NULL)
        return SEVERITY_WARNING;
    for (size_t i = 0; i < sizeof(severity_aliases) / sizeof(severity_aliases[0]); i++) {
        if (strcasecmp(label, severity_aliases[i].label) == 0)
            return severity_aliases[i].severity;
    }
    return SEVERITY_WARNING;
}

/* The first non-empty of annotations summary, description, message, then
 * labels alertname, then "alert <fingerprint>". */
static int am_summary(struct alert_event *ev, struct ob_error *err)
{
    static const char *const annotation_keys[] = {"summary", "description", "message"};
    char fallback[32];
    const char *text;

    for (size_t i = 0; i < sizeof(annotation_keys) / sizeof(annotation_keys[0]); i++) {
        text = alert_label_get(ev->annotations, ev->annotation_count, annotation_keys[i]);
        if (text != NULL && text[0] != '\0')
            return door_set_summary(ev, text, err);
    }
    text = alert_label_get(ev->labels, ev->label_count, "alertname");
    if (text != NULL && text[0] != '\0')
        return door_set_summary(ev, text, err);
    snprintf(fallback, sizeof(fallback), "alert %s", ev->fingerprint);
    return door_set_summary(ev, fallback, err);
}

/* startsAt or endsAt of one alert: absent, null or the zero time is 0. */
static int am_time(json_t *alert, const char *path, const char *key, int64_t *ms,
                   struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    const char *text;
    int rc;

    *ms = 0;
    rc = door_get_string(alert, path, key, AM_TIME_TEXT_MAX, &text, err);
    if (rc != 0 || text == NULL)
        return rc;
    if (door_parse_time(text, ms) != 0) {
        door_path(field, sizeof(field), path, key);
        return ob_fail(err, OB_EINVAL, "%s is not an RFC 3339 time: '%.64s'", field, text);
    }
    return 0;
}

static int am_times(json_t *alert, const char *path, int64_t now_ms, struct alert_event *ev,
                    struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    int64_t starts, ends;
    int rc;

    rc = am_time(alert, path, "startsAt", &starts, err);
    if (rc == 0)
        rc = am_time(alert, path, "endsAt", &ends, err);
    if (rc != 0)
        return rc;
    door_path(field, sizeof(field), path, "startsAt");
    rc = door_check_start(starts, now_ms, field, err);
    if (rc != 0)
        return rc;
    door_path(field, sizeof(field), path, "endsAt");
    if (ends != 0 && ends < DOOR_TIME_MIN_MS)
        return ob_fail(err, OB_EINVAL, "%s is before 2000-01-01", field);
    /* Alertmanager's own validation (model.Alert.Validate). */
    if (ends != 0 && starts != 0 && ends < starts)
        return ob_fail(err, OB_EINVAL, "%s is before its startsAt", field);
    ev->starts_at_ms = starts;
    ev->ends_at_ms = ends;
    return 0;
}

static int am_status(json_t *alert, const char *path, struct alert_event *ev, struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    const char *status;
    int rc;

    rc = door_get_string(alert, path, "status", 16, &status, err);
    door_path(field, sizeof(field), path, "status");
    if (rc != 0)
        return ob_fail(err, OB_EINVAL, "%s must be \"firing\" or \"resolved\"", field);
    if (status == NULL)
        return ob_fail(err, OB_EINVAL, "%s is required (\"firing\" or \"resolved\")", field);
    if (strcmp(status, "firing") == 0)
        ev->action = ALERT_TRIGGER;
    else if (strcmp(status, "resolved") == 0)
        ev->action = ALERT_RESOLVE;
    else
        return ob_fail(err, OB_EINVAL, "%s must be \"firing\" or \"resolved\", not '%s'", field,
                       status);
    return 0;
}

/* One alert object at path into ev (zeroed by the caller; released by the
 * caller on failure). */
static int am_parse_alert(const struct am_door *door, json_t *alert, const char *path,
                          const char *key, int64_t now_ms, struct alert_event *ev,
                          struct ob_error *err)
{
    char field[DOOR_PATH_MAX];
    const char *url;
    json_t *labels;
    int rc;

    ev->source = door->source;
    if (!json_is_object(alert))
        return ob_fail(err, OB_EINVAL, "%s must be an object", path);

    door_path(field, sizeof(field), path, "labels");
    labels = json_object_get(alert, "labels");
    if (labels == NULL || json_is_null(labels))
        return ob_fail(err, OB_EINVAL, "%s is required", field);
    rc = door_parse_set(labels, field, DOOR_SET_LABELS, &ev->labels, &ev->label_count, err);
    if (rc != 0)
        return rc;
    if (ev->label_count == 0)
        return ob_fail(err, OB_EINVAL, "%s must have at least one label", field);
    door_path(field, sizeof(field), path, "annotations");
    rc = door_parse_set(json_object_get(alert, "annotations"), field, DOOR_SET_ANNOTATIONS,
                        &ev->annotations, &ev->annotation_count, err);
    if (rc != 0)
        return rc;

    rc = am_times(alert, path, now_ms, ev, err);
    if (rc != 0)
        return rc;
    if (door->webhook) {
        rc = am_status(alert, path, ev, err);
        if (rc != 0)
            return rc;
    } else {
        /* An endsAt in the past is how Prometheus says "resolved". */
        ev->action =
            ev->ends_at_ms != 0 && ev->ends_at_ms <= now_ms ? ALERT_RESOLVE : ALERT_TRIGGER;
    }

    rc = door_get_string(alert, path, "generatorURL", DOOR_URL_MAX, &url, err);
    if (rc == 0 && url != NULL && url[0] != '\0')
        rc = door_strdup(url, &ev->generator_url, err);
    if (rc == 0)
        rc = door_strdup(door->source_name, &ev->source_name, err);
    if (rc == 0)
        rc = door_strdup(key, &ev->integration_key, err);
    if (rc != 0)
        return rc;

    ev->severity = am_severity(alert_label_get(ev->labels, ev->label_count, "severity"));
    alert_fingerprint(ev->labels, ev->label_count, ev->fingerprint);
    return am_summary(ev, err);
}

/* Every element of the alerts array into out. */
static int am_parse_alerts(const struct am_door *door, json_t *alerts, const char *key,
                           int64_t now_ms, struct alert_batch *out, struct ob_error *err)
{
    struct alert_batch batch = {NULL, 0};
    size_t n = json_array_size(alerts);
    int rc;

    rc = door_check_batch_size(n, "alerts", err);
    if (rc == 0)
        rc = door_batch_alloc(&batch, n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[DOOR_PATH_MAX];
        door_path_index(path, sizeof(path), "alerts", i);
        rc = am_parse_alert(door, json_array_get(alerts, i), path, key, now_ms, &batch.events[i],
                            err);
        /* Counted even when it failed: its partial contents are released below. */
        batch.count = i + 1;
    }
    if (rc != 0) {
        alert_batch_release(&batch);
        return rc;
    }
    *out = batch;
    return 0;
}

int door_parse_alertmanager_api(const char *body, size_t len, int64_t now_ms,
                                struct alert_batch *out, struct ob_error *err)
{
    json_t *root = NULL;
    int rc;

    out->events = NULL;
    out->count = 0;
    rc = door_json_load(body, len, &root, err);
    if (rc != 0)
        goto out;
    if (!json_is_array(root)) {
        rc = ob_fail(err, OB_EINVAL, "body must be a JSON array of alerts");
        goto out;
    }
    rc = am_parse_alerts(&am_api, root, NULL, now_ms, out, err);
out:
    json_decref(root);
    return rc;
}

int door_parse_alertmanager_webhook(const char *body, size_t len, const char *key, int64_t now_ms,
                                    struct alert_batch *out, struct ob_error *err)
{
    json_t *root = NULL;
    json_t *alerts;
    const char *version;
    int rc;

    out->events = NULL;
    out->count = 0;
    rc = door_json_load(body, len, &root, err);
    if (rc != 0)
        goto out;
    if (!json_is_object(root)) {
        rc = ob_fail(err, OB_EINVAL, "body must be a JSON object (Alertmanager webhook payload)");
        goto out;
    }
    rc = door_get_string(root, "", "version", 16, &version, err);
    if (rc != 0) {
        rc = ob_fail(err, OB_EINVAL, "version must be the string \"4\"");
        goto out;
    }
    if (version == NULL) {
        rc = ob_fail(err, OB_EINVAL, "version is required (Alertmanager webhook payload \"4\")");
        goto out;
    }
    if (strcmp(version, "4") != 0) {
        rc = ob_fail(err, OB_EINVAL,
                     "unsupported Alertmanager webhook payload version '%s'; only \"4\" is "
                     "supported",
                     version);
        goto out;
    }
    alerts = json_object_get(root, "alerts");
    if (alerts == NULL || json_is_null(alerts)) {
        rc = ob_fail(err, OB_EINVAL, "alerts is required");
        goto out;
    }
    if (!json_is_array(alerts)) {
        rc = ob_fail(err, OB_EINVAL, "alerts must be an array");
        goto out;
    }
    rc = am_parse_alerts(&am_webhook, alerts, key, now_ms, out, err);
out:
    json_decref(root);
    return rc;
}
