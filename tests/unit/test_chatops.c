/*
 * test_chatops.c - the pure parts of slash commands (src/notify/chatops.c):
 * the form, the Mattermost token check, command and alias parsing, argument
 * splitting and the quoting of messages, the help text, the chat user map,
 * Mattermost's response_url rule, escaping and the reply body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "notify/chatops.h"
#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct chatops_form *form_new(void)
{
    struct chatops_form *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    return f;
}

static void test_form_slack(void **state)
{
    /* A body shaped like Slack's (the documented example's fields). */
    const char *body =
        "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705"
        "&channel_name=test&user_id=U2147483697&user_name=Steve&command=%2Ftel&text=bob+wake+up"
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678"
        "&trigger_id=13345224609.738474920.8088930838d88f008e0";
    struct chatops_form *f = form_new();
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(chatops_form_parse(body, strlen(body), f, &err), 0);
    assert_string_equal(f->command, "/tel");
    assert_string_equal(f->text, "bob wake up");
    assert_string_equal(f->user_id, "U2147483697");
    assert_string_equal(f->team_id, "T0001");
    assert_string_equal(f->channel_id, "C2147483705");
    assert_string_equal(f->response_url, "https://hooks.slack.com/commands/1234/5678");
    assert_string_equal(f->token, "gIkuvaNzQIHg97ATvDxqgjtO");
    /* No text: "" */
    body = "command=%2Foncall&user_id=U1";
    assert_int_equal(chatops_form_parse(body, strlen(body), f, &err), 0);
    assert_string_equal(f->text, "");
    assert_string_equal(f->response_url, "");
    free(f);
}

static void test_form_refusals(void **state)
{
    static const char *const bad[] = {
        "",                                      /* no command */
        "text=x&user_id=U1",                     /* no command */
        "command=tel&user_id=U1",                /* no slash */
        "command=%2F&user_id=U1",                /* nothing after it */
        "command=%2Ftel+x&user_id=U1",           /* a space */
        "command=%2Ftel",                        /* no user */
        "command=%2Ftel&user_id=U%3C1%3E",       /* not an id */
        "command=%2Ftel&user_id=U1&text=%FF",    /* not UTF-8 */
        "command=%2Ftel&user_id=U1&text=%C0%AF", /* overlong */
        "command=%ZZ&user_id=U1",                /* bad escape */
        "command=%2Ftel&user_id=U1&text=a%00b",  /* NUL */
    };
    struct chatops_form *f = form_new();
    struct ob_error err = {0};
    char *big;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ob_error_clear(&err);
        assert_int_equal(chatops_form_parse(bad[i], strlen(bad[i]), f, &err), OB_EINVAL);
        assert_true(err.msg[0] != '\0');
        assert_null(strchr(err.msg, '\n'));
        assert_string_equal(f->command, "");
    }
    /* Over the caps. */
    big = malloc(CHATOPS_TEXT_MAX + 64);
    assert_non_null(big);
    snprintf(big, 40, "command=%%2Ftel&user_id=U1&text=");
    memset(big + strlen(big), 'x', CHATOPS_TEXT_MAX + 1);
    big[strlen("command=%2Ftel&user_id=U1&text=") + CHATOPS_TEXT_MAX + 1] = '\0';
    assert_int_equal(chatops_form_parse(big, strlen(big), f, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "'text'"));
    /* The token is never echoed. */
    snprintf(big, 200, "command=%%2Ftel&user_id=U%%3Cx&token=supersecret");
    assert_int_equal(chatops_form_parse(big, strlen(big), f, &err), OB_EINVAL);
    assert_null(strstr(err.msg, "supersecret"));
    assert_string_equal(f->token, "");
    free(big);
    free(f);
}

static void test_ssl_check(void **state)
{
    (void)state;
    assert_true(chatops_is_ssl_check("ssl_check=1&token=x", 19));
    assert_false(chatops_is_ssl_check("ssl_check=0&token=x", 19));
    assert_false(chatops_is_ssl_check("ssl_check=1&command=%2Ftel", 26));
    assert_false(chatops_is_ssl_check("command=%2Ftel&user_id=U1", 25));
    assert_false(chatops_is_ssl_check("ssl_check=%ZZ", 13));
    assert_false(chatops_is_ssl_check("", 0));
}

static void test_token(void **state)
{
    const unsigned char *secret = (const unsigned char *)"mm-token-123";

    (void)state;
    assert_int_equal(chatops_token_ok(secret, 12, "mm-token-123"), 1);
    assert_int_equal(chatops_token_ok(secret, 12, "mm-token-12"), 0);
    assert_int_equal(chatops_token_ok(secret, 12, "mm-token-1234"), 0);
    assert_int_equal(chatops_token_ok(secret, 12, "MM-TOKEN-123"), 0);
    assert_int_equal(chatops_token_ok(secret, 12, ""), 0);
    assert_int_equal(chatops_token_ok(secret, 12, NULL), 0);
    /* No secret configured: nothing matches, not even "". */
    assert_int_equal(chatops_token_ok((const unsigned char *)"", 0, ""), 0);
    assert_int_equal(chatops_token_ok(NULL, 0, "x"), 0);
    /* A list: one token per slash command. */
    secret = (const unsigned char *)"tok-tel\ntok-oncall, tok-page \n";
    assert_int_equal(chatops_token_ok(secret, strlen((const char *)secret), "tok-tel"), 1);
    assert_int_equal(chatops_token_ok(secret, strlen((const char *)secret), "tok-oncall"), 1);
    assert_int_equal(chatops_token_ok(secret, strlen((const char *)secret), "tok-page"), 1);
    assert_int_equal(chatops_token_ok(secret, strlen((const char *)secret), "tok"), 0);
    assert_int_equal(chatops_token_ok(secret, strlen((const char *)secret), "tok-oncall,"), 0);
    assert_int_equal(chatops_token_ok(secret, strlen((const char *)secret), "tok-tel\ntok"), 0);
    assert_int_equal(chatops_token_ok((const unsigned char *)" ,\n", 3, ","), 0);
}

static void parse_ok(const char *command, const char *text, struct chatops_command *out)
{
    struct ob_error err = {0};
    int rc = chatops_parse_command(command, text, out, &err);

    if (rc != 0)
        fail_msg("'%s' '%s': %s", command, text, err.msg);
}

static void parse_usage(const char *command, const char *text, const char *usage_start)
{
    struct chatops_command c;
    struct ob_error err = {0};

    assert_int_equal(chatops_parse_command(command, text, &c, &err), OB_EINVAL);
    if (strncmp(err.msg, usage_start, strlen(usage_start)) != 0)
        fail_msg("'%s' '%s': got '%s', want '%s...'", command, text, err.msg, usage_start);
}

static void test_aliases_and_subcommands(void **state)
{
    static const struct {
        const char *alias, *sub;
        enum chatops_verb verb;
        const char *args;
    } cases[] = {
        {"/tel", "tel", CHATOPS_TEL, "bob"},
        {"/oncall", "oncall", CHATOPS_ONCALL, ""},
        {"/page", "page", CHATOPS_PAGE, "payments x"},
        {"/ack", "ack", CHATOPS_ACK, "42"},
        {"/resolve", "resolve", CHATOPS_RESOLVE, "42"},
        {"/escalate", "escalate", CHATOPS_ESCALATE, "42"},
        {"/note", "note", CHATOPS_NOTE, "42 hi"},
        {"/incidents", "incidents", CHATOPS_INCIDENTS, ""},
    };
    struct chatops_command c;
    char text[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse_ok(cases[i].alias, cases[i].args, &c);
        assert_int_equal(c.verb, cases[i].verb);
        snprintf(text, sizeof(text), "%s %s", cases[i].sub, cases[i].args);
        parse_ok("/opsbell", text, &c);
        assert_int_equal(c.verb, cases[i].verb);
        /* Whatever a team named its main command. */
        parse_ok("/ob-staging", text, &c);
        assert_int_equal(c.verb, cases[i].verb);
        assert_string_equal(chatops_verb_name(cases[i].verb), cases[i].sub);
    }
    /* Case does not matter for names. */
    parse_ok("/ACK", "7", &c);
    assert_int_equal(c.verb, CHATOPS_ACK);
    parse_ok("/opsbell", "  OnCall  ", &c);
    assert_int_equal(c.verb, CHATOPS_ONCALL);
    /* help: nothing, "help", anything after help */
    parse_ok("/opsbell", "", &c);
    assert_int_equal(c.verb, CHATOPS_HELP);
    parse_ok("/opsbell", " \t", &c);
    assert_int_equal(c.verb, CHATOPS_HELP);
    parse_ok("/opsbell", "help me please", &c);
    assert_int_equal(c.verb, CHATOPS_HELP);
    parse_ok("/help", "", &c); /* "/help" is not an alias: the main command, no text */
    assert_int_equal(c.verb, CHATOPS_HELP);
    /* unknown subcommands keep the word (at most 32 bytes, whole characters) */
    parse_ok("/opsbell", "reboot all the things", &c);
    assert_int_equal(c.verb, CHATOPS_UNKNOWN);
    assert_string_equal(c.arg, "reboot");
    parse_ok("/opsbell", "ééééééééééééééééééé", &c); /* 38 bytes */
    assert_int_equal(c.verb, CHATOPS_UNKNOWN);
    assert_string_equal(c.arg, "éééééééééééééééé"); /* 32 bytes */
    parse_ok("/opsbell", "/tel bob", &c);
    assert_int_equal(c.verb, CHATOPS_UNKNOWN);
}

static void test_arguments(void **state)
{
    struct chatops_command c;

    (void)state;
    parse_ok("/tel", "bob", &c);
    assert_string_equal(c.arg, "bob");
    assert_string_equal(c.message, "");
    parse_ok("/tel", "  @bob   wake   up  now  ", &c);
    assert_string_equal(c.arg, "bob");
    assert_string_equal(c.message, "wake   up  now"); /* inner spacing kept */
    parse_ok("/tel", "<@U024BE7LH|bob> the db", &c);
    assert_string_equal(c.mention_id, "U024BE7LH");
    assert_string_equal(c.arg, "bob");
    assert_string_equal(c.message, "the db");
    parse_ok("/tel", "<@U024BE7LH>", &c);
    assert_string_equal(c.mention_id, "U024BE7LH");
    assert_string_equal(c.arg, "U024BE7LH");
    parse_ok("/tel", "<@U0|>", &c);
    assert_string_equal(c.arg, "U0");
    parse_ok("/tel", "<@bad id>", &c); /* not a mention: two words */
    assert_string_equal(c.mention_id, "");
    assert_string_equal(c.arg, "<@bad");
    {
        /* A mention longer than an argument may be (found by fuzzing):
         * refused, never copied past the buffer. */
        char text[400] = "<@U024BE7LH|b";
        struct ob_error err = {0};
        memset(text + strlen(text), ',', 200);
        strcat(text, "ob> hi");
        assert_int_not_equal(chatops_parse_command("/tel", text, &c, &err), 0);
    }
    parse_ok("/opsbell", "tel bob\nline two", &c);
    assert_string_equal(c.arg, "bob");
    assert_string_equal(c.message, "line two");

    parse_ok("/oncall", "payments", &c);
    assert_string_equal(c.arg, "payments");
    parse_ok("/incidents", "", &c);
    assert_string_equal(c.arg, "");

    parse_ok("/page", "payments-api checkout fails", &c);
    assert_string_equal(c.arg, "payments-api");
    assert_string_equal(c.message, "checkout fails");

    parse_ok("/ack", "42", &c);
    assert_int_equal(c.incident_id, 42);
    parse_ok("/ack", " #42 ", &c);
    assert_int_equal(c.incident_id, 42);
    parse_ok("/note", "#7 rolled back to v1.4.2", &c);
    assert_int_equal(c.incident_id, 7);
    assert_string_equal(c.message, "rolled back to v1.4.2");
    parse_ok("/resolve", "999999999999999999", &c);
    assert_int_equal(c.incident_id, 999999999999999999LL);
}

static void test_quoting(void **state)
{
    struct chatops_command c;

    (void)state;
    parse_ok("/page", "pay \"checkout fails\"", &c);
    assert_string_equal(c.message, "checkout fails");
    parse_ok("/page", "pay 'checkout fails'", &c);
    assert_string_equal(c.message, "checkout fails");
    parse_ok("/page",
             "pay \xe2\x80\x9c"
             "checkout fails\xe2\x80\x9d",
             &c); /* “…” */
    assert_string_equal(c.message, "checkout fails");
    parse_ok("/page",
             "pay \xe2\x80\x98"
             "it's down\xe2\x80\x99",
             &c); /* ‘…’ */
    assert_string_equal(c.message, "it's down");
    /* Not wholly quoted: kept as written. */
    parse_ok("/page", "pay \"a\" and \"b\"", &c);
    assert_string_equal(c.message, "\"a\" and \"b\"");
    parse_ok("/page", "pay \"unbalanced", &c);
    assert_string_equal(c.message, "\"unbalanced");
    parse_ok("/page", "pay it's 'fine'", &c);
    assert_string_equal(c.message, "it's 'fine'");
    parse_ok("/tel", "bob \"\"", &c); /* an empty quoted message is no message */
    assert_string_equal(c.message, "");
    parse_ok("/page", "pay \"\"\"", &c); /* one quote left: not stripped */
    assert_string_equal(c.message, "\"\"\"");
    /* Quoting does not make an empty page message acceptable. */
    parse_usage("/page", "pay \"\"", "Usage: /page TEAM|SERVICE message");
    parse_usage("/note", "3 ''", "Usage: /note ID text");
}

static void test_usage_errors(void **state)
{
    struct chatops_command c;
    struct ob_error err = {0};
    char *huge;

    (void)state;
    parse_usage("/tel", "", "Usage: /tel NICKNAME [message] (for example: /tel bob");
    parse_usage("/tel", "@", "Usage: /tel NICKNAME");
    parse_usage("/opsbell", "tel", "Usage: /opsbell tel NICKNAME");
    parse_usage("/ob", "tel", "Usage: /ob tel NICKNAME");
    parse_usage("/page", "", "Usage: /page TEAM|SERVICE message");
    parse_usage("/page", "payments", "Usage: /page TEAM|SERVICE message");
    parse_usage("/ack", "", "Usage: /ack ID (for example: /ack 42)");
    parse_usage("/ack", "abc", "Usage: /ack ID");
    parse_usage("/ack", "0", "Usage: /ack ID");
    parse_usage("/ack", "-1", "Usage: /ack ID");
    parse_usage("/ack", "#", "Usage: /ack ID");
    parse_usage("/ack", "4 2", "Usage: /ack ID");
    parse_usage("/ack", "1234567890123456789", "Usage: /ack ID"); /* 19 digits */
    parse_usage("/escalate", "42x", "Usage: /escalate ID");
    parse_usage("/opsbell", "resolve", "Usage: /opsbell resolve ID");
    parse_usage("/note", "42", "Usage: /note ID text");
    parse_usage("/note", "", "Usage: /note ID text");
    parse_usage("/oncall", "a b", "Usage: /oncall [team]");
    parse_usage("/incidents", "a b", "Usage: /incidents [team]");
    /* The verb survives a usage error; the rest is zeroed. */
    assert_int_equal(chatops_parse_command("/ack", "x", &c, &err), OB_EINVAL);
    assert_int_equal(c.verb, CHATOPS_ACK);
    assert_int_equal(c.incident_id, 0);
    /* Over the caps. */
    huge = malloc(CHATOPS_TEXT_MAX + 16);
    assert_non_null(huge);
    memset(huge, 'n', CHATOPS_ARG_MAX + 1);
    huge[CHATOPS_ARG_MAX + 1] = '\0';
    parse_usage("/tel", huge, "Usage: /tel");
    parse_usage("/page", huge, "Usage: /page");
    huge[CHATOPS_ARG_MAX] = '\0';
    parse_ok("/tel", huge, &c);
    assert_int_equal(strlen(c.arg), CHATOPS_ARG_MAX);
    memcpy(huge, "bob ", 4);
    memset(huge + 4, 'm', CHATOPS_TEXT_MAX + 1);
    huge[4 + CHATOPS_TEXT_MAX + 1] = '\0';
    assert_int_equal(chatops_parse_command("/tel", huge, &c, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "longer"));
    free(huge);
}

static void test_help(void **state)
{
    char *help = chatops_help_text("/opsbell");
    char *other = chatops_help_text("/ob");
    static const char *const want[] = {
        "/tel NICKNAME [message]",
        "/oncall [team]",
        "/page TEAM|SERVICE message",
        "/ack ID",
        "/resolve ID",
        "/escalate ID",
        "/note ID text",
        "/incidents [team]",
        "/opsbell help",
        "`/opsbell tel bob wake up`",
        "/tel bob the database",
        "/ack 42",
        "chat_ids",
        "/breakglass HOST|GROUP DURATION REASON",
        "/breakglass approve ID",
        "/allowme",
    };

    (void)state;
    assert_non_null(help);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(help, want[i]) == NULL)
            fail_msg("help lacks '%s':\n%s", want[i], help);
    }
    assert_non_null(strstr(other, "/ob help"));
    assert_non_null(strstr(other, "`/ob tel bob wake up`"));
    free(help);
    free(other);
    help = chatops_help_text(NULL);
    assert_non_null(strstr(help, "/opsbell help"));
    free(help);
}

static void test_breakglass_and_allowme(void **state)
{
    struct chatops_command c;
    struct ob_error err = {0};
    char reason[600];

    (void)state;
    parse_ok("/breakglass", "web1 30m disk full on /var", &c);
    assert_int_equal(c.verb, CHATOPS_BREAKGLASS);
    assert_int_equal(c.bg_op, CHATOPS_BG_REQUEST);
    assert_string_equal(c.arg, "web1");
    assert_int_equal(c.duration_s, 1800);
    assert_string_equal(c.message, "disk full on /var");
    assert_int_equal(c.grant_id, 0);
    parse_ok("/opsbell", "breakglass web-prod 1h30m \"deploy hotfix\"", &c);
    assert_int_equal(c.verb, CHATOPS_BREAKGLASS);
    assert_string_equal(c.arg, "web-prod");
    assert_int_equal(c.duration_s, 5400);
    assert_string_equal(c.message, "deploy hotfix");
    parse_ok("/breakglass", "LIST", &c);
    assert_int_equal(c.bg_op, CHATOPS_BG_LIST);
    parse_ok("/breakglass", "revoke #7 done here", &c);
    assert_int_equal(c.bg_op, CHATOPS_BG_REVOKE);
    assert_int_equal(c.grant_id, 7);
    assert_string_equal(c.message, "done here");
    parse_ok("/breakglass", "approve 12", &c);
    assert_int_equal(c.bg_op, CHATOPS_BG_APPROVE);
    assert_int_equal(c.grant_id, 12);
    parse_ok("/opsbell", "breakglass deny 3", &c);
    assert_int_equal(c.bg_op, CHATOPS_BG_DENY);
    assert_int_equal(c.grant_id, 3);
    assert_string_equal(c.message, "");
    parse_ok("/allowme", "", &c);
    assert_int_equal(c.verb, CHATOPS_ALLOWME);
    parse_ok("/opsbell", "allowme", &c);
    assert_int_equal(c.verb, CHATOPS_ALLOWME);
    assert_string_equal(chatops_verb_name(CHATOPS_BREAKGLASS), "breakglass");

    parse_usage("/breakglass", "", "Usage: /breakglass HOST|GROUP DURATION REASON");
    parse_usage("/breakglass", "web1", "Usage: /breakglass HOST|GROUP DURATION REASON");
    parse_usage("/breakglass", "web1 soon x", "Usage: /breakglass HOST|GROUP DURATION REASON");
    parse_usage("/breakglass", "web1 30 x", "Usage: /breakglass HOST|GROUP DURATION REASON");
    parse_usage("/breakglass", "web1 0m x", "Usage: /breakglass HOST|GROUP DURATION REASON");
    parse_usage("/breakglass", "web1 30m",
                "Usage: /breakglass HOST|GROUP DURATION REASON: a "
                "reason is required");
    parse_usage("/breakglass", "web1 30m \"\"", "Usage: /breakglass HOST|GROUP");
    parse_usage("/breakglass", "list all", "Usage: /breakglass list");
    parse_usage("/breakglass", "approve", "Usage: /breakglass approve ID");
    parse_usage("/breakglass", "approve 0", "Usage: /breakglass approve ID");
    parse_usage("/breakglass", "approve 7 8", "Usage: /breakglass approve ID");
    parse_usage("/breakglass", "revoke -1", "Usage: /breakglass revoke ID");
    parse_usage("/opsbell", "breakglass deny x", "Usage: /opsbell breakglass deny ID");
    parse_usage("/allowme", "now", "Usage: /allowme");
    /* a reason over 500 bytes */
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    memcpy(reason, "web1 1h ", 8);
    assert_int_equal(chatops_parse_command("/breakglass", reason, &c, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 500"));
    assert_int_equal(c.verb, CHATOPS_BREAKGLASS);
    assert_string_equal(c.arg, "");
}

static void test_find_user(void **state)
{
    struct config_chat_id ann_ids[] = {{"slack", "U0ANN0001"}, {"mattermost", "mmann"}};
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
    assert_ptr_equal(chatops_find_user(&cfg, CHATOPS_MATTERMOST, "mmann"), &users[0]);
    assert_null(chatops_find_user(&cfg, CHATOPS_MATTERMOST, "U0ANN0001"));
    assert_null(chatops_find_user(&cfg, CHATOPS_SLACK, "U0BOB0001"));
    assert_ptr_equal(chatops_find_user(&cfg, CHATOPS_MATTERMOST, "U0BOB0001"), &users[1]);
    assert_null(chatops_find_user(&cfg, CHATOPS_SLACK, ""));
    assert_null(chatops_find_user(&cfg, CHATOPS_SLACK, NULL));
    assert_string_equal(chatops_provider_name(CHATOPS_SLACK), "slack");
    assert_string_equal(chatops_provider_name(CHATOPS_MATTERMOST), "mattermost");
}

static void test_mattermost_url(void **state)
{
    const char *api = "https://chat.example.com";

    (void)state;
    assert_true(chatops_mattermost_url_allowed(api, "https://chat.example.com/hooks/commands/x"));
    assert_true(chatops_mattermost_url_allowed(api, "https://CHAT.example.com:443/hooks/x"));
    assert_false(chatops_mattermost_url_allowed(api, "http://chat.example.com/hooks/x"));
    assert_false(chatops_mattermost_url_allowed(api, "https://chat.example.com:8443/hooks/x"));
    assert_false(chatops_mattermost_url_allowed(api, "https://evil.example.com/hooks/x"));
    assert_false(chatops_mattermost_url_allowed(api, "https://u:p@chat.example.com/hooks/x"));
    assert_false(chatops_mattermost_url_allowed(api, "https://hooks.slack.com/commands/1"));
    assert_false(chatops_mattermost_url_allowed(api, "ftp://chat.example.com/x"));
    assert_false(chatops_mattermost_url_allowed(api, ""));
    assert_false(chatops_mattermost_url_allowed(api, "not a url"));
    assert_false(chatops_mattermost_url_allowed(NULL, "https://chat.example.com/hooks/x"));
    assert_true(chatops_mattermost_url_allowed("http://127.0.0.1:8065",
                                               "http://127.0.0.1:8065/hooks/commands/abc"));
}

static void test_escape_and_reply(void **state)
{
    char out[64];
    char small[8];
    char *json;
    json_t *obj;

    (void)state;
    chatops_escape(CHATOPS_SLACK, "<!channel> a & b > c", out, sizeof(out));
    assert_string_equal(out, "&lt;!channel&gt; a &amp; b &gt; c");
    chatops_escape(CHATOPS_MATTERMOST, "<!channel> a & b", out, sizeof(out));
    assert_string_equal(out, "<!channel> a & b");
    chatops_escape(CHATOPS_SLACK, NULL, out, sizeof(out));
    assert_string_equal(out, "");
    /* Truncated at whole characters and whole entities. */
    chatops_escape(CHATOPS_SLACK, "abcdef&", small, sizeof(small));
    assert_string_equal(small, "abcdef");
    chatops_escape(CHATOPS_SLACK, "abcde\xc3\xa9", small, sizeof(small)); /* 7 bytes fit */
    assert_string_equal(small, "abcde\xc3\xa9");
    chatops_escape(CHATOPS_SLACK, "abcdef\xc3\xa9", small, sizeof(small));
    assert_string_equal(small, "abcdef");
    chatops_escape(CHATOPS_MATTERMOST, "a\xffz", out, sizeof(out));
    assert_string_equal(out, "a?z");

    json = chatops_reply_json(0, "hi \"there\"");
    obj = json_loads(json, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(obj, "response_type")), "ephemeral");
    assert_string_equal(json_string_value(json_object_get(obj, "text")), "hi \"there\"");
    json_decref(obj);
    free(json);
    json = chatops_reply_json(1, NULL);
    assert_string_equal(json, "{\"response_type\":\"in_channel\",\"text\":\"\"}");
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_slack),
        cmocka_unit_test(test_form_refusals),
        cmocka_unit_test(test_ssl_check),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_aliases_and_subcommands),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_breakglass_and_allowme),
        cmocka_unit_test(test_find_user),
        cmocka_unit_test(test_mattermost_url),
        cmocka_unit_test(test_escape_and_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
