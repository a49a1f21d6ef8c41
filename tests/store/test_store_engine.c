/*
 * test_store_engine.c - the on-call engine's durable state (schema
 * migrations 3 and 4): escalations, steps taken, the outbox, the claims that
 * keep two nodes from taking the same step, and the dispatcher's attempts
 * (sending, outcome guarded by the attempt number, recovery), on every driver.
 *
 * Runs against OPSBELL_TEST_STORE_URL, or, when unset, a sqlite: file in a
 * fresh temporary directory.  A PostgreSQL database is wiped first (DROP
 * SCHEMA public CASCADE), so point it only at a throwaway database, e.g.
 *   url=$(scripts/pg-test.sh start /tmp/pg | tail -1)
 *   OPSBELL_TEST_STORE_URL=$url build/dev/tests/store/test_store_engine
 *   scripts/pg-test.sh stop /tmp/pg
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/engine.h"
#include "store/incidents.h"
#include "store/store_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- tests ----------------------------------------------------------------------- */

static void test_open(void **state)
{
    struct ob_error err;

    if (store_open(g.url, 3, &g.store, &err) != 0)
        fail_msg("store_open %s: %s", g.url, err.msg);
}

static void test_escalation_start_get_stop(void **state)
{
    struct store_conn *conn = conn_get();
    struct escalation esc;
    struct ob_error err;
    int64_t id = new_incident(conn, "api", "ops", "start-1", T0);
    int64_t cancelled = -1;

    CHECK_OK(store_escalation_start, conn, id, "ops-default", T0, T0);
    assert_int_equal(store_escalation_start(conn, id, "ops-default", T0, T0, &err), OB_ECONFLICT);
    CHECK_OK(store_escalation_get, conn, id, &esc);
    assert_string_equal(esc.state, "active");
    assert_string_equal(esc.policy, "ops-default");
    assert_int_equal(esc.next_step, 0);
    assert_int_equal(esc.next_pass, 0);
    assert_int_equal(esc.seq, 0);
    assert_int_equal(esc.next_at_ms, T0);
    escalation_release(&esc);

    /* Two queued notifications and one already delivered. */
    for (int i = 0; i < 3; i++) {
        struct outbox_row row = {.incident_id = id,
                                 .seq = 1,
                                 .user_name = "ann",
                                 .contact_type = "email",
                                 .address = "ann@example.com",
                                 .rule_index = i,
                                 .due_at_ms = T0 + i * 1000,
                                 .created_at_ms = T0};
        CHECK_OK(store_outbox_insert, conn, &row);
        assert_true(row.id > 0);
        if (i == 0)
            CHECK_OK(store_outbox_finish, conn, row.id, "delivered", "log", "ok", T0, T0);
    }
    /* An ack stops the escalation and cancels what is queued, in one go. */
    CHECK_OK(store_incident_set_status, conn, id, "acknowledged", "user:ann", T0 + 500);
    CHECK_OK(store_escalation_get, conn, id, &esc);
    assert_string_equal(esc.state, "stopped");
    assert_int_equal(esc.next_at_ms, 0);
    assert_string_equal(esc.stop_reason, "acknowledged by user:ann");
    escalation_release(&esc);
    {
        struct db_param p = DB_P_INT(id);
        assert_int_equal(count_rows(conn,
                                    "SELECT COUNT(*) FROM outbox WHERE incident_id = $1 AND "
                                    "state = 'cancelled'",
                                    &p, 1),
                         2);
        assert_int_equal(count_rows(conn,
                                    "SELECT COUNT(*) FROM outbox WHERE incident_id = $1 AND "
                                    "state = 'delivered'",
                                    &p, 1),
                         1);
    }
    /* Stopping again changes nothing. */
    CHECK_OK(store_escalation_stop, conn, id, "again", T0 + 600, &cancelled);
    assert_int_equal(cancelled, 0);
    assert_int_equal(store_escalation_get(conn, 999999, &esc, &err), OB_ENOTFOUND);
    conn_put(conn);
}

static void test_claim_record_and_no_second_taking(void **state)
{
    struct store_conn *conn = conn_get();
    struct escalation *due = NULL, esc;
    struct escalation_step_row *steps = NULL;
    size_t n = 0, n_steps = 0;
    struct ob_error err;
    int64_t ids[3], next = 0;

    /* Make earlier tests' escalations not due. */
    exec_ok(conn, "UPDATE escalations SET state = 'stopped', next_at = NULL", NULL, 0);
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof(key), "claim-%d", i);
        ids[i] = new_incident(conn, "api", "ops", key, T0);
        /* due at T0+3000, T0+1000, T0+2000 */
        CHECK_OK(store_escalation_start, conn, ids[i], "p", T0 + ((i + 2) % 3 + 1) * 1000, T0);
    }
    CHECK_OK(store_escalation_next_due, conn, &next);
    assert_int_equal(next, T0 + 1000);

    CHECK_OK(store_begin, conn);
    CHECK_OK(store_escalation_claim_due, conn, T0 + 2000, 10, &due, &n);
    assert_int_equal(n, 2); /* oldest due first, not the one due later */
    assert_int_equal(due[0].incident_id, ids[1]);
    assert_int_equal(due[1].incident_id, ids[2]);
    CHECK_OK(store_escalation_record_step, conn, &due[0], 0, 0, T0 + 2005, "node-a", "[\"ann\"]", 1,
             0, T0 + 62005);
    CHECK_OK(store_escalation_record_step, conn, &due[1], 0, 0, T0 + 2005, "node-a", "[]", 0, 1, 0);
    CHECK_OK(store_commit, conn);

    /* A stale claim (same seq) can never take the step a second time. */
    CHECK_OK(store_begin, conn);
    assert_int_equal(store_escalation_record_step(conn, &due[0], 0, 0, T0 + 3000, "node-b", "[]", 1,
                                                  0, T0 + 9000, &err),
                     OB_ECONFLICT);
    store_rollback(conn);
    escalation_array_free(due, n);

    CHECK_OK(store_escalation_get, conn, ids[1], &esc);
    assert_string_equal(esc.state, "active");
    assert_int_equal(esc.seq, 1);
    assert_int_equal(esc.next_step, 1);
    assert_int_equal(esc.next_at_ms, T0 + 62005);
    escalation_release(&esc);
    CHECK_OK(store_escalation_get, conn, ids[2], &esc);
    assert_string_equal(esc.state, "exhausted");
    assert_int_equal(esc.next_at_ms, 0);
    escalation_release(&esc);
    CHECK_OK(store_escalation_steps, conn, ids[1], &steps, &n_steps);
    assert_int_equal(n_steps, 1);
    assert_int_equal(steps[0].seq, 1);
    assert_int_equal(steps[0].due_at_ms, T0 + 1000);
    assert_int_equal(steps[0].taken_at_ms, T0 + 2005);
    assert_string_equal(steps[0].node, "node-a");
    assert_string_equal(steps[0].targets, "[\"ann\"]");
    escalation_step_row_array_free(steps, n_steps);

    /* Escalate now: an exhausted escalation comes back for one more pass. */
    CHECK_OK(store_escalation_advance, conn, ids[2], T0 + 5000, 2);
    CHECK_OK(store_escalation_get, conn, ids[2], &esc);
    assert_string_equal(esc.state, "active");
    assert_int_equal(esc.next_at_ms, T0 + 5000);
    assert_int_equal(esc.next_step, 0);
    assert_int_equal(esc.next_pass, 1); /* the pass after the last one taken */
    escalation_release(&esc);
    /* ... and an active one is due at once, at the step it was going to take. */
    CHECK_OK(store_escalation_advance, conn, ids[1], T0 + 5000, 2);
    CHECK_OK(store_escalation_get, conn, ids[1], &esc);
    assert_int_equal(esc.next_at_ms, T0 + 5000);
    assert_int_equal(esc.next_step, 1);
    escalation_release(&esc);
    conn_put(conn);
}

/* Two nodes claim at once: on PostgreSQL each gets rows the other does
 * not hold (SKIP LOCKED); SQLite's writer lock makes the second wait. */
static void test_two_claimers_never_share_a_row(void **state)
{
    struct store_conn *a, *b;
    struct escalation *due_a = NULL, *due_b = NULL;
    size_t n_a = 0, n_b = 0;

    if (!is_postgres())
        skip();
    a = conn_get();
    b = conn_get();
    exec_ok(a, "UPDATE escalations SET state = 'stopped', next_at = NULL", NULL, 0);
    for (int i = 0; i < 6; i++) {
        char key[32];
        snprintf(key, sizeof(key), "two-%d", i);
        CHECK_OK(store_escalation_start, a, new_incident(a, "api", "ops", key, T0), "p", T0 + i,
                 T0);
    }
    CHECK_OK(store_begin, a);
    CHECK_OK(store_escalation_claim_due, a, T0 + 100, 4, &due_a, &n_a);
    CHECK_OK(store_begin, b);
    CHECK_OK(store_escalation_claim_due, b, T0 + 100, 10, &due_b, &n_b);
    assert_int_equal(n_a, 4);
    assert_int_equal(n_b, 2);
    for (size_t i = 0; i < n_a; i++)
        for (size_t j = 0; j < n_b; j++)
            assert_int_not_equal(due_a[i].incident_id, due_b[j].incident_id);
    store_rollback(b);
    /* Node A dies: its claims go back with its transaction. */
    store_rollback(a);
    escalation_array_free(due_b, n_b);
    CHECK_OK(store_begin, b);
    CHECK_OK(store_escalation_claim_due, b, T0 + 100, 10, &due_b, &n_b);
    assert_int_equal(n_b, 6);
    store_rollback(b);
    escalation_array_free(due_a, n_a);
    escalation_array_free(due_b, n_b);
    conn_put(b);
    conn_put(a);
}

static void test_outbox_claim_and_finish(void **state)
{
    struct store_conn *conn = conn_get();
    struct outbox_row *rows = NULL, *all = NULL;
    size_t n = 0, n_all = 0;
    struct ob_error err;
    int64_t id = new_incident(conn, "api", "ops", "outbox-1", T0), next = 0;

    exec_ok(conn, "UPDATE outbox SET state = 'cancelled' WHERE state = 'queued'", NULL, 0);
    for (int i = 0; i < 3; i++) {
        struct outbox_row row = {.incident_id = id,
                                 .seq = 1,
                                 .user_name = "bob",
                                 .contact_type = i == 0 ? "email" : "voice",
                                 .address = i == 0 ? "bob@example.com" : "+4930111",
                                 .rule_index = i,
                                 .due_at_ms = T0 + (2 - i) * 1000,
                                 .created_at_ms = T0};
        CHECK_OK(store_outbox_insert, conn, &row);
    }
    {
        struct outbox_row dup = {.incident_id = id,
                                 .seq = 1,
                                 .user_name = "bob",
                                 .contact_type = "email",
                                 .address = "bob@example.com",
                                 .rule_index = 0,
                                 .due_at_ms = T0,
                                 .created_at_ms = T0};
        assert_int_equal(store_outbox_insert(conn, &dup, &err), OB_ECONFLICT);
    }
    CHECK_OK(store_outbox_next_due, conn, &next);
    assert_int_equal(next, T0);
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_outbox_claim_due, conn, T0 + 1000, 10, &rows, &n);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].due_at_ms, T0);
    assert_int_equal(rows[1].due_at_ms, T0 + 1000);
    CHECK_OK(store_outbox_finish, conn, rows[0].id, "delivered", "log", "appended", T0 + 1001,
             T0 + 1001);
    CHECK_OK(store_outbox_finish, conn, rows[1].id, "failed-permanent", NULL, "no provider", 0,
             T0 + 1001);
    CHECK_OK(store_commit, conn);
    assert_int_equal(store_outbox_finish(conn, 987654321, "delivered", NULL, NULL, 0, T0, &err),
                     OB_ENOTFOUND);
    CHECK_OK(store_outbox_list, conn, id, &all, &n_all);
    assert_int_equal(n_all, 3);
    assert_string_equal(all[0].state, "queued"); /* due last, not claimed */
    assert_string_equal(all[1].state, "failed-permanent");
    assert_null(all[1].provider);
    assert_int_equal(all[1].sent_at_ms, 0);
    assert_string_equal(all[2].state, "delivered");
    assert_string_equal(all[2].provider, "log");
    assert_int_equal(all[2].attempts, 1);
    assert_int_equal(all[2].sent_at_ms, T0 + 1001);
    outbox_row_array_free(rows, n);
    outbox_row_array_free(all, n_all);
    conn_put(conn);
}

/* The dispatcher's two transactions, the guard on the attempt number, the
 * recovery of rows left in `sending`, and the rate-limit count (migration 4). */
static void test_outbox_sending_and_recovery(void **state)
{
    struct store_conn *conn = conn_get();
    struct outbox_row *rows = NULL, *stale = NULL, *all = NULL;
    size_t n = 0, n_stale = 0, n_all = 0;
    struct ob_error err;
    int64_t id = new_incident(conn, "api", "ops", "sending-1", T0), ids[3], count = 0, oldest = 0;
    int attempted = 1;

    exec_ok(conn, "UPDATE outbox SET state = 'cancelled' WHERE state IN ('queued', 'sending')",
            NULL, 0);
    for (int i = 0; i < 3; i++) {
        struct outbox_row row = {.incident_id = id,
                                 .seq = 1,
                                 .user_name = "cat",
                                 .contact_type = "webhook",
                                 .address = "http://127.0.0.1:9/hook",
                                 .rule_index = i,
                                 .due_at_ms = T0 + i,
                                 .created_at_ms = T0};
        CHECK_OK(store_outbox_insert, conn, &row);
        ids[i] = row.id;
    }
    CHECK_OK(store_outbox_incident_attempted, conn, id, ids[0], &attempted);
    assert_int_equal(attempted, 0);

    /* Transaction 1: claim and mark sending; a second mark fails. */
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_outbox_claim_due, conn, T0 + 10, 1, &rows, &n);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, ids[0]);
    CHECK_OK(store_outbox_mark_sending, conn, ids[0], "node-a", T0 + 10);
    assert_int_equal(store_outbox_mark_sending(conn, ids[0], "node-a", T0 + 10, &err),
                     OB_ECONFLICT);
    CHECK_OK(store_commit, conn);
    outbox_row_array_free(rows, n);
    rows = NULL;
    CHECK_OK(store_outbox_incident_attempted, conn, id, ids[1], &attempted);
    assert_int_equal(attempted, 1);
    CHECK_OK(store_outbox_oldest_sending, conn, &oldest);
    assert_int_equal(oldest, T0 + 10);
    /* A `sending` row is not claimed as due again. */
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_outbox_claim_due, conn, T0 + 10, 10, &rows, &n);
    assert_int_equal(n, 2);
    CHECK_OK(store_commit, conn);
    outbox_row_array_free(rows, n);
    rows = NULL;

    /* Transaction 2: a temporary failure goes back to the queue, later. */
    assert_int_equal(store_outbox_record(conn, ids[0], 2, "sending", "queued", "webhook", "x", NULL,
                                         0, T0 + 2000, T0 + 20, &err),
                     OB_ECONFLICT); /* wrong attempt number */
    CHECK_OK(store_outbox_record, conn, ids[0], 1, "sending", "queued", "webhook", "HTTP 500", NULL,
             0, T0 + 2000, T0 + 20);
    CHECK_OK(store_outbox_next_due, conn, &oldest);
    assert_int_equal(oldest, T0 + 1);

    /* Attempt 2 is interrupted: node-a's row is found at its start-up, any
     * node's only once the lease ran out. */
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_outbox_mark_sending, conn, ids[0], "node-a", T0 + 2000);
    CHECK_OK(store_commit, conn);
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_outbox_claim_stale, conn, "node-b", T0 + 1999, 10, &stale, &n_stale);
    assert_int_equal(n_stale, 0);
    CHECK_OK(store_outbox_claim_stale, conn, NULL, T0 + 2001, 10, &stale, &n_stale);
    assert_int_equal(n_stale, 1);
    outbox_row_array_free(stale, n_stale);
    CHECK_OK(store_outbox_claim_stale, conn, "node-a", T0, 10, &stale, &n_stale);
    assert_int_equal(n_stale, 1);
    assert_int_equal(stale[0].id, ids[0]);
    assert_int_equal(stale[0].attempts, 2);
    assert_string_equal(stale[0].node, "node-a");
    assert_int_equal(stale[0].sending_at_ms, T0 + 2000);
    CHECK_OK(store_outbox_record, conn, ids[0], 2, "sending", "queued", NULL, "interrupted", NULL,
             0, T0 + 4000, T0 + 2100);
    CHECK_OK(store_commit, conn);
    outbox_row_array_free(stale, n_stale);
    stale = NULL;
    /* The late outcome of the interrupted attempt is refused. */
    assert_int_equal(store_outbox_record(conn, ids[0], 2, "sending", "delivered", "webhook", "ok",
                                         NULL, T0 + 2200, 0, T0 + 2200, &err),
                     OB_ECONFLICT);
    /* Attempt 3 delivers. */
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_outbox_mark_sending, conn, ids[0], "node-b", T0 + 4000);
    CHECK_OK(store_commit, conn);
    CHECK_OK(store_outbox_record, conn, ids[0], 3, "sending", "delivered", "webhook", "HTTP 200",
             "CA123", T0 + 4001, 0, T0 + 4001);
    /* Never sent: settled from "queued", attempts unchanged. */
    CHECK_OK(store_outbox_record, conn, ids[1], 0, "queued", "failed-permanent", NULL,
             "rate limited: 3 in 15m", NULL, 0, 0, T0 + 4002);

    /* Rate-limit window: rows to that address handed over since t. */
    CHECK_OK(store_outbox_count_recent, conn, "webhook", "http://127.0.0.1:9/hook", T0, &count);
    assert_int_equal(count, 1);
    CHECK_OK(store_outbox_count_recent, conn, "webhook", "http://127.0.0.1:9/hook", T0 + 4001,
             &count);
    assert_int_equal(count, 0);
    CHECK_OK(store_outbox_count_recent, conn, "voice", "http://127.0.0.1:9/hook", T0, &count);
    assert_int_equal(count, 0);

    CHECK_OK(store_outbox_list, conn, id, &all, &n_all);
    assert_int_equal(n_all, 3);
    assert_string_equal(all[0].state, "delivered");
    assert_int_equal(all[0].attempts, 3);
    assert_int_equal(all[0].sent_at_ms, T0 + 4001);
    assert_int_equal(all[0].due_at_ms, T0 + 4000);
    assert_string_equal(all[0].node, "node-b");
    assert_string_equal(all[1].state, "failed-permanent");
    assert_int_equal(all[1].attempts, 0);
    assert_int_equal(all[1].sending_at_ms, 0);
    assert_string_equal(all[2].state, "queued");
    outbox_row_array_free(all, n_all);
    conn_put(conn);
}

/* A change of state queues one update per page that reached someone and
 * has a provider id (migration 5); a second change re-queues the same row;
 * update rows are never cancelled with the pages. */
static void test_outbox_update_rows(void **state)
{
    struct store_conn *conn = conn_get();
    struct outbox_row got = {0}, *all = NULL;
    size_t n_all = 0;
    struct ob_error err;
    int64_t id = new_incident(conn, "api", "ops", "updates-1", T0), ids[2], queued = -1, upd;
    int requeued = -1;

    for (int i = 0; i < 2; i++) {
        struct outbox_row row = {.incident_id = id,
                                 .seq = 1,
                                 .user_name = "cat",
                                 .contact_type = "slack",
                                 .address = i == 0 ? "U1" : "U2",
                                 .rule_index = 0,
                                 .due_at_ms = T0,
                                 .created_at_ms = T0};
        CHECK_OK(store_outbox_insert, conn, &row);
        ids[i] = row.id;
    }
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_outbox_mark_sending, conn, ids[0], "node-a", T0 + 1);
    CHECK_OK(store_commit, conn);
    CHECK_OK(store_outbox_record, conn, ids[0], 1, "sending", "delivered", "slack", "ok",
             "D1:1712345678.000100", T0 + 2, 0, T0 + 2);
    CHECK_OK(store_outbox_get, conn, ids[0], &got);
    assert_string_equal(got.kind, "page");
    assert_string_equal(got.external_id, "D1:1712345678.000100");
    outbox_row_release(&got);
    assert_int_equal(store_outbox_get(conn, 999999, &got, &err), OB_ENOTFOUND);

    CHECK_OK(store_begin, conn);
    CHECK_OK(store_incident_set_status, conn, id, "acknowledged", "user:cat", T0 + 10);
    CHECK_OK(store_commit, conn);
    CHECK_OK(store_outbox_list, conn, id, &all, &n_all);
    assert_int_equal(n_all, 3);
    assert_string_equal(all[1].state, "cancelled"); /* the page never sent */
    assert_string_equal(all[2].kind, "update");
    assert_string_equal(all[2].state, "queued");
    assert_int_equal(all[2].seq, -ids[0]);
    assert_string_equal(all[2].address, "U1");
    assert_string_equal(all[2].external_id, "D1:1712345678.000100");
    assert_int_equal(all[2].due_at_ms, T0 + 10);
    outbox_row_array_free(all, n_all);

    /* Resolving re-queues the same update row, not a second one. */
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_incident_set_status, conn, id, "resolved", "user:cat", T0 + 20);
    CHECK_OK(store_outbox_queue_updates, conn, id, T0 + 21, &queued);
    CHECK_OK(store_commit, conn);
    assert_int_equal(queued, 1);
    CHECK_OK(store_outbox_list, conn, id, &all, &n_all);
    assert_int_equal(n_all, 3);
    assert_string_equal(all[2].state, "queued");
    assert_int_equal(all[2].due_at_ms, T0 + 21);
    upd = all[2].id;
    outbox_row_array_free(all, n_all);

    /* A change while the update is in flight: it stays `sending`, its due
     * time moves on, and once that attempt ends it is queued again. */
    CHECK_OK(store_begin, conn);
    CHECK_OK(store_outbox_mark_sending, conn, upd, "node-a", T0 + 30);
    CHECK_OK(store_outbox_queue_updates, conn, id, T0 + 40, &queued);
    CHECK_OK(store_commit, conn);
    CHECK_OK(store_outbox_get, conn, upd, &got);
    assert_string_equal(got.state, "sending");
    assert_int_equal(got.attempts, 1);
    assert_int_equal(got.due_at_ms, T0 + 40);
    outbox_row_release(&got);
    CHECK_OK(store_outbox_record, conn, upd, 1, "sending", "delivered", "slack", "ok", NULL,
             T0 + 41, 0, T0 + 41);
    CHECK_OK(store_outbox_requeue_changed, conn, upd, T0 + 21, T0 + 42, &requeued);
    assert_int_equal(requeued, 1);
    CHECK_OK(store_outbox_get, conn, upd, &got);
    assert_string_equal(got.state, "queued");
    assert_int_equal(got.attempts, 0);
    outbox_row_release(&got);
    /* Nothing changed since the claim: it stays as it is. */
    CHECK_OK(store_outbox_requeue_changed, conn, upd, T0 + 40, T0 + 43, &requeued);
    assert_int_equal(requeued, 0);
    conn_put(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_open, test_teardown),
        cmocka_unit_test_teardown(test_escalation_start_get_stop, test_teardown),
        cmocka_unit_test_teardown(test_claim_record_and_no_second_taking, test_teardown),
        cmocka_unit_test_teardown(test_two_claimers_never_share_a_row, test_teardown),
        cmocka_unit_test_teardown(test_outbox_claim_and_finish, test_teardown),
        cmocka_unit_test_teardown(test_outbox_sending_and_recovery, test_teardown),
        cmocka_unit_test_teardown(test_outbox_update_rows, test_teardown),
    };
    char name[64];

    if (store_suite_begin("store_engine", "opsbell-engine", "opsbell.db", name, sizeof(name)) != 0)
        return 1;
    return cmocka_run_group_tests_name(name, tests, group_setup, group_teardown);
}
