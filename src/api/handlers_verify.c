/*
 * handlers_verify.c - /api/v1/users/{user}/contact-methods and
 * /verifications: which addresses are proven, sending a code, typing it
 * back, an admin vouching (notify/verify.h).
 */
#include "api/api.h"

#include "config/config.h"
#include "daemon/app.h"
#include "notify/notify.h"
#include "notify/verify.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

#define ADDRESS_MAX 512

/* GET: every contact method of the user, with whether it must be and is verified. */
void api_contact_methods_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    const char *name = http_request_param(req, "user");
    const struct config_user *user = config_find_user(cfg, name);
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    json_t *arr = json_array();

    if (user == NULL) {
        http_response_error(resp, 404, "no user named '%s'", name);
        goto out;
    }
    if (store_acquire(app->store, &conn, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    for (unsigned i = 0; i < user->contact_method_count; i++) {
        const struct config_contact_method *cm = &user->contact_methods[i];
        const char *type = contact_type_name(cm->type);
        const struct notify_provider *p = notify_provider_for(cfg, type);
        int64_t verified_at = 0;
        int rc = verify_status(conn, user->name, cm->address, &verified_at, &err);

        if (rc < 0) {
            http_response_from_error(resp, &err);
            goto out;
        }
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s?, s:b, s:b, s:o}", "type", type, "address", cm->address,
                           "provider", p != NULL ? p->name : NULL, "needs_verification",
                           p != NULL && p->verifies, "verified", rc == 1, "verified_at_ms",
                           verified_at != 0 ? json_integer(verified_at) : json_null()));
    }
    api_reply_json(resp, 200, json_pack("{s:s, s:O}", "user", user->name, "contact_methods", arr));
out:
    json_decref(arr);
    store_release(conn);
    config_unref(cfg);
}

/* Parse the JSON body into the listed string members (all required). */
static int body_strings(struct http_request *req, const char *const *keys, const char **values,
                        json_t **body, struct ob_error *err)
{
    int rc = api_parse_json_object(http_request_header(req, "Content-Type"), req->body,
                                   req->body_len, body, err);

    if (rc == 0)
        rc = api_json_only_keys(*body, keys, err);
    for (size_t i = 0; rc == 0 && keys[i] != NULL; i++)
        rc = api_json_string(*body, keys[i], true, ADDRESS_MAX, &values[i], err);
    return rc;
}

/* POST {type, address}: send a code. */
void api_verification_start(void *app, struct http_request *req, struct http_response *resp)
{
    static const char *const keys[] = {"type", "address", NULL};
    struct audit_origin origin = api_origin(req);
    const char *values[2] = {NULL, NULL};
    struct verify_sent sent;
    struct ob_error err = {0};
    json_t *body = NULL;

    if (body_strings(req, keys, values, &body, &err) != 0 ||
        verify_start(app, http_request_param(req, "user"), values[0], values[1], &origin, &sent,
                     &err) != 0)
        http_response_from_error(resp, &err);
    else
        api_reply_json(resp, 202,
                       json_pack("{s:I, s:s, s:I, s:s, s:s}", "id", (json_int_t)sent.id, "address",
                                 values[1], "expires_at_ms", (json_int_t)sent.expires_at_ms,
                                 "provider", sent.provider, "detail", sent.detail));
    json_decref(body);
}

/* POST {address, code}: the code typed back. */
void api_verification_confirm(void *app, struct http_request *req, struct http_response *resp)
{
    static const char *const keys[] = {"address", "code", NULL};
    struct audit_origin origin = api_origin(req);
    const char *values[2] = {NULL, NULL};
    struct ob_error err = {0};
    json_t *body = NULL;

    if (body_strings(req, keys, values, &body, &err) != 0 ||
        verify_confirm(app, http_request_param(req, "user"), values[0], values[1], &origin, &err) !=
            0)
        http_response_from_error(resp, &err);
    else
        api_reply_json(resp, 200, json_pack("{s:s, s:b}", "address", values[0], "verified", 1));
    json_decref(body);
}

/* POST {address}: an admin vouches. */
void api_verification_trust(void *app, struct http_request *req, struct http_response *resp)
{
    static const char *const keys[] = {"address", NULL};
    struct audit_origin origin = api_origin(req);
    const char *values[1] = {NULL};
    struct ob_error err = {0};
    json_t *body = NULL;

    if (body_strings(req, keys, values, &body, &err) != 0 ||
        verify_trust(app, http_request_param(req, "user"), values[0], &origin, &err) != 0)
        http_response_from_error(resp, &err);
    else
        api_reply_json(resp, 201, json_pack("{s:s, s:b}", "address", values[0], "verified", 1));
    json_decref(body);
}
