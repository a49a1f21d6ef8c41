/*
 * handlers_incidents.c - /api/v1/incidents: list, show (with alerts,
 * timeline, escalation state and notifications), acknowledge, resolve,
 * escalate, notes. Every action is written with its timeline entry and its
 * audit event in one transaction.
 */
#include "api/api.h"

#include "config/config.h"
#include "daemon/app.h"
#include "engine/action.h"
#include "engine/engine.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_MAX 4096

static json_t *ms_or_null(int64_t ms)
{
    return ms != 0 ? json_integer(ms) : json_null();
}

static json_t *incident_json(const struct incident *inc)
{
    json_t *obj = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I}", "id", (json_int_t)inc->id,
        "service", inc->service, "team", inc->team, "incident_key", inc->incident_key, "status",
        inc->status, "summary", inc->summary, "severity", inc->severity, "silenced", inc->silenced,
        "alert_count", (json_int_t)inc->alert_count, "open_alerts", (json_int_t)inc->open_alerts,
        "created_at_ms", (json_int_t)inc->created_at_ms, "updated_at_ms",
        (json_int_t)inc->updated_at_ms);

    json_object_set_new(obj, "acknowledged_at_ms", ms_or_null(inc->acknowledged_at_ms));
    json_object_set_new(obj, "acknowledged_by",
                        inc->acknowledged_by != NULL ? json_string(inc->acknowledged_by)
                                                     : json_null());
    json_object_set_new(obj, "resolved_at_ms", ms_or_null(inc->resolved_at_ms));
    json_object_set_new(obj, "resolved_by",
                        inc->resolved_by != NULL ? json_string(inc->resolved_by) : json_null());
    return obj;
}

static bool team_visible(const struct http_request *req, const char *team)
{
    const struct auth_principal *p = api_principal(req);

    return p->team[0] == '\0' || strcmp(p->team, team) == 0;
}

static int parse_id(const char *text, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (text == NULL)
        return -1;
    if (*text == '#')
        text++;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static int query_number(const struct http_request *req, const char *name, long long min,
                        long long max, long long *out, struct http_response *resp)
{
    const char *text = http_request_query(req, name);
    char *end = NULL;
    long long v;

    if (text == NULL)
        return 0;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        http_response_error(resp, 400, "query parameter '%s' must be an integer from %lld to %lld",
                            name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

void api_incidents_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const struct auth_principal *p = api_principal(req);
    struct incident_filter filter = {0};
    struct incident *rows = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    long long limit = 50, before = 0;
    size_t count = 0;
    json_t *arr, *body;

    if (query_number(req, "limit", 1, 500, &limit, resp) != 0 ||
        query_number(req, "before", 1, INT64_MAX, &before, resp) != 0)
        return;
    filter.status = http_request_query(req, "status");
    if (filter.status != NULL && strcmp(filter.status, "open") != 0 &&
        strcmp(filter.status, "triggered") != 0 && strcmp(filter.status, "acknowledged") != 0 &&
        strcmp(filter.status, "resolved") != 0) {
        http_response_error(resp, 400, "status must be open, triggered, acknowledged or resolved");
        return;
    }
    filter.team = http_request_query(req, "team");
    if (p->team[0] != '\0') {
        if (filter.team != NULL && strcmp(filter.team, p->team) != 0) {
            http_response_error(resp, 403, "token '%s' is limited to team %s", p->name, p->team);
            return;
        }
        filter.team = p->team;
    }
    filter.service = http_request_query(req, "service");
    filter.limit = (size_t)limit;
    filter.before_id = before;
    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_incident_list(conn, &filter, &rows, &count, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(arr, incident_json(&rows[i]));
    body = json_pack("{s:o}", "incidents", arr);
    if (count == (size_t)limit)
        json_object_set_new(body, "next_before", json_integer(rows[count - 1].id));
    api_reply_json(resp, 200, body);
out:
    incident_array_free(rows, count);
    store_release(conn);
}

/* Load the incident named by the {id} parameter and check the caller may see
 * it; answers resp itself on failure. */
static int load_incident(struct store_conn *conn, struct http_request *req, struct incident *inc,
                         struct http_response *resp)
{
    struct ob_error err = {0};
    int64_t id;

    if (parse_id(http_request_param(req, "id"), &id) != 0) {
        http_response_error(resp, 400, "incident id must be a positive integer");
        return -1;
    }
    if (store_incident_get(conn, id, inc, &err) != 0) {
        if (err.code == OB_ENOTFOUND)
            http_response_error(resp, 404, "no incident #%lld", (long long)id);
        else
            http_response_from_error(resp, &err);
        return -1;
    }
    if (!team_visible(req, inc->team)) {
        http_response_error(resp, 403, "incident #%lld belongs to team %s", (long long)id,
                            inc->team);
        return -1;
    }
    return 0;
}

/* A time as both RFC 3339 (`key`) and milliseconds (`key`_ms); null when 0. */
static void set_time(json_t *obj, const char *key, int64_t ms)
{
    char key_ms[64];

    snprintf(key_ms, sizeof(key_ms), "%s_ms", key);
    json_object_set_new(obj, key, api_time_json(ms));
    json_object_set_new(obj, key_ms, ms_or_null(ms));
}

/*
 * obj.escalation: where the incident is in its policy (null when it never
 * walked one); steps and passes counted from 1 for people.
 * obj.notifications: every notification attempt, oldest first.
 */
static int escalation_and_notifications(struct store_conn *conn, int64_t incident_id, json_t *obj,
                                        struct ob_error *err)
{
    struct escalation esc = {0};
    struct outbox_row *rows = NULL;
    size_t n = 0;
    json_t *arr;
    int rc = store_escalation_get(conn, incident_id, &esc, err);

    if (rc == OB_ENOTFOUND) {
        ob_error_clear(err);
        json_object_set_new(obj, "escalation", json_null());
    } else if (rc != 0) {
        return rc;
    } else {
        json_t *e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s?}", "policy", esc.policy, "state",
                              esc.state, "next_step", (json_int_t)(esc.next_step + 1), "pass",
                              (json_int_t)(esc.next_pass + 1), "steps_taken", (json_int_t)esc.seq,
                              "stop_reason", esc.stop_reason);
        if (esc.stop_reason == NULL)
            json_object_set_new(e, "stop_reason", json_null());
        set_time(e, "next_at", esc.next_at_ms);
        set_time(e, "started_at", esc.started_at_ms);
        json_object_set_new(obj, "escalation", e);
        escalation_release(&esc);
    }
    rc = store_outbox_list(conn, incident_id, &rows, &n, err);
    if (rc != 0)
        return rc;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct outbox_row *r = &rows[i];
        json_t *o =
            json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:s?, s:s?}", "id", (json_int_t)r->id,
                      "user", r->user_name, "type", r->contact_type, "address", r->address, "state",
                      r->state, "seq", (json_int_t)r->seq, "attempts", (json_int_t)r->attempts,
                      "provider", r->provider, "detail", r->detail);
        if (r->provider == NULL)
            json_object_set_new(o, "provider", json_null());
        if (r->detail == NULL)
            json_object_set_new(o, "detail", json_null());
        json_object_set_new(o, "kind", json_string(r->kind != NULL ? r->kind : "page"));
        json_object_set_new(o, "external_id",
                            r->external_id != NULL ? json_string(r->external_id) : json_null());
        set_time(o, "due_at", r->due_at_ms);
        set_time(o, "sent_at", r->sent_at_ms);
        json_array_append_new(arr, o);
    }
    json_object_set_new(obj, "notifications", arr);
    outbox_row_array_free(rows, n);
    return 0;
}

void api_incident_show(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct incident inc = {0};
    struct store_conn *conn = NULL;
    struct incident_event *events = NULL;
    struct alert_row *alerts = NULL;
    struct ob_error err = {0};
    size_t n_events = 0, n_alerts = 0;
    json_t *obj, *timeline, *alert_arr;

    if (store_acquire(app->store, &conn, &err) != 0) {
        http_response_from_error(resp, &err);
        return;
    }
    if (load_incident(conn, req, &inc, resp) != 0)
        goto out;
    {
        struct alert_filter filter = {.incident_id = inc.id, .limit = 1000};
        if (store_alert_list(conn, &filter, &alerts, &n_alerts, &err) != 0 ||
            store_incident_events(conn, inc.id, 1000, &events, &n_events, &err) != 0) {
            http_response_from_error(resp, &err);
            goto out;
        }
    }
    obj = incident_json(&inc);
    timeline = json_array();
    for (size_t i = 0; i < n_events; i++) {
        const struct incident_event *ev = &events[i];
        json_t *data = ev->data != NULL ? json_loads(ev->data, 0, NULL) : NULL;
        json_array_append_new(timeline, json_pack("{s:I, s:I, s:s, s:s?, s:s?, s:o?}", "id",
                                                  (json_int_t)ev->id, "at_ms",
                                                  (json_int_t)ev->at_ms, "kind", ev->kind, "actor",
                                                  ev->actor, "message", ev->message, "data", data));
    }
    alert_arr = json_array();
    for (size_t i = 0; i < n_alerts; i++) {
        const struct alert_row *a = &alerts[i];
        json_t *labels = json_loads(a->labels, 0, NULL);
        json_array_append_new(
            alert_arr,
            json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s, s:o, s:I, s:I, s:I}", "id",
                      (json_int_t)a->id, "status", a->status, "source", a->source, "fingerprint",
                      a->fingerprint, "dedup_key", a->dedup_key, "summary", a->summary, "labels",
                      labels != NULL ? labels : json_object(), "event_count",
                      (json_int_t)a->event_count, "starts_at_ms", (json_int_t)a->starts_at_ms,
                      "updated_at_ms", (json_int_t)a->updated_at_ms));
    }
    json_object_set_new(obj, "alerts", alert_arr);
    json_object_set_new(obj, "timeline", timeline);
    if (escalation_and_notifications(conn, inc.id, obj, &err) != 0) {
        json_decref(obj);
        http_response_from_error(resp, &err);
        goto out;
    }
    api_reply_json(resp, 200, obj);
out:
    incident_release(&inc);
    incident_event_array_free(events, n_events);
    alert_row_array_free(alerts, n_alerts);
    store_release(conn);
}

/* One incident action (engine/action.h) on the incident of the URL. */
static void incident_action(struct app *app, struct http_request *req, struct http_response *resp,
                            enum incident_action action, const char *text, int ok_status)
{
    struct audit_origin origin = api_origin(req);
    struct incident inc = {0};
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    struct incident_action_request ar = {
        .action = action,
        .text = text,
        .actor = origin.actor,
        .remote_addr = origin.remote_addr,
        .request_id = origin.request_id,
    };

    if (store_acquire(app->store, &conn, &err) != 0) {
        http_response_from_error(resp, &err);
        return;
    }
    if (load_incident(conn, req, &inc, resp) != 0) {
        store_release(conn);
        incident_release(&inc);
        return;
    }
    store_release(conn);
    ar.incident_id = inc.id;
    incident_release(&inc);
    if (incident_act(app, &ar, &inc, &err) != 0)
        http_response_from_error(resp, &err);
    else
        api_reply_json(resp, ok_status, incident_json(&inc));
    incident_release(&inc);
}

void api_incident_ack(void *app, struct http_request *req, struct http_response *resp)
{
    incident_action(app, req, resp, INCIDENT_ACK, NULL, 200);
}

void api_incident_resolve(void *app, struct http_request *req, struct http_response *resp)
{
    incident_action(app, req, resp, INCIDENT_RESOLVE, NULL, 200);
}

/* The next step now: OB_ECONFLICT (409) when the incident is resolved or
 * its service has no escalation policy. */
void api_incident_escalate(void *app, struct http_request *req, struct http_response *resp)
{
    incident_action(app, req, resp, INCIDENT_ESCALATE, NULL, 202);
}

void api_incident_note(void *app, struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"text", NULL};
    struct ob_error err = {0};
    const char *text = NULL;
    json_t *body = NULL;

    if (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                              &body, &err) != 0 ||
        api_json_only_keys(body, allowed, &err) != 0 ||
        api_json_string(body, "text", true, NOTE_MAX, &text, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    if (text[0] == '\0') {
        http_response_error(resp, 400, "field 'text' must not be empty");
        goto out;
    }
    incident_action(app, req, resp, INCIDENT_NOTE, text, 201);
out:
    json_decref(body);
}
