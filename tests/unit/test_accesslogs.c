/*
 * test_accesslogs.c - Slack team.accessLogs pages (src/access/accesslogs.c:
 * the pure parser), the break-glass channel messages
 * (src/notify/breakglass_chat.c) and the Approve / Deny buttons in
 * interaction payloads (src/notify/slack.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "access/accesslogs.h"
#include "notify/breakglass_chat.h"
#include "notify/slack.h"
#include "store/access.h"
#include "util/error.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slack's documented shape (api.slack.com/methods/team.accessLogs). */
static const char *const PAGE =
    "{\"ok\": true, \"logins\": ["
    "{\"user_id\": \"U45678\", \"username\": \"alice\", \"date_first\": 1422922864,"
    " \"date_last\": 1422922864, \"count\": 1, \"ip\": \"127.0.0.1\","
    " \"user_agent\": \"SlackWeb Mozilla/5.0\", \"isp\": \"BigCo ISP\", \"country\": \"US\","
    " \"region\": \"CA\"},"
    "{\"user_id\": \"W12345\", \"username\": \"bob\", \"date_first\": 1422922493,"
    " \"date_last\": 1422922493, \"count\": 1, \"ip\": \"2001:db8::7\", \"user_agent\": null,"
    " \"isp\": null, \"country\": null, \"region\": null}],"
    " \"paging\": {\"count\": 100, \"total\": 2, \"page\": 1, \"pages\": 1},"
    " \"response_metadata\": {\"next_cursor\": \"dXNlcjpVMDYxTkZUVDI=\"}}";

static int parse(const char *text, struct accesslogs_page *p, struct ob_error *err)
{
    return accesslogs_parse(text, strlen(text), p, err);
}

static void test_page(void **state)
{
    struct accesslogs_page p;
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(parse(PAGE, &p, &err), 0);
    assert_true(p.ok);
    assert_int_equal(p.count, 2);
    assert_string_equal(p.items[0].user_id, "U45678");
    assert_string_equal(p.items[0].ip, "127.0.0.1");
    assert_int_equal(p.items[0].date_first, 1422922864);
    assert_int_equal(p.items[0].date_last, 1422922864);
    assert_string_equal(p.items[0].user_agent, "SlackWeb Mozilla/5.0");
    assert_string_equal(p.items[1].user_id, "W12345");
    assert_string_equal(p.items[1].ip, "2001:db8::7");
    assert_string_equal(p.items[1].user_agent, "");
    assert_string_equal(p.next_cursor, "dXNlcjpVMDYxTkZUVDI=");
    assert_int_equal(p.page, 1);
    assert_int_equal(p.pages, 1);
    accesslogs_page_release(&p);

    /* the last page: empty cursor, no paging */
    assert_int_equal(
        parse("{\"ok\":true,\"logins\":[],\"response_metadata\":{\"next_cursor\":\"\"}}", &p, &err),
        0);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.next_cursor, "");
    assert_int_equal(p.pages, 0);
    accesslogs_page_release(&p);

    /* not sent in full: it is not length-terminated text */
    assert_int_equal(accesslogs_parse(PAGE, 40, &p, &err), OB_EINVAL);
    accesslogs_page_release(&p);
}

static void test_slack_errors(void **state)
{
    static const char *const errors[] = {"not_allowed_token_type", "paid_only", "invalid_auth",
                                         "ratelimited", "missing_scope"};
    struct accesslogs_page p;
    struct ob_error err = {0};
    char text[128];

    (void)state;
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        snprintf(text, sizeof(text), "{\"ok\":false,\"error\":\"%s\"}", errors[i]);
        assert_int_equal(parse(text, &p, &err), 0);
        assert_false(p.ok);
        assert_string_equal(p.error, errors[i]);
        assert_int_equal(p.count, 0);
        accesslogs_page_release(&p);
    }
    assert_int_equal(parse("{\"ok\":false}", &p, &err), 0);
    assert_string_equal(p.error, "unknown_error");
    accesslogs_page_release(&p);
    /* control characters in the code are not logged as they are */
    assert_int_equal(parse("{\"ok\":false,\"error\":\"bad\\nline\"}", &p, &err), 0);
    assert_string_equal(p.error, "bad?line");
    accesslogs_page_release(&p);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "not json",
        "{\"ok\":\"true\",\"logins\":[]}",
        "{\"logins\":[]}",
        "{\"ok\":true}",
        "{\"ok\":true,\"logins\":{}}",
        "{\"ok\":true,\"ok\":true,\"logins\":[]}",
        "{\"ok\":true,\"logins\":[1]}",
        "{\"ok\":true,\"logins\":[{\"ip\":\"1.2.3.4\",\"date_first\":1,\"date_last\":2}]}",
        "{\"ok\":true,\"logins\":[{\"user_id\":\"C123\",\"ip\":\"1.2.3.4\",\"date_first\":1,"
        "\"date_last\":2}]}",
        "{\"ok\":true,\"logins\":[{\"user_id\":\"U123\",\"ip\":\"1.2.3.0/24\",\"date_first\":1,"
        "\"date_last\":2}]}",
        "{\"ok\":true,\"logins\":[{\"user_id\":\"U123\",\"ip\":\"999.2.3.4\",\"date_first\":1,"
        "\"date_last\":2}]}",
        "{\"ok\":true,\"logins\":[{\"user_id\":\"U123\",\"ip\":\"1.2.3.4\",\"date_first\":1,"
        "\"date_last\":\"2\"}]}",
        "{\"ok\":true,\"logins\":[{\"user_id\":\"U123\",\"ip\":\"1.2.3.4\",\"date_first\":1,"
        "\"date_last\":-2}]}",
        "{\"ok\":true,\"logins\":[{\"user_id\":\"U123\",\"ip\":\"1.2.3.4\",\"date_first\":1,"
        "\"date_last\":2.5}]}",
        "{\"ok\":true,\"logins\":[{\"user_id\":\"U123\",\"ip\":\"1.2.3.4\",\"date_first\":1,"
        "\"date_last\":2,\"user_agent\":7}]}",
        "{\"ok\":true,\"logins\":[],\"response_metadata\":{\"next_cursor\":\"a b\"}}",
        "{\"ok\":true,\"logins\":[],\"response_metadata\":{\"next_cursor\":7}}",
        "{\"ok\":true,\"logins\":[],\"response_metadata\":[]}",
        "{\"ok\":true,\"logins\":[],\"paging\":{\"page\":\"1\"}}",
        "{\"ok\":true,\"logins\":[],\"paging\":{\"pages\":-1}}",
    };
    struct accesslogs_page p;
    struct ob_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        if (parse(bad[i], &p, &err) != OB_EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(p.count, 0);
        assert_null(p.items);
        assert_true(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
        accesslogs_page_release(&p);
    }
    /* a first good login does not make a bad page acceptable */
    assert_int_equal(parse("{\"ok\":true,\"logins\":[{\"user_id\":\"U1\",\"ip\":\"1.2.3.4\","
                           "\"date_first\":1,\"date_last\":2},{\"user_id\":\"U2\"}]}",
                           &p, &err),
                     OB_EINVAL);
    assert_int_equal(p.count, 0);
    accesslogs_page_release(&p);
}

static void test_caps(void **state)
{
    struct accesslogs_page p;
    struct ob_error err = {0};
    char ua[600], *text;
    size_t n;
    json_t *logins = json_array(), *root;

    (void)state;
    memset(ua, 'a', sizeof(ua) - 1);
    ua[sizeof(ua) - 1] = '\0';
    for (int i = 0; i <= ACCESSLOGS_PAGE_COUNT; i++)
        json_array_append_new(logins, json_pack("{s:s, s:s, s:i, s:i, s:s}", "user_id", "U1", "ip",
                                                "10.0.0.1", "date_first", 1, "date_last", 2,
                                                "user_agent", ua));
    root = json_pack("{s:b, s:o}", "ok", 1, "logins", logins);
    text = json_dumps(root, JSON_COMPACT);
    n = strlen(text);
    assert_int_equal(accesslogs_parse(text, n, &p, &err), OB_EINVAL); /* 1001 logins */
    accesslogs_page_release(&p);
    free(text);
    json_array_remove(logins, 0);
    text = json_dumps(root, JSON_COMPACT);
    assert_int_equal(accesslogs_parse(text, strlen(text), &p, &err), 0);
    assert_int_equal(p.count, ACCESSLOGS_PAGE_COUNT);
    assert_int_equal(strlen(p.items[999].user_agent), ACCESSLOGS_UA_MAX); /* clipped */
    accesslogs_page_release(&p);
    free(text);
    json_decref(root);
}

/* ---- the channel's messages ---------------------------------------------------- */

static struct grant_row sample(const char *state)
{
    static char *hosts[] = {"web1"};
    struct grant_row g = {0};

    g.id = 7;
    g.user_name = "ann";
    g.team = "platform";
    g.target_kind = "host";
    g.target = "web1";
    g.cidr = "198.51.100.7/32";
    g.reason = "disk <!channel> & full";
    g.state = (char *)state;
    g.duration_s = 1800;
    g.requested_by = "user:ann";
    g.starts_at_ms = 1764080000000LL;
    g.expires_at_ms = 1764081800000LL; /* 2025-11-25 14:43:20 UTC */
    g.approved_by = "bob";
    g.hosts = hosts;
    g.host_count = 1;
    return g;
}

static json_t *actions_of(json_t *msg)
{
    json_t *blocks = json_object_get(msg, "blocks"), *b;
    size_t i;

    json_array_foreach(blocks, i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "type")), "actions") == 0)
            return b;
    }
    return NULL;
}

static void test_messages(void **state)
{
    struct grant_row g = sample(GRANT_PENDING);
    json_t *msg, *actions, *el;
    const char *text, *section;

    (void)state;
    msg = breakglass_message_json(ACCESS_EV_REQUESTED, &g, "user:ann", NULL, "C0PLAT001", NULL,
                                  g.starts_at_ms);
    assert_non_null(msg);
    assert_string_equal(json_string_value(json_object_get(msg, "channel")), "C0PLAT001");
    assert_null(json_object_get(msg, "ts"));
    text = json_string_value(json_object_get(msg, "text"));
    assert_non_null(strstr(text, "Grant #7: ann asks for SSH to web1 from 198.51.100.7/32"));
    section = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(msg, "blocks"), 0), "text"), "text"));
    /* the reason cannot ping the channel */
    assert_non_null(strstr(section, "disk &lt;!channel&gt; &amp; full"));
    assert_null(strstr(section, "<!channel>"));
    actions = actions_of(msg);
    assert_non_null(actions);
    assert_int_equal(json_array_size(json_object_get(actions, "elements")), 2);
    el = json_array_get(json_object_get(actions, "elements"), 0);
    assert_string_equal(json_string_value(json_object_get(el, "action_id")), "breakglass_approve");
    assert_string_equal(json_string_value(json_object_get(el, "value")), "7");
    el = json_array_get(json_object_get(actions, "elements"), 1);
    assert_string_equal(json_string_value(json_object_get(el, "action_id")), "breakglass_deny");
    assert_string_equal(json_string_value(json_object_get(el, "style")), "danger");
    json_decref(msg);

    /* opened (an update of the request's message): no buttons, the time */
    g.state = GRANT_ACTIVE;
    assert_int_equal(breakglass_state_kind(&g), ACCESS_EV_OPENED);
    msg = breakglass_message_json(breakglass_state_kind(&g), &g, "user:bob", NULL, "C0PLAT001",
                                  "1712345678.000100", g.starts_at_ms);
    assert_string_equal(json_string_value(json_object_get(msg, "ts")), "1712345678.000100");
    assert_null(actions_of(msg));
    text = json_string_value(json_object_get(msg, "text"));
    assert_non_null(strstr(text, "Grant #7: open: ann has SSH to web1 from 198.51.100.7/32 "
                                 "until 14:43 UTC (approved by bob)"));
    json_decref(msg);
    /* seen on another day: with the date */
    msg = breakglass_message_json(ACCESS_EV_OPENED, &g, NULL, NULL, "C1", NULL,
                                  g.starts_at_ms - 86400000LL);
    assert_non_null(
        strstr(json_string_value(json_object_get(msg, "text")), "until 2025-11-25 14:43 UTC"));
    json_decref(msg);

    g.state = GRANT_DENIED;
    g.ended_by = "user:bob";
    assert_int_equal(breakglass_state_kind(&g), ACCESS_EV_DENIED);
    msg = breakglass_message_json(ACCESS_EV_DENIED, &g, NULL, NULL, "C1", NULL, 0);
    assert_non_null(strstr(json_string_value(json_object_get(msg, "text")),
                           "Grant #7: denied by bob: ann asked for SSH to web1"));
    assert_null(actions_of(msg));
    json_decref(msg);
    msg = breakglass_message_json(ACCESS_EV_APPLIED, &g, "system", "web1", "C1", NULL, 0);
    assert_non_null(
        strstr(json_string_value(json_object_get(msg, "text")), "Grant #7: in force on web1"));
    json_decref(msg);
    g.state = GRANT_EXPIRED;
    assert_int_equal(breakglass_state_kind(&g), ACCESS_EV_EXPIRED);
    g.state = GRANT_REVOKED;
    assert_int_equal(breakglass_state_kind(&g), ACCESS_EV_REVOKED);
}

/* ---- the buttons in interaction payloads ------------------------------------------ */

/* "payload=<percent-encoded JSON>", as Slack posts it. */
static char *curl_like_escape(const char *payload)
{
    char *e = curl_easy_escape(NULL, payload, 0);
    size_t n = strlen(e) + 9;
    char *out = malloc(n);

    assert_non_null(out);
    snprintf(out, n, "payload=%s", e);
    curl_free(e);
    return out;
}

static int parse_payload(const char *payload, struct slack_interaction *in, struct ob_error *err)
{
    char *escaped = curl_like_escape(payload);
    int rc;

    rc = slack_interaction_parse(escaped, strlen(escaped), in, err);
    free(escaped);
    return rc;
}

static void test_buttons(void **state)
{
    struct slack_interaction in;
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(
        parse_payload("{\"type\":\"block_actions\",\"user\":{\"id\":\"U0BOB0001\"},"
                      "\"container\":{\"type\":\"message\",\"channel_id\":\"C0PLAT001\","
                      "\"message_ts\":\"1712345678.000100\"},"
                      "\"actions\":[{\"action_id\":\"breakglass_approve\",\"value\":\"7\"}]}",
                      &in, &err),
        0);
    assert_int_equal(in.button, SLACK_BUTTON_BG_APPROVE);
    assert_int_equal(in.incident_id, 7);
    assert_string_equal(in.channel_id, "C0PLAT001");
    assert_string_equal(in.message_ts, "1712345678.000100");
    /* without a container: channel and message; bad ones are dropped */
    assert_int_equal(
        parse_payload("{\"type\":\"block_actions\",\"user\":{\"id\":\"U0BOB0001\"},"
                      "\"channel\":{\"id\":\"C0PLAT002\"},\"message\":{\"ts\":\"12.5\"},"
                      "\"actions\":[{\"action_id\":\"breakglass_deny\",\"value\":\"8\"}]}",
                      &in, &err),
        0);
    assert_int_equal(in.button, SLACK_BUTTON_BG_DENY);
    assert_string_equal(in.channel_id, "C0PLAT002");
    assert_string_equal(in.message_ts, "12.5");
    assert_int_equal(
        parse_payload("{\"type\":\"block_actions\",\"user\":{\"id\":\"U0BOB0001\"},"
                      "\"container\":{\"channel_id\":\"c/../x\",\"message_ts\":\"1; rm\"},"
                      "\"actions\":[{\"action_id\":\"breakglass_deny\",\"value\":\"8\"}]}",
                      &in, &err),
        0);
    assert_string_equal(in.channel_id, "");
    assert_string_equal(in.message_ts, "");
    /* a grant id must be a positive number */
    assert_int_equal(
        parse_payload("{\"type\":\"block_actions\",\"user\":{\"id\":\"U0BOB0001\"},"
                      "\"actions\":[{\"action_id\":\"breakglass_approve\",\"value\":\"-7\"}]}",
                      &in, &err),
        OB_EINVAL);
    assert_int_equal(in.button, SLACK_BUTTON_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),      cmocka_unit_test(test_slack_errors),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_caps),
        cmocka_unit_test(test_messages),  cmocka_unit_test(test_buttons),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
