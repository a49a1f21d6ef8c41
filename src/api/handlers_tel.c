/*
 * handlers_tel.c - POST /api/v1/tel (ring someone now, notify/tel.h) and
 * GET /api/v1/tel/{id} (how that call went).
 */
#include "api/api.h"

#include "daemon/app.h"
#include "notify/tel.h"
#include "store/engine.h"
#include "store/store.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

/* The state of a whole call from its rows: "answered" once one phone was
 * picked up, "calling" while one is queued or ringing, else the last one's. */
static const char *call_state(const struct outbox_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].state, "answered") == 0 || strcmp(rows[i].state, "acknowledged") == 0 ||
            strcmp(rows[i].state, "delivered") == 0)
            return "answered";
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].state, "queued") == 0 || strcmp(rows[i].state, "sending") == 0)
            return "calling";
    }
    return n > 0 ? rows[n - 1].state : "calling";
}

void api_tel_create(void *app, struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"callee", "message", NULL};
    struct audit_origin origin = api_origin(req);
    const char *callee = NULL, *message = NULL, *caller = origin.actor;
    struct tel_placed placed;
    struct ob_error err = {0};
    json_t *body = NULL;

    if (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                              &body, &err) != 0 ||
        api_json_only_keys(body, allowed, &err) != 0 ||
        api_json_string(body, "callee", true, NAME_MAX_LEN, &callee, &err) != 0 ||
        api_json_string(body, "message", false, TEL_MESSAGE_MAX, &message, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    if (strncmp(caller, "token:", 6) == 0)
        caller += 6; /* said on the call: "Call from ci-bot via opsbell" */
    {
        struct tel_request tr = {
            .caller = caller, .callee = callee, .message = message, .origin = &origin};
        if (tel_request(app, &tr, &placed, &err) != 0) {
            http_response_from_error(resp, &err);
            goto out;
        }
    }
    api_reply_json(resp, 202,
                   json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)placed.id, "callee",
                             placed.callee, "nickname", placed.nickname, "state", "calling"));
out:
    json_decref(body);
}

void api_tel_show(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const char *text = http_request_param(req, "id");
    struct outbox_row *rows = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    json_t *phones;
    char *end = NULL;
    long long id;
    size_t n = 0;

    errno = 0;
    id = text != NULL ? strtoll(text, &end, 10) : 0;
    if (text == NULL || end == text || *end != '\0' || errno != 0 || id <= 0) {
        http_response_error(resp, 400, "a call id is a positive integer");
        return;
    }
    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_outbox_call(conn, (int64_t)id, &rows, &n, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    phones = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(phones,
                              json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "type", rows[i].contact_type,
                                        "address", rows[i].address, "state", rows[i].state,
                                        "provider", rows[i].provider, "detail", rows[i].detail));
    api_reply_json(resp, 200,
                   json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:b, s:o}", "id", (json_int_t)id,
                             "callee", rows[0].user_name, "state", call_state(rows, n), "message",
                             rows[0].message, "requested_by", rows[0].requested_by, "done",
                             strcmp(call_state(rows, n), "calling") != 0, "phones", phones));
out:
    outbox_row_array_free(rows, n);
    store_release(conn);
}
