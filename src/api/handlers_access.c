/*
 * handlers_access.c - emergency access over HTTP (docs/BREAKGLASS.md,
 * docs/AGENT.md): break-glass grants, the allowlist, /allowme links and the
 * host agents' state and reports.
 *
 * Who acts: a person's token (`token create --user`) acts as that user; a
 * token without a user acts as an admin only with scope admin (and then
 * names the user a request is for).  Agent tokens are refused everywhere
 * but /api/v1/agent/, which authenticates them itself.
 */
#include "api/api.h"

#include "access/access.h"
#include "config/config.h"
#include "daemon/app.h"
#include "store/access.h"
#include "store/store.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRANT_LIST_MAX 500
#define AGENT_IDS_MAX  10000
#define HTML_TYPE      "text/html; charset=utf-8"

/* The user a request acts as: the token's, else (admin tokens) `named`.
 * NULL with a 4xx written when neither works. */
static const char *acting_user(const struct auth_principal *p, const char *named,
                               struct http_response *resp)
{
    if (p->user[0] != '\0') {
        if (named != NULL && strcmp(named, p->user) != 0) {
            http_response_error(resp, 403, "token '%s' acts as %s; it cannot act for %s", p->name,
                                p->user, named);
            return NULL;
        }
        return p->user;
    }
    if (p->scope < SCOPE_ADMIN) {
        http_response_error(resp, 403,
                            "token '%s' belongs to no user; break-glass needs a person's token "
                            "(opsbell token create --user NAME) or an admin token",
                            p->name);
        return NULL;
    }
    if (named == NULL) {
        http_response_error(resp, 400, "field 'user' is required with an admin token");
        return NULL;
    }
    return named;
}

/* "user:alice via token:cli" for the audit log. */
static struct audit_origin acting_origin(const struct http_request *req, const char *user,
                                         char *buf, size_t cap)
{
    struct audit_origin origin = api_origin(req);

    if (user != NULL) {
        snprintf(buf, cap, "user:%s", user);
        origin.actor = buf;
    }
    return origin;
}

static int parse_id(const struct http_request *req, int64_t *id, struct http_response *resp)
{
    const char *text = http_request_param(req, "id");
    char *end = NULL;
    long long v;

    errno = 0;
    v = text != NULL ? strtoll(text, &end, 10) : 0;
    if (text == NULL || end == text || *end != '\0' || errno != 0 || v <= 0) {
        http_response_error(resp, 400, "a grant id is a positive integer");
        return -1;
    }
    *id = v;
    return 0;
}

static void reply_grant(struct http_response *resp, int status, const struct grant_row *g)
{
    api_reply_json(resp, status, access_grant_json(g));
}

/* A team token sees only its own team's grants. */
static int grant_visible(const struct auth_principal *p, const struct grant_row *g)
{
    return p->team[0] == '\0' || strcmp(p->team, g->team) == 0;
}

void api_breakglass_request(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"host", "group", "duration", "reason",
                                          "ip",   "user",  NULL};
    struct app *app = app_ptr;
    const struct auth_principal *p = api_principal(req);
    const char *host = NULL, *group = NULL, *duration = NULL, *reason = NULL, *ip = NULL;
    const char *named = NULL, *user;
    struct grant_row g = {0};
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct audit_origin origin;
    uint32_t seconds = 0;
    json_t *body = NULL;
    char actor[96];

    if (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                              &body, &err) != 0 ||
        api_json_only_keys(body, allowed, &err) != 0 ||
        api_json_string(body, "host", false, ACCESS_HOST_MAX, &host, &err) != 0 ||
        api_json_string(body, "group", false, 64, &group, &err) != 0 ||
        api_json_string(body, "duration", true, 32, &duration, &err) != 0 ||
        api_json_string(body, "reason", true, ACCESS_REASON_MAX, &reason, &err) != 0 ||
        api_json_string(body, "ip", false, 64, &ip, &err) != 0 ||
        api_json_string(body, "user", false, 63, &named, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    if (config_parse_duration(duration, &seconds) != 0 || seconds == 0) {
        http_response_error(resp, 400, "field 'duration' must be a duration such as 30m or 1h");
        goto out;
    }
    user = acting_user(p, named, resp);
    if (user == NULL)
        goto out;
    cfg = app_config_get(app);
    origin = acting_origin(req, user, actor, sizeof(actor));
    {
        struct grant_request gr = {user,
                                   host,
                                   group,
                                   seconds,
                                   reason,
                                   ip,
                                   req->remote_addr,
                                   p->team[0] != '\0' ? p->team : NULL};
        if (access_grant_request(app->store, cfg, &gr, &origin, &g, &err) != 0) {
            http_response_from_error(resp, &err);
            goto out;
        }
    }
    reply_grant(resp, 201, &g);
out:
    grant_row_release(&g);
    config_unref(cfg);
    json_decref(body);
}

void api_breakglass_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const struct auth_principal *p = api_principal(req);
    const char *state = http_request_query(req, "state");
    const char *user = http_request_query(req, "user");
    struct grant_row *rows = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    size_t n = 0;
    json_t *arr;

    if (state == NULL)
        state = "live";
    else if (strcmp(state, "all") == 0)
        state = NULL;
    else if (strcmp(state, "live") != 0 && strcmp(state, GRANT_PENDING) != 0 &&
             strcmp(state, GRANT_ACTIVE) != 0 && strcmp(state, GRANT_DENIED) != 0 &&
             strcmp(state, GRANT_REVOKED) != 0 && strcmp(state, GRANT_EXPIRED) != 0) {
        http_response_error(resp, 400,
                            "state must be live, pending, active, denied, revoked, expired or all");
        return;
    }
    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_grant_list(conn, state, user, GRANT_LIST_MAX, &rows, &n, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (grant_visible(p, &rows[i]))
            json_array_append_new(arr, access_grant_json(&rows[i]));
    }
    api_reply_json(resp, 200, json_pack("{s:o}", "grants", arr));
out:
    grant_row_array_free(rows, n);
    store_release(conn);
}

void api_breakglass_show(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    struct grant_row g = {0};
    int64_t id;

    if (parse_id(req, &id, resp) != 0)
        return;
    if (store_acquire(app->store, &conn, &err) != 0 || store_grant_get(conn, id, &g, &err) != 0)
        http_response_from_error(resp, &err);
    else if (!grant_visible(api_principal(req), &g))
        http_response_error(resp, 404, "no such grant");
    else
        reply_grant(resp, 200, &g);
    grant_row_release(&g);
    store_release(conn);
}

/* May p act on grant id at all?  A person's token or an admin token, and a
 * team token only on its own team's grants: 0, or a 4xx written. */
static int grant_may_act(struct app *app, const struct auth_principal *p, int64_t id,
                         const char *what, struct http_response *resp)
{
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    struct grant_row g = {0};
    int rc = -1;

    if (p->user[0] == '\0' && p->scope < SCOPE_ADMIN) {
        http_response_error(resp, 403,
                            "token '%s' belongs to no user; %s needs a person's token or an "
                            "admin token",
                            p->name, what);
        return -1;
    }
    if (store_acquire(app->store, &conn, &err) != 0 || store_grant_get(conn, id, &g, &err) != 0)
        http_response_from_error(resp, &err);
    else if (!grant_visible(p, &g))
        http_response_error(resp, 404, "no such grant");
    else
        rc = 0;
    grant_row_release(&g);
    store_release(conn);
    return rc;
}

enum grant_action { GRANT_APPROVE, GRANT_DENY, GRANT_REVOKE };

static void breakglass_act(struct app *app, struct http_request *req, struct http_response *resp,
                           enum grant_action action)
{
    static const char *const allowed[] = {"reason", NULL};
    const struct auth_principal *p = api_principal(req);
    const char *reason = NULL, *user = p->user[0] != '\0' ? p->user : NULL;
    struct grant_row g = {0};
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct audit_origin origin;
    json_t *body = NULL;
    char actor[96];
    int64_t id;
    int rc;

    if (parse_id(req, &id, resp) != 0)
        return;
    if (req->body_len > 0 &&
        (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                               &body, &err) != 0 ||
         api_json_only_keys(body, allowed, &err) != 0 ||
         api_json_string(body, "reason", false, ACCESS_REASON_MAX, &reason, &err) != 0)) {
        http_response_from_error(resp, &err);
        goto out;
    }
    if (grant_may_act(app, p, id, "approving, denying or revoking", resp) != 0)
        goto out;
    cfg = app_config_get(app);
    origin = acting_origin(req, user, actor, sizeof(actor));
    if (action == GRANT_APPROVE)
        rc = access_grant_approve(app->store, cfg, id, user, &origin, &g, &err);
    else if (action == GRANT_DENY)
        rc = access_grant_deny(app->store, cfg, id, user, reason, &origin, &g, &err);
    else
        rc = access_grant_revoke(app->store, cfg, id, user, reason, &origin, &g, &err);
    if (rc != 0)
        http_response_from_error(resp, &err);
    else
        reply_grant(resp, 200, &g);
out:
    grant_row_release(&g);
    config_unref(cfg);
    json_decref(body);
}

void api_breakglass_approve(void *app, struct http_request *req, struct http_response *resp)
{
    breakglass_act(app, req, resp, GRANT_APPROVE);
}

void api_breakglass_deny(void *app, struct http_request *req, struct http_response *resp)
{
    breakglass_act(app, req, resp, GRANT_DENY);
}

void api_breakglass_revoke(void *app, struct http_request *req, struct http_response *resp)
{
    breakglass_act(app, req, resp, GRANT_REVOKE);
}

void api_breakglass_certificate(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"public_key", NULL};
    struct app *app = app_ptr;
    const struct auth_principal *p = api_principal(req);
    const char *pubkey = NULL, *user = p->user[0] != '\0' ? p->user : NULL;
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct audit_origin origin;
    json_t *body = NULL;
    char *cert = NULL, actor[96];
    int64_t id;

    if (parse_id(req, &id, resp) != 0)
        return;
    if (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                              &body, &err) != 0 ||
        api_json_only_keys(body, allowed, &err) != 0 ||
        api_json_string(body, "public_key", true, 16384, &pubkey, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    if (grant_may_act(app, p, id, "a certificate", resp) != 0)
        goto out;
    cfg = app_config_get(app);
    origin = acting_origin(req, user, actor, sizeof(actor));
    if (access_grant_certificate(app->store, cfg, id, user, pubkey, &origin, &cert, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    api_reply_json(resp, 201,
                   json_pack("{s:I, s:s}", "grant", (json_int_t)id, "certificate", cert));
out:
    free(cert);
    config_unref(cfg);
    json_decref(body);
}

void api_allowlist_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const char *user = http_request_query(req, "user");
    struct allow_row *rows = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    size_t n = 0;
    json_t *arr;

    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_allow_list(conn, user, store_now_ms(), &rows, &n, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s?}", "user", rows[i].user_name,
                           "cidr", rows[i].cidr, "source", rows[i].source, "first_seen_ms",
                           (json_int_t)rows[i].first_seen_ms, "last_seen_ms",
                           (json_int_t)rows[i].last_seen_ms, "expires_at_ms",
                           (json_int_t)rows[i].expires_at_ms, "detail", rows[i].detail));
    api_reply_json(resp, 200, json_pack("{s:o}", "allowlist", arr));
out:
    allow_row_array_free(rows, n);
    store_release(conn);
}

/* ---- /allowme/{token}: a person's browser says where it is ------------------ */

/* Link previews (chat unfurlers) must not spend a link. */
static int is_link_preview(const char *user_agent)
{
    static const char *const bots[] = {"Slackbot",   "facebookexternalhit", "Twitterbot",
                                       "Discordbot", "Mattermost-Bot",      "TelegramBot",
                                       NULL};

    for (size_t i = 0; user_agent != NULL && bots[i] != NULL; i++) {
        if (strstr(user_agent, bots[i]) != NULL)
            return 1;
    }
    return 0;
}

static void html_page(struct http_response *resp, int status, const char *title,
                      const char *message)
{
    char *page = NULL;
    int n = asprintf(&page,
                     "<!doctype html><html><head><meta charset=\"utf-8\"><title>opsbell: %s"
                     "</title></head><body><h1>%s</h1><p>%s</p></body></html>\n",
                     title, title, message);

    if (n < 0) {
        http_response_error(resp, 500, "out of memory");
        return;
    }
    http_response_take(resp, status, HTML_TYPE, page, (size_t)n);
}

void api_allowme(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    const char *secret = http_request_param(req, "token");
    struct audit_origin origin = api_origin(req);
    struct ob_error err = {0};
    struct config *cfg = NULL;
    char addr[64], message[256], actor[96];
    char *user = NULL;

    if (is_link_preview(http_request_header(req, "User-Agent"))) {
        html_page(resp, 200, "Allow my address",
                  "Open this link in your own browser to allow its address.");
        return;
    }
    cfg = app_config_get(app);
    access_client_addr(cfg, req->remote_addr, http_request_header(req, "X-Forwarded-For"), addr,
                       sizeof(addr));
    origin.remote_addr = addr;
    snprintf(actor, sizeof(actor), "link:/allowme");
    origin.actor = actor;
    if (access_link_use(app->store, cfg, secret, addr, &origin, &user, &err) != 0) {
        if (err.code == OB_ECONFLICT || err.code == OB_EUNAUTH)
            http_response_error(resp, 410, "%s", err.msg);
        else
            http_response_from_error(resp, &err);
        goto out;
    }
    snprintf(message, sizeof(message),
             "%s is allowed for %s for the next %u minutes. You can close this page.", addr, user,
             cfg->allowlist.freshness_seconds / 60);
    html_page(resp, 200, "Address allowed", message);
out:
    free(user);
    config_unref(cfg);
}

/* ---- the host agents ----------------------------------------------------------- */

/* Authenticate an agent's token: *p filled, or a 401/403 written. */
static int agent_principal(struct app *app, struct http_request *req, struct http_response *resp,
                           struct auth_principal *p)
{
    struct ob_error err = {0};

    if (auth_authenticate(app->store, http_request_header(req, "Authorization"), store_now_ms(), p,
                          &err) != 0) {
        http_response_from_error(resp, &err);
        http_response_add_header(resp, "WWW-Authenticate", "Bearer realm=\"opsbell\"");
        return -1;
    }
    if (p->agent_host[0] == '\0') {
        http_response_error(resp, 403,
                            "token '%s' is not an agent's token (opsbell token create --agent "
                            "HOST)",
                            p->name);
        return -1;
    }
    return 0;
}

void api_agent_state(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct auth_principal p;
    struct ob_error err = {0};
    struct config *cfg = NULL;
    const char *inm;
    char etag[65], quoted[70], *body = NULL;
    size_t len = 0;

    if (agent_principal(app, req, resp, &p) != 0)
        return;
    cfg = app_config_get(app);
    if (access_agent_state(app->store, cfg, p.agent_host, store_now_ms(), &body, &len, etag,
                           &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
    inm = http_request_header(req, "If-None-Match");
    if (inm != NULL && strstr(inm, quoted) != NULL) {
        http_response_set(resp, 304, "application/json", "", 0);
    } else {
        http_response_take(resp, 200, "application/json", body, len);
        body = NULL;
    }
    http_response_add_header(resp, "ETag", quoted);
    http_response_add_header(resp, "Cache-Control", "no-store");
out:
    free(body);
    config_unref(cfg);
}

void api_agent_report(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"etag", "applied", "error", NULL};
    struct app *app = app_ptr;
    struct auth_principal p;
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct audit_origin origin;
    const char *etag = NULL, *error = NULL;
    const char **ids = NULL;
    json_t *body = NULL, *applied;
    size_t n = 0;
    char actor[300];

    if (agent_principal(app, req, resp, &p) != 0)
        return;
    if (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                              &body, &err) != 0 ||
        api_json_only_keys(body, allowed, &err) != 0 ||
        api_json_string(body, "etag", false, 128, &etag, &err) != 0 ||
        api_json_string(body, "error", false, 1000, &error, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    applied = json_object_get(body, "applied");
    if (applied != NULL && !json_is_array(applied)) {
        http_response_error(resp, 400, "field 'applied' must be a list of entry ids");
        goto out;
    }
    n = applied != NULL ? json_array_size(applied) : 0;
    if (n > AGENT_IDS_MAX) {
        http_response_error(resp, 413, "field 'applied' lists more than %d ids", AGENT_IDS_MAX);
        goto out;
    }
    ids = calloc(n + 1, sizeof(*ids));
    if (ids == NULL) {
        http_response_error(resp, 500, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = json_string_value(json_array_get(applied, i));
        if (ids[i] == NULL) {
            http_response_error(resp, 400, "field 'applied' must hold strings (entry ids)");
            goto out;
        }
    }
    snprintf(actor, sizeof(actor), "agent:%s", p.agent_host);
    origin = api_origin(req);
    origin.actor = actor;
    cfg = app_config_get(app);
    if (access_agent_report(app->store, cfg, p.agent_host, ids, n, error, &origin, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    http_response_set(resp, 204, "application/json", "", 0);
out:
    free(ids);
    config_unref(cfg);
    json_decref(body);
}
