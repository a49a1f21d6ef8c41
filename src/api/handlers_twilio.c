/*
 * handlers_twilio.c - Twilio's callbacks: the TwiML menu of a call, the
 * key pressed, the call's status, and inbound SMS replies.
 *
 * Every request is verified first: X-Twilio-Signature must be the
 * signature (twilio.h) of the URL Twilio requested - public_url + path +
 * the query string - and the POST parameters, under providers.twilio's
 * auth token.  Missing or wrong: 403 and nothing done.  {id} is the
 * notification (outbox row) the call was placed for; `attempt` in the
 * query names the attempt, so that the callbacks of an older attempt's
 * call change nothing.
 *
 * The key 1 acknowledges and 2 escalates the incident as the user the call
 * was for ("user:<name>", from "twilio:<number>"), through incident_act();
 * an SMS reply ("42 ack") acts as the user whose sms or voice number sent it.
 */
#include "api/api.h"

#include "config/config.h"
#include "daemon/app.h"
#include "engine/action.h"
#include "notify/notify.h"
#include "notify/twilio.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"
#include "util/form.h"
#include "util/log.h"
#include "util/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One callback: its configuration, its verified parameters. */
struct twilio_call {
    struct app *app;
    struct config *cfg;    /* a reference, dropped by call_release */
    struct form form;      /* the POST parameters */
    struct strbuf base;    /* twilio_base_url() */
    struct outbox_row row; /* the notification ({id} routes only) */
    int has_row;
};

static void call_release(struct twilio_call *c)
{
    form_release(&c->form);
    strbuf_release(&c->base);
    if (c->has_row)
        outbox_row_release(&c->row);
    if (c->cfg != NULL)
        config_unref(c->cfg);
}

/* Append "?name=value&..." as received (re-encoded: our own URLs carry
 * digits only, so the encoding is the one Twilio was given). */
static enum MHD_Result add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct strbuf *url = cls;

    (void)kind;
    strbuf_addch(url, strchr(url->buf, '?') == NULL ? '?' : '&');
    twilio_url_encode(url, key);
    if (value != NULL) {
        strbuf_addch(url, '=');
        twilio_url_encode(url, value);
    }
    return MHD_YES;
}

static int parse_positive(const char *text, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (text == NULL || !isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

static void reply_twiml(struct http_response *resp, struct strbuf *xml)
{
    size_t len = 0;
    char *text = strbuf_detach(xml, &len);

    http_response_take(resp, 200, "text/xml", text, len);
}

static void reply_say_hangup(struct http_response *resp, const char *text)
{
    struct strbuf xml = STRBUF_INIT;

    twilio_twiml_say_hangup(text, &xml);
    reply_twiml(resp, &xml);
}

/*
 * The start of every callback: the configuration, the form and the
 * signature, then (with_row) the notification {id} of contact type voice.
 * Returns 0, or -1 with resp set.
 */
static int call_begin(struct app *app, struct http_request *req, struct http_response *resp,
                      int with_row, struct twilio_call *c)
{
    const struct config_twilio *tw;
    struct strbuf url = STRBUF_INIT;
    struct ob_error err = {0};
    const char *signature = http_request_header(req, "X-Twilio-Signature");
    struct store_conn *conn = NULL;
    int64_t id = 0;
    int valid, rc;

    memset(c, 0, sizeof(*c));
    c->app = app;
    strbuf_init(&c->base);
    c->cfg = app_config_get(app);
    tw = &c->cfg->providers.twilio;
    if (!tw->enabled || tw->auth_token.value == NULL) {
        http_response_error(resp, 404, "the twilio provider is not configured");
        return -1;
    }
    if (signature == NULL) {
        http_response_error(resp, 403, "missing X-Twilio-Signature");
        return -1;
    }
    if (form_parse(req->body, req->body_len, &c->form, &err) != 0) {
        http_response_error(resp, 400, "malformed form body: %s", err.msg);
        return -1;
    }
    twilio_base_url(c->cfg, &c->base);
    strbuf_add(&url, c->base.buf, c->base.len);
    strbuf_adds(&url, req->path);
    if (req->conn != NULL)
        MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_query_arg, &url);
    valid = twilio_signature_valid((const unsigned char *)tw->auth_token.value, tw->auth_token.len,
                                   url.buf, &c->form, signature);
    strbuf_release(&url);
    if (!valid) {
        log_warn("twilio", "callback refused: wrong signature", "path", req->path, "remote",
                 req->remote_addr);
        http_response_error(resp, 403, "invalid X-Twilio-Signature");
        return -1;
    }
    if (!with_row)
        return 0;
    if (parse_positive(http_request_param(req, "id"), &id) != 0 || id == 0) {
        http_response_error(resp, 400, "the notification id must be a positive integer");
        return -1;
    }
    rc = store_acquire(app->store, &conn, &err);
    if (rc == 0)
        rc = store_outbox_get(conn, id, &c->row, &err);
    store_release(conn);
    if (rc == OB_ENOTFOUND) {
        http_response_error(resp, 404, "no notification %lld", (long long)id);
        return -1;
    }
    if (rc != 0) {
        http_response_from_error(resp, &err);
        return -1;
    }
    c->has_row = 1;
    if (strcmp(c->row.contact_type, "voice") != 0) {
        http_response_error(resp, 404, "notification %lld is not a call", (long long)id);
        return -1;
    }
    return 0;
}

/* The `attempt` query parameter: 1 when it names the row's current
 * attempt, 0 when an older one, -1 (resp set) when missing or malformed. */
static int call_current(const struct twilio_call *c, struct http_request *req,
                        struct http_response *resp)
{
    int64_t attempt = 0;

    if (parse_positive(http_request_query(req, "attempt"), &attempt) != 0) {
        http_response_error(resp, 400, "query parameter 'attempt' must be a positive integer");
        return -1;
    }
    return attempt == c->row.attempts;
}

static int load_incident(struct twilio_call *c, struct incident *inc, struct http_response *resp)
{
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    int rc = store_acquire(c->app->store, &conn, &err);

    if (rc == 0)
        rc = store_incident_get(conn, c->row.incident_id, inc, &err);
    store_release(conn);
    if (rc != 0)
        http_response_from_error(resp, &err);
    return rc;
}

static void reply_menu(struct twilio_call *c, const struct incident *inc, int64_t loop,
                       const char *prefix, struct http_response *resp)
{
    struct strbuf xml = STRBUF_INIT;

    twilio_twiml_menu(c->base.buf, c->row.id, c->row.attempts, loop, inc, prefix, &xml);
    reply_twiml(resp, &xml);
}

/* "incident 42 is already acknowledged" -> "Incident 42 is already acknowledged." */
static void sentence(char *out, size_t cap, const char *msg)
{
    snprintf(out, cap, "%.200s.", msg);
    out[0] = (char)toupper((unsigned char)out[0]);
}

void api_twilio_voice(void *app, struct http_request *req, struct http_response *resp)
{
    struct twilio_call c;
    struct incident inc = {0};
    int64_t loop = 0;
    char text[160];
    int current;

    if (call_begin(app, req, resp, 1, &c) != 0)
        goto out;
    current = call_current(&c, req, resp);
    if (current < 0)
        goto out;
    if (http_request_query(req, "loop") != NULL &&
        parse_positive(http_request_query(req, "loop"), &loop) != 0) {
        http_response_error(resp, 400, "query parameter 'loop' must be a number");
        goto out;
    }
    if (!current) {
        reply_say_hangup(resp, "This alert is no longer current. Goodbye.");
        goto out;
    }
    if (load_incident(&c, &inc, resp) != 0)
        goto out;
    if (strcmp(inc.status, "triggered") != 0) {
        snprintf(text, sizeof(text), "opsbell: incident %lld is already %s. Goodbye.",
                 (long long)inc.id, inc.status);
        reply_say_hangup(resp, text);
    } else {
        reply_menu(&c, &inc, loop, NULL, resp);
    }
    incident_release(&inc);
out:
    call_release(&c);
}

/* Key 1 or 2: act on the incident as the user the call was for. */
static void gather_act(struct twilio_call *c, struct http_request *req, enum incident_action action,
                       struct http_response *resp)
{
    char actor[160], from[160], text[256];
    struct ob_error err = {0};
    struct incident_action_request ar = {
        .incident_id = c->row.incident_id,
        .action = action,
        .actor = actor,
        .remote_addr = from,
        .request_id = req->request_id,
    };
    int rc;

    snprintf(actor, sizeof(actor), "user:%s", c->row.user_name);
    snprintf(from, sizeof(from), "twilio:%s", c->row.address);
    rc = incident_act(c->app, &ar, NULL, &err);
    if (rc == OB_ECONFLICT || rc == OB_ENOTFOUND) {
        sentence(text, sizeof(text), err.msg);
        snprintf(text + strlen(text), sizeof(text) - strlen(text), " Goodbye.");
        reply_say_hangup(resp, text);
        return;
    }
    if (rc != 0) {
        http_response_from_error(resp, &err);
        return;
    }
    if (action == INCIDENT_ACK) {
        snprintf(text, sizeof(text), "key 1: acknowledged by %s", actor);
        notify_complete(c->app, c->row.id, c->row.attempts, NOTIFY_ACKNOWLEDGED, text);
        snprintf(text, sizeof(text), "Incident %lld acknowledged. Goodbye.",
                 (long long)c->row.incident_id);
    } else {
        snprintf(text, sizeof(text), "key 2: escalated by %s", actor);
        notify_complete(c->app, c->row.id, c->row.attempts, NOTIFY_ANSWERED, text);
        snprintf(text, sizeof(text), "Incident %lld escalated. Goodbye.",
                 (long long)c->row.incident_id);
    }
    reply_say_hangup(resp, text);
}

void api_twilio_gather(void *app, struct http_request *req, struct http_response *resp)
{
    struct twilio_call c;
    struct incident inc = {0};
    const char *digits;
    int current;

    if (call_begin(app, req, resp, 1, &c) != 0)
        goto out;
    current = call_current(&c, req, resp);
    if (current < 0)
        goto out;
    if (!current) {
        reply_say_hangup(resp, "This alert is no longer current. Goodbye.");
        goto out;
    }
    digits = form_get(&c.form, "Digits");
    if (digits != NULL && strcmp(digits, "1") == 0) {
        gather_act(&c, req, INCIDENT_ACK, resp);
    } else if (digits != NULL && strcmp(digits, "2") == 0) {
        gather_act(&c, req, INCIDENT_ESCALATE, resp);
    } else if (load_incident(&c, &inc, resp) == 0) {
        int repeat = digits != NULL && strcmp(digits, "9") == 0;

        reply_menu(&c, &inc, 0, repeat ? NULL : "Sorry, that key is not in the menu.", resp);
        incident_release(&inc);
    }
out:
    call_release(&c);
}

/* "ringing" and "in-progress" (answered) on the incident's timeline, as
 * notes of the call in progress (best effort: the outcome does not depend
 * on them). */
static void call_progress_note(struct twilio_call *c, const char *status)
{
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    char message[400], data[200];
    const char *what = strcmp(status, "ringing") == 0 ? "ringing" : "answered";
    struct incident_event ev = {
        .incident_id = c->row.incident_id,
        .at_ms = store_now_ms(),
        .kind = "notification.progress",
        .actor = "twilio",
        .message = message,
        .data = data,
    };
    int rc;

    snprintf(message, sizeof(message), "voice call to %.64s (%.64s) via twilio: %s",
             c->row.user_name, c->row.address, what);
    snprintf(data, sizeof(data), "{\"notification\":%lld,\"attempt\":%lld,\"state\":\"%s\"}",
             (long long)c->row.id, (long long)c->row.attempts, what);
    rc = store_acquire(c->app->store, &conn, &err);
    if (rc == 0)
        rc = store_begin(conn, &err);
    if (rc == 0) {
        rc = store_incident_event_append(conn, &ev, &err);
        if (rc == 0)
            rc = store_commit(conn, &err);
        else
            store_rollback(conn);
    }
    store_release(conn);
    if (rc != 0)
        log_warn("twilio", "call progress not noted", "error", err.msg);
}

void api_twilio_status(void *app, struct http_request *req, struct http_response *resp)
{
    struct twilio_call c;
    enum notify_outcome outcome;
    const char *status, *sip;
    char detail[200];
    int current, final;

    if (call_begin(app, req, resp, 1, &c) != 0)
        goto out;
    current = call_current(&c, req, resp);
    if (current < 0)
        goto out;
    status = form_get(&c.form, "CallStatus");
    final = twilio_call_status(status, &outcome);
    if (final < 0) {
        http_response_error(resp, 400, "unknown CallStatus");
        goto out;
    }
    /* An older attempt's call: nothing to record.  (The attempt, not the
     * CallSid: a call's first callbacks may come before its sid is stored.) */
    if (!current) {
        http_response_set(resp, 204, NULL, "", 0);
        goto out;
    }
    if (final == 1) {
        sip = form_get(&c.form, "SipResponseCode");
        snprintf(detail, sizeof(detail), "CallStatus %s%s%.8s", status, sip != NULL ? ", SIP " : "",
                 sip != NULL ? sip : "");
        notify_complete(c.app, c.row.id, c.row.attempts, outcome, detail);
    } else if (c.row.incident_id != 0 &&
               (strcmp(status, "ringing") == 0 || strcmp(status, "in-progress") == 0 ||
                strcmp(status, "answered") == 0)) {
        call_progress_note(&c, status);
    }
    http_response_set(resp, 204, NULL, "", 0);
out:
    call_release(&c);
}

/* The user with number as an sms or voice contact method; NULL when none. */
static const struct config_user *user_by_number(const struct config *cfg, const char *number)
{
    for (unsigned i = 0; number != NULL && i < cfg->user_count; i++) {
        const struct config_user *u = &cfg->users[i];

        for (unsigned j = 0; j < u->contact_method_count; j++) {
            const struct config_contact_method *cm = &u->contact_methods[j];

            if ((cm->type == CONTACT_SMS || cm->type == CONTACT_VOICE) &&
                strcmp(cm->address, number) == 0)
                return u;
        }
    }
    return NULL;
}

void api_twilio_sms_inbound(void *app, struct http_request *req, struct http_response *resp)
{
    static const char *const done[] = {"acknowledged", "resolved", "escalated", "noted"};
    struct twilio_call c;
    struct strbuf xml = STRBUF_INIT;
    const struct config_user *user;
    enum incident_action action;
    struct ob_error err = {0};
    char actor[160], from[160], text[256];
    int64_t incident_id = 0;
    int rc;

    if (call_begin(app, req, resp, 0, &c) != 0)
        goto out;
    user = user_by_number(c.cfg, form_get(&c.form, "From"));
    if (user == NULL) {
        log_warn("twilio", "SMS from an unknown number refused", "remote", req->remote_addr);
        twilio_twiml_message("This number is not known to opsbell.", &xml);
    } else if (twilio_sms_command(form_get(&c.form, "Body"), &incident_id, &action) != 0) {
        twilio_twiml_message("Unknown command. Reply \"42 ack\", \"42 resolve\" or \"42 "
                             "escalate\" with the incident's number.",
                             &xml);
    } else {
        struct incident_action_request ar = {
            .incident_id = incident_id,
            .action = action,
            .actor = actor,
            .remote_addr = from,
            .request_id = req->request_id,
        };

        snprintf(actor, sizeof(actor), "user:%s", user->name);
        snprintf(from, sizeof(from), "twilio:%s", form_get(&c.form, "From"));
        rc = incident_act(app, &ar, NULL, &err);
        if (rc == 0) {
            snprintf(text, sizeof(text), "Incident %lld %s.", (long long)incident_id, done[action]);
        } else if (rc == OB_ECONFLICT || rc == OB_ENOTFOUND) {
            sentence(text, sizeof(text), err.msg);
        } else {
            http_response_from_error(resp, &err);
            goto out;
        }
        twilio_twiml_message(text, &xml);
    }
    reply_twiml(resp, &xml);
out:
    strbuf_release(&xml);
    call_release(&c);
}
