/*
 * incidents.h - domain queries for alerts, incidents, their timeline,
 * silences and heartbeat state (schema migration 2). Written once in SQL for
 * both drivers; see store.h for the conventions (connections, errors,
 * milliseconds, 0/1 booleans).
 *
 * Keys: an incident is open while its status is not "resolved"; at most one
 * open incident exists per (service, incident key) - the schema enforces it
 * with a unique `open_key` column that is NULL once resolved. Likewise at
 * most one firing alert per alert key. Keys are built by the pipeline:
 * "<service>\n<dedup key or fingerprint>" (or "!unroutable\n<fingerprint>").
 *
 * Ownership: functions that return rows fill caller-provided structs whose
 * strings are malloc'd; release them with the matching *_release or
 * *_array_free. Input structs are borrowed.
 */
#ifndef OPSBELL_STORE_INCIDENTS_H
#define OPSBELL_STORE_INCIDENTS_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- incidents ------------------------------------------------------------- */

struct incident {
    int64_t id; /* short numeric id, "#42" */
    char *service;
    char *team;
    char *incident_key; /* the dedup key or fingerprint that groups its alerts */
    char *status;       /* "triggered" | "acknowledged" | "resolved" */
    char *summary;
    char *severity; /* critical | error | warning | info */
    bool silenced;
    int64_t alert_count; /* alert events received (repeats included) */
    int64_t open_alerts; /* alerts firing now */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t acknowledged_at_ms; /* 0 = never */
    char *acknowledged_by;      /* NULL = never */
    int64_t resolved_at_ms;
    char *resolved_by;
};

/* Insert a new open incident (status "triggered"); sets inc->id. OB_ECONFLICT
 * when an open incident with the same open_key exists (a concurrent node). */
int store_incident_insert(struct store_conn *conn, struct incident *inc, const char *open_key,
                          struct ob_error *err);
/* The open incident with this open_key. OB_ENOTFOUND when none. */
int store_incident_find_open(struct store_conn *conn, const char *open_key, struct incident *out,
                             struct ob_error *err);
int store_incident_get(struct store_conn *conn, int64_t id, struct incident *out,
                       struct ob_error *err);

/* Add delta_alerts to alert_count and delta_open to open_alerts; set
 * updated_at. Returns the new open_alerts in *open_after (may be NULL). */
int store_incident_count_alerts(struct store_conn *conn, int64_t id, int64_t delta_alerts,
                                int64_t delta_open, int64_t now_ms, int64_t *open_after,
                                struct ob_error *err);

/*
 * Change status: "acknowledged" (only from "triggered") or "resolved" (from
 * either open state; clears open_key) or "triggered" is not allowed.
 * OB_ECONFLICT with a reason when the transition is not allowed (already
 * resolved, already acknowledged), OB_ENOTFOUND when absent.
 */
int store_incident_set_status(struct store_conn *conn, int64_t id, const char *status,
                              const char *actor, int64_t now_ms, struct ob_error *err);

/* An acknowledged incident back to "triggered" (an escalation by hand).
 * OB_ECONFLICT when it is not acknowledged. */
int store_incident_retrigger(struct store_conn *conn, int64_t id, int64_t now_ms,
                             struct ob_error *err);
/* Clear the incident's silenced flag (its silence ended). */
int store_incident_unsilence(struct store_conn *conn, int64_t id, int64_t now_ms,
                             struct ob_error *err);
/*
 * Triggered, silenced incidents with a firing alert whose silence has ended
 * (or was expired by hand) at now_ms, oldest first, at most limit.
 */
int store_incident_list_silence_ended(struct store_conn *conn, int64_t now_ms, size_t limit,
                                      struct incident **out, size_t *count, struct ob_error *err);
/* The earliest end after now_ms of a silence that holds a firing alert of a
 * triggered, silenced incident; 0 when none. */
int store_silence_next_end_holding(struct store_conn *conn, int64_t now_ms, int64_t *end_ms,
                                   struct ob_error *err);

struct incident_filter {
    const char *status;  /* NULL = any; "open" = triggered or acknowledged */
    const char *team;    /* NULL = any */
    const char *service; /* NULL = any */
    int64_t before_id;   /* 0 = from the newest */
    size_t limit;        /* 0 = 50; capped at 500 */
};

/* Newest first. *out is an owned array of *count incidents. */
int store_incident_list(struct store_conn *conn, const struct incident_filter *filter,
                        struct incident **out, size_t *count, struct ob_error *err);
void incident_release(struct incident *inc);
void incident_array_free(struct incident *arr, size_t count);

/* ---- timeline ------------------------------------------------------------------ */

struct incident_event {
    int64_t id;
    int64_t incident_id;
    int64_t at_ms;
    char *kind;    /* "incident.triggered", "alert.attached", "alert.resolved", "ack", "resolve",
                      "note", "escalate", ... */
    char *actor;   /* may be NULL */
    char *message; /* may be NULL */
    char *data;    /* JSON object text, may be NULL */
};

int store_incident_event_append(struct store_conn *conn, struct incident_event *ev,
                                struct ob_error *err);
/* Oldest first, at most limit (0 = 1000). */
int store_incident_events(struct store_conn *conn, int64_t incident_id, size_t limit,
                          struct incident_event **out, size_t *count, struct ob_error *err);
void incident_event_release(struct incident_event *ev);
void incident_event_array_free(struct incident_event *arr, size_t count);

/* ---- alerts -------------------------------------------------------------------- */

struct alert_row {
    int64_t id;
    int64_t incident_id; /* 0 = none (unroutable) */
    char *service;       /* NULL = unroutable */
    char *source;        /* alert_source_name() */
    char *status;        /* "firing" | "resolved" */
    char *fingerprint;
    char *dedup_key; /* explicit key, may be NULL */
    char *summary;
    char *severity;
    char *labels;      /* JSON object text */
    char *annotations; /* JSON object text */
    char *details;     /* JSON object text, may be NULL */
    char *source_name;
    char *generator_url;
    int64_t starts_at_ms;
    int64_t ends_at_ms; /* 0 = open-ended */
    int64_t received_at_ms;
    int64_t updated_at_ms;
    int64_t event_count;
    int64_t silenced_by; /* silence id, 0 = not silenced */
};

/* Insert a firing alert with open_key (unique while firing); sets a->id.
 * OB_ECONFLICT when a firing alert with that key exists. */
int store_alert_insert(struct store_conn *conn, struct alert_row *a, const char *open_key,
                       struct ob_error *err);
/* The firing alert with this open_key. OB_ENOTFOUND when none. */
int store_alert_find_firing(struct store_conn *conn, const char *open_key, struct alert_row *out,
                            struct ob_error *err);
/* A repeat of a firing alert: event_count + 1, new summary/annotations/ends_at/
 * updated_at/silenced_by. */
int store_alert_refresh(struct store_conn *conn, int64_t id, const char *summary,
                        const char *annotations, int64_t ends_at_ms, int64_t silenced_by,
                        int64_t now_ms, struct ob_error *err);
/* The same as find_firing + refresh in one statement, by the alert's open_key:
 * *id and *incident_id (0 = none) of the refreshed alert, or OB_ENOTFOUND
 * when no alert with that key is firing (nothing changed). */
int store_alert_refresh_by_key(struct store_conn *conn, const char *open_key, const char *summary,
                               const char *annotations, int64_t ends_at_ms, int64_t silenced_by,
                               int64_t now_ms, int64_t *id, int64_t *incident_id,
                               struct ob_error *err);
/* Record which silence (0 = none) holds a firing alert now. */
int store_alert_set_silenced_by(struct store_conn *conn, int64_t id, int64_t silenced_by,
                                struct ob_error *err);
/* The earliest ends_at after now_ms of a firing alert (when it expires
 * unless refreshed); 0 when none. */
int store_alert_next_end(struct store_conn *conn, int64_t now_ms, int64_t *end_ms,
                         struct ob_error *err);
/* Mark resolved (clears open_key), ends_at = at_ms. */
int store_alert_resolve(struct store_conn *conn, int64_t id, int64_t at_ms, struct ob_error *err);

/* Resolve every firing alert of an incident (a person resolved the incident:
 * a sender that still fires opens a new one). *resolved (may be NULL) gets
 * how many. */
int store_alert_resolve_incident(struct store_conn *conn, int64_t incident_id, int64_t at_ms,
                                 int64_t *resolved, struct ob_error *err);

struct alert_filter {
    const char *status;   /* NULL = any, "firing", "resolved" */
    int64_t incident_id;  /* 0 = any */
    bool unroutable_only; /* service IS NULL */
    int64_t before_id;    /* 0 = from the newest */
    size_t limit;         /* 0 = 100; capped at 10000 */
};
/* Newest first. */
int store_alert_list(struct store_conn *conn, const struct alert_filter *filter,
                     struct alert_row **out, size_t *count, struct ob_error *err);
/* Firing alerts whose ends_at is set and <= now_ms (Alertmanager-style expiry), oldest
 * first, at most limit. */
int store_alert_list_expired(struct store_conn *conn, int64_t now_ms, size_t limit,
                             struct alert_row **out, size_t *count, struct ob_error *err);
void alert_row_release(struct alert_row *a);
void alert_row_array_free(struct alert_row *arr, size_t count);

/* ---- silences ------------------------------------------------------------------ */

struct silence {
    int64_t id;
    char *matchers; /* JSON array of {"name","op","value"} as written */
    int64_t starts_at_ms;
    int64_t ends_at_ms;
    char *comment;
    char *created_by;
    int64_t created_at_ms;
    int64_t expired_at_ms; /* 0 = not expired by hand */
};

int store_silence_insert(struct store_conn *conn, struct silence *s, struct ob_error *err);
/* Expire now (sets expired_at and ends_at = min(ends_at, now)). OB_ENOTFOUND, or
 * OB_ECONFLICT when it already ended. */
int store_silence_expire(struct store_conn *conn, int64_t id, int64_t now_ms, struct ob_error *err);
int store_silence_get(struct store_conn *conn, int64_t id, struct silence *out,
                      struct ob_error *err);
/* active_at != 0: only silences in force at that instant (started, not ended,
 * not expired); 0: all, newest first, at most limit (0 = 100, cap 1000). */
int store_silence_list(struct store_conn *conn, int64_t active_at_ms, size_t limit,
                       struct silence **out, size_t *count, struct ob_error *err);
void silence_release(struct silence *s);
void silence_array_free(struct silence *arr, size_t count);

/* ---- heartbeats ------------------------------------------------------------------ */

struct heartbeat_state {
    char *name;
    int64_t last_seen_at_ms; /* 0 = never */
    char *state;             /* "waiting" (never seen) | "ok" | "missed" */
    int64_t updated_at_ms;
};

/* Record a check-in (creates the row when absent). */
int store_heartbeat_checkin(struct store_conn *conn, const char *name, int64_t now_ms,
                            struct ob_error *err);
/* Set the state ("waiting" | "ok" | "missed"). Creates the row when absent. */
int store_heartbeat_set_state(struct store_conn *conn, const char *name, const char *state,
                              int64_t now_ms, struct ob_error *err);
int store_heartbeat_get(struct store_conn *conn, const char *name, struct heartbeat_state *out,
                        struct ob_error *err);
int store_heartbeat_list(struct store_conn *conn, struct heartbeat_state **out, size_t *count,
                         struct ob_error *err);
void heartbeat_state_release(struct heartbeat_state *h);
void heartbeat_state_array_free(struct heartbeat_state *arr, size_t count);

#endif
