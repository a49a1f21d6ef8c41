/*
 * fuzz_door_webhook.c - libFuzzer target for Alertmanager's webhook payload
 * (door_parse_alertmanager_webhook), with a fixed key and a fixed now.
 *
 * Invariants: on success every event has a summary, valid sorted unique
 * labels within the caps, a 16-hex-digit fingerprint equal to
 * alert_fingerprint(labels), the key as integration_key and source_name
 * "alertmanager"; on failure nothing is handed out and err holds a one-line
 * reason.
 *
 * Build: make fuzz; run on a copy of the corpus:
 *   cp -r fuzz/corpus/fuzz_door_webhook /tmp/c && build/fuzz/fuzz_door_webhook /tmp/c
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

#define FUZZ_KEY "fuzz-key"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alert_batch batch = {(struct alert_event *)1, 99};
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc =
        door_parse_alertmanager_webhook((const char *)data, size, FUZZ_KEY, FUZZ_NOW, &batch, &err);
    if (rc == 0) {
        for (size_t i = 0; i < batch.count; i++) {
            CHECK(batch.events[i].integration_key != NULL);
            CHECK(strcmp(batch.events[i].integration_key, FUZZ_KEY) == 0);
            CHECK(strcmp(batch.events[i].source_name, "alertmanager") == 0);
            CHECK(batch.events[i].action != ALERT_ACKNOWLEDGE);
        }
        check_batch(&batch, SOURCE_ALERTMANAGER_WEBHOOK);
    } else {
        check_failure(rc, &batch, &err);
    }
    return 0;
}
