/*
 * provider_slack.c - the `slack` provider: contact type `slack` when
 * `providers.slack` is configured.  The address is a Slack user id (U…,
 * W…: the message goes to the bot's DM with that person) or a conversation
 * id (C…, G…, D…).
 *
 * deliver(): POST {api_url}/chat.postMessage with the incident and the
 * Acknowledge / Resolve / Escalate buttons; the answer's channel and ts
 * become the row's external_id "<channel>:<ts>".  update(): POST
 * chat.update of that message with the new state and the buttons that
 * still apply.  Outcomes: slack_api_result() (slack.h).  Runs on dispatcher
 * worker threads (a blocking libcurl call, at most 10 s, is fine there).
 * The bot token goes into the Authorization header only: never into a
 * detail, a log line or an error.
 */
#include "notify/notify_internal.h"
#include "notify/slack.h"

#include "config/config.h"
#include "store/engine.h"
#include "store/incidents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLACK_TIMEOUT_MS 10000L

static int slack_handles(const struct config *cfg, const char *type)
{
    return cfg->providers.slack.enabled && strcmp(type, "slack") == 0;
}

/* POST body to {api_url}/method; the outcome, detail and external_id in a. */
static enum notify_outcome slack_call(struct notify_attempt *a, const char *method, json_t *body)
{
    const struct config_slack *sc = &a->cfg->providers.slack;
    size_t base_len = strlen(sc->api_url);
    struct slack_http_reply reply;
    enum notify_outcome outcome;
    char url[1024];
    char *text;

    while (base_len > 0 && sc->api_url[base_len - 1] == '/')
        base_len--;
    if (sc->bot_token.value == NULL) {
        snprintf(a->detail, sizeof(a->detail), "no slack bot token");
        return NOTIFY_FAILED_PERMANENT;
    }
    if (base_len + strlen(method) + 2 > sizeof(url)) {
        snprintf(a->detail, sizeof(a->detail), "slack api_url is too long");
        return NOTIFY_FAILED_PERMANENT;
    }
    snprintf(url, sizeof(url), "%.*s/%s", (int)base_len, sc->api_url, method);
    text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text == NULL) {
        snprintf(a->detail, sizeof(a->detail), "out of memory");
        return NOTIFY_FAILED_TEMPORARY;
    }
    if (slack_post_json(url, sc->bot_token.value, text, SLACK_TIMEOUT_MS, &reply) != 0) {
        free(text);
        snprintf(a->detail, sizeof(a->detail), "out of memory");
        return NOTIFY_FAILED_TEMPORARY;
    }
    free(text);
    outcome = slack_api_result(reply.transport_ok, reply.status, reply.retry_after, reply.body,
                               reply.body_len, a->external_id, sizeof(a->external_id), a->detail,
                               sizeof(a->detail));
    if (!reply.transport_ok && reply.errbuf[0] != '\0')
        snprintf(a->detail, sizeof(a->detail), "%s: %s", method, reply.errbuf);
    slack_http_reply_release(&reply);
    return outcome;
}

static enum notify_outcome slack_deliver(struct notify_attempt *a)
{
    const char *address = a->row->address;
    enum notify_outcome outcome;
    json_t *body;

    if (slack_address_kind(address) == NULL) {
        snprintf(a->detail, sizeof(a->detail),
                 "'%.64s' is not a slack user (U…, W…) or conversation (C…, G…, D…) id", address);
        return NOTIFY_FAILED_PERMANENT;
    }
    if (a->inc == NULL) /* kind "verify": slack addresses need none, but say it plainly */
        body = json_pack("{s:s, s:s}", "channel", address, "text",
                         a->message != NULL ? a->message : "");
    else
        body = slack_message_json(a->cfg, a->inc, address, NULL, 0);
    outcome = slack_call(a, "chat.postMessage", body);
    json_decref(body);
    return outcome;
}

static enum notify_outcome slack_update(struct notify_attempt *a)
{
    char channel[SLACK_ID_MAX + 1], ts[64], keep[sizeof(a->external_id)];
    enum notify_outcome outcome;
    json_t *body;

    if (slack_split_external_id(a->row->external_id, channel, sizeof(channel), ts, sizeof(ts)) !=
        0) {
        snprintf(a->detail, sizeof(a->detail), "no slack message to update");
        return NOTIFY_FAILED_PERMANENT;
    }
    snprintf(keep, sizeof(keep), "%s", a->row->external_id);
    body = slack_message_json(a->cfg, a->inc, channel, ts, 1);
    outcome = slack_call(a, "chat.update", body);
    json_decref(body);
    /* The message keeps its id whatever chat.update answered. */
    snprintf(a->external_id, sizeof(a->external_id), "%s", keep);
    return outcome;
}

const struct notify_provider notify_provider_slack = {
    .name = "slack",
    .handles = slack_handles,
    .deliver = slack_deliver,
    .update = slack_update,
};
