/*
 * test_aws.c - the AWS enforcer's pure parts: the SigV4 signer against
 * AWS's documented test vectors (aws-sig-v4-test-suite, and the IAM
 * ListUsers example of the SigV4 documentation), the EC2 XML answers
 * (documented shapes, errors, hostile XML), rule descriptions and CIDRs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "enforce/aws.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V_KEY    "AKIDEXAMPLE"
#define V_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define V_DATE   "20150830T123600Z"

static void sign(const char *method, const char *query, const struct aws_sigv4_header *h, size_t n,
                 const char *payload, const char *service, struct aws_sigv4_result *out)
{
    struct aws_sigv4_input in;

    memset(&in, 0, sizeof(in));
    in.method = method;
    in.path = "/";
    in.query = query;
    in.headers = h;
    in.header_count = n;
    in.payload = payload;
    in.payload_len = payload != NULL ? strlen(payload) : 0;
    in.amz_date = V_DATE;
    in.region = "us-east-1";
    in.service = service;
    in.access_key_id = V_KEY;
    in.secret = (const unsigned char *)V_SECRET;
    in.secret_len = strlen(V_SECRET);
    assert_int_equal(aws_sigv4_sign(&in, out), 0);
}

/* get-vanilla: canonical request, string to sign and signature. */
static void test_sigv4_get_vanilla(void **state)
{
    const struct aws_sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", V_DATE}};
    struct aws_sigv4_result r;

    (void)state;
    sign("GET", "", h, 2, NULL, "service", &r);
    assert_string_equal(r.canonical_request,
                        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                        "host;x-amz-date\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(r.string_to_sign,
                        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/"
                        "aws4_request\n"
                        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    assert_string_equal(r.signature,
                        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    assert_string_equal(
        r.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
        "aws4_request, SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    aws_sigv4_result_release(&r);
}

static void test_sigv4_suite_vectors(void **state)
{
    const struct aws_sigv4_header h[] = {{"host", "example.amazonaws.com"}, {"x-amz-date", V_DATE}};
    const struct aws_sigv4_header form[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                                            {"Host", "example.amazonaws.com"},
                                            {"X-Amz-Date", V_DATE}};
    struct aws_sigv4_result r;

    (void)state;
    /* post-vanilla */
    sign("POST", NULL, h, 2, NULL, "service", &r);
    assert_string_equal(r.signature,
                        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    aws_sigv4_result_release(&r);
    /* post-vanilla-query */
    sign("POST", "Param1=value1", h, 2, NULL, "service", &r);
    assert_string_equal(r.signature,
                        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
    aws_sigv4_result_release(&r);
    /* get-vanilla-query-order-key-case: parameters are sorted */
    sign("GET", "Param2=value2&Param1=value1", h, 2, NULL, "service", &r);
    assert_string_equal(r.signature,
                        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    aws_sigv4_result_release(&r);
    /* post-x-www-form-urlencoded: the body is hashed, content-type signed */
    sign("POST", NULL, form, 3, "Param1=value1", "service", &r);
    assert_string_equal(r.signature,
                        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    aws_sigv4_result_release(&r);
}

/* The worked example of the SigV4 documentation (IAM ListUsers). */
static void test_sigv4_iam_example(void **state)
{
    const struct aws_sigv4_header h[] = {
        {"content-type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"host", "iam.amazonaws.com"},
        {"x-amz-date", V_DATE}};
    struct aws_sigv4_result r;

    (void)state;
    sign("GET", "Action=ListUsers&Version=2010-05-08", h, 3, NULL, "iam", &r);
    assert_non_null(strstr(r.string_to_sign,
                           "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"));
    assert_string_equal(r.signature,
                        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    aws_sigv4_result_release(&r);
}

static void test_sigv4_refuses_incomplete(void **state)
{
    struct aws_sigv4_input in;
    struct aws_sigv4_result r;

    (void)state;
    memset(&in, 0, sizeof(in));
    in.method = "POST";
    in.path = "/";
    in.amz_date = "2015";
    assert_int_equal(aws_sigv4_sign(&in, &r), OB_EINVAL);
    assert_null(r.authorization);
}

static void test_uri_encode(void **state)
{
    char *s = aws_uri_encode("opsbell grant:42 until 2026-11-25T01:50:00Z/~_.-é");

    (void)state;
    assert_string_equal(s, "opsbell%20grant%3A42%20until%202026-11-25T01%3A50%3A00Z%2F~_.-%C3%A9");
    free(s);
}

static char *read_seed(const char *name, size_t *len)
{
    char path[256];
    FILE *fp;
    char *buf = malloc(65536);

    snprintf(path, sizeof(path), "fuzz/corpus/fuzz_ec2_xml/%s", name);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    *len = fread(buf, 1, 65535, fp);
    buf[*len] = '\0';
    fclose(fp);
    return buf;
}

static void test_xml_authorize_and_describe(void **state)
{
    struct ob_error err = {0};
    struct aws_rule_list l;
    struct aws_xml_error x;
    size_t len;
    char *body = read_seed("authorize.xml", &len);

    (void)state;
    assert_int_equal(aws_xml_parse_rules(body, len, &l, &err), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].rule_id, "sgr-0b15794cdb17bf29c");
    assert_string_equal(l.items[0].cidr, "203.0.113.0/24");
    assert_string_equal(l.items[0].description, "opsbell grant:42 until 2026-11-25T02:00:00Z");
    assert_int_equal(l.items[0].from_port, 22);
    assert_int_equal(l.items[0].is_egress, 0);
    assert_string_equal(l.next_token, "");
    assert_int_equal(aws_xml_parse_error(body, len, &x), OB_ENOTFOUND);
    aws_rule_list_release(&l);
    free(body);

    body = read_seed("describe.xml", &len);
    assert_int_equal(aws_xml_parse_rules(body, len, &l, &err), 0);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.items[0].cidr, "2001:db8::/64");
    assert_int_equal(l.items[1].is_egress, 1);
    assert_int_equal(l.items[1].from_port, -1);
    /* entities and character references are resolved */
    assert_string_equal(l.items[2].description, "office & VPN \xe2\x80\x94 HTTPS");
    assert_string_equal(l.next_token, "eyJ2IjoiMiIsImMiOiJwYWdlMiJ9");
    aws_rule_list_release(&l);
    free(body);
}

static void test_xml_errors_and_return(void **state)
{
    struct aws_xml_error x;
    size_t len;
    char *body = read_seed("error_duplicate.xml", &len);
    int ok = 0;

    (void)state;
    assert_int_equal(aws_xml_parse_error(body, len, &x), 0);
    assert_string_equal(x.code, "InvalidPermission.Duplicate");
    assert_string_equal(x.request_id, "ea966190-f9aa-478e-9ede-example");
    assert_non_null(strstr(x.message, "already exists"));
    free(body);
    body = read_seed("error_quota.xml", &len);
    assert_int_equal(aws_xml_parse_error(body, len, &x), 0);
    assert_string_equal(x.code, "RulesPerSecurityGroupLimitExceeded");
    free(body);
    body = read_seed("revoke.xml", &len);
    assert_int_equal(aws_xml_parse_return(body, len, &ok), 0);
    assert_int_equal(ok, 1);
    free(body);
}

static void test_xml_hostile(void **state)
{
    struct ob_error err = {0};
    struct aws_rule_list l;
    struct aws_xml_error x;
    size_t len;
    char *body = read_seed("dtd_entity.xml", &len);
    const char *ext =
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<Response><Errors><Error><Code>&x;</Code></Error></Errors></Response>";
    const char *truncated = "<DescribeSecurityGroupRulesResponse><securityGroupRuleSet><item>";
    const char *no_id = "<R><securityGroupRuleSet><item><cidrIpv4>1.2.3.4/32</cidrIpv4></item>"
                        "</securityGroupRuleSet></R>";
    const char *bad_port = "<R><securityGroupRuleSet><item><securityGroupRuleId>sgr-1"
                           "</securityGroupRuleId><fromPort>22x</fromPort></item>"
                           "</securityGroupRuleSet></R>";
    int ok;

    (void)state;
    /* any DTD is refused: no entity expansion, no external entities */
    assert_int_equal(aws_xml_parse_error(body, len, &x), OB_EINVAL);
    free(body);
    assert_int_equal(aws_xml_parse_error(ext, strlen(ext), &x), OB_EINVAL);
    assert_int_equal(aws_xml_parse_rules(truncated, strlen(truncated), &l, &err), OB_EINVAL);
    assert_null(l.items);
    assert_int_equal(aws_xml_parse_rules(no_id, strlen(no_id), &l, &err), OB_EINVAL);
    assert_int_equal(aws_xml_parse_rules(bad_port, strlen(bad_port), &l, &err), OB_EINVAL);
    assert_int_equal(aws_xml_parse_rules("", 0, &l, &err), OB_EINVAL);
    assert_int_equal(aws_xml_parse_return("<R><return>yes</return></R>", 27, &ok), OB_EINVAL);
    assert_int_equal(aws_xml_parse_error("not xml", 7, &x), OB_EINVAL);
}

static void test_description(void **state)
{
    char buf[AWS_DESC_MAX + 1], id[64];
    int64_t ms = 0;

    (void)state;
    assert_int_equal(aws_description_format("grant:42", 1795572000000LL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "opsbell grant:42 until 2026-11-25T02:00:00Z");
    assert_int_equal(aws_description_parse(buf, id, sizeof(id), &ms), 0);
    assert_string_equal(id, "grant:42");
    assert_int_equal(ms, 1795572000000LL);
    assert_int_equal(aws_description_format("has space", 0, buf, sizeof(buf)), OB_EINVAL);
    assert_int_equal(aws_description_format("quote\"", 0, buf, sizeof(buf)), OB_EINVAL);
    assert_int_equal(aws_description_parse("office VPN", NULL, 0, &ms), OB_EINVAL);
    assert_int_equal(aws_description_parse("opsbell x until tomorrow", NULL, 0, &ms), OB_EINVAL);
    assert_int_equal(aws_description_parse("opsbell x until 2026-02-30T00:00:00Z", NULL, 0, &ms),
                     OB_EINVAL);
    assert_int_equal(aws_description_parse("opsbell  until 2026-02-03T00:00:00Z", NULL, 0, &ms),
                     OB_EINVAL);
    assert_int_equal(
        aws_description_parse("opsbell x until 2026-02-03T00:00:00Z trailing", NULL, 0, &ms),
        OB_EINVAL);
}

static void test_cidr(void **state)
{
    struct ob_error err = {0};
    char out[64];

    (void)state;
    assert_int_equal(aws_cidr_normalise("203.0.113.7", out, sizeof(out), &err), 4);
    assert_string_equal(out, "203.0.113.7/32");
    assert_int_equal(aws_cidr_normalise("203.0.113.77/24", out, sizeof(out), &err), 4);
    assert_string_equal(out, "203.0.113.0/24");
    assert_int_equal(aws_cidr_normalise("2001:DB8::1", out, sizeof(out), &err), 6);
    assert_string_equal(out, "2001:db8::1/128");
    assert_int_equal(aws_cidr_normalise("0.0.0.0/0", out, sizeof(out), &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "every address"));
    assert_int_equal(aws_cidr_normalise("::/0", out, sizeof(out), &err), OB_EINVAL);
    assert_int_equal(aws_cidr_normalise("10.0.0.1/33", out, sizeof(out), &err), OB_EINVAL);
    assert_int_equal(aws_cidr_normalise("10.0.0.1/", out, sizeof(out), &err), OB_EINVAL);
    assert_int_equal(aws_cidr_normalise("10.0.0.1/-1", out, sizeof(out), &err), OB_EINVAL);
    assert_int_equal(aws_cidr_normalise("example.com", out, sizeof(out), &err), OB_EINVAL);
    assert_int_equal(aws_cidr_normalise("", out, sizeof(out), &err), OB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_get_vanilla),
        cmocka_unit_test(test_sigv4_suite_vectors),
        cmocka_unit_test(test_sigv4_iam_example),
        cmocka_unit_test(test_sigv4_refuses_incomplete),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_xml_authorize_and_describe),
        cmocka_unit_test(test_xml_errors_and_return),
        cmocka_unit_test(test_xml_hostile),
        cmocka_unit_test(test_description),
        cmocka_unit_test(test_cidr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
