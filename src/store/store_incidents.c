/*
 * store_incidents.c - incidents and their timeline (schema migration 2).
 *
 * An incident is open while open_key is set; resolving clears it, so that
 * the unique index on open_key allows one open incident per key and any
 * number of resolved ones.  Times of 0 in the structs are NULL in the table.
 */
#include "store/incidents.h"

#include "store/engine.h"

#include "store/store_internal.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INCIDENT_COLUMNS                                                                           \
    "id, service, team, incident_key, status, summary, severity, silenced, alert_count, "          \
    "open_alerts, created_at, updated_at, acknowledged_at, acknowledged_by, resolved_at, "         \
    "resolved_by"
#define INCIDENT_LIMIT_DEFAULT 50
#define INCIDENT_LIMIT_MAX     500

#define EVENT_COLUMNS       "id, incident_id, at, kind, actor, message, data"
#define EVENT_LIMIT_DEFAULT 1000

static bool incidents_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* Fill inc from a row selected with INCIDENT_COLUMNS. */
static int incidents_from_row(const struct db_result *res, size_t row, void *item,
                              struct ob_error *err)
{
    struct incident *inc = item;
    bool ok = true;

    memset(inc, 0, sizeof(*inc));
    inc->id = db_result_int64(res, row, 0);
    inc->service = db_result_dup(res, row, 1, &ok);
    inc->team = db_result_dup(res, row, 2, &ok);
    inc->incident_key = db_result_dup(res, row, 3, &ok);
    inc->status = db_result_dup(res, row, 4, &ok);
    inc->summary = db_result_dup(res, row, 5, &ok);
    inc->severity = db_result_dup(res, row, 6, &ok);
    inc->silenced = db_result_int64(res, row, 7) != 0;
    inc->alert_count = db_result_int64(res, row, 8);
    inc->open_alerts = db_result_int64(res, row, 9);
    inc->created_at_ms = db_result_int64(res, row, 10);
    inc->updated_at_ms = db_result_int64(res, row, 11);
    inc->acknowledged_at_ms = db_result_int64(res, row, 12);
    inc->acknowledged_by = db_result_dup(res, row, 13, &ok);
    inc->resolved_at_ms = db_result_int64(res, row, 14);
    inc->resolved_by = db_result_dup(res, row, 15, &ok);
    if (!ok) {
        incident_release(inc);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void incidents_release_item(void *item)
{
    incident_release(item);
}

int store_incident_insert(struct store_conn *conn, struct incident *inc, const char *open_key,
                          struct ob_error *err)
{
    struct db_result *res = NULL;
    struct db_param params[11];
    int rc;

    if (incidents_empty(open_key))
        return ob_fail(err, OB_EINVAL, "incident without an open key");
    if (incidents_empty(inc->service) || incidents_empty(inc->team))
        return ob_fail(err, OB_EINVAL, "incident without a service or team");
    if (incidents_empty(inc->incident_key))
        return ob_fail(err, OB_EINVAL, "incident without an incident key");
    if (inc->summary == NULL || incidents_empty(inc->severity))
        return ob_fail(err, OB_EINVAL, "incident without a summary or severity");
    if (inc->status != NULL && strcmp(inc->status, "triggered") != 0)
        return ob_fail(err, OB_EINVAL, "a new incident is triggered, not %s", inc->status);
    if (inc->alert_count < 0 || inc->open_alerts < 0)
        return ob_fail(err, OB_EINVAL, "incident alert counts must not be negative");
    if (inc->created_at_ms == 0)
        inc->created_at_ms = store_now_ms();
    if (inc->updated_at_ms == 0)
        inc->updated_at_ms = inc->created_at_ms;

    params[0] = DB_P_TEXT(inc->service);
    params[1] = DB_P_TEXT(inc->team);
    params[2] = DB_P_TEXT(inc->incident_key);
    params[3] = DB_P_TEXT(inc->summary);
    params[4] = DB_P_TEXT(inc->severity);
    params[5] = DB_P_INT(inc->silenced ? 1 : 0);
    params[6] = DB_P_INT(inc->alert_count);
    params[7] = DB_P_INT(inc->open_alerts);
    params[8] = DB_P_INT(inc->created_at_ms);
    params[9] = DB_P_INT(inc->updated_at_ms);
    params[10] = DB_P_TEXT(open_key);
    rc = store_exec(conn,
                    "INSERT INTO incidents (service, team, incident_key, status, summary, "
                    "severity, silenced, alert_count, open_alerts, created_at, updated_at, "
                    "open_key) VALUES ($1, $2, $3, 'triggered', $4, $5, $6, $7, $8, $9, $10, $11) "
                    "RETURNING id",
                    params, 11, &res, NULL, err);
    if (rc == OB_ECONFLICT)
        rc = ob_fail(err, OB_ECONFLICT, "an open incident with this key already exists");
    if (rc == 0)
        inc->id = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

/* The one incident that sql (with $1 = param) selects. */
static int incidents_get_one(struct store_conn *conn, const char *sql, struct db_param param,
                             const char *what, struct incident *out, struct ob_error *err)
{
    return store_select_one(conn, sql, param, what, sizeof(*out), incidents_from_row, out, err);
}

int store_incident_find_open(struct store_conn *conn, const char *open_key, struct incident *out,
                             struct ob_error *err)
{
    if (incidents_empty(open_key)) {
        memset(out, 0, sizeof(*out));
        return ob_fail(err, OB_EINVAL, "empty incident open key");
    }
    return incidents_get_one(conn, "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE open_key = $1",
                             DB_P_TEXT(open_key), "no open incident with this key", out, err);
}

int store_incident_get(struct store_conn *conn, int64_t id, struct incident *out,
                       struct ob_error *err)
{
    return incidents_get_one(conn, "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE id = $1",
                             DB_P_INT(id), "no such incident", out, err);
}

int store_incident_count_alerts(struct store_conn *conn, int64_t id, int64_t delta_alerts,
                                int64_t delta_open, int64_t now_ms, int64_t *open_after,
                                struct ob_error *err)
{
    struct db_param params[4] = {DB_P_INT(id), DB_P_INT(delta_alerts), DB_P_INT(delta_open),
                                 DB_P_INT(now_ms)};
    struct db_result *res = NULL;
    struct incident inc;
    int rc;

    if (open_after != NULL)
        *open_after = 0;
    /* A count that would go negative is a caller's bookkeeping error (an
     * alert resolved twice): refused without failing the statement, so an
     * enclosing transaction is not doomed. */
    rc = store_exec(conn,
                    "UPDATE incidents SET alert_count = alert_count + $2, "
                    "open_alerts = open_alerts + $3, updated_at = $4 "
                    "WHERE id = $1 AND alert_count + $2 >= 0 AND open_alerts + $3 >= 0 "
                    "RETURNING open_alerts",
                    params, 4, &res, NULL, err);
    if (rc != 0)
        goto out;
    if (db_result_rows(res) > 0) {
        if (open_after != NULL)
            *open_after = db_result_int64(res, 0, 0);
        goto out;
    }
    rc = store_incident_get(conn, id, &inc, err);
    if (rc != 0)
        goto out;
    rc = ob_fail(err, OB_ECONFLICT,
                 "incident %lld has %lld alerts, %lld open: cannot add %lld and %lld",
                 (long long)id, (long long)inc.alert_count, (long long)inc.open_alerts,
                 (long long)delta_alerts, (long long)delta_open);
    incident_release(&inc);
out:
    db_result_free(res);
    return rc;
}

int store_incident_set_status(struct store_conn *conn, int64_t id, const char *status,
                              const char *actor, int64_t now_ms, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(id), DB_P_INT(now_ms), DB_P_TEXT(actor)};
    const char *sql;
    struct incident inc;
    int64_t affected = 0;
    int rc;

    if (incidents_empty(actor))
        return ob_fail(err, OB_EINVAL, "incident status change without an actor");
    if (status != NULL && strcmp(status, "acknowledged") == 0)
        sql = "UPDATE incidents SET status = 'acknowledged', acknowledged_at = $2, "
              "acknowledged_by = $3, updated_at = $2 "
              "WHERE id = $1 AND status IN ('triggered')";
    else if (status != NULL && strcmp(status, "resolved") == 0)
        sql = "UPDATE incidents SET status = 'resolved', resolved_at = $2, resolved_by = $3, "
              "updated_at = $2, open_key = NULL "
              "WHERE id = $1 AND status IN ('triggered', 'acknowledged')";
    else
        return ob_fail(err, OB_EINVAL,
                       "incident status can only be set to acknowledged or "
                       "resolved");

    rc = store_exec(conn, sql, params, 3, NULL, &affected, err);
    if (rc != 0)
        return rc;
    if (affected > 0) {
        /* Whoever acknowledged or resolved it, the escalation stops here, in
         * the same transaction: no step and no queued page outlives it. */
        char reason[160];
        snprintf(reason, sizeof(reason), "%s by %s", status, actor);
        rc = store_escalation_stop(conn, id, reason, now_ms, NULL, err);
        /* ... and the messages that paged for it say so (chat.update). */
        if (rc == 0)
            rc = store_outbox_queue_updates(conn, id, now_ms, NULL, err);
        return rc;
    }
    /* Nothing changed: tell "absent" from "not allowed from its state". */
    rc = store_incident_get(conn, id, &inc, err);
    if (rc != 0)
        return rc;
    rc = ob_fail(err, OB_ECONFLICT, "incident %lld is already %s", (long long)id,
                 inc.status != NULL ? inc.status : "changed");
    incident_release(&inc);
    return rc;
}

int store_incident_retrigger(struct store_conn *conn, int64_t id, int64_t now_ms,
                             struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(id), DB_P_INT(now_ms)};
    int64_t affected = 0;
    int rc = store_exec(conn,
                        "UPDATE incidents SET status = 'triggered', updated_at = $2 "
                        "WHERE id = $1 AND status = 'acknowledged'",
                        params, 2, NULL, &affected, err);

    if (rc == 0 && affected != 1)
        rc = ob_fail(err, OB_ECONFLICT, "incident %lld is not acknowledged", (long long)id);
    if (rc == 0) /* the messages say "triggered" again */
        rc = store_outbox_queue_updates(conn, id, now_ms, NULL, err);
    return rc;
}

int store_incident_unsilence(struct store_conn *conn, int64_t id, int64_t now_ms,
                             struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(id), DB_P_INT(now_ms)};

    return store_exec(conn, "UPDATE incidents SET silenced = 0, updated_at = $2 WHERE id = $1",
                      params, 2, NULL, NULL, err);
}

/* Firing alerts of triggered, silenced incidents, joined to the silence
 * that holds each (the alerts_silenced index serves the join). */
#define SILENCE_HOLDS                                                                              \
    "FROM incidents i JOIN alerts a ON a.incident_id = i.id "                                      \
    "JOIN silences s ON s.id = a.silenced_by "                                                     \
    "WHERE i.status = 'triggered' AND i.silenced = 1 AND a.status = 'firing' "

int store_incident_list_silence_ended(struct store_conn *conn, int64_t now_ms, size_t limit,
                                      struct incident **out, size_t *count, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(now_ms), DB_P_INT((int64_t)limit)};

    return store_select_all(conn,
                            "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE id IN "
                            "(SELECT i.id " SILENCE_HOLDS
                            "AND (s.ends_at <= $1 OR s.expired_at IS NOT NULL)) "
                            "ORDER BY id LIMIT $2",
                            params, 2, sizeof(**out), incidents_from_row, incidents_release_item,
                            (void **)out, count, err);
}

int store_silence_next_end_holding(struct store_conn *conn, int64_t now_ms, int64_t *end_ms,
                                   struct ob_error *err)
{
    struct db_param param = DB_P_INT(now_ms);
    struct db_result *res = NULL;
    int rc = store_exec(
        conn, "SELECT MIN(s.ends_at) " SILENCE_HOLDS "AND s.ends_at > $1 AND s.expired_at IS NULL",
        &param, 1, &res, NULL, err);

    *end_ms = 0;
    if (rc == 0 && db_result_rows(res) == 1 && !db_result_is_null(res, 0, 0))
        *end_ms = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

static bool incidents_valid_status_filter(const char *status)
{
    return strcmp(status, "open") == 0 || strcmp(status, "triggered") == 0 ||
           strcmp(status, "acknowledged") == 0 || strcmp(status, "resolved") == 0;
}

/*
 * Only the filters in use appear in the WHERE clause, so that each of the
 * few shapes gets its own plan (and index); the SQL text comes from this
 * fixed set, never from the filter values.
 */
static size_t incidents_build_query(const struct incident_filter *filter, struct strbuf *sql,
                                    struct db_param *params)
{
    size_t n = 0;
    int64_t limit = filter->limit == 0 ? INCIDENT_LIMIT_DEFAULT : (int64_t)filter->limit;

    if (filter->limit > INCIDENT_LIMIT_MAX)
        limit = INCIDENT_LIMIT_MAX;
    strbuf_adds(sql, "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE 1 = 1");
    if (filter->before_id > 0) {
        params[n++] = DB_P_INT(filter->before_id);
        strbuf_addf(sql, " AND id < $%zu", n);
    }
    if (filter->status != NULL && strcmp(filter->status, "open") == 0) {
        strbuf_adds(sql, " AND status IN ('triggered', 'acknowledged')");
    } else if (filter->status != NULL) {
        params[n++] = DB_P_TEXT(filter->status);
        strbuf_addf(sql, " AND status = $%zu", n);
    }
    if (filter->team != NULL) {
        params[n++] = DB_P_TEXT(filter->team);
        strbuf_addf(sql, " AND team = $%zu", n);
    }
    if (filter->service != NULL) {
        params[n++] = DB_P_TEXT(filter->service);
        strbuf_addf(sql, " AND service = $%zu", n);
    }
    params[n++] = DB_P_INT(limit);
    strbuf_addf(sql, " ORDER BY id DESC LIMIT $%zu", n);
    return n;
}

int store_incident_list(struct store_conn *conn, const struct incident_filter *filter,
                        struct incident **out, size_t *count, struct ob_error *err)
{
    static const struct incident_filter no_filter = {0};
    struct strbuf sql = STRBUF_INIT;
    struct db_param params[5];
    struct db_result *res = NULL;
    void *items = NULL;
    size_t n_params;
    int rc;

    *out = NULL;
    *count = 0;
    if (filter == NULL)
        filter = &no_filter;
    if (filter->status != NULL && !incidents_valid_status_filter(filter->status))
        return ob_fail(err, OB_EINVAL,
                       "incident status filter must be open, triggered, acknowledged or resolved");
    n_params = incidents_build_query(filter, &sql, params);
    rc = store_exec(conn, strbuf_str(&sql), params, n_params, &res, NULL, err);
    if (rc == 0)
        rc = store_rows_collect(res, sizeof(**out), incidents_from_row, incidents_release_item,
                                &items, count, err);
    if (rc == 0)
        *out = items;
    db_result_free(res);
    strbuf_release(&sql);
    return rc;
}

void incident_release(struct incident *inc)
{
    if (inc == NULL)
        return;
    free(inc->service);
    free(inc->team);
    free(inc->incident_key);
    free(inc->status);
    free(inc->summary);
    free(inc->severity);
    free(inc->acknowledged_by);
    free(inc->resolved_by);
    memset(inc, 0, sizeof(*inc));
}

void incident_array_free(struct incident *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        incident_release(&arr[i]);
    free(arr);
}

/* ---- timeline -------------------------------------------------------------------- */

int store_incident_event_append(struct store_conn *conn, struct incident_event *ev,
                                struct ob_error *err)
{
    struct db_result *res = NULL;
    struct db_param params[6];
    int rc;

    if (ev->incident_id <= 0)
        return ob_fail(err, OB_EINVAL, "timeline event without an incident");
    if (incidents_empty(ev->kind))
        return ob_fail(err, OB_EINVAL, "timeline event without a kind");
    if (ev->at_ms == 0)
        ev->at_ms = store_now_ms();

    params[0] = DB_P_INT(ev->incident_id);
    params[1] = DB_P_INT(ev->at_ms);
    params[2] = DB_P_TEXT(ev->kind);
    params[3] = DB_P_TEXT(ev->actor);
    params[4] = DB_P_TEXT(ev->message);
    params[5] = DB_P_TEXT(ev->data);
    /* INSERT ... SELECT ... WHERE EXISTS rather than a foreign key failure:
     * an unknown incident is OB_ENOTFOUND on both drivers, and does not doom
     * the caller's transaction. CASTs: PostgreSQL types a SELECT list's
     * parameters before it sees the target columns. */
    rc = store_exec(conn,
                    "INSERT INTO incident_events (incident_id, at, kind, actor, message, data) "
                    "SELECT $1, $2, CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS TEXT), "
                    "CAST($6 AS TEXT) WHERE EXISTS (SELECT 1 FROM incidents WHERE id = $1) "
                    "RETURNING id",
                    params, 6, &res, NULL, err);
    if (rc != 0)
        goto out;
    if (db_result_rows(res) == 0) {
        rc = ob_fail(err, OB_ENOTFOUND, "no such incident %lld", (long long)ev->incident_id);
        goto out;
    }
    ev->id = db_result_int64(res, 0, 0);
out:
    db_result_free(res);
    return rc;
}

static int incidents_event_from_row(const struct db_result *res, size_t row, void *item,
                                    struct ob_error *err)
{
    struct incident_event *ev = item;
    bool ok = true;

    memset(ev, 0, sizeof(*ev));
    ev->id = db_result_int64(res, row, 0);
    ev->incident_id = db_result_int64(res, row, 1);
    ev->at_ms = db_result_int64(res, row, 2);
    ev->kind = db_result_dup(res, row, 3, &ok);
    ev->actor = db_result_dup(res, row, 4, &ok);
    ev->message = db_result_dup(res, row, 5, &ok);
    ev->data = db_result_dup(res, row, 6, &ok);
    if (!ok) {
        incident_event_release(ev);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void incidents_event_release_item(void *item)
{
    incident_event_release(item);
}

int store_incident_events(struct store_conn *conn, int64_t incident_id, size_t limit,
                          struct incident_event **out, size_t *count, struct ob_error *err)
{
    struct db_param params[2];
    struct db_result *res = NULL;
    void *items = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    params[0] = DB_P_INT(incident_id);
    params[1] = DB_P_INT(limit == 0 ? EVENT_LIMIT_DEFAULT
                                    : (limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit));
    rc = store_exec(conn,
                    "SELECT " EVENT_COLUMNS " FROM incident_events WHERE incident_id = $1 "
                    "ORDER BY id LIMIT $2",
                    params, 2, &res, NULL, err);
    if (rc == 0)
        rc = store_rows_collect(res, sizeof(**out), incidents_event_from_row,
                                incidents_event_release_item, &items, count, err);
    if (rc == 0)
        *out = items;
    db_result_free(res);
    return rc;
}

void incident_event_release(struct incident_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->kind);
    free(ev->actor);
    free(ev->message);
    free(ev->data);
    memset(ev, 0, sizeof(*ev));
}

void incident_event_array_free(struct incident_event *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        incident_event_release(&arr[i]);
    free(arr);
}
