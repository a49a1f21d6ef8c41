/*
 * store_access.c - grants, the allowlist, one-time links and named values
 * (schema migration 8; see store/access.h).
 */
#include "store/access.h"

#include "store/store_internal.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRANT_COLUMNS                                                                              \
    "id, user_name, team, target_kind, target, cidr, reason, state, duration_s, requested_by, "    \
    "requested_from, requested_at, pending_until, approved_by, approved_at, starts_at, "           \
    "expires_at, ended_by, ended_at, end_reason"

#define ALLOW_COLUMNS "user_name, cidr, source, first_seen, last_seen, expires_at, detail"

static struct db_param time_param(int64_t ms)
{
    return ms != 0 ? DB_P_INT(ms) : DB_P_NULL;
}

/* ---- grants ---------------------------------------------------------------- */

static int grant_from_row(const struct db_result *res, size_t row, void *item, struct ob_error *err)
{
    struct grant_row *g = item;
    bool ok = true;

    memset(g, 0, sizeof(*g));
    g->id = db_result_int64(res, row, 0);
    g->user_name = db_result_dup(res, row, 1, &ok);
    g->team = db_result_dup(res, row, 2, &ok);
    g->target_kind = db_result_dup(res, row, 3, &ok);
    g->target = db_result_dup(res, row, 4, &ok);
    g->cidr = db_result_dup(res, row, 5, &ok);
    g->reason = db_result_dup(res, row, 6, &ok);
    g->state = db_result_dup(res, row, 7, &ok);
    g->duration_s = db_result_int64(res, row, 8);
    g->requested_by = db_result_dup(res, row, 9, &ok);
    g->requested_from = db_result_dup(res, row, 10, &ok);
    g->requested_at_ms = db_result_int64(res, row, 11);
    g->pending_until_ms = db_result_int64(res, row, 12);
    g->approved_by = db_result_dup(res, row, 13, &ok);
    g->approved_at_ms = db_result_int64(res, row, 14);
    g->starts_at_ms = db_result_int64(res, row, 15);
    g->expires_at_ms = db_result_int64(res, row, 16);
    g->ended_by = db_result_dup(res, row, 17, &ok);
    g->ended_at_ms = db_result_int64(res, row, 18);
    g->end_reason = db_result_dup(res, row, 19, &ok);
    if (!ok) {
        grant_row_release(g);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void grant_release_item(void *item)
{
    grant_row_release(item);
}

/* Fill g->hosts from grant_hosts. */
static int grant_load_hosts(struct store_conn *conn, struct grant_row *g, struct ob_error *err)
{
    struct db_param param = DB_P_INT(g->id);
    struct db_result *res = NULL;
    size_t n;
    int rc = store_exec(conn, "SELECT host FROM grant_hosts WHERE grant_id = $1 ORDER BY host",
                        &param, 1, &res, NULL, err);

    if (rc != 0)
        return rc;
    n = db_result_rows(res);
    g->hosts = calloc(n > 0 ? n : 1, sizeof(*g->hosts));
    if (g->hosts == NULL) {
        db_result_free(res);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        bool ok = true;
        g->hosts[i] = db_result_dup(res, i, 0, &ok);
        if (!ok) {
            db_result_free(res);
            return ob_fail(err, OB_ENOMEM, "out of memory");
        }
        g->host_count = i + 1;
    }
    db_result_free(res);
    return 0;
}

static int grants_load_hosts(struct store_conn *conn, struct grant_row *rows, size_t count,
                             struct ob_error *err)
{
    for (size_t i = 0; i < count; i++) {
        int rc = grant_load_hosts(conn, &rows[i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int store_grant_insert(struct store_conn *conn, struct grant_row *g, const char *const *hosts,
                       size_t host_count, struct ob_error *err)
{
    struct db_param params[19] = {
        DB_P_TEXT(g->user_name),      DB_P_TEXT(g->team),
        DB_P_TEXT(g->target_kind),    DB_P_TEXT(g->target),
        DB_P_TEXT(g->cidr),           DB_P_TEXT(g->reason),
        DB_P_TEXT(g->state),          DB_P_INT(g->duration_s),
        DB_P_TEXT(g->requested_by),   DB_P_TEXT(g->requested_from),
        DB_P_INT(g->requested_at_ms), time_param(g->pending_until_ms),
        DB_P_TEXT(g->approved_by),    time_param(g->approved_at_ms),
        time_param(g->starts_at_ms),  time_param(g->expires_at_ms),
        DB_P_TEXT(g->ended_by),       time_param(g->ended_at_ms),
        DB_P_TEXT(g->end_reason),
    };
    struct db_result *res = NULL;
    int rc;

    if (g->user_name == NULL || g->team == NULL || g->target_kind == NULL || g->target == NULL ||
        g->cidr == NULL || g->reason == NULL || g->state == NULL || g->requested_by == NULL)
        return ob_fail(err, OB_EINVAL, "grant without user, team, target, cidr, reason or state");
    if (host_count == 0)
        return ob_fail(err, OB_EINVAL, "grant without hosts");
    rc = store_exec(conn,
                    "INSERT INTO grants (user_name, team, target_kind, target, cidr, reason, "
                    "state, duration_s, requested_by, requested_from, requested_at, "
                    "pending_until, approved_by, approved_at, starts_at, expires_at, ended_by, "
                    "ended_at, end_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                    "$12, $13, $14, $15, $16, $17, $18, $19) RETURNING id",
                    params, 19, &res, NULL, err);
    if (rc == 0)
        g->id = db_result_int64(res, 0, 0);
    db_result_free(res);
    for (size_t i = 0; rc == 0 && i < host_count; i++) {
        struct db_param hp[2] = {DB_P_INT(g->id), DB_P_TEXT(hosts[i])};
        rc = store_exec(conn,
                        "INSERT INTO grant_hosts (grant_id, host) VALUES ($1, $2) "
                        "ON CONFLICT DO NOTHING",
                        hp, 2, NULL, NULL, err);
    }
    return rc;
}

int store_grant_get(struct store_conn *conn, int64_t id, struct grant_row *out,
                    struct ob_error *err)
{
    int rc =
        store_select_one(conn, "SELECT " GRANT_COLUMNS " FROM grants WHERE id = $1", DB_P_INT(id),
                         "no such grant", sizeof(*out), grant_from_row, out, err);

    if (rc == 0) {
        rc = grant_load_hosts(conn, out, err);
        if (rc != 0)
            grant_row_release(out);
    }
    return rc;
}

static int grant_select(struct store_conn *conn, const char *sql, const struct db_param *params,
                        size_t n, struct grant_row **out, size_t *count, struct ob_error *err)
{
    int rc = store_select_all(conn, sql, params, n, sizeof(**out), grant_from_row,
                              grant_release_item, (void **)out, count, err);

    if (rc == 0) {
        rc = grants_load_hosts(conn, *out, *count, err);
        if (rc != 0) {
            grant_row_array_free(*out, *count);
            *out = NULL;
            *count = 0;
        }
    }
    return rc;
}

int store_grant_list(struct store_conn *conn, const char *state, const char *user, size_t limit,
                     struct grant_row **out, size_t *count, struct ob_error *err)
{
    struct db_param params[4];
    int live = state != NULL && strcmp(state, "live") == 0;

    params[0] = live ? DB_P_TEXT(GRANT_PENDING) : DB_P_TEXT(state);
    params[1] = live ? DB_P_TEXT(GRANT_ACTIVE) : DB_P_TEXT(state);
    params[2] = DB_P_TEXT(user);
    params[3] = DB_P_INT(limit > 0 && limit < INT64_MAX ? (int64_t)limit : 1000);
    *out = NULL;
    *count = 0;
    return grant_select(
        conn,
        "SELECT " GRANT_COLUMNS " FROM grants "
        "WHERE (CAST($1 AS TEXT) IS NULL OR state = $1 OR state = $2) "
        "AND (CAST($3 AS TEXT) IS NULL OR user_name = $3) ORDER BY id DESC LIMIT $4",
        params, 4, out, count, err);
}

int store_grant_activate(struct store_conn *conn, int64_t id, const char *approved_by,
                         int64_t now_ms, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(id), DB_P_TEXT(approved_by), DB_P_INT(now_ms)};
    int64_t affected = 0;
    int rc = store_exec(conn,
                        "UPDATE grants SET state = 'active', approved_by = $2, approved_at = $3, "
                        "starts_at = $3, expires_at = $3 + duration_s * 1000 "
                        "WHERE id = $1 AND state = 'pending' AND "
                        "(pending_until IS NULL OR pending_until > $3)",
                        params, 3, NULL, &affected, err);

    if (rc == 0 && affected != 1)
        rc = ob_fail(err, OB_ECONFLICT, "grant %" PRId64 " is not waiting for approval", id);
    return rc;
}

int store_grant_end(struct store_conn *conn, int64_t id, const char *from_state,
                    const char *to_state, const char *by, const char *reason, int64_t now_ms,
                    struct ob_error *err)
{
    int live = strcmp(from_state, "live") == 0;
    struct db_param params[7] = {
        DB_P_INT(id),
        DB_P_TEXT(to_state),
        DB_P_TEXT(by),
        DB_P_TEXT(reason),
        DB_P_INT(now_ms),
        live ? DB_P_TEXT(GRANT_PENDING) : DB_P_TEXT(from_state),
        live ? DB_P_TEXT(GRANT_ACTIVE) : DB_P_TEXT(from_state),
    };
    int64_t affected = 0;
    int rc = store_exec(conn,
                        "UPDATE grants SET state = $2, ended_by = $3, end_reason = $4, "
                        "ended_at = $5 WHERE id = $1 AND (state = $6 OR state = $7)",
                        params, 7, NULL, &affected, err);

    if (rc == 0 && affected != 1)
        rc = ob_fail(err, OB_ECONFLICT, "grant %" PRId64 " is not %s", id,
                     live ? "pending or active" : from_state);
    return rc;
}

int store_grants_due(struct store_conn *conn, int64_t now_ms, int64_t **ids, size_t *count,
                     struct ob_error *err)
{
    struct db_param param = DB_P_INT(now_ms);
    struct db_result *res = NULL;
    size_t n;
    int rc = store_exec(conn,
                        "SELECT id FROM grants WHERE (state = 'active' AND expires_at <= $1) "
                        "OR (state = 'pending' AND pending_until <= $1) ORDER BY id",
                        &param, 1, &res, NULL, err);

    *ids = NULL;
    *count = 0;
    if (rc != 0)
        return rc;
    n = db_result_rows(res);
    if (n > 0) {
        *ids = calloc(n, sizeof(**ids));
        if (*ids == NULL) {
            db_result_free(res);
            return ob_fail(err, OB_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            (*ids)[i] = db_result_int64(res, i, 0);
        *count = n;
    }
    db_result_free(res);
    return 0;
}

int store_grants_in_force(struct store_conn *conn, const char *host, int64_t now_ms,
                          struct grant_row **out, size_t *count, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(now_ms), DB_P_TEXT(host)};

    *out = NULL;
    *count = 0;
    if (host == NULL)
        return grant_select(conn,
                            "SELECT " GRANT_COLUMNS " FROM grants WHERE state = 'active' "
                            "AND expires_at > $1 ORDER BY id",
                            params, 1, out, count, err);
    return grant_select(conn,
                        "SELECT " GRANT_COLUMNS " FROM grants WHERE state = 'active' "
                        "AND expires_at > $1 AND id IN "
                        "(SELECT grant_id FROM grant_hosts WHERE host = $2) ORDER BY id",
                        params, 2, out, count, err);
}

int store_grant_applied(struct store_conn *conn, int64_t grant_id, const char *host, int64_t now_ms,
                        int *first, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(grant_id), DB_P_TEXT(host), DB_P_INT(now_ms)};
    int64_t affected = 0;
    int rc = store_exec(conn,
                        "INSERT INTO grant_applied (grant_id, host, applied_at) "
                        "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        params, 3, NULL, &affected, err);

    *first = rc == 0 && affected > 0;
    return rc;
}

void grant_row_release(struct grant_row *g)
{
    if (g == NULL)
        return;
    free(g->user_name);
    free(g->team);
    free(g->target_kind);
    free(g->target);
    free(g->cidr);
    free(g->reason);
    free(g->state);
    free(g->requested_by);
    free(g->requested_from);
    free(g->approved_by);
    free(g->ended_by);
    free(g->end_reason);
    for (size_t i = 0; i < g->host_count; i++)
        free(g->hosts[i]);
    free(g->hosts);
    memset(g, 0, sizeof(*g));
}

void grant_row_array_free(struct grant_row *rows, size_t count)
{
    for (size_t i = 0; rows != NULL && i < count; i++)
        grant_row_release(&rows[i]);
    free(rows);
}

int store_grant_cert_insert(struct store_conn *conn, int64_t grant_id, uint64_t serial,
                            const char *key_fingerprint, int64_t valid_before_ms, int64_t now_ms,
                            struct ob_error *err)
{
    char serial_text[24];
    struct db_param params[5];

    snprintf(serial_text, sizeof(serial_text), "%" PRIu64, serial);
    params[0] = (struct db_param){.type = DB_TEXT, .text = serial_text};
    params[1] = DB_P_INT(grant_id);
    params[2] = DB_P_TEXT(key_fingerprint);
    params[3] = DB_P_INT(now_ms);
    params[4] = DB_P_INT(valid_before_ms);
    return store_exec(conn,
                      "INSERT INTO grant_certs (serial, grant_id, key_fingerprint, created_at, "
                      "valid_before) VALUES ($1, $2, $3, $4, $5)",
                      params, 5, NULL, NULL, err);
}

static int serial_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int store_revoked_cert_serials(struct store_conn *conn, int64_t now_ms, uint64_t **serials,
                               size_t *count, struct ob_error *err)
{
    struct db_param param = DB_P_INT(now_ms);
    struct db_result *res = NULL;
    size_t n;
    int rc = store_exec(conn,
                        "SELECT c.serial FROM grant_certs c JOIN grants g ON g.id = c.grant_id "
                        "WHERE g.state = 'revoked' AND c.valid_before > $1",
                        &param, 1, &res, NULL, err);

    *serials = NULL;
    *count = 0;
    if (rc != 0)
        return rc;
    n = db_result_rows(res);
    if (n > 0) {
        *serials = calloc(n, sizeof(**serials));
        if (*serials == NULL) {
            db_result_free(res);
            return ob_fail(err, OB_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            (*serials)[i] = strtoull(db_result_text(res, i, 0), NULL, 10);
        qsort(*serials, n, sizeof(**serials), serial_cmp);
        *count = n;
    }
    db_result_free(res);
    return 0;
}

/* ---- the allowlist ----------------------------------------------------------- */

static int allow_from_row(const struct db_result *res, size_t row, void *item, struct ob_error *err)
{
    struct allow_row *a = item;
    bool ok = true;

    memset(a, 0, sizeof(*a));
    a->user_name = db_result_dup(res, row, 0, &ok);
    a->cidr = db_result_dup(res, row, 1, &ok);
    a->source = db_result_dup(res, row, 2, &ok);
    a->first_seen_ms = db_result_int64(res, row, 3);
    a->last_seen_ms = db_result_int64(res, row, 4);
    a->expires_at_ms = db_result_int64(res, row, 5);
    a->detail = db_result_dup(res, row, 6, &ok);
    if (!ok) {
        allow_row_release(a);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void allow_release_item(void *item)
{
    allow_row_release(item);
}

int store_allow_upsert(struct store_conn *conn, const struct allow_row *a, struct ob_error *err)
{
    struct db_param params[6] = {
        DB_P_TEXT(a->user_name),   DB_P_TEXT(a->cidr),         DB_P_TEXT(a->source),
        DB_P_INT(a->last_seen_ms), DB_P_INT(a->expires_at_ms), DB_P_TEXT(a->detail),
    };

    if (a->user_name == NULL || a->cidr == NULL || a->source == NULL)
        return ob_fail(err, OB_EINVAL, "allowlist entry without user, cidr or source");
    /* The newest sighting wins; an older one (a slow page of access logs)
     * never moves an entry back. */
    return store_exec(conn,
                      "INSERT INTO allowlist (user_name, cidr, source, first_seen, last_seen, "
                      "expires_at, detail) VALUES ($1, $2, $3, $4, $4, $5, $6) "
                      "ON CONFLICT (user_name, cidr) DO UPDATE SET "
                      "source = CASE WHEN excluded.last_seen >= allowlist.last_seen "
                      "THEN excluded.source ELSE allowlist.source END, "
                      "detail = CASE WHEN excluded.last_seen >= allowlist.last_seen "
                      "THEN excluded.detail ELSE allowlist.detail END, "
                      "first_seen = CASE WHEN excluded.first_seen < allowlist.first_seen "
                      "THEN excluded.first_seen ELSE allowlist.first_seen END, "
                      "last_seen = CASE WHEN excluded.last_seen > allowlist.last_seen "
                      "THEN excluded.last_seen ELSE allowlist.last_seen END, "
                      "expires_at = CASE WHEN excluded.expires_at > allowlist.expires_at "
                      "THEN excluded.expires_at ELSE allowlist.expires_at END",
                      params, 6, NULL, NULL, err);
}

int store_allow_trim(struct store_conn *conn, const char *user, size_t keep, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_TEXT(user), DB_P_INT((int64_t)keep)};

    return store_exec(conn,
                      "DELETE FROM allowlist WHERE user_name = $1 AND cidr NOT IN "
                      "(SELECT cidr FROM allowlist WHERE user_name = $1 "
                      "ORDER BY last_seen DESC, cidr LIMIT $2)",
                      params, 2, NULL, NULL, err);
}

int store_allow_list(struct store_conn *conn, const char *user, int64_t now_ms,
                     struct allow_row **out, size_t *count, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(now_ms), DB_P_TEXT(user)};

    *out = NULL;
    *count = 0;
    return store_select_all(conn,
                            "SELECT " ALLOW_COLUMNS " FROM allowlist WHERE expires_at > $1 "
                            "AND (CAST($2 AS TEXT) IS NULL OR user_name = $2) "
                            "ORDER BY user_name, last_seen DESC, cidr",
                            params, 2, sizeof(**out), allow_from_row, allow_release_item,
                            (void **)out, count, err);
}

int store_allow_delete(struct store_conn *conn, const char *user, const char *cidr,
                       struct ob_error *err)
{
    struct db_param params[2] = {DB_P_TEXT(user), DB_P_TEXT(cidr)};
    int64_t affected = 0;
    int rc = store_exec(conn, "DELETE FROM allowlist WHERE user_name = $1 AND cidr = $2", params, 2,
                        NULL, &affected, err);

    if (rc == 0 && affected == 0)
        rc = ob_fail(err, OB_ENOTFOUND, "%s has no allowlist entry %s", user, cidr);
    return rc;
}

int store_allow_purge(struct store_conn *conn, int64_t now_ms, int64_t *deleted,
                      struct ob_error *err)
{
    struct db_param param = DB_P_INT(now_ms);

    return store_exec(conn, "DELETE FROM allowlist WHERE expires_at <= $1", &param, 1, NULL,
                      deleted, err);
}

void allow_row_release(struct allow_row *a)
{
    if (a == NULL)
        return;
    free(a->user_name);
    free(a->cidr);
    free(a->source);
    free(a->detail);
    memset(a, 0, sizeof(*a));
}

void allow_row_array_free(struct allow_row *rows, size_t count)
{
    for (size_t i = 0; rows != NULL && i < count; i++)
        allow_row_release(&rows[i]);
    free(rows);
}

/* ---- one-time links ------------------------------------------------------------ */

int store_link_insert(struct store_conn *conn, const char *token_hash, const char *user,
                      const char *created_by, int64_t now_ms, int64_t expires_at_ms,
                      struct ob_error *err)
{
    struct db_param params[5] = {DB_P_TEXT(token_hash), DB_P_TEXT(user), DB_P_TEXT(created_by),
                                 DB_P_INT(now_ms), DB_P_INT(expires_at_ms)};

    return store_exec(conn,
                      "INSERT INTO allow_links (token_hash, user_name, created_by, created_at, "
                      "expires_at) VALUES ($1, $2, $3, $4, $5)",
                      params, 5, NULL, NULL, err);
}

int store_link_use(struct store_conn *conn, const char *token_hash, const char *addr,
                   int64_t now_ms, char **user, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_TEXT(token_hash), DB_P_INT(now_ms), DB_P_TEXT(addr)};
    struct db_result *res = NULL;
    int rc;

    *user = NULL;
    /* One statement: of two browsers opening the same link at once, one wins. */
    rc = store_exec(conn,
                    "UPDATE allow_links SET used_at = $2, used_addr = $3 WHERE token_hash = $1 "
                    "AND used_at IS NULL AND expires_at > $2 RETURNING user_name",
                    params, 3, &res, NULL, err);
    if (rc != 0)
        return rc;
    if (db_result_rows(res) == 1) {
        bool ok = true;
        *user = db_result_dup(res, 0, 0, &ok);
        db_result_free(res);
        return ok ? 0 : ob_fail(err, OB_ENOMEM, "out of memory");
    }
    db_result_free(res);
    rc = store_exec(conn, "SELECT used_at FROM allow_links WHERE token_hash = $1", params, 1, &res,
                    NULL, err);
    if (rc != 0)
        return rc;
    if (db_result_rows(res) == 0)
        rc = ob_fail(err, OB_ENOTFOUND, "no such link");
    else if (!db_result_is_null(res, 0, 0))
        rc = ob_fail(err, OB_ECONFLICT, "this link was already used; ask for a new one");
    else
        rc = ob_fail(err, OB_EUNAUTH, "this link has expired; ask for a new one");
    db_result_free(res);
    return rc;
}

/* ---- named values ------------------------------------------------------------ */

int store_kv_get(struct store_conn *conn, const char *name, char **value, struct ob_error *err)
{
    struct db_param param = DB_P_TEXT(name);
    struct db_result *res = NULL;
    int rc = store_exec(conn, "SELECT value FROM kv WHERE name = $1", &param, 1, &res, NULL, err);

    *value = NULL;
    if (rc == 0 && db_result_rows(res) == 0)
        rc = ob_fail(err, OB_ENOTFOUND, "no value %s", name);
    if (rc == 0) {
        bool ok = true;
        *value = db_result_dup(res, 0, 0, &ok);
        if (!ok)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
    db_result_free(res);
    return rc;
}

int store_kv_set(struct store_conn *conn, const char *name, const char *value, int64_t now_ms,
                 struct ob_error *err)
{
    struct db_param params[3] = {DB_P_TEXT(name), DB_P_TEXT(value), DB_P_INT(now_ms)};

    return store_exec(conn,
                      "INSERT INTO kv (name, value, updated_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                      "updated_at = excluded.updated_at",
                      params, 3, NULL, NULL, err);
}
