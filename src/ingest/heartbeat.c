/*
 * heartbeat.c - heartbeat monitors: a source that must check in every
 * interval (+ grace). A missed check-in raises an alert on the heartbeat's
 * service (dedup key "heartbeat:<name>"); the next check-in resolves it.
 *
 * The clock of a heartbeat that never checked in starts when opsbell first
 * sees it in the configuration (its "waiting" row). Check-ins and checks are
 * serialized by one mutex, so a check-in and a check never cross.
 */
#include "ingest/ingest_internal.h"

#include "config/config.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t heartbeat_lock = PTHREAD_MUTEX_INITIALIZER;

/* Raise (trigger) or clear (resolve) the heartbeat's alert through the pipeline. */
static int heartbeat_alert(struct ingest *ing, const struct config_heartbeat *hb,
                           enum alert_action action, struct ob_error *err)
{
    struct alert_label label = {"heartbeat", hb->name};
    struct alert_event ev = {0};
    struct alert_batch batch = {&ev, 1};
    struct ingest_result result;
    char key[ALERT_DEDUP_KEY_MAX + 1];
    int rc;

    snprintf(key, sizeof(key), "heartbeat:%s", hb->name);
    ev.source = SOURCE_HEARTBEAT;
    ev.action = action;
    ev.service = hb->service->name;
    ev.dedup_key = key;
    ev.summary = hb->summary;
    if (alert_severity_parse(hb->severity, &ev.severity) != 0)
        ev.severity = SEVERITY_CRITICAL;
    ev.source_name = "heartbeat";
    ev.labels = &label;
    ev.label_count = 1;
    alert_fingerprint(&label, 1, ev.fingerprint);
    /* ev borrows everything: it is not released. */
    rc = ingest_submit(ing, &batch, &result, err);
    if (rc == 0 && result.code != 0)
        rc = ob_fail(err, result.code, "%s", result.message);
    return rc;
}

int heartbeat_checkin(struct ingest *ing, const struct config_heartbeat *hb, int64_t now_ms,
                      struct ob_error *err)
{
    struct heartbeat_state state = {0};
    struct store_conn *conn = NULL;
    int was_missed = 0;
    int rc;

    pthread_mutex_lock(&heartbeat_lock);
    rc = store_acquire(ingest_store(ing), &conn, err);
    if (rc != 0)
        goto out;
    rc = store_heartbeat_get(conn, hb->name, &state, err);
    if (rc == 0)
        was_missed = strcmp(state.state, "missed") == 0;
    else if (rc == OB_ENOTFOUND)
        ob_error_clear(err);
    else
        goto out;
    rc = store_heartbeat_checkin(conn, hb->name, now_ms, err);
    store_release(conn);
    conn = NULL;
    if (rc != 0 || !was_missed)
        goto out;
    rc = heartbeat_alert(ing, hb, ALERT_RESOLVE, err);
    if (rc == 0)
        log_info("ingest", "heartbeat back", "heartbeat", hb->name);
out:
    store_release(conn);
    heartbeat_state_release(&state);
    pthread_mutex_unlock(&heartbeat_lock);
    return rc;
}

/* Check one heartbeat; raise its alert when it is overdue. */
static int heartbeat_check_one(struct ingest *ing, const struct config_heartbeat *hb,
                               int64_t now_ms, int64_t *next_deadline, struct ob_error *err)
{
    struct heartbeat_state state = {0};
    struct store_conn *conn = NULL;
    int64_t since, deadline;
    int rc;

    rc = store_acquire(ingest_store(ing), &conn, err);
    if (rc != 0)
        return rc;
    rc = store_heartbeat_get(conn, hb->name, &state, err);
    if (rc == OB_ENOTFOUND) {
        /* First sight: the clock starts now. */
        ob_error_clear(err);
        rc = store_heartbeat_set_state(conn, hb->name, "waiting", now_ms, err);
        deadline = now_ms + ((int64_t)hb->interval_seconds + hb->grace_seconds) * 1000;
        if (rc == 0 && (*next_deadline == 0 || deadline < *next_deadline))
            *next_deadline = deadline;
        goto out;
    }
    if (rc != 0 || strcmp(state.state, "missed") == 0)
        goto out;
    since = state.last_seen_at_ms != 0 ? state.last_seen_at_ms : state.updated_at_ms;
    deadline = since + ((int64_t)hb->interval_seconds + hb->grace_seconds) * 1000;
    if (now_ms < deadline) {
        if (*next_deadline == 0 || deadline < *next_deadline)
            *next_deadline = deadline;
        goto out;
    }
    store_release(conn);
    conn = NULL;
    rc = heartbeat_alert(ing, hb, ALERT_TRIGGER, err);
    if (rc != 0)
        goto out;
    rc = store_acquire(ingest_store(ing), &conn, err);
    if (rc == 0)
        rc = store_heartbeat_set_state(conn, hb->name, "missed", now_ms, err);
    log_warn("ingest", "heartbeat missed", "heartbeat", hb->name, "service", hb->service->name);
out:
    store_release(conn);
    heartbeat_state_release(&state);
    return rc;
}

int heartbeat_check(struct ingest *ing, int64_t now_ms, int64_t *next_deadline_ms,
                    struct ob_error *err)
{
    struct config *cfg = ingest_config(ing);
    int rc = 0;

    *next_deadline_ms = 0;
    pthread_mutex_lock(&heartbeat_lock);
    for (unsigned t = 0; t < cfg->team_count && rc == 0; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned h = 0; h < team->heartbeat_count && rc == 0; h++)
            rc = heartbeat_check_one(ing, &team->heartbeats[h], now_ms, next_deadline_ms, err);
    }
    pthread_mutex_unlock(&heartbeat_lock);
    config_unref(cfg);
    return rc;
}
