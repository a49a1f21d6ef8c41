/*
 * slack.c - the pure parts of Slack (slack.h): request signatures, the
 * messages we post, the Web API's answers, interaction payloads and the
 * response_url check.
 */
#include "notify/slack.h"

#include "config/config.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/form.h"
#include "util/strbuf.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SLACK_SUMMARY_MAX 1000 /* bytes of the summary in a message (a section holds 3000) */

/* ---- signatures ------------------------------------------------------------ */

int slack_signature(const unsigned char *secret, size_t secret_len, const char *timestamp,
                    const char *body, size_t body_len, char out[SLACK_SIGNATURE_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t ts_len = strlen(timestamp), mac_len = 0, msg_len = 3 + ts_len + 1 + body_len;
    unsigned char *msg = malloc(msg_len + 1);
    unsigned char *ok;

    out[0] = '\0';
    if (msg == NULL)
        return OB_EINTERNAL;
    memcpy(msg, "v0:", 3);
    memcpy(msg + 3, timestamp, ts_len);
    msg[3 + ts_len] = ':';
    if (body_len > 0)
        memcpy(msg + 4 + ts_len, body, body_len);
    ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, secret_len, msg, msg_len, mac,
                   sizeof(mac), &mac_len);
    OPENSSL_cleanse(msg, msg_len);
    free(msg);
    if (ok == NULL || mac_len != 32)
        return OB_EINTERNAL;
    memcpy(out, "v0=", 3);
    for (unsigned i = 0; i < 32; i++) {
        out[3 + 2 * i] = hex[mac[i] >> 4];
        out[3 + 2 * i + 1] = hex[mac[i] & 15];
    }
    out[SLACK_SIGNATURE_LEN] = '\0';
    return 0;
}

/* A plain decimal number of at most 18 digits (no sign, no spaces). */
static int parse_decimal(const char *text, int64_t *out)
{
    int64_t v = 0;
    size_t n = 0;

    for (; text[n] != '\0'; n++) {
        if (text[n] < '0' || text[n] > '9' || n >= 18)
            return -1;
        v = v * 10 + (text[n] - '0');
    }
    if (n == 0)
        return -1;
    *out = v;
    return 0;
}

int slack_verify_request(const unsigned char *secret, size_t secret_len, const char *timestamp,
                         const char *signature, const char *body, size_t body_len, int64_t now_s,
                         struct ob_error *err)
{
    char expected[SLACK_SIGNATURE_LEN + 1];
    int64_t ts;

    if (timestamp == NULL || signature == NULL)
        return ob_fail(err, OB_EUNAUTH, "missing %s header",
                       timestamp == NULL ? "X-Slack-Request-Timestamp" : "X-Slack-Signature");
    if (parse_decimal(timestamp, &ts) != 0)
        return ob_fail(err, OB_EUNAUTH, "X-Slack-Request-Timestamp is not a number of seconds");
    if (ts < now_s - SLACK_MAX_SKEW_S || ts > now_s + SLACK_MAX_SKEW_S)
        return ob_fail(err, OB_EUNAUTH,
                       "X-Slack-Request-Timestamp is more than %d minutes from now (replay?)",
                       SLACK_MAX_SKEW_S / 60);
    if (secret == NULL || secret_len == 0)
        return ob_fail(err, OB_EUNAUTH, "no slack signing secret is configured");
    if (slack_signature(secret, secret_len, timestamp, body, body_len, expected) != 0)
        return ob_fail(err, OB_EINTERNAL, "cannot compute the slack signature");
    /* The length is not secret (always 67); the content is compared in constant time. */
    if (strlen(signature) != SLACK_SIGNATURE_LEN ||
        CRYPTO_memcmp(signature, expected, SLACK_SIGNATURE_LEN) != 0)
        return ob_fail(err, OB_EUNAUTH, "X-Slack-Signature does not match");
    return 0;
}

/* ---- outbound: messages ---------------------------------------------------- */

const char *slack_address_kind(const char *address)
{
    size_t n = address != NULL ? strlen(address) : 0;

    if (n < 2 || n > SLACK_ID_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = address[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return NULL;
    }
    switch (address[0]) {
    case 'U':
    case 'W':
        return "user";
    case 'C':
    case 'G':
    case 'D':
        return "conversation";
    default:
        return NULL;
    }
}

/* Append s escaped for Slack's mrkdwn: & < > (the only three it requires). */
static void mrkdwn_escape(struct strbuf *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '&')
            strbuf_adds(out, "&amp;");
        else if (*s == '<')
            strbuf_adds(out, "&lt;");
        else if (*s == '>')
            strbuf_adds(out, "&gt;");
        else
            strbuf_addch(out, *s);
    }
}

/* Copy of s, at most max bytes cut on a UTF-8 boundary, invalid bytes as '?'. */
static char *clipped(const char *s, size_t max)
{
    size_t n = 0, len = strlen(s);
    char *copy;

    while (n < len) {
        size_t k = ob_utf8_sequence_len((const unsigned char *)s + n);
        if (k == 0)
            k = 1;
        if (n + k > max)
            break;
        n += k;
    }
    copy = malloc(n + 4);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, n);
    if (n < len) {
        memcpy(copy + n, "...", 3);
        n += 3;
    }
    copy[n] = '\0';
    ob_utf8_sanitize(copy);
    return copy;
}

static void incident_link(const struct config *cfg, int64_t id, char *out, size_t cap)
{
    if (cfg->public_url != NULL)
        snprintf(out, cap, "%s/api/v1/incidents/%lld", cfg->public_url, (long long)id);
    else
        snprintf(out, cap, "http://%s:%u/api/v1/incidents/%lld", cfg->listen_host,
                 (unsigned)cfg->listen_port, (long long)id);
}

static const char *actor_name(const char *actor)
{
    if (actor == NULL)
        return "someone";
    if (strncmp(actor, "user:", 5) == 0 && actor[5] != '\0')
        return actor + 5;
    return actor;
}

void slack_state_line(const struct incident *inc, char *out, size_t cap)
{
    if (strcmp(inc->status, "acknowledged") == 0)
        snprintf(out, cap, "Acknowledged by %s", actor_name(inc->acknowledged_by));
    else if (strcmp(inc->status, "resolved") == 0)
        snprintf(out, cap, "Resolved by %s", actor_name(inc->resolved_by));
    else
        snprintf(out, cap, "Triggered again");
}

static json_t *button(const char *action_id, const char *label, const char *style,
                      const char *value)
{
    json_t *b =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:b}, s:s}", "type", "button", "action_id", action_id,
                  "text", "type", "plain_text", "text", label, "emoji", 1, "value", value);

    if (b != NULL && style != NULL)
        json_object_set_new(b, "style", json_string(style));
    return b;
}

json_t *slack_message_json(const struct config *cfg, const struct incident *inc,
                           const char *channel, const char *ts, int update)
{
    const char *team = inc->team != NULL ? inc->team : "-";
    int triggered = strcmp(inc->status, "triggered") == 0;
    int acked = strcmp(inc->status, "acknowledged") == 0;
    int show_state = update || !triggered;
    char link[600], state[256] = "", value[32];
    struct strbuf text = STRBUF_INIT, section = STRBUF_INIT;
    char *summary = clipped(inc->summary != NULL ? inc->summary : "", SLACK_SUMMARY_MAX);
    json_t *msg = NULL, *blocks, *buttons;

    if (summary == NULL)
        goto out;
    incident_link(cfg, inc->id, link, sizeof(link));
    snprintf(value, sizeof(value), "%lld", (long long)inc->id);
    if (show_state)
        slack_state_line(inc, state, sizeof(state));

    strbuf_addf(&text, "\xF0\x9F\x94\x94 #%lld [%s] %s \xE2\x80\x94 service %s", (long long)inc->id,
                inc->severity, summary, inc->service);
    if (show_state)
        strbuf_addf(&text, " \xE2\x80\x94 %s", state);

    strbuf_addf(&section, "\xF0\x9F\x94\x94 *<%s|#%lld>* [", link, (long long)inc->id);
    mrkdwn_escape(&section, inc->severity);
    strbuf_adds(&section, "] *");
    mrkdwn_escape(&section, summary);
    strbuf_adds(&section, "*\n*Service:* ");
    mrkdwn_escape(&section, inc->service);
    strbuf_adds(&section, "   *Team:* ");
    mrkdwn_escape(&section, team);
    strbuf_adds(&section, "   *Severity:* ");
    mrkdwn_escape(&section, inc->severity);
    strbuf_adds(&section, "   *Status:* ");
    mrkdwn_escape(&section, inc->status);

    blocks = json_array();
    json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "section", "text",
                                            "type", "mrkdwn", "text", strbuf_str(&section)));
    if (show_state)
        json_array_append_new(blocks, json_pack("{s:s, s:[{s:s, s:s}]}", "type", "context",
                                                "elements", "type", "plain_text", "text", state));
    if (triggered || acked) {
        buttons = json_array();
        if (triggered)
            json_array_append_new(buttons,
                                  button(SLACK_ACTION_ACK, "Acknowledge", "primary", value));
        json_array_append_new(buttons, button(SLACK_ACTION_RESOLVE, "Resolve", NULL, value));
        json_array_append_new(buttons, button(SLACK_ACTION_ESC, "Escalate", NULL, value));
        json_array_append_new(blocks, json_pack("{s:s, s:s, s:o}", "type", "actions", "block_id",
                                                "opsbell_incident", "elements", buttons));
    }
    msg = json_pack("{s:s, s:s, s:o}", "channel", channel, "text", strbuf_str(&text), "blocks",
                    blocks);
    if (msg != NULL && ts != NULL)
        json_object_set_new(msg, "ts", json_string(ts));
    if (msg != NULL && ts == NULL)
        json_object_set_new(msg, "unfurl_links", json_false());
out:
    strbuf_release(&text);
    strbuf_release(&section);
    free(summary);
    return msg;
}

enum notify_outcome slack_error_outcome(const char *error)
{
    static const char *const temporary[] = {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_is_restricted_temporarily",
    };

    for (size_t i = 0; error != NULL && i < sizeof(temporary) / sizeof(temporary[0]); i++) {
        if (strcmp(error, temporary[i]) == 0)
            return NOTIFY_FAILED_TEMPORARY;
    }
    return NOTIFY_FAILED_PERMANENT;
}

/* Copy at most cap - 1 printable ASCII bytes of s (others as '?'). */
static void copy_printable(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    for (; s != NULL && s[n] != '\0' && n + 1 < cap; n++)
        out[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
    out[n] = '\0';
}

enum notify_outcome slack_api_result(int transport_ok, long http_status, const char *retry_after,
                                     const char *body, size_t body_len, char *external_id,
                                     size_t eid_cap, char *detail, size_t detail_cap)
{
    enum notify_outcome outcome = NOTIFY_FAILED_TEMPORARY;
    const char *channel, *ts, *error;
    json_t *root = NULL, *ok;
    char safe[64];

    external_id[0] = '\0';
    detail[0] = '\0';
    if (!transport_ok) {
        snprintf(detail, detail_cap, "no answer from the slack api");
        return NOTIFY_FAILED_TEMPORARY;
    }
    if (http_status == 429) {
        copy_printable(safe, 16, retry_after);
        if (safe[0] != '\0')
            snprintf(detail, detail_cap, "HTTP 429 rate limited (Retry-After %ss)", safe);
        else
            snprintf(detail, detail_cap, "HTTP 429 rate limited");
        return NOTIFY_FAILED_TEMPORARY;
    }
    if (http_status < 200 || http_status >= 300) {
        snprintf(detail, detail_cap, "HTTP %ld", http_status);
        return http_status >= 400 && http_status < 500 && http_status != 408
                   ? NOTIFY_FAILED_PERMANENT
                   : NOTIFY_FAILED_TEMPORARY;
    }
    root = body != NULL ? json_loadb(body, body_len, 0, NULL) : NULL;
    ok = json_object_get(root, "ok");
    if (!json_is_object(root) || !json_is_boolean(ok)) {
        snprintf(detail, detail_cap, "HTTP %ld without a slack answer", http_status);
        goto out;
    }
    if (json_is_false(ok)) {
        error = json_string_value(json_object_get(root, "error"));
        copy_printable(safe, sizeof(safe), error != NULL ? error : "unknown_error");
        outcome = slack_error_outcome(safe);
        snprintf(detail, detail_cap, "slack error %s", safe);
        goto out;
    }
    channel = json_string_value(json_object_get(root, "channel"));
    ts = json_string_value(json_object_get(root, "ts"));
    if (channel == NULL || ts == NULL || slack_address_kind(channel) == NULL || ts[0] == '\0' ||
        strspn(ts, "0123456789.") != strlen(ts) || strlen(channel) + 1 + strlen(ts) + 1 > eid_cap) {
        snprintf(detail, detail_cap, "slack answer without a channel and ts");
        goto out;
    }
    snprintf(external_id, eid_cap, "%s:%s", channel, ts);
    snprintf(detail, detail_cap, "ts %s", ts);
    outcome = NOTIFY_DELIVERED;
out:
    json_decref(root);
    return outcome;
}

int slack_split_external_id(const char *external_id, char *channel, size_t channel_cap, char *ts,
                            size_t ts_cap)
{
    const char *colon = external_id != NULL ? strchr(external_id, ':') : NULL;
    size_t n;

    if (colon == NULL)
        return -1;
    n = (size_t)(colon - external_id);
    if (n == 0 || n >= channel_cap || colon[1] == '\0' || strlen(colon + 1) >= ts_cap)
        return -1;
    memcpy(channel, external_id, n);
    channel[n] = '\0';
    if (slack_address_kind(channel) == NULL)
        return -1;
    snprintf(ts, ts_cap, "%s", colon + 1);
    return 0;
}

/* ---- inbound: interactions ------------------------------------------------- */

/* A string member of obj that fits cap (with its NUL) and holds no NUL. */
static int member_string(json_t *obj, const char *key, char *out, size_t cap, int required,
                         struct ob_error *err, const char *what)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);

    out[0] = '\0';
    if (s == NULL) {
        if (!required && v == NULL)
            return 0;
        return ob_fail(err, OB_EINVAL, "interaction payload: %s must be a string", what);
    }
    if (len >= cap || strlen(s) != len)
        return ob_fail(err, OB_EINVAL, "interaction payload: %s is too long or holds NUL", what);
    memcpy(out, s, len + 1);
    return 0;
}

/* A copy of obj[key] into out when it is a string that fits and is all of
 * allowed; else "". */
static void optional_token(json_t *obj, const char *key, const char *allowed, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(obj, key));

    out[0] = '\0';
    if (s != NULL && s[0] != '\0' && strlen(s) < cap && strspn(s, allowed) == strlen(s))
        memcpy(out, s, strlen(s) + 1);
}

/* The message a button is on: container first, else channel / message. */
static void message_of(json_t *root, struct slack_interaction *out)
{
    static const char id_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char ts_chars[] = "0123456789.";
    json_t *container = json_object_get(root, "container");

    optional_token(container, "channel_id", id_chars, out->channel_id, sizeof(out->channel_id));
    optional_token(container, "message_ts", ts_chars, out->message_ts, sizeof(out->message_ts));
    if (out->channel_id[0] == '\0')
        optional_token(json_object_get(root, "channel"), "id", id_chars, out->channel_id,
                       sizeof(out->channel_id));
    if (out->message_ts[0] == '\0')
        optional_token(json_object_get(root, "message"), "ts", ts_chars, out->message_ts,
                       sizeof(out->message_ts));
    if (slack_address_kind(out->channel_id) == NULL)
        out->channel_id[0] = '\0';
}

static int parse_block_action(json_t *root, struct slack_interaction *out, struct ob_error *err)
{
    json_t *actions = json_object_get(root, "actions");
    json_t *action = json_array_get(actions, 0);
    char action_id[64], value[SLACK_VALUE_MAX + 1];
    int rc;

    rc = member_string(json_object_get(root, "user"), "id", out->user_id, sizeof(out->user_id), 1,
                       err, "user.id");
    if (rc != 0)
        return rc;
    if (slack_address_kind(out->user_id) == NULL)
        return ob_fail(err, OB_EINVAL, "interaction payload: user.id is not a slack user id");
    if (!json_is_object(action))
        return ob_fail(err, OB_EINVAL, "interaction payload: no actions");
    rc = member_string(action, "action_id", action_id, sizeof(action_id), 1, err,
                       "actions[0].action_id");
    if (rc == 0)
        rc = member_string(action, "value", value, sizeof(value), 1, err, "actions[0].value");
    if (rc != 0)
        return rc;
    if (strcmp(action_id, SLACK_ACTION_ACK) == 0)
        out->button = SLACK_BUTTON_ACK;
    else if (strcmp(action_id, SLACK_ACTION_RESOLVE) == 0)
        out->button = SLACK_BUTTON_RESOLVE;
    else if (strcmp(action_id, SLACK_ACTION_ESC) == 0)
        out->button = SLACK_BUTTON_ESC;
    else if (strcmp(action_id, SLACK_ACTION_BG_APPROVE) == 0)
        out->button = SLACK_BUTTON_BG_APPROVE;
    else if (strcmp(action_id, SLACK_ACTION_BG_DENY) == 0)
        out->button = SLACK_BUTTON_BG_DENY;
    else
        return ob_fail(err, OB_EINVAL, "interaction payload: unknown action_id");
    if (parse_decimal(value, &out->incident_id) != 0 || out->incident_id <= 0) {
        out->button = SLACK_BUTTON_NONE;
        return ob_fail(err, OB_EINVAL, "interaction payload: value is not an incident id");
    }
    message_of(root, out);
    return 0;
}

int slack_interaction_parse(const char *body, size_t body_len, struct slack_interaction *out,
                            struct ob_error *err)
{
    struct form form = {0};
    json_error_t jerr;
    json_t *root = NULL;
    const char *payload;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = form_parse(body, body_len, &form, err);
    if (rc != 0)
        goto out;
    payload = form_get(&form, "payload");
    if (payload == NULL) {
        rc = ob_fail(err, OB_EINVAL, "no 'payload' field in the form body");
        goto out;
    }
    root = json_loads(payload, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        rc = ob_fail(err, OB_EINVAL, "interaction payload is not a JSON object");
        goto out;
    }
    rc = member_string(root, "type", out->type, sizeof(out->type), 1, err, "type");
    if (rc == 0)
        rc = member_string(root, "response_url", out->response_url, sizeof(out->response_url), 0,
                           err, "response_url");
    if (rc == 0 && strcmp(out->type, "block_actions") == 0)
        rc = parse_block_action(root, out, err);
out:
    if (rc != 0) {
        out->button = SLACK_BUTTON_NONE;
        out->incident_id = 0;
    }
    json_decref(root);
    form_release(&form);
    return rc;
}

/* scheme, host and port (default port filled in) of url; 0 or -1. */
struct url_origin {
    char *scheme, *host, *port, *user, *password;
};

static void origin_release(struct url_origin *o)
{
    curl_free(o->scheme);
    curl_free(o->host);
    curl_free(o->port);
    curl_free(o->user);
    curl_free(o->password);
}

static int url_origin(const char *url, struct url_origin *o)
{
    CURLU *u = curl_url();
    int rc = -1;

    memset(o, 0, sizeof(*o));
    if (u == NULL || url == NULL || strlen(url) > SLACK_URL_MAX)
        goto out;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &o->scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &o->host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &o->port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto out;
    curl_url_get(u, CURLUPART_USER, &o->user, 0);
    curl_url_get(u, CURLUPART_PASSWORD, &o->password, 0);
    rc = 0;
out:
    curl_url_cleanup(u);
    return rc;
}

int url_same_origin(const char *base_url, const char *url)
{
    struct url_origin r = {0}, a = {0};
    int same = 0;

    if (base_url != NULL && url != NULL && url_origin(url, &r) == 0 &&
        url_origin(base_url, &a) == 0 && r.user == NULL && r.password == NULL &&
        (strcmp(r.scheme, "http") == 0 || strcmp(r.scheme, "https") == 0))
        same = strcmp(a.scheme, r.scheme) == 0 && strcasecmp(a.host, r.host) == 0 &&
               strcmp(a.port, r.port) == 0;
    origin_release(&a);
    origin_release(&r);
    return same;
}

int slack_response_url_allowed(const char *api_url, const char *response_url)
{
    return url_same_origin("https://hooks.slack.com/", response_url) ||
           url_same_origin(api_url, response_url);
}

char *slack_ephemeral_json(const char *text)
{
    json_t *obj = json_pack("{s:s, s:b, s:s}", "response_type", "ephemeral", "replace_original", 0,
                            "text", text);
    char *out = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;

    json_decref(obj);
    return out;
}

int slack_method_url(const struct config *cfg, const char *method, char *out, size_t cap)
{
    const char *base = cfg->providers.slack.api_url;
    size_t len;
    int n;

    if (base == NULL || base[0] == '\0')
        base = "https://slack.com/api";
    len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    n = snprintf(out, cap, "%.*s/%s", (int)len, base, method);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int slack_replay_check(struct slack_replay_guard *g, const char *signature, int64_t now_s)
{
    size_t len = strlen(signature);

    if (len > SLACK_SIGNATURE_LEN)
        len = SLACK_SIGNATURE_LEN;
    for (size_t i = 0; i < SLACK_REPLAY_SLOTS; i++) {
        if (g->slots[i].until_s >= now_s && strlen(g->slots[i].signature) == len &&
            memcmp(g->slots[i].signature, signature, len) == 0)
            return 1;
    }
    memcpy(g->slots[g->next].signature, signature, len);
    g->slots[g->next].signature[len] = '\0';
    g->slots[g->next].until_s = now_s + SLACK_MAX_SKEW_S;
    g->next = (g->next + 1) % SLACK_REPLAY_SLOTS;
    return 0;
}
