/*
 * access.h - emergency access (docs/BREAKGLASS.md): break-glass grants, what
 * each host's agent is to enforce, and the allowlist of addresses people
 * were seen at.
 *
 *   grant.c    request / approve / deny / revoke / expire, each one
 *              transaction with its audit event; the team's policy
 *              (config_breakglass) decides who may self-approve and approve,
 *              and for how long;
 *   state.c    the document a host's agent pulls (GET /api/v1/agent/state):
 *              grants and allowlist entries in force on that host, the keys
 *              of the people who may log in there, the CA key and the KRL;
 *   allow.c    the allowlist: sightings (Slack access logs, /allowme links)
 *              kept for `allowlist.freshness`, at most max_per_user each.
 *
 * After a change commits, an event is handed to the notifier set with
 * access_set_notifier() (the team's chat channel; docs/BREAKGLASS.md), on
 * the caller's thread: the notifier must not block (queue and return).
 *
 * Errors: OB_EINVAL (bad input: the message says what), OB_ENOTFOUND (no
 * such grant, host, group or user), OB_EFORBIDDEN (the policy says no: the
 * message says why), OB_ECONFLICT (the grant is not in a state that allows
 * it), OB_ESTORE.  Threads: every function may be called from any thread;
 * the configuration is borrowed for the call.
 */
#ifndef OPSBELL_ACCESS_ACCESS_H
#define OPSBELL_ACCESS_ACCESS_H

#include <stddef.h>
#include <stdint.h>

struct audit_origin;
struct config;
struct config_host_group;
struct config_team;
struct config_user;
struct grant_row;
struct ob_error;
struct store;
struct store_conn;

#define ACCESS_REASON_MAX 500 /* bytes of a grant's reason */
/* The start of the OB_EINVAL message of a request that found no source
 * address (the chat suggests /allowme then). */
#define ACCESS_NO_SOURCE_MSG "no source address"
#define ACCESS_HOST_MAX      253

/* ---- hosts and policy (policy.c) -------------------------------------------- */

/* [a-z0-9][a-z0-9.-]{0,252}: a host name as agents and host groups write it. */
int access_host_name_ok(const char *host);
/* Is host in some host group (of any team)? */
int access_host_known(const struct config *cfg, const char *host);
/* Is user a member of team? */
int access_team_member(const struct config_team *team, const char *user);
/*
 * May a token be bound to user / agent_host (`token create --user/--agent`)?
 * team: the creating token's team (NULL = every team): a team-limited admin
 * binds only its team's members and hosts of its team's groups.
 */
int token_binding_check(const struct config *cfg, const char *team, const char *user,
                        const char *agent_host, struct ob_error *err);

/* ---- grants (grant.c) ------------------------------------------------------ */

/* What a request asks for.  Strings borrowed for the call. */
struct grant_request {
    const char *user;       /* who gets access (an opsbell user name) */
    const char *host;       /* one host ... */
    const char *group;      /* ... or one host group (exactly one of the two) */
    uint32_t duration_s;    /* > 0, at most the team's max_duration */
    const char *reason;     /* 1..ACCESS_REASON_MAX bytes, no control characters */
    const char *ip;         /* address or CIDR; NULL: the freshest allowlist entry of the
                               user, else from_addr */
    const char *from_addr;  /* the request's own source address, or NULL (chat) */
    const char *team_limit; /* NULL, or the one team whose hosts may be opened (a
                               team-limited token's team) */
};

/*
 * Ask for a grant.  The target's team decides (for a host in several groups:
 * the first team in name order whose group holds it and of which the
 * user is a member).  The user must be a member of that team.  The source
 * CIDR is normalised and must not be wider than the nftables enforcer's
 * max_prefix (0.0.0.0/0 never).  When the user may self-approve, the grant
 * is active at once (approved_by = the user); else it is pending until
 * approved, denied, revoked or pending_ttl passes.  Audited as
 * `breakglass.request` (+ `breakglass.approve` when self-approved).  *out
 * (may be NULL) receives the grant as stored.
 */
int access_grant_request(struct store *store, const struct config *cfg,
                         const struct grant_request *req, const struct audit_origin *origin,
                         struct grant_row *out, struct ob_error *err);

/* An approver (policy `approvers`, never the requester; NULL: an admin,
 * whom the policy does not bind) approves a pending grant: it is active
 * from now for its duration. `breakglass.approve`. */
int access_grant_approve(struct store *store, const struct config *cfg, int64_t id,
                         const char *approver, const struct audit_origin *origin,
                         struct grant_row *out, struct ob_error *err);
/* An approver (NULL: an admin) denies a pending grant. `breakglass.deny`. */
int access_grant_deny(struct store *store, const struct config *cfg, int64_t id,
                      const char *approver, const char *reason, const struct audit_origin *origin,
                      struct grant_row *out, struct ob_error *err);
/*
 * End a pending or active grant early: by its user, an approver of its
 * team, or (user NULL) an admin.  `breakglass.revoke`.  Certificates signed
 * for it go into the KRL the agents pull.
 */
int access_grant_revoke(struct store *store, const struct config *cfg, int64_t id, const char *user,
                        const char *reason, const struct audit_origin *origin,
                        struct grant_row *out, struct ob_error *err);
/* Mark every grant whose time is over expired (`breakglass.expire`, actor
 * "system"), each in its own transaction; *n (may be NULL) counts them.
 * The engine calls this every poll; access closes without it anyway. */
int access_grants_expire(struct store *store, const struct config *cfg, int64_t now_ms, size_t *n,
                         struct ob_error *err);

/* A grant as the API shows it ("state", "hosts", "expires_at_ms"... times
 * in epoch milliseconds, null when unset): a new jansson reference. */
struct json_t *access_grant_json(const struct grant_row *g);

/*
 * Sign an SSH certificate for an active grant (ssh_ca must be configured):
 * principals = the user's logins, valid after now - 60 s, valid before the
 * grant's expiry, source-address = the grant's CIDR.  Only the grant's user
 * (user) or an admin (user NULL).  Recorded (serial) and audited as
 * `breakglass.certificate`.  *cert_line malloc'd.
 */
int access_grant_certificate(struct store *store, const struct config *cfg, int64_t id,
                             const char *user, const char *pubkey_line,
                             const struct audit_origin *origin, char **cert_line,
                             struct ob_error *err);

/* ---- what happened, for the team's channel ------------------------------------ */

enum access_event_kind {
    ACCESS_EV_REQUESTED, /* pending: approvers are asked */
    ACCESS_EV_OPENED,    /* active (self-approved or approved) */
    ACCESS_EV_DENIED,
    ACCESS_EV_REVOKED,
    ACCESS_EV_EXPIRED,
    ACCESS_EV_APPLIED /* an agent reported it in force on `host` */
};

struct access_event {
    enum access_event_kind kind;
    const struct grant_row *grant; /* borrowed for the call */
    const char *team_channel;      /* the team's chat_channel; may be NULL */
    const char *actor;             /* who did it ("user:bob", "system") */
    const char *host;              /* ACCESS_EV_APPLIED only */
};

typedef void (*access_notify_fn)(void *ctx, const struct access_event *ev);
/* Set (or clear, fn NULL) the process-wide notifier.  Call before threads start. */
void access_set_notifier(access_notify_fn fn, void *ctx);
/* Hand ev to the notifier (nothing when none is set). */
void access_notify(const struct access_event *ev);

/* ---- the agent's state (state.c) -------------------------------------------- */

#define ACCESS_POLL_SECONDS 15

/*
 * The state document of host (see docs/AGENT.md) at now_ms: *body
 * (malloc'd JSON text, caller frees) and etag (64 hex + NUL: SHA-256 of
 * the body).
 */
int access_agent_state(struct store *store, const struct config *cfg, const char *host,
                       int64_t now_ms, char **body, size_t *body_len, char etag[65],
                       struct ob_error *err);
/*
 * The agent of host applied the state whose entries ids are applied[0..n):
 * audit `breakglass.apply` (and notify) for each grant the first time it is
 * reported on host; error (may be NULL) is a failed apply, logged and
 * audited as `agent.apply_failed`.
 */
int access_agent_report(struct store *store, const struct config *cfg, const char *host,
                        const char *const *applied, size_t n, const char *error,
                        const struct audit_origin *origin, struct ob_error *err);

/* Every entry in force for the AWS security group (cfg->enforcers.aws):
 * the grants and allowlist entries of its host_group (see config.h). *out
 * malloc'd (struct access_entry[]), caller frees. */
struct access_entry;
int access_entries_for_group(struct store *store, const struct config *cfg, const char *group,
                             int64_t now_ms, struct access_entry **out, size_t *n,
                             struct ob_error *err);

/* ---- the allowlist (allow.c) ---------------------------------------------------- */

/*
 * A user was seen at addr (an address; normalised to /32 or /128) at
 * seen_ms: allowed until seen_ms + freshness; the user's oldest entries
 * beyond max_per_user are dropped.  source: "slack" | "link" | "manual".
 * Audited as `allowlist.add` when the entry is new (origin may be NULL for
 * the poller: actor "system").
 */
int access_allow_seen(struct store *store, const struct config *cfg, const char *user,
                      const char *addr, const char *source, int64_t seen_ms, const char *detail,
                      const struct audit_origin *origin, struct ob_error *err);

/* Make a one-time /allowme link for user: *url malloc'd
 * (public_url + "/allowme/" + secret); it lasts allowlist.link_ttl. */
int access_link_create(struct store *store, const struct config *cfg, const char *user,
                       const struct audit_origin *origin, char **url, struct ob_error *err);
/* Use a link's secret from addr: records addr for the link's user.
 * *user malloc'd.  Errors as store_link_use (replayed: OB_ECONFLICT). */
int access_link_use(struct store *store, const struct config *cfg, const char *secret,
                    const char *addr, const struct audit_origin *origin, char **user,
                    struct ob_error *err);

/* The source address of an HTTP request: peer, or the first X-Forwarded-For
 * hop not in trusted_proxies when peer is a trusted proxy.  out >= 64. */
void access_client_addr(const struct config *cfg, const char *peer, const char *forwarded_for,
                        char *out, size_t cap);

#endif
