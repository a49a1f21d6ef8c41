/*
 * api.h - opsbell's HTTP endpoints: the route table, the dispatcher that
 * authenticates and authorizes each request, and the JSON request parsing
 * shared by handlers.
 *
 * Handlers answer with JSON; every error body is {"error": "<reason>"} with
 * a 4xx/5xx status. Handlers that change state write an audit event in the
 * same transaction as the change.
 */
#ifndef OPSBELL_API_API_H
#define OPSBELL_API_API_H

#include "auth/auth.h"
#include "http/http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct ob_error;

extern const struct route api_routes[];
extern const size_t api_route_count;

/* The http_dispatch_fn for api_routes: authenticate, authorize, call the handler. */
void api_dispatch(void *app, const struct route *route, struct http_request *req,
                  struct http_response *resp);

/* ---- request parsing (pure functions: fuzzed and unit tested) --------------- */

#define API_JSON_MAX_DEPTH 32

/*
 * Parse a JSON request body: content_type must be application/json (a
 * charset=utf-8 parameter is accepted), the body a JSON object without
 * duplicate keys and nested at most API_JSON_MAX_DEPTH deep.
 * Returns 0 and *out (a new reference), or OB_EUNSUPPORTED / OB_EINVAL.
 */
int api_parse_json_object(const char *content_type, const char *body, size_t len, json_t **out,
                          struct ob_error *err);

/* application/json, optionally with a UTF-8 charset parameter. */
int api_content_type_is_json(const char *content_type);

/*
 * Refuse keys of obj not in the NULL-terminated list allowed (the first
 * unknown one is named). Returns 0 or OB_EINVAL.
 */
int api_json_only_keys(json_t *obj, const char *const *allowed, struct ob_error *err);

/*
 * Read an optional (required=false) or required string member. *out borrows
 * from obj; NULL when absent and optional. Strings longer than max_len or
 * containing NUL are refused.
 */
int api_json_string(json_t *obj, const char *key, bool required, size_t max_len, const char **out,
                    struct ob_error *err);
/* Read an optional integer member within [min, max]; *out untouched when absent. */
int api_json_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
                 int64_t *out, struct ob_error *err);

/* POST /api/v1/tokens body. Strings borrow from *root, which the caller releases. */
struct token_create_input {
    json_t *root; /* owned reference */
    const char *name;
    enum token_scope scope;
    const char *team;     /* NULL = every team */
    int64_t expires_in_s; /* 0 = never */
    const char *user;     /* NULL, or the user a person's token acts as */
    const char *agent;    /* NULL, or the host of an agent's token */
};

int api_parse_token_create(const char *content_type, const char *body, size_t len,
                           struct token_create_input *out, struct ob_error *err);
void token_create_input_release(struct token_create_input *in);

/* ---- helpers for handlers (api.c) ------------------------------------------------ */

/* Serialize obj (reference stolen) as the response body. */
void api_reply_json(struct http_response *resp, int status, json_t *obj);
/* The caller's identity (the dispatcher sets it). */
const struct auth_principal *api_principal(const struct http_request *req);
/* The origin of a change, for the audit log. */
struct audit_origin api_origin(const struct http_request *req);

/* Handlers, grouped by file. */
void api_healthz(void *app, struct http_request *req, struct http_response *resp);
void api_metrics(void *app, struct http_request *req, struct http_response *resp);
void api_whoami(void *app, struct http_request *req, struct http_response *resp);
void api_config_reload(void *app, struct http_request *req, struct http_response *resp);
void api_teams_list(void *app, struct http_request *req, struct http_response *resp);
void api_team_show(void *app, struct http_request *req, struct http_response *resp);
void api_team_services(void *app, struct http_request *req, struct http_response *resp);
void api_services_list(void *app, struct http_request *req, struct http_response *resp);
void api_service_show(void *app, struct http_request *req, struct http_response *resp);
void api_policies_list(void *app, struct http_request *req, struct http_response *resp);
void api_policy_show(void *app, struct http_request *req, struct http_response *resp);
void api_users_list(void *app, struct http_request *req, struct http_response *resp);
void api_user_show(void *app, struct http_request *req, struct http_response *resp);
void api_tokens_list(void *app, struct http_request *req, struct http_response *resp);
void api_tokens_create(void *app, struct http_request *req, struct http_response *resp);
void api_tokens_revoke(void *app, struct http_request *req, struct http_response *resp);
void api_audit_list(void *app, struct http_request *req, struct http_response *resp);
void api_ingest_alertmanager(void *app, struct http_request *req, struct http_response *resp);
void api_alertmanager_list(void *app, struct http_request *req, struct http_response *resp);
void api_ingest_webhook(void *app, struct http_request *req, struct http_response *resp);
void api_ingest_pagerduty(void *app, struct http_request *req, struct http_response *resp);
void api_ingest_generic(void *app, struct http_request *req, struct http_response *resp);
void api_heartbeat_checkin(void *app, struct http_request *req, struct http_response *resp);
void api_silences_create(void *app, struct http_request *req, struct http_response *resp);
void api_silences_list(void *app, struct http_request *req, struct http_response *resp);
void api_silences_expire(void *app, struct http_request *req, struct http_response *resp);
void api_incidents_list(void *app, struct http_request *req, struct http_response *resp);
void api_incident_show(void *app, struct http_request *req, struct http_response *resp);
void api_incident_ack(void *app, struct http_request *req, struct http_response *resp);
void api_incident_resolve(void *app, struct http_request *req, struct http_response *resp);
void api_incident_escalate(void *app, struct http_request *req, struct http_response *resp);
void api_incident_note(void *app, struct http_request *req, struct http_response *resp);
void api_schedules_list(void *app, struct http_request *req, struct http_response *resp);
void api_schedule_show(void *app, struct http_request *req, struct http_response *resp);
void api_oncall(void *app, struct http_request *req, struct http_response *resp);
void api_overrides_list(void *app, struct http_request *req, struct http_response *resp);
void api_overrides_create(void *app, struct http_request *req, struct http_response *resp);
void api_override_delete(void *app, struct http_request *req, struct http_response *resp);
void api_ical_feeds_create(void *app, struct http_request *req, struct http_response *resp);
void api_ical_feeds_list(void *app, struct http_request *req, struct http_response *resp);
void api_ical_feed_revoke(void *app, struct http_request *req, struct http_response *resp);

/* handlers_tel.c: ring someone now, and how the call went. */
void api_tel_create(void *app, struct http_request *req, struct http_response *resp);
/* handlers_access.c */
void api_breakglass_request(void *app, struct http_request *req, struct http_response *resp);
void api_breakglass_list(void *app, struct http_request *req, struct http_response *resp);
void api_breakglass_show(void *app, struct http_request *req, struct http_response *resp);
void api_breakglass_approve(void *app, struct http_request *req, struct http_response *resp);
void api_breakglass_deny(void *app, struct http_request *req, struct http_response *resp);
void api_breakglass_revoke(void *app, struct http_request *req, struct http_response *resp);
void api_breakglass_certificate(void *app, struct http_request *req, struct http_response *resp);
void api_allowlist_list(void *app, struct http_request *req, struct http_response *resp);
void api_allowme(void *app, struct http_request *req, struct http_response *resp);
void api_agent_state(void *app, struct http_request *req, struct http_response *resp);
void api_agent_report(void *app, struct http_request *req, struct http_response *resp);
void api_tel_show(void *app, struct http_request *req, struct http_response *resp);
/* handlers_verify.c: contact methods and their verification. */
void api_contact_methods_list(void *app, struct http_request *req, struct http_response *resp);
void api_verification_start(void *app, struct http_request *req, struct http_response *resp);
void api_verification_confirm(void *app, struct http_request *req, struct http_response *resp);
void api_verification_trust(void *app, struct http_request *req, struct http_response *resp);
/* handlers_twilio.c: TwiML for a call, its keys, its status, inbound SMS replies. */
void api_twilio_voice(void *app, struct http_request *req, struct http_response *resp);
void api_twilio_gather(void *app, struct http_request *req, struct http_response *resp);
void api_twilio_status(void *app, struct http_request *req, struct http_response *resp);
void api_twilio_sms_inbound(void *app, struct http_request *req, struct http_response *resp);
/* handlers_slack.c: button presses on opsbell's messages. */
void api_slack_interactions(void *app, struct http_request *req, struct http_response *resp);
/* handlers_commands.c: slash commands from Slack and Mattermost (docs/CHATOPS.md). */
void api_slack_commands(void *app, struct http_request *req, struct http_response *resp);
void api_ical_feed(void *app, struct http_request *req, struct http_response *resp);

/* ---- shared by handlers (handlers_oncall.c) ---------------------------------------- */

struct config_schedule;
struct store_conn;

/* An instant as an RFC 3339 UTC string ("2026-03-08T07:00:00Z", with
 * milliseconds when not whole), or JSON null for 0 and out-of-range. */
json_t *api_time_json(int64_t ms);
/*
 * Who is on call for sched at at_ms, the schedule's overrides applied:
 * {schedule, team, at, oncall: {user, start, end} | null, next: ... | null}.
 * Returns a new reference, or NULL with err set.
 */
json_t *api_oncall_json(struct store_conn *conn, const struct config_schedule *sched, int64_t at_ms,
                        struct ob_error *err);

#endif
