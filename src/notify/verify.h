/*
 * verify.h - contact-method verification: a phone number or SIP URI is
 * paged through a provider that `verifies` (SIP, Twilio) only after its
 * owner typed back a code sent to it, or an admin vouched for it.
 *
 * A code is 6 random digits, valid VERIFY_TTL_MS, stored only as a hash;
 * VERIFY_MAX_FAILURES wrong codes void it; a new one can be sent at most
 * every VERIFY_RESEND_MS.  Proof is kept per (user, address): a number
 * verified by SMS is verified for calls too.  Every step is audited.
 *
 * All functions block on the database and (start) on the provider: call
 * them from HTTP handler threads, never from the SIP thread.
 */
#ifndef OPSBELL_NOTIFY_VERIFY_H
#define OPSBELL_NOTIFY_VERIFY_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct audit_origin;
struct config;
struct ob_error;
struct store_conn;

#define VERIFY_CODE_DIGITS  6
#define VERIFY_TTL_MS       (10 * 60000)
#define VERIFY_RESEND_MS    60000
#define VERIFY_MAX_FAILURES 5

struct verify_sent {
    int64_t id;
    int64_t expires_at_ms;
    char provider[32];
    char detail[512];
};

/*
 * Send a new code to `address`, one of user's contact methods of type
 * `type` (contact_type_name(): voice, sms or sip).  OB_ENOTFOUND: no such
 * user; OB_EINVAL: not one of their contact methods, or a type that needs
 * no verification; OB_ECONFLICT: already verified, or a code sent less than
 * VERIFY_RESEND_MS ago; OB_EUNAVAILABLE: no provider, or it failed (the
 * detail says why; the code stays valid if it was sent after all).
 */
int verify_start(struct app *app, const char *user, const char *type, const char *address,
                 const struct audit_origin *origin, struct verify_sent *out, struct ob_error *err);

/*
 * Check a typed code.  OB_ENOTFOUND: no code pending (expired, never sent);
 * OB_ECONFLICT: too many wrong codes (send a new one); OB_EINVAL: wrong
 * code (counted) or malformed.  0: the address is verified.
 */
int verify_confirm(struct app *app, const char *user, const char *address, const char *code,
                   const struct audit_origin *origin, struct ob_error *err);

/* An admin vouches for user's address (one of their contact methods):
 * verified now, without a code. OB_ECONFLICT when already verified. */
int verify_trust(struct app *app, const char *user, const char *address,
                 const struct audit_origin *origin, struct ob_error *err);

/* 1 when (user, address) may be paged through a provider that verifies:
 * *verified_at_ms the time it was proven (0: never). */
int verify_status(struct store_conn *conn, const char *user, const char *address,
                  int64_t *verified_at_ms, struct ob_error *err);

/* The text sent: the code with its digits spaced for a voice ("4 8 1 5 1
 * 6", said twice), plain for text ("481516"). Pure; unit-tested. */
void verify_message(const char *type, const char *code, char *out, size_t cap);
/* hex(SHA-256(user "\n" address "\n" created_at_ms "\n" code)) into out[65]. */
void verify_code_hash(const char *user, const char *address, int64_t created_at_ms,
                      const char *code, char out[65]);

#endif
