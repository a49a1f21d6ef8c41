/*
 * schema.c - libcyaml schemas of opsbell.yaml, users.yaml and team files, and
 * the translation of libcyaml's log into one positioned diagnostic.
 *
 * libcyaml 1.3.1 stops at the first schema error and says what and where only
 * through its log callback, as a message line followed by a backtrace:
 *
 *   Load: Unexpected key: bogus
 *   Load: Backtrace:
 *     in mapping (line: 3, column: 11)
 *     in sequence entry '1' (line: 3, column: 5)
 *     in mapping field 'services' (line: 3, column: 3)
 *
 * Lines and columns are 1-based.  The innermost mark is the offending node
 * for value errors (wrong type, too many entries), but it is stale for key
 * errors: it still points at the last value read in that mapping.  A
 * "sequence entry 'N'" count is the entry's index + 1 while inside the
 * entry.  So we rebuild the node's path from the backtrace and look the key
 * or mapping up in the yamlpos index; the innermost mark is the fallback.
 * We never copy libcyaml's message text: it can quote a value (a secret).
 */
#include "config/schema.h"

#include "config/yamlpos.h"
#include "util/error.h"

#include <cyaml/cyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_FIELD(key, flags, type, member)                                                        \
    CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | (flags), type, member, 0, CONFIG_MAX_STRING)
#define OPT CYAML_FLAG_OPTIONAL
#define REQ CYAML_FLAG_DEFAULT

static const cyaml_schema_value_t schema_string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CONFIG_MAX_STRING),
};

/* ---- opsbell.yaml ---- */

static const cyaml_schema_field_t schema_http_fields[] = {
    STR_FIELD("max_body_bytes", OPT, struct raw_http, max_body_bytes),
    STR_FIELD("threads", OPT, struct raw_http, threads),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_log_fields[] = {
    STR_FIELD("level", OPT, struct raw_log, level),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_slack_fields[] = {
    STR_FIELD("api_url", OPT, struct raw_slack, api_url),
    STR_FIELD("bot_token", REQ, struct raw_slack, bot_token),
    STR_FIELD("signing_secret", REQ, struct raw_slack, signing_secret),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_mattermost_fields[] = {
    STR_FIELD("command_token", REQ, struct raw_mattermost, command_token),
    STR_FIELD("api_url", OPT, struct raw_mattermost, api_url),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_twilio_fields[] = {
    STR_FIELD("api_url", OPT, struct raw_twilio, api_url),
    STR_FIELD("account_sid", REQ, struct raw_twilio, account_sid),
    STR_FIELD("auth_token", REQ, struct raw_twilio, auth_token),
    STR_FIELD("from_number", REQ, struct raw_twilio, from_number),
    STR_FIELD("ring_timeout", OPT, struct raw_twilio, ring_timeout),
    STR_FIELD("request_timeout", OPT, struct raw_twilio, request_timeout),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_smtp_fields[] = {
    STR_FIELD("url", REQ, struct raw_smtp, url),
    STR_FIELD("username", OPT, struct raw_smtp, username),
    STR_FIELD("password", OPT, struct raw_smtp, password),
    STR_FIELD("from_address", REQ, struct raw_smtp, from_address),
    STR_FIELD("require_tls", OPT, struct raw_smtp, require_tls),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_sip_fields[] = {
    STR_FIELD("outbound_proxy", OPT, struct raw_sip, outbound_proxy),
    STR_FIELD("from_uri", REQ, struct raw_sip, from_uri),
    STR_FIELD("username", OPT, struct raw_sip, username),
    STR_FIELD("password", OPT, struct raw_sip, password),
    STR_FIELD("listen", OPT, struct raw_sip, listen),
    STR_FIELD("trunk", OPT, struct raw_sip, trunk),
    STR_FIELD("ring_timeout", OPT, struct raw_sip, ring_timeout),
    STR_FIELD("max_call", OPT, struct raw_sip, max_call),
    STR_FIELD("rtp_ports", OPT, struct raw_sip, rtp_ports),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_log_provider_fields[] = {
    STR_FIELD("path", OPT, struct raw_log_provider, path),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_webhook_fields[] = {
    STR_FIELD("signing_secret", REQ, struct raw_webhook, signing_secret),
    STR_FIELD("retry_base", OPT, struct raw_webhook, retry_base),
    STR_FIELD("max_attempts", OPT, struct raw_webhook, max_attempts),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_limit_fields[] = {
    STR_FIELD("max", REQ, struct raw_limit, max),
    STR_FIELD("per", REQ, struct raw_limit, per),
    CYAML_FIELD_END,
};

#define LIMIT_FIELD(name)                                                                          \
    CYAML_FIELD_MAPPING_PTR(#name, CYAML_FLAG_POINTER | OPT, struct raw_limits, name,              \
                            schema_limit_fields)

static const cyaml_schema_field_t schema_limits_fields[] = {
    LIMIT_FIELD(voice), LIMIT_FIELD(sms),     LIMIT_FIELD(sip), LIMIT_FIELD(email),
    LIMIT_FIELD(slack), LIMIT_FIELD(webhook), CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_providers_fields[] = {
    CYAML_FIELD_MAPPING_PTR("log", CYAML_FLAG_POINTER | OPT, struct raw_providers, log,
                            schema_log_provider_fields),
    CYAML_FIELD_MAPPING_PTR("webhook", CYAML_FLAG_POINTER | OPT, struct raw_providers, webhook,
                            schema_webhook_fields),
    CYAML_FIELD_MAPPING_PTR("slack", CYAML_FLAG_POINTER | OPT, struct raw_providers, slack,
                            schema_slack_fields),
    CYAML_FIELD_MAPPING_PTR("mattermost", CYAML_FLAG_POINTER | OPT, struct raw_providers,
                            mattermost, schema_mattermost_fields),
    CYAML_FIELD_MAPPING_PTR("twilio", CYAML_FLAG_POINTER | OPT, struct raw_providers, twilio,
                            schema_twilio_fields),
    CYAML_FIELD_MAPPING_PTR("smtp", CYAML_FLAG_POINTER | OPT, struct raw_providers, smtp,
                            schema_smtp_fields),
    CYAML_FIELD_MAPPING_PTR("sip", CYAML_FLAG_POINTER | OPT, struct raw_providers, sip,
                            schema_sip_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_rule_fields[] = {
    STR_FIELD("type", REQ, struct raw_notification_rule, type),
    STR_FIELD("after", REQ, struct raw_notification_rule, after),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_rule_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_notification_rule, schema_rule_fields),
};

static const cyaml_schema_field_t schema_ical_fields[] = {
    STR_FIELD("horizon", OPT, struct raw_ical, horizon),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_engine_fields[] = {
    STR_FIELD("poll_interval", OPT, struct raw_engine, poll_interval),
    STR_FIELD("send_lease", OPT, struct raw_engine, send_lease),
    STR_FIELD("retry_base", OPT, struct raw_engine, retry_base),
    STR_FIELD("max_attempts", OPT, struct raw_engine, max_attempts),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_ssh_ca_fields[] = {
    STR_FIELD("key", REQ, struct raw_ssh_ca, key),
    STR_FIELD("max_validity", OPT, struct raw_ssh_ca, max_validity),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_nftables_fields[] = {
    STR_FIELD("table", OPT, struct raw_nftables, table),
    STR_FIELD("port", OPT, struct raw_nftables, port),
    STR_FIELD("drop_others", OPT, struct raw_nftables, drop_others),
    STR_FIELD("max_prefix_v4", OPT, struct raw_nftables, max_prefix_v4),
    STR_FIELD("max_prefix_v6", OPT, struct raw_nftables, max_prefix_v6),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_enforcer_aws_fields[] = {
    STR_FIELD("region", REQ, struct raw_enforcer_aws, region),
    STR_FIELD("security_group_id", REQ, struct raw_enforcer_aws, security_group_id),
    STR_FIELD("endpoint", OPT, struct raw_enforcer_aws, endpoint),
    STR_FIELD("access_key_id", REQ, struct raw_enforcer_aws, access_key_id),
    STR_FIELD("secret_access_key", REQ, struct raw_enforcer_aws, secret_access_key),
    STR_FIELD("session_token", OPT, struct raw_enforcer_aws, session_token),
    STR_FIELD("port", OPT, struct raw_enforcer_aws, port),
    STR_FIELD("sweep_interval", OPT, struct raw_enforcer_aws, sweep_interval),
    STR_FIELD("host_group", OPT, struct raw_enforcer_aws, host_group),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_enforcers_fields[] = {
    CYAML_FIELD_MAPPING_PTR("nftables", CYAML_FLAG_POINTER | OPT, struct raw_enforcers, nftables,
                            schema_nftables_fields),
    CYAML_FIELD_MAPPING_PTR("aws", CYAML_FLAG_POINTER | OPT, struct raw_enforcers, aws,
                            schema_enforcer_aws_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_keys_fields[] = {
    STR_FIELD("repository", REQ, struct raw_keys, repository),
    STR_FIELD("branch", OPT, struct raw_keys, branch),
    STR_FIELD("path", OPT, struct raw_keys, path),
    STR_FIELD("cache_dir", OPT, struct raw_keys, cache_dir),
    STR_FIELD("sync_interval", OPT, struct raw_keys, sync_interval),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_access_logs_fields[] = {
    STR_FIELD("token", REQ, struct raw_access_logs, token),
    STR_FIELD("interval", OPT, struct raw_access_logs, interval),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_allowlist_fields[] = {
    STR_FIELD("freshness", OPT, struct raw_allowlist, freshness),
    STR_FIELD("max_per_user", OPT, struct raw_allowlist, max_per_user),
    STR_FIELD("link_ttl", OPT, struct raw_allowlist, link_ttl),
    CYAML_FIELD_SEQUENCE_COUNT("trusted_proxies", CYAML_FLAG_POINTER_NULL | OPT,
                               struct raw_allowlist, trusted_proxies, trusted_proxy_count,
                               &schema_string_entry, 0, CONFIG_MAX_PROXIES),
    CYAML_FIELD_MAPPING_PTR("slack_access_logs", CYAML_FLAG_POINTER | OPT, struct raw_allowlist,
                            slack_access_logs, schema_access_logs_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_main_fields[] = {
    STR_FIELD("listen", OPT, struct raw_main, listen),
    STR_FIELD("storage", OPT, struct raw_main, storage),
    STR_FIELD("public_url", OPT, struct raw_main, public_url),
    CYAML_FIELD_MAPPING_PTR("http", CYAML_FLAG_POINTER | OPT, struct raw_main, http,
                            schema_http_fields),
    CYAML_FIELD_MAPPING_PTR("log", CYAML_FLAG_POINTER | OPT, struct raw_main, log,
                            schema_log_fields),
    CYAML_FIELD_MAPPING_PTR("providers", CYAML_FLAG_POINTER | OPT, struct raw_main, providers,
                            schema_providers_fields),
    STR_FIELD("users_file", OPT, struct raw_main, users_file),
    STR_FIELD("teams_dir", OPT, struct raw_main, teams_dir),
    CYAML_FIELD_SEQUENCE_COUNT("notification_rules", CYAML_FLAG_POINTER_NULL | OPT, struct raw_main,
                               notification_rules, notification_rule_count, &schema_rule_entry, 0,
                               CONFIG_MAX_RULES),
    CYAML_FIELD_MAPPING_PTR("ical", CYAML_FLAG_POINTER | OPT, struct raw_main, ical,
                            schema_ical_fields),
    CYAML_FIELD_MAPPING_PTR("engine", CYAML_FLAG_POINTER | OPT, struct raw_main, engine,
                            schema_engine_fields),
    CYAML_FIELD_MAPPING_PTR("notification_limits", CYAML_FLAG_POINTER | OPT, struct raw_main,
                            notification_limits, schema_limits_fields),
    CYAML_FIELD_MAPPING_PTR("ssh_ca", CYAML_FLAG_POINTER | OPT, struct raw_main, ssh_ca,
                            schema_ssh_ca_fields),
    CYAML_FIELD_MAPPING_PTR("enforcers", CYAML_FLAG_POINTER | OPT, struct raw_main, enforcers,
                            schema_enforcers_fields),
    CYAML_FIELD_MAPPING_PTR("keys", CYAML_FLAG_POINTER | OPT, struct raw_main, keys,
                            schema_keys_fields),
    CYAML_FIELD_MAPPING_PTR("allowlist", CYAML_FLAG_POINTER | OPT, struct raw_main, allowlist,
                            schema_allowlist_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_main = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_main, schema_main_fields),
};

/* ---- users.yaml ---- */

static const cyaml_schema_field_t schema_chat_id_fields[] = {
    STR_FIELD("provider", REQ, struct raw_chat_id, provider),
    STR_FIELD("id", REQ, struct raw_chat_id, id),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_chat_id_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_chat_id, schema_chat_id_fields),
};

static const cyaml_schema_field_t schema_contact_fields[] = {
    STR_FIELD("type", REQ, struct raw_contact, type),
    STR_FIELD("address", REQ, struct raw_contact, address),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_contact_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_contact, schema_contact_fields),
};

static const cyaml_schema_field_t schema_user_fields[] = {
    STR_FIELD("name", REQ, struct raw_user, name),
    STR_FIELD("full_name", OPT, struct raw_user, full_name),
    STR_FIELD("nickname", OPT, struct raw_user, nickname),
    STR_FIELD("time_zone", OPT, struct raw_user, time_zone),
    STR_FIELD("email", OPT, struct raw_user, email),
    CYAML_FIELD_SEQUENCE_COUNT("chat_ids", CYAML_FLAG_POINTER_NULL | OPT, struct raw_user, chat_ids,
                               chat_id_count, &schema_chat_id_entry, 0, CONFIG_MAX_CHAT_IDS),
    CYAML_FIELD_SEQUENCE_COUNT("contact_methods", CYAML_FLAG_POINTER_NULL | OPT, struct raw_user,
                               contact_methods, contact_method_count, &schema_contact_entry, 0,
                               CONFIG_MAX_CONTACTS),
    CYAML_FIELD_SEQUENCE_COUNT("notification_rules", CYAML_FLAG_POINTER_NULL | OPT, struct raw_user,
                               notification_rules, notification_rule_count, &schema_rule_entry, 0,
                               CONFIG_MAX_RULES),
    CYAML_FIELD_SEQUENCE_COUNT("logins", CYAML_FLAG_POINTER_NULL | OPT, struct raw_user, logins,
                               login_count, &schema_string_entry, 0, CONFIG_MAX_LOGINS),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_user_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_user, schema_user_fields),
};

static const cyaml_schema_field_t schema_users_fields[] = {
    CYAML_FIELD_SEQUENCE_COUNT("users", CYAML_FLAG_POINTER_NULL | OPT, struct raw_users, users,
                               user_count, &schema_user_entry, 0, CONFIG_MAX_USERS),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_users = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_users, schema_users_fields),
};

/* ---- team files: teams/<team>/NAME.yaml ---- */

static const cyaml_schema_field_t schema_targets_fields[] = {
    CYAML_FIELD_SEQUENCE_COUNT("users", CYAML_FLAG_POINTER_NULL | OPT, struct raw_targets, users,
                               user_count, &schema_string_entry, 0, CONFIG_MAX_TARGETS),
    CYAML_FIELD_SEQUENCE_COUNT("schedules", CYAML_FLAG_POINTER_NULL | OPT, struct raw_targets,
                               schedules, schedule_count, &schema_string_entry, 0,
                               CONFIG_MAX_TARGETS),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_step_fields[] = {
    STR_FIELD("delay", REQ, struct raw_step, delay),
    CYAML_FIELD_MAPPING_PTR("targets", CYAML_FLAG_POINTER | OPT, struct raw_step, targets,
                            schema_targets_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_step_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_step, schema_step_fields),
};

static const cyaml_schema_field_t schema_policy_fields[] = {
    STR_FIELD("name", REQ, struct raw_policy, name),
    STR_FIELD("team", OPT, struct raw_policy, team),
    STR_FIELD("description", OPT, struct raw_policy, description),
    STR_FIELD("repeat", OPT, struct raw_policy, repeat),
    CYAML_FIELD_SEQUENCE_COUNT("steps", CYAML_FLAG_POINTER_NULL | OPT, struct raw_policy, steps,
                               step_count, &schema_step_entry, 0, CONFIG_MAX_STEPS),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_policy_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_policy, schema_policy_fields),
};

static const cyaml_schema_field_t schema_service_fields[] = {
    STR_FIELD("name", REQ, struct raw_service, name),
    STR_FIELD("team", OPT, struct raw_service, team),
    STR_FIELD("description", OPT, struct raw_service, description),
    STR_FIELD("escalation_policy", REQ, struct raw_service, escalation_policy),
    STR_FIELD("integration_key", OPT, struct raw_service, integration_key),
    CYAML_FIELD_SEQUENCE_COUNT("match", CYAML_FLAG_POINTER_NULL | OPT, struct raw_service, match,
                               match_count, &schema_string_entry, 0, CONFIG_MAX_MATCHERS),
    CYAML_FIELD_SEQUENCE_COUNT("dedup_labels", CYAML_FLAG_POINTER_NULL | OPT, struct raw_service,
                               dedup_labels, dedup_label_count, &schema_string_entry, 0,
                               CONFIG_MAX_DEDUP),
    STR_FIELD("auto_resolve", OPT, struct raw_service, auto_resolve),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_service_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_service, schema_service_fields),
};

static const cyaml_schema_field_t schema_breakglass_fields[] = {
    CYAML_FIELD_SEQUENCE_COUNT("self_approve", CYAML_FLAG_POINTER_NULL | OPT, struct raw_breakglass,
                               self_approve, self_approve_count, &schema_string_entry, 0,
                               CONFIG_MAX_MEMBERS),
    CYAML_FIELD_SEQUENCE_COUNT("approvers", CYAML_FLAG_POINTER_NULL | OPT, struct raw_breakglass,
                               approvers, approver_count, &schema_string_entry, 0,
                               CONFIG_MAX_MEMBERS),
    STR_FIELD("max_duration", OPT, struct raw_breakglass, max_duration),
    STR_FIELD("pending_ttl", OPT, struct raw_breakglass, pending_ttl),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_team_fields[] = {
    STR_FIELD("description", OPT, struct raw_team, description),
    CYAML_FIELD_SEQUENCE_COUNT("members", CYAML_FLAG_POINTER_NULL | OPT, struct raw_team, members,
                               member_count, &schema_string_entry, 0, CONFIG_MAX_MEMBERS),
    STR_FIELD("chat_channel", OPT, struct raw_team, chat_channel),
    CYAML_FIELD_SEQUENCE_COUNT("match", CYAML_FLAG_POINTER_NULL | OPT, struct raw_team, match,
                               match_count, &schema_string_entry, 0, CONFIG_MAX_MATCHERS),
    STR_FIELD("fallback_service", OPT, struct raw_team, fallback_service),
    CYAML_FIELD_MAPPING_PTR("breakglass", CYAML_FLAG_POINTER | OPT, struct raw_team, breakglass,
                            schema_breakglass_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t schema_heartbeat_fields[] = {
    STR_FIELD("name", REQ, struct raw_heartbeat, name),
    STR_FIELD("team", OPT, struct raw_heartbeat, team),
    STR_FIELD("service", REQ, struct raw_heartbeat, service),
    STR_FIELD("interval", REQ, struct raw_heartbeat, interval),
    STR_FIELD("grace", OPT, struct raw_heartbeat, grace),
    STR_FIELD("key", REQ, struct raw_heartbeat, key),
    STR_FIELD("summary", OPT, struct raw_heartbeat, summary),
    STR_FIELD("severity", OPT, struct raw_heartbeat, severity),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_heartbeat_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_heartbeat, schema_heartbeat_fields),
};

static const cyaml_schema_field_t schema_restriction_fields[] = {
    CYAML_FIELD_SEQUENCE_COUNT("days", CYAML_FLAG_POINTER_NULL | OPT, struct raw_restriction, days,
                               day_count, &schema_string_entry, 0, 7),
    STR_FIELD("from", REQ, struct raw_restriction, from),
    STR_FIELD("to", REQ, struct raw_restriction, to),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_restriction_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_restriction, schema_restriction_fields),
};

static const cyaml_schema_field_t schema_layer_fields[] = {
    STR_FIELD("name", REQ, struct raw_layer, name),
    STR_FIELD("start", REQ, struct raw_layer, start),
    STR_FIELD("handoff", OPT, struct raw_layer, handoff),
    STR_FIELD("rrule", REQ, struct raw_layer, rrule),
    STR_FIELD("time_zone", OPT, struct raw_layer, time_zone),
    CYAML_FIELD_SEQUENCE_COUNT("users", CYAML_FLAG_POINTER_NULL | OPT, struct raw_layer, users,
                               user_count, &schema_string_entry, 0, CONFIG_MAX_ROTATION),
    CYAML_FIELD_SEQUENCE_COUNT("restrictions", CYAML_FLAG_POINTER_NULL | OPT, struct raw_layer,
                               restrictions, restriction_count, &schema_restriction_entry, 0,
                               CONFIG_MAX_RESTRICT),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_layer_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_layer, schema_layer_fields),
};

static const cyaml_schema_field_t schema_schedule_fields[] = {
    STR_FIELD("name", REQ, struct raw_schedule, name),
    STR_FIELD("team", OPT, struct raw_schedule, team),
    STR_FIELD("description", OPT, struct raw_schedule, description),
    STR_FIELD("time_zone", OPT, struct raw_schedule, time_zone),
    CYAML_FIELD_SEQUENCE_COUNT("layers", CYAML_FLAG_POINTER_NULL | OPT, struct raw_schedule, layers,
                               layer_count, &schema_layer_entry, 0, CONFIG_MAX_LAYERS),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_schedule_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_schedule, schema_schedule_fields),
};

static const cyaml_schema_field_t schema_host_group_fields[] = {
    STR_FIELD("name", REQ, struct raw_host_group, name),
    STR_FIELD("team", OPT, struct raw_host_group, team),
    CYAML_FIELD_SEQUENCE_COUNT("hosts", CYAML_FLAG_POINTER_NULL | OPT, struct raw_host_group, hosts,
                               host_count, &schema_string_entry, 0, CONFIG_MAX_HOSTS),
    STR_FIELD("allowlist", OPT, struct raw_host_group, allowlist),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_host_group_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_host_group, schema_host_group_fields),
};

static const cyaml_schema_field_t schema_team_file_fields[] = {
    CYAML_FIELD_MAPPING_PTR("team", CYAML_FLAG_POINTER | OPT, struct raw_team_file, team,
                            schema_team_fields),
    CYAML_FIELD_SEQUENCE_COUNT("services", CYAML_FLAG_POINTER_NULL | OPT, struct raw_team_file,
                               services, service_count, &schema_service_entry, 0,
                               CONFIG_MAX_SERVICES),
    CYAML_FIELD_SEQUENCE_COUNT("escalation_policies", CYAML_FLAG_POINTER_NULL | OPT,
                               struct raw_team_file, policies, policy_count, &schema_policy_entry,
                               0, CONFIG_MAX_POLICIES),
    CYAML_FIELD_SEQUENCE_COUNT("heartbeats", CYAML_FLAG_POINTER_NULL | OPT, struct raw_team_file,
                               heartbeats, heartbeat_count, &schema_heartbeat_entry, 0,
                               CONFIG_MAX_HEARTBEATS),
    CYAML_FIELD_SEQUENCE_COUNT("schedules", CYAML_FLAG_POINTER_NULL | OPT, struct raw_team_file,
                               schedules, schedule_count, &schema_schedule_entry, 0,
                               CONFIG_MAX_SCHEDULES),
    CYAML_FIELD_SEQUENCE_COUNT("host_groups", CYAML_FLAG_POINTER_NULL | OPT, struct raw_team_file,
                               host_groups, host_group_count, &schema_host_group_entry, 0,
                               CONFIG_MAX_HOST_GROUPS),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t schema_team_file = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_team_file, schema_team_file_fields),
};

static const cyaml_schema_value_t *schema_for(enum config_doc_kind kind, size_t *size)
{
    switch (kind) {
    case CONFIG_DOC_MAIN:
        *size = sizeof(struct raw_main);
        return &schema_main;
    case CONFIG_DOC_USERS:
        *size = sizeof(struct raw_users);
        return &schema_users;
    case CONFIG_DOC_TEAM:
    default:
        *size = sizeof(struct raw_team_file);
        return &schema_team_file;
    }
}

/* ---- libcyaml's log, captured ---- */

#define SCHEMA_LOG_LINES 80
#define SCHEMA_LOG_WIDTH 256

struct schema_log {
    char lines[SCHEMA_LOG_LINES][SCHEMA_LOG_WIDTH];
    unsigned count;
};

static void schema_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
    __attribute__((format(printf, 3, 0)));

static void schema_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    struct schema_log *log = ctx;
    char *line;
    size_t len;

    if (level < CYAML_LOG_ERROR || log->count == SCHEMA_LOG_LINES)
        return;
    line = log->lines[log->count++];
    vsnprintf(line, SCHEMA_LOG_WIDTH, fmt, args);
    len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
}

/* Own allocator, so that what libcyaml allocates is plain malloc memory. */
static void *schema_mem(void *ctx, void *ptr, size_t size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

/* One line of the backtrace. */
enum schema_frame_kind { SCHEMA_FRAME_FIELD, SCHEMA_FRAME_MAPPING, SCHEMA_FRAME_ENTRY };

struct schema_frame {
    enum schema_frame_kind kind;
    char name[SCHEMA_LOG_WIDTH]; /* field name */
    unsigned long count;         /* entry count as printed */
    unsigned line, col;
};

/* Parse "... (line: L, column: C)" at the end of a backtrace line. */
static int schema_parse_mark(const char *text, unsigned *line, unsigned *col)
{
    const char *p = NULL;
    const char *q = text;
    char *end;
    unsigned long l, c;

    while ((q = strstr(q, "(line: ")) != NULL) {
        p = q;
        q++;
    }
    if (p == NULL)
        return OB_EINVAL;
    l = strtoul(p + 7, &end, 10);
    if (end == p + 7 || strncmp(end, ", column: ", 10) != 0)
        return OB_EINVAL;
    p = end + 10;
    c = strtoul(p, &end, 10);
    if (end == p || l > 0xffffffffUL || c > 0xffffffffUL)
        return OB_EINVAL;
    *line = (unsigned)l;
    *col = (unsigned)c;
    return 0;
}

static int schema_parse_frame(const char *text, struct schema_frame *fr)
{
    static const char field[] = "  in mapping field '";
    static const char entry[] = "  in sequence entry '";
    static const char mapping[] = "  in mapping";

    memset(fr, 0, sizeof(*fr));
    if (schema_parse_mark(text, &fr->line, &fr->col) != 0)
        return OB_EINVAL;
    if (strncmp(text, field, sizeof(field) - 1) == 0) {
        const char *name = text + sizeof(field) - 1;
        const char *end = strstr(name, "' (line: ");
        if (end == NULL)
            return OB_EINVAL;
        fr->kind = SCHEMA_FRAME_FIELD;
        snprintf(fr->name, sizeof(fr->name), "%.*s", (int)(end - name), name);
    } else if (strncmp(text, entry, sizeof(entry) - 1) == 0) {
        fr->kind = SCHEMA_FRAME_ENTRY;
        fr->count = strtoul(text + sizeof(entry) - 1, NULL, 10);
    } else if (strncmp(text, mapping, sizeof(mapping) - 1) == 0) {
        fr->kind = SCHEMA_FRAME_MAPPING;
    } else {
        return OB_EINVAL;
    }
    return 0;
}

/* What libcyaml said, in structured form. */
struct schema_error {
    const char *message;                          /* the line after "Load: " */
    struct schema_frame frames[SCHEMA_LOG_LINES]; /* innermost first */
    unsigned frame_count;
    char path[512]; /* the innermost node's path, as yamlpos spells it */
};

static void schema_path_add(char *path, size_t cap, const char *component)
{
    size_t len = strlen(path);

    snprintf(path + len, cap - len, "%s%s", len > 0 ? "." : "", component);
}

static void schema_parse_log(const struct schema_log *log, struct schema_error *se)
{
    int in_backtrace = 0;

    memset(se, 0, sizeof(*se));
    se->message = "";
    for (unsigned i = 0; i < log->count; i++) {
        const char *line = log->lines[i];
        if (strcmp(line, "Load: Backtrace:") == 0) {
            in_backtrace = 1;
        } else if (in_backtrace) {
            if (schema_parse_frame(line, &se->frames[se->frame_count]) == 0)
                se->frame_count++;
        } else if (se->message[0] == '\0' && strncmp(line, "Load: ", 6) == 0) {
            se->message = line + 6;
        }
    }
    /* Outermost first.  An entry count is index + 1 while inside the entry;
     * only the innermost entry (refused as a whole) is still uncounted. */
    for (unsigned i = se->frame_count; i > 0; i--) {
        const struct schema_frame *fr = &se->frames[i - 1];
        char index[24];
        if (fr->kind == SCHEMA_FRAME_FIELD) {
            schema_path_add(se->path, sizeof(se->path), fr->name);
        } else if (fr->kind == SCHEMA_FRAME_ENTRY) {
            unsigned long n = (i == 1 || fr->count == 0) ? fr->count : fr->count - 1;
            snprintf(index, sizeof(index), "%lu", n);
            schema_path_add(se->path, sizeof(se->path), index);
        }
    }
}

/* The schema of the mapping at path (for listing its keys), or NULL. */
static const cyaml_schema_value_t *schema_at(const cyaml_schema_value_t *schema, const char *path)
{
    char buf[512];
    char *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *comp = strtok_r(buf, ".", &save); comp != NULL && schema != NULL;
         comp = strtok_r(NULL, ".", &save)) {
        if (schema->type == CYAML_SEQUENCE) {
            schema = schema->sequence.entry;
        } else if (schema->type == CYAML_MAPPING) {
            const cyaml_schema_field_t *f = schema->mapping.fields;
            while (f->key != NULL && strcmp(f->key, comp) != 0)
                f++;
            schema = f->key != NULL ? &f->value : NULL;
        } else {
            schema = NULL;
        }
    }
    return schema != NULL && schema->type == CYAML_MAPPING ? schema : NULL;
}

static void schema_list_keys(const cyaml_schema_value_t *mapping, char *buf, size_t cap)
{
    size_t len = 0;

    buf[0] = '\0';
    if (mapping == NULL)
        return;
    for (const cyaml_schema_field_t *f = mapping->mapping.fields; f->key != NULL; f++) {
        int n = snprintf(buf + len, cap - len, "%s%s", len > 0 ? ", " : "", f->key);
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
}

static const char *schema_kind_words(const char *event)
{
    if (strncmp(event, "STRING", 6) == 0 || strncmp(event, "SCALAR", 6) == 0)
        return "a single value";
    if (strncmp(event, "SEQUENCE", 8) == 0)
        return "a list";
    if (strncmp(event, "MAPPING", 7) == 0)
        return "a mapping";
    if (strncmp(event, "ALIAS", 5) == 0)
        return "an alias";
    return "something else";
}

/* "'members'" or "entries of 'members'" or "the document". */
static void schema_subject(const struct schema_error *se, char *buf, size_t cap)
{
    if (se->frame_count == 0) {
        snprintf(buf, cap, "the document");
        return;
    }
    if (se->frames[0].kind == SCHEMA_FRAME_FIELD) {
        snprintf(buf, cap, "'%s'", se->frames[0].name);
        return;
    }
    for (unsigned i = 1; i < se->frame_count; i++) {
        if (se->frames[i].kind == SCHEMA_FRAME_FIELD) {
            snprintf(buf, cap, "entries of '%s'", se->frames[i].name);
            return;
        }
    }
    snprintf(buf, cap, "this value");
}

/* The number that follows prefix at the start of m. 0 or OB_EINVAL. */
static int schema_number_after(const char *m, const char *prefix, unsigned long *n)
{
    size_t len = strlen(prefix);
    char *end;

    if (strncmp(m, prefix, len) != 0 || m[len] < '0' || m[len] > '9')
        return OB_EINVAL;
    *n = strtoul(m + len, &end, 10);
    return end == m + len ? OB_EINVAL : 0;
}

static int schema_report(const cyaml_schema_value_t *schema, const char *file,
                         const struct yamlpos *pos, const struct schema_log *log, cyaml_err_t err,
                         struct config_diags *diags)
{
    struct schema_error *se = calloc(1, sizeof(*se));
    const char *m;
    char subject[SCHEMA_LOG_WIDTH + 32];
    char keys[512];
    char path[1024];
    unsigned line = 0, col = 0;
    unsigned long n;
    int rc;

    if (se == NULL)
        return OB_ENOMEM;
    schema_parse_log(log, se);
    m = se->message;
    if (se->frame_count > 0) {
        line = se->frames[0].line;
        col = se->frames[0].col;
    } else {
        yamlpos_locate(pos, "", 0, &line, &col);
    }
    schema_subject(se, subject, sizeof(subject));

    if (strncmp(m, "Unexpected key: ", 16) == 0) {
        snprintf(path, sizeof(path), "%s%s%s", se->path, se->path[0] != '\0' ? "." : "", m + 16);
        yamlpos_find_key(pos, path, &line, &col);
        schema_list_keys(schema_at(schema, se->path), keys, sizeof(keys));
        rc = config_diags_add(diags, file, line, col, "unknown key '%s' (expected one of: %s)",
                              m + 16, keys);
    } else if (strncmp(m, "Missing required mapping field: ", 32) == 0) {
        /* The innermost field is the last one read, not the missing one. */
        snprintf(path, sizeof(path), "%s", se->path);
        if (se->frame_count > 0 && se->frames[0].kind == SCHEMA_FRAME_FIELD) {
            char *dot = strrchr(path, '.');
            if (dot != NULL)
                *dot = '\0';
            else
                path[0] = '\0';
        }
        yamlpos_find(pos, path, &line, &col);
        rc = config_diags_add(diags, file, line, col, "missing required key '%s'", m + 32);
    } else if (strncmp(m, "Expecting ", 10) == 0 && strstr(m, ", got event: ") != NULL) {
        const char *got = strstr(m, ", got event: ") + 13;
        char want[32];
        snprintf(want, sizeof(want), "%s", schema_kind_words(m + 10));
        rc = config_diags_add(diags, file, line, col, "%s must be %s, not %s", subject, want,
                              schema_kind_words(got));
    } else if (schema_number_after(m, "Excessive entries (", &n) == 0) {
        rc = config_diags_add(diags, file, line, col, "%s has too many entries (at most %lu)",
                              subject + (strncmp(subject, "entries of ", 11) == 0 ? 11 : 0), n);
    } else if (schema_number_after(m, "STRING length > ", &n) == 0) {
        int entry = strncmp(subject, "entries of ", 11) == 0;
        rc = config_diags_add(diags, file, line, col, "%s%s is too long (at most %lu bytes)",
                              entry ? "an entry of " : "", subject + (entry ? 11 : 0), n);
    } else if (strncmp(m, "Mapping field already seen: ", 28) == 0) {
        rc = config_diags_add(diags, file, line, col, "duplicate key '%s'", m + 28);
    } else {
        char what[128];
        snprintf(what, sizeof(what), "%s", cyaml_strerror(err));
        if (what[0] >= 'A' && what[0] <= 'Z')
            what[0] = (char)(what[0] - 'A' + 'a');
        rc = config_diags_add(diags, file, line, col, "%s: %s", subject, what);
    }
    free(se);
    return rc;
}

int schema_load(enum config_doc_kind kind, const char *file, const char *data, size_t len,
                const struct yamlpos *pos, void **raw, struct config_diags *diags)
{
    size_t size;
    const cyaml_schema_value_t *schema = schema_for(kind, &size);
    struct schema_log *log = calloc(1, sizeof(*log));
    cyaml_config_t cyaml_cfg = {
        .log_fn = schema_log_fn,
        .log_ctx = log,
        .mem_fn = schema_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_NO_ALIAS,
    };
    cyaml_data_t *data_out = NULL;
    cyaml_err_t err;
    int rc = 0;

    *raw = NULL;
    if (log == NULL)
        return OB_ENOMEM;
    err = cyaml_load_data((const uint8_t *)data, len, &cyaml_cfg, schema, &data_out, NULL);
    if (err == CYAML_ERR_OOM) {
        rc = OB_ENOMEM;
        goto out;
    }
    if (err != CYAML_OK) {
        rc = schema_report(schema, file, pos, log, err, diags);
        if (rc == 0)
            rc = OB_EINVAL;
        goto out;
    }
    /* An empty document (or one with only comments) loads as NULL. */
    if (data_out == NULL) {
        data_out = calloc(1, size);
        if (data_out == NULL) {
            rc = OB_ENOMEM;
            goto out;
        }
    }
    *raw = data_out;
out:
    free(log);
    return rc;
}

void schema_free(enum config_doc_kind kind, void *raw)
{
    size_t size;
    const cyaml_schema_value_t *schema = schema_for(kind, &size);
    cyaml_config_t cyaml_cfg = {
        .log_fn = NULL,
        .mem_fn = schema_mem,
        .log_level = CYAML_LOG_ERROR,
    };

    if (raw == NULL)
        return;
    cyaml_free(&cyaml_cfg, schema, raw, 0);
}
