/*
 * access.h - emergency access as stored (schema migration 8): break-glass
 * grants and their hosts, certificates and applications, the allowlist of
 * addresses people were seen at, one-time /allowme links, and small named
 * values (kv).
 *
 * These functions are the only SQL for those tables: callers compose them
 * into transactions (a state change and its audit event together).  Rows
 * handed out own their strings: release them with the matching *_release or
 * *_array_free.  Times are epoch milliseconds; 0 in a struct is NULL in the
 * table.
 */
#ifndef OPSBELL_STORE_ACCESS_H
#define OPSBELL_STORE_ACCESS_H

#include <stddef.h>
#include <stdint.h>

struct ob_error;
struct store_conn;

/* ---- grants ---------------------------------------------------------------- */

/* A grant's states: pending -> active -> expired | revoked;
 * pending -> denied | expired | revoked. */
#define GRANT_PENDING "pending"
#define GRANT_ACTIVE  "active"
#define GRANT_DENIED  "denied"
#define GRANT_REVOKED "revoked"
#define GRANT_EXPIRED "expired"

struct grant_row {
    int64_t id;
    char *user_name;   /* who gets access */
    char *team;        /* whose policy decided */
    char *target_kind; /* "host" | "group" */
    char *target;      /* the host or group asked for */
    char *cidr;        /* normalised source CIDR */
    char *reason;
    char *state;        /* GRANT_* */
    int64_t duration_s; /* asked for; expires_at = starts_at + duration_s */
    char *requested_by; /* audit actor ("user:alice") */
    char *requested_from;
    int64_t requested_at_ms;
    int64_t pending_until_ms; /* a pending request expires then */
    char *approved_by;        /* NULL until approved; the requester when self-approved */
    int64_t approved_at_ms;
    int64_t starts_at_ms; /* 0 until active */
    int64_t expires_at_ms;
    char *ended_by; /* denied / revoked by; "system" for expiry */
    int64_t ended_at_ms;
    char *end_reason;
    char **hosts; /* the hosts it opens, sorted; owned */
    size_t host_count;
};

/* Insert g (its id is set) with its hosts (at least one). The fields
 * id, approved_*, ended_* are taken as given (0/NULL for a new request). */
int store_grant_insert(struct store_conn *conn, struct grant_row *g, const char *const *hosts,
                       size_t host_count, struct ob_error *err);
/* One grant with its hosts; OB_ENOTFOUND when absent. */
int store_grant_get(struct store_conn *conn, int64_t id, struct grant_row *out,
                    struct ob_error *err);
/*
 * Grants, newest first, at most limit: state NULL = any, else one GRANT_*
 * ("live" = pending or active); user NULL = anyone.  With hosts.
 */
int store_grant_list(struct store_conn *conn, const char *state, const char *user, size_t limit,
                     struct grant_row **out, size_t *count, struct ob_error *err);
/* Pending -> active: approved_by, approved_at = starts_at = now_ms,
 * expires_at = now_ms + duration_s.  OB_ECONFLICT when it is not pending
 * (or its pending time is over). */
int store_grant_activate(struct store_conn *conn, int64_t id, const char *approved_by,
                         int64_t now_ms, struct ob_error *err);
/* from_state -> to_state (denied, revoked, expired) with who/why/when.
 * from_state may be "live" (pending or active).  OB_ECONFLICT when the
 * grant is not in from_state. */
int store_grant_end(struct store_conn *conn, int64_t id, const char *from_state,
                    const char *to_state, const char *by, const char *reason, int64_t now_ms,
                    struct ob_error *err);
/* Ids of grants whose time is over at now_ms: active past expires_at,
 * pending past pending_until.  *ids malloc'd (caller frees), oldest first. */
int store_grants_due(struct store_conn *conn, int64_t now_ms, int64_t **ids, size_t *count,
                     struct ob_error *err);
/* Active grants in force at now_ms: those opening `host` (NULL: on any host). */
int store_grants_in_force(struct store_conn *conn, const char *host, int64_t now_ms,
                          struct grant_row **out, size_t *count, struct ob_error *err);
/* Record that host reported grant_id applied; *first = 1 the first time. */
int store_grant_applied(struct store_conn *conn, int64_t grant_id, const char *host, int64_t now_ms,
                        int *first, struct ob_error *err);

void grant_row_release(struct grant_row *g);
void grant_row_array_free(struct grant_row *rows, size_t count);

/* A certificate signed for a grant (serial as decimal text). */
int store_grant_cert_insert(struct store_conn *conn, int64_t grant_id, uint64_t serial,
                            const char *key_fingerprint, int64_t valid_before_ms, int64_t now_ms,
                            struct ob_error *err);
/* Serials of certificates of revoked grants still valid at now_ms, for the
 * KRL; *serials malloc'd (caller frees), ascending. */
int store_revoked_cert_serials(struct store_conn *conn, int64_t now_ms, uint64_t **serials,
                               size_t *count, struct ob_error *err);

/* ---- the allowlist ----------------------------------------------------------- */

struct allow_row {
    char *user_name;
    char *cidr;   /* normalised */
    char *source; /* "slack" | "link" | "manual" */
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    int64_t expires_at_ms;
    char *detail; /* user agent, the link's creator...; may be NULL */
};

/* Insert or refresh (user, cidr): last_seen and expires_at only move
 * forward; source and detail follow the newest sighting. */
int store_allow_upsert(struct store_conn *conn, const struct allow_row *a, struct ob_error *err);
/* Keep user's `keep` freshest entries (by last_seen), delete the rest. */
int store_allow_trim(struct store_conn *conn, const char *user, size_t keep, struct ob_error *err);
/* Entries in force at now_ms (user NULL = everyone's), by user then freshest first. */
int store_allow_list(struct store_conn *conn, const char *user, int64_t now_ms,
                     struct allow_row **out, size_t *count, struct ob_error *err);
/* Delete (user, cidr). OB_ENOTFOUND when absent. */
int store_allow_delete(struct store_conn *conn, const char *user, const char *cidr,
                       struct ob_error *err);
/* Delete entries expired before now_ms; *deleted (may be NULL) counts them. */
int store_allow_purge(struct store_conn *conn, int64_t now_ms, int64_t *deleted,
                      struct ob_error *err);

void allow_row_release(struct allow_row *a);
void allow_row_array_free(struct allow_row *rows, size_t count);

/* ---- one-time links (/allowme) --------------------------------------------- */

int store_link_insert(struct store_conn *conn, const char *token_hash, const char *user,
                      const char *created_by, int64_t now_ms, int64_t expires_at_ms,
                      struct ob_error *err);
/*
 * Use the link whose secret hashes to token_hash, once: records now_ms and
 * addr and returns the user (malloc'd) in *user.  OB_ENOTFOUND (no such
 * link), OB_ECONFLICT ("already used") or OB_EUNAUTH ("expired"), each with
 * the reason in err.
 */
int store_link_use(struct store_conn *conn, const char *token_hash, const char *addr,
                   int64_t now_ms, char **user, struct ob_error *err);

/* ---- named values ---------------------------------------------------------- */

/* *value malloc'd; OB_ENOTFOUND when absent. */
int store_kv_get(struct store_conn *conn, const char *name, char **value, struct ob_error *err);
int store_kv_set(struct store_conn *conn, const char *name, const char *value, int64_t now_ms,
                 struct ob_error *err);

#endif
