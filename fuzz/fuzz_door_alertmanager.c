/*
 * fuzz_door_alertmanager.c - libFuzzer target for POST /api/v2/alerts
 * (door_parse_alertmanager_api) and for the RFC 3339 time parser the doors
 * share (door_parse_time / door_format_time).
 *
 * Invariants: on success every event has a summary (at most
 * ALERT_SUMMARY_MAX bytes of UTF-8), valid sorted unique labels within the
 * caps, a 16-hex-digit fingerprint equal to alert_fingerprint(labels) and a
 * startsAt inside the accepted window; on failure nothing is handed out and
 * err holds a one-line reason. A parsed time formats and parses back to
 * itself.
 *
 * Build: make fuzz; run on a copy of the corpus:
 *   cp -r fuzz/corpus/fuzz_door_alertmanager /tmp/c && build/fuzz/fuzz_door_alertmanager /tmp/c
 */
#include "door_checks.h"
#include "ingest/door.h"
#include "ingest/event.h"
#include "util/error.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_time(const uint8_t *data, size_t size)
{
    char text[80];
    char formatted[32];
    int64_t ms = 0;
    int64_t back = 0;

    if (size >= sizeof(text))
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    if (door_parse_time(text, &ms) != 0)
        return;
    /* 0000-01-01 .. 9999-12-31 plus at most a day of offset. */
    CHECK(ms >= INT64_C(-62168000000000) && ms <= INT64_C(253402400000000));
    if (ms < INT64_C(-62135596800000) || ms > INT64_C(253402300799999))
        return; /* outside what 4-digit years print */
    door_format_time(ms, formatted, sizeof(formatted));
    CHECK(door_parse_time(formatted, &back) == 0);
    CHECK(back == ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alert_batch batch = {(struct alert_event *)1, 99};
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc = door_parse_alertmanager_api((const char *)data, size, FUZZ_NOW, &batch, &err);
    if (rc == 0)
        check_batch(&batch, SOURCE_ALERTMANAGER_API);
    else
        check_failure(rc, &batch, &err);
    fuzz_time(data, size);
    return 0;
}
