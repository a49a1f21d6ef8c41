/*
 * store_alerts.c - alerts as received (schema migration 2).
 *
 * A firing alert holds its open_key, unique among firing alerts; resolving
 * clears it, so that the same key may fire again as a new row.  In struct
 * alert_row, ids and times of 0 are NULL in the table (incident_id 0 =
 * unroutable, ends_at 0 = open-ended, silenced_by 0 = not silenced).
 */
#include "store/incidents.h"

#include "store/store_internal.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define ALERT_COLUMNS                                                                              \
    "id, incident_id, service, source, status, fingerprint, dedup_key, summary, severity, "        \
    "labels, annotations, details, source_name, generator_url, starts_at, ends_at, "               \
    "received_at, updated_at, event_count, silenced_by"
#define ALERT_LIMIT_DEFAULT 100
#define ALERT_LIMIT_MAX     10000

/* 0 means "none" in the struct, NULL in the table. */
static struct db_param alerts_zero_null(int64_t v)
{
    return v != 0 ? DB_P_INT(v) : DB_P_NULL;
}

static bool alerts_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static int64_t alerts_limit(size_t limit)
{
    if (limit == 0)
        return ALERT_LIMIT_DEFAULT;
    return limit > ALERT_LIMIT_MAX ? ALERT_LIMIT_MAX : (int64_t)limit;
}

/* Fill a from a row selected with ALERT_COLUMNS. */
static int alerts_from_row(const struct db_result *res, size_t row, void *item,
                           struct ob_error *err)
{
    struct alert_row *a = item;
    bool ok = true;

    memset(a, 0, sizeof(*a));
    a->id = db_result_int64(res, row, 0);
    a->incident_id = db_result_int64(res, row, 1);
    a->service = db_result_dup(res, row, 2, &ok);
    a->source = db_result_dup(res, row, 3, &ok);
    a->status = db_result_dup(res, row, 4, &ok);
    a->fingerprint = db_result_dup(res, row, 5, &ok);
    a->dedup_key = db_result_dup(res, row, 6, &ok);
    a->summary = db_result_dup(res, row, 7, &ok);
    a->severity = db_result_dup(res, row, 8, &ok);
    a->labels = db_result_dup(res, row, 9, &ok);
    a->annotations = db_result_dup(res, row, 10, &ok);
    a->details = db_result_dup(res, row, 11, &ok);
    a->source_name = db_result_dup(res, row, 12, &ok);
    a->generator_url = db_result_dup(res, row, 13, &ok);
    a->starts_at_ms = db_result_int64(res, row, 14);
    a->ends_at_ms = db_result_int64(res, row, 15);
    a->received_at_ms = db_result_int64(res, row, 16);
    a->updated_at_ms = db_result_int64(res, row, 17);
    a->event_count = db_result_int64(res, row, 18);
    a->silenced_by = db_result_int64(res, row, 19);
    if (!ok) {
        alert_row_release(a);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void alerts_release_item(void *item)
{
    alert_row_release(item);
}

/* Every row of res into an owned array. */
static int alerts_from_rows(const struct db_result *res, struct alert_row **out, size_t *count,
                            struct ob_error *err)
{
    void *items = NULL;
    int rc = store_rows_collect(res, sizeof(**out), alerts_from_row, alerts_release_item, &items,
                                count, err);

    if (rc == 0)
        *out = items;
    return rc;
}

int store_alert_insert(struct store_conn *conn, struct alert_row *a, const char *open_key,
                       struct ob_error *err)
{
    struct db_result *res = NULL;
    struct db_param params[19];
    int rc;

    if (alerts_empty(open_key))
        return ob_fail(err, OB_EINVAL, "alert without an open key");
    if (alerts_empty(a->source) || alerts_empty(a->fingerprint))
        return ob_fail(err, OB_EINVAL, "alert without a source or fingerprint");
    if (a->summary == NULL || alerts_empty(a->severity))
        return ob_fail(err, OB_EINVAL, "alert without a summary or severity");
    if (a->status != NULL && strcmp(a->status, "firing") != 0)
        return ob_fail(err, OB_EINVAL, "a new alert is firing, not %s", a->status);
    if (a->incident_id < 0 || a->silenced_by < 0 || a->event_count < 0)
        return ob_fail(err, OB_EINVAL, "alert with a negative id or count");
    if (a->received_at_ms == 0)
        a->received_at_ms = store_now_ms();
    if (a->starts_at_ms == 0)
        a->starts_at_ms = a->received_at_ms;
    if (a->updated_at_ms == 0)
        a->updated_at_ms = a->received_at_ms;
    if (a->event_count == 0)
        a->event_count = 1;

    params[0] = alerts_zero_null(a->incident_id);
    params[1] = DB_P_TEXT(a->service);
    params[2] = DB_P_TEXT(a->source);
    params[3] = DB_P_TEXT(a->fingerprint);
    params[4] = DB_P_TEXT(a->dedup_key);
    params[5] = DB_P_TEXT(a->summary);
    params[6] = DB_P_TEXT(a->severity);
    /* NOT NULL columns: no labels is an empty object. */
    params[7] = DB_P_TEXT(a->labels != NULL ? a->labels : "{}");
    params[8] = DB_P_TEXT(a->annotations != NULL ? a->annotations : "{}");
    params[9] = DB_P_TEXT(a->details);
    params[10] = DB_P_TEXT(a->source_name);
    params[11] = DB_P_TEXT(a->generator_url);
    params[12] = DB_P_INT(a->starts_at_ms);
    params[13] = alerts_zero_null(a->ends_at_ms);
    params[14] = DB_P_INT(a->received_at_ms);
    params[15] = DB_P_INT(a->updated_at_ms);
    params[16] = DB_P_INT(a->event_count);
    params[17] = alerts_zero_null(a->silenced_by);
    params[18] = DB_P_TEXT(open_key);
    rc = store_exec(conn,
                    "INSERT INTO alerts (incident_id, service, source, status, fingerprint, "
                    "dedup_key, summary, severity, labels, annotations, details, source_name, "
                    "generator_url, starts_at, ends_at, received_at, updated_at, event_count, "
                    "silenced_by, open_key) VALUES ($1, $2, $3, 'firing', $4, $5, $6, $7, $8, $9, "
                    "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id",
                    params, 19, &res, NULL, err);
    if (rc == OB_ECONFLICT)
        rc = ob_fail(err, OB_ECONFLICT, "a firing alert with this key already exists");
    if (rc == 0)
        a->id = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

/* The one alert that sql (with $1 = param) selects. */
static int alerts_get_one(struct store_conn *conn, const char *sql, struct db_param param,
                          const char *what, struct alert_row *out, struct ob_error *err)
{
    return store_select_one(conn, sql, param, what, sizeof(*out), alerts_from_row, out, err);
}

int store_alert_find_firing(struct store_conn *conn, const char *open_key, struct alert_row *out,
                            struct ob_error *err)
{
    if (alerts_empty(open_key)) {
        memset(out, 0, sizeof(*out));
        return ob_fail(err, OB_EINVAL, "empty alert open key");
    }
    return alerts_get_one(conn, "SELECT " ALERT_COLUMNS " FROM alerts WHERE open_key = $1",
                          DB_P_TEXT(open_key), "no firing alert with this key", out, err);
}

/* After an UPDATE ... AND status = 'firing' changed nothing: OB_ENOTFOUND
 * when the alert is absent, else OB_ECONFLICT (it is resolved). */
static int alerts_not_firing(struct store_conn *conn, int64_t id, struct ob_error *err)
{
    struct alert_row a;
    int rc;

    rc = alerts_get_one(conn, "SELECT " ALERT_COLUMNS " FROM alerts WHERE id = $1", DB_P_INT(id),
                        "no such alert", &a, err);
    if (rc != 0)
        return rc;
    alert_row_release(&a);
    return ob_fail(err, OB_ECONFLICT, "alert %lld is already resolved", (long long)id);
}

int store_alert_refresh(struct store_conn *conn, int64_t id, const char *summary,
                        const char *annotations, int64_t ends_at_ms, int64_t silenced_by,
                        int64_t now_ms, struct ob_error *err)
{
    struct db_param params[6];
    int64_t affected = 0;
    int rc;

    params[0] = DB_P_INT(id);
    params[1] = DB_P_TEXT(summary);
    params[2] = DB_P_TEXT(annotations);
    params[3] = alerts_zero_null(ends_at_ms);
    params[4] = DB_P_INT(now_ms);
    params[5] = alerts_zero_null(silenced_by);
    /* A NULL summary or annotations keeps the stored one. */
    rc = store_exec(conn,
                    "UPDATE alerts SET event_count = event_count + 1, "
                    "summary = COALESCE($2, summary), annotations = COALESCE($3, annotations), "
                    "ends_at = $4, updated_at = $5, silenced_by = $6 "
                    "WHERE id = $1 AND status = 'firing'",
                    params, 6, NULL, &affected, err);
    if (rc != 0 || affected > 0)
        return rc;
    return alerts_not_firing(conn, id, err);
}

int store_alert_refresh_by_key(struct store_conn *conn, const char *open_key, const char *summary,
                               const char *annotations, int64_t ends_at_ms, int64_t silenced_by,
                               int64_t now_ms, int64_t *id, int64_t *incident_id,
                               struct ob_error *err)
{
    struct db_param params[6];
    struct db_result *res = NULL;
    int rc;

    params[0] = DB_P_TEXT(open_key);
    params[1] = DB_P_TEXT(summary);
    params[2] = DB_P_TEXT(annotations);
    params[3] = alerts_zero_null(ends_at_ms);
    params[4] = DB_P_INT(now_ms);
    params[5] = alerts_zero_null(silenced_by);
    /* One statement for the hot path: find the firing alert and count the repeat. */
    rc = store_exec(conn,
                    "UPDATE alerts SET event_count = event_count + 1, "
                    "summary = COALESCE($2, summary), annotations = COALESCE($3, annotations), "
                    "ends_at = $4, updated_at = $5, silenced_by = $6 "
                    "WHERE open_key = $1 RETURNING id, incident_id",
                    params, 6, &res, NULL, err);
    if (rc != 0)
        goto out;
    if (db_result_rows(res) == 0) {
        rc = ob_fail(err, OB_ENOTFOUND, "no firing alert with that key");
        goto out;
    }
    *id = db_result_int64(res, 0, 0);
    *incident_id = db_result_int64(res, 0, 1);
out:
    db_result_free(res);
    return rc;
}

int store_alert_set_silenced_by(struct store_conn *conn, int64_t id, int64_t silenced_by,
                                struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(id),
                                 silenced_by != 0 ? DB_P_INT(silenced_by) : DB_P_NULL};

    return store_exec(conn, "UPDATE alerts SET silenced_by = $2 WHERE id = $1", params, 2, NULL,
                      NULL, err);
}

int store_alert_next_end(struct store_conn *conn, int64_t now_ms, int64_t *end_ms,
                         struct ob_error *err)
{
    struct db_param param = DB_P_INT(now_ms);
    struct db_result *res = NULL;
    int rc =
        store_exec(conn, "SELECT MIN(ends_at) FROM alerts WHERE status = 'firing' AND ends_at > $1",
                   &param, 1, &res, NULL, err);

    *end_ms = 0;
    if (rc == 0 && db_result_rows(res) == 1 && !db_result_is_null(res, 0, 0))
        *end_ms = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

int store_alert_resolve(struct store_conn *conn, int64_t id, int64_t at_ms, struct ob_error *err)
{
    struct db_param params[2];
    int64_t affected = 0;
    int rc;

    if (at_ms == 0)
        at_ms = store_now_ms();
    params[0] = DB_P_INT(id);
    params[1] = DB_P_INT(at_ms);
    /* at_ms may be in the past (the sender's endsAt); updated_at never goes back. */
    rc = store_exec(conn,
                    "UPDATE alerts SET status = 'resolved', open_key = NULL, ends_at = $2, "
                    "updated_at = CASE WHEN updated_at > $2 THEN updated_at ELSE $2 END "
                    "WHERE id = $1 AND status = 'firing'",
                    params, 2, NULL, &affected, err);
    if (rc != 0 || affected > 0)
        return rc;
    return alerts_not_firing(conn, id, err);
}

int store_alert_resolve_incident(struct store_conn *conn, int64_t incident_id, int64_t at_ms,
                                 int64_t *resolved, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(incident_id), DB_P_INT(at_ms)};
    int64_t affected = 0;
    int rc;

    rc = store_exec(conn,
                    "UPDATE alerts SET status = 'resolved', open_key = NULL, ends_at = $2, "
                    "updated_at = CASE WHEN updated_at > $2 THEN updated_at ELSE $2 END "
                    "WHERE incident_id = $1 AND status = 'firing'",
                    params, 2, NULL, &affected, err);
    if (resolved != NULL)
        *resolved = affected;
    return rc;
}

/*
 * Only the filters in use appear in the WHERE clause (see store_audit.c);
 * the SQL text comes from this fixed set, never from the filter values.
 */
static size_t alerts_build_query(const struct alert_filter *filter, struct strbuf *sql,
                                 struct db_param *params)
{
    size_t n = 0;

    strbuf_adds(sql, "SELECT " ALERT_COLUMNS " FROM alerts WHERE 1 = 1");
    if (filter->before_id > 0) {
        params[n++] = DB_P_INT(filter->before_id);
        strbuf_addf(sql, " AND id < $%zu", n);
    }
    if (filter->status != NULL) {
        params[n++] = DB_P_TEXT(filter->status);
        strbuf_addf(sql, " AND status = $%zu", n);
    }
    if (filter->incident_id > 0) {
        params[n++] = DB_P_INT(filter->incident_id);
        strbuf_addf(sql, " AND incident_id = $%zu", n);
    }
    if (filter->unroutable_only)
        strbuf_adds(sql, " AND service IS NULL");
    params[n++] = DB_P_INT(alerts_limit(filter->limit));
    strbuf_addf(sql, " ORDER BY id DESC LIMIT $%zu", n);
    return n;
}

int store_alert_list(struct store_conn *conn, const struct alert_filter *filter,
                     struct alert_row **out, size_t *count, struct ob_error *err)
{
    static const struct alert_filter no_filter = {0};
    struct strbuf sql = STRBUF_INIT;
    struct db_param params[4];
    struct db_result *res = NULL;
    size_t n_params;
    int rc;

    *out = NULL;
    *count = 0;
    if (filter == NULL)
        filter = &no_filter;
    if (filter->status != NULL && strcmp(filter->status, "firing") != 0 &&
        strcmp(filter->status, "resolved") != 0)
        return ob_fail(err, OB_EINVAL, "alert status filter must be firing or resolved");
    n_params = alerts_build_query(filter, &sql, params);
    rc = store_exec(conn, strbuf_str(&sql), params, n_params, &res, NULL, err);
    if (rc == 0)
        rc = alerts_from_rows(res, out, count, err);
    db_result_free(res);
    strbuf_release(&sql);
    return rc;
}

int store_alert_list_expired(struct store_conn *conn, int64_t now_ms, size_t limit,
                             struct alert_row **out, size_t *count, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(now_ms), DB_P_INT(alerts_limit(limit))};
    struct db_result *res = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = store_exec(conn,
                    "SELECT " ALERT_COLUMNS " FROM alerts WHERE status = 'firing' "
                    "AND ends_at IS NOT NULL AND ends_at <= $1 ORDER BY ends_at, id LIMIT $2",
                    params, 2, &res, NULL, err);
    if (rc == 0)
        rc = alerts_from_rows(res, out, count, err);
    db_result_free(res);
    return rc;
}

void alert_row_release(struct alert_row *a)
{
    if (a == NULL)
        return;
    free(a->service);
    free(a->source);
    free(a->status);
    free(a->fingerprint);
    free(a->dedup_key);
    free(a->summary);
    free(a->severity);
    free(a->labels);
    free(a->annotations);
    free(a->details);
    free(a->source_name);
    free(a->generator_url);
    memset(a, 0, sizeof(*a));
}

void alert_row_array_free(struct alert_row *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        alert_row_release(&arr[i]);
    free(arr);
}
