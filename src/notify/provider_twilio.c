/*
 * provider_twilio.c - the `twilio` provider: contact types `voice` and
 * `sms` (E.164 numbers) through Twilio's REST API (or anything speaking
 * it: `providers.twilio.api_url`), with HTTP basic auth AccountSid:AuthToken.
 *
 * Voice: POST {api_url}/2010-04-01/Accounts/{sid}/Calls.json with To,
 * From, Url ({public_url}/twilio/voice/{id}?attempt=N: the TwiML menu),
 * StatusCallback ({public_url}/twilio/status/{id}?attempt=N) for the
 * events initiated, ringing, answered, completed, and Timeout (ring
 * timeout).  201 leaves the attempt pending (the call's sid is kept on the
 * row); the outcome comes through the callbacks (handlers_twilio.c).
 *
 * SMS: POST .../Messages.json with To, From, Body; 201 is delivered.
 *
 * Verification ("verify" rows) and calls on request ("tel" rows, no
 * incident): a call whose TwiML (the `Twiml` parameter) says the message
 * twice, or an SMS of the message; a "tel" call is pending until its
 * status callback like a page's.
 *
 * Outcomes of the request: 2xx as above; 429, 5xx, connection errors and
 * timeouts failed-temporary; other 4xx failed-permanent (Twilio's error
 * code and message go in the detail; 21211 is an invalid number).  The
 * auth token is never written to a log or a detail.  Runs on a dispatcher
 * worker thread (a blocking libcurl easy handle is fine there).
 */
#include "notify/notify_internal.h"
#include "notify/twilio.h"

#include "config/config.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "util/strbuf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWILIO_ANSWER_MAX (64 * 1024) /* bytes of an API answer kept */

static int twilio_handles(const struct config *cfg, const char *type)
{
    return cfg->providers.twilio.enabled &&
           (strcmp(type, "voice") == 0 || strcmp(type, "sms") == 0);
}

/* Keep the API's answer, up to TWILIO_ANSWER_MAX bytes. */
static size_t twilio_collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct strbuf *sb = userdata;
    size_t n = size * nmemb;

    if (sb->len + n <= TWILIO_ANSWER_MAX)
        strbuf_add(sb, ptr, n);
    return n;
}

static int is_verify(const struct notify_attempt *a)
{
    return a->inc == NULL || (a->row->kind != NULL && strcmp(a->row->kind, "verify") == 0);
}

/* POST form to {api_url}/2010-04-01/Accounts/{sid}/{resource}; the outcome,
 * with the created resource's sid in a->external_id. */
static enum notify_outcome twilio_post(struct notify_attempt *a, const char *resource,
                                       const char *form)
{
    const struct config_twilio *tw = &a->cfg->providers.twilio;
    struct strbuf url = STRBUF_INIT, answer = STRBUF_INIT;
    char errbuf[CURL_ERROR_SIZE] = "", sid[64], message[256];
    enum notify_outcome outcome = NOTIFY_FAILED_TEMPORARY;
    long status = 0, code = 0;
    CURL *curl = NULL;
    CURLcode cc;
    size_t len;

    if (tw->auth_token.value == NULL) {
        snprintf(a->detail, sizeof(a->detail), "no twilio auth_token");
        return NOTIFY_FAILED_PERMANENT;
    }
    len = strlen(tw->api_url);
    while (len > 0 && tw->api_url[len - 1] == '/')
        len--;
    strbuf_add(&url, tw->api_url, len);
    strbuf_adds(&url, "/2010-04-01/Accounts/");
    twilio_url_encode(&url, tw->account_sid);
    strbuf_addf(&url, "/%s", resource);
    curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(a->detail, sizeof(a->detail), "out of memory");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.buf);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, tw->account_sid);
    curl_easy_setopt(curl, CURLOPT_PASSWORD, tw->auth_token.value);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "opsbell");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)tw->request_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)tw->request_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, twilio_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    outcome = twilio_api_outcome(cc == CURLE_OK, status);
    if (cc != CURLE_OK) {
        snprintf(a->detail, sizeof(a->detail), "%s",
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    twilio_parse_answer(answer.buf, answer.len, sid, sizeof(sid), &code, message, sizeof(message));
    if (outcome == NOTIFY_DELIVERED) {
        snprintf(a->external_id, sizeof(a->external_id), "%s", sid);
        snprintf(a->detail, sizeof(a->detail), "HTTP %ld %s", status, sid);
    } else if (code != 0) {
        snprintf(a->detail, sizeof(a->detail), "HTTP %ld: Twilio error %ld: %s", status, code,
                 message);
    } else {
        snprintf(a->detail, sizeof(a->detail), "HTTP %ld", status);
    }
out:
    curl_easy_cleanup(curl);
    strbuf_release(&url);
    strbuf_release(&answer);
    return outcome;
}

static enum notify_outcome twilio_call(struct notify_attempt *a)
{
    const struct config *cfg = a->cfg;
    const struct config_twilio *tw = &cfg->providers.twilio;
    struct strbuf form = STRBUF_INIT, base = STRBUF_INIT, v = STRBUF_INIT;
    static const char *const events[] = {"initiated", "ringing", "answered", "completed"};
    long long id = (long long)a->row->id, n = (long long)a->row->attempts;
    enum notify_outcome outcome;
    char timeout[16];

    twilio_form_add(&form, "To", a->row->address);
    twilio_form_add(&form, "From", tw->from_number);
    twilio_base_url(cfg, &base);
    if (is_verify(a)) {
        twilio_twiml_verify(a->message != NULL ? a->message : "", &v);
        twilio_form_add(&form, "Twiml", v.buf);
    } else {
        strbuf_addf(&v, "%s/twilio/voice/%lld?attempt=%lld", base.buf, id, n);
        twilio_form_add(&form, "Url", v.buf);
    }
    /* A stored row (a page, a call on request) waits for the call's status;
     * a verification call (id 0) has none to wait for. */
    if (id > 0) {
        strbuf_reset(&v);
        strbuf_addf(&v, "%s/twilio/status/%lld?attempt=%lld", base.buf, id, n);
        twilio_form_add(&form, "StatusCallback", v.buf);
        for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
            twilio_form_add(&form, "StatusCallbackEvent", events[i]);
        twilio_form_add(&form, "StatusCallbackMethod", "POST");
    }
    snprintf(timeout, sizeof(timeout), "%u", (unsigned)tw->ring_timeout_s);
    twilio_form_add(&form, "Timeout", timeout);
    outcome = twilio_post(a, "Calls.json", form.buf);
    /* The call is placed: its outcome comes through the status callbacks. */
    if (outcome == NOTIFY_DELIVERED && id > 0) {
        char placed[sizeof(a->detail)];

        snprintf(placed, sizeof(placed), "call placed: %.480s", a->detail);
        snprintf(a->detail, sizeof(a->detail), "%s", placed);
        outcome = NOTIFY_PENDING;
    }
    strbuf_release(&form);
    strbuf_release(&base);
    strbuf_release(&v);
    return outcome;
}

static enum notify_outcome twilio_sms(struct notify_attempt *a)
{
    const struct config_twilio *tw = &a->cfg->providers.twilio;
    struct strbuf form = STRBUF_INIT, body = STRBUF_INIT;
    enum notify_outcome outcome;

    if (is_verify(a))
        twilio_plain(&body, a->message != NULL ? a->message : "", 1000);
    else
        twilio_sms_text(a->inc, &body);
    twilio_form_add(&form, "To", a->row->address);
    twilio_form_add(&form, "From", tw->from_number);
    twilio_form_add(&form, "Body", body.buf);
    outcome = twilio_post(a, "Messages.json", form.buf);
    strbuf_release(&form);
    strbuf_release(&body);
    return outcome;
}

static enum notify_outcome twilio_deliver(struct notify_attempt *a)
{
    if (strcmp(a->row->contact_type, "voice") == 0)
        return twilio_call(a);
    if (strcmp(a->row->contact_type, "sms") == 0)
        return twilio_sms(a);
    snprintf(a->detail, sizeof(a->detail), "twilio cannot deliver contact type %s",
             a->row->contact_type);
    return NOTIFY_FAILED_PERMANENT;
}

const struct notify_provider notify_provider_twilio = {
    .name = "twilio",
    .handles = twilio_handles,
    .deliver = twilio_deliver,
    .verifies = 1,
};
