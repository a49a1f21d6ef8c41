/*
 * store_silences.c - silences and heartbeat state (schema migration 2).
 *
 * A silence is in force from starts_at (inclusive) to ends_at (exclusive)
 * unless expired by hand; expiring one ends it now.  A heartbeat row is
 * created on its first check-in or state change; a check-in makes it "ok"
 * whatever it was, so a caller that must act on a recovery reads the state
 * first (ingest/heartbeat.c does, under its lock).  Times of 0 are NULL in
 * the table.
 */
#include "store/incidents.h"

#include "store/store_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define SILENCE_COLUMNS                                                                            \
    "id, matchers, starts_at, ends_at, comment, created_by, created_at, expired_at"
#define SILENCE_LIMIT_DEFAULT 100
#define SILENCE_LIMIT_MAX     1000

#define HEARTBEAT_COLUMNS "name, last_seen_at, state, updated_at"

static bool silences_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* ---- silences ---------------------------------------------------------------------- */

static int silences_from_row(const struct db_result *res, size_t row, void *item,
                             struct ob_error *err)
{
    struct silence *s = item;
    bool ok = true;

    memset(s, 0, sizeof(*s));
    s->id = db_result_int64(res, row, 0);
    s->matchers = db_result_dup(res, row, 1, &ok);
    s->starts_at_ms = db_result_int64(res, row, 2);
    s->ends_at_ms = db_result_int64(res, row, 3);
    s->comment = db_result_dup(res, row, 4, &ok);
    s->created_by = db_result_dup(res, row, 5, &ok);
    s->created_at_ms = db_result_int64(res, row, 6);
    s->expired_at_ms = db_result_int64(res, row, 7);
    if (!ok) {
        silence_release(s);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void silences_release_item(void *item)
{
    silence_release(item);
}

int store_silence_insert(struct store_conn *conn, struct silence *s, struct ob_error *err)
{
    struct db_result *res = NULL;
    struct db_param params[6];
    int rc;

    if (silences_empty(s->matchers))
        return ob_fail(err, OB_EINVAL, "silence without matchers");
    if (s->comment == NULL)
        return ob_fail(err, OB_EINVAL, "silence without a comment");
    if (silences_empty(s->created_by))
        return ob_fail(err, OB_EINVAL, "silence without a creator");
    if (s->created_at_ms == 0)
        s->created_at_ms = store_now_ms();
    if (s->starts_at_ms == 0)
        s->starts_at_ms = s->created_at_ms;
    if (s->ends_at_ms <= s->starts_at_ms)
        return ob_fail(err, OB_EINVAL, "silence must end after it starts");

    params[0] = DB_P_TEXT(s->matchers);
    params[1] = DB_P_INT(s->starts_at_ms);
    params[2] = DB_P_INT(s->ends_at_ms);
    params[3] = DB_P_TEXT(s->comment);
    params[4] = DB_P_TEXT(s->created_by);
    params[5] = DB_P_INT(s->created_at_ms);
    rc = store_exec(conn,
                    "INSERT INTO silences (matchers, starts_at, ends_at, comment, created_by, "
                    "created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    params, 6, &res, NULL, err);
    if (rc == 0) {
        s->id = db_result_int64(res, 0, 0);
        s->expired_at_ms = 0;
    }
    db_result_free(res);
    return rc;
}

int store_silence_expire(struct store_conn *conn, int64_t id, int64_t now_ms, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(id), DB_P_INT(now_ms)};
    struct silence s;
    int64_t affected = 0;
    int rc;

    /* Only a silence still to end can be expired, so ends_at = min(ends_at,
     * now) is now; one that has not started yet becomes empty (starts_at =
     * ends_at = now), as in Alertmanager. */
    rc = store_exec(conn,
                    "UPDATE silences SET expired_at = $2, ends_at = $2, "
                    "starts_at = CASE WHEN starts_at > $2 THEN $2 ELSE starts_at END "
                    "WHERE id = $1 AND expired_at IS NULL AND ends_at > $2",
                    params, 2, NULL, &affected, err);
    if (rc != 0 || affected > 0)
        return rc;
    rc = store_silence_get(conn, id, &s, err);
    if (rc != 0)
        return rc;
    if (s.expired_at_ms != 0)
        rc = ob_fail(err, OB_ECONFLICT, "silence %lld is already expired", (long long)id);
    else
        rc = ob_fail(err, OB_ECONFLICT, "silence %lld has already ended", (long long)id);
    silence_release(&s);
    return rc;
}

int store_silence_get(struct store_conn *conn, int64_t id, struct silence *out,
                      struct ob_error *err)
{
    return store_select_one(conn, "SELECT " SILENCE_COLUMNS " FROM silences WHERE id = $1",
                            DB_P_INT(id), "no such silence", sizeof(*out), silences_from_row, out,
                            err);
}

int store_silence_list(struct store_conn *conn, int64_t active_at_ms, size_t limit,
                       struct silence **out, size_t *count, struct ob_error *err)
{
    struct db_param params[2];
    struct db_result *res = NULL;
    void *items = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    if (active_at_ms != 0) {
        /* The silences in force are what alerts are matched against: with
         * limit 0, every one of them, not a page. */
        params[0] = DB_P_INT(active_at_ms);
        params[1] = DB_P_INT(limit == 0 || limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit);
        rc = store_exec(conn,
                        "SELECT " SILENCE_COLUMNS " FROM silences WHERE ends_at > $1 "
                        "AND starts_at <= $1 AND expired_at IS NULL ORDER BY id DESC LIMIT $2",
                        params, 2, &res, NULL, err);
    } else {
        params[0] =
            DB_P_INT(limit == 0 ? SILENCE_LIMIT_DEFAULT
                                : (limit > SILENCE_LIMIT_MAX ? SILENCE_LIMIT_MAX : (int64_t)limit));
        rc = store_exec(conn, "SELECT " SILENCE_COLUMNS " FROM silences ORDER BY id DESC LIMIT $1",
                        params, 1, &res, NULL, err);
    }
    if (rc == 0)
        rc = store_rows_collect(res, sizeof(**out), silences_from_row, silences_release_item,
                                &items, count, err);
    if (rc == 0)
        *out = items;
    db_result_free(res);
    return rc;
}

void silence_release(struct silence *s)
{
    if (s == NULL)
        return;
    free(s->matchers);
    free(s->comment);
    free(s->created_by);
    memset(s, 0, sizeof(*s));
}

void silence_array_free(struct silence *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        silence_release(&arr[i]);
    free(arr);
}

/* ---- heartbeats ---------------------------------------------------------------------- */

static int heartbeats_from_row(const struct db_result *res, size_t row, void *item,
                               struct ob_error *err)
{
    struct heartbeat_state *h = item;
    bool ok = true;

    memset(h, 0, sizeof(*h));
    h->name = db_result_dup(res, row, 0, &ok);
    h->last_seen_at_ms = db_result_int64(res, row, 1);
    h->state = db_result_dup(res, row, 2, &ok);
    h->updated_at_ms = db_result_int64(res, row, 3);
    if (!ok) {
        heartbeat_state_release(h);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void heartbeats_release_item(void *item)
{
    heartbeat_state_release(item);
}

int store_heartbeat_checkin(struct store_conn *conn, const char *name, int64_t now_ms,
                            struct ob_error *err)
{
    struct db_param params[2] = {DB_P_TEXT(name), DB_P_INT(now_ms)};

    if (silences_empty(name))
        return ob_fail(err, OB_EINVAL, "heartbeat without a name");
    return store_exec(conn,
                      "INSERT INTO heartbeats (name, last_seen_at, state, updated_at) "
                      "VALUES ($1, $2, 'ok', $2) ON CONFLICT (name) DO UPDATE SET "
                      "last_seen_at = excluded.last_seen_at, state = excluded.state, "
                      "updated_at = excluded.updated_at",
                      params, 2, NULL, NULL, err);
}

int store_heartbeat_set_state(struct store_conn *conn, const char *name, const char *state,
                              int64_t now_ms, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_TEXT(name), DB_P_TEXT(state), DB_P_INT(now_ms)};

    if (silences_empty(name))
        return ob_fail(err, OB_EINVAL, "heartbeat without a name");
    /* "waiting" too: the monitor records a heartbeat it sees for the first
     * time, so that its clock starts then (updated_at). */
    if (state == NULL ||
        (strcmp(state, "waiting") != 0 && strcmp(state, "ok") != 0 && strcmp(state, "missed") != 0))
        return ob_fail(err, OB_EINVAL, "heartbeat state must be waiting, ok or missed");
    return store_exec(conn,
                      "INSERT INTO heartbeats (name, last_seen_at, state, updated_at) "
                      "VALUES ($1, NULL, $2, $3) ON CONFLICT (name) DO UPDATE SET "
                      "state = excluded.state, updated_at = excluded.updated_at",
                      params, 3, NULL, NULL, err);
}

int store_heartbeat_get(struct store_conn *conn, const char *name, struct heartbeat_state *out,
                        struct ob_error *err)
{
    struct db_param param = DB_P_TEXT(name);
    struct db_result *res = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (silences_empty(name))
        return ob_fail(err, OB_EINVAL, "heartbeat without a name");
    rc = store_exec(conn, "SELECT " HEARTBEAT_COLUMNS " FROM heartbeats WHERE name = $1", &param, 1,
                    &res, NULL, err);
    if (rc != 0)
        goto out;
    if (db_result_rows(res) == 0) {
        rc = ob_fail(err, OB_ENOTFOUND, "no state for heartbeat %s", name);
        goto out;
    }
    rc = heartbeats_from_row(res, 0, out, err);
out:
    db_result_free(res);
    return rc;
}

int store_heartbeat_list(struct store_conn *conn, struct heartbeat_state **out, size_t *count,
                         struct ob_error *err)
{
    struct db_result *res = NULL;
    void *items = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = store_exec(conn, "SELECT " HEARTBEAT_COLUMNS " FROM heartbeats ORDER BY name", NULL, 0,
                    &res, NULL, err);
    if (rc == 0)
        rc = store_rows_collect(res, sizeof(**out), heartbeats_from_row, heartbeats_release_item,
                                &items, count, err);
    if (rc == 0)
        *out = items;
    db_result_free(res);
    return rc;
}

void heartbeat_state_release(struct heartbeat_state *h)
{
    if (h == NULL)
        return;
    free(h->name);
    free(h->state);
    memset(h, 0, sizeof(*h));
}

void heartbeat_state_array_free(struct heartbeat_state *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        heartbeat_state_release(&arr[i]);
    free(arr);
}
