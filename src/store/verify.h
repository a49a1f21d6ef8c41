/*
 * verify.h - contact-method verifications (schema migration 6): a code
 * sent to a phone number or SIP URI, and whether an address was proven.
 * Strings in the structs are owned by them (verification_release).
 */
#ifndef OPSBELL_STORE_VERIFY_H
#define OPSBELL_STORE_VERIFY_H

#include <stdint.h>

struct ob_error;
struct store_conn;

struct verification_row {
    int64_t id;
    char *user_name;
    char *address;
    char *contact_type; /* the type the code was sent by */
    char *code_hash;    /* hex; NULL when an admin vouched */
    int64_t expires_at_ms;
    int64_t failures;       /* wrong codes typed */
    int64_t verified_at_ms; /* 0 = not (yet) */
    int64_t created_at_ms;
    char *created_by;
};

/* Insert v (id, failures and verified_at are set by the store; a
 * verified_at_ms != 0 is kept: an admin's vouching); sets v->id. */
int store_verification_insert(struct store_conn *conn, struct verification_row *v,
                              struct ob_error *err);
/* The newest unverified, unexpired code for (user, address). OB_ENOTFOUND when none. */
int store_verification_pending(struct store_conn *conn, const char *user, const char *address,
                               int64_t now_ms, struct verification_row *out, struct ob_error *err);
/* One more wrong code for verification id. */
int store_verification_failed(struct store_conn *conn, int64_t id, struct ob_error *err);
/* Verification id succeeded at now_ms. */
int store_verification_verified(struct store_conn *conn, int64_t id, int64_t now_ms,
                                struct ob_error *err);
/* When (user, address) was first proven; 0 when never. */
int store_contact_verified_at(struct store_conn *conn, const char *user, const char *address,
                              int64_t *verified_at_ms, struct ob_error *err);

void verification_release(struct verification_row *v);

#endif
