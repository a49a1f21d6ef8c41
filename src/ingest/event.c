/*
 * event.c - names of the alert enums, label look-up, Alertmanager's label-set
 * fingerprint and the release functions of event.h.
 */
#include "ingest/event.h"

#include "util/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const source_names[] = {
    [SOURCE_ALERTMANAGER_API] = "alertmanager-api",
    [SOURCE_ALERTMANAGER_WEBHOOK] = "alertmanager-webhook",
    [SOURCE_PAGERDUTY] = "pagerduty",
    [SOURCE_GENERIC] = "generic",
    [SOURCE_HEARTBEAT] = "heartbeat",
};

static const char *const action_names[] = {
    [ALERT_TRIGGER] = "trigger",
    [ALERT_RESOLVE] = "resolve",
    [ALERT_ACKNOWLEDGE] = "acknowledge",
};

static const char *const severity_names[] = {
    [SEVERITY_CRITICAL] = "critical",
    [SEVERITY_ERROR] = "error",
    [SEVERITY_WARNING] = "warning",
    [SEVERITY_INFO] = "info",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *alert_source_name(enum alert_source source)
{
    if ((unsigned)source >= COUNT_OF(source_names))
        return "unknown";
    return source_names[source];
}

const char *alert_action_name(enum alert_action action)
{
    if ((unsigned)action >= COUNT_OF(action_names))
        return "unknown";
    return action_names[action];
}

const char *alert_severity_name(enum alert_severity severity)
{
    if ((unsigned)severity >= COUNT_OF(severity_names))
        return "unknown";
    return severity_names[severity];
}

int alert_severity_parse(const char *text, enum alert_severity *out)
{
    if (text == NULL)
        return OB_EINVAL;
    for (size_t i = 0; i < COUNT_OF(severity_names); i++) {
        if (strcasecmp(text, severity_names[i]) == 0) {
            *out = (enum alert_severity)i;
            return 0;
        }
    }
    return OB_EINVAL;
}

const char *alert_label_get(const struct alert_label *labels, size_t count, const char *name)
{
    size_t lo = 0;
    size_t hi = count;

    if (labels == NULL || name == NULL)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(labels[mid].name, name);
        if (cmp == 0)
            return labels[mid].value;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

#define FNV64_OFFSET          UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME           UINT64_C(0x100000001b3)
#define FINGERPRINT_SEPARATOR 0xffu /* model.SeparatorByte: never part of UTF-8 */

static uint64_t fnv_add(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        h ^= *p;
        h *= FNV64_PRIME;
    }
    h ^= FINGERPRINT_SEPARATOR;
    h *= FNV64_PRIME;
    return h;
}

/* Does (name a, index i) come before (name b, index j)? Indexes break ties
 * so that the order is total even for (invalid) repeated names. */
static int label_before(const struct alert_label *labels, size_t i, size_t j)
{
    int cmp = strcmp(labels[i].name, labels[j].name);
    return cmp < 0 || (cmp == 0 && i < j);
}

void alert_fingerprint(const struct alert_label *labels, size_t count, char *out)
{
    uint64_t h = FNV64_OFFSET;
    int sorted = 1;

    for (size_t i = 1; i < count && sorted; i++) {
        if (strcmp(labels[i - 1].name, labels[i].name) > 0)
            sorted = 0;
    }
    if (sorted) {
        for (size_t i = 0; i < count; i++) {
            h = fnv_add(h, labels[i].name);
            h = fnv_add(h, labels[i].value);
        }
    } else {
        /* Doors always pass sorted labels; any other caller still gets the
         * right answer without an allocation (selection in name order). */
        size_t prev = SIZE_MAX;
        for (size_t n = 0; n < count; n++) {
            size_t next = SIZE_MAX;
            for (size_t i = 0; i < count; i++) {
                if (prev != SIZE_MAX && !label_before(labels, prev, i))
                    continue;
                if (next == SIZE_MAX || label_before(labels, i, next))
                    next = i;
            }
            h = fnv_add(h, labels[next].name);
            h = fnv_add(h, labels[next].value);
            prev = next;
        }
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void labels_free(struct alert_label *labels, size_t count)
{
    if (labels == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free(labels[i].name);
        free(labels[i].value);
    }
    free(labels);
}

void alert_event_release(struct alert_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->integration_key);
    free(ev->service);
    free(ev->dedup_key);
    free(ev->summary);
    free(ev->source_name);
    free(ev->generator_url);
    labels_free(ev->labels, ev->label_count);
    labels_free(ev->annotations, ev->annotation_count);
    free(ev->details_json);
    memset(ev, 0, sizeof(*ev));
}

void alert_batch_release(struct alert_batch *batch)
{
    if (batch == NULL)
        return;
    for (size_t i = 0; i < batch->count; i++)
        alert_event_release(&batch->events[i]);
    free(batch->events);
    batch->events = NULL;
    batch->count = 0;
}
