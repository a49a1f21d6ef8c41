/*
 * twilio.h - the Twilio provider's pure parts, shared by the provider
 * (provider_twilio.c: calls and messages through Twilio's REST API) and
 * the callbacks (api/handlers_twilio.c: TwiML, keys, call status, SMS
 * replies).  No I/O here: every function is unit-tested and fuzzed.
 *
 * Wire facts (Twilio's documentation):
 *  - Twilio signs each request to us with X-Twilio-Signature:
 *    base64(HMAC-SHA1(auth_token, URL + every POST parameter sorted by
 *    name, each name then its value, no separators)), where URL is the
 *    full URL Twilio requested, query string included.
 *  - A call's CallStatus is queued, initiated, ringing, in-progress,
 *    answered (event name), completed, busy, no-answer, failed, canceled.
 *
 * Ownership: functions that build text append to a strbuf the caller owns.
 */
#ifndef OPSBELL_NOTIFY_TWILIO_H
#define OPSBELL_NOTIFY_TWILIO_H

#include "engine/action.h"
#include "notify/notify.h"

#include <stddef.h>
#include <stdint.h>

struct config;
struct form;
struct incident;
struct strbuf;

#define TWILIO_SIGNATURE_LEN 28  /* base64 of 20 bytes */
#define TWILIO_MENU_LOOPS    3   /* the menu is said this many times, then goodbye */
#define TWILIO_GATHER_WAIT_S 8   /* seconds to wait for a key after the menu */
#define TWILIO_SUMMARY_MAX   300 /* bytes of the summary in an SMS or a call */

/* ---- text ------------------------------------------------------------------------ */

/* Append s percent-encoded (RFC 3986: letters, digits and - . _ ~ kept). */
void twilio_url_encode(struct strbuf *out, const char *s);
/* Append "name=value" form-encoded, preceded by '&' unless out is empty. */
void twilio_form_add(struct strbuf *out, const char *name, const char *value);
/* Append s with control characters as spaces, cut (between UTF-8
 * characters) after max bytes with "..." appended. */
void twilio_plain(struct strbuf *out, const char *s, size_t max);

/* The URL Twilio reaches this daemon at: public_url without a trailing
 * '/', or http://<listen>. */
void twilio_base_url(const struct config *cfg, struct strbuf *out);

/* ---- signatures ------------------------------------------------------------------ */

/*
 * base64(HMAC-SHA1(key, url + sorted params)) into out (NUL-terminated).
 * Parameters are sorted by name, then by value (byte order; equal names
 * keep every value).  params may be NULL (no parameters).  Returns 0, or
 * -1 when OpenSSL or memory fails.
 */
int twilio_signature(const unsigned char *key, size_t key_len, const char *url,
                     const struct form *params, char out[TWILIO_SIGNATURE_LEN + 1]);
/* 1 when header (X-Twilio-Signature, may be NULL) is the signature of url
 * and params under key, compared in constant time; 0 otherwise. */
int twilio_signature_valid(const unsigned char *key, size_t key_len, const char *url,
                           const struct form *params, const char *header);

/* ---- outcomes -------------------------------------------------------------------- */

/*
 * A call's CallStatus: 1 and *out for a final one (completed: answered;
 * busy; no-answer; failed: failed-permanent; canceled: failed-temporary);
 * 0 for one on the way (queued, initiated, ringing, in-progress, answered);
 * -1 for anything else (NULL included).
 */
int twilio_call_status(const char *status, enum notify_outcome *out);

/*
 * The outcome of one REST request: transport_ok 0 (connection refused,
 * timeout) and 5xx are temporary; 2xx delivered; 429 temporary; other 4xx
 * permanent (an invalid number, bad credentials, a number we may not call).
 */
enum notify_outcome twilio_api_outcome(int transport_ok, long status);

/*
 * The fields of a Twilio API answer (JSON): sid (a created call or
 * message), or code/message (an error).  Each out buffer gets "" when
 * absent; *code 0 when absent.  Returns 0, or -1 when body is not a JSON
 * object.
 */
int twilio_parse_answer(const char *body, size_t len, char *sid, size_t sid_cap, long *code,
                        char *message, size_t message_cap);

/* ---- SMS replies ----------------------------------------------------------------- */

/*
 * An SMS reply: "42 ack", "ack 42", "#42 resolve", "escalate 42" (any
 * case, spaces around and between).  Verbs: ack / acknowledge, resolve,
 * escalate.  Returns 0 with *incident_id and *action, or -1.
 */
int twilio_sms_command(const char *body, int64_t *incident_id, enum incident_action *action);

/* ---- messages and TwiML ---------------------------------------------------------- */

/* "opsbell #42 [critical] <summary>. Reply "42 ack" to acknowledge, "42
 * resolve" to resolve." */
void twilio_sms_text(const struct incident *inc, struct strbuf *out);

/*
 * The menu of a call: <Gather> with the incident said once, then a
 * <Redirect> to the same call's next loop; after TWILIO_MENU_LOOPS loops,
 * goodbye.  base is twilio_base_url(); loop counts from 0.
 */
void twilio_twiml_menu(const char *base, int64_t notification_id, int64_t attempt, int64_t loop,
                       const struct incident *inc, const char *prefix, struct strbuf *out);
/* <Response><Say>text</Say><Hangup/></Response> */
void twilio_twiml_say_hangup(const char *text, struct strbuf *out);
/* <Response><Message>text</Message></Response> */
void twilio_twiml_message(const char *text, struct strbuf *out);
/* A verification call: the message said twice, a one-second pause between. */
void twilio_twiml_verify(const char *message, struct strbuf *out);

#endif
