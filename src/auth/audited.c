/* audited.c - token changes and audit events written in one transaction. */
#include "auth/auth.h"

#include "store/store.h"
#include "util/error.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int append_audit(struct store_conn *conn, const struct audit_origin *origin,
                        const char *action, const char *target, const char *details,
                        struct ob_error *err)
{
    struct audit_event ev = {
        .at_ms = store_now_ms(),
        .actor = (char *)origin->actor,
        .action = (char *)action,
        .target = (char *)target,
        .remote_addr = (char *)origin->remote_addr,
        .request_id = (char *)origin->request_id,
        .details = (char *)details,
    };

    return store_audit_append(conn, &ev, err);
}

int audit_append(struct store_conn *conn, const struct audit_origin *origin, const char *action,
                 const char *target, json_t *details, int64_t at_ms, struct ob_error *err)
{
    char *text = details != NULL ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    struct audit_event ev = {
        .at_ms = at_ms,
        .actor = (char *)origin->actor,
        .action = (char *)action,
        .target = (char *)target,
        .remote_addr = (char *)origin->remote_addr,
        .request_id = (char *)origin->request_id,
        .details = text,
    };
    int rc;

    if (details != NULL && text == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    rc = store_audit_append(conn, &ev, err);
    free(text);
    return rc;
}

int audit_record(struct store *store, const struct audit_origin *origin, const char *action,
                 const char *target, const char *details, struct ob_error *err)
{
    struct store_conn *conn = NULL;
    int rc;

    rc = store_acquire(store, &conn, err);
    if (rc != 0)
        return rc;
    rc = store_begin(conn, err);
    if (rc == 0)
        rc = append_audit(conn, origin, action, target, details, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    store_release(conn); /* rolls back when the commit was not reached */
    return rc;
}

int token_create(struct store *store, const struct token_request *req,
                 const struct audit_origin *origin, char *secret_out, size_t cap, int64_t *id_out,
                 struct ob_error *err)
{
    char hash[TOKEN_HASH_HEX_LEN + 1], target[32];
    struct store_token tok = {0};
    struct store_conn *conn = NULL;
    json_t *details = NULL;
    char *details_text = NULL;
    int rc;

    if (!token_name_is_valid(req->name))
        return ob_fail(err, OB_EINVAL,
                       "token name must be 1 to 64 characters of letters, digits, space and ._:@-");
    if (req->scope < SCOPE_READ || req->scope > SCOPE_ADMIN)
        return ob_fail(err, OB_EINVAL, "scope must be read, write or admin");
    if (req->agent_host != NULL && (req->user != NULL || req->scope != SCOPE_READ))
        return ob_fail(err, OB_EINVAL, "an agent token has scope read and no user");
    if (token_generate(secret_out, cap) != 0)
        return ob_fail(err, OB_EINTERNAL, "cannot generate a random token");
    token_hash_hex(secret_out, hash);

    tok.name = (char *)req->name;
    tok.scope = (char *)token_scope_name(req->scope);
    tok.team = (char *)req->team;
    tok.created_by = (char *)origin->actor;
    tok.created_at_ms = store_now_ms();
    tok.expires_at_ms = req->expires_at_ms;
    tok.user_name = (char *)req->user;
    tok.agent_host = (char *)req->agent_host;

    details =
        json_pack("{s:s, s:s, s:s?, s:I, s:s?, s:s?}", "name", req->name, "scope",
                  token_scope_name(req->scope), "team", req->team, "expires_at_ms",
                  (json_int_t)req->expires_at_ms, "user", req->user, "agent_host", req->agent_host);
    details_text = details != NULL ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    rc = store_acquire(store, &conn, err);
    if (rc != 0)
        goto out;
    rc = store_begin(conn, err);
    if (rc != 0)
        goto out;
    rc = store_token_insert(conn, &tok, hash, err);
    if (rc != 0)
        goto out;
    snprintf(target, sizeof(target), "token:%lld", (long long)tok.id);
    rc = append_audit(conn, origin, "token.create", target, details_text, err);
    if (rc != 0)
        goto out;
    rc = store_commit(conn, err);
    if (rc != 0)
        goto out;
    *id_out = tok.id;
out:
    if (rc != 0)
        OPENSSL_cleanse(secret_out, cap);
    store_release(conn);
    free(details_text);
    json_decref(details);
    return rc;
}

int token_revoke(struct store *store, int64_t id, const struct audit_origin *origin,
                 struct ob_error *err)
{
    struct store_conn *conn = NULL;
    char target[32];
    int rc;

    snprintf(target, sizeof(target), "token:%lld", (long long)id);
    rc = store_acquire(store, &conn, err);
    if (rc != 0)
        return rc;
    rc = store_begin(conn, err);
    if (rc == 0)
        rc = store_token_revoke(conn, id, store_now_ms(), err);
    if (rc == 0)
        rc = append_audit(conn, origin, "token.revoke", target, NULL, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    store_release(conn);
    return rc;
}
