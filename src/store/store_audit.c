/*
 * store_audit.c - the append-only audit log (the schema refuses UPDATE and
 * DELETE on audit_events; see migrations.c).
 */
#include "store/store.h"

#include "store/store_internal.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define AUDIT_COLUMNS       "id, at, actor, action, target, remote_addr, request_id, details"
#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX     1000

int store_audit_append(struct store_conn *conn, struct audit_event *ev, struct ob_error *err)
{
    struct db_result *res = NULL;
    struct db_param params[7];
    int rc;

    if (ev->actor == NULL || ev->actor[0] == '\0')
        return ob_fail(err, OB_EINVAL, "audit event without an actor");
    if (ev->action == NULL || ev->action[0] == '\0')
        return ob_fail(err, OB_EINVAL, "audit event without an action");
    if (ev->at_ms == 0)
        ev->at_ms = store_now_ms();

    params[0] = DB_P_INT(ev->at_ms);
    params[1] = DB_P_TEXT(ev->actor);
    params[2] = DB_P_TEXT(ev->action);
    params[3] = DB_P_TEXT(ev->target);
    params[4] = DB_P_TEXT(ev->remote_addr);
    params[5] = DB_P_TEXT(ev->request_id);
    params[6] = DB_P_TEXT(ev->details);
    rc = store_exec(conn,
                    "INSERT INTO audit_events (at, actor, action, target, remote_addr, "
                    "request_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    params, 7, &res, NULL, err);
    if (rc == 0)
        ev->id = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

static int audit_from_row(const struct db_result *res, size_t row, void *item, struct ob_error *err)
{
    struct audit_event *ev = item;
    bool ok = true;

    memset(ev, 0, sizeof(*ev));
    ev->id = db_result_int64(res, row, 0);
    ev->at_ms = db_result_int64(res, row, 1);
    ev->actor = db_result_dup(res, row, 2, &ok);
    ev->action = db_result_dup(res, row, 3, &ok);
    ev->target = db_result_dup(res, row, 4, &ok);
    ev->remote_addr = db_result_dup(res, row, 5, &ok);
    ev->request_id = db_result_dup(res, row, 6, &ok);
    ev->details = db_result_dup(res, row, 7, &ok);
    if (!ok) {
        audit_event_release(ev);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void audit_release_item(void *item)
{
    audit_event_release(item);
}

/*
 * Only the filters in use appear in the WHERE clause, so that each of the
 * few shapes gets its own plan (and index) on both databases; the SQL text
 * comes from this fixed set, never from the filter values.
 */
static size_t audit_build_query(const struct audit_filter *filter, struct strbuf *sql,
                                struct db_param *params)
{
    size_t n = 0;
    int64_t limit = filter->limit == 0 ? AUDIT_LIMIT_DEFAULT : (int64_t)filter->limit;

    if (filter->limit > AUDIT_LIMIT_MAX)
        limit = AUDIT_LIMIT_MAX;
    strbuf_adds(sql, "SELECT " AUDIT_COLUMNS " FROM audit_events WHERE 1 = 1");
    if (filter->before_id > 0) {
        params[n++] = DB_P_INT(filter->before_id);
        strbuf_addf(sql, " AND id < $%zu", n);
    }
    if (filter->actor != NULL) {
        params[n++] = DB_P_TEXT(filter->actor);
        strbuf_addf(sql, " AND actor = $%zu", n);
    }
    if (filter->action != NULL) {
        params[n++] = DB_P_TEXT(filter->action);
        strbuf_addf(sql, " AND action = $%zu", n);
    }
    params[n++] = DB_P_INT(limit);
    strbuf_addf(sql, " ORDER BY id DESC LIMIT $%zu", n);
    return n;
}

int store_audit_list(struct store_conn *conn, const struct audit_filter *filter,
                     struct audit_event **out, size_t *count, struct ob_error *err)
{
    static const struct audit_filter no_filter = {0};
    struct strbuf sql = STRBUF_INIT;
    struct db_param params[4];
    struct db_result *res = NULL;
    void *items = NULL;
    size_t n_params;
    int rc;

    *out = NULL;
    *count = 0;
    if (filter == NULL)
        filter = &no_filter;
    n_params = audit_build_query(filter, &sql, params);
    rc = store_exec(conn, strbuf_str(&sql), params, n_params, &res, NULL, err);
    if (rc == 0)
        rc = store_rows_collect(res, sizeof(**out), audit_from_row, audit_release_item, &items,
                                count, err);
    if (rc == 0)
        *out = items;
    db_result_free(res);
    strbuf_release(&sql);
    return rc;
}

void audit_event_release(struct audit_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->actor);
    free(ev->action);
    free(ev->target);
    free(ev->remote_addr);
    free(ev->request_id);
    free(ev->details);
    memset(ev, 0, sizeof(*ev));
}

void audit_event_array_free(struct audit_event *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        audit_event_release(&arr[i]);
    free(arr);
}
