/*
 * verify.c - contact-method verification (see verify.h).
 */
#include "notify/verify.h"

#include "auth/auth.h"
#include "config/config.h"
#include "daemon/app.h"
#include "notify/notify.h"
#include "store/engine.h"
#include "store/store.h"
#include "store/verify.h"
#include "util/error.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void verify_message(const char *type, const char *code, char *out, size_t cap)
{
    char spaced[2 * VERIFY_CODE_DIGITS + 1];
    size_t n = 0;

    if (strcmp(type, "sms") == 0) {
        snprintf(out, cap, "Your opsbell verification code is %s. It expires in 10 minutes.", code);
        return;
    }
    for (size_t i = 0; code[i] != '\0' && n + 2 < sizeof(spaced); i++) {
        if (n > 0)
            spaced[n++] = ' ';
        spaced[n++] = code[i];
    }
    spaced[n] = '\0';
    snprintf(out, cap, "This is opsbell. Your verification code is %s. Again: %s. Goodbye.", spaced,
             spaced);
}

void verify_code_hash(const char *user, const char *address, int64_t created_at_ms,
                      const char *code, char out[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char *text = NULL;
    int n = asprintf(&text, "%s\n%s\n%lld\n%s", user, address, (long long)created_at_ms, code);

    out[0] = '\0';
    if (n < 0)
        return;
    EVP_Digest(text, (size_t)n, digest, &len, EVP_sha256(), NULL);
    free(text);
    for (unsigned int i = 0; i < len && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* The user's contact method at address (of type, when not NULL). */
static const struct config_contact_method *find_method(const struct config_user *u,
                                                       const char *type, const char *address)
{
    for (unsigned i = 0; i < u->contact_method_count; i++) {
        const struct config_contact_method *cm = &u->contact_methods[i];
        if (strcmp(cm->address, address) == 0 &&
            (type == NULL || strcmp(contact_type_name(cm->type), type) == 0))
            return cm;
    }
    return NULL;
}

static int find_user_method(const struct config *cfg, const char *user, const char *type,
                            const char *address, const struct config_contact_method **out,
                            struct ob_error *err)
{
    const struct config_user *u = config_find_user(cfg, user);

    if (u == NULL)
        return ob_fail(err, OB_ENOTFOUND, "no user '%s'", user);
    *out = find_method(u, type, address);
    if (*out == NULL)
        return ob_fail(err, OB_EINVAL, "%s has no %s%scontact method '%s' in users.yaml", user,
                       type != NULL ? type : "", type != NULL ? " " : "", address);
    if ((*out)->type != CONTACT_VOICE && (*out)->type != CONTACT_SMS && (*out)->type != CONTACT_SIP)
        return ob_fail(err, OB_EINVAL, "only phone numbers and SIP URIs are verified");
    return 0;
}

static int audit(struct store_conn *conn, const struct audit_origin *origin, const char *action,
                 const char *user, const char *address, const char *type, int64_t now,
                 struct ob_error *err)
{
    json_t *details = json_pack("{s:s, s:s?}", "address", address, "type", type);
    char *text = details != NULL ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char target[160];
    struct audit_event ev = {0};
    int rc;

    json_decref(details);
    if (text == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    snprintf(target, sizeof(target), "user:%s", user);
    ev.at_ms = now;
    ev.actor = (char *)origin->actor;
    ev.action = (char *)action;
    ev.target = target;
    ev.remote_addr = (char *)origin->remote_addr;
    ev.request_id = (char *)origin->request_id;
    ev.details = text;
    rc = store_audit_append(conn, &ev, err);
    free(text);
    return rc;
}

static int random_code(char out[VERIFY_CODE_DIGITS + 1], struct ob_error *err)
{
    uint32_t r;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        return ob_fail(err, OB_EINTERNAL, "no random bytes");
    snprintf(out, VERIFY_CODE_DIGITS + 1, "%06u", (unsigned)(r % 1000000u));
    return 0;
}

int verify_start(struct app *app, const char *user, const char *type, const char *address,
                 const struct audit_origin *origin, struct verify_sent *out, struct ob_error *err)
{
    struct config *cfg = app_config_get(app);
    const struct config_contact_method *cm = NULL;
    const struct notify_provider *p;
    struct store_conn *conn = NULL;
    struct verification_row pending = {0};
    struct verification_row v = {0};
    char code[VERIFY_CODE_DIGITS + 1], hash[65], message[256];
    int64_t now = store_now_ms(), verified_at = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = find_user_method(cfg, user, type, address, &cm, err);
    if (rc != 0)
        goto out;
    p = notify_provider_for(cfg, type);
    if (p == NULL || !p->verifies) {
        rc = ob_fail(err, OB_EUNAVAILABLE, "no provider that verifies %s is configured", type);
        goto out;
    }
    rc = store_acquire(app->store, &conn, err);
    if (rc == 0)
        rc = store_begin(conn, err);
    if (rc == 0)
        rc = store_contact_verified_at(conn, user, address, &verified_at, err);
    if (rc == 0 && verified_at != 0)
        rc = ob_fail(err, OB_ECONFLICT, "%s is already verified", address);
    if (rc == 0) {
        rc = store_verification_pending(conn, user, address, now, &pending, err);
        if (rc == 0 && now - pending.created_at_ms < VERIFY_RESEND_MS)
            rc = ob_fail(err, OB_ECONFLICT,
                         "a code was sent to %s less than a minute ago: type it, or wait", address);
        else if (rc == OB_ENOTFOUND || rc == 0) {
            ob_error_clear(err);
            rc = 0;
        }
    }
    if (rc == 0)
        rc = random_code(code, err);
    if (rc == 0) {
        verify_code_hash(user, address, now, code, hash);
        v.user_name = (char *)user;
        v.address = (char *)address;
        v.contact_type = (char *)type;
        v.code_hash = hash;
        v.expires_at_ms = now + VERIFY_TTL_MS;
        v.created_at_ms = now;
        v.created_by = (char *)origin->actor;
        rc = store_verification_insert(conn, &v, err);
    }
    if (rc == 0)
        rc = audit(conn, origin, "contact.verification_sent", user, address, type, now, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    store_release(conn); /* rolls back an unfinished transaction */
    conn = NULL;
    if (rc != 0)
        goto out;

    /* The provider, with no transaction open: a row that is never stored. */
    {
        struct outbox_row row = {
            .user_name = (char *)user,
            .contact_type = (char *)type,
            .address = (char *)address,
            .attempts = 1,
            .kind = "verify",
            .due_at_ms = now,
            .created_at_ms = now,
        };
        struct notify_attempt a = {
            .app = app, .cfg = cfg, .row = &row, .inc = NULL, .message = message};
        enum notify_outcome outcome;

        verify_message(type, code, message, sizeof(message));
        outcome = p->deliver(&a);
        out->id = v.id;
        out->expires_at_ms = v.expires_at_ms;
        snprintf(out->provider, sizeof(out->provider), "%s", p->name);
        snprintf(out->detail, sizeof(out->detail), "%s",
                 a.detail[0] != '\0' ? a.detail : notify_outcome_state(outcome));
        if (!notify_outcome_reached(outcome) && outcome != NOTIFY_PENDING)
            rc = ob_fail(err, OB_EUNAVAILABLE, "the code could not be sent through %s: %s", p->name,
                         out->detail);
    }
out:
    verification_release(&pending);
    store_release(conn);
    config_unref(cfg);
    return rc;
}

int verify_confirm(struct app *app, const char *user, const char *address, const char *code,
                   const struct audit_origin *origin, struct ob_error *err)
{
    struct verification_row v = {0};
    struct store_conn *conn = NULL;
    char hash[65];
    int64_t now = store_now_ms();
    size_t len = code != NULL ? strlen(code) : 0;
    int rc = 0;

    for (size_t i = 0; i < len; i++) {
        if (code[i] < '0' || code[i] > '9')
            len = 0;
    }
    if (len != VERIFY_CODE_DIGITS)
        return ob_fail(err, OB_EINVAL, "a code is %d digits", VERIFY_CODE_DIGITS);
    rc = store_acquire(app->store, &conn, err);
    if (rc == 0)
        rc = store_begin(conn, err);
    if (rc == 0) {
        rc = store_verification_pending(conn, user, address, now, &v, err);
        if (rc == OB_ENOTFOUND)
            rc = ob_fail(err, OB_ENOTFOUND,
                         "no code is pending for %s (expired or never sent): send a new one",
                         address);
    }
    if (rc == 0 && v.failures >= VERIFY_MAX_FAILURES)
        rc = ob_fail(err, OB_ECONFLICT, "too many wrong codes for %s: send a new one", address);
    if (rc != 0)
        goto out;
    verify_code_hash(user, address, v.created_at_ms, code, hash);
    if (v.code_hash == NULL || strlen(v.code_hash) != 64 ||
        CRYPTO_memcmp(hash, v.code_hash, 64) != 0) {
        rc = store_verification_failed(conn, v.id, err);
        if (rc == 0)
            rc = audit(conn, origin, "contact.verification_failed", user, address, NULL, now, err);
        if (rc == 0)
            rc = store_commit(conn, err);
        if (rc == 0)
            rc = ob_fail(err, OB_EINVAL, "wrong code for %s (%lld of %d tries left)", address,
                         (long long)(VERIFY_MAX_FAILURES - v.failures - 1), VERIFY_MAX_FAILURES);
        goto out;
    }
    rc = store_verification_verified(conn, v.id, now, err);
    if (rc == 0)
        rc = audit(conn, origin, "contact.verified", user, address, v.contact_type, now, err);
    if (rc == 0)
        rc = store_commit(conn, err);
out:
    verification_release(&v);
    store_release(conn);
    return rc;
}

int verify_trust(struct app *app, const char *user, const char *address,
                 const struct audit_origin *origin, struct ob_error *err)
{
    struct config *cfg = app_config_get(app);
    const struct config_contact_method *cm = NULL;
    struct store_conn *conn = NULL;
    struct verification_row v = {0};
    int64_t now = store_now_ms(), verified_at = 0;
    int rc = find_user_method(cfg, user, NULL, address, &cm, err);

    if (rc == 0)
        rc = store_acquire(app->store, &conn, err);
    if (rc == 0)
        rc = store_begin(conn, err);
    if (rc == 0)
        rc = store_contact_verified_at(conn, user, address, &verified_at, err);
    if (rc == 0 && verified_at != 0)
        rc = ob_fail(err, OB_ECONFLICT, "%s is already verified", address);
    if (rc == 0) {
        v.user_name = (char *)user;
        v.address = (char *)address;
        v.contact_type = (char *)contact_type_name(cm->type);
        v.expires_at_ms = now;
        v.verified_at_ms = now;
        v.created_at_ms = now;
        v.created_by = (char *)origin->actor;
        rc = store_verification_insert(conn, &v, err);
    }
    if (rc == 0)
        rc = audit(conn, origin, "contact.trusted", user, address, v.contact_type, now, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    store_release(conn);
    config_unref(cfg);
    return rc;
}

int verify_status(struct store_conn *conn, const char *user, const char *address,
                  int64_t *verified_at_ms, struct ob_error *err)
{
    int rc = store_contact_verified_at(conn, user, address, verified_at_ms, err);

    return rc == 0 ? *verified_at_ms != 0 : rc;
}
