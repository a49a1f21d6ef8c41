/*
 * engine.h - the on-call engine: takes due escalation steps, turns "user U
 * is notified for incident I" into outbox rows by the user's notification
 * rules, and hands due outbox rows to the dispatcher (src/notify/).
 *
 * The database is the truth: every piece of due work is a row with an
 * absolute due time (escalations.next_at, outbox.due_at).  The engine's
 * in-memory min-heap of due times is only a hint that says when to look
 * again; the engine also looks every `engine.poll_interval` (work created
 * by another node, a hint lost in a crash).  A restart, even after
 * SIGKILL, resumes from the rows: nothing skipped, nothing done twice
 * (store/engine.h says how).
 *
 * Threads: one engine thread per process.  engine_hint() may be called from
 * any thread (the ingest writer, HTTP handlers) after the transaction that
 * created the due work has committed.
 */
#ifndef OPSBELL_ENGINE_ENGINE_H
#define OPSBELL_ENGINE_ENGINE_H

#include <stdint.h>

struct app;
struct config;
struct config_service;
struct engine;
struct ob_error;
struct store_conn;
struct strbuf;

/* Start the engine thread for app (which must outlive it). node_id names
 * this process in escalation_steps (serve.c: OPSBELL_NODE_ID or
 * hostname:pid). */
int engine_start(struct app *app, const char *node_id, struct engine **out, struct ob_error *err);
/* Stop the thread and free the engine. Accepts NULL. */
void engine_stop(struct engine *eng);

/* Append the engine's Prometheus metrics (steps, notifications, lateness
 * histogram) to out. Accepts NULL (appends nothing). */
void engine_render_metrics(struct engine *eng, struct strbuf *out);

/* "Something is due at due_ms": wake the engine then (or now when earlier).
 * Accepts NULL (no engine running: the rows will be found by polling). */
void engine_hint(struct engine *eng, int64_t due_ms);

/*
 * Inside the caller's transaction: start the escalation of a new incident
 * of svc (step 0 due at now_ms) when svc has a policy, and put it on the
 * incident's timeline.  Returns 0 (also when there is no policy: *started
 * = 0), or a store error.  The caller calls engine_hint(eng, now_ms)
 * after committing when *started.
 */
int engine_escalation_begin(struct store_conn *conn, const struct config_service *svc,
                            int64_t incident_id, int64_t now_ms, int *started,
                            struct ob_error *err);

/*
 * Inside the caller's transaction: an `incident escalate` by actor.  Makes
 * the next step due now (restarting a stopped or exhausted escalation; an
 * acknowledged incident goes back to triggered, as in PagerDuty), or begins
 * the escalation when the incident has none yet.  OB_ECONFLICT when the
 * incident is resolved or its service has no escalation policy.
 */
int engine_escalate_now(struct store_conn *conn, const struct config *cfg, int64_t incident_id,
                        const char *actor, int64_t now_ms, struct ob_error *err);

#endif
