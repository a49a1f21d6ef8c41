/*
 * allow.c - the allowlist: addresses people were seen at (Slack access
 * logs, /allowme links), each kept for allowlist.freshness after it was
 * last seen, at most allowlist.max_per_user per person.
 */
#include "access/access_internal.h"

#include "auth/auth.h"
#include "config/config.h"
#include "enforce/enforce.h"
#include "store/access.h"
#include "store/store.h"
#include "util/error.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define LINK_SECRET_BYTES 24 /* 48 hex characters in the URL */

int access_allow_seen_in(struct store_conn *conn, const struct config *cfg, const char *user,
                         const char *addr, const char *source, int64_t seen_ms, const char *detail,
                         const struct audit_origin *origin, struct ob_error *err)
{
    static const struct audit_origin system_origin = {"system", "local", NULL};
    const struct config_allowlist *al = &cfg->allowlist;
    struct allow_row row = {0}, *existing = NULL;
    char cidr[CIDR_TEXT_MAX];
    struct cidr c;
    size_t count = 0;
    int known = 0, rc;

    if (config_find_user(cfg, user) == NULL)
        return ob_fail(err, OB_EINVAL, "no user named '%s'", user);
    if (cidr_parse(addr, &c, err) != 0)
        return OB_EINVAL;
    /* One address: a sighting is a person's address, never a network. */
    if ((c.family == AF_INET && c.prefix != 32) || (c.family == AF_INET6 && c.prefix != 128))
        return ob_fail(err, OB_EINVAL, "'%s' is a network; the allowlist takes addresses", addr);
    cidr_format(&c, cidr, sizeof(cidr));
    rc = store_allow_list(conn, user, seen_ms, &existing, &count, err);
    for (size_t i = 0; rc == 0 && i < count; i++)
        known |= strcmp(existing[i].cidr, cidr) == 0;
    allow_row_array_free(existing, count);
    row.user_name = (char *)user;
    row.cidr = cidr;
    row.source = (char *)source;
    row.first_seen_ms = seen_ms;
    row.last_seen_ms = seen_ms;
    row.expires_at_ms = seen_ms + (int64_t)al->freshness_seconds * 1000;
    row.detail = (char *)detail;
    if (rc == 0)
        rc = store_allow_upsert(conn, &row, err);
    if (rc == 0)
        rc = store_allow_trim(conn, user, al->max_per_user, err);
    if (rc == 0 && !known) {
        char target[96];
        json_t *details = json_pack("{s:s, s:s, s:I}", "cidr", cidr, "source", source,
                                    "expires_at_ms", (json_int_t)row.expires_at_ms);
        snprintf(target, sizeof(target), "user:%s", user);
        rc = audit_append(conn, origin != NULL ? origin : &system_origin, "allowlist.add", target,
                          details, store_now_ms(), err);
        json_decref(details);
    }
    return rc;
}

int access_allow_seen(struct store *store, const struct config *cfg, const char *user,
                      const char *addr, const char *source, int64_t seen_ms, const char *detail,
                      const struct audit_origin *origin, struct ob_error *err)
{
    struct store_conn *conn = NULL;
    int rc = store_acquire(store, &conn, err);

    if (rc == 0)
        rc = store_begin(conn, err);
    if (rc == 0)
        rc = access_allow_seen_in(conn, cfg, user, addr, source, seen_ms, detail, origin, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    store_release(conn);
    return rc;
}

static void link_hash(const char *secret, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)secret, strlen(secret), md);
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int access_link_create(struct store *store, const struct config *cfg, const char *user,
                       const struct audit_origin *origin, char **url, struct ob_error *err)
{
    unsigned char raw[LINK_SECRET_BYTES];
    char secret[2 * LINK_SECRET_BYTES + 1], hash[65], target[96], base[512];
    struct store_conn *conn = NULL;
    int64_t now_ms = store_now_ms();
    int rc;

    *url = NULL;
    if (config_find_user(cfg, user) == NULL)
        return ob_fail(err, OB_EINVAL, "no user named '%s'", user);
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return ob_fail(err, OB_EINTERNAL, "no random bytes for a link");
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(secret + 2 * i, 3, "%02x", raw[i]);
    link_hash(secret, hash);
    if (cfg->public_url != NULL)
        snprintf(base, sizeof(base), "%s", cfg->public_url);
    else
        snprintf(base, sizeof(base), "http://%s:%u", cfg->listen_host, cfg->listen_port);
    if (base[0] != '\0' && base[strlen(base) - 1] == '/')
        base[strlen(base) - 1] = '\0';
    snprintf(target, sizeof(target), "user:%s", user);
    rc = store_acquire(store, &conn, err);
    if (rc == 0)
        rc = store_begin(conn, err);
    if (rc == 0)
        rc = store_link_insert(conn, hash, user, origin->actor, now_ms,
                               now_ms + (int64_t)cfg->allowlist.link_ttl_seconds * 1000, err);
    if (rc == 0)
        rc = audit_append(conn, origin, "allowlist.link", target, NULL, now_ms, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    store_release(conn);
    if (rc == 0) {
        size_t n = strlen(base) + sizeof("/allowme/") + strlen(secret);
        *url = malloc(n);
        if (*url == NULL)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
        else
            snprintf(*url, n, "%s/allowme/%s", base, secret);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

int access_link_use(struct store *store, const struct config *cfg, const char *secret,
                    const char *addr, const struct audit_origin *origin, char **user,
                    struct ob_error *err)
{
    struct store_conn *conn = NULL;
    char hash[65];
    int rc;

    *user = NULL;
    if (secret == NULL || strlen(secret) != 2 * LINK_SECRET_BYTES)
        return ob_fail(err, OB_ENOTFOUND, "no such link");
    link_hash(secret, hash);
    rc = store_acquire(store, &conn, err);
    if (rc == 0)
        rc = store_begin(conn, err);
    /* The link is spent only when the address is recorded too. */
    if (rc == 0)
        rc = store_link_use(conn, hash, addr, store_now_ms(), user, err);
    if (rc == 0)
        rc =
            access_allow_seen_in(conn, cfg, *user, addr, "link", store_now_ms(), NULL, origin, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    store_release(conn);
    if (rc != 0) {
        free(*user);
        *user = NULL;
    }
    return rc;
}

static int addr_trusted(const struct config *cfg, const char *addr)
{
    struct cidr a;

    if (cidr_parse(addr, &a, NULL) != 0)
        return 0;
    for (unsigned i = 0; i < cfg->allowlist.trusted_proxy_count; i++) {
        struct cidr p;
        if (cidr_parse(cfg->allowlist.trusted_proxies[i], &p, NULL) == 0 && cidr_contains(&p, &a))
            return 1;
    }
    return 0;
}

void access_client_addr(const struct config *cfg, const char *peer, const char *forwarded_for,
                        char *out, size_t cap)
{
    char hops[1024];
    char *hop;

    snprintf(out, cap, "%s", peer != NULL ? peer : "");
    if (peer == NULL || forwarded_for == NULL || !addr_trusted(cfg, peer))
        return;
    /* Right to left: the nearest hop not itself a trusted proxy is the client. */
    snprintf(hops, sizeof(hops), "%s", forwarded_for);
    while ((hop = strrchr(hops, ',')) != NULL || hops[0] != '\0') {
        char *h = hop != NULL ? hop + 1 : hops;
        struct cidr c;
        while (*h == ' ')
            h++;
        h[strcspn(h, " ")] = '\0';
        if (cidr_parse(h, &c, NULL) != 0)
            return; /* garbage: keep the last trusted answer */
        snprintf(out, cap, "%s", h);
        if (!addr_trusted(cfg, h))
            return;
        if (hop == NULL)
            return;
        *hop = '\0';
    }
}
