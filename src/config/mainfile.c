/*
 * mainfile.c - checks of opsbell.yaml (listen, storage, http, log, providers
 * and their secrets) and the top-level fields of struct config they fill.
 */
#include "config/internal.h"
#include "config/yamlpos.h"

#include "sshca/sshca.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAIN_MAX_BODY_MIN  1024
#define MAIN_MAX_BODY_MAX  (1024UL * 1024 * 1024)
#define MAIN_THREADS_MAX   256
#define SLACK_DEFAULT_API  "https://slack.com/api"
#define TWILIO_DEFAULT_API "https://api.twilio.com"
#define DEFAULT_STORAGE    "sqlite:opsbell.db"
#define DEFAULT_LOG_PATH   "deliveries.jsonl"
#define ICAL_HORIZON_MIN   (24U * 3600)
#define ICAL_HORIZON_MAX   (366U * 24 * 3600)
#define ICAL_HORIZON_DEF   (30U * 24 * 3600)
#define ENGINE_POLL_MIN_MS 100U
#define ENGINE_POLL_MAX_MS 60000U
#define ENGINE_POLL_DEF_MS 1000U

#define TWILIO_DEFAULT_RING_S     30 /* Twilio's own default Timeout */
#define TWILIO_DEFAULT_REQUEST_MS 15000

static void main_listen(struct cfgctx *c, const struct cfgfile *f, const char *text,
                        struct config *cfg)
{
    int rc = value_parse_listen(text, &cfg->listen_host, &cfg->listen_port);

    if (rc == OB_ENOMEM) {
        c->oom = 1;
    } else if (rc != 0) {
        diag_report(c, f, "listen",
                    "invalid listen address '%s' (expected HOST:PORT such as 127.0.0.1:8080 "
                    "or [::1]:8080)",
                    text);
    }
}

/*
 * "sqlite:PATH" (a relative PATH is taken from the main file's directory, so
 * that the daemon's working directory does not matter; "sqlite::memory:"
 * stays as is) or "postgres://..." / "postgresql://...".  A postgres URL may
 * hold a password, so messages name only the scheme.
 */
static void main_storage(struct cfgctx *c, const struct cfgfile *f, const char *url,
                         struct config *cfg)
{
    const char *colon = strchr(url, ':');

    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        if (path[0] == '\0') {
            diag_report(c, f, "storage", "storage 'sqlite:' needs a path, e.g. sqlite:opsbell.db");
            return;
        }
        if (path[0] != '/' && strcmp(path, ":memory:") != 0 && c->base_dir != NULL) {
            size_t len = strlen(c->base_dir) + strlen(path) + 9;
            cfg->storage_url = malloc(len);
            if (cfg->storage_url == NULL) {
                c->oom = 1;
                return;
            }
            snprintf(cfg->storage_url, len, "sqlite:%s/%s", c->base_dir, path);
            return;
        }
        cfg->storage_url = cfgctx_dup(c, url);
        return;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        cfg->storage_url = cfgctx_dup(c, url);
        return;
    }
    if (colon != NULL && colon != url && colon - url <= 32)
        diag_report(c, f, "storage",
                    "unsupported storage scheme '%.*s' (use sqlite:PATH or postgres://...)",
                    (int)(colon - url), url);
    else
        diag_report(c, f, "storage", "invalid storage URL (use sqlite:PATH or postgres://...)");
}

static void main_http(struct cfgctx *c, const struct cfgfile *f, const struct raw_http *http,
                      struct config *cfg)
{
    uint64_t v;

    cfg->max_body_bytes = CONFIG_DEFAULT_MAX_BODY;
    cfg->http_threads = CONFIG_DEFAULT_HTTP_THREADS;
    if (http == NULL)
        return;
    if (http->max_body_bytes != NULL) {
        if (value_parse_uint(http->max_body_bytes, MAIN_MAX_BODY_MIN, MAIN_MAX_BODY_MAX, &v) == 0)
            cfg->max_body_bytes = (size_t)v;
        else
            diag_report(c, f, "http.max_body_bytes",
                        "http max_body_bytes '%s' is not a number from %d to %lu",
                        http->max_body_bytes, MAIN_MAX_BODY_MIN, MAIN_MAX_BODY_MAX);
    }
    if (http->threads != NULL) {
        if (value_parse_uint(http->threads, 1, MAIN_THREADS_MAX, &v) == 0)
            cfg->http_threads = (unsigned)v;
        else
            diag_report(c, f, "http.threads", "http threads '%s' is not a number from 1 to %d",
                        http->threads, MAIN_THREADS_MAX);
    }
}

/*
 * A secret field: "env:NAME" or "file:PATH", resolved now so that a missing
 * secret stops the load rather than the first page.  Messages name the
 * reference, never what it resolves to, and never an inline value.
 */
void mainfile_secret(struct cfgctx *c, const struct cfgfile *f, const char *path, const char *label,
                     const char *ref, struct secret *out)
{
    struct ob_error err;
    int rc;

    if (ref == NULL)
        return;
    if (!secret_ref_is_valid(ref)) {
        diag_report(c, f, path,
                    "%s must be a reference env:NAME or file:PATH, not an inline secret", label);
        return;
    }
    if (!c->resolve_secrets) {
        out->ref = cfgctx_dup(c, ref);
        return;
    }
    ob_error_clear(&err);
    rc = secret_resolve(ref, c->base_dir, out, &err);
    if (rc == OB_ENOMEM) {
        c->oom = 1;
    } else if (rc != 0) {
        diag_report(c, f, path, "cannot resolve %s: %s", label, err.msg);
    } else if (out->len == 0) {
        diag_report(c, f, path, "%s (%s) is empty", label, ref);
    }
}

static void main_slack(struct cfgctx *c, const struct cfgfile *f, const struct raw_slack *raw,
                       struct config_slack *out)
{
    if (raw == NULL)
        return;
    out->enabled = 1;
    if (raw->api_url != NULL && !value_is_http_url(raw->api_url))
        diag_report(c, f, "providers.slack.api_url",
                    "slack api_url '%s' must start with http:// or https://", raw->api_url);
    out->api_url = cfgctx_dup(c, raw->api_url != NULL ? raw->api_url : SLACK_DEFAULT_API);
    mainfile_secret(c, f, "providers.slack.bot_token", "slack bot_token", raw->bot_token,
                    &out->bot_token);
    mainfile_secret(c, f, "providers.slack.signing_secret", "slack signing_secret",
                    raw->signing_secret, &out->signing_secret);
}

static void main_mattermost(struct cfgctx *c, const struct cfgfile *f,
                            const struct raw_mattermost *raw, struct config_mattermost *out)
{
    if (raw == NULL)
        return;
    out->enabled = 1;
    if (raw->api_url != NULL && !value_is_http_url(raw->api_url))
        diag_report(c, f, "providers.mattermost.api_url",
                    "mattermost api_url '%s' must start with http:// or https://", raw->api_url);
    if (raw->api_url != NULL)
        out->api_url = cfgctx_dup(c, raw->api_url);
    mainfile_secret(c, f, "providers.mattermost.command_token", "mattermost command_token",
                    raw->command_token, &out->command_token);
}

static int main_parse_ms(const char *text, uint32_t *ms);

static void main_twilio(struct cfgctx *c, const struct cfgfile *f, const struct raw_twilio *raw,
                        struct config_twilio *out)
{
    if (raw == NULL)
        return;
    out->enabled = 1;
    out->ring_timeout_s = TWILIO_DEFAULT_RING_S;
    out->request_timeout_ms = TWILIO_DEFAULT_REQUEST_MS;
    if (raw->ring_timeout != NULL &&
        (config_parse_duration(raw->ring_timeout, &out->ring_timeout_s) != 0 ||
         out->ring_timeout_s < 5 || out->ring_timeout_s > 600))
        diag_report(c, f, "providers.twilio.ring_timeout",
                    "twilio ring_timeout '%s' is not a duration from 5s to 10m (e.g. 30s)",
                    raw->ring_timeout);
    if (raw->request_timeout != NULL &&
        (main_parse_ms(raw->request_timeout, &out->request_timeout_ms) != 0 ||
         out->request_timeout_ms < 100 || out->request_timeout_ms > 120000))
        diag_report(c, f, "providers.twilio.request_timeout",
                    "twilio request_timeout '%s' is not a duration from 100ms to 2m (e.g. 15s)",
                    raw->request_timeout);
    if (raw->api_url != NULL && !value_is_http_url(raw->api_url))
        diag_report(c, f, "providers.twilio.api_url",
                    "twilio api_url '%s' must start with http:// or https://", raw->api_url);
    if (!value_is_token(raw->account_sid, 1, 64))
        diag_report(c, f, "providers.twilio.account_sid",
                    "twilio account_sid must be letters and digits, e.g. AC0123...");
    if (!value_is_e164(raw->from_number))
        diag_report(c, f, "providers.twilio.from_number",
                    "twilio from_number '%s' is not an E.164 number (+ and 8 to 15 digits)",
                    raw->from_number);
    out->api_url = cfgctx_dup(c, raw->api_url != NULL ? raw->api_url : TWILIO_DEFAULT_API);
    out->account_sid = cfgctx_dup(c, raw->account_sid);
    out->from_number = cfgctx_dup(c, raw->from_number);
    mainfile_secret(c, f, "providers.twilio.auth_token", "twilio auth_token", raw->auth_token,
                    &out->auth_token);
}

static void main_smtp(struct cfgctx *c, const struct cfgfile *f, const struct raw_smtp *raw,
                      struct config_smtp *out)
{
    if (raw == NULL)
        return;
    out->enabled = 1;
    if (value_has_space(raw->url) ||
        (strncmp(raw->url, "smtp://", 7) != 0 && strncmp(raw->url, "smtps://", 8) != 0))
        diag_report(c, f, "providers.smtp.url", "smtp url must start with smtp:// or smtps://");
    if (!value_is_email(raw->from_address))
        diag_report(c, f, "providers.smtp.from_address",
                    "smtp from_address '%s' is not an e-mail address", raw->from_address);
    if (raw->password != NULL && raw->username == NULL)
        diag_report(c, f, "providers.smtp.password", "smtp password is set but username is not");
    if (raw->require_tls != NULL && value_parse_bool(raw->require_tls, &out->require_tls) != 0)
        diag_report(c, f, "providers.smtp.require_tls",
                    "smtp require_tls '%s' must be true or false", raw->require_tls);
    out->url = cfgctx_dup(c, raw->url);
    out->username = cfgctx_dup(c, raw->username);
    out->from_address = cfgctx_dup(c, raw->from_address);
    mainfile_secret(c, f, "providers.smtp.password", "smtp password", raw->password,
                    &out->password);
}

static int main_parse_ms(const char *text, uint32_t *ms);

/* "MIN-MAX" of RTP ports: even MIN, 1024 <= MIN < MAX <= 65535. */
static int main_port_range(const char *text, uint16_t *min, uint16_t *max)
{
    char lo[8], hi[8];
    const char *dash = strchr(text, '-');
    uint64_t a, b;

    if (dash == NULL || dash - text >= (long)sizeof(lo) || strlen(dash + 1) >= sizeof(hi))
        return OB_EINVAL;
    memcpy(lo, text, (size_t)(dash - text));
    lo[dash - text] = '\0';
    snprintf(hi, sizeof(hi), "%s", dash + 1);
    if (value_parse_uint(lo, 1024, 65534, &a) != 0 || value_parse_uint(hi, 1025, 65535, &b) != 0 ||
        a >= b || a % 2 != 0)
        return OB_EINVAL;
    *min = (uint16_t)a;
    *max = (uint16_t)b;
    return 0;
}

/* The SIP agent's own settings: listen address, trunk, timers, RTP ports. */
static void main_sip_media(struct cfgctx *c, const struct cfgfile *f, const struct raw_sip *raw,
                           struct config_sip *out)
{
    int rc = value_parse_listen(raw->listen != NULL ? raw->listen : "0.0.0.0:0", &out->listen_host,
                                &out->listen_port);
    unsigned char addr[16];

    /* An IP address, not a name: it goes into Contact and SDP as is. */
    if (rc == 0 && inet_pton(AF_INET, out->listen_host, addr) != 1 &&
        inet_pton(AF_INET6, out->listen_host, addr) != 1)
        rc = OB_EINVAL;
    if (rc == OB_ENOMEM)
        c->oom = 1;
    else if (rc != 0)
        diag_report(c, f, "providers.sip.listen",
                    "sip listen '%s' is not IP:PORT (e.g. 0.0.0.0:5060 or [::]:5060; port 0 = "
                    "any)",
                    raw->listen);
    if (raw->trunk != NULL) {
        if (!value_is_sip_uri(raw->trunk) || strchr(raw->trunk, '@') != NULL)
            diag_report(c, f, "providers.sip.trunk",
                        "sip trunk '%s' must be a sip: or sips: URI without a user part "
                        "(e.g. sip:trunk.example.com:5060)",
                        raw->trunk);
        out->trunk = cfgctx_dup(c, raw->trunk);
    }
    out->ring_timeout_ms = 30000;
    out->max_call_ms = 180000;
    if (raw->ring_timeout != NULL &&
        (main_parse_ms(raw->ring_timeout, &out->ring_timeout_ms) != 0 ||
         out->ring_timeout_ms < 1000 || out->ring_timeout_ms > 300000))
        diag_report(c, f, "providers.sip.ring_timeout",
                    "sip ring_timeout '%s' is not a duration from 1s to 5m (e.g. 30s)",
                    raw->ring_timeout);
    if (raw->max_call != NULL && (main_parse_ms(raw->max_call, &out->max_call_ms) != 0 ||
                                  out->max_call_ms < 5000 || out->max_call_ms > 1800000))
        diag_report(c, f, "providers.sip.max_call",
                    "sip max_call '%s' is not a duration from 5s to 30m (e.g. 3m)", raw->max_call);
    out->rtp_port_min = 10000;
    out->rtp_port_max = 20000;
    if (raw->rtp_ports != NULL &&
        main_port_range(raw->rtp_ports, &out->rtp_port_min, &out->rtp_port_max) != 0)
        diag_report(c, f, "providers.sip.rtp_ports",
                    "sip rtp_ports '%s' is not MIN-MAX with an even MIN, 1024 <= MIN < MAX <= "
                    "65535 (e.g. 10000-20000)",
                    raw->rtp_ports);
}

static void main_sip(struct cfgctx *c, const struct cfgfile *f, const struct raw_sip *raw,
                     struct config_sip *out)
{
    if (raw == NULL)
        return;
    out->enabled = 1;
    if (raw->outbound_proxy != NULL && !value_is_sip_uri(raw->outbound_proxy))
        diag_report(c, f, "providers.sip.outbound_proxy",
                    "sip outbound_proxy '%s' must be a sip: or sips: URI", raw->outbound_proxy);
    if (!value_is_sip_uri(raw->from_uri))
        diag_report(c, f, "providers.sip.from_uri", "sip from_uri '%s' must be a sip: or sips: URI",
                    raw->from_uri);
    out->outbound_proxy = cfgctx_dup(c, raw->outbound_proxy);
    out->from_uri = cfgctx_dup(c, raw->from_uri);
    out->username = cfgctx_dup(c, raw->username);
    mainfile_secret(c, f, "providers.sip.password", "sip password", raw->password, &out->password);
    main_sip_media(c, f, raw, out);
}

/* enforcers.aws: the AWS security-group enforcer (docs/AWS.md). */
static int aws_region_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 3 || n > 32 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    }
    return 1;
}

static int aws_group_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (strncmp(s, "sg-", 3) != 0 || (n != 3 + 8 && n != 3 + 17))
        return 0;
    for (const char *p = s + 3; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    }
    return 1;
}

static int aws_key_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 16 || n > 128)
        return 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    }
    return 1;
}

static void main_enforcer_aws(struct cfgctx *c, const struct cfgfile *f,
                              const struct raw_enforcer_aws *raw, struct config_enforcer_aws *out)
{
    uint64_t v;

    if (raw == NULL)
        return;
    out->enabled = 1;
    out->port = 22;
    out->sweep_interval_s = 300;
    if (!aws_region_ok(raw->region))
        diag_report(c, f, "enforcers.aws.region",
                    "aws region '%s' is not a region name such as eu-central-1", raw->region);
    if (!aws_group_id_ok(raw->security_group_id))
        diag_report(c, f, "enforcers.aws.security_group_id",
                    "aws security_group_id '%s' is not sg- and 8 or 17 lower-case hex digits",
                    raw->security_group_id);
    if (!aws_key_id_ok(raw->access_key_id))
        diag_report(c, f, "enforcers.aws.access_key_id",
                    "aws access_key_id must be 16 to 128 upper-case letters and digits "
                    "(AKIA... or ASIA...)");
    if (raw->endpoint != NULL &&
        (!value_is_http_url(raw->endpoint) || value_has_space(raw->endpoint) ||
         strchr(raw->endpoint, '@') != NULL))
        diag_report(c, f, "enforcers.aws.endpoint",
                    "aws endpoint '%s' must be an http:// or https:// URL without user info",
                    raw->endpoint);
    if (raw->port != NULL) {
        if (value_parse_uint(raw->port, 1, 65535, &v) == 0)
            out->port = (uint16_t)v;
        else
            diag_report(c, f, "enforcers.aws.port", "aws port '%s' is not a number from 1 to 65535",
                        raw->port);
    }
    if (raw->sweep_interval != NULL &&
        (config_parse_duration(raw->sweep_interval, &out->sweep_interval_s) != 0 ||
         out->sweep_interval_s < 10 || out->sweep_interval_s > 86400))
        diag_report(c, f, "enforcers.aws.sweep_interval",
                    "aws sweep_interval '%s' is not a duration from 10s to 1d (e.g. 5m)",
                    raw->sweep_interval);
    /* That it names a host group of some team is checked once teams loaded. */
    if (raw->host_group != NULL && !value_is_name(raw->host_group))
        diag_report(c, f, "enforcers.aws.host_group",
                    "aws host_group '%s' is not a valid host group name (use 1 to 63 of a-z, 0-9, "
                    "'.', '_', '-', starting with a letter or digit)",
                    raw->host_group);
    out->host_group = cfgctx_dup(c, raw->host_group);
    out->region = cfgctx_dup(c, raw->region);
    out->security_group_id = cfgctx_dup(c, raw->security_group_id);
    out->access_key_id = cfgctx_dup(c, raw->access_key_id);
    if (raw->endpoint != NULL) {
        out->endpoint = cfgctx_dup(c, raw->endpoint);
    } else if (aws_region_ok(raw->region)) {
        size_t len = strlen(raw->region) + 32;
        out->endpoint = malloc(len);
        if (out->endpoint == NULL)
            c->oom = 1;
        else
            snprintf(out->endpoint, len, "https://ec2.%s.amazonaws.com", raw->region);
    }
    mainfile_secret(c, f, "enforcers.aws.secret_access_key", "aws secret_access_key",
                    raw->secret_access_key, &out->secret_access_key);
    mainfile_secret(c, f, "enforcers.aws.session_token", "aws session_token", raw->session_token,
                    &out->session_token);
}

/* The `log` provider: its path, relative to the main file's directory. */
static void main_log_provider(struct cfgctx *c, const struct cfgfile *f,
                              const struct raw_log_provider *raw, struct config_log_provider *out)
{
    const char *path;

    if (raw == NULL)
        return;
    out->enabled = 1;
    path = raw->path != NULL ? raw->path : DEFAULT_LOG_PATH;
    if (path[0] == '\0') {
        diag_report(c, f, "providers.log.path", "log provider path must not be empty");
        return;
    }
    if (path[0] != '/' && c->base_dir != NULL) {
        size_t len = strlen(c->base_dir) + strlen(path) + 2;
        out->path = malloc(len);
        if (out->path == NULL) {
            c->oom = 1;
            return;
        }
        snprintf(out->path, len, "%s/%s", c->base_dir, path);
        return;
    }
    out->path = cfgctx_dup(c, path);
}

static int main_parse_ms(const char *text, uint32_t *ms);

static void main_webhook(struct cfgctx *c, const struct cfgfile *f, const struct raw_webhook *raw,
                         struct config_webhook *out)
{
    uint64_t v;

    if (raw == NULL)
        return;
    out->enabled = 1;
    mainfile_secret(c, f, "providers.webhook.signing_secret", "webhook signing_secret",
                    raw->signing_secret, &out->signing_secret);
    if (raw->retry_base != NULL && (main_parse_ms(raw->retry_base, &out->retry_base_ms) != 0 ||
                                    out->retry_base_ms < 100 || out->retry_base_ms > 3600000))
        diag_report(c, f, "providers.webhook.retry_base",
                    "webhook retry_base '%s' is not a duration from 100ms to 1h (e.g. 30s)",
                    raw->retry_base);
    if (raw->max_attempts != NULL) {
        if (value_parse_uint(raw->max_attempts, 1, 20, &v) != 0)
            diag_report(c, f, "providers.webhook.max_attempts",
                        "webhook max_attempts '%s' is not a number from 1 to 20",
                        raw->max_attempts);
        else
            out->max_attempts = (uint32_t)v;
    }
}

static void main_limit(struct cfgctx *c, const struct cfgfile *f, const char *type,
                       const struct raw_limit *raw, struct config_notification_limit *out)
{
    char path[64];
    uint64_t v;
    uint32_t per;

    if (raw == NULL)
        return;
    snprintf(path, sizeof(path), "notification_limits.%s", type);
    if (value_parse_uint(raw->max, 0, 10000, &v) != 0)
        diag_report(c, f, path, "notification limit max '%s' is not a number from 0 to 10000",
                    raw->max);
    else
        out->max = (uint32_t)v;
    if (config_parse_duration(raw->per, &per) != 0 || per < 1 || per > 7U * 24 * 3600)
        diag_report(c, f, path, "notification limit per '%s' is not a duration from 1s to 7d",
                    raw->per);
    else
        out->per_seconds = per;
}

static void main_limits(struct cfgctx *c, const struct cfgfile *f, const struct raw_limits *raw,
                        struct config *cfg)
{
    struct config_notification_limit *l = cfg->notification_limits;

    l[CONTACT_VOICE] = (struct config_notification_limit){3, 15 * 60};
    l[CONTACT_SIP] = (struct config_notification_limit){3, 15 * 60};
    l[CONTACT_SMS] = (struct config_notification_limit){10, 15 * 60};
    if (raw == NULL)
        return;
    main_limit(c, f, "voice", raw->voice, &l[CONTACT_VOICE]);
    main_limit(c, f, "sms", raw->sms, &l[CONTACT_SMS]);
    main_limit(c, f, "sip", raw->sip, &l[CONTACT_SIP]);
    main_limit(c, f, "email", raw->email, &l[CONTACT_EMAIL]);
    main_limit(c, f, "slack", raw->slack, &l[CONTACT_SLACK]);
    main_limit(c, f, "webhook", raw->webhook, &l[CONTACT_WEBHOOK]);
}

/* "250ms", or a duration in whole seconds ("1s", "1m"). 0 or OB_EINVAL. */
static int main_parse_ms(const char *text, uint32_t *ms)
{
    size_t len = text != NULL ? strlen(text) : 0;
    uint32_t seconds;

    if (len > 2 && strcmp(text + len - 2, "ms") == 0) {
        char digits[16];
        uint64_t v;
        if (len - 2 >= sizeof(digits))
            return OB_EINVAL;
        memcpy(digits, text, len - 2);
        digits[len - 2] = '\0';
        if (value_parse_uint(digits, 0, UINT32_MAX, &v) != 0)
            return OB_EINVAL;
        *ms = (uint32_t)v;
        return 0;
    }
    if (config_parse_duration(text, &seconds) != 0 || seconds > UINT32_MAX / 1000)
        return OB_EINVAL;
    *ms = seconds * 1000;
    return 0;
}

#define SSH_CA_VALIDITY_DEF (12U * 3600)
#define SSH_CA_VALIDITY_MIN 60U
#define SSH_CA_VALIDITY_MAX (7U * 24 * 3600)

/* ssh_ca: the key must load now, so that a bad key stops the load and not
 * the first `opsbell cert sign`. */
static void main_ssh_ca(struct cfgctx *c, const struct cfgfile *f, const struct raw_ssh_ca *raw,
                        struct config_ssh_ca *out)
{
    struct sshca_ca *ca = NULL;
    struct ob_error err;

    if (raw == NULL)
        return;
    out->enabled = 1;
    out->max_validity_seconds = SSH_CA_VALIDITY_DEF;
    if (raw->max_validity != NULL &&
        (config_parse_duration(raw->max_validity, &out->max_validity_seconds) != 0 ||
         out->max_validity_seconds < SSH_CA_VALIDITY_MIN ||
         out->max_validity_seconds > SSH_CA_VALIDITY_MAX))
        diag_report(c, f, "ssh_ca.max_validity",
                    "ssh_ca max_validity '%s' is not a duration from 1m to 7d (e.g. 12h)",
                    raw->max_validity);
    mainfile_secret(c, f, "ssh_ca.key", "ssh_ca key", raw->key, &out->key);
    if (out->key.value == NULL || out->key.len == 0)
        return;
    ob_error_clear(&err);
    if (sshca_ca_load(out->key.value, out->key.len, &ca, &err) != 0)
        diag_report(c, f, "ssh_ca.key", "ssh_ca key (%s): %s", out->key.ref, err.msg);
    sshca_ca_free(ca);
}

static void main_attempts(struct cfgctx *c, const struct cfgfile *f, const struct raw_engine *raw,
                          struct config *cfg)
{
    uint64_t v;

    if (raw->send_lease != NULL &&
        (main_parse_ms(raw->send_lease, &cfg->send_lease_ms) != 0 || cfg->send_lease_ms < 1000 ||
         cfg->send_lease_ms > 24U * 3600 * 1000))
        diag_report(c, f, "engine.send_lease",
                    "engine send_lease '%s' is not a duration from 1s to 1d (e.g. 5m)",
                    raw->send_lease);
    if (raw->retry_base != NULL && (main_parse_ms(raw->retry_base, &cfg->retry_base_ms) != 0 ||
                                    cfg->retry_base_ms < 100 || cfg->retry_base_ms > 3600000))
        diag_report(c, f, "engine.retry_base",
                    "engine retry_base '%s' is not a duration from 100ms to 1h (e.g. 30s)",
                    raw->retry_base);
    if (raw->max_attempts != NULL) {
        if (value_parse_uint(raw->max_attempts, 1, 20, &v) != 0)
            diag_report(c, f, "engine.max_attempts",
                        "engine max_attempts '%s' is not a number from 1 to 20", raw->max_attempts);
        else
            cfg->max_attempts = (uint32_t)v;
    }
}

static void main_oncall(struct cfgctx *c, const struct cfgfile *f, const struct raw_main *raw,
                        struct config *cfg)
{
    unsigned line, col;

    cfg->ical_horizon_seconds = ICAL_HORIZON_DEF;
    cfg->engine_poll_ms = ENGINE_POLL_DEF_MS;
    if (raw->ical != NULL && raw->ical->horizon != NULL) {
        uint32_t v = 0;
        if (config_parse_duration(raw->ical->horizon, &v) != 0 || v < ICAL_HORIZON_MIN ||
            v > ICAL_HORIZON_MAX)
            diag_report(c, f, "ical.horizon",
                        "ical horizon '%s' is not a duration from 1d to 366d (e.g. 30d)",
                        raw->ical->horizon);
        else
            cfg->ical_horizon_seconds = v;
    }
    cfg->send_lease_ms = 5U * 60 * 1000;
    cfg->retry_base_ms = 30000;
    cfg->max_attempts = 3;
    if (raw->engine != NULL)
        main_attempts(c, f, raw->engine, cfg);
    if (raw->engine != NULL && raw->engine->poll_interval != NULL) {
        uint32_t v = 0;
        if (main_parse_ms(raw->engine->poll_interval, &v) != 0 || v < ENGINE_POLL_MIN_MS ||
            v > ENGINE_POLL_MAX_MS)
            diag_report(c, f, "engine.poll_interval",
                        "engine poll_interval '%s' is not a duration from 100ms to 60s (e.g. "
                        "500ms or 1s)",
                        raw->engine->poll_interval);
        else
            cfg->engine_poll_ms = v;
    }
    /* Absent: the built-in defaults (users.c); present, even empty: these. */
    if (raw->notification_rules != NULL ||
        (f->pos != NULL && yamlpos_find(f->pos, "notification_rules", &line, &col) == 0))
        users_convert_rules(c, f, "notification_rules", "default", raw->notification_rules,
                            raw->notification_rule_count, &cfg->default_notification_rules,
                            &cfg->default_notification_rule_count);
}

/* enforcers.nftables (docs/FIREWALL.md).  The table name goes into nft
 * commands verbatim, so it is held to nft's identifier letters. */
static void main_nftables(struct cfgctx *c, const struct cfgfile *f, const struct raw_nftables *raw,
                          struct config_nftables *out)
{
    uint64_t v;
    int b;

    out->port = 22;
    out->drop_others = 1;
    out->max_prefix_v4 = 24;
    out->max_prefix_v6 = 48;
    if (raw == NULL)
        return;
    out->enabled = 1;
    if (raw->table != NULL) {
        static const char ident[] = "abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        size_t len = strlen(raw->table);
        int ok = len > 0 && len <= 31 && strspn(raw->table, ident) == len &&
                 !(raw->table[0] >= '0' && raw->table[0] <= '9');

        if (!ok)
            diag_report(c, f, "enforcers.nftables.table",
                        "nftables table '%s' must be 1..31 letters, digits or _ (not starting with "
                        "a digit)",
                        raw->table);
        out->table = cfgctx_dup(c, raw->table);
    }
    if (raw->port != NULL) {
        if (value_parse_uint(raw->port, 1, 65535, &v) == 0)
            out->port = (uint16_t)v;
        else
            diag_report(c, f, "enforcers.nftables.port",
                        "nftables port '%s' is not a number from 1 to 65535", raw->port);
    }
    if (raw->drop_others != NULL) {
        if (value_parse_bool(raw->drop_others, &b) == 0)
            out->drop_others = b;
        else
            diag_report(c, f, "enforcers.nftables.drop_others",
                        "nftables drop_others '%s' is not true or false", raw->drop_others);
    }
    if (raw->max_prefix_v4 != NULL) {
        if (value_parse_uint(raw->max_prefix_v4, 8, 32, &v) == 0)
            out->max_prefix_v4 = (unsigned)v;
        else
            diag_report(c, f, "enforcers.nftables.max_prefix_v4",
                        "nftables max_prefix_v4 '%s' is not a prefix length from 8 to 32",
                        raw->max_prefix_v4);
    }
    if (raw->max_prefix_v6 != NULL) {
        if (value_parse_uint(raw->max_prefix_v6, 16, 128, &v) == 0)
            out->max_prefix_v6 = (unsigned)v;
        else
            diag_report(c, f, "enforcers.nftables.max_prefix_v6",
                        "nftables max_prefix_v6 '%s' is not a prefix length from 16 to 128",
                        raw->max_prefix_v6);
    }
}

/* A path relative to the main file's directory, made absolute (check-only
 * loads have no base_dir: kept as written). */
static char *main_abs_path(struct cfgctx *c, const char *path)
{
    if (path[0] != '/' && c->base_dir != NULL) {
        size_t len = strlen(c->base_dir) + strlen(path) + 2;
        char *out = malloc(len);
        if (out == NULL) {
            c->oom = 1;
            return NULL;
        }
        snprintf(out, len, "%s/%s", c->base_dir, path);
        return out;
    }
    return cfgctx_dup(c, path);
}

/* A git branch name as `git check-ref-format --branch` would take it, minus
 * the rarer rules: no control characters, spaces, ~^:?*[\\, "..", "@{",
 * leading '-' or '/', trailing '/', '.' or ".lock". */
static int main_is_branch(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 200 || s[0] == '-' || s[0] == '/' || s[n - 1] == '/' || s[n - 1] == '.')
        return 0;
    if (strstr(s, "..") != NULL || strstr(s, "@{") != NULL || strstr(s, "//") != NULL)
        return 0;
    if (n >= 5 && strcmp(s + n - 5, ".lock") == 0)
        return 0;
    for (const char *p = s; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("~^:?*[\\", *p) != NULL)
            return 0;
    return 1;
}

/* `keys:` - the SSH keys repository (src/keys, docs/KEYS.md). */
static void main_keys(struct cfgctx *c, const struct cfgfile *f, const struct raw_keys *raw,
                      struct config_keys *out)
{
    const char *path, *branch;

    if (raw == NULL)
        return;
    out->enabled = 1;
    if (raw->repository[0] == '\0' || value_has_space(raw->repository)) {
        diag_report(c, f, "keys.repository",
                    "keys repository must be a git URL or path without spaces");
    } else if (strchr(raw->repository, ':') == NULL) {
        out->repository = main_abs_path(c, raw->repository); /* a local path */
    } else {
        out->repository = cfgctx_dup(c, raw->repository);
    }
    branch = raw->branch != NULL ? raw->branch : "main";
    if (!main_is_branch(branch))
        diag_report(c, f, "keys.branch", "keys branch '%s' is not a valid git branch name", branch);
    out->branch = cfgctx_dup(c, branch);
    path = raw->path != NULL ? raw->path : "keys";
    if (path[0] == '\0' || path[0] == '/' || strstr(path, "..") != NULL || value_has_space(path))
        diag_report(c, f, "keys.path",
                    "keys path '%s' must be a directory of the repository (relative, no '..')",
                    path);
    out->path = cfgctx_dup(c, path);
    if (raw->cache_dir != NULL && raw->cache_dir[0] == '\0')
        diag_report(c, f, "keys.cache_dir", "keys cache_dir must not be empty");
    else
        out->cache_dir =
            main_abs_path(c, raw->cache_dir != NULL ? raw->cache_dir : "/var/lib/opsbell/keys");
    out->sync_interval_seconds = 300;
    if (raw->sync_interval != NULL) {
        uint32_t v = 0;
        if (config_parse_duration(raw->sync_interval, &v) != 0 || v < 10 || v > 86400)
            diag_report(c, f, "keys.sync_interval",
                        "keys sync_interval '%s' is not a duration from 10s to 1d (e.g. 5m)",
                        raw->sync_interval);
        else
            out->sync_interval_seconds = v;
    }
}

void mainfile_convert(struct cfgctx *c, const struct cfgfile *f, const struct raw_main *raw,
                      struct config *cfg)
{
    const struct raw_providers *prov = raw->providers;

    main_listen(c, f, raw->listen != NULL ? raw->listen : CONFIG_DEFAULT_LISTEN, cfg);
    main_storage(c, f, raw->storage != NULL ? raw->storage : DEFAULT_STORAGE, cfg);
    if (raw->public_url != NULL) {
        if (!value_is_http_url(raw->public_url))
            diag_report(c, f, "public_url", "public_url '%s' must start with http:// or https://",
                        raw->public_url);
        cfg->public_url = cfgctx_dup(c, raw->public_url);
    }
    main_http(c, f, raw->http, cfg);
    cfg->log_level = LOG_LEVEL_INFO;
    if (raw->log != NULL && raw->log->level != NULL &&
        log_level_parse(raw->log->level, &cfg->log_level) != 0)
        diag_report(c, f, "log.level", "log level '%s' is not one of debug, info, warn, error",
                    raw->log->level);
    main_oncall(c, f, raw, cfg);
    main_limits(c, f, raw->notification_limits, cfg);
    main_ssh_ca(c, f, raw->ssh_ca, &cfg->ssh_ca);
    main_keys(c, f, raw->keys, &cfg->keys);
    access_convert_allowlist(c, f, raw->allowlist, &cfg->allowlist);
    main_webhook(c, f, prov != NULL ? prov->webhook : NULL, &cfg->providers.webhook);
    if (prov != NULL) {
        main_log_provider(c, f, prov->log, &cfg->providers.log);
        main_slack(c, f, prov->slack, &cfg->providers.slack);
        main_mattermost(c, f, prov->mattermost, &cfg->providers.mattermost);
        main_twilio(c, f, prov->twilio, &cfg->providers.twilio);
        main_smtp(c, f, prov->smtp, &cfg->providers.smtp);
        main_sip(c, f, prov->sip, &cfg->providers.sip);
    }
    main_nftables(c, f, raw->enforcers != NULL ? raw->enforcers->nftables : NULL,
                  &cfg->enforcers.nftables);
    if (raw->enforcers != NULL)
        main_enforcer_aws(c, f, raw->enforcers->aws, &cfg->enforcers.aws);
    if (raw->users_file != NULL && raw->users_file[0] == '\0')
        diag_report(c, f, "users_file", "users_file must not be empty");
    if (raw->teams_dir != NULL && raw->teams_dir[0] == '\0')
        diag_report(c, f, "teams_dir", "teams_dir must not be empty");
}
