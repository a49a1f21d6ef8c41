/*
 * grant.c - break-glass grants: request, approve, deny, revoke, expire and
 * certificates.  Each change is one transaction with its audit event; the
 * team's channel hears of it after the commit (access_notify).
 */
#include "access/access_internal.h"
#include "access/aws_sync.h"

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
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define GRANT_SYSTEM_ACTOR "system"

static struct {
    access_notify_fn fn;
    void *ctx;
} notifier;

void access_set_notifier(access_notify_fn fn, void *ctx)
{
    notifier.fn = fn;
    notifier.ctx = ctx;
}

void access_notify(const struct access_event *ev)
{
    if (notifier.fn != NULL)
        notifier.fn(notifier.ctx, ev);
}

static void grant_notify(const struct config *cfg, enum access_event_kind kind,
                         const struct grant_row *g, const char *actor, const char *host)
{
    const struct config_team *team = config_find_team(cfg, g->team);
    struct access_event ev = {
        .kind = kind,
        .grant = g,
        .team_channel = team != NULL ? team->chat_channel : NULL,
        .actor = actor,
        .host = host,
    };

    access_notify(&ev);
    /* The AWS security group follows at once (its sync thread runs anyway). */
    if (kind == ACCESS_EV_OPENED || kind == ACCESS_EV_REVOKED || kind == ACCESS_EV_EXPIRED)
        aws_sync_kick();
}

static json_t *json_time(int64_t ms)
{
    return ms != 0 ? json_integer(ms) : json_null();
}

static json_t *json_text(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *access_grant_json(const struct grant_row *g)
{
    json_t *obj = json_object(), *hosts = json_array();

    for (size_t i = 0; i < g->host_count; i++)
        json_array_append_new(hosts, json_string(g->hosts[i]));
    json_object_set_new(obj, "id", json_integer(g->id));
    json_object_set_new(obj, "user", json_text(g->user_name));
    json_object_set_new(obj, "team", json_text(g->team));
    json_object_set_new(
        obj, g->target_kind != NULL && strcmp(g->target_kind, "group") == 0 ? "group" : "host",
        json_text(g->target));
    json_object_set_new(obj, "hosts", hosts);
    json_object_set_new(obj, "cidr", json_text(g->cidr));
    json_object_set_new(obj, "reason", json_text(g->reason));
    json_object_set_new(obj, "state", json_text(g->state));
    json_object_set_new(obj, "duration_seconds", json_integer(g->duration_s));
    json_object_set_new(obj, "requested_by", json_text(g->requested_by));
    json_object_set_new(obj, "requested_at_ms", json_time(g->requested_at_ms));
    json_object_set_new(obj, "pending_until_ms", json_time(g->pending_until_ms));
    json_object_set_new(obj, "approved_by", json_text(g->approved_by));
    json_object_set_new(obj, "approved_at_ms", json_time(g->approved_at_ms));
    json_object_set_new(obj, "starts_at_ms", json_time(g->starts_at_ms));
    json_object_set_new(obj, "expires_at_ms", json_time(g->expires_at_ms));
    json_object_set_new(obj, "ended_by", json_text(g->ended_by));
    json_object_set_new(obj, "ended_at_ms", json_time(g->ended_at_ms));
    json_object_set_new(obj, "end_reason", json_text(g->end_reason));
    return obj;
}

/* The audit event of a grant's change: target "grant:N", a few details. */
static int grant_audit(struct store_conn *conn, const struct audit_origin *origin,
                       const char *action, const struct grant_row *g, const char *extra_key,
                       const char *extra_value, int64_t now_ms, struct ob_error *err)
{
    char target[32];
    json_t *details = json_pack("{s:s, s:s, s:I}", "user", g->user_name, "cidr", g->cidr,
                                "duration_seconds", (json_int_t)g->duration_s);
    int rc;

    if (details == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    if (extra_key != NULL && extra_value != NULL)
        json_object_set_new(details, extra_key, json_string(extra_value));
    snprintf(target, sizeof(target), "grant:%" PRId64, g->id);
    rc = audit_append(conn, origin, action, target, details, now_ms, err);
    json_decref(details);
    return rc;
}

/* "2h", "1h30m", "45m", "90s": a duration as people write it. */
static void format_duration(uint32_t s, char *out, size_t cap)
{
    uint32_t h = s / 3600, m = s % 3600 / 60, sec = s % 60;

    if (sec != 0 || s == 0)
        snprintf(out, cap, "%" PRIu32 "s", s);
    else if (h != 0 && m != 0)
        snprintf(out, cap, "%" PRIu32 "h%" PRIu32 "m", h, m);
    else if (h != 0)
        snprintf(out, cap, "%" PRIu32 "h", h);
    else
        snprintf(out, cap, "%" PRIu32 "m", m);
}

static int reason_ok(const char *reason, struct ob_error *err)
{
    size_t n;

    if (reason == NULL || reason[0] == '\0')
        return ob_fail(err, OB_EINVAL, "a reason is required");
    n = strlen(reason);
    if (n > ACCESS_REASON_MAX)
        return ob_fail(err, OB_EINVAL, "the reason is longer than %d bytes", ACCESS_REASON_MAX);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
            return ob_fail(err, OB_EINVAL, "the reason has a control character");
    }
    return 0;
}

/* A loopback or unspecified address says nothing about where a person is. */
static int addr_is_local(const struct cidr *c)
{
    static const unsigned char v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char zero[16] = {0};

    if (c->family == AF_INET)
        return c->addr[0] == 127 || memcmp(c->addr, zero, 4) == 0;
    return memcmp(c->addr, v6_loop, 16) == 0 || memcmp(c->addr, zero, 16) == 0;
}

/* The grant's source CIDR: asked for, else the user's freshest allowlist
 * entry, else the request's own address. */
static int grant_source(struct store_conn *conn, const struct config *cfg,
                        const struct grant_request *req, int64_t now_ms, char *out, size_t cap,
                        struct ob_error *err)
{
    const struct config_nftables *nft = &cfg->enforcers.nftables;
    struct allow_row *rows = NULL;
    size_t count = 0;
    struct cidr c;
    int rc;

    if (req->ip != NULL) {
        if (cidr_parse(req->ip, &c, err) != 0)
            return OB_EINVAL;
        if (cidr_too_wide(&c, nft->max_prefix_v4, nft->max_prefix_v6)) {
            cidr_format(&c, out, cap);
            return ob_fail(err, OB_EINVAL,
                           "%s is too wide for a grant (at most /%u for IPv4, /%u for IPv6)", out,
                           nft->max_prefix_v4, nft->max_prefix_v6);
        }
        cidr_format(&c, out, cap);
        return 0;
    }
    rc = store_allow_list(conn, req->user, now_ms, &rows, &count, err);
    if (rc != 0)
        return rc;
    if (count > 0) {
        snprintf(out, cap, "%s", rows[0].cidr); /* freshest first */
        allow_row_array_free(rows, count);
        return 0;
    }
    if (req->from_addr != NULL && cidr_parse(req->from_addr, &c, NULL) == 0 && !addr_is_local(&c)) {
        cidr_format(&c, out, cap);
        return 0;
    }
    return ob_fail(err, OB_EINVAL,
                   ACCESS_NO_SOURCE_MSG " for %s: give one (--ip), or open an /allowme link first",
                   req->user);
}

int access_grant_request(struct store *store, const struct config *cfg,
                         const struct grant_request *req, const struct audit_origin *origin,
                         struct grant_row *out, struct ob_error *err)
{
    struct access_target target;
    const struct config_breakglass *policy;
    struct grant_row g = {0}, stored = {0};
    struct store_conn *conn = NULL;
    char cidr[CIDR_TEXT_MAX];
    int64_t now_ms = store_now_ms();
    int self = 0, rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (req->user == NULL || config_find_user(cfg, req->user) == NULL)
        return ob_fail(err, OB_EINVAL, "no user named '%s'", req->user != NULL ? req->user : "");
    rc = access_resolve_target(cfg, req->user, req->host, req->group, &target, err);
    if (rc != 0)
        return rc;
    if (req->team_limit != NULL && strcmp(req->team_limit, target.team->name) != 0)
        return ob_fail(err, OB_EFORBIDDEN,
                       "this token is limited to team %s; %s belongs to team %s", req->team_limit,
                       req->group != NULL ? req->group : req->host, target.team->name);
    policy = &target.team->breakglass;
    if (req->duration_s == 0)
        return ob_fail(err, OB_EINVAL, "the duration must be positive (e.g. 30m)");
    if (req->duration_s > policy->max_duration_seconds) {
        char asked[32], max[32];
        format_duration(req->duration_s, asked, sizeof(asked));
        format_duration(policy->max_duration_seconds, max, sizeof(max));
        return ob_fail(err, OB_EINVAL, "%s is longer than team %s allows (max_duration %s)", asked,
                       target.team->name, max);
    }
    rc = reason_ok(req->reason, err);
    if (rc != 0)
        return rc;

    rc = store_acquire(store, &conn, err);
    if (rc != 0)
        return rc;
    rc = grant_source(conn, cfg, req, now_ms, cidr, sizeof(cidr), err);
    if (rc == 0)
        rc = access_may_self_approve(conn, target.team, req->user, now_ms, &self, err);
    if (rc != 0)
        goto out;

    g.user_name = (char *)req->user;
    g.team = target.team->name;
    g.target_kind = req->group != NULL ? "group" : "host";
    g.target = (char *)(req->group != NULL ? req->group : req->host);
    g.cidr = cidr;
    g.reason = (char *)req->reason;
    g.state = self ? GRANT_ACTIVE : GRANT_PENDING;
    g.duration_s = req->duration_s;
    g.requested_by = (char *)origin->actor;
    g.requested_from = (char *)origin->remote_addr;
    g.requested_at_ms = now_ms;
    g.pending_until_ms = self ? 0 : now_ms + (int64_t)policy->pending_ttl_seconds * 1000;
    if (self) {
        g.approved_by = (char *)req->user;
        g.approved_at_ms = now_ms;
        g.starts_at_ms = now_ms;
        g.expires_at_ms = now_ms + (int64_t)req->duration_s * 1000;
    }
    rc = store_begin(conn, err);
    if (rc == 0)
        rc = store_grant_insert(conn, &g, target.hosts, target.host_count, err);
    if (rc == 0)
        rc =
            grant_audit(conn, origin, "breakglass.request", &g, "reason", req->reason, now_ms, err);
    if (rc == 0 && self)
        rc =
            grant_audit(conn, origin, "breakglass.approve", &g, "approved_by", "self", now_ms, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    if (rc == 0)
        rc = store_grant_get(conn, g.id, &stored, err);
    if (rc != 0)
        goto out;
    log_info("access", self ? "grant opened" : "grant requested", "grant", stored.target, "user",
             stored.user_name, "cidr", stored.cidr);
    grant_notify(cfg, self ? ACCESS_EV_OPENED : ACCESS_EV_REQUESTED, &stored, origin->actor, NULL);
    if (out != NULL) {
        *out = stored;
        memset(&stored, 0, sizeof(stored));
    }
out:
    grant_row_release(&stored);
    store_release(conn);
    return rc;
}

/* Load grant id and its team; OB_ENOTFOUND / OB_EINTERNAL. */
static int grant_load(struct store_conn *conn, const struct config *cfg, int64_t id,
                      struct grant_row *g, const struct config_team **team, struct ob_error *err)
{
    int rc = store_grant_get(conn, id, g, err);

    if (rc != 0)
        return rc;
    *team = config_find_team(cfg, g->team);
    if (*team == NULL) {
        grant_row_release(g);
        return ob_fail(err, OB_ECONFLICT,
                       "grant %" PRId64 " belongs to team %s, which is no longer configured", id,
                       g->team);
    }
    return 0;
}

/* Reload a changed grant, notify, and hand it out. */
static int grant_done(struct store_conn *conn, const struct config *cfg, int64_t id,
                      enum access_event_kind kind, const char *actor, struct grant_row *out,
                      struct ob_error *err)
{
    struct grant_row g = {0};
    int rc = store_grant_get(conn, id, &g, err);

    if (rc != 0)
        return rc;
    grant_notify(cfg, kind, &g, actor, NULL);
    if (out != NULL)
        *out = g;
    else
        grant_row_release(&g);
    return 0;
}

enum grant_decision { DECIDE_APPROVE, DECIDE_DENY, DECIDE_REVOKE };

/* May `who` (NULL: an admin) make decision d on grant g of team? */
static int grant_may_decide(enum grant_decision d, const struct config_team *team,
                            const struct grant_row *g, const char *who, struct ob_error *err)
{
    struct ob_error why = {0};

    if (who == NULL)
        return 0;
    if (d != DECIDE_REVOKE)
        return access_may_approve(team, who, g->user_name, err);
    /* Its own user may end it; so may anyone who could have approved it. */
    if (strcmp(who, g->user_name) == 0 || access_may_approve(team, who, g->user_name, &why) == 0)
        return 0;
    return ob_fail(err, OB_EFORBIDDEN,
                   "%s may not revoke grant %" PRId64 " (only %s, an approver of team %s or an "
                   "admin)",
                   who, g->id, g->user_name, team->name);
}

/* Approve, deny or revoke grant id: the check, the change and its audit
 * event in one transaction, then the announcement. */
static int grant_decide(struct store *store, const struct config *cfg, int64_t id,
                        enum grant_decision d, const char *who, const char *reason,
                        const struct audit_origin *origin, struct grant_row *out,
                        struct ob_error *err)
{
    static const char *const actions[] = {"breakglass.approve", "breakglass.deny",
                                          "breakglass.revoke"};
    static const enum access_event_kind events[] = {ACCESS_EV_OPENED, ACCESS_EV_DENIED,
                                                    ACCESS_EV_REVOKED};
    const char *by = who != NULL ? who : origin->actor;
    const struct config_team *team = NULL;
    struct store_conn *conn = NULL;
    struct grant_row g = {0};
    int64_t now_ms = store_now_ms();
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (reason != NULL && reason_ok(reason, err) != 0)
        return OB_EINVAL;
    rc = store_acquire(store, &conn, err);
    if (rc == 0)
        rc = grant_load(conn, cfg, id, &g, &team, err);
    if (rc == 0)
        rc = grant_may_decide(d, team, &g, who, err);
    if (rc == 0)
        rc = store_begin(conn, err);
    if (rc == 0 && d == DECIDE_APPROVE)
        rc = store_grant_activate(conn, id, by, now_ms, err);
    else if (rc == 0)
        rc = store_grant_end(conn, id, d == DECIDE_DENY ? GRANT_PENDING : "live",
                             d == DECIDE_DENY ? GRANT_DENIED : GRANT_REVOKED, origin->actor, reason,
                             now_ms, err);
    if (rc == 0)
        rc = grant_audit(conn, origin, actions[d], &g,
                         d == DECIDE_APPROVE ? "approved_by" : "reason",
                         d == DECIDE_APPROVE ? by : reason, now_ms, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    if (rc == 0)
        rc = grant_done(conn, cfg, id, events[d], origin->actor, out, err);
    grant_row_release(&g);
    store_release(conn);
    return rc;
}

int access_grant_approve(struct store *store, const struct config *cfg, int64_t id,
                         const char *approver, const struct audit_origin *origin,
                         struct grant_row *out, struct ob_error *err)
{
    return grant_decide(store, cfg, id, DECIDE_APPROVE, approver, NULL, origin, out, err);
}

int access_grant_deny(struct store *store, const struct config *cfg, int64_t id,
                      const char *approver, const char *reason, const struct audit_origin *origin,
                      struct grant_row *out, struct ob_error *err)
{
    return grant_decide(store, cfg, id, DECIDE_DENY, approver, reason, origin, out, err);
}

int access_grant_revoke(struct store *store, const struct config *cfg, int64_t id, const char *user,
                        const char *reason, const struct audit_origin *origin,
                        struct grant_row *out, struct ob_error *err)
{
    return grant_decide(store, cfg, id, DECIDE_REVOKE, user, reason, origin, out, err);
}

/* One grant whose time is over: expired, audited, announced. */
static int grant_expire_one(struct store_conn *conn, const struct config *cfg, int64_t id,
                            int64_t now_ms, struct ob_error *err)
{
    const struct audit_origin origin = {GRANT_SYSTEM_ACTOR, "local", NULL};
    struct grant_row g = {0};
    int rc = store_grant_get(conn, id, &g, err);

    if (rc != 0)
        return rc;
    rc = store_begin(conn, err);
    if (rc == 0)
        rc = store_grant_end(conn, id, g.state, GRANT_EXPIRED, GRANT_SYSTEM_ACTOR,
                             strcmp(g.state, GRANT_PENDING) == 0 ? "nobody approved it in time"
                                                                 : "its time is over",
                             now_ms, err);
    if (rc == 0)
        rc = grant_audit(conn, &origin, "breakglass.expire", &g, "was", g.state, now_ms, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    grant_row_release(&g);
    if (rc == OB_ECONFLICT) /* another node or a revoke got there first */
        return 0;
    if (rc == 0)
        rc = grant_done(conn, cfg, id, ACCESS_EV_EXPIRED, GRANT_SYSTEM_ACTOR, NULL, err);
    return rc;
}

int access_grants_expire(struct store *store, const struct config *cfg, int64_t now_ms, size_t *n,
                         struct ob_error *err)
{
    struct store_conn *conn = NULL;
    int64_t *ids = NULL;
    size_t count = 0;
    int rc;

    if (n != NULL)
        *n = 0;
    rc = store_acquire(store, &conn, err);
    if (rc == 0)
        rc = store_grants_due(conn, now_ms, &ids, &count, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = grant_expire_one(conn, cfg, ids[i], now_ms, err);
        if (rc == 0 && n != NULL)
            (*n)++;
    }
    free(ids);
    store_release(conn);
    return rc;
}

/* A random serial in [1, 2^63). */
static int grant_serial(uint64_t *serial, struct ob_error *err)
{
    do {
        if (RAND_bytes((unsigned char *)serial, sizeof(*serial)) != 1)
            return ob_fail(err, OB_EINTERNAL, "no random bytes for a certificate serial");
        *serial &= INT64_MAX;
    } while (*serial == 0);
    return 0;
}

int access_grant_certificate(struct store *store, const struct config *cfg, int64_t id,
                             const char *user, const char *pubkey_line,
                             const struct audit_origin *origin, char **cert_line,
                             struct ob_error *err)
{
    const struct config_team *team = NULL;
    const struct config_user *u;
    struct sshca_pubkey key = {0};
    struct keys_key parsed = {0};
    struct sshca_ca *ca = NULL;
    struct store_conn *conn = NULL;
    struct grant_row g = {0};
    struct sshca_cert_request creq = {0};
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    char source[SSHCA_SOURCE_MAX], key_id[128], serial_text[24];
    int64_t now_ms = store_now_ms();
    uint64_t serial = 0;
    int rc;

    *cert_line = NULL;
    if (!cfg->ssh_ca.enabled)
        return ob_fail(err, OB_ECONFLICT, "no SSH CA is configured (ssh_ca: in opsbell.yaml)");
    if (pubkey_line == NULL || keys_parse_line(pubkey_line, strlen(pubkey_line), &parsed, err) != 0)
        return OB_EINVAL;
    if (sshca_pubkey_parse(pubkey_line, strlen(pubkey_line), &key, err) != 0) {
        keys_key_release(&parsed);
        return OB_EINVAL;
    }
    rc = store_acquire(store, &conn, err);
    if (rc == 0)
        rc = grant_load(conn, cfg, id, &g, &team, err);
    if (rc != 0)
        goto out;
    if (user != NULL && strcmp(user, g.user_name) != 0) {
        rc = ob_fail(err, OB_EFORBIDDEN, "grant %" PRId64 " is %s's, not %s's", id, g.user_name,
                     user);
        goto out;
    }
    if (strcmp(g.state, GRANT_ACTIVE) != 0 || g.expires_at_ms <= now_ms + 1000) {
        rc = ob_fail(err, OB_ECONFLICT, "grant %" PRId64 " is not active (%s)", id, g.state);
        goto out;
    }
    u = config_find_user(cfg, g.user_name);
    if (u == NULL || u->login_count == 0) {
        rc = ob_fail(err, OB_ECONFLICT, "user %s is no longer configured", g.user_name);
        goto out;
    }
    rc = sshca_source_normalize(g.cidr, source, sizeof(source), err);
    if (rc == 0)
        rc = grant_serial(&serial, err);
    if (rc == 0)
        rc = sshca_ca_load(cfg->ssh_ca.key.value, cfg->ssh_ca.key.len, &ca, err);
    if (rc != 0)
        goto out;
    snprintf(key_id, sizeof(key_id), "opsbell grant %" PRId64 " %s", id, g.user_name);
    creq.key = &key;
    creq.serial = serial;
    creq.key_id = key_id;
    creq.principals = (const char *const *)u->logins;
    creq.principal_count = u->login_count;
    creq.valid_after = (uint64_t)(now_ms / 1000) - SSHCA_BACKDATE_S;
    creq.valid_before = (uint64_t)(g.expires_at_ms / 1000);
    creq.source_address = source;
    rc = sshca_cert_sign(ca, &creq, &blob, &blob_len, err);
    if (rc == 0)
        rc = sshca_cert_line(blob, blob_len, key_id, cert_line, err);
    if (rc == 0)
        rc = store_begin(conn, err);
    if (rc == 0)
        rc = store_grant_cert_insert(conn, id, serial, parsed.fingerprint, g.expires_at_ms, now_ms,
                                     err);
    snprintf(serial_text, sizeof(serial_text), "%" PRIu64, serial);
    if (rc == 0)
        rc = grant_audit(conn, origin, "breakglass.certificate", &g, "serial", serial_text, now_ms,
                         err);
    if (rc == 0)
        rc = store_commit(conn, err);
    if (rc != 0) {
        free(*cert_line);
        *cert_line = NULL;
    }
out:
    free(blob);
    sshca_ca_free(ca);
    sshca_pubkey_release(&key);
    keys_key_release(&parsed);
    grant_row_release(&g);
    store_release(conn);
    return rc;
}
