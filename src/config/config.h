/*
 * config.h - opsbell's configuration: opsbell.yaml, users.yaml, teams/<team>/<file>.yaml.
 *
 * Loading is all-or-nothing: config_load() either returns a complete,
 * validated, immutable `struct config`, or returns OB_EINVAL with every
 * problem it found in `diags` as "FILE:LINE:COL: message" entries and
 * nothing else changed.  Schema problems (unknown keys, wrong types, bad YAML)
 * are found by libcyaml, one per file; semantic problems (duplicate names,
 * objects of another team, dangling references, bad durations, bad secret
 * references) are all reported at once.
 *
 * Layout on disk (relative paths are relative to the directory of the main
 * file):
 *   opsbell.yaml                 listen, storage, public_url, http, log, providers,
 *                                users_file (default users.yaml),
 *                                teams_dir (default teams), ssh_ca, enforcers,
 *                                keys, allowlist
 *   users.yaml                   users: [...]
 *   teams/<team>/<file>.yaml     team: (with breakglass:), services:,
 *                                escalation_policies:, heartbeats:, schedules:,
 *                                host_groups:
 *
 * Ownership: a struct config is reference counted.  config_load() hands out
 * one reference; config_ref()/config_unref() take and drop more; the last
 * unref frees everything, including resolved secrets.  Every pointer inside a
 * config (strings, arrays) borrows from it and lives as long as the reference
 * you hold.  A loaded config is never modified, so it may be read from any
 * thread without locks.
 */
#ifndef OPSBELL_CONFIG_CONFIG_H
#define OPSBELL_CONFIG_CONFIG_H

#include "ingest/matcher.h"
#include "util/log.h"
#include "util/secret.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_FILE_MAX             (4 * 1024 * 1024) /* cap on one YAML file */
#define CONFIG_DEFAULT_LISTEN       "127.0.0.1:8080"
#define CONFIG_DEFAULT_MAX_BODY     (1024 * 1024)
#define CONFIG_DEFAULT_HTTP_THREADS 4

/* ---- diagnostics ------------------------------------------------------- */

struct config_diag {
    char *file;    /* owned; path as the user would type it */
    unsigned line; /* 1-based; 0 when unknown */
    unsigned col;  /* 1-based; 0 when unknown */
    char *message; /* owned; one line, never contains a secret value */
};

struct config_diags {
    struct config_diag *items; /* owned array */
    size_t count;
    size_t cap;
};

/* Append one diagnostic (message is printf-style). Returns 0 or OB_ENOMEM. */
int config_diags_add(struct config_diags *d, const char *file, unsigned line, unsigned col,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Print every entry as "FILE:LINE:COL: message\n". */
void config_diags_print(const struct config_diags *d, FILE *fp);
/* Free what d owns and reset it to empty. Accepts NULL. */
void config_diags_release(struct config_diags *d);

/* ---- the model ------------------------------------------------------------ */

enum contact_type {
    CONTACT_VOICE, /* phone number in E.164, called through SIP trunk or Twilio */
    CONTACT_SMS,   /* phone number in E.164 */
    CONTACT_SIP,   /* sip: or sips: URI */
    CONTACT_EMAIL,
    CONTACT_SLACK, /* Slack DM; address is the Slack user id */
    CONTACT_WEBHOOK
};
#define CONTACT_TYPE_COUNT 6

/* "At most `max` notifications handed to a provider per address of one
 * contact type in any `per_seconds` window"; max 0 = no limit. */
struct config_notification_limit {
    uint32_t max;
    uint32_t per_seconds;
};

struct config_contact_method {
    enum contact_type type;
    char *address;
};

struct config_chat_id {
    char *provider; /* "slack" | "mattermost" */
    char *id;       /* the provider's user id, e.g. U024BE7LH */
};

/* "Reach me by `type` `after_seconds` after I am notified for an incident":
 * one rule covers every contact method of that type the user has. */
struct config_notification_rule {
    enum contact_type type;
    uint32_t after_seconds; /* 0 .. 1d */
};

struct config_user {
    char *name;      /* unique login-like name: [a-z0-9][a-z0-9._-]* */
    char *full_name; /* may be NULL */
    char *nickname;  /* unique, used by /tel; defaults to name */
    char *time_zone; /* IANA name; default "UTC" */
    char *email;     /* may be NULL */
    struct config_chat_id *chat_ids;
    unsigned chat_id_count;
    struct config_contact_method *contact_methods;
    unsigned contact_method_count;
    /* The user's own `notification_rules`, or (when the user wrote none) the
     * configuration's defaults; in the order written.  Never names a type
     * the user has no contact method for (such default rules are dropped;
     * such own rules are a configuration error). */
    struct config_notification_rule *notification_rules;
    unsigned notification_rule_count;
    /* `logins`: the Unix login names the user's SSH keys are published under
     * on hosts and the principals of the user's SSH certificates; default
     * [name] when the name is a valid login, else none (then no keys are
     * published and no certificate is signed for the user).  Each
     * [a-z_][a-z0-9_.-]{0,31}; unique within the user. */
    char **logins;
    unsigned login_count;
};

struct config_schedule;

struct config_escalation_step {
    uint32_t delay_seconds; /* wait before the next step */
    char **users;           /* names of users */
    unsigned user_count;
    const struct config_user **user_refs; /* resolved, user_count entries */
    char **schedules;                     /* names of schedules (any team's) */
    unsigned schedule_count;
    const struct config_schedule **schedule_refs; /* resolved, schedule_count entries */
};

struct config_escalation_policy {
    char *name; /* unique across all teams */
    const struct config_team *team;
    char *description;
    uint32_t repeat; /* times to repeat the whole policy after the first pass */
    struct config_escalation_step *steps;
    unsigned step_count;
};

struct config_service {
    char *name; /* unique across all teams */
    const struct config_team *team;
    char *description;
    char *escalation_policy;                       /* name; resolves within the service's team */
    const struct config_escalation_policy *policy; /* resolved */
    char *integration_key;                         /* may be NULL; unique across all services */
    /* Label routing: an alert whose labels satisfy every matcher goes to
     * this service.  Empty (count 0) = no label routing for this service. */
    struct matcher_set match;
    /* Label names whose values make up the fingerprint that groups alerts
     * into one incident; none (count 0) = all labels.  Unique, each
     * [a-zA-Z_][a-zA-Z0-9_]*, in the order written. */
    char **dedup_labels;
    unsigned dedup_label_count;
    int auto_resolve; /* 1 (default): resolve the incident once all its alerts resolved */
};

/* A source that must check in (POST /api/v1/heartbeats/{key}) at least every
 * interval + grace; a missed check-in is an alert on `service`. */
struct config_heartbeat {
    char *name; /* unique across all teams */
    const struct config_team *team;
    char *service_name;                   /* a service of the same team */
    const struct config_service *service; /* resolved */
    uint32_t interval_seconds;            /* 10s .. 30d */
    uint32_t grace_seconds;               /* 0 (default) .. 1d */
    char *key;      /* credential: 8..128 of [A-Za-z0-9._~-]; unique across all heartbeats
                       and all integration keys; never logged or printed */
    char *summary;  /* of the alert; default "heartbeat '<name>' missed its check-in" */
    char *severity; /* "critical" (default) | "error" | "warning" | "info" (lower case) */
};

/* A time-of-week window in which a layer is on call at all ("weekdays
 * 09:00-17:00"); outside every window of a layer, the layer has nobody. */
struct config_restriction {
    uint8_t days;          /* bit 0 = Monday ... bit 6 = Sunday; the days the window starts on */
    uint32_t from_seconds; /* local time of day the window opens, 0 .. 86399 */
    uint32_t to_seconds;   /* local time of day it closes; <= from: on the next day */
};

struct rotation; /* compiled recurrence, oncall/schedule.h */

/*
 * One layer of a schedule: a rotation.  Handoffs happen at the occurrences
 * of `rrule` starting at `start` + `handoff` (local time in time_zone, so
 * 09:00 stays 09:00 across daylight-saving changes); occurrence k hands
 * over to users[k % user_count], who stays on call until the next
 * occurrence, within the restrictions (none = always).
 */
struct config_schedule_layer {
    char *name;               /* unique within the schedule */
    char *time_zone;          /* IANA name; defaults to the schedule's */
    char *start;              /* "YYYY-MM-DD": the date of the first handoff */
    uint32_t handoff_seconds; /* local time of day of each handoff ("09:00") */
    char *rrule;              /* RFC 5545 RRULE value, e.g. "FREQ=WEEKLY;INTERVAL=1" */
    char **users;             /* the rotation, in order; user names */
    unsigned user_count;      /* >= 1 */
    struct config_restriction *restrictions;
    unsigned restriction_count;
    struct rotation *rotation; /* compiled at load; owned by the config */
};

/* Layers in order: a later (higher) layer overrides the ones before it
 * wherever it has somebody on call. */
struct config_schedule {
    char *name; /* unique across all teams */
    const struct config_team *team;
    char *description;
    char *time_zone; /* IANA name; default "UTC" */
    struct config_schedule_layer *layers;
    unsigned layer_count; /* >= 1 */
};

/* A team file's `host_groups:` entry: hosts whose SSH this team's people
 * reach (docs/BREAKGLASS.md).  A host may be in several groups, of several
 * teams. */
struct config_host_group {
    char *name; /* unique across all teams */
    const struct config_team *team;
    char **hosts; /* host names as agents name themselves: [a-z0-9][a-z0-9.-]{0,252}; unique
                     within the group; at least one */
    unsigned host_count;
    int allowlist; /* `allowlist: true`: the team members' chat allowlist opens SSH here
                      (default 0) */
};

/* A team's `team: breakglass:` policy: who may open a grant on the team's
 * host groups, and for how long.  Defaults apply when absent. */
struct config_breakglass {
    int self_approve_oncall;   /* "oncall" in self_approve (the default): whoever is on
                                  call now on one of the team's schedules */
    int self_approve_members;  /* "members" in self_approve: any member */
    char **self_approve_users; /* user names in self_approve */
    unsigned self_approve_user_count;
    char **approvers; /* who may approve others' requests; none written =
                         every member (never the requester) */
    unsigned approver_count;
    uint32_t max_duration_seconds; /* `max_duration`: default 1h, 1m .. 24h */
    uint32_t pending_ttl_seconds;  /* `pending_ttl`: default 1h, 1m .. 24h */
};

struct config_team {
    char *name; /* the directory name under teams_dir */
    char *description;
    char **members; /* user names */
    unsigned member_count;
    char *chat_channel; /* may be NULL */
    struct config_service *services;
    unsigned service_count;
    struct config_escalation_policy *policies;
    unsigned policy_count;
    /* Alerts that matched no service belong to this team when their labels
     * satisfy every matcher (empty = none are routed by team). */
    struct matcher_set match;
    char *fallback_service_name;                   /* may be NULL */
    const struct config_service *fallback_service; /* resolved; in services; NULL when unset */
    struct config_heartbeat *heartbeats;
    unsigned heartbeat_count;
    struct config_schedule *schedules;
    unsigned schedule_count;
    struct config_host_group *host_groups; /* from every file of the team, in load order */
    unsigned host_group_count;
    struct config_breakglass breakglass;
};

struct config_slack {
    int enabled;
    char *api_url; /* default https://slack.com/api */
    struct secret bot_token;
    struct secret signing_secret;
};

/* Mattermost's custom slash commands (POST /slack/commands, docs/CHATOPS.md):
 * not a notification provider, only the commands' credential. */
struct config_mattermost {
    int enabled;
    struct secret command_token; /* the token Mattermost puts in every command's form */
    char *api_url; /* the Mattermost server ("https://chat.example.com"); may be NULL: then
                      opsbell never posts to a command's response_url */
};

struct config_twilio {
    int enabled;
    char *api_url; /* default https://api.twilio.com */
    char *account_sid;
    struct secret auth_token;
    char *from_number;
    uint32_t ring_timeout_s;     /* Twilio `Timeout` of a call: 5..600 s, default 30 */
    uint32_t request_timeout_ms; /* one API request, connect included: default 15 s */
};

struct config_smtp {
    int enabled;
    char *url;              /* smtp://host:port or smtps:// */
    char *username;         /* may be NULL (no authentication) */
    struct secret password; /* ref/value NULL when not given */
    char *from_address;
    /* smtp:// only: 1 = STARTTLS is required (CURLUSESSL_ALL); 0 (default) =
     * STARTTLS when the server offers it (CURLUSESSL_TRY). smtps:// is TLS anyway. */
    int require_tls;
};

/* The SIP voice provider (providers.sip): one user agent per process
 * (src/sip), started at start-up; listen, rtp_ports need a restart. */
struct config_sip {
    int enabled;
    char *outbound_proxy;   /* may be NULL: every request goes there first */
    char *from_uri;         /* From of every call; its user part is the caller id */
    char *username;         /* digest auth; may be NULL (then from_uri's user) */
    struct secret password; /* ref/value NULL when not given */
    char *listen_host;      /* `listen`, default 0.0.0.0:0 (any free port) */
    uint16_t listen_port;
    /* `trunk`: sip:HOST[:PORT][;params] phone numbers are called through
     * (sip:+4930123@HOST...): contact type voice; NULL = no voice calls. */
    char *trunk;
    uint32_t ring_timeout_ms; /* `ring_timeout`, default 30s, 1s .. 5m */
    uint32_t max_call_ms;     /* `max_call`, default 3m, 5s .. 30m */
    uint16_t rtp_port_min;    /* `rtp_ports` "MIN-MAX", default 10000-20000 */
    uint16_t rtp_port_max;
};

/* The `log` provider delivers every notification by appending one JSON line
 * to a file: for tests and dry runs ("who would have been paged, when"). */
struct config_log_provider {
    int enabled;
    char *path; /* made absolute */
};

/* The `webhook` provider: a signed JSON POST to the contact method's URL. */
struct config_webhook {
    int enabled;
    struct secret signing_secret; /* HMAC-SHA256 key of X-Opsbell-Signature */
    uint32_t retry_base_ms;       /* first retry delay; doubles per attempt; 0 = engine's */
    uint32_t max_attempts;        /* attempts per notification; 0 = engine's */
};

struct config_providers {
    struct config_log_provider log;
    struct config_webhook webhook;
    struct config_slack slack;
    struct config_mattermost mattermost;
    struct config_twilio twilio;
    struct config_smtp smtp;
    struct config_sip sip;
};

/* opsbell.yaml `ssh_ca` (src/sshca, docs/SSH-CERTIFICATES.md): the CA that
 * signs short-lived OpenSSH user certificates. */
struct config_ssh_ca {
    int enabled;
    struct secret key;             /* the CA private key file's text (Ed25519, unencrypted);
                                      checked to load at configuration load */
    uint32_t max_validity_seconds; /* `max_validity`: default 12h, 1m .. 7d */
};

/* enforcers.nftables (src/enforce/nft.c, docs/FIREWALL.md): the table
 * opsbell owns (family inet) and what its chain does.  Defaults apply when
 * the section is absent (enabled 0). */
struct config_nftables {
    int enabled;
    char *table;            /* default "opsbell": [A-Za-z0-9_], 1..31 bytes */
    uint16_t port;          /* SSH port the rules guard, default 22 */
    int drop_others;        /* 1 (default): drop that port from everyone else */
    unsigned max_prefix_v4; /* widest CIDR granted, default 24 (8..32) */
    unsigned max_prefix_v6; /* default 48 (16..128) */
};

/* enforcers.aws (docs/AWS.md): SSH ingress rules in one EC2 security group. */
struct config_enforcer_aws {
    int enabled;
    char *region;            /* "eu-central-1" */
    char *security_group_id; /* "sg-" and 8 or 17 hex digits */
    char *endpoint;          /* default https://ec2.REGION.amazonaws.com */
    char *access_key_id;     /* not a secret; printed in nothing but the signature scope */
    struct secret secret_access_key;
    struct secret session_token; /* ref/value NULL: long-term keys */
    uint16_t port;               /* the SSH port opened, default 22 */
    uint32_t sweep_interval_s;   /* default 5m, 10s .. 1d */
    char *host_group;            /* `host_group`: the host group (of any team) whose grants and
                                    allowlist entries go into this security group; NULL: every
                                    active grant and every allowlist entry of a group with
                                    `allowlist: true` */
};

struct config_enforcers {
    struct config_nftables nftables;
    struct config_enforcer_aws aws;
};

/* opsbell.yaml `keys:` (docs/KEYS.md): SSH public keys from a git repository. */
struct config_keys {
    int enabled;      /* the section is present */
    char *repository; /* any URL libgit2 fetches; a relative local path is made absolute */
    char *branch;     /* default "main" */
    char *path;       /* directory in the repository, default "keys"; no "..", not absolute */
    char *cache_dir;  /* absolute; default /var/lib/opsbell/keys: repo/ + the cache file */
    uint32_t sync_interval_seconds; /* `sync_interval`, default 5m, 10s .. 1d */
};

/* opsbell.yaml `allowlist:` (docs/ALLOWLIST.md): addresses people were seen
 * at in the team chat (Slack team.accessLogs, /allowme links), allowed to
 * reach SSH on the host groups that say `allowlist: true`.  Defaults apply
 * when the section is absent. */
struct config_allowlist {
    uint32_t freshness_seconds; /* `freshness`: default 12h, 1m .. 30d */
    uint32_t max_per_user;      /* `max_per_user`: default 5, 1 .. 100 */
    uint32_t link_ttl_seconds;  /* `link_ttl`: default 10m, 1m .. 1d */
    /* `trusted_proxies`: normalised CIDRs ("127.0.0.1/32") whose
     * X-Forwarded-For is believed when an /allowme link is opened */
    char **trusted_proxies;
    unsigned trusted_proxy_count;
    /* `slack_access_logs:` present: poll team.accessLogs at
     * providers.slack.api_url (or its default) with this admin token */
    int access_logs_enabled;
    struct secret access_logs_token;       /* `slack_access_logs.token` (env:/file:) */
    uint32_t access_logs_interval_seconds; /* `slack_access_logs.interval`: default 5m, 30s .. 1d */
};

struct config {
    char *path;     /* the main file as given */
    char *base_dir; /* directory of the main file */

    char *listen_host;    /* "127.0.0.1", "::" ... */
    uint16_t listen_port; /* 0 = pick a free port (tests) */
    char *storage_url;    /* "sqlite:/abs/path" (made absolute) or "postgres://..." */
    char *public_url;     /* may be NULL; defaults to http://listen */
    size_t max_body_bytes;
    unsigned http_threads;
    enum log_level log_level;

    struct config_providers providers;
    struct config_enforcers enforcers;
    struct config_keys keys;
    struct config_allowlist allowlist;

    /* Notification rules of users who wrote none (opsbell.yaml
     * `notification_rules`; built-in default: slack and email at 0m, sms,
     * voice and sip at 1m, webhook at 0m). */
    struct config_notification_rule *default_notification_rules;
    unsigned default_notification_rule_count;
    uint32_t ical_horizon_seconds; /* opsbell.yaml `ical.horizon`; default 30d, 1d .. 366d */
    uint32_t engine_poll_ms;       /* opsbell.yaml `engine.poll_interval`; default 1s */
    /* Notification attempts (opsbell.yaml `engine.*`): a `sending` row older
     * than send_lease_ms was interrupted (default 5m); the first retry delay
     * (default 30s) and attempts per notification (default 3) of providers
     * that set none. */
    uint32_t send_lease_ms;
    uint32_t retry_base_ms;
    uint32_t max_attempts;
    /* opsbell.yaml `notification_limits`, by enum contact_type; defaults:
     * voice and sip 3 per 15m, sms 10 per 15m, others none. */
    struct config_notification_limit notification_limits[CONTACT_TYPE_COUNT];

    struct config_ssh_ca ssh_ca;

    struct config_user *users;
    unsigned user_count;
    struct config_team *teams;
    unsigned team_count;
};

/* ---- loading --------------------------------------------------------------- */

/*
 * Load and validate the configuration whose main file is `path`.
 * Returns 0 and *out (one reference), or a negative code with every problem
 * found appended to diags (diags may already hold entries; it is appended to).
 * On failure *out is NULL.
 */
int config_load(const char *path, struct config **out, struct config_diags *diags);

/* Take / drop a reference. Both accept NULL. */
struct config *config_ref(struct config *cfg);
void config_unref(struct config *cfg);

/* What kind of document a single YAML buffer is (for config_check_buffer). */
enum config_doc_kind { CONFIG_DOC_MAIN, CONFIG_DOC_USERS, CONFIG_DOC_TEAM };

/*
 * Parse one YAML document held in memory against the schema of `kind` and
 * run the checks that need no other file (used by the fuzz target and unit
 * tests). `file` is the name printed in diagnostics; for CONFIG_DOC_TEAM,
 * team_name is the owning team. Returns 0 or OB_EINVAL with diags filled.
 */
int config_check_buffer(enum config_doc_kind kind, const char *file, const char *team_name,
                        const char *data, size_t len, struct config_diags *diags);

/* ---- look-ups (NULL when absent; results borrow from cfg) ------------------ */

const struct config_team *config_find_team(const struct config *cfg, const char *name);
const struct config_user *config_find_user(const struct config *cfg, const char *name);
const struct config_user *config_find_user_by_nickname(const struct config *cfg,
                                                       const char *nickname);
const struct config_service *config_find_service(const struct config *cfg, const char *name);
const struct config_escalation_policy *config_find_policy(const struct config *cfg,
                                                          const char *name);
const struct config_heartbeat *config_find_heartbeat(const struct config *cfg, const char *name);
const struct config_schedule *config_find_schedule(const struct config *cfg, const char *name);
const struct config_host_group *config_find_host_group(const struct config *cfg, const char *name);
/*
 * Look-ups by credential: the service whose integration_key is
 * integration_key, the heartbeat whose key is key.  Every candidate is
 * compared (length first, then CRYPTO_memcmp), so the time taken does not
 * depend on how much of a key matched, nor on which candidate matched.
 */
const struct config_service *config_find_service_by_key(const struct config *cfg,
                                                        const char *integration_key);
const struct config_heartbeat *config_find_heartbeat_by_key(const struct config *cfg,
                                                            const char *key);

const char *contact_type_name(enum contact_type type);

/* Parse "90s", "5m", "2h", "1d", "1h30m" or a bare number of seconds.
 * Returns 0 or OB_EINVAL. */
int config_parse_duration(const char *text, uint32_t *seconds);

#endif
