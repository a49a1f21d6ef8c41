/*
 * tel.h - ring a teammate's phone now (`/tel NICKNAME [message]` in chat,
 * `opsbell tel`, POST /api/v1/tel): a real call through the SIP or Twilio
 * provider, regardless of schedules, that speaks the caller's name and
 * message ("Call from Ann via opsbell: wake up").
 *
 * A call is an outbox row of kind "tel" (no incident): the dispatcher
 * places it on the callee's first voice or SIP contact method (verified),
 * then the next one when that line is busy or nobody answers; the outcome
 * (answered, busy, no-answer, failed) is kept on the row, audited, and
 * posted to reply_url when one was given (Slack's or Mattermost's
 * response_url).  Rate-limited per caller and per callee.
 */
#ifndef OPSBELL_NOTIFY_TEL_H
#define OPSBELL_NOTIFY_TEL_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct audit_origin;
struct config;
struct ob_error;
struct outbox_row;
struct store_conn;

#define TEL_MESSAGE_MAX 300
#define TEL_WINDOW_MS   (10 * 60000) /* rate limits count calls in this window */
#define TEL_CALLER_MAX  5            /* calls one person may ask for per window */
#define TEL_CALLEE_MAX  3            /* calls on request one person gets per window */

struct tel_request {
    const char *caller;    /* who asks, as said on the call: a user's name or a token's */
    const char *callee;    /* a nickname or a user name */
    const char *message;   /* may be NULL or "" */
    const char *reply_url; /* where to post the outcome (JSON {"text": ...}); may be NULL */
    const struct audit_origin *origin;
};

struct tel_placed {
    int64_t id;        /* the call (outbox row id) */
    char callee[65];   /* the user name */
    char nickname[65]; /* their nickname */
};

/*
 * Queue the call.  OB_ENOTFOUND: no user has that nickname or name (the
 * message lists the close matches); OB_EINVAL: the callee has no voice or
 * SIP contact method, or the message is too long; OB_ECONFLICT: the caller
 * or the callee is over the rate limit (the message says when to try
 * again); OB_EUNAVAILABLE: no provider places calls.
 */
int tel_request(struct app *app, const struct tel_request *req, struct tel_placed *out,
                struct ob_error *err);

/* Up to max user nicknames closest to name (edit distance, then prefix),
 * best first, into out (borrowed from cfg). Returns how many. */
size_t tel_close_matches(const struct config *cfg, const char *name, const char **out, size_t max);

/* ---- for the dispatcher ---------------------------------------------------------------- */

/*
 * Inside the dispatcher's transaction: row (kind "tel") ended in state
 * (a row state: "answered", "busy", "no-answer", "failed-permanent" ...;
 * reached: the callee picked up).  Not reached: the callee's next phone
 * not yet tried in this call is queued.  Audited as "tel.<state>"; the
 * outcome is posted to the row's reply_url (in the background).
 */
int tel_settled(struct store_conn *conn, const struct config *cfg, const struct outbox_row *row,
                const char *state, const char *detail, int reached, int64_t now,
                struct ob_error *err);

/* The reply: "Bob answered (+4930...)." / "Bob's line was busy (...). Trying
 * sip:bob@desk." / "... No other phone to try."  next may be NULL. Pure. */
void tel_outcome_text(const char *callee, const char *address, const char *state,
                      const char *detail, const char *next, char *out, size_t cap);

#endif
