/*
 * ingest.h - the alert pipeline: route -> dedup/group -> incident, committed
 * durably with group commit.
 *
 * HTTP handlers parse a door's body into an alert_batch and call
 * ingest_submit(), which blocks until the batch is committed (fsync'd on
 * SQLite with synchronous=FULL; committed on PostgreSQL) and then returns
 * one result per event. One writer thread takes every batch waiting at that
 * moment and applies them all in one transaction, each event under its own
 * savepoint, so that many concurrent requests share one commit and one event
 * that fails does not fail its neighbours.
 *
 * The writer thread also resolves firing alerts whose endsAt has passed
 * (Alertmanager semantics: a Prometheus that stops re-sending an alert
 * resolves it) about once a second when idle.
 */
#ifndef OPSBELL_INGEST_INGEST_H
#define OPSBELL_INGEST_INGEST_H

#include "ingest/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct config_service;
struct matcher_set;
struct ob_error;
struct store;
struct store_conn;

/* ---- routing (route.c): pure functions of the configuration -------------- */

struct route_decision {
    const struct config_service *service; /* NULL = unroutable */
    const char *reason; /* static: "integration key", "service", "matchers", "team fallback",
                           "unroutable: ..." */
};

/*
 * Choose the service for ev: its integration key, else the service it names,
 * else the first service (teams by name, then configuration order) whose
 * `match` matchers all match, else the fallback service of the first team
 * whose `match` matches. An integration key or service name that does not
 * exist is an error (OB_ENOTFOUND), not "unroutable": the sender is wrong.
 */
int route_event(const struct config *cfg, const struct alert_event *ev, struct route_decision *out,
                struct ob_error *err);

/*
 * The key that identifies one alert within its service: the explicit dedup key,
 * else the fingerprint of all labels. The key that groups alerts into one
 * incident: the explicit dedup key, else the fingerprint of the service's
 * dedup_labels (all labels when none are configured). Both written into
 * out (at least ALERT_DEDUP_KEY_MAX + 1 bytes).
 */
void route_alert_key(const struct alert_event *ev, char *out, size_t cap);
void route_incident_key(const struct config_service *svc, const struct alert_event *ev, char *out,
                        size_t cap);

/*
 * Fill in the keys a door leaves to the pipeline: a PagerDuty trigger without
 * dedup_key gets a random one (returned to the sender, as PagerDuty does); a
 * generic alert without labels is identified by its summary. May leave
 * dedup_key NULL when out of memory (the event then keys on its fingerprint).
 */
void route_prepare_event(struct alert_event *ev);

/* ---- the writer (writer.c, apply.c) ---------------------------------------------- */

enum ingest_outcome {
    INGEST_CREATED = 0,  /* a new incident was opened */
    INGEST_ATTACHED,     /* a new alert joined an open incident */
    INGEST_DEDUPLICATED, /* a repeat of a firing alert */
    INGEST_RESOLVED,     /* a firing alert was resolved */
    INGEST_ACKNOWLEDGED, /* the alert's incident was acknowledged */
    INGEST_IGNORED,      /* resolve/ack for an alert that is not firing */
    INGEST_UNROUTABLE    /* kept, but no service matched */
};

const char *ingest_outcome_name(enum ingest_outcome outcome);

struct ingest_result {
    int code; /* 0, or the negative OB_* code of this event's failure */
    char message[200];
    enum ingest_outcome outcome;
    int64_t incident_id; /* 0 = none */
    int64_t alert_id;
    bool silenced;
    char dedup_key[ALERT_DEDUP_KEY_MAX + 1]; /* the key the alert is known by */
    char service[65];                        /* "" when unroutable */
};

/* Where the writer gets the configuration in force (a new reference each call). */
typedef struct config *(*ingest_config_fn)(void *ctx);

struct ingest_options {
    struct store *store; /* borrowed */
    ingest_config_fn get_config;
    void *config_ctx;
    size_t max_events_per_commit; /* 0 = 2048 */
    /* Called (from the writer thread, after the commit) when a committed
     * batch made something due at due_ms: an escalation it started, the
     * end (endsAt) of an alert it stored.  May be NULL. */
    void (*due_hint)(void *ctx, int64_t due_ms);
    void *hint_ctx;
};

struct ingest;

int ingest_start(const struct ingest_options *opts, struct ingest **out, struct ob_error *err);
/* Finish what is queued and stop the thread; later submissions are refused
 * (OB_EUNAVAILABLE) but the pipeline's memory stays, so that threads still
 * holding it (the engine) do not touch freed memory.  Accepts NULL. */
void ingest_stop(struct ingest *ing);
/* Stop (when not yet) and free. Accepts NULL. */
void ingest_free(struct ingest *ing);

/*
 * Apply batch (borrowed) durably. results has batch->count entries.
 * Returns 0 when the batch was committed (each event's own success or failure
 * is in its result), or a negative code when nothing was committed
 * (OB_ESTORE, OB_EUNAVAILABLE while stopping): the caller answers 5xx and
 * the sender retries.
 */
int ingest_submit(struct ingest *ing, const struct alert_batch *batch,
                  struct ingest_result *results, struct ob_error *err);

/*
 * The same without waiting: returns 0 when the batch is queued, and then
 * done(arg, rc, err) is called exactly once, from the writer thread, after
 * the commit (rc as ingest_submit would return; err NULL when rc is 0).
 * batch and results are borrowed until done() is called. On a negative
 * return nothing was queued and done() is never called.
 */
typedef void (*ingest_done_fn)(void *arg, int rc, const struct ob_error *err);
int ingest_submit_async(struct ingest *ing, const struct alert_batch *batch,
                        struct ingest_result *results, ingest_done_fn done, void *arg,
                        struct ob_error *err);

/* Resolve firing alerts whose ends_at <= now_ms (at most one batch of
 * 500); returns how many. */
int ingest_expire_now(struct ingest *ing, int64_t now_ms, struct ob_error *err);

/*
 * The pipeline's own due work, run by the engine's rounds: resolve every
 * alert whose ends_at passed, raise the alert of every heartbeat whose
 * deadline passed.  *next_due_ms gets the earliest future due time of
 * either (0 = none): the engine's next wake-up for it.  Both are computed
 * from stored times (ends_at, the heartbeat's last check-in), so nothing is
 * lost across a restart.  Submits through the writer: never call it from
 * the writer thread.
 */
int ingest_due_work(struct ingest *ing, int64_t now_ms, int64_t *next_due_ms, struct ob_error *err);

/* ---- heartbeats (heartbeat.c) ------------------------------------------------------ */

struct config_heartbeat;

/* Record a check-in; when the heartbeat was missed, resolve its alert. */
int heartbeat_checkin(struct ingest *ing, const struct config_heartbeat *hb, int64_t now_ms,
                      struct ob_error *err);
/* Check every configured heartbeat; raise an alert for each one overdue.
 * *next_deadline_ms gets the earliest deadline still ahead (0 = none). */
int heartbeat_check(struct ingest *ing, int64_t now_ms, int64_t *next_deadline_ms,
                    struct ob_error *err);

/*
 * Inside the caller's transaction (the engine's round): incidents that were
 * silenced, are still triggered and have a firing alert whose silence has
 * ended (or was expired by hand).  Each such alert is matched again against
 * the silences in force at now_ms; an incident none of whose firing alerts
 * is silenced any more is unsilenced ("incident.unsilenced" on its
 * timeline) and its escalation begins, as if it had just been triggered.
 * Returns how many incidents were unsilenced (*started of them began an
 * escalation), or a negative code.  *next_end_ms gets the earliest end of a
 * silence that still holds such an incident (0 = none): the engine's next
 * due time for this work.
 */
int ingest_silences_sweep(struct store_conn *conn, const struct config *cfg, int64_t now_ms,
                          int *started, int64_t *next_end_ms, struct ob_error *err);

/* A silence was created or expired: the next commit reloads the silences.
 * (Changes made by other nodes are picked up within a second.) */
void ingest_silences_changed(struct ingest *ing);

/* Counters for /metrics. */
struct ingest_stats {
    uint64_t events;
    uint64_t commits;
    uint64_t by_outcome[INGEST_UNROUTABLE + 1];
    uint64_t failed_events;
};
void ingest_get_stats(struct ingest *ing, struct ingest_stats *out);

#endif
