/* handlers_audit.c - GET /api/v1/audit: newest first, paged with ?before=ID&limit=N. */
#include "api/api.h"

#include "daemon/app.h"
#include "store/store.h"
#include "util/error.h"

#include <errno.h>
#include <stdlib.h>

static int query_int(const struct http_request *req, const char *name, long long min, long long max,
                     long long *out, struct http_response *resp)
{
    const char *text = http_request_query(req, name);
    char *end = NULL;
    long long n;

    if (text == NULL)
        return 0;
    errno = 0;
    n = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || n < min || n > max) {
        http_response_error(resp, 400, "query parameter '%s' must be an integer from %lld to %lld",
                            name, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

void api_audit_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct audit_filter filter = {0};
    struct audit_event *events = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    long long before = 0, limit = 100;
    size_t count = 0;
    json_t *arr, *body;

    if (query_int(req, "before", 1, INT64_MAX, &before, resp) != 0 ||
        query_int(req, "limit", 1, 1000, &limit, resp) != 0)
        return;
    filter.before_id = before;
    filter.limit = (size_t)limit;
    filter.actor = http_request_query(req, "actor");
    filter.action = http_request_query(req, "action");
    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_audit_list(conn, &filter, &events, &count, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++) {
        const struct audit_event *ev = &events[i];
        json_t *details = NULL;
        if (ev->details != NULL)
            details = json_loads(ev->details, 0, NULL);
        json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:s?, s:s?, s:s?, s:o?}", "id",
                                             (json_int_t)ev->id, "at_ms", (json_int_t)ev->at_ms,
                                             "actor", ev->actor, "action", ev->action, "target",
                                             ev->target, "remote_addr", ev->remote_addr,
                                             "request_id", ev->request_id, "details", details));
    }
    body = json_pack("{s:o}", "events", arr);
    if (count == (size_t)limit && count > 0)
        json_object_set_new(body, "next_before", json_integer(events[count - 1].id));
    api_reply_json(resp, 200, body);
out:
    audit_event_array_free(events, count);
    store_release(conn);
}
