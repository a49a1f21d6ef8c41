/*
 * store_oncall.c - schedule overrides and iCal feed tokens (schema
 * migration 3).  Times of 0 in the structs are NULL in the table.
 */
#include "store/oncall.h"

#include "store/store_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define OVERRIDE_COLUMNS                                                                           \
    "id, schedule, user_name, starts_at, ends_at, reason, created_by, created_at, deleted_at, "    \
    "deleted_by"
#define OVERRIDE_LIST_MAX 10000

#define FEED_COLUMNS "id, kind, subject, created_by, created_at, revoked_at"

static bool oncall_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* ---- overrides ------------------------------------------------------------------ */

static int overrides_from_row(const struct db_result *res, size_t row, void *item,
                              struct ob_error *err)
{
    struct override_row *o = item;
    bool ok = true;

    memset(o, 0, sizeof(*o));
    o->id = db_result_int64(res, row, 0);
    o->schedule = db_result_dup(res, row, 1, &ok);
    o->user_name = db_result_dup(res, row, 2, &ok);
    o->starts_at_ms = db_result_int64(res, row, 3);
    o->ends_at_ms = db_result_int64(res, row, 4);
    o->reason = db_result_dup(res, row, 5, &ok);
    o->created_by = db_result_dup(res, row, 6, &ok);
    o->created_at_ms = db_result_int64(res, row, 7);
    o->deleted_at_ms = db_result_int64(res, row, 8);
    o->deleted_by = db_result_dup(res, row, 9, &ok);
    if (!ok) {
        override_row_release(o);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void overrides_release_item(void *item)
{
    override_row_release(item);
}

static int overrides_collect(struct store_conn *conn, const char *sql,
                             const struct db_param *params, size_t n_params,
                             struct override_row **out, size_t *count, struct ob_error *err)
{
    struct db_result *res = NULL;
    void *items = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = store_exec(conn, sql, params, n_params, &res, NULL, err);
    if (rc == 0)
        rc = store_rows_collect(res, sizeof(**out), overrides_from_row, overrides_release_item,
                                &items, count, err);
    if (rc == 0)
        *out = items;
    db_result_free(res);
    return rc;
}

/* Serialise inserts into one schedule across connections and nodes.  On
 * SQLite the write transaction (BEGIN IMMEDIATE) already does. */
static int overrides_lock_schedule(struct store_conn *conn, const char *schedule,
                                   struct ob_error *err)
{
    struct db_param param = DB_P_TEXT(schedule);

    if (conn->driver->dialect != STORE_DIALECT_POSTGRES)
        return 0;
    return store_exec(conn,
                      "SELECT pg_advisory_xact_lock(hashtext('opsbell.override:' || "
                      "CAST($1 AS TEXT)))",
                      &param, 1, NULL, NULL, err);
}

int store_override_insert(struct store_conn *conn, struct override_row *o, int64_t *conflict_id,
                          struct ob_error *err)
{
    struct db_result *res = NULL;
    struct db_param params[7];
    int rc;

    if (conflict_id != NULL)
        *conflict_id = 0;
    if (oncall_empty(o->schedule))
        return ob_fail(err, OB_EINVAL, "override without a schedule");
    if (oncall_empty(o->user_name))
        return ob_fail(err, OB_EINVAL, "override without a user");
    if (oncall_empty(o->created_by))
        return ob_fail(err, OB_EINVAL, "override without a creator");
    if (o->ends_at_ms <= o->starts_at_ms)
        return ob_fail(err, OB_EINVAL, "an override must end after it starts");
    if (o->created_at_ms == 0)
        o->created_at_ms = store_now_ms();

    rc = overrides_lock_schedule(conn, o->schedule, err);
    if (rc != 0)
        return rc;
    params[0] = DB_P_TEXT(o->schedule);
    params[1] = DB_P_INT(o->starts_at_ms);
    params[2] = DB_P_INT(o->ends_at_ms);
    rc = store_exec(conn,
                    "SELECT id, user_name FROM schedule_overrides WHERE schedule = $1 "
                    "AND deleted_at IS NULL AND starts_at < $3 AND ends_at > $2 "
                    "ORDER BY starts_at, id LIMIT 1",
                    params, 3, &res, NULL, err);
    if (rc != 0)
        goto out;
    if (db_result_rows(res) > 0) {
        int64_t other = db_result_int64(res, 0, 0);

        if (conflict_id != NULL)
            *conflict_id = other;
        rc = ob_fail(err, OB_ECONFLICT, "the override overlaps override %lld (%s) of schedule %s",
                     (long long)other, db_result_text(res, 0, 1), o->schedule);
        goto out;
    }
    db_result_free(res);
    res = NULL;

    params[3] = DB_P_TEXT(o->user_name);
    params[4] = DB_P_TEXT(o->reason);
    params[5] = DB_P_TEXT(o->created_by);
    params[6] = DB_P_INT(o->created_at_ms);
    rc = store_exec(conn,
                    "INSERT INTO schedule_overrides (schedule, starts_at, ends_at, user_name, "
                    "reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                    "RETURNING id",
                    params, 7, &res, NULL, err);
    if (rc == 0) {
        o->id = db_result_int64(res, 0, 0);
        o->deleted_at_ms = 0;
    }
out:
    db_result_free(res);
    return rc;
}

int store_override_get(struct store_conn *conn, int64_t id, struct override_row *out,
                       struct ob_error *err)
{
    return store_select_one(
        conn, "SELECT " OVERRIDE_COLUMNS " FROM schedule_overrides WHERE id = $1", DB_P_INT(id),
        "no such override", sizeof(*out), overrides_from_row, out, err);
}

int store_override_list_window(struct store_conn *conn, const char *schedule, int64_t from_ms,
                               int64_t until_ms, struct override_row **out, size_t *count,
                               struct ob_error *err)
{
    struct db_param params[4] = {DB_P_TEXT(schedule), DB_P_INT(from_ms), DB_P_INT(until_ms),
                                 DB_P_INT(OVERRIDE_LIST_MAX)};

    return overrides_collect(conn,
                             "SELECT " OVERRIDE_COLUMNS " FROM schedule_overrides "
                             "WHERE (CAST($1 AS TEXT) IS NULL OR schedule = $1) "
                             "AND deleted_at IS NULL AND starts_at < $3 AND ends_at > $2 "
                             "ORDER BY starts_at, id LIMIT $4",
                             params, 4, out, count, err);
}

int store_override_list_current(struct store_conn *conn, const char *schedule, int64_t now_ms,
                                struct override_row **out, size_t *count, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_TEXT(schedule), DB_P_INT(now_ms),
                                 DB_P_INT(OVERRIDE_LIST_MAX)};

    if (oncall_empty(schedule)) {
        *out = NULL;
        *count = 0;
        return ob_fail(err, OB_EINVAL, "overrides of which schedule?");
    }
    return overrides_collect(conn,
                             "SELECT " OVERRIDE_COLUMNS " FROM schedule_overrides "
                             "WHERE schedule = $1 AND deleted_at IS NULL AND ends_at > $2 "
                             "ORDER BY starts_at, id LIMIT $3",
                             params, 3, out, count, err);
}

int store_override_delete(struct store_conn *conn, int64_t id, const char *by, int64_t now_ms,
                          struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(id), DB_P_INT(now_ms), DB_P_TEXT(by)};
    struct override_row o;
    int64_t affected = 0;
    int rc;

    if (oncall_empty(by))
        return ob_fail(err, OB_EINVAL, "who deletes the override?");
    rc = store_exec(conn,
                    "UPDATE schedule_overrides SET deleted_at = $2, deleted_by = $3 "
                    "WHERE id = $1 AND deleted_at IS NULL",
                    params, 3, NULL, &affected, err);
    if (rc != 0 || affected > 0)
        return rc;
    /* Nothing changed: tell "absent" from "already deleted". */
    rc = store_override_get(conn, id, &o, err);
    if (rc != 0)
        return rc;
    override_row_release(&o);
    return ob_fail(err, OB_ECONFLICT, "override %lld is already deleted", (long long)id);
}

void override_row_release(struct override_row *o)
{
    if (o == NULL)
        return;
    free(o->schedule);
    free(o->user_name);
    free(o->reason);
    free(o->created_by);
    free(o->deleted_by);
    memset(o, 0, sizeof(*o));
}

void override_row_array_free(struct override_row *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        override_row_release(&arr[i]);
    free(arr);
}

/* ---- iCal feeds ------------------------------------------------------------------ */

/* Copy a 64-hex-digit hash to out in lowercase, the form stored. */
static bool feeds_normalize_hash(const char *hash_hex, char out[65])
{
    if (hash_hex == NULL || strlen(hash_hex) != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        char c = hash_hex[i];

        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    out[64] = '\0';
    return true;
}

static int feeds_from_row(const struct db_result *res, size_t row, void *item, struct ob_error *err)
{
    struct ical_feed *f = item;
    bool ok = true;

    memset(f, 0, sizeof(*f));
    f->id = db_result_int64(res, row, 0);
    f->kind = db_result_dup(res, row, 1, &ok);
    f->subject = db_result_dup(res, row, 2, &ok);
    f->created_by = db_result_dup(res, row, 3, &ok);
    f->created_at_ms = db_result_int64(res, row, 4);
    f->revoked_at_ms = db_result_int64(res, row, 5);
    if (!ok) {
        ical_feed_release(f);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void feeds_release_item(void *item)
{
    ical_feed_release(item);
}

int store_ical_feed_insert(struct store_conn *conn, struct ical_feed *f, const char *hash_hex,
                           struct ob_error *err)
{
    struct db_result *res = NULL;
    struct db_param params[5];
    char hash[65];
    int rc;

    if (f->kind == NULL || (strcmp(f->kind, "user") != 0 && strcmp(f->kind, "schedule") != 0))
        return ob_fail(err, OB_EINVAL, "an iCal feed is of a user or of a schedule");
    if (oncall_empty(f->subject))
        return ob_fail(err, OB_EINVAL, "iCal feed without a subject");
    if (oncall_empty(f->created_by))
        return ob_fail(err, OB_EINVAL, "iCal feed without a creator");
    if (!feeds_normalize_hash(hash_hex, hash))
        return ob_fail(err, OB_EINVAL, "feed hash must be 64 hex digits");
    if (f->created_at_ms == 0)
        f->created_at_ms = store_now_ms();

    params[0] = DB_P_TEXT(f->kind);
    params[1] = DB_P_TEXT(f->subject);
    /* Not DB_P_TEXT: on an array, its NULL test trips -Waddress. */
    params[2] = (struct db_param){.type = DB_TEXT, .text = hash};
    params[3] = DB_P_TEXT(f->created_by);
    params[4] = DB_P_INT(f->created_at_ms);
    rc = store_exec(conn,
                    "INSERT INTO ical_feeds (kind, subject, token_hash, created_by, created_at) "
                    "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    params, 5, &res, NULL, err);
    if (rc == 0) {
        f->id = db_result_int64(res, 0, 0);
        f->revoked_at_ms = 0;
    }
    db_result_free(res);
    return rc;
}

int store_ical_feed_find_by_hash(struct store_conn *conn, const char *hash_hex,
                                 struct ical_feed *out, struct ob_error *err)
{
    char hash[65];

    if (!feeds_normalize_hash(hash_hex, hash)) {
        memset(out, 0, sizeof(*out));
        return ob_fail(err, OB_EINVAL, "feed hash must be 64 hex digits");
    }
    return store_select_one(conn,
                            "SELECT " FEED_COLUMNS " FROM ical_feeds "
                            "WHERE token_hash = $1 AND revoked_at IS NULL",
                            (struct db_param){.type = DB_TEXT, .text = hash}, "no such iCal feed",
                            sizeof(*out), feeds_from_row, out, err);
}

int store_ical_feed_get(struct store_conn *conn, int64_t id, struct ical_feed *out,
                        struct ob_error *err)
{
    return store_select_one(conn, "SELECT " FEED_COLUMNS " FROM ical_feeds WHERE id = $1",
                            DB_P_INT(id), "no such iCal feed", sizeof(*out), feeds_from_row, out,
                            err);
}

int store_ical_feed_list(struct store_conn *conn, struct ical_feed **out, size_t *count,
                         struct ob_error *err)
{
    struct db_result *res = NULL;
    void *items = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = store_exec(conn, "SELECT " FEED_COLUMNS " FROM ical_feeds ORDER BY id", NULL, 0, &res,
                    NULL, err);
    if (rc == 0)
        rc = store_rows_collect(res, sizeof(**out), feeds_from_row, feeds_release_item, &items,
                                count, err);
    if (rc == 0)
        *out = items;
    db_result_free(res);
    return rc;
}

int store_ical_feed_revoke(struct store_conn *conn, int64_t id, int64_t now_ms,
                           struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(id), DB_P_INT(now_ms)};
    struct ical_feed f;
    int64_t affected = 0;
    int rc;

    rc = store_exec(conn,
                    "UPDATE ical_feeds SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                    params, 2, NULL, &affected, err);
    if (rc != 0 || affected > 0)
        return rc;
    rc = store_ical_feed_get(conn, id, &f, err);
    if (rc != 0)
        return rc;
    ical_feed_release(&f);
    return ob_fail(err, OB_ECONFLICT, "iCal feed %lld is already revoked", (long long)id);
}

void ical_feed_release(struct ical_feed *f)
{
    if (f == NULL)
        return;
    free(f->kind);
    free(f->subject);
    free(f->created_by);
    memset(f, 0, sizeof(*f));
}

void ical_feed_array_free(struct ical_feed *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        ical_feed_release(&arr[i]);
    free(arr);
}
