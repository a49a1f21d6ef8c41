/*
 * auth.h - API tokens: creation, hashing, authentication and authorization.
 *
 * A token's secret is "obt_" followed by 43 base64url characters (32 random
 * bytes). Only its SHA-256 (hex) is stored; the secret is shown once, when it
 * is created. Tokens carry a scope (read < write < admin) and optionally a
 * team: a team token may act only on that team's objects.
 */
#ifndef OPSBELL_AUTH_AUTH_H
#define OPSBELL_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct ob_error;
struct store;
struct store_conn;

enum token_scope { SCOPE_NONE = 0, SCOPE_READ = 1, SCOPE_WRITE = 2, SCOPE_ADMIN = 3 };

#define TOKEN_PREFIX       "obt_"
#define TOKEN_SECRET_LEN   (4 + 43) /* prefix + base64url(32 bytes) without padding */
#define TOKEN_HASH_HEX_LEN 64
#define TOKEN_NAME_MAX     64

/* "read" | "write" | "admin" -> scope. Returns 0 or OB_EINVAL. */
int token_scope_parse(const char *name, enum token_scope *out);
const char *token_scope_name(enum token_scope scope);

/* Fill out (>= TOKEN_SECRET_LEN + 1 bytes) with a fresh secret. 0 or OB_EINTERNAL. */
int token_generate(char *out, size_t cap);
/* Hex SHA-256 of secret into out (TOKEN_HASH_HEX_LEN + 1 bytes). */
void token_hash_hex(const char *secret, char *out);
/* A token name: 1..64 characters of [A-Za-z0-9 ._:@-]. */
bool token_name_is_valid(const char *name);

/* Who is making a request. Strings are copies; no secret is kept. */
struct auth_principal {
    int64_t token_id;
    enum token_scope scope;
    char name[TOKEN_NAME_MAX + 1];
    char team[65];  /* "" = every team */
    char actor[96]; /* "token:<name>" for the audit log */
    char user[64];  /* a person's token: the user it acts as; "" = none */
    /* A host agent's token: the host; "" = not an agent's.  auth_authorize
     * refuses an agent's token for everything: only the agent endpoints,
     * which check this field, accept it. */
    char agent_host[254];
};

/*
 * Authenticate an "Authorization: Bearer <secret>" header value.
 * Returns 0 and *out, or OB_EUNAUTH (missing, malformed, unknown, revoked
 * or expired token; the message says which, never echoing the secret).
 */
int auth_authenticate(struct store *store, const char *authorization, int64_t now_ms,
                      struct auth_principal *out, struct ob_error *err);

/*
 * May p act with scope `need` on objects of `team` (NULL: on something not
 * owned by a team)? Returns 0 or OB_EFORBIDDEN with the reason.
 */
int auth_authorize(const struct auth_principal *p, enum token_scope need, const char *team,
                   struct ob_error *err);

/* What a new token is to be. */
struct token_request {
    const char *name;
    enum token_scope scope;
    const char *team;       /* NULL = every team */
    int64_t expires_at_ms;  /* 0 = never */
    const char *user;       /* NULL, or the user a person's token acts as */
    const char *agent_host; /* NULL, or the host of an agent's token (scope read) */
};

/* Where a change came from, for the audit log. */
struct audit_origin {
    const char *actor;       /* "token:admin", "cli:root" */
    const char *remote_addr; /* "127.0.0.1", "local" */
    const char *request_id;  /* may be NULL */
};

/*
 * Create a token and its "token.create" audit event in one transaction.
 * secret_out receives the secret (>= TOKEN_SECRET_LEN + 1 bytes); *id_out its id.
 */
int token_create(struct store *store, const struct token_request *req,
                 const struct audit_origin *origin, char *secret_out, size_t cap, int64_t *id_out,
                 struct ob_error *err);

/* Revoke a token and audit "token.revoke" in one transaction. */
int token_revoke(struct store *store, int64_t id, const struct audit_origin *origin,
                 struct ob_error *err);

/*
 * Append one audit event in its own transaction (details: JSON object text
 * or NULL). For changes that touch other rows, prefer store_audit_append
 * inside the change's own transaction.
 */
int audit_record(struct store *store, const struct audit_origin *origin, const char *action,
                 const char *target, const char *details, struct ob_error *err);
/* Append one audit event at at_ms inside the caller's transaction on conn;
 * details (borrowed, may be NULL) is a JSON object, stored as compact text. */
int audit_append(struct store_conn *conn, const struct audit_origin *origin, const char *action,
                 const char *target, struct json_t *details, int64_t at_ms, struct ob_error *err);

#endif
