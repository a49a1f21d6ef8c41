/*
 * handlers_commands.c - POST /slack/commands: slash commands from Slack and
 * Mattermost (/tel, /oncall, /page, /ack, /resolve, /escalate, /note,
 * /incidents, /breakglass, /allowme (chat_access.c) and /opsbell
 * <subcommand>; docs/CHATOPS.md).
 *
 * Order: who sent it first.  A request with Slack's headers is Slack's: its
 * signature is checked before anything is parsed (401 when wrong, stale or
 * Slack is not configured), then the form (Slack's ssl_check: 200; 400 when
 * malformed).  Any other
 * request must be a Mattermost command whose form carries the configured
 * command token (compared in constant time): anything else is 401.  Then
 * the command line (a usage error is an ephemeral answer), then the caller
 * (a chat id in nobody's chat_ids gets an ephemeral hint and nothing is
 * done; only `help` needs no mapping), then the work.
 *
 * Every answer is the HTTP response itself, JSON {"response_type", "text"},
 * status 200 (Slack shows nothing but a generic error for other statuses):
 * everything here is local database work, well within Slack's 3 s.  A /tel
 * call's outcome comes later, posted by the dispatcher to the command's
 * response_url (passed on only when that URL is allowed).
 *
 * State changes go through incident_act() (incident actions) and the
 * ingest pipeline (/page, plus an "incident.page" audit event), as
 * "user:<name>" from "slack:<U…>" / "mattermost:<id>".
 */
#include "api/api.h"
#include "api/chat_access.h"

#include "config/config.h"
#include "daemon/app.h"
#include "engine/action.h"
#include "ingest/ingest.h"
#include "notify/chatops.h"
#include "notify/slack.h"
#include "notify/tel.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"
#include "util/strbuf.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One command being answered. */
struct cmd {
    struct app *app;
    const struct config *cfg;
    struct http_request *req;
    enum chatops_provider provider;
    struct chatops_form form;
    struct chatops_command line;
    const struct config_user *user; /* NULL only for help */
    char actor[96];                 /* "user:ann" */
    char remote[96];                /* "slack:U024BE7LH" */
    struct strbuf text;             /* the answer */
    int in_channel;                 /* 1: everyone in the channel sees the answer */
};

/* Append s made safe for the chat (see chatops_escape). */
static void add_escaped(struct cmd *c, const char *s)
{
    size_t cap = (s != NULL ? strlen(s) : 0) * 5 + 1;
    char *buf = malloc(cap);

    if (buf == NULL)
        return;
    chatops_escape(c->provider, s, buf, cap);
    strbuf_adds(&c->text, buf);
    free(buf);
}

/* An error message as a sentence: first letter upper case. */
static void add_sentence(struct cmd *c, const char *msg)
{
    size_t start = c->text.len;

    add_escaped(c, msg);
    if (c->text.len > start)
        c->text.buf[start] = (char)toupper((unsigned char)c->text.buf[start]);
}

/* "2026-11-28T00:00:00Z" (an api_time_json string) as "2026-11-28 00:00 UTC". */
static void add_time(struct cmd *c, const char *rfc3339)
{
    if (rfc3339 == NULL || strlen(rfc3339) < 16) {
        strbuf_adds(&c->text, "?");
        return;
    }
    strbuf_addf(&c->text, "%.10s %.5s UTC", rfc3339, rfc3339 + 11);
}

/* ---- /oncall [team] ------------------------------------------------------------- */

static void add_shift(struct cmd *c, json_t *shift)
{
    const char *user = json_string_value(json_object_get(shift, "user"));

    if (user == NULL) {
        strbuf_adds(&c->text, "nobody");
        return;
    }
    strbuf_adds(&c->text, "*");
    add_escaped(c, user);
    strbuf_adds(&c->text, "* until ");
    add_time(c, json_string_value(json_object_get(shift, "end")));
}

static void run_oncall(struct cmd *c)
{
    const struct config_team *only = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    int64_t now = store_now_ms();
    unsigned shown = 0;
    char at[32];
    time_t t = (time_t)(now / 1000);
    struct tm tm;

    if (c->line.arg[0] != '\0') {
        only = config_find_team(c->cfg, c->line.arg);
        if (only == NULL) {
            strbuf_adds(&c->text, "No team is called '");
            add_escaped(c, c->line.arg);
            strbuf_adds(&c->text, "'.");
            return;
        }
    }
    if (store_acquire(c->app->store, &conn, &err) != 0) {
        strbuf_adds(&c->text, "Could not read the schedules: ");
        add_escaped(c, err.msg);
        return;
    }
    gmtime_r(&t, &tm);
    strftime(at, sizeof(at), "%Y-%m-%d %H:%M UTC", &tm);
    strbuf_addf(&c->text, "*On call* (%s)", at);
    for (unsigned i = 0; i < c->cfg->team_count; i++) {
        const struct config_team *team = &c->cfg->teams[i];
        if (only != NULL && only != team)
            continue;
        for (unsigned j = 0; j < team->schedule_count; j++) {
            json_t *o = api_oncall_json(conn, &team->schedules[j], now, &err);
            if (o == NULL) {
                strbuf_adds(&c->text, "\n• ");
                add_escaped(c, team->schedules[j].name);
                strbuf_adds(&c->text, ": ");
                add_escaped(c, err.msg);
                continue;
            }
            strbuf_adds(&c->text, "\n• ");
            add_escaped(c, team->schedules[j].name);
            strbuf_adds(&c->text, " (");
            add_escaped(c, team->name);
            strbuf_adds(&c->text, "): now ");
            add_shift(c, json_object_get(o, "oncall"));
            strbuf_adds(&c->text, "; next ");
            add_shift(c, json_object_get(o, "next"));
            json_decref(o);
            shown++;
        }
    }
    store_release(conn);
    if (shown == 0) {
        strbuf_reset(&c->text);
        if (only != NULL) {
            strbuf_adds(&c->text, "Team ");
            add_escaped(c, only->name);
            strbuf_adds(&c->text, " has no schedules.");
        } else {
            strbuf_adds(&c->text, "No schedules are configured.");
        }
    }
}

/* ---- /incidents [team] ---------------------------------------------------------- */

static void run_incidents(struct cmd *c)
{
    struct incident_filter filter = {.status = "open", .limit = CHATOPS_LIST_MAX};
    struct incident *list = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    size_t count = 0;

    if (c->line.arg[0] != '\0') {
        if (config_find_team(c->cfg, c->line.arg) == NULL) {
            strbuf_adds(&c->text, "No team is called '");
            add_escaped(c, c->line.arg);
            strbuf_adds(&c->text, "'.");
            return;
        }
        filter.team = c->line.arg;
    }
    if (store_acquire(c->app->store, &conn, &err) != 0 ||
        store_incident_list(conn, &filter, &list, &count, &err) != 0) {
        store_release(conn);
        strbuf_adds(&c->text, "Could not list the incidents: ");
        add_escaped(c, err.msg);
        return;
    }
    store_release(conn);
    if (count == 0) {
        strbuf_adds(&c->text, "No open incidents");
        if (filter.team != NULL) {
            strbuf_adds(&c->text, " for team ");
            add_escaped(c, filter.team);
        }
        strbuf_adds(&c->text, ".");
    } else {
        strbuf_adds(&c->text, "*Open incidents*");
        if (filter.team != NULL) {
            strbuf_adds(&c->text, " of team ");
            add_escaped(c, filter.team);
        }
        if (count == CHATOPS_LIST_MAX)
            strbuf_addf(&c->text, " (the newest %d)", CHATOPS_LIST_MAX);
    }
    for (size_t i = 0; i < count; i++) {
        const struct incident *inc = &list[i];
        char opened[32];
        time_t t = (time_t)(inc->created_at_ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(opened, sizeof(opened), "%Y-%m-%d %H:%M UTC", &tm);
        strbuf_addf(&c->text, "\n• #%lld %s [%s] ", (long long)inc->id, inc->status,
                    inc->severity != NULL ? inc->severity : "?");
        add_escaped(c, inc->summary);
        strbuf_adds(&c->text, " — ");
        add_escaped(c, inc->service);
        if (inc->team != NULL) {
            strbuf_adds(&c->text, " (");
            add_escaped(c, inc->team);
            strbuf_adds(&c->text, ")");
        }
        strbuf_addf(&c->text, ", opened %s", opened);
        if (inc->acknowledged_by != NULL && strcmp(inc->status, "acknowledged") == 0) {
            const char *by = inc->acknowledged_by;
            strbuf_adds(&c->text, ", acknowledged by ");
            add_escaped(c, strncmp(by, "user:", 5) == 0 ? by + 5 : by);
        }
    }
    incident_array_free(list, count);
}

/* ---- /ack /resolve /escalate /note ID ------------------------------------------------ */

static void run_action(struct cmd *c, enum incident_action action)
{
    struct incident_action_request ar = {0};
    struct incident inc = {0};
    struct ob_error err = {0};
    char id[32];
    int rc;

    ar.incident_id = c->line.incident_id;
    ar.action = action;
    ar.text = action == INCIDENT_NOTE ? c->line.message : NULL;
    ar.actor = c->actor;
    ar.remote_addr = c->remote;
    ar.request_id = c->req->request_id;
    rc = incident_act(c->app, &ar, &inc, &err);
    snprintf(id, sizeof(id), "%lld", (long long)ar.incident_id);
    log_info("chatops", "incident action", "user", c->user->name, "from", c->remote, "incident", id,
             "action", incident_action_kind(action), "result", rc == 0 ? "ok" : err.msg);
    if (rc == OB_ENOTFOUND) {
        strbuf_addf(&c->text, "No incident #%lld.", (long long)ar.incident_id);
    } else if (rc != 0) {
        add_sentence(c, err.msg);
    } else if (action == INCIDENT_NOTE) {
        strbuf_addf(&c->text, "Note added to incident #%lld by %s.", (long long)inc.id,
                    c->user->name);
    } else {
        c->in_channel = 1;
        if (action == INCIDENT_ESCALATE)
            strbuf_addf(&c->text, "Incident #%lld escalated to the next step by %s",
                        (long long)inc.id, c->user->name);
        else
            strbuf_addf(&c->text, "Incident #%lld %s by %s", (long long)inc.id, inc.status,
                        c->user->name);
        strbuf_adds(&c->text, ": ");
        add_escaped(c, inc.summary);
    }
    incident_release(&inc);
}

static void run_ack(struct cmd *c)
{
    run_action(c, INCIDENT_ACK);
}

static void run_resolve(struct cmd *c)
{
    run_action(c, INCIDENT_RESOLVE);
}

static void run_escalate(struct cmd *c)
{
    run_action(c, INCIDENT_ESCALATE);
}

static void run_note(struct cmd *c)
{
    run_action(c, INCIDENT_NOTE);
}

/* ---- /page TEAM|SERVICE message --------------------------------------------------------- */

/* A service by name; else a team's fallback service, else its first one. */
static const struct config_service *page_target(const struct config *cfg, const char *name)
{
    const struct config_service *svc = config_find_service(cfg, name);
    const struct config_team *team;

    if (svc != NULL)
        return svc;
    team = config_find_team(cfg, name);
    if (team == NULL)
        return NULL;
    if (team->fallback_service != NULL)
        return team->fallback_service;
    return team->service_count > 0 ? &team->services[0] : NULL;
}

static void page_audit(struct cmd *c, const struct config_service *svc, int64_t incident_id)
{
    struct audit_origin origin = {c->actor, c->remote, c->req->request_id};
    struct ob_error err = {0};
    char target[64], *details;
    json_t *obj;

    snprintf(target, sizeof(target), "incident:%lld", (long long)incident_id);
    obj = json_pack("{s:s, s:s, s:s}", "service", svc->name, "summary", c->line.message, "channel",
                    c->form.channel_id);
    details = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (audit_record(c->app->store, &origin, "incident.page", target, details, &err) != 0)
        log_warn("chatops", "page not audited", "incident", target, "error", err.msg);
    free(details);
}

static void run_page(struct cmd *c)
{
    const struct config_service *svc = page_target(c->cfg, c->line.arg);
    struct alert_label labels[4];
    struct alert_event ev = {0};
    struct alert_batch batch = {&ev, 1};
    struct ingest_result result = {0};
    struct ob_error err = {0};
    unsigned char rnd[6];
    char key[ALERT_DEDUP_KEY_MAX + 1], source[32];
    size_t n = 0;
    int rc;

    if (svc == NULL) {
        strbuf_adds(&c->text, "No service or team is called '");
        add_escaped(c, c->line.arg);
        strbuf_adds(&c->text, "' (or that team has no services).");
        return;
    }
    if (strlen(c->line.message) > ALERT_SUMMARY_MAX) {
        strbuf_addf(&c->text, "The message is longer than %d bytes.", ALERT_SUMMARY_MAX);
        return;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    /* Unique per page: two pages with the same words are two incidents. */
    snprintf(key, sizeof(key), "chat-page:%lld-%02x%02x%02x%02x%02x%02x", (long long)store_now_ms(),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    snprintf(source, sizeof(source), "chat:%s", chatops_provider_name(c->provider));
    /* Sorted by name, as doors leave them; no empty values. */
    labels[n++] = (struct alert_label){"chat", (char *)chatops_provider_name(c->provider)};
    if (c->form.channel_id[0] != '\0')
        labels[n++] = (struct alert_label){"chat_channel", (char *)c->form.channel_id};
    labels[n++] = (struct alert_label){"chat_user", (char *)c->form.user_id};
    labels[n++] = (struct alert_label){"paged_by", (char *)c->user->name};
    ev.source = SOURCE_GENERIC;
    ev.action = ALERT_TRIGGER;
    ev.service = svc->name;
    ev.dedup_key = key;
    ev.summary = (char *)c->line.message;
    ev.severity = SEVERITY_CRITICAL;
    ev.source_name = source;
    ev.labels = labels;
    ev.label_count = n;
    alert_fingerprint(labels, n, ev.fingerprint);
    /* ev borrows everything: it is not released.  ingest_submit waits for the
     * commit (a local fsync), as the heartbeat door does. */
    rc = ingest_submit(c->app->ingest, &batch, &result, &err);
    if (rc == 0 && result.code != 0)
        rc = ob_fail(&err, result.code, "%s", result.message);
    log_info("chatops", "page", "user", c->user->name, "from", c->remote, "service", svc->name,
             "result", rc == 0 ? ingest_outcome_name(result.outcome) : err.msg);
    if (rc != 0 || result.incident_id == 0) {
        strbuf_adds(&c->text, "Could not page ");
        add_escaped(c, svc->name);
        strbuf_adds(&c->text, ": ");
        add_escaped(c, rc != 0 ? err.msg : "no incident was opened");
        return;
    }
    page_audit(c, svc, result.incident_id);
    c->in_channel = 1;
    strbuf_adds(&c->text, "Paged ");
    add_escaped(c, svc->name);
    strbuf_addf(&c->text, ": incident #%lld — ", (long long)result.incident_id);
    add_escaped(c, c->line.message);
    strbuf_addf(&c->text, " (paged by %s)", c->user->name);
    if (result.silenced)
        strbuf_adds(&c->text, ". It is silenced: nobody is notified until the silence ends.");
}

/* ---- /tel NICKNAME [message] ---------------------------------------------------------- */

/* Where the call's outcome may be posted: the command's response_url, when allowed. */
static const char *tel_reply_url(const struct cmd *c)
{
    const char *url = c->form.response_url;

    if (url[0] == '\0')
        return NULL;
    if (c->provider == CHATOPS_SLACK)
        return slack_response_url_allowed(c->cfg->providers.slack.api_url, url) ? url : NULL;
    return chatops_mattermost_url_allowed(c->cfg->providers.mattermost.api_url, url) ? url : NULL;
}

static void run_tel(struct cmd *c)
{
    struct audit_origin origin = {c->actor, c->remote, c->req->request_id};
    struct tel_request tr = {0};
    struct tel_placed placed;
    struct ob_error err = {0};
    const char *callee = c->line.arg;
    const struct config_user *target;
    int rc;

    if (c->line.mention_id[0] != '\0') { /* "/tel @bob" as a Slack mention */
        const struct config_user *u = chatops_find_user(c->cfg, c->provider, c->line.mention_id);
        if (u != NULL)
            callee = u->nickname != NULL ? u->nickname : u->name;
    }
    tr.caller = c->user->name;
    tr.callee = callee;
    tr.message = c->line.message;
    tr.reply_url = tel_reply_url(c);
    tr.origin = &origin;
    rc = tel_request(c->app, &tr, &placed, &err);
    log_info("chatops", "tel", "user", c->user->name, "from", c->remote, "callee", callee, "result",
             rc == 0 ? "queued" : err.msg);
    if (rc == OB_ENOTFOUND) {
        const char *matches[5];
        size_t n = tel_close_matches(c->cfg, callee, matches, 5);

        strbuf_adds(&c->text, "No one is called '");
        add_escaped(c, callee);
        strbuf_adds(&c->text, "'.");
        for (size_t i = 0; i < n; i++) {
            strbuf_adds(&c->text, i == 0 ? " Did you mean: " : ", ");
            add_escaped(c, matches[i]);
        }
        if (n > 0)
            strbuf_adds(&c->text, "?");
        return;
    }
    if (rc != 0) {
        add_sentence(c, err.msg);
        return;
    }
    target = config_find_user(c->cfg, placed.callee);
    strbuf_adds(&c->text, "Calling ");
    add_escaped(c,
                target != NULL && target->full_name != NULL ? target->full_name : placed.nickname);
    strbuf_adds(&c->text, " (");
    add_escaped(c, placed.callee);
    strbuf_adds(&c->text, ")…");
    if (tr.reply_url != NULL)
        strbuf_adds(&c->text, " The outcome will be posted here.");
}

/* ---- /breakglass, /allowme (chat_access.c) ------------------------------------------------ */

static void run_access(struct cmd *c)
{
    struct chat_access_cmd ac = {
        .app = c->app,
        .cfg = c->cfg,
        .provider = c->provider,
        .form = &c->form,
        .line = &c->line,
        .user = c->user,
        .actor = c->actor,
        .remote = c->remote,
        .request_id = c->req->request_id,
        .text = &c->text,
    };

    if (c->line.verb == CHATOPS_ALLOWME)
        chat_access_allowme(&ac);
    else
        chat_access_breakglass(&ac);
}

/* ---- dispatch --------------------------------------------------------------------------- */

static const struct {
    enum chatops_verb verb;
    void (*run)(struct cmd *c);
} runners[] = {
    {CHATOPS_TEL, run_tel},           {CHATOPS_ONCALL, run_oncall},
    {CHATOPS_PAGE, run_page},         {CHATOPS_ACK, run_ack},
    {CHATOPS_RESOLVE, run_resolve},   {CHATOPS_ESCALATE, run_escalate},
    {CHATOPS_NOTE, run_note},         {CHATOPS_INCIDENTS, run_incidents},
    {CHATOPS_BREAKGLASS, run_access}, {CHATOPS_ALLOWME, run_access},
};

static void add_help(struct cmd *c)
{
    /* Only the main command (whatever its name) leads here: aliases have a verb. */
    char *help = chatops_help_text(c->form.command);

    if (help != NULL)
        strbuf_adds(&c->text, help);
    free(help);
}

static void add_unmapped_hint(struct cmd *c)
{
    const char *p = chatops_provider_name(c->provider);

    strbuf_addf(&c->text,
                "Your %s account (%s) is not linked to an opsbell user, so nothing was done. "
                "Ask an opsbell admin to add `{provider: %s, id: %s}` to your `chat_ids` in "
                "users.yaml.",
                c->provider == CHATOPS_SLACK ? "Slack" : "Mattermost", c->form.user_id, p,
                c->form.user_id);
}

static void run_command(struct cmd *c)
{
    struct ob_error err = {0};

    if (chatops_parse_command(c->form.command, c->form.text, &c->line, &err) != 0) {
        if (chatops_find_user(c->cfg, c->provider, c->form.user_id) == NULL)
            add_unmapped_hint(c);
        else
            add_escaped(c, err.msg);
        return;
    }
    if (c->line.verb == CHATOPS_HELP || c->line.verb == CHATOPS_UNKNOWN) {
        if (c->line.verb == CHATOPS_UNKNOWN) {
            strbuf_adds(&c->text, "Unknown command '");
            add_escaped(c, c->line.arg);
            strbuf_adds(&c->text, "'.\n");
        }
        add_help(c);
        return;
    }
    c->user = chatops_find_user(c->cfg, c->provider, c->form.user_id);
    if (c->user == NULL) {
        log_info("chatops", "command from an unmapped chat user", "provider",
                 chatops_provider_name(c->provider), "chat_user", c->form.user_id, "command",
                 chatops_verb_name(c->line.verb));
        add_unmapped_hint(c);
        return;
    }
    snprintf(c->actor, sizeof(c->actor), "user:%s", c->user->name);
    snprintf(c->remote, sizeof(c->remote), "%s:%s", chatops_provider_name(c->provider),
             c->form.user_id);
    for (size_t i = 0; i < sizeof(runners) / sizeof(runners[0]); i++) {
        if (runners[i].verb == c->line.verb) {
            runners[i].run(c);
            return;
        }
    }
    add_help(c);
}

/*
 * Who sent the request: 0 with *provider and *form filled, or an answer
 * (401, 400, 404) already in resp.
 */
static int authenticate(const struct config *cfg, struct http_request *req,
                        struct http_response *resp, enum chatops_provider *provider,
                        struct chatops_form *form)
{
    const struct config_slack *sc = &cfg->providers.slack;
    const struct config_mattermost *mc = &cfg->providers.mattermost;
    const char *ts = http_request_header(req, "X-Slack-Request-Timestamp");
    const char *sig = http_request_header(req, "X-Slack-Signature");
    struct ob_error err = {0};

    if (!sc->enabled && !mc->enabled) {
        http_response_error(resp, 404,
                            "slash commands are not configured (providers.slack or "
                            "providers.mattermost)");
        return -1;
    }
    if (ts != NULL || sig != NULL) {
        if (!sc->enabled) {
            http_response_error(resp, 401,
                                "a Slack request, but providers.slack is not "
                                "configured: its signature cannot be checked");
            return -1;
        }
        if (slack_verify_fresh((const unsigned char *)sc->signing_secret.value,
                               sc->signing_secret.len, ts, sig, req->body, req->body_len,
                               (int64_t)time(NULL), &err) != 0) {
            log_warn("chatops", "slack command refused", "reason", err.msg, "remote",
                     req->remote_addr);
            http_response_error(resp, 401, "%s", err.msg);
            return -1;
        }
        if (chatops_is_ssl_check(req->body, req->body_len)) {
            http_response_set(resp, 200, "application/json", "{}", 2);
            return -1;
        }
        if (chatops_form_parse(req->body, req->body_len, form, &err) != 0) {
            http_response_error(resp, 400, "%s", err.msg);
            return -1;
        }
        *provider = CHATOPS_SLACK;
        return 0;
    }
    if (!mc->enabled) {
        http_response_error(resp, 401,
                            "no X-Slack-Signature / X-Slack-Request-Timestamp header, and "
                            "Mattermost commands are not configured (providers.mattermost)");
        return -1;
    }
    if (chatops_form_parse(req->body, req->body_len, form, &err) != 0 ||
        !chatops_token_ok((const unsigned char *)mc->command_token.value, mc->command_token.len,
                          form->token)) {
        log_warn("chatops",
                 "command refused: neither a slack signature nor a valid mattermost "
                 "token",
                 "remote", req->remote_addr);
        http_response_error(resp, 401,
                            "neither a signed Slack request nor a Mattermost command with the "
                            "configured token");
        return -1;
    }
    *provider = CHATOPS_MATTERMOST;
    return 0;
}

void api_slack_commands(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    struct cmd *c = calloc(1, sizeof(*c)); /* ~10 KiB of form and line: not on the stack */
    char *body;

    if (c == NULL) {
        http_response_error(resp, 503, "out of memory");
        goto out;
    }
    if (authenticate(cfg, req, resp, &c->provider, &c->form) != 0)
        goto out;
    c->app = app;
    c->cfg = cfg;
    c->req = req;
    strbuf_init(&c->text);
    run_command(c);
    body = chatops_reply_json(c->in_channel, strbuf_str(&c->text));
    strbuf_release(&c->text);
    if (body == NULL)
        http_response_error(resp, 500, "out of memory");
    else
        http_response_take(resp, 200, "application/json", body, strlen(body));
out:
    if (c != NULL)
        memset(c->form.token, 0, sizeof(c->form.token));
    free(c);
    config_unref(cfg);
}
