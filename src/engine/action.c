/*
 * action.c - incident actions in one transaction (see action.h).
 */
#include "engine/action.h"

#include "auth/auth.h"
#include "config/config.h"
#include "daemon/app.h"
#include "engine/engine.h"
#include "notify/notify.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *incident_action_kind(enum incident_action action)
{
    switch (action) {
    case INCIDENT_ACK:
        return "incident.acknowledged";
    case INCIDENT_RESOLVE:
        return "incident.resolved";
    case INCIDENT_ESCALATE:
        return "escalation.requested";
    case INCIDENT_NOTE:
        break;
    }
    return "note";
}

static int act_in_transaction(struct store_conn *conn, const struct config *cfg,
                              const struct incident_action_request *req, int64_t now,
                              struct ob_error *err)
{
    const char *kind = incident_action_kind(req->action);
    struct incident_event ev = {0};
    struct audit_event audit = {0};
    char target[32];
    json_t *details;
    char *details_text;
    struct incident inc;
    int rc;

    rc = store_incident_get(conn, req->incident_id, &inc, err);
    if (rc == OB_ENOTFOUND)
        return ob_fail(err, OB_ENOTFOUND, "no incident #%lld", (long long)req->incident_id);
    if (rc != 0)
        return rc;
    incident_release(&inc);
    switch (req->action) {
    case INCIDENT_ACK:
        rc =
            store_incident_set_status(conn, req->incident_id, "acknowledged", req->actor, now, err);
        break;
    case INCIDENT_RESOLVE:
        rc = store_incident_set_status(conn, req->incident_id, "resolved", req->actor, now, err);
        /* A resolved incident has no firing alerts: if the sender still
         * fires, its next re-send opens a new incident, as PagerDuty does. */
        if (rc == 0) {
            int64_t resolved = 0;
            rc = store_alert_resolve_incident(conn, req->incident_id, now, &resolved, err);
            if (rc == 0 && resolved > 0)
                rc = store_incident_count_alerts(conn, req->incident_id, 0, -resolved, now, NULL,
                                                 err);
        }
        break;
    case INCIDENT_ESCALATE:
        /* The engine makes the next step due now (or begins the
         * escalation); it notices after the commit, through engine_hint. */
        rc = engine_escalate_now(conn, cfg, req->incident_id, req->actor, now, err);
        break;
    case INCIDENT_NOTE:
        break;
    }
    if (rc != 0)
        return rc;
    ev.incident_id = req->incident_id;
    ev.at_ms = now;
    ev.kind = (char *)kind;
    ev.actor = (char *)req->actor;
    ev.message = (char *)(req->action == INCIDENT_NOTE ? req->text : NULL);
    rc = store_incident_event_append(conn, &ev, err);
    if (rc != 0)
        return rc;
    snprintf(target, sizeof(target), "incident:%lld", (long long)req->incident_id);
    details = json_pack("{s:s, s:s?}", "kind", kind, "message", ev.message);
    details_text = details != NULL ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(details);
    if (details_text == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    audit.at_ms = now;
    audit.actor = (char *)req->actor;
    audit.action = (char *)kind;
    audit.target = target;
    audit.remote_addr = (char *)req->remote_addr;
    audit.request_id = (char *)req->request_id;
    audit.details = details_text;
    rc = store_audit_append(conn, &audit, err);
    free(details_text);
    return rc;
}

int incident_act(struct app *app, const struct incident_action_request *req, struct incident *out,
                 struct ob_error *err)
{
    struct config *cfg = NULL;
    struct store_conn *conn = NULL;
    int64_t now = store_now_ms();
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (req->actor == NULL || req->actor[0] == '\0')
        return ob_fail(err, OB_EINVAL, "an incident action needs an actor");
    if (req->action == INCIDENT_NOTE && (req->text == NULL || req->text[0] == '\0'))
        return ob_fail(err, OB_EINVAL, "a note needs text");
    if (req->action == INCIDENT_ESCALATE)
        cfg = app_config_get(app);
    rc = store_acquire(app->store, &conn, err);
    if (rc != 0)
        goto out;
    rc = store_begin(conn, err);
    if (rc == 0)
        rc = act_in_transaction(conn, cfg, req, now, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    if (rc != 0) {
        store_rollback(conn);
        goto out;
    }
    if (req->action == INCIDENT_ESCALATE)
        engine_hint(app->engine, now);
    if (req->action == INCIDENT_ACK || req->action == INCIDENT_RESOLVE)
        dispatcher_hint(app->dispatcher, now); /* the chat updates just queued */
    if (out != NULL)
        rc = store_incident_get(conn, req->incident_id, out, err);
out:
    store_release(conn);
    config_unref(cfg);
    return rc;
}
