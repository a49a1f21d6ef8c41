/*
 * event.h - one alert event, as every ingestion door delivers it to the
 * pipeline (route -> dedup/group -> incident), whatever its wire format.
 *
 * Ownership: an alert_event owns every string and array it points to;
 * alert_event_release() frees them (not the struct). An alert_batch owns its
 * events; alert_batch_release() frees everything. Doors build batches; the
 * pipeline borrows them until ingest_submit() returns.
 */
#ifndef OPSBELL_INGEST_EVENT_H
#define OPSBELL_INGEST_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Caps on what one event may carry; larger input is refused with 400/413. */
#define ALERT_MAX_LABELS           128
#define ALERT_MAX_ANNOTATIONS      128
#define ALERT_LABEL_NAME_MAX       128
#define ALERT_LABEL_VALUE_MAX      4096
#define ALERT_ANNOTATION_VALUE_MAX 16384
#define ALERT_SUMMARY_MAX          1024
#define ALERT_DEDUP_KEY_MAX        255
#define ALERT_DETAILS_MAX          (64 * 1024)
#define ALERT_BATCH_MAX            10000 /* events in one request */

enum alert_source {
    SOURCE_ALERTMANAGER_API = 0, /* POST /api/v2/alerts (what Prometheus sends) */
    SOURCE_ALERTMANAGER_WEBHOOK, /* POST /api/v1/integrations/alertmanager/{key} */
    SOURCE_PAGERDUTY,            /* POST /v2/enqueue */
    SOURCE_GENERIC,              /* POST /api/v1/alerts, opsbell alert send */
    SOURCE_HEARTBEAT             /* a missed heartbeat */
};

enum alert_action { ALERT_TRIGGER = 0, ALERT_RESOLVE, ALERT_ACKNOWLEDGE };

/* PagerDuty's four severities; Prometheus "severity" labels map onto them. */
enum alert_severity { SEVERITY_CRITICAL = 0, SEVERITY_ERROR, SEVERITY_WARNING, SEVERITY_INFO };

struct alert_label {
    char *name;
    char *value;
};

struct alert_event {
    enum alert_source source;
    enum alert_action action;
    char *integration_key; /* routing key (PagerDuty routing_key, webhook {key}); may be NULL */
    char *service;         /* service named by the sender (generic door); may be NULL */
    char *dedup_key;       /* explicit dedup key; NULL = derived by the pipeline */
    char *summary;         /* never NULL once parsed; "" allowed only for resolves */
    enum alert_severity severity;
    char *source_name;   /* where it came from: PagerDuty payload.source, "prometheus", ... */
    char *generator_url; /* may be NULL */
    struct alert_label *labels; /* sorted by name, names unique */
    size_t label_count;
    struct alert_label *annotations; /* sorted by name, names unique */
    size_t annotation_count;
    char
        *details_json; /* JSON object text (custom_details, component, group, class); may be NULL */
    int64_t starts_at_ms; /* when it began firing; 0 = the time it was received */
    int64_t ends_at_ms;   /* 0 = open-ended; for Alertmanager, the expected end */
    char fingerprint[17]; /* 16 hex digits: Alertmanager's label-set fingerprint (FNV-1a 64) */
};

struct alert_batch {
    struct alert_event *events;
    size_t count;
};

const char *alert_source_name(enum alert_source source);
const char *alert_action_name(enum alert_action action);
const char *alert_severity_name(enum alert_severity severity);
/* "critical" | "error" | "warning" | "info" (case-insensitive). 0 or OB_EINVAL. */
int alert_severity_parse(const char *text, enum alert_severity *out);

/* Value of a label, or NULL. labels must be sorted (as doors leave them). */
const char *alert_label_get(const struct alert_label *labels, size_t count, const char *name);

/*
 * Alertmanager's fingerprint of a label set: FNV-1a 64 over the names sorted,
 * each name then value followed by the separator byte 0xff, printed as 16
 * lowercase hex digits into out (17 bytes).
 */
void alert_fingerprint(const struct alert_label *labels, size_t count, char *out);

void alert_event_release(struct alert_event *ev);
void alert_batch_release(struct alert_batch *batch);

#endif
