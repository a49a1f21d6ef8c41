/* token.c - API token secrets, hashes, scopes, authentication and authorization. */
#include "auth/auth.h"

#include "store/store.h"
#include "util/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static const char *const scope_names[] = {"none", "read", "write", "admin"};

int token_scope_parse(const char *name, enum token_scope *out)
{
    for (int s = SCOPE_READ; s <= SCOPE_ADMIN; s++) {
        if (name != NULL && strcmp(name, scope_names[s]) == 0) {
            *out = (enum token_scope)s;
            return 0;
        }
    }
    return OB_EINVAL;
}

const char *token_scope_name(enum token_scope scope)
{
    if (scope < SCOPE_NONE || scope > SCOPE_ADMIN)
        return "none";
    return scope_names[scope];
}

int token_generate(char *out, size_t cap)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[32];
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (cap < TOKEN_SECRET_LEN + 1)
        return OB_EINVAL;
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return OB_EINTERNAL;
    memcpy(out, TOKEN_PREFIX, 4);
    o = 4;
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = alphabet[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (6 - bits)) & 0x3f];
    out[o] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

void token_hash_hex(const char *secret, char *out)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    EVP_Digest(secret, strlen(secret), digest, &len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    out[2 * len] = '\0';
}

bool token_name_is_valid(const char *name)
{
    size_t len = 0;

    if (name == NULL)
        return false;
    for (const char *p = name; *p != '\0'; p++, len++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ' ' || c == '.' || c == '_' || c == ':' || c == '@' || c == '-'))
            return false;
    }
    return len >= 1 && len <= TOKEN_NAME_MAX;
}

/* Does text look like a token secret? Checked before any database work. */
static bool secret_is_well_formed(const char *secret)
{
    if (strncmp(secret, TOKEN_PREFIX, 4) != 0 || strlen(secret) != TOKEN_SECRET_LEN)
        return false;
    for (const char *p = secret + 4; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int auth_authenticate(struct store *store, const char *authorization, int64_t now_ms,
                      struct auth_principal *out, struct ob_error *err)
{
    char hash[TOKEN_HASH_HEX_LEN + 1];
    struct store_token tok = {0};
    struct store_conn *conn = NULL;
    const char *secret;
    int rc;

    memset(out, 0, sizeof(*out));
    if (authorization == NULL)
        return ob_fail(err, OB_EUNAUTH, "missing Authorization header (want: Bearer TOKEN)");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return ob_fail(err, OB_EUNAUTH, "Authorization header must be 'Bearer TOKEN'");
    secret = authorization + 7;
    while (*secret == ' ')
        secret++;
    if (!secret_is_well_formed(secret))
        return ob_fail(err, OB_EUNAUTH, "malformed API token");
    token_hash_hex(secret, hash);

    rc = store_acquire(store, &conn, err);
    if (rc != 0)
        return rc;
    rc = store_token_find_by_hash(conn, hash, &tok, err);
    if (rc == OB_ENOTFOUND) {
        rc = ob_fail(err, OB_EUNAUTH, "unknown API token");
        goto out;
    }
    if (rc != 0)
        goto out;
    if (tok.revoked_at_ms != 0) {
        rc = ob_fail(err, OB_EUNAUTH, "API token '%s' was revoked", tok.name);
        goto out;
    }
    if (tok.expires_at_ms != 0 && tok.expires_at_ms <= now_ms) {
        rc = ob_fail(err, OB_EUNAUTH, "API token '%s' has expired", tok.name);
        goto out;
    }
    if (token_scope_parse(tok.scope, &out->scope) != 0) {
        rc = ob_fail(err, OB_EINTERNAL, "token %lld has unknown scope", (long long)tok.id);
        goto out;
    }
    out->token_id = tok.id;
    snprintf(out->name, sizeof(out->name), "%s", tok.name);
    snprintf(out->team, sizeof(out->team), "%s", tok.team != NULL ? tok.team : "");
    snprintf(out->actor, sizeof(out->actor), "token:%s", tok.name);
    snprintf(out->user, sizeof(out->user), "%s", tok.user_name != NULL ? tok.user_name : "");
    snprintf(out->agent_host, sizeof(out->agent_host), "%s",
             tok.agent_host != NULL ? tok.agent_host : "");
    /* last_used is informative; a minute's precision keeps reads from writing. */
    if (now_ms - tok.last_used_at_ms > 60 * 1000)
        store_token_touch(conn, tok.id, now_ms, NULL);
out:
    store_token_release(&tok);
    store_release(conn);
    return rc;
}

int auth_authorize(const struct auth_principal *p, enum token_scope need, const char *team,
                   struct ob_error *err)
{
    if (p->agent_host[0] != '\0')
        return ob_fail(err, OB_EFORBIDDEN,
                       "token '%s' is the agent token of host %s; only /api/v1/agent/ accepts it",
                       p->name, p->agent_host);
    if (p->scope < need)
        return ob_fail(err, OB_EFORBIDDEN, "token '%s' has scope %s; this needs %s", p->name,
                       token_scope_name(p->scope), token_scope_name(need));
    if (p->team[0] == '\0')
        return 0;
    if (team == NULL)
        return ob_fail(err, OB_EFORBIDDEN,
                       "token '%s' is limited to team %s; this needs a token for every team",
                       p->name, p->team);
    if (strcmp(team, p->team) != 0)
        return ob_fail(err, OB_EFORBIDDEN, "token '%s' is limited to team %s, not %s", p->name,
                       p->team, team);
    return 0;
}
