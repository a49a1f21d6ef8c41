/*
 * engine.h - the on-call engine's durable state (schema migrations 3, 4):
 * escalations (one per incident walking a policy, with the absolute due time
 * of its next step), the steps taken, and the outbox of notification
 * attempts.  See store.h for the conventions (connections, errors,
 * milliseconds).
 *
 * Exactly once: a step is taken by store_escalation_claim_due() +
 * store_escalation_record_step() inside one transaction.  On PostgreSQL the
 * claim is `FOR UPDATE SKIP LOCKED`, so two nodes never hold the same row,
 * and a node that dies mid-transaction releases it with its connection; the
 * UNIQUE (incident_id, seq) of escalation_steps makes a second taking of the
 * same step fail even if everything else went wrong.  The same holds for the
 * outbox and store_outbox_claim_due().
 *
 * Ownership: row structs are filled with malloc'd strings, released with
 * the matching *_release / *_array_free.
 */
#ifndef OPSBELL_STORE_ENGINE_H
#define OPSBELL_STORE_ENGINE_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

struct escalation {
    int64_t incident_id;
    char *policy;
    char *state;        /* "active" | "stopped" | "exhausted" */
    int64_t next_step;  /* 0-based */
    int64_t next_pass;  /* 0-based */
    int64_t seq;        /* steps taken so far */
    int64_t next_at_ms; /* 0 unless active */
    int64_t started_at_ms;
    int64_t updated_at_ms;
    char *stop_reason; /* may be NULL */
};

/* Start walking `policy` for an incident: step 0 of pass 0 due at due_ms.
 * OB_ECONFLICT when the incident already has an escalation. */
int store_escalation_start(struct store_conn *conn, int64_t incident_id, const char *policy,
                           int64_t due_ms, int64_t now_ms, struct ob_error *err);
int store_escalation_get(struct store_conn *conn, int64_t incident_id, struct escalation *out,
                         struct ob_error *err);

/*
 * Stop an incident's escalation (acknowledged, resolved) and cancel its
 * queued notifications, inside the caller's transaction.  No escalation or
 * already stopped: nothing happens, 0.  *cancelled (may be NULL) = how many
 * outbox rows were cancelled.
 */
int store_escalation_stop(struct store_conn *conn, int64_t incident_id, const char *reason,
                          int64_t now_ms, int64_t *cancelled, struct ob_error *err);

/*
 * Make the next step due now (an `incident escalate`): an active
 * escalation's next_at becomes now_ms; a stopped or exhausted one becomes
 * active again at the step after the last one taken (wrapping to step 0
 * of a further pass).  OB_ENOTFOUND when the incident has no escalation.
 */
int store_escalation_advance(struct store_conn *conn, int64_t incident_id, int64_t now_ms,
                             unsigned step_count, struct ob_error *err);

/*
 * Claim up to limit active escalations due at or before now_ms, oldest due
 * first, locked for the caller's transaction (PostgreSQL: FOR UPDATE SKIP
 * LOCKED; SQLite: the transaction is exclusive).  Call inside store_begin.
 */
int store_escalation_claim_due(struct store_conn *conn, int64_t now_ms, size_t limit,
                               struct escalation **out, size_t *count, struct ob_error *err);

/* The earliest next_at of any active escalation; 0 when none. */
int store_escalation_next_due(struct store_conn *conn, int64_t *due_ms, struct ob_error *err);

/*
 * Record that step `step` of pass `pass` of esc was taken at taken_ms by
 * node, notifying targets_json (a JSON array of user names), and move the
 * escalation on: to (next_step, next_pass) due at next_at_ms, or, when
 * next_at_ms is 0, to "exhausted".  OB_ECONFLICT when that step (seq) was
 * already taken.
 */
int store_escalation_record_step(struct store_conn *conn, const struct escalation *esc,
                                 int64_t step, int64_t pass, int64_t taken_ms, const char *node,
                                 const char *targets_json, int64_t next_step, int64_t next_pass,
                                 int64_t next_at_ms, struct ob_error *err);

/* Stop an escalation that cannot go on (its policy vanished, say). */
int store_escalation_fail(struct store_conn *conn, int64_t incident_id, const char *reason,
                          int64_t now_ms, struct ob_error *err);

struct escalation_step_row {
    int64_t seq;
    int64_t step;
    int64_t pass;
    int64_t due_at_ms;
    int64_t taken_at_ms;
    char *node;
    char *targets; /* JSON array */
};
/* The steps taken for an incident, in order. */
int store_escalation_steps(struct store_conn *conn, int64_t incident_id,
                           struct escalation_step_row **out, size_t *count, struct ob_error *err);

/* ---- outbox ------------------------------------------------------------------------- */

struct outbox_row {
    int64_t id;
    int64_t incident_id;
    int64_t seq;
    char *user_name;
    char *contact_type; /* contact_type_name() */
    char *address;
    int64_t rule_index;
    int64_t due_at_ms;
    char *state;
    int64_t attempts;
    char *provider; /* may be NULL */
    char *detail;   /* may be NULL */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t sent_at_ms;    /* 0 = not yet */
    int64_t sending_at_ms; /* when the last attempt was handed to a provider; 0 = never */
    char *node;            /* the node that made it; may be NULL */
    char *kind;            /* "page" | "update" (migration 5) */
    char *external_id;     /* the provider's id of what was sent; may be NULL */
    /* kind "tel" (migration 7): incident_id 0; seq 0 for a call's first
     * row, the first row's id for the next phones tried. */
    char *message;      /* what the call says; may be NULL */
    char *reply_url;    /* where its outcome is posted; may be NULL */
    char *requested_by; /* who asked; may be NULL */
};

/* Queue one attempt (state "queued"; kind row->kind, default "page";
 * incident_id 0 is none, for "tel"); sets row->id. OB_ECONFLICT when the
 * same (incident, seq, user, rule, address) is already queued. */
int store_outbox_insert(struct store_conn *conn, struct outbox_row *row, struct ob_error *err);
/* Like store_escalation_claim_due, for queued rows due at or before now_ms. */
int store_outbox_claim_due(struct store_conn *conn, int64_t now_ms, size_t limit,
                           struct outbox_row **out, size_t *count, struct ob_error *err);
int store_outbox_next_due(struct store_conn *conn, int64_t *due_ms, struct ob_error *err);
/* Set state, provider, detail, attempts + 1 (when counted), sent_at (when not 0). */
int store_outbox_finish(struct store_conn *conn, int64_t id, const char *state,
                        const char *provider, const char *detail, int64_t sent_at_ms,
                        int64_t now_ms, struct ob_error *err);
/*
 * The dispatcher's two transactions per attempt (migration 4).  First,
 * store_outbox_mark_sending(): a claimed queued row becomes `sending`
 * with attempts + 1, sending_at = now_ms and node, and is committed before
 * the provider is called.  Then store_outbox_record() moves it from
 * from_state ("sending", or "queued" for rows never handed to a provider)
 * to state, only while the row still has `attempts` attempts: OB_ECONFLICT
 * when another node recovered it meanwhile.  due_at_ms != 0 sets a new due
 * time (a retry goes back to "queued"); sent_at_ms != 0 sets sent_at.
 */
int store_outbox_mark_sending(struct store_conn *conn, int64_t id, const char *node, int64_t now_ms,
                              struct ob_error *err);
int store_outbox_record(struct store_conn *conn, int64_t id, int64_t attempts,
                        const char *from_state, const char *state, const char *provider,
                        const char *detail, const char *external_id, int64_t sent_at_ms,
                        int64_t due_at_ms, int64_t now_ms, struct ob_error *err);
/* One row by id (release with outbox_row_release). OB_ENOTFOUND when absent. */
int store_outbox_get(struct store_conn *conn, int64_t id, struct outbox_row *out,
                     struct ob_error *err);
/*
 * The incident changed state: queue (due now) one row of kind "update" per
 * page of the incident that reached someone and has an external_id, so
 * that its provider edits the message (migration 5).  *queued (may be
 * NULL) = how many.
 */
int store_outbox_queue_updates(struct store_conn *conn, int64_t incident_id, int64_t now_ms,
                               int64_t *queued, struct ob_error *err);
/* After an attempt of update row id (claimed when it was due at
 * claimed_due_ms) ended: if the incident changed again meanwhile (its
 * due_at moved on), queue it again.  *requeued says whether it was. */
int store_outbox_requeue_changed(struct store_conn *conn, int64_t id, int64_t claimed_due_ms,
                                 int64_t now_ms, int *requeued, struct ob_error *err);
/* Calls on request (kind "tel") made since since_ms by column
 * "requested_by" (the caller) or "user_name" (the callee) = value. */
int store_outbox_count_calls(struct store_conn *conn, const char *column, const char *value,
                             int64_t since_ms, int64_t *count, struct ob_error *err);
/* The rows of call call_id (its first row and the phones tried after),
 * oldest first. OB_ENOTFOUND when there is no such call. */
int store_outbox_call(struct store_conn *conn, int64_t call_id, struct outbox_row **out,
                      size_t *count, struct ob_error *err);
/*
 * Claim (as store_outbox_claim_due) up to limit rows left in `sending`:
 * by `node` (any age; call only at start-up, when this node has nothing in
 * flight; NULL = none) or by anyone with sending_at before stale_before_ms.
 */
int store_outbox_claim_stale(struct store_conn *conn, const char *node, int64_t stale_before_ms,
                             size_t limit, struct outbox_row **out, size_t *count,
                             struct ob_error *err);
/* The earliest sending_at of a row in `sending`; 0 when none. */
int store_outbox_oldest_sending(struct store_conn *conn, int64_t *sending_ms, struct ob_error *err);
/* How many attempts to (contact_type, address) were handed to a provider
 * at or after since_ms (each row counted once, by its last attempt). */
int store_outbox_count_recent(struct store_conn *conn, const char *contact_type,
                              const char *address, int64_t since_ms, int64_t *count,
                              struct ob_error *err);
/* Whether the incident has any row ever handed to a provider, other than id. */
int store_outbox_incident_attempted(struct store_conn *conn, int64_t incident_id, int64_t id,
                                    int *attempted, struct ob_error *err);
/* An incident's attempts, oldest first. */
int store_outbox_list(struct store_conn *conn, int64_t incident_id, struct outbox_row **out,
                      size_t *count, struct ob_error *err);

void escalation_release(struct escalation *e);
void escalation_array_free(struct escalation *arr, size_t count);
void escalation_step_row_array_free(struct escalation_step_row *arr, size_t count);
void outbox_row_release(struct outbox_row *r);
void outbox_row_array_free(struct outbox_row *arr, size_t count);

#endif
