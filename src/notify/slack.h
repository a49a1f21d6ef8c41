/*
 * slack.h - Slack: the pure parts of the `slack` provider (messages,
 * the Web API's answers) and of the requests Slack sends us (signature,
 * interaction payloads, response_url), shared by provider_slack.c,
 * api/handlers_slack.c and the slash commands that come next.
 *
 * Wire formats (docs/SLACK.md):
 *   outbound  POST {api_url}/chat.postMessage | chat.update, JSON, Bearer bot token;
 *             the message's id is "<channel>:<ts>" (stored as the row's external_id)
 *   inbound   form body signed with X-Slack-Signature: v0=hex(HMAC-SHA256(
 *             signing_secret, "v0:" X-Slack-Request-Timestamp ":" body))
 *
 * Everything here but slack_respond() is pure (no I/O, no globals) and
 * thread-safe; strings returned through json_t or caller buffers are owned
 * by the caller.
 */
#ifndef OPSBELL_NOTIFY_SLACK_H
#define OPSBELL_NOTIFY_SLACK_H

#include "notify/notify.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct config_user;
struct incident;
struct ob_error;

#define SLACK_MAX_SKEW_S     300 /* a request timestamp further from now is refused */
#define SLACK_SIGNATURE_LEN  67  /* "v0=" + 64 hex digits */
#define SLACK_ID_MAX         32  /* U024BE7LH, C0123ABCD: we accept up to this */
#define SLACK_URL_MAX        1024
#define SLACK_VALUE_MAX      64
#define SLACK_ACTION_ACK     "opsbell_ack"
#define SLACK_ACTION_RESOLVE "opsbell_resolve"
#define SLACK_ACTION_ESC     "opsbell_escalate"
/* The buttons of a break-glass request in the team's channel (breakglass_chat.h). */
#define SLACK_ACTION_BG_APPROVE "breakglass_approve"
#define SLACK_ACTION_BG_DENY    "breakglass_deny"

/* ---- signatures ------------------------------------------------------------ */

/* "v0=" + hex(HMAC-SHA256(secret, "v0:" timestamp ":" body)) into out.
 * Returns 0, or OB_EINTERNAL when OpenSSL fails (out is then ""). */
int slack_signature(const unsigned char *secret, size_t secret_len, const char *timestamp,
                    const char *body, size_t body_len, char out[SLACK_SIGNATURE_LEN + 1]);

/*
 * Is this request from Slack?  timestamp and signature are the raw header
 * values (NULL when absent).  Refused (OB_EUNAUTH, the message says why,
 * never echoing the secret): a missing header, a timestamp that is not a
 * plain decimal number or is more than SLACK_MAX_SKEW_S from now_s in
 * either direction, an empty secret, a signature that differs (compared
 * in constant time).  Returns 0 when it is.
 */
int slack_verify_request(const unsigned char *secret, size_t secret_len, const char *timestamp,
                         const char *signature, const char *body, size_t body_len, int64_t now_s,
                         struct ob_error *err);

/*
 * Replays: the signatures of the requests accepted within the last
 * SLACK_MAX_SKEW_S (a signed request is only valid that long).  A signature
 * seen again is a replay.  At most SLACK_REPLAY_SLOTS at once (the oldest
 * slot is reused: beyond that rate a replay of the oldest could pass).
 * The guard is per process: on several nodes, a replay sent to another
 * node within the window passes (its effect is then what a second press
 * would do: "already acknowledged").
 */
#define SLACK_REPLAY_SLOTS 4096
struct slack_replay_guard {
    struct {
        char signature[SLACK_SIGNATURE_LEN + 1];
        int64_t until_s;
    } slots[SLACK_REPLAY_SLOTS];
    size_t next;
};
/* 1 when signature was seen within its window (a replay); else 0 and it
 * is remembered until now_s + SLACK_MAX_SKEW_S.  Pure; not thread-safe. */
int slack_replay_check(struct slack_replay_guard *g, const char *signature, int64_t now_s);

/* slack_verify_request, then the process's replay guard (thread-safe):
 * OB_EUNAUTH "replayed request" for a signature already accepted. */
int slack_verify_fresh(const unsigned char *secret, size_t secret_len, const char *timestamp,
                       const char *signature, const char *body, size_t body_len, int64_t now_s,
                       struct ob_error *err);

/* ---- outbound: messages ---------------------------------------------------- */

/* Where an address points: a user (U…, W…: chat.postMessage opens the DM),
 * a conversation (C…, G…, D…) or nothing Slack knows (NULL = invalid). */
const char *slack_address_kind(const char *address);

/*
 * The chat.postMessage (ts NULL) or chat.update (ts set) body for inc in
 * channel: channel, [ts], text (the fallback "🔔 #42 [critical] summary —
 * service payments-api", plus the state line for acknowledged/resolved or
 * when `update` is set), blocks: a section with the incident and its link
 * ({public_url}/api/v1/incidents/<id>), a context line with the state when
 * it is not a fresh page, and the buttons that still apply (triggered: Ack /
 * Resolve / Escalate; acknowledged: Resolve / Escalate; resolved: none).
 * A new reference, or NULL when out of memory.
 */
json_t *slack_message_json(const struct config *cfg, const struct incident *inc,
                           const char *channel, const char *ts, int update);

/* The state line of an update: "Acknowledged by alice", "Resolved by bob",
 * "Triggered again" (actor "user:X" is shown as X). */
void slack_state_line(const struct incident *inc, char *out, size_t cap);

/* Permanent or temporary, for an `error` of a Web API answer with ok:false:
 * ratelimited, internal_error, fatal_error, service_unavailable,
 * request_timeout (and their kin) are temporary; every other is permanent. */
enum notify_outcome slack_error_outcome(const char *error);

/*
 * The outcome of one Web API call.  transport_ok 0: no answer (connection
 * refused, timeout): temporary.  HTTP 429 (retry_after: the Retry-After
 * header or NULL, shown in the detail) and 5xx: temporary; other non-2xx:
 * permanent.  A 2xx with {"ok":true,"channel","ts"}: delivered and
 * external_id "<channel>:<ts>"; {"ok":false,"error"}: slack_error_outcome,
 * the code in the detail.  A body that is not such JSON: temporary.
 * detail and external_id are always NUL-terminated (external_id "" unless
 * delivered).
 */
enum notify_outcome slack_api_result(int transport_ok, long http_status, const char *retry_after,
                                     const char *body, size_t body_len, char *external_id,
                                     size_t eid_cap, char *detail, size_t detail_cap);

/* Split "C0123:1712345678.000100" into channel and ts. Returns 0, or -1 when
 * it is not of that form (or does not fit). */
int slack_split_external_id(const char *external_id, char *channel, size_t channel_cap, char *ts,
                            size_t ts_cap);

/* ---- inbound: interactions ------------------------------------------------- */

enum slack_button {
    SLACK_BUTTON_NONE,
    SLACK_BUTTON_ACK,
    SLACK_BUTTON_RESOLVE,
    SLACK_BUTTON_ESC,
    SLACK_BUTTON_BG_APPROVE, /* breakglass_approve: the value is a grant id */
    SLACK_BUTTON_BG_DENY     /* breakglass_deny */
};

/* One interaction payload, as far as opsbell needs it. */
struct slack_interaction {
    char type[32];                        /* "block_actions", "view_submission", ... */
    char user_id[SLACK_ID_MAX + 1];       /* who pressed: U024BE7LH */
    char response_url[SLACK_URL_MAX + 1]; /* "" when absent */
    enum slack_button button;             /* SLACK_BUTTON_NONE unless type is block_actions */
    int64_t incident_id; /* the button's value: an incident id, or a grant id for the
                            SLACK_BUTTON_BG_* buttons */
    /* The message the button is on (container.channel_id / message_ts, else
     * channel.id / message.ts): "" when absent or not a channel id / ts. */
    char channel_id[SLACK_ID_MAX + 1];
    char message_ts[32];
};

/*
 * Parse a form body whose `payload` field is the interaction JSON.
 * Returns 0 with *out filled; for types other than block_actions only
 * type (and whatever else is there) is set and button is NONE.  OB_EINVAL
 * (message says why, never echoing the payload): not a form, no payload,
 * payload not a JSON object, no string `type`; for block_actions: no
 * user.id, an empty actions array, an action_id that is not one of ours,
 * a value that is not a positive decimal incident id, fields too long.
 */
int slack_interaction_parse(const char *body, size_t body_len, struct slack_interaction *out,
                            struct ob_error *err);

/*
 * May we post to this response_url?  Only http(s) URLs whose scheme, host
 * and port are those of api_url (the stand-in, or a proxy in front of
 * Slack), or https URLs on hooks.slack.com port 443; never with a user or
 * password part.  1 when allowed, 0 otherwise.
 */
int slack_response_url_allowed(const char *api_url, const char *response_url);
/* 1 when url is http(s), has no user or password part, and has base_url's
 * scheme, host and port (default ports filled in); 0 otherwise (also for
 * NULL or unparseable URLs).  Pure. */
int url_same_origin(const char *base_url, const char *url);

/* The JSON body of an ephemeral reply through a response_url. Caller frees. */
char *slack_ephemeral_json(const char *text);

/* "{api_url or https://slack.com/api}/method" into out; 0, or -1 when it
 * does not fit. */
int slack_method_url(const struct config *cfg, const char *method, char *out, size_t cap);

/* ---- I/O (slack_http.c) ------------------------------------------------------ */

/* The answer to one POST. */
struct slack_http_reply {
    int transport_ok;     /* 0: no HTTP answer (refused, timeout); errbuf says why */
    long status;          /* HTTP status */
    char retry_after[16]; /* the Retry-After header, "" when absent */
    char *body;           /* malloc'd, NUL-terminated (at most 64 KiB kept, or slack_get's
                             max_body); may be NULL */
    size_t body_len;
    int truncated;    /* 1: the body was longer and the rest was dropped */
    char errbuf[256]; /* curl's reason when !transport_ok; never holds the token */
};

/*
 * POST json (a NUL-terminated JSON text) to url, with "Authorization:
 * Bearer <bearer>" when bearer is not NULL, blocking for at most
 * timeout_ms.  Never logs the token.  Fills *reply (release its body with
 * slack_http_reply_release); returns 0, or -1 out of memory.
 */
int slack_post_json(const char *url, const char *bearer, const char *json, long timeout_ms,
                    struct slack_http_reply *reply);
/* The same as a GET of url (query included) without a body, keeping at
 * most max_body bytes of the answer: for the Web API's read methods
 * (team.accessLogs, whose pages are larger). */
int slack_get(const char *url, const char *bearer, long timeout_ms, size_t max_body,
              struct slack_http_reply *reply);
void slack_http_reply_release(struct slack_http_reply *reply);

/*
 * Queue an ephemeral `text` for response_url and return at once (an HTTP
 * handler must not wait on Slack): one background thread, started on
 * first use and living as long as the process, posts the queue in order
 * (timeouts 5 s). Refused (returns -1, logged) when the URL is not
 * allowed (slack_response_url_allowed) or the queue is full.
 */
int slack_respond(const char *api_url, const char *response_url, const char *text);
/* The same for a Slack or a Mattermost response_url (each by its own rule,
 * under cfg's providers.slack.api_url / providers.mattermost.api_url). */
int chat_respond(const struct config *cfg, const char *response_url, const char *text);

/*
 * Queue a Web API call (url: chat.postMessage, chat.update ...; json: the
 * body; bearer: the bot token, copied and wiped after use) for the same
 * background thread, and return at once: for callers that must not block
 * (the break-glass notifier runs inside a grant's change).  The answer is
 * logged (slack_api_result), never retried.  -1 when the queue is full
 * (SLACK_API_QUEUE jobs) or out of memory (logged).
 */
#define SLACK_API_QUEUE 256
int slack_api_enqueue(const char *url, const char *bearer, const char *json);

#endif
