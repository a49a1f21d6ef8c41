/*
 * test_slack.c - the pure parts of Slack (src/notify/slack.c): the v0
 * signature (Slack's documented example), request verification, messages
 * and their buttons per state, the Web API's answers, interaction
 * payloads, the Slack user map and the response_url check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "notify/chatops.h"
#include "notify/slack.h"
#include "store/incidents.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slack's example from "Verifying requests from Slack" (api.slack.com). */
#define DOC_SECRET    "8f742231b10e8888abcd99yyyzzz85a5"
#define DOC_TIMESTAMP "1531420618"
#define DOC_BODY                                                                                   \
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="         \
    "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"     \
    "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"             \
    "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."               \
    "803a0bc887a14d10d2c447fce8b6703c"
#define DOC_SIGNATURE "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

static const unsigned char *doc_secret(void)
{
    return (const unsigned char *)DOC_SECRET;
}

static int verify(const char *ts, const char *sig, int64_t now, struct ob_error *err)
{
    return slack_verify_request(doc_secret(), strlen(DOC_SECRET), ts, sig, DOC_BODY,
                                strlen(DOC_BODY), now, err);
}

static void test_signature_matches_slacks_example(void **state)
{
    char sig[SLACK_SIGNATURE_LEN + 1];

    (void)state;
    assert_int_equal(slack_signature(doc_secret(), strlen(DOC_SECRET), DOC_TIMESTAMP, DOC_BODY,
                                     strlen(DOC_BODY), sig),
                     0);
    assert_string_equal(sig, DOC_SIGNATURE);
    /* An empty body is signed too ("v0:<ts>:"). */
    assert_int_equal(slack_signature(doc_secret(), strlen(DOC_SECRET), "1", "", 0, sig), 0);
    assert_int_equal(strlen(sig), SLACK_SIGNATURE_LEN);
}

static void test_verify_accepts_and_refuses(void **state)
{
    const int64_t t = 1531420618;
    struct ob_error err = {0};
    char wrong[] = DOC_SIGNATURE;

    (void)state;
    assert_int_equal(verify(DOC_TIMESTAMP, DOC_SIGNATURE, t, &err), 0);
    assert_int_equal(verify(DOC_TIMESTAMP, DOC_SIGNATURE, t + 300, &err), 0);
    assert_int_equal(verify(DOC_TIMESTAMP, DOC_SIGNATURE, t - 300, &err), 0);
    /* more than 5 minutes either way */
    assert_int_equal(verify(DOC_TIMESTAMP, DOC_SIGNATURE, t + 301, &err), OB_EUNAUTH);
    assert_non_null(strstr(err.msg, "5 minutes"));
    assert_int_equal(verify(DOC_TIMESTAMP, DOC_SIGNATURE, t - 301, &err), OB_EUNAUTH);
    /* missing headers */
    assert_int_equal(verify(NULL, DOC_SIGNATURE, t, &err), OB_EUNAUTH);
    assert_non_null(strstr(err.msg, "X-Slack-Request-Timestamp"));
    assert_int_equal(verify(DOC_TIMESTAMP, NULL, t, &err), OB_EUNAUTH);
    assert_non_null(strstr(err.msg, "X-Slack-Signature"));
    /* malformed timestamps */
    assert_int_equal(verify("", DOC_SIGNATURE, t, &err), OB_EUNAUTH);
    assert_int_equal(verify(" 1531420618", DOC_SIGNATURE, t, &err), OB_EUNAUTH);
    assert_int_equal(verify("+1531420618", DOC_SIGNATURE, t, &err), OB_EUNAUTH);
    assert_int_equal(verify("1531420618.5", DOC_SIGNATURE, t, &err), OB_EUNAUTH);
    assert_int_equal(verify("99999999999999999999999", DOC_SIGNATURE, t, &err), OB_EUNAUTH);
    /* a different timestamp signed by nobody */
    assert_int_equal(verify("1531420619", DOC_SIGNATURE, t, &err), OB_EUNAUTH);
    /* wrong signatures: one digit, case, prefix, length */
    wrong[10] = wrong[10] == '0' ? '1' : '0';
    assert_int_equal(verify(DOC_TIMESTAMP, wrong, t, &err), OB_EUNAUTH);
    assert_non_null(strstr(err.msg, "does not match"));
    assert_int_equal(verify(DOC_TIMESTAMP,
                            "V0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503",
                            t, &err),
                     OB_EUNAUTH);
    assert_int_equal(verify(DOC_TIMESTAMP, DOC_SIGNATURE "0", t, &err), OB_EUNAUTH);
    assert_int_equal(verify(DOC_TIMESTAMP, "v0=", t, &err), OB_EUNAUTH);
    assert_int_equal(verify(DOC_TIMESTAMP, DOC_SIGNATURE + 3, t, &err), OB_EUNAUTH);
    /* the body is covered */
    assert_int_equal(slack_verify_request(doc_secret(), strlen(DOC_SECRET), DOC_TIMESTAMP,
                                          DOC_SIGNATURE, DOC_BODY, strlen(DOC_BODY) - 1, t, &err),
                     OB_EUNAUTH);
    /* no secret: nothing verifies */
    assert_int_equal(slack_verify_request(NULL, 0, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY,
                                          strlen(DOC_BODY), t, &err),
                     OB_EUNAUTH);
    assert_null(strstr(err.msg, DOC_SECRET));
}

static void test_address_kind(void **state)
{
    (void)state;
    assert_string_equal(slack_address_kind("U024BE7LH"), "user");
    assert_string_equal(slack_address_kind("W012A3CDE"), "user");
    assert_string_equal(slack_address_kind("C0123ABCD"), "conversation");
    assert_string_equal(slack_address_kind("G8PSS9T3V"), "conversation");
    assert_string_equal(slack_address_kind("D0ANN0001"), "conversation");
    assert_null(slack_address_kind("#general"));
    assert_null(slack_address_kind("u024be7lh"));
    assert_null(slack_address_kind("U"));
    assert_null(slack_address_kind(""));
    assert_null(slack_address_kind(NULL));
    assert_null(slack_address_kind("X0123ABCD"));
    assert_null(slack_address_kind("U0123 ABCD"));
    assert_null(slack_address_kind("U0123456789012345678901234567890123"));
}

static void incident_fixture(struct incident *inc, const char *status)
{
    memset(inc, 0, sizeof(*inc));
    inc->id = 42;
    inc->service = "payments-api";
    inc->team = "payments";
    inc->status = (char *)status;
    inc->summary = "Error rate <5%> & rising";
    inc->severity = "critical";
    inc->acknowledged_by = "user:alice";
    inc->resolved_by = "token:ci";
}

static json_t *actions_block(json_t *msg)
{
    size_t i;
    json_t *b;

    json_array_foreach(json_object_get(msg, "blocks"), i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "type")), "actions") == 0)
            return json_object_get(b, "elements");
    }
    return NULL;
}

static const char *button_id(json_t *elements, size_t i)
{
    return json_string_value(json_object_get(json_array_get(elements, i), "action_id"));
}

static void test_message_of_a_new_page(void **state)
{
    struct config cfg = {0};
    struct incident inc;
    json_t *msg, *elements, *section;
    const char *text;

    (void)state;
    cfg.public_url = "https://ops.example.com";
    incident_fixture(&inc, "triggered");
    msg = slack_message_json(&cfg, &inc, "U024BE7LH", NULL, 0);
    assert_non_null(msg);
    assert_string_equal(json_string_value(json_object_get(msg, "channel")), "U024BE7LH");
    assert_null(json_object_get(msg, "ts"));
    assert_string_equal(json_string_value(json_object_get(msg, "text")),
                        "\xF0\x9F\x94\x94 #42 [critical] Error rate <5%> & rising "
                        "\xE2\x80\x94 service payments-api");
    section = json_array_get(json_object_get(msg, "blocks"), 0);
    text = json_string_value(json_object_get(json_object_get(section, "text"), "text"));
    assert_non_null(strstr(text, "<https://ops.example.com/api/v1/incidents/42|#42>"));
    assert_non_null(strstr(text, "Error rate &lt;5%&gt; &amp; rising"));
    assert_non_null(strstr(text, "payments-api"));
    assert_non_null(strstr(text, "*Team:* payments"));
    elements = actions_block(msg);
    assert_int_equal(json_array_size(elements), 3);
    assert_string_equal(button_id(elements, 0), "opsbell_ack");
    assert_string_equal(button_id(elements, 1), "opsbell_resolve");
    assert_string_equal(button_id(elements, 2), "opsbell_escalate");
    assert_string_equal(json_string_value(json_object_get(json_array_get(elements, 0), "style")),
                        "primary");
    assert_string_equal(json_string_value(json_object_get(json_array_get(elements, 2), "value")),
                        "42");
    json_decref(msg);
}

static void test_message_updates_per_state(void **state)
{
    struct config cfg = {0};
    struct incident inc;
    json_t *msg, *elements;
    char line[128];

    (void)state;
    cfg.listen_host = "127.0.0.1";
    cfg.listen_port = 8080;

    incident_fixture(&inc, "acknowledged");
    msg = slack_message_json(&cfg, &inc, "D0ANN0001", "1712345678.000100", 1);
    assert_string_equal(json_string_value(json_object_get(msg, "ts")), "1712345678.000100");
    assert_non_null(
        strstr(json_string_value(json_object_get(msg, "text")), "Acknowledged by alice"));
    elements = actions_block(msg);
    assert_int_equal(json_array_size(elements), 2);
    assert_string_equal(button_id(elements, 0), "opsbell_resolve");
    assert_string_equal(button_id(elements, 1), "opsbell_escalate");
    json_decref(msg);

    incident_fixture(&inc, "resolved");
    msg = slack_message_json(&cfg, &inc, "D0ANN0001", "1712345678.000100", 1);
    assert_non_null(
        strstr(json_string_value(json_object_get(msg, "text")), "Resolved by token:ci"));
    assert_null(actions_block(msg));
    json_decref(msg);

    incident_fixture(&inc, "triggered");
    msg = slack_message_json(&cfg, &inc, "D0ANN0001", "1712345678.000100", 1);
    assert_non_null(strstr(json_string_value(json_object_get(msg, "text")), "Triggered again"));
    assert_int_equal(json_array_size(actions_block(msg)), 3);
    json_decref(msg);

    inc.acknowledged_by = NULL;
    inc.status = "acknowledged";
    slack_state_line(&inc, line, sizeof(line));
    assert_string_equal(line, "Acknowledged by someone");
}

static void test_message_clips_long_and_invalid_summaries(void **state)
{
    struct config cfg = {0};
    struct incident inc;
    char summary[5000];
    json_t *msg;

    (void)state;
    incident_fixture(&inc, "triggered");
    memset(summary, 'a', sizeof(summary) - 1);
    summary[sizeof(summary) - 1] = '\0';
    summary[10] = '\xff'; /* not UTF-8 */
    inc.summary = summary;
    msg = slack_message_json(&cfg, &inc, "C0123ABCD", NULL, 0);
    assert_non_null(msg);
    assert_true(strlen(json_string_value(json_object_get(msg, "text"))) < 1200);
    json_decref(msg);
}

static void test_error_outcomes(void **state)
{
    static const char *const temporary[] = {"ratelimited", "internal_error", "fatal_error",
                                            "service_unavailable", "request_timeout"};
    static const char *const permanent[] = {"invalid_auth",   "not_authed",     "channel_not_found",
                                            "not_in_channel", "is_archived",    "account_inactive",
                                            "token_revoked",  "invalid_blocks", "no_such_error"};

    (void)state;
    for (size_t i = 0; i < sizeof(temporary) / sizeof(temporary[0]); i++)
        assert_int_equal(slack_error_outcome(temporary[i]), NOTIFY_FAILED_TEMPORARY);
    for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
        assert_int_equal(slack_error_outcome(permanent[i]), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(slack_error_outcome(NULL), NOTIFY_FAILED_PERMANENT);
}

static enum notify_outcome result(int transport_ok, long status, const char *retry_after,
                                  const char *body, char *eid, char *detail)
{
    return slack_api_result(transport_ok, status, retry_after, body,
                            body != NULL ? strlen(body) : 0, eid, 128, detail, 256);
}

static void test_api_results(void **state)
{
    char eid[128], detail[256];

    (void)state;
    assert_int_equal(result(1, 200, NULL,
                            "{\"ok\":true,\"channel\":\"D0ANN0001\",\"ts\":\"1712345678.000100\"}",
                            eid, detail),
                     NOTIFY_DELIVERED);
    assert_string_equal(eid, "D0ANN0001:1712345678.000100");
    assert_non_null(strstr(detail, "1712345678.000100"));

    assert_int_equal(result(1, 200, NULL, "{\"ok\":false,\"error\":\"invalid_auth\"}", eid, detail),
                     NOTIFY_FAILED_PERMANENT);
    assert_string_equal(eid, "");
    assert_non_null(strstr(detail, "invalid_auth"));
    assert_int_equal(
        result(1, 200, NULL, "{\"ok\":false,\"error\":\"channel_not_found\"}", eid, detail),
        NOTIFY_FAILED_PERMANENT);
    assert_int_equal(result(1, 200, NULL, "{\"ok\":false,\"error\":\"ratelimited\"}", eid, detail),
                     NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(result(1, 200, NULL, "{\"ok\":false}", eid, detail), NOTIFY_FAILED_PERMANENT);
    /* an error code with control characters is not copied as is */
    assert_int_equal(result(1, 200, NULL, "{\"ok\":false,\"error\":\"bad\\nline\"}", eid, detail),
                     NOTIFY_FAILED_PERMANENT);
    assert_null(strchr(detail, '\n'));

    assert_int_equal(result(1, 429, "30", "{\"ok\":false,\"error\":\"ratelimited\"}", eid, detail),
                     NOTIFY_FAILED_TEMPORARY);
    assert_non_null(strstr(detail, "429"));
    assert_non_null(strstr(detail, "Retry-After 30s"));
    assert_int_equal(result(1, 429, NULL, NULL, eid, detail), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(result(1, 500, NULL, "oops", eid, detail), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(result(1, 503, NULL, NULL, eid, detail), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(result(1, 404, NULL, NULL, eid, detail), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(result(0, 0, NULL, NULL, eid, detail), NOTIFY_FAILED_TEMPORARY);
    /* 2xx without a usable answer */
    assert_int_equal(result(1, 200, NULL, "<html>", eid, detail), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(result(1, 200, NULL, "{\"ok\":true}", eid, detail), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(
        result(1, 200, NULL, "{\"ok\":true,\"channel\":\"D1\",\"ts\":\"12:34\"}", eid, detail),
        NOTIFY_FAILED_TEMPORARY);
    assert_string_equal(eid, "");
}

static void test_split_external_id(void **state)
{
    char channel[SLACK_ID_MAX + 1], ts[64];

    (void)state;
    assert_int_equal(slack_split_external_id("C0123ABCD:1712345678.000100", channel,
                                             sizeof(channel), ts, sizeof(ts)),
                     0);
    assert_string_equal(channel, "C0123ABCD");
    assert_string_equal(ts, "1712345678.000100");
    assert_int_equal(slack_split_external_id("C0123ABCD", channel, sizeof(channel), ts, sizeof(ts)),
                     -1);
    assert_int_equal(slack_split_external_id(":1.2", channel, sizeof(channel), ts, sizeof(ts)), -1);
    assert_int_equal(slack_split_external_id("C1:", channel, sizeof(channel), ts, sizeof(ts)), -1);
    assert_int_equal(
        slack_split_external_id("bad id:1.2", channel, sizeof(channel), ts, sizeof(ts)), -1);
    assert_int_equal(slack_split_external_id(NULL, channel, sizeof(channel), ts, sizeof(ts)), -1);
}

/* "payload=" + the percent-encoded JSON. */
static char *form_of(const char *json)
{
    size_t n = strlen(json);
    char *out = malloc(8 + 3 * n + 1), *p;

    assert_non_null(out);
    p = out + sprintf(out, "payload=");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%%%02X", (unsigned char)json[i]);
    return out;
}

static int parse(const char *json, struct slack_interaction *in, struct ob_error *err)
{
    char *body = form_of(json);
    int rc = slack_interaction_parse(body, strlen(body), in, err);

    free(body);
    return rc;
}

#define PRESS(action, value)                                                                       \
    "{\"type\":\"block_actions\",\"user\":{\"id\":\"U024BE7LH\",\"name\":\"x\"},"                  \
    "\"response_url\":\"https://hooks.slack.com/actions/T1/2/abc\",\"actions\":[{\"action_id\":"   \
    "\"" action "\",\"value\":\"" value "\",\"type\":\"button\"}]}"

static void test_interaction_parse(void **state)
{
    struct slack_interaction in;
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(parse(PRESS("opsbell_ack", "42"), &in, &err), 0);
    assert_string_equal(in.type, "block_actions");
    assert_string_equal(in.user_id, "U024BE7LH");
    assert_string_equal(in.response_url, "https://hooks.slack.com/actions/T1/2/abc");
    assert_int_equal(in.button, SLACK_BUTTON_ACK);
    assert_int_equal(in.incident_id, 42);
    assert_int_equal(parse(PRESS("opsbell_resolve", "7"), &in, &err), 0);
    assert_int_equal(in.button, SLACK_BUTTON_RESOLVE);
    assert_int_equal(parse(PRESS("opsbell_escalate", "900"), &in, &err), 0);
    assert_int_equal(in.button, SLACK_BUTTON_ESC);

    /* other types are parsed, not acted on */
    assert_int_equal(parse("{\"type\":\"view_closed\",\"user\":{}}", &in, &err), 0);
    assert_string_equal(in.type, "view_closed");
    assert_int_equal(in.button, SLACK_BUTTON_NONE);

    /* refusals */
    assert_int_equal(parse(PRESS("opsbell_reboot", "42"), &in, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "action_id"));
    assert_int_equal(in.button, SLACK_BUTTON_NONE);
    assert_int_equal(parse(PRESS("opsbell_ack", "42x"), &in, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "incident id"));
    assert_int_equal(parse(PRESS("opsbell_ack", "0"), &in, &err), OB_EINVAL);
    assert_int_equal(parse(PRESS("opsbell_ack", "-3"), &in, &err), OB_EINVAL);
    assert_int_equal(parse(PRESS("opsbell_ack", ""), &in, &err), OB_EINVAL);
    assert_int_equal(parse(PRESS("opsbell_ack", "99999999999999999999"), &in, &err), OB_EINVAL);
    assert_int_equal(parse("{not json", &in, &err), OB_EINVAL);
    assert_int_equal(parse("[]", &in, &err), OB_EINVAL);
    assert_int_equal(parse("{\"type\":1}", &in, &err), OB_EINVAL);
    assert_int_equal(parse("{\"type\":\"block_actions\",\"actions\":[]}", &in, &err), OB_EINVAL);
    assert_int_equal(
        parse("{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[]}", &in, &err),
        OB_EINVAL);
    assert_int_equal(parse("{\"type\":\"block_actions\",\"user\":{\"id\":\"nobody\"},"
                           "\"actions\":[{\"action_id\":\"opsbell_ack\",\"value\":\"1\"}]}",
                           &in, &err),
                     OB_EINVAL);
    assert_int_equal(parse("{\"type\":\"block_actions\",\"type\":\"x\"}", &in, &err), OB_EINVAL);
    assert_int_equal(slack_interaction_parse("token=1", 7, &in, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "payload"));
    assert_int_equal(slack_interaction_parse("payload=%ZZ", 11, &in, &err), OB_EINVAL);
}

static void test_find_user(void **state)
{
    struct config_chat_id ann_ids[] = {{"mattermost", "U0ANN0001X"}, {"slack", "U0ANN0001"}};
    struct config_chat_id bob_ids[] = {{"mattermost", "U0BOB0001"}};
    struct config_user users[2] = {0};
    struct config cfg = {0};

    (void)state;
    users[0].name = "ann";
    users[0].chat_ids = ann_ids;
    users[0].chat_id_count = 2;
    users[1].name = "bob";
    users[1].chat_ids = bob_ids;
    users[1].chat_id_count = 1;
    cfg.users = users;
    cfg.user_count = 2;
    assert_ptr_equal(chatops_find_user(&cfg, CHATOPS_SLACK, "U0ANN0001"), &users[0]);
    assert_null(chatops_find_user(&cfg, CHATOPS_SLACK, "U0ANN0001X")); /* a mattermost id */
    assert_null(chatops_find_user(&cfg, CHATOPS_SLACK, "U0BOB0001"));
    assert_null(chatops_find_user(&cfg, CHATOPS_SLACK, "u0ann0001"));
    assert_null(chatops_find_user(&cfg, CHATOPS_SLACK, NULL));
}

static void test_response_url_allowed(void **state)
{
    const char *api = "http://127.0.0.1:9000/api";

    (void)state;
    assert_true(slack_response_url_allowed(api, "https://hooks.slack.com/actions/T1/2/abc"));
    assert_true(slack_response_url_allowed(NULL, "https://hooks.slack.com/commands/T1/2/x"));
    assert_true(slack_response_url_allowed(api, "http://127.0.0.1:9000/respond/r1"));
    assert_true(slack_response_url_allowed("https://slack.com/api", "https://SLACK.com:443/x"));
    assert_false(slack_response_url_allowed(api, "http://127.0.0.1:9001/respond/r1"));
    assert_false(slack_response_url_allowed(api, "https://127.0.0.1:9000/respond/r1"));
    assert_false(slack_response_url_allowed(api, "http://localhost:9000/respond/r1"));
    assert_false(slack_response_url_allowed(api, "http://hooks.slack.com/actions/1"));
    assert_false(slack_response_url_allowed(api, "https://hooks.slack.com.evil.com/actions/1"));
    assert_false(slack_response_url_allowed(api, "https://hooks.slack.com:8443/actions/1"));
    assert_false(slack_response_url_allowed(api, "https://evil@hooks.slack.com/actions/1"));
    assert_false(slack_response_url_allowed(api, "http://user:pw@127.0.0.1:9000/respond"));
    assert_false(slack_response_url_allowed(api, "file:///etc/passwd"));
    assert_false(slack_response_url_allowed(api, "gopher://127.0.0.1:9000/"));
    assert_false(slack_response_url_allowed(api, ""));
    assert_false(slack_response_url_allowed(api, "not a url"));
    assert_false(slack_response_url_allowed(api, NULL));
    assert_false(slack_response_url_allowed("https://slack.com/api", "http://169.254.169.254/"));
}

static void test_ephemeral_json(void **state)
{
    char *text = slack_ephemeral_json("Incident 42 is already \"resolved\"");
    json_t *obj;

    (void)state;
    assert_non_null(text);
    obj = json_loads(text, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(obj, "response_type")), "ephemeral");
    assert_true(json_is_false(json_object_get(obj, "replace_original")));
    assert_string_equal(json_string_value(json_object_get(obj, "text")),
                        "Incident 42 is already \"resolved\"");
    json_decref(obj);
    free(text);
}

/* A signature accepted once is a replay until its window ends; then the
 * slot is free again (Slack refuses the old timestamp anyway). */
static void test_replay_guard(void **state)
{
    static struct slack_replay_guard g;
    const char *a = "v0=aaaa", *b = "v0=bbbb";

    (void)state;
    assert_int_equal(slack_replay_check(&g, a, 1000), 0);
    assert_int_equal(slack_replay_check(&g, b, 1000), 0);
    assert_int_equal(slack_replay_check(&g, a, 1001), 1);
    assert_int_equal(slack_replay_check(&g, a, 1000 + SLACK_MAX_SKEW_S), 1);
    assert_int_equal(slack_replay_check(&g, a, 1001 + SLACK_MAX_SKEW_S), 0);
    assert_int_equal(slack_replay_check(&g, "v0=aaa", 1002 + SLACK_MAX_SKEW_S), 0); /* a prefix */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_guard),
        cmocka_unit_test(test_signature_matches_slacks_example),
        cmocka_unit_test(test_verify_accepts_and_refuses),
        cmocka_unit_test(test_address_kind),
        cmocka_unit_test(test_message_of_a_new_page),
        cmocka_unit_test(test_message_updates_per_state),
        cmocka_unit_test(test_message_clips_long_and_invalid_summaries),
        cmocka_unit_test(test_error_outcomes),
        cmocka_unit_test(test_api_results),
        cmocka_unit_test(test_split_external_id),
        cmocka_unit_test(test_interaction_parse),
        cmocka_unit_test(test_find_user),
        cmocka_unit_test(test_response_url_allowed),
        cmocka_unit_test(test_ephemeral_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
