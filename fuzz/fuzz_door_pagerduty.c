/*
 * fuzz_door_pagerduty.c - libFuzzer target for PagerDuty Events API v2
 * events (door_parse_pagerduty), with a fixed now.
 *
 * Invariants: on success exactly one event with a summary, a 32-character
 * routing key, labels only among class/component/group, a fingerprint equal
 * to alert_fingerprint(labels), details_json that parses, and no errors
 * list; on failure nothing is handed out, err holds a one-line reason and
 * the errors list is a non-empty array of strings whose first is err's.
 *
 * Build: make fuzz; run on a copy of the corpus:
 *   cp -r fuzz/corpus/fuzz_door_pagerduty /tmp/c && build/fuzz/fuzz_door_pagerduty /tmp/c
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

static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alert_batch batch = {(struct alert_event *)1, 99};
    struct ob_error err;
    json_t *errors = (json_t *)1;
    int rc;

    ob_error_clear(&err);
    rc = door_parse_pagerduty((const char *)data, size, FUZZ_NOW, &batch, &errors, &err);
    if (rc == 0) {
        const struct alert_event *ev = &batch.events[0];
        CHECK(errors == NULL);
        CHECK(batch.count == 1);
        CHECK(ev->integration_key != NULL && utf8_chars(ev->integration_key) == 32);
        CHECK(ev->action != ALERT_TRIGGER || ev->summary[0] != '\0');
        CHECK(ev->action == ALERT_TRIGGER || ev->dedup_key != NULL);
        for (size_t i = 0; i < ev->label_count; i++)
            CHECK(strcmp(ev->labels[i].name, "class") == 0 ||
                  strcmp(ev->labels[i].name, "component") == 0 ||
                  strcmp(ev->labels[i].name, "group") == 0);
        check_batch(&batch, SOURCE_PAGERDUTY);
    } else {
        check_failure(rc, &batch, &err);
        CHECK(errors != NULL && json_is_array(errors));
        CHECK(json_array_size(errors) >= 1);
        for (size_t i = 0; i < json_array_size(errors); i++)
            CHECK(json_is_string(json_array_get(errors, i)));
        CHECK(strcmp(json_string_value(json_array_get(errors, 0)), err.msg) == 0);
        json_decref(errors);
    }
    /* Without an errors list, the same answer. */
    {
        struct alert_batch again = {NULL, 0};
        struct ob_error err2;
        ob_error_clear(&err2);
        CHECK(door_parse_pagerduty((const char *)data, size, FUZZ_NOW, &again, NULL, &err2) == rc);
        if (rc == 0)
            alert_batch_release(&again);
        else
            CHECK(strcmp(err.msg, err2.msg) == 0);
    }
    return 0;
}
