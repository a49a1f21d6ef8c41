/*
 * state.c - what a host's agent enforces (GET /api/v1/agent/state,
 * docs/AGENT.md), what its report means, and the entries of the AWS
 * security group.
 *
 * On a host: the grants in force that open it; the allowlist entries of the
 * members of every team with an `allowlist: true` group holding it; the keys
 * (under each of their logins) of those teams' members and of the users of
 * the grants; the CA public key and the KRL of revoked grants'
 * certificates.  The body depends only on that state (sorted, no "now"), so
 * its SHA-256 is a stable ETag.
 */
#include "access/access_internal.h"

#include "auth/auth.h"
#include "config/config.h"
#include "enforce/enforce.h"
#include "keys/keys.h"
#include "sshca/sshca.h"
#include "store/access.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A set of user names (borrowed), small and unsorted. */
struct name_set {
    const char **items;
    size_t count, cap;
};

static int name_set_add(struct name_set *s, const char *name)
{
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->items[i], name) == 0)
            return 0;
    }
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        const char **items = realloc(s->items, cap * sizeof(*items));
        if (items == NULL)
            return OB_ENOMEM;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->count++] = name;
    return 0;
}

static int name_set_has(const struct name_set *s, const char *name)
{
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->items[i], name) == 0)
            return 1;
    }
    return 0;
}

/* Members of every team that has a group holding host: all groups
 * (keys) or only `allowlist: true` groups (allow). */
static int host_people(const struct config *cfg, const char *host, struct name_set *keys,
                       struct name_set *allow)
{
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        int holds = 0, allowlisted = 0;
        for (unsigned g = 0; g < team->host_group_count; g++) {
            if (host == NULL || access_group_has_host(&team->host_groups[g], host)) {
                holds = 1;
                allowlisted |= team->host_groups[g].allowlist;
            }
        }
        for (unsigned m = 0; m < team->member_count; m++) {
            if ((holds && keys != NULL && name_set_add(keys, team->members[m]) != 0) ||
                (allowlisted && allow != NULL && name_set_add(allow, team->members[m]) != 0))
                return OB_ENOMEM;
        }
    }
    return 0;
}

static json_t *entry_json(const char *id, const char *cidr, int64_t expires_at_ms,
                          const char *description)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", id, "cidr", cidr, "expires_at",
                     (json_int_t)expires_at_ms, "description", description);
}

static int entries_of_grants(const struct grant_row *grants, size_t n, json_t *entries)
{
    for (size_t i = 0; i < n; i++) {
        char id[64], description[128];
        snprintf(id, sizeof(id), "grant:%" PRId64, grants[i].id);
        snprintf(description, sizeof(description), "breakglass #%" PRId64 " %s", grants[i].id,
                 grants[i].user_name);
        if (json_array_append_new(
                entries, entry_json(id, grants[i].cidr, grants[i].expires_at_ms, description)) != 0)
            return OB_ENOMEM;
    }
    return 0;
}

static int entries_of_allowlist(const struct allow_row *rows, size_t n,
                                const struct name_set *people, json_t *entries)
{
    for (size_t i = 0; i < n; i++) {
        char id[64], description[128];
        if (!name_set_has(people, rows[i].user_name))
            continue;
        snprintf(id, sizeof(id), "allow:%s:%s", rows[i].user_name, rows[i].cidr);
        snprintf(description, sizeof(description), "allowlist %s", rows[i].user_name);
        if (access_entry_check_id(id, NULL) != 0)
            continue; /* cannot happen with checked names and CIDRs */
        if (json_array_append_new(
                entries, entry_json(id, rows[i].cidr, rows[i].expires_at_ms, description)) != 0)
            return OB_ENOMEM;
    }
    return 0;
}

/* The keys of people, under each of their logins, from the keys cache. */
static int keys_of_people(const struct config *cfg, const struct name_set *people, json_t *keys,
                          struct ob_error *err)
{
    struct keys_entries cache = {0};
    char path[4096];
    int rc;

    if (!cfg->keys.enabled || people->count == 0)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", cfg->keys.cache_dir, KEYS_CACHE_NAME);
    rc = keys_cache_read(path, &cache, err);
    if (rc == OB_ENOTFOUND)
        return 0; /* never synced yet: no keys */
    if (rc != 0)
        return rc;
    /* The cache is sorted by user: look each user up once. */
    for (size_t k = 0; k < cache.count; k++) {
        const struct config_user *user = NULL;
        if (!name_set_has(people, cache.items[k].user))
            continue;
        user = config_find_user(cfg, cache.items[k].user);
        for (unsigned l = 0; user != NULL && l < user->login_count; l++) {
            if (json_array_append_new(keys, json_pack("{s:s, s:s}", "login", user->logins[l], "key",
                                                      cache.items[k].key)) != 0) {
                keys_entries_release(&cache);
                return ob_fail(err, OB_ENOMEM, "out of memory");
            }
        }
    }
    keys_entries_release(&cache);
    return 0;
}

/* The CA's public key and the KRL of revoked grants' certificates. */
static int ca_and_krl(struct store_conn *conn, const struct config *cfg, int64_t now_ms,
                      json_t *doc, struct ob_error *err)
{
    struct sshca_ca *ca = NULL;
    uint64_t *serials = NULL;
    size_t n = 0, krl_len = 0;
    unsigned char *krl = NULL;
    char *line = NULL, *krl_b64 = NULL;
    int rc;

    if (!cfg->ssh_ca.enabled) {
        json_object_set_new(doc, "ssh_ca", json_null());
        json_object_set_new(doc, "krl", json_null());
        return 0;
    }
    rc = sshca_ca_load(cfg->ssh_ca.key.value, cfg->ssh_ca.key.len, &ca, err);
    if (rc == 0)
        rc = sshca_ca_pubkey_line(ca, "opsbell-ca", &line, err);
    if (rc == 0)
        rc = store_revoked_cert_serials(conn, now_ms, &serials, &n, err);
    /* Deterministic: version = the number of serials, no generation time. */
    if (rc == 0)
        rc = sshca_krl_build(ca, serials, n, NULL, 0, n, 0, "opsbell", &krl, &krl_len, err);
    if (rc == 0 && sshca_b64_encode(krl, krl_len, &krl_b64) != 0)
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
    if (rc == 0) {
        json_object_set_new(doc, "ssh_ca", json_string(line));
        json_object_set_new(doc, "krl", json_string(krl_b64));
    }
    free(krl_b64);
    free(krl);
    free(serials);
    free(line);
    sshca_ca_free(ca);
    return rc;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)data, len, md);
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int access_agent_state(struct store *store, const struct config *cfg, const char *host,
                       int64_t now_ms, char **body, size_t *body_len, char etag[65],
                       struct ob_error *err)
{
    struct name_set key_people = {0}, allow_people = {0};
    struct grant_row *grants = NULL;
    struct allow_row *allow = NULL;
    size_t ngrants = 0, nallow = 0;
    struct store_conn *conn = NULL;
    json_t *doc = json_object(), *entries = json_array(), *keys = json_array();
    int rc;

    *body = NULL;
    *body_len = 0;
    etag[0] = '\0';
    if (doc == NULL || entries == NULL || keys == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    rc = store_acquire(store, &conn, err);
    if (rc == 0)
        rc = store_grants_in_force(conn, host, now_ms, &grants, &ngrants, err);
    if (rc == 0)
        rc = store_allow_list(conn, NULL, now_ms, &allow, &nallow, err);
    if (rc == 0 && host_people(cfg, host, &key_people, &allow_people) != 0)
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < ngrants; i++) {
        if (name_set_add(&key_people, grants[i].user_name) != 0)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
    if (rc == 0 && (entries_of_grants(grants, ngrants, entries) != 0 ||
                    entries_of_allowlist(allow, nallow, &allow_people, entries) != 0))
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = keys_of_people(cfg, &key_people, keys, err);
    if (rc == 0)
        rc = ca_and_krl(conn, cfg, now_ms, doc, err);
    if (rc != 0)
        goto out;
    json_object_set_new(doc, "host", json_string(host));
    json_object_set_new(doc, "entries", entries);
    json_object_set_new(doc, "keys", keys);
    json_object_set_new(doc, "poll_seconds", json_integer(ACCESS_POLL_SECONDS));
    entries = keys = NULL;
    *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (*body == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    *body_len = strlen(*body);
    sha256_hex(*body, *body_len, etag);
out:
    json_decref(entries);
    json_decref(keys);
    json_decref(doc);
    free(key_people.items);
    free(allow_people.items);
    grant_row_array_free(grants, ngrants);
    allow_row_array_free(allow, nallow);
    store_release(conn);
    return rc;
}

/* "grant:42" -> 42; 0 for anything else. */
static int64_t grant_id_of(const char *entry_id)
{
    char *end = NULL;
    long long id;

    if (strncmp(entry_id, "grant:", 6) != 0)
        return 0;
    id = strtoll(entry_id + 6, &end, 10);
    return end != entry_id + 6 && *end == '\0' && id > 0 ? id : 0;
}

static int report_applied(struct store_conn *conn, const struct config *cfg, const char *host,
                          int64_t id, const struct audit_origin *origin, struct ob_error *err)
{
    struct grant_row g = {0};
    char target[32];
    int64_t now_ms = store_now_ms();
    int first = 0, opens = 0, rc = store_grant_get(conn, id, &g, err);

    if (rc == OB_ENOTFOUND)
        return 0; /* an agent's stale id: nothing to record */
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < g.host_count; i++)
        opens |= strcmp(g.hosts[i], host) == 0;
    if (opens)
        rc = store_begin(conn, err);
    if (opens && rc == 0)
        rc = store_grant_applied(conn, id, host, now_ms, &first, err);
    if (opens && rc == 0 && first) {
        json_t *details =
            json_pack("{s:s, s:s, s:s}", "host", host, "user", g.user_name, "cidr", g.cidr);
        snprintf(target, sizeof(target), "grant:%" PRId64, id);
        rc = audit_append(conn, origin, "breakglass.apply", target, details, now_ms, err);
        json_decref(details);
    }
    if (opens && rc == 0)
        rc = store_commit(conn, err);
    if (rc == 0 && first) {
        const struct config_team *team = config_find_team(cfg, g.team);
        struct access_event ev = {ACCESS_EV_APPLIED, &g, team != NULL ? team->chat_channel : NULL,
                                  origin->actor, host};
        access_notify(&ev);
    }
    grant_row_release(&g);
    return rc;
}

int access_agent_report(struct store *store, const struct config *cfg, const char *host,
                        const char *const *applied, size_t n, const char *error,
                        const struct audit_origin *origin, struct ob_error *err)
{
    struct store_conn *conn = NULL;
    int rc = store_acquire(store, &conn, err);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t id = grant_id_of(applied[i]);
        if (id > 0)
            rc = report_applied(conn, cfg, host, id, origin, err);
    }
    if (rc == 0 && error != NULL) {
        char target[300];
        json_t *details = json_pack("{s:s}", "error", error);
        snprintf(target, sizeof(target), "host:%s", host);
        log_warn("access", "an agent could not apply its state", "host", host, "error", error);
        rc = store_begin(conn, err);
        if (rc == 0)
            rc = audit_append(conn, origin, "agent.apply_failed", target, details, store_now_ms(),
                              err);
        if (rc == 0)
            rc = store_commit(conn, err);
        json_decref(details);
    }
    store_release(conn);
    return rc;
}

int access_entries_for_group(struct store *store, const struct config *cfg, const char *group,
                             int64_t now_ms, struct access_entry **out, size_t *n,
                             struct ob_error *err)
{
    const struct config_host_group *g = group != NULL ? config_find_host_group(cfg, group) : NULL;
    struct name_set people = {0};
    struct grant_row *grants = NULL;
    struct allow_row *allow = NULL;
    size_t ngrants = 0, nallow = 0, k = 0;
    struct store_conn *conn = NULL;
    int rc;

    *out = NULL;
    *n = 0;
    if (group != NULL && g == NULL)
        return ob_fail(err, OB_ENOTFOUND, "no host group named '%s'", group);
    rc = store_acquire(store, &conn, err);
    if (rc == 0)
        rc = store_grants_in_force(conn, NULL, now_ms, &grants, &ngrants, err);
    if (rc == 0)
        rc = store_allow_list(conn, NULL, now_ms, &allow, &nallow, err);
    if (rc != 0)
        goto out;
    if (g != NULL) {
        for (unsigned m = 0; rc == 0 && g->allowlist && m < g->team->member_count; m++)
            if (name_set_add(&people, g->team->members[m]) != 0)
                rc = ob_fail(err, OB_ENOMEM, "out of memory");
    } else if (host_people(cfg, NULL, NULL, &people) != 0) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
    *out = calloc(ngrants + nallow + 1, sizeof(**out));
    if (rc == 0 && *out == NULL)
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < ngrants; i++) {
        int opens = g == NULL;
        for (size_t h = 0; !opens && h < grants[i].host_count; h++)
            opens = access_group_has_host(g, grants[i].hosts[h]);
        if (!opens)
            continue;
        snprintf((*out)[k].id, sizeof((*out)[k].id), "grant:%" PRId64, grants[i].id);
        snprintf((*out)[k].cidr, sizeof((*out)[k].cidr), "%s", grants[i].cidr);
        (*out)[k].expires_at_ms = grants[i].expires_at_ms;
        snprintf((*out)[k].description, sizeof((*out)[k].description), "breakglass #%" PRId64 " %s",
                 grants[i].id, grants[i].user_name);
        k++;
    }
    for (size_t i = 0; rc == 0 && i < nallow; i++) {
        if (!name_set_has(&people, allow[i].user_name))
            continue;
        snprintf((*out)[k].id, sizeof((*out)[k].id), "allow:%s:%s", allow[i].user_name,
                 allow[i].cidr);
        snprintf((*out)[k].cidr, sizeof((*out)[k].cidr), "%s", allow[i].cidr);
        (*out)[k].expires_at_ms = allow[i].expires_at_ms;
        snprintf((*out)[k].description, sizeof((*out)[k].description), "allowlist %s",
                 allow[i].user_name);
        k++;
    }
    *n = k;
out:
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    free(people.items);
    grant_row_array_free(grants, ngrants);
    allow_row_array_free(allow, nallow);
    store_release(conn);
    return rc;
}
