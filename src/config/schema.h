/*
 * schema.h - the raw shape of each configuration file, as libcyaml loads it.
 *
 * Every scalar is loaded as a string, numbers and enums included: libcyaml
 * 1.3.1 accepts "12abc" as 12 and "-1" as UINT64_MAX for unsigned fields, and
 * its enum errors cannot list the valid values.  The checks in mainfile.c,
 * users.c and teams.c parse these strings strictly and report every problem
 * with its position, instead of stopping at the first one.
 *
 * A raw document is owned by the caller of schema_load() and freed with
 * schema_free(); the model (struct config) never borrows from it.
 */
#ifndef OPSBELL_CONFIG_SCHEMA_H
#define OPSBELL_CONFIG_SCHEMA_H

#include "config/config.h"

struct yamlpos;

/* Caps on list lengths, enforced by the schema (libcyaml refuses more). */
#define CONFIG_MAX_USERS       10000
#define CONFIG_MAX_SERVICES    10000 /* per file and in total */
#define CONFIG_MAX_POLICIES    10000 /* per file and in total */
#define CONFIG_MAX_TEAMS       1000
#define CONFIG_MAX_TEAM_FILES  1000 /* files in one team directory */
#define CONFIG_MAX_STEPS       50
#define CONFIG_MAX_TARGETS     100 /* users or schedules of one step */
#define CONFIG_MAX_MEMBERS     10000
#define CONFIG_MAX_CHAT_IDS    16
#define CONFIG_MAX_CONTACTS    32
#define CONFIG_MAX_STRING      4096                /* any single string value */
#define CONFIG_MAX_HEARTBEATS  10000               /* per file and in total */
#define CONFIG_MAX_MATCHERS    MATCHER_MAX_PER_SET /* entries of one match: list */
#define CONFIG_MAX_DEDUP       64                  /* dedup_labels of one service */
#define CONFIG_MAX_SCHEDULES   10000               /* per file and in total */
#define CONFIG_MAX_LAYERS      20                  /* layers of one schedule */
#define CONFIG_MAX_ROTATION    1000                /* users of one layer */
#define CONFIG_MAX_RESTRICT    32                  /* restrictions of one layer */
#define CONFIG_MAX_RULES       32    /* notification rules of a user or the defaults */
#define CONFIG_MAX_LOGINS      16    /* logins of one user */
#define CONFIG_MAX_HOST_GROUPS 10000 /* per file and in total */
#define CONFIG_MAX_HOSTS       1000  /* hosts of one host group */
#define CONFIG_MAX_PROXIES     100   /* allowlist trusted_proxies */

/* ---- opsbell.yaml ---- */

struct raw_http {
    char *max_body_bytes;
    char *threads;
};

struct raw_log {
    char *level;
};

struct raw_slack {
    char *api_url;
    char *bot_token;
    char *signing_secret;
};

struct raw_mattermost {
    char *command_token;
    char *api_url;
};

struct raw_twilio {
    char *api_url;
    char *account_sid;
    char *auth_token;
    char *from_number;
    char *ring_timeout;
    char *request_timeout;
};

struct raw_smtp {
    char *url;
    char *username;
    char *password;
    char *from_address;
    char *require_tls;
};

struct raw_sip {
    char *outbound_proxy;
    char *from_uri;
    char *username;
    char *password;
    char *listen;
    char *trunk;
    char *ring_timeout;
    char *max_call;
    char *rtp_ports;
};

struct raw_log_provider {
    char *path;
};

struct raw_webhook {
    char *signing_secret;
    char *retry_base;
    char *max_attempts;
};

struct raw_limit {
    char *max;
    char *per;
};

struct raw_limits {
    struct raw_limit *voice;
    struct raw_limit *sms;
    struct raw_limit *sip;
    struct raw_limit *email;
    struct raw_limit *slack;
    struct raw_limit *webhook;
};

struct raw_providers {
    struct raw_log_provider *log;
    struct raw_webhook *webhook;
    struct raw_slack *slack;
    struct raw_mattermost *mattermost;
    struct raw_twilio *twilio;
    struct raw_smtp *smtp;
    struct raw_sip *sip;
};

struct raw_notification_rule {
    char *type;
    char *after;
};

struct raw_ical {
    char *horizon;
};

struct raw_engine {
    char *poll_interval;
    char *send_lease;
    char *retry_base;
    char *max_attempts;
};

struct raw_ssh_ca {
    char *key;
    char *max_validity;
};

struct raw_nftables {
    char *table;
    char *port;
    char *drop_others;
    char *max_prefix_v4;
    char *max_prefix_v6;
};

/* enforcers: {aws: ...} (docs/AWS.md) */
struct raw_enforcer_aws {
    char *region;
    char *security_group_id;
    char *endpoint;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    char *port;
    char *sweep_interval;
    char *host_group;
};

struct raw_enforcers {
    struct raw_nftables *nftables;
    struct raw_enforcer_aws *aws;
};

struct raw_keys {
    char *repository;
    char *branch;
    char *path;
    char *cache_dir;
    char *sync_interval;
};

struct raw_access_logs {
    char *token;
    char *interval;
};

struct raw_allowlist {
    char *freshness;
    char *max_per_user;
    char *link_ttl;
    char **trusted_proxies;
    unsigned trusted_proxy_count;
    struct raw_access_logs *slack_access_logs;
};

struct raw_main {
    char *listen;
    char *storage;
    char *public_url;
    struct raw_http *http;
    struct raw_log *log;
    struct raw_providers *providers;
    char *users_file;
    char *teams_dir;
    struct raw_notification_rule *notification_rules;
    unsigned notification_rule_count;
    struct raw_ical *ical;
    struct raw_engine *engine;
    struct raw_limits *notification_limits;
    struct raw_ssh_ca *ssh_ca;
    struct raw_enforcers *enforcers;
    struct raw_keys *keys;
    struct raw_allowlist *allowlist;
};

/* ---- users.yaml ---- */

struct raw_chat_id {
    char *provider;
    char *id;
};

struct raw_contact {
    char *type;
    char *address;
};

struct raw_user {
    char *name;
    char *full_name;
    char *nickname;
    char *time_zone;
    char *email;
    struct raw_chat_id *chat_ids;
    unsigned chat_id_count;
    struct raw_contact *contact_methods;
    unsigned contact_method_count;
    struct raw_notification_rule *notification_rules;
    unsigned notification_rule_count;
    char **logins; /* NULL when absent (an empty list too: see users.c) */
    unsigned login_count;
};

struct raw_users {
    struct raw_user *users;
    unsigned user_count;
};

/* ---- team files: teams/<team>/NAME.yaml ---- */

struct raw_targets {
    char **users;
    unsigned user_count;
    char **schedules;
    unsigned schedule_count;
};

struct raw_step {
    char *delay;
    struct raw_targets *targets; /* NULL when absent */
};

struct raw_policy {
    char *name;
    char *team;
    char *description;
    char *repeat;
    struct raw_step *steps;
    unsigned step_count;
};

struct raw_service {
    char *name;
    char *team;
    char *description;
    char *escalation_policy;
    char *integration_key;
    char **match; /* matcher strings, each parsed by matcher_parse */
    unsigned match_count;
    char **dedup_labels;
    unsigned dedup_label_count;
    char *auto_resolve;
};

struct raw_breakglass {
    char **self_approve; /* NULL when absent or empty: access.c asks yamlpos which */
    unsigned self_approve_count;
    char **approvers;
    unsigned approver_count;
    char *max_duration;
    char *pending_ttl;
};

struct raw_team {
    char *description;
    char **members;
    unsigned member_count;
    char *chat_channel;
    char **match;
    unsigned match_count;
    char *fallback_service;
    struct raw_breakglass *breakglass;
};

struct raw_heartbeat {
    char *name;
    char *team;
    char *service;
    char *interval;
    char *grace;
    char *key;
    char *summary;
    char *severity;
};

struct raw_restriction {
    char **days; /* NULL: every day */
    unsigned day_count;
    char *from;
    char *to;
};

struct raw_layer {
    char *name;
    char *time_zone;
    char *start;
    char *handoff;
    char *rrule;
    char **users;
    unsigned user_count;
    struct raw_restriction *restrictions;
    unsigned restriction_count;
};

struct raw_schedule {
    char *name;
    char *team;
    char *description;
    char *time_zone;
    struct raw_layer *layers;
    unsigned layer_count;
};

struct raw_host_group {
    char *name;
    char *team;
    char **hosts;
    unsigned host_count;
    char *allowlist;
};

struct raw_team_file {
    struct raw_team *team; /* NULL when the file has no team: section */
    struct raw_service *services;
    unsigned service_count;
    struct raw_policy *policies;
    unsigned policy_count;
    struct raw_heartbeat *heartbeats;
    unsigned heartbeat_count;
    struct raw_schedule *schedules;
    unsigned schedule_count;
    struct raw_host_group *host_groups;
    unsigned host_group_count;
};

/*
 * Load data against the schema of kind.  Returns 0 and *raw (never NULL:
 * an empty document gives an all-empty struct), OB_EINVAL with one
 * diagnostic naming `file` (libcyaml stops at the first schema error), or
 * OB_ENOMEM.  pos is the index of the same data (yamlpos_build), used to
 * place the diagnostic precisely.
 */
int schema_load(enum config_doc_kind kind, const char *file, const char *data, size_t len,
                const struct yamlpos *pos, void **raw, struct config_diags *diags);

/* Free a document from schema_load. Accepts NULL. */
void schema_free(enum config_doc_kind kind, void *raw);

#endif
