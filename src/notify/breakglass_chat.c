/*
 * breakglass_chat.c - grants' events as Slack messages in the team's
 * channel (breakglass_chat.h).
 */
#include "notify/breakglass_chat.h"

#include "config/config.h"
#include "daemon/app.h"
#include "notify/chatops.h"
#include "notify/slack.h"
#include "store/access.h"
#include "store/store.h"
#include "util/log.h"
#include "util/strbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BG_BLOCK_ID "opsbell_breakglass"

enum access_event_kind breakglass_state_kind(const struct grant_row *g)
{
    const char *s = g->state != NULL ? g->state : "";

    if (strcmp(s, GRANT_ACTIVE) == 0)
        return ACCESS_EV_OPENED;
    if (strcmp(s, GRANT_DENIED) == 0)
        return ACCESS_EV_DENIED;
    if (strcmp(s, GRANT_REVOKED) == 0)
        return ACCESS_EV_REVOKED;
    if (strcmp(s, GRANT_EXPIRED) == 0)
        return ACCESS_EV_EXPIRED;
    return ACCESS_EV_REQUESTED;
}

void breakglass_until_text(int64_t expires_ms, int64_t now_ms, char *out, size_t cap)
{
    time_t t = (time_t)(expires_ms / 1000), n = (time_t)(now_ms / 1000);
    struct tm tm, tn;

    gmtime_r(&t, &tm);
    gmtime_r(&n, &tn);
    if (tm.tm_year == tn.tm_year && tm.tm_yday == tn.tm_yday)
        strftime(out, cap, "until %H:%M UTC", &tm);
    else
        strftime(out, cap, "until %Y-%m-%d %H:%M UTC", &tm);
}

/* "user:bob" -> "bob"; NULL -> "someone". */
static const char *who(const char *actor)
{
    if (actor == NULL || actor[0] == '\0')
        return "someone";
    if (strncmp(actor, "user:", 5) == 0 && actor[5] != '\0')
        return actor + 5;
    return actor;
}

/* Append s escaped for mrkdwn (& < >), or as is for the plain text. */
static void add(struct strbuf *sb, const char *s, int mrkdwn)
{
    size_t cap;
    char *buf;

    if (s == NULL)
        s = "?";
    if (!mrkdwn) {
        strbuf_adds(sb, s);
        return;
    }
    cap = strlen(s) * 5 + 1;
    buf = malloc(cap);
    if (buf == NULL)
        return;
    chatops_escape(CHATOPS_SLACK, s, buf, cap);
    strbuf_adds(sb, buf);
    free(buf);
}

static void add_duration(struct strbuf *sb, int64_t s)
{
    if (s >= 3600 && s % 3600 == 0)
        strbuf_addf(sb, "%" PRId64 "h", s / 3600);
    else if (s >= 3600)
        strbuf_addf(sb, "%" PRId64 "h%" PRId64 "m", s / 3600, (s % 3600) / 60);
    else if (s >= 60 && s % 60 == 0)
        strbuf_addf(sb, "%" PRId64 "m", s / 60);
    else
        strbuf_addf(sb, "%" PRId64 "s", s);
}

/* One rendering of the event: mrkdwn (bold, code) or plain. */
static void render(struct strbuf *sb, int md, enum access_event_kind kind,
                   const struct grant_row *g, const char *actor, const char *host, int64_t now_ms)
{
    const char *b = md ? "*" : "", *c = md ? "`" : "";
    char until[64];

    strbuf_addf(sb, "%sGrant #%" PRId64 "%s: ", b, g->id, b);
    switch (kind) {
    case ACCESS_EV_REQUESTED:
        add(sb, g->user_name, md);
        strbuf_adds(sb, " asks for SSH to ");
        break;
    case ACCESS_EV_OPENED:
        strbuf_adds(sb, "open: ");
        add(sb, g->user_name, md);
        strbuf_adds(sb, " has SSH to ");
        break;
    case ACCESS_EV_DENIED:
        strbuf_adds(sb, "denied by ");
        add(sb, who(actor != NULL ? actor : g->ended_by), md);
        strbuf_adds(sb, ": ");
        add(sb, g->user_name, md);
        strbuf_adds(sb, " asked for SSH to ");
        break;
    case ACCESS_EV_REVOKED:
        strbuf_adds(sb, "revoked by ");
        add(sb, who(actor != NULL ? actor : g->ended_by), md);
        strbuf_adds(sb, ": ");
        add(sb, g->user_name, md);
        strbuf_adds(sb, "'s SSH to ");
        break;
    case ACCESS_EV_EXPIRED:
        strbuf_adds(sb, "expired: ");
        add(sb, g->user_name, md);
        strbuf_adds(sb, "'s SSH to ");
        break;
    case ACCESS_EV_APPLIED:
        strbuf_adds(sb, "in force on ");
        strbuf_adds(sb, b);
        add(sb, host, md);
        strbuf_adds(sb, b);
        strbuf_adds(sb, ": ");
        add(sb, g->user_name, md);
        strbuf_adds(sb, "'s SSH to ");
        break;
    }
    if (g->target_kind != NULL && strcmp(g->target_kind, "group") == 0)
        strbuf_adds(sb, "group ");
    strbuf_adds(sb, b);
    add(sb, g->target, md);
    strbuf_adds(sb, b);
    strbuf_adds(sb, " from ");
    strbuf_adds(sb, c);
    add(sb, g->cidr, md);
    strbuf_adds(sb, c);
    if (kind == ACCESS_EV_OPENED || kind == ACCESS_EV_APPLIED) {
        breakglass_until_text(g->expires_at_ms, now_ms, until, sizeof(until));
        strbuf_addf(sb, " %s", until);
        if (kind == ACCESS_EV_OPENED && g->approved_by != NULL) {
            if (g->user_name != NULL && strcmp(g->approved_by, g->user_name) == 0) {
                strbuf_adds(sb, " (self-approved)");
            } else {
                strbuf_adds(sb, " (approved by ");
                add(sb, who(g->approved_by), md);
                strbuf_adds(sb, ")");
            }
        }
    } else {
        strbuf_adds(sb, " for ");
        add_duration(sb, g->duration_s);
    }
    if (kind == ACCESS_EV_REQUESTED || kind == ACCESS_EV_OPENED) {
        strbuf_adds(sb, md ? "\n>" : " — ");
        add(sb, g->reason, md);
    }
    if (kind == ACCESS_EV_REQUESTED)
        strbuf_addf(sb, "%sWaiting for an approver of team ", md ? "\n" : " — ");
    if (kind == ACCESS_EV_REQUESTED) {
        add(sb, g->team, md);
        strbuf_addf(sb, " (or `/breakglass approve %" PRId64 "`).", g->id);
    }
    if ((kind == ACCESS_EV_DENIED || kind == ACCESS_EV_REVOKED) && g->end_reason != NULL &&
        g->end_reason[0] != '\0') {
        strbuf_adds(sb, " — ");
        add(sb, g->end_reason, md);
    }
}

static json_t *button(const char *action_id, const char *label, const char *style,
                      const char *value)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s}", "type", "button", "action_id", action_id,
                     "text", "type", "plain_text", "text", label, "value", value, "style", style);
}

json_t *breakglass_message_json(enum access_event_kind kind, const struct grant_row *g,
                                const char *actor, const char *host, const char *channel,
                                const char *ts, int64_t now_ms)
{
    struct strbuf md = STRBUF_INIT, plain = STRBUF_INIT;
    json_t *msg = NULL, *blocks = NULL;
    char value[32];

    render(&md, 1, kind, g, actor, host, now_ms);
    render(&plain, 0, kind, g, actor, host, now_ms);
    /* A section holds 3000 characters: a reason is at most 500 bytes (2500
     * escaped), names and the address are short. */
    blocks = json_array();
    if (blocks == NULL)
        goto out;
    json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "section", "text",
                                            "type", "mrkdwn", "text", strbuf_str(&md)));
    if (kind == ACCESS_EV_REQUESTED) {
        snprintf(value, sizeof(value), "%" PRId64, g->id);
        json_array_append_new(
            blocks,
            json_pack("{s:s, s:s, s:[o, o]}", "type", "actions", "block_id", BG_BLOCK_ID,
                      "elements", button(SLACK_ACTION_BG_APPROVE, "Approve", "primary", value),
                      button(SLACK_ACTION_BG_DENY, "Deny", "danger", value)));
    }
    msg = json_pack("{s:s, s:s, s:O}", "channel", channel, "text", strbuf_str(&plain), "blocks",
                    blocks);
    if (msg != NULL && ts != NULL)
        json_object_set_new(msg, "ts", json_string(ts));
    if (msg != NULL && ts == NULL)
        json_object_set_new(msg, "unfurl_links", json_false());
out:
    json_decref(blocks);
    strbuf_release(&md);
    strbuf_release(&plain);
    return msg;
}

/* ---- the notifier and updates ------------------------------------------------ */

/* Queue a Web API call with body msg (consumed). */
static int enqueue(const struct config *cfg, const char *method, json_t *msg)
{
    const struct config_slack *sc = &cfg->providers.slack;
    char url[1100];
    char *body = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
    int rc = -1;

    json_decref(msg);
    if (body == NULL || slack_method_url(cfg, method, url, sizeof(url)) != 0 ||
        sc->bot_token.value == NULL) {
        log_warn("breakglass", "chat message not queued", "method", method);
        goto out;
    }
    rc = slack_api_enqueue(url, sc->bot_token.value, body);
out:
    free(body);
    return rc;
}

static void notify(void *ctx, const struct access_event *ev)
{
    struct app *app = ctx;
    struct config *cfg = app_config_get(app);

    /* Another chat (Mattermost) has no channel API here: Slack or nothing. */
    if (cfg->providers.slack.enabled && ev->team_channel != NULL && ev->team_channel[0] != '\0' &&
        ev->grant != NULL)
        enqueue(cfg, "chat.postMessage",
                breakglass_message_json(ev->kind, ev->grant, ev->actor, ev->host, ev->team_channel,
                                        NULL, store_now_ms()));
    config_unref(cfg);
}

void breakglass_chat_install(struct app *app)
{
    access_set_notifier(notify, app);
}

void breakglass_chat_uninstall(void)
{
    access_set_notifier(NULL, NULL);
}

int breakglass_chat_update(const struct config *cfg, const struct grant_row *g, const char *actor,
                           const char *channel, const char *ts)
{
    if (!cfg->providers.slack.enabled || channel == NULL || channel[0] == '\0' || ts == NULL ||
        ts[0] == '\0')
        return -1;
    return enqueue(cfg, "chat.update",
                   breakglass_message_json(breakglass_state_kind(g), g, actor, NULL, channel, ts,
                                           store_now_ms()));
}
