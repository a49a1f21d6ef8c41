/*
 * door_checks.h - the invariants every door fuzz target checks, shared by
 * fuzz/fuzz_door_*.c (header-only: each target is one translation unit).
 */
#ifndef OPSBELL_FUZZ_DOOR_CHECKS_H
#define OPSBELL_FUZZ_DOOR_CHECKS_H

#include "ingest/door.h"
#include "ingest/event.h"
#include "util/error.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-24T19:00:00Z: a fixed "now", so that runs are reproducible. */
#define FUZZ_NOW INT64_C(1795546800000)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        size_t n;
        unsigned cp;
        if (*p < 0x80) {
            p++;
            continue;
        } else if ((*p & 0xe0) == 0xc0) {
            n = 1;
            cp = *p & 0x1fu;
        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            cp = *p & 0x0fu;
        } else if ((*p & 0xf8) == 0xf0) {
            n = 3;
            cp = *p & 0x07u;
        } else {
            return 0;
        }
        p++;
        for (size_t i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (*p & 0x3fu);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

static int name_valid(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (s++; *s != '\0'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
              (*s >= '0' && *s <= '9')))
            return 0;
    }
    return 1;
}

static void check_set(const struct alert_label *set, size_t count, size_t max_count,
                      size_t value_max)
{
    CHECK(count <= max_count);
    CHECK((set == NULL) == (count == 0));
    for (size_t i = 0; i < count; i++) {
        CHECK(set[i].name != NULL && set[i].value != NULL);
        CHECK(name_valid(set[i].name));
        CHECK(strlen(set[i].name) <= ALERT_LABEL_NAME_MAX);
        CHECK(strlen(set[i].value) <= value_max);
        CHECK(utf8_valid(set[i].value));
        if (i > 0)
            CHECK(strcmp(set[i - 1].name, set[i].name) < 0); /* sorted, unique */
    }
}

static void check_event(const struct alert_event *ev, enum alert_source source)
{
    char fp[17];

    CHECK(ev->source == source);
    CHECK(ev->action == ALERT_TRIGGER || ev->action == ALERT_RESOLVE ||
          ev->action == ALERT_ACKNOWLEDGE);
    CHECK(ev->severity >= SEVERITY_CRITICAL && ev->severity <= SEVERITY_INFO);
    CHECK(ev->summary != NULL);
    CHECK(strlen(ev->summary) <= ALERT_SUMMARY_MAX);
    CHECK(utf8_valid(ev->summary));
    CHECK(ev->source_name != NULL && utf8_valid(ev->source_name));
    if (ev->dedup_key != NULL) {
        size_t chars = 0;
        for (const unsigned char *p = (const unsigned char *)ev->dedup_key; *p != '\0'; p++)
            chars += (*p & 0xc0) != 0x80;
        CHECK(chars >= 1 && chars <= ALERT_DEDUP_KEY_MAX);
    }
    check_set(ev->labels, ev->label_count, ALERT_MAX_LABELS, ALERT_LABEL_VALUE_MAX);
    check_set(ev->annotations, ev->annotation_count, ALERT_MAX_ANNOTATIONS,
              ALERT_ANNOTATION_VALUE_MAX);
    CHECK(strlen(ev->fingerprint) == 16);
    for (size_t i = 0; i < 16; i++)
        CHECK((ev->fingerprint[i] >= '0' && ev->fingerprint[i] <= '9') ||
              (ev->fingerprint[i] >= 'a' && ev->fingerprint[i] <= 'f'));
    alert_fingerprint(ev->labels, ev->label_count, fp);
    CHECK(strcmp(fp, ev->fingerprint) == 0);
    CHECK(ev->starts_at_ms == 0 || (ev->starts_at_ms >= INT64_C(946684800000) &&
                                    ev->starts_at_ms <= FUZZ_NOW + INT64_C(86400000)));
    if (ev->details_json != NULL) {
        json_t *d;
        CHECK(strlen(ev->details_json) <= ALERT_DETAILS_MAX);
        d = json_loads(ev->details_json, JSON_DECODE_ANY, NULL);
        CHECK(d != NULL);
        json_decref(d);
    }
}

/* On success: every event valid, then released to nothing. */
static void check_batch(struct alert_batch *batch, enum alert_source source)
{
    CHECK(batch->count <= ALERT_BATCH_MAX);
    CHECK((batch->events == NULL) == (batch->count == 0));
    for (size_t i = 0; i < batch->count; i++)
        check_event(&batch->events[i], source);
    alert_batch_release(batch);
    CHECK(batch->events == NULL && batch->count == 0);
}

/* On failure: nothing handed out, and a one-line UTF-8 reason. */
static void check_failure(int rc, const struct alert_batch *batch, const struct ob_error *err)
{
    CHECK(rc == OB_EINVAL || rc == OB_ENOMEM);
    CHECK(batch->events == NULL && batch->count == 0);
    CHECK(err->code == rc);
    CHECK(err->msg[0] != '\0');
    CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    CHECK(strchr(err->msg, '\n') == NULL);
    CHECK(utf8_valid(err->msg));
}

#endif
