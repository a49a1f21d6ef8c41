/*
 * api.c - the route table and the dispatcher: authentication (Bearer
 * token), authorization (scope and team), then the handler.
 */
#include "api/api.h"

#include "daemon/app.h"
#include "store/store.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* Order matters only for readability: patterns do not overlap. */
const struct route api_routes[] = {
    {"GET", "/healthz", api_healthz, 0, NULL, 0},
    {"GET", "/metrics", api_metrics, 0, NULL, 0},
    {"GET", "/api/v1/whoami", api_whoami, SCOPE_READ, NULL, 0},
    {"POST", "/api/v1/config/reload", api_config_reload, SCOPE_ADMIN, NULL, 1},
    {"GET", "/api/v1/teams", api_teams_list, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/teams/{team}", api_team_show, SCOPE_READ, "team", 0},
    {"GET", "/api/v1/teams/{team}/services", api_team_services, SCOPE_READ, "team", 0},
    {"GET", "/api/v1/services", api_services_list, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/services/{service}", api_service_show, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/escalation-policies", api_policies_list, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/escalation-policies/{policy}", api_policy_show, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/users", api_users_list, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/users/{user}", api_user_show, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/users/{user}/contact-methods", api_contact_methods_list, SCOPE_READ, NULL, 0},
    {"POST", "/api/v1/users/{user}/verifications", api_verification_start, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/users/{user}/verifications/confirm", api_verification_confirm, SCOPE_WRITE,
     NULL, 0},
    {"POST", "/api/v1/users/{user}/verifications/trust", api_verification_trust, SCOPE_ADMIN, NULL,
     1},
    {"GET", "/api/v1/tokens", api_tokens_list, SCOPE_ADMIN, NULL, 0},
    {"POST", "/api/v1/tokens", api_tokens_create, SCOPE_ADMIN, NULL, 0},
    {"DELETE", "/api/v1/tokens/{id}", api_tokens_revoke, SCOPE_ADMIN, NULL, 0},
    {"GET", "/api/v1/audit", api_audit_list, SCOPE_ADMIN, NULL, 1},
    /* Ingestion doors. The Alertmanager API and the keyed doors take no token,
     * as the tools that post to them expect; the keys are the credentials. */
    {"POST", "/api/v2/alerts", api_ingest_alertmanager, 0, NULL, 0},
    {"GET", "/api/v2/alerts", api_alertmanager_list, SCOPE_READ, NULL, 1},
    {"POST", "/api/v1/integrations/alertmanager/{key}", api_ingest_webhook, 0, NULL, 0},
    {"POST", "/v2/enqueue", api_ingest_pagerduty, 0, NULL, 0},
    {"POST", "/api/v1/alerts", api_ingest_generic, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/heartbeats/{key}", api_heartbeat_checkin, 0, NULL, 0},
    {"GET", "/api/v1/heartbeats/{key}", api_heartbeat_checkin, 0, NULL, 0},
    {"GET", "/api/v1/incidents", api_incidents_list, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/incidents/{id}", api_incident_show, SCOPE_READ, NULL, 0},
    {"POST", "/api/v1/incidents/{id}/ack", api_incident_ack, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/incidents/{id}/resolve", api_incident_resolve, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/incidents/{id}/escalate", api_incident_escalate, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/incidents/{id}/notes", api_incident_note, SCOPE_WRITE, NULL, 0},
    /* Silences match labels of every team: only tokens for every team set them. */
    {"GET", "/api/v1/silences", api_silences_list, SCOPE_READ, NULL, 0},
    {"POST", "/api/v1/silences", api_silences_create, SCOPE_WRITE, NULL, 1},
    {"DELETE", "/api/v1/silences/{id}", api_silences_expire, SCOPE_WRITE, NULL, 1},
    /* On call. Handlers limit team tokens to their team's schedules. */
    {"GET", "/api/v1/schedules", api_schedules_list, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/schedules/{schedule}", api_schedule_show, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/schedules/{schedule}/overrides", api_overrides_list, SCOPE_READ, NULL, 0},
    {"POST", "/api/v1/schedules/{schedule}/overrides", api_overrides_create, SCOPE_WRITE, NULL, 0},
    {"DELETE", "/api/v1/overrides/{id}", api_override_delete, SCOPE_WRITE, NULL, 0},
    {"GET", "/api/v1/oncall", api_oncall, SCOPE_READ, NULL, 0},
    {"POST", "/api/v1/tel", api_tel_create, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/breakglass", api_breakglass_request, SCOPE_WRITE, NULL, 0},
    {"GET", "/api/v1/breakglass", api_breakglass_list, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/breakglass/{id}", api_breakglass_show, SCOPE_READ, NULL, 0},
    {"POST", "/api/v1/breakglass/{id}/approve", api_breakglass_approve, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/breakglass/{id}/deny", api_breakglass_deny, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/breakglass/{id}/revoke", api_breakglass_revoke, SCOPE_WRITE, NULL, 0},
    {"POST", "/api/v1/breakglass/{id}/certificate", api_breakglass_certificate, SCOPE_WRITE, NULL,
     0},
    {"GET", "/api/v1/allowlist", api_allowlist_list, SCOPE_READ, NULL, 0},
    /* Host agents: their own tokens, checked by the handlers. */
    {"GET", "/api/v1/agent/state", api_agent_state, 0, NULL, 0},
    {"POST", "/api/v1/agent/report", api_agent_report, 0, NULL, 0},
    /* One-time links: the secret is in the path. */
    {"GET", "/allowme/{token}", api_allowme, 0, NULL, 0},
    {"POST", "/allowme/{token}", api_allowme, 0, NULL, 0},
    {"GET", "/api/v1/tel/{id}", api_tel_show, SCOPE_READ, NULL, 0},
    {"GET", "/api/v1/ical-feeds", api_ical_feeds_list, SCOPE_READ, NULL, 0},
    {"POST", "/api/v1/ical-feeds", api_ical_feeds_create, SCOPE_WRITE, NULL, 0},
    {"DELETE", "/api/v1/ical-feeds/{id}", api_ical_feed_revoke, SCOPE_WRITE, NULL, 0},
    /* A calendar client has no bearer token: the secret in the path
     * ("<token>.ics") is the credential, and the access log masks it. */
    {"GET", "/ical/{token}", api_ical_feed, 0, NULL, 0},
    /* Providers' callbacks carry no bearer token: each handler verifies
     * the provider's own signature ({id} is the notification). */
    {"POST", "/twilio/voice/{id}", api_twilio_voice, 0, NULL, 0},
    {"POST", "/twilio/voice/{id}/gather", api_twilio_gather, 0, NULL, 0},
    {"POST", "/twilio/status/{id}", api_twilio_status, 0, NULL, 0},
    {"POST", "/twilio/sms", api_twilio_sms_inbound, 0, NULL, 0},
    {"POST", "/slack/interactions", api_slack_interactions, 0, NULL, 0},
    /* Slash commands: a Slack signature or a Mattermost command token. */
    {"POST", "/slack/commands", api_slack_commands, 0, NULL, 0},
};
const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);

void api_reply_json(struct http_response *resp, int status, json_t *obj)
{
    char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;

    json_decref(obj);
    if (text == NULL) {
        http_response_error(resp, 500, "cannot encode the response");
        return;
    }
    http_response_take(resp, status, "application/json", text, strlen(text));
}

const struct auth_principal *api_principal(const struct http_request *req)
{
    return req->auth;
}

struct audit_origin api_origin(const struct http_request *req)
{
    const struct auth_principal *p = req->auth;
    struct audit_origin origin = {
        .actor = p != NULL ? p->actor : "anonymous",
        .remote_addr = req->remote_addr,
        .request_id = req->request_id,
    };

    return origin;
}

void api_dispatch(void *app_ptr, const struct route *route, struct http_request *req,
                  struct http_response *resp)
{
    struct app *app = app_ptr;
    struct auth_principal principal;
    struct ob_error err = {0};
    const char *team = NULL;
    int rc;

    if (route->required_scope == SCOPE_NONE) {
        route->handler(app, req, resp);
        return;
    }
    rc = auth_authenticate(app->store, http_request_header(req, "Authorization"), store_now_ms(),
                           &principal, &err);
    if (rc != 0) {
        http_response_from_error(resp, &err);
        if (resp->status == 401)
            http_response_add_header(resp, "WWW-Authenticate", "Bearer realm=\"opsbell\"");
        return;
    }
    if (route->team_param != NULL)
        team = http_request_param(req, route->team_param);
    if (route->team_param != NULL || route->global_only)
        rc = auth_authorize(&principal, (enum token_scope)route->required_scope, team, &err);
    else /* the handler limits what a team token sees */
        rc = auth_authorize(&principal, (enum token_scope)route->required_scope,
                            principal.team[0] != '\0' ? principal.team : NULL, &err);
    if (rc != 0) {
        http_response_from_error(resp, &err);
        return;
    }
    req->auth = &principal;
    route->handler(app, req, resp);
    req->auth = NULL; /* principal lives on this stack frame only */
}
