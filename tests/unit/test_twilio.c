/*
 * test_twilio.c - the Twilio provider's pure parts: the request signature
 * (Twilio's documented example, and vectors computed independently with
 * Python's hmac), its constant-time check, XML and URL escaping, TwiML,
 * the SMS text and the SMS reply parser, the CallStatus and API outcome
 * mappings, the API answer parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "notify/twilio.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/form.h"
#include "util/strbuf.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char *key(const char *s)
{
    return (const unsigned char *)s;
}

static struct form parse(const char *body)
{
    struct ob_error err = {0};
    struct form f;

    assert_int_equal(form_parse(body, strlen(body), &f, &err), 0);
    return f;
}

/* https://www.twilio.com/docs/usage/security (the helper libraries' example). */
static void test_signature_documented_example(void **state)
{
    const char *url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    struct form f = parse("CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
                          "From=%2B14158675309&To=%2B18005551212");
    char sig[TWILIO_SIGNATURE_LEN + 1];

    (void)state;
    assert_int_equal(twilio_signature(key("12345"), 5, url, &f, sig), 0);
    assert_string_equal(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    assert_true(twilio_signature_valid(key("12345"), 5, url, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    /* Another key, another URL, a changed parameter, a mangled header. */
    assert_false(twilio_signature_valid(key("12346"), 5, url, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_false(twilio_signature_valid(key("12345"), 5, "https://mycompany.com/myapp.php?foo=1",
                                        &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_false(twilio_signature_valid(key("12345"), 5, url, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
    assert_false(twilio_signature_valid(key("12345"), 5, url, &f, "rSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_false(twilio_signature_valid(key("12345"), 5, url, &f, ""));
    assert_false(twilio_signature_valid(key("12345"), 5, url, &f, NULL));
    form_release(&f);
    f = parse("CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1&"
              "From=%2B14158675309&To=%2B18005551212");
    assert_false(twilio_signature_valid(key("12345"), 5, url, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    form_release(&f);
}

/* Computed with Python: base64(hmac.new(b"tok", url + "".join(k + v for k, v
 * in sorted(params)), sha1)): parameters sorted by name then value, bytes. */
static void test_signature_sorting_and_no_params(void **state)
{
    const char *url = "https://ops.example.com/twilio/sms";
    struct form f = parse("b=2&a=x&a=1&Body=42+ack");
    char sig[TWILIO_SIGNATURE_LEN + 1];

    (void)state;
    assert_int_equal(twilio_signature(key("tok"), 3, url, &f, sig), 0);
    assert_string_equal(sig, "cEp5XkUswKsKZuhx/7+VD61ahyI=");
    assert_int_equal(twilio_signature(key("tok"), 3, url, NULL, sig), 0);
    assert_string_equal(sig, "SH/VesYlmbvp6ctcPuiVcuB2TlA=");
    form_release(&f);
}

static void test_escaping(void **state)
{
    struct strbuf sb = STRBUF_INIT;

    (void)state;
    strbuf_add_markup_escaped(&sb, "a<b>&\"c'\r\nd");
    assert_string_equal(sb.buf, "a&lt;b&gt;&amp;&quot;c&#39;  d");
    strbuf_reset(&sb);
    twilio_url_encode(&sb, "+1 555/é~._-");
    assert_string_equal(sb.buf, "%2B1%20555%2F%C3%A9~._-");
    strbuf_reset(&sb);
    twilio_form_add(&sb, "To", "+15550100");
    twilio_form_add(&sb, "Body", "a&b=c");
    assert_string_equal(sb.buf, "To=%2B15550100&Body=a%26b%3Dc");
    strbuf_reset(&sb);
    /* Cut between UTF-8 characters, never inside one. */
    twilio_plain(&sb, "ab\xc3\xa9z", 3);
    assert_string_equal(sb.buf, "ab...");
    strbuf_reset(&sb);
    twilio_plain(&sb, "ab\tc", 10);
    assert_string_equal(sb.buf, "ab c");
    strbuf_release(&sb);
}

static void test_base_url(void **state)
{
    struct config cfg;
    struct strbuf sb = STRBUF_INIT;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.public_url = "https://ops.example.com/pager//";
    twilio_base_url(&cfg, &sb);
    assert_string_equal(sb.buf, "https://ops.example.com/pager");
    strbuf_reset(&sb);
    cfg.public_url = NULL;
    cfg.listen_host = "127.0.0.1";
    cfg.listen_port = 8080;
    twilio_base_url(&cfg, &sb);
    assert_string_equal(sb.buf, "http://127.0.0.1:8080");
    strbuf_reset(&sb);
    cfg.listen_host = "::1";
    twilio_base_url(&cfg, &sb);
    assert_string_equal(sb.buf, "http://[::1]:8080");
    strbuf_release(&sb);
}

static void test_call_status(void **state)
{
    enum notify_outcome o = NOTIFY_DELIVERED;

    (void)state;
    assert_int_equal(twilio_call_status("completed", &o), 1);
    assert_int_equal(o, NOTIFY_ANSWERED);
    assert_int_equal(twilio_call_status("busy", &o), 1);
    assert_int_equal(o, NOTIFY_BUSY);
    assert_int_equal(twilio_call_status("no-answer", &o), 1);
    assert_int_equal(o, NOTIFY_NO_ANSWER);
    assert_int_equal(twilio_call_status("failed", &o), 1);
    assert_int_equal(o, NOTIFY_FAILED_PERMANENT);
    assert_int_equal(twilio_call_status("canceled", &o), 1);
    assert_int_equal(o, NOTIFY_FAILED_TEMPORARY);
    o = NOTIFY_DELIVERED;
    assert_int_equal(twilio_call_status("initiated", &o), 0);
    assert_int_equal(twilio_call_status("ringing", &o), 0);
    assert_int_equal(twilio_call_status("in-progress", &o), 0);
    assert_int_equal(twilio_call_status("answered", &o), 0);
    assert_int_equal(twilio_call_status("queued", &o), 0);
    assert_int_equal(o, NOTIFY_DELIVERED);
    assert_int_equal(twilio_call_status("Completed", &o), -1);
    assert_int_equal(twilio_call_status("", &o), -1);
    assert_int_equal(twilio_call_status(NULL, &o), -1);
}

static void test_api_outcome_and_answer(void **state)
{
    char sid[64], msg[64];
    long code = -1;
    const char *err =
        "{\"code\": 21211, \"message\": \"The 'To' number\\n is not valid.\", "
        "\"more_info\": \"https://www.twilio.com/docs/errors/21211\", \"status\": 400}";
    const char *ok = "{\"sid\": \"CA0123456789abcdef0123456789abcdef\", \"status\": \"queued\"}";

    (void)state;
    assert_int_equal(twilio_api_outcome(1, 201), NOTIFY_DELIVERED);
    assert_int_equal(twilio_api_outcome(1, 400), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(twilio_api_outcome(1, 401), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(twilio_api_outcome(1, 404), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(twilio_api_outcome(1, 429), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(twilio_api_outcome(1, 500), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(twilio_api_outcome(1, 503), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(twilio_api_outcome(1, 302), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(twilio_api_outcome(0, 0), NOTIFY_FAILED_TEMPORARY);

    assert_int_equal(
        twilio_parse_answer(err, strlen(err), sid, sizeof(sid), &code, msg, sizeof(msg)), 0);
    assert_int_equal(code, 21211);
    assert_string_equal(sid, "");
    assert_string_equal(msg, "The 'To' number  is not valid.");
    assert_int_equal(twilio_parse_answer(ok, strlen(ok), sid, sizeof(sid), &code, msg, sizeof(msg)),
                     0);
    assert_string_equal(sid, "CA0123456789abcdef0123456789abcdef");
    assert_int_equal(code, 0);
    assert_int_equal(twilio_parse_answer("<html>", 6, sid, sizeof(sid), &code, msg, sizeof(msg)),
                     -1);
    assert_int_equal(twilio_parse_answer("[1]", 3, sid, sizeof(sid), &code, msg, sizeof(msg)), -1);
    assert_int_equal(twilio_parse_answer(NULL, 0, sid, sizeof(sid), &code, msg, sizeof(msg)), -1);
}

static void test_sms_command(void **state)
{
    int64_t id = 0;
    enum incident_action a = INCIDENT_NOTE;

    (void)state;
    assert_int_equal(twilio_sms_command("42 ack", &id, &a), 0);
    assert_int_equal(id, 42);
    assert_int_equal(a, INCIDENT_ACK);
    assert_int_equal(twilio_sms_command("  ACK   7 \r\n", &id, &a), 0);
    assert_int_equal(id, 7);
    assert_int_equal(a, INCIDENT_ACK);
    assert_int_equal(twilio_sms_command("#9 Resolve", &id, &a), 0);
    assert_int_equal(id, 9);
    assert_int_equal(a, INCIDENT_RESOLVE);
    assert_int_equal(twilio_sms_command("escalate 12", &id, &a), 0);
    assert_int_equal(a, INCIDENT_ESCALATE);
    assert_int_equal(twilio_sms_command("12 acknowledge", &id, &a), 0);
    assert_int_equal(a, INCIDENT_ACK);

    assert_int_equal(twilio_sms_command("", &id, &a), -1);
    assert_int_equal(twilio_sms_command(NULL, &id, &a), -1);
    assert_int_equal(twilio_sms_command("ack", &id, &a), -1);
    assert_int_equal(twilio_sms_command("42", &id, &a), -1);
    assert_int_equal(twilio_sms_command("42 ack now", &id, &a), -1);
    assert_int_equal(twilio_sms_command("42 snooze", &id, &a), -1);
    assert_int_equal(twilio_sms_command("0 ack", &id, &a), -1);
    assert_int_equal(twilio_sms_command("-4 ack", &id, &a), -1);
    assert_int_equal(twilio_sms_command("4x ack", &id, &a), -1);
    assert_int_equal(twilio_sms_command("99999999999999999999 ack", &id, &a), -1);
    assert_int_equal(twilio_sms_command("ack ack", &id, &a), -1);
    assert_int_equal(twilio_sms_command("42ack", &id, &a), -1);
}

static struct incident incident(char *summary)
{
    struct incident inc;

    memset(&inc, 0, sizeof(inc));
    inc.id = 42;
    inc.status = "triggered";
    inc.summary = summary;
    inc.severity = "critical";
    return inc;
}

static void test_sms_text(void **state)
{
    struct incident inc = incident("db\ndown");
    struct strbuf sb = STRBUF_INIT;

    (void)state;
    twilio_sms_text(&inc, &sb);
    assert_string_equal(sb.buf, "opsbell #42 [critical] db down. Reply \"42 ack\" to acknowledge, "
                                "\"42 resolve\" to resolve.");
    strbuf_release(&sb);
}

static void test_twiml(void **state)
{
    struct incident inc = incident("a <b> & c");
    struct strbuf sb = STRBUF_INIT;

    (void)state;
    twilio_twiml_menu("https://ops.example.com", 7, 2, 0, &inc, NULL, &sb);
    assert_string_equal(
        sb.buf,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather numDigits=\"1\" "
        "action=\"https://ops.example.com/twilio/voice/7/gather?attempt=2\" method=\"POST\" "
        "timeout=\"8\"><Say>opsbell alert, incident 42, a &lt;b&gt; &amp; c. Press 1 to "
        "acknowledge, 2 to escalate, 9 to repeat.</Say></Gather><Redirect "
        "method=\"POST\">https://ops.example.com/twilio/voice/7?attempt=2&amp;loop=1</Redirect>"
        "</Response>");
    strbuf_reset(&sb);
    twilio_twiml_menu("https://x", 7, 2, 1, &inc, "Sorry, that key is not in the menu.", &sb);
    assert_non_null(strstr(sb.buf, "<Response><Say>Sorry, that key is not in the menu.</Say>"
                                   "<Gather"));
    assert_non_null(strstr(sb.buf, "loop=2</Redirect>"));
    strbuf_reset(&sb);
    twilio_twiml_menu("https://x", 7, 2, TWILIO_MENU_LOOPS, &inc, NULL, &sb);
    assert_string_equal(sb.buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Goodbye"
                                "</Say><Hangup/></Response>");
    strbuf_reset(&sb);
    twilio_twiml_say_hangup("Incident 42 acknowledged. Goodbye.", &sb);
    assert_string_equal(sb.buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Incident "
                                "42 acknowledged. Goodbye.</Say><Hangup/></Response>");
    strbuf_reset(&sb);
    twilio_twiml_message("Unknown \"command\"", &sb);
    assert_string_equal(sb.buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>"
                                "Unknown &quot;command&quot;</Message></Response>");
    strbuf_reset(&sb);
    twilio_twiml_verify("code 1 2 <3>", &sb);
    assert_string_equal(sb.buf, "<Response><Say>code 1 2 &lt;3&gt;</Say><Pause length=\"1\"/>"
                                "<Say>code 1 2 &lt;3&gt;</Say></Response>");
    strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_documented_example),
        cmocka_unit_test(test_signature_sorting_and_no_params),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_base_url),
        cmocka_unit_test(test_call_status),
        cmocka_unit_test(test_api_outcome_and_answer),
        cmocka_unit_test(test_sms_command),
        cmocka_unit_test(test_sms_text),
        cmocka_unit_test(test_twiml),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
