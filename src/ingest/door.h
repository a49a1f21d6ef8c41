/*
 * door.h - the ingestion doors' parsers: wire format in, alert_batch out.
 *
 * Each parser is a pure function of (body, now): no I/O, no configuration,
 * no global state, so that each has a fuzz target. On success it returns 0
 * and fills *out (which the caller releases); on failure it returns
 * OB_EINVAL (malformed, wrong types, missing fields, over a cap) with a
 * one-line reason in err, and leaves *out empty. Bodies must already have
 * passed the HTTP size cap.
 *
 * Timestamps: RFC 3339 (with fractional seconds and offsets). Alertmanager's
 * zero time "0001-01-01T00:00:00Z" means "not set". A startsAt more than 24 h
 * in the future or before 2000-01-01 is refused; an endsAt at or before now
 * makes the event a resolve.
 */
#ifndef OPSBELL_INGEST_DOOR_H
#define OPSBELL_INGEST_DOOR_H

#include "ingest/event.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct ob_error;

/*
 * POST /api/v2/alerts: a JSON array of postableAlert objects
 * ({labels (required, non-empty), annotations, startsAt, endsAt, generatorURL}).
 * summary = annotations.summary, else annotations.description, else labels.alertname;
 * severity from labels.severity (critical|error|warning|info, "page" = critical),
 * default warning. source_name "alertmanager-api".
 */
int door_parse_alertmanager_api(const char *body, size_t len, int64_t now_ms,
                                struct alert_batch *out, struct ob_error *err);

/*
 * POST /api/v1/integrations/alertmanager/{key}: Alertmanager's webhook
 * payload, version "4": {version, groupKey, status, receiver, groupLabels,
 * commonLabels, commonAnnotations, externalURL, alerts: [{status, labels,
 * annotations, startsAt, endsAt, generatorURL, fingerprint}]}. Each alert
 * becomes one event (action from its own status); integration_key is set to
 * key. source_name "alertmanager".
 */
int door_parse_alertmanager_webhook(const char *body, size_t len, const char *key, int64_t now_ms,
                                    struct alert_batch *out, struct ob_error *err);

/*
 * POST /v2/enqueue: a PagerDuty Events API v2 event: routing_key (32
 * characters), event_action trigger|acknowledge|resolve, dedup_key (required
 * for acknowledge/resolve, optional for trigger, at most 255 characters),
 * payload {summary (required, <= 1024), source (required), severity
 * (required: critical|error|warning|info), timestamp, component, group,
 * class, custom_details} (payload required for trigger), images, links,
 * client, client_url. One event in the batch.
 * On failure, *errors (when not NULL) receives a new JSON array of strings
 * in PagerDuty's style, for the {"status":"invalid event", "message":
 * "Event object is invalid", "errors": [...]} reply.
 */
int door_parse_pagerduty(const char *body, size_t len, int64_t now_ms, struct alert_batch *out,
                         json_t **errors, struct ob_error *err);

/*
 * POST /api/v1/alerts: opsbell's own form, one object or an array of them:
 * {service (or integration_key), summary (required for trigger), severity,
 * action: trigger|resolve|acknowledge (default trigger), dedup_key, labels
 * {string: string}, annotations, details {object}, source}.
 */
int door_parse_generic(const char *body, size_t len, int64_t now_ms, struct alert_batch *out,
                       struct ob_error *err);

/* RFC 3339 -> milliseconds since the epoch. 0 or OB_EINVAL. The zero time
 * "0001-01-01T00:00:00Z" parses to 0 (unset). */
int door_parse_time(const char *text, int64_t *ms_out);
/* Milliseconds -> RFC 3339 UTC with milliseconds ("2026-11-24T19:00:00.123Z"); out >= 32 bytes. */
void door_format_time(int64_t ms, char *out, size_t cap);

#endif
