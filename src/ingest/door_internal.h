/*
 * door_internal.h - what the ingestion doors share (door_*.c only; not part
 * of the ingest API): loading a body with jansson, typed members with field
 * paths in messages, label sets into sorted alert_label arrays under the
 * caps of event.h, UTF-8 helpers, time windows, details serialization and
 * the batch/event building blocks.
 *
 * Messages name the field by its path in the body: "alerts[3].labels.severity",
 * "payload.summary", "labels". A `prefix` argument is the path of the object
 * that holds the member ("" for the top level).
 *
 * Every helper that can fail returns 0 or a negative OB_E* code and fills err;
 * OB_ENOMEM when an allocation fails. Nothing here keeps state.
 */
#ifndef OPSBELL_INGEST_DOOR_INTERNAL_H
#define OPSBELL_INGEST_DOOR_INTERNAL_H

#include "ingest/event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ob_error;

/* JSON nesting cap (the API's convention, see docs/ARCHITECTURE.md). */
#define DOOR_JSON_MAX_DEPTH 32
/* Field paths in messages are cut to this many bytes. */
#define DOOR_PATH_MAX 160
/* 2000-01-01T00:00:00Z: a startsAt before it is refused as absurd. */
#define DOOR_TIME_MIN_MS INT64_C(946684800000)
/* A startsAt more than this far past now is refused. */
#define DOOR_FUTURE_MAX_MS (INT64_C(24) * 3600 * 1000)
/* Free text that is neither a label nor an annotation: source names, client
 * names, PagerDuty component/group/class (also labels, hence the same cap). */
#define DOOR_TEXT_MAX ALERT_LABEL_VALUE_MAX
/* URLs (generatorURL, client_url) may carry a whole PromQL expression. */
#define DOOR_URL_MAX ALERT_ANNOTATION_VALUE_MAX
/* Names of things in the configuration: services, integration keys. */
#define DOOR_NAME_MAX 256

/* Accept ISO 8601 "basic" offsets (+0000) besides RFC 3339's +00:00. */
#define DOOR_TIME_BASIC_OFFSET 0x1u

/* door_parse_time with options (DOOR_TIME_*). 0 or OB_EINVAL. */
int door_parse_time_ex(const char *text, unsigned flags, int64_t *ms_out);

/*
 * Parse a request body: not empty, valid JSON (jansson refuses invalid
 * UTF-8 and, without JSON_ALLOW_NUL, \u0000), no duplicate keys, nested at
 * most DOOR_JSON_MAX_DEPTH. *out is a new reference. 0 or OB_EINVAL.
 */
int door_json_load(const char *body, size_t len, json_t **out, struct ob_error *err);

/* "prefix.field" (or "field" when prefix is empty) into buf, cut to cap. */
void door_path(char *buf, size_t cap, const char *prefix, const char *field);
/* "prefix[index]" into buf. */
void door_path_index(char *buf, size_t cap, const char *prefix, size_t index);

/* Number of UTF-8 characters (code points) of valid UTF-8 text. */
size_t door_utf8_chars(const char *text);
/* Cut text to at most max_bytes without splitting a UTF-8 sequence. */
void door_utf8_truncate(char *text, size_t max_bytes);

/* Is name a valid Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*? */
bool door_label_name_valid(const char *name);

/* malloc'd copy of s (NULL gives NULL), or NULL with err = OB_ENOMEM. */
int door_strdup(const char *s, char **out, struct ob_error *err);

/*
 * Optional string member `key` of obj: absent or JSON null leaves *out NULL;
 * a string longer than max_bytes, or another type, is OB_EINVAL with the path.
 * *out borrows from obj.
 */
int door_get_string(json_t *obj, const char *prefix, const char *key, size_t max_bytes,
                    const char **out, struct ob_error *err);

enum door_set_kind { DOOR_SET_LABELS = 0, DOOR_SET_ANNOTATIONS };

/*
 * A JSON object of strings (labels or annotations, by kind) at path into a
 * new array sorted by name, names checked and each cap of event.h applied:
 * ALERT_MAX_LABELS / ALERT_MAX_ANNOTATIONS members, names of at most
 * ALERT_LABEL_NAME_MAX bytes matching [a-zA-Z_][a-zA-Z0-9_]*, values of at
 * most ALERT_LABEL_VALUE_MAX / ALERT_ANNOTATION_VALUE_MAX bytes. value NULL
 * or JSON null gives an empty set. On failure nothing is allocated.
 */
int door_parse_set(json_t *value, const char *path, enum door_set_kind kind,
                   struct alert_label **out, size_t *count, struct ob_error *err);

/* Free an array of count labels (accepts NULL). */
void door_labels_free(struct alert_label *labels, size_t count);
/* Sort labels by name (strcmp order, as Prometheus sorts label names). */
void door_labels_sort(struct alert_label *labels, size_t count);

/*
 * The time-window rules of door.h for a parsed startsAt (0 = unset, always
 * accepted): refused before 2000-01-01 or more than 24 h after now.
 * what names the field in the message.
 */
int door_check_start(int64_t starts_ms, int64_t now_ms, const char *what, struct ob_error *err);

/* Compact JSON text of value into a malloc'd *out; OB_EINVAL (with what in
 * the message) when longer than ALERT_DETAILS_MAX bytes. */
int door_dump_details(json_t *value, const char *what, char **out, struct ob_error *err);

/* ev->summary = copy of text cut to ALERT_SUMMARY_MAX bytes at a UTF-8 boundary. */
int door_set_summary(struct alert_event *ev, const char *text, struct ob_error *err);

/* Allocate room for count zeroed events (count 0: events NULL). */
int door_batch_alloc(struct alert_batch *batch, size_t count, struct ob_error *err);

/* Reject an array longer than ALERT_BATCH_MAX. what: "alerts". */
int door_check_batch_size(size_t count, const char *what, struct ob_error *err);

#endif
