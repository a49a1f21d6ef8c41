/*
 * handlers_ingest.c - the ingestion doors over HTTP: parse, submit to the
 * pipeline (which answers only after the commit), reply in each sender's
 * own dialect.
 */
#include "api/api.h"

#include "config/config.h"
#include "daemon/app.h"
#include "ingest/door.h"
#include "ingest/ingest.h"
#include "ingest/matcher.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

static json_t *result_json(const struct ingest_result *r)
{
    json_t *obj;

    if (r->code != 0)
        return json_pack("{s:s, s:s}", "status", "error", "error", r->message);
    obj = json_pack("{s:s, s:s, s:s?}", "status", ingest_outcome_name(r->outcome), "dedup_key",
                    r->dedup_key, "service", r->service[0] != '\0' ? r->service : NULL);
    if (r->incident_id != 0)
        json_object_set_new(obj, "incident_id", json_integer(r->incident_id));
    if (r->silenced)
        json_object_set_new(obj, "silenced", json_true());
    return obj;
}

/* The first event failure, when every event failed the same way: such a
 * batch is the sender's mistake (an unknown key), not a partial success. */
static const struct ingest_result *all_failed(const struct ingest_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (results[i].code == 0)
            return NULL;
    }
    return n > 0 ? &results[0] : NULL;
}

/*
 * One door request in flight. The HTTP connection is suspended while the
 * writer commits the batch, so a handful of HTTP threads can keep many
 * requests waiting for one group commit.
 */
enum door_kind { DOOR_ALERTMANAGER, DOOR_WEBHOOK, DOOR_PAGERDUTY, DOOR_GENERIC };

struct door_call {
    enum door_kind kind;
    struct http_request *req;
    struct alert_batch batch;
    struct ingest_result *results;
    int rc;
    struct ob_error err;
};

static void door_call_free(struct door_call *call)
{
    alert_batch_release(&call->batch);
    free(call->results);
    free(call);
}

static void pagerduty_invalid(struct http_response *resp, const char *message, json_t *errors)
{
    if (errors == NULL) {
        errors = json_array();
        json_array_append_new(errors, json_string(message));
    }
    api_reply_json(resp, 400,
                   json_pack("{s:s, s:s, s:o}", "status", "invalid event", "message",
                             "Event object is invalid", "errors", errors));
}

/* Answer a committed batch in the sender's dialect. */
static void door_reply(const struct door_call *call, struct http_response *resp)
{
    const struct ingest_result *failed = all_failed(call->results, call->batch.count);
    json_t *arr;

    switch (call->kind) {
    case DOOR_ALERTMANAGER:
        if (failed != NULL)
            http_response_error(resp, ob_code_http_status(failed->code), "%s", failed->message);
        else /* Alertmanager answers an empty 200. */
            http_response_set(resp, 200, "application/json", "", 0);
        return;
    case DOOR_PAGERDUTY:
        if (call->results[0].code == OB_ENOTFOUND)
            pagerduty_invalid(resp, "Invalid routing key", NULL);
        else if (call->results[0].code != 0)
            http_response_error(resp, ob_code_http_status(call->results[0].code), "%s",
                                call->results[0].message);
        else
            api_reply_json(resp, 202,
                           json_pack("{s:s, s:s, s:s}", "status", "success", "message",
                                     "Event processed", "dedup_key", call->results[0].dedup_key));
        return;
    case DOOR_WEBHOOK:
    case DOOR_GENERIC:
        arr = json_array();
        for (size_t i = 0; i < call->batch.count; i++)
            json_array_append_new(arr, result_json(&call->results[i]));
        if (failed != NULL)
            api_reply_json(resp, ob_code_http_status(failed->code),
                           json_pack("{s:s, s:o}", "error", failed->message, "alerts", arr));
        else if (call->kind == DOOR_WEBHOOK)
            api_reply_json(resp, 200, json_pack("{s:s, s:o}", "status", "ok", "alerts", arr));
        else
            api_reply_json(resp, 202, json_pack("{s:s, s:o}", "status", "accepted", "alerts", arr));
        return;
    }
}

/* Runs on an HTTP thread once the writer is done with the batch. */
static void door_continue(void *app, struct http_request *req, struct http_response *resp,
                          void *data)
{
    struct door_call *call = data;

    if (call->rc != 0) {
        log_emit(LOG_LEVEL_ERROR, "ingest", req->request_id, "batch not accepted", "error",
                 call->err.msg, (const char *)NULL);
        http_response_error(resp, 503, "alerts not accepted, retry: %s", call->err.msg);
    } else {
        for (size_t i = 0; i < call->batch.count; i++) {
            if (call->results[i].outcome == INGEST_UNROUTABLE && call->results[i].code == 0)
                log_emit(LOG_LEVEL_WARN, "ingest", req->request_id,
                         "alert kept but unroutable: no service matched", "fingerprint",
                         call->batch.events[i].fingerprint, "summary",
                         call->batch.events[i].summary, (const char *)NULL);
        }
        door_reply(call, resp);
    }
    door_call_free(call);
}

/* Runs on the writer thread after the commit: hand the request back to HTTP. */
static void door_done(void *arg, int rc, const struct ob_error *err)
{
    struct door_call *call = arg;

    call->rc = rc;
    if (err != NULL)
        call->err = *err;
    http_request_resume(call->req);
}

/* Submit call's batch and suspend the request; the answer comes from door_continue. */
static void door_submit(struct app *app, struct http_request *req, struct door_call *call,
                        struct http_response *resp)
{
    call->req = req;
    call->results = calloc(call->batch.count > 0 ? call->batch.count : 1, sizeof(*call->results));
    if (call->results == NULL) {
        http_response_error(resp, 503, "out of memory");
        door_call_free(call);
        return;
    }
    for (size_t i = 0; i < call->batch.count; i++)
        route_prepare_event(&call->batch.events[i]);
    http_request_suspend(req, door_continue, call);
    if (ingest_submit_async(app->ingest, &call->batch, call->results, door_done, call,
                            &call->err) != 0) {
        call->rc = call->err.code != 0 ? call->err.code : OB_EUNAVAILABLE;
        http_request_resume(req);
    }
}

static struct door_call *door_call_new(enum door_kind kind, struct http_response *resp)
{
    struct door_call *call = calloc(1, sizeof(*call));

    if (call == NULL)
        http_response_error(resp, 503, "out of memory");
    else
        call->kind = kind;
    return call;
}

void api_ingest_alertmanager(void *app, struct http_request *req, struct http_response *resp)
{
    struct door_call *call = door_call_new(DOOR_ALERTMANAGER, resp);
    struct ob_error err = {0};

    if (call == NULL)
        return;
    if (door_parse_alertmanager_api(req->body, req->body_len, store_now_ms(), &call->batch, &err) !=
        0) {
        http_response_from_error(resp, &err);
        door_call_free(call);
        return;
    }
    door_submit(app, req, call, resp);
}

void api_ingest_webhook(void *app, struct http_request *req, struct http_response *resp)
{
    struct door_call *call = door_call_new(DOOR_WEBHOOK, resp);
    struct ob_error err = {0};

    if (call == NULL)
        return;
    if (door_parse_alertmanager_webhook(req->body, req->body_len, http_request_param(req, "key"),
                                        store_now_ms(), &call->batch, &err) != 0) {
        http_response_from_error(resp, &err);
        door_call_free(call);
        return;
    }
    door_submit(app, req, call, resp);
}

void api_ingest_pagerduty(void *app, struct http_request *req, struct http_response *resp)
{
    struct door_call *call = door_call_new(DOOR_PAGERDUTY, resp);
    struct ob_error err = {0};
    json_t *errors = NULL;

    if (call == NULL)
        return;
    if (door_parse_pagerduty(req->body, req->body_len, store_now_ms(), &call->batch, &errors,
                             &err) != 0) {
        pagerduty_invalid(resp, err.msg, errors);
        door_call_free(call);
        return;
    }
    door_submit(app, req, call, resp);
}

void api_ingest_generic(void *app, struct http_request *req, struct http_response *resp)
{
    const struct auth_principal *p = api_principal(req);
    struct door_call *call;
    struct ob_error err = {0};

    if (!api_content_type_is_json(http_request_header(req, "Content-Type"))) {
        http_response_error(resp, 415, "Content-Type must be application/json");
        return;
    }
    call = door_call_new(DOOR_GENERIC, resp);
    if (call == NULL)
        return;
    if (door_parse_generic(req->body, req->body_len, store_now_ms(), &call->batch, &err) != 0) {
        http_response_from_error(resp, &err);
        door_call_free(call);
        return;
    }
    /* A team token may send only to its own team's services. */
    if (p->team[0] != '\0') {
        struct config *cfg = app_config_get(app);
        for (size_t i = 0; i < call->batch.count; i++) {
            struct route_decision route;
            if (route_event(cfg, &call->batch.events[i], &route, NULL) == 0 &&
                route.service != NULL && strcmp(route.service->team->name, p->team) != 0) {
                http_response_error(resp, 403, "token '%s' may send only to team %s", p->name,
                                    p->team);
                config_unref(cfg);
                door_call_free(call);
                return;
            }
        }
        config_unref(cfg);
    }
    door_submit(app, req, call, resp);
}

/* Alertmanager's boolean query parameters default to true. */
static bool query_bool(const struct http_request *req, const char *name)
{
    const char *v = http_request_query(req, name);

    return v == NULL || strcmp(v, "false") != 0;
}

/* Do a stored alert's labels (JSON object text) satisfy every matcher? */
static bool alert_row_matches(const struct alert_row *a, const struct matcher_set *matchers)
{
    struct alert_label labels[ALERT_MAX_LABELS];
    const char *name;
    json_t *obj, *value;
    size_t n = 0;
    bool ok;

    if (matchers->count == 0)
        return true;
    obj = json_loads(a->labels, 0, NULL);
    /* json objects iterate in insertion order; labels were stored sorted. */
    json_object_foreach(obj, name, value)
    {
        if (n == ALERT_MAX_LABELS || !json_is_string(value))
            break;
        labels[n].name = (char *)name;
        labels[n].value = (char *)json_string_value(value);
        n++;
    }
    ok = matcher_set_matches(matchers, labels, n);
    json_decref(obj);
    return ok;
}

/* GET /api/v2/alerts: the firing alerts in Alertmanager's gettableAlert shape. */
void api_alertmanager_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct alert_filter filter = {.status = "firing", .limit = 10000};
    struct alert_row *rows = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    struct matcher_set matchers = {0};
    const char *filters[MATCHER_MAX_PER_SET];
    size_t count = 0, n_filters;
    bool want_active = query_bool(req, "active"), want_silenced = query_bool(req, "silenced");
    json_t *arr;

    /* amtool's filters: ?filter=alertname="X" (repeatable), active=, silenced=. */
    n_filters = http_request_query_values(req, "filter", filters, MATCHER_MAX_PER_SET);
    for (size_t i = 0; i < n_filters; i++) {
        struct matcher m;
        if (matcher_parse(filters[i], &m, &err) != 0 || matcher_set_add(&matchers, &m, &err) != 0) {
            matcher_release(&m);
            http_response_from_error(resp, &err);
            goto out;
        }
    }
    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_alert_list(conn, &filter, &rows, &count, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++) {
        const struct alert_row *a = &rows[i];
        char starts[40], ends[40], updated[40];
        if ((a->silenced_by != 0 && !want_silenced) || (a->silenced_by == 0 && !want_active) ||
            !alert_row_matches(a, &matchers))
            continue;
        json_t *labels = json_loads(a->labels, 0, NULL);
        json_t *annotations = json_loads(a->annotations, 0, NULL);
        json_t *silenced_by = json_array();
        door_format_time(a->starts_at_ms, starts, sizeof(starts));
        door_format_time(a->ends_at_ms != 0 ? a->ends_at_ms : a->updated_at_ms + 5 * 60 * 1000,
                         ends, sizeof(ends));
        door_format_time(a->updated_at_ms, updated, sizeof(updated));
        if (a->silenced_by != 0) {
            char id[24];
            snprintf(id, sizeof(id), "%lld", (long long)a->silenced_by);
            json_array_append_new(silenced_by, json_string(id));
        }
        json_array_append_new(
            arr, json_pack("{s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:[{s:s}], s:{s:s, s:o, s:[]}}",
                           "labels", labels != NULL ? labels : json_object(), "annotations",
                           annotations != NULL ? annotations : json_object(), "startsAt", starts,
                           "endsAt", ends, "updatedAt", updated, "generatorURL",
                           a->generator_url != NULL ? a->generator_url : "", "fingerprint",
                           a->fingerprint, "receivers", "name",
                           a->service != NULL ? a->service : "unroutable", "status", "state",
                           a->silenced_by != 0 ? "suppressed" : "active", "silencedBy", silenced_by,
                           "inhibitedBy"));
    }
    api_reply_json(resp, 200, arr);
out:
    matcher_set_release(&matchers);
    alert_row_array_free(rows, count);
    store_release(conn);
}

/* POST (or GET, for a bare curl in a cron job) /api/v1/heartbeats/{key}. */
void api_heartbeat_checkin(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    const struct config_heartbeat *hb =
        config_find_heartbeat_by_key(cfg, http_request_param(req, "key"));
    struct ob_error err = {0};

    if (hb == NULL) {
        http_response_error(resp, 404, "unknown heartbeat key");
        goto out;
    }
    if (heartbeat_checkin(app->ingest, hb, store_now_ms(), &err) != 0) {
        http_response_error(resp, 503, "check-in not recorded, retry: %s", err.msg);
        goto out;
    }
    api_reply_json(resp, 200, json_pack("{s:s, s:s}", "status", "ok", "heartbeat", hb->name));
out:
    config_unref(cfg);
}
