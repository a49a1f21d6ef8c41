/*
 * handlers_slack.c - POST /slack/interactions: the Acknowledge / Resolve /
 * Escalate buttons of opsbell's Slack messages (docs/SLACK.md).
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
#include "notify/chatops.h"
#include "notify/slack.h"
#include "store/incidents.h"
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
