/*
 * test_doors.c - the ingestion doors' parsers (src/ingest/door_*.c):
 * RFC 3339 times; the documented payloads of Prometheus/Alertmanager (API
 * v2 and webhook version 4), PagerDuty Events API v2 and opsbell's generic
 * form parsed into exact fields; every refusal with its exact message (and
 * PagerDuty's errors list); caps; summary fallbacks and truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ingest/door.h"
#include "ingest/event.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-24T19:00:00Z */
#define NOW  INT64_C(1795546800000)
#define HOUR INT64_C(3600000)
/* A 32-character PagerDuty routing key. */
#define PD_KEY "R0123456789abcdef0123456789abcde"

/* ---- helpers ------------------------------------------------------------------ */

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct alert_label *)a)->name, ((const struct alert_label *)b)->name);
}

/* The documented fingerprint, written independently of event.c. */
static void ref_fingerprint(const struct alert_label *in, size_t count, char out[17])
{
    struct alert_label *sorted = calloc(count + 1, sizeof(*sorted));
    uint64_t h = 14695981039346656037ULL;

    assert_non_null(sorted);
    if (count > 0)
        memcpy(sorted, in, count * sizeof(*in));
    qsort(sorted, count, sizeof(*sorted), ref_cmp);
    for (size_t i = 0; i < count; i++) {
        const char *parts[2] = {sorted[i].name, sorted[i].value};
        for (int k = 0; k < 2; k++) {
            for (const unsigned char *p = (const unsigned char *)parts[k]; *p != '\0'; p++) {
                h ^= *p;
                h *= 1099511628211ULL;
            }
            h ^= 255;
            h *= 1099511628211ULL;
        }
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    free(sorted);
}

/* What every successful parse must guarantee. */
static void check_batch(const struct alert_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        const struct alert_event *ev = &b->events[i];
        char want[17];
        assert_non_null(ev->summary);
        assert_true(strlen(ev->summary) <= ALERT_SUMMARY_MAX);
        assert_non_null(ev->source_name);
        assert_true(ev->label_count <= ALERT_MAX_LABELS);
        assert_true(ev->annotation_count <= ALERT_MAX_ANNOTATIONS);
        for (size_t j = 1; j < ev->label_count; j++)
            assert_true(strcmp(ev->labels[j - 1].name, ev->labels[j].name) < 0);
        for (size_t j = 1; j < ev->annotation_count; j++)
            assert_true(strcmp(ev->annotations[j - 1].name, ev->annotations[j].name) < 0);
        ref_fingerprint(ev->labels, ev->label_count, want);
        assert_string_equal(ev->fingerprint, want);
    }
}

static void assert_label(const struct alert_label *l, const char *name, const char *value)
{
    assert_string_equal(l->name, name);
    assert_string_equal(l->value, value);
}

enum door { AM_API, AM_WEBHOOK, PAGERDUTY, GENERIC };

static int run_door(enum door door, const char *body, size_t len, struct alert_batch *out,
                    struct ob_error *err)
{
    switch (door) {
    case AM_API:
        return door_parse_alertmanager_api(body, len, NOW, out, err);
    case AM_WEBHOOK:
        return door_parse_alertmanager_webhook(body, len, "hook-key", NOW, out, err);
    case PAGERDUTY:
        return door_parse_pagerduty(body, len, NOW, out, NULL, err);
    case GENERIC:
        return door_parse_generic(body, len, NOW, out, err);
    }
    return -100;
}

static struct alert_batch parse_ok(enum door door, const char *body)
{
    struct ob_error err = {0};
    struct alert_batch b = {(struct alert_event *)1, 77};
    int rc = run_door(door, body, strlen(body), &b, &err);

    if (rc != 0)
        fail_msg("unexpected failure %d: %s\nbody: %.300s", rc, err.msg, body);
    check_batch(&b);
    return b;
}

/* Expect OB_EINVAL with exactly want (or, when prefix, starting with want). */
static void fails_len(enum door door, const char *body, size_t len, const char *want, int prefix)
{
    struct ob_error err = {0};
    struct alert_batch b = {(struct alert_event *)1, 77};
    int rc = run_door(door, body, len, &b, &err);

    if (rc == 0) {
        alert_batch_release(&b);
        fail_msg("unexpected success for %.300s", body);
    }
    assert_int_equal(rc, OB_EINVAL);
    assert_int_equal(err.code, OB_EINVAL);
    assert_null(b.events);
    assert_int_equal(b.count, 0);
    if (prefix) {
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("message '%s' does not start with '%s'", err.msg, want);
    } else {
        assert_string_equal(err.msg, want);
    }
}

static void fails(enum door door, const char *body, const char *want)
{
    fails_len(door, body, strlen(body), want, 0);
}

static void fails_prefix(enum door door, const char *body, const char *want)
{
    fails_len(door, body, strlen(body), want, 1);
}

static char *repeat(const char *unit, size_t times)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_adds(&sb, "");
    for (size_t i = 0; i < times; i++)
        strbuf_adds(&sb, unit);
    return strbuf_detach(&sb, NULL);
}

/* An Alertmanager API body of one alert with n labels l0..l(n-1). */
static char *am_body_with_labels(size_t n)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_adds(&sb, "[{\"labels\":{");
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&sb, "%s\"l%zu\":\"v\"", i > 0 ? "," : "", i);
    strbuf_adds(&sb, "}}]");
    return strbuf_detach(&sb, NULL);
}

/* ---- time ---------------------------------------------------------------------- */

static int64_t time_ok(const char *text)
{
    int64_t ms = -12345;

    if (door_parse_time(text, &ms) != 0)
        fail_msg("'%s' refused", text);
    return ms;
}

static void test_time_parse(void **state)
{
    (void)state;
    assert_int_equal(time_ok("2026-11-24T19:00:00Z"), NOW);
    assert_int_equal(time_ok("2026-11-24t19:00:00z"), NOW);
    assert_int_equal(time_ok("2026-11-24T19:00:00.1Z"), NOW + 100);
    assert_int_equal(time_ok("2026-11-24T19:00:00.12Z"), NOW + 120);
    assert_int_equal(time_ok("2026-11-24T19:00:00.123Z"), NOW + 123);
    assert_int_equal(time_ok("2026-11-24T19:00:00.123999999999999999Z"), NOW + 123); /* cut */
    assert_int_equal(time_ok("2026-11-24T19:00:00.000Z"), NOW);
    assert_int_equal(time_ok("2026-11-24T21:00:00+02:00"), NOW);
    assert_int_equal(time_ok("2026-11-24T13:30:00-05:30"), NOW);
    assert_int_equal(time_ok("2026-11-24T19:00:00+00:00"), NOW);
    assert_int_equal(time_ok("2026-11-24T19:00:00-00:00"), NOW);
    assert_int_equal(time_ok("2026-11-25T18:59:00+23:59"), NOW);
    /* Alertmanager's webhook example, nanoseconds and an offset. */
    assert_int_equal(time_ok("2018-08-03T09:52:26.739266876+02:00"), INT64_C(1533282746739));
    assert_int_equal(time_ok("2000-01-01T00:00:00Z"), INT64_C(946684800000));
    assert_int_equal(time_ok("2024-02-29T00:00:00Z"), INT64_C(1709164800000));
    assert_int_equal(time_ok("2000-02-29T12:00:00Z"), INT64_C(951825600000));
    assert_int_equal(time_ok("1969-12-31T23:59:59.999Z"), -1);
    /* A leap second counts as the next second (as timegm has it). */
    assert_int_equal(time_ok("2016-12-31T23:59:60Z"), INT64_C(1483228800000));
    /* Go's zero time, however written, is "not set". */
    assert_int_equal(time_ok("0001-01-01T00:00:00Z"), 0);
    assert_int_equal(time_ok("0001-01-01T00:00:00.000Z"), 0);
    assert_int_equal(time_ok("0001-01-01T01:00:00+01:00"), 0);
    assert_int_equal(time_ok("0001-01-01T00:00:00.001Z"), INT64_C(-62135596799999));
}

static void test_time_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-11-24",
        "2026-11-24T19:00:00",       /* no offset */
        "2026-11-24 19:00:00Z",      /* space */
        "2026-11-24T19:00Z",         /* no seconds */
        "2026-11-24T19:00:00.Z",     /* empty fraction */
        "2026-11-24T19:00:00,5Z",    /* comma */
        "2026-11-24T19:00:00+0200",  /* ISO 8601 basic offset */
        "2026-11-24T19:00:00+02",    /* hours only */
        "2026-11-24T19:00:00+2:00",  /* one digit */
        "2026-11-24T19:00:00+24:00", /* offset hour */
        "2026-11-24T19:00:00+02:60", /* offset minute */
        "2026-11-24T19:00:00UTC",
        "2026-11-24T19:00:00Z ",
        " 2026-11-24T19:00:00Z",
        "2026-11-24T19:00:00ZZ",
        "2026-11-24T19:00:00+02:00x",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* nor was 1900 */
        "2026-11-24T24:00:00Z",
        "2026-11-24T19:60:00Z",
        "2026-11-24T19:00:61Z",
        "2026-1-24T19:00:00Z",
        "26-11-24T19:00:00Z",
        "+2026-11-24T19:00:00Z",
        "2026-11-24T19:00:00.123",
        "2026-11-24T1a:00:00Z",
        "2026\xef\xbc\x8d"
        "11-24T19:00:00Z", /* fullwidth hyphen */
        "1795546800000",
        "now",
        "2026-W48-2T19:00:00Z",
    };
    int64_t ms = 77;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (door_parse_time(bad[i], &ms) != OB_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(ms, 77);
    }
    assert_int_equal(door_parse_time(NULL, &ms), OB_EINVAL);
}

static void test_time_format(void **state)
{
    static const int64_t values[] = {NOW,
                                     NOW + 123,
                                     1,
                                     999,
                                     INT64_C(946684800000),
                                     INT64_C(1709164800001),
                                     INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */};
    char out[32];

    (void)state;
    door_format_time(NOW + 123, out, sizeof(out));
    assert_string_equal(out, "2026-11-24T19:00:00.123Z");
    door_format_time(0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    door_format_time(-1, out, sizeof(out));
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    door_format_time(INT64_C(-1001), out, sizeof(out));
    assert_string_equal(out, "1969-12-31T23:59:58.999Z");
    door_format_time(INT64_C(951825600007), out, sizeof(out));
    assert_string_equal(out, "2000-02-29T12:00:00.007Z");
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int64_t back = -1;
        door_format_time(values[i], out, sizeof(out));
        assert_int_equal(strlen(out), 24);
        assert_int_equal(door_parse_time(out, &back), 0);
        assert_int_equal(back, values[i]);
    }
    /* A short buffer is cut, never overrun. */
    memset(out, 'x', sizeof(out));
    door_format_time(NOW, out, 11);
    assert_string_equal(out, "2026-11-24");
    assert_int_equal(out[11], 'x');
}

/* ---- Alertmanager API v2 ---------------------------------------------------------- */

/* What Prometheus posts to /api/v2/alerts (postableAlerts), two alerts. */
static const char am_api_example[] =
    "[\n"
    "  {\n"
    "    \"labels\": {\"alertname\": \"InstanceDown\", \"severity\": \"page\", \"job\": \"node\",\n"
    "               \"instance\": \"db1:9100\"},\n"
    "    \"annotations\": {\"summary\": \"Instance db1:9100 down\",\n"
    "                    \"description\": \"db1:9100 of job node has been down for more than 5 "
    "minutes.\"},\n"
    "    \"startsAt\": \"2026-11-24T18:00:00.123Z\",\n"
    "    \"endsAt\": \"2026-11-24T19:04:00Z\",\n"
    "    \"generatorURL\": \"http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1\"\n"
    "  },\n"
    "  {\n"
    "    \"labels\": {\"alertname\": \"DiskFull\", \"severity\": \"warning\"},\n"
    "    \"annotations\": {},\n"
    "    \"startsAt\": \"2026-11-24T17:00:00+01:00\",\n"
    "    \"endsAt\": \"2026-11-24T18:59:59.999Z\",\n"
    "    \"generatorURL\": \"\",\n"
    "    \"status\": {\"state\": \"ignored\"}, \"receivers\": [\"unknown fields are ignored\"]\n"
    "  }\n"
    "]\n";

static void test_am_api_example(void **state)
{
    struct alert_batch b;
    const struct alert_event *ev;

    (void)state;
    b = parse_ok(AM_API, am_api_example);
    assert_int_equal(b.count, 2);

    ev = &b.events[0];
    assert_int_equal(ev->source, SOURCE_ALERTMANAGER_API);
    assert_int_equal(ev->action, ALERT_TRIGGER); /* endsAt after now: still firing */
    assert_null(ev->integration_key);
    assert_null(ev->service);
    assert_null(ev->dedup_key);
    assert_string_equal(ev->summary, "Instance db1:9100 down");
    assert_int_equal(ev->severity, SEVERITY_CRITICAL); /* "page" */
    assert_string_equal(ev->source_name, "alertmanager-api");
    assert_string_equal(ev->generator_url,
                        "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
    assert_int_equal(ev->label_count, 4);
    assert_label(&ev->labels[0], "alertname", "InstanceDown");
    assert_label(&ev->labels[1], "instance", "db1:9100");
    assert_label(&ev->labels[2], "job", "node");
    assert_label(&ev->labels[3], "severity", "page");
    assert_int_equal(ev->annotation_count, 2);
    assert_label(&ev->annotations[0], "description",
                 "db1:9100 of job node has been down for more than 5 minutes.");
    assert_label(&ev->annotations[1], "summary", "Instance db1:9100 down");
    assert_null(ev->details_json);
    assert_int_equal(ev->starts_at_ms, NOW - HOUR + 123);
    assert_int_equal(ev->ends_at_ms, NOW + 4 * 60000);
    assert_string_equal(ev->fingerprint, "7c6f788c00d1c7fa");

    ev = &b.events[1];
    assert_int_equal(ev->action, ALERT_RESOLVE);  /* endsAt before now */
    assert_string_equal(ev->summary, "DiskFull"); /* alertname */
    assert_int_equal(ev->severity, SEVERITY_WARNING);
    assert_null(ev->generator_url); /* empty = none */
    assert_int_equal(ev->annotation_count, 0);
    assert_null(ev->annotations);
    assert_int_equal(ev->starts_at_ms, NOW - 3 * HOUR);
    assert_int_equal(ev->ends_at_ms, NOW - 1);
    alert_batch_release(&b);
}

static void test_am_api_times(void **state)
{
    struct alert_batch b;

    (void)state;
    /* No times at all: starts "now" (0), open-ended, firing. */
    b = parse_ok(AM_API, "[{\"labels\":{\"a\":\"b\"}}]");
    assert_int_equal(b.events[0].starts_at_ms, 0);
    assert_int_equal(b.events[0].ends_at_ms, 0);
    assert_int_equal(b.events[0].action, ALERT_TRIGGER);
    alert_batch_release(&b);
    /* Zero times and nulls are "not set". */
    b = parse_ok(AM_API, "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"0001-01-01T00:00:00Z\","
                         "\"endsAt\":\"0001-01-01T00:00:00Z\"},"
                         "{\"labels\":{\"a\":\"b\"},\"startsAt\":null,\"endsAt\":null}]");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(b.events[i].starts_at_ms, 0);
        assert_int_equal(b.events[i].ends_at_ms, 0);
        assert_int_equal(b.events[i].action, ALERT_TRIGGER);
    }
    alert_batch_release(&b);
    /* endsAt exactly now resolves; one millisecond later does not. */
    b = parse_ok(AM_API, "[{\"labels\":{\"a\":\"b\"},\"endsAt\":\"2026-11-24T19:00:00Z\"},"
                         "{\"labels\":{\"a\":\"b\"},\"endsAt\":\"2026-11-24T19:00:00.001Z\"}]");
    assert_int_equal(b.events[0].action, ALERT_RESOLVE);
    assert_int_equal(b.events[0].ends_at_ms, NOW);
    assert_int_equal(b.events[1].action, ALERT_TRIGGER);
    assert_int_equal(b.events[1].ends_at_ms, NOW + 1);
    alert_batch_release(&b);
    /* The window edges: 24 h ahead and 2000-01-01 are fine. */
    b = parse_ok(AM_API, "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"2026-11-25T19:00:00Z\"},"
                         "{\"labels\":{\"a\":\"b\"},\"startsAt\":\"2000-01-01T00:00:00Z\"}]");
    assert_int_equal(b.events[0].starts_at_ms, NOW + 24 * HOUR);
    assert_int_equal(b.events[1].starts_at_ms, INT64_C(946684800000));
    alert_batch_release(&b);
}

static void test_am_api_severity_mapping(void **state)
{
    static const struct {
        const char *label;
        enum alert_severity want;
    } cases[] = {
        {"critical", SEVERITY_CRITICAL}, {"page", SEVERITY_CRITICAL},
        {"p1", SEVERITY_CRITICAL},       {"P1", SEVERITY_CRITICAL},
        {"CRITICAL", SEVERITY_CRITICAL}, {"error", SEVERITY_ERROR},
        {"high", SEVERITY_ERROR},        {"p2", SEVERITY_ERROR},
        {"warning", SEVERITY_WARNING},   {"warn", SEVERITY_WARNING},
        {"medium", SEVERITY_WARNING},    {"p3", SEVERITY_WARNING},
        {"info", SEVERITY_INFO},         {"low", SEVERITY_INFO},
        {"none", SEVERITY_INFO},         {"p4", SEVERITY_INFO},
        {"p5", SEVERITY_INFO},           {"Info", SEVERITY_INFO},
        {"disaster", SEVERITY_WARNING},  {"", SEVERITY_WARNING},
        {"p6", SEVERITY_WARNING},
    };
    struct alert_batch b;
    char body[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(body, sizeof(body), "[{\"labels\":{\"alertname\":\"A\",\"severity\":\"%s\"}}]",
                 cases[i].label);
        b = parse_ok(AM_API, body);
        if (b.events[0].severity != cases[i].want)
            fail_msg("severity '%s' gave %d, want %d", cases[i].label, b.events[0].severity,
                     cases[i].want);
        alert_batch_release(&b);
    }
    b = parse_ok(AM_API, "[{\"labels\":{\"alertname\":\"A\"}}]");
    assert_int_equal(b.events[0].severity, SEVERITY_WARNING);
    alert_batch_release(&b);
}

static void test_am_summary_fallbacks(void **state)
{
    struct alert_batch b;
    char want[32];

    (void)state;
    b = parse_ok(AM_API, "["
                         "{\"labels\":{\"alertname\":\"N\"},\"annotations\":{\"summary\":\"S\","
                         "\"description\":\"D\",\"message\":\"M\"}},"
                         "{\"labels\":{\"alertname\":\"N\"},\"annotations\":{\"summary\":\"\","
                         "\"description\":\"D\",\"message\":\"M\"}},"
                         "{\"labels\":{\"alertname\":\"N\"},\"annotations\":{\"message\":\"M\"}},"
                         "{\"labels\":{\"alertname\":\"N\"},\"annotations\":{\"runbook\":\"R\"}},"
                         "{\"labels\":{\"alertname\":\"\",\"job\":\"x\"}},"
                         "{\"labels\":{\"job\":\"x\"}}"
                         "]");
    assert_int_equal(b.count, 6);
    assert_string_equal(b.events[0].summary, "S");
    assert_string_equal(b.events[1].summary, "D"); /* an empty summary is skipped */
    assert_string_equal(b.events[2].summary, "M");
    assert_string_equal(b.events[3].summary, "N");
    snprintf(want, sizeof(want), "alert %s", b.events[4].fingerprint);
    assert_string_equal(b.events[4].summary, want);
    snprintf(want, sizeof(want), "alert %s", b.events[5].fingerprint);
    assert_string_equal(b.events[5].summary, want);
    alert_batch_release(&b);
}

static void test_summary_truncation(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    struct alert_batch b;
    char *a1023 = repeat("a", 1023);
    char *a1022 = repeat("a", 1022);
    char *a1021 = repeat("a", 1021);
    char *euro = repeat("\xe2\x82\xac", 400); /* 1200 bytes of 3-byte characters */
    char *long_ascii = repeat("x", 5000);

    (void)state;
    strbuf_addf(&sb,
                "["
                "{\"labels\":{\"a\":\"b\"},\"annotations\":{\"summary\":\"%s\xc3\xa9\"}},"
                "{\"labels\":{\"a\":\"b\"},\"annotations\":{\"summary\":\"%s\xc3\xa9\"}},"
                "{\"labels\":{\"a\":\"b\"},\"annotations\":{\"summary\":\"%s\xf0\x9f\x94\x94\"}},"
                "{\"labels\":{\"a\":\"b\"},\"annotations\":{\"summary\":\"%s\"}},"
                "{\"labels\":{\"a\":\"b\"},\"annotations\":{\"summary\":\"%s\"}}"
                "]",
                a1023, a1022, a1021, euro, long_ascii);
    b = parse_ok(AM_API, strbuf_str(&sb));
    /* 1023 + 2 bytes: the 2-byte character would cross 1024, so it goes. */
    assert_int_equal(strlen(b.events[0].summary), 1023);
    assert_string_equal(b.events[0].summary, a1023);
    /* 1022 + 2 = 1024: fits exactly. */
    assert_int_equal(strlen(b.events[1].summary), 1024);
    assert_memory_equal(b.events[1].summary + 1022, "\xc3\xa9", 2);
    /* 1021 + 4: the bell cannot be split. */
    assert_string_equal(b.events[2].summary, a1021);
    /* 341 whole euro signs = 1023 bytes. */
    assert_int_equal(strlen(b.events[3].summary), 1023);
    assert_memory_equal(b.events[3].summary, euro, 1023);
    assert_int_equal(strlen(b.events[4].summary), ALERT_SUMMARY_MAX);
    alert_batch_release(&b);
    strbuf_release(&sb);

    /* The generic door cuts too (it does not refuse). */
    strbuf_addf(&sb, "{\"summary\":\"%s\"}", euro);
    b = parse_ok(GENERIC, strbuf_str(&sb));
    assert_int_equal(strlen(b.events[0].summary), 1023);
    alert_batch_release(&b);
    strbuf_release(&sb);
    free(a1023);
    free(a1022);
    free(a1021);
    free(euro);
    free(long_ascii);
}

static void test_am_api_refusals(void **state)
{
    (void)state;
    fails(AM_API, "", "request body is empty; JSON is expected");
    fails_prefix(AM_API, "[{", "malformed JSON at line 1 column");
    fails_prefix(AM_API, "42", "malformed JSON at line 1 column");
    fails_prefix(AM_API, "[{\"labels\":{\"a\":\"b\"}}] x", "malformed JSON");
    fails_prefix(AM_API, "[{\"labels\":{\"a\":\"b\",\"a\":\"c\"}}]", "malformed JSON");
    fails_prefix(AM_API, "[{\"labels\":{\"a\":\"\xff\"}}]", "malformed JSON");
    fails_prefix(AM_API, "[{\"labels\":{\"a\":\"x\\u0000y\"}}]", "malformed JSON");
    fails_len(AM_API, am_api_example, sizeof(am_api_example) / 2, "malformed JSON", 1);
    fails(AM_API, "{\"labels\":{\"a\":\"b\"}}", "body must be a JSON array of alerts");
    fails(AM_API, "[1]", "alerts[0] must be an object");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"}}, null]", "alerts[1] must be an object");
    fails(AM_API, "[{}]", "alerts[0].labels is required");
    fails(AM_API, "[{\"labels\":null}]", "alerts[0].labels is required");
    fails(AM_API, "[{\"labels\":{}}]", "alerts[0].labels must have at least one label");
    fails(AM_API, "[{\"labels\":[\"a\"]}]", "alerts[0].labels must be an object of strings");
    fails(AM_API, "[{\"labels\":\"a=b\"}]", "alerts[0].labels must be an object of strings");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"}},{\"labels\":{\"a\":\"b\",\"severity\":2}}]",
          "alerts[1].labels.severity must be a string");
    fails(AM_API, "[{\"labels\":{\"a\":null}}]", "alerts[0].labels.a must be a string");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"annotations\":{\"summary\":{}}}]",
          "alerts[0].annotations.summary must be a string");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"annotations\":[]}]",
          "alerts[0].annotations must be an object of strings");
    fails(AM_API, "[{\"labels\":{\"foo-bar\":\"b\"}}]",
          "alerts[0].labels: invalid name 'foo-bar' (names must match [a-zA-Z_][a-zA-Z0-9_]*)");
    fails(AM_API, "[{\"labels\":{\"1abc\":\"b\"}}]",
          "alerts[0].labels: invalid name '1abc' (names must match [a-zA-Z_][a-zA-Z0-9_]*)");
    fails(AM_API, "[{\"labels\":{\"\":\"b\"}}]",
          "alerts[0].labels: invalid name '' (names must match [a-zA-Z_][a-zA-Z0-9_]*)");
    fails(AM_API, "[{\"labels\":{\"caf\xc3\xa9\":\"b\"}}]",
          "alerts[0].labels: invalid name 'caf\xc3\xa9' (names must match "
          "[a-zA-Z_][a-zA-Z0-9_]*)");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"annotations\":{\"run book\":\"x\"}}]",
          "alerts[0].annotations: invalid name 'run book' (names must match "
          "[a-zA-Z_][a-zA-Z0-9_]*)");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"startsAt\":1795546800}]",
          "alerts[0].startsAt must be a string");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"yesterday\"}]",
          "alerts[0].startsAt is not an RFC 3339 time: 'yesterday'");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"endsAt\":\"2026-11-24 19:00:00\"}]",
          "alerts[0].endsAt is not an RFC 3339 time: '2026-11-24 19:00:00'");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"2026-11-25T19:00:00.001Z\"}]",
          "alerts[0].startsAt is more than 24 hours in the future");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"9999-12-31T23:59:59Z\"}]",
          "alerts[0].startsAt is more than 24 hours in the future");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"1999-12-31T23:59:59.999Z\"}]",
          "alerts[0].startsAt is before 2000-01-01");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"1970-01-01T00:00:00.001Z\"}]",
          "alerts[0].startsAt is before 2000-01-01");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"endsAt\":\"1990-01-01T00:00:00Z\"}]",
          "alerts[0].endsAt is before 2000-01-01");
    fails(AM_API,
          "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"2026-11-24T18:00:00Z\","
          "\"endsAt\":\"2026-11-24T17:59:59Z\"}]",
          "alerts[0].endsAt is before its startsAt");
    fails(AM_API, "[{\"labels\":{\"a\":\"b\"},\"generatorURL\":7}]",
          "alerts[0].generatorURL must be a string");
}

static void test_am_api_caps(void **state)
{
    struct alert_batch b;
    struct strbuf sb = STRBUF_INIT;
    char *body;
    char *name128 = repeat("n", 128);
    char *name129 = repeat("n", 129);
    char *value4096 = repeat("v", 4096);
    char *value4097 = repeat("v", 4097);
    char *ann16384 = repeat("w", 16384);
    char *ann16385 = repeat("w", 16385);
    char *url_long = repeat("u", 16385);

    (void)state;
    body = am_body_with_labels(128);
    b = parse_ok(AM_API, body);
    assert_int_equal(b.events[0].label_count, 128);
    alert_batch_release(&b);
    free(body);
    body = am_body_with_labels(129);
    fails(AM_API, body, "alerts[0].labels has 129 labels; at most 128 are allowed");
    free(body);
    body = am_body_with_labels(100000);
    fails(AM_API, body, "alerts[0].labels has 100000 labels; at most 128 are allowed");
    free(body);

    strbuf_addf(&sb, "[{\"labels\":{\"%s\":\"%s\"}}]", name128, value4096);
    b = parse_ok(AM_API, strbuf_str(&sb));
    assert_int_equal(strlen(b.events[0].labels[0].value), 4096);
    alert_batch_release(&b);
    strbuf_reset(&sb);
    strbuf_addf(&sb, "[{\"labels\":{\"%s\":\"v\"}}]", name129);
    fails_prefix(AM_API, strbuf_str(&sb), "alerts[0].labels: name 'nnnn");
    strbuf_reset(&sb);
    strbuf_addf(&sb, "[{\"labels\":{\"a\":\"b\",\"big\":\"%s\"}}]", value4097);
    fails(AM_API, strbuf_str(&sb), "alerts[0].labels.big is longer than 4096 bytes");
    strbuf_reset(&sb);

    strbuf_addf(&sb, "[{\"labels\":{\"a\":\"b\"},\"annotations\":{\"d\":\"%s\"}}]", ann16384);
    b = parse_ok(AM_API, strbuf_str(&sb));
    assert_int_equal(strlen(b.events[0].annotations[0].value), 16384);
    alert_batch_release(&b);
    strbuf_reset(&sb);
    strbuf_addf(&sb, "[{\"labels\":{\"a\":\"b\"},\"annotations\":{\"d\":\"%s\"}}]", ann16385);
    fails(AM_API, strbuf_str(&sb), "alerts[0].annotations.d is longer than 16384 bytes");
    strbuf_reset(&sb);
    strbuf_adds(&sb, "[{\"labels\":{\"a\":\"b\"},\"annotations\":{");
    for (int i = 0; i < 129; i++)
        strbuf_addf(&sb, "%s\"a%d\":\"\"", i > 0 ? "," : "", i);
    strbuf_adds(&sb, "}}]");
    fails(AM_API, strbuf_str(&sb),
          "alerts[0].annotations has 129 annotations; at most 128 are allowed");
    strbuf_reset(&sb);
    strbuf_addf(&sb, "[{\"labels\":{\"a\":\"b\"},\"generatorURL\":\"%s\"}]", url_long);
    fails(AM_API, strbuf_str(&sb), "alerts[0].generatorURL is longer than 16384 bytes");
    strbuf_reset(&sb);

    /* Nesting deeper than 32, even in a member that is otherwise ignored. */
    strbuf_adds(&sb, "[{\"labels\":{\"a\":\"b\"},\"x\":");
    for (int i = 0; i < 40; i++)
        strbuf_addch(&sb, '[');
    for (int i = 0; i < 40; i++)
        strbuf_addch(&sb, ']');
    strbuf_adds(&sb, "}]");
    fails(AM_API, strbuf_str(&sb), "JSON nested deeper than 32 levels");
    strbuf_release(&sb);

    free(name128);
    free(name129);
    free(value4096);
    free(value4097);
    free(ann16384);
    free(ann16385);
    free(url_long);
}

static void test_am_api_batch_cap(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    struct alert_batch b;

    (void)state;
    b = parse_ok(AM_API, "[]");
    assert_int_equal(b.count, 0);
    assert_null(b.events);
    alert_batch_release(&b);

    strbuf_addch(&sb, '[');
    for (int i = 0; i < ALERT_BATCH_MAX; i++)
        strbuf_addf(&sb, "%s{\"labels\":{\"n\":\"%d\"}}", i > 0 ? "," : "", i);
    strbuf_addch(&sb, ']');
    b = parse_ok(AM_API, strbuf_str(&sb));
    assert_int_equal(b.count, ALERT_BATCH_MAX);
    assert_string_equal(b.events[9999].labels[0].value, "9999");
    alert_batch_release(&b);
    sb.len--; /* drop ']' */
    strbuf_adds(&sb, ",{\"labels\":{\"n\":\"x\"}}]");
    fails(AM_API, strbuf_str(&sb), "10001 alerts in one request; at most 10000 are allowed");
    strbuf_release(&sb);
}

/* ---- Alertmanager webhook ------------------------------------------------------------ */

/* Alertmanager's webhook_config payload, version 4 (a real one, as published
 * with its fingerprint), plus a resolved alert. */
static const char webhook_example[] =
    "{\n"
    "  \"receiver\": \"sms\",\n"
    "  \"status\": \"firing\",\n"
    "  \"alerts\": [\n"
    "    {\n"
    "      \"status\": \"firing\",\n"
    "      \"labels\": {\"alertname\": \"ProbeFailure\", \"instance\": "
    "\"https://server.example.org\",\n"
    "                 \"job\": \"http_checks\", \"monitor\": \"master\", \"severity\": "
    "\"critical\"},\n"
    "      \"annotations\": {\n"
    "        \"description\": \"Instance https://server.example.org has been down for over 5m. "
    "Job: http_checks\",\n"
    "        \"summary\": \"BlackBox Probe Failure: https://server.example.org\"\n"
    "      },\n"
    "      \"startsAt\": \"2023-02-06T13:08:45.828Z\",\n"
    "      \"endsAt\": \"0001-01-01T00:00:00Z\",\n"
    "      \"generatorURL\": "
    "\"http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0\\u0026g0.tab=1\",\n"
    "      \"fingerprint\": \"1a30ba71cca2921f\"\n"
    "    },\n"
    "    {\n"
    "      \"status\": \"resolved\",\n"
    "      \"labels\": {\"alertname\": \"Test\", \"dc\": \"eu-west-1\", \"instance\": "
    "\"localhost:9090\", \"job\": \"prometheus24\"},\n"
    "      \"annotations\": {\"description\": \"some description\"},\n"
    "      \"startsAt\": \"2026-11-24T09:52:26.739266876+02:00\",\n"
    "      \"endsAt\": \"2026-11-24T18:30:00Z\",\n"
    "      \"generatorURL\": "
    "\"http://example.com:9090/graph?g0.expr=go_memstats_alloc_bytes+%3E+0\"\n"
    "    }\n"
    "  ],\n"
    "  \"groupLabels\": {\"alertname\": \"ProbeFailure\"},\n"
    "  \"commonLabels\": {\"alertname\": \"ProbeFailure\", \"severity\": \"critical\"},\n"
    "  \"commonAnnotations\": {},\n"
    "  \"externalURL\": \"http://prometheus.example.org:9093\",\n"
    "  \"version\": \"4\",\n"
    "  \"groupKey\": \"{}/{severity=\\\"critical\\\"}:{alertname=\\\"ProbeFailure\\\"}\",\n"
    "  \"truncatedAlerts\": 0\n"
    "}\n";

static void test_webhook_example(void **state)
{
    struct alert_batch b;
    const struct alert_event *ev;

    (void)state;
    b = parse_ok(AM_WEBHOOK, webhook_example);
    assert_int_equal(b.count, 2);
    ev = &b.events[0];
    assert_int_equal(ev->source, SOURCE_ALERTMANAGER_WEBHOOK);
    assert_int_equal(ev->action, ALERT_TRIGGER);
    assert_string_equal(ev->integration_key, "hook-key");
    assert_null(ev->service);
    assert_null(ev->dedup_key);
    assert_string_equal(ev->summary, "BlackBox Probe Failure: https://server.example.org");
    assert_int_equal(ev->severity, SEVERITY_CRITICAL);
    assert_string_equal(ev->source_name, "alertmanager");
    assert_string_equal(ev->generator_url, "http://prometheus.example.org:9090/"
                                           "graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1");
    assert_int_equal(ev->label_count, 5);
    assert_label(&ev->labels[0], "alertname", "ProbeFailure");
    assert_label(&ev->labels[1], "instance", "https://server.example.org");
    assert_label(&ev->labels[2], "job", "http_checks");
    assert_label(&ev->labels[3], "monitor", "master");
    assert_label(&ev->labels[4], "severity", "critical");
    assert_int_equal(ev->annotation_count, 2);
    assert_label(&ev->annotations[0], "description",
                 "Instance https://server.example.org has been down for over 5m. Job: "
                 "http_checks");
    assert_null(ev->details_json);
    assert_int_equal(ev->starts_at_ms, INT64_C(1675688925828));
    assert_int_equal(ev->ends_at_ms, 0);
    /* Ours, not the sender's "1a30ba71cca2921f" (ignored). */
    assert_string_equal(ev->fingerprint, "fe986f5dcb3e6510");

    ev = &b.events[1];
    assert_int_equal(ev->action, ALERT_RESOLVE);
    assert_string_equal(ev->summary, "some description");
    assert_int_equal(ev->severity, SEVERITY_WARNING);
    assert_int_equal(ev->label_count, 4);
    assert_label(&ev->labels[1], "dc", "eu-west-1");
    assert_int_equal(ev->starts_at_ms, INT64_C(1795506746739)); /* 07:52:26.739Z */
    assert_int_equal(ev->ends_at_ms, NOW - HOUR / 2);
    alert_batch_release(&b);
}

static void test_webhook_status_and_key(void **state)
{
    struct ob_error err = {0};
    struct alert_batch b;
    const char *body = "{\"version\":\"4\",\"alerts\":["
                       "{\"status\":\"firing\",\"labels\":{\"a\":\"1\"},"
                       "\"endsAt\":\"2026-11-24T18:00:00Z\",\"silenceURL\":\"x\",\"values\":{}},"
                       "{\"status\":\"resolved\",\"labels\":{\"a\":\"2\"}}]}";

    (void)state;
    /* The status decides, not endsAt. */
    b = parse_ok(AM_WEBHOOK, body);
    assert_int_equal(b.events[0].action, ALERT_TRIGGER);
    assert_int_equal(b.events[0].ends_at_ms, NOW - HOUR);
    assert_int_equal(b.events[1].action, ALERT_RESOLVE);
    assert_int_equal(b.events[1].ends_at_ms, 0);
    alert_batch_release(&b);
    /* No key: no integration_key. */
    assert_int_equal(door_parse_alertmanager_webhook(body, strlen(body), NULL, NOW, &b, &err), 0);
    assert_null(b.events[0].integration_key);
    alert_batch_release(&b);
    /* An empty alerts array is an empty batch. */
    b = parse_ok(AM_WEBHOOK, "{\"version\":\"4\",\"alerts\":[]}");
    assert_int_equal(b.count, 0);
    alert_batch_release(&b);
}

static void test_webhook_refusals(void **state)
{
    (void)state;
    fails(AM_WEBHOOK, "[]", "body must be a JSON object (Alertmanager webhook payload)");
    fails_prefix(AM_WEBHOOK, "{\"version\":\"4\"", "malformed JSON at line 1");
    fails_len(AM_WEBHOOK, webhook_example, 300, "malformed JSON", 1);
    fails(AM_WEBHOOK, "{\"alerts\":[]}",
          "version is required (Alertmanager webhook payload \"4\")");
    fails(AM_WEBHOOK, "{\"version\":\"3\",\"alerts\":[]}",
          "unsupported Alertmanager webhook payload version '3'; only \"4\" is supported");
    fails(AM_WEBHOOK, "{\"version\":\"5\",\"alerts\":[]}",
          "unsupported Alertmanager webhook payload version '5'; only \"4\" is supported");
    fails(AM_WEBHOOK, "{\"version\":4,\"alerts\":[]}", "version must be the string \"4\"");
    fails(AM_WEBHOOK, "{\"version\":\"4\"}", "alerts is required");
    fails(AM_WEBHOOK, "{\"version\":\"4\",\"alerts\":{}}", "alerts must be an array");
    fails(AM_WEBHOOK, "{\"version\":\"4\",\"alerts\":[\"x\"]}", "alerts[0] must be an object");
    fails(AM_WEBHOOK, "{\"version\":\"4\",\"alerts\":[{\"labels\":{\"a\":\"b\"}}]}",
          "alerts[0].status is required (\"firing\" or \"resolved\")");
    fails(AM_WEBHOOK,
          "{\"version\":\"4\",\"alerts\":[{\"status\":\"pending\",\"labels\":{\"a\":\"b\"}}]}",
          "alerts[0].status must be \"firing\" or \"resolved\", not 'pending'");
    fails(AM_WEBHOOK, "{\"version\":\"4\",\"alerts\":[{\"status\":1,\"labels\":{\"a\":\"b\"}}]}",
          "alerts[0].status must be \"firing\" or \"resolved\"");
    fails(AM_WEBHOOK, "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\"}]}",
          "alerts[0].labels is required");
    fails(AM_WEBHOOK,
          "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"b\"}},"
          "{\"status\":\"firing\",\"labels\":{\"a\":\"b\",\"severity\":[]}}]}",
          "alerts[1].labels.severity must be a string");
    fails(AM_WEBHOOK,
          "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"b\"},"
          "\"startsAt\":\"2030-01-01T00:00:00Z\"}]}",
          "alerts[0].startsAt is more than 24 hours in the future");
}

/* ---- PagerDuty ------------------------------------------------------------------------- */

/* PagerDuty's documented trigger example, with a routing key of the right length. */
static const char pd_trigger_example[] =
    "{\n"
    "  \"payload\": {\n"
    "    \"summary\": \"Example alert on host1.example.com\",\n"
    "    \"timestamp\": \"2015-07-17T08:42:58.315+0000\",\n"
    "    \"source\": "
    "\"monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003\",\n"
    "    \"severity\": \"info\",\n"
    "    \"component\": \"postgres\",\n"
    "    \"group\": \"prod-datapipe\",\n"
    "    \"class\": \"deploy\",\n"
    "    \"custom_details\": {\n"
    "      \"ping time\": \"1500ms\",\n"
    "      \"load avg\": 0.75\n"
    "    }\n"
    "  },\n"
    "  \"routing_key\": \"" PD_KEY "\",\n"
    "  \"dedup_key\": \"samplekeyhere\",\n"
    "  \"images\": [\n"
    "    {\n"
    "      \"src\": \"https://www.pagerduty.com/wp-content/uploads/2016/05/"
    "pagerduty-logo-green.png\",\n"
    "      \"href\": \"https://example.com/\",\n"
    "      \"alt\": \"Example text\"\n"
    "    }\n"
    "  ],\n"
    "  \"links\": [\n"
    "    {\n"
    "      \"href\": \"https://example.com/\",\n"
    "      \"text\": \"Link text\"\n"
    "    }\n"
    "  ],\n"
    "  \"event_action\": \"trigger\",\n"
    "  \"client\": \"Sample Monitoring Service\",\n"
    "  \"client_url\": \"https://monitoring.example.com\"\n"
    "}\n";

/* Parse with the errors list; expect failure with exactly the n messages. */
static void pd_fails(const char *body, size_t n, ...)
{
    struct ob_error err = {0};
    struct alert_batch b = {(struct alert_event *)1, 77};
    json_t *errors = (json_t *)1;
    va_list ap;
    int rc = door_parse_pagerduty(body, strlen(body), NOW, &b, &errors, &err);

    if (rc == 0) {
        alert_batch_release(&b);
        fail_msg("unexpected success for %.300s", body);
    }
    assert_int_equal(rc, OB_EINVAL);
    assert_null(b.events);
    assert_int_equal(b.count, 0);
    assert_non_null(errors);
    assert_true(json_is_array(errors));
    if (json_array_size(errors) != n) {
        char *dump = json_dumps(errors, 0);
        fail_msg("%zu errors, want %zu: %s", json_array_size(errors), n, dump);
    }
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        json_t *item = json_array_get(errors, i);
        assert_true(json_is_string(item));
        assert_string_equal(json_string_value(item), want);
        if (i == 0)
            assert_string_equal(err.msg, want); /* err gets the first */
    }
    va_end(ap);
    json_decref(errors);
}

static void test_pd_trigger_example(void **state)
{
    struct ob_error err = {0};
    struct alert_batch b;
    json_t *errors = (json_t *)1;
    const struct alert_event *ev;

    (void)state;
    assert_int_equal(door_parse_pagerduty(pd_trigger_example, strlen(pd_trigger_example), NOW, &b,
                                          &errors, &err),
                     0);
    assert_null(errors);
    check_batch(&b);
    assert_int_equal(b.count, 1);
    ev = &b.events[0];
    assert_int_equal(ev->source, SOURCE_PAGERDUTY);
    assert_int_equal(ev->action, ALERT_TRIGGER);
    assert_string_equal(ev->integration_key, PD_KEY);
    assert_null(ev->service);
    assert_string_equal(ev->dedup_key, "samplekeyhere");
    assert_string_equal(ev->summary, "Example alert on host1.example.com");
    assert_int_equal(ev->severity, SEVERITY_INFO);
    assert_string_equal(ev->source_name, "monitoringtool:cloudvendor:central-region-dc-01:"
                                         "852559987:cluster/api-stats-prod-003");
    assert_null(ev->generator_url);
    assert_int_equal(ev->label_count, 3);
    assert_label(&ev->labels[0], "class", "deploy");
    assert_label(&ev->labels[1], "component", "postgres");
    assert_label(&ev->labels[2], "group", "prod-datapipe");
    assert_int_equal(ev->annotation_count, 0);
    assert_string_equal(
        ev->details_json,
        "{\"component\":\"postgres\",\"group\":\"prod-datapipe\",\"class\":\"deploy\","
        "\"custom_details\":{\"ping time\":\"1500ms\",\"load avg\":0.75},"
        "\"client\":\"Sample Monitoring "
        "Service\",\"client_url\":\"https://monitoring.example.com\","
        "\"links\":[{\"href\":\"https://example.com/\",\"text\":\"Link text\"}],"
        "\"images\":[{\"src\":\"https://www.pagerduty.com/wp-content/uploads/2016/05/"
        "pagerduty-logo-green.png\",\"href\":\"https://example.com/\",\"alt\":\"Example text\"}]}");
    assert_int_equal(ev->starts_at_ms, INT64_C(1437122578315));
    assert_int_equal(ev->ends_at_ms, 0);
    assert_string_equal(ev->fingerprint, "77d4ab14ffb18291");
    alert_batch_release(&b);
}

static void test_pd_ack_resolve_examples(void **state)
{
    static const char *const bodies[] = {
        "{\"routing_key\":\"" PD_KEY "\",\"dedup_key\":\"dedupkeyhere\","
        "\"event_action\":\"acknowledge\"}",
        "{\"routing_key\":\"" PD_KEY "\",\"dedup_key\":\"dedupkeyhere\","
        "\"event_action\":\"resolve\"}",
    };
    static const enum alert_action actions[] = {ALERT_ACKNOWLEDGE, ALERT_RESOLVE};
    struct alert_batch b;

    (void)state;
    for (int i = 0; i < 2; i++) {
        const struct alert_event *ev;
        b = parse_ok(PAGERDUTY, bodies[i]);
        ev = &b.events[0];
        assert_int_equal(b.count, 1);
        assert_int_equal(ev->action, actions[i]);
        assert_string_equal(ev->integration_key, PD_KEY);
        assert_string_equal(ev->dedup_key, "dedupkeyhere");
        assert_string_equal(ev->summary, "");
        assert_int_equal(ev->severity, SEVERITY_ERROR);
        assert_string_equal(ev->source_name, "pagerduty");
        assert_int_equal(ev->label_count, 0);
        assert_null(ev->labels);
        assert_null(ev->details_json);
        assert_int_equal(ev->starts_at_ms, 0);
        assert_string_equal(ev->fingerprint, "cbf29ce484222325");
        alert_batch_release(&b);
    }
    /* A minimal trigger: no dedup key (the pipeline derives one), no details. */
    b = parse_ok(PAGERDUTY, "{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\","
                            "\"dedup_key\":\"\",\"payload\":{\"summary\":\"s\",\"source\":\"h\","
                            "\"severity\":\"CRITICAL\",\"component\":\"\"}}");
    assert_null(b.events[0].dedup_key);
    assert_int_equal(b.events[0].severity, SEVERITY_CRITICAL);
    assert_null(b.events[0].labels); /* an empty component is no label */
    assert_string_equal(b.events[0].details_json, "{\"component\":\"\"}");
    alert_batch_release(&b);
}

static void test_pd_refusals(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    char *s1024 = repeat("\xc3\xa9", 1024); /* 1024 characters, 2048 bytes */
    char *s1025 = repeat("s", 1025);
    char *k255 = repeat("k", 255);
    char *k256 = repeat("k", 256);
    char *big = repeat("d", ALERT_DETAILS_MAX);
    char *comp4097 = repeat("c", 4097);
    struct alert_batch b;

    (void)state;
    /* The documented example as published: PagerDuty's own reply. */
    {
        const char *at = strstr(pd_trigger_example, PD_KEY);
        strbuf_add(&sb, pd_trigger_example, (size_t)(at - pd_trigger_example));
        strbuf_adds(&sb, "samplekeyhere");
        strbuf_adds(&sb, at + strlen(PD_KEY));
    }
    pd_fails(strbuf_str(&sb), 1, "Length of 'routing_key' is incorrect (should be 32 characters)");
    strbuf_reset(&sb);

    pd_fails("{}", 2, "'routing_key' is missing", "'event_action' is missing");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\"}", 1,
             "'payload' is missing");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{}}", 3,
             "'payload.summary' is missing or blank", "'payload.source' is missing or blank",
             "'payload.severity' is missing");
    pd_fails("{\"routing_key\":\"short\",\"event_action\":\"trigger\",\"payload\":{"
             "\"summary\":\"\",\"source\":\"h\",\"severity\":\"fatal\"}}",
             3, "Length of 'routing_key' is incorrect (should be 32 characters)",
             "'payload.summary' is missing or blank",
             "'payload.severity' must be one of critical, error, warning or info, not 'fatal'");
    pd_fails("{\"routing_key\":5,\"event_action\":[],\"dedup_key\":{},\"payload\":\"x\","
             "\"links\":{},\"images\":\"i\",\"client\":1,\"client_url\":true}",
             8, "'routing_key' must be a string", "'event_action' must be a string",
             "'dedup_key' must be a string", "'links' must be an array",
             "'images' must be an array", "'client' must be a string",
             "'client_url' must be a string", "'payload' must be an object");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"snooze\"}", 1,
             "'event_action' must be one of trigger, acknowledge or resolve, not 'snooze'");
    /* Quoted input stays on one line in the errors list too. */
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trig\\r\\ngg\"}", 1,
             "'event_action' must be one of trigger, acknowledge or resolve, not 'trig  gg'");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"resolve\"}", 1,
             "'dedup_key' is required for resolve events");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"acknowledge\",\"dedup_key\":\"\"}",
             1, "'dedup_key' is required for acknowledge events");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{"
             "\"summary\":3,\"source\":[],\"severity\":null,\"timestamp\":5,\"component\":{},"
             "\"group\":1,\"class\":false}}",
             7, "'payload.summary' must be a string", "'payload.source' must be a string",
             "'payload.severity' is missing", "'payload.timestamp' must be a string",
             "'payload.component' must be a string", "'payload.group' must be a string",
             "'payload.class' must be a string");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{"
             "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"timestamp\":\"soon\"}}",
             1, "'payload.timestamp' is not a valid timestamp: 'soon'");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{"
             "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\","
             "\"timestamp\":\"2026-11-26T00:00:00Z\"}}",
             1, "'payload.timestamp' is more than 24 hours in the future");
    pd_fails("{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{"
             "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\","
             "\"timestamp\":\"2000-01-01T01:00:00+02:00\"}}",
             1, "'payload.timestamp' is before 2000-01-01");
    pd_fails("[]", 1, "Event must be a JSON object");
    pd_fails("{\"routing_key\":", 1,
             "malformed JSON at line 1 column 15: unexpected token near end of file");

    /* Summary: 1024 characters are fine (cut to 1024 bytes), 1025 are not. */
    strbuf_addf(&sb,
                "{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{"
                "\"summary\":\"%s\",\"source\":\"h\",\"severity\":\"info\"}}",
                s1024);
    b = parse_ok(PAGERDUTY, strbuf_str(&sb));
    assert_int_equal(strlen(b.events[0].summary), 1024);
    assert_memory_equal(b.events[0].summary, s1024, 1024);
    alert_batch_release(&b);
    strbuf_reset(&sb);
    strbuf_addf(&sb,
                "{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{"
                "\"summary\":\"%s\",\"source\":\"h\",\"severity\":\"info\"}}",
                s1025);
    pd_fails(strbuf_str(&sb), 1, "'payload.summary' is too long (maximum is 1024 characters)");
    strbuf_reset(&sb);

    /* dedup_key: 255 characters are fine, 256 are not. */
    strbuf_addf(
        &sb, "{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"resolve\",\"dedup_key\":\"%s\"}",
        k255);
    b = parse_ok(PAGERDUTY, strbuf_str(&sb));
    assert_string_equal(b.events[0].dedup_key, k255);
    alert_batch_release(&b);
    strbuf_reset(&sb);
    strbuf_addf(
        &sb, "{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"resolve\",\"dedup_key\":\"%s\"}",
        k256);
    pd_fails(strbuf_str(&sb), 1, "'dedup_key' is too long (maximum is 255 characters)");
    strbuf_reset(&sb);

    /* A component is a label: same cap. */
    strbuf_addf(&sb,
                "{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{"
                "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"component\":\"%s\"}}",
                comp4097);
    pd_fails(strbuf_str(&sb), 1, "'payload.component' is too long (maximum is 4096 bytes)");
    strbuf_reset(&sb);

    /* Details over 64 KiB once serialized. */
    strbuf_addf(&sb,
                "{\"routing_key\":\"" PD_KEY "\",\"event_action\":\"trigger\",\"payload\":{"
                "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\","
                "\"custom_details\":{\"log\":\"%s\"}}}",
                big);
    pd_fails(strbuf_str(&sb), 1,
             "event details (custom_details, links, images, ...) is larger than 65536 bytes as "
             "compact JSON");
    strbuf_release(&sb);

    /* errors may be NULL. */
    {
        struct ob_error err = {0};
        assert_int_equal(door_parse_pagerduty("{}", 2, NOW, &b, NULL, &err), OB_EINVAL);
        assert_string_equal(err.msg, "'routing_key' is missing");
        assert_null(b.events);
    }
    free(s1024);
    free(s1025);
    free(k255);
    free(k256);
    free(big);
    free(comp4097);
}

/* ---- generic ------------------------------------------------------------------------------ */

static void test_generic_full(void **state)
{
    struct alert_batch b;
    const struct alert_event *ev;

    (void)state;
    b = parse_ok(GENERIC, "{\"service\":\"payments-api\",\"integration_key\":\"ik-1\","
                          "\"summary\":\"Checkout error rate above 5%\",\"severity\":\"critical\","
                          "\"action\":\"trigger\",\"dedup_key\":\"checkout-errors\","
                          "\"labels\":{\"team\":\"payments\",\"service\":\"api\"},"
                          "\"annotations\":{\"runbook_url\":\"https://runbooks/checkout\"},"
                          "\"details\":{\"rate\":0.07, \"hosts\":[\"a\",\"b\"]},"
                          "\"source\":\"grafana\"}");
    assert_int_equal(b.count, 1);
    ev = &b.events[0];
    assert_int_equal(ev->source, SOURCE_GENERIC);
    assert_int_equal(ev->action, ALERT_TRIGGER);
    assert_string_equal(ev->integration_key, "ik-1");
    assert_string_equal(ev->service, "payments-api");
    assert_string_equal(ev->dedup_key, "checkout-errors");
    assert_string_equal(ev->summary, "Checkout error rate above 5%");
    assert_int_equal(ev->severity, SEVERITY_CRITICAL);
    assert_string_equal(ev->source_name, "grafana");
    assert_null(ev->generator_url);
    assert_int_equal(ev->label_count, 2);
    assert_label(&ev->labels[0], "service", "api");
    assert_label(&ev->labels[1], "team", "payments");
    assert_int_equal(ev->annotation_count, 1);
    assert_label(&ev->annotations[0], "runbook_url", "https://runbooks/checkout");
    assert_string_equal(ev->details_json, "{\"rate\":0.07,\"hosts\":[\"a\",\"b\"]}");
    assert_int_equal(ev->starts_at_ms, 0);
    assert_int_equal(ev->ends_at_ms, 0);
    assert_string_equal(ev->fingerprint, "61c1696fcef2a78e");
    alert_batch_release(&b);
}

static void test_generic_defaults_and_arrays(void **state)
{
    struct alert_batch b;

    (void)state;
    b = parse_ok(GENERIC, "{\"summary\":\"disk full\"}");
    assert_int_equal(b.events[0].action, ALERT_TRIGGER);
    assert_int_equal(b.events[0].severity, SEVERITY_ERROR);
    assert_string_equal(b.events[0].source_name, "generic");
    assert_null(b.events[0].service);
    assert_null(b.events[0].integration_key);
    assert_null(b.events[0].dedup_key);
    assert_null(b.events[0].details_json);
    assert_string_equal(b.events[0].fingerprint, "cbf29ce484222325");
    alert_batch_release(&b);

    b = parse_ok(GENERIC,
                 "[{\"summary\":\"one\",\"severity\":\"Warning\"},"
                 "{\"action\":\"resolve\",\"dedup_key\":\"k\"},"
                 "{\"action\":\"acknowledge\",\"labels\":{\"a\":\"b\"},\"summary\":null}]");
    assert_int_equal(b.count, 3);
    assert_string_equal(b.events[0].summary, "one");
    assert_int_equal(b.events[0].severity, SEVERITY_WARNING);
    assert_int_equal(b.events[1].action, ALERT_RESOLVE);
    assert_string_equal(b.events[1].summary, "");
    assert_string_equal(b.events[1].dedup_key, "k");
    assert_int_equal(b.events[2].action, ALERT_ACKNOWLEDGE);
    assert_string_equal(b.events[2].summary, "");
    alert_batch_release(&b);
}

static void test_generic_refusals(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    char *k256 = repeat("k", 256);
    char *big = repeat("d", ALERT_DETAILS_MAX);

    (void)state;
    fails(GENERIC, "{\"summary\":\"x\",\"foo\":1}", "unknown field 'foo'");
    fails(GENERIC, "[{\"summary\":\"x\"},{\"summary\":\"x\",\"labelz\":{}}]",
          "alerts[1]: unknown field 'labelz'");
    fails(GENERIC, "{}", "summary is required for a trigger");
    fails(GENERIC, "{\"summary\":\"\"}", "summary is required for a trigger");
    fails(GENERIC, "[{\"summary\":\"x\"},{\"action\":\"trigger\"}]",
          "alerts[1].summary is required for a trigger");
    fails(GENERIC, "{\"summary\":5}", "summary must be a string");
    fails(GENERIC, "{\"action\":\"resolve\"}",
          "a resolve needs dedup_key or labels to find its alert");
    fails(GENERIC, "[{\"action\":\"acknowledge\",\"labels\":{}}]",
          "alerts[0]: an acknowledge needs dedup_key or labels to find its alert");
    fails(GENERIC, "{\"summary\":\"x\",\"severity\":\"fatal\"}",
          "severity must be critical, error, warning or info, not 'fatal'");
    fails(GENERIC, "{\"summary\":\"x\",\"severity\":1}",
          "severity must be critical, error, warning or info");
    fails(GENERIC, "{\"summary\":\"x\",\"action\":\"snooze\"}",
          "action must be trigger, resolve or acknowledge, not 'snooze'");
    fails(GENERIC, "{\"summary\":\"x\",\"labels\":{\"team\":1}}", "labels.team must be a string");
    fails(GENERIC, "[{\"summary\":\"x\",\"labels\":{\"team\":1}}]",
          "alerts[0].labels.team must be a string");
    fails(GENERIC, "{\"summary\":\"x\",\"labels\":{\"bad name\":\"v\"}}",
          "labels: invalid name 'bad name' (names must match [a-zA-Z_][a-zA-Z0-9_]*)");
    fails(GENERIC, "{\"summary\":\"x\",\"annotations\":{\"a\":[]}}",
          "annotations.a must be a string");
    fails(GENERIC, "{\"summary\":\"x\",\"details\":[1]}", "details must be an object");
    fails(GENERIC, "{\"summary\":\"x\",\"service\":{}}", "service must be a string");
    fails(GENERIC, "{\"summary\":\"x\",\"source\":1}", "source must be a string");
    fails(GENERIC, "[]", "body is an empty array; at least one alert is expected");
    fails(GENERIC, "[\"x\"]", "alerts[0] must be an object");
    fails_prefix(GENERIC, "\"x\"", "malformed JSON at line 1");
    fails_prefix(GENERIC, "{\"summary\":\"x\"", "malformed JSON at line 1");
    fails_prefix(GENERIC, "{\"summary\":\"x\",\"summary\":\"y\"}", "malformed JSON");

    strbuf_addf(&sb, "{\"action\":\"resolve\",\"dedup_key\":\"%s\"}", k256);
    fails(GENERIC, strbuf_str(&sb), "dedup_key is longer than 255 characters");
    strbuf_reset(&sb);
    strbuf_addf(&sb, "{\"summary\":\"x\",\"details\":{\"log\":\"%s\"}}", big);
    fails(GENERIC, strbuf_str(&sb), "details is larger than 65536 bytes as compact JSON");
    strbuf_reset(&sb);
    strbuf_adds(&sb, "{\"summary\":\"x\",\"labels\":{");
    for (int i = 0; i < 129; i++)
        strbuf_addf(&sb, "%s\"l%d\":\"v\"", i > 0 ? "," : "", i);
    strbuf_adds(&sb, "}}");
    fails(GENERIC, strbuf_str(&sb), "labels has 129 labels; at most 128 are allowed");
    strbuf_reset(&sb);
    strbuf_addch(&sb, '[');
    for (int i = 0; i <= ALERT_BATCH_MAX; i++)
        strbuf_addf(&sb, "%s{\"summary\":\"%d\"}", i > 0 ? "," : "", i);
    strbuf_addch(&sb, ']');
    fails(GENERIC, strbuf_str(&sb), "10001 alerts in one request; at most 10000 are allowed");
    strbuf_release(&sb);
    free(k256);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_parse_invalid),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_am_api_example),
        cmocka_unit_test(test_am_api_times),
        cmocka_unit_test(test_am_api_severity_mapping),
        cmocka_unit_test(test_am_summary_fallbacks),
        cmocka_unit_test(test_summary_truncation),
        cmocka_unit_test(test_am_api_refusals),
        cmocka_unit_test(test_am_api_caps),
        cmocka_unit_test(test_am_api_batch_cap),
        cmocka_unit_test(test_webhook_example),
        cmocka_unit_test(test_webhook_status_and_key),
        cmocka_unit_test(test_webhook_refusals),
        cmocka_unit_test(test_pd_trigger_example),
        cmocka_unit_test(test_pd_ack_resolve_examples),
        cmocka_unit_test(test_pd_refusals),
        cmocka_unit_test(test_generic_full),
        cmocka_unit_test(test_generic_defaults_and_arrays),
        cmocka_unit_test(test_generic_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
