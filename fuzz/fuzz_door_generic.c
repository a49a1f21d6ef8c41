/*
 * fuzz_door_generic.c - libFuzzer target for opsbell's own alert form
 * (door_parse_generic), with a fixed now.
 *
 * Invariants: on success every event has a summary (non-empty for a
 * trigger), valid sorted unique labels within the caps, a 16-hex-digit
 * fingerprint equal to alert_fingerprint(labels), details_json that parses,
 * and a resolve/acknowledge has a dedup key or labels; on failure nothing is
 * handed out and err holds a one-line reason.
 *
 * Build: make fuzz; run on a copy of the corpus:
 *   cp -r fuzz/corpus/fuzz_door_generic /tmp/c && build/fuzz/fuzz_door_generic /tmp/c
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alert_batch batch = {(struct alert_event *)1, 99};
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc = door_parse_generic((const char *)data, size, FUZZ_NOW, &batch, &err);
    if (rc == 0) {
        CHECK(batch.count >= 1);
        for (size_t i = 0; i < batch.count; i++) {
            const struct alert_event *ev = &batch.events[i];
            CHECK(ev->action != ALERT_TRIGGER || ev->summary[0] != '\0');
            CHECK(ev->action == ALERT_TRIGGER || ev->dedup_key != NULL || ev->label_count > 0);
            CHECK(ev->starts_at_ms == 0 && ev->ends_at_ms == 0);
        }
        check_batch(&batch, SOURCE_GENERIC);
    } else {
        check_failure(rc, &batch, &err);
    }
    return 0;
}
