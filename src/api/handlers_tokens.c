/*
 * handlers_tokens.c - API tokens over HTTP (admin scope). A team-limited
 * admin manages only its own team's tokens and cannot mint global ones.
 */
#include "api/api.h"

#include "access/access.h"

#include "config/config.h"
#include "daemon/app.h"
#include "store/store.h"
#include "util/error.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static json_t *token_json(const struct store_token *t)
{
    json_t *obj = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:I}", "id", (json_int_t)t->id, "name",
                            t->name, "scope", t->scope, "team", t->team, "created_by",
                            t->created_by, "created_at_ms", (json_int_t)t->created_at_ms);

    json_object_set_new(obj, "expires_at_ms",
                        t->expires_at_ms ? json_integer(t->expires_at_ms) : json_null());
    json_object_set_new(obj, "revoked_at_ms",
                        t->revoked_at_ms ? json_integer(t->revoked_at_ms) : json_null());
    json_object_set_new(obj, "last_used_at_ms",
                        t->last_used_at_ms ? json_integer(t->last_used_at_ms) : json_null());
    json_object_set_new(obj, "user", t->user_name ? json_string(t->user_name) : json_null());
    json_object_set_new(obj, "agent", t->agent_host ? json_string(t->agent_host) : json_null());
    return obj;
}

static bool token_visible(const struct auth_principal *p, const struct store_token *t)
{
    return p->team[0] == '\0' || (t->team != NULL && strcmp(t->team, p->team) == 0);
}

void api_tokens_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const struct auth_principal *p = api_principal(req);
    struct store_conn *conn = NULL;
    struct store_token *tokens = NULL;
    struct ob_error err = {0};
    size_t count = 0;
    json_t *arr;

    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_token_list(conn, &tokens, &count, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++) {
        if (token_visible(p, &tokens[i]))
            json_array_append_new(arr, token_json(&tokens[i]));
    }
    api_reply_json(resp, 200, json_pack("{s:o}", "tokens", arr));
out:
    store_token_array_free(tokens, count);
    store_release(conn);
}

void api_tokens_create(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const struct auth_principal *p = api_principal(req);
    struct token_create_input in;
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct token_request treq;
    struct audit_origin origin = api_origin(req);
    char secret[TOKEN_SECRET_LEN + 1];
    int64_t id = 0;

    if (api_parse_token_create(http_request_header(req, "Content-Type"), req->body, req->body_len,
                               &in, &err) != 0) {
        http_response_from_error(resp, &err);
        return;
    }
    if (p->team[0] != '\0') {
        if (in.team == NULL) {
            in.team = p->team;
        } else if (strcmp(in.team, p->team) != 0) {
            http_response_error(resp, 403, "token '%s' may create tokens only for team %s", p->name,
                                p->team);
            goto out;
        }
    }
    cfg = app_config_get(app);
    if (in.team != NULL && config_find_team(cfg, in.team) == NULL) {
        http_response_error(resp, 400, "no team named '%s'", in.team);
        goto out;
    }
    if (token_binding_check(cfg, p->team[0] != '\0' ? p->team : NULL, in.user, in.agent, &err) !=
        0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    treq.name = in.name;
    treq.scope = in.scope;
    treq.team = in.team;
    treq.user = in.user;
    treq.agent_host = in.agent;
    treq.expires_at_ms = in.expires_in_s ? store_now_ms() + in.expires_in_s * 1000 : 0;
    if (token_create(app->store, &treq, &origin, secret, sizeof(secret), &id, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    api_reply_json(resp, 201,
                   json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "id", (json_int_t)id, "name",
                             in.name, "scope", token_scope_name(in.scope), "team", in.team, "user",
                             in.user, "agent", in.agent, "token", secret));
    OPENSSL_cleanse(secret, sizeof(secret));
out:
    config_unref(cfg);
    token_create_input_release(&in);
}

void api_tokens_revoke(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const struct auth_principal *p = api_principal(req);
    const char *id_text = http_request_param(req, "id");
    struct audit_origin origin = api_origin(req);
    struct store_token tok = {0};
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    char *end = NULL;
    long long id;

    errno = 0;
    id = strtoll(id_text, &end, 10);
    if (errno != 0 || end == id_text || *end != '\0' || id <= 0) {
        http_response_error(resp, 400, "token id must be a positive integer, not '%s'", id_text);
        return;
    }
    if (store_acquire(app->store, &conn, &err) != 0 || store_token_get(conn, id, &tok, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    store_release(conn);
    conn = NULL;
    if (!token_visible(p, &tok)) {
        http_response_error(resp, 403, "token %lld does not belong to team %s", id, p->team);
        goto out;
    }
    if (token_revoke(app->store, id, &origin, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    api_reply_json(resp, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "revoked"));
out:
    store_token_release(&tok);
    store_release(conn);
}
