/*
 * chat_access.c - /breakglass and /allowme from Slack and Mattermost
 * (chat_access.h).  Grants go through access_grant_request / approve /
 * deny / revoke as the mapped user ("user:<name>" from "slack:<U…>"), so
 * the team's policy applies exactly as for the API and the CLI; the
 * team's channel hears of each change from the notifier
 * (notify/breakglass_chat.c).
 */
#include "api/chat_access.h"

#include "access/access.h"
#include "auth/auth.h"
#include "config/config.h"
#include "daemon/app.h"
#include "notify/breakglass_chat.h"
#include "notify/slack.h"
#include "store/access.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"
#include "util/strbuf.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_GRANT_LIST_MAX 200 /* live grants read for /breakglass list */

static void add_escaped(const struct chat_access_cmd *c, const char *s)
{
    size_t cap = (s != NULL ? strlen(s) : 0) * 5 + 1;
    char *buf = malloc(cap);

    if (buf == NULL)
        return;
    chatops_escape(c->provider, s, buf, cap);
    strbuf_adds(c->text, buf);
    free(buf);
}

/* An error message meant for people (policy, bad input) as a sentence. */
static void add_sentence(const struct chat_access_cmd *c, const char *msg)
{
    size_t start = c->text->len;

    add_escaped(c, msg);
    if (c->text->len > start)
        c->text->buf[start] = (char)toupper((unsigned char)c->text->buf[start]);
    if (c->text->len > start && c->text->buf[c->text->len - 1] != '.')
        strbuf_adds(c->text, ".");
}

/* A refusal: the policy's own words for what people can fix, a fixed
 * sentence (and a log line) for anything internal. */
static void add_refusal(const struct chat_access_cmd *c, const char *what, int rc,
                        const struct ob_error *err)
{
    if (rc == OB_EINVAL || rc == OB_EFORBIDDEN || rc == OB_ENOTFOUND || rc == OB_ECONFLICT ||
        rc == OB_EUNAUTH) {
        add_sentence(c, err->msg);
        return;
    }
    log_warn("chatops", "breakglass command failed", "user", c->user->name, "what", what, "error",
             err->msg);
    strbuf_adds(c->text, "Something went wrong on the opsbell server (it is logged); nothing "
                         "was changed. Try again, or use the opsbell CLI.");
}

/* "198.51.100.7/32" -> "198.51.100.7" (a single address reads better). */
static void add_cidr(const struct chat_access_cmd *c, const char *cidr)
{
    char buf[64];
    size_t n;

    snprintf(buf, sizeof(buf), "%s", cidr != NULL ? cidr : "?");
    n = strlen(buf);
    if (n > 3 && strcmp(buf + n - 3, "/32") == 0 && strchr(buf, ':') == NULL)
        buf[n - 3] = '\0';
    else if (n > 4 && strcmp(buf + n - 4, "/128") == 0)
        buf[n - 4] = '\0';
    add_escaped(c, buf);
}

static void add_target(const struct chat_access_cmd *c, const struct grant_row *g)
{
    if (g->target_kind != NULL && strcmp(g->target_kind, "group") == 0)
        strbuf_adds(c->text, "group ");
    add_escaped(c, g->target);
}

/* A team's channel as the chat shows it: <#C123> for a Slack id. */
static void add_channel(const struct chat_access_cmd *c, const char *channel)
{
    const char *kind = slack_address_kind(channel);

    if (c->provider == CHATOPS_SLACK && kind != NULL && strcmp(kind, "conversation") == 0) {
        strbuf_addf(c->text, "<#%s>", channel);
        return;
    }
    if (channel[0] != '#')
        strbuf_adds(c->text, "#");
    add_escaped(c, channel);
}

/* "SSH to web1 from 198.51.100.7 until 14:30 UTC" */
static void add_grant_line(const struct chat_access_cmd *c, const struct grant_row *g)
{
    char until[64];

    strbuf_adds(c->text, "SSH to ");
    add_target(c, g);
    strbuf_adds(c->text, " from ");
    add_cidr(c, g->cidr);
    if (g->state != NULL && strcmp(g->state, GRANT_ACTIVE) == 0) {
        breakglass_until_text(g->expires_at_ms, store_now_ms(), until, sizeof(until));
        strbuf_addf(c->text, " %s", until);
    } else {
        strbuf_addf(c->text, " for %" PRId64 " min", (g->duration_s + 59) / 60);
    }
}

static void run_request(const struct chat_access_cmd *c)
{
    const struct chatops_command *l = c->line;
    struct audit_origin origin = {c->actor, c->remote, c->request_id};
    struct grant_request req = {0};
    struct grant_row g = {0};
    struct ob_error err = {0};
    const struct config_team *team;
    int rc;

    req.user = c->user->name;
    if (config_find_host_group(c->cfg, l->arg) != NULL)
        req.group = l->arg;
    else
        req.host = l->arg;
    req.duration_s = l->duration_s;
    req.reason = l->message;
    req.ip = NULL; /* the allowlist says where the user is */
    req.from_addr = NULL;
    rc = access_grant_request(c->app->store, c->cfg, &req, &origin, &g, &err);
    log_info("chatops", "breakglass request", "user", c->user->name, "from", c->remote, "target",
             l->arg, "result", rc == 0 ? g.state : err.msg);
    if (rc == OB_EINVAL &&
        strncmp(err.msg, ACCESS_NO_SOURCE_MSG, strlen(ACCESS_NO_SOURCE_MSG)) == 0) {
        strbuf_adds(c->text, "No address to open SSH from: you have not been seen in the chat "
                             "lately. Run `/allowme` and open its link from the machine you will "
                             "SSH from, then ask again.");
        goto out;
    }
    if (rc != 0) {
        add_refusal(c, "request", rc, &err);
        goto out;
    }
    strbuf_addf(c->text, "Grant #%" PRId64, g.id);
    if (strcmp(g.state, GRANT_ACTIVE) == 0) {
        strbuf_adds(c->text, ": ");
        add_grant_line(c, &g);
        strbuf_adds(c->text, ".");
        goto out;
    }
    team = config_find_team(c->cfg, g.team);
    strbuf_adds(c->text, " waits for an approver");
    if (team != NULL && team->chat_channel != NULL && team->chat_channel[0] != '\0') {
        strbuf_adds(c->text, " in ");
        add_channel(c, team->chat_channel);
    } else {
        strbuf_adds(c->text, " of team ");
        add_escaped(c, g.team);
    }
    strbuf_addf(c->text, " (`/breakglass approve %" PRId64 "`): ", g.id);
    add_grant_line(c, &g);
    strbuf_adds(c->text, ".");
out:
    grant_row_release(&g);
}

static void run_list(const struct chat_access_cmd *c)
{
    struct grant_row *rows = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    size_t n = 0, shown = 0;
    int rc;

    rc = store_acquire(c->app->store, &conn, &err);
    if (rc == 0)
        rc = store_grant_list(conn, "live", NULL, CHAT_GRANT_LIST_MAX, &rows, &n, &err);
    store_release(conn);
    if (rc != 0) {
        add_refusal(c, "list", rc, &err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct grant_row *g = &rows[i];
        const struct config_team *team = config_find_team(c->cfg, g->team);

        if (strcmp(g->user_name, c->user->name) != 0 &&
            (team == NULL || !access_team_member(team, c->user->name)))
            continue;
        if (shown == 0)
            strbuf_adds(c->text, "*Live grants of your teams*");
        if (shown == CHATOPS_LIST_MAX) {
            strbuf_addf(c->text, "\n… and %zu more (`opsbell breakglass list`)", n - i);
            break;
        }
        strbuf_addf(c->text, "\n• #%" PRId64 " %s ", g->id, g->state);
        add_escaped(c, g->user_name);
        strbuf_adds(c->text, ": ");
        add_grant_line(c, g);
        strbuf_adds(c->text, " — ");
        add_escaped(c, g->reason);
        shown++;
    }
    if (shown == 0)
        strbuf_adds(c->text, "No live grants for your teams.");
    grant_row_array_free(rows, n);
}

/* The grant as stored now (after a conflict: to say what state it is in). */
static int grant_state(const struct chat_access_cmd *c, int64_t id, struct grant_row *g)
{
    struct store_conn *conn = NULL;
    int rc = store_acquire(c->app->store, &conn, NULL);

    grant_row_release(g);
    if (rc == 0)
        rc = store_grant_get(conn, id, g, NULL);
    store_release(conn);
    return rc;
}

static void run_decision(const struct chat_access_cmd *c)
{
    const struct chatops_command *l = c->line;
    struct audit_origin origin = {c->actor, c->remote, c->request_id};
    const char *reason = l->message[0] != '\0' ? l->message : NULL;
    struct grant_row g = {0};
    struct ob_error err = {0};
    const char *what;
    char id[32];
    int rc;

    switch (l->bg_op) {
    case CHATOPS_BG_APPROVE:
        what = "approve";
        rc = access_grant_approve(c->app->store, c->cfg, l->grant_id, c->user->name, &origin, &g,
                                  &err);
        break;
    case CHATOPS_BG_DENY:
        what = "deny";
        rc = access_grant_deny(c->app->store, c->cfg, l->grant_id, c->user->name, reason, &origin,
                               &g, &err);
        break;
    default:
        what = "revoke";
        rc = access_grant_revoke(c->app->store, c->cfg, l->grant_id, c->user->name, reason, &origin,
                                 &g, &err);
        break;
    }
    snprintf(id, sizeof(id), "%" PRId64, l->grant_id);
    log_info("chatops", "breakglass decision", "user", c->user->name, "from", c->remote, "grant",
             id, "action", what, "result", rc == 0 ? "ok" : err.msg);
    if (rc == OB_ENOTFOUND) {
        strbuf_addf(c->text, "No grant #%s.", id);
    } else if (rc == OB_ECONFLICT && grant_state(c, l->grant_id, &g) == 0) {
        strbuf_addf(c->text, "Grant #%s is %s already; nothing was changed.", id, g.state);
    } else if (rc != 0) {
        add_refusal(c, what, rc, &err);
    } else {
        strbuf_addf(c->text, "Grant #%" PRId64 " %s by %s", g.id,
                    l->bg_op == CHATOPS_BG_APPROVE ? "approved"
                    : l->bg_op == CHATOPS_BG_DENY  ? "denied"
                                                   : "revoked",
                    c->user->name);
        strbuf_adds(c->text, ": ");
        add_escaped(c, g.user_name);
        strbuf_adds(c->text, l->bg_op == CHATOPS_BG_APPROVE ? " has " : "'s ");
        add_grant_line(c, &g);
        strbuf_adds(c->text, ".");
    }
    grant_row_release(&g);
}

void chat_access_breakglass(const struct chat_access_cmd *c)
{
    switch (c->line->bg_op) {
    case CHATOPS_BG_REQUEST:
        run_request(c);
        break;
    case CHATOPS_BG_LIST:
        run_list(c);
        break;
    case CHATOPS_BG_REVOKE:
    case CHATOPS_BG_APPROVE:
    case CHATOPS_BG_DENY:
        run_decision(c);
        break;
    }
}

void chat_access_allowme(const struct chat_access_cmd *c)
{
    struct audit_origin origin = {c->actor, c->remote, c->request_id};
    struct ob_error err = {0};
    uint32_t ttl = c->cfg->allowlist.link_ttl_seconds;
    char *url = NULL;
    int rc = access_link_create(c->app->store, c->cfg, c->user->name, &origin, &url, &err);

    log_info("chatops", "allowme link", "user", c->user->name, "from", c->remote, "result",
             rc == 0 ? "created" : err.msg);
    if (rc != 0) {
        add_refusal(c, "allowme", rc, &err);
        return;
    }
    strbuf_adds(c->text, "Open this link in a browser on the machine you will SSH from, within ");
    if (ttl % 60 == 0)
        strbuf_addf(c->text, "%" PRIu32 " minutes", ttl / 60);
    else
        strbuf_addf(c->text, "%" PRIu32 " seconds", ttl);
    strbuf_adds(c->text, " (it works once, and only for you): ");
    strbuf_adds(c->text, url); /* ours: no user text in it */
    strbuf_adds(c->text, "\nIt records the address it is opened from in your allowlist.");
    free(url);
}
