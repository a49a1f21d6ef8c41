/*
 * handlers_silences.c - /api/v1/silences: maintenance windows. A silence is
 * label matchers + a time range + a comment + its creator; alerts that match
 * while it is in force are stored and visible, their incidents marked
 * silenced, and nobody is paged for them.
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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SILENCE_COMMENT_MAX 1024
#define SILENCE_MAX_MS      ((int64_t)366 * 24 * 3600 * 1000)

static json_t *silence_json(const struct silence *s, int64_t now)
{
    json_t *matchers = json_loads(s->matchers, 0, NULL);
    const char *state = s->expired_at_ms != 0 || s->ends_at_ms <= now ? "expired"
                        : s->starts_at_ms > now                       ? "pending"
                                                                      : "active";
    json_t *obj = json_pack("{s:I, s:o, s:I, s:I, s:s, s:s, s:I, s:s}", "id", (json_int_t)s->id,
                            "matchers", matchers != NULL ? matchers : json_array(), "starts_at_ms",
                            (json_int_t)s->starts_at_ms, "ends_at_ms", (json_int_t)s->ends_at_ms,
                            "comment", s->comment, "created_by", s->created_by, "created_at_ms",
                            (json_int_t)s->created_at_ms, "state", state);

    json_object_set_new(obj, "expired_at_ms",
                        s->expired_at_ms != 0 ? json_integer(s->expired_at_ms) : json_null());
    return obj;
}

/* Matchers as a list of strings or one "{...}" string -> stored JSON array text. */
static int matchers_from_json(json_t *value, char **out, struct ob_error *err)
{
    struct matcher_set set = {0};
    json_t *arr = NULL;
    int rc = 0;

    *out = NULL;
    if (json_is_string(value)) {
        rc = matcher_set_parse(json_string_value(value), &set, err);
    } else if (json_is_array(value)) {
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item)
        {
            struct matcher m;
            if (!json_is_string(item)) {
                rc = ob_fail(err, OB_EINVAL, "matchers[%zu] must be a string", i);
                goto out;
            }
            rc = matcher_parse(json_string_value(item), &m, err);
            if (rc == 0)
                rc = matcher_set_add(&set, &m, err);
            if (rc != 0) {
                matcher_release(&m);
                goto out;
            }
        }
    } else {
        rc = ob_fail(err, OB_EINVAL, "field 'matchers' must be a list of matchers or a string");
    }
    if (rc != 0)
        goto out;
    if (set.count == 0) {
        rc = ob_fail(err, OB_EINVAL, "a silence needs at least one matcher");
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < set.count; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", set.items[i].name, "op",
                                             matcher_op_text(set.items[i].op), "value",
                                             set.items[i].value));
    *out = json_dumps(arr, JSON_COMPACT);
    if (*out == NULL)
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
out:
    json_decref(arr);
    matcher_set_release(&set);
    return rc;
}

static int parse_time_field(json_t *body, const char *key, int64_t *out, struct ob_error *err)
{
    const char *text = NULL;
    int rc = api_json_string(body, key, false, 64, &text, err);

    if (rc != 0 || text == NULL)
        return rc;
    if (door_parse_time(text, out) != 0 || *out == 0)
        return ob_fail(err, OB_EINVAL, "field '%s' must be an RFC 3339 time", key);
    return 0;
}

void api_silences_create(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"matchers", "starts_at", "ends_at",
                                          "duration", "comment",   NULL};
    struct app *app = app_ptr;
    struct audit_origin origin = api_origin(req);
    struct silence s = {0};
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    struct audit_event audit = {0};
    const char *comment = NULL, *duration = NULL;
    char *matchers = NULL, target[32];
    int64_t now = store_now_ms();
    json_t *body = NULL;
    uint32_t secs = 0;

    if (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                              &body, &err) != 0 ||
        api_json_only_keys(body, allowed, &err) != 0 ||
        api_json_string(body, "comment", true, SILENCE_COMMENT_MAX, &comment, &err) != 0 ||
        api_json_string(body, "duration", false, 32, &duration, &err) != 0 ||
        parse_time_field(body, "starts_at", &s.starts_at_ms, &err) != 0 ||
        parse_time_field(body, "ends_at", &s.ends_at_ms, &err) != 0)
        goto fail;
    if (json_object_get(body, "matchers") == NULL) {
        ob_fail(&err, OB_EINVAL, "field 'matchers' is required");
        goto fail;
    }
    if (matchers_from_json(json_object_get(body, "matchers"), &matchers, &err) != 0)
        goto fail;
    if (comment[0] == '\0') {
        ob_fail(&err, OB_EINVAL, "field 'comment' must say why");
        goto fail;
    }
    if (s.starts_at_ms == 0)
        s.starts_at_ms = now;
    if (duration != NULL) {
        if (s.ends_at_ms != 0 || config_parse_duration(duration, &secs) != 0 || secs == 0) {
            ob_fail(&err, OB_EINVAL, "give either ends_at or a duration such as 2h");
            goto fail;
        }
        s.ends_at_ms = s.starts_at_ms + (int64_t)secs * 1000;
    }
    if (s.ends_at_ms == 0) {
        ob_fail(&err, OB_EINVAL, "a silence needs ends_at or a duration");
        goto fail;
    }
    if (s.ends_at_ms <= s.starts_at_ms || s.ends_at_ms <= now) {
        ob_fail(&err, OB_EINVAL, "the silence must end after it starts, and in the future");
        goto fail;
    }
    if (s.ends_at_ms - s.starts_at_ms > SILENCE_MAX_MS) {
        ob_fail(&err, OB_EINVAL, "a silence may last at most a year");
        goto fail;
    }
    s.matchers = matchers;
    s.comment = (char *)comment;
    s.created_by = (char *)origin.actor;
    s.created_at_ms = now;
    if (store_acquire(app->store, &conn, &err) != 0 || store_begin(conn, &err) != 0 ||
        store_silence_insert(conn, &s, &err) != 0)
        goto fail;
    snprintf(target, sizeof(target), "silence:%lld", (long long)s.id);
    audit.at_ms = now;
    audit.actor = (char *)origin.actor;
    audit.action = "silence.create";
    audit.target = target;
    audit.remote_addr = (char *)origin.remote_addr;
    audit.request_id = (char *)origin.request_id;
    audit.details = matchers;
    if (store_audit_append(conn, &audit, &err) != 0 || store_commit(conn, &err) != 0)
        goto fail;
    ingest_silences_changed(app->ingest);
    api_reply_json(resp, 201, silence_json(&s, now));
    goto out;
fail:
    http_response_from_error(resp, &err);
out:
    store_release(conn);
    free(matchers);
    json_decref(body);
}

void api_silences_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const char *state = http_request_query(req, "state");
    struct silence *rows = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    int64_t now = store_now_ms();
    size_t count = 0;
    json_t *arr;

    if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "all") != 0) {
        http_response_error(resp, 400, "state must be active or all");
        return;
    }
    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_silence_list(conn, state != NULL && strcmp(state, "all") == 0 ? 0 : now, 1000, &rows,
                           &count, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(arr, silence_json(&rows[i], now));
    api_reply_json(resp, 200, json_pack("{s:o}", "silences", arr));
out:
    silence_array_free(rows, count);
    store_release(conn);
}

void api_silences_expire(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct audit_origin origin = api_origin(req);
    const char *id_text = http_request_param(req, "id");
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    struct audit_event audit = {0};
    struct silence s = {0};
    int64_t now = store_now_ms();
    char target[32], *end = NULL;
    long long id;

    errno = 0;
    id = strtoll(id_text, &end, 10);
    if (errno != 0 || end == id_text || *end != '\0' || id <= 0) {
        http_response_error(resp, 400, "silence id must be a positive integer");
        return;
    }
    snprintf(target, sizeof(target), "silence:%lld", id);
    audit.at_ms = now;
    audit.actor = (char *)origin.actor;
    audit.action = "silence.expire";
    audit.target = target;
    audit.remote_addr = (char *)origin.remote_addr;
    audit.request_id = (char *)origin.request_id;
    if (store_acquire(app->store, &conn, &err) != 0 || store_begin(conn, &err) != 0 ||
        store_silence_expire(conn, id, now, &err) != 0 ||
        store_audit_append(conn, &audit, &err) != 0 || store_commit(conn, &err) != 0 ||
        store_silence_get(conn, id, &s, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    ingest_silences_changed(app->ingest);
    api_reply_json(resp, 200, silence_json(&s, now));
out:
    silence_release(&s);
    store_release(conn);
}
