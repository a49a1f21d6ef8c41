/*
 * action.h - incident actions from anywhere: the API, phone keys (SIP,
 * Twilio), chat buttons and slash commands all acknowledge, resolve,
 * escalate and annotate incidents through incident_act().
 *
 * Each action is one transaction: the status change (which stops the
 * escalation and queues the chat updates, see store_incident_set_status),
 * its timeline entry and its audit event.  Blocks on the database: never
 * call it on a thread that must not wait (the SIP thread).
 */
#ifndef OPSBELL_ENGINE_ACTION_H
#define OPSBELL_ENGINE_ACTION_H

#include <stdint.h>

struct app;
struct incident;
struct ob_error;

enum incident_action { INCIDENT_ACK, INCIDENT_RESOLVE, INCIDENT_ESCALATE, INCIDENT_NOTE };

struct incident_action_request {
    int64_t incident_id;
    enum incident_action action;
    const char *text;        /* INCIDENT_NOTE only: the note */
    const char *actor;       /* who: "token:ci", "user:alice" */
    const char *remote_addr; /* where from: "127.0.0.1", "sip:bob@host", "slack:U024BE7LH" */
    const char *request_id;  /* may be NULL */
};

/* "incident.acknowledged", "incident.resolved", "escalation.requested", "note". */
const char *incident_action_kind(enum incident_action action);

/*
 * Do it.  Returns 0 and, when out is not NULL, the incident after the
 * action (release with incident_release); OB_ENOTFOUND when there is no
 * such incident; OB_ECONFLICT when the action does not apply to its state
 * (already acknowledged, resolved; no policy to escalate), the message
 * saying which; other store errors.  Nothing is changed unless 0.
 */
int incident_act(struct app *app, const struct incident_action_request *req, struct incident *out,
                 struct ob_error *err);

#endif
