/*
 * escalate.c - taking one escalation step: who the step's targets are right
 * now (users, and whoever is on call on its schedules), the timeline entry,
 * one outbox row per (user, notification rule, contact method), and when
 * the next step is due.  Everything here runs inside the caller's
 * transaction, so a step and its pages are committed together or not at all.
 */
#include "engine/engine_internal.h"

#include "config/config.h"
#include "oncall/overrides.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/log.h"
#include "util/strbuf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int engine_timeline(struct store_conn *conn, int64_t incident_id, int64_t at_ms,
                           const char *kind, const char *actor, const char *message, json_t *data,
                           struct ob_error *err)
{
    char *text = data != NULL ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    struct incident_event ev = {
        .incident_id = incident_id,
        .at_ms = at_ms,
        .kind = (char *)kind,
        .actor = (char *)actor,
        .message = (char *)message,
        .data = text,
    };
    int rc = store_incident_event_append(conn, &ev, err);

    free(text);
    return rc;
}

int engine_escalation_begin(struct store_conn *conn, const struct config_service *svc,
                            int64_t incident_id, int64_t now_ms, int *started, struct ob_error *err)
{
    char message[200];
    int rc;

    *started = 0;
    if (svc == NULL || svc->policy == NULL)
        return 0;
    rc = store_escalation_start(conn, incident_id, svc->policy->name, now_ms, now_ms, err);
    if (rc != 0)
        return rc;
    snprintf(message, sizeof(message), "escalation policy '%s' started", svc->policy->name);
    rc = engine_timeline(conn, incident_id, now_ms, "escalation.started", "engine", message, NULL,
                         err);
    if (rc == 0)
        *started = 1;
    return rc;
}

/* Add name to the JSON array of targets unless it is there already. */
static int targets_add(json_t *users, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(users, i, v)
    {
        if (strcmp(json_string_value(v), name) == 0)
            return 0;
    }
    return json_array_append_new(users, json_string(name));
}

/* The users a step reaches at at_ms into users; who each of its schedules
 * has on call into on_call (name -> user, null when nobody). */
static int step_targets(struct store_conn *conn, const struct config *cfg,
                        const struct config_escalation_step *step, int64_t at_ms, json_t *users,
                        json_t *on_call, struct ob_error *err)
{
    for (unsigned i = 0; i < step->user_count; i++) {
        if (targets_add(users, step->users[i]) != 0)
            return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < step->schedule_count; i++) {
        const struct config_schedule *sched = config_find_schedule(cfg, step->schedules[i]);
        char *who = NULL;
        int rc;

        if (sched == NULL) {
            json_object_set_new(on_call, step->schedules[i], json_null());
            continue;
        }
        rc = oncall_user_at(conn, sched, at_ms, &who, err);
        if (rc != 0)
            return rc;
        json_object_set_new(on_call, sched->name, who != NULL ? json_string(who) : json_null());
        if (who != NULL && targets_add(users, who) != 0) {
            free(who);
            return ob_fail(err, OB_ENOMEM, "out of memory");
        }
        free(who);
    }
    return 0;
}

/* Queue the notifications of one user for a step taken at at_ms. Returns
 * how many rows were queued, or a negative code. */
static int notify_user(struct store_conn *conn, const struct config *cfg, int64_t incident_id,
                       int64_t seq, const char *name, int64_t at_ms, int64_t *first_due,
                       struct ob_error *err)
{
    const struct config_user *user = config_find_user(cfg, name);
    int queued = 0;

    if (user == NULL)
        return 0; /* removed from users.yaml since the policy named them */
    for (unsigned r = 0; r < user->notification_rule_count; r++) {
        const struct config_notification_rule *rule = &user->notification_rules[r];
        for (unsigned c = 0; c < user->contact_method_count; c++) {
            const struct config_contact_method *cm = &user->contact_methods[c];
            struct outbox_row row = {0};
            int rc;

            if (cm->type != rule->type)
                continue;
            row.incident_id = incident_id;
            row.seq = seq;
            row.user_name = user->name;
            row.contact_type = (char *)contact_type_name(cm->type);
            row.address = cm->address;
            row.rule_index = r;
            row.due_at_ms = at_ms + (int64_t)rule->after_seconds * 1000;
            row.created_at_ms = at_ms;
            rc = store_outbox_insert(conn, &row, err);
            if (rc != 0)
                return rc;
            if (*first_due == 0 || row.due_at_ms < *first_due)
                *first_due = row.due_at_ms;
            queued++;
        }
    }
    return queued;
}

int engine_take_step(struct engine_round *round, const struct escalation *esc, struct ob_error *err)
{
    struct store_conn *conn = round->conn;
    const struct config *cfg = round->cfg;
    const struct config_escalation_policy *policy = config_find_policy(cfg, esc->policy);
    const struct config_escalation_step *step;
    struct incident inc;
    int64_t step_i = esc->next_step, pass = esc->next_pass, now = round->now_ms;
    int64_t next_step, next_pass, next_at = 0;
    json_t *users = NULL, *on_call = NULL, *data = NULL;
    char *targets_text = NULL;
    struct strbuf msg = STRBUF_INIT;
    int rc, queued = 0;

    rc = store_incident_get(conn, esc->incident_id, &inc, err);
    if (rc != 0)
        return rc;
    if (strcmp(inc.status, "triggered") != 0) {
        /* An ack or resolve stops the escalation in its own transaction;
         * this is only reached for rows written by an older opsbell. */
        rc = store_escalation_stop(conn, esc->incident_id, "incident is no longer triggered", now,
                                   NULL, err);
        goto out;
    }
    if (policy == NULL || policy->step_count == 0) {
        char reason[200];
        snprintf(reason, sizeof(reason), "escalation policy '%s' no longer exists", esc->policy);
        rc = store_escalation_fail(conn, esc->incident_id, reason, now, err);
        if (rc == 0)
            rc = engine_timeline(conn, esc->incident_id, now, "escalation.failed", "engine", reason,
                                 NULL, err);
        goto out;
    }
    if (step_i >= (int64_t)policy->step_count) { /* the policy shrank since */
        step_i = 0;
        pass++;
    }
    step = &policy->steps[step_i];

    users = json_array();
    on_call = json_object();
    data = json_object();
    if (users == NULL || on_call == NULL || data == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    rc = step_targets(conn, cfg, step, now, users, on_call, err);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < json_array_size(users); i++) {
        int n =
            notify_user(conn, cfg, esc->incident_id, esc->seq + 1,
                        json_string_value(json_array_get(users, i)), now, &round->first_due, err);
        if (n < 0) {
            rc = n;
            goto out;
        }
        queued += n;
        round->queued += (uint64_t)n;
    }

    /* Where the escalation goes next. */
    next_step = step_i + 1;
    next_pass = pass;
    if (next_step >= (int64_t)policy->step_count) {
        next_step = 0;
        next_pass = pass + 1;
    }
    if (next_pass <= (int64_t)policy->repeat)
        next_at = now + (int64_t)step->delay_seconds * 1000;

    targets_text = json_dumps(users, JSON_COMPACT);
    if (targets_text == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    rc = store_escalation_record_step(conn, esc, step_i, pass, now, round->node, targets_text,
                                      next_step, next_pass, next_at, err);
    if (rc != 0)
        goto out;

    strbuf_addf(&msg, "step %lld of %u of policy '%s'", (long long)step_i + 1, policy->step_count,
                policy->name);
    if (policy->repeat > 0)
        strbuf_addf(&msg, " (pass %lld of %u)", (long long)pass + 1, policy->repeat + 1);
    if (json_array_size(users) == 0) {
        strbuf_adds(&msg, ": nobody to notify");
    } else {
        strbuf_adds(&msg, ": notifying ");
        for (size_t i = 0; i < json_array_size(users); i++)
            strbuf_addf(&msg, "%s%s", i ? ", " : "", json_string_value(json_array_get(users, i)));
    }
    json_object_set_new(data, "step", json_integer(step_i + 1));
    json_object_set_new(data, "pass", json_integer(pass + 1));
    json_object_set_new(data, "policy", json_string(policy->name));
    json_object_set_new(data, "node", json_string(round->node));
    json_object_set_new(data, "due_at_ms", json_integer(esc->next_at_ms));
    json_object_set_new(data, "lateness_ms", json_integer(now - esc->next_at_ms));
    json_object_set_new(data, "users", json_incref(users));
    json_object_set_new(data, "schedules", json_incref(on_call));
    json_object_set_new(data, "notifications", json_integer(queued));
    json_object_set_new(data, "next_at_ms", next_at != 0 ? json_integer(next_at) : json_null());
    rc = engine_timeline(conn, esc->incident_id, now, "escalation.step", "engine", strbuf_str(&msg),
                         data, err);
    if (rc == 0 && next_at == 0)
        rc = engine_timeline(conn, esc->incident_id, now, "escalation.exhausted", "engine",
                             "every step of every pass taken; nobody acknowledged", NULL, err);
    if (rc == 0 && next_at != 0 && (round->next_due == 0 || next_at < round->next_due))
        round->next_due = next_at;
    if (rc == 0)
        round->lateness_ms = now - esc->next_at_ms;
out:
    incident_release(&inc);
    json_decref(users);
    json_decref(on_call);
    json_decref(data);
    free(targets_text);
    strbuf_release(&msg);
    return rc;
}

int engine_escalate_now(struct store_conn *conn, const struct config *cfg, int64_t incident_id,
                        const char *actor, int64_t now_ms, struct ob_error *err)
{
    const struct config_service *svc;
    const struct config_escalation_policy *policy;
    struct escalation esc;
    struct incident inc;
    int rc, started = 0;

    rc = store_incident_get(conn, incident_id, &inc, err);
    if (rc != 0)
        return rc;
    if (strcmp(inc.status, "resolved") == 0) {
        rc = ob_fail(err, OB_ECONFLICT, "incident %lld is resolved", (long long)incident_id);
        goto out;
    }
    svc = config_find_service(cfg, inc.service);
    policy = svc != NULL ? svc->policy : NULL;
    if (policy == NULL) {
        rc = ob_fail(err, OB_ECONFLICT, "service '%s' has no escalation policy", inc.service);
        goto out;
    }
    if (strcmp(inc.status, "acknowledged") == 0) {
        /* As in PagerDuty: escalating an acknowledged incident re-triggers it. */
        rc = store_incident_retrigger(conn, incident_id, now_ms, err);
        if (rc == 0)
            rc = engine_timeline(conn, incident_id, now_ms, "incident.retriggered", actor,
                                 "escalated while acknowledged: triggered again", NULL, err);
        if (rc != 0)
            goto out;
    }
    rc = store_escalation_get(conn, incident_id, &esc, err);
    if (rc == OB_ENOTFOUND) {
        ob_error_clear(err);
        rc = engine_escalation_begin(conn, svc, incident_id, now_ms, &started, err);
        goto out;
    }
    if (rc != 0)
        goto out;
    escalation_release(&esc);
    rc = store_escalation_advance(conn, incident_id, now_ms, policy->step_count, err);
out:
    incident_release(&inc);
    return rc;
}
