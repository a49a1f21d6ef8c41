/*
 * test_notify.c - the dispatcher's pure parts: retry backoff, the rate-limit
 * decision, and the webhook provider's signature (a known HMAC-SHA256
 * vector) and the outcome of each HTTP status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "notify/notify.h"
#include "notify/notify_internal.h"
#include "notify/tel.h"
#include "notify/verify.h"
#include "util/error.h"

#include <string.h>

static void test_backoff_doubles_and_caps(void **state)
{
    assert_int_equal(notify_backoff_ms(30000, 1), 30000);
    assert_int_equal(notify_backoff_ms(30000, 2), 60000);
    assert_int_equal(notify_backoff_ms(30000, 3), 120000);
    assert_int_equal(notify_backoff_ms(30000, 5), 480000);
    assert_int_equal(notify_backoff_ms(30000, 6), NOTIFY_RETRY_CAP_MS);
    assert_int_equal(notify_backoff_ms(30000, 60), NOTIFY_RETRY_CAP_MS); /* no overflow */
    assert_int_equal(notify_backoff_ms(1000, 1), 1000);
    assert_int_equal(notify_backoff_ms(1000, 2), 2000);
    /* A base above the cap is used as is. */
    assert_int_equal(notify_backoff_ms(3600000, 4), 3600000);
}

static void test_rate_limit_window(void **state)
{
    struct config_notification_limit voice = {3, 900}, none = {0, 0};

    assert_false(notify_rate_limited(&voice, 0));
    assert_false(notify_rate_limited(&voice, 2));
    assert_true(notify_rate_limited(&voice, 3));
    assert_true(notify_rate_limited(&voice, 10));
    assert_false(notify_rate_limited(&none, 1000));
    assert_false(notify_rate_limited(NULL, 1000));
}

static void test_default_limits_from_config(void **state)
{
    static const char yaml[] = "notification_limits:\n"
                               "  voice: {max: 5, per: 10m}\n"
                               "  email: {max: 2, per: 1h}\n";
    static const char bad[] = "notification_limits:\n"
                              "  sms: {max: lots, per: 10m}\n";
    static const char engine[] = "engine: {send_lease: 2s, retry_base: 500ms, max_attempts: 5}\n";
    static const char bad_engine[] = "engine: {send_lease: 10ms}\n";
    struct config_diags diags = {0};

    assert_int_equal(
        config_check_buffer(CONFIG_DOC_MAIN, "opsbell.yaml", NULL, yaml, strlen(yaml), &diags), 0);
    config_diags_release(&diags);
    assert_int_equal(
        config_check_buffer(CONFIG_DOC_MAIN, "opsbell.yaml", NULL, bad, strlen(bad), &diags),
        OB_EINVAL);
    assert_true(diags.count >= 1);
    assert_non_null(strstr(diags.items[0].message, "notification limit max"));
    config_diags_release(&diags);
    assert_int_equal(
        config_check_buffer(CONFIG_DOC_MAIN, "opsbell.yaml", NULL, engine, strlen(engine), &diags),
        0);
    config_diags_release(&diags);
    assert_int_equal(config_check_buffer(CONFIG_DOC_MAIN, "opsbell.yaml", NULL, bad_engine,
                                         strlen(bad_engine), &diags),
                     OB_EINVAL);
    assert_non_null(strstr(diags.items[0].message, "send_lease"));
    config_diags_release(&diags);
}

static void test_webhook_signature_known_vector(void **state)
{
    static const char body[] = "{\"a\":1}";
    char sig[65], other[65];

    /* printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret */
    assert_int_equal(webhook_signature((const unsigned char *)"secret", 6, "1700000000", body,
                                       strlen(body), sig),
                     0);
    assert_string_equal(sig, "49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686");
    /* The timestamp is signed too: a replay with a new timestamp does not verify. */
    assert_int_equal(webhook_signature((const unsigned char *)"secret", 6, "1700000001", body,
                                       strlen(body), other),
                     0);
    assert_string_not_equal(sig, other);
}

static void test_webhook_outcome_by_status(void **state)
{
    assert_int_equal(webhook_outcome(1, 200), NOTIFY_DELIVERED);
    assert_int_equal(webhook_outcome(1, 204), NOTIFY_DELIVERED);
    assert_int_equal(webhook_outcome(1, 299), NOTIFY_DELIVERED);
    assert_int_equal(webhook_outcome(1, 500), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(webhook_outcome(1, 503), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(webhook_outcome(1, 400), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(webhook_outcome(1, 401), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(webhook_outcome(1, 404), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(webhook_outcome(1, 408), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(webhook_outcome(1, 429), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(webhook_outcome(1, 301), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(webhook_outcome(0, 0), NOTIFY_FAILED_TEMPORARY); /* refused, timeout */
    assert_string_equal(notify_outcome_state(NOTIFY_FAILED_TEMPORARY), "failed-temporary");
    assert_string_equal(notify_outcome_state(NOTIFY_FAILED_PERMANENT), "failed-permanent");
    assert_string_equal(notify_outcome_state(NOTIFY_DELIVERED), "delivered");
}

/* Busy and no-answer are retried like temporary failures; answered and
 * acknowledged reached the person; every outcome has its row state. */
static void test_call_outcomes(void **state)
{
    static const char *const states[NOTIFY_OUTCOME_COUNT] = {
        "delivered", "answered",         "acknowledged",     "busy",
        "no-answer", "failed-temporary", "failed-permanent", "sending"};

    (void)state;
    for (int o = 0; o < NOTIFY_OUTCOME_COUNT; o++)
        assert_string_equal(notify_outcome_state((enum notify_outcome)o), states[o]);
    assert_true(notify_outcome_retried(NOTIFY_BUSY));
    assert_true(notify_outcome_retried(NOTIFY_NO_ANSWER));
    assert_true(notify_outcome_retried(NOTIFY_FAILED_TEMPORARY));
    assert_false(notify_outcome_retried(NOTIFY_FAILED_PERMANENT));
    assert_false(notify_outcome_retried(NOTIFY_PENDING));
    assert_false(notify_outcome_retried(NOTIFY_ANSWERED));
    assert_true(notify_outcome_reached(NOTIFY_DELIVERED));
    assert_true(notify_outcome_reached(NOTIFY_ANSWERED));
    assert_true(notify_outcome_reached(NOTIFY_ACKNOWLEDGED));
    assert_false(notify_outcome_reached(NOTIFY_BUSY));
    assert_false(notify_outcome_reached(NOTIFY_PENDING));
}

/* The code's text: spaced digits said twice for a call, plain in an SMS;
 * its hash binds user, address and the time it was made (a known vector,
 * computed with Python's hashlib). */
static void test_verification_message_and_hash(void **state)
{
    char text[256], hash[65];

    (void)state;
    verify_message("voice", "042137", text, sizeof(text));
    assert_string_equal(text, "This is opsbell. Your verification code is 0 4 2 1 3 7. "
                              "Again: 0 4 2 1 3 7. Goodbye.");
    verify_message("sip", "042137", text, sizeof(text));
    assert_non_null(strstr(text, "0 4 2 1 3 7"));
    verify_message("sms", "042137", text, sizeof(text));
    assert_string_equal(text, "Your opsbell verification code is 042137. It expires in 10 "
                              "minutes.");
    verify_code_hash("ann", "+4930123456", 1700000000000LL, "042137", hash);
    assert_string_equal(hash, "12ecbb540e270c84c81510346a0f10a02d762e2e491a418b53c27e30768bf6c5");
    verify_code_hash("ann", "+4930123456", 1700000000001LL, "042137", text);
    assert_string_not_equal(hash, text);
}

/* Close matches: by the smaller edit distance to the nickname or the user
 * name (case-insensitive), a prefix counting as 1, best first. */
static void test_tel_close_matches(void **state)
{
    struct config_user users[4] = {
        {.name = "bob", .nickname = "bobby"},
        {.name = "bo", .nickname = "bo"},
        {.name = "alice", .nickname = "Al"},
        {.name = "robert", .nickname = "rob"},
    };
    struct config cfg = {.users = users, .user_count = 4};
    const char *out[4];

    (void)state;
    assert_int_equal(tel_close_matches(&cfg, "bbo", out, 4), 2); /* not "rob": 3 */
    assert_string_equal(out[0], "bo");                           /* 1 */
    assert_string_equal(out[1], "bobby");                        /* 2, through "bob" */
    assert_int_equal(tel_close_matches(&cfg, "robb", out, 4), 2);
    assert_string_equal(out[0], "rob"); /* 1 */
    assert_string_equal(out[1], "bobby");
    assert_int_equal(tel_close_matches(&cfg, "ALI", out, 4), 1);
    assert_string_equal(out[0], "Al"); /* "alice" starts with it; "Al" is 1 away */
    assert_int_equal(tel_close_matches(&cfg, "bbo", out, 1), 1);
    assert_string_equal(out[0], "bo");
    assert_int_equal(tel_close_matches(&cfg, "zzzzzzzz", out, 4), 0);
}

static void test_tel_outcome_text(void **state)
{
    char text[256];

    (void)state;
    tel_outcome_text("Bob", "+4930123", "answered", "CallStatus completed", NULL, text,
                     sizeof(text));
    assert_string_equal(text, "Bob answered (+4930123).");
    tel_outcome_text("Bob", "+4930123", "busy", "486", "sip:bob@desk", text, sizeof(text));
    assert_string_equal(text, "Bob's line was busy (+4930123). Trying sip:bob@desk.");
    tel_outcome_text("Bob", "+4930123", "no-answer", NULL, NULL, text, sizeof(text));
    assert_string_equal(text, "Bob did not answer (+4930123). No other phone to try.");
    tel_outcome_text("Bob", "+4930123", "failed-permanent", "not verified", NULL, text,
                     sizeof(text));
    assert_string_equal(text,
                        "The call to Bob (+4930123) failed: not verified. No other phone to try.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_and_caps),
        cmocka_unit_test(test_call_outcomes),
        cmocka_unit_test(test_tel_close_matches),
        cmocka_unit_test(test_tel_outcome_text),
        cmocka_unit_test(test_verification_message_and_hash),
        cmocka_unit_test(test_rate_limit_window),
        cmocka_unit_test(test_default_limits_from_config),
        cmocka_unit_test(test_webhook_signature_known_vector),
        cmocka_unit_test(test_webhook_outcome_by_status),
    };

    return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
