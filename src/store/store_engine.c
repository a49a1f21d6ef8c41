/*
 * store_engine.c - escalations, the steps taken, and the outbox (schema
 * migration 3).  See engine.h for the exactly-once argument.
 */
#include "store/engine.h"

#include "store/store_internal.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ESCALATION_COLUMNS                                                                         \
    "incident_id, policy, state, next_step, next_pass, seq, next_at, started_at, updated_at, "     \
    "stop_reason"
#define OUTBOX_COLUMNS                                                                             \
    "id, incident_id, seq, user_name, contact_type, address, rule_index, due_at, state, "          \
    "attempts, provider, detail, created_at, updated_at, sent_at, sending_at, node, kind, "        \
    "external_id, message, reply_url, requested_by"

/* Row locks for claims: PostgreSQL skips rows another node holds; SQLite's
 * write transaction is exclusive, so it needs (and knows) no such clause. */
static const char *engine_lock_clause(const struct store_conn *conn)
{
    return conn->driver->dialect == STORE_DIALECT_POSTGRES ? " FOR UPDATE SKIP LOCKED" : "";
}

/* ---- escalations ---------------------------------------------------------------- */

static int escalation_from_row(const struct db_result *res, size_t row, void *item,
                               struct ob_error *err)
{
    struct escalation *e = item;
    bool ok = true;

    memset(e, 0, sizeof(*e));
    e->incident_id = db_result_int64(res, row, 0);
    e->policy = db_result_dup(res, row, 1, &ok);
    e->state = db_result_dup(res, row, 2, &ok);
    e->next_step = db_result_int64(res, row, 3);
    e->next_pass = db_result_int64(res, row, 4);
    e->seq = db_result_int64(res, row, 5);
    e->next_at_ms = db_result_int64(res, row, 6);
    e->started_at_ms = db_result_int64(res, row, 7);
    e->updated_at_ms = db_result_int64(res, row, 8);
    e->stop_reason = db_result_dup(res, row, 9, &ok);
    if (!ok) {
        escalation_release(e);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void escalation_release_item(void *item)
{
    escalation_release(item);
}

int store_escalation_start(struct store_conn *conn, int64_t incident_id, const char *policy,
                           int64_t due_ms, int64_t now_ms, struct ob_error *err)
{
    struct db_param params[4] = {DB_P_INT(incident_id), DB_P_TEXT(policy), DB_P_INT(due_ms),
                                 DB_P_INT(now_ms)};

    if (policy == NULL || policy[0] == '\0')
        return ob_fail(err, OB_EINVAL, "escalation without a policy");
    return store_exec(conn,
                      "INSERT INTO escalations (incident_id, policy, state, next_step, next_pass, "
                      "seq, next_at, started_at, updated_at) "
                      "VALUES ($1, $2, 'active', 0, 0, 0, $3, $4, $4)",
                      params, 4, NULL, NULL, err);
}

int store_escalation_get(struct store_conn *conn, int64_t incident_id, struct escalation *out,
                         struct ob_error *err)
{
    return store_select_one(conn,
                            "SELECT " ESCALATION_COLUMNS " FROM escalations WHERE incident_id = $1",
                            DB_P_INT(incident_id), "incident has no escalation", sizeof(*out),
                            escalation_from_row, out, err);
}

int store_escalation_stop(struct store_conn *conn, int64_t incident_id, const char *reason,
                          int64_t now_ms, int64_t *cancelled, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(incident_id), DB_P_INT(now_ms), DB_P_TEXT(reason)};
    int rc;

    rc = store_exec(conn,
                    "UPDATE escalations SET state = 'stopped', next_at = NULL, updated_at = $2, "
                    "stop_reason = $3 WHERE incident_id = $1 AND state = 'active'",
                    params, 3, NULL, NULL, err);
    if (rc != 0)
        return rc;
    return store_exec(conn,
                      "UPDATE outbox SET state = 'cancelled', updated_at = $2, detail = $3 "
                      "WHERE incident_id = $1 AND state = 'queued' AND kind = 'page'",
                      params, 3, NULL, cancelled, err);
}

int store_escalation_advance(struct store_conn *conn, int64_t incident_id, int64_t now_ms,
                             unsigned step_count, struct ob_error *err)
{
    struct escalation esc;
    struct db_param params[5];
    int64_t step, pass;
    int rc;

    rc = store_escalation_get(conn, incident_id, &esc, err);
    if (rc != 0)
        return rc;
    step = esc.next_step;
    pass = esc.next_pass;
    /* An exhausted escalation already points past its last pass (step 0 of
     * the pass after): an explicit escalation starts that one more pass. */
    if (step_count > 0 && step >= (int64_t)step_count) {
        step = 0;
        pass++;
    }
    escalation_release(&esc);
    params[0] = DB_P_INT(incident_id);
    params[1] = DB_P_INT(now_ms);
    params[2] = DB_P_INT(step);
    params[3] = DB_P_INT(pass);
    return store_exec(conn,
                      "UPDATE escalations SET state = 'active', next_at = $2, next_step = $3, "
                      "next_pass = $4, updated_at = $2, stop_reason = NULL "
                      "WHERE incident_id = $1",
                      params, 4, NULL, NULL, err);
}

int store_escalation_claim_due(struct store_conn *conn, int64_t now_ms, size_t limit,
                               struct escalation **out, size_t *count, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(now_ms), DB_P_INT(limit == 0 ? 100 : (int64_t)limit)};
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT " ESCALATION_COLUMNS " FROM escalations "
             "WHERE next_at IS NOT NULL AND next_at <= $1 ORDER BY next_at LIMIT $2%s",
             engine_lock_clause(conn));
    return store_select_all(conn, sql, params, 2, sizeof(**out), escalation_from_row,
                            escalation_release_item, (void **)out, count, err);
}

static int engine_min_due(struct store_conn *conn, const char *sql, int64_t *due_ms,
                          struct ob_error *err)
{
    struct db_result *res = NULL;
    int rc = store_exec(conn, sql, NULL, 0, &res, NULL, err);

    *due_ms = 0;
    if (rc == 0 && db_result_rows(res) == 1 && !db_result_is_null(res, 0, 0))
        *due_ms = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

int store_escalation_next_due(struct store_conn *conn, int64_t *due_ms, struct ob_error *err)
{
    return engine_min_due(conn,
                          "SELECT next_at FROM escalations WHERE next_at IS NOT NULL "
                          "ORDER BY next_at LIMIT 1",
                          due_ms, err);
}

int store_escalation_record_step(struct store_conn *conn, const struct escalation *esc,
                                 int64_t step, int64_t pass, int64_t taken_ms, const char *node,
                                 const char *targets_json, int64_t next_step, int64_t next_pass,
                                 int64_t next_at_ms, struct ob_error *err)
{
    struct db_param params[8];
    int64_t affected = 0;
    int rc;

    params[0] = DB_P_INT(esc->incident_id);
    params[1] = DB_P_INT(esc->seq + 1);
    params[2] = DB_P_INT(step);
    params[3] = DB_P_INT(pass);
    params[4] = DB_P_INT(esc->next_at_ms);
    params[5] = DB_P_INT(taken_ms);
    params[6] = DB_P_TEXT(node);
    params[7] = DB_P_TEXT(targets_json);
    rc = store_exec(conn,
                    "INSERT INTO escalation_steps (incident_id, seq, step, pass, due_at, "
                    "taken_at, node, targets) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    params, 8, NULL, NULL, err);
    if (rc != 0)
        return rc;

    params[0] = DB_P_INT(esc->incident_id);
    params[1] = DB_P_INT(esc->seq);
    params[2] = DB_P_INT(next_step);
    params[3] = DB_P_INT(next_pass);
    params[4] = next_at_ms != 0 ? DB_P_INT(next_at_ms) : DB_P_NULL;
    params[5] = DB_P_INT(taken_ms);
    params[6] = DB_P_TEXT(next_at_ms != 0 ? "active" : "exhausted");
    /* seq guards against a concurrent advance: the row must be as claimed. */
    rc = store_exec(conn,
                    "UPDATE escalations SET seq = seq + 1, next_step = $3, next_pass = $4, "
                    "next_at = $5, updated_at = $6, state = $7 "
                    "WHERE incident_id = $1 AND seq = $2",
                    params, 7, NULL, &affected, err);
    if (rc == 0 && affected != 1)
        rc = ob_fail(err, OB_ECONFLICT, "escalation of incident %lld moved on meanwhile",
                     (long long)esc->incident_id);
    return rc;
}

int store_escalation_fail(struct store_conn *conn, int64_t incident_id, const char *reason,
                          int64_t now_ms, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(incident_id), DB_P_INT(now_ms), DB_P_TEXT(reason)};

    return store_exec(conn,
                      "UPDATE escalations SET state = 'stopped', next_at = NULL, updated_at = $2, "
                      "stop_reason = $3 WHERE incident_id = $1",
                      params, 3, NULL, NULL, err);
}

static int step_from_row(const struct db_result *res, size_t row, void *item, struct ob_error *err)
{
    struct escalation_step_row *s = item;
    bool ok = true;

    memset(s, 0, sizeof(*s));
    s->seq = db_result_int64(res, row, 0);
    s->step = db_result_int64(res, row, 1);
    s->pass = db_result_int64(res, row, 2);
    s->due_at_ms = db_result_int64(res, row, 3);
    s->taken_at_ms = db_result_int64(res, row, 4);
    s->node = db_result_dup(res, row, 5, &ok);
    s->targets = db_result_dup(res, row, 6, &ok);
    if (!ok) {
        free(s->node);
        free(s->targets);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void step_release_item(void *item)
{
    struct escalation_step_row *s = item;

    free(s->node);
    free(s->targets);
}

int store_escalation_steps(struct store_conn *conn, int64_t incident_id,
                           struct escalation_step_row **out, size_t *count, struct ob_error *err)
{
    struct db_param param = DB_P_INT(incident_id);

    return store_select_all(conn,
                            "SELECT seq, step, pass, due_at, taken_at, node, targets "
                            "FROM escalation_steps WHERE incident_id = $1 ORDER BY seq",
                            &param, 1, sizeof(**out), step_from_row, step_release_item,
                            (void **)out, count, err);
}

/* ---- outbox ------------------------------------------------------------------------ */

static int outbox_from_row(const struct db_result *res, size_t row, void *item,
                           struct ob_error *err)
{
    struct outbox_row *r = item;
    bool ok = true;

    memset(r, 0, sizeof(*r));
    r->id = db_result_int64(res, row, 0);
    r->incident_id = db_result_int64(res, row, 1);
    r->seq = db_result_int64(res, row, 2);
    r->user_name = db_result_dup(res, row, 3, &ok);
    r->contact_type = db_result_dup(res, row, 4, &ok);
    r->address = db_result_dup(res, row, 5, &ok);
    r->rule_index = db_result_int64(res, row, 6);
    r->due_at_ms = db_result_int64(res, row, 7);
    r->state = db_result_dup(res, row, 8, &ok);
    r->attempts = db_result_int64(res, row, 9);
    r->provider = db_result_dup(res, row, 10, &ok);
    r->detail = db_result_dup(res, row, 11, &ok);
    r->created_at_ms = db_result_int64(res, row, 12);
    r->updated_at_ms = db_result_int64(res, row, 13);
    r->sent_at_ms = db_result_int64(res, row, 14);
    r->sending_at_ms = db_result_int64(res, row, 15);
    r->node = db_result_dup(res, row, 16, &ok);
    r->kind = db_result_dup(res, row, 17, &ok);
    r->external_id = db_result_dup(res, row, 18, &ok);
    r->message = db_result_dup(res, row, 19, &ok);
    r->reply_url = db_result_dup(res, row, 20, &ok);
    r->requested_by = db_result_dup(res, row, 21, &ok);
    if (!ok) {
        outbox_row_release(r);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void outbox_release_item(void *item)
{
    outbox_row_release(item);
}

int store_outbox_insert(struct store_conn *conn, struct outbox_row *row, struct ob_error *err)
{
    struct db_param params[12];
    struct db_result *res = NULL;
    int rc;

    if (row->user_name == NULL || row->contact_type == NULL || row->address == NULL)
        return ob_fail(err, OB_EINVAL, "outbox row without user, contact type or address");
    params[0] = row->incident_id != 0 ? DB_P_INT(row->incident_id) : DB_P_NULL;
    params[1] = DB_P_INT(row->seq);
    params[2] = DB_P_TEXT(row->user_name);
    params[3] = DB_P_TEXT(row->contact_type);
    params[4] = DB_P_TEXT(row->address);
    params[5] = DB_P_INT(row->rule_index);
    params[6] = DB_P_INT(row->due_at_ms);
    params[7] = DB_P_INT(row->created_at_ms);
    params[8] = DB_P_TEXT(row->kind != NULL ? row->kind : "page");
    params[9] = row->message != NULL ? DB_P_TEXT(row->message) : DB_P_NULL;
    params[10] = row->reply_url != NULL ? DB_P_TEXT(row->reply_url) : DB_P_NULL;
    params[11] = row->requested_by != NULL ? DB_P_TEXT(row->requested_by) : DB_P_NULL;
    rc = store_exec(conn,
                    "INSERT INTO outbox (incident_id, seq, user_name, contact_type, address, "
                    "rule_index, due_at, state, created_at, updated_at, kind, message, reply_url, "
                    "requested_by) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8, $9, $10, $11, $12) "
                    "RETURNING id",
                    params, 12, &res, NULL, err);
    if (rc == 0)
        row->id = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

int store_outbox_claim_due(struct store_conn *conn, int64_t now_ms, size_t limit,
                           struct outbox_row **out, size_t *count, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(now_ms), DB_P_INT(limit == 0 ? 100 : (int64_t)limit)};
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE state = 'queued' AND due_at <= $1 "
             "ORDER BY due_at, id LIMIT $2%s",
             engine_lock_clause(conn));
    return store_select_all(conn, sql, params, 2, sizeof(**out), outbox_from_row,
                            outbox_release_item, (void **)out, count, err);
}

int store_outbox_next_due(struct store_conn *conn, int64_t *due_ms, struct ob_error *err)
{
    return engine_min_due(conn,
                          "SELECT due_at FROM outbox WHERE state = 'queued' "
                          "ORDER BY due_at LIMIT 1",
                          due_ms, err);
}

int store_outbox_finish(struct store_conn *conn, int64_t id, const char *state,
                        const char *provider, const char *detail, int64_t sent_at_ms,
                        int64_t now_ms, struct ob_error *err)
{
    struct db_param params[6] = {DB_P_INT(id),
                                 DB_P_TEXT(state),
                                 DB_P_TEXT(provider),
                                 DB_P_TEXT(detail),
                                 sent_at_ms != 0 ? DB_P_INT(sent_at_ms) : DB_P_NULL,
                                 DB_P_INT(now_ms)};
    int64_t affected = 0;
    int rc;

    rc = store_exec(conn,
                    "UPDATE outbox SET state = $2, provider = $3, detail = $4, "
                    "sent_at = COALESCE($5, sent_at), attempts = attempts + 1, updated_at = $6 "
                    "WHERE id = $1",
                    params, 6, NULL, &affected, err);
    if (rc == 0 && affected != 1)
        rc = ob_fail(err, OB_ENOTFOUND, "no notification %lld", (long long)id);
    return rc;
}

int store_outbox_mark_sending(struct store_conn *conn, int64_t id, const char *node, int64_t now_ms,
                              struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(id), DB_P_INT(now_ms), DB_P_TEXT(node)};
    int64_t affected = 0;
    int rc;

    rc =
        store_exec(conn,
                   "UPDATE outbox SET state = 'sending', attempts = attempts + 1, sending_at = $2, "
                   "node = $3, updated_at = $2 WHERE id = $1 AND state = 'queued'",
                   params, 3, NULL, &affected, err);
    if (rc == 0 && affected != 1)
        rc = ob_fail(err, OB_ECONFLICT, "notification %lld is no longer queued", (long long)id);
    return rc;
}

int store_outbox_record(struct store_conn *conn, int64_t id, int64_t attempts,
                        const char *from_state, const char *state, const char *provider,
                        const char *detail, const char *external_id, int64_t sent_at_ms,
                        int64_t due_at_ms, int64_t now_ms, struct ob_error *err)
{
    struct db_param params[10] = {
        DB_P_INT(id),
        DB_P_INT(attempts),
        DB_P_TEXT(from_state),
        DB_P_TEXT(state),
        DB_P_TEXT(provider),
        DB_P_TEXT(detail),
        sent_at_ms != 0 ? DB_P_INT(sent_at_ms) : DB_P_NULL,
        due_at_ms != 0 ? DB_P_INT(due_at_ms) : DB_P_NULL,
        DB_P_INT(now_ms),
        external_id != NULL && external_id[0] != '\0' ? DB_P_TEXT(external_id) : DB_P_NULL};
    int64_t affected = 0;
    int rc;

    rc = store_exec(conn,
                    "UPDATE outbox SET state = $4, provider = COALESCE($5, provider), detail = $6, "
                    "sent_at = COALESCE($7, sent_at), due_at = COALESCE($8, due_at), "
                    "updated_at = $9, external_id = COALESCE($10, external_id) "
                    "WHERE id = $1 AND attempts = $2 AND state = $3",
                    params, 10, NULL, &affected, err);
    if (rc == 0 && affected != 1)
        rc = ob_fail(err, OB_ECONFLICT, "notification %lld moved on meanwhile", (long long)id);
    return rc;
}

int store_outbox_claim_stale(struct store_conn *conn, const char *node, int64_t stale_before_ms,
                             size_t limit, struct outbox_row **out, size_t *count,
                             struct ob_error *err)
{
    struct db_param params[3] = {DB_P_TEXT(node != NULL ? node : ""), DB_P_INT(stale_before_ms),
                                 DB_P_INT(limit == 0 ? 100 : (int64_t)limit)};
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE state = 'sending' "
             "AND (node = $1 OR sending_at < $2) ORDER BY sending_at, id LIMIT $3%s",
             engine_lock_clause(conn));
    return store_select_all(conn, sql, params, 3, sizeof(**out), outbox_from_row,
                            outbox_release_item, (void **)out, count, err);
}

int store_outbox_oldest_sending(struct store_conn *conn, int64_t *sending_ms, struct ob_error *err)
{
    return engine_min_due(conn,
                          "SELECT sending_at FROM outbox WHERE state = 'sending' "
                          "ORDER BY sending_at LIMIT 1",
                          sending_ms, err);
}

static int engine_count(struct store_conn *conn, const char *sql, const struct db_param *params,
                        size_t nparams, int64_t *count, struct ob_error *err)
{
    struct db_result *res = NULL;
    int rc = store_exec(conn, sql, params, nparams, &res, NULL, err);

    *count = 0;
    if (rc == 0 && db_result_rows(res) == 1)
        *count = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

int store_outbox_count_recent(struct store_conn *conn, const char *contact_type,
                              const char *address, int64_t since_ms, int64_t *count,
                              struct ob_error *err)
{
    struct db_param params[3] = {DB_P_TEXT(contact_type), DB_P_TEXT(address), DB_P_INT(since_ms)};

    return engine_count(conn,
                        "SELECT COUNT(*) FROM outbox WHERE contact_type = $1 AND address = $2 "
                        "AND sending_at >= $3 AND kind = 'page'",
                        params, 3, count, err);
}

int store_outbox_incident_attempted(struct store_conn *conn, int64_t incident_id, int64_t id,
                                    int *attempted, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(incident_id), DB_P_INT(id)};
    int64_t n = 0;
    int rc = engine_count(conn,
                          "SELECT COUNT(*) FROM outbox WHERE incident_id = $1 AND id <> $2 "
                          "AND sending_at IS NOT NULL AND kind = 'page'",
                          params, 2, &n, err);

    *attempted = n > 0;
    return rc;
}

int store_outbox_list(struct store_conn *conn, int64_t incident_id, struct outbox_row **out,
                      size_t *count, struct ob_error *err)
{
    struct db_param param = DB_P_INT(incident_id);

    return store_select_all(
        conn, "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE incident_id = $1 ORDER BY id", &param, 1,
        sizeof(**out), outbox_from_row, outbox_release_item, (void **)out, count, err);
}

int store_outbox_get(struct store_conn *conn, int64_t id, struct outbox_row *out,
                     struct ob_error *err)
{
    struct db_param param = DB_P_INT(id);
    struct outbox_row *rows = NULL;
    size_t count = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_select_all(conn, "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = $1", &param, 1,
                          sizeof(*rows), outbox_from_row, outbox_release_item, (void **)&rows,
                          &count, err);
    if (rc == 0 && count == 0)
        rc = ob_fail(err, OB_ENOTFOUND, "no notification %lld", (long long)id);
    if (rc == 0) {
        *out = rows[0];
        memset(&rows[0], 0, sizeof(rows[0]));
    }
    outbox_row_array_free(rows, count);
    return rc;
}

int store_outbox_queue_updates(struct store_conn *conn, int64_t incident_id, int64_t now_ms,
                               int64_t *queued, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(incident_id), DB_P_INT(now_ms)};

    /* One update row per message (seq = -page id): a new change of state
     * re-queues it.  An attempt in flight read the incident when it was
     * claimed and may send an older state: its due_at moves on instead, and
     * store_outbox_requeue_changed() sends it again once that attempt ends. */
    return store_exec(
        conn,
        "INSERT INTO outbox (incident_id, seq, user_name, contact_type, address, "
        "rule_index, due_at, state, created_at, updated_at, kind, external_id) "
        "SELECT incident_id, -id, user_name, contact_type, address, 0, $2, "
        "'queued', $2, $2, 'update', external_id FROM outbox "
        "WHERE incident_id = $1 AND kind = 'page' AND external_id IS NOT NULL "
        "AND state IN ('delivered', 'answered', 'acknowledged') "
        "ON CONFLICT (incident_id, seq, user_name, rule_index, address) "
        "DO UPDATE SET due_at = excluded.due_at, updated_at = excluded.updated_at, "
        "state = CASE WHEN outbox.state = 'sending' THEN 'sending' ELSE 'queued' END, "
        "attempts = CASE WHEN outbox.state = 'sending' THEN outbox.attempts ELSE 0 "
        "END",
        params, 2, NULL, queued, err);
}

int store_outbox_requeue_changed(struct store_conn *conn, int64_t id, int64_t claimed_due_ms,
                                 int64_t now_ms, int *requeued, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(id), DB_P_INT(claimed_due_ms), DB_P_INT(now_ms)};
    int64_t affected = 0;
    int rc = store_exec(conn,
                        "UPDATE outbox SET state = 'queued', attempts = 0, updated_at = $3 "
                        "WHERE id = $1 AND kind = 'update' AND due_at > $2 AND state <> 'queued'",
                        params, 3, NULL, &affected, err);

    *requeued = rc == 0 && affected > 0;
    return rc;
}

int store_outbox_count_calls(struct store_conn *conn, const char *column, const char *value,
                             int64_t since_ms, int64_t *count, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_TEXT(value), DB_P_INT(since_ms)};
    const char *sql;

    if (strcmp(column, "requested_by") == 0)
        sql = "SELECT COUNT(*) FROM outbox WHERE kind = 'tel' AND seq = 0 AND requested_by = $1 "
              "AND created_at >= $2";
    else if (strcmp(column, "user_name") == 0)
        sql = "SELECT COUNT(*) FROM outbox WHERE kind = 'tel' AND seq = 0 AND user_name = $1 "
              "AND created_at >= $2";
    else
        return ob_fail(err, OB_EINVAL, "calls are counted by requested_by or user_name");
    return engine_count(conn, sql, params, 2, count, err);
}

int store_outbox_call(struct store_conn *conn, int64_t call_id, struct outbox_row **out,
                      size_t *count, struct ob_error *err)
{
    struct db_param param = DB_P_INT(call_id);
    int rc = store_select_all(conn,
                              "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE kind = 'tel' AND "
                              "(id = $1 AND seq = 0 OR seq = $1) ORDER BY id",
                              &param, 1, sizeof(**out), outbox_from_row, outbox_release_item,
                              (void **)out, count, err);

    if (rc == 0 && *count == 0)
        rc = ob_fail(err, OB_ENOTFOUND, "no call %lld", (long long)call_id);
    return rc;
}

/* ---- release ------------------------------------------------------------------------- */

void escalation_release(struct escalation *e)
{
    if (e == NULL)
        return;
    free(e->policy);
    free(e->state);
    free(e->stop_reason);
    memset(e, 0, sizeof(*e));
}

void escalation_array_free(struct escalation *arr, size_t count)
{
    for (size_t i = 0; i < count; i++)
        escalation_release(&arr[i]);
    free(arr);
}

void escalation_step_row_array_free(struct escalation_step_row *arr, size_t count)
{
    for (size_t i = 0; i < count; i++)
        step_release_item(&arr[i]);
    free(arr);
}

void outbox_row_release(struct outbox_row *r)
{
    if (r == NULL)
        return;
    free(r->user_name);
    free(r->contact_type);
    free(r->address);
    free(r->state);
    free(r->provider);
    free(r->detail);
    free(r->node);
    free(r->kind);
    free(r->external_id);
    free(r->message);
    free(r->reply_url);
    free(r->requested_by);
    memset(r, 0, sizeof(*r));
}

void outbox_row_array_free(struct outbox_row *arr, size_t count)
{
    for (size_t i = 0; i < count; i++)
        outbox_row_release(&arr[i]);
    free(arr);
}
