/*
 * fuzz_twilio_callback.c - libFuzzer target for what a Twilio callback
 * goes through (handlers_twilio.c): the form body (util/form.c), the
 * signature check (notify/twilio.c), the CallStatus mapping and the SMS
 * reply parser, and the TwiML built from what a caller controls.
 *
 * Checked: a body signed with its own signature verifies, and fails under
 * another key or with the header changed; the X-Twilio-Signature field
 * (taken from the body, as an attacker would send one) is accepted only
 * when it is that signature; a parsed SMS command has a positive id and a
 * known action; a CallStatus is final, on the way or unknown, with an
 * outcome for the final ones; TwiML never carries a raw '<' from input.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_twilio_callback fuzz/corpus/fuzz_twilio_callback
 */
#include "notify/twilio.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/form.h"
#include "util/strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char URL[] = "https://ops.example.com/twilio/voice/42?attempt=1";
static const unsigned char KEY[] = "fuzz-auth-token";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ob_error err = {0};
    char sig[TWILIO_SIGNATURE_LEN + 1];
    enum notify_outcome outcome = NOTIFY_PENDING;
    enum incident_action action = INCIDENT_NOTE;
    int64_t id = 0;
    struct form f;
    const char *claimed, *body, *status;
    int final;

    if (form_parse((const char *)data, size, &f, &err) != 0)
        return 0;
    if (twilio_signature(KEY, sizeof(KEY) - 1, URL, &f, sig) != 0)
        abort();
    if (strlen(sig) != TWILIO_SIGNATURE_LEN ||
        !twilio_signature_valid(KEY, sizeof(KEY) - 1, URL, &f, sig) ||
        twilio_signature_valid(KEY, sizeof(KEY) - 2, URL, &f, sig))
        abort();
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    if (twilio_signature_valid(KEY, sizeof(KEY) - 1, URL, &f, sig))
        abort();
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    claimed = form_get(&f, "X-Twilio-Signature");
    if (claimed != NULL && twilio_signature_valid(KEY, sizeof(KEY) - 1, URL, &f, claimed) !=
                               (strcmp(claimed, sig) == 0))
        abort();

    body = form_get(&f, "Body");
    if (twilio_sms_command(body, &id, &action) == 0) {
        if (id <= 0 ||
            (action != INCIDENT_ACK && action != INCIDENT_RESOLVE && action != INCIDENT_ESCALATE))
            abort();
    }
    status = form_get(&f, "CallStatus");
    final = twilio_call_status(status, &outcome);
    if (final < -1 || final > 1 || (final == 1 && outcome == NOTIFY_PENDING) ||
        (final != 1 && outcome != NOTIFY_PENDING))
        abort();

    if (body != NULL) {
        struct incident inc;
        struct strbuf xml = STRBUF_INIT;
        const char *p;

        memset(&inc, 0, sizeof(inc));
        inc.id = 42;
        inc.summary = (char *)body;
        inc.severity = "critical";
        twilio_twiml_menu("https://ops.example.com", 42, 1, 0, &inc, body, &xml);
        /* Every '<' starts one of our own elements. */
        for (p = strchr(xml.buf, '<'); p != NULL; p = strchr(p + 1, '<')) {
            if (strncmp(p, "<?xml", 5) != 0 && strncmp(p, "<Response>", 10) != 0 &&
                strncmp(p, "</", 2) != 0 && strncmp(p, "<Say>", 5) != 0 &&
                strncmp(p, "<Gather ", 8) != 0 && strncmp(p, "<Redirect ", 10) != 0)
                abort();
        }
        strbuf_release(&xml);
    }
    form_release(&f);
    return 0;
}
