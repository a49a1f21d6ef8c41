/*
 * test_sip.c - the SIP agent's pure parts: final status to outcome, SIP
 * INFO key bodies (application/dtmf-relay and application/dtmf), and the
 * target URI of a contact address (a SIP URI, or a number via the trunk).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sip/sip.h"
#include "util/error.h"

#include <string.h>

static void test_status_outcomes(void **state)
{
    assert_int_equal(sip_status_outcome(486), SIP_OUTCOME_BUSY);
    assert_int_equal(sip_status_outcome(600), SIP_OUTCOME_BUSY);
    assert_int_equal(sip_status_outcome(603), SIP_OUTCOME_BUSY);
    assert_int_equal(sip_status_outcome(408), SIP_OUTCOME_NO_ANSWER);
    assert_int_equal(sip_status_outcome(480), SIP_OUTCOME_NO_ANSWER);
    assert_int_equal(sip_status_outcome(404), SIP_OUTCOME_FAILED_PERMANENT);
    assert_int_equal(sip_status_outcome(484), SIP_OUTCOME_FAILED_PERMANENT);
    assert_int_equal(sip_status_outcome(403), SIP_OUTCOME_FAILED_PERMANENT);
    assert_int_equal(sip_status_outcome(488), SIP_OUTCOME_FAILED_PERMANENT);
    assert_int_equal(sip_status_outcome(302), SIP_OUTCOME_FAILED_PERMANENT);
    assert_int_equal(sip_status_outcome(500), SIP_OUTCOME_FAILED_TEMPORARY);
    assert_int_equal(sip_status_outcome(503), SIP_OUTCOME_FAILED_TEMPORARY);
    assert_int_equal(sip_status_outcome(599), SIP_OUTCOME_FAILED_TEMPORARY);
    assert_int_equal(sip_status_outcome(604), SIP_OUTCOME_FAILED_PERMANENT);
    assert_string_equal(sip_outcome_name(SIP_OUTCOME_NO_ANSWER), "no-answer");
    assert_string_equal(sip_outcome_name(SIP_OUTCOME_TIMEOUT), "timeout");
}

static char info(const char *subtype, const char *body)
{
    char key = 0;

    if (sip_dtmf_info_parse(subtype, body, strlen(body), &key) != 0)
        return '!';
    return key;
}

static void test_dtmf_relay_bodies(void **state)
{
    assert_int_equal(info("dtmf-relay", "Signal=1\r\nDuration=160\r\n"), '1');
    assert_int_equal(info("dtmf-relay", "Duration=160\r\nSignal=9\r\n"), '9');
    assert_int_equal(info("DTMF-Relay", "signal = #\r\n"), '#');
    assert_int_equal(info("dtmf-relay", "Signal=*"), '*');
    assert_int_equal(info("dtmf-relay", "Signal=10\n"), '*');
    assert_int_equal(info("dtmf-relay", "Signal=11\n"), '#');
    assert_int_equal(info("dtmf-relay", "Signal=d\n"), 'D');
    assert_int_equal(info("dtmf-relay", "Signal= 2 \r\n"), '2');
    /* Refused: no signal, bad values, other names. */
    assert_int_equal(info("dtmf-relay", "Duration=160\r\n"), '!');
    assert_int_equal(info("dtmf-relay", "Signal=\r\n"), '!');
    assert_int_equal(info("dtmf-relay", "Signal=x\r\n"), '!');
    assert_int_equal(info("dtmf-relay", "Signal=16\r\n"), '!');
    assert_int_equal(info("dtmf-relay", "Signal=12345\r\n"), '!');
    assert_int_equal(info("dtmf-relay", "Signals=1\r\n"), '!');
    assert_int_equal(info("dtmf-relay", "XSignal=1\r\n"), '!');
    assert_int_equal(info("dtmf-relay", ""), '!');
}

static void test_dtmf_bodies(void **state)
{
    char big[2000];
    char key = 0;

    assert_int_equal(info("dtmf", "5"), '5');
    assert_int_equal(info("dtmf", " 5\r\n"), '5');
    assert_int_equal(info("dtmf", "11"), '#');
    assert_int_equal(info("dtmf", "15"), 'D');
    assert_int_equal(info("dtmf", "55"), '!');
    assert_int_equal(info("dtmf", "x"), '!');
    assert_int_equal(info("plain", "1"), '!');
    assert_int_equal(sip_dtmf_info_parse("dtmf", "1\0", 2, &key), OB_EINVAL); /* a NUL byte */
    assert_int_equal(sip_dtmf_info_parse(NULL, "1", 1, &key), OB_EINVAL);
    memset(big, ' ', sizeof(big));
    big[0] = '1';
    assert_int_equal(sip_dtmf_info_parse("dtmf", big, sizeof(big), &key), OB_EINVAL);
}

static void test_target_uri(void **state)
{
    char out[128];

    assert_int_equal(sip_target_uri("sip:bob@example.com", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "sip:bob@example.com");
    assert_int_equal(sip_target_uri("sips:bob@example.com:5061", "sip:t.example", out, sizeof(out)),
                     0);
    assert_string_equal(out, "sips:bob@example.com:5061");
    assert_int_equal(sip_target_uri("+4930123456", "sip:trunk.example.com", out, sizeof(out)), 0);
    assert_string_equal(out, "sip:+4930123456@trunk.example.com");
    assert_int_equal(
        sip_target_uri("+4930123456", "sip:10.0.0.1:5070;transport=tcp", out, sizeof(out)), 0);
    assert_string_equal(out, "sip:+4930123456@10.0.0.1:5070;transport=tcp");
    /* No trunk, a trunk with a user, not a number, unsafe characters, too small. */
    assert_int_equal(sip_target_uri("+4930123456", NULL, out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("+4930123456", "sip:u@trunk", out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("+4930123456", "http://trunk", out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("030123456", "sip:trunk", out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("+49", "sip:trunk", out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("sip:bob@x\r\nVia: evil", NULL, out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("sip:<bob>", NULL, out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("sip:", NULL, out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("mailto:bob@example.com", NULL, out, sizeof(out)), OB_EINVAL);
    assert_int_equal(sip_target_uri("sip:bob@example.com", NULL, out, 8), OB_ETOOLARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_outcomes),
        cmocka_unit_test(test_dtmf_relay_bodies),
        cmocka_unit_test(test_dtmf_bodies),
        cmocka_unit_test(test_target_uri),
    };
    return cmocka_run_group_tests_name("sip", tests, NULL, NULL);
}
