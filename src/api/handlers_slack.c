/*
 * handlers_slack.c - POST /slack/interactions: the Acknowledge / Resolve /
 * Escalate buttons of opsbell's Slack messages (docs/SLACK.md), and the
 * Approve / Deny buttons of a break-glass request in the team's channel
 * (docs/CHATOPS.md): access_grant_approve/deny as the presser (the policy
 * applies: never the requester), an ephemeral result, and the message
 * edited (chat.update, queued) to its new state without buttons.
 *
 * Order: the signature first (nothing is parsed before it is checked: a
 * missing or bad one is 401), then the payload (malformed: 400), then the
 * presser (a Slack id not in any user's chat_ids: an ephemeral hint, nothing
 * done), then incident_act() as "user:<name>" from "slack:<U…>".  The
 * answer is 200 at once; the result goes to the payload's response_url in
 * the background (slack_respond), and the message itself is edited by the
 * dispatcher's update row (chat.update).
 */
#include "api/api.h"

#include "config/config.h"
#include "daemon/app.h"
#include "engine/action.h"
#include "access/access.h"
#include "auth/auth.h"
#include "notify/breakglass_chat.h"
#include "notify/chatops.h"
#include "notify/slack.h"
#include "store/access.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 200 with the ephemeral text as the body (Slack shows it for slash
 * commands; for buttons the response_url carries it) and queued for
 * response_url when there is one. */
static void reply_ephemeral(const struct config *cfg, const struct slack_interaction *in,
                            struct http_response *resp, const char *text)
{
    char *body = slack_ephemeral_json(text);

    if (in->response_url[0] != '\0')
        slack_respond(cfg->providers.slack.api_url, in->response_url, text);
    if (body == NULL) {
        http_response_error(resp, 500, "out of memory");
        return;
    }
    http_response_take(resp, 200, "application/json", body, strlen(body));
}

static enum incident_action button_action(enum slack_button b)
{
    return b == SLACK_BUTTON_ACK       ? INCIDENT_ACK
           : b == SLACK_BUTTON_RESOLVE ? INCIDENT_RESOLVE
                                       : INCIDENT_ESCALATE;
}

/* The message of grant id edited to show its state now (after a refusal
 * because it was already decided, so that stale buttons disappear). */
static void refresh_message(struct app *app, const struct config *cfg,
                            const struct slack_interaction *in, int64_t id)
{
    struct store_conn *conn = NULL;
    struct grant_row g = {0};

    if (store_acquire(app->store, &conn, NULL) == 0 && store_grant_get(conn, id, &g, NULL) == 0 &&
        strcmp(g.state, GRANT_PENDING) != 0)
        breakglass_chat_update(cfg, &g, g.ended_by, in->channel_id, in->message_ts);
    grant_row_release(&g);
    store_release(conn);
}

static void press_breakglass(struct app *app, const struct config *cfg, struct http_request *req,
                             const struct config_user *user, const struct slack_interaction *in,
                             struct http_response *resp)
{
    int approve = in->button == SLACK_BUTTON_BG_APPROVE;
    char actor[160], remote[64], text[700], id[32], until[64];
    struct audit_origin origin = {actor, remote, req->request_id};
    struct grant_row g = {0};
    struct ob_error err = {0};
    int rc;

    snprintf(actor, sizeof(actor), "user:%s", user->name);
    snprintf(remote, sizeof(remote), "slack:%s", in->user_id);
    if (approve)
        rc = access_grant_approve(app->store, cfg, in->incident_id, user->name, &origin, &g, &err);
    else
        rc = access_grant_deny(app->store, cfg, in->incident_id, user->name, NULL, &origin, &g,
                               &err);
    snprintf(id, sizeof(id), "%lld", (long long)in->incident_id);
    log_info("slack", "breakglass button pressed", "user", user->name, "grant", id, "action",
             approve ? "approve" : "deny", "result", rc == 0 ? "ok" : err.msg);
    if (rc == 0) {
        breakglass_until_text(g.expires_at_ms, store_now_ms(), until, sizeof(until));
        if (approve)
            snprintf(text, sizeof(text), "Grant #%lld approved by %s: %s has SSH to %s %s.",
                     (long long)g.id, user->name, g.user_name, g.target, until);
        else
            snprintf(text, sizeof(text), "Grant #%lld denied by %s.", (long long)g.id, user->name);
        breakglass_chat_update(cfg, &g, actor, in->channel_id, in->message_ts);
    } else if (rc == OB_ENOTFOUND) {
        snprintf(text, sizeof(text), "No grant #%s.", id);
    } else if (rc == OB_EFORBIDDEN || rc == OB_ECONFLICT || rc == OB_EINVAL) {
        snprintf(text, sizeof(text), "%s", err.msg);
        text[0] = (char)toupper((unsigned char)text[0]);
        if (rc == OB_ECONFLICT)
            refresh_message(app, cfg, in, in->incident_id);
    } else {
        log_warn("slack", "breakglass button failed", "grant", id, "error", err.msg);
        snprintf(text, sizeof(text),
                 "Something went wrong on the opsbell server (it is logged); nothing was "
                 "changed.");
    }
    reply_ephemeral(cfg, in, resp, text);
    grant_row_release(&g);
}

static void press(struct app *app, const struct config *cfg, struct http_request *req,
                  const struct slack_interaction *in, struct http_response *resp)
{
    const struct config_user *user = chatops_find_user(cfg, CHATOPS_SLACK, in->user_id);
    char actor[160], remote[64], text[600], id[32];
    struct incident inc = {0};
    struct ob_error err = {0};
    struct incident_action_request ar = {0};
    int rc;

    if (user == NULL) {
        snprintf(text, sizeof(text),
                 "Your Slack account (%s) is not linked to an opsbell user, so nothing was "
                 "done. Ask an opsbell admin to add `{provider: slack, id: %s}` to your "
                 "`chat_ids` in users.yaml.",
                 in->user_id, in->user_id);
        log_info("slack", "button from an unmapped slack user", "slack_user", in->user_id);
        reply_ephemeral(cfg, in, resp, text);
        return;
    }
    if (in->button == SLACK_BUTTON_BG_APPROVE || in->button == SLACK_BUTTON_BG_DENY) {
        press_breakglass(app, cfg, req, user, in, resp);
        return;
    }
    snprintf(actor, sizeof(actor), "user:%s", user->name);
    snprintf(remote, sizeof(remote), "slack:%s", in->user_id);
    ar.incident_id = in->incident_id;
    ar.action = button_action(in->button);
    ar.actor = actor;
    ar.remote_addr = remote;
    ar.request_id = req->request_id;
    rc = incident_act(app, &ar, &inc, &err);
    snprintf(id, sizeof(id), "%lld", (long long)in->incident_id);
    log_info("slack", "button pressed", "user", user->name, "incident", id, "action",
             incident_action_kind(ar.action), "result", rc == 0 ? "ok" : err.msg);
    if (rc == OB_ENOTFOUND) {
        http_response_error(resp, 400, "no incident #%lld", (long long)in->incident_id);
    } else if (rc == OB_ECONFLICT) {
        snprintf(text, sizeof(text), "%s", err.msg);
        text[0] = (char)toupper((unsigned char)text[0]);
        reply_ephemeral(cfg, in, resp, text);
    } else if (rc != 0) {
        http_response_from_error(resp, &err);
    } else {
        if (ar.action == INCIDENT_ESCALATE)
            snprintf(text, sizeof(text), "Incident #%lld escalated to the next step by %s.",
                     (long long)inc.id, user->name);
        else
            snprintf(text, sizeof(text), "Incident #%lld %s by %s.", (long long)inc.id, inc.status,
                     user->name);
        reply_ephemeral(cfg, in, resp, text);
    }
    incident_release(&inc);
}

void api_slack_interactions(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    const struct config_slack *sc = &cfg->providers.slack;
    struct slack_interaction in;
    struct ob_error err = {0};

    if (!sc->enabled) {
        http_response_error(resp, 404, "slack is not configured (providers.slack)");
        goto out;
    }
    if (slack_verify_fresh((const unsigned char *)sc->signing_secret.value, sc->signing_secret.len,
                           http_request_header(req, "X-Slack-Request-Timestamp"),
                           http_request_header(req, "X-Slack-Signature"), req->body, req->body_len,
                           (int64_t)time(NULL), &err) != 0) {
        log_warn("slack", "interaction refused", "reason", err.msg, "remote", req->remote_addr);
        http_response_error(resp, 401, "%s", err.msg);
        goto out;
    }
    if (slack_interaction_parse(req->body, req->body_len, &in, &err) != 0) {
        http_response_error(resp, 400, "%s", err.msg);
        goto out;
    }
    if (strcmp(in.type, "block_actions") != 0) {
        http_response_set(resp, 200, "application/json", "{}", 2);
        goto out;
    }
    press(app, cfg, req, &in, resp);
out:
    config_unref(cfg);
}
